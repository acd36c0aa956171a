"""The Lyapunov equation and the probability current of the linear (Ornstein-Uhlenbeck) SDE."""

import math

import pytest
import torch

from course_lib.dynamics.ou import (
    empirical_circulation,
    lyapunov_solve,
    sgd_stationary_covariance,
    stationary_circulation,
)


def _spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64)
    return A @ A.T + 0.5 * torch.eye(d, dtype=torch.float64)


def test_lyapunov_solution_satisfies_the_equation_and_matches_the_vectorised_linear_system():
    H, M = _spd(5, 0), _spd(5, 1)
    C = lyapunov_solve(H, M)
    assert torch.allclose(H @ C + C @ H, M, atol=1e-10)
    eye = torch.eye(5, dtype=torch.float64)
    # independent solution: (I kron H + H kron I) vec(C) = vec(M)
    K = torch.kron(eye, H) + torch.kron(H, eye)
    C_ref = torch.linalg.solve(K, M.T.reshape(-1)).reshape(5, 5).T
    assert torch.allclose(C, C_ref, atol=1e-10)
    assert torch.allclose(C, C.T, atol=1e-12)


def test_isotropic_noise_gives_the_gibbs_covariance_T_over_H():
    H = _spd(4, 2)
    lr, B, sigma2 = 0.1, 8, 3.0
    C = sgd_stationary_covariance(H, sigma2 * torch.eye(4, dtype=torch.float64), lr, B)
    T = lr * sigma2 / (2 * B)
    assert torch.allclose(C, T * torch.linalg.inv(H), atol=1e-12)
    assert stationary_circulation(H, C).abs().max() < 1e-12


def test_noise_floor_is_gamma_tr_sigma_over_4B_for_any_noise_covariance():
    H, Sigma = _spd(6, 3), _spd(6, 4)
    lr, B = 0.05, 16
    C = sgd_stationary_covariance(H, Sigma, lr, B)
    assert math.isclose(0.5 * torch.trace(H @ C).item(), lr * torch.trace(Sigma).item() / (4 * B),
                        rel_tol=1e-10)


def test_anisotropic_noise_not_aligned_with_H_carries_a_current():
    H = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    c, s = math.cos(0.6), math.sin(0.6)
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    D = R @ torch.diag(torch.tensor([2.0, 0.2], dtype=torch.float64)) @ R.T
    C = lyapunov_solve(H, D)
    A = stationary_circulation(H, C)
    assert torch.allclose(A, -A.T) and A.abs().max() > 0.05


def test_empirical_circulation_of_a_simulated_path_matches_the_formula():
    H = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    D = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    S = torch.linalg.cholesky(D)
    h, chains = 0.01, 4000
    g = torch.Generator().manual_seed(0)
    C = lyapunov_solve(H, D)
    theta = torch.randn(chains, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(C).T
    path = [theta]
    for _ in range(300):
        theta = theta - h * theta @ H + math.sqrt(h) * torch.randn(chains, 2, generator=g,
                                                                   dtype=torch.float64) @ S.T
        path.append(theta)
    est = empirical_circulation(torch.stack(path), h)
    exact = stationary_circulation(H, C)
    assert abs(est[0, 1] - exact[0, 1]) < 0.25 * abs(exact[0, 1])


@pytest.mark.parametrize("H", [torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64),
                               torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)])
def test_lyapunov_rejects_an_indefinite_or_non_symmetric_H_and_a_mismatched_M(H):
    H = H.to(torch.float64) if H.dtype != torch.float64 else H
    if torch.equal(H, torch.eye(2, dtype=torch.float64)):
        with pytest.raises(ValueError, match="shape"):
            lyapunov_solve(H, torch.eye(3, dtype=torch.float64))
    else:
        with pytest.raises(ValueError):
            lyapunov_solve(H, torch.eye(2, dtype=torch.float64))


def test_bad_lr_or_batch_size_raise():
    H = torch.eye(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="lr"):
        sgd_stationary_covariance(H, H, -0.1, 4)
    with pytest.raises(ValueError, match="batch_size"):
        sgd_stationary_covariance(H, H, 0.1, 0)
    with pytest.raises(ValueError, match="path"):
        empirical_circulation(torch.zeros(1, 2, dtype=torch.float64), 0.1)
