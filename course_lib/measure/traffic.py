r"""Count what an optimizer step does to memory: the kernels it launches and the bytes they move.

An elementwise update such as :math:`\theta \leftarrow \theta - \gamma d` does one or two floating-point
operations per element but must read :math:`\theta` and :math:`d` and write :math:`\theta`: on every
current processor moving the bytes takes far longer than the arithmetic, so the cost of a step is
set by how many times it sweeps over parameter-sized tensors (*passes over memory*) and, for many
small tensors, by how many kernels it launches, not by its count of multiplications.

:func:`count_kernels` runs a function under a :class:`~torch.utils._python_dispatch.TorchDispatchMode`
and records every ATen operator that reaches a kernel, with the bytes of the tensors it reads (every
tensor argument) and writes (its outputs and the arguments its schema marks as mutated). Views
and profiler markers move no data and are skipped. :meth:`KernelCount.passes` divides the traffic
by the size of the parameters: a step that reads :math:`\theta, g, b` and writes :math:`\theta, b`
makes 5 passes.

The count follows each operator's declared schema, so it is exact for the for-loop and ``foreach``
kernels (which read and write what they declare) and an upper bound for a fused kernel that
declares an argument writable without writing it (``torch._fused_sgd_`` declares its gradients
mutable, for the unscaling of mixed precision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["KernelCount", "Traffic", "count_kernels", "count_traffic"]


@dataclass
class KernelCount:
    """The operators a call launched, in order, and the bytes they read and wrote."""

    kernels: list[str] = field(default_factory=list)
    bytes_read: int = 0
    bytes_written: int = 0

    @property
    def n_kernels(self) -> int:
        """How many operators reached a kernel (a ``_foreach_`` or fused operator counts once)."""
        return len(self.kernels)

    def passes(self, nbytes: int) -> float:
        """Bytes read plus bytes written, in units of ``nbytes`` (the size of the parameters)."""
        if nbytes <= 0:
            raise ValueError(f"nbytes must be positive, got {nbytes}")
        return (self.bytes_read + self.bytes_written) / nbytes


def _nbytes(values: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tree_leaves(values) if isinstance(t, torch.Tensor))


class _Counter(TorchDispatchMode):
    def __init__(self, count: KernelCount) -> None:
        super().__init__()
        self.count = count

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.namespace == "profiler" or func.is_view:
            return out
        schema_args = func._schema.arguments
        values = dict(zip((a.name for a in schema_args), args, strict=False)) | kwargs
        written = [values[a.name] for a in schema_args
                   if a.alias_info is not None and a.alias_info.is_write and a.name in values]
        self.count.kernels.append(str(func.overloadpacket.__name__))
        self.count.bytes_read += _nbytes(list(values.values()))
        mutated = {id(t) for t in tree_leaves(written) if isinstance(t, torch.Tensor)}
        fresh = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and id(t) not in mutated]
        self.count.bytes_written += _nbytes(written) + _nbytes(fresh)
        return out


def count_kernels(fn: Callable[[], object]) -> KernelCount:
    """Call ``fn()`` once and return the :class:`KernelCount` of the ATen operators it ran."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    count = KernelCount()
    with _Counter(count):
        fn()
    return count


@dataclass
class Traffic:
    """Memory traffic of one call, as the ATen operators it dispatched see it."""

    bytes_read: int
    bytes_written: int
    operators: int
    peak_temporary_bytes: int

    @property
    def bytes(self) -> int:
        """Bytes read plus bytes written."""
        return self.bytes_read + self.bytes_written


_WRITE_ONLY = {"copy_", "zero_", "fill_", "normal_", "uniform_"}  # in place, but never read self


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _tensor_nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _TrafficMode(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.read = self.written = self.operators = 0
        self.open: dict[int, list[int]] = {}  # address of a temporary -> [created at, last used at, bytes]
        self.closed: list[list[int]] = []

    def _touch(self, t: torch.Tensor) -> None:
        record = self.open.get(t.data_ptr())
        if record is not None:
            record[1] = self.operators

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        schema = func._schema
        if any(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns):
            return out  # a view: no data moves
        name = func.__name__.split(".")[0]
        bound = {a.name: (args[i] if i < len(args) else kwargs.get(a.name, a.default_value))
                 for i, a in enumerate(schema.arguments)}
        reads: dict[int, int] = {}
        writes: dict[int, int] = {}
        for argument in schema.arguments:
            tensors = _tensors(bound.get(argument.name))
            mutated = argument.alias_info is not None and argument.alias_info.is_write
            if mutated and name.startswith("_fused_") and argument.name == "grads":
                mutated = bound.get("grad_scale") is not None  # fused kernels write grads only to unscale
            write_only = mutated and (argument.kwarg_only or name in _WRITE_ONLY)
            for t in tensors:
                self._touch(t)
                if not write_only:
                    reads[t.data_ptr()] = _tensor_nbytes(t)
                if mutated:
                    writes[t.data_ptr()] = _tensor_nbytes(t)
        values = [out] if len(schema.returns) == 1 else list(out or ())
        for r, value in zip(schema.returns, values, strict=False):
            if r.alias_info is None:  # a new tensor (or list of them): written, and a temporary
                for t in _tensors(value):
                    writes[t.data_ptr()] = _tensor_nbytes(t)
                    previous = self.open.pop(t.data_ptr(), None)  # its address was freed and reused
                    if previous is not None:
                        self.closed.append(previous)
                    self.open[t.data_ptr()] = [self.operators, self.operators, _tensor_nbytes(t)]
        self.read += sum(reads.values())
        self.written += sum(writes.values())
        self.operators += 1
        return out

    def peak(self) -> int:
        """Most bytes of temporaries that must coexist (each alive from creation to last use)."""
        records = self.closed + list(self.open.values())
        return max((sum(n for start, last, n in records if start <= i <= last)
                    for i in range(self.operators)), default=0)


def count_traffic(fn: Callable[[], Any]) -> Traffic:
    """Run ``fn()`` once and count the bytes its ATen operators read and write.

    Rules: an operator reads each distinct tensor argument once and writes each tensor it
    returns or mutates once (``out=`` arguments and ``copy_``'s destination are written, not
    read); views move nothing. ``peak_temporary_bytes`` is the most bytes of tensors created
    during the call and alive at the same time. Inductor-compiled code runs as one opaque
    kernel and is not seen.
    """
    mode = _TrafficMode()
    with mode:
        fn()
    return Traffic(mode.read, mode.written, mode.operators, mode.peak())
