"""Print how long each notebook of the book takes to execute, and the total.

Budget on a 2-core CPU: at most 60 s per chapter (90 s for chapters 6-8, whose optimizer comparisons and
compilation take longer) and 10 min for the whole book. This is a benchmark that
prints a table, not a test: it exits 0 whatever the times are (non-zero only if a notebook fails).

    python benchmarks/notebook_times.py [--device cpu] [notebook ...]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_BUDGET_S = 60.0
LONG_CHAPTERS = ("06_", "07_", "08_")  # the Adam family, the cost of a step, after Adam
LONG_CHAPTER_BUDGET_S = 90.0
BOOK_BUDGET_S = 600.0


def budget(path: Path) -> float:
    """The time budget of one notebook."""
    return LONG_CHAPTER_BUDGET_S if path.name.startswith(LONG_CHAPTERS) else CHAPTER_BUDGET_S


def execute(path: Path, timeout: int) -> float:
    """Execute the notebook at ``path`` in a fresh kernel (cwd = its folder) and return the wall time."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook the book builds")
    parser.add_argument("--device", default=None, help="sets COURSE_DEVICE for the kernels (e.g. cpu)")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    if args.device:
        os.environ["COURSE_DEVICE"] = args.device
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "exercises" / "source").glob("*.ipynb"))
    rows, total, failed = [], 0.0, 0
    for path in notebooks:
        try:
            seconds = execute(path.resolve(), args.timeout)
            status = "ok" if seconds <= budget(path) else f"OVER {budget(path):.0f} s"
        except Exception as err:  # noqa: BLE001 -- report any failure and go on with the next notebook
            seconds, status, failed = float("nan"), f"FAILED: {type(err).__name__}", failed + 1
        total += 0.0 if math.isnan(seconds) else seconds
        rows.append((str(path.relative_to(ROOT) if path.is_absolute() else path), seconds, status))
        print(f"  ... {rows[-1][0]}: {seconds:.1f} s", file=sys.stderr)
    width = max(len(r[0]) for r in rows)
    print(f"{'notebook':<{width}}  {'seconds':>8}  status")
    print(f"{'-' * width}  {'-' * 8}  ------")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {status}")
    book_status = "ok" if total <= BOOK_BUDGET_S else f"OVER {BOOK_BUDGET_S:.0f} s"
    print(f"{'total':<{width}}  {total:8.1f}  {book_status}")
    import torch  # imported late: only to report where the kernels ran

    print(f"\n(device: {os.environ.get('COURSE_DEVICE') or ('cuda' if torch.cuda.is_available() else 'cpu')}; "
          f"{os.cpu_count()} CPU cores)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
