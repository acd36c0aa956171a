r"""The quadratic model :math:`L(\theta) = \tfrac12 (\theta-\theta^*)^\top H (\theta-\theta^*)`.

Near a strict minimum every smooth loss looks like this (Taylor's theorem), and on it gradient
descent can be solved in closed form, so chapter 1 uses it to derive and check the facts about the
learning rate :math:`\gamma`:

* gradient descent converges iff :math:`0 < \gamma < 2/\lambda_{\max}` (:meth:`Quadratic.critical_lr`,
  equation ``ch1-stability``);
* the error contracts by :math:`\rho(\gamma) = \max_i |1-\gamma\lambda_i|` per step
  (:meth:`Quadratic.contraction`, equation ``ch1-rate``);
* the best fixed step is :math:`\gamma^\star = 2/(\lambda_{\min}+\lambda_{\max})`, with rate
  :math:`(\kappa-1)/(\kappa+1)` (:meth:`Quadratic.optimal_lr`, :meth:`Quadratic.optimal_rate`,
  equation ``ch1-optimal``);
* the :math:`n`-th iterate is :math:`\theta_n = \theta^* + (I-\gamma H)^n(\theta_0-\theta^*)`
  (:meth:`Quadratic.gd_iterate`, equation ``ch1-gd-closed``).

:meth:`Quadratic.ravine` builds the long, narrow valley of source 002 in which plain gradient
descent zig-zags; the momentum chapters reuse it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from course_lib._checks import as_float64

__all__ = ["Quadratic"]

_ArrayLike = torch.Tensor | Sequence


def _check_lr(lr: float | torch.Tensor) -> None:
    bad = (lr <= 0).any() if isinstance(lr, torch.Tensor) else not (lr > 0)
    finite = torch.isfinite(lr).all() if isinstance(lr, torch.Tensor) else math.isfinite(lr)
    if bad or not finite:
        raise ValueError(f"lr (the learning rate gamma) must be positive and finite, got {lr}")


class Quadratic:
    r"""The quadratic loss :math:`L(\theta) = \tfrac12(\theta-\theta^*)^\top H(\theta-\theta^*)`.

    Args:
        hessian: the symmetric positive semidefinite matrix :math:`H` (``d x d``; a tensor or
            anything ``torch.as_tensor`` accepts). It is stored in float64.
        minimizer: :math:`\theta^*` (length ``d``); the origin when omitted.

    Raises:
        ValueError: :math:`H` is not a finite square matrix, not symmetric (to a relative 1e-8), or has
            an eigenvalue below :math:`-10^{-10}\max(1, \lambda_{\max})`; or ``minimizer`` has the
            wrong shape. Eigenvalues inside that round-off band are set to 0.

    The object follows the landscapes protocol: ``loss`` and ``grad`` take ``theta`` of shape
    ``(..., d)``, return shapes ``(...)`` and ``(..., d)``, and compute in ``theta``'s device and
    dtype. The spectral facts (``eigenvalues``, ``critical_lr``, ...) are computed once, in float64.
    """

    def __init__(self, hessian: _ArrayLike, minimizer: _ArrayLike | None = None) -> None:
        H = as_float64(hessian, "hessian")
        if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
            raise ValueError(f"hessian must be a square d x d matrix with d >= 1, got shape {tuple(H.shape)}")
        scale = max(1.0, H.abs().max().item())
        asym = (H - H.T).abs().max().item()
        if asym > 1e-8 * scale:
            raise ValueError(f"hessian must be symmetric: max |H - H^T| = {asym:.3g}")
        H = 0.5 * (H + H.T)
        eigenvalues, eigenvectors = torch.linalg.eigh(H)
        tol = 1e-10 * max(1.0, eigenvalues[-1].abs().item())
        if eigenvalues[0].item() < -tol:
            raise ValueError(
                f"hessian must be positive semidefinite (a quadratic with a minimum); its smallest "
                f"eigenvalue is {eigenvalues[0].item():.6g} < 0"
            )
        self._H = H
        self._eigenvalues = eigenvalues.clamp_min(0.0)
        self._eigenvectors = eigenvectors
        d = H.shape[0]
        if minimizer is None:
            self._minimizer = torch.zeros(d, dtype=torch.float64, device=H.device)
        else:
            m = as_float64(minimizer, "minimizer").to(H.device)
            if m.shape != (d,):
                raise ValueError(f"minimizer must have shape ({d},) to match the hessian, got {tuple(m.shape)}")
            self._minimizer = m

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_eigenvalues(
        cls,
        eigenvalues: _ArrayLike,
        *,
        rotation_seed: int | None = None,
        minimizer: _ArrayLike | None = None,
    ) -> Quadratic:
        r"""The quadratic with spectrum ``eigenvalues``: :math:`H = Q\,\mathrm{diag}(\lambda)\,Q^\top`.

        :math:`Q = I` when ``rotation_seed`` is None, else a random orthogonal matrix (QR of a
        Gaussian matrix drawn from a generator seeded with ``rotation_seed``), so that the eigenvectors
        are not the coordinate axes.
        """
        lam = as_float64(eigenvalues, "eigenvalues")
        if lam.ndim != 1 or lam.numel() == 0:
            raise ValueError(f"eigenvalues must be a non-empty 1-D sequence, got shape {tuple(lam.shape)}")
        d = lam.numel()
        if rotation_seed is None:
            Q = torch.eye(d, dtype=torch.float64)
        else:
            g = torch.Generator().manual_seed(rotation_seed)
            Q, R = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
            Q = Q * torch.sign(torch.diagonal(R))  # fix the signs so Q is Haar-distributed
        Q = Q.to(lam.device)
        return cls(Q @ torch.diag(lam) @ Q.T, minimizer)

    @classmethod
    def ravine(
        cls,
        lambda_min: float = 0.1,
        lambda_max: float = 2.0,
        angle: float = 0.0,
        minimizer: _ArrayLike | None = None,
    ) -> Quadratic:
        r"""Source 002's ill-conditioned ravine: a 2-D quadratic, flat along one axis and steep across it.

        The flat direction (eigenvalue ``lambda_min``) makes ``angle`` radians with the
        :math:`\theta_1` axis; the steep one (``lambda_max``) is perpendicular to it. The defaults give
        :math:`\kappa = 20`, a critical step :math:`2/\lambda_{\max} = 1` and an optimal step
        :math:`2/(\lambda_{\min}+\lambda_{\max}) = 2/2.1`.
        """
        if not (0 < lambda_min <= lambda_max) or not math.isfinite(lambda_max):
            raise ValueError(
                f"need 0 < lambda_min <= lambda_max < inf, got lambda_min={lambda_min}, lambda_max={lambda_max}"
            )
        c, s = math.cos(angle), math.sin(angle)
        Q = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        H = Q @ torch.diag(torch.tensor([lambda_min, lambda_max], dtype=torch.float64)) @ Q.T
        return cls(H, minimizer)

    # ----------------------------------------------------------------- the landscape protocol
    @property
    def dim(self) -> int:
        """The number of parameters :math:`d`."""
        return self._H.shape[0]

    def _like(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
            raise ValueError(f"theta must be a floating-point tensor, got {type(theta).__name__}")
        if theta.ndim == 0 or theta.shape[-1] != self.dim:
            raise ValueError(f"theta must have shape (..., {self.dim}), got {tuple(theta.shape)}")
        return (self._H.to(device=theta.device, dtype=theta.dtype),
                self._minimizer.to(device=theta.device, dtype=theta.dtype))

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`L(\theta) = \tfrac12(\theta-\theta^*)^\top H(\theta-\theta^*)`, shape ``(...)``."""
        H, m = self._like(theta)
        e = theta - m
        return 0.5 * ((e @ H) * e).sum(-1)

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla L(\theta) = H(\theta-\theta^*)`, shape ``(..., d)``."""
        H, m = self._like(theta)
        return (theta - m) @ H  # H is symmetric, so (e @ H) = (H e)^T row-wise

    def hessian_at(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla^2 L(\theta) = H` for every ``theta``, shape ``(..., d, d)``."""
        H, _ = self._like(theta)
        return H.expand(*theta.shape[:-1], self.dim, self.dim)

    # ----------------------------------------------------------------- spectral facts
    @property
    def hessian(self) -> torch.Tensor:
        """:math:`H` (float64)."""
        return self._H

    @property
    def minimizer(self) -> torch.Tensor:
        r""":math:`\theta^*` (float64)."""
        return self._minimizer

    @property
    def eigenvalues(self) -> torch.Tensor:
        r""":math:`\lambda_1 \le \dots \le \lambda_d` (ascending, float64)."""
        return self._eigenvalues

    @property
    def eigenvectors(self) -> torch.Tensor:
        r"""The orthonormal eigenvectors as columns: ``H @ Q == Q @ diag(eigenvalues)``."""
        return self._eigenvectors

    @property
    def lambda_min(self) -> float:
        r""":math:`\lambda_{\min}`."""
        return self._eigenvalues[0].item()

    @property
    def lambda_max(self) -> float:
        r""":math:`\lambda_{\max}`."""
        return self._eigenvalues[-1].item()

    @property
    def condition_number(self) -> float:
        r""":math:`\kappa = \lambda_{\max}/\lambda_{\min}` (``inf`` when :math:`\lambda_{\min} = 0`)."""
        if self.lambda_min == 0.0:
            return math.inf
        return self.lambda_max / self.lambda_min

    def critical_lr(self) -> float:
        r"""The divergence boundary :math:`2/\lambda_{\max}` (eq. ``ch1-stability``): GD converges for
        every start iff :math:`0 < \gamma < 2/\lambda_{\max}`. ``inf`` when :math:`H = 0`."""
        return math.inf if self.lambda_max == 0.0 else 2.0 / self.lambda_max

    def optimal_lr(self) -> float:
        r"""The fixed step that minimises :math:`\rho(\gamma)`: :math:`2/(\lambda_{\min}+\lambda_{\max})` (eq. ``ch1-optimal``)."""
        if self.lambda_max == 0.0:
            raise ValueError("H = 0: every step size leaves theta where it is; there is no optimal lr")
        return 2.0 / (self.lambda_min + self.lambda_max)

    def optimal_rate(self) -> float:
        r""":math:`\rho(\gamma^\star) = (\lambda_{\max}-\lambda_{\min})/(\lambda_{\max}+\lambda_{\min}) = (\kappa-1)/(\kappa+1)`."""
        if self.lambda_max == 0.0:
            raise ValueError("H = 0: there is no optimal rate")
        return (self.lambda_max - self.lambda_min) / (self.lambda_max + self.lambda_min)

    def contraction(self, lr: float | torch.Tensor) -> float | torch.Tensor:
        r"""The per-step contraction factor :math:`\rho(\gamma) = \max_i |1-\gamma\lambda_i|` (eq. ``ch1-rate``).

        ``lr`` may be a float (returns a float) or a tensor of learning rates of any shape (returns a
        float64 tensor of that shape, on ``lr``'s device), so a whole curve is one call.
        """
        _check_lr(lr)
        if isinstance(lr, torch.Tensor):
            lam = self._eigenvalues.to(lr.device)
            return (1.0 - lr.to(torch.float64)[..., None] * lam).abs().amax(-1)
        return max(abs(1.0 - lr * self.lambda_min), abs(1.0 - lr * self.lambda_max))

    def gd_iterate(self, theta0: torch.Tensor, lr: float, n: int) -> torch.Tensor:
        r"""The closed form of ``n`` GD steps (eq. ``ch1-gd-closed``):
        :math:`\theta_n = \theta^* + Q(I-\gamma\Lambda)^n Q^\top(\theta_0-\theta^*)`.

        ``theta0`` has shape ``(..., d)``; the result has its shape, device and dtype.
        """
        _check_lr(lr)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n (the number of steps) must be an int >= 0, got {n!r}")
        self._like(theta0)
        Q = self._eigenvectors.to(theta0.device)
        m = self._minimizer.to(theta0.device)
        factors = (1.0 - lr * self._eigenvalues.to(theta0.device)) ** n
        e0 = theta0.to(torch.float64) - m
        e_n = ((e0 @ Q) * factors) @ Q.T
        return (m + e_n).to(theta0.dtype)

    def __repr__(self) -> str:
        return (f"Quadratic(dim={self.dim}, lambda_min={self.lambda_min:.4g}, lambda_max={self.lambda_max:.4g}, "
                f"condition_number={self.condition_number:.4g})")
