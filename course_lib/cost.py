r"""What an optimizer step costs: bytes moved, floating-point operations, time.

* :func:`min_bytes_per_param` — the least an update can move: read :math:`\theta` and
  :math:`g_t`, write :math:`\theta`, and read and write each of its :math:`k` state buffers,
  :math:`(3 + 2k)` elements per parameter (12, 20, 28, 36 bytes in float32 for
  :math:`k = 0, 1, 2, 3`);
* :func:`count_traffic` — what an implementation actually moves: every ATen operator a call
  dispatches reads its tensor inputs and writes its outputs (and the inputs it mutates) once,
  and :func:`count_traffic` adds them up, along with the peak bytes of temporaries alive at
  once; code compiled by Inductor is invisible to it (one opaque kernel);
* :func:`time_calls`, :func:`copy_bandwidth`, :func:`matmul_flops` — interleaved medians of
  wall-clock time (synchronising CUDA), the device's copy bandwidth and its matrix-multiply
  throughput, the two ceilings of a roofline: attainable flop/s
  :math:`= \min(F_{\text{peak}},\ I \cdot B)` for arithmetic intensity :math:`I` flop/byte.

(The chapter-5 helper may also provide a median timer in ``course_lib.timing``; the two can
be merged.)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "Traffic",
    "attainable_flops",
    "copy_bandwidth",
    "count_traffic",
    "last_level_cache_bytes",
    "matmul_flops",
    "min_bytes_per_param",
    "rmw_bandwidth",
    "state_bytes_per_param",
    "time_calls",
]


def min_bytes_per_param(state_buffers: int, itemsize: int = 4, state_itemsize: int | None = None) -> int:
    """Bytes a step must move per parameter: read θ and g, write θ; read and write each buffer.

    ``state_itemsize`` (default ``itemsize``) prices lower-precision state, e.g. 2 for bfloat16.
    """
    # --- validation
    if state_buffers < 0 or itemsize <= 0 or (state_itemsize is not None and state_itemsize <= 0):
        raise ValueError(f"need state_buffers >= 0 and positive sizes, got {state_buffers}, {itemsize}, "
                         f"{state_itemsize}")
    # --- end validation
    state_itemsize = itemsize if state_itemsize is None else state_itemsize
    return 3 * itemsize + 2 * state_buffers * state_itemsize


def state_bytes_per_param(optimizer: torch.optim.Optimizer) -> float:
    """Bytes of per-parameter state (tensors of the parameter's size, not 0-d counters) per parameter."""
    n_params = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    if n_params == 0:
        raise ValueError("the optimizer has no parameters")
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                total += value.numel() * value.element_size()
    return total / n_params


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


def _nbytes(t: torch.Tensor) -> int:
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
                    reads[t.data_ptr()] = _nbytes(t)
                if mutated:
                    writes[t.data_ptr()] = _nbytes(t)
        values = [out] if len(schema.returns) == 1 else list(out or ())
        for r, value in zip(schema.returns, values, strict=False):
            if r.alias_info is None:  # a new tensor (or list of them): written, and a temporary
                for t in _tensors(value):
                    writes[t.data_ptr()] = _nbytes(t)
                    previous = self.open.pop(t.data_ptr(), None)  # its address was freed and reused
                    if previous is not None:
                        self.closed.append(previous)
                    self.open[t.data_ptr()] = [self.operators, self.operators, _nbytes(t)]
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


def _synchronize(device: torch.device) -> None:
    """Wait for an accelerator's queued kernels (the CPU runs synchronously)."""
    if device.type != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize(device)


def time_calls(
    fns: dict[str, Callable[[], Any]],
    device: torch.device | str,
    repeats: int = 7,
    warmup: int = 2,
    inner: int = 1,
) -> dict[str, list[float]]:
    """Seconds per call of each function: ``repeats`` samples, each the mean of ``inner`` calls.

    The functions are measured interleaved, in a rotating order, so that a burst of load on a
    shared machine hits all of them alike; summarise with the median.
    """
    # --- validation
    if repeats < 1 or warmup < 0 or inner < 1:
        raise ValueError(f"need repeats >= 1, warmup >= 0, inner >= 1; got {repeats}, {warmup}, {inner}")
    # --- end validation
    device = torch.device(device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {key: [] for key in fns}
    keys = list(fns)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            _synchronize(device)
            start = time.perf_counter()
            for _ in range(inner):
                fns[key]()
            _synchronize(device)
            samples[key].append((time.perf_counter() - start) / inner)
    return samples


def copy_bandwidth(numel: int, device: torch.device | str, repeats: int = 7) -> float:
    """Bytes per second of ``dst.copy_(src)`` on float32 tensors: 2 × nbytes (read + write) / median time."""
    if numel < 1:
        raise ValueError(f"numel must be positive, got {numel}")
    src = torch.empty(numel, device=device).normal_()  # written once: every page is mapped
    dst = torch.empty(numel, device=device).normal_()
    seconds = statistics.median(time_calls({"copy": lambda: dst.copy_(src)}, device, repeats)["copy"])
    return 2 * numel * 4 / seconds


def matmul_flops(n: int, device: torch.device | str, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Floating-point operations per second of an n × n matrix product (2n³ per product), median."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    a = torch.empty(n, n, device=device, dtype=dtype).normal_()
    b = torch.empty(n, n, device=device, dtype=dtype).normal_()
    seconds = statistics.median(time_calls({"mm": lambda: a @ b}, device, repeats)["mm"])
    return 2 * n**3 / seconds


def attainable_flops(intensity: float, peak_flops: float, bandwidth: float) -> float:
    """The roofline: min(peak flop/s, intensity [flop/byte] × bandwidth [byte/s])."""
    if intensity < 0 or peak_flops <= 0 or bandwidth <= 0:
        raise ValueError(f"need intensity >= 0 and positive ceilings, got {intensity}, {peak_flops}, {bandwidth}")
    return min(peak_flops, intensity * bandwidth)


def last_level_cache_bytes(device: torch.device | str) -> int | None:
    """Size of the device's last-level cache in bytes (CUDA: its L2; CPU: the largest cache that
    Linux lists for CPU 0), or ``None`` where the system does not say."""
    device = torch.device(device)
    if device.type != "cpu" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).L2_cache_size)
    sizes = []
    try:
        from pathlib import Path

        for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
            text = (index / "size").read_text().strip()
            units = {"K": 2**10, "M": 2**20, "G": 2**30}
            sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
    except (OSError, ValueError, KeyError):
        return None
    return max(sizes) if sizes else None


def rmw_bandwidth(numel: int, device: torch.device | str, repeats: int = 7, inner: int = 1) -> float:
    """Bytes per second of an in-place read-modify-write, ``x.neg_()`` on ``numel`` float32 numbers.

    Each call reads every byte of ``x`` and writes it back: 2 × nbytes. Unlike ``copy_``, whose
    destination a write-allocating cache first reads (3 × nbytes cross the bus, 2 counted), an
    in-place kernel writes lines it has just read, so the count is the traffic. The *best* of
    ``repeats`` samples (each the mean of ``inner`` calls) is returned: a ceiling is the most the
    machine did, not a typical run. On arrays several times the last-level cache this is the
    memory bandwidth an optimizer step streams at; on arrays well inside it, the cache's.
    """
    if numel < 1:
        raise ValueError(f"numel must be positive, got {numel}")
    x = torch.empty(numel, device=device).normal_()  # written once: every page is mapped
    seconds = min(time_calls({"rmw": x.neg_}, device, repeats, inner=inner)["rmw"])
    return 2 * numel * 4 / seconds
