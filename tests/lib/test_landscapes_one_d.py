"""Tests for course_lib.landscapes.one_d: the narrow/wide double well of chapter 2."""

from __future__ import annotations

import itertools

import pytest
import torch

from course_lib.dynamics.sde import gibbs_density
from course_lib.landscapes import NarrowWideDoubleWell


def test_follows_the_landscapes_protocol_with_batched_shapes() -> None:
    L = NarrowWideDoubleWell()
    theta = torch.randn(3, 4, 1, dtype=torch.float64)
    assert L.dim == 1
    assert L.loss(theta).shape == (3, 4)
    assert L.grad(theta).shape == (3, 4, 1)
    assert L.grad(theta).dtype == torch.float64


def test_analytic_gradient_and_curvature_match_autograd() -> None:
    L = NarrowWideDoubleWell()
    theta = torch.linspace(-2, 2, 41, dtype=torch.float64).reshape(41, 1).requires_grad_(True)
    (auto,) = torch.autograd.grad(L.loss(theta).sum(), theta, create_graph=True)
    torch.testing.assert_close(L.grad(theta.detach()), auto.detach(), rtol=1e-10, atol=1e-12)
    (second,) = torch.autograd.grad(auto.sum(), theta)
    torch.testing.assert_close(L.second_derivative(theta.detach()[:, 0]), second[:, 0], rtol=1e-10, atol=1e-10)


def test_narrow_minimum_is_deeper_and_much_more_curved() -> None:
    L = NarrowWideDoubleWell()
    wide, barrier, narrow = L.critical_points()
    assert wide < barrier < narrow
    x = torch.tensor([wide, barrier, narrow], dtype=torch.float64)
    assert torch.allclose(L.derivative(x), torch.zeros(3, dtype=torch.float64), atol=1e-10)
    v = L.value(x)
    assert v[2] < v[0] < v[1]
    k_wide, k_narrow = L.curvatures()
    assert k_wide > 0 and k_narrow > 20 * k_wide


def test_gibbs_mass_moves_from_the_narrow_to_the_wide_minimum_as_temperature_grows() -> None:
    L = NarrowWideDoubleWell()
    grid = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    narrow = [float(torch.trapezoid(gibbs_density(L.value, grid, T) * (grid > L.barrier), grid))
              for T in (0.05, 0.1, 0.2, 0.4)]
    assert all(a > b for a, b in itertools.pairwise(narrow))
    assert narrow[0] > 0.95 and narrow[-1] < 0.5


@pytest.mark.parametrize("kwargs", [{"quartic": 0.0}, {"pit_width": -1.0}, {"pit_depth": float("nan")},
                                    {"quadratic": -1.0}, {"pit_center": True}])
def test_rejects_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        NarrowWideDoubleWell(**kwargs)


def test_rejects_theta_without_a_trailing_dimension_of_one() -> None:
    with pytest.raises(ValueError):
        NarrowWideDoubleWell().loss(torch.zeros(3, 2))


def test_parameters_without_two_minima_are_reported() -> None:
    with pytest.raises(ValueError, match="critical points"):
        NarrowWideDoubleWell(pit_depth=0.01).critical_points()


def test_tilted_double_well_critical_points_and_shallow_right_well():
    from course_lib.landscapes import TiltedDoubleWell

    well = TiltedDoubleWell(0.25)
    x = torch.tensor([well.deep_minimum, well.barrier, well.shallow_minimum], dtype=torch.float64)
    assert well.derivative(x).abs().max() < 1e-12
    assert (well.second_derivative(x[[0, 2]]) > 0).all() and well.second_derivative(x[1]) < 0
    assert well.value(x[0]) < well.value(x[2]) < well.value(x[1])
    theta = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None].requires_grad_(True)
    well.loss(theta).sum().backward()
    torch.testing.assert_close(theta.grad, well.grad(theta.detach()))
    with pytest.raises(ValueError):
        TiltedDoubleWell(0.5)
