r"""The one-dimensional function on which heavy ball with Polyak's tuning cycles (Lessard et al., 2016).

.. math::
   \nabla L(x) = \begin{cases} 25x & x < 1 \\ x + 24 & 1 \le x < 2 \\ 25x - 24 & x \ge 2 \end{cases}

:math:`L` is convex and piecewise quadratic, with curvature between :math:`m = 1` and
:math:`L = 25` (so :math:`\kappa = 25`): strongly convex and smooth, the class for which Polyak's
parameters :math:`\gamma = 4/(\sqrt{L}+\sqrt{m})^2`, :math:`\mu = ((\sqrt\kappa-1)/(\sqrt\kappa+1))^2`
are optimal on quadratics. Lessard, Recht and Packard (2016) show that heavy ball with these
parameters, started near :math:`x = 3.3`, settles on a cycle of period 3 instead of converging.
"""

from __future__ import annotations

import torch

__all__ = ["LessardCounterexample"]


class LessardCounterexample:
    """The piecewise quadratic of Lessard, Recht & Packard (2016), in the landscapes protocol (``dim = 1``)."""

    dim = 1
    #: The smallest and largest curvature (strong convexity and smoothness constants).
    strong_convexity = 1.0
    smoothness = 25.0

    @staticmethod
    def _check(theta: torch.Tensor) -> torch.Tensor:
        if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
            raise ValueError("theta must be a floating-point tensor of shape (..., 1)")
        if theta.ndim == 0 or theta.shape[-1] != 1:
            raise ValueError(f"theta must have shape (..., 1), got {tuple(theta.shape)}")
        return theta[..., 0]

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`L(x)`, continuous with a continuous derivative; minimum 0 at :math:`x = 0`."""
        x = self._check(theta)
        return torch.where(x < 1, 12.5 * x**2,
                           torch.where(x < 2, 0.5 * x**2 + 24 * x - 12, 12.5 * x**2 - 24 * x + 36))

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla L(x)` (module docstring), shape ``(..., 1)``."""
        x = self._check(theta)
        return torch.where(x < 1, 25 * x, torch.where(x < 2, x + 24, 25 * x - 24))[..., None]

    def __repr__(self) -> str:
        return "LessardCounterexample()"
