"""The integrators of course_lib.dynamics.ode against closed forms and independent references."""

import math

import pytest
import torch

from course_lib.dynamics.ode import euler, gradient_descent, quadratic_flow, rk4
from course_lib.landscapes import Quadratic, TwoBasins
from course_lib.plotting import loglog_slope

pytestmark = pytest.mark.usefixtures("float64_default")


@pytest.fixture
def quadratic():
    return Quadratic.from_eigenvalues([0.2, 1.0, 3.0], rotation_seed=7, minimizer=[0.5, -1.0, 2.0])


def test_euler_on_exponential_decay_is_the_geometric_sequence():
    y = euler(lambda y: -2.0 * y, torch.tensor([1.0, 3.0]), 0.1, 10)
    assert y.shape == (11, 2)
    expected = torch.tensor([1.0, 3.0]) * (1 - 0.2) ** torch.arange(11.0)[:, None]
    torch.testing.assert_close(y, expected)


def test_gradient_descent_equals_closed_form_step_by_step(quadratic):
    theta0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    lr = 0.55
    path = gradient_descent(quadratic.grad, theta0, lr, 30)
    assert path.shape == (31, 4, 3)
    I = torch.eye(3)
    for n in (0, 1, 7, 30):
        closed = quadratic.minimizer + (theta0 - quadratic.minimizer) @ torch.linalg.matrix_power(
            I - lr * quadratic.hessian, n
        ).T
        torch.testing.assert_close(path[n], closed, rtol=1e-12, atol=1e-12)


def test_gradient_descent_is_euler_on_minus_gradient(quadratic):
    theta0 = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(
        gradient_descent(quadratic.grad, theta0, 0.3, 12), euler(lambda th: -quadratic.grad(th), theta0, 0.3, 12)
    )


def test_many_learning_rates_at_once_match_separate_runs(quadratic):
    lrs = torch.tensor([0.1, 0.4, 0.7])[:, None]
    theta0 = torch.ones(3, 3)
    batched = gradient_descent(quadratic.grad, theta0, lrs, 20)
    for i, lr in enumerate(lrs.ravel().tolist()):
        torch.testing.assert_close(batched[:, i], gradient_descent(quadratic.grad, theta0[i], lr, 20))


def test_record_every_keeps_every_kth_state(quadratic):
    theta0 = torch.ones(3)
    full = gradient_descent(quadratic.grad, theta0, 0.2, 12)
    torch.testing.assert_close(gradient_descent(quadratic.grad, theta0, 0.2, 12, record_every=4), full[::4])
    with pytest.raises(ValueError, match="multiple of record_every"):
        gradient_descent(quadratic.grad, theta0, 0.2, 10, record_every=4)


def test_quadratic_flow_equals_matrix_exponential(quadratic):
    theta0 = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.0, 0.3, 1.0, 4.0])
    flow = quadratic_flow(quadratic, theta0, t)
    assert flow.shape == (4, 2, 5, 3)
    for k, tk in enumerate(t):
        propagator = torch.linalg.matrix_exp(-tk * quadratic.hessian)
        expected = quadratic.minimizer + (theta0 - quadratic.minimizer) @ propagator.T
        torch.testing.assert_close(flow[k], expected, rtol=1e-12, atol=1e-12)


def test_quadratic_flow_matches_fine_step_euler(quadratic):
    theta0 = torch.tensor([1.0, -2.0, 0.5])
    n = 20000
    fine = gradient_descent(quadratic.grad, theta0, 2.0 / n, n)[-1]
    exact = quadratic_flow(quadratic, theta0, [2.0])[0]
    # Euler's global error is O(h): here about t * h * |H^2 e| / 2 < 1e-3
    assert torch.linalg.vector_norm(fine - exact) < 1e-3


def test_quadratic_flow_float32_input_stays_float32(quadratic):
    out = quadratic_flow(quadratic, torch.ones(3, dtype=torch.float32), [0.0, 1.0])
    assert out.dtype == torch.float32 and out.shape == (2, 3)


def test_euler_global_error_is_first_order_and_rk4_fourth_order():
    landscape = TwoBasins()
    theta0 = torch.tensor([1.5, -0.5])
    T = 1.0
    reference = rk4(lambda th: -landscape.grad(th), theta0, T / 2000, 2000)[-1]
    hs = [T / n for n in (20, 40, 80, 160)]
    e_euler = [torch.linalg.vector_norm(gradient_descent(landscape.grad, theta0, h, round(T / h))[-1] - reference).item()
               for h in hs]
    e_rk4 = [torch.linalg.vector_norm(rk4(lambda th: -landscape.grad(th), theta0, h, round(T / h))[-1] - reference).item()
             for h in hs]
    assert loglog_slope(hs, e_euler) == pytest.approx(1.0, abs=0.1)
    assert loglog_slope(hs, e_rk4) == pytest.approx(4.0, abs=0.3)


def test_divergent_run_is_returned_not_raised():
    q = Quadratic(torch.eye(2))
    path = gradient_descent(q.grad, torch.ones(2), 3.0, 5)  # |1 - 3| = 2 > 1: doubles each step
    torch.testing.assert_close(path[-1].abs(), torch.full((2,), 2.0**5))


@pytest.mark.parametrize("bad_lr", [0.0, -0.1, float("nan"), float("inf"), True, "0.1"])
def test_bad_learning_rate_raises(bad_lr):
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(lambda th: th, torch.ones(2), bad_lr, 3)


def test_bad_step_tensor_and_bad_n_steps_raise():
    with pytest.raises(ValueError, match="positive"):
        euler(lambda y: y, torch.ones(2, 2), torch.tensor([[0.1], [-0.1]]), 3)
    with pytest.raises(ValueError, match="broadcast"):
        euler(lambda y: y, torch.ones(2, 2), torch.ones(3, 1), 3)
    with pytest.raises(ValueError, match="change the state's shape"):
        euler(lambda y: y, torch.ones(2), torch.ones(3, 1), 3)
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="n_steps"):
            euler(lambda y: y, torch.ones(2), 0.1, bad)


def test_bad_initial_state_and_bad_field_raise():
    with pytest.raises(ValueError, match="floating-point"):
        euler(lambda y: y, torch.ones(2, dtype=torch.int64), 0.1, 3)
    with pytest.raises(ValueError, match="floating-point"):
        euler(lambda y: y, [1.0, 2.0], 0.1, 3)
    with pytest.raises(ValueError, match="vector field must return"):
        euler(lambda y: y.sum(), torch.ones(2), 0.1, 3)


def test_quadratic_flow_rejects_bad_times_and_shapes(quadratic):
    with pytest.raises(ValueError, match="times >= 0"):
        quadratic_flow(quadratic, torch.ones(3), [-1.0])
    with pytest.raises(ValueError, match="1-D"):
        quadratic_flow(quadratic, torch.ones(3), [[1.0]])
    with pytest.raises(ValueError, match="shape"):
        quadratic_flow(quadratic, torch.ones(2), [1.0])


def test_zero_steps_returns_only_the_start():
    path = gradient_descent(lambda th: th, torch.ones(2), 0.1, 0)
    assert path.shape == (1, 2) and math.isclose(path.sum().item(), 2.0)
