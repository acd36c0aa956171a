"""Subspace iteration and the effective rank used to compare gradient noise with curvature."""

import pytest
import torch

from course_lib.dynamics.gradient_noise import logistic_regression_hessian_products
from course_lib.dynamics.spectrum import effective_rank, top_eigenpairs


def test_top_eigenpairs_match_eigh_on_a_dense_matrix():
    g = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(60, 60, generator=g, dtype=torch.float64)).Q
    lam = torch.logspace(1, -3, 60, dtype=torch.float64)
    A = Q @ torch.diag(lam) @ Q.T
    vals, vecs = top_eigenpairs(lambda V: A @ V, torch.randn(60, 8, generator=g, dtype=torch.float64), 5,
                                n_iter=60)
    assert torch.allclose(vals, lam[:5], rtol=1e-8)
    assert torch.allclose(A @ vecs, vecs * vals, atol=1e-7)


def test_effective_rank_is_d_for_isotropic_and_1_for_rank_one():
    assert effective_rank(torch.ones(7)) == pytest.approx(7.0)
    assert effective_rank(torch.tensor([3.0, 0.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        effective_rank(torch.tensor([-1.0, 2.0]))


def test_logistic_regression_hessian_products_match_autograd():
    g = torch.Generator().manual_seed(1)
    K, D, N = 3, 4, 20
    X = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.randint(K, (N,), generator=g)
    W = torch.randn(K, D, generator=g, dtype=torch.float64)
    b = torch.randn(K, generator=g, dtype=torch.float64)

    def loss(flat):
        return torch.nn.functional.cross_entropy(X @ flat[: K * D].reshape(K, D).T + flat[K * D:], y)

    H = torch.autograd.functional.hessian(loss, torch.cat([W.reshape(-1), b]))
    V = torch.randn(K * D + K, 5, generator=g, dtype=torch.float64)
    assert torch.allclose(logistic_regression_hessian_products(W, b, X, V), H @ V, atol=1e-12)
    with pytest.raises(ValueError):
        logistic_regression_hessian_products(W, b, X, V[:-1])
