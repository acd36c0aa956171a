"""Time one optimizer step (or any short call) robustly: warm up, repeat, take the median.

A single timing of a step that lasts micro- to milliseconds says little: the first calls pay for
memory allocation and caches, and a shared machine adds bursts of delay from other processes.
:func:`time_step` therefore calls ``fn`` ``warmup`` times untimed, then ``repeats`` times timed, and
returns the **median**, which a few slow outliers cannot move. On a GPU the clock is read only after
the device is synchronised, because kernels run asynchronously and the Python call
returns before the work is done. Compare timings only as ratios taken on the same machine in the
same run; absolute times depend on the device and its load.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["time_calls", "time_samples", "time_step"]


def _synchronize(device: torch.device | str | None) -> None:
    """Wait for the kernels queued on an accelerator (a GPU); nothing to wait for on the CPU."""
    if device is None or torch.device(device).type in ("cpu", "meta"):
        return
    if hasattr(torch, "accelerator"):  # torch >= 2.6: any accelerator
        torch.accelerator.synchronize(device)
    else:
        torch.cuda.synchronize(device)


def time_samples(
    fn: Callable[[], object],
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (after ``warmup`` untimed calls), in call order.

    ``device``: pass the device the work runs on; on CUDA each call is timed between two
    synchronisations, so the time covers the kernels and not only their launch.
    """
    # --- validation
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    # --- end validation
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        samples.append(time.perf_counter() - start)
    return samples


def time_step(
    fn: Callable[[], object],
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> float:
    """The median wall-clock seconds of one call of ``fn`` (see :func:`time_samples`)."""
    return statistics.median(time_samples(fn, repeats=repeats, warmup=warmup, device=device))


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
