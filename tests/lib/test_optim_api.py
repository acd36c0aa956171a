"""The optimizer API of course_lib.optim behaves as torch.optim's.

Skipped parameters, per-parameter state, closures, state dicts through torch.save/torch.load,
hyperparameter validation, dtypes and devices, for every class (torch's seven and the
course's two textbook forms).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

# name -> constructor kwargs that create every state buffer of the class
CONFIGS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adadelta": {"weight_decay": 0.01},
    "Adam": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.01, "amsgrad": True},
    "NAdam": {"lr": 0.01, "weight_decay": 0.01},
    "RAdam": {"lr": 0.01, "weight_decay": 0.01},
    "Adamax": {"lr": 0.01, "weight_decay": 0.01},
    "SutskeverSGD": {"lr": 0.1, "momentum": 0.9, "lookahead": 0.5},
    "NAG": {"lr": 0.1, "momentum": 0.9},
}
TORCH_NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"]
ALL_NAMES = list(CONFIGS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(name: str, params: Any, library: Any = co) -> torch.optim.Optimizer:
    return getattr(library, name)(params, **CONFIGS[name])


def closure_for(optimizer: torch.optim.Optimizer, problem: Problem, params: list[torch.Tensor],
                after_backward: Callable[[], None] | None = None) -> Callable[[], torch.Tensor]:
    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = problem.loss(params)
        loss.backward()
        if after_backward is not None:
            after_backward()
        return loss

    return closure


def run(optimizer: torch.optim.Optimizer, problem: Problem, params: list[torch.Tensor], steps: int) -> None:
    for _ in range(steps):
        optimizer.step(closure_for(optimizer, problem, params))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_step_with_closure_returns_the_loss_and_calls_the_closure_exactly_once(name: str) -> None:
    problem = Problem.make()
    params = problem.params()
    optimizer = make(name, params)
    calls = []
    inner = closure_for(optimizer, problem, params)

    def closure() -> torch.Tensor:
        calls.append(1)
        return inner()

    for k in range(3):
        loss = optimizer.step(closure)
        assert len(calls) == k + 1
        assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and loss.requires_grad


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n != "SutskeverSGD"])
def test_step_without_closure_returns_none(name: str) -> None:
    problem = Problem.make()
    params = problem.params()
    optimizer = make(name, params)
    problem.loss(params).backward()
    assert optimizer.step() is None


@pytest.mark.parametrize("name", ALL_NAMES)
def test_parameter_whose_grad_is_none_is_skipped_and_keeps_no_running_state(name: str) -> None:
    problem = Problem.make()
    params = problem.params()
    unused = torch.ones(3, dtype=torch.float64, requires_grad=True)
    optimizer = getattr(co, name)([*params, unused], **CONFIGS[name])
    run(optimizer, problem, params, 5)
    assert unused.grad is None and torch.equal(unused, torch.ones(3, dtype=torch.float64))
    if name in TORCH_NAMES:  # the same state as torch (Adagrad creates its state eagerly)
        reference = getattr(torch.optim, name)([*problem.params(), unused.detach().clone().requires_grad_()],
                                               **CONFIGS[name])
        ref_params = reference.param_groups[0]["params"]
        run(reference, problem, ref_params[:4], 5)
        ours_state, ref_state = optimizer.state.get(unused, {}), reference.state.get(ref_params[4], {})
        assert set(ours_state) == set(ref_state)
        assert all(torch.equal(ours_state[k], ref_state[k]) for k in ref_state)
    else:
        assert len(optimizer.state.get(unused, {})) == 0


@pytest.mark.parametrize("name", ALL_NAMES)
def test_a_parameter_with_gradients_on_some_steps_advances_its_own_state_only_then(name: str) -> None:
    """The bias b1 gets a gradient on even steps only (its grad is set to None on odd ones)."""
    problem = Problem.make()

    def trajectory(library: Any) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
        params = problem.params()
        optimizer = make(name, params, library)
        for k in range(12):
            def drop_bias_grad(k: int = k) -> None:
                if k % 2 == 1:
                    params[1].grad = None

            optimizer.step(closure_for(optimizer, problem, params, drop_bias_grad))
        return params, optimizer

    ours, optimizer = trajectory(co)
    if "step" in optimizer.state[ours[0]]:
        assert optimizer.state[ours[0]]["step"].item() == 12
        assert optimizer.state[ours[1]]["step"].item() == 6
    if name in TORCH_NAMES:
        theirs, _ = trajectory(torch.optim)
        assert max_relative_error(ours, theirs) <= 1e-10


@pytest.mark.parametrize("name", ALL_NAMES)
def test_state_dict_resumes_mid_run_exactly_through_torch_save_and_default_torch_load(name: str) -> None:
    problem = Problem.make()
    straight = problem.params()
    optimizer = make(name, straight)
    run(optimizer, problem, straight, 20)

    first = problem.params()
    first_optimizer = make(name, first)
    run(first_optimizer, problem, first, 10)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in first], "optimizer": first_optimizer.state_dict()}, buffer)
    del first, first_optimizer
    buffer.seek(0)
    checkpoint = torch.load(buffer)  # weights_only=True is torch's default
    resumed = [p.clone().requires_grad_() for p in checkpoint["params"]]
    resumed_optimizer = make(name, resumed)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    run(resumed_optimizer, problem, resumed, 10)
    for p, q in zip(resumed, straight, strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_state_lives_with_the_parameter_in_its_dtype_and_device(name: str, device: str, dtype: torch.dtype) -> None:
    problem = Problem.make(dtype, device)
    params = problem.params()
    optimizer = make(name, params)
    run(optimizer, problem, params, 3)
    for p in params:
        assert torch.isfinite(p).all()
        for key, value in optimizer.state[p].items():
            if key in ("step", "mu_product"):  # torch keeps these on the CPU, in float32
                assert value.device.type == "cpu" and value.dtype == torch.float32
            else:
                assert value.device == p.device and value.dtype == p.dtype, key


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_step_never_writes_into_grad(name: str, maximize: bool) -> None:
    problem = Problem.make()
    params = problem.params()
    kwargs = dict(CONFIGS[name])
    if name in TORCH_NAMES:
        kwargs["maximize"] = maximize
    optimizer = getattr(co, name)(params, **kwargs)
    for _ in range(3):
        loss = optimizer.step(closure_for(optimizer, problem, params))
        assert loss is not None
        grads = [p.grad.clone() for p in params]
        if name == "SutskeverSGD":  # looks ahead: needs a closure; this one leaves the grads alone
            optimizer.step(lambda: None)
        else:
            optimizer.step()
        assert all(torch.equal(p.grad, g) for p, g in zip(params, grads, strict=True))


# (class name, kwargs) that torch.optim rejects with ValueError
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": -0.1}),
    ("SGD", {"lr": torch.tensor([0.1, 0.2])}),
    ("SGD", {"lr": 0.1, "momentum": -0.5}),
    ("SGD", {"lr": 0.1, "weight_decay": -1e-4}),
    ("SGD", {"lr": 0.1, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("Adagrad", {"lr": -0.1}),
    ("Adagrad", {"lr_decay": -1.0}),
    ("Adagrad", {"weight_decay": -1.0}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0}),
    ("RMSprop", {"lr": -0.1}),
    ("RMSprop", {"alpha": -0.5}),
    ("RMSprop", {"eps": -1.0}),
    ("RMSprop", {"weight_decay": -1.0}),
    ("RMSprop", {"momentum": -0.5}),
    ("Adadelta", {"lr": -1.0}),
    ("Adadelta", {"rho": 1.5}),
    ("Adadelta", {"rho": -0.1}),
    ("Adadelta", {"eps": -1.0}),
    ("Adadelta", {"weight_decay": -1.0}),
    ("Adam", {"lr": -1e-3}),
    ("Adam", {"lr": float("nan")}),
    ("Adam", {"eps": -1e-8}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"weight_decay": -1.0}),
    ("AdamW", {"lr": -1e-3}),
    ("AdamW", {"betas": (0.9, 1.0)}),
    ("AdamW", {"weight_decay": -1.0}),
    ("NAdam", {"lr": -1e-3}),
    ("NAdam", {"eps": -1.0}),
    ("NAdam", {"betas": (-0.1, 0.999)}),
    ("NAdam", {"betas": (0.9, 1.5)}),
    ("NAdam", {"weight_decay": -1.0}),
    ("NAdam", {"momentum_decay": -1.0}),
    ("RAdam", {"lr": -1e-3}),
    ("RAdam", {"lr": torch.tensor([1e-3, 1e-3])}),
    ("RAdam", {"eps": -1e-8}),
    ("RAdam", {"betas": (1.0, 0.999)}),
    ("RAdam", {"betas": (0.9, 1.0)}),
    ("RAdam", {"weight_decay": -1.0}),
    ("Adamax", {"lr": -1e-3}),
    ("Adamax", {"lr": float("nan")}),
    ("Adamax", {"eps": -1e-8}),
    ("Adamax", {"betas": (-0.1, 0.999)}),
    ("Adamax", {"betas": (0.9, 1.5)}),
    ("Adamax", {"weight_decay": -1.0}),
]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: f"{c[0]}-{','.join(f'{k}={v}' for k, v in c[1].items())}")
def test_invalid_hyperparameter_raises_value_error_with_torchs_message(case: tuple[str, dict[str, Any]]) -> None:
    name, kwargs = case
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)(params, **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(co, name)(params, **kwargs)
    assert str(ours.value) == str(theirs.value)  # torch's messages name the argument and its value


@pytest.mark.parametrize(
    "name,kwargs,message",
    [
        ("SutskeverSGD", {"lr": -0.1}, "Invalid learning rate: -0.1"),
        ("SutskeverSGD", {"lr": 0.1, "momentum": -0.9}, "Invalid momentum value: -0.9"),
        ("SutskeverSGD", {"lr": 0.1, "lookahead": 1.5}, "Invalid lookahead value: 1.5"),
        ("SutskeverSGD", {"lr": 0.1, "lookahead": -0.5}, "Invalid lookahead value: -0.5"),
        ("NAG", {"lr": -0.1}, "Invalid learning rate: -0.1"),
        ("NAG", {"lr": 0.1, "momentum": -0.9}, "Invalid momentum value: -0.9"),
    ],
)
def test_textbook_forms_validate_their_arguments(name: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        getattr(co, name)([torch.zeros(2, requires_grad=True)], **kwargs)


def test_adamw_stays_decoupled_after_loading_a_state_dict_without_the_flag() -> None:
    params = [torch.zeros(2, requires_grad=True)]
    optimizer = co.AdamW(params)
    state = optimizer.state_dict()
    state["param_groups"][0]["decoupled_weight_decay"] = False
    optimizer.load_state_dict(state)
    assert optimizer.param_groups[0]["decoupled_weight_decay"] is True


@pytest.mark.parametrize("name", ALL_NAMES)
def test_add_param_group_and_zero_grad_work_as_in_torch(name: str) -> None:
    problem = Problem.make()
    params = problem.params()
    optimizer = getattr(co, name)(params[:2], **CONFIGS[name])
    optimizer.add_param_group({"params": params[2:], "lr": 0.001})
    assert optimizer.param_groups[1]["lr"] == 0.001
    assert set(optimizer.param_groups[1]) == set(optimizer.param_groups[0])
    before = [p.detach().clone() for p in params]
    run(optimizer, problem, params, 2)
    assert all(not torch.equal(p, q) for p, q in zip(params, before, strict=True))
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
