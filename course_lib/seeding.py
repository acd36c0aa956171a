"""Seed every random generator a page uses, so that a page prints the same numbers on every run.

Every claim of the course must hold for *any* seed, not only the shipped one. The environment variable
``COURSE_SEED`` (an integer, default 0) is an **offset** added to every seed a page asks for, so that
``COURSE_SEED=3 jupyter nbconvert --execute …`` (or ``make seeds``) reruns every page on other random
numbers while the page's own code stays unchanged. Pages seed through :func:`seed_everything` and
:func:`make_generator` only, so the offset reaches every draw.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

#: The environment variable holding the seed offset.
SEED_ENV_VAR = "COURSE_SEED"


def seed_offset() -> int:
    """The offset read from ``COURSE_SEED`` (0 when unset); a clear error when it is not an integer."""
    raw = os.environ.get(SEED_ENV_VAR, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV_VAR} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{SEED_ENV_VAR} must be a non-negative integer, got {raw!r}")
    return value


def effective_seed(seed: int) -> int:
    """``seed`` plus the ``COURSE_SEED`` offset: the seed actually used."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed + seed_offset()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators (CPU and all GPUs) with ``seed`` + offset.

    Returns a fresh CPU ``torch.Generator`` seeded with the same value, for code that prefers an
    explicit generator to the global one.
    """
    s = effective_seed(seed)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)  # also seeds every CUDA device
    generator = torch.Generator()
    generator.manual_seed(s)
    return generator


def make_generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (CPU by default) seeded with ``seed`` + offset.

    One generator per experiment keeps each experiment reproducible on its own, whatever ran before it.
    """
    generator = torch.Generator(device=device if device is not None else "cpu")
    generator.manual_seed(effective_seed(seed))
    return generator
