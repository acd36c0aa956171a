"""The question registry and the one function students call: ``check("1.1", my_function)``.

Each chapter module (``ch01``, ``ch02``, ...) registers a checker per question with :func:`register`.
The modules are imported on the first call of :func:`check`, so ``course_lib.exercises`` imports even
where a chapter's reference code is missing, and a broken chapter module cannot break another's checks.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from typing import Any

from course_lib.exercises.checks import CheckResult, guard, manual

#: Chapter modules that register questions, imported lazily by :func:`check`.
CHAPTER_MODULES = ("course_lib.exercises.ch01", "course_lib.exercises.ch02", "course_lib.exercises.ch06")

#: When set (by the grader), every result is appended to this JSON-lines file.
RESULTS_ENV_VAR = "COURSE_EXERCISES_RESULTS"

#: A checker: ``(answer, hidden, reveal) -> CheckResult``.
Checker = Callable[[Any, bool, bool], CheckResult]


@dataclasses.dataclass(frozen=True)
class Question:
    """One registered question: ``kind`` is "implement", "predict" or "explain"."""

    id: str
    kind: str
    title: str
    checker: Checker | None


_QUESTIONS: dict[str, Question] = {}
_LOAD_ERRORS: dict[str, str] = {}


def register(question: str, kind: str, title: str) -> Callable[[Checker], Checker]:
    """Decorator: register ``checker`` as the check of ``question`` (e.g. ``"1.1"``)."""
    if kind not in ("implement", "predict", "explain"):
        raise ValueError(f"kind must be implement, predict or explain, got {kind!r}")

    def decorate(checker: Checker) -> Checker:
        _QUESTIONS[question] = Question(question, kind, title, checker)
        return checker

    return decorate


def register_explain(question: str, title: str) -> None:
    """Register an explain question (graded by hand; its check only says so)."""
    _QUESTIONS[question] = Question(question, "explain", title, None)


def _load() -> None:
    for name in CHAPTER_MODULES:
        if name in _LOAD_ERRORS:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - never raise into the notebook
            _LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"


def questions() -> dict[str, Question]:
    """All registered questions by id (importing the chapter modules first)."""
    _load()
    return dict(sorted(_QUESTIONS.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


def _record(result: CheckResult) -> None:
    path = os.environ.get(RESULTS_ENV_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result.to_dict()) + "\n")


def check(
    question: str, answer: Any = None, *, hidden: bool = False, reveal: bool = False, quiet: bool = False
) -> CheckResult:
    """Check the answer to ``question`` and print what is right or wrong in plain words.

    Args:
        question: the question id, e.g. ``"1.1"``.
        answer: your function (implement exercises) or your number (predict-then-verify exercises).
        hidden: run the grader's stricter cases (more of them, edge cases, a fixed seed).
        reveal: for predict exercises, show the computed value even when your prediction is off.
        quiet: do not print the message (it is still in the returned result).

    Returns:
        A :class:`~course_lib.exercises.checks.CheckResult`; ``bool(result)`` is True when it passed.
        It never raises: a crash in your code (or in the check) becomes a message.
    """
    question = str(question).strip()

    def run() -> CheckResult:
        known = questions()
        if question not in known:
            problems = "; ".join(f"{m}: {e}" for m, e in _LOAD_ERRORS.items())
            return CheckResult(
                question, "internal_error",
                f"There is no exercise {question!r}; known: {', '.join(known) or 'none'}."
                + (f" (Some checks failed to load — {problems}.)" if problems else ""), 0, 0, hidden,
            )
        entry = known[question]
        if entry.checker is None:
            return manual(question, hidden)
        return entry.checker(answer, hidden, reveal)

    result = guard(question, hidden, run)
    _record(result)
    if not quiet:
        result.show()
    return result
