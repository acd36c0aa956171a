"""Chapter 4's exercises: the solutions pass every group, and typical slips fail with the intended hint."""

import pytest
import torch

from course_lib.exercises import check

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _momentum(grad, theta0, lr, momentum, n_steps, lookahead):
    lr, momentum = float(lr), float(momentum)
    theta, v, out = theta0, torch.zeros_like(theta0), [theta0]
    for _ in range(int(n_steps)):
        v = momentum * v - lr * grad(theta + lookahead * momentum * v)
        theta = theta + v
        out.append(theta)
    return torch.stack(out)


def nesterov_path(grad, theta0, lr, momentum, n_steps):
    return _momentum(grad, theta0, lr, momentum, n_steps, 1.0)


def heavy_ball_path(grad, theta0, lr, momentum, n_steps):
    return _momentum(grad, theta0, lr, momentum, n_steps, 0.0)


@pytest.mark.parametrize("hidden", [False, True, "edge"])
def test_the_solution_of_4_1_passes_every_group(hidden):
    assert check("4.1", nesterov_path, hidden=hidden).status == "passed"


def test_heavy_ball_instead_of_nesterov_fails_4_1():
    assert check("4.1", heavy_ball_path).status == "failed"


@pytest.mark.parametrize("hidden", [False, True])
def test_the_predictions_4_2_and_4_3_pass(hidden):
    assert check("4.2", 3.6 / 1.4, hidden=hidden).status == "passed"
    assert check("4.3", 0.95, hidden=hidden).status == "passed"


def test_heavy_balls_boundary_and_polyaks_rate_fail_with_their_hints():
    wrong_boundary = check("4.2", 3.6)
    assert wrong_boundary.status == "failed" and "heavy ball" in wrong_boundary.message
    wrong_rate = check("4.3", 19 / 21)
    assert wrong_rate.status == "failed" and "Polyak" in wrong_rate.message
