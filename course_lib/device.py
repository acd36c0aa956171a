"""Choose the device every notebook and benchmark runs on, in one place.

The course never writes a device name into a cell. It calls :func:`get_device` once, near the
top of a notebook, and passes the result on. That keeps every page runnable on a laptop without a
GPU, on Colab with one, and lets a reader (or the test suite) force a choice with one variable.
"""

from __future__ import annotations

import os

import torch

#: Environment variable that forces the device, e.g. ``COURSE_DEVICE=cpu``.
DEVICE_ENV_VAR = "COURSE_DEVICE"

_ACCELERATOR = "cuda"  # the one place in the course that names the accelerator (tests/book/test_notebooks.py allows it here only)


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: the GPU when one is usable, else the CPU.

    The choice, in order of precedence:

    1. ``prefer``, if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...);
    2. the environment variable ``COURSE_DEVICE``, if set and not empty;
    3. CUDA when ``torch.cuda.is_available()``, else the CPU.

    Raises:
        ValueError: the requested name is not a device torch knows.
        RuntimeError: a CUDA device was requested but none is usable here.
    """
    requested = prefer if prefer is not None else os.environ.get(DEVICE_ENV_VAR, "").strip()
    if not requested:
        return torch.device(_ACCELERATOR if torch.cuda.is_available() else "cpu")
    source = "argument prefer" if prefer is not None else f"environment variable {DEVICE_ENV_VAR}"
    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(
            f"{source}={requested!r} is not a device name torch understands; "
            f"use 'cpu' or '{_ACCELERATOR}' (optionally with an index, e.g. '{_ACCELERATOR}:0')."
        ) from err
    if device.type == _ACCELERATOR:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{source}={requested!r} asks for a GPU, but torch.cuda.is_available() is False here "
                f"(no GPU, a CPU-only torch build, or CUDA_VISIBLE_DEVICES hides it). "
                f"Unset {DEVICE_ENV_VAR} or set it to 'cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{source}={requested!r} asks for GPU {device.index}, "
                f"but only {torch.cuda.device_count()} GPU(s) are visible."
            )
    elif device.type != "cpu":
        raise ValueError(f"{source}={requested!r}: the course runs on 'cpu' or '{_ACCELERATOR}' only.")
    return device
