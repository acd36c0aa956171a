"""``jupyter-book build`` that executes ``--jobs`` notebooks at a time.

The book build spends most of its time executing the chapters, one kernel at a time. jupyter-book 1's
command line has no ``-j``, but its ``build_sphinx`` takes ``jobs`` and hands it to Sphinx, which then
reads (and myst-nb executes) the pages in that many processes; ``_ext/parallel_read.py`` declares the
one extension that does not say whether it allows this. The pages are the same as with
``jupyter-book build``: nothing is cached, every notebook is executed.

    python -m course_tools.book_build --jobs 2 . --all -W -n --keep-going

Every argument after the options is passed to ``jupyter-book build``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Parse ``--jobs``, then run ``jupyter-book build`` with the remaining arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", "-j", type=int, default=1, help="notebooks executed at a time (>= 1)")
    args, rest = parser.parse_known_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.jobs > 1:  # the kernels share the cores: one kernel's threads would otherwise oversubscribe them
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.jobs)))
    import jupyter_book.cli.main as cli
    import jupyter_book.sphinx as jb_sphinx

    # jupyter-book's `build` imports build_sphinx from this module when it runs
    jb_sphinx.build_sphinx = functools.partial(jb_sphinx.build_sphinx, jobs=args.jobs)
    cli.main(["build", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
