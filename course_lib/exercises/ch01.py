"""Checks for the exercises of chapter 1 (gradient descent is Euler's method).

The references are ``course_lib``'s own: :func:`course_lib.ode.gradient_descent` and
:class:`course_lib.landscapes.Quadratic`. They are imported inside the checkers, so this module imports
even where they are missing.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises import cases as rnd
from course_lib.exercises.checks import Case, CheckResult, check_function, check_number
from course_lib.exercises.registry import register, register_explain

#: The Hessians of the predict-then-verify exercises (the notebook's text states them).
H_1_2 = [[5.0, 3.0], [3.0, 5.0]]
H_1_3 = [[5.0, 4.0], [4.0, 5.0]]


def _quadratic_case(g: torch.Generator, batch: tuple[int, ...], dtype: torch.dtype, lr_tensor: bool = False,
                    n_steps: int | None = None) -> Case:
    from course_lib.landscapes import Quadratic

    d = rnd.integer(g, 2, 4)
    lams = [rnd.uniform(g, 0.2, 3.0) for _ in range(d)]
    landscape = Quadratic.from_eigenvalues(lams, rotation_seed=rnd.integer(g, 0, 10_000),
                                           minimizer=rnd.normal(g, d).tolist())
    theta0 = rnd.normal(g, *batch, d, dtype=dtype)
    n = rnd.integer(g, 3, 15) if n_steps is None else n_steps
    if lr_tensor:
        lr: Any = (torch.rand(*batch, 1, generator=g, dtype=torch.float64) * 0.9 + 0.05) * landscape.critical_lr()
        lr = lr.to(dtype)
        lr_text = f"lr a tensor of shape {tuple(lr.shape)}"
    else:
        lr = rnd.uniform(g, 0.05, 0.95) * landscape.critical_lr()
        lr_text = f"lr={lr:.3g}"
    text = f"theta0 of shape {tuple(theta0.shape)} and dtype {dtype}, {lr_text}, n_steps={n}, d={d}"
    return Case((landscape.grad, theta0, lr, n), description=text)


@register("1.1", "implement", "Gradient descent, vectorised over starts")
def check_gradient_descent(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the student's ``gradient_descent(grad, theta0, lr, n_steps)`` with course_lib.ode's."""
    from course_lib.ode import gradient_descent

    g = rnd.generator(hidden)
    if hidden == "edge":
        cases = [
            _quadratic_case(g, (), torch.float64),                  # a single start, no batch dimension
            _quadratic_case(g, (3,), torch.float32),                # float32 in, float32 out
            _quadratic_case(g, (2, 3), torch.float64),              # two batch dimensions
            _quadratic_case(g, (4,), torch.float64, n_steps=0),     # zero steps: just theta0
            _quadratic_case(g, (5,), torch.float64, lr_tensor=True),  # one learning rate per start
        ]
    else:
        cases = [_quadratic_case(g, (rnd.integer(g, 1, 6),), torch.float64) for _ in range(8 if hidden else 4)]
    return check_function("1.1", answer, gradient_descent, cases, hidden=bool(hidden), rtol=1e-5, atol=1e-6,
                          time_limit_s=3.0 if hidden else 2.0, input_hint=" (the dtype of theta0)")


def divergence_boundary(hessian: list[list[float]], n_lrs: int = 4001, n_steps: int = 1000) -> float:
    """The smallest learning rate on a fine grid for which gradient descent on ``hessian`` diverges."""
    from course_lib.landscapes import Quadratic
    from course_lib.ode import gradient_descent

    q = Quadratic(hessian)
    trace = float(q.hessian.trace())
    lrs = torch.linspace(2.0 / trace, 2.0 * q.dim / trace * 1.01, n_lrs, dtype=torch.float64)[:, None]
    theta0 = torch.tensor([1.0, 0.3], dtype=torch.float64).expand(n_lrs, 2)
    final = gradient_descent(q.grad, theta0, lrs, n_steps)[-1]
    diverged = (final.norm(dim=-1) > theta0.norm(dim=-1)) | ~torch.isfinite(final).all(-1)
    return float(lrs[diverged.nonzero()[0, 0], 0])


@register("1.2", "predict", "Find the divergence boundary")
def check_divergence_boundary(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the predicted largest stable learning rate with 2/λmax, verified by simulation."""

    def compute() -> tuple[float, str]:
        from course_lib.landscapes import Quadratic

        truth = Quadratic(H_1_2).critical_lr()
        simulated = divergence_boundary(H_1_2)
        if abs(simulated - truth) > 0.01 * truth:
            raise RuntimeError(f"simulated boundary {simulated} disagrees with 2/lambda_max = {truth}")
        how = (f"Verified by simulation: on a grid of 4001 learning rates, 1000 steps of gradient descent "
               f"first diverge at γ ≈ {simulated:.4f}.")
        return truth, how

    return check_number("1.2", answer, compute, rtol=0.01, hidden=bool(hidden), reveal=reveal)


def measured_rate(hessian: list[list[float]], lr: float, n_steps: int = 200) -> float:
    """The per-step shrink factor of ‖θ_n − θ*‖ over ``n_steps`` of gradient descent, (‖e_n‖/‖e_0‖)^(1/n)."""
    from course_lib.landscapes import Quadratic
    from course_lib.ode import gradient_descent

    q = Quadratic(hessian)
    theta0 = torch.tensor([1.0, 0.3], dtype=torch.float64)
    trajectory = gradient_descent(q.grad, theta0, lr, n_steps)
    errors = (trajectory - q.minimizer).norm(dim=-1)
    return float((errors[-1] / errors[0]) ** (1.0 / n_steps))


@register("1.3", "predict", "The rate at the best fixed step")
def check_optimal_rate(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the predicted contraction factor at γ* = 2/(λmin + λmax) with the measured one."""

    def compute() -> tuple[float, str]:
        from course_lib.landscapes import Quadratic

        q = Quadratic(H_1_3)
        truth = q.contraction(q.optimal_lr())
        measured = measured_rate(H_1_3, q.optimal_lr())
        if abs(measured - truth) > 0.01 * truth:
            raise RuntimeError(f"measured rate {measured} disagrees with rho(gamma*) = {truth}")
        how = (f"Verified by simulation: 200 steps of gradient descent at γ* = {q.optimal_lr():.4g} shrink "
               f"‖θ_n − θ*‖ by a factor {measured:.4f} per step.")
        return truth, how

    return check_number("1.3", answer, compute, rtol=0.01, hidden=bool(hidden), reveal=reveal)


register_explain("1.4", "Why the flow converges and gradient descent does not")
