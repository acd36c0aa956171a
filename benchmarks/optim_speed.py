"""Every course_lib optimizer's compiled step against its physical limit, and against torch's.

For each optimizer of ``course_lib.optim``, on float32 parameters with fixed gradients (only
``optimizer.step()`` is timed, median of ``--repeats`` interleaved measurements after warm-up):

* **limit**: the least time the step can take on this machine. An elementwise step must read θ
  and g, write θ, and read and write each of its k state buffers: ``(3 + 2k) · 4`` bytes per
  parameter (:func:`course_lib.measure.cost.min_bytes_per_param`, k counted from the state the step
  creates); the limit is those bytes at the in-place read-modify-write bandwidth
  (``x.neg_()`` on an array at least as large as the last-level cache and the parameters, timed
  interleaved with the row's steps, so that load hits both alike; the header also prints
  :func:`course_lib.measure.cost.rmw_bandwidth`, the best of several runs). Adafactor reads g three times: its row and column
  statistics must be complete before U_t = G_t / sqrt(V_t) can be formed, and the clipping
  divides by RMS(U_t), which must be complete before the update; RMS(θ) is read with the
  statistics and θ again in the update: (3 + 2 + 1) · 4 = 24 bytes per parameter plus its small
  factors (the 16 bytes of an earlier version left the clipping's pass out). Muon's step is
  matrix products: its limit is also its flops (15 products for 5 Newton–Schulz steps) at the
  measured float32 matrix-multiply throughput, and the limit is the larger of the two.
* **compiled**: ``course_lib.optim.compiled`` (the readable step through ``torch.compile``),
  and the ratio compiled / limit (target on CPU at 10^7 parameters: ≤ 1.25 for the elementwise
  optimizers).
* **torch**: torch's ``fused=True`` step where torch has one for that optimizer on this device,
  else ``foreach=True``; ratio compiled / torch. Optimizers torch does not have (Lion,
  Schedule-Free, SutskeverSGD, NAG) have no torch column; NAG and SutskeverSGD are equivalent
  to torch's SGD with Nesterov / plain momentum, which is timed instead.

Elementwise optimizers run on 10^7 parameters in 4 tensors (``--numel``); Muon and Adafactor on 4
square matrices of the same total size (Muon: ``--muon-side``, 4 matrices of that side, because
its flops grow with the cube of the side). On a shared machine the absolute times are inflated;
the ratios to the limit measured in the same run are what to read, and even they move with load.
This prints a table; it is not a test and exits 0 whatever the times.

    python benchmarks/optim_speed.py [--device cpu] [--repeats 7] [--numel 10000000] [--only Adam Lion]
"""

from __future__ import annotations

import argparse
import math
import statistics
import warnings
from collections.abc import Callable
from typing import Any

import torch

import course_lib.optim as co
from course_lib.measure.cost import last_level_cache_bytes, matmul_flops, min_bytes_per_param, rmw_bandwidth
from course_lib.measure.timing import time_calls

# (row label, course_lib class, kwargs, torch class or None, kwargs for torch, shape kind)
CASES: list[tuple[str, str, dict[str, Any], str | None, dict[str, Any], str]] = [
    ("SGD", "SGD", {"lr": 1e-4}, "SGD", {"lr": 1e-4}, "flat"),
    ("SGD momentum", "SGD", {"lr": 1e-4, "momentum": 0.9}, "SGD", {"lr": 1e-4, "momentum": 0.9}, "flat"),
    ("SGD nesterov", "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True},
     "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True}, "flat"),
    ("SutskeverSGD (torch: SGD mom.)", "SutskeverSGD", {"lr": 1e-4, "momentum": 0.9},
     "SGD", {"lr": 1e-4, "momentum": 0.9}, "flat"),
    ("NAG (torch: SGD nesterov)", "NAG", {"lr": 1e-4, "momentum": 0.9},
     "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True}, "flat"),
    ("Adagrad", "Adagrad", {"lr": 1e-4}, "Adagrad", {"lr": 1e-4}, "flat"),
    ("RMSprop", "RMSprop", {"lr": 1e-4}, "RMSprop", {"lr": 1e-4}, "flat"),
    ("RMSprop centered+mom", "RMSprop", {"lr": 1e-4, "centered": True, "momentum": 0.9},
     "RMSprop", {"lr": 1e-4, "centered": True, "momentum": 0.9}, "flat"),
    ("Adadelta", "Adadelta", {}, "Adadelta", {}, "flat"),
    ("Adam", "Adam", {"lr": 1e-4}, "Adam", {"lr": 1e-4}, "flat"),
    ("Adam amsgrad", "Adam", {"lr": 1e-4, "amsgrad": True}, "Adam", {"lr": 1e-4, "amsgrad": True}, "flat"),
    ("AdamW", "AdamW", {"lr": 1e-4}, "AdamW", {"lr": 1e-4}, "flat"),
    ("NAdam", "NAdam", {"lr": 1e-4}, "NAdam", {"lr": 1e-4}, "flat"),
    ("RAdam", "RAdam", {"lr": 1e-4}, "RAdam", {"lr": 1e-4}, "flat"),
    ("Adamax", "Adamax", {"lr": 1e-4}, "Adamax", {"lr": 1e-4}, "flat"),
    ("Lion", "Lion", {"lr": 1e-5}, None, {}, "flat"),
    ("AdamWScheduleFree", "AdamWScheduleFree", {"lr": 1e-4}, None, {}, "flat"),
    ("Adafactor", "Adafactor", {"lr": 1e-3}, "Adafactor", {"lr": 1e-3}, "square"),
    ("Muon", "Muon", {"lr": 1e-3}, "Muon", {"lr": 1e-3}, "muon"),
]


def make_params(shapes: list[tuple[int, ...]], device: torch.device) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = (0.01 * torch.randn(shape, generator=gen)).to(device).requires_grad_()
        p.grad = torch.randn(shape, generator=gen).to(device)
        params.append(p)
    return params


def torch_variant(name: str | None, kwargs: dict[str, Any],
                  make: Callable[[], list[torch.Tensor]]) -> tuple[str, Any]:
    """torch's fused step if it has one here, else foreach, else its only one; (label, optimizer)."""
    cls = getattr(torch.optim, name, None) if name else None
    if cls is None:
        return "", None
    for flag in ("fused", "foreach", "default"):  # torch.optim.Muon takes neither flag
        try:
            opt = cls(make(), **kwargs, **({} if flag == "default" else {flag: True}))
            opt.step()  # some versions check fused support only at the first step
            return flag, opt
        except (RuntimeError, TypeError, ValueError):
            continue
    return "", None


def state_buffers(optimizer: torch.optim.Optimizer) -> float:
    """Parameter-sized state buffers per parameter (tensors with the parameter's shape)."""
    n = total = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            n += p.numel()
            total += sum(v.numel() for v in optimizer.state[p].values()
                         if isinstance(v, torch.Tensor) and v.shape == p.shape)
    return total / n


def muon_flops(shapes: list[tuple[int, ...]], steps: int = 5) -> float:
    """Flops of Newton–Schulz: per step 4 n^2 m + 2 n^3 for an n x m matrix with n <= m."""
    total = 0.0
    for a, b in shapes:
        n, m = min(a, b), max(a, b)
        total += steps * (4 * n * n * m + 2 * n**3)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or an accelerator (default: cpu)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved measurements per optimizer")
    parser.add_argument("--numel", type=int, default=10_000_000, help="parameters (elementwise optimizers)")
    parser.add_argument("--muon-side", type=int, default=512, help="side of Muon's 4 square matrices")
    parser.add_argument("--only", nargs="+", default=None, help="row labels to run (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)

    llc = last_level_cache_bytes(device) or 32 * 2**20
    beta = rmw_bandwidth(max(llc, args.numel // 4), device, repeats=5)
    phi = matmul_flops(1024, device, repeats=5)
    side = math.isqrt(args.numel // 4)
    shapes = {"flat": [(args.numel // 4,)] * 4, "square": [(side, side)] * 4,
              "muon": [(args.muon_side, args.muon_side)] * 4}
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, float32; "
          f"in-place read-modify-write bandwidth {beta / 1e9:.1f} GB/s (best of 5, "
          f"{4 * max(llc, args.numel // 4) / 2**20:.0f} MiB), matmul {phi / 1e9:.0f} GFLOP/s; "
          f"median of {args.repeats} interleaved steps\n")
    print("| optimizer | params | k | in-place GB/s (this row) | limit | compiled | compiled / limit "
          "| torch | torch step | compiled / torch | eager course_lib |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    cases = [c for c in CASES if args.only is None or c[0] in args.only or c[1] in args.only]
    for label, ours, kwargs, theirs, their_kwargs, kind in cases:
        P = sum(math.prod(s) for s in shapes[kind])
        eager = getattr(co, ours)(make_params(shapes[kind], device), **kwargs)
        comp = co.compiled(getattr(co, ours)(make_params(shapes[kind], device), **kwargs))
        if ours == "Muon":
            for opt in (eager, comp):
                opt.ns_dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
        flag, ref = torch_variant(theirs, their_kwargs, lambda kind=kind: make_params(shapes[kind], device))
        stream = torch.empty(max(llc // 4, P), device=device).normal_()
        fns: dict[str, Callable[[], Any]] = {"x.neg_()": stream.neg_}
        for key, opt in (("eager", eager), ("compiled", comp), ("torch", ref)):
            if opt is None:
                continue
            if hasattr(opt, "train"):
                opt.train()
            try:
                for _ in range(3):  # state, then compilation (the second step)
                    opt.step()
            except Exception as error:  # noqa: BLE001 - a graph break under fullgraph=True, say
                print(f"| {label} | {key} step failed: {type(error).__name__}: {str(error)[:80]} |")
                continue
            fns[key] = opt.step
        if "compiled" not in fns:
            continue
        t = {k: statistics.median(v) for k, v in time_calls(fns, device, args.repeats).items()}
        k = state_buffers(eager)
        bytes_per_param = 24 if ours == "Adafactor" else min_bytes_per_param(round(k))
        beta_row = 8 * stream.numel() / t["x.neg_()"]  # the in-place kernel, timed in this row
        limit = bytes_per_param * P / beta_row
        if ours == "Muon":
            limit = max(limit, muon_flops(shapes[kind]) / phi)
        torch_cells = (f"{flag} | {t['torch'] * 1e3:.2f} ms | {t['compiled'] / t['torch']:.2f}"
                       if "torch" in t else "— | — | —")
        print(f"| {label} | {P:,} | {k:.0f} | {beta_row / 1e9:.1f} GB/s | {limit * 1e3:.2f} ms "
              f"| {t['compiled'] * 1e3:.2f} ms | {t['compiled'] / limit:.2f} | {torch_cells} "
              f"| {t['eager'] * 1e3:.2f} ms |")
        del eager, comp, ref, fns, stream
    print("\nlimit: (3 + 2k) x 4 bytes per parameter at the in-place bandwidth measured in the same "
          "row, interleaved with the steps (Adafactor: 24 bytes, three passes; Muon: the larger of its bytes and "
          "its Newton-Schulz flops at the matmul throughput). A ratio below 1 means a step streamed "
          "faster than x.neg_() in that row: the limit is then a lower bound of the true one.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
