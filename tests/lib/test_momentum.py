"""course_lib.dynamics.momentum against closed forms, an RK4 reference and torch.optim.SGD."""

import math

import pytest
import torch

from course_lib.dynamics.momentum import (
    buffer_under_constant_gradient,
    damped_flow,
    damped_oscillator,
    friction_and_step,
    heavy_ball,
    leapfrog_coefficients,
    quadratic_damped_flow,
    raised_momentum,
)
from course_lib.dynamics.ode import rk4
from course_lib.landscapes import Quadratic, TiltedDoubleWell
from course_lib.plotting import loglog_slope

pytestmark = pytest.mark.usefixtures("float64_default", "one_torch_thread")


@pytest.mark.parametrize("zeta", [0.5, 2.0, 5.0])  # under-, critically and over-damped at lambda = 1
def test_damped_oscillator_matches_rk4_in_every_regime(zeta):
    lam = torch.tensor([1.0])
    state0 = torch.tensor([1.5, -0.3])
    ref = rk4(damped_flow(lambda th: lam * th, zeta), state0, 1e-3, 3000)[-1]
    theta, eta = damped_oscillator(1.0, zeta, 1.5, -0.3, 3.0)
    torch.testing.assert_close(torch.stack([theta, eta]), ref, rtol=0, atol=1e-10)


def test_damped_oscillator_is_continuous_across_critical_damping():
    zetas = torch.tensor([2.0 - 1e-7, 2.0, 2.0 + 1e-7])
    theta, eta = damped_oscillator(1.0, zetas, 1.0, 0.0, 2.0)
    assert (theta - theta[1]).abs().max() < 1e-6 and (eta - eta[1]).abs().max() < 1e-6
    torch.testing.assert_close(theta[1], torch.tensor((1 + 2.0) * math.exp(-2.0)))  # (1 + t) e^{-t}


def test_damped_oscillator_broadcasts_over_curvature_friction_and_time():
    theta, eta = damped_oscillator(torch.tensor([[0.5], [2.0]]), torch.tensor([0.1, 1.0, 4.0]), 1.0, 0.0,
                                   torch.tensor(1.0))
    assert theta.shape == eta.shape == (2, 3)


def test_quadratic_damped_flow_equals_per_eigenvalue_solution():
    q = Quadratic.from_eigenvalues([0.3, 2.0], rotation_seed=1, minimizer=[1.0, -1.0])
    theta0 = torch.tensor([[2.0, 0.5], [0.0, 0.0]])
    path = quadratic_damped_flow(q, theta0, None, 0.7, torch.tensor([0.0, 1.0, 4.0]))
    assert path.shape == (3, 2, 2)
    torch.testing.assert_close(path[0], theta0)
    state0 = torch.cat([theta0, torch.zeros_like(theta0)], -1)
    ref = rk4(damped_flow(q.grad, 0.7), state0, 1e-3, 4000)[-1, :, :2]
    torch.testing.assert_close(path[-1], ref, rtol=0, atol=1e-10)


def test_heavy_ball_equals_torch_sgd_momentum_for_constant_lr():
    q = Quadratic.from_eigenvalues([0.1, 1.0, 3.0], rotation_seed=3)
    theta0 = torch.tensor([1.0, -2.0, 0.5])
    path = heavy_ball(q.grad, theta0, 0.2, 0.9, 25)
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.SGD([p], lr=0.2, momentum=0.9)
    for t in range(25):
        opt.zero_grad()
        q.loss(p).backward()
        opt.step()
        torch.testing.assert_close(p.detach(), path[t + 1], rtol=1e-12, atol=1e-12)


def test_heavy_ball_runs_a_grid_of_lr_and_momentum_at_once():
    well = TiltedDoubleWell()
    lrs = torch.tensor([0.01, 0.1])[:, None, None, None]
    mus = torch.tensor([0.0, 0.5, 0.9])[None, :, None, None]
    theta0 = torch.full((2, 3, 4, 1), 2.0)
    path, vel = heavy_ball(well.grad, theta0, lrs, mus, 10, record_every=5, return_velocity=True)
    assert path.shape == vel.shape == (3, 2, 3, 4, 1)
    one = heavy_ball(well.grad, torch.full((1,), 2.0), 0.1, 0.5, 10)
    torch.testing.assert_close(path[-1, 1, 1, 0], one[-1])


def test_heavy_ball_rejects_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        heavy_ball(lambda x: x, torch.zeros(1), 0.1, -0.5, 3)
    with pytest.raises(ValueError, match="multiple"):
        heavy_ball(lambda x: x, torch.zeros(1), 0.1, 0.5, 3, record_every=2)
    with pytest.raises(ValueError, match="floating-point"):
        heavy_ball(lambda x: x, torch.zeros(1, dtype=torch.int64), 0.1, 0.5, 3)


def _global_error_slope(symmetric: bool, half_step_start: bool) -> float:
    lam, zeta, T = torch.tensor([1.0, 4.0, 0.3]), 1.0, 4.0
    theta0 = torch.ones(3)
    exact, _ = damped_oscillator(lam, zeta, theta0, 0.0, T)
    hs, errors = [], []
    for n in (40, 80, 160, 320):
        h = T / n
        lr, mu = leapfrog_coefficients(zeta, h, symmetric)
        v0 = (h * h / 2) * lam * theta0 if half_step_start else None
        errors.append((heavy_ball(lambda th: lam * th, theta0, lr, mu, n, v0=v0)[-1] - exact).abs().max())
        hs.append(h)
    return loglog_slope(hs, torch.stack(errors))


def test_momentum_is_second_order_only_with_symmetric_friction_and_half_step_start():
    assert abs(_global_error_slope(True, True) - 2) < 0.1
    for symmetric, half in ((False, False), (False, True), (True, False)):
        assert abs(_global_error_slope(symmetric, half) - 1) < 0.15


def test_friction_and_step_inverts_leapfrog_coefficients():
    for symmetric in (False, True):
        lr, mu = leapfrog_coefficients(1.3, 0.05, symmetric)
        zeta, h = friction_and_step(lr, mu, symmetric)
        assert abs(zeta - 1.3) < 1e-12 and abs(h - 0.05) < 1e-12
    with pytest.raises(ValueError):
        leapfrog_coefficients(-1.0, 0.1)


def test_raised_momentum_keeps_the_explicit_friction():
    zeta, _ = friction_and_step(0.01, 0.9)
    mu2 = raised_momentum(0.9, 0.1)
    zeta2, _ = friction_and_step(0.001, mu2)
    assert abs(zeta2 - zeta) < 1e-12
    assert abs(mu2 - (1 - 0.1 * math.sqrt(0.1))) < 1e-15


def test_buffer_under_constant_gradient_matches_torch_and_its_limits():
    for tau in (0.0, 0.9):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=tau)
        for n in range(1, 60):
            p.grad = torch.full((1,), 2.0)
            opt.step()
            buf = opt.state[p]["momentum_buffer"] / 2.0
            assert abs(buf.item() - buffer_under_constant_gradient(0.9, n, tau).item()) < 1e-12
    assert abs(buffer_under_constant_gradient(0.9, 10_000).item() - 10) < 1e-9
    assert abs(buffer_under_constant_gradient(0.9, 10_000, 0.9).item() - 1) < 1e-9
