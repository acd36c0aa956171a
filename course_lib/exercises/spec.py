"""How a chapter declares its questions: one definition, used by the self-check and by the grader.

A chapter module (``course_lib/exercises/chNN.py``) declares each question once::

    @implement("1.1", "Gradient descent, vectorised over starts", name="gradient_descent",
               reference=_reference, rtol=1e-5, atol=1e-6, steps=True, forbid=("course_lib.dynamics.ode.gradient_descent",))
    def _cases_1_1(rng: Rng, group: str) -> list[Case]:
        ...  # plain-data inputs: tensors, numbers, and Fn(...) specs of callable arguments

    @predict("1.2", "Find the divergence boundary", name="lr_max", rtol=0.01)
    def _truth_1_2() -> tuple[float, str]:
        return 0.25, "Verified by simulation: ..."

    explain("1.4", "Why the flow converges and gradient descent does not")

The student's self-check (:func:`course_lib.exercises.check`) runs every group of cases in the notebook
with fresh random values. The grader builds the same groups with a secret seed in a process that runs
no student code, computes the expected values there, sends only the inputs to the sandboxed notebook,
and compares the plain-data results it gets back (see :mod:`course_tools.grader.grading`). So the
self-check and the grader test the same families of cases, with the same messages.

Everything a case holds must be plain data (the grader ships it to the sandbox): tensors, numbers,
numpy scalars, strings, tuples/lists/dicts of them, and :class:`Fn` — a callable argument described by a
builder name and plain parameters, rebuilt on each side (e.g. the gradient of a quadratic from its
Hessian and minimizer). Chapter modules add builders with :func:`builder`.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import torch

#: The case groups a question may declare. "core": random cases; "edge": the edge families.
DEFAULT_GROUPS = ("core", "edge")

# --------------------------------------------------------------------------------------------- builders

_BUILDERS: dict[str, Callable[..., Callable[..., Any]]] = {}


def builder(name: str) -> Callable[[Callable[..., Callable[..., Any]]], Callable[..., Callable[..., Any]]]:
    """Decorator: register ``make(**params) -> callable`` under ``name``, for :class:`Fn` specs.

    The builder runs on both sides (trusted and sandboxed), so it must depend only on its parameters.
    """

    def decorate(make: Callable[..., Callable[..., Any]]) -> Callable[..., Callable[..., Any]]:
        if name in _BUILDERS and _BUILDERS[name] is not make:
            raise ValueError(f"builder {name!r} is registered twice")
        _BUILDERS[name] = make
        return make

    return decorate


@dataclasses.dataclass(frozen=True)
class Fn:
    """A callable argument as plain data: ``Fn("quadratic_grad", hessian=[[...]], minimizer=[...])``."""

    kind: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __init__(self, kind: str, **params: Any) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "params", params)

    def build(self) -> Callable[..., Any]:
        """The callable this spec describes."""
        if self.kind not in _BUILDERS:
            raise ValueError(f"no builder named {self.kind!r} (known: {', '.join(sorted(_BUILDERS))})")
        return _BUILDERS[self.kind](**self.params)


def _matrix_like(theta: torch.Tensor, values: Sequence[Sequence[float]] | Sequence[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=theta.dtype, device=theta.device)


@builder("quadratic_grad")
def _quadratic_grad(hessian: list[list[float]], minimizer: list[float] | None = None) -> Callable[..., Any]:
    """∇L(θ) = H(θ − θ*) for a symmetric H, in θ's dtype and on θ's device."""

    def grad(theta: torch.Tensor) -> torch.Tensor:
        H = _matrix_like(theta, hessian)
        m = _matrix_like(theta, minimizer) if minimizer is not None else torch.zeros_like(theta[..., :1])
        return (theta - m) @ H

    return grad


@builder("quadratic_drift")
def _quadratic_drift(hessian: list[list[float]], minimizer: list[float] | None = None) -> Callable[..., Any]:
    """The drift −∇L(θ) = −H(θ − θ*) of the gradient flow."""
    grad = _quadratic_grad(hessian, minimizer)
    return lambda theta: -grad(theta)


@builder("zero")
def _zero() -> Callable[..., Any]:
    """θ ↦ 0 (of θ's shape): a drift or gradient that is identically zero."""
    return lambda theta: torch.zeros_like(theta)


def build(value: Any) -> Any:
    """``value`` with every :class:`Fn` inside (tuples, lists, dicts) replaced by its callable."""
    if isinstance(value, Fn):
        return value.build()
    if isinstance(value, tuple):
        return tuple(build(v) for v in value)
    if isinstance(value, list):
        return [build(v) for v in value]
    if isinstance(value, dict):
        return {k: build(v) for k, v in value.items()}
    return value


def to_plain(value: Any) -> Any:
    """``value`` with each :class:`Fn` as ``{"__fn__": kind, "params": ...}`` (for the wire)."""
    if isinstance(value, Fn):
        return {"__fn__": value.kind, "params": value.params}
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def from_plain(value: Any) -> Any:
    """The inverse of :func:`to_plain`."""
    if isinstance(value, dict) and set(value) == {"__fn__", "params"}:
        return Fn(str(value["__fn__"]), **dict(value["params"]))
    if isinstance(value, tuple):
        return tuple(from_plain(v) for v in value)
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: from_plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------ cases


class Rng:
    """Random case values from a seeded CPU generator (fresh seed for self-checks, secret for grading)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = secrets.randbits(31) if seed is None else int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    def uniform(self, low: float, high: float) -> float:
        """A float drawn uniformly from [low, high)."""
        return low + (high - low) * float(torch.rand((), generator=self.generator, dtype=torch.float64))

    def integer(self, low: int, high: int) -> int:
        """An int drawn uniformly from [low, high]."""
        return int(torch.randint(low, high + 1, (), generator=self.generator))

    def normal(self, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Standard normal samples of ``shape`` in ``dtype`` (drawn in float64, then cast)."""
        return torch.randn(*shape, generator=self.generator, dtype=torch.float64).to(dtype)

    def rand(self, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Uniform [0, 1) samples of ``shape`` in ``dtype``."""
        return torch.rand(*shape, generator=self.generator, dtype=torch.float64).to(dtype)


@dataclasses.dataclass
class Case:
    """One call of the student's function, as plain data.

    Attributes:
        args, kwargs: the inputs (tensors, numbers, :class:`Fn` specs ...); sent to the student's side.
        family: the case family in words, e.g. "float32 inputs" or "z = 0: only the drift term counts";
            the message names it, so it should say what the family tests.
        description: the concrete inputs in words, e.g. "theta0 of shape (3, 2), lr=0.1, n_steps=5".
        extra: keyword arguments for the reference only (trusted side; never sent), e.g. a seed.
        ratios: {hint: factor}: when the student's values are ``factor`` × the expected ones, the message
            adds ``hint`` (e.g. {"you divided by N − 1 ...": N / (N - 1)}).
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    family: str = ""
    description: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    ratios: dict[str, float] = dataclasses.field(default_factory=dict)

    def label(self, index: int, total: int) -> str:
        """"case 2 of 5 (float32 inputs: theta0 of shape (3, 2) ...)"."""
        inner = ": ".join(x for x in (self.family, self.description) if x)
        return f"case {index} of {total}" + (f" ({inner})" if inner else "")


# -------------------------------------------------------------------------------------------- questions


@dataclasses.dataclass
class Question:
    """A registered question. ``kind`` is "implement", "predict" or "explain"."""

    id: str
    kind: str
    title: str
    name: str = ""
    reference: Callable[..., Any] | None = None
    cases: Callable[[Rng, str], list[Case]] | None = None
    groups: tuple[str, ...] = DEFAULT_GROUPS
    compute: Callable[[], tuple[float, str]] | None = None
    rtol: float = 1e-5
    atol: float = 1e-8
    steps: bool = False
    input_hint: str = ""
    arg_names: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    time_limit_s: float = 2.0
    ratios: dict[str, float] = dataclasses.field(default_factory=dict)
    legacy: Callable[[Any, Any, bool], Any] | None = None
    mistakes: dict[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)

    def alternatives(self, case: Case) -> Callable[[], list[tuple[str, Any]]]:
        """A thunk giving ``[(hint, what the mistake returns)]`` for ``case`` (computed only when needed)."""

        def compute() -> list[tuple[str, Any]]:
            out = []
            for hint, wrong in self.mistakes.items():
                try:
                    out.append((hint, wrong(*build(case.args), **build(case.kwargs), **case.extra)))
                except Exception:  # noqa: BLE001, S112 - a mistake that can't be computed gives no hint
                    continue
            return out

        return compute


    def group_of(self, hidden: bool | str) -> tuple[str, ...]:
        """The case groups a check runs: all of them for a self-check, one for ``hidden=True``/"edge"/name."""
        if hidden is False or hidden is None:
            return self.groups
        if hidden is True:
            return (self.groups[0],)
        if str(hidden) not in self.groups:
            raise ValueError(f"question {self.id} has no case group {hidden!r} (groups: {self.groups})")
        return (str(hidden),)

    def make_cases(self, rng: Rng, hidden: bool | str) -> list[Case]:
        """The cases of the groups ``hidden`` selects, built with ``rng``."""
        if self.cases is None:
            raise ValueError(f"question {self.id} has no cases")
        out: list[Case] = []
        for group in self.group_of(hidden):
            out.extend(self.cases(rng, group))
        return out


_QUESTIONS: dict[str, Question] = {}


def _add(question: Question) -> Question:
    if question.kind not in ("implement", "predict", "explain"):
        raise ValueError(f"kind must be implement, predict or explain, got {question.kind!r}")
    _QUESTIONS[question.id] = question
    return question


def implement(
    question: str,
    title: str,
    *,
    name: str,
    reference: Callable[..., Any],
    rtol: float = 1e-5,
    atol: float = 1e-8,
    steps: bool = False,
    input_hint: str = "",
    arg_names: Sequence[str] = (),
    forbid: Sequence[str] = (),
    groups: Sequence[str] = DEFAULT_GROUPS,
    time_limit_s: float = 2.0,
    mistakes: dict[str, Callable[..., Any]] | None = None,
) -> Callable[[Callable[[Rng, str], list[Case]]], Callable[[Rng, str], list[Case]]]:
    """Decorator: declare an implement question whose cases the decorated function builds.

    Args:
        question: the id, e.g. ``"3.1"``.
        title: the exercise's title.
        name: the function the student writes (the grader looks it up by this name).
        reference: the trusted implementation, called as ``reference(*args, **kwargs, **case.extra)``
            on the built inputs (import ``course_lib`` inside it, so this module imports without it).
        rtol, atol: tolerances of the comparison (:func:`torch.isclose`).
        steps: the output's first dimension counts steps (messages say "first at step k").
        input_hint: where the expected dtype comes from, e.g. "the dtype of theta0".
        arg_names: the argument names for messages ("changed its input `theta0` in place").
        forbid: dotted names of library functions the answer must not call (the grader flags them).
        groups: the case groups; ``hidden=True`` in a hidden cell means the first, ``hidden="edge"`` "edge".
        time_limit_s: per-case time limit for the self-check (the grader uses --check-timeout).
        mistakes: {hint: wrong_reference}: classic mistakes written out, called like ``reference``; when
            the student's values match one (and not the reference), the message adds its hint.
    """

    def decorate(cases: Callable[[Rng, str], list[Case]]) -> Callable[[Rng, str], list[Case]]:
        _add(Question(question, "implement", title, name=name, reference=reference, cases=cases,
                      groups=tuple(groups), rtol=rtol, atol=atol, steps=steps, input_hint=input_hint,
                      arg_names=tuple(arg_names), forbid=tuple(forbid), time_limit_s=time_limit_s,
                      mistakes=dict(mistakes or {})))
        return cases

    return decorate


def predict(
    question: str, title: str, *, name: str, rtol: float = 0.01, forbid: Sequence[str] = (),
    ratios: dict[str, float] | None = None,
) -> Callable[[Callable[[], tuple[float, str]]], Callable[[], tuple[float, str]]]:
    """Decorator: declare a predict-then-verify question; the decorated ``compute()`` returns
    ``(value, how)`` — the true value (verified, e.g. by simulation) and one sentence on how.

    ``name`` is the variable the student's answer cell assigns (e.g. ``lr_max``); ``ratios`` maps a hint
    to the factor (prediction / truth) of a classic slip, e.g. ``{"the factor 2 of 2Bλ is missing": 2.0}``.
    The grader computes ``compute()`` once per batch, in its own process.
    """

    def decorate(compute: Callable[[], tuple[float, str]]) -> Callable[[], tuple[float, str]]:
        _add(Question(question, "predict", title, name=name, compute=compute, rtol=rtol, forbid=tuple(forbid),
                      ratios=dict(ratios or {})))
        return compute

    return decorate


def explain(question: str, title: str) -> None:
    """Declare an explain question (graded by hand)."""
    _add(Question(question, "explain", title))


def registered() -> dict[str, Question]:
    """The questions declared so far (the registry imports the chapter modules first)."""
    return _QUESTIONS


@dataclasses.dataclass(frozen=True)
class Section:
    """Where the chapter explains a question: its section number and title, and the equation's label."""

    number: str
    title: str
    equation: str = ""


_SECTIONS: dict[str, Section] = {}


def see(question: str, number: str, title: str, equation: str = "") -> None:
    """Declare the chapter section (and equation label) a question rests on; the exercise links it."""
    _SECTIONS[question] = Section(number, title, equation)


def section_of(question: str) -> Section | None:
    """The section declared with :func:`see` for ``question`` (None when there is none)."""
    return _SECTIONS.get(question)
