r"""Top of the spectrum of a large symmetric matrix known only through its products (chapter 2).

Chapter 2 compares the per-example gradient covariance :math:`\Sigma` with the Hessian :math:`H` of a
model with thousands of parameters, where neither matrix is formed: :math:`H` is available through
Hessian--vector products and :math:`\Sigma` through its Gram matrix.

* :func:`top_eigenpairs` -- subspace (block power) iteration with Rayleigh--Ritz for the largest
  eigenvalues of a symmetric positive semi-definite operator :math:`v \mapsto Av`;
* :func:`effective_rank` -- the participation ratio :math:`(\sum_i\lambda_i)^2/\sum_i\lambda_i^2`, the number of
  equal eigenvalues that would give the same trace and Frobenius norm (:math:`d` for :math:`\sigma^2 I`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib._checks import check_count

__all__ = ["effective_rank", "top_eigenpairs"]


def effective_rank(eigenvalues: torch.Tensor) -> float:
    r"""The participation ratio :math:`(\operatorname{tr}A)^2/\operatorname{tr}A^2 = (\sum\lambda_i)^2/\sum\lambda_i^2`.

    It is between 1 (one non-zero eigenvalue) and the dimension (all eigenvalues equal, isotropic).
    """
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    if lam.ndim != 1 or lam.numel() == 0 or (lam < -1e-12 * lam.abs().max()).any() or lam.sum() <= 0:
        raise ValueError("eigenvalues must be a non-empty 1-D tensor of non-negative numbers, not all 0")
    lam = lam.clamp_min(0)
    return (lam.sum() ** 2 / (lam**2).sum()).item()


def top_eigenpairs(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    k: int,
    n_iter: int = 50,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The ``k`` largest eigenvalues and eigenvectors of a symmetric PSD operator, by subspace iteration.

    Repeats :math:`V \leftarrow \operatorname{orth}(AV)`, then diagonalises :math:`V^\top A V`
    (Rayleigh--Ritz). ``start`` (shape ``(dim, m)``, ``m >= k`` columns; a few more than ``k`` speed up
    convergence) is the initial block, e.g. random or a good guess. ``matvec`` maps a ``(dim, m)`` block
    to :math:`A` times it.

    Returns:
        ``(eigenvalues, eigenvectors)``: shape ``(k,)`` in decreasing order, and ``(dim, k)`` orthonormal.
    """
    # --- validation
    k = check_count("k", k, 1)
    n_iter = check_count("n_iter", n_iter, 1)
    if not isinstance(start, torch.Tensor) or start.ndim != 2 or start.shape[1] < k:
        raise ValueError(f"start must be a (dim, m) tensor with m >= k = {k} columns")
    # --- end validation
    V = torch.linalg.qr(start).Q
    for _ in range(n_iter):
        V = torch.linalg.qr(matvec(V)).Q                 # power step on the whole block
    ritz, W = torch.linalg.eigh(V.T @ matvec(V))         # Rayleigh-Ritz in span(V)
    order = torch.argsort(ritz, descending=True)[:k]
    return ritz[order], V @ W[:, order]
