"""The trusted grader: grade a folder of submitted notebooks into a CSV no submission can tamper with.

``python -m course_tools grade SUBMISSIONS_DIR --out results.csv [--timeout 60] [--jobs 2]``

This is the instructor's side. Every ``*.ipynb`` under ``SUBMISSIONS_DIR`` (any depth; one folder per
student) is read once, into memory, before anything runs, matched to its source notebook (by
``metadata.exercise.set`` or the file name), and graded by :mod:`course_tools.grader.session`: its
cells run in a confined kernel (:mod:`course_tools.grader.sandbox`), its answers are called across the
process boundary, and the scores are decided here, in a process that runs no student code. Points per
question are the sum of its passed hidden checks, capped by the points in the source's header.

The CSV has one row per submission and question: ``submission, question, points, max_points,
message``. Explain questions get 0 automatic points and a message starting with ``manual:``; their
answers are collected in ``<out>_manual.md``. Each submission's rows are appended to the CSV and to a
journal (``<out>.journal.jsonl``) as soon as it is graded, so an interrupted batch loses nothing and
``--resume`` continues it; at the end the CSV is written again, whole and sorted, after every process
the batch started has been killed.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from course_lib.exercises.registry import load_errors, questions
from course_tools.build import notebooks as nbx
from course_tools.build.generate import sources
from course_tools.grader import sandbox
from course_tools.grader.session import HiddenResult, Report, Settings, Trusted, grade_submission
from course_tools.grader.submission import library_calls, make_plan, read_bytes

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


@dataclasses.dataclass
class Submission:
    """A submitted file, read once before anything runs."""

    name: str
    data: bytes
    student: str
    digest: str


def match_source(name: str, data: bytes, source_paths: list[Path]) -> Path | None:
    """The source notebook a submission belongs to: by its metadata if readable, else by file name."""
    by_stem = {p.stem: p for p in source_paths}
    nb, _, _ = read_bytes(data)
    if nb is not None:
        set_name = nb.metadata.get(nbx.META, {}).get("set", "") if isinstance(nb.metadata.get(nbx.META), dict) else ""
        if set_name in by_stem:
            return by_stem[set_name]
    base = Path(name).name
    hits = [p for stem, p in by_stem.items() if stem in base or base.startswith(stem[:2] + "_")]
    return hits[0] if len(hits) == 1 else None


def _student_of(name: str, source_paths: list[Path]) -> str:
    """Who handed a file in: its first folder, or its file name without the set's name."""
    parts = Path(name).parts
    if len(parts) > 1:
        return parts[0]
    base = Path(name).stem
    for p in source_paths:
        base = base.replace(p.stem, "")
    return base.strip("_- .") or Path(name).stem


def collect(folder: Path, source_paths: list[Path]) -> list[Submission]:
    """Every submission under ``folder``, read into memory now (later changes on disk don't count)."""
    found = []
    for path in sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
        if path.is_symlink() or not path.is_file():
            continue
        name = str(path.relative_to(folder))
        try:
            data = path.read_bytes()
        except OSError as err:
            data = f"unreadable: {err}".encode()
        found.append(Submission(name, data, _student_of(name, source_paths), hashlib.sha256(data).hexdigest()))
    return found


def _duplicate_notes(subs: list[Submission], source_of: dict[str, Path | None]) -> dict[str, str]:
    groups: dict[tuple[str, str], list[str]] = {}
    for s in subs:
        key = (s.student, source_of[s.name].stem if source_of[s.name] else "?")
        groups.setdefault(key, []).append(s.name)
    notes = {}
    for (student, set_name), names in groups.items():
        if len(names) > 1:
            for name in names:
                notes[name] = (f"FLAG: student {student!r} handed in {len(names)} notebooks for {set_name} "
                               f"({', '.join(names)}); each was graded — decide which counts")
    return notes


def rows_for(name: str, source_nb: Any, nb_problem: str, read_notes: list[str], plan: Any,
             report: Report, extra_notes: list[str]) -> list[Row]:
    """The CSV rows of one submission: points capped by the header, every record tied to its question."""
    known = questions()
    rows: list[Row] = []
    by_q: dict[str, list[HiddenResult]] = {}
    for entry in report.hidden:
        by_q.setdefault(str(entry.question), []).append(entry)
    common = [*extra_notes, *read_notes, *report.general]
    for ex in nbx.exercises(source_nb):
        q, max_points = ex.question, float(ex.header.points)
        notes = list(plan.notes.get(q, [])) if plan is not None else []
        if nb_problem:
            head = ("manual: the notebook could not be read — " if ex.kind == "explain" else "") + nb_problem
            rows.append(Row(name, q, 0.0, max_points, "; ".join([head, *common])))
            continue
        if q in plan.blocked:
            rows.append(Row(name, q, 0.0, max_points, "; ".join([plan.blocked[q], *notes, *common])))
            continue
        if ex.kind == "explain":
            text = plan.manual_answers.get(q, "").replace("**Your answer:**", "").strip()
            written = bool(text) and text != nbx.TEXT_PLACEHOLDER
            head = "manual: " + ("grade by hand (see the _manual.md file)" if written else "no answer written")
            rows.append(Row(name, q, 0.0, max_points, "; ".join([head, *notes, *common]),
                            plan.manual_answers.get(q, "")))
            continue
        entries = by_q.get(q, [])
        points = min(max_points, float(sum(int(e.points) for e in entries if e.passed)))
        failing = [str(e.message).rstrip(".") for e in entries if not e.passed]
        expected_cells = {nbx.cell_id(c) for c in ex.hidden}
        if len({e.id for e in entries} & expected_cells) < len(expected_cells):
            failing.append(f"not graded: {report.stopped or 'the grader stopped early'}")
        message = "; ".join(dict.fromkeys(failing)) if failing else "passed"
        flags = []
        question = known.get(q)
        if question is not None and question.forbid:
            code = "\n\n".join([plan.code.get(q, ""), plan.code.get("", "")])
            called = library_calls(code, list(question.forbid))
            runtime = [f for e in entries for f in e.flags]
            if called or runtime:
                what = ", ".join(called) if called else "; ".join(dict.fromkeys(runtime))
                flags.append(f"FLAG: the answer uses {what}, the library's own version of what it was asked to "
                             f"write — check by hand")
        parts = [*flags, message, *notes, *common]
        rows.append(Row(name, q, points, max_points, "; ".join(p for p in dict.fromkeys(parts) if p not in message
                                                               or p == message)))
    return rows


def _write_rows(writer_path: Path, rows: list[Row], header: bool) -> None:
    with open(writer_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(FIELDS)
        for r in rows:
            writer.writerow([r.submission, r.question, f"{r.points:g}", f"{r.max_points:g}", r.message])
        f.flush()
        os.fsync(f.fileno())


def _journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


def _read_journal(path: Path) -> tuple[int | None, dict[str, list[Row]]]:
    seed, done = None, {}
    if not path.is_file():
        return seed, done
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut off by the interruption
        if "seed" in record:
            seed = int(record["seed"])
        elif "submission" in record:
            done[record["submission"]] = [Row(**r) for r in record["rows"]]
    return seed, done


def batch_bound(n_submissions: int, jobs: int, per_submission: float) -> float:
    """The wall time within which a batch finishes, once the checks are prepared."""
    return math.ceil(n_submissions / max(1, jobs)) * per_submission + 30


def grade(submissions: Path, out: Path, root: Path, timeout: float = 60.0, check_timeout: float = 60.0,
          jobs: int = 1, echo: bool = True, *, resume: bool = False, sandbox_mode: str = "auto",
          limits: sandbox.Limits | None = None, max_restarts: int = 2, startup_timeout: float = 120.0,
          seed: int | None = None) -> list[Row]:
    """Grade every notebook under ``submissions``; write ``out`` (CSV) and ``<out>_manual.md``; return the rows."""
    say = (lambda text: print(text, flush=True)) if echo else (lambda text: None)
    started = time.monotonic()
    sandbox.become_subreaper()
    source_paths = sources(root)
    source_nbs = {p: nbx.read(p) for p in source_paths}
    subs = collect(submissions, source_paths)
    source_of = {s.name: match_source(s.name, s.data, source_paths) for s in subs}
    duplicates = _duplicate_notes(subs, source_of)

    journal = _journal_path(out)
    old_seed, done = _read_journal(journal) if resume else (None, {})
    seed = old_seed if old_seed is not None else (seed if seed is not None else secrets.randbits(31))
    out.parent.mkdir(parents=True, exist_ok=True)
    if not resume or old_seed is None:
        journal.write_text(json.dumps({"seed": seed}) + "\n", encoding="utf-8")
        done = {}
    out.unlink(missing_ok=True)
    _write_rows(out, [r for rows in done.values() for r in rows], header=True)

    mode = sandbox.probe(sandbox_mode)
    if mode.kind != "bwrap":
        print(sandbox.FALLBACK_WARNING.format(why=mode.why), file=sys.stderr, flush=True)
    problems = load_errors()
    if problems:
        print(f"WARNING: some chapter checks failed to load: {problems}", file=sys.stderr, flush=True)
    settings = Settings(timeout=timeout, check_timeout=check_timeout, startup_timeout=startup_timeout,
                        max_restarts=max_restarts, limits=limits or sandbox.Limits(), mode=mode)
    trusted = Trusted(seed)
    _prepare(trusted, source_nbs, say)
    settings = dataclasses.replace(settings, max_cases=trusted.max_cases())
    todo = [s for s in subs if s.name not in done]
    n_hidden = max([sum(nbx.role(c) == "hidden" for c in nb.cells) for nb in source_nbs.values()] or [0])
    per = settings.submission_bound(n_hidden)
    say(f"Grading {len(todo)} submission(s) ({len(done)} already done) with {jobs} job(s), confinement: "
        f"{mode.kind}; this batch finishes within {batch_bound(len(todo), jobs, per):.0f} s "
        f"(each submission within {per:.0f} s).")

    lock = threading.Lock()

    def one(sub: Submission) -> list[Row]:
        t0 = time.monotonic()
        rows = _grade_one(sub, source_of[sub.name], source_nbs, trusted, settings, duplicates.get(sub.name))
        with lock:
            _write_rows(out, rows, header=False)
            with open(journal, "a", encoding="utf-8") as f:
                f.write(json.dumps({"submission": sub.name, "sha256": sub.digest,
                                    "rows": [dataclasses.asdict(r) for r in rows]}) + "\n")
                f.flush()
                os.fsync(f.fileno())
        got = sum(r.points for r in rows)
        best = sum(r.max_points for r in rows if not r.message.startswith("manual"))
        say(f"graded {sub.name}: {got:g}/{best:g} automatic points ({time.monotonic() - t0:.1f} s)")
        return rows

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        fresh = {sub.name: rows for sub, rows in zip(todo, pool.map(one, todo), strict=True)}
    leftovers = sandbox.sweep_descendants()
    if leftovers:
        say(f"killed {len(leftovers)} leftover process(es): {'; '.join(leftovers)}")
    everything = {**done, **fresh}
    rows = [r for s in subs for r in everything.get(s.name, [])]
    write_csv(rows, out)
    write_manual(rows, out.with_name(out.stem + "_manual.md"))
    say(summary(rows))
    say(f"Done in {time.monotonic() - started:.0f} s.")
    return rows


def _prepare(trusted: Trusted, source_nbs: dict[Path, Any], say: Any) -> None:
    """Compute every expected value and verified prediction once, before any submission runs."""
    known = questions()
    t0 = time.monotonic()
    for nb in source_nbs.values():
        for cell in nb.cells:
            if nbx.role(cell) != "hidden":
                continue
            try:
                call = nbx.hidden_call(cell.source)
                q = known[call.question]
                if q.kind == "implement":
                    trusted.cases(q, call.group)
                elif q.kind == "predict":
                    trusted.truth(q)
            except Exception as exc:  # noqa: BLE001 - reported per submission by the session
                say(f"WARNING: preparing the hidden check {nbx.cell_id(cell)!r} failed: {type(exc).__name__}: {exc}")
    say(f"Prepared the checks in {time.monotonic() - t0:.1f} s.")


def _grade_one(sub: Submission, source: Path | None, source_nbs: dict[Path, Any], trusted: Trusted,
               settings: Settings, duplicate: str | None) -> list[Row]:
    extra = [duplicate] if duplicate else []
    if source is None:
        unmatched = "no exercise set matches this file (rename it as handed out)"
        return [Row(sub.name, "?", 0.0, 0.0, "; ".join([unmatched, *extra]))]
    source_nb = source_nbs[source]
    nb, problem, read_notes = read_bytes(sub.data)
    if nb is None:
        return rows_for(sub.name, source_nb, problem, read_notes, None, Report(), extra)
    plan = make_plan(source_nb, nb)
    report = grade_submission(plan, source_nb, trusted, settings)
    return rows_for(sub.name, source_nb, "", read_notes, plan, report, extra)


def write_csv(rows: list[Row], out: Path) -> None:
    """Write the grade CSV (atomically: a temporary file renamed over ``out``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in rows:
            writer.writerow([r.submission, r.question, f"{r.points:g}", f"{r.max_points:g}", r.message])
    tmp.replace(out)


def write_manual(rows: list[Row], out: Path) -> None:
    """Write the free-text answers of the explain questions, one section per submission, for hand grading."""
    lines = ["# Answers to grade by hand", ""]
    for r in rows:
        if r.message.startswith("manual"):
            text = r.manual_text.replace("**Your answer:**", "").strip() or "(no answer)"
            lines += [f"## {r.submission} — question {r.question} ({r.max_points:g} points)", "", text, ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def summary(rows: list[Row]) -> str:
    """A plain-text table: one line per submission, automatic points per question and in total; then flags."""
    questions_seen = list(dict.fromkeys(r.question for r in rows))
    by_sub: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_sub.setdefault(r.submission, {})[r.question] = r
    width = max([len("submission"), *(len(s) for s in by_sub)])
    head = f"{'submission':<{width}}  " + "  ".join(f"{q:>5}" for q in questions_seen) + "   total"
    lines = [head, "-" * len(head)]
    for name, cells in by_sub.items():
        auto = [r for r in cells.values() if not r.message.startswith("manual")]
        marks = "  ".join(
            f"{'man':>5}" if (r := cells.get(q)) is not None and r.message.startswith("manual")
            else (f"{cells[q].points:>5g}" if q in cells else f"{'-':>5}") for q in questions_seen
        )
        lines.append(f"{name:<{width}}  {marks}   {sum(r.points for r in auto):g}/{sum(r.max_points for r in auto):g}")
    lines.append("(man = explain question, graded by hand; answers in the _manual.md file)")
    flagged = sorted({r.submission for r in rows if "FLAG:" in r.message})
    if flagged:
        lines.append(f"Flagged for a look by hand: {', '.join(flagged)}")
    return "\n".join(lines)
