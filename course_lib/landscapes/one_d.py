r"""A 1-D landscape with a wide, shallow minimum and a narrow, deeper one, for chapter 2.

.. math::

    L(\theta) = a\,\theta^4 + b\,\theta^2 - D \exp\!\Bigl(-\frac{(\theta - c)^2}{2w^2}\Bigr).

The polynomial is a wide bowl with its minimum at θ = 0 (curvature 2b there); the Gaussian digs a
narrow pit of depth ≈ D and width w into the bowl's wall at θ ≈ c. With the defaults the pit is
deeper than the bowl (by ≈ 0.32) but about 35 times more curved, so the Gibbs density
exp(−L/T) of chapter 2 (equation ``ch2-gibbs``) puts most mass in the pit at low temperature
(energy wins) and most in the bowl at high temperature (entropy — width — wins). Since SGD's
temperature is T = γσ²/(2B), the learning rate and the batch size decide which minimum SGD prefers.

The barrier between the minima is low on the bowl's side (≈ 0.07) so that simulated chains cross it
often and the simulation reaches its stationary law in a few time units.
"""

from __future__ import annotations

import math

import torch

__all__ = ["NarrowWideDoubleWell", "OneDimensional"]


class OneDimensional:
    """The landscapes protocol for a 1-D loss given by ``value(x)`` and ``derivative(x)`` (elementwise):
    ``loss`` and ``grad`` take θ of shape (..., 1), like the 2-D landscapes take (..., 2)."""

    @staticmethod
    def _position(theta: torch.Tensor) -> torch.Tensor:
        if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
            raise ValueError(f"theta must be a floating-point tensor, got {type(theta).__name__}")
        if theta.ndim == 0 or theta.shape[-1] != 1:
            raise ValueError(f"theta must have shape (..., 1), got {tuple(theta.shape)}")
        return theta[..., 0]

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(θ) for θ of shape (..., 1); returns shape (...)."""
        return self.value(self._position(theta))

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """∇L(θ) for θ of shape (..., 1); returns shape (..., 1)."""
        return self.derivative(self._position(theta)).unsqueeze(-1)



class NarrowWideDoubleWell(OneDimensional):
    r"""The landscape :math:`L(\theta) = a\theta^4 + b\theta^2 - D e^{-(\theta-c)^2/(2w^2)}` (module docstring).

    Args:
        quartic: :math:`a > 0`, confines the bowl (so exp(−L/T) is normalisable at every T > 0).
        quadratic: :math:`b \ge 0`, half the bowl's curvature at its centre.
        pit_depth: :math:`D > 0`.
        pit_center: :math:`c`.
        pit_width: :math:`w > 0`.

    Follows the landscapes protocol (``dim = 1``; ``theta`` of shape ``(..., 1)``; ``loss`` shape
    ``(...)``; ``grad`` shape ``(..., 1)``), and offers :meth:`value`/:meth:`derivative` on plain
    positions of any shape (what 1-D chains and grids use), the minima, the barrier and curvatures.
    """

    dim = 1

    def __init__(
        self,
        quartic: float = 0.5,
        quadratic: float = 0.5,
        pit_depth: float = 0.8,
        pit_center: float = 0.8,
        pit_width: float = 0.15,
    ) -> None:
        values = {"quartic": quartic, "quadratic": quadratic, "pit_depth": pit_depth,
                  "pit_center": pit_center, "pit_width": pit_width}
        for name, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite real number, got {v!r}")
        for name in ("quartic", "pit_depth", "pit_width"):
            if values[name] <= 0:
                raise ValueError(f"{name} must be > 0, got {values[name]!r}")
        if quadratic < 0:
            raise ValueError(f"quadratic must be >= 0, got {quadratic!r}")
        self.a, self.b, self.D = float(quartic), float(quadratic), float(pit_depth)
        self.c, self.w = float(pit_center), float(pit_width)
        self._critical: tuple[float, float, float] | None = None

    # --- plain 1-D positions, any shape -------------------------------------------------------
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """L at positions ``x`` of any shape (a grid, or many 1-D chains)."""
        u = x - self.c
        return self.a * x**4 + self.b * x**2 - self.D * torch.exp(-u * u / (2 * self.w**2))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """L'(x) = 4a x³ + 2b x + (D/w²)(x − c) exp(−(x − c)²/(2w²)), elementwise."""
        u = x - self.c
        return x * (4 * self.a * x * x + 2 * self.b) + (self.D / self.w**2) * u * torch.exp(-u * u / (2 * self.w**2))

    def second_derivative(self, x: torch.Tensor) -> torch.Tensor:
        """L''(x) = 12a x² + 2b + (D/w²)(1 − (x − c)²/w²) exp(−(x − c)²/(2w²)), elementwise."""
        u = x - self.c
        return 12 * self.a * x * x + 2 * self.b + (self.D / self.w**2) * (1 - u * u / self.w**2) * torch.exp(
            -u * u / (2 * self.w**2))

    # --- the landmarks ---------------------------------------------------------------------
    def critical_points(self) -> tuple[float, float, float]:
        """(wide minimum, barrier, narrow minimum), found by bisection on L' to float64 precision.

        Raises ValueError if the parameters do not give exactly two minima with a maximum between.
        """
        if self._critical is None:
            grid = torch.linspace(-4.0, 4.0, 8001, dtype=torch.float64)
            d = self.derivative(grid)
            roots = []
            for i in torch.nonzero(torch.sign(d[:-1]) != torch.sign(d[1:])).flatten().tolist():
                lo, hi = grid[i].clone(), grid[i + 1].clone()
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    if torch.sign(self.derivative(mid)) == torch.sign(self.derivative(lo)):
                        lo = mid
                    else:
                        hi = mid
                roots.append(float(0.5 * (lo + hi)))
            if len(roots) != 3:
                raise ValueError(f"expected two minima and a barrier, found {len(roots)} critical points: {roots}")
            self._critical = (roots[0], roots[1], roots[2])
        return self._critical

    @property
    def wide_minimum(self) -> float:
        """Position of the bowl's minimum (≈ 0)."""
        return self.critical_points()[0]

    @property
    def barrier(self) -> float:
        """Position of the maximum between the minima; it splits the line into the two basins."""
        return self.critical_points()[1]

    @property
    def narrow_minimum(self) -> float:
        """Position of the pit's minimum (≈ c, pulled slightly towards the bowl)."""
        return self.critical_points()[2]

    def curvatures(self) -> tuple[float, float]:
        """L'' at the (wide, narrow) minima — their ratio sets the entropic advantage of the wide one."""
        x = torch.tensor([self.wide_minimum, self.narrow_minimum], dtype=torch.float64)
        k = self.second_derivative(x)
        return float(k[0]), float(k[1])
