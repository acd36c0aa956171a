"""Tests for course_lib.dynamics.sde: the Euler–Maruyama integrator and the stationary laws of chapter 2."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.dynamics.sde import (
    euler_maruyama,
    gibbs_bin_probabilities,
    gibbs_density,
    histogram_probabilities,
    langevin_diffusion,
    ou_stationary_variance,
    sgd_quadratic_stationary_variance,
    sgd_temperature,
    total_variation,
)


def test_euler_maruyama_reproduces_the_exact_ou_mean_and_variance() -> None:
    # dθ = −λθ dt + s dW from θ0: mean θ0 e^{−λt}, variance s²(1 − e^{−2λt})/(2λ). With h = 1e-3 the
    # EM bias is O(hλ) ≈ 1e-3, far below the Monte-Carlo tolerance (4 standard errors).
    lam, s, h, n, chains, theta0 = 2.0, 0.7, 1e-3, 500, 20000, 1.5
    gen = torch.Generator().manual_seed(0)
    path = euler_maruyama(lambda th: -lam * th, torch.full((chains,), theta0, dtype=torch.float64), h, n, s, gen,
                          record_every=100)
    t = n * h
    mean, var = theta0 * math.exp(-lam * t), s**2 * (1 - math.exp(-2 * lam * t)) / (2 * lam)
    final = path[-1]
    assert path.shape == (6, chains)
    assert abs(float(final.mean()) - mean) < 4 * math.sqrt(var / chains)
    assert abs(float(final.var()) / var - 1) < 4 * math.sqrt(2 / chains)


def test_euler_maruyama_step_of_size_lr_is_sgd_with_gaussian_gradient_noise() -> None:
    # One EM step of size γ with diffusion sqrt(γσ²/B) equals θ − γ(∇L + ξ), ξ ~ N(0, σ²/B), same draws.
    lr, sigma2, batch = 0.05, 3.0, 4

    def grad(th: torch.Tensor) -> torch.Tensor:
        return th**3 - th

    theta0 = torch.linspace(-2, 2, 7, dtype=torch.float64).reshape(7, 1)
    em = euler_maruyama(lambda th: -grad(th), theta0, lr, 10, langevin_diffusion(lr, sigma2, batch),
                        torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    theta = theta0.clone()
    for n in range(10):
        xi = -math.sqrt(sigma2 / batch) * torch.randn(theta.shape, generator=gen, dtype=theta.dtype)  # z and -z: same law
        theta = theta - lr * (grad(theta) + xi)
        torch.testing.assert_close(em[n + 1], theta, rtol=1e-12, atol=1e-12)


def test_euler_maruyama_without_noise_is_euler() -> None:
    path = euler_maruyama(lambda th: -th, torch.tensor([1.0], dtype=torch.float64), 0.1, 3, 0.0)
    torch.testing.assert_close(path[:, 0], torch.tensor([1.0, 0.9, 0.81, 0.729], dtype=torch.float64))


def test_euler_maruyama_runs_several_temperatures_at_once() -> None:
    diff = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    path = euler_maruyama(lambda th: -th, torch.ones(2, 5, dtype=torch.float64), 0.1, 4, diff,
                          torch.Generator().manual_seed(0))
    assert path.shape == (5, 2, 5)
    torch.testing.assert_close(path[-1, 0], torch.full((5,), 0.9**4, dtype=torch.float64))
    assert float(path[-1, 1].std()) > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"h": 0.0}, {"h": -1.0}, {"h": float("nan")}, {"n_steps": -1}, {"n_steps": 2.5},
        {"record_every": 0}, {"diffusion": -0.1}, {"diffusion": float("inf")},
        {"diffusion": torch.ones(3)}, {"diffusion": torch.ones(2, 4, 1)}, {"theta0": torch.ones(4, dtype=torch.int64)},
    ],
)
def test_euler_maruyama_rejects_bad_inputs(kwargs: dict) -> None:
    args = {"drift": lambda th: -th, "theta0": torch.ones(4), "h": 0.1, "n_steps": 3, "diffusion": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError):
        euler_maruyama(**args)


def test_euler_maruyama_rejects_a_drift_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="drift returned shape"):
        euler_maruyama(lambda th: th.sum(), torch.ones(4), 0.1, 2, 0.5)


def test_temperature_is_half_the_squared_diffusion() -> None:
    assert langevin_diffusion(0.1, 2.0, 4) == pytest.approx(math.sqrt(0.05))
    assert sgd_temperature(0.1, 2.0, 4) == pytest.approx(0.025)
    # doubling γ and B leaves the temperature unchanged (it depends on γ/B)
    assert sgd_temperature(0.2, 2.0, 8) == pytest.approx(sgd_temperature(0.1, 2.0, 4))


def test_gibbs_density_normalises_and_matches_a_gaussian_for_a_quadratic() -> None:
    grid = torch.linspace(-6, 6, 4001, dtype=torch.float64)
    T, lam = 0.3, 2.0
    p = gibbs_density(lambda x: 0.5 * lam * x**2, grid, T)
    assert float(torch.trapezoid(p, grid)) == pytest.approx(1.0, abs=1e-12)
    gauss = torch.exp(-lam * grid**2 / (2 * T)) / math.sqrt(2 * math.pi * T / lam)
    torch.testing.assert_close(p, gauss, rtol=1e-6, atol=1e-9)


def test_gibbs_density_does_not_underflow_at_low_temperature() -> None:
    grid = torch.linspace(9, 11, 2001, dtype=torch.float64)
    p = gibbs_density(lambda x: 1e3 + (x - 10) ** 2, grid, 1e-3)
    assert torch.isfinite(p).all() and float(torch.trapezoid(p, grid)) == pytest.approx(1.0, abs=1e-9)


def test_gibbs_bin_probabilities_sum_to_one_and_match_the_density() -> None:
    edges = torch.linspace(-3, 3, 31, dtype=torch.float64)
    probs = gibbs_bin_probabilities(lambda x: 0.5 * x**2, edges, 1.0)
    assert float(probs.sum()) == pytest.approx(1.0)
    # bin 15 is [0, 0.2): its N(0, 1) probability, conditional on [−3, 3]
    inside = math.erf(3 / math.sqrt(2))
    assert float(probs[15]) == pytest.approx(0.5 * math.erf(0.2 / math.sqrt(2)) / inside, rel=1e-4)


def test_histogram_of_gaussian_samples_is_close_to_the_gibbs_bins() -> None:
    edges = torch.linspace(-3, 3, 31, dtype=torch.float64)
    samples = torch.randn(200000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    tv = total_variation(histogram_probabilities(samples, edges), gibbs_bin_probabilities(lambda x: 0.5 * x**2,
                                                                                           edges, 1.0))
    assert tv < 0.01


def test_total_variation_properties_and_validation() -> None:
    p = torch.tensor([0.5, 0.5, 0.0])
    assert total_variation(p, p) == 0.0
    assert total_variation(p, torch.tensor([0.0, 0.0, 1.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        total_variation(p, torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError):
        total_variation(p, torch.tensor([0.6, 0.6, 0.0]))
    with pytest.raises(ValueError):
        histogram_probabilities(torch.tensor([10.0]), torch.linspace(0, 1, 5))
    with pytest.raises(ValueError):
        gibbs_density(lambda x: x, torch.tensor([0.0, 1.0]), 0.0)
    with pytest.raises(ValueError):
        gibbs_density(lambda x: x, torch.tensor([1.0, 0.0]), 1.0)


def test_stationary_variances_formulas_and_their_ratio() -> None:
    lr, sigma2, batch, lam = 0.1, 2.0, 4, 3.0
    assert ou_stationary_variance(lr, sigma2, batch, lam) == pytest.approx(lr * sigma2 / (2 * batch * lam))
    exact = sgd_quadratic_stationary_variance(lr, sigma2, batch, lam)
    assert exact == pytest.approx(lr**2 * sigma2 / batch / (1 - (1 - lr * lam) ** 2))
    assert exact / ou_stationary_variance(lr, sigma2, batch, lam) == pytest.approx(2 / (2 - lr * lam))
    with pytest.raises(ValueError):
        sgd_quadratic_stationary_variance(1.0, sigma2, batch, 2.0)
    with pytest.raises(ValueError):
        ou_stationary_variance(lr, sigma2, 0, lam)


def test_sgd_with_gaussian_noise_on_a_quadratic_has_the_discrete_stationary_variance() -> None:
    # γλ = 0.5: the SDE predicts 0.8 of the true value; the discrete formula is exact (within MC error).
    lr, sigma2, batch, lam, chains = 0.25, 1.0, 2, 2.0, 20000
    path = euler_maruyama(lambda th: -lam * th, torch.zeros(chains, dtype=torch.float64), lr, 200,
                          langevin_diffusion(lr, sigma2, batch), torch.Generator().manual_seed(1), record_every=10)
    var = float(path[10:].var())  # 10 records x 20000 chains, spaced 10 steps (correlation 0.5^10)
    assert var == pytest.approx(sgd_quadratic_stationary_variance(lr, sigma2, batch, lam), rel=0.02)
    assert var / ou_stationary_variance(lr, sigma2, batch, lam) == pytest.approx(2 / (2 - lr * lam), rel=0.02)


def test_em_chain_stationary_law_has_the_discrete_sgd_variance_not_the_sde_variance():
    import math

    from course_lib.dynamics.sde import em_stationary_probabilities, sgd_quadratic_stationary_variance

    lam, lr, sigma2, batch = 2.0, 0.2, 4.0, 4
    s = math.sqrt(lr * sigma2 / batch)                              # langevin diffusion
    edges = torch.linspace(-4, 4, 1601, dtype=torch.float64)
    pi = em_stationary_probabilities(lambda th: -lam * th, edges, lr, s)
    centres = 0.5 * (edges[1:] + edges[:-1])
    var = (pi * centres**2).sum().item()
    exact = sgd_quadratic_stationary_variance(lr, sigma2, batch, lam)   # 2/(2 - 0.4) x SDE's
    assert abs(var / exact - 1) < 1e-3


def test_em_stationary_probabilities_rejects_a_bad_step():
    import pytest

    from course_lib.dynamics.sde import em_stationary_probabilities

    with pytest.raises(ValueError, match="h"):
        em_stationary_probabilities(lambda th: -th, torch.linspace(-1, 1, 11, dtype=torch.float64),
                                    0.0, 1.0)
