"""A small deterministic problem for comparing optimizers step by step (used by the tests).

Four parameters of different shapes, all of which get gradients: a weight matrix, a bias
vector (1-d), a second weight matrix and a 0-d "temperature". The loss is a cross-entropy of
a one-hidden-layer tanh network on fixed random data, plus a quadratic term, so it is smooth,
non-convex and bounded below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["Problem", "max_relative_error"]


@dataclass
class Problem:
    """Data and initial parameters of the test problem, in a given dtype and on a given device."""

    X: Tensor
    y: Tensor
    initial: list[Tensor]

    @classmethod
    def make(cls, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu", seed: int = 0) -> Problem:
        """Draw the data and initial parameters from a seeded generator (same on every run)."""
        gen = torch.Generator().manual_seed(seed)

        def draw(*shape: int, scale: float = 1.0) -> Tensor:
            return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype=dtype, device=device)

        X, y = draw(64, 4), torch.randint(0, 3, (64,), generator=gen).to(device)
        initial = [draw(6, 4, scale=0.5), draw(6, scale=0.1), draw(3, 6, scale=0.5), torch.tensor(1.0, dtype=dtype, device=device)]
        return cls(X, y, initial)

    def params(self) -> list[Tensor]:
        """A fresh copy of the initial parameters, as leaf tensors that require grad."""
        return [p.clone().requires_grad_() for p in self.initial]

    def loss(self, params: Sequence[Tensor], sign: float = 1.0) -> Tensor:
        """``sign`` × (cross-entropy + 0.05‖W1‖² + 0.5(s − 1)²); ``sign=-1`` for ``maximize=True``."""
        W1, b1, W2, s = params
        logits = s * (torch.tanh(self.X @ W1.T + b1) @ W2.T)
        value = F.cross_entropy(logits, self.y) + 0.05 * (W1 * W1).sum() + 0.5 * (s - 1) ** 2
        return sign * value


def max_relative_error(ours: Sequence[Tensor], reference: Sequence[Tensor]) -> float:
    """max over tensors of ‖ours − reference‖_∞ / ‖reference‖_∞ (in float64)."""
    worst = 0.0
    for a, b in zip(ours, reference, strict=True):
        a, b = a.detach().double(), b.detach().double()
        scale = b.abs().max().clamp_min(torch.finfo(torch.float64).tiny)
        worst = max(worst, ((a - b).abs().max() / scale).item())
    return worst
