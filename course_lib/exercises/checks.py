"""The self-check engine: run a student's answer against the reference and say in plain words what is wrong.

Two kinds of check live here:

* :func:`check_function` calls the student's function and the reference (a ``course_lib`` function) on
  the same fresh random cases and reports the first problem it finds: the function raised (with the line
  of the student's code where it failed), is not implemented yet, ran past the time limit, changed its
  input in place, returned the wrong type, shape, dtype or device, produced NaN, or a wrong value (first
  at step ``k``, with both values).
* :func:`check_number` compares a predicted number with the computed one (predict-then-verify).

Both return a :class:`CheckResult` and never raise into the notebook: whatever the student's code does,
the worst outcome is a result whose message says what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

#: Statuses a result can have; only ``"passed"`` earns points.
STATUSES = ("passed", "failed", "not_implemented", "manual", "internal_error")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # course_lib/
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)


@dataclasses.dataclass
class CheckResult:
    """What a check found. ``bool(result)`` is True when it passed.

    Attributes:
        question: the question id, e.g. ``"1.1"``.
        status: one of :data:`STATUSES`.
        message: the plain-words explanation shown to the student (and written to the grade CSV).
        cases_run: how many cases were tried before the check stopped.
        cases_total: how many cases the check had.
        hidden: True for the stricter checks the grader runs.
    """

    question: str
    status: str
    message: str
    cases_run: int = 0
    cases_total: int = 0
    hidden: bool = False
    _shown: bool = dataclasses.field(default=False, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        """True when the answer passed every case."""
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-friendly dict (what the grader records)."""
        return {
            "question": self.question,
            "status": self.status,
            "passed": self.passed,
            "message": self.message,
            "cases_run": self.cases_run,
            "cases_total": self.cases_total,
            "hidden": self.hidden,
        }

    def show(self) -> None:
        """Print the message (once; a notebook's automatic display of the result then prints nothing)."""
        print(self.message)
        self._shown = True

    def _ipython_display_(self) -> None:  # pragma: no cover - exercised inside notebooks
        if not self._shown:
            self.show()


@dataclasses.dataclass
class Case:
    """One set of inputs for a function check; ``description`` says what it is in words.

    ``reference``, when given, replaces the check's reference for this case (e.g. one that needs the
    case's random seed).
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    reference: Callable[..., Any] | None = None


class _TimeLimitExceeded(BaseException):
    """Raised inside the student's code by the alarm (a BaseException so ``except Exception`` can't eat it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Interrupt the block with :class:`_TimeLimitExceeded` after ``seconds`` (SIGALRM, main thread only).

    Yields whether the alarm is armed; where it can't be (Windows, a worker thread) the caller measures
    the elapsed time instead and reports "too slow" afterwards.
    """
    armed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not armed:
        yield False
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise _TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def clone(obj: Any) -> Any:
    """A deep copy of tensors inside tuples, lists and dicts; everything else (functions, numbers) as is."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, tuple):
        return tuple(clone(x) for x in obj)
    if isinstance(obj, list):
        return [clone(x) for x in obj]
    if isinstance(obj, dict):
        return {k: clone(v) for k, v in obj.items()}
    return obj


def describe(x: Any) -> str:
    """A short description of a value for messages: tensors by shape and dtype, floats to 4 digits."""
    if isinstance(x, torch.Tensor):
        if x.numel() == 1:
            return f"{x.item():.6g}"
        if x.numel() <= 6:
            return "[" + ", ".join(f"{v:.6g}" for v in x.detach().cpu().flatten().tolist()) + "]"
        return f"a tensor of shape {tuple(x.shape)} ({x.dtype})"
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x) if len(repr(x)) < 60 else type(x).__name__


def _is_library_file(filename: str) -> bool:
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(str(_PACKAGE_DIR)) or any(resolved.startswith(d) for d in _LIBRARY_DIRS)


def student_line(exc: BaseException, student: Any = None) -> str:
    """Where in the student's code ``exc`` happened, as "line N: `source`" ('' when it can't tell).

    Picks the innermost frame in the file that defines ``student`` (a notebook cell), else the innermost
    frame outside ``course_lib``, torch and the standard library.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    target = getattr(getattr(student, "__code__", None), "co_filename", None)
    mine = [f for f in frames if target is not None and f.filename == target]
    if not mine:
        mine = [f for f in frames if not _is_library_file(f.filename)]
    if not mine:
        return ""
    frame = mine[-1]
    where = f"line {frame.lineno}" + (f" (in {frame.name})" if frame.name not in ("<module>", "<lambda>") else "")
    return f"{where}: `{frame.line.strip()}`" if frame.line else where


def _arg_names(reference: Callable[..., Any], n: int) -> list[str]:
    import inspect

    try:
        names = list(inspect.signature(reference).parameters)
    except (TypeError, ValueError):
        names = []
    return (names + [f"argument {i + 1}" for i in range(len(names), n)])[:n]


def _mutated(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return not (before.shape == after.shape and torch.equal(before, after.to(before.dtype)))
    if isinstance(before, (tuple, list)):
        return any(_mutated(b, a) for b, a in zip(before, after, strict=False))
    if isinstance(before, dict):
        return any(_mutated(before[k], after.get(k)) for k in before)
    return False


def compare(
    expected: Any, got: Any, *, rtol: float, atol: float, step_dim: bool = True, input_hint: str = ""
) -> str | None:
    """Return what is wrong with ``got`` against ``expected`` in words, or None when they agree.

    With ``step_dim`` the first dimension counts steps, so a wrong value is reported "first at step k".
    """
    if not isinstance(expected, torch.Tensor):
        expected = torch.as_tensor(expected)
    if not isinstance(got, torch.Tensor):
        if expected.ndim == 0 and isinstance(got, (int, float)) and not isinstance(got, bool):
            got = torch.tensor(float(got), dtype=expected.dtype)
        else:
            return f"returned {type(got).__name__} {describe(got)}, expected a torch.Tensor"
    if tuple(got.shape) != tuple(expected.shape):
        msg = f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
        if step_dim and got.ndim == expected.ndim and got.ndim and got.shape[1:] == expected.shape[1:]:
            if got.shape[0] == expected.shape[0] - 1:
                msg += " (one step short: does your trajectory start with the initial point?)"
            elif got.shape[0] == expected.shape[0] + 1:
                msg += " (one step too many)"
        return msg
    if got.dtype != expected.dtype:
        return f"wrong dtype: expected {expected.dtype}{input_hint}, got {got.dtype}"
    if got.device != expected.device:
        return f"wrong device: expected {expected.device} (the device of the input), got {got.device}"
    got_d, exp_d = got.detach(), expected.detach()
    new_nan = torch.isnan(got_d) & ~torch.isnan(exp_d)
    if new_nan.any():
        where = _first_index(new_nan, step_dim)
        return f"produced NaN {where} (the reference gives {describe(_at(exp_d, new_nan, step_dim))})"
    close = torch.isclose(got_d, exp_d, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    bad = ~close
    if step_dim and got_d.ndim >= 1:
        k = int(bad.flatten(1).any(1).nonzero()[0]) if got_d.ndim > 1 else int(bad.nonzero()[0])
        row_e, row_g = exp_d[k], got_d[k]
        if row_e.numel() <= 6:
            return f"wrong value first at step {k}: expected {describe(row_e)}, got {describe(row_g)}"
        index = tuple(int(i) for i in bad[k].nonzero()[0])
        return (
            f"wrong value first at step {k}, index {index}: expected {describe(row_e[index])}, "
            f"got {describe(row_g[index])}"
        )
    index = tuple(int(i) for i in bad.nonzero()[0]) if got_d.ndim else ()
    at = f" at index {index}" if index else ""
    return f"wrong value{at}: expected {describe(exp_d[index])}, got {describe(got_d[index])}"


def _first_index(mask: torch.Tensor, step_dim: bool) -> str:
    if mask.ndim == 0:
        return ""
    index = tuple(int(i) for i in mask.nonzero()[0])
    return f"first at step {index[0]}" if step_dim else f"at index {index}"


def _at(t: torch.Tensor, mask: torch.Tensor, step_dim: bool) -> torch.Tensor:
    return t if mask.ndim == 0 else t[tuple(int(i) for i in mask.nonzero()[0])]


def _not_implemented_message(question: str) -> str:
    return (
        f"Exercise {question}: not implemented yet. Replace the line `raise NotImplementedError(...)` "
        f"with your code, run that cell, then run this check again."
    )


def check_function(
    question: str,
    student: Any,
    reference: Callable[..., Any],
    cases: Sequence[Case],
    *,
    hidden: bool = False,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    step_dim: bool = True,
    time_limit_s: float = 2.0,
    input_hint: str = "",
) -> CheckResult:
    """Run ``student`` and ``reference`` on every case and report the first disagreement in words.

    Args:
        question: question id for the messages.
        student: the student's function.
        reference: the trusted implementation (from ``course_lib``), called on its own copy of the inputs.
        cases: the inputs; each gets fresh copies, so neither function sees the other's changes.
        hidden: mark the result as coming from a grading check.
        rtol, atol: tolerances of :func:`torch.isclose`.
        step_dim: the output's first dimension counts steps ("wrong value first at step k").
        time_limit_s: wall-clock limit per case for the student's function.
        input_hint: appended to the expected dtype in messages, e.g. " (the dtype of theta0)".
    """
    total = len(cases)
    if not callable(student):
        if student is Ellipsis or student is None:
            return CheckResult(question, "not_implemented", _not_implemented_message(question), 0, total, hidden)
        return CheckResult(
            question, "failed", f"Exercise {question}: expected a function, got {describe(student)}.", 0, total, hidden
        )
    for i, case in enumerate(cases, start=1):
        label = f"case {i} of {total}" + (f" ({case.description})" if case.description else "")
        try:
            expected = (case.reference or reference)(*clone(case.args), **clone(case.kwargs))
        except Exception as exc:  # noqa: BLE001 - never raise into the notebook
            return CheckResult(
                question, "internal_error",
                f"Exercise {question}: the check itself failed ({type(exc).__name__}: {exc}). "
                f"Please tell your instructor.", i - 1, total, hidden,
            )
        args, kwargs = clone(case.args), clone(case.kwargs)
        before = clone((args, kwargs))
        start = time.perf_counter()
        try:
            with time_limit(time_limit_s):
                got = student(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(question, "not_implemented", _not_implemented_message(question), i - 1, total, hidden)
        except _TimeLimitExceeded:
            return CheckResult(
                question, "failed",
                f"Exercise {question}: too slow — {label} was still running after the time limit of "
                f"{time_limit_s:g} s (an infinite loop? a Python loop over every element?).", i - 1, total, hidden,
            )
        except Exception as exc:  # noqa: BLE001 - never raise into the notebook
            where = student_line(exc, student)
            return CheckResult(
                question, "failed",
                f"Exercise {question}: your function raised {type(exc).__name__}: {exc} on {label}"
                + (f" — at {where}" if where else "") + ".", i - 1, total, hidden,
            )
        elapsed = time.perf_counter() - start
        if elapsed > time_limit_s:
            return CheckResult(
                question, "failed",
                f"Exercise {question}: too slow — {label} took {elapsed:.1f} s, the time limit is {time_limit_s:g} s.",
                i - 1, total, hidden,
            )
        changed = [name for name, b, a in zip(_arg_names(reference, len(args)), before[0], args, strict=False)
                   if _mutated(b, a)]
        changed += [name for name in before[1] if _mutated(before[1][name], kwargs[name])]
        if changed:
            return CheckResult(
                question, "failed",
                f"Exercise {question}: your function changed its input `{changed[0]}` in place on {label} "
                f"(e.g. `-=` or `.add_()` on it). Work on a copy: `theta = theta - ...` makes a new tensor.",
                i - 1, total, hidden,
            )
        problem = compare(expected, got, rtol=rtol, atol=atol, step_dim=step_dim, input_hint=input_hint)
        if problem is not None:
            return CheckResult(question, "failed", f"Exercise {question}: {problem} on {label}.", i - 1, total, hidden)
    return CheckResult(
        question, "passed", f"Exercise {question}: passed — all {total} cases agree with the reference. ✓",
        total, total, hidden,
    )


def as_number(answer: Any) -> float | None:
    """The answer as a float, or None when it is not a single real number."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float)):
        return float(answer)
    if isinstance(answer, torch.Tensor) and answer.numel() == 1 and not answer.is_complex():
        return float(answer.item())
    try:
        import numpy as np

        if isinstance(answer, np.generic | np.ndarray) and np.size(answer) == 1:
            return float(np.asarray(answer).item())
    except ImportError:  # pragma: no cover
        pass
    return None


def check_number(
    question: str,
    answer: Any,
    compute: Callable[[], tuple[float, str]],
    *,
    rtol: float = 0.01,
    hidden: bool = False,
    reveal: bool = False,
) -> CheckResult:
    """Compare a predicted number with the computed one (predict, then verify).

    ``compute`` returns the value and one sentence on how it was verified (e.g. by simulation). A wrong
    prediction is told whether it is too high or too low; the value itself is shown only when the
    prediction is right or ``reveal=True`` (so a student can't just copy it back).
    """
    if answer is Ellipsis or answer is None:
        return CheckResult(
            question, "not_implemented",
            f"Exercise {question}: not answered yet. Replace `...` with your number, run that cell, then "
            f"run this check again.", 0, 1, hidden,
        )
    value = as_number(answer)
    if value is None:
        return CheckResult(
            question, "failed", f"Exercise {question}: expected a single number, got {describe(answer)}.", 0, 1, hidden
        )
    if math.isnan(value) or math.isinf(value):
        return CheckResult(question, "failed", f"Exercise {question}: your answer is {value}.", 0, 1, hidden)
    try:
        truth, how = compute()
    except Exception as exc:  # noqa: BLE001 - never raise into the notebook
        return CheckResult(
            question, "internal_error",
            f"Exercise {question}: the check itself failed ({type(exc).__name__}: {exc}). Please tell your "
            f"instructor.", 0, 1, hidden,
        )
    error = abs(value - truth) / max(abs(truth), 1e-12)
    if error <= rtol:
        return CheckResult(
            question, "passed",
            f"Exercise {question}: passed — you predicted {value:.6g}, the computed value is {truth:.6g} "
            f"(within {rtol:.0%}). {how} ✓", 1, 1, hidden,
        )
    direction = "too high" if value > truth else "too low"
    msg = f"Exercise {question}: your prediction {value:.6g} is {direction} by {error:.0%} (tolerance {rtol:.0%})."
    if reveal:
        msg += f" The computed value is {truth:.6g}. {how}"
    else:
        msg += f' Think again, or call check("{question}", ..., reveal=True) to see the computed value.'
    return CheckResult(question, "failed", msg, 1, 1, hidden)


def manual(question: str, hidden: bool = False) -> CheckResult:
    """The result for an explain exercise: graded by a person, never automatically."""
    return CheckResult(
        question, "manual",
        f"Exercise {question} is an explain exercise: your instructor grades it by hand. Compare your answer "
        f"with the model answer once solutions are published.", 0, 0, hidden,
    )


def guard(question: str, hidden: bool, run: Callable[[], CheckResult]) -> CheckResult:
    """Run a checker and turn anything it raises into a result (the notebook never sees an exception)."""
    try:
        return run()
    except NotImplementedError:
        return CheckResult(question, "not_implemented", _not_implemented_message(question), 0, 0, hidden)
    except _TimeLimitExceeded:
        return CheckResult(question, "failed", f"Exercise {question}: too slow (time limit).", 0, 0, hidden)
    except Exception as exc:  # noqa: BLE001 - never raise into the notebook
        return CheckResult(
            question, "internal_error",
            f"Exercise {question}: the check could not run ({type(exc).__name__}: {exc}).", 0, 0, hidden,
        )


__all__ = [
    "STATUSES",
    "Case",
    "CheckResult",
    "as_number",
    "check_function",
    "check_number",
    "clone",
    "compare",
    "describe",
    "guard",
    "manual",
    "student_line",
    "time_limit",
]
