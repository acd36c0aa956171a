"""The trusted grader: grade a folder of submitted notebooks into CSVs no submission can tamper with.

``python -m course_tools grade SUBMISSIONS_DIR --out results.csv [--timeout 60] [--jobs 2]``

This is the instructor's side. Every ``*.ipynb`` under ``SUBMISSIONS_DIR`` (any depth; one folder per
student) is copied once, before anything runs, into a private spool (its size checked before it is read;
a symbolic link is reported, not followed), matched to its source notebook (by ``metadata.exercise.set``
or the file name), and graded by :mod:`course_tools.grader.session`: its cells run in a confined kernel
(:mod:`course_tools.grader.sandbox`), its answers are called across the process boundary, and the scores
are decided here, in a process that runs no student code. Points per question are the sum of its passed
hidden checks, capped by the points in the source's header. Whatever one submission is or sends, it
costs only its own rows (:func:`grade_one_contained`).

The long CSV has one row per submission and question: ``submission, question, points, max_points,
message``. Explain questions get 0 automatic points and a message starting with ``manual:``; their
answers are collected in ``<out>_manual.md``, whose marks :func:`merge_manual` merges back. Beside it:
the wide, Canvas and Moodle CSVs, the per-submission feedback files and the summary (:func:`write_all`).
Each submission's rows are appended to the CSV and to a journal (``<out>.journal.jsonl``) as soon as it is
graded, so an interrupted batch loses nothing and ``--resume`` continues it (giving up on a submission
whose grading was interrupted twice); at the end every file is written again, whole, after every process
the batch started has been killed. Text a student controls is defused in every file an instructor opens
(:func:`cell_text`, :func:`quote_answer`).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import sys
import tempfile
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
from course_tools.grader.submission import library_calls, make_plan, read_bytes, read_file, scan_refused

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
    checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # per hidden check, for feedback
    kind: str = ""  # implement | predict | explain | "" (unknown)
    student: str = ""
    marked: bool = False  # an explain question's points were merged back from the manual file


@dataclasses.dataclass
class Submission:
    """A submitted file, read once before anything runs: its copy in the grader's private spool.

    ``problem`` says why it can't be graded at all (a symbolic link, too large, unreadable); then
    ``spooled`` is None.
    """

    name: str
    spooled: Path | None
    student: str
    digest: str
    problem: str = ""
    set_name: str = ""

    @property
    def data(self) -> bytes:
        """The bytes handed in (as read before anything ran)."""
        if self.spooled is None:
            return b""
        data, _ = read_file(self.spooled)
        return data or b""


def match_source(name: str, data: bytes | None, source_paths: list[Path], set_name: str = "") -> Path | None:
    """The source notebook a submission belongs to: by its metadata if readable, else by file name."""
    by_stem = {p.stem: p for p in source_paths}
    if data is not None and not set_name:
        nb, _, _ = read_bytes(data)
        meta = nb.metadata.get(nbx.META) if nb is not None else None
        set_name = str(meta.get("set", "")) if isinstance(meta, dict) else ""
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


def _printable(name: str) -> str:
    """A file name as it may appear in the CSV and the Markdown files: control characters as '?'."""
    return "".join(c if c.isprintable() else "?" for c in name)[:300]


def _walk(folder: Path) -> list[tuple[str, Path]]:
    """Every ``*.ipynb`` under ``folder`` (symbolic links included, never followed), as (name, path)."""
    found = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        base = Path(here)
        for d in dirs:
            if (base / d).is_symlink():
                found.append((str((base / d).relative_to(folder)), base / d))
        for f in sorted(files):
            if f.endswith(".ipynb"):
                found.append((str((base / f).relative_to(folder)), base / f))
    return sorted(found)


def collect(folder: Path, source_paths: list[Path], spool: Path | None = None) -> list[Submission]:
    """Every submission under ``folder``, copied now into ``spool`` (later changes on disk don't count).

    Each file's size is checked before it is read, at most :data:`~course_tools.grader.submission.MAX_BYTES`
    are read, and only its copy in the spool is kept (not its bytes in memory). A symbolic link is not
    followed: it gets a row saying so.
    """
    spool = spool or Path(tempfile.mkdtemp(prefix="grader-spool-"))
    found = []
    for index, (raw_name, path) in enumerate(_walk(folder)):
        name = _printable(raw_name)
        student = _student_of(name, source_paths)
        if path.is_symlink():
            target = _printable(os.readlink(path))[:100]
            found.append(Submission(name, None, student, "", f"not graded: {name!r} is a symbolic link (to "
                                    f"{target!r}), not a notebook; hand in the notebook itself"))
            continue
        data, problem = read_file(path)
        if data is None:
            found.append(Submission(name, None, student, "", f"not graded: {problem}"))
            continue
        copy = spool / f"{index:06d}.ipynb"
        copy.write_bytes(data)
        nb, _, _ = read_bytes(data)
        meta = nb.metadata.get(nbx.META) if nb is not None else None
        set_name = str(meta.get("set", ""))[:100] if isinstance(meta, dict) else ""
        found.append(Submission(name, copy, student, hashlib.sha256(data).hexdigest(), "", set_name))
        del data, nb
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
    if plan is not None:
        common += plan.general
    for ex in nbx.exercises(source_nb):
        q, max_points = ex.question, float(ex.header.points)
        notes = list(plan.notes.get(q, [])) if plan is not None else []
        if nb_problem:
            head = ("manual: the notebook could not be read — " if ex.kind == "explain" else "") + nb_problem
            rows.append(Row(name, q, 0.0, max_points, _join([head, *common]), kind=ex.kind))
            continue
        if q in plan.blocked:
            rows.append(Row(name, q, 0.0, max_points, _join([plan.blocked[q], *notes, *common]), kind=ex.kind))
            continue
        if ex.kind == "explain":
            text = plan.manual_answers.get(q, "").replace("**Your answer:**", "").strip()
            written = bool(text) and text != nbx.TEXT_PLACEHOLDER
            head = "manual: " + ("grade by hand (see the _manual.md file)" if written else "no answer written")
            rows.append(Row(name, q, 0.0, max_points, _join([head, *notes, *common]),
                            plan.manual_answers.get(q, "")[:20_000], kind=ex.kind))
            continue
        entries = by_q.get(q, [])
        points = min(max_points, float(sum(int(e.points) for e in entries if e.passed)))
        expected_cells = {nbx.cell_id(c): c for c in ex.hidden}
        checks = []
        for cid, cell in expected_cells.items():
            mine = [e for e in entries if e.id == cid]
            worth = int(nbx.meta(cell).get("points", 0))
            group = _group_label(cell)
            if mine:
                e = mine[-1]
                checks.append({"check": group, "points": worth if e.passed else 0, "max_points": worth,
                               "passed": bool(e.passed), "message": str(e.message)[:600]})
            else:
                checks.append({"check": group, "points": 0, "max_points": worth, "passed": False,
                               "message": f"not graded: {report.stopped or 'the grader stopped early'}"})
        failing = merge_repeated([(c["check"], c["message"].rstrip(".")) for c in checks if not c["passed"]])
        if len(checks) > 1 and failing:
            tally = ", ".join(f"{c['check']} {c['points']}/{c['max_points']}" for c in checks)
            message = f"points per check: {tally} — " + "; ".join(failing)
        else:
            message = "; ".join(failing) if failing else "passed"
        flags = []
        question = known.get(q)
        if question is not None and question.forbid:
            code = "\n\n".join([plan.code.get(q, ""), plan.code.get("", "")])
            refused = scan_refused(code)
            called = library_calls(code, list(question.forbid))
            runtime = [f for e in entries for f in e.flags]
            if called or runtime:
                what = ", ".join(called) if called else "; ".join(dict.fromkeys(runtime))
                flags.append(f"FLAG: the answer uses {what}, the library's own version of what it was asked to "
                             f"write — check by hand")
            elif refused:
                flags.append(f"FLAG: the library-use scan could not read this answer ({refused}) — check by hand")
        parts = [*flags, message, *notes, *common]
        rows.append(Row(name, q, points, max_points, _join(p for p in dict.fromkeys(parts) if p not in message
                                                           or p == message), checks=checks, kind=ex.kind))
    return rows


def merge_repeated(messages: list[tuple[str, str]]) -> list[str]:
    """Failure messages of several checks, each problem said once: a message that repeats an earlier
    one but for its case (the text before " on case") becomes "<check>: the same problem"."""
    out, heads = [], {}
    for check, text in messages:
        head = text.split(" on case ")[0]
        if head in heads:
            out.append(f"{check}: the same problem")
        else:
            heads[head] = check
            out.append(text)
    return list(dict.fromkeys(out))


def _join(parts: Any) -> str:
    """The parts of a message, joined on one line (no line breaks, at most 2000 characters)."""
    text = "; ".join(str(p) for p in parts if p)
    text = re.sub(r"[\r\n\t\v\f]+", " ", text)
    return text if len(text) <= 2000 else text[:1990] + " […]"


def _group_label(cell: Any) -> str:
    try:
        group = nbx.hidden_call(cell.source).group
    except ValueError:
        return "check"
    return "random cases" if group is True else f"{group} cases"


def failure_rows(name: str, source_nb: Any, why: str, extra: list[str] | None = None) -> list[Row]:
    """0-point rows saying ``why`` for every question of ``source_nb`` (or one '?' row without a source)."""
    if source_nb is None:
        return [Row(name, "?", 0.0, 0.0, _join([why, *(extra or [])]))]
    rows = []
    try:
        exercises = nbx.exercises(source_nb)
    except Exception:  # noqa: BLE001 - the source is the maintainers' file, but never stop the batch
        return [Row(name, "?", 0.0, 0.0, _join([why, *(extra or [])]))]
    for ex in exercises:
        head = ("manual: " if ex.kind == "explain" else "") + why
        rows.append(Row(name, ex.question, 0.0, float(ex.header.points), _join([head, *(extra or [])]), kind=ex.kind))
    return rows


def _write_rows(writer_path: Path, rows: list[Row], header: bool) -> None:
    with open(writer_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(FIELDS)
        for r in rows:
            writer.writerow(_csv_row(r))
        f.flush()
        os.fsync(f.fileno())


def cell_text(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: a leading = + - @ (or tab, CR) gets a ' before it."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_row(r: Row) -> list[str]:
    return [cell_text(r.submission), cell_text(r.question), f"{r.points:g}", f"{r.max_points:g}", cell_text(r.message)]


def _journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


#: A submission whose grading was started this many times without finishing (the grader itself crashed
#: or was killed while grading it) is not tried again by ``--resume``: it gets a row saying so.
MAX_STARTS = 2


def _read_journal(path: Path) -> tuple[int | None, dict[str, list[Row]], dict[str, int]]:
    """(seed, finished submissions' rows, how often each unfinished one was started)."""
    seed, done, started = None, {}, {}
    if not path.is_file():
        return seed, done, started
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            if "seed" in record:
                seed = int(record["seed"])
            elif "started" in record:
                started[str(record["started"])] = started.get(str(record["started"]), 0) + 1
            elif "submission" in record:
                done[record["submission"]] = [Row(**r) for r in record["rows"]]
        except (ValueError, TypeError, KeyError, RecursionError):
            continue  # a line cut off by the interruption
    return seed, done, {k: v for k, v in started.items() if k not in done}


def batch_bound(n_submissions: int, jobs: int, per_submission: float) -> float:
    """The wall time within which a batch finishes, once the checks are prepared."""
    return math.ceil(n_submissions / max(1, jobs)) * per_submission + 30


def grade(submissions: Path, out: Path, root: Path, timeout: float = 60.0, check_timeout: float = 60.0,
          jobs: int = 1, echo: bool = True, *, resume: bool = False, sandbox_mode: str = "auto",
          limits: sandbox.Limits | None = None, max_restarts: int = 2, startup_timeout: float = 120.0,
          seed: int | None = None, assignment: str = "") -> list[Row]:
    """Grade every notebook under ``submissions``; write ``out`` (CSV) and the files beside it; return the rows.

    Beside ``out`` (``results.csv``): ``results_manual.md`` (the explain answers, with a ``Points:`` line
    to fill in for :func:`merge_manual`), ``results_wide.csv``, ``results_canvas.csv``,
    ``results_moodle.csv``, ``results_summary.txt`` and ``results_feedback/<student>/<set>.md``.
    Whatever one submission does, it costs only its own rows: every failure on the trusted side while
    grading it becomes a row saying what happened, and the batch goes on.
    """
    say = (lambda text: print(text, flush=True)) if echo else (lambda text: None)
    started = time.monotonic()
    sandbox.become_subreaper()
    source_paths = sources(root)
    if not source_paths:
        raise RuntimeError(f"no exercise sources under {root}/exercises/source: pass the course's folder with "
                           f"--root (or set COURSE_ROOT)")
    source_nbs = {p: nbx.read(p) for p in source_paths}
    spool = Path(tempfile.mkdtemp(prefix="grader-spool-"))
    try:
        return _grade_batch(submissions, out, source_paths, source_nbs, spool, say, started, timeout=timeout,
                            check_timeout=check_timeout, jobs=jobs, resume=resume, sandbox_mode=sandbox_mode,
                            limits=limits, max_restarts=max_restarts, startup_timeout=startup_timeout, seed=seed,
                            assignment=assignment)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _grade_batch(submissions: Path, out: Path, source_paths: list[Path], source_nbs: dict[Path, Any], spool: Path,
                 say: Any, started: float, *, timeout: float, check_timeout: float, jobs: int, resume: bool,
                 sandbox_mode: str, limits: sandbox.Limits | None, max_restarts: int, startup_timeout: float,
                 seed: int | None, assignment: str) -> list[Row]:
    subs = collect(submissions, source_paths, spool)
    source_of = {}
    for s in subs:
        try:
            source_of[s.name] = match_source(s.name, None, source_paths, s.set_name)
        except Exception:  # noqa: BLE001 - never stop the batch
            source_of[s.name] = None
    duplicates = _duplicate_notes([s for s in subs if not s.problem], source_of)

    journal = _journal_path(out)
    old_seed, done, starts = _read_journal(journal) if resume else (None, {}, {})
    seed = old_seed if old_seed is not None else (seed if seed is not None else secrets.randbits(31))
    out.parent.mkdir(parents=True, exist_ok=True)
    if not resume or old_seed is None:
        journal.write_text(json.dumps({"seed": seed}) + "\n", encoding="utf-8")
        done, starts = {}, {}
    out.unlink(missing_ok=True)
    _write_rows(out, [r for rows in done.values() for r in rows], header=True)

    mode = sandbox.probe(sandbox_mode)
    if mode.kind != "bwrap":
        print(sandbox.FALLBACK_WARNING.format(why=mode.why), file=sys.stderr, flush=True)
    if not mode.cgroup:
        print(sandbox.NO_CGROUP_WARNING.format(why=mode.cgroup_why[:300]), file=sys.stderr, flush=True)
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
        f"{mode.kind}, submission cap: {('cgroup ' + mode.cgroup) if mode.cgroup else 'per-process rlimits'}; "
        f"this batch finishes within {batch_bound(len(todo), jobs, per):.0f} s (each submission within {per:.0f} s).")

    lock = threading.Lock()

    def record(entry: dict[str, Any]) -> None:
        with open(journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def one(sub: Submission) -> list[Row]:
        t0 = time.monotonic()
        source = source_of.get(sub.name)
        source_nb = source_nbs.get(source) if source is not None else None
        tries = starts.get(sub.name, 0)
        if tries >= MAX_STARTS:
            rows = failure_rows(sub.name, source_nb, f"not graded: grading this submission was interrupted {tries} "
                                f"times (the grader itself crashed or was killed while grading it), so --resume "
                                f"does not try it again; grade it by hand")
        else:
            with lock:
                record({"started": sub.name})
            rows = grade_one_contained(sub, source, source_nbs, trusted, settings, duplicates.get(sub.name))
        with lock:
            _write_rows(out, rows, header=False)
            record({"submission": sub.name, "sha256": sub.digest, "rows": [dataclasses.asdict(r) for r in rows]})
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
    students = {s.name: s.student for s in subs}
    handed = [p for p in source_nbs if p in set(source_of.values())]
    write_all(rows, out, students, assignment or _assignment_name(handed or list(source_nbs)))
    say(summary(rows))
    say(f"Done in {time.monotonic() - started:.0f} s. Wrote {out} and, beside it, the wide, Canvas and Moodle "
        f"CSVs, the summary, the manual file and the feedback folder.")
    return rows


def _assignment_name(paths: list[Path]) -> str:
    """The assignment's default name in the LMS CSVs: the exercise set(s) handed in."""
    return "Exercises " + (", ".join(p.stem[:2] for p in paths) if len(paths) > 1 else paths[0].stem)


def grade_one_contained(sub: Submission, source: Path | None, source_nbs: dict[Path, Any], trusted: Trusted,
                        settings: Settings, duplicate: str | None) -> list[Row]:
    """Grade one submission; whatever goes wrong on the trusted side becomes its rows, never an exception."""
    extra = [duplicate] if duplicate else []
    source_nb = source_nbs.get(source) if source is not None else None
    if sub.problem:
        return failure_rows(sub.name, source_nb, sub.problem, extra)
    try:
        return _grade_one(sub, source, source_nbs, trusted, settings, duplicate)
    except (Exception, RecursionError, MemoryError) as exc:  # noqa: BLE001 - one submission, never the batch
        why = (f"not graded: the grader failed on this submission ({type(exc).__name__}: {str(exc)[:200]}); "
               f"the other submissions are not affected — grade it by hand and tell the course maintainers")
        return failure_rows(sub.name, source_nb, why, extra)


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
    data = sub.data
    nb, problem, read_notes = read_bytes(data)
    del data
    if nb is None:
        return rows_for(sub.name, source_nb, problem, read_notes, None, Report(), extra)
    plan = make_plan(source_nb, nb)
    report = grade_submission(plan, source_nb, trusted, settings)
    return rows_for(sub.name, source_nb, "", read_notes, plan, report, extra)


def write_csv(rows: list[Row], out: Path) -> None:
    """Write the grade CSV (atomically: a temporary file renamed over ``out``)."""
    _write_table(out, list(FIELDS), [_csv_row(r) for r in rows])


def _write_table(out: Path, header: list[str], table: list[list[str]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([cell_text(h) for h in header])
        writer.writerows(table)
    tmp.replace(out)


def beside(out: Path, suffix: str) -> Path:
    """A file next to ``out``: ``results.csv`` + ``_wide.csv`` -> ``results_wide.csv``."""
    return out.with_name(out.stem + suffix)


def write_all(rows: list[Row], out: Path, students: dict[str, str], assignment: str, *, manual: bool = True) -> None:
    """Every output of a batch: the long CSV, the wide, Canvas and Moodle CSVs, the summary, the feedback
    files, and (unless ``manual=False``, when marks are being merged back) the manual file."""
    for r in rows:
        r.student = r.student or students.get(r.submission, r.submission.split("/")[0])
    write_csv(rows, out)
    if manual:
        write_manual(rows, beside(out, "_manual.md"))
    write_wide(rows, beside(out, "_wide.csv"))
    write_canvas(rows, beside(out, "_canvas.csv"), assignment)
    write_moodle(rows, beside(out, "_moodle.csv"), assignment)
    write_feedback(rows, beside(out, "_feedback"))
    beside(out, "_summary.txt").write_text(summary(rows) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------ hand-graded marks

_MARK_RE = re.compile(r"^<!-- grade: (?P<key>\[.*\]) -->$")
_POINTS_RE = re.compile(r"^Points:\s*(?P<points>[0-9]+(?:\.[0-9]+)?)?\s*_*\s*/\s*(?P<max>[0-9.]+)\s*$")


def quote_answer(text: str) -> list[str]:
    """A student's answer as a Markdown block quote: no line of it can start a heading, a marker or a
    ``Points:`` line of the manual file."""
    lines = text.replace("**Your answer:**", "").strip().splitlines() or ["(no answer)"]
    return ["> " + "".join(c if c.isprintable() or c == "\t" else "?" for c in line)[:2000] for line in lines[:500]]


def write_manual(rows: list[Row], out: Path) -> None:
    """Write the explain answers, one section per submission and question, each with a ``Points:`` line.

    Fill in the points, then ``python -m course_tools marks results.csv`` merges them back.
    """
    lines = ["# Answers to grade by hand", "",
             "Write each mark on its `Points:` line (e.g. `Points: 1.5 / 2`), then merge them into the CSVs with",
             "`python -m course_tools marks RESULTS.csv`. The students' text is quoted (`>`); the",
             "heading and the `grade:` marker above it come from the grader.", ""]
    for r in rows:
        if r.kind == "explain" or r.message.startswith("manual"):
            lines += [f"## {r.submission} — question {r.question} ({r.max_points:g} points)", "",
                      f"<!-- grade: {json.dumps([r.submission, r.question])} -->",
                      f"Points: {'_' if not r.marked else f'{r.points:g}'} / {r.max_points:g}", "",
                      *quote_answer(r.manual_text or "(no answer)"), ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def read_marks(path: Path) -> dict[tuple[str, str], float]:
    """The marks written in a manual file: {(submission, question): points}; unmarked sections are left out."""
    marks: dict[tuple[str, str], float] = {}
    key: tuple[str, str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _MARK_RE.match(line)
        if m:
            try:
                sub_name, question = json.loads(m["key"])
                key = (str(sub_name), str(question))
            except (ValueError, TypeError):
                key = None
            continue
        p = _POINTS_RE.match(line)
        if p and key is not None:
            if p["points"] is not None:
                marks[key] = float(p["points"])
            key = None
    return marks


def merge_manual(out: Path, assignment: str = "") -> list[Row]:
    """Merge the marks of ``<out>_manual.md`` into every output of the batch whose long CSV is ``out``.

    The rows come from the batch's journal (which keeps the details the feedback files show); a mark is
    capped by the question's points. Returns the rows.
    """
    _, done, _ = _read_journal(_journal_path(out))
    order = []
    with open(out, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            name = rec["submission"]
            name = name[1:] if name[:1] == "'" and name[1:2] in ("=", "+", "-", "@", "\t", "\r") else name
            if name in done and name not in order:
                order.append(name)
    rows = [r for name in order for r in done[name]]
    marks = read_marks(beside(out, "_manual.md"))
    for r in rows:
        if (r.submission, r.question) in marks and r.message.startswith("manual"):
            r.points = max(0.0, min(r.max_points, marks[(r.submission, r.question)]))
            r.marked = True
            r.message = _join([f"manual: marked by hand, {r.points:g}/{r.max_points:g}",
                               r.message.removeprefix("manual: ")])
    write_all(rows, out, {}, assignment or "Exercises", manual=False)
    return rows


# --------------------------------------------------------------------------------------- LMS exports


def _by_student(rows: list[Row]) -> dict[str, dict[str, Row]]:
    """Per student, per question, the best row (a student who handed in twice gets the better one)."""
    table: dict[str, dict[str, Row]] = {}
    for r in rows:
        cells = table.setdefault(r.student or r.submission, {})
        if r.question not in cells or r.points > cells[r.question].points:
            cells[r.question] = r
    return table


def _questions(rows: list[Row]) -> list[str]:
    return sorted({r.question for r in rows}, key=lambda q: [int(x) if x.isdigit() else 0 for x in q.split(".")])


def _totals(cells: dict[str, Row]) -> tuple[float, float | None, float]:
    """(automatic points, manual points or None while any is unmarked, max points)."""
    auto = sum(r.points for r in cells.values() if r.kind != "explain" and not r.message.startswith("manual"))
    manual_rows = [r for r in cells.values() if r.kind == "explain" or r.message.startswith("manual")]
    manual = sum(r.points for r in manual_rows) if all(r.marked for r in manual_rows) else None
    return auto, manual, sum(r.max_points for r in cells.values())


def write_wide(rows: list[Row], out: Path) -> None:
    """One row per student: a column per question, the manual points (blank until marked), the total."""
    qs = _questions(rows)
    maxima = {r.question: r.max_points for r in rows}
    table = []
    for student, cells in _by_student(rows).items():
        auto, manual, best = _totals(cells)
        table.append([cell_text(student),
                      *[(f"{cells[q].points:g}" if q in cells else "") for q in qs],
                      f"{auto:g}", "" if manual is None else f"{manual:g}", f"{auto + (manual or 0):g}", f"{best:g}"])
    _write_table(out, ["student", *[f"{q} ({maxima[q]:g})" for q in qs], "automatic", "manual", "total", "max"],
                 table)


def write_canvas(rows: list[Row], out: Path, assignment: str) -> None:
    """A Canvas gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment,
    with the ``Points Possible`` row Canvas expects. The student is matched by SIS Login ID (the folder
    name each student handed in under)."""
    table = []
    best = 0.0
    for student, cells in _by_student(rows).items():
        auto, manual, most = _totals(cells)
        best = max(best, most)
        table.append([cell_text(student), "", "", cell_text(student), "", f"{auto + (manual or 0):g}"])
    head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment]
    _write_table(out, head, [["Points Possible", "", "", "", "", f"{best:g}"], *table])


def write_moodle(rows: list[Row], out: Path, assignment: str) -> None:
    """A Moodle grade import (Grades → Import → CSV file): ``Username``, the grade and its feedback text;
    map Username to "username" (or rename the folders to email addresses and map those)."""
    table = []
    for student, cells in _by_student(rows).items():
        auto, manual, _ = _totals(cells)
        failing = [f"{q}: {r.points:g}/{r.max_points:g}" for q, r in sorted(cells.items())
                   if r.points < r.max_points and (r.marked or not (r.kind == "explain" or r.message.startswith("manual")))]
        note = "all automatic checks passed" if not failing else "not full marks: " + ", ".join(failing)
        if manual is None:
            note += " (hand-graded questions not yet marked)"
        table.append([cell_text(student), f"{auto + (manual or 0):g}", cell_text(note)])
    _write_table(out, ["Username", assignment, "Feedback"], table)


def _safe_file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "__")).strip("._") or "submission"


def write_feedback(rows: list[Row], folder: Path) -> None:
    """One Markdown file per submission to hand back: per question the points, what passed, what failed
    and why (the failing case and the hint), per hidden check."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    by_sub: dict[str, list[Row]] = {}
    for r in rows:
        by_sub.setdefault(r.submission, []).append(r)
    for name, mine in by_sub.items():
        got = sum(r.points for r in mine)
        best = sum(r.max_points for r in mine)
        lines = [f"# Feedback on {name}", "", f"{got:g} of {best:g} points"
                 + (" (hand-graded questions not yet marked)" if any(
                     (r.kind == "explain" or r.message.startswith("manual")) and not r.marked for r in mine) else ""),
                 ""]
        for r in mine:
            lines += [f"## Question {r.question}: {r.points:g} / {r.max_points:g}", ""]
            if r.checks:
                for c in r.checks:
                    mark = "passed" if c["passed"] else "failed"
                    text = "" if c["passed"] else " — " + str(c["message"])
                    lines.append(f"- {c['check']} ({c['points']:g}/{c['max_points']:g} points): {mark}{text}")
                extra = [p for p in r.message.split("; ") if p.startswith(("note:", "repaired:", "FLAG:"))]
                lines += [f"- {p}" for p in extra]
            else:
                lines.append(f"- {r.message}")
            lines.append("")
        (folder / f"{_safe_file(name)}.md").write_text("\n".join(lines), encoding="utf-8")


def summary(rows: list[Row]) -> str:
    """A plain-text table: one line per submission, points per question and in total; then flags and the
    most common problems per question (repeated messages merged, with their counts)."""
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
            (f"{'man':>5}" if not r.marked else f"{r.points:>5g}")
            if (r := cells.get(q)) is not None and r.message.startswith("manual")
            else (f"{cells[q].points:>5g}" if q in cells else f"{'-':>5}") for q in questions_seen
        )
        lines.append(f"{name:<{width}}  {marks}   {sum(r.points for r in auto):g}/{sum(r.max_points for r in auto):g}")
    lines.append("(man = explain question, graded by hand; answers in the _manual.md file)")
    flagged = sorted({r.submission for r in rows if "FLAG:" in r.message})
    if flagged:
        lines.append(f"Flagged for a look by hand: {', '.join(flagged)}")
    common: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.points < r.max_points and not r.message.startswith("manual"):
            failed = [c["message"] for c in r.checks if not c["passed"]]
            first = (failed[0] if failed else r.message.split("; ")[0]).split(" on case ")[0]
            first = re.sub(r"^Exercise [0-9.]+: ", "", first)
            key = (r.question, re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", first)[:160])
            common[key] = common.get(key, 0) + 1
    if common:
        lines.append("Most common problems (numbers shown as #):")
        for (q, text), count in sorted(common.items(), key=lambda kv: (-kv[1], kv[0]))[:15]:
            lines.append(f"  {q}  ×{count}  {text}")
    return "\n".join(lines)
