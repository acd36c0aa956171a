"""Checks for the exercises of chapter 3 (momentum).

The references are ``course_lib``'s own: :func:`course_lib.dynamics.momentum.heavy_ball`,
:func:`course_lib.dynamics.momentum.buffer_under_constant_gradient` and
:func:`course_lib.dynamics.quadratic_rates.stability_limit`. They are imported inside the functions, so this
module imports even where they are missing. Every case is plain data.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises.ch01 import random_quadratic
from course_lib.exercises.spec import Case, Rng, explain, implement, predict, see

#: The numbers of the predict-then-verify exercises (the notebook's text states them).
H_3_2 = [[3.0, 1.0], [1.0, 3.0]]
MU_3_2 = 0.6
MU_3_3 = 0.95


def _hb_case(rng: Rng, family: str, batch: tuple[int, ...] = (), dtype: torch.dtype = torch.float64,
             n_steps: int | None = None, per_start: bool = False, numpy_scalars: bool = False,
             momentum: float | None = None) -> Case:
    d = rng.integer(1, 3)
    grad, critical = random_quadratic(rng, d)
    theta0 = rng.normal(*batch, d, dtype=dtype)
    n: Any = rng.integer(3, 15) if n_steps is None else n_steps
    mu: Any = rng.uniform(0.3, 0.95) if momentum is None else momentum
    lr: Any = rng.uniform(0.05, 0.9) * critical
    text_lr, text_mu = f"lr={lr:.3g}", f"momentum={mu:.3g}"
    if per_start:
        lr = ((rng.rand(*batch, 1) * 0.85 + 0.05) * critical).to(dtype)
        mu = (rng.rand(*batch, 1) * 0.9).to(dtype)
        text_lr = f"lr and momentum tensors of shape {tuple(lr.shape)}"
        text_mu = "one per start"
    if numpy_scalars:
        import numpy as np

        lr, mu, n = np.float64(lr), np.float64(mu), np.int64(n)
        text_lr = f"lr=numpy.float64({float(lr):.3g})"
    text = (f"theta0 of shape {tuple(theta0.shape)} and dtype {dtype}, {text_lr}, {text_mu}, "
            f"n_steps={int(n)}, d={d}")
    return Case((grad, theta0, lr, mu, n), family=family, description=text)


def _hb_reference(grad: Any, theta0: torch.Tensor, lr: Any, momentum: Any, n_steps: Any) -> torch.Tensor:
    from course_lib.dynamics.momentum import heavy_ball

    lr = lr if isinstance(lr, torch.Tensor) else float(lr)
    momentum = momentum if isinstance(momentum, torch.Tensor) else float(momentum)
    return heavy_ball(grad, theta0, lr, momentum, int(n_steps))


@implement("3.1", "Heavy ball, vectorised over starts", name="heavy_ball", reference=_hb_reference,
           rtol=1e-5, atol=1e-6, steps=True, input_hint="the dtype of theta0",
           arg_names=("grad", "theta0", "lr", "momentum", "n_steps"),
           forbid=("course_lib.dynamics.momentum.heavy_ball", "course_lib.optim.SGD", "course_lib.optim.SutskeverSGD",
                   "torch.optim.SGD"))
def heavy_ball_cases(rng: Rng, group: str) -> list[Case]:
    """Random batches ("core", one with zero momentum: gradient descent); the edge families."""
    if group == "core":
        return [
            _hb_case(rng, "momentum = 0: plain gradient descent", (3,), momentum=0.0),
            *[_hb_case(rng, "random starts", (rng.integer(1, 6),)) for _ in range(3)],
        ]
    return [
        _hb_case(rng, "a single start, no batch dimension"),
        _hb_case(rng, "float32 inputs: return float32", (3,), torch.float32),
        _hb_case(rng, "two batch dimensions", (2, 3)),
        _hb_case(rng, "zero steps: just theta0", (4,), n_steps=0),
        _hb_case(rng, "one step: v_1 = -lr grad(theta_0), since v_0 = 0", (4,), n_steps=1),
        _hb_case(rng, "one learning rate and one momentum per start", (5,), per_start=True),
        _hb_case(rng, "numpy scalars for lr, momentum and n_steps", (2,), numpy_scalars=True),
    ]


def momentum_divergence_boundary(hessian: list[list[float]], momentum: float, n_lrs: int = 501,
                                 n_steps: int = 1000) -> float:
    """The smallest learning rate on a grid for which heavy ball on ``hessian`` diverges."""
    from course_lib.dynamics.momentum import heavy_ball
    from course_lib.landscapes import Quadratic

    q = Quadratic(hessian)
    # from gradient descent's limit 2/λmax up to 2.5 times it (momentum's limit is below 2 · 2/λmax)
    lrs = torch.linspace(q.critical_lr(), 2.5 * q.critical_lr(), n_lrs, dtype=torch.float64)[:, None]
    theta0 = torch.tensor([1.0, 0.3], dtype=torch.float64).expand(n_lrs, 2)
    final = heavy_ball(q.grad, theta0, lrs, momentum, n_steps)[-1]
    diverged = (final.norm(dim=-1) > theta0.norm(dim=-1)) | ~torch.isfinite(final).all(-1)
    return float(lrs[diverged.nonzero()[0, 0], 0])


@predict("3.2", "The largest stable learning rate with momentum", name="lr_max", rtol=0.01,
         ratios={"that is gradient descent's limit 2/λmax; momentum enlarges it by the factor 1 + μ":
                 1 / (1 + MU_3_2),
                 "that uses λmin; the steepest direction, λmax, diverges first": 2.0,
                 "the limit is 2(1 + μ)/λmax, not (1 + μ)/λmax": 0.5})
def momentum_boundary_truth() -> tuple[float, str]:
    """2(1 + μ)/λmax for H_3_2 and μ = 0.6, confirmed by locating the boundary on a grid of rates."""
    from course_lib.dynamics.quadratic_rates import stability_limit
    from course_lib.landscapes import Quadratic

    q = Quadratic(H_3_2)
    truth = float(stability_limit(MU_3_2)) / q.lambda_max
    simulated = momentum_divergence_boundary(H_3_2, MU_3_2)
    if abs(simulated - truth) > 0.01 * truth:
        raise RuntimeError(f"simulated boundary {simulated} disagrees with 2(1 + mu)/lambda_max = {truth}")
    how = (f"Verified by simulation: on a grid of 501 learning rates, 1000 steps of heavy ball with "
           f"μ = {MU_3_2} first diverge at γ ≈ {simulated:.4f}.")
    return truth, how


@predict("3.3", "How long the buffer takes to reach its terminal velocity", name="n_99", rtol=0.005,
         ratios={"that is 1/(1 − μ), the terminal velocity itself, not the number of steps to reach it":
                 1 / ((1 - MU_3_3) * math.ceil(math.log(0.01) / math.log(MU_3_3)))})
def terminal_velocity_truth() -> tuple[float, str]:
    """The first t with b_t ≥ 0.99 g/(1 − μ) for PyTorch's buffer at μ = 0.95, run with torch.optim.SGD."""
    truth = float(math.ceil(math.log(0.01) / math.log(MU_3_3)))
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=MU_3_3)
    t = 0
    while True:
        t += 1
        p.grad = torch.ones_like(p)
        opt.step()
        if opt.state[p]["momentum_buffer"].item() >= 0.99 / (1 - MU_3_3):
            break
    if t != truth:
        raise RuntimeError(f"torch.optim.SGD reached 99 % after {t} steps, the closed form says {truth}")
    how = (f"Verified with torch.optim.SGD(momentum={MU_3_3}) under a constant gradient: its buffer first "
           f"reaches 99 % of g/(1 − μ) = {1 / (1 - MU_3_3):.0f} g at step {t}.")
    return truth, how


explain("3.4", "Why Polyak's momentum needs more iterations than its rate predicts")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("3.1", "3.2", "The heavy ball: a damped oscillator and its discretisation", "ch3-momentum")
see("3.2", "3.6", "Momentum on a quadratic, exactly", "ch3-stability")
see("3.3", "3.4", "Terminal velocity, and what the effective step hides", "ch3-terminal")
see("3.4", "3.6", "Momentum on a quadratic, exactly", "ch3-polyak")
