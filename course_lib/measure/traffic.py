r"""Count what a call does to memory: the operators it dispatches, the bytes they move.

An elementwise update such as :math:`\theta \leftarrow \theta - \gamma d` does one
or two floating-point operations per element but must read :math:`\theta` and
:math:`d` and write :math:`\theta`: on every current processor moving the bytes
takes far longer than the arithmetic, so the cost of a step is set by how many times
it sweeps over parameter-sized tensors (*passes over memory*) and, for many small
tensors, by how many kernels it launches, not by its count of multiplications.

:func:`count_traffic` runs a function under a
:class:`~torch.utils._python_dispatch.TorchDispatchMode` and records every ATen
operator that reaches a kernel, in order, with the bytes it reads and writes. Views
and profiler markers move no data and are skipped. :meth:`Traffic.passes` divides
the traffic by the size of the parameters: a step that reads :math:`\theta, g, b`
and writes :math:`\theta, b` makes 5 passes. Code compiled by Inductor runs as one
opaque kernel and is not seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["Traffic", "count_traffic"]


@dataclass
class Traffic:
    """The operators a call launched, in order, and the bytes they moved."""

    bytes_read: int = 0
    bytes_written: int = 0
    kernels: list[str] = field(default_factory=list)
    peak_temporary_bytes: int = 0
    created_bytes: int = 0

    @property
    def bytes(self) -> int:
        """Bytes read plus bytes written."""
        return self.bytes_read + self.bytes_written

    @property
    def operators(self) -> int:
        """Operators that reached a kernel (a ``_foreach_`` or fused one: once)."""
        return len(self.kernels)

    def passes(self, nbytes: int) -> float:
        """Bytes read plus written, in units of ``nbytes`` (the parameters' size)."""
        if nbytes <= 0:
            raise ValueError(f"nbytes must be positive, got {nbytes}")
        return self.bytes / nbytes


# in place, but never read self
_WRITE_ONLY = {"copy_", "zero_", "fill_", "normal_", "uniform_"}


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _TrafficMode(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.read = self.written = 0
        self.kernels: list[str] = []
        # address of a temporary -> [created at, last used at, bytes]
        self.open: dict[int, list[int]] = {}
        self.closed: list[list[int]] = []

    def _touch(self, t: torch.Tensor) -> None:
        record = self.open.get(t.data_ptr())
        if record is not None:
            record[1] = len(self.kernels)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        schema = func._schema
        if func.namespace == "profiler" or func.is_view:
            return out  # a marker or a view: no data moves
        name = func.__name__.split(".")[0]
        bound = {
            a.name: (args[i] if i < len(args) else kwargs.get(a.name, a.default_value))
            for i, a in enumerate(schema.arguments)
        }
        reads: dict[int, int] = {}
        writes: dict[int, int] = {}
        for argument in schema.arguments:
            mutated = argument.alias_info is not None and argument.alias_info.is_write
            if mutated and name.startswith("_fused_") and argument.name == "grads":
                # fused kernels declare the gradients writable; they write them only
                # to unscale
                mutated = bound.get("grad_scale") is not None
            write_only = mutated and (argument.kwarg_only or name in _WRITE_ONLY)
            for t in _tensors(bound.get(argument.name)):
                self._touch(t)
                if not write_only:
                    reads[t.data_ptr()] = _nbytes(t)
                if mutated:
                    writes[t.data_ptr()] = _nbytes(t)
        values = [out] if len(schema.returns) == 1 else list(out or ())
        for r, value in zip(schema.returns, values, strict=False):
            if r.alias_info is None:  # a new tensor (or list): written, a temporary
                for t in _tensors(value):
                    writes[t.data_ptr()] = _nbytes(t)
                    # its address was freed and reused
                    previous = self.open.pop(t.data_ptr(), None)
                    if previous is not None:
                        self.closed.append(previous)
                    now = len(self.kernels)
                    self.open[t.data_ptr()] = [now, now, _nbytes(t)]
        self.read += sum(reads.values())
        self.written += sum(writes.values())
        self.kernels.append(str(func.overloadpacket.__name__))
        return out

    def created(self) -> int:
        """Bytes of all tensors created during the call (each temporary once)."""
        return sum(n for _, _, n in self.closed + list(self.open.values()))

    def peak(self) -> int:
        """Most bytes of temporaries alive at once (from creation to last use)."""
        records = self.closed + list(self.open.values())
        return max(
            (
                sum(n for start, last, n in records if start <= i <= last)
                for i in range(len(self.kernels))
            ),
            default=0,
        )


def count_traffic(fn: Callable[[], Any]) -> Traffic:
    """Run ``fn()`` once; count the operators it dispatches and the bytes they move.

    Rules: an operator reads each distinct tensor argument once and writes each
    tensor it returns or mutates once (``out=`` arguments and ``copy_``'s
    destination are written, not read); views and profiler markers move nothing and
    are not operators. The count follows each operator's declared schema.
    ``peak_temporary_bytes`` is the most bytes of tensors created during the call
    and alive at the same time; ``created_bytes`` all the bytes of tensors it
    created, the most fresh memory the call can ask the allocator for.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    mode = _TrafficMode()
    with mode:
        fn()
    return Traffic(mode.read, mode.written, mode.kernels, mode.peak(), mode.created())
