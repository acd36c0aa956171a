"""Muon, Adafactor, Lion and Schedule-Free AdamW give their references' numbers, step for step.

References that others maintain: ``torch.optim.Muon`` and ``torch.optim.Adafactor``; the
``lion-pytorch`` package's ``Lion`` and the ``schedulefree`` package's ``AdamWScheduleFree``
(test dependencies only, never runtime ones). Same deterministic problem as the torch.optim
tests (``optim_testing.Problem``); Muon sees only the problem's two matrices.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

lion_pytorch = pytest.importorskip("lion_pytorch")
schedulefree = pytest.importorskip("schedulefree")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 30
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]

REFERENCES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "Muon": torch.optim.Muon,
    "Adafactor": torch.optim.Adafactor,
    "Lion": lion_pytorch.Lion,
    "AdamWScheduleFree": schedulefree.AdamWScheduleFree,
}

GRID: list[tuple[str, dict[str, Any]]] = [
    ("Muon", {"lr": 0.02}),
    ("Muon", {"lr": 0.02, "nesterov": False, "momentum": 0.9}),
    ("Muon", {"lr": 0.02, "weight_decay": 0.0, "ns_steps": 3}),
    ("Muon", {"lr": 0.02, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-5}),
    ("Muon", {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw"}),
    ("Muon", {"lr": 0.02, "adjust_lr_fn": "spectral_unclamped", "weight_decay": 0.3}),
    ("Adafactor", {}),
    ("Adafactor", {"lr": 0.05, "beta2_decay": -0.5}),
    ("Adafactor", {"lr": 0.05, "eps": (1e-6, 1e-2)}),
    ("Adafactor", {"lr": 0.05, "d": 2.0, "weight_decay": 0.1}),
    ("Adafactor", {"lr": 0.05, "maximize": True}),
    ("Lion", {"lr": 1e-3}),
    ("Lion", {"lr": 1e-3, "betas": (0.8, 0.95), "weight_decay": 0.5}),
    ("Lion", {"lr": 1e-3, "weight_decay": 0.5, "decoupled_weight_decay": True}),
    ("Lion", {"lr": 1e-3, "use_triton": False}),
    ("AdamWScheduleFree", {"lr": 0.01}),
    ("AdamWScheduleFree", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamWScheduleFree", {"lr": 0.01, "warmup_steps": 10, "r": 1.0, "weight_lr_power": 1.0}),
    ("AdamWScheduleFree", {"lr": 0.01, "foreach": False}),
]


def grid_id(case: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def make(name: str, params, kwargs: dict[str, Any], reference: bool) -> torch.optim.Optimizer:
    cls = REFERENCES[name] if reference else getattr(co, name)
    opt = cls(params, **kwargs)
    if name == "AdamWScheduleFree":
        opt.train()
    return opt


def params_for(name: str, problem: Problem) -> tuple[list[torch.Tensor], list[int]]:
    """Muon takes only 2-D parameters: the problem's two weight matrices (the others stay fixed)."""
    every = problem.params()
    chosen = [0, 2] if name == "Muon" else [0, 1, 2, 3]
    return every, chosen


def run_side_by_side(name: str, kwargs: dict[str, Any], dtype: torch.dtype, device: str,
                     steps: int = STEPS) -> float:
    problem = Problem.make(dtype, device)
    sign = -1.0 if kwargs.get("maximize", False) else 1.0
    ours, idx = params_for(name, problem)
    theirs, _ = params_for(name, problem)
    opt_ours = make(name, [ours[i] for i in idx], kwargs, reference=False)
    opt_theirs = make(name, [theirs[i] for i in idx], kwargs, reference=True)
    worst = 0.0
    for _ in range(steps):
        for opt, params in ((opt_ours, ours), (opt_theirs, theirs)):
            opt.zero_grad()
            problem.loss(params, sign).backward()
            opt.step()
        worst = max(worst, max_relative_error(ours, theirs))
    assert max_relative_error(theirs, problem.initial) > 1e-3, "the parameters did not move"
    return worst


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", GRID, ids=grid_id)
def test_trajectory_matches_reference_step_by_step(case, device: str, dtype: torch.dtype) -> None:
    name, kwargs = case
    assert run_side_by_side(name, kwargs, dtype, device) <= TOLERANCE[dtype]


def test_grid_sets_every_constructor_argument() -> None:
    for name in REFERENCES:
        arguments = set(inspect.signature(getattr(co, name)).parameters) - {"params"}
        used = set().union(*(kwargs for n, kwargs in GRID if n == name))
        assert arguments <= used | {"lr"}, f"{name}: grid never sets {arguments - used}"


@pytest.mark.parametrize("name", list(REFERENCES))
def test_constructor_has_the_references_arguments_and_defaults(name: str) -> None:
    left_out = {"foreach"} if name == "Adafactor" else set()
    ours = inspect.signature(getattr(co, name)).parameters
    theirs = {k: v for k, v in inspect.signature(REFERENCES[name]).parameters.items() if k not in left_out}
    assert list(ours) == list(theirs)
    for key, parameter in theirs.items():
        if key == "foreach":  # schedulefree's default depends on the torch build; ours ignores it
            continue
        assert ours[key].default == parameter.default, key


FULL_STATE = {
    "Muon": {"lr": 0.02},
    "Adafactor": {"lr": 0.05, "weight_decay": 0.1},
    "Lion": {"lr": 1e-3},
    "AdamWScheduleFree": {"lr": 0.01, "warmup_steps": 3},
}


@pytest.mark.parametrize("name", list(REFERENCES))
def test_state_has_the_references_keys_dtypes_and_values(name: str) -> None:
    problem = Problem.make(torch.float64)
    ours, idx = params_for(name, problem)
    theirs, _ = params_for(name, problem)
    opt_ours = make(name, [ours[i] for i in idx], FULL_STATE[name], reference=False)
    opt_theirs = make(name, [theirs[i] for i in idx], FULL_STATE[name], reference=True)
    for _ in range(5):
        for opt, params in ((opt_ours, ours), (opt_theirs, theirs)):
            opt.zero_grad()
            problem.loss(params).backward()
            opt.step()
    for i in idx:
        mine, ref = opt_ours.state[ours[i]], opt_theirs.state[theirs[i]]
        assert set(mine) == set(ref)
        for key in ref:
            assert mine[key].dtype == ref[key].dtype and torch.equal(mine[key], ref[key]), key
    assert opt_ours.param_groups[0].keys() - {"params"} >= opt_theirs.param_groups[0].keys() - {"params", "foreach"}


@pytest.mark.parametrize("direction", ["reference_to_course", "course_to_reference"])
@pytest.mark.parametrize("name", list(REFERENCES))
def test_state_dict_is_interchangeable_mid_run(name: str, direction: str) -> None:
    problem = Problem.make(torch.float64)
    first, idx = params_for(name, problem)
    source_is_ref = direction == "reference_to_course"
    opt_first = make(name, [first[i] for i in idx], FULL_STATE[name], reference=source_is_ref)
    for _ in range(8):
        opt_first.zero_grad()
        problem.loss(first).backward()
        opt_first.step()
    buffer = io.BytesIO()
    torch.save(opt_first.state_dict(), buffer)
    buffer.seek(0)
    second = [p.detach().clone().requires_grad_() for p in first]
    opt_second = make(name, [second[i] for i in idx], FULL_STATE[name], reference=not source_is_ref)
    opt_second.load_state_dict(torch.load(buffer, weights_only=True))
    for _ in range(8):
        for opt, params in ((opt_first, first), (opt_second, second)):
            opt.zero_grad()
            problem.loss(params).backward()
            opt.step()
        assert max_relative_error(second, first) <= 1e-10


@pytest.mark.parametrize("name", list(REFERENCES))
def test_closure_is_called_once_and_its_loss_returned(name: str) -> None:
    problem = Problem.make(torch.float64)
    params, idx = params_for(name, problem)
    opt = make(name, [params[i] for i in idx], FULL_STATE[name], reference=False)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = problem.loss(params)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert len(calls) == 1 and torch.equal(loss, problem.loss(problem.params()))


def test_two_param_groups_match_the_references() -> None:
    problem = Problem.make(torch.float64)
    for name, second in [("Lion", {"lr": 3e-4, "betas": (0.5, 0.9)}), ("Adafactor", {"lr": 0.003, "d": 3.0}),
                         ("AdamWScheduleFree", {"lr": 0.003, "weight_decay": 0.2})]:
        ours, theirs = problem.params(), problem.params()
        def groups(ps, second=second):
            return [{"params": ps[:2]}, {"params": ps[2:], **second}]

        opt_ours = make(name, groups(ours), FULL_STATE[name], reference=False)
        opt_theirs = make(name, groups(theirs), FULL_STATE[name], reference=True)
        for _ in range(10):
            for opt, params in ((opt_ours, ours), (opt_theirs, theirs)):
                opt.zero_grad()
                problem.loss(params).backward()
                opt.step()
            assert max_relative_error(ours, theirs) <= 1e-10, name


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("Muon", {"lr": -1.0}, "Learning rate"),
    ("Muon", {"momentum": -0.1}, "momentum"),
    ("Muon", {"weight_decay": -0.1}, "weight decay"),
    ("Muon", {"adjust_lr_fn": "nope"}, "Adjust learning rate"),
    ("Adafactor", {"lr": -1.0}, "Learning rate"),
    ("Adafactor", {"beta2_decay": 0.5}, "beta2_decay"),
    ("Adafactor", {"eps": (-1.0, 1e-3)}, "epsilon1"),
    ("Adafactor", {"eps": (None, -1.0)}, "epsilon2"),
    ("Adafactor", {"d": 0.5}, "Clipping threshold"),
    ("Adafactor", {"weight_decay": -1.0}, "weight_decay"),
    ("Lion", {"lr": 0.0}, "learning rate"),
    ("Lion", {"betas": (1.5, 0.9)}, "beta"),
    ("Lion", {"weight_decay": -1.0}, "weight_decay"),
    ("Lion", {"use_triton": True}, "Triton"),
    ("AdamWScheduleFree", {"lr": -1.0}, "learning rate"),
    ("AdamWScheduleFree", {"betas": (0.9, 1.0)}, "beta"),
    ("AdamWScheduleFree", {"betas": (0.0, 0.9)}, "beta"),
    ("AdamWScheduleFree", {"warmup_steps": -1}, "warmup_steps"),
]


@pytest.mark.parametrize("name,kwargs,words", BAD, ids=[f"{n}-{next(iter(k))}" for n, k, _ in BAD])
def test_bad_hyperparameters_raise_value_error_naming_them(name: str, kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        getattr(co, name)([torch.zeros(2, 2, requires_grad=True)], **kwargs)


def test_muon_refuses_parameters_that_are_not_matrices() -> None:
    with pytest.raises(ValueError, match="2D"):
        co.Muon([torch.zeros(3, requires_grad=True)])


def test_schedule_free_refuses_to_step_in_eval_mode_and_eval_gives_the_average() -> None:
    problem = Problem.make(torch.float64)
    params = problem.params()
    opt = co.AdamWScheduleFree(params, lr=0.01)
    with pytest.raises(RuntimeError, match="train"):
        opt.step()
    opt.train()
    for _ in range(5):
        opt.zero_grad()
        problem.loss(params).backward()
        opt.step()
    y = [p.detach().clone() for p in params]
    opt.eval()
    beta1 = 0.9
    for p, yp in zip(params, y, strict=True):
        z = opt.state[p]["z"]
        assert torch.allclose(p, (yp - (1 - beta1) * z) / beta1, atol=1e-12)  # x = (y − (1−β1) z)/β1
    opt.train()
    assert max_relative_error(params, y) < 1e-12  # train() restores y


def test_newton_schulz_maps_singular_values_by_the_quintic_and_keeps_singular_vectors() -> None:
    g = torch.Generator().manual_seed(0)
    G = torch.randn(6, 4, generator=g, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    a, b, c = co.muon.NS_COEFFICIENTS
    sigma = S / G.norm()
    for _ in range(5):
        sigma = a * sigma + b * sigma**3 + c * sigma**5
    O = co.muon.newton_schulz(G, dtype=torch.float64)
    assert torch.allclose(O, U @ torch.diag(sigma) @ Vh, atol=1e-12)
    assert ((sigma > 0.6) & (sigma < 1.25)).all()  # roughly orthogonal, not exactly


def test_newton_schulz_rejects_non_matrices() -> None:
    with pytest.raises(ValueError, match="2-D"):
        co.muon.newton_schulz(torch.zeros(3))


def test_lion_moves_every_coordinate_by_exactly_the_learning_rate() -> None:
    theta = torch.zeros(1000, dtype=torch.float64, requires_grad=True)
    opt = co.Lion([theta], lr=1e-3)
    theta.grad = torch.randn(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1e3
    opt.step()
    assert torch.allclose(theta.detach().abs(), torch.full_like(theta, 1e-3), rtol=0, atol=1e-18)


def test_muon_newton_schulz_runs_in_the_instance_ns_dtype() -> None:
    from course_lib.optim.muon import newton_schulz

    gen = torch.Generator().manual_seed(0)
    W = torch.randn(6, 9, generator=gen).requires_grad_()
    W.grad = torch.randn(6, 9, generator=gen)
    W0, g = W.detach().clone(), W.grad.clone()
    opt = co.Muon([W], lr=0.1, weight_decay=0.0, nesterov=False)
    assert opt.ns_dtype is torch.bfloat16  # torch's working precision by default
    opt.ns_dtype = torch.float32
    opt.step()
    expected = W0 - 0.1 * newton_schulz((1 - 0.95) * g, dtype=torch.float32)
    assert torch.allclose(W.detach(), expected, rtol=0, atol=1e-6)
    bf16 = W0 - 0.1 * newton_schulz((1 - 0.95) * g)
    assert not torch.allclose(W.detach(), bf16, rtol=0, atol=1e-6)  # the dtype mattered
