"""Argument checks shared by the integrators: a bad input gets a ValueError that names it and its value."""

from __future__ import annotations

import math

import torch


def check_count(name: str, value: int, minimum: int) -> int:
    """An ``int`` (not a ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_positive(name: str, value: float) -> float:
    """A finite real number > 0, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_broadcasts_to(name: str, value: torch.Tensor, shape: torch.Size, what: str = "the state") -> None:
    """``value`` broadcasts against ``shape`` without changing it (one value per batch entry, say)."""
    try:
        broadcast = torch.broadcast_shapes(value.shape, shape)
    except RuntimeError as err:
        raise ValueError(f"{name} of shape {tuple(value.shape)} does not broadcast against {what}'s "
                         f"shape {tuple(shape)}") from err
    if broadcast != shape:
        raise ValueError(f"{name} of shape {tuple(value.shape)} would change {what}'s shape {tuple(shape)}; "
                         f"give {what} the full batch shape instead")


def finite(name: str, value: float) -> float:
    """``value`` as a float, or ValueError naming ``name`` unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def as_float64(x, name: str, device: torch.device | None = None) -> torch.Tensor:
    """``x`` (a number, a sequence or a tensor, kept on its device) as a finite real float64 tensor."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64, device=device)
    if t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {t}")
    return t
