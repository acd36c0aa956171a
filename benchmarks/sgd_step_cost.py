"""Passes over memory and time of one Nesterov SGD step: for-loop, foreach, fused, course_lib, look-ahead.

Chapter 5's measurement at larger sizes. For each parameter layout (many small tensors, a 784-w-w-10
MLP for growing w) it prints the kernels and passes over memory one step makes (counted by
``course_lib.measure.traffic``, the same on every device) and the median step time (``course_lib.measure.timing``),
with the ratios to the fused kernel. The operation count, six per element, is the same for all.

This prints a table; it is not a test and exits 0 whatever the times.

    python benchmarks/sgd_step_cost.py [--device cpu] [--repeats 25]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from course_lib import get_device
from course_lib.measure.timing import time_step
from course_lib.measure.traffic import count_traffic
from course_lib.optim import SGD, SutskeverSGD

IMPLEMENTATIONS: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "for-loop": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, foreach=False),
    "foreach": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, foreach=True),
    "fused": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, fused=True),
    "course_lib": lambda p: SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
    "look-ahead": lambda p: SutskeverSGD(p, lr=1e-3, momentum=0.9, lookahead=1.0),
}


def layouts() -> dict[str, list[int]]:
    """Parameter tensor sizes: many small tensors, and MLPs 784-w-w-10 of growing width."""
    out = {"1000 x 32": [32] * 1000}
    for w in (64, 256, 1024, 4096):
        out[f"MLP w={w}"] = [784 * w, w, w * w, w, w * 10, 10]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="default: course_lib.get_device()")
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args(argv)
    device = torch.device(args.device) if args.device else get_device()
    print(f"device {device}, torch {torch.__version__}; median of {args.repeats} steps after 3 warm-up steps")
    print(f"{'layout':>12} {'params':>11} " + " ".join(f"{n:>22}" for n in IMPLEMENTATIONS))
    for name, sizes in layouts().items():
        cells = []
        times = {}
        for impl, make in IMPLEMENTATIONS.items():
            params = [torch.nn.Parameter(torch.randn(n, device=device)) for n in sizes]
            for p in params:
                p.grad = torch.randn_like(p)
            optimizer = make(params)
            optimizer.step(lambda: None)
            nbytes = sum(p.numel() * p.element_size() for p in params)
            passes = count_traffic(lambda o=optimizer: o.step(lambda: None)).passes(nbytes)
            times[impl] = time_step(lambda o=optimizer: o.step(lambda: None), repeats=args.repeats, warmup=3,
                                    device=device)
            cells.append((passes, times[impl]))
        row = " ".join(f"{p:4.0f}p {t * 1e6:8.0f}µs x{t / times['fused']:4.1f}" for p, t in cells)
        print(f"{name:>12} {sum(sizes):>11,d} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
