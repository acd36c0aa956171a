"""Command line: ``python -m course_tools build [--check]``, ``... grade SUBMISSIONS --out CSV`` and
``... colab check [--fix] [--offline]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_tools import colab
from course_tools.build import generate as builder
from course_tools.grader import grading, sandbox


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["colab"]:
        return colab.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m course_tools",
                                     description="Build and grade the course's exercise notebooks; check the Colab set-up cells.")
    parser.add_argument("--root", type=Path, default=None,
                        help="the course folder holding exercises/source (default: $COURSE_ROOT, else found "
                             "from the current folder upward)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("colab", help="check (and --fix) every notebook's Colab set-up cell; see 'colab -h'")
    b = commands.add_parser("build", help="write the student and solution notebooks and the book's markdown")
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale generated files")
    b.add_argument("--no-solutions", dest="solutions", action="store_false", default=None,
                   help="leave the solutions out of the book and the solution notebooks out of exercises/ "
                        "(graded assignments; also COURSE_SOLUTIONS=hide)")
    g = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    g.add_argument("submissions", type=Path, help="folder of submitted .ipynb files (any depth)")
    g.add_argument("--out", type=Path, required=True, help="the CSV to write")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds for a notebook's own cells (default 60)")
    g.add_argument("--check-timeout", type=float, default=60.0, help="seconds per hidden check (default 60)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted batch: keep the submissions already in OUT's journal")
    g.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="confinement: bubblewrap when it works (auto, the default), bwrap or fail, or none")
    g.add_argument("--memory-mb", type=int, default=2048, help="memory per kernel process, MB (default 2048)")
    g.add_argument("--cpu-seconds", type=int, default=600, help="CPU seconds per kernel process (default 600)")
    g.add_argument("--output-mb", type=int, default=16, help="largest file a submission writes, MB (default 16)")
    g.add_argument("--tmp-mb", type=int, default=256, help="size of a submission's private /tmp, MB (default 256)")
    g.add_argument("--max-restarts", type=int, default=2,
                   help="kernel restarts per submission after a hang or crash (default 2)")
    g.add_argument("--startup-timeout", type=float, default=120.0,
                   help="seconds for a kernel to start (default 120)")
    g.add_argument("--seed", type=int, default=None, help="the hidden cases' seed (default: a secret random one)")
    g.add_argument("--assignment", default="", help="the assignment's name in the Canvas and Moodle CSVs")
    m = commands.add_parser("marks", help="merge the hand-graded marks of RESULTS_manual.md into every output")
    m.add_argument("results", type=Path, help="the long CSV a grade run wrote (results.csv)")
    m.add_argument("--assignment", default="", help="the assignment's name in the Canvas and Moodle CSVs")
    args = parser.parse_args(argv)
    if args.command == "marks":
        rows = grading.merge_manual(args.results, args.assignment)
        marked = sum(r.marked for r in rows)
        print(f"Merged {marked} hand-graded mark(s) into {args.results} and the files beside it.")
        return 0
    try:
        root = builder.find_root(args.root)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2

    if args.command == "build":
        try:
            if args.check:
                stale = builder.stale_files(root, args.solutions)
                if stale:
                    print("Stale generated exercise files (run `python -m course_tools build`):")
                    print("\n".join(f"  {p}" for p in stale))
                    return 1
                print("Generated exercise files are up to date.")
                return 0
            touched = builder.build(root, args.solutions)
        except ValueError as err:
            print(f"Invalid source notebook: {err}", file=sys.stderr)
            return 2
        print("\n".join(f"wrote {p}" for p in touched) or "Nothing to do: everything is up to date.")
        return 0

    if not args.submissions.is_dir():
        print(f"{args.submissions} is not a folder", file=sys.stderr)
        return 2
    limits = sandbox.Limits(args.memory_mb, args.cpu_seconds, args.output_mb, args.tmp_mb)
    try:
        grading.grade(args.submissions, args.out, root, timeout=args.timeout, check_timeout=args.check_timeout,
                      jobs=args.jobs, resume=args.resume, sandbox_mode=args.sandbox, limits=limits,
                      max_restarts=args.max_restarts, startup_timeout=args.startup_timeout, seed=args.seed,
                      assignment=args.assignment)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
