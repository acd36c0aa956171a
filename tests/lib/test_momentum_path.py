"""course_lib.dynamics.momentum: the batched look-ahead family against SutskeverSGD, closed forms and simulation."""

import math

import pytest
import torch

from course_lib.dynamics.momentum import (
    leapfrog_coefficients,
    momentum_path,
    nesterov_convex_momentum,
    stationary_covariance,
    sutskever_schedule,
)
from course_lib.landscapes import Quadratic
from course_lib.optim import SutskeverSGD

pytestmark = pytest.mark.usefixtures("float64_default", "one_torch_thread")


@pytest.mark.parametrize("a", [0.0, 0.5, 1.0])
def test_momentum_path_equals_sutskever_sgd_step_for_step(a):
    q = Quadratic.ravine(0.1, 2.0, angle=0.3)
    theta0 = torch.tensor([-3.0, 1.0])
    theta = torch.nn.Parameter(theta0.clone())
    opt = SutskeverSGD([theta], lr=0.3, momentum=0.8, lookahead=a)

    def closure():
        opt.zero_grad()
        loss = q.loss(theta)
        loss.backward()
        return loss

    path = momentum_path(q.grad, theta0, 0.3, 0.8, 25, lookahead=a)
    for t in range(1, 26):
        opt.step(closure)
        torch.testing.assert_close(theta.detach(), path[t], rtol=0, atol=1e-13)


def test_batched_hyperparameters_equal_separate_runs():
    grad = lambda x: torch.tensor([0.5, 3.0]) * x
    starts = torch.tensor([[1.0, -1.0], [2.0, 0.5], [0.3, 0.3]])
    lrs, mus, looks = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.9, 0.5, 0.0]), torch.tensor([1.0, 0.5, 0.0])
    batched = momentum_path(grad, starts, lrs, mus, 30, lookahead=looks)
    for i in range(3):
        alone = momentum_path(grad, starts[i], lrs[i].item(), mus[i].item(), 30, lookahead=looks[i].item())
        torch.testing.assert_close(batched[:, i], alone, rtol=0, atol=1e-15)


def test_nesterov_on_a_quadratic_is_heavy_ball_with_momentum_mu_times_one_minus_gamma_lambda():
    lams = torch.tensor([0.1, 1.0, 2.5])
    grad = lambda x: lams[:, None] * x
    start = torch.ones(3, 1)
    nag = momentum_path(grad, start, 0.4, 0.9, 50, lookahead=1.0)
    hb = momentum_path(grad, start, 0.4, 0.9 * (1 - 0.4 * lams), 50)
    torch.testing.assert_close(nag, hb, rtol=0, atol=1e-13)
    assert (nag - momentum_path(grad, start, 0.4, 0.9, 50)).abs().max() > 0.1  # plain heavy ball differs


def test_momentum_schedule_replaces_momentum_and_may_be_batched():
    grad = lambda x: x
    start = torch.ones(2, 1)
    sched = momentum_path(grad, start, 0.1, 0.0, 10, momentum_schedule=lambda t: torch.tensor([0.5, 0.9]))
    const = momentum_path(grad, start, 0.1, torch.tensor([0.5, 0.9]), 10)
    torch.testing.assert_close(sched, const, rtol=0, atol=0)


def test_momentum_path_rejects_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        momentum_path(lambda x: x, torch.ones(2), 0.1, 0.9, -1)
    with pytest.raises(ValueError, match="theta0"):
        momentum_path(lambda x: x, torch.tensor(1.0), 0.1, 0.9, 3)
    with pytest.raises(ValueError, match="velocity0"):
        momentum_path(lambda x: x, torch.ones(2), 0.1, 0.9, 3, velocity0=torch.ones(3))
    with pytest.raises(ValueError, match="lr"):
        momentum_path(lambda x: x, torch.ones(2), float("nan"), 0.9, 3)


def test_leapfrog_recipe_is_centred_and_euler_recipe_is_one_sided():
    h, zeta = 0.1, 2.0
    lr, mu = leapfrog_coefficients(zeta, h, symmetric=True)
    assert math.isclose(lr, h * h / (1 + zeta * h / 2)) and math.isclose(mu, (1 - 0.1) / (1 + 0.1))
    assert leapfrog_coefficients(zeta, h) == pytest.approx((h * h, 1 - zeta * h))
    with pytest.raises(ValueError, match="friction \\* h"):
        leapfrog_coefficients(2.0, 1.0)
    with pytest.raises(ValueError, match="h > 0"):
        leapfrog_coefficients(1.0, 0.0, symmetric=True)


def test_the_one_leapfrog_map_takes_friction_then_step():
    """(friction, h) = (0.1, 2.0): the issue's example, where the two old functions disagreed."""
    assert leapfrog_coefficients(0.1, 2.0, symmetric=True) == pytest.approx((4 / 1.1, 0.9 / 1.1))
    assert leapfrog_coefficients(2.0, 0.1, symmetric=True) == pytest.approx((0.01 / 1.1, 0.9 / 1.1))


def test_heavy_ball_is_the_look_ahead_family_at_a_zero():
    from course_lib.dynamics.momentum import heavy_ball

    grad = Quadratic.ravine(0.1, 2.0, angle=0.3).grad
    starts = torch.randn(5, 2, generator=torch.Generator().manual_seed(3))
    lrs, mus = torch.tensor([0.01, 0.02, 0.03, 0.04, 0.05]), torch.tensor([0.5, 0.6, 0.7, 0.8, 0.9])
    path = momentum_path(grad, starts, lrs, mus, 40)
    assert torch.equal(path, heavy_ball(grad, starts, lrs[:, None], mus[:, None], 40))


def test_heavy_ball_with_leapfrog_recipe_is_second_order_and_nesterov_first_order():
    # theta'' + zeta theta' + theta = 0, theta(0) = 1, theta'(0) = 0: exact solution in closed form
    zeta, T = 1.0, 3.0
    w = math.sqrt(1 - zeta**2 / 4)
    exact = math.exp(-zeta * T / 2) * (math.cos(w * T) + zeta / (2 * w) * math.sin(w * T))
    errors = {0.0: [], 1.0: []}
    ns = [100, 200, 400]
    for n in ns:
        h = T / n
        lr, mu = leapfrog_coefficients(zeta, h, symmetric=True)
        for a, errs in errors.items():
            path = momentum_path(lambda x: x, torch.ones(1), lr, mu, n, lookahead=a,
                                 velocity0=torch.full((1,), h * h / 2))
            errs.append(abs(path[-1].item() - exact))
    order = {a: math.log2(e[0] / e[1]) for a, e in errors.items()}
    assert abs(order[0.0] - 2) < 0.1 and abs(order[1.0] - 1) < 0.15


def test_sutskever_schedule_values_and_cap():
    assert sutskever_schedule(0, 0.999) == 0.5
    assert sutskever_schedule(249, 0.999) == 0.5
    assert sutskever_schedule(250, 0.999) == 0.75
    assert math.isclose(sutskever_schedule(500, 0.999), 1 - 1 / 6)
    assert sutskever_schedule(10**7, 0.95) == 0.95
    t = torch.tensor([0, 250, 500, 10**7])
    torch.testing.assert_close(sutskever_schedule(t, 0.95),
                               torch.tensor([0.5, 0.75, 1 - 1 / 6, 0.95], dtype=torch.float64))
    with pytest.raises(ValueError, match="mu_max"):
        sutskever_schedule(0, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        sutskever_schedule(-1, 0.9)


def test_nesterov_convex_momentum():
    assert nesterov_convex_momentum(1) == 0.0 and nesterov_convex_momentum(2) == 0.25
    with pytest.raises(ValueError):
        nesterov_convex_momentum(0)


def test_stationary_covariance_matches_heavy_ball_closed_form_and_sgd():
    lr, mu, lam, s2 = 0.1, 0.9, 1.0, 2.0
    c = stationary_covariance(lr, mu, lam, s2)[0, 0].item()
    closed = lr * s2 * (1 + mu) / (lam * (1 - mu) * (2 * (1 + mu) - lr * lam))  # heavy ball
    assert math.isclose(c, closed, rel_tol=1e-12)
    sgd = stationary_covariance(torch.tensor([0.1, 1.5]), 0.0, 1.0, 1.0)[:, 0, 0]
    torch.testing.assert_close(sgd, torch.tensor([0.01 / (1 - 0.81), 2.25 / (1 - 0.25)]))


def test_stationary_covariance_matches_simulation_for_nesterov():
    lr, mu, lam, s2 = 0.2, 0.8, 1.0, 1.0
    c = stationary_covariance(lr, mu, lam, s2, lookahead=1.0)[0, 0].item()
    gen = torch.Generator().manual_seed(0)
    x, v, acc = torch.zeros(20000), torch.zeros(20000), 0.0
    for t in range(300):
        v = mu * v - lr * (lam * (x + mu * v) + s2**0.5 * torch.randn(20000, generator=gen))
        x = x + v
        if t >= 200:
            acc += (x**2).mean().item() / 100
    assert abs(acc / c - 1) < 0.03


def test_stationary_covariance_refuses_unstable_iterations():
    with pytest.raises(ValueError, match="not stable"):
        stationary_covariance(1.5, 0.9, 1.0, 1.0, lookahead=1.0)  # beyond 2(1+mu)/(1+2mu)
    with pytest.raises(ValueError, match="noise_var"):
        stationary_covariance(0.1, 0.9, 1.0, -1.0)
