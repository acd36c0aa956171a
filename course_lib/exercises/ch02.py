"""Checks for the exercises of chapter 2 (SGD is an SDE).

The references are ``course_lib``'s own where it has one (:func:`course_lib.dynamics.sde.euler_maruyama`,
:func:`course_lib.dynamics.sde.ou_stationary_variance`); the minibatch-variance reference is written here, in
closed form, and confirmed by sampling minibatches in the tests.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.ch01 import random_quadratic
from course_lib.exercises.spec import Case, Fn, Rng, explain, implement, predict, see

#: The numbers of the predict-then-verify exercise 2.2 (the notebook's text states them).
LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2 = 0.1, 4.0, 8, 0.5


def _em_reference(drift: Any, theta: torch.Tensor, h: float, diffusion: float, z: torch.Tensor,
                  seed: int | None = None) -> torch.Tensor:
    """One step of course_lib.dynamics.sde.euler_maruyama; its noise is the draw ``z`` came from (``seed``), or none."""
    from course_lib.dynamics.sde import euler_maruyama

    if seed is None:  # z = 0: the step is the drift term alone
        return euler_maruyama(drift, theta, h, 1, 0.0)[1]
    return euler_maruyama(drift, theta, h, 1, diffusion, generator=torch.Generator().manual_seed(seed))[1]


def _em_case(rng: Rng, family: str, batch: tuple[int, ...], dtype: torch.dtype = torch.float64,
             no_noise: bool = False, no_drift: bool = False) -> Case:
    d = rng.integer(1, 3)
    grad, _ = random_quadratic(rng, d, 0.2, 2.0)
    drift = Fn("zero") if no_drift else Fn("quadratic_drift", **grad.params)
    theta = rng.normal(*batch, d, dtype=dtype)
    h, diffusion, seed = rng.uniform(0.01, 0.5), rng.uniform(0.1, 2.0), rng.integer(0, 2**30)
    # The draw euler_maruyama makes for its first step from a generator seeded with ``seed``.
    z = torch.randn(theta.shape, generator=torch.Generator().manual_seed(seed), dtype=theta.dtype)
    if no_noise:
        z = torch.zeros_like(theta)
    text = f"theta of shape {tuple(theta.shape)} and dtype {dtype}, h={h:.3g}, diffusion={diffusion:.3g}"
    return Case((drift, theta, h, diffusion, z), family=family, description=text,
                extra={"seed": None if no_noise else seed})


@implement("2.1", "One Euler–Maruyama step", name="em_step", reference=_em_reference, rtol=1e-5, atol=1e-6,
           input_hint="the dtype of theta", arg_names=("drift", "theta", "h", "diffusion", "z"),
           forbid=("course_lib.dynamics.sde.euler_maruyama",))
def em_step_cases(rng: Rng, group: str) -> list[Case]:
    """The drift term alone (z = 0), the noise term alone (zero drift), then full steps; edge shapes."""
    if group == "core":
        return [
            _em_case(rng, "z = 0, so only the drift term h·drift(θ) counts", (3,), no_noise=True),
            _em_case(rng, "zero drift, so only the noise term s·√h·z counts", (3,), no_drift=True),
            *[_em_case(rng, "a full step", (rng.integer(1, 8),)) for _ in range(2)],
        ]
    return [
        _em_case(rng, "a single chain, no batch dimension", ()),
        _em_case(rng, "float32 inputs: return float32", (4,), torch.float32),
        _em_case(rng, "two batch dimensions", (2, 3)),
    ]


@predict("2.2", "The stationary variance of the OU process", name="variance", rtol=0.02,
         ratios={"the stationary variance of dθ = −λθ dt + s dW is s²/(2λ): is the 2 missing?": 2.0,
                 "the stationary variance is s²/(2λ), not s²/λ... or is B missing?": 0.5})
def ou_variance_truth() -> tuple[float, str]:
    """γσ²/(2Bλ), confirmed by simulating 20000 Euler–Maruyama chains of the OU process."""
    from course_lib.dynamics.sde import ou_stationary_variance

    truth = ou_stationary_variance(LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2)
    simulated = simulated_ou_variance(LR_2_2, SIGMA2_2_2, BATCH_2_2, CURVATURE_2_2)
    if abs(simulated - truth) > 0.05 * truth:
        raise RuntimeError(f"simulated variance {simulated} disagrees with the formula {truth}")
    how = (f"Verified by simulation: 20000 Euler–Maruyama chains (h = 0.01) have variance {simulated:.4f} "
           f"at stationarity.")
    return truth, how


def simulated_ou_variance(lr: float, sigma2: float, batch_size: int, curvature: float, h: float = 0.01,
                          n_chains: int = 20_000, seed: int = 0) -> float:
    """The variance of many Euler–Maruyama chains of the OU process, averaged over the last of t ∈ [0, 8/λ]."""
    from course_lib.dynamics.sde import euler_maruyama, langevin_diffusion

    n_steps = int(8 / curvature / h)
    theta0 = torch.zeros(n_chains, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    states = euler_maruyama(lambda th: -curvature * th, theta0, h, n_steps, langevin_diffusion(lr, sigma2, batch_size),
                            generator=g, record_every=max(1, n_steps // 50))
    return float(states[-10:].var(dim=1).mean())


def minibatch_gradient_variance(per_example_grads: torch.Tensor, batch_size: int) -> torch.Tensor:
    r"""E‖g_B − ∇L‖² for a minibatch of ``batch_size`` examples drawn with replacement: tr(Σ)/B.

    ``per_example_grads`` has shape (N, d) (row i is ∇ℓ_i); Σ = (1/N) Σ_i (∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ is the
    population covariance, so tr Σ is the mean squared distance of the rows from their mean.
    """
    centred = per_example_grads - per_example_grads.mean(dim=0)
    return (centred**2).sum(dim=1).mean() / batch_size


def _variance_reference(per_example_grads: torch.Tensor, batch_size: Any) -> torch.Tensor:
    return minibatch_gradient_variance(per_example_grads, int(batch_size))


def _slips(n: int, b: int) -> dict[str, float]:
    """The factors (yours / expected) of the classic slips, each with the hint the message gives."""
    slips = {
        "N/(N − 1): you used the sample (unbiased) variance; Σ is the population covariance (divide by N)":
            n / (n - 1),
        "B: you did not divide by the batch size B": float(b),
        "1/B: you divided by the batch size twice (by B²)": 1.0 / b,
        "(N − B)/(N − 1): that is the variance without replacement; these draws are with replacement":
            (n - b) / (n - 1),
    }
    return {hint: f for hint, f in slips.items() if abs(f - 1.0) > 1e-9}


def _variance_case(rng: Rng, family: str, n: int | None = None, b: int | None = None,
                   dtype: torch.dtype = torch.float64, numpy_batch: bool = False) -> Case:
    n = rng.integer(20, 200) if n is None else n
    d = rng.integer(1, 10)
    grads = rng.normal(n, d) * rng.uniform(0.1, 3.0) + rng.normal(d)
    b = rng.integer(2, n - 1) if b is None else b
    batch: Any = b
    if numpy_batch:
        import numpy as np

        batch = np.int64(b)
    text = f"per_example_grads of shape ({n}, {d}) and dtype {dtype}, batch_size={b}"
    return Case((grads.to(dtype), batch), family=family, description=text, ratios=_slips(n, b))


@implement("2.3", "The variance of a minibatch gradient", name="minibatch_gradient_variance",
           reference=_variance_reference, rtol=1e-4, atol=1e-7, input_hint="the dtype of per_example_grads",
           arg_names=("per_example_grads", "batch_size"))
def minibatch_variance_cases(rng: Rng, group: str) -> list[Case]:
    """Random (N, d) gradients and batch sizes; float32, B = 1, B = N, a numpy batch size."""
    if group == "core":
        return [_variance_case(rng, "random gradients") for _ in range(4)]
    return [
        _variance_case(rng, "float32 inputs: return float32", dtype=torch.float32),
        _variance_case(rng, "batch_size = 1", n=50, b=1),
        _variance_case(rng, "batch_size = N (with replacement the variance is not 0)", n=50, b=50),
        _variance_case(rng, "batch_size a numpy integer", numpy_batch=True),
    ]


def monte_carlo_variance(per_example_grads: torch.Tensor, batch_size: int, n_batches: int, seed: int) -> float:
    """E‖g_B − ∇L‖² estimated by drawing ``n_batches`` minibatches with replacement."""
    g = torch.Generator().manual_seed(seed)
    n = per_example_grads.shape[0]
    idx = torch.randint(n, (n_batches, batch_size), generator=g)
    g_b = per_example_grads.to(torch.float64)[idx].mean(dim=1)
    return float(((g_b - per_example_grads.to(torch.float64).mean(0)) ** 2).sum(-1).mean())


explain("2.4", "Why the temperature is γ/B")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("2.1", "2.3", "From SGD to the Langevin equation", "ch2-em")
see("2.2", "2.7", "The Ornstein–Uhlenbeck case: SGD on a quadratic", "ch2-ou-var")
see("2.3", "2.1", "The minibatch gradient is an unbiased, noisy estimate", "ch2-sgd-var")
see("2.4", "2.4", "The stationary density: a Gibbs distribution", "ch2-temperature")
