"""The Lessard-Recht-Packard function: convex, 1-to-25 curvature, and heavy ball's 3-cycle on it."""

import pytest
import torch

from course_lib.dynamics.momentum import momentum_path
from course_lib.dynamics.quadratic_rates import nesterov_parameters, polyak_parameters
from course_lib.landscapes import LessardCounterexample

pytestmark = pytest.mark.usefixtures("float64_default", "one_torch_thread")


def test_gradient_is_the_derivative_of_the_loss_and_continuous():
    f = LessardCounterexample()
    x = torch.linspace(-3, 4, 141)[:, None].requires_grad_(True)
    f.loss(x).sum().backward()
    torch.testing.assert_close(x.grad, f.grad(x.detach()))
    for knot in (1.0, 2.0):
        left, right = torch.tensor([[knot - 1e-9]]), torch.tensor([[knot]])
        assert abs(f.loss(left) - f.loss(right)).item() < 1e-7
        assert abs(f.grad(left) - f.grad(right)).item() < 1e-6


def test_curvature_lies_between_1_and_25():
    f = LessardCounterexample()
    x = torch.linspace(-5, 5, 2001)[:, None]
    slopes = f.grad(x).diff(dim=0)[:, 0] / x.diff(dim=0)[:, 0]
    assert slopes.min() >= 1 - 1e-9 and slopes.max() <= 25 + 1e-9


def test_heavy_ball_with_polyak_parameters_cycles_and_nesterov_converges():
    f = LessardCounterexample()
    g, m, _ = polyak_parameters(1.0, 25.0)
    hb = momentum_path(f.grad, torch.tensor([3.3]), g, m, 300)[:, 0]
    torch.testing.assert_close(hb[-3:], hb[-6:-3], rtol=0, atol=1e-10)  # period 3
    assert hb[-3:].abs().max() > 1.5  # not at the minimum
    g, m, _ = nesterov_parameters(1.0, 25.0)
    nag = momentum_path(f.grad, torch.tensor([3.3]), g, m, 300, lookahead=1.0)
    assert nag[-1].abs().item() < 1e-12


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        LessardCounterexample().grad(torch.ones(3, 2))
