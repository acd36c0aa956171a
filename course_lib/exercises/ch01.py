"""Checks for the exercises of chapter 1 (gradient descent is Euler's method).

The references are ``course_lib``'s own: :func:`course_lib.dynamics.ode.gradient_descent` and
:class:`course_lib.landscapes.Quadratic`. They are imported inside the functions, so this module imports
even where they are missing. Every case is plain data: the gradient a student's function receives is
rebuilt from the Hessian and the minimizer (``Fn("quadratic_grad", ...)``).
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.spec import Case, Fn, Rng, explain, implement, predict, see

#: The Hessians of the predict-then-verify exercises (the notebook's text states them).
H_1_2 = [[5.0, 3.0], [3.0, 5.0]]
H_1_3 = [[5.0, 4.0], [4.0, 5.0]]


def random_quadratic(rng: Rng, d: int, lam_low: float = 0.2, lam_high: float = 3.0) -> tuple[Fn, float]:
    """A random SPD quadratic's gradient as a spec, and its critical learning rate 2/λmax."""
    lams = torch.tensor([rng.uniform(lam_low, lam_high) for _ in range(d)], dtype=torch.float64)
    q, _ = torch.linalg.qr(rng.normal(d, d))
    hessian = (q * lams) @ q.T
    hessian = (hessian + hessian.T) / 2
    minimizer = rng.normal(d)
    return Fn("quadratic_grad", hessian=hessian.tolist(), minimizer=minimizer.tolist()), 2.0 / float(lams.max())


def _gd_case(rng: Rng, family: str, batch: tuple[int, ...] = (), dtype: torch.dtype = torch.float64,
             n_steps: int | None = None, lr_per_start: bool = False, numpy_scalars: bool = False) -> Case:
    d = rng.integer(2, 4)
    grad, critical = random_quadratic(rng, d)
    theta0 = rng.normal(*batch, d, dtype=dtype)
    n: Any = rng.integer(3, 15) if n_steps is None else n_steps
    if lr_per_start:
        lr: Any = ((rng.rand(*batch, 1) * 0.9 + 0.05) * critical).to(dtype)
        lr_text = f"lr a tensor of shape {tuple(lr.shape)}"
    else:
        lr = rng.uniform(0.05, 0.95) * critical
        lr_text = f"lr={lr:.3g}"
    if numpy_scalars:
        import numpy as np

        lr, n = np.float64(lr), np.int64(n)
        lr_text = f"lr=numpy.float64({float(lr):.3g})"
    text = f"theta0 of shape {tuple(theta0.shape)} and dtype {dtype}, {lr_text}, n_steps={int(n)}, d={d}"
    return Case((grad, theta0, lr, n), family=family, description=text)


def _gd_reference(grad: Any, theta0: torch.Tensor, lr: Any, n_steps: Any) -> torch.Tensor:
    from course_lib.dynamics.ode import gradient_descent

    lr = lr if isinstance(lr, torch.Tensor) else float(lr)
    return gradient_descent(grad, theta0, lr, int(n_steps))


@implement("1.1", "Gradient descent, vectorised over starts", name="gradient_descent", reference=_gd_reference,
           rtol=1e-5, atol=1e-6, steps=True, input_hint="the dtype of theta0",
           arg_names=("grad", "theta0", "lr", "n_steps"), forbid=("course_lib.dynamics.ode.gradient_descent",
                                                                   "course_lib.dynamics.ode.euler"))
def gradient_descent_cases(rng: Rng, group: str) -> list[Case]:
    """Random batches of starts ("core"); the edge families a vectorised implementation must survive."""
    if group == "core":
        return [_gd_case(rng, "random starts", (rng.integer(1, 6),)) for _ in range(4)]
    return [
        _gd_case(rng, "a single start, no batch dimension"),
        _gd_case(rng, "float32 inputs: return float32", (3,), torch.float32),
        _gd_case(rng, "two batch dimensions", (2, 3)),
        _gd_case(rng, "zero steps: just theta0", (4,), n_steps=0),
        _gd_case(rng, "one learning rate per start", (5,), lr_per_start=True),
        _gd_case(rng, "numpy scalars for lr and n_steps", (2,), numpy_scalars=True),
    ]


def divergence_boundary(hessian: list[list[float]], n_lrs: int = 4001, n_steps: int = 1000) -> float:
    """The smallest learning rate on a fine grid for which gradient descent on ``hessian`` diverges."""
    from course_lib.dynamics.ode import gradient_descent
    from course_lib.landscapes import Quadratic

    q = Quadratic(hessian)
    trace = float(q.hessian.trace())
    lrs = torch.linspace(2.0 / trace, 2.0 * q.dim / trace * 1.01, n_lrs, dtype=torch.float64)[:, None]
    theta0 = torch.tensor([1.0, 0.3], dtype=torch.float64).expand(n_lrs, 2)
    final = gradient_descent(q.grad, theta0, lrs, n_steps)[-1]
    diverged = (final.norm(dim=-1) > theta0.norm(dim=-1)) | ~torch.isfinite(final).all(-1)
    return float(lrs[diverged.nonzero()[0, 0], 0])


@predict("1.2", "Find the divergence boundary", name="lr_max", rtol=0.01,
         ratios={"that is 2/λmin, the boundary of the flattest direction; the steepest one diverges first": 4.0,
                 "the threshold is 2/λmax, not 1/λmax": 0.5})
def divergence_boundary_truth() -> tuple[float, str]:
    """2/λmax of H_1_2, confirmed by locating the boundary on a grid of learning rates."""
    from course_lib.landscapes import Quadratic

    truth = Quadratic(H_1_2).critical_lr()
    simulated = divergence_boundary(H_1_2)
    if abs(simulated - truth) > 0.01 * truth:
        raise RuntimeError(f"simulated boundary {simulated} disagrees with 2/lambda_max = {truth}")
    how = (f"Verified by simulation: on a grid of 4001 learning rates, 1000 steps of gradient descent "
           f"first diverge at γ ≈ {simulated:.4f}.")
    return truth, how


def measured_rate(hessian: list[list[float]], lr: float, n_steps: int = 200) -> float:
    """The per-step shrink factor of ‖θ_n − θ*‖ over ``n_steps`` of gradient descent, (‖e_n‖/‖e_0‖)^(1/n)."""
    from course_lib.dynamics.ode import gradient_descent
    from course_lib.landscapes import Quadratic

    q = Quadratic(hessian)
    theta0 = torch.tensor([1.0, 0.3], dtype=torch.float64)
    trajectory = gradient_descent(q.grad, theta0, lr, n_steps)
    errors = (trajectory - q.minimizer).norm(dim=-1)
    return float((errors[-1] / errors[0]) ** (1.0 / n_steps))


@predict("1.3", "The rate at the best fixed step", name="rate", rtol=0.01)
def optimal_rate_truth() -> tuple[float, str]:
    """ρ(γ*) = (κ − 1)/(κ + 1) for H_1_3, confirmed by measuring 200 steps of gradient descent."""
    from course_lib.landscapes import Quadratic

    q = Quadratic(H_1_3)
    truth = q.contraction(q.optimal_lr())
    measured = measured_rate(H_1_3, q.optimal_lr())
    if abs(measured - truth) > 0.01 * truth:
        raise RuntimeError(f"measured rate {measured} disagrees with rho(gamma*) = {truth}")
    how = (f"Verified by simulation: 200 steps of gradient descent at γ* = {q.optimal_lr():.4g} shrink "
           f"‖θ_n − θ*‖ by a factor {measured:.4f} per step.")
    return truth, how


explain("1.4", "Why the flow converges and gradient descent does not")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("1.1", "1.2", "Gradient descent is explicit Euler", "ch1-gd")
see("1.2", "1.5", "When does gradient descent converge?", "ch1-stability")
see("1.3", "1.6", "The rate, the best step and the condition number", "ch1-optimal")
see("1.4", "1.5", "When does gradient descent converge?", "ch1-stability")
