"""Execute the book's notebooks several at a time, before the book is built (``make book``).

jupyter-book executes the pages one after another while it reads them, so on a 2-core machine half the
machine idles for most of the build. This tool executes every notebook of ``_toc.yml`` first, ``--jobs``
at a time (each kernel on one thread: two two-threaded kernels on two cores only get in each other's
way), and stores each executed notebook in the build's jupyter-cache (``_build/.jupyter_cache``). The
build (``execute_notebooks: cache`` in ``_config.yml``) then takes every page's outputs from there.
A page whose timings are its subject (notebook metadata ``"course": {"execute": "alone"}``) is executed
first, on its own, with torch's own thread count: its times are the machine's, not the machine's while
another notebook runs beside it (``make test`` starts its other parts only after these pages, too).

The cache is emptied first, so every notebook is executed on every ``make book``, as before: outputs never
come from an older run (jupyter-cache keys a notebook by its code cells only, so a change to
``course_lib`` would not make a cached page stale). A notebook that raises stops the tool with its
traceback and a non-zero exit status, before the build starts. Execution is myst-nb's own
(``jupyter_cache.executors.utils.single_nb_execution``, in the notebook's folder, with the timeout and
``allow_errors`` of ``_config.yml``), so a page's outputs are what the build's own execution gives.

Run ``python -m course_tools.book_execute [--jobs N]`` from the repository root; ``make book`` does.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

CACHE = Path("_build") / ".jupyter_cache"  # where jupyter-book 1.x keeps the cache of a build in _build


@dataclass(frozen=True)
class Executed:
    """One notebook's run: the executed notebook (JSON) or the error that stopped it."""

    path: Path
    seconds: float
    notebook: str | None
    error: str | None


def book_notebooks(root: Path) -> list[Path]:
    """The ``.ipynb`` pages of ``_toc.yml``, in reading order."""
    from course_tools.colab_edition import toc_pages

    return [root / f"{page}.ipynb" for page in toc_pages(root) if (root / f"{page}.ipynb").is_file()]


def execution_settings(root: Path) -> tuple[float | None, bool]:
    """``(timeout per cell in s, allow_errors)`` from ``_config.yml``'s ``execute`` section."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    execute = config.get("execute") or {}
    timeout = execute.get("timeout", 30)
    return (None if timeout in (None, -1) else float(timeout)), bool(execute.get("allow_errors", False))


def as_the_build_reads_it(path: Path, root: Path):
    """The notebook at ``path`` as Sphinx hands it to myst-nb: after the book's ``source-read`` rules.

    jupyter-cache matches a page to a cached run by its code cells *with their metadata*, and
    ``_ext/fold_plots.py`` tags figure cells ``hide-input`` as Sphinx reads them: a notebook cached
    without those tags would not match, and the build would execute it again, one page at a time
    (``tests/book/test_built_book.py`` fails when a page was executed twice).
    """
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("_course_fold_plots", root / "_ext" / "fold_plots.py")
    fold_plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fold_plots)
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    if fold_plots.fold_figure_cells(notebook):  # as _ext/fold_plots.py's source-read handler does
        text = json.dumps(notebook, ensure_ascii=False)
    return nbformat.reads(text, as_version=4)


def execute_one(path: Path, root: Path, timeout: float | None, allow_errors: bool) -> Executed:
    """Execute ``path`` as myst-nb would, in its own folder; returns the executed notebook as JSON."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = as_the_build_reads_it(path, root)
    result = single_nb_execution(notebook, cwd=str(path.parent), timeout=timeout, allow_errors=allow_errors,
                                 meta_override=True)
    if result.err is not None:
        return Executed(path, result.time, None, result.exc_string or repr(result.err))
    return Executed(path, result.time, nbformat.writes(result.nb), None)


def _one_thread_per_kernel() -> None:
    # the kernels inherit the worker's environment: one thread each, as the unit tests' workers run
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


def runs_alone(path: Path) -> bool:
    """Whether the notebook asks to be executed with the machine to itself (its timings are its point).

    Set in the notebook's metadata: ``"course": {"execute": "alone"}`` (chapter 7 times optimizer steps
    and reasons about the times; chapter 8 compares step times).
    """
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
    return (metadata.get("course") or {}).get("execute") == "alone"


PHASES = ("all", "alone", "rest")


def execute_book(root: Path, jobs: int = 2, cache: Path | None = None, phase: str = "all") -> list[Executed]:
    """Execute the book's notebooks into the build's jupyter-cache at ``cache``.

    ``phase="all"``: empty the cache, execute the notebooks that run alone (:func:`runs_alone`) one at a
    time with torch's own thread count, then the others ``jobs`` at a time, one thread each.
    ``"alone"`` does the first half (emptying the cache), ``"rest"`` the second (keeping what is cached),
    so that ``make test`` can start its other parts only once the timed pages are done.

    Raises ``RuntimeError`` naming the notebook (with its traceback) if one fails; the notebooks still
    running are finished (and not cached), the ones not started are not run.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    root = root.resolve()
    cache = root / CACHE if cache is None else cache
    notebooks = book_notebooks(root)
    if not notebooks:
        raise FileNotFoundError(f"no notebook pages in {root / '_toc.yml'}")
    timeout, allow_errors = execution_settings(root)
    if phase in ("all", "alone"):
        shutil.rmtree(cache, ignore_errors=True)  # every page is executed again, as with execute_notebooks: force
    alone = [p for p in notebooks if runs_alone(p)]
    rest = [p for p in notebooks if p not in alone]
    done: list[Executed] = []
    if phase in ("all", "alone"):
        done += _execute(alone, root, cache, 1, None, timeout, allow_errors, "alone")
    if phase in ("all", "rest"):
        done += _execute(rest, root, cache, jobs, _one_thread_per_kernel if jobs > 1 else None, timeout,
                         allow_errors, f"{jobs} at a time")
    return done


def _execute(notebooks: list[Path], root: Path, cache: Path, jobs: int, initializer: Callable[[], None] | None,
             timeout: float | None, allow_errors: bool, how: str) -> list[Executed]:
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    store = get_cache(str(cache))
    done: list[Executed] = []
    queue = iter(notebooks)
    with ProcessPoolExecutor(max_workers=jobs, initializer=initializer) as pool:
        # at most `jobs` notebooks in flight, the next started only when one has succeeded, so a failure
        # starts nothing more (the longest pages first would pack better, but their lengths are unknown)
        pending: set[Future[Executed]] = set()
        for path in itertools.islice(queue, jobs):
            pending.add(pool.submit(execute_one, path, root, timeout, allow_errors))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                run = future.result()
                rel = run.path.relative_to(root)
                if run.error is not None:
                    raise RuntimeError(f"{rel}: executing the notebook failed after {run.seconds:.1f} s:\n"
                                       f"{run.error}")
                record = store.cache_notebook_bundle(
                    CacheBundleIn(nbformat.reads(run.notebook, as_version=4), str(run.path),
                                  data={"execution_seconds": run.seconds}),
                    check_validity=False, overwrite=True)
                print(f"{rel}: executed in {run.seconds:.1f} s ({how}; cache record {record.pk})", flush=True)
                done.append(run)
                for path in itertools.islice(queue, 1):
                    pending.add(pool.submit(execute_one, path, root, timeout, allow_errors))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.book_execute",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: .)")
    parser.add_argument("--phase", choices=PHASES, default="all",
                        help="all (default); alone: empty the cache and execute only the notebooks that run "
                             "alone; rest: the others, keeping the cache")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    started = time.monotonic()
    try:
        runs = execute_book(args.root, args.jobs, phase=args.phase)
    except (RuntimeError, FileNotFoundError) as err:
        print(f"course_tools.book_execute: {err}", file=sys.stderr)
        return 1
    total = sum(r.seconds for r in runs)
    print(f"executed {len(runs)} notebooks ({total:.0f} s of execution) in {time.monotonic() - started:.0f} s "
          f"(phase {args.phase}: the timed pages alone, the others {args.jobs} at a time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
