"""The landscapes of course_lib.landscapes: protocol, analytic derivatives, the quadratic's GD facts."""

import math

import pytest
import torch

from course_lib.landscapes import Quadratic, TwoBasins

pytestmark = pytest.mark.usefixtures("float64_default")


def _landscapes():
    return [
        Quadratic([[2.0, 0.5], [0.5, 1.0]], minimizer=[0.3, -0.2]),
        Quadratic.from_eigenvalues([0.01, 0.3, 1.0, 4.0], rotation_seed=3, minimizer=[1.0, 2.0, 3.0, 4.0]),
        Quadratic.ravine(angle=0.4),
        TwoBasins(),
        TwoBasins(bend=-0.3, tilt=1.2, stiffness=3.0),
    ]


@pytest.mark.parametrize("landscape", _landscapes(), ids=repr)
def test_grad_equals_autograd_of_loss_on_a_batch(landscape):
    theta = torch.randn(5, 3, landscape.dim, generator=torch.Generator().manual_seed(0), requires_grad=True)
    loss = landscape.loss(theta)
    assert loss.shape == (5, 3)
    (auto,) = torch.autograd.grad(loss.sum(), theta)
    grad = landscape.grad(theta.detach())
    assert grad.shape == (5, 3, landscape.dim)
    torch.testing.assert_close(grad, auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("landscape", _landscapes(), ids=repr)
def test_hessian_at_equals_autograd_hessian(landscape):
    theta = torch.randn(4, landscape.dim, generator=torch.Generator().manual_seed(1))
    H = landscape.hessian_at(theta)
    assert H.shape == (4, landscape.dim, landscape.dim)
    for i in range(4):
        auto = torch.autograd.functional.hessian(landscape.loss, theta[i])
        torch.testing.assert_close(H[i], auto, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("landscape", _landscapes(), ids=repr)
def test_dtype_and_unbatched_shapes_follow_theta(landscape):
    theta = torch.zeros(landscape.dim, dtype=torch.float32)
    assert landscape.loss(theta).shape == () and landscape.loss(theta).dtype == torch.float32
    assert landscape.grad(theta).shape == (landscape.dim,) and landscape.grad(theta).dtype == torch.float32


@pytest.mark.parametrize("landscape", _landscapes(), ids=repr)
def test_wrong_last_dimension_or_integer_theta_raises(landscape):
    with pytest.raises(ValueError, match="shape"):
        landscape.grad(torch.zeros(3, landscape.dim + 1))
    with pytest.raises(ValueError, match="floating-point"):
        landscape.loss(torch.zeros(landscape.dim, dtype=torch.int64))


# ---------------------------------------------------------------- Quadratic
def test_quadratic_spectral_properties():
    q = Quadratic.from_eigenvalues([4.0, 0.5, 1.0], rotation_seed=0)
    torch.testing.assert_close(q.eigenvalues, torch.tensor([0.5, 1.0, 4.0]))
    Q = q.eigenvectors
    torch.testing.assert_close(q.hessian @ Q, Q @ torch.diag(q.eigenvalues))
    torch.testing.assert_close(Q.T @ Q, torch.eye(3))
    assert not torch.allclose(q.hessian, torch.diag(torch.diagonal(q.hessian)))  # really rotated
    assert q.lambda_min == pytest.approx(0.5) and q.lambda_max == pytest.approx(4.0)
    assert q.condition_number == pytest.approx(8.0)
    assert q.critical_lr() == pytest.approx(0.5)
    assert q.optimal_lr() == pytest.approx(2 / 4.5)
    assert q.optimal_rate() == pytest.approx((8 - 1) / (8 + 1))


def test_contraction_is_max_abs_one_minus_lr_lambda_and_minimal_at_optimal_lr():
    q = Quadratic.from_eigenvalues([0.2, 1.0, 3.0])
    for lr in (0.1, 0.5, 0.6, 0.9):
        assert q.contraction(lr) == pytest.approx(max(abs(1 - lr * lam) for lam in (0.2, 1.0, 3.0)))
    lrs = torch.linspace(0.01, 1.0, 9999)
    rho = q.contraction(lrs)
    assert rho.shape == lrs.shape
    assert lrs[rho.argmin()].item() == pytest.approx(q.optimal_lr(), abs=1e-4)
    assert rho.min().item() == pytest.approx(q.optimal_rate(), abs=1e-4)
    assert q.contraction(q.critical_lr()) == pytest.approx(1.0)


def test_gd_iterate_equals_n_explicit_gd_steps():
    q = Quadratic.from_eigenvalues([0.1, 0.7, 2.0], rotation_seed=5, minimizer=[1.0, -1.0, 0.5])
    theta0 = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    theta, lr = theta0.clone(), 0.8
    for _ in range(25):
        theta = theta - lr * q.grad(theta)
    torch.testing.assert_close(q.gd_iterate(theta0, lr, 25), theta, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(q.gd_iterate(theta0, lr, 0), theta0)


def test_ravine_has_the_requested_spectrum_and_flat_direction():
    q = Quadratic.ravine(lambda_min=0.1, lambda_max=2.0, angle=math.pi / 6, minimizer=[1.0, 1.0])
    assert q.condition_number == pytest.approx(20.0)
    flat = torch.tensor([math.cos(math.pi / 6), math.sin(math.pi / 6)])
    torch.testing.assert_close(q.hessian @ flat, 0.1 * flat)
    assert q.loss(torch.tensor([1.0, 1.0])).item() == 0.0
    default = Quadratic.ravine()
    assert default.critical_lr() == pytest.approx(1.0) and default.optimal_lr() == pytest.approx(2 / 2.1)


def test_singular_hessian_is_allowed_with_infinite_condition_number():
    q = Quadratic([[1.0, 0.0], [0.0, 0.0]])
    assert q.lambda_min == 0.0 and q.condition_number == math.inf
    assert q.critical_lr() == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("hessian", "message"),
    [
        ([[1.0, 2.0], [0.0, 1.0]], "symmetric"),
        ([[1.0, 0.0], [0.0, -0.5]], "positive semidefinite"),
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "square"),
        ([1.0, 2.0], "square"),
        ([[float("nan"), 0.0], [0.0, 1.0]], "finite"),
    ],
)
def test_bad_hessian_raises_a_clear_value_error(hessian, message):
    with pytest.raises(ValueError, match=message):
        Quadratic(hessian)


def test_bad_minimizer_and_bad_lr_raise():
    with pytest.raises(ValueError, match="minimizer must have shape"):
        Quadratic(torch.eye(2), minimizer=[1.0, 2.0, 3.0])
    q = Quadratic(torch.eye(2))
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="lr"):
            q.contraction(bad)
    with pytest.raises(ValueError, match="lr"):
        q.contraction(torch.tensor([0.1, -0.1]))
    with pytest.raises(ValueError, match="int >= 0"):
        q.gd_iterate(torch.zeros(2), 0.1, 2.5)
    with pytest.raises(ValueError, match="lambda_min"):
        Quadratic.ravine(lambda_min=3.0, lambda_max=2.0)


# ---------------------------------------------------------------- TwoBasins
def test_two_basins_critical_points_are_two_minima_and_a_saddle():
    landscape = TwoBasins(bend=0.5, tilt=0.5)
    points = landscape.critical_points()
    for name, p in points.items():
        torch.testing.assert_close(landscape.grad(p), torch.zeros(2), atol=1e-14, rtol=0)
        eig = torch.linalg.eigvalsh(landscape.hessian_at(p))
        if name == "saddle":
            assert eig[0] < 0 < eig[1]
        else:
            assert eig[0] > 0
            assert landscape.loss(p).item() == pytest.approx(0.0, abs=1e-15)
    torch.testing.assert_close(points["left"], torch.tensor([-1.0, 0.0]))
    torch.testing.assert_close(points["right"], torch.tensor([1.0, 1.0]))
    assert landscape.loss(points["saddle"]).item() == pytest.approx(0.25)
    # the saddle's Hessian has determinant -k
    assert torch.linalg.det(landscape.hessian_at(points["saddle"])).item() == pytest.approx(-1.0)


def test_nearest_minimum_labels_points_near_each_minimum():
    landscape = TwoBasins()
    pts = torch.stack([landscape.minima[0] + 0.01, landscape.minima[1] - 0.01])
    assert landscape.nearest_minimum(pts).tolist() == [0, 1]


def test_two_basins_rejects_bad_parameters():
    with pytest.raises(ValueError, match="stiffness"):
        TwoBasins(stiffness=0.0)
    with pytest.raises(ValueError, match="bend"):
        TwoBasins(bend=float("nan"))
