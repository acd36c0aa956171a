"""Stochastic differential equations for chapter 2: SGD seen as a Langevin equation.

Chapter 2 models SGD with learning rate γ, batch size B and isotropic per-example gradient noise
Σ = σ² I by the Itô SDE (the Langevin equation)

    dθ = −∇L(θ) dt + √(γσ²/B) dW_t,                                   (ch2-langevin)

in the time t = nγ of the dynamics chapters. This module holds what the chapter computes with:

* :func:`euler_maruyama`, the integrator (ch2-em). One Euler–Maruyama step of size h = γ of
  (ch2-langevin) *is* one SGD step with Gaussian gradient noise of variance σ²/B — the chapter
  asserts the two agree bit for bit;
* :func:`langevin_diffusion` and :func:`sgd_temperature`, the map from SGD's (γ, σ², B) to the SDE's
  diffusion √(γσ²/B) and to the temperature T = γσ²/(2B) (ch2-temperature);
* :func:`gibbs_density` and :func:`gibbs_bin_probabilities`, the stationary density
  p(θ) ∝ exp(−L(θ)/T) = exp(−2BL(θ)/(γσ²)) of (ch2-langevin) (ch2-gibbs), normalised on a grid;
* :func:`histogram_probabilities` and :func:`total_variation`, to compare simulated chains with it;
* :func:`ou_stationary_variance` (the SDE on a quadratic, ch2-ou-var) and
  :func:`sgd_quadratic_stationary_variance` (the exact variance of the discrete SGD recursion,
  ch2-sgd-var), which differ by the factor 2/(2 − γλ).

Everything is vectorised: a state of shape (..., d) — or (...,) for a 1-D problem — holds many
independent chains at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib._checks import check_broadcasts_to, check_count, check_positive

__all__ = [
    "em_stationary_probabilities",
    "euler_maruyama",
    "gibbs_bin_probabilities",
    "gibbs_density",
    "histogram_probabilities",
    "langevin_diffusion",
    "ou_stationary_variance",
    "sgd_quadratic_stationary_variance",
    "sgd_temperature",
    "total_variation",
]


def euler_maruyama(
    drift: Callable[[torch.Tensor], torch.Tensor],
    theta0: torch.Tensor,
    h: float,
    n_steps: int,
    diffusion: float | torch.Tensor,
    generator: torch.Generator | None = None,
    record_every: int = 1,
) -> torch.Tensor:
    r"""Integrate dθ = drift(θ) dt + diffusion · dW_t with the Euler–Maruyama scheme.

    The scheme (equation ``ch2-em``) replaces the Brownian increment over one step by a Gaussian with
    the same variance h:

    .. math::  θ_{n+1} = θ_n + h\,\mathrm{drift}(θ_n) + \mathrm{diffusion}\,\sqrt{h}\,z_n,
               \qquad z_n \sim \mathcal N(0, I) \text{ independent}.

    With ``drift = -grad L``, ``h = γ`` and ``diffusion = sqrt(γσ²/B)`` this is exactly SGD whose
    gradient error is Gaussian with variance σ²/B, because √h · √(γσ²/B) = γ σ/√B.

    Args:
        drift: maps a state of ``theta0``'s shape to a tensor of the same shape (e.g. ``lambda th: -L.grad(th)``).
        theta0: initial states, shape (..., d) or (...,) for a 1-D problem; every entry of the leading
            dimensions is an independent chain. Must be a floating-point tensor.
        h: step size (> 0). For SGD, h = γ.
        n_steps: number of steps (>= 0).
        diffusion: the noise amplitude, a float >= 0 or a tensor broadcastable to ``theta0``'s shape
            (one amplitude per chain, e.g. shape (n_temperatures, 1), runs several temperatures at once).
        generator: the random generator for the Gaussian increments (seed it for reproducible runs).
        record_every: keep every ``record_every``-th state (>= 1) to save memory on long runs.

    Returns:
        The states θ_0, θ_k, θ_2k, ... (k = ``record_every``), shape
        ``(n_steps // record_every + 1, *theta0.shape)``; the first entry is ``theta0``.

    Raises:
        ValueError: a non-positive or non-finite ``h``, a bad ``n_steps``/``record_every``, a negative,
            non-finite or non-broadcastable ``diffusion``, a non-floating ``theta0``, or a drift that
            returns the wrong shape.
    """
    # --- validation
    if not isinstance(theta0, torch.Tensor) or not theta0.is_floating_point():
        raise ValueError(
            f"theta0 must be a floating-point torch.Tensor, got {type(theta0).__name__} "
            f"{getattr(theta0, 'dtype', '')}"
        )
    h = check_positive("h", h)
    n_steps = check_count("n_steps", n_steps, 0)
    record_every = check_count("record_every", record_every, 1)
    if isinstance(diffusion, torch.Tensor):
        if not torch.all(torch.isfinite(diffusion)) or torch.any(diffusion < 0):
            raise ValueError("diffusion must be finite and >= 0 everywhere")
        check_broadcasts_to("diffusion", diffusion, theta0.shape, what="theta0")
    elif (
        isinstance(diffusion, bool)
        or not isinstance(diffusion, (int, float))
        or not math.isfinite(diffusion)
        or diffusion < 0
    ):
        raise ValueError(
            f"diffusion must be a finite float >= 0 or a tensor, got {diffusion!r}"
        )
    # --- end validation
    if isinstance(diffusion, torch.Tensor):
        diffusion = diffusion.to(device=theta0.device, dtype=theta0.dtype)
    # diffusion times the std of the Brownian increment
    noise_scale = diffusion * math.sqrt(h)
    theta = theta0.clone()
    records = theta0.new_empty((n_steps // record_every + 1, *theta0.shape))
    records[0] = theta
    for n in range(1, n_steps + 1):
        step = drift(theta)
        # --- validation
        if step.shape != theta.shape:
            raise ValueError(
                f"drift returned shape {tuple(step.shape)} for a state of shape {tuple(theta.shape)}"
            )
        # --- end validation
        z = torch.randn(
            theta.shape, generator=generator, dtype=theta.dtype, device=theta.device
        )  # z_n ~ N(0, I)
        theta = theta + h * step + noise_scale * z  # eq. (4) of chapter 2
        if n % record_every == 0:
            records[n // record_every] = theta
    return records


def langevin_diffusion(lr: float, sigma2: float, batch_size: int) -> float:
    """The diffusion coefficient √(γσ²/B) of the Langevin equation (ch2-langevin) that matches SGD.

    One SGD step moves θ by −γ∇L plus a zero-mean error of covariance γ²σ²/B · I; one Euler–Maruyama
    step of size γ moves it by −γ∇L plus Gaussian noise of covariance γ · diffusion² · I. Equal second
    moments give diffusion² = γσ²/B.
    """
    return math.sqrt(
        check_positive("lr", lr)
        * check_positive("sigma2", sigma2)
        / check_count("batch_size", batch_size, 1)
    )


def sgd_temperature(lr: float, sigma2: float, batch_size: int) -> float:
    """The temperature T = γσ²/(2B) of SGD's stationary density exp(−L/T) (ch2-temperature).

    For dθ = −∇L dt + s dW the stationary density is ∝ exp(−2L/s²), so T = s²/2 with s² = γσ²/B.
    """
    return 0.5 * langevin_diffusion(lr, sigma2, batch_size) ** 2


def _grid(grid: torch.Tensor) -> torch.Tensor:
    if (
        not isinstance(grid, torch.Tensor)
        or grid.ndim != 1
        or grid.numel() < 2
        or not grid.is_floating_point()
    ):
        raise ValueError(
            "grid must be a 1-D floating-point tensor with at least 2 points"
        )
    if not torch.all(grid[1:] > grid[:-1]):
        raise ValueError("grid must be strictly increasing")
    return grid


def gibbs_density(
    potential: Callable[[torch.Tensor], torch.Tensor],
    grid: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """The Gibbs density p(θ) = exp(−L(θ)/T) / Z on a 1-D grid, normalised by the trapezoidal rule (chapter 2, eq. (8)).

    For SGD, T = γσ²/(2B) (see :func:`sgd_temperature`), so p ∝ exp(−2BL/(γσ²)). The potential is
    shifted by its minimum on the grid before exponentiating, so low temperatures do not underflow.
    The grid must cover the region where the density is not negligible.
    """
    grid = _grid(grid)
    temperature = check_positive("temperature", temperature)
    energy = potential(grid)
    unnormalised = torch.exp(-(energy - energy.min()) / temperature)
    return unnormalised / torch.trapezoid(unnormalised, grid)


def gibbs_bin_probabilities(
    potential: Callable[[torch.Tensor], torch.Tensor],
    edges: torch.Tensor,
    temperature: float,
    points_per_bin: int = 32,
) -> torch.Tensor:
    """The probability that the Gibbs density exp(−L/T)/Z puts in each bin [edges[k], edges[k+1]).

    Integrates the density over each bin with the trapezoidal rule on ``points_per_bin`` sub-intervals,
    so the result is comparable with :func:`histogram_probabilities` of samples. The probabilities are
    normalised over the bins, i.e. conditional on the range the edges cover.
    """
    edges = _grid(edges)
    points_per_bin = check_count("points_per_bin", points_per_bin, 1)
    fractions = (
        torch.arange(points_per_bin, dtype=edges.dtype, device=edges.device)
        / points_per_bin
    )
    # (bins, points_per_bin)
    starts = edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * fractions
    fine = torch.cat([starts.reshape(-1), edges[-1:]])
    density = gibbs_density(potential, fine, temperature)
    pieces = 0.5 * (density[1:] + density[:-1]) * (fine[1:] - fine[:-1])
    probs = pieces.reshape(len(edges) - 1, points_per_bin).sum(dim=1)
    return probs / probs.sum()


def histogram_probabilities(samples: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The fraction of ``samples`` (any shape, flattened) in each bin [edges[k], edges[k+1]).

    Samples outside [edges[0], edges[-1]] are dropped, so the fractions are conditional on the range,
    like :func:`gibbs_bin_probabilities`. Raises ValueError when no sample falls inside.
    """
    edges = _grid(edges)
    flat = samples.detach().reshape(-1).to(dtype=edges.dtype, device=edges.device)
    inside = flat[(flat >= edges[0]) & (flat <= edges[-1])]
    if inside.numel() == 0:
        raise ValueError("no sample falls inside the edges")
    index = torch.bucketize(inside, edges, right=True).clamp(1, len(edges) - 1) - 1
    counts = torch.bincount(index, minlength=len(edges) - 1).to(edges.dtype)
    return counts / counts.sum()


def total_variation(p: torch.Tensor, q: torch.Tensor, atol: float = 1e-6) -> float:
    """The total-variation distance ½ Σ_k |p_k − q_k| between two probability vectors over the same bins.

    It is the largest difference between the probabilities the two distributions give to any set of
    bins: 0 for equal distributions, 1 for disjoint ones. Raises ValueError unless both are
    non-negative, of equal shape, and sum to 1 within ``atol``.
    """
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
        )
    for name, v in (("p", p), ("q", q)):
        if torch.any(v < 0) or abs(float(v.sum()) - 1.0) > atol:
            raise ValueError(
                f"{name} must be non-negative and sum to 1, got sum {float(v.sum())!r}"
            )
    return 0.5 * float((p - q).abs().sum())


def ou_stationary_variance(
    lr: float, sigma2: float, batch_size: int, curvature: float
) -> float:
    """The stationary variance γσ²/(2Bλ) of the Langevin equation on a quadratic (ch2-ou-var).

    On L(θ) = λθ²/2 the SDE (ch2-langevin) is the Ornstein–Uhlenbeck process dθ = −λθ dt + s dW with
    s² = γσ²/B, whose stationary law is N(0, s²/(2λ)) — the Gibbs density exp(−λθ²/(2T)) with
    T = s²/2. This is the continuous-time prediction for SGD; the exact value for the discrete SGD
    recursion is :func:`sgd_quadratic_stationary_variance`.
    """
    return sgd_temperature(lr, sigma2, batch_size) / check_positive(
        "curvature", curvature
    )


def sgd_quadratic_stationary_variance(
    lr: float, sigma2: float, batch_size: int, curvature: float
) -> float:
    """The exact stationary variance γσ²/(Bλ(2 − γλ)) of SGD on a quadratic of curvature λ (chapter 2, eq. (14)).

    SGD with an unbiased gradient error ξ_n of variance σ²/B, independent across steps, on
    L(θ) = λθ²/2 is the linear recursion θ_{n+1} = (1 − γλ) θ_n − γ ξ_n. Its variance obeys
    v_{n+1} = (1 − γλ)² v_n + γ²σ²/B, whose fixed point is γ²σ²/(B(1 − (1 − γλ)²)) = γσ²/(Bλ(2 − γλ)).
    It exists iff 0 < γλ < 2 (else ValueError). It equals :func:`ou_stationary_variance` times
    2/(2 − γλ) = 1 + γλ/2 + O((γλ)²): the SDE misses an O(γλ) part. The error's distribution does
    not matter, only its variance — it holds for genuine minibatch noise too.
    """
    lr, curvature = check_positive("lr", lr), check_positive("curvature", curvature)
    if lr * curvature >= 2:
        raise ValueError(
            "SGD on a quadratic has a stationary law only if lr * curvature < 2, "
            f"got {lr * curvature!r}"
        )
    return (
        lr
        * check_positive("sigma2", sigma2)
        / (check_count("batch_size", batch_size, 1) * curvature * (2 - lr * curvature))
    )


def em_stationary_probabilities(
    drift: Callable[[torch.Tensor], torch.Tensor],
    edges: torch.Tensor,
    h: float,
    diffusion: float,
) -> torch.Tensor:
    r"""The stationary law of the 1-D Euler--Maruyama *chain* (not of the SDE), on the bins of ``edges``.

    One step of (ch2-em) moves θ to a Gaussian with mean θ + h·drift(θ) and standard deviation
    diffusion·√h. Lumping θ to its bin centre, the probability of landing in bin j is a difference of
    two normal CDFs, which gives a transition matrix P; the stationary vector π = πP (solved as a
    linear system) is the law that a long simulation with this h samples. Its distance from the Gibbs
    law of the SDE is the O(h) discretisation bias, free of Monte-Carlo error and of equilibration
    time. The edges must cover the region where the chain lives; mass stepping outside is returned
    to the row (rows are renormalised). The bins must be fine next to diffusion·√h.
    """
    # --- validation
    edges = _grid(edges)
    h = check_positive("h", h)
    diffusion = check_positive("diffusion", diffusion)
    # --- end validation
    centres = 0.5 * (edges[1:] + edges[:-1])
    mean = centres + h * drift(centres)  # (bins,)
    std = diffusion * math.sqrt(h)
    # (bins, bins + 1)
    cdf = torch.special.ndtr((edges[None, :] - mean[:, None]) / std)
    # P[i, j] = P(bin i -> bin j)
    P = cdf[:, 1:] - cdf[:, :-1]
    P = P / P.sum(dim=1, keepdim=True)
    n = len(centres)
    # (P^T - I) pi = 0 ...
    A = P.T - torch.eye(n, dtype=P.dtype, device=P.device)
    # ... with sum(pi) = 1
    A[-1] = 1.0
    rhs = torch.zeros(n, dtype=P.dtype, device=P.device)
    rhs[-1] = 1.0
    pi = torch.linalg.solve(A, rhs).clamp_min(0)
    return pi / pi.sum()
