"""The grader: run every submitted notebook in its own process, run the hidden checks, write a CSV.

``python -m course_lib.exercises grade SUBMISSIONS_DIR --out results.csv [--timeout 60] [--jobs 2]``

Each ``*.ipynb`` under ``SUBMISSIONS_DIR`` (any depth; e.g. one folder per student) is matched to its
source notebook by its ``metadata.exercise.set`` or, failing that, by its file name, and graded by
:mod:`course_lib.exercises.runner` in a separate process with a fresh kernel and a temporary working
folder. A crash, an infinite loop, a broken file or deleted/reordered cells each give a recorded score
with the reason, and the batch goes on. The CSV has one row per submission and question:
``submission, question, points, max_points, message``. Explain questions get 0 automatic points and a
message starting with ``manual:``; their answers are collected in ``<out>_manual.md`` for the instructor.

Student code runs unsandboxed, with the grader's permissions: see the instructor guide for a container.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from course_lib.exercises import notebooks as nbx
from course_lib.exercises.build import sources

FIELDS = ("submission", "question", "points", "max_points", "message")


@dataclasses.dataclass
class Row:
    """One line of the grade CSV."""

    submission: str
    question: str
    points: float
    max_points: float
    message: str
    manual_text: str = ""


def match_source(path: Path, source_paths: list[Path]) -> Path | None:
    """The source notebook a submission belongs to: by its metadata if readable, else by file name."""
    by_stem = {p.stem: p for p in source_paths}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        name = data.get("metadata", {}).get(nbx.META, {}).get("set", "")
        if name in by_stem:
            return by_stem[name]
    except (OSError, ValueError, AttributeError):
        pass
    hits = [p for stem, p in by_stem.items() if stem in path.name or path.name.startswith(stem[:2] + "_")]
    return hits[0] if len(hits) == 1 else None


def _run_child(source: Path, submission: Path, timeout: float, check_timeout: float) -> tuple[dict[str, Any], str]:
    """Run the runner in a new process group; kill the whole group past the hard limit."""
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        out = Path(tmp) / "report.json"
        n_hidden = sum(1 for c in nbx.read(source).cells if nbx.role(c) == "hidden")
        hard_limit = timeout + n_hidden * check_timeout + 60
        cmd = [sys.executable, "-m", "course_lib.exercises.runner", str(source), str(submission.resolve()), str(out),
               "--timeout", str(timeout), "--check-timeout", str(check_timeout)]
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, text=True)
        problem = ""
        try:
            log, _ = proc.communicate(timeout=hard_limit)
            if proc.returncode != 0:
                problem = f"the grading process failed (exit code {proc.returncode}): {log.strip()[-300:]}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            problem = f"the grading process was killed after {hard_limit:g} s"
        report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
        return report, problem


def rows_for(name: str, source: Path, report: dict[str, Any], problem: str) -> list[Row]:
    """The CSV rows of one submission from its runner report."""
    rows: list[Row] = []
    graded = {}
    for entry in report.get("hidden", []):
        graded.setdefault(entry["question"], []).append(entry)
    for ex in nbx.exercises(nbx.read(source)):
        q, max_points = ex.question, float(ex.header.points)
        notes = report.get("notes", {}).get(q, [])
        if report.get("invalid"):
            rows.append(Row(name, q, 0.0, max_points, report["invalid"]))
        elif q in report.get("deleted", {}):
            rows.append(Row(name, q, 0.0, max_points, report["deleted"][q]))
        elif ex.kind == "explain":
            text = report.get("manual", {}).get(q, "").replace("**Your answer:**", "").strip()
            written = text and text != nbx.TEXT_PLACEHOLDER
            rows.append(Row(name, q, 0.0, max_points, "manual: " + ("grade by hand (see the _manual.md file)"
                                                                  if written else "no answer written")))
        else:
            entries = graded.get(q, [])
            points = float(sum(e["points"] for e in entries if e["passed"]))
            failing = [e["message"] for e in entries if not e["passed"]]
            missing = len({nbx.cell_id(c) for c in ex.hidden}) - len(entries)
            if missing > 0:
                failing.append(f"not graded: {problem or report.get('stopped') or 'the grader stopped early'}")
            message = "; ".join(dict.fromkeys(failing)) if failing else "passed"
            rows.append(Row(name, q, points, max_points, "; ".join([message, *notes])))
    return rows


def grade(submissions: Path, out: Path, root: Path, timeout: float = 60.0, check_timeout: float = 60.0,
          jobs: int = 1, echo: bool = True) -> list[Row]:
    """Grade every notebook under ``submissions``; write ``out`` (CSV) and ``<out>_manual.md``; return the rows."""
    source_paths = sources(root)
    paths = sorted(p for p in submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)

    def one(path: Path) -> list[Row]:
        name = str(path.relative_to(submissions))
        source = match_source(path, source_paths)
        if source is None:
            return [Row(name, "?", 0.0, 0.0, "no exercise set matches this file (rename it as handed out)")]
        started = time.monotonic()
        report, problem = _run_child(source, path, timeout, check_timeout)
        rows = rows_for(name, source, report, problem)
        if echo:
            got, best = sum(r.points for r in rows), sum(r.max_points for r in rows if not r.message.startswith("manual"))
            print(f"graded {name}: {got:g}/{best:g} automatic points ({time.monotonic() - started:.1f} s)", flush=True)
        for row in rows:
            row.manual_text = report.get("manual", {}).get(row.question, "")
        return rows

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = [row for result in pool.map(one, paths) for row in result]
    write_csv(rows, out)
    write_manual(rows, out.with_name(out.stem + "_manual.md"))
    if echo:
        print(summary(rows))
    return rows


def write_csv(rows: list[Row], out: Path) -> None:
    """Write the grade CSV."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in rows:
            writer.writerow([r.submission, r.question, f"{r.points:g}", f"{r.max_points:g}", r.message])


def write_manual(rows: list[Row], out: Path) -> None:
    """Write the free-text answers of the explain questions, one section per submission, for hand grading."""
    lines = ["# Answers to grade by hand", ""]
    for r in rows:
        if r.message.startswith("manual"):
            text = r.manual_text.replace("**Your answer:**", "").strip() or "(no answer)"
            lines += [f"## {r.submission} — question {r.question} ({r.max_points:g} points)", "", text, ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def summary(rows: list[Row]) -> str:
    """A plain-text table: one line per submission, automatic points per question and in total."""
    questions = list(dict.fromkeys(r.question for r in rows))
    by_sub: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_sub.setdefault(r.submission, {})[r.question] = r
    width = max([len("submission"), *(len(s) for s in by_sub)])
    head = f"{'submission':<{width}}  " + "  ".join(f"{q:>5}" for q in questions) + "   total"
    lines = [head, "-" * len(head)]
    for name, cells in by_sub.items():
        auto = [r for r in cells.values() if not r.message.startswith("manual")]
        marks = "  ".join(
            f"{'man':>5}" if (r := cells.get(q)) is not None and r.message.startswith("manual")
            else (f"{cells[q].points:>5g}" if q in cells else f"{'-':>5}") for q in questions
        )
        lines.append(f"{name:<{width}}  {marks}   {sum(r.points for r in auto):g}/{sum(r.max_points for r in auto):g}")
    lines.append("(man = explain question, graded by hand; answers in the _manual.md file)")
    return "\n".join(lines)
