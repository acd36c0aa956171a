"""Time short calls (an optimizer step) robustly: warm up, repeat, interleave, take the median.

A single timing of a step that lasts micro- to milliseconds says little: the first calls pay
for memory allocation and caches, and a shared machine adds bursts of delay from other
processes. :func:`time_calls` therefore calls each function ``warmup`` times untimed, then
takes ``repeats`` samples of each, the functions **interleaved** in a rotating order so that a
burst of load hits all of them alike; summarise with the **median**, which a few slow outliers
cannot move. The clock is :func:`torch.utils.benchmark.timer`, which synchronises the
accelerator before it reads the time (kernels run asynchronously: the Python call returns
before the work is done). :func:`time_step` is the median for one function;
:func:`time_and_count_calls` also reads a counter (page faults, say) around each timed sample. Compare timings
only as ratios taken on the same machine in the same run.

(``torch.utils.benchmark.Timer`` itself is not used for the samples: it runs its own warm-up
before every measurement and pins the thread count, and it does not interleave.)
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

# torch.utils.benchmark imports torch.utils.cpp_extension, which logs "No CUDA runtime is found" on a
# machine with a CUDA compiler but no GPU: on a page, that would be a stray stderr line under a cell
_cpp_extension_log = logging.getLogger("torch.utils.cpp_extension")
_level = _cpp_extension_log.level
_cpp_extension_log.setLevel(logging.ERROR)
try:
    from torch.utils import benchmark
finally:
    _cpp_extension_log.setLevel(_level)

__all__ = ["time_and_count_calls", "time_calls", "time_samples", "time_step"]


def _clock(device: torch.device | str | None) -> Callable[[], float]:
    """Seconds, read after the accelerator's queued work is done (nothing to wait for on a CPU)."""
    on_cpu = device is not None and torch.device(device).type in ("cpu", "meta")
    if on_cpu or not torch.accelerator.is_available():
        return time.perf_counter
    return benchmark.timer


def time_calls(
    fns: dict[str, Callable[[], Any]],
    device: torch.device | str | None = None,
    repeats: int = 7,
    warmup: int = 2,
    inner: int = 1,
) -> dict[str, list[float]]:
    """Seconds per call of each function: ``repeats`` samples, each the mean of ``inner`` calls.

    The functions are measured interleaved, in a rotating order, after ``warmup`` untimed calls
    each; summarise with the median. ``device``: the device the work runs on (``None``: wait for
    any accelerator).
    """
    return _interleaved(fns, device, repeats, warmup, inner, None)[0]


def time_and_count_calls(
    fns: dict[str, Callable[[], Any]],
    counter: Callable[[], float],
    device: torch.device | str | None = None,
    repeats: int = 7,
    warmup: int = 2,
    inner: int = 1,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """:func:`time_calls`, and what ``counter`` counted during each timed sample, per call.

    ``counter()`` returns a running total (page faults, bytes the allocator reserved); it is read
    just before each sample's clock starts and just after it stops, so the counts belong to
    exactly the calls that are timed and the readings are not part of the time. Returns
    ``(seconds, counts)``, both ``{name: one value per sample}``, counts divided by ``inner``.
    """
    if not callable(counter):
        raise TypeError(f"counter must be callable, got {type(counter).__name__}")
    samples, counts = _interleaved(fns, device, repeats, warmup, inner, counter)
    assert counts is not None
    return samples, counts


def _interleaved(
    fns: dict[str, Callable[[], Any]],
    device: torch.device | str | None,
    repeats: int,
    warmup: int,
    inner: int,
    counter: Callable[[], float] | None,
) -> tuple[dict[str, list[float]], dict[str, list[float]] | None]:
    """The measurement loop of :func:`time_calls` and :func:`time_and_count_calls`."""
    # --- validation
    for name, value, least in (("repeats", repeats, 1), ("warmup", warmup, 0), ("inner", inner, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    for key, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"fns[{key!r}] must be callable, got {type(fn).__name__}")
    # --- end validation
    clock = _clock(device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {key: [] for key in fns}
    counts: dict[str, list[float]] | None = None if counter is None else {key: [] for key in fns}
    keys = list(fns)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            before = counter() if counter is not None else 0.0
            start = clock()
            for _ in range(inner):
                fns[key]()
            samples[key].append((clock() - start) / inner)
            if counts is not None and counter is not None:
                counts[key].append((counter() - before) / inner)
    return samples, counts


def time_samples(
    fn: Callable[[], object],
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls, in order."""
    return time_calls({"fn": fn}, device, repeats=repeats, warmup=warmup)["fn"]


def time_step(
    fn: Callable[[], object],
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> float:
    """The median wall-clock seconds of one call of ``fn`` (see :func:`time_calls`)."""
    return statistics.median(time_samples(fn, repeats=repeats, warmup=warmup, device=device))
