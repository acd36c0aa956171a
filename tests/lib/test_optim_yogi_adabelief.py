"""Yogi and AdaBelief give ``pytorch_optimizer``'s numbers, step for step, and differ from Adam as claimed.

The reference is the maintained ``pytorch-optimizer`` package (a test dependency only, never a
runtime one). Same deterministic float64 problem as the torch.optim tests
(``optim_testing.Problem``), every step compared, not just the end point.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

pytorch_optimizer = pytest.importorskip("pytorch_optimizer")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 30

GRID: list[tuple[str, dict[str, Any]]] = [
    ("Yogi", {}),
    ("Yogi", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "initial_accumulator": 1e-3}),
    ("Yogi", {"lr": 0.02, "weight_decay": 0.1}),
    ("Yogi", {"lr": 0.02, "maximize": True}),
    ("AdaBelief", {}),
    ("AdaBelief", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-10}),
    ("AdaBelief", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdaBelief", {"lr": 0.01, "maximize": True}),
]


def _trajectory(make, kwargs: dict[str, Any], problem: Problem) -> list[list[torch.Tensor]]:
    params = problem.params()
    opt = make(params, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    path = []
    for _ in range(STEPS):
        opt.zero_grad()
        problem.loss(params, sign).backward()
        opt.step()
        path.append([p.detach().clone() for p in params])
    return path


@pytest.mark.parametrize(("name", "kwargs"), GRID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(GRID)])
def test_matches_pytorch_optimizer_step_by_step_in_float64(name: str, kwargs: dict[str, Any]) -> None:
    problem = Problem.make(torch.float64)
    ref_kwargs = dict(kwargs)
    if name == "AdaBelief":
        ref_kwargs["rectify"] = False
    ours = _trajectory(getattr(co, name), kwargs, problem)
    theirs = _trajectory(getattr(pytorch_optimizer, name), ref_kwargs, problem)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        assert max_relative_error(a, b) < 1e-12, f"{name} step {t}"


def _first_steps(make, grads: torch.Tensor) -> torch.Tensor:
    """θ_t - θ_{t-1} for a fixed sequence of gradients (one coordinate per column)."""
    theta = torch.zeros(grads.shape[1], dtype=torch.float64, requires_grad=True)
    opt = make([theta])
    steps = []
    for g in grads:
        before = theta.detach().clone()
        theta.grad = g.clone()
        opt.step()
        steps.append(theta.detach() - before)
    return torch.stack(steps)


def test_adabelief_takes_larger_steps_than_adam_on_a_steady_gradient() -> None:
    grads = torch.ones(50, 1, dtype=torch.float64)  # g = m: no surprise, S stays ~ 0
    belief = _first_steps(lambda p: co.AdaBelief(p, lr=1e-3), grads).abs()
    adam = _first_steps(lambda p: co.Adam(p, lr=1e-3), grads).abs()
    # Adam's step stays at lr; AdaBelief's grows as the surprise g - m dies out
    assert (adam - 1e-3).abs().max() < 1e-6
    assert belief[-1].item() > 3 * adam[-1].item() and (belief[1:] > belief[:-1]).all()


def test_yogi_forgets_a_burst_more_slowly_than_adam() -> None:
    burst = torch.cat([torch.full((20, 1), 10.0), torch.full((200, 1), 0.1)]).double()
    betas = (0.9, 0.9)  # a short memory, so that Adam forgets the burst within the run
    yogi = _first_steps(
        lambda p: co.Yogi(p, lr=1e-3, betas=betas, eps=1e-8, initial_accumulator=0.0), burst
    )
    adam = _first_steps(lambda p: co.Adam(p, lr=1e-3, betas=betas), burst)
    # after the burst Adam's V decays geometrically, Yogi's by (1 - β2) g² per step only
    assert adam[-1].abs().item() > 0.9e-3  # Adam is back to steps of lr
    assert yogi[-1].abs().item() < 0.05 * adam[-1].abs().item()


def test_constructors_validate_like_torch() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    for cls in (co.Yogi, co.AdaBelief):
        with pytest.raises(ValueError, match="learning rate"):
            cls(p, lr=-1.0)
        with pytest.raises(ValueError, match="beta"):
            cls(p, betas=(1.0, 0.9))
