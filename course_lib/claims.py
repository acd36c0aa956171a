"""The claims ledger: every quantitative statement on a page, checked so that a wrong answer fails.

A bare ``assert abs(rate - 0.9) < 0.004`` can pass the very wrong answer it was written to rule out
(a measured 0.9025 is within 0.004 of the wrong 0.9045 too). A page calls :func:`claim` instead. Each
call states

- what is claimed, in words (the ``statement``, shown in the page's ledger);
- the ``measured`` value the page just computed;
- what it should be: an ``expected`` value with a tolerance (``tol`` absolute or ``rtol`` relative),
  or a bound (``at_most`` / ``at_least``);
- the plausible wrong answers it rules out (``rules_out``: name -> value), the off-by-one, the factor
  of two, the source's slip.

and fails (:class:`ClaimError`, an ``AssertionError`` naming the claim) in three cases:

1. the measurement misses: ``|measured - expected| > tol``, or the bound is violated;
2. the check cannot tell a wrong answer from the right one: a ruled-out value ``w`` would itself pass
   (``|w - expected| <= tol``, or ``w`` satisfies the bound), so the check is too loose the moment it
   is written, whatever the measurement;
3. the measurement does not discriminate: it is within ``tol`` of a ruled-out value too
   (``|measured - w| <= tol``), so the same number would "confirm" the wrong answer.

Exact claims (two trajectories equal to rounding, an identity) use :func:`claim_equal`; they need no
wrong answer, since their tolerance is rounding. Every call is recorded; :func:`ledger` shows the
page's folded "What this page checked" table and carries the same records as JSON (the book's build
writes them to ``_build/html/_ledger/<page>.json``, and a test reads them).

One readable line per claim::

    claim("late rate of NAG is 1 - 1/sqrt(kappa)", rate, 0.9, tol=1e-3,
          rules_out={"1 - 1/(2 sqrt kappa)": 0.95})
    claim("loss after 300 steps is below half the untrained loss", loss, at_most=1.15,
          rules_out={"untrained, ln 10": 2.303})
    claim_equal("SutskeverSGD equals momentum_path", path_optim, path_sim, tol=1e-12)
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "LEDGER_MIME",
    "Claim",
    "ClaimError",
    "claim",
    "claim_equal",
    "claims",
    "ledger",
    "reset",
]

#: The type of the ``<script>`` element in which the ledger's HTML carries its records as JSON
#: (read by ``_ext/ledger.py``; a script of unknown type is data, never executed).
LEDGER_MIME = "application/vnd.course.ledger+json"


class ClaimError(AssertionError):
    """A claim failed: its measurement missed, or its check cannot rule out a wrong answer."""


@dataclass
class RuledOut:
    """One wrong answer and how far the measurement is from it (in tolerance units for a
    close claim: > 1 means the check tells them apart; for a bound, how far past the bound
    the wrong answer lies, relative to the bound's scale)."""

    name: str
    value: float
    distance: float


@dataclass
class Claim:
    """One checked statement, as recorded in the page's ledger."""

    statement: str
    kind: str  # "close", "bound" or "exact"
    #: the measured value; for an exact claim, the largest |actual - reference| (shown as such)
    measured: float
    expected: float | None = None
    tol: float | None = None
    at_most: float | None = None
    at_least: float | None = None
    rules_out: list[RuledOut] = field(default_factory=list)
    unit: str = ""
    passed: bool = True
    #: how far the measurement is from what was expected: in tolerances for a close or exact
    #: claim (≤ 1 passes), relative distance past the bound for a bound (≤ 0 passes)
    deviation: float = 0.0


_CLAIMS: dict[str, Claim] = {}  # by statement: re-running a cell replaces its claim


def reset() -> None:
    """Forget every recorded claim (a fresh page)."""
    _CLAIMS.clear()


def claims() -> list[Claim]:
    """The claims recorded so far, in the order they were first made."""
    return list(_CLAIMS.values())


def _as_array(value: Any, what: str, statement: str) -> np.ndarray:
    """``value`` (a number, tensor or array) as a float64 array; an error naming the claim if not."""
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"claim {statement!r}: {what} must be a number or an array of numbers, "
            f"got {type(value).__name__}"
        ) from None
    return array


def _worst(values: np.ndarray) -> float:
    """The largest entry (nan when any entry is nan): the value a ledger shows for an array."""
    if values.size == 0:
        return float("nan")
    return float("nan") if np.isnan(values).any() else float(values.max())


def _bound_violation(
    x: float | np.ndarray, at_most: float | None, at_least: float | None
) -> float:
    """How far ``x`` lies past the bound (≤ 0: inside), relative to the bound's scale."""
    x = np.asarray(x, dtype=np.float64)
    past = np.full(x.shape, -np.inf)
    if at_most is not None:
        past = np.maximum(past, (x - at_most) / max(abs(at_most), 1e-300))
    if at_least is not None:
        past = np.maximum(past, (at_least - x) / max(abs(at_least), 1e-300))
    past = np.where(np.isnan(x), np.inf, past)
    return float(past.max()) if past.size else float("nan")


def _check_number(name: str, value: float | None, statement: str) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"claim {statement!r}: {name} must be a finite number, got {value!r}")


def _record(entry: Claim) -> Claim:
    _CLAIMS.pop(entry.statement, None)
    _CLAIMS[entry.statement] = entry
    return entry


def _fail(entry: Claim, why: str) -> None:
    entry.passed = False
    _record(entry)
    raise ClaimError(f"claim failed: {entry.statement!r}: {why}")


def claim(
    statement: str,
    measured: Any,
    expected: Any = None,
    *,
    tol: float | None = None,
    rtol: float | None = None,
    at_most: float | None = None,
    at_least: float | None = None,
    rules_out: Mapping[str, Any] | None = None,
    unit: str = "",
) -> Claim:
    """Check one quantitative statement and record it in the page's ledger.

    Either ``expected`` with ``tol`` (absolute) or ``rtol`` (relative to ``|expected|``): a close
    claim, passing when ``|measured - expected| <= tol``; or ``at_most`` and/or ``at_least``: a bound.
    ``measured`` and ``expected`` may be arrays (every entry must pass). ``rules_out`` maps each
    plausible wrong answer's name to its value (for a close claim, what ``expected`` would be if the
    wrong formula were right; for a bound, a value the measurement would take if the claim were
    false). It must not be empty: a check that rules out nothing is not a check. Raises
    :class:`ClaimError` when the measurement misses, when a ruled-out value would pass the check,
    or when the measurement is within tolerance of a ruled-out value. Returns the recorded claim.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("claim: the statement must be a non-empty string saying what is claimed")
    statement = " ".join(statement.split())
    is_bound = at_most is not None or at_least is not None
    if is_bound == (expected is not None):
        raise ValueError(
            f"claim {statement!r}: give either an expected value (with tol or rtol) "
            "or a bound (at_most / at_least), not both and not neither"
        )
    for name, value in (("at_most", at_most), ("at_least", at_least), ("tol", tol), ("rtol", rtol)):
        _check_number(name, value, statement)
    if not rules_out:
        raise ValueError(
            f"claim {statement!r}: name at least one wrong answer it rules out (rules_out=...); "
            "an identity that holds to rounding is a claim_equal"
        )
    m = _as_array(measured, "measured", statement)
    wrong = {str(k): _as_array(v, f"rules_out[{k!r}]", statement) for k, v in rules_out.items()}

    if is_bound:
        if tol is not None or rtol is not None:
            raise ValueError(f"claim {statement!r}: a bound takes no tol or rtol")
        if at_most is not None and at_least is not None and at_least > at_most:
            raise ValueError(f"claim {statement!r}: at_least {at_least} > at_most {at_most}")
        # an array shows the entry nearest to violating the bound
        shown = float(m.flat[int(np.argmax(_violations(m, at_most, at_least)))]) if m.size else math.nan
        entry = Claim(statement, "bound", shown, at_most=at_most, at_least=at_least, unit=unit)
        entry.deviation = _bound_violation(m, at_most, at_least)
        for name, w in wrong.items():
            entry.rules_out.append(
                RuledOut(name, _scalar(w), _bound_violation(w, at_most, at_least))
            )
        if not entry.deviation <= 0:
            _fail(entry, f"measured {entry.measured:.6g} violates the bound {_bound_text(entry)}")
        for r in entry.rules_out:
            if not r.distance > 0:
                _fail(
                    entry,
                    f"the wrong answer {r.name!r} = {r.value:.6g} also satisfies "
                    f"{_bound_text(entry)}: the bound cannot rule it out",
                )
        return _record(entry)

    e = _as_array(expected, "expected", statement)
    if (tol is None) == (rtol is None):
        raise ValueError(f"claim {statement!r}: give exactly one of tol (absolute) or rtol")
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    t = float(tol) if tol is not None else float(rtol) * scale  # type: ignore[arg-type]
    if not t > 0:
        raise ValueError(f"claim {statement!r}: the tolerance must be positive, got {t!r}")
    try:
        miss = _worst(np.abs(m - e))
    except ValueError:
        raise ValueError(
            f"claim {statement!r}: measured shape {m.shape} does not match expected {e.shape}"
        ) from None
    entry = Claim(statement, "close", _scalar(m), _scalar(e), t, unit=unit, deviation=miss / t)
    for name, w in wrong.items():
        entry.rules_out.append(RuledOut(name, _scalar(w), _worst(np.abs(m - w)) / t))
    if not miss <= t:
        _fail(
            entry,
            f"measured {entry.measured:.6g}, expected {entry.expected:.6g} ± {t:.3g} "
            f"(off by {miss / t:.2f} tolerances)",
        )
    for (name, w), r in zip(wrong.items(), entry.rules_out, strict=True):
        if _worst(np.abs(w - e)) <= t:
            _fail(
                entry,
                f"the wrong answer {name!r} = {r.value:.6g} is within the tolerance {t:.3g} of "
                f"the expected {entry.expected:.6g}: the check would pass it; tighten the "
                "tolerance or measure more precisely",
            )
        if not r.distance > 1:
            _fail(
                entry,
                f"measured {entry.measured:.6g} is within the tolerance {t:.3g} of the wrong "
                f"answer {name!r} = {r.value:.6g} too ({r.distance:.2f} tolerances): "
                "it cannot tell them apart",
            )
    return _record(entry)


def _violations(m: np.ndarray, at_most: float | None, at_least: float | None) -> np.ndarray:
    out = np.full(m.shape, -np.inf)
    if at_most is not None:
        out = np.maximum(out, m - at_most)
    if at_least is not None:
        out = np.maximum(out, at_least - m)
    return np.where(np.isnan(m), np.inf, out).reshape(-1)


def _scalar(a: np.ndarray) -> float:
    """A number for the ledger: the value itself, or an array's entry of largest magnitude."""
    if a.ndim == 0:
        return float(a)
    if a.size == 0:
        return float("nan")
    return float(a.flat[int(np.nanargmax(np.abs(a)))]) if not np.isnan(a).all() else math.nan


def _bound_text(entry: Claim) -> str:
    parts = []
    if entry.at_least is not None:
        parts.append(f"≥ {entry.at_least:.6g}")
    if entry.at_most is not None:
        parts.append(f"≤ {entry.at_most:.6g}")
    return " and ".join(parts)


def claim_equal(statement: str, actual: Any, reference: Any, *, tol: float) -> Claim:
    """Check an exact claim: ``actual`` equals ``reference`` to rounding (max abs difference ≤ tol).

    For identities (two formulations, an optimizer against its reference, a closed form against
    its defining sum): the tolerance is rounding, so there is no wrong answer to name. ``tol`` must
    be a rounding-sized number (≤ 1e-4), or the claim is not exact and belongs to :func:`claim`.
    The ledger shows the largest gap and the tolerance, e.g. ``max |a−b| = 3.1e-16 ≤ 1e-12``.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("claim_equal: the statement must be a non-empty string")
    statement = " ".join(statement.split())
    _check_number("tol", tol, statement)
    if not 0 <= tol <= 1e-4:
        raise ValueError(
            f"claim_equal {statement!r}: tol={tol!r} is not rounding; "
            "a looser match is a claim with the wrong answers it rules out"
        )
    a = _as_array(actual, "actual", statement)
    b = _as_array(reference, "reference", statement)
    try:
        gap = _worst(np.abs(a - b)) if a.size or b.size else 0.0
    except ValueError:
        raise ValueError(
            f"claim_equal {statement!r}: shapes {a.shape} and {b.shape} do not match"
        ) from None
    entry = Claim(statement, "exact", gap, 0.0, tol, deviation=gap / tol if tol else 0.0)
    if not gap <= tol:
        _fail(entry, f"max difference {gap:.3g} exceeds rounding tolerance {tol:.1g}")
    return _record(entry)


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"


def _exact_text(c: Claim) -> str:
    """An exact claim as what was measured: the largest gap between the two sides, and the
    rounding it must stay within (never a bare "measured 0", which reads as a measured zero)."""
    return f"max |a−b| = {_fmt(c.measured)} ≤ {_fmt(c.tol)}"


def _html_table(entries: list[Claim]) -> str:
    rows = []
    for i, c in enumerate(entries, 1):
        measured = f"{_fmt(c.measured)}{c.unit}"
        if c.kind == "bound":
            expected, tol = _bound_text(c), "bound"
        elif c.kind == "exact":
            measured = f"max |a−b| = {_fmt(c.measured)}"
            expected, tol = "a = b to rounding", f"≤ {_fmt(c.tol)}"
        else:
            expected, tol = _fmt(c.expected), f"± {_fmt(c.tol)}"
        if c.kind == "exact":
            wrong = "exact: none needed"
        else:
            unit = "tol" if c.kind == "close" else "past bound"
            wrong = "<br>".join(
                f"{html.escape(r.name)} = {_fmt(r.value)} "
                f"<small>({_fmt(r.distance)} {unit})</small>"
                for r in c.rules_out
            )
        status = "✓" if c.passed else "✗ FAILED"
        rows.append(
            f"<tr><td>{i}</td><td>{html.escape(c.statement)}</td>"
            f"<td>{html.escape(measured)}</td><td>{html.escape(expected)}</td>"
            f"<td>{html.escape(tol)}</td><td>{wrong}</td><td>{status}</td></tr>"
        )
    n_exact = sum(c.kind == "exact" for c in entries)
    return (
        '<details class="claims-ledger"><summary><strong>What this page checked</strong>: '
        f"{len(entries)} claims ({len(entries) - n_exact} against named wrong answers, "
        f"{n_exact} exact)</summary>"
        '<table class="claims-ledger-table"><thead><tr><th>#</th><th>claim</th>'
        "<th>measured</th><th>expected</th><th>tolerance</th><th>rules out (distance)</th>"
        "<th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></details>"
        + _json_script(entries)
    )


def _json_script(entries: list[Claim]) -> str:
    """The records inside the HTML, for the build to write out (``_ext/ledger.py``)."""
    data = json.dumps({"claims": records(entries)}).replace("</", "<\\/")
    return f'<script type="{LEDGER_MIME}" class="claims-ledger-data">{data}</script>'


def _plain_table(entries: list[Claim]) -> str:
    lines = [f"What this page checked: {len(entries)} claims"]
    for i, c in enumerate(entries, 1):
        status = "ok" if c.passed else "FAILED"
        shown = _exact_text(c) if c.kind == "exact" else f"measured {_fmt(c.measured)}{c.unit}"
        lines.append(f"{i:3d}. [{status}] {c.statement}: {shown}")
    return "\n".join(lines)


def records(entries: list[Claim] | None = None) -> list[dict[str, Any]]:
    """The claims as plain JSON-ready dictionaries (what the build writes per page)."""
    out = []
    for c in claims() if entries is None else entries:
        d = asdict(c)
        for key, value in list(d.items()):
            if isinstance(value, float) and not math.isfinite(value):
                d[key] = str(value)
        for r in d["rules_out"]:
            for key in ("value", "distance"):
                if not math.isfinite(r[key]):
                    r[key] = str(r[key])
        out.append(d)
    return out


class _Ledger:
    """What :func:`ledger` displays: folded HTML (carrying the JSON records) and plain text."""

    def __init__(self, entries: list[Claim]) -> None:
        self.entries = entries

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/html": _html_table(self.entries),
            "text/plain": _plain_table(self.entries),
        }

    def __repr__(self) -> str:
        return _plain_table(self.entries)


def ledger() -> _Ledger:
    """The page's ledger, for the last cell of a page: every claim made, folded in a table.

    Raises :class:`ClaimError` if the page made no claim or a recorded claim failed (a failed
    claim normally stops the page where it is made; this catches one that was caught).
    """
    entries = claims()
    if not entries:
        raise ClaimError("the page made no claim: its ledger would be empty")
    failed = [c.statement for c in entries if not c.passed]
    if failed:
        raise ClaimError(f"{len(failed)} claim(s) failed: {failed}")
    return _Ledger(entries)


def dumps(entries: list[Claim] | None = None) -> str:
    """The ledger as JSON text."""
    return json.dumps({"claims": records(entries)}, indent=1)
