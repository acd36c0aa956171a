"""Execute one submission in a fresh kernel and record what its hidden checks say (the grader's child process).

Run as ``python -m course_lib.exercises.runner SOURCE SUBMISSION OUT_JSON --timeout T --check-timeout C``
by :mod:`course_lib.exercises.grading`, one process per submission, in a temporary working folder.
Phase 1 runs the student's cells (see :mod:`course_lib.exercises.submission`) under a total time limit of
``T`` seconds; a cell still running then is interrupted and the rest of phase 1 is skipped. Phase 2 runs
the hidden checks of the source notebook, each under ``C`` seconds. The JSON file is rewritten after every
step, so whatever was graded survives if the parent has to kill the process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from course_lib.exercises import notebooks as nbx
from course_lib.exercises import submission as sub
from course_lib.exercises.registry import RESULTS_ENV_VAR


def _error_of(cell: nbformat.NotebookNode) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"
    return ""


def _save(report: dict[str, Any], out: Path) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
    tmp.replace(out)


def run(source: Path, submission: Path, out: Path, timeout: float, check_timeout: float) -> dict[str, Any]:
    """Grade ``submission`` against ``source``; writes and returns the report (see the module docstring)."""
    report: dict[str, Any] = {"invalid": "", "deleted": {}, "notes": {}, "manual": {}, "cell_errors": {},
                              "stopped": "", "hidden": []}
    nb, problem = sub.load(submission)
    if nb is None:
        report["invalid"] = problem
        _save(report, out)
        return report
    plan = sub.make_plan(nbx.read(source), nb)
    report.update(deleted=plan.deleted, notes=plan.notes, manual=plan.manual_answers)
    _save(report, out)

    workdir = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        return _execute(plan, workdir, report, out, timeout, check_timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _execute(plan: sub.Plan, workdir: Path, report: dict[str, Any], out: Path, timeout: float,
             check_timeout: float) -> dict[str, Any]:
    results = workdir / ".results.jsonl"
    results.touch()
    os.environ[RESULTS_ENV_VAR] = str(results)
    os.environ.setdefault("MPLBACKEND", "Agg")
    cells = [nbformat.v4.new_code_cell(s.source) for s in plan.steps] + [
        nbformat.v4.new_code_cell(c.source) for c in plan.hidden
    ]
    run_nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                             "display_name": "Python 3"}})
    client = NotebookClient(run_nb, timeout=int(timeout), kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, resources={"metadata": {"path": str(workdir)}})
    ran_answers: set[str] = set()
    with client.setup_kernel(cwd=str(workdir)):
        deadline = time.monotonic() + timeout
        for index, step in enumerate(plan.steps):
            remaining = deadline - time.monotonic()
            if remaining < 1:
                report["stopped"] = f"the notebook ran out of its {timeout:g} s before cell {step.label!r}"
                break
            client.timeout = int(remaining)
            started = time.monotonic()
            try:
                client.execute_cell(cells[index], index)
            except DeadKernelError:
                report["stopped"] = f"the Python kernel died while running cell {step.label!r}"
                _save(report, out)
                return report
            error = _error_of(cells[index])
            if time.monotonic() - started >= int(remaining) and "KeyboardInterrupt" in error:
                report["stopped"] = (f"cell {step.label!r} was still running when the notebook's time limit of "
                                     f"{timeout:g} s ran out (an infinite loop?)")
                break
            if step.question:
                ran_answers.add(step.question)
            if error:
                report["cell_errors"][step.label] = error
        _save(report, out)
        for offset, hidden in enumerate(plan.hidden):
            index = len(plan.steps) + offset
            question, points = str(nbx.meta(hidden).get("question")), int(nbx.meta(hidden).get("points", 0))
            entry = {"id": nbx.cell_id(hidden), "question": question, "points": points, "passed": False,
                     "message": ""}
            if report["stopped"] and question not in ran_answers:
                entry["message"] = f"not graded: {report['stopped']}"
                report["hidden"].append(entry)
                continue
            before = results.stat().st_size
            client.timeout = int(check_timeout)
            started = time.monotonic()
            try:
                client.execute_cell(cells[index], index)
            except DeadKernelError:
                entry["message"] = "the Python kernel died during the check"
                report["hidden"].append(entry)
                _save(report, out)
                return report
            with open(results, encoding="utf-8") as f:
                f.seek(before)
                records = [json.loads(line) for line in f if line.strip()]
            error = _error_of(cells[index])
            if records:
                entry["passed"] = all(r["passed"] for r in records)
                entry["message"] = next((r["message"] for r in records if not r["passed"]), records[-1]["message"])
            elif time.monotonic() - started >= int(check_timeout):
                entry["message"] = f"the check did not finish within {check_timeout:g} s"
            else:
                entry["message"] = f"the check could not run: {error or 'it recorded no result'}"
            report["hidden"].append(entry)
            _save(report, out)
    return report


def main(argv: list[str] | None = None) -> None:
    """Command-line entry of the child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("submission", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--check-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    run(args.source, args.submission, args.out, args.timeout, args.check_timeout)


if __name__ == "__main__":
    main()
