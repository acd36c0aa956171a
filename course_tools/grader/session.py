"""Grade one submission: run its cells in a confined kernel, then call its answers across the boundary.

The trusted side (this module, in the grader's process) never runs student code. It builds each
question's cases from the chapter's declaration with the batch's secret seed, computes the expected
values with the reference, sends only the inputs to the harness in the sandbox, and judges the plain
data that comes back with the same :func:`~course_lib.exercises.checks.judge` the self-check uses.
Hidden cells are read (:func:`~course_tools.build.notebooks.hidden_call`), never executed.

A cell or a call that hangs, kills its kernel or exhausts it fails only what it touched: the kernel is
restarted, the cells that had run are run again (the culprit skipped), and grading goes on, at most
``max_restarts`` times. Every wait has a deadline, and the submission as a whole has a wall-time cap
(:meth:`Settings.submission_bound`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from typing import Any

from course_lib.exercises import spec, wire
from course_lib.exercises.checks import Outcome, judge, judge_number, wall_limit
from course_lib.exercises.registry import questions
from course_tools.build import notebooks as nbx
from course_tools.grader import sandbox
from course_tools.grader.submission import Plan


@dataclasses.dataclass
class HiddenResult:
    """The outcome of one hidden check: its cell, question and points, and what the judge said."""

    id: str
    question: str
    points: int
    passed: bool = False
    message: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Report:
    """What grading one submission found; :func:`~course_tools.grader.grading.rows_for` turns it into rows.

    ``stopped``: why the notebook's cells stopped early ("" when they all ran); ``general``: notes about
    the whole submission (restarts, lost kernels); ``cell_errors``: the cells that raised, by label;
    ``skipped``: the cells skipped after a hang or a crash, and why.
    """

    hidden: list[HiddenResult] = dataclasses.field(default_factory=list)
    stopped: str = ""
    general: list[str] = dataclasses.field(default_factory=list)
    cell_errors: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    restarts: int = 0


@dataclasses.dataclass(frozen=True)
class Settings:
    """Time limits (seconds), restarts, resource limits and the confinement of one batch."""

    timeout: float = 60.0
    check_timeout: float = 60.0
    startup_timeout: float = 120.0
    max_restarts: int = 2
    max_cases: int = 10
    limits: sandbox.Limits = dataclasses.field(default_factory=sandbox.Limits)
    mode: sandbox.Mode = dataclasses.field(default_factory=lambda: sandbox.Mode("none", "not probed"))

    def case_limit(self, n_cases: int) -> float:
        """CPU seconds for one call of the student's function: the check's time shared by its cases (>= 3 s).

        CPU time, so that the verdict does not depend on the machine's load; a call that sleeps is
        stopped after :func:`~course_lib.exercises.checks.wall_limit` of it in wall-clock time.
        """
        return round(max(3.0, self.check_timeout / max(n_cases, 1)), 1)

    def call_timeout(self, n_cases: int) -> float:
        """The longest wait for the reply to one hidden check (every case, plus forking and transfer)."""
        return n_cases * (wall_limit(self.case_limit(n_cases)) + 1.5) + 10

    def submission_bound(self, n_hidden: int) -> float:
        """The most wall time one submission can take: start, cells, checks, and each restart."""
        once = self.startup_timeout + self.timeout + 5
        return once * (1 + self.max_restarts) + n_hidden * self.call_timeout(self.max_cases) + 15


_TRUTHS: dict[str, tuple[float, str] | Exception] = {}
_TRUTH_LOCK = threading.Lock()


class Trusted:
    """The batch's trusted values: cases and expected results per (question, group), truths of predictions.

    Computed once per batch (thread-safe) with the secret ``seed``; nothing here ever meets student code.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._cases: dict[tuple[str, str], list[tuple[spec.Case, Any, dict[str, Any]]]] = {}

    def cases(self, q: spec.Question, group: bool | str) -> list[tuple[spec.Case, Any, dict[str, Any]]]:
        """``[(case, expected, plain inputs for the wire)]`` for one group of an implement question."""
        key = (q.id, str(group))
        with self._lock:
            if key not in self._cases:
                digest = hashlib.sha256(f"{self.seed}:{q.id}:{group}".encode()).hexdigest()
                rng = spec.Rng(int(digest[:8], 16) & 0x7FFFFFFF)
                built = []
                for case in q.make_cases(rng, group):
                    args, kwargs = spec.build(case.args), spec.build(case.kwargs)
                    expected = q.reference(*args, **kwargs, **case.extra)
                    plain = {"args": [wire.encode(a) for a in spec.to_plain(case.args)],
                             "kwargs": {k: wire.encode(v) for k, v in spec.to_plain(case.kwargs).items()}}
                    built.append((case, expected, plain))
                self._cases[key] = built
            return self._cases[key]

    def max_cases(self) -> int:
        """The most cases any prepared check has (1 when none is prepared)."""
        with self._lock:
            return max([len(v) for v in self._cases.values()] or [1])

    def truth(self, q: spec.Question) -> tuple[float, str]:
        """The verified value of a predict question (raises what ``compute`` raised).

        It does not depend on the seed, so it is computed once per process (e.g. once for several batches).
        """
        with _TRUTH_LOCK:
            if q.id not in _TRUTHS:
                try:
                    _TRUTHS[q.id] = q.compute()
                except Exception as exc:  # noqa: BLE001 - remembered, re-raised for every submission
                    _TRUTHS[q.id] = exc
            value = _TRUTHS[q.id]
        if isinstance(value, Exception):
            raise value
        return value


def _forbidden(source_nb: Any) -> list[str]:
    known = questions()
    names: list[str] = []
    for ex in nbx.exercises(source_nb):
        q = known.get(ex.question)
        if q is not None:
            names += list(q.forbid)
    return list(dict.fromkeys(names))


class _Run:
    """The state of one submission's grading: its kernel, the cells that ran, and the report."""

    def __init__(self, plan: Plan, source_nb: Any, settings: Settings, deadline: float) -> None:
        self.plan, self.settings, self.deadline = plan, settings, deadline
        self.forbid = _forbidden(source_nb)
        self.kernel: sandbox.Kernel | None = None
        self.restarts = 0
        self.ran: list[int] = []  # indices of steps that ran (ok or with an error) and are replayed
        self.skipped: dict[int, str] = {}
        self.errors: dict[str, str] = {}  # step label -> error text
        self.general: list[str] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def start(self) -> bool:
        """Start a fresh kernel and say hello; False when it won't start."""
        self.close()
        try:
            self.kernel = sandbox.Kernel(self.settings.mode, self.settings.limits)
            reply = self.kernel.request({"op": "hello", "forbid": self.forbid},
                                        min(self.settings.startup_timeout, max(self.left(), 1)))
        except Exception as err:  # noqa: BLE001 - a kernel that won't start fails this submission only
            self.general.append(f"the Python kernel did not start ({type(err).__name__}: {err})")
            self.close()
            return False
        if reply.get("status") != "ok":
            self.general.append(f"the Python kernel did not start ({str(reply.get('error', ''))[:200]})")
            self.close()
            return False
        return True

    def restart(self, why: str) -> bool:
        """Replace a lost kernel and replay the cells that had run; False when out of restarts or time."""
        self.close()
        if self.restarts >= self.settings.max_restarts:
            self.general.append(f"the kernel was lost again ({why}) after {self.restarts} restarts; "
                                f"the remaining checks were not run")
            return False
        self.restarts += 1
        if not self.start():
            return False
        budget = time.monotonic() + self.settings.timeout
        for index in self.ran:
            step = self.plan.steps[index]
            remaining = min(budget, self.deadline) - time.monotonic()
            try:
                reply = self.kernel.request({"op": "run", "source": step.source, "timeout": max(remaining, 0.5)},
                                            max(remaining, 0.5) + 5)
            except sandbox.KernelLost as err:
                self.general.append(f"re-running the cells after a restart failed at {step.label!r} ({err})")
                self.close()
                return False
            if reply.get("status") == "timeout":
                self.general.append(f"re-running the cells after a restart ran out of time at {step.label!r}")
                self.close()
                return False
        return True

    def close(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None


def grade_submission(plan: Plan, source_nb: Any, trusted: Trusted, settings: Settings) -> Report:
    """Run ``plan`` and its hidden checks; the :class:`Report` the batch turns into CSV rows."""
    bound = settings.submission_bound(len(plan.hidden))
    run = _Run(plan, source_nb, settings, time.monotonic() + bound)
    report = Report(general=run.general, cell_errors=run.errors)
    try:
        if not run.start():
            report.stopped = run.general[-1]
        else:
            _run_cells(run, report)
        _run_checks(run, report, trusted)
    finally:
        run.close()
    report.skipped = {plan.steps[i].label: why for i, why in run.skipped.items()}
    report.restarts = run.restarts
    return report


def _run_cells(run: _Run, report: Report) -> None:
    settings, plan = run.settings, run.plan
    budget = time.monotonic() + settings.timeout
    for index, step in enumerate(plan.steps):
        remaining = min(budget, run.deadline) - time.monotonic()
        if remaining < 0.5:
            report.stopped = report.stopped or f"the notebook ran out of its {settings.timeout:g} s before " \
                                                     f"cell {step.label!r}"
            return
        if run.kernel is None:
            report.stopped = report.stopped or "the kernel could not be restarted"
            return
        try:
            reply = run.kernel.request({"op": "run", "source": step.source, "timeout": remaining},
                                       remaining + 5)
        except sandbox.KernelLost as err:
            if str(err) == "timeout":  # it blocked the interrupt: a hang the harness couldn't stop
                report.stopped = (f"cell {step.label!r} was still running when the notebook's time limit of "
                                     f"{settings.timeout:g} s ran out (an infinite loop that blocks interrupts?)")
                run.skipped[index] = "hung"
                run.restart("a cell hung")
                return
            what = "killed the Python kernel" if str(err).startswith("died") else "broke the Python kernel's replies"
            run.skipped[index] = f"it {what} ({err}); the kernel was restarted without it"
            run.general.append(f"cell {step.label!r} {what} ({err}); it was skipped and the kernel restarted")
            restarting = time.monotonic()
            if not run.restart(f"cell {step.label!r}"):
                report.stopped = run.general[-1]
                return
            budget += time.monotonic() - restarting  # the restart and the replay don't count against the notebook
            continue
        status = reply.get("status")
        if status == "timeout":
            report.stopped = (f"cell {step.label!r} was still running when the notebook's time limit of "
                                 f"{settings.timeout:g} s ran out (an infinite loop?)")
            run.skipped[index] = "timeout"
            return
        run.ran.append(index)
        if status == "error":
            where = str(reply.get("where", ""))
            run.errors[step.label] = str(reply.get("error", "an error"))[:300] + (f" at {where}" if where else "")


def _answer_problem(run: _Run, question: str) -> str:
    """Why an answer may be missing in the kernel: its cell's error, or that it did not run."""
    for index, step in enumerate(run.plan.steps):
        if step.question != question:
            continue
        if step.label in run.errors:
            return f"your answer cell {step.label!r} raised {run.errors[step.label]}"
        if index in run.skipped:
            return f"your answer cell {step.label!r} did not finish ({run.skipped[index]})"
        if index not in run.ran:
            return f"your answer cell {step.label!r} did not run"
    return ""


def _run_checks(run: _Run, report: Report, trusted: Trusted) -> None:
    known = questions()
    for cell in run.plan.hidden:
        meta = nbx.meta(cell)
        question, points = str(meta.get("question")), int(meta.get("points", 0))
        entry = HiddenResult(nbx.cell_id(cell), question, points)
        report.hidden.append(entry)
        try:
            call = nbx.hidden_call(cell.source)
            q = known[question]
        except (ValueError, KeyError) as err:
            entry.message = f"internal: the hidden check can't be read ({err}); tell the course maintainers"
            continue
        ran = any(s.question == question and i in run.ran for i, s in enumerate(run.plan.steps))
        if not ran:
            why = _answer_problem(run, question) or report.stopped or "the notebook stopped early"
            entry.message = f"not graded: {report.stopped or why}"
            continue
        if run.kernel is None:
            entry.message = f"not graded: {run.general[-1] if run.general else 'the kernel was lost'}"
            continue
        if run.left() < 1:
            entry.message = "not graded: the submission used up its wall-time limit"
            continue
        try:
            if q.kind == "implement":
                _check_function(run, q, call, entry, trusted)
            else:
                _check_number(run, q, call, entry, trusted)
        except sandbox.KernelLost as err:
            lost = ("the check did not finish within its time limit" if str(err) == "timeout"
                    else f"the Python kernel died during the check ({err})")
            entry.message = f"Exercise {question}: {lost}."
            entry.passed = False
            run.restart(f"the check of {question}")
        except (Exception, RecursionError, MemoryError) as exc:  # noqa: BLE001 - this check only, never the batch
            entry.passed = False
            entry.message = (f"Exercise {question}: the grader could not judge what your function returned "
                                f"({type(exc).__name__}: {str(exc)[:150]}); grade by hand")


def _check_function(run: _Run, q: spec.Question, call: nbx.HiddenCall, entry: HiddenResult,
                    trusted: Trusted) -> None:
    try:
        cases = trusted.cases(q, call.group)
    except Exception as exc:  # noqa: BLE001 - a broken reference is the maintainers' problem, said so
        entry.message = f"internal: the reference of {q.id} failed ({type(exc).__name__}: {exc})"
        return
    limit = run.settings.case_limit(len(cases))
    request = {"op": "call", "name": call.name, "cases": [plain for _, _, plain in cases], "time_limit": limit,
               "arg_names": list(q.arg_names)}
    reply = run.kernel.request(request, min(run.settings.call_timeout(len(cases)), max(run.left(), 1)))
    status = reply.get("status")
    if status == "missing":
        why = _answer_problem(run, q.id)
        entry.message = f"Exercise {q.id}: `{call.name}` is not defined" + (f" — {why}." if why else ".")
        return
    if status == "not_callable":
        entry.message = f"Exercise {q.id}: `{call.name}` is not a function."
        return
    outcomes = reply.get("outcomes")
    if status != "ok" or not isinstance(outcomes, list):
        entry.message = f"Exercise {q.id}: the kernel gave no usable result ({str(reply.get('error', status))[:200]})."
        return
    total = len(cases)
    for i, (case, expected, _) in enumerate(cases, start=1):
        if i > len(outcomes):
            entry.message = f"Exercise {q.id}: only {len(outcomes)} of {total} cases came back."
            return
        raw = outcomes[i - 1]
        try:
            outcome = Outcome.from_plain(raw if isinstance(raw, dict) else {})
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            entry.message = f"Exercise {q.id}: the result of case {i} could not be read safely ({err})."
            return
        calls = raw.get("forbidden_calls") if isinstance(raw, dict) else None
        if isinstance(calls, dict) and calls:
            entry.flags += [f"called {str(name)[:80]} while checked" for name in list(calls)[:5]]
        verdict = judge(q.id, outcome, expected, case.label(i, total), rtol=q.rtol, atol=q.atol, steps=q.steps,
                        input_hint=q.input_hint, ratios=case.ratios, alternatives=q.alternatives(case))
        if verdict is not None:
            entry.message = verdict[1]
            return
    entry.passed = True
    entry.message = "passed"


def _check_number(run: _Run, q: spec.Question, call: nbx.HiddenCall, entry: HiddenResult,
                  trusted: Trusted) -> None:
    reply = run.kernel.request({"op": "value", "name": call.name}, min(30.0, max(run.left(), 1)))
    if reply.get("status") == "missing":
        why = _answer_problem(run, q.id)
        entry.message = f"Exercise {q.id}: `{call.name}` is not defined" + (f" — {why}." if why else ".")
        return
    try:
        answer = wire.decode(reply.get("value"))
    except (ValueError, TypeError, RuntimeError) as err:
        entry.message = f"Exercise {q.id}: your answer could not be read safely ({err})."
        return
    try:
        truth, how = trusted.truth(q)
    except Exception as exc:  # noqa: BLE001
        entry.message = f"internal: the computed value of {q.id} failed ({type(exc).__name__}: {exc})"
        return
    result = judge_number(q.id, answer, truth, how, rtol=q.rtol, hidden=True, ratios=q.ratios)
    entry.passed = result.passed
    entry.message = "passed" if result.passed else result.message
