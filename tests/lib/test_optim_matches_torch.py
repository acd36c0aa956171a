"""course_lib.optim gives torch.optim's numbers, step for step.

Differential tests on a deterministic problem (``optim_testing.Problem``: four
parameters of shapes (6, 4), (6,), (3, 6) and (), a tanh network with cross-entropy): the
same optimizer from course_lib and from torch.optim start from the same parameters, each
takes 40 steps on its own copy, and after every step the parameters are compared. The
grid below sets every flag of every class. Relative error: ‖ours − torch‖_∞ / ‖torch‖_∞ per
tensor, the worst over tensors and steps.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

STEPS = 40
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]

# (class name, constructor kwargs): every flag of every class is set at least once.
GRID: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.2}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3, "maximize": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2,
                 "eps": 1e-3, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}),
    ("RMSprop", {"lr": 0.01, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1, "momentum": 0.5,
                 "centered": True, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5}),
    ("Adadelta", {"eps": 1e-3, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4, "weight_decay": 0.1, "amsgrad": True,
              "maximize": True, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4, "maximize": True}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.05, "betas": (0.8, 0.9)}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "eps": 1e-4, "maximize": True}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "eps": 1e-4, "maximize": True}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.5)}),  # ρ_∞ = 3: never rectified, momentum SGD throughout
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01, "maximize": True}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-4}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "maximize": True}),
    ("Adamax", {"lr": 0.01, "betas": (0.5, 0.99), "eps": 1e-3, "weight_decay": 0.1, "maximize": True}),
]
TORCH_NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def grid_id(case: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def sign_of(kwargs: dict[str, Any]) -> float:
    """Maximize the negated loss, so every run is a descent on the same problem."""
    return -1.0 if kwargs.get("maximize", False) else 1.0


def step_both(pairs: list[tuple[torch.optim.Optimizer, list[torch.Tensor]]], problem: Problem, sign: float) -> None:
    for optimizer, params in pairs:
        optimizer.zero_grad()
        problem.loss(params, sign).backward()
        optimizer.step()


def run_side_by_side(
    name: str,
    kwargs: dict[str, Any],
    dtype: torch.dtype,
    device: str,
    steps: int = STEPS,
    torch_extra: dict[str, Any] | None = None,
) -> float:
    """Worst relative error over ``steps`` steps between course_lib's and torch's ``name``."""
    problem = Problem.make(dtype, device)
    ours, theirs = problem.params(), problem.params()
    opt_ours = getattr(co, name)(ours, **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs, **kwargs, **(torch_extra or {}))
    worst = 0.0
    for _ in range(steps):
        step_both([(opt_ours, ours), (opt_theirs, theirs)], problem, sign_of(kwargs))
        worst = max(worst, max_relative_error(ours, theirs))
    assert all(torch.isfinite(p).all() for p in theirs), "the reference run diverged; pick a smaller lr"
    assert max_relative_error(theirs, problem.initial) > 1e-3, "the parameters did not move"
    return worst


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", GRID, ids=grid_id)
def test_trajectory_matches_torch_step_by_step(case: tuple[str, dict[str, Any]], device: str, dtype: torch.dtype) -> None:
    name, kwargs = case
    assert run_side_by_side(name, kwargs, dtype, device) <= TOLERANCE[dtype]


@CUDA
@pytest.mark.parametrize("case", GRID, ids=grid_id)
def test_trajectory_matches_torch_single_tensor_path_on_cuda(case: tuple[str, dict[str, Any]]) -> None:
    name, kwargs = case
    assert run_side_by_side(name, kwargs, torch.float64, "cuda", torch_extra={"foreach": False}) <= 1e-10


def test_grid_sets_every_constructor_argument_of_every_class() -> None:
    import inspect

    skipped = {"params", "foreach", "fused", "capturable", "differentiable"}
    for name in TORCH_NAMES:
        arguments = set(inspect.signature(getattr(co, name)).parameters) - skipped
        used = set().union(*(kwargs for n, kwargs in GRID if n == name))
        assert arguments <= used | {"lr"}, f"{name}: grid never sets {arguments - used}"


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_constructor_has_torchs_arguments_and_defaults(name: str) -> None:
    import inspect

    left_out = {"foreach", "fused", "capturable", "differentiable"}
    ours = inspect.signature(getattr(co, name)).parameters
    theirs = {k: v for k, v in inspect.signature(getattr(torch.optim, name)).parameters.items() if k not in left_out}
    assert list(ours) == list(theirs)
    for key, parameter in theirs.items():
        assert ours[key].default == parameter.default, key


# (class name, kwargs, overrides for the second of two parameter groups)
GROUP_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, {"lr": 0.03, "nesterov": False, "dampening": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, {"lr": 0.05, "lr_decay": 0.0, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}, {"lr": 0.003, "alpha": 0.9, "centered": True}),
    ("Adadelta", {"rho": 0.9}, {"lr": 0.5, "rho": 0.5}),
    ("Adam", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9), "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}, {"lr": 0.003, "weight_decay": 0.2, "maximize": False}),
    ("NAdam", {"lr": 0.01}, {"lr": 0.003, "momentum_decay": 0.05, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adamax", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9), "weight_decay": 0.1}),
]


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: c[0])
def test_two_param_groups_with_different_hyperparameters_match_torch(case: tuple[str, dict, dict]) -> None:
    name, kwargs, second = case
    problem = Problem.make(torch.float64)
    ours, theirs = problem.params(), problem.params()

    def groups(params: list[torch.Tensor]) -> list[dict[str, Any]]:
        return [{"params": params[:2]}, {"params": params[2:], **second}]

    opt_ours = getattr(co, name)(groups(ours), **kwargs)
    opt_theirs = getattr(torch.optim, name)(groups(theirs), **kwargs)
    for _ in range(STEPS):
        step_both([(opt_ours, ours), (opt_theirs, theirs)], problem, 1.0)
        assert max_relative_error(ours, theirs) <= 1e-10
    lone = getattr(torch.optim, name)(problem.params(), **kwargs)  # the groups do differ
    lone_params = lone.param_groups[0]["params"]
    for _ in range(STEPS):
        step_both([(lone, lone_params)], problem, 1.0)
    assert max_relative_error(lone_params, theirs) > 1e-6


SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5),
    "ExponentialLR": lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95),
    "CosineAnnealingLR": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS),
    "OneCycleLR": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS),
}
SCHEDULED = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, ["StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR"]),
    ("Adam", {"lr": 0.01, "amsgrad": True}, ["StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR"]),
    ("AdamW", {"lr": 0.01}, ["StepLR", "OneCycleLR"]),
    ("NAdam", {"lr": 0.01}, ["StepLR", "OneCycleLR"]),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}, ["StepLR", "OneCycleLR"]),
    ("Adagrad", {"lr": 0.1}, ["StepLR", "CosineAnnealingLR"]),
    ("Adadelta", {}, ["StepLR", "CosineAnnealingLR"]),
    ("RAdam", {"lr": 0.01}, ["StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR"]),
    ("Adamax", {"lr": 0.01}, ["StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR"]),
]


@pytest.mark.parametrize(
    "name,kwargs,scheduler",
    [(n, k, s) for n, k, names in SCHEDULED for s in names],
    ids=[f"{n}-{s}" for n, _, names in SCHEDULED for s in names],
)
def test_lr_scheduler_drives_them_exactly_as_torch(name: str, kwargs: dict[str, Any], scheduler: str) -> None:
    problem = Problem.make(torch.float64)
    ours, theirs = problem.params(), problem.params()
    opt_ours = getattr(co, name)(ours, **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs, **kwargs)
    sched_ours, sched_theirs = SCHEDULERS[scheduler](opt_ours), SCHEDULERS[scheduler](opt_theirs)
    for _ in range(STEPS):
        step_both([(opt_ours, ours), (opt_theirs, theirs)], problem, 1.0)
        sched_ours.step()
        sched_theirs.step()
        assert opt_ours.param_groups[0]["lr"] == opt_theirs.param_groups[0]["lr"]
        assert max_relative_error(ours, theirs) <= 1e-10


# One configuration per class that creates every state buffer the class has.
FULL_STATE = {
    "SGD": {"lr": 0.1, "momentum": 0.9},
    "Adagrad": {"lr": 0.1, "initial_accumulator_value": 0.1},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adadelta": {},
    "Adam": {"lr": 0.01, "amsgrad": True},
    "AdamW": {"lr": 0.01, "amsgrad": True},
    "NAdam": {"lr": 0.01},
    "RAdam": {"lr": 0.01},
    "Adamax": {"lr": 0.01},
}


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_state_has_torchs_keys_dtypes_and_values(name: str) -> None:
    problem = Problem.make(torch.float64)
    ours, theirs = problem.params(), problem.params()
    opt_ours = getattr(co, name)(ours, **FULL_STATE[name])
    opt_theirs = getattr(torch.optim, name)(theirs, **FULL_STATE[name])
    for _ in range(5):
        step_both([(opt_ours, ours), (opt_theirs, theirs)], problem, 1.0)
    for p, q in zip(ours, theirs, strict=True):
        mine, ref = opt_ours.state[p], opt_theirs.state[q]
        assert set(mine) == set(ref)
        for key in ref:
            assert mine[key].dtype == ref[key].dtype and mine[key].device == ref[key].device, key
            assert torch.equal(mine[key], ref[key]), key


@pytest.mark.parametrize("direction", ["torch_to_course", "course_to_torch"])
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_state_dict_is_interchangeable_with_torch_mid_run(name: str, direction: str) -> None:
    kwargs = FULL_STATE[name]
    source_cls, target_cls = getattr(torch.optim, name), getattr(co, name)
    if direction == "course_to_torch":
        source_cls, target_cls = target_cls, source_cls
    problem = Problem.make(torch.float64)
    first = problem.params()
    opt_first = source_cls(first, **kwargs)
    for _ in range(10):
        step_both([(opt_first, first)], problem, 1.0)
    buffer = io.BytesIO()
    torch.save(opt_first.state_dict(), buffer)
    buffer.seek(0)
    second = [p.detach().clone().requires_grad_() for p in first]
    opt_second = target_cls(second, **kwargs)
    opt_second.load_state_dict(torch.load(buffer))
    for _ in range(10):
        step_both([(opt_first, first), (opt_second, second)], problem, 1.0)
        assert max_relative_error(second, first) <= 1e-10
