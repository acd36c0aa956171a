"""course_lib.optim.compiled: the readable step, compiled, still gives torch's numbers.

Two kinds of backend. A counting backend (``GraphCounter``: TorchDynamo traces the step into
an FX graph, which then runs op by op) checks cheaply, for every flag of every class, that the
step traces into ONE graph (``fullgraph=True``: a graph break would raise), that the compiled
graph, not the eager step, made every step after the first, and that the numbers are torch's.
Inductor (real C++ code generation, tens of seconds per graph on a busy 2-core machine) is
used for the three optimizers the chapter times: Adam, AdamW and SGD with momentum.

Without a C++ compiler, ``compiled`` warns and keeps the eager step; the tests simulate a
missing compiler by pointing Inductor's compiler search (what ``$CXX`` sets) at a file that
does not exist.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

STEPS = 12
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}  # those of test_optim_matches_torch.py

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Every flag of every class held to torch's trajectories when compiled.
GRID: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4, "weight_decay": 0.1, "amsgrad": True,
              "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2,
                 "eps": 1e-3, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1, "momentum": 0.5,
                 "centered": True, "maximize": True}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}),
]
TEXTBOOK: list[tuple[str, dict[str, Any], dict[str, Any]]] = [  # (ours, kwargs, torch SGD kwargs)
    ("SutskeverSGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9}),
    ("NAG", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
]
# The three the chapter and the benchmark time, through the real compiler.
INDUCTOR: list[tuple[str, dict[str, Any]]] = [
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
]


# Every optimizer of course_lib, with the flags whose code paths differ, compiled against its own
# eager step. STEPS = 12 takes RAdam past its switch to the rectified update (step 6 at β2 = 0.999)
# and Schedule-Free past its warm-up.
EVERY: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SutskeverSGD", {"lr": 0.1, "momentum": 0.9}),  # lookahead needs step(closure) inside the step
    ("NAG", {"lr": 0.1, "momentum": 0.9}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adadelta", {"lr": 0.5, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1}),
    ("Yogi", {"lr": 0.01}),
    ("AdaBelief", {"lr": 0.01}),
    ("Lion", {"lr": 1e-3, "weight_decay": 0.5}),
    ("AdamWScheduleFree", {"lr": 0.01, "warmup_steps": 4, "weight_decay": 0.1}),
    ("AdamWScheduleFree", {"lr": 0.01, "r": 1.0, "weight_lr_power": 1.0}),
    ("Adafactor", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adafactor", {"lr": 0.05, "eps": (1e-6, 1e-2), "d": 2.0, "maximize": True}),
    ("Muon", {"lr": 0.02}),
]
# NAdam keeps its momentum product Π_t in float32 (as torch does): eagerly Π_{t−1}·μ_t is rounded
# twice (μ_t to float32, then the product), compiled once (in float64, then to float32), so the
# two trajectories part by float32 rounding of Π_t, ~1e-7, which moves θ by ~1e-9 of its size.
COMPILED_TOLERANCE = {"NAdam": 1e-8}
CLASSES = sorted(name for name in co.__all__ if isinstance(getattr(co, name), type)
                 and issubclass(getattr(co, name), torch.optim.Optimizer))


class GraphCounter:
    """A torch.compile backend that counts graphs and calls; runs the FX graph as it is, or ``inner``.

    ``inner="aot_eager"`` sends the graph through AOTAutograd's functionalisation and
    decompositions first, as Inductor does (without generating code): that is where a Python
    float the step branches on gets specialised, so a step that would recompile under Inductor
    recompiles here too.
    """

    def __init__(self, inner: str | None = None) -> None:
        self.graphs = 0
        self.calls = 0
        self.inner = inner

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Any:
        self.graphs += 1
        if self.inner is None:
            function = gm.forward
        else:
            from torch._dynamo.backends.registry import lookup_backend

            function = lookup_backend(self.inner)(gm, example_inputs)

        def run(*args: Any) -> Any:
            self.calls += 1
            return function(*args)

        return run


def grid_id(case: tuple) -> str:
    return case[0] + "(" + ",".join(f"{k}={v}" for k, v in case[1].items()) + ")"


def sign_of(kwargs: dict[str, Any]) -> float:
    return -1.0 if kwargs.get("maximize", False) else 1.0


def side_by_side(ours: torch.optim.Optimizer, theirs: torch.optim.Optimizer, problem: Problem,
                 steps: int = STEPS, sign: float = 1.0) -> float:
    """Step both on their own parameters; the worst relative error over the steps."""
    mine, ref = ours.param_groups[0]["params"], theirs.param_groups[0]["params"]
    worst = 0.0
    for _ in range(steps):
        for optimizer, params in ((ours, mine), (theirs, ref)):
            optimizer.zero_grad()
            problem.loss(params, sign).backward()
            optimizer.step()
        worst = max(worst, max_relative_error(mine, ref))
    assert max_relative_error(ref, problem.initial) > 1e-3, "the parameters did not move"
    return worst


@pytest.mark.parametrize("case", GRID, ids=grid_id)
def test_step_traces_into_one_graph_that_makes_every_step_after_the_first(case: tuple) -> None:
    name, kwargs = case
    problem = Problem.make(torch.float64)
    counter = GraphCounter()
    ours = co.compiled(getattr(co, name)(problem.params(), **kwargs), backend=counter)
    theirs = getattr(torch.optim, name)(problem.params(), **kwargs)
    assert co.is_compiled(ours)
    assert side_by_side(ours, theirs, problem, sign=sign_of(kwargs)) <= TOLERANCE[torch.float64]
    assert counter.graphs == 1  # one graph (fullgraph=True: a graph break would have raised)
    assert counter.calls == STEPS - 1  # the first step ran eagerly (it creates the state)


@pytest.mark.parametrize("case", TEXTBOOK, ids=grid_id)
def test_textbook_forms_compile_and_match_torchs_equivalent_sgd(case: tuple) -> None:
    name, kwargs, torch_kwargs = case
    problem = Problem.make(torch.float64)
    counter = GraphCounter()
    ours = co.compiled(getattr(co, name)(problem.params(), **kwargs), backend=counter)
    theirs = torch.optim.SGD(problem.params(), **torch_kwargs)
    mine, ref = ours.param_groups[0]["params"], theirs.param_groups[0]["params"]
    for _ in range(STEPS):
        for optimizer, params in ((ours, mine), (theirs, ref)):
            optimizer.step(lambda params=params, optimizer=optimizer: (
                optimizer.zero_grad(), problem.loss(params).backward()))
    if name == "SutskeverSGD":  # lr inside the velocity: same trajectory at constant lr
        assert max_relative_error(mine, ref) <= 1e-10
    else:  # NAG holds the look-behind point; torch's nesterov SGD the look-ahead one
        assert max_relative_error(mine, problem.initial) > 1e-3
    assert counter.graphs == 1 and counter.calls == STEPS - 1


def make_for_compile_test(name: str, kwargs: dict[str, Any], problem: Problem
                          ) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    """A fresh optimizer on fresh parameters (Muon: the two matrices, in float64 Newton–Schulz)."""
    params = problem.params()
    chosen = [params[0], params[2]] if name == "Muon" else params
    optimizer = getattr(co, name)(chosen, **kwargs)
    if name == "Muon":
        optimizer.ns_dtype = torch.float64  # its default, bfloat16, rounds more than the comparison allows
    if name == "AdamWScheduleFree":
        optimizer.train()
    return optimizer, params


def test_every_course_lib_optimizer_is_in_the_compile_grid() -> None:
    assert sorted({name for name, _ in EVERY}) == CLASSES


@pytest.mark.parametrize("case", EVERY, ids=grid_id)
def test_every_optimizer_compiles_to_one_graph_that_makes_every_later_step(case: tuple) -> None:
    """No graph break, no recompilation after the first compiled step; the eager numbers."""
    from torch._dynamo.utils import counters

    name, kwargs = case
    problem = Problem.make(torch.float64)
    counter = GraphCounter(inner="aot_eager")
    ours, mine = make_for_compile_test(name, kwargs, problem)
    co.compiled(ours, backend=counter)
    eager, theirs = make_for_compile_test(name, kwargs, problem)
    sign = sign_of(kwargs)
    worst = 0.0
    graphs_before = counters["stats"]["unique_graphs"]
    for _ in range(STEPS):
        for optimizer, params in ((ours, mine), (eager, theirs)):
            optimizer.zero_grad()
            problem.loss(params, sign).backward()
            optimizer.step()
        worst = max(worst, max_relative_error(mine, theirs))
    assert max_relative_error(theirs, problem.initial) > 1e-3, "the parameters did not move"
    assert co.is_compiled(ours)  # nothing fell back to the eager step
    # Dynamo compiled one graph (fullgraph=True: a graph break would have raised), once: a
    # recompilation would count again (the backend itself may be called twice for one graph,
    # when Dynamo restarts its analysis)
    assert counters["stats"]["unique_graphs"] - graphs_before == 1
    assert counter.calls == STEPS - 1  # that graph made every step but the first (eager: state)
    assert worst <= COMPILED_TOLERANCE.get(name, TOLERANCE[torch.float64])


# The optimizers whose per-step scalars are made inside the step (Schedule-Free's schedule,
# RAdam's rectification test, Adafactor's relative step and clipping), through the real compiler.
INDUCTOR_ONCE: list[tuple[str, dict[str, Any]]] = [
    ("AdamWScheduleFree", {"lr": 0.01, "warmup_steps": 4}),
    ("RAdam", {"lr": 0.01}),
    ("Adafactor", {"lr": 0.05}),
]


@pytest.mark.parametrize("case", INDUCTOR_ONCE, ids=grid_id)
def test_inductor_compiles_the_step_once_and_keeps_the_eager_trajectory(case: tuple) -> None:
    if co.cpp_compiler() is None:
        pytest.skip("no C++ compiler")
    from torch._dynamo.utils import counters

    name, kwargs = case
    torch._dynamo.reset()
    problem = Problem.make(torch.float32)
    ours, mine = make_for_compile_test(name, kwargs, problem)
    co.compiled(ours)
    eager, theirs = make_for_compile_test(name, kwargs, problem)
    graphs_before = counters["stats"]["unique_graphs"]
    for _ in range(STEPS):
        for optimizer, params in ((ours, mine), (eager, theirs)):
            optimizer.zero_grad()
            problem.loss(params).backward()
            optimizer.step()
    assert counters["stats"]["unique_graphs"] - graphs_before == 1  # compiled once, at step 2
    assert co.is_compiled(ours)
    assert max_relative_error(mine, theirs) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize(
    "case,dtype",
    [(case, torch.float32) for case in INDUCTOR] + [(INDUCTOR[0], torch.float64)],
    ids=[f"{grid_id(case)}-float32" for case in INDUCTOR] + [f"{grid_id(INDUCTOR[0])}-float64"],
)
def test_inductor_compiled_trajectory_matches_torch_eager(case: tuple, dtype: torch.dtype) -> None:
    if co.cpp_compiler() is None:
        pytest.skip("no C++ compiler: see test_missing_cpp_compiler_warns_and_keeps_the_eager_step")
    name, kwargs = case
    problem = Problem.make(dtype)
    ours = co.compiled(getattr(co, name)(problem.params(), **kwargs))
    theirs = getattr(torch.optim, name)(problem.params(), **kwargs)
    assert side_by_side(ours, theirs, problem) <= TOLERANCE[dtype]
    assert co.is_compiled(ours)


def test_learning_rate_changes_recompile_once_then_the_rate_is_an_input() -> None:
    """With Inductor, a changed float lr recompiles once; the new graph takes the lr as an input."""
    if co.cpp_compiler() is None:
        pytest.skip("no C++ compiler")
    from torch._dynamo.utils import counters

    torch._dynamo.reset()  # earlier tests' traces (and what Dynamo learnt from them) must not count here
    problem = Problem.make(torch.float32)
    ours = co.compiled(co.Adam(problem.params(), lr=0.01))
    theirs = torch.optim.Adam(problem.params(), lr=0.01)
    schedulers = [torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9) for opt in (ours, theirs)]
    mine, ref = ours.param_groups[0]["params"], theirs.param_groups[0]["params"]
    graphs_before = counters["stats"]["unique_graphs"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "optimizer.step() overridden" warning from the scheduler
        for _ in range(STEPS):
            for optimizer, params in ((ours, mine), (theirs, ref)):
                optimizer.zero_grad()
                problem.loss(params).backward()
                optimizer.step()
            for scheduler in schedulers:
                scheduler.step()
    assert max_relative_error(mine, ref) <= TOLERANCE[torch.float32]
    assert counters["stats"]["unique_graphs"] - graphs_before == 2  # lr specialised, then an input
    assert co.is_compiled(ours)


def test_every_compiled_optimizer_has_a_compile_cache_of_its_own() -> None:
    """torch.compile caches per code object, at most recompile_limit (8) graphs; 10 optimizers fit."""
    problem = Problem.make(torch.float64)
    counter = GraphCounter()
    optimizers = [co.compiled(co.Adam(problem.params(), lr=0.01, betas=(0.5 + 0.04 * k, 0.999)),
                              backend=counter) for k in range(10)]
    for optimizer in optimizers:
        params = optimizer.param_groups[0]["params"]
        for _ in range(3):
            optimizer.zero_grad()
            problem.loss(params).backward()
            optimizer.step()
    assert counter.graphs == 10 and counter.calls == 20


def test_closure_runs_eagerly_once_and_its_loss_is_returned() -> None:
    problem = Problem.make(torch.float64)
    counter = GraphCounter()
    ours = co.compiled(co.SGD(problem.params(), lr=0.1, momentum=0.9), backend=counter)
    params = ours.param_groups[0]["params"]
    calls = []

    def closure() -> torch.Tensor:
        calls.append(1)
        ours.zero_grad()
        loss = problem.loss(params)
        loss.backward()
        return loss

    for k in range(4):
        loss = ours.step(closure)
        assert len(calls) == k + 1 and loss.requires_grad
    assert counter.calls == 3


@pytest.mark.parametrize("direction", ["compiled_to_torch", "torch_to_compiled"])
def test_state_dict_is_interchangeable_with_torch(direction: str) -> None:
    problem = Problem.make(torch.float64)
    kwargs = {"lr": 0.01, "amsgrad": True}

    def make(kind: str, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        if kind == "torch":
            return torch.optim.Adam(params, **kwargs)
        return co.compiled(co.Adam(params, **kwargs), backend=GraphCounter())

    first_kind, second_kind = ("compiled", "torch") if direction == "compiled_to_torch" else ("torch", "compiled")
    first = make(first_kind, problem.params())
    reference = torch.optim.Adam(problem.params(), **kwargs)
    side_by_side(first, reference, problem, steps=6)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = make(second_kind, [p.detach().clone().requires_grad_() for p in first.param_groups[0]["params"]])
    second.load_state_dict(torch.load(buffer))
    assert side_by_side(second, reference, problem, steps=6) <= 1e-10


@pytest.fixture
def missing_compiler(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point Inductor's compiler search at a binary that does not exist (as CXX=... at start-up would)."""
    from torch._inductor import config

    nowhere = "/nonexistent/bin/c++"
    monkeypatch.setenv("CXX", nowhere)
    with config.patch({"cpp.cxx": (None, nowhere)}):
        yield nowhere


def test_missing_cpp_compiler_warns_and_keeps_the_eager_step(missing_compiler: str) -> None:
    nowhere = missing_compiler
    assert co.cpp_compiler() is None
    problem = Problem.make(torch.float32)
    with pytest.warns(co.CompilerUnavailableWarning, match=r"needs a C\+\+ compiler") as record:
        ours = co.compiled(co.Adam(problem.params(), lr=0.01))
    message = str(record[0].message)
    assert nowhere in message and "apt install g++" in message and "eager step" in message
    assert not co.is_compiled(ours)
    theirs = torch.optim.Adam(problem.params(), lr=0.01)
    assert side_by_side(ours, theirs, problem) <= TOLERANCE[torch.float32]  # the eager path works


@pytest.mark.usefixtures("missing_compiler")
def test_missing_cpp_compiler_without_fallback_raises() -> None:
    with pytest.raises(RuntimeError, match=r"needs a C\+\+ compiler"):
        co.compiled(co.SGD([torch.zeros(3, requires_grad=True)], lr=0.1), fallback=False)


@pytest.mark.usefixtures("missing_compiler")
def test_missing_cpp_compiler_does_not_matter_to_a_backend_without_code_generation() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = co.compiled(co.SGD([torch.zeros(3, requires_grad=True)], lr=0.1), backend="aot_eager")
    assert co.is_compiled(ours)


def test_backend_that_fails_to_compile_falls_back_to_the_eager_step_with_a_warning() -> None:
    def broken(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Any:
        raise RuntimeError("simulated compiler crash")

    problem = Problem.make(torch.float64)
    ours = co.compiled(co.Adam(problem.params(), lr=0.01), backend=broken)
    theirs = torch.optim.Adam(problem.params(), lr=0.01)
    with pytest.warns(co.CompilerUnavailableWarning, match="simulated compiler crash"):
        error = side_by_side(ours, theirs, problem)
    assert error <= 1e-10  # nothing ran twice or not at all: the failing step ran eagerly
    assert not co.is_compiled(ours)


def test_compiled_rejects_what_it_cannot_compile() -> None:
    params = [torch.zeros(3, requires_grad=True)]
    with pytest.raises(TypeError, match="course_lib optimizer"):
        co.compiled(torch.optim.Adam(params))
    with pytest.raises(TypeError, match="float learning rate"):
        co.compiled(co.Adam(params, lr=torch.tensor(0.01)))
    optimizer = co.compiled(co.Adam(params), backend=GraphCounter())
    with pytest.raises(ValueError, match="compiled already"):
        co.compiled(optimizer)


def test_store_scalars_option_is_an_inductor_setting() -> None:
    from torch._inductor import config

    for key in co.STORE_SCALARS:
        assert hasattr(config, key), key
