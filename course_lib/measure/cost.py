r"""What an optimizer step costs: bytes moved, floating-point operations, time.

* :func:`min_bytes_per_param` — the least an update can move: read :math:`\theta` and
  :math:`g_t`, write :math:`\theta`, and read and write each of its :math:`k` state buffers,
  :math:`(3 + 2k)` elements per parameter (12, 20, 28, 36 bytes in float32 for
  :math:`k = 0, 1, 2, 3`);
* :func:`rmw_bandwidth` — the bandwidth of an in-place read-modify-write (``x.neg_()``), the
  kernel an optimizer step is made of (no write-allocate read, unlike ``copy_``), on arrays
  larger than :func:`last_level_cache_bytes` for memory or smaller for the cache;
* :func:`fresh_bytes_per_call` — fresh memory a call obtains from the system, counted by
  :func:`fresh_bytes_reader` (pass that to :func:`~course_lib.measure.timing.time_and_count_calls`
  to count it in the very calls that are timed): on the
  CPU the pages the kernel maps for it (minor page faults × page size), on CUDA the bytes the
  caching allocator reserves anew (``cudaMalloc``). A temporary the allocator serves from memory it
  already holds counts 0; one it maps afresh costs the kernel a zero-filled page per fault;
* :func:`copy_bandwidth`, :func:`matmul_flops` — the device's copy bandwidth and its
  matrix-multiply throughput (timed with :mod:`course_lib.measure.timing`), the two ceilings of a roofline: attainable flop/s
  :math:`= \min(F_{\text{peak}},\ I \cdot B)` for arithmetic intensity :math:`I` flop/byte.

What an implementation actually moves is counted by :mod:`course_lib.measure.traffic`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from course_lib.measure.timing import time_calls

__all__ = [
    "attainable_flops",
    "copy_bandwidth",
    "fresh_bytes_per_call",
    "fresh_bytes_reader",
    "last_level_cache_bytes",
    "matmul_flops",
    "min_bytes_per_param",
    "rmw_bandwidth",
    "state_bytes_per_param",
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


def fresh_bytes_reader(device: torch.device | str) -> Callable[[], float] | None:
    """A function that returns the fresh memory the process has obtained so far, in bytes.

    CPU: the process's minor page faults (``resource.getrusage``'s ``ru_minflt``) times the page
    size: every page the kernel maps and zero-fills on first touch. The count is of base pages:
    where transparent huge pages are on for all memory, one fault may map 2 MiB and this
    undercounts. CUDA: the caching allocator's cumulative reserved bytes
    (``reserved_bytes.all.allocated``), which grow only when it asks the driver for new memory.
    ``None`` where neither count is available. Differences of two readings count what happened
    between them.
    """
    device = torch.device(device)
    if device.type != "cpu" and torch.cuda.is_available():  # the caching allocator's count
        return lambda: float(torch.cuda.memory_stats(device).get("reserved_bytes.all.allocated", 0))
    if device.type != "cpu":
        return None
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    page = resource.getpagesize()
    return lambda: float(resource.getrusage(resource.RUSAGE_SELF).ru_minflt * page)


def fresh_bytes_per_call(fn: Callable[[], Any], device: torch.device | str, calls: int = 3) -> float | None:
    """Fresh memory per call of ``fn``, in bytes, the mean over ``calls`` calls (after one uncounted call).

    Counted by :func:`fresh_bytes_reader`. On the CPU, glibc serves allocations above its mmap
    threshold (128 KiB at start, raised dynamically up to 32 MiB on 64-bit) with fresh ``mmap``s
    and returns them on ``free``, so a large temporary faults again at every call. On CUDA the
    caching allocator keeps freed blocks and reuses them, so after the first call the count is
    usually 0. ``None`` where neither count is available.
    """
    # --- validation
    if not isinstance(calls, int) or isinstance(calls, bool) or calls < 1:
        raise ValueError(f"calls must be an int >= 1, got {calls!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    # --- end validation
    read = fresh_bytes_reader(device)
    if read is None:
        return None
    fn()  # the first call may create state and grow pools: not counted
    before = read()
    for _ in range(calls):
        fn()
    return (read() - before) / calls
