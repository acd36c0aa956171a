r"""The Ornstein--Uhlenbeck model of SGD near a minimum, with anisotropic noise (chapter 2, section 2.6).

Near a minimum :math:`L(\theta) \approx \tfrac12\theta^\top H\theta` and the Langevin equation of SGD
(eq. ``ch2-langevin``) with a constant noise covariance :math:`\Sigma` is the linear SDE

.. math:: d\theta = -H\theta\,dt + \sqrt{\gamma\Sigma/B}\;dW_t .

Its stationary law is the Gaussian :math:`\mathcal N(0, C)` whose covariance solves the Lyapunov equation
(eq. ``ch2-lyapunov``; Mandt, Hoffman & Blei 2017)

.. math:: HC + CH = \frac{\gamma}{B}\,\Sigma .

* :func:`lyapunov_solve` solves :math:`HC + CH = M` for a symmetric positive definite :math:`H`;
* :func:`sgd_stationary_covariance` is :math:`C` for SGD's :math:`(H, \Sigma, \gamma, B)`;
* :func:`stationary_circulation` is :math:`\int\theta\,J(\theta)^\top d\theta = (HC - CH)/2`, the
  antisymmetric first moment of the stationary probability current :math:`J`; it vanishes iff
  :math:`C` commutes with :math:`H` (for instance :math:`C = T H^{-1}`, the Gibbs law), and
* :func:`empirical_circulation` estimates the same matrix from a simulated path.
"""

from __future__ import annotations

import torch

from course_lib._checks import check_count, check_positive

__all__ = [
    "empirical_circulation",
    "lyapunov_solve",
    "sgd_stationary_covariance",
    "stationary_circulation",
]


def _square(name: str, A: torch.Tensor) -> torch.Tensor:
    if not isinstance(A, torch.Tensor) or not A.is_floating_point() or A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square floating-point matrix, got "
                         f"{tuple(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__}")
    return A


def _symmetric_positive_definite(name: str, H: torch.Tensor) -> torch.Tensor:
    H = _square(name, H)
    scale = H.abs().max().clamp_min(1e-300)
    if (H - H.T).abs().max() > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric")
    if torch.linalg.eigvalsh(H).min() <= 0:
        raise ValueError(f"{name} must be positive definite (a strict minimum)")
    return H


def lyapunov_solve(H: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    r"""The solution :math:`C` of the Lyapunov equation :math:`HC + CH = M`, for symmetric :math:`H \succ 0`.

    In the eigenbasis :math:`H = Q\Lambda Q^\top` the equation decouples entry by entry:
    :math:`(\lambda_i + \lambda_j)\tilde C_{ij} = \tilde M_{ij}` with :math:`\tilde X = Q^\top X Q`, so
    :math:`C = Q\,[\tilde M_{ij}/(\lambda_i+\lambda_j)]\,Q^\top`, unique because every
    :math:`\lambda_i + \lambda_j > 0`. A symmetric :math:`M` gives a symmetric :math:`C`.
    """
    # --- validation
    H = _symmetric_positive_definite("H", H)
    M = _square("M", M)
    if M.shape != H.shape:
        raise ValueError(f"M must have H's shape {tuple(H.shape)}, got {tuple(M.shape)}")
    # --- end validation
    lam, Q = torch.linalg.eigh(H)
    M_tilde = Q.T @ M.to(H) @ Q
    C_tilde = M_tilde / (lam[:, None] + lam[None, :])  # (lambda_i + lambda_j) C~_ij = M~_ij
    return Q @ C_tilde @ Q.T


def sgd_stationary_covariance(H: torch.Tensor, Sigma: torch.Tensor, lr: float, batch_size: int) -> torch.Tensor:
    r"""The stationary covariance :math:`C` of SGD's Langevin equation near a minimum (eq. ``ch2-lyapunov``).

    Solves :math:`HC + CH = (\gamma/B)\Sigma`. With isotropic noise :math:`\Sigma = \sigma^2 I` this is
    :math:`C = T H^{-1}` with :math:`T = \gamma\sigma^2/(2B)`, the covariance of the Gibbs law
    :math:`e^{-L/T}`; with anisotropic :math:`\Sigma` that does not commute with :math:`H` it is not
    :math:`T H^{-1}` for any :math:`T`.
    """
    lr = check_positive("lr", lr)
    batch_size = check_count("batch_size", batch_size, 1)
    Sigma = _square("Sigma", Sigma)
    return lyapunov_solve(H, lr / batch_size * Sigma)


def stationary_circulation(H: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r"""The antisymmetric matrix :math:`\int \theta\, J(\theta)^\top\, d\theta = (HC - CH)/2`.

    For :math:`d\theta = -H\theta\,dt + S\,dW` with :math:`D = SS^\top` and stationary law
    :math:`p = \mathcal N(0, C)`, :math:`HC + CH = D`, the probability current is
    :math:`J = -H\theta p - \tfrac12 D\nabla p = (\tfrac12 D C^{-1} - H)\theta\,p`, so
    :math:`\int\theta J^\top = C(\tfrac12 C^{-1}D - H) = \tfrac12 D - CH = \tfrac12(HC - CH)`.
    It is zero iff :math:`C` commutes with :math:`H` (detailed balance, e.g. the Gibbs law).
    """
    H, C = _square("H", H), _square("C", C)
    if C.shape != H.shape:
        raise ValueError(f"C must have H's shape {tuple(H.shape)}, got {tuple(C.shape)}")
    return 0.5 * (H @ C - C @ H)


def empirical_circulation(path: torch.Tensor, h: float) -> torch.Tensor:
    r"""Estimate :math:`\int\theta J^\top` from a stationary path: the antisymmetric part of
    :math:`\mathbb E[\theta_n(\theta_{n+1}-\theta_n)^\top]/h`.

    For an Euler--Maruyama path of the linear SDE, :math:`\mathbb E[\theta_n\Delta_n^\top] = -hCH`
    (the noise is independent of :math:`\theta_n`), whose antisymmetric part is
    :math:`h(HC - CH)/2`, :func:`stationary_circulation` times :math:`h`.

    Args:
        path: states of shape ``(n_steps + 1, ..., d)``, consecutive steps of size ``h``; all leading
            dimensions after the first are pooled (independent chains).
        h: the step size of the path.
    """
    h = check_positive("h", h)
    if not isinstance(path, torch.Tensor) or path.ndim < 2 or path.shape[0] < 2:
        raise ValueError("path must be a tensor of shape (n_steps + 1, ..., d) with at least 2 steps")
    d = path.shape[-1]
    theta = path[:-1].reshape(-1, d)
    increment = (path[1:] - path[:-1]).reshape(-1, d)
    moment = theta.T @ increment / (len(theta) * h)
    return 0.5 * (moment - moment.T)
