"""Exercises of chapter 4 (Nesterov's accelerated gradient).

The references are ``course_lib``'s own: :func:`course_lib.dynamics.momentum.momentum_path` and
:mod:`course_lib.dynamics.quadratic_rates`, imported inside the functions. Every case is plain data.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises.ch01 import random_quadratic
from course_lib.exercises.spec import Case, Rng, explain, implement, predict, see

#: Exercise 4.2: the look-ahead and the momentum whose stability boundary the student derives.
LOOKAHEAD_4_2, MOMENTUM_4_2 = 0.25, 0.8
#: Exercise 4.3: the condition number.
KAPPA_4_3 = 400.0


def _nesterov_case(rng: Rng, family: str, batch: tuple[int, ...] = (), dtype: torch.dtype = torch.float64,
                   n_steps: int | None = None, numpy_scalars: bool = False) -> Case:
    d = rng.integer(2, 4)
    grad, critical = random_quadratic(rng, d)
    theta0 = rng.normal(*batch, d, dtype=dtype)
    n: Any = rng.integer(3, 15) if n_steps is None else n_steps
    mu: Any = rng.uniform(0.5, 0.95)
    lr: Any = rng.uniform(0.05, 0.6) * critical  # inside Nesterov's stable range for every mu
    if numpy_scalars:
        import numpy as np

        lr, mu, n = np.float64(lr), np.float64(mu), np.int64(n)
    text = (f"theta0 of shape {tuple(theta0.shape)} and dtype {dtype}, lr={float(lr):.3g}, "
            f"momentum={float(mu):.3g}, n_steps={int(n)}, d={d}")
    return Case((grad, theta0, lr, mu, n), family=family, description=text)


def _nesterov_reference(grad: Any, theta0: torch.Tensor, lr: Any, momentum: Any, n_steps: Any) -> torch.Tensor:
    from course_lib.dynamics.momentum import momentum_path

    return momentum_path(grad, theta0, float(lr), float(momentum), int(n_steps), lookahead=1.0)


@implement("4.1", "Nesterov's method in Sutskever's form, vectorised", name="nesterov_path",
           reference=_nesterov_reference, rtol=1e-5, atol=1e-6, steps=True, input_hint="the dtype of theta0",
           arg_names=("grad", "theta0", "lr", "momentum", "n_steps"),
           forbid=("course_lib.dynamics.momentum.momentum_path",))
def nesterov_path_cases(rng: Rng, group: str) -> list[Case]:
    """Random batches of starts ("core"); the edge families a vectorised implementation must survive."""
    if group == "core":
        return [_nesterov_case(rng, "random starts", (rng.integer(1, 6),)) for _ in range(4)]
    return [
        _nesterov_case(rng, "a single start, no batch dimension"),
        _nesterov_case(rng, "float32 inputs: return float32", (3,), torch.float32),
        _nesterov_case(rng, "two batch dimensions", (2, 3)),
        _nesterov_case(rng, "zero steps: just theta0", (4,), n_steps=0),
        _nesterov_case(rng, "numpy scalars for lr, momentum and n_steps", (2,), numpy_scalars=True),
    ]


def simulated_boundary(lookahead: float, momentum: float, n_h: int = 3001, n_steps: int = 3000) -> float:
    """The smallest γλ on a grid for which the look-ahead family on L = x²/2 grows over ``n_steps``."""
    from course_lib.dynamics.momentum import momentum_path

    h = torch.linspace(1.0, 4.0, n_h, dtype=torch.float64)
    with torch.no_grad():
        final = momentum_path(lambda x: x, torch.ones(n_h, 1, dtype=torch.float64), h, momentum, n_steps,
                              lookahead=lookahead)[-1, :, 0]
    grows = ~torch.isfinite(final) | (final.abs() > 1.0)
    return float(h[grows.nonzero()[0, 0]])


@predict("4.2", "A stability boundary from the Jury conditions", name="boundary", rtol=0.005,
         ratios={"that is heavy ball's boundary 2(1 + μ): the look-ahead a enters the condition p(−1) > 0":
                 1.4,
                 "that is Nesterov's boundary (a = 1); here a = 1/4": (3.6 / 2.6) / (3.6 / 1.4)})
def boundary_truth() -> tuple[float, str]:
    """2(1 + μ)/(1 + 2aμ) at a = 1/4, μ = 0.8, confirmed by simulating 3001 values of γλ."""
    truth = 2 * (1 + MOMENTUM_4_2) / (1 + 2 * LOOKAHEAD_4_2 * MOMENTUM_4_2)
    simulated = simulated_boundary(LOOKAHEAD_4_2, MOMENTUM_4_2)
    if abs(simulated - truth) > 0.003 * truth:
        raise RuntimeError(f"simulated boundary {simulated} disagrees with the Jury boundary {truth}")
    how = (f"Verified by simulation: on a grid of 3001 values of γλ, 3000 steps first grow at "
           f"γλ ≈ {simulated:.4f}.")
    return truth, how


@predict("4.3", "Nesterov's rate at κ = 400", name="rate_400", rtol=0.002,
         ratios={"that is heavy ball's rate with Polyak's tuning, (√κ − 1)/(√κ + 1)": (19 / 21) / 0.95,
                 "that is gradient descent's best rate (κ − 1)/(κ + 1)": (399 / 401) / 0.95})
def rate_400_truth() -> tuple[float, str]:
    """1 − 1/√κ, confirmed by the spectral radius over a spectrum in [1, κ] and by a long run."""
    from course_lib.dynamics.momentum import momentum_path
    from course_lib.dynamics.quadratic_rates import convergence_rate

    truth = 1 - 1 / math.sqrt(KAPPA_4_3)
    lr, mu = 1 / KAPPA_4_3, (math.sqrt(KAPPA_4_3) - 1) / (math.sqrt(KAPPA_4_3) + 1)
    lams = torch.linspace(1.0, KAPPA_4_3, 200, dtype=torch.float64)
    rho = float(convergence_rate(lr, mu, lams, 1.0))
    errs = momentum_path(lambda x: lams * x, torch.ones(200, dtype=torch.float64), lr, mu, 1400,
                         lookahead=1.0).norm(dim=-1)
    measured = float((errs[1400] / errs[1000]) ** (1 / 400))
    if abs(rho - truth) > 1e-6 or abs(measured - truth) > 0.003:
        raise RuntimeError(f"rate {rho} / measured {measured} disagree with 1 - 1/sqrt(kappa) = {truth}")
    how = (f"Verified: the spectral radius over 200 curvatures in [1, 400] is {rho:.5f}, and 1400 steps "
           f"shrink the error by {measured:.4f} per step late in the run.")
    return truth, how


explain("4.4", "Why heavy ball's tuning fails on a function that is not quadratic")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("4.1", "4.2", "Three ways to write one method", "ch4-sutskever")
see("4.2", "4.3", "On a quadratic, exactly", "ch4-stability")
see("4.3", "4.4", "Rates: what the look-ahead buys", "ch4-rate")
see("4.4", "4.5", "Why not always heavy ball?", "ch4-lessard")
