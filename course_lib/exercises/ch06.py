"""Checks for the exercises of chapter 6 (the Adam family).

The references are ``course_lib.optim``'s own optimizers, driven with hand-set gradients. They are
imported inside the checkers, so this module imports even where they are missing.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises import cases as rnd
from course_lib.exercises.checks import Case, CheckResult, check_function, check_number
from course_lib.exercises.registry import register, register_explain

#: The set-ups of the predict-then-verify exercises (the notebook's text states them).
RMSPROP_6_2 = {"theta0": 0.5, "g": -4.0}
ADADELTA_6_3 = {"rho": 0.95, "eps": 1e-4, "g": 10.0}


def adam_trajectory_reference(grads: torch.Tensor, lr: float, beta1: float, beta2: float,
                              eps: float) -> torch.Tensor:
    """θ_0 = 0, …, θ_T of ``course_lib.optim.Adam`` fed the gradients ``grads[0], …, grads[T-1]``."""
    from course_lib.optim import Adam

    theta = torch.zeros_like(grads[0], requires_grad=True)
    optimizer = Adam([theta], lr=lr, betas=(beta1, beta2), eps=eps)
    trajectory = [theta.detach().clone()]
    for g in grads:
        theta.grad = g.clone()
        optimizer.step()
        trajectory.append(theta.detach().clone())
    return torch.stack(trajectory)


def _adam_case(g: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, scale: float = 1.0) -> Case:
    T = rnd.integer(g, 1, 30)
    grads = (scale * rnd.normal(g, T, *shape)).to(dtype)
    lr = rnd.uniform(g, 1e-3, 0.1)
    beta1, beta2 = rnd.uniform(g, 0.5, 0.95), rnd.uniform(g, 0.9, 0.9999)
    eps = 10 ** rnd.uniform(g, -8, -4)
    text = (f"{T} gradients of shape {shape} ({dtype}, scale {scale:g}), lr={lr:.3g}, "
            f"beta1={beta1:.3g}, beta2={beta2:.5g}, eps={eps:.1e}")
    return Case((grads, lr, beta1, beta2, eps), description=text)


@register("6.1", "implement", "Adam with its bias correction")
def check_adam_trajectory(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the student's ``adam_trajectory(grads, lr, beta1, beta2, eps)`` with course_lib's Adam."""
    g = rnd.generator(hidden)
    if hidden == "edge":
        cases = [
            _adam_case(g, (3,), torch.float64, scale=1e-6),   # tiny gradients: eps matters
            _adam_case(g, (2, 3), torch.float32),             # float32 in, float32 out
            _adam_case(g, (), torch.float64, scale=1e3),      # a scalar parameter, huge gradients
        ]
    else:
        cases = [_adam_case(g, (rnd.integer(g, 1, 5),), torch.float64) for _ in range(6 if hidden else 3)]
    return check_function("6.1", answer, adam_trajectory_reference, cases, hidden=bool(hidden), rtol=1e-5,
                          atol=1e-9, time_limit_s=3.0, input_hint=" (the dtype of grads)")


def _first_step(optimizer_factory: Any, theta0: float, g: float) -> float:
    theta = torch.tensor([theta0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([theta])
    theta.grad = torch.tensor([g], dtype=torch.float64)
    optimizer.step()
    return float(theta.item())


@register("6.2", "predict", "RMSprop's first step")
def check_rmsprop_first_step(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the predicted θ_1 of torch-default RMSprop with a measured step of course_lib's RMSprop."""

    def compute() -> tuple[float, str]:
        from course_lib.optim import RMSprop

        theta0, grad = RMSPROP_6_2["theta0"], RMSPROP_6_2["g"]
        measured = _first_step(lambda ps: RMSprop(ps), theta0, grad)
        exact = theta0 - 0.01 * grad / (math.sqrt(0.01 * grad**2) + 1e-8)
        if abs(measured - exact) > 1e-12:
            raise RuntimeError(f"measured {measured} disagrees with the closed form {exact}")
        return measured, "Verified by one step of course_lib.optim.RMSprop at torch's defaults."

    return check_number("6.2", answer, compute, rtol=1e-3, hidden=bool(hidden), reveal=reveal)


@register("6.3", "predict", "Adadelta's first step")
def check_adadelta_first_step(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the predicted size of Adadelta's first step with a measured one."""

    def compute() -> tuple[float, str]:
        from course_lib.optim import Adadelta

        rho, eps, grad = ADADELTA_6_3["rho"], ADADELTA_6_3["eps"], ADADELTA_6_3["g"]
        measured = abs(_first_step(lambda ps: Adadelta(ps, rho=rho, eps=eps), 0.0, grad))
        return measured, f"Verified by one step of course_lib.optim.Adadelta(rho={rho}, eps={eps})."

    return check_number("6.3", answer, compute, rtol=1e-3, hidden=bool(hidden), reveal=reveal)


register_explain("6.4", "What weight decay means for Adam")
