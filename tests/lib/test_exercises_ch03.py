"""The chapter-3 exercise checks: the solutions pass, planted slips fail with the intended message."""

import pytest
import torch

from course_lib.exercises import check

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _heavy_ball(grad, theta0, lr, momentum, n_steps):
    """The solution of 3.1 (the notebook's)."""
    theta, v, trajectory = theta0, torch.zeros_like(theta0), [theta0]
    for _ in range(n_steps):
        v = momentum * v - lr * grad(theta)
        theta = theta + v
        trajectory.append(theta)
    return torch.stack(trajectory)


def _heavy_ball_lr_outside(grad, theta0, lr, momentum, n_steps):
    """A slip: the velocity update without the learning rate, applied as theta + lr v (same when lr fixed)."""
    theta, b, trajectory = theta0, torch.zeros_like(theta0), [theta0]
    for _ in range(n_steps):
        b = momentum * b + grad(theta)
        theta = theta - lr * b
        trajectory.append(theta)
    return torch.stack(trajectory)


def _heavy_ball_late_velocity(grad, theta0, lr, momentum, n_steps):
    """A slip: the position is updated with the old velocity (v_t instead of v_{t+1})."""
    theta, v, trajectory = theta0, torch.zeros_like(theta0), [theta0]
    for _ in range(n_steps):
        theta_next = theta + v
        v = momentum * v - lr * grad(theta)
        theta = theta_next
        trajectory.append(theta)
    return torch.stack(trajectory)


def test_heavy_ball_solution_passes_every_group():
    for hidden in (False, True, "edge"):
        assert check("3.1", _heavy_ball, hidden=hidden, quiet=True).passed


def test_lr_outside_the_buffer_gives_the_same_trajectory_at_constant_lr():
    assert check("3.1", _heavy_ball_lr_outside, quiet=True).passed


def test_a_late_velocity_fails_at_step_one():
    result = check("3.1", _heavy_ball_late_velocity, quiet=True)
    assert not result.passed and "step 1" in result.message


def test_predictions_pass_and_the_named_slips_get_their_hints():
    assert check("3.2", 2 * 1.6 / 4, quiet=True).passed
    wrong_gd = check("3.2", 2 / 4, quiet=True)
    assert not wrong_gd.passed and "1 + μ" in wrong_gd.message
    assert check("3.3", 90, quiet=True).passed
    assert not check("3.3", 89, quiet=True).passed
    wrong = check("3.3", 20, quiet=True)
    assert not wrong.passed and "terminal velocity" in wrong.message
