"""course_lib.dynamics.quadratic_rates against direct simulation of the look-ahead family and closed forms."""

import math

import pytest
import torch

from course_lib.dynamics.quadratic_rates import (
    convergence_rate,
    iteration_matrix,
    nesterov_parameters,
    polyak_parameters,
    spectral_radius,
    stability_limit,
    stable_interval,
)

pytestmark = pytest.mark.usefixtures("float64_default", "one_torch_thread")


def simulate(lr, mu, lam, a, n, e0=1.0):
    """The look-ahead method run literally on L = lam e^2 / 2 (independent of the recursion)."""
    e, v, out = torch.as_tensor(e0, dtype=torch.float64), torch.tensor(0.0), []
    for _ in range(n):
        v = mu * v - lr * lam * (e + a * mu * v)
        e = e + v
        out.append(e)
    return torch.stack(out)


@pytest.mark.parametrize("a", [0.0, 0.5, 1.0])
def test_iteration_matrix_reproduces_the_simulated_errors(a):
    lr, mu, lam = 0.3, 0.7, 2.0
    errs = simulate(lr, mu, lam, a, 12)
    M = iteration_matrix(lr, mu, lam, a)
    state = torch.stack([errs[0], torch.tensor(1.0)])  # (e_1, e_0)
    for t in range(1, 11):
        state = M @ state
        torch.testing.assert_close(state[0], errs[t], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("a", [0.0, 0.5, 1.0])
def test_spectral_radius_equals_eigenvalues_of_iteration_matrix(a):
    lr = torch.linspace(0.01, 1.5, 7)[:, None]
    mu = torch.linspace(0.0, 0.95, 5)
    rho = spectral_radius(lr, mu, 2.0, a)
    eig = torch.linalg.eigvals(iteration_matrix(lr, mu, 2.0, a)).abs().amax(-1)
    torch.testing.assert_close(rho, eig, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("a", [0.0, 0.5, 1.0])
def test_measured_rate_matches_spectral_radius(a):
    for lr, mu in ((0.2, 0.5), (0.05, 0.9), (0.4, 0.1)):
        errs = simulate(lr, mu, 1.0, a, 400).abs()
        # envelope: the largest error in consecutive windows (complex roots make |e_t| oscillate)
        measured = (errs[300:400].max() / errs[200:300].max()) ** (1 / 100)
        rho = spectral_radius(lr, mu, 1.0, a).item()
        assert abs(measured.item() - rho) < 1e-2 * rho  # window maxima sample the envelope to ~1 %


def test_heavy_ball_rate_is_sqrt_momentum_in_the_complex_region():
    mu = 0.81
    x = torch.linspace(0.2, 3.0, 20)  # (1 - sqrt mu)^2 = 0.01 < x < (1 + sqrt mu)^2 = 3.61
    torch.testing.assert_close(spectral_radius(x, mu, 1.0), torch.full_like(x, 0.9))


def test_stability_limits_closed_forms():
    mu = torch.linspace(0.0, 0.99, 11)
    torch.testing.assert_close(stability_limit(mu, 0.0), 2 * (1 + mu))
    torch.testing.assert_close(stability_limit(mu, 1.0), 2 * (1 + mu) / (1 + 2 * mu))
    torch.testing.assert_close(stability_limit(mu, 0.5), 2 * (1 + mu) / (1 + mu))
    assert stability_limit(1.0, 0.0).item() == 0.0  # heavy ball without friction: never stable


@pytest.mark.parametrize("a", [0.0, 0.5, 1.0, -0.5])
def test_stable_interval_agrees_with_the_spectral_radius(a):
    for mu in (0.0, 0.3, 0.9, 1.2):
        lo, hi = stable_interval(mu, a)
        x = torch.linspace(1e-3, 6.0, 3000)
        stable = spectral_radius(x, mu, 1.0, a) < 1
        inside = (x > lo) & (x < hi)
        near = ((x - lo).abs() < 5e-3) | ((x - hi).abs() < 5e-3)
        assert bool(((stable == inside) | near).all()), (mu, a, lo, hi)


def test_nesterov_with_momentum_above_one_has_a_lower_end():
    lo, hi = stable_interval(1.2, 1.0)
    assert abs(lo.item() - 0.2 / 1.2) < 1e-12 and abs(hi.item() - 4.4 / 3.4) < 1e-12


def test_polyak_parameters_give_the_optimal_rate():
    lr, mu, rate = polyak_parameters(1.0, 100.0)
    assert abs(rate - 9 / 11) < 1e-15 and abs(mu - (9 / 11) ** 2) < 1e-15 and abs(lr - 4 / 121) < 1e-15
    lam = torch.linspace(1.0, 100.0, 200)
    torch.testing.assert_close(convergence_rate(lr, mu, lam), torch.tensor(9 / 11))
    # perturbing either parameter makes the worst rate worse
    for dl, dm in ((1.02, 1.0), (0.98, 1.0), (1.0, 1.01), (1.0, 0.99)):
        assert convergence_rate(lr * dl, mu * dm, lam) > 9 / 11 + 1e-4


def test_nesterov_parameters_rate_at_the_smallest_eigenvalue():
    lr, mu, rate = nesterov_parameters(1.0, 100.0)
    assert (lr, mu, rate) == (0.01, 9 / 11, 0.9)
    lam = torch.linspace(1.0, 100.0, 500)
    torch.testing.assert_close(convergence_rate(lr, mu, lam, 1.0), torch.tensor(0.9))


def test_convergence_rate_broadcasts_over_a_grid():
    lr = torch.linspace(0.01, 0.05, 4)[:, None]
    mu = torch.linspace(0.0, 0.9, 3)[None, :]
    rates = convergence_rate(lr, mu, torch.tensor([1.0, 10.0, 100.0]))
    assert rates.shape == (4, 3)
    torch.testing.assert_close(rates[2, 1], spectral_radius(lr[2, 0], mu[0, 1], torch.tensor([1.0, 10.0, 100.0])).max())


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        polyak_parameters(2.0, 1.0)
    with pytest.raises(ValueError):
        spectral_radius(float("nan"), 0.5, 1.0)
    assert math.isfinite(stability_limit(0.5).item())
