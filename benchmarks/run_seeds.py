"""Run every chapter notebook under several COURSE_SEED offsets and thread counts; print a pass/fail table.

Every claim of the course must hold for any seed, any thread count and on a loaded machine.
``course_lib.seeding`` adds ``COURSE_SEED`` to every seed a page asks for, so this script reruns each
notebook with COURSE_SEED = 0, 1, 2, 3, 4 (by default), each with ``OMP_NUM_THREADS`` = 1 and 2
(``--threads``), and with ``--load`` once more (seed 0, 2 threads) while one CPU-bound process per core
competes for the machine. It prints one notebook x run table of ``pass`` / ``FAIL`` and, per failure, the
failing claim's message (``course_lib.claims`` names the claim and how far it missed). ``make seeds``
runs chapters and exercise solutions over seeds; ``make robustness`` runs the full table. Exit status 1
when any run failed.

    python benchmarks/run_seeds.py [--seeds 0 1 2 3 4] [--threads 1 2] [--load] [--jobs 2] [notebooks ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks (chapters/NN_*.ipynb and errata) and the exercise solutions."""
    return sorted((root / "chapters").glob("*.ipynb")) + sorted((root / "exercises" / "solutions").glob("*.ipynb"))


def failure_message(error: BaseException) -> str:
    """One line from a failed run: the last line of the cell's traceback (e.g. ``AssertionError: 0.31``)."""
    text = str(getattr(error, "evalue", "") or "")
    ename = getattr(error, "ename", type(error).__name__)
    if not text:
        lines = [line for line in str(error).splitlines() if line.strip()]
        text = lines[-1] if lines else ""
    return f"{ename}: {text}".strip()[:400]


def run_one(path: str, run: str, timeout: int) -> tuple[str, str, str, float]:
    """Execute one notebook in its folder under ``run`` (e.g. ``s3/t2``: COURSE_SEED=3, 2 threads);
    (path, run, 'pass' or the message, seconds)."""
    import nbformat
    from nbclient import NotebookClient

    seed, threads = parse_run(run)
    os.environ["COURSE_SEED"] = str(seed)  # inherited by the kernel started below
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    # OpenMP threads that spin while waiting make a 2-thread run on a loaded 2-core machine 30x slower
    # (cells then time out); passive waiting changes no result, only how idle threads wait.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
        result = "pass"
    except Exception as error:  # noqa: BLE001 -- every failure becomes a table entry
        result = failure_message(error)
    return path, run, result, time.perf_counter() - start


def parse_run(run: str) -> tuple[int, int]:
    """``'s3/t2'`` or ``'s3/t2/load'`` -> (3, 2)."""
    parts = run.split("/")
    return int(parts[0][1:]), int(parts[1][1:])


def table(results: list[tuple[str, str, str, float]], seeds: list[str], root: Path = ROOT) -> str:
    """The notebook x run table (plain text), then one line per failure with its message."""
    paths = sorted({r[0] for r in results})
    cell = {(r[0], r[1]): r for r in results}
    names = [str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else p for p in paths]
    width = max(len(n) for n in names)
    lines = [f"{'notebook':<{width}}  " + "  ".join(f"{s:<9}" for s in seeds)]
    failures = []
    for path, name in zip(paths, names, strict=True):
        row = []
        for s in seeds:
            _, _, result, seconds = cell[(path, s)]
            row.append(f"{'pass' if result == 'pass' else 'FAIL':<4} {seconds:3.0f}s")
            if result != "pass":
                failures.append(f"{name} {s}: {result}")
        lines.append(f"{name:<{width}}  " + "  ".join(row))
    return "\n".join(lines + ([""] + failures if failures else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: chapters and exercise solutions)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="OMP_NUM_THREADS values")
    parser.add_argument("--load", action="store_true",
                        help="one more run (seed 0, 2 threads) beside one CPU-bound process per core")
    parser.add_argument("--chapters-only", action="store_true", help="chapters and errata, no exercise solutions")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds) or args.jobs < 1 or any(t < 1 for t in args.threads):
        parser.error("seeds must be >= 0, --threads >= 1 and --jobs >= 1")
    paths = [str(Path(p).resolve()) for p in args.notebooks] or [
        str(p) for p in default_notebooks() if not args.chapters_only or "exercises" not in p.parts
    ]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    runs = [f"s{s}/t{t}" for s in args.seeds for t in args.threads]
    results = execute(paths, runs, args.jobs, args.timeout)
    if args.load:
        with competing_load():
            results += execute(paths, ["s0/t2/load"], args.jobs, args.timeout)
        runs.append("s0/t2/load")
    print(table(results, runs))
    return 0 if all(r[2] == "pass" for r in results) else 1


def execute(paths: list[str], runs: list[str], jobs: int, timeout: int) -> list[tuple[str, str, str, float]]:
    """Every notebook under every run, ``jobs`` at a time; progress on stderr."""
    results = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, p, r, timeout) for p in paths for r in runs]
        for future in futures:
            results.append(future.result())
            path, run, result, seconds = results[-1]
            print(f"  {Path(path).name} {run}: {'pass' if result == 'pass' else 'FAIL'} ({seconds:.0f} s)",
                  file=sys.stderr, flush=True)
    return results


@contextlib.contextmanager
def competing_load() -> Iterator[None]:
    """One busy-looping process per core for the duration of the ``with`` block."""
    n = os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
