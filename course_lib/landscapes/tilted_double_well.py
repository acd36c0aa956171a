r"""A tilted double well in one dimension: a shallow minimum and a deeper one (chapter 3).

.. math::

    L(\theta) = \tfrac14\theta^4 - \tfrac12\theta^2 + s\,\theta .

Without tilt (:math:`s = 0`) the wells at :math:`\theta = \pm 1` are equally deep. A tilt
:math:`0 < s < 2/(3\sqrt3)` lowers the left well and raises the right one, so a ball released high
on the right wall first meets the *shallow* minimum; whether it stays there or rolls over the barrier
into the *deep* one is the kinetic-energy question of chapter 3 (source 004's A→B→C→D picture).
The critical points are the three real roots of :math:`L'(\theta) = \theta^3 - \theta + s`.
"""

from __future__ import annotations

import math

import torch

from course_lib.landscapes.one_d import OneDimensional

__all__ = ["TiltedDoubleWell"]


class TiltedDoubleWell(OneDimensional):
    r"""The landscape :math:`L(\theta) = \theta^4/4 - \theta^2/2 + s\theta` (module docstring).

    Args:
        tilt: :math:`s`, with :math:`0 < s < 2/(3\sqrt3) \approx 0.385` (two minima; the right one shallow).

    Follows the landscapes protocol (``dim = 1``, ``theta`` of shape ``(..., 1)``) and offers
    :meth:`value` / :meth:`derivative` on plain positions of any shape, like
    :class:`~course_lib.landscapes.one_d.NarrowWideDoubleWell`.
    """

    dim = 1

    def __init__(self, tilt: float = 0.25) -> None:
        # --- validation
        if isinstance(tilt, bool) or not isinstance(tilt, (int, float)) or not math.isfinite(tilt):
            raise ValueError(f"tilt must be a finite real number, got {tilt!r}")
        if not 0 < tilt < 2 / (3 * math.sqrt(3)):
            raise ValueError(f"tilt must be in (0, 2/(3*sqrt(3))) ~ (0, 0.385) for two minima, got {tilt!r}")
        # --- end validation
        self.s = float(tilt)
        # roots of θ³ − θ + s by the trigonometric formula (three real roots when 27 s² < 4)
        r = 2 / math.sqrt(3)
        phi = math.acos(-self.s * 3 * math.sqrt(3) / 2) / 3  # 4·cos³φ − 3·cosφ = cos 3φ
        roots = sorted(r * math.cos(phi - 2 * math.pi * k / 3) for k in range(3))
        self.deep_minimum, self.barrier, self.shallow_minimum = roots

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """L at positions ``x`` of any shape."""
        return 0.25 * x**4 - 0.5 * x**2 + self.s * x

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """L'(x) = x³ − x + s, elementwise."""
        return x**3 - x + self.s

    def second_derivative(self, x: torch.Tensor) -> torch.Tensor:
        """L''(x) = 3x² − 1, elementwise."""
        return 3 * x**2 - 1

    def barrier_height(self) -> float:
        """L(barrier) − L(shallow minimum): the energy a ball at rest in the shallow well lacks to escape."""
        x = torch.tensor([self.barrier, self.shallow_minimum], dtype=torch.float64)
        v = self.value(x)
        return float(v[0] - v[1])
