"""Checks for the exercises of chapter 2 (SGD is an SDE).

The references are ``course_lib``'s own where it has one (:func:`course_lib.sde.euler_maruyama`,
:func:`course_lib.sde.ou_stationary_variance`); the minibatch-variance reference is written here, in
closed form, and the hidden check also confirms it by sampling minibatches.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises import cases as rnd
from course_lib.exercises.checks import Case, CheckResult, check_function, check_number
from course_lib.exercises.registry import register, register_explain

#: The numbers of the predict-then-verify exercise 2.2 (the notebook's text states them).
LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2 = 0.1, 4.0, 8, 0.5


def _em_reference(seed: int):
    """One Euler–Maruyama step by course_lib.sde.euler_maruyama, whose noise comes from ``seed``."""

    def em_step(drift: Any, theta: torch.Tensor, h: float, diffusion: float, z: torch.Tensor) -> torch.Tensor:
        from course_lib.sde import euler_maruyama

        return euler_maruyama(drift, theta, h, 1, diffusion, generator=torch.Generator().manual_seed(seed))[1]

    return em_step


def _em_case(g: torch.Generator, batch: tuple[int, ...], dtype: torch.dtype) -> tuple[Case, int]:
    from course_lib.landscapes import Quadratic

    d = rnd.integer(g, 1, 3)
    landscape = Quadratic.from_eigenvalues([rnd.uniform(g, 0.2, 2.0) for _ in range(d)], rotation_seed=rnd.integer(g, 0, 999))
    theta = rnd.normal(g, *batch, d, dtype=dtype)
    h, diffusion, seed = rnd.uniform(g, 0.01, 0.5), rnd.uniform(g, 0.1, 2.0), rnd.integer(g, 0, 2**30)
    # The same draw euler_maruyama makes for its first step from a generator seeded with ``seed``.
    z = torch.randn(theta.shape, generator=torch.Generator().manual_seed(seed), dtype=theta.dtype)
    text = f"theta of shape {tuple(theta.shape)} and dtype {dtype}, h={h:.3g}, diffusion={diffusion:.3g}"
    return Case((lambda th, L=landscape: -L.grad(th), theta, h, diffusion, z), description=text), seed


@register("2.1", "implement", "One Euler–Maruyama step")
def check_em_step(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare ``em_step(drift, theta, h, diffusion, z)`` with one step of course_lib.sde.euler_maruyama."""
    g = rnd.generator(hidden)
    if hidden == "edge":
        shapes = [((), torch.float64), ((4,), torch.float32), ((2, 3), torch.float64)]
    else:
        shapes = [((rnd.integer(g, 1, 8),), torch.float64) for _ in range(8 if hidden else 4)]
    cases = []
    for batch, dtype in shapes:
        case, seed = _em_case(g, batch, dtype)
        case.reference = _em_reference(seed)
        cases.append(case)
    return check_function("2.1", answer, _em_reference(0), cases, hidden=bool(hidden), rtol=1e-5, atol=1e-6,
                          step_dim=False, time_limit_s=3.0 if hidden else 2.0, input_hint=" (the dtype of theta)")


def simulated_ou_variance(lr: float, sigma2: float, batch_size: int, curvature: float, h: float = 0.01,
                          n_chains: int = 20_000, seed: int = 0) -> float:
    """The variance of many Euler–Maruyama chains of the OU process, averaged over the last of t ∈ [0, 8/λ]."""
    from course_lib.sde import euler_maruyama, langevin_diffusion

    n_steps = int(8 / curvature / h)
    theta0 = torch.zeros(n_chains, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    states = euler_maruyama(lambda th: -curvature * th, theta0, h, n_steps, langevin_diffusion(lr, sigma2, batch_size),
                            generator=g, record_every=max(1, n_steps // 50))
    return float(states[-10:].var(dim=1).mean())


@register("2.2", "predict", "The stationary variance of the OU process")
def check_ou_variance(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare the predicted stationary variance with γσ²/(2Bλ), verified by simulating the SDE."""

    def compute() -> tuple[float, str]:
        from course_lib.sde import ou_stationary_variance

        truth = ou_stationary_variance(LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2)
        simulated = simulated_ou_variance(LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2)
        if abs(simulated - truth) > 0.05 * truth:
            raise RuntimeError(f"simulated variance {simulated} disagrees with the formula {truth}")
        how = (f"Verified by simulation: 20000 Euler–Maruyama chains (h = 0.01) have variance {simulated:.4f} "
               f"at stationarity.")
        return truth, how

    return check_number("2.2", answer, compute, rtol=0.02, hidden=bool(hidden), reveal=reveal)


def minibatch_gradient_variance(per_example_grads: torch.Tensor, batch_size: int) -> torch.Tensor:
    r"""E‖g_B − ∇L‖² for a minibatch of ``batch_size`` examples drawn with replacement: tr(Σ)/B.

    ``per_example_grads`` has shape (N, d) (row i is ∇ℓ_i); Σ = (1/N) Σ_i (∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ is the
    population covariance, so tr Σ is the mean squared distance of the rows from their mean.
    """
    centred = per_example_grads - per_example_grads.mean(dim=0)
    return (centred**2).sum(dim=1).mean() / batch_size


def _variance_case(g: torch.Generator, dtype: torch.dtype = torch.float64) -> Case:
    n, d = rnd.integer(g, 20, 200), rnd.integer(g, 1, 10)
    grads = rnd.normal(g, n, d, dtype=dtype) * rnd.uniform(g, 0.1, 3.0) + rnd.normal(g, d, dtype=dtype)
    b = rnd.integer(g, 1, n)
    return Case((grads, b), description=f"per_example_grads of shape ({n}, {d}) and dtype {dtype}, batch_size={b}")


def monte_carlo_variance(per_example_grads: torch.Tensor, batch_size: int, n_batches: int, seed: int) -> float:
    """E‖g_B − ∇L‖² estimated by drawing ``n_batches`` minibatches with replacement."""
    g = torch.Generator().manual_seed(seed)
    n = per_example_grads.shape[0]
    idx = torch.randint(n, (n_batches, batch_size), generator=g)
    g_b = per_example_grads.to(torch.float64)[idx].mean(dim=1)
    return float(((g_b - per_example_grads.to(torch.float64).mean(0)) ** 2).sum(-1).mean())


@register("2.3", "implement", "The variance of a minibatch gradient")
def check_minibatch_variance(answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare ``minibatch_gradient_variance(per_example_grads, batch_size)`` with tr(Σ)/B."""
    g = rnd.generator(hidden)
    if hidden == "edge":
        cases = [_variance_case(g, torch.float32)]
        grads = rnd.normal(g, 50, 3)
        cases.append(Case((grads, 1), description="batch_size=1"))
        cases.append(Case((grads, 50), description="batch_size=N=50 (with replacement the variance is not 0)"))
    else:
        cases = [_variance_case(g) for _ in range(8 if hidden else 4)]
    result = check_function("2.3", answer, minibatch_gradient_variance, cases, hidden=bool(hidden), rtol=1e-4,
                            atol=1e-7, step_dim=False, time_limit_s=3.0 if hidden else 2.0,
                            input_hint=" (the dtype of per_example_grads)")
    if result.passed and not hidden:
        grads, b = cases[0].args
        mc = monte_carlo_variance(grads, b, 20_000, seed=1)
        exact = float(minibatch_gradient_variance(grads, b))
        if math.isfinite(mc):
            result.message += (f" On case 1, drawing 20000 minibatches gives {mc:.4g}; your formula gives {exact:.4g}.")
    return result


register_explain("2.4", "Why the temperature is γ/B")
