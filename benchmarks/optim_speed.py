"""Step time of each course_lib optimizer against torch.optim's, on the same device.

Two problems, float32, gradients drawn once and kept fixed, only ``optimizer.step()`` timed:

* ``mlp``: the 784-200-10 MLP of source 002 (159,010 parameters in 4 tensors; Python overhead
  dominates);
* ``large``: 10^7 parameters in 4 tensors of 2.5 M (memory traffic dominates).

Columns: course_lib, torch's default implementation on that device (the single-tensor loop
on CPU, ``foreach`` on CUDA) and torch with ``foreach=False``, each the median over
``--repeats`` interleaved measurements; the ratios course/torch. For SGD with momentum and
Adam on the large problem a second table gives the bytes a step must move (read θ, g and
each buffer once, write θ and each buffer once) and the bandwidth that implies, as a fraction
of a measured ``copy_`` bandwidth (the best of the repeats, counting 2 bytes moved per byte
copied, as STREAM does; copy also pays a write-allocate read, so an in-place update can
exceed 1.0). SutskeverSGD and NAG have no torch class; they are timed
against the torch SGD they are equivalent to. Target: course/torch ≤ 1.10 on CPU.

For SGD with momentum, Adam and AdamW a third table compares ``course_lib.optim.compiled``
(the same readable step through ``torch.compile``; compilation happens in the warm-up) with
torch's ``fused=True`` kernel. Target: compiled / fused ≤ 1.25.

This prints a table; it is not a test and exits 0 whatever the times.

    python benchmarks/optim_speed.py [--device cpu] [--repeats 15] [--problems mlp large]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

import course_lib.optim as co
from course_lib.measure.timing import time_calls

# (row label, course_lib class, kwargs, torch class, torch kwargs)
CASES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    ("SGD", "SGD", {"lr": 1e-4}, "SGD", {"lr": 1e-4}),
    ("SGD momentum", "SGD", {"lr": 1e-4, "momentum": 0.9}, "SGD", {"lr": 1e-4, "momentum": 0.9}),
    ("SGD nesterov", "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True},
     "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", "Adagrad", {"lr": 1e-4}, "Adagrad", {"lr": 1e-4}),
    ("RMSprop", "RMSprop", {"lr": 1e-4}, "RMSprop", {"lr": 1e-4}),
    ("RMSprop centered+mom", "RMSprop", {"lr": 1e-4, "centered": True, "momentum": 0.9},
     "RMSprop", {"lr": 1e-4, "centered": True, "momentum": 0.9}),
    ("Adadelta", "Adadelta", {}, "Adadelta", {}),
    ("Adam", "Adam", {"lr": 1e-4}, "Adam", {"lr": 1e-4}),
    ("Adam amsgrad", "Adam", {"lr": 1e-4, "amsgrad": True}, "Adam", {"lr": 1e-4, "amsgrad": True}),
    ("AdamW", "AdamW", {"lr": 1e-4}, "AdamW", {"lr": 1e-4}),
    ("NAdam", "NAdam", {"lr": 1e-4}, "NAdam", {"lr": 1e-4}),
    ("RAdam", "RAdam", {"lr": 1e-4}, "RAdam", {"lr": 1e-4}),
    ("Adamax", "Adamax", {"lr": 1e-4}, "Adamax", {"lr": 1e-4}),
    ("SutskeverSGD (vs SGD mom.)", "SutskeverSGD", {"lr": 1e-4, "momentum": 0.9},
     "SGD", {"lr": 1e-4, "momentum": 0.9}),
    ("NAG (vs SGD nesterov)", "NAG", {"lr": 1e-4, "momentum": 0.9},
     "SGD", {"lr": 1e-4, "momentum": 0.9, "nesterov": True}),
]
SHAPES = {
    "mlp": [(200, 784), (200,), (10, 200), (10,)],
    "large": [(2_500_000,)] * 4,
}
# bytes per parameter element a step must move, in units of the element size
MIN_TRAFFIC = {"SGD momentum": 5, "Adam": 7}
# rows that also get course_lib.optim.compiled and torch's fused=True; target compiled/fused <= 1.25
COMPILED = ("SGD momentum", "Adam", "AdamW")


def make_params(shapes: list[tuple[int, ...]], device: torch.device) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = (0.01 * torch.randn(shape, generator=gen)).to(device).requires_grad_()
        p.grad = torch.randn(shape, generator=gen).to(device)
        params.append(p)
    return params


def copy_bandwidth(numel: int, device: torch.device, repeats: int) -> float:
    """Bytes per second of ``dst.copy_(src)`` for float32 tensors of ``numel`` elements (read + write)."""
    src, dst = torch.randn(numel, device=device), torch.empty(numel, device=device)
    seconds = min(time_calls({"copy": lambda: dst.copy_(src)}, device, repeats, warmup=3)["copy"])
    return 2 * numel * 4 / seconds  # the best copy seen: a ceiling, counted as STREAM does (read + write)


def benchmark(problem: str, device: torch.device, repeats: int, stat: str = "median") -> list[dict[str, Any]]:
    shapes = SHAPES[problem]
    inner = 50 if problem == "mlp" else 1
    default_is_foreach = device.type == "cuda"
    warm = torch.optim.SGD(make_params(shapes, device), lr=1e-4, momentum=0.9)
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:  # allocator, caches and clocks settle before the first row
        time_calls({"warm": warm.step}, device, repeats=1, warmup=0, inner=inner)
    rows = []
    for label, ours_name, ours_kwargs, torch_name, torch_kwargs in CASES:
        variants = {
            "course": getattr(co, ours_name)(make_params(shapes, device), **ours_kwargs),
            "torch default": getattr(torch.optim, torch_name)(make_params(shapes, device), **torch_kwargs),
            "torch foreach=False": getattr(torch.optim, torch_name)(
                make_params(shapes, device), **torch_kwargs, foreach=False
            ),
        }
        if label in COMPILED:  # the compiled readable step against torch's hand-fused kernel
            variants["course compiled"] = co.compiled(
                getattr(co, ours_name)(make_params(shapes, device), **ours_kwargs))
            variants["torch fused"] = getattr(torch.optim, torch_name)(
                make_params(shapes, device), **torch_kwargs, fused=True)
        if not default_is_foreach:  # on CPU torch's default *is* the single-tensor loop
            variants["torch default"] = variants["torch foreach=False"]
        keys = [key for key in variants if default_is_foreach or key != "torch default"]
        # 3 warm-up steps create the state (and compile: the second step); then the variants are
        # timed interleaved, in a rotating order, so that no variant is always first
        samples = time_calls({key: variants[key].step for key in keys}, device, repeats, warmup=3, inner=inner)
        if not default_is_foreach:
            samples["torch default"] = samples["torch foreach=False"]
        summary = statistics.median if stat == "median" else min
        rows.append({"label": label, "problem": problem, **{k: summary(v) for k, v in samples.items()}})
    return rows


def format_time(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds < 1e-2 else f"{seconds * 1e3:,.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved measurements per optimizer")
    parser.add_argument("--problems", nargs="+", default=["mlp", "large"], choices=sorted(SHAPES))
    parser.add_argument("--only", nargs="+", default=None, help="row labels to run (default: all)")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="summary of the repeats (min: the least disturbed run, for a busy machine)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, float32, "
          f"{args.stat} of {args.repeats} interleaved measurements\n")

    if args.only:
        CASES[:] = [case for case in CASES if case[0] in args.only]
    rows = [row for problem in args.problems for row in benchmark(problem, device, args.repeats, args.stat)]
    print("| problem | optimizer | course_lib | torch default | torch foreach=False "
          "| course / default | course / foreach=False |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['problem']} | {row['label']} | {format_time(row['course'])} "
              f"| {format_time(row['torch default'])} | {format_time(row['torch foreach=False'])} "
              f"| {row['course'] / row['torch default']:.2f} | {row['course'] / row['torch foreach=False']:.2f} |")

    compiled_rows = [row for row in rows if "course compiled" in row]
    if compiled_rows:
        print("\nThe compiled readable step against torch's fused kernel (target: compiled / fused <= 1.25):\n")
        print("| problem | optimizer | course_lib eager | course_lib compiled | torch fused "
              "| eager / fused | compiled / fused |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for row in compiled_rows:
            print(f"| {row['problem']} | {row['label']} | {format_time(row['course'])} "
                  f"| {format_time(row['course compiled'])} | {format_time(row['torch fused'])} "
                  f"| {row['course'] / row['torch fused']:.2f} | {row['course compiled'] / row['torch fused']:.2f} |")

    large = [row for row in rows if row["problem"] == "large" and row["label"] in MIN_TRAFFIC]
    if large:
        numel = sum(torch.Size(s).numel() for s in SHAPES["large"])
        bandwidth = copy_bandwidth(numel, device, args.repeats)
        print(f"\nBytes a step must move (large problem, 10^7 float32), against a measured copy_ "
              f"bandwidth of {bandwidth / 1e9:.1f} GB/s:\n")
        print("| optimizer | bytes / step | course_lib GB/s (fraction of copy) "
              "| torch default GB/s (fraction) | torch foreach=False GB/s (fraction) |")
        print("|---|---:|---:|---:|---:|")
        for row in large:
            moved = MIN_TRAFFIC[row["label"]] * numel * 4
            cells = []
            for key in ("course", "torch default", "torch foreach=False"):
                achieved = moved / row[key]
                cells.append(f"{achieved / 1e9:.1f} ({achieved / bandwidth:.2f})")
            print(f"| {row['label']} | {moved / 1e6:.0f} MB | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
