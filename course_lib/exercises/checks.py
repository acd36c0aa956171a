"""The judge: say in plain words what is wrong with an answer. Shared by the self-check and the grader.

* :func:`call_student` calls a student's function on copies of the inputs and turns whatever happens
  into a plain-data outcome (returned a value, raised — with the student's line —, not implemented, ran
  past its time, changed an input in place). In the notebook the self-check calls it directly; in the
  grader the sandboxed harness calls it in a forked child and sends the outcome back as plain data.
* :func:`judge` compares an outcome with the expected value (:func:`compare`: type, shape, dtype,
  device, NaN, values — with hints: a known factor such as N/(N − 1), a sign flip, "did you forget
  `return`?", one tensor appended at every step).
* :func:`judge_number` does the same for a predicted number.

Nothing here raises into the notebook: whatever the student's code does, the worst outcome is a result
whose message says what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib.exercises.spec import Case

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


class _TimeLimitExceeded(BaseException):
    """Raised inside the student's code by the alarm (a BaseException so ``except Exception`` can't eat it)."""


#: In the grader a case's time limit counts CPU seconds, which a loaded machine does not stretch; a call
#: that sleeps or blocks (and so uses no CPU) is stopped after :func:`wall_limit` wall-clock seconds.
WALL_FACTOR = 5.0


def wall_limit(seconds: float) -> float:
    """The wall-clock backstop of a CPU-time limit of ``seconds``."""
    return max(WALL_FACTOR * seconds, seconds + 10.0)


@contextlib.contextmanager
def time_limit(seconds: float, cpu: bool = False) -> Iterator[bool]:
    """Interrupt the block with :class:`_TimeLimitExceeded` after ``seconds`` (main thread only).

    Wall-clock seconds (SIGALRM), or with ``cpu`` the process's CPU seconds (SIGPROF) with a
    wall-clock backstop of :func:`wall_limit`. Yields whether the alarm is armed; where it can't be
    (Windows, a worker thread) the caller measures the elapsed time instead and reports "too slow"
    afterwards.
    """
    armed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not armed:
        yield False
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise _TimeLimitExceeded

    previous = {s: signal.signal(s, _alarm) for s in (signal.SIGALRM, signal.SIGPROF)}
    if cpu:
        signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_limit(seconds) if cpu else seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        for s, handler in previous.items():
            signal.signal(s, handler)


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
        if not isinstance(after, torch.Tensor):
            return True
        return not (before.shape == after.shape and torch.equal(before, after.to(before.dtype)))
    if isinstance(before, (tuple, list)):
        return any(_mutated(b, a) for b, a in zip(before, after, strict=False))
    if isinstance(before, dict):
        return any(_mutated(before[k], after.get(k)) for k in before)
    return False


@dataclasses.dataclass
class Outcome:
    """What one call of the student's function did, as the checks see it (rebuilt from plain data).

    ``status`` is "returned", "raised", "not_implemented", "timeout", "died" or "missing";
    ``value`` is the decoded return value (see :mod:`course_lib.exercises.wire`).
    """

    status: str
    value: Any = None
    error: str = ""
    where: str = ""
    mutated: tuple[str, ...] = ()
    detail: str = ""

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Outcome:
        """Rebuild an outcome from the plain dict :func:`call_student` (or the sandbox) wrote."""
        from course_lib.exercises import wire

        status = str(data.get("status", ""))
        if status not in ("returned", "raised", "not_implemented", "timeout", "died", "missing"):
            raise ValueError(f"unknown outcome status {status!r}")
        value = wire.decode(data["value"]) if status == "returned" else None
        mutated = tuple(str(m)[:60] for m in list(data.get("mutated", []))[:20])
        return cls(status, value, str(data.get("error", ""))[:500], str(data.get("where", ""))[:300], mutated,
                   str(data.get("detail", ""))[:300])


def call_student(
    student: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], arg_names: Sequence[str],
    time_limit_s: float,
    cpu: bool = False,
) -> dict[str, Any]:
    """Call the student's function on copies of the inputs; what happened, as plain data (never raises).

    Used in the notebook by the self-check (wall-clock limit) and, inside the sandbox, by the grader's
    harness (``cpu=True``: a limit in CPU seconds, see :func:`time_limit`) — so both sides see a
    student's function through the same plain-data outcome.
    """
    from course_lib.exercises import wire

    args, kwargs = clone(args), clone(kwargs)
    before = clone((args, kwargs))
    clock = time.process_time if cpu else time.perf_counter
    start = clock()
    try:
        with time_limit(time_limit_s, cpu):
            got = student(*args, **kwargs)
    except NotImplementedError:
        return {"status": "not_implemented"}
    except _TimeLimitExceeded:
        return {"status": "timeout", "detail": f"{time_limit_s:g}"}
    except MemoryError:
        return {"status": "raised", "error": "MemoryError: out of memory (the memory limit?)"}
    except Exception as exc:  # noqa: BLE001 - never raise into the notebook
        text = f"{type(exc).__name__}: {exc}"
        if "can't allocate memory" in text or "not enough memory" in text:
            text = f"{type(exc).__name__}: out of memory ({str(exc)[:120]})"
        return {"status": "raised", "error": text[:500], "where": student_line(exc, student)}
    elapsed = clock() - start
    if elapsed > time_limit_s:
        return {"status": "timeout", "detail": f"{time_limit_s:g}", "elapsed": elapsed}
    names = list(arg_names) + [f"argument {i + 1}" for i in range(len(arg_names), len(args))]
    changed = [n for n, b, a in zip(names, before[0], args, strict=False) if _mutated(b, a)]
    changed += [k for k in before[1] if _mutated(before[1][k], kwargs.get(k))]
    return {"status": "returned", "value": wire.encode(got), "mutated": changed}


def _kind_of(x: Any) -> str:
    from course_lib.exercises import wire

    if wire.is_numpy(x):
        scalar = getattr(x, "ndim", 1) == 0 and type(x).__name__ != "ndarray"
        return ("a numpy scalar (numpy." if scalar else "a numpy array (numpy.") + type(x).__name__ + ")"
    if isinstance(x, wire.Opaque):
        return x.type_name if x.type_name.startswith(("a ", "an ")) else f"a {x.type_name}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)} items"
    return f"a {type(x).__name__}"


def _ratio(got: torch.Tensor, expected: torch.Tensor) -> float | None:
    """The common factor got/expected when there is one (all entries agree to 1e-6), else None."""
    mask = expected.abs() > 1e-12 * max(1.0, float(expected.abs().max()))
    if not bool(mask.any()):
        return None
    r = (got[mask].to(torch.float64) / expected[mask].to(torch.float64))
    if not bool(torch.isfinite(r).all()):
        return None
    mid = float(r.median())
    return mid if bool(((r - mid).abs() <= 1e-4 * max(1.0, abs(mid))).all()) else None


def _hints(got: torch.Tensor, expected: torch.Tensor, steps: bool, ratios: dict[str, float]) -> list[str]:
    """What a wrong value suggests: a known factor, a sign flip, one tensor appended again and again."""
    hints: list[str] = []
    if not bool(got.any()) and bool(expected.any()):
        return ["your function returns zeros"]
    if steps and got.ndim >= 1 and got.shape[0] >= 3:
        rows_equal = all(torch.equal(got[k], got[-1]) for k in range(got.shape[0]))
        if rows_equal and not torch.equal(expected[0], expected[-1]):
            return [("every entry of your trajectory is the same tensor — did you append one tensor and then "
                    "update it in place (`theta -= ...`)? Append a new tensor at each step")]
    r = _ratio(got, expected)
    if r is not None:
        for hint, factor in ratios.items():
            if abs(r - factor) <= 1e-4 * max(1.0, abs(factor)):
                return [f"your values are {r:.6g} × the expected ones: {hint}"]
        if abs(r + 1) < 1e-4:
            return ["your values have the opposite sign of the expected ones (a sign flip?)"]
        return [f"your values are {r:.6g} × the expected ones (a missing or extra factor?)"]
    if steps and got.ndim >= 1 and got.shape[0] >= 2:
        r1 = _ratio(got[1] - got[0], expected[1] - expected[0])
        if r1 is not None and abs(r1 + 1) < 1e-4:
            return ["your first step goes the opposite way (a sign flip: + where the update has −?)"]
        if r1 is not None and abs(r1 - 1) > 1e-4:
            return [f"your first step is {r1:.6g} × the expected one (a missing or extra factor?)"]
    return hints


def _compare(
    expected: Any, got: Any, *, rtol: float, atol: float, step_dim: bool = True, input_hint: str = "",
    ratios: dict[str, float] | None = None,
) -> str | None:
    """Return what is wrong with ``got`` against ``expected`` in words, or None when they agree.

    With ``step_dim`` the first dimension counts steps, so a wrong value is reported "first at step k".
    ``got`` is a plain value (as rebuilt by :mod:`course_lib.exercises.wire`, or any Python value).
    """
    from course_lib.exercises import wire

    if not isinstance(expected, torch.Tensor):
        expected = torch.as_tensor(expected)
    if got is None:
        return "your function returned None — did you forget `return`?"
    if type(got) is not torch.Tensor:
        if expected.ndim == 0 and type(got) in (int, float):
            got = torch.tensor(float(got), dtype=expected.dtype)
        elif wire.is_numpy(got):
            return (f"returned {_kind_of(got)}, expected a torch.Tensor — use torch operations on the inputs "
                    f"(or convert with torch.as_tensor)")
        elif isinstance(got, (list, tuple)) and got and all(type(x) is torch.Tensor for x in got):
            return f"returned {_kind_of(got)}, expected one torch.Tensor — stack them with torch.stack"
        else:
            return f"returned {_kind_of(got)}, expected a torch.Tensor"
    if tuple(got.shape) != tuple(expected.shape):
        msg = f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
        if step_dim and got.ndim == expected.ndim and got.ndim and got.shape[1:] == expected.shape[1:]:
            if got.shape[0] == expected.shape[0] - 1:
                msg += " (one step short: does your trajectory start with the initial point?)"
            elif got.shape[0] == expected.shape[0] + 1:
                msg += " (one step too many)"
        return msg
    if got.dtype != expected.dtype:
        hint = f" ({input_hint})" if input_hint and not input_hint.startswith(" ") else input_hint
        return f"wrong dtype: expected {expected.dtype}{hint}, got {got.dtype}"
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
    hints = _hints(got_d, exp_d, step_dim, ratios or {})
    tail = (_HINT + "; ".join(hints)) if hints else ""
    if step_dim and got_d.ndim >= 1:
        k = int(bad.flatten(1).any(1).nonzero()[0]) if got_d.ndim > 1 else int(bad.nonzero()[0])
        row_e, row_g = exp_d[k], got_d[k]
        if row_e.numel() <= 6:
            return f"wrong value first at step {k}: expected {describe(row_e)}, got {describe(row_g)}{tail}"
        index = tuple(int(i) for i in bad[k].nonzero()[0])
        return (
            f"wrong value first at step {k}, index {index}: expected {describe(row_e[index])}, "
            f"got {describe(row_g[index])}{tail}"
        )
    index = tuple(int(i) for i in bad.nonzero()[0]) if got_d.ndim else ()
    at = f" at index {index}" if index else ""
    return f"wrong value{at}: expected {describe(exp_d[index])}, got {describe(got_d[index])}{tail}"


def compare(
    expected: Any, got: Any, *, rtol: float, atol: float, step_dim: bool = True, input_hint: str = "",
    ratios: dict[str, float] | None = None,
) -> str | None:
    """Return what is wrong with ``got`` against ``expected`` in words (with a hint), or None when they agree.

    With ``step_dim`` the first dimension counts steps, so a wrong value is reported "first at step k".
    """
    text = _compare(expected, got, rtol=rtol, atol=atol, step_dim=step_dim, input_hint=input_hint, ratios=ratios)
    return None if text is None else text.replace(_HINT, " — ")


#: Separates a value problem from its hint inside :func:`compare`'s text (the label goes between them).
_HINT = "\x00"


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


#: The longest message a check writes (one line: what is wrong, the failing case, then the hint).
MAX_MESSAGE = 500


def one_line(head: str, label: str, tail: str = "", limit: int = MAX_MESSAGE, joiner: str = " on ") -> str:
    """``head`` + `` on `` + ``label`` + ``tail`` on one line of at most ``limit`` characters: the case's
    description is shortened first (with "…"), then the hint, never the status at the front."""
    head, label, tail = (re.sub(r"[\r\n\t\v\f]+", " ", x) for x in (head, label, tail))
    room = limit - len(head) - len(tail) - 4
    if len(label) > room:
        label = label[: max(room - 1, 20)].rstrip() + "…"
    text = f"{head}{joiner}{label}{tail}" if label else f"{head}{tail}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mistake_hint(got: Any, alternatives: Callable[[], list[tuple[str, Any]]] | None, rtol: float,
                  atol: float) -> str:
    """The hint of the first classic mistake whose values ``got`` matches ('' when none does)."""
    if alternatives is None or type(got) is not torch.Tensor:
        return ""
    for hint, wrong in alternatives():
        try:
            wrong = torch.as_tensor(wrong)
            if wrong.shape == got.shape and bool(torch.isclose(got.to(wrong.dtype), wrong, rtol=rtol, atol=atol,
                                                               equal_nan=True).all()):
                return hint
        except (RuntimeError, TypeError, ValueError):
            continue
    return ""


def judge(
    question: str, outcome: Outcome, expected: Any, label: str, *, rtol: float, atol: float, steps: bool,
    input_hint: str = "", ratios: dict[str, float] | None = None,
    alternatives: Callable[[], list[tuple[str, Any]]] | None = None,
) -> tuple[str, str] | None:
    """``(status, message)`` for one case whose call went wrong, or None when it agrees.

    The self-check and the trusted grader both decide with this function, so a student sees in the
    notebook the message the grader would write: one line of at most :data:`MAX_MESSAGE` characters,
    what is wrong first, then the failing case, then the hint. ``alternatives`` (a thunk, see
    :meth:`~course_lib.exercises.spec.Question.alternatives`) gives what classic mistakes return; a
    wrong value that matches one gets its hint.
    """
    q = f"Exercise {question}"
    if outcome.status == "not_implemented":
        return "not_implemented", _not_implemented_message(question)
    if outcome.status == "missing":
        return "failed", one_line(f"{q}: {outcome.detail or 'your function is not defined'}.", "")
    if outcome.status == "timeout":
        return "failed", one_line(f"{q}: too slow —", label, f" was still running after the time limit of "
                                  f"{outcome.detail or '?'} s (an infinite loop? a Python loop over every element?).",
                                  joiner=" ")
    if outcome.status == "died":
        return "failed", one_line(f"{q}: your function ended its Python process", label,
                                  f" ({outcome.detail}) — os._exit, a signal, or the memory limit?")
    if outcome.status == "raised":
        where = f" — at {outcome.where}" if outcome.where else ""
        return "failed", one_line(f"{q}: your function raised {outcome.error[:200]}", label, f"{where[:200]}.")
    if outcome.mutated:
        m = outcome.mutated[0]
        return "failed", one_line(f"{q}: your function changed its input `{m}` in place", label,
                                  f" (e.g. `-=` or `.add_()` on it). Build a new tensor instead: "
                                  f"`new = {m} - ...` leaves `{m}` as it was.")
    problem = _compare(expected, outcome.value, rtol=rtol, atol=atol, step_dim=steps, input_hint=input_hint,
                      ratios=ratios)
    if problem is not None:
        problem, _, hint = problem.partition(_HINT)
        if problem.startswith("wrong value"):
            hint = _mistake_hint(outcome.value, alternatives, rtol, atol) or hint
        return "failed", one_line(f"{q}: {problem}", label, f" — {hint}." if hint else ".")
    return None


def passed_message(question: str, total: int) -> str:
    """The message of a passing function check."""
    return f"Exercise {question}: passed — all {total} cases agree with the reference. ✓"


def as_number(answer: Any) -> float | None:
    """The answer as a float, or None when it is not a single real number."""
    from course_lib.exercises import wire

    return wire.as_real(answer)


def judge_number(
    question: str, answer: Any, truth: float, how: str, *, rtol: float, hidden: bool = False, reveal: bool = False,
    ratios: dict[str, float] | None = None,
) -> CheckResult:
    """Compare a predicted number (a plain value) with the true one; shared by self-check and grader.

    A wrong prediction is told whether it is too high or too low; the value itself is shown only when the
    prediction is right or ``reveal=True`` (so a student can't just copy it back).
    """
    from course_lib.exercises import wire

    if answer is Ellipsis or answer is None or (isinstance(answer, wire.Opaque) and answer.type_name == "ellipsis"):
        return CheckResult(
            question, "not_implemented",
            f"Exercise {question}: not answered yet. Replace `...` with your number, run that cell, then "
            f"run this check again.", 0, 1, hidden,
        )
    value = as_number(answer)
    if value is None:
        what = _kind_of(answer) if isinstance(answer, wire.Opaque) or wire.is_numpy(answer) else describe(answer)
        if type(answer) is int:
            what = "an integer too large for a float"
        return CheckResult(question, "failed", f"Exercise {question}: expected a single number, got {what}.", 0, 1,
                           hidden)
    if math.isnan(value) or math.isinf(value):
        return CheckResult(question, "failed", f"Exercise {question}: your answer is {value}.", 0, 1, hidden)
    error = abs(value - truth) / max(abs(truth), 1e-12)
    if error <= rtol:
        return CheckResult(
            question, "passed",
            f"Exercise {question}: passed — you predicted {value:.6g}, the computed value is {truth:.6g} "
            f"(within {rtol:.0%}). {how} ✓", 1, 1, hidden,
        )
    msg = f"Exercise {question}: your prediction {value:.6g} is {how_far(value, truth)} (the tolerance is {rtol:.0%})."
    for hint, factor in (ratios or {}).items():
        if truth != 0 and abs(value / truth - factor) <= rtol * abs(factor):
            msg += f" It matches a classic slip: {hint.rstrip('.?!')}?"
            break
    if reveal:
        msg += f" The computed value is {truth:.6g}. {how}"
    else:
        msg += f' Think again, or call check("{question}", ..., reveal=True) to see the computed value.'
    return CheckResult(question, "failed", msg, 1, 1, hidden)


def how_far(value: float, truth: float) -> str:
    """Too high or too low, and how far in coarse words only — never a number the answer can be
    recovered from ("a little too high", "too low", "much too high", "far too low", "of the wrong sign")."""
    if truth != 0 and (value == 0 or (value > 0) != (truth > 0)):
        return "of the wrong sign" if value != 0 else ("too low" if truth > 0 else "too high")
    direction = "too high" if value > truth else "too low"
    if truth == 0:
        return direction
    ratio = abs(value / truth)
    ratio = max(ratio, 1 / ratio) if ratio > 0 else math.inf
    if ratio <= 1.1:
        return f"a little {direction} (off by less than 10 %)"
    if ratio <= 1.5:
        return f"{direction} (off by 10 to 50 %)"
    if ratio <= 3:
        return f"much {direction} (off by a factor between 1.5 and 3)"
    return f"far {direction} (off by more than a factor of 3)"


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
    "Outcome",
    "as_number",
    "call_student",
    "clone",
    "compare",
    "describe",
    "guard",
    "judge",
    "judge_number",
    "manual",
    "student_line",
    "time_limit",
    "wall_limit",
]
