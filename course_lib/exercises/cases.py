"""Random inputs for the checks: fresh ones for self-checks, a fixed seed for the grader's hidden checks."""

from __future__ import annotations

import secrets

import torch

#: The seed of the grader's hidden cases (fixed, so every submission gets the same ones).
HIDDEN_SEED = 20260101


def generator(hidden: bool | str) -> torch.Generator:
    """A CPU generator: fixed seed for hidden checks, a fresh random seed for self-checks."""
    seed = HIDDEN_SEED if hidden else secrets.randbits(31)
    return torch.Generator().manual_seed(seed)


def uniform(g: torch.Generator, low: float, high: float) -> float:
    """A float drawn uniformly from [low, high)."""
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def integer(g: torch.Generator, low: int, high: int) -> int:
    """An int drawn uniformly from [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=g))


def normal(g: torch.Generator, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Standard normal samples of ``shape`` in ``dtype`` (drawn in float64, then cast)."""
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)
