r"""A non-convex 2-D landscape with two basins and a saddle between them.

.. math::

    L(\theta) = \tfrac14\,(x^2-1)^2 + \tfrac{k}{2}\,\bigl(y - a x^2 - b x\bigr)^2,
    \qquad \theta = (x, y).

The first term is a double well in :math:`x`; the second pulls :math:`y` towards the curve
:math:`y = a x^2 + b x`, which bends the valley (``bend`` :math:`a`) and tilts it (``tilt`` :math:`b`).
Its critical points are exact: writing :math:`r = y - a x^2 - b x`, :math:`\partial_y L = k r = 0`
forces :math:`r = 0`, and then :math:`\partial_x L = x(x^2-1) = 0`. So

* two minima, :math:`(-1,\ a-b)` and :math:`(1,\ a+b)`, both at :math:`L = 0`;
* one saddle, :math:`(0, 0)`, at :math:`L = 1/4`, with :math:`\det \nabla^2 L = -k < 0`.

With :math:`b \ne 0` the two basins differ in shape and the boundary between them (the stable
manifold of the saddle) is a curve, not a symmetry axis, so the basin a start ends in is not obvious
from a glance at the contours. Chapter 1 uses it to show that the start decides the basin.
"""

from __future__ import annotations

import math

import torch

__all__ = ["TwoBasins"]


class TwoBasins:
    r"""The landscape :math:`L(x,y) = \tfrac14(x^2-1)^2 + \tfrac{k}{2}(y - a x^2 - b x)^2` (module docstring).

    Args:
        bend: :math:`a`, the curvature of the valley floor :math:`y = a x^2 + b x`.
        tilt: :math:`b`, its slope at the saddle; :math:`b \ne 0` breaks the left-right symmetry.
        stiffness: :math:`k > 0`, the curvature across the valley.

    Follows the landscapes protocol: ``theta`` of shape ``(..., 2)``, ``loss`` shape ``(...)``,
    ``grad`` shape ``(..., 2)``, analytic and in ``theta``'s device and dtype; plus the analytic
    Hessian :meth:`hessian_at` and the critical points.
    """

    dim = 2

    def __init__(self, bend: float = 0.5, tilt: float = 0.5, stiffness: float = 1.0) -> None:
        for name, v in (("bend", bend), ("tilt", tilt), ("stiffness", stiffness)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite real number, got {v!r}")
        if stiffness <= 0:
            raise ValueError(f"stiffness must be positive, got {stiffness}")
        self.bend, self.tilt, self.stiffness = float(bend), float(tilt), float(stiffness)

    def _split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
            raise ValueError(f"theta must be a floating-point tensor, got {type(theta).__name__}")
        if theta.ndim == 0 or theta.shape[-1] != 2:
            raise ValueError(f"theta must have shape (..., 2), got {tuple(theta.shape)}")
        x, y = theta[..., 0], theta[..., 1]
        r = y - self.bend * x**2 - self.tilt * x  # distance above the valley floor, vertically
        return x, y, r

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`L(\theta)`, shape ``(...)``."""
        x, _, r = self._split(theta)
        return 0.25 * (x**2 - 1) ** 2 + 0.5 * self.stiffness * r**2

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla L = \bigl(x(x^2-1) - k r\,(2ax+b),\ k r\bigr)`, shape ``(..., 2)``."""
        x, _, r = self._split(theta)
        s = 2 * self.bend * x + self.tilt  # d(a x^2 + b x)/dx, the slope of the valley floor
        return torch.stack((x * (x**2 - 1) - self.stiffness * r * s, self.stiffness * r), dim=-1)

    def hessian_at(self, theta: torch.Tensor) -> torch.Tensor:
        r"""The analytic Hessian :math:`\nabla^2 L(\theta)`, shape ``(..., 2, 2)``.

        With :math:`s = 2ax+b`: :math:`L_{xx} = 3x^2 - 1 + k(s^2 - 2ar)`, :math:`L_{xy} = -ks`,
        :math:`L_{yy} = k`.
        """
        x, _, r = self._split(theta)
        k = self.stiffness
        s = 2 * self.bend * x + self.tilt
        hxx = 3 * x**2 - 1 + k * (s**2 - 2 * self.bend * r)
        hxy = -k * s
        hyy = torch.full_like(x, k)
        return torch.stack((torch.stack((hxx, hxy), -1), torch.stack((hxy, hyy), -1)), -2)

    @property
    def minima(self) -> torch.Tensor:
        r"""The two minima as rows, left then right: :math:`(-1, a-b)` and :math:`(1, a+b)` (float64)."""
        a, b = self.bend, self.tilt
        return torch.tensor([[-1.0, a - b], [1.0, a + b]], dtype=torch.float64)

    @property
    def saddle(self) -> torch.Tensor:
        """The saddle point, the origin (float64)."""
        return torch.zeros(2, dtype=torch.float64)

    def critical_points(self) -> dict[str, torch.Tensor]:
        """All critical points by name: ``{"left": ..., "right": ..., "saddle": ...}`` (float64)."""
        return {"left": self.minima[0], "right": self.minima[1], "saddle": self.saddle}

    def nearest_minimum(self, theta: torch.Tensor) -> torch.Tensor:
        """For each point of ``theta`` (shape ``(..., 2)``), 0 if the left minimum is closer, else 1 (int64)."""
        self._split(theta)
        m = self.minima.to(device=theta.device, dtype=theta.dtype)
        return torch.linalg.vector_norm(theta[..., None, :] - m, dim=-1).argmin(-1)

    def __repr__(self) -> str:
        return f"TwoBasins(bend={self.bend}, tilt={self.tilt}, stiffness={self.stiffness})"
