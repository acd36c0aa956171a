"""Run every chapter notebook and exercise solution under several COURSE_SEED offsets; print a pass/fail table.

Every claim of the course must hold for any seed. ``course_lib.seeding`` adds ``COURSE_SEED`` to every seed a
page asks for, so this script reruns each notebook with COURSE_SEED = 0, 1, 2, 3, 4 (by default) and reports,
per notebook and seed, ``pass`` or the failing assert's message. ``make seeds`` runs it (2 jobs, one thread
each). Exit status 1 when any run failed.

    python benchmarks/run_seeds.py [--seeds 0 1 2 3 4] [--jobs 2] [--timeout 600] [notebooks ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    return f"{ename}: {text}".strip()[:160]


def run_one(path: str, seed: int, timeout: int) -> tuple[str, int, str, float]:
    """Execute one notebook with COURSE_SEED=seed in its folder; (path, seed, 'pass' or the message, seconds)."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["COURSE_SEED"] = str(seed)  # inherited by the kernel started below
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
        result = "pass"
    except Exception as error:  # noqa: BLE001 -- every failure becomes a table entry
        result = failure_message(error)
    return path, seed, result, time.perf_counter() - start


def table(results: list[tuple[str, int, str, float]], seeds: list[int], root: Path = ROOT) -> str:
    """The notebook x seed table (plain text), then one line per failure with its message."""
    paths = sorted({r[0] for r in results})
    cell = {(r[0], r[1]): r for r in results}
    names = [str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else p for p in paths]
    width = max(len(n) for n in names)
    lines = [f"{'notebook':<{width}}  " + "  ".join(f"seed {s:<4}" for s in seeds)]
    failures = []
    for path, name in zip(paths, names, strict=True):
        row = []
        for s in seeds:
            _, _, result, seconds = cell[(path, s)]
            row.append(f"{'pass' if result == 'pass' else 'FAIL':<4} {seconds:3.0f}s")
            if result != "pass":
                failures.append(f"{name} seed {s}: {result}")
        lines.append(f"{name:<{width}}  " + "  ".join(row))
    return "\n".join(lines + ([""] + failures if failures else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: chapters and exercise solutions)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds) or args.jobs < 1:
        parser.error("seeds must be >= 0 and --jobs >= 1")
    paths = [str(Path(p).resolve()) for p in args.notebooks] or [str(p) for p in default_notebooks()]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    jobs = [(p, s) for p in paths for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, p, s, args.timeout) for p, s in jobs]
        results = []
        for future in futures:
            results.append(future.result())
            path, seed, result, seconds = results[-1]
            print(f"  {Path(path).name} seed {seed}: {'pass' if result == 'pass' else 'FAIL'} ({seconds:.0f} s)",
                  file=sys.stderr, flush=True)
    print(table(results, args.seeds))
    return 0 if all(r[2] == "pass" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
