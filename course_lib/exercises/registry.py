"""The question registry and the one function students call: ``check("1.1", my_function)``.

Chapter modules (``ch01``, ``ch02``, ...) declare their questions with :mod:`course_lib.exercises.spec`
(``implement``, ``predict``, ``explain``). The modules are imported on the first call of
:func:`check`, so ``course_lib.exercises`` imports even where a chapter's reference code is missing, and a
broken chapter module cannot break another's checks.

This is the student's side: it runs in the notebook, in the student's own process, and is only advice.
Grades come from :mod:`course_tools.grader.grading`, which decides in a process that runs no student
code, with the same case families and the same messages (:func:`course_lib.exercises.checks.judge`).
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

from course_lib.exercises import spec
from course_lib.exercises.checks import (
    CheckResult,
    Outcome,
    call_student,
    clone,
    describe,
    guard,
    judge,
    judge_number,
    manual,
    passed_message,
)
from course_lib.exercises.spec import Question

#: Chapter modules that declare questions, imported lazily by :func:`check`.
CHAPTER_MODULES = (
    "course_lib.exercises.ch01",
    "course_lib.exercises.ch02",
    "course_lib.exercises.ch03",
    "course_lib.exercises.ch04",
    "course_lib.exercises.ch05",
    "course_lib.exercises.ch06",
    "course_lib.exercises.ch07",
    "course_lib.exercises.ch08",
    "course_lib.exercises.ch09",
)

#: When set, every self-check result is appended to this JSON-lines file. A test aid only (the notebook
#: tests read it); the grader does not use it, since anything the notebook writes can be forged.
RESULTS_ENV_VAR = "COURSE_EXERCISES_RESULTS"

_LOAD_ERRORS: dict[str, str] = {}


def _load() -> None:
    for name in CHAPTER_MODULES:
        if name in _LOAD_ERRORS:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - never raise into the notebook
            _LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"


def load_errors() -> dict[str, str]:
    """Chapter modules that failed to import, with the error (empty when all loaded)."""
    _load()
    return dict(_LOAD_ERRORS)


def _order(question: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in question.split("."))
    except ValueError:
        return (10**6,)


def questions() -> dict[str, Question]:
    """All registered questions by id (importing the chapter modules first)."""
    _load()
    return dict(sorted(spec.registered().items(), key=lambda kv: _order(kv[0])))


def _record(result: CheckResult) -> None:
    path = os.environ.get(RESULTS_ENV_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result.to_dict()) + "\n")


def _library_note(q: Question, answer: Any) -> str:
    module = getattr(answer, "__module__", "") or ""
    if module.startswith("course_lib") and not module.startswith("course_lib.exercises"):
        return (f" Note: this is `{module}.{getattr(answer, '__name__', '?')}`, the course's own code; the "
                f"grader flags answers that call it — write your own.")
    return ""


def self_check_function(q: Question, answer: Any, hidden: bool | str, seed: int | None = None) -> CheckResult:
    """Run an implement question's cases on ``answer`` in this process (the student's self-check)."""
    hid = hidden is not False
    if not callable(answer):
        if answer is Ellipsis or answer is None:
            return CheckResult(q.id, "not_implemented", judge(q.id, Outcome("not_implemented"), None, "",
                                                              rtol=0, atol=0, steps=False)[1], 0, 0, hid)
        return CheckResult(q.id, "failed", f"Exercise {q.id}: expected a function, got {describe(answer)}.", 0, 0,
                           hid)
    cases = q.make_cases(spec.Rng(seed), hidden)
    total = len(cases)
    for i, case in enumerate(cases, start=1):
        args, kwargs = spec.build(case.args), spec.build(case.kwargs)
        try:
            expected = q.reference(*clone(args), **clone(kwargs), **case.extra)
        except Exception as exc:  # noqa: BLE001 - never raise into the notebook
            return CheckResult(q.id, "internal_error", f"Exercise {q.id}: the check itself failed "
                               f"({type(exc).__name__}: {exc}). Please tell your instructor.", i - 1, total, hid)
        outcome = Outcome.from_plain(call_student(answer, args, kwargs, q.arg_names, q.time_limit_s))
        verdict = judge(q.id, outcome, expected, case.label(i, total), rtol=q.rtol, atol=q.atol, steps=q.steps,
                        input_hint=q.input_hint, ratios=case.ratios, alternatives=q.alternatives(case))
        if verdict is not None:
            return CheckResult(q.id, verdict[0], verdict[1] + _library_note(q, answer), i - 1, total, hid)
    return CheckResult(q.id, "passed", passed_message(q.id, total) + _library_note(q, answer), total, total, hid)


def self_check_number(q: Question, answer: Any, hidden: bool | str, reveal: bool) -> CheckResult:
    """Compare a predicted number with the question's computed value, in this process."""
    hid = hidden is not False
    first = judge_number(q.id, answer, 1.0, "", rtol=q.rtol, hidden=hid)
    if first.status == "not_implemented" or "expected a single number" in first.message \
            or "your answer is" in first.message:
        return first
    try:
        truth, how = q.compute()
    except Exception as exc:  # noqa: BLE001 - never raise into the notebook
        return CheckResult(q.id, "internal_error", f"Exercise {q.id}: the check itself failed "
                           f"({type(exc).__name__}: {exc}). Please tell your instructor.", 0, 1, hid)
    return judge_number(q.id, answer, truth, how, rtol=q.rtol, hidden=hid, reveal=reveal, ratios=q.ratios)


def check(
    question: str, answer: Any = None, *, hidden: bool | str = False, reveal: bool = False, quiet: bool = False
) -> CheckResult:
    """Check the answer to ``question`` and print what is right or wrong in plain words.

    Args:
        question: the question id, e.g. ``"1.1"``.
        answer: your function (implement exercises) or your number (predict-then-verify exercises).
        hidden: run one group of the grader's case families (``True``: the random cases, ``"edge"``: the
            edge cases) instead of all of them; the grader uses other values.
        reveal: for predict exercises, show the computed value even when your prediction is off.
        quiet: do not print the message (it is still in the returned result).

    Returns:
        A :class:`~course_lib.exercises.checks.CheckResult`; ``bool(result)`` is True when it passed.
        It never raises: a crash in your code (or in the check) becomes a message.
    """
    question = str(question).strip()
    hid = hidden is not False

    def run() -> CheckResult:
        known = questions()
        if question not in known:
            problems = "; ".join(f"{m}: {e}" for m, e in _LOAD_ERRORS.items())
            return CheckResult(
                question, "internal_error",
                f"There is no exercise {question!r}; known: {', '.join(known) or 'none'}."
                + (f" (Some checks failed to load — {problems}.)" if problems else ""), 0, 0, hid,
            )
        q = known[question]
        if q.kind == "explain":
            return manual(question, hid)
        if q.kind == "implement":
            return self_check_function(q, answer, hidden)
        return self_check_number(q, answer, hidden, reveal)

    result = guard(question, hid, run)
    _record(result)
    if not quiet:
        result.show()
    return result
