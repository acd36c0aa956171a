r"""Learning-rate schedules, in closed form and as ``torch.optim.lr_scheduler`` classes (chapter 9).

A schedule is a sequence :math:`\gamma_t = \gamma_0 f(t)` of learning rates, :math:`t = 0, 1, \dots`
counting optimizer steps (torch's ``last_epoch``) and :math:`\gamma_0` the optimizer's initial ``lr``
(torch's ``base_lr``). Each schedule is written twice:

* a **closed form**, a plain function of :math:`t` (``step_lr``, ``exponential_lr``, ``cosine_lr``,
  ``linear_lr``, ``inverse_sqrt_lr``, ``one_cycle_lr``, ``wsd_lr``), the formula of the chapter;
* a **scheduler**, a subclass of :class:`torch.optim.lr_scheduler.LRScheduler` that sets
  ``group["lr"]`` of every param group at every ``step()``, with torch's bookkeeping
  (``state_dict``, ``load_state_dict``, ``get_last_lr``, resuming with ``last_epoch``).

Where torch has the schedule (``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LinearLR``,
``OneCycleLR``) our class computes ``get_lr`` by torch's rule: the *chainable* (recursive) form that
updates the current ``group["lr"]``, so that it composes with other schedulers in a
``ChainedScheduler`` exactly as torch's does, and ``_get_closed_form_lr`` from the closed form (what
``SequentialLR`` calls at a milestone). The two that torch lacks are multiplicative (chainable)
for the inverse square root, and a closed form like ``LambdaLR``/``OneCycleLR`` for
warmup-stable-decay, whose factor may start at 0. ``tests/test_schedules.py`` checks all of it
against torch at every step.
"""

from __future__ import annotations

import math
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "InverseSqrtLR",
    "LinearLR",
    "OneCycleLR",
    "StepLR",
    "WarmupStableDecayLR",
    "cosine_lr",
    "exponential_lr",
    "inverse_sqrt_lr",
    "linear_lr",
    "one_cycle_lr",
    "step_lr",
    "wsd_lr",
]


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_factor(name: str, value: float, low: float, high: float, open_low: bool = False) -> None:
    ok = (low < value <= high) if open_low else (low <= value <= high)
    if not ok:
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


# --------------------------------------------------------------------------------------------
# Closed forms: gamma_t as a function of the step t = 0, 1, ...
# --------------------------------------------------------------------------------------------


def step_lr(t: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    r"""Step decay: :math:`\gamma_t = \gamma_0\, \rho^{\lfloor t/s \rfloor}` (``s`` = ``step_size``)."""
    return base_lr * gamma ** (t // step_size)


def exponential_lr(t: int, base_lr: float, gamma: float) -> float:
    r"""Exponential decay: :math:`\gamma_t = \gamma_0\, \rho^t`."""
    return base_lr * gamma**t


def cosine_lr(t: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    r"""Cosine annealing: :math:`\gamma_t = \gamma_{\min} + \tfrac12(\gamma_0 - \gamma_{\min})(1 + \cos(\pi t/T))`.

    As torch's ``CosineAnnealingLR`` (and unlike SGDR), it is periodic in :math:`t` with period
    :math:`2T` rather than constant after :math:`T`.
    """
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def linear_lr(t: int, base_lr: float, start_factor: float = 1 / 3, end_factor: float = 1.0,
              total_iters: int = 5) -> float:
    r"""Linear ramp of the factor from ``start_factor`` to ``end_factor`` over ``total_iters`` steps, then flat."""
    return base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, t) / total_iters)


def inverse_sqrt_lr(t: int, base_lr: float, warmup_steps: int = 1) -> float:
    r"""Inverse square root with linear warmup: :math:`\gamma_t = \gamma_0 \min\big(\tfrac{t+1}{w}, \sqrt{w/(t+1)}\big)`.

    The two branches meet at :math:`t + 1 = w`, where :math:`\gamma_t = \gamma_0`; ``warmup_steps = 1``
    is the plain :math:`\gamma_0/\sqrt{t+1}`.
    """
    return base_lr * min((t + 1) / warmup_steps, math.sqrt(warmup_steps / (t + 1)))


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """From ``start`` (pct 0) to ``end`` (pct 1): half a cosine, or a straight line."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[tuple[float, str, str]]:
    """(last step of the phase, start, end) for each phase, as in torch's ``OneCycleLR``."""
    up = float(pct_start * total_steps) - 1
    if three_phase:
        return [(up, "initial", "max"), (float(2 * pct_start * total_steps) - 2, "max", "initial"),
                (total_steps - 1, "initial", "min")]
    return [(up, "initial", "max"), (total_steps - 1, "max", "min")]


def one_cycle_lr(t: int, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: Literal["cos", "linear"] = "cos", div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> float:
    r"""One-cycle (Smith & Topin): up from :math:`\gamma_{\max}/d` to :math:`\gamma_{\max}` over the first
    ``pct_start`` of the steps, then down to :math:`\gamma_{\max}/(d\,d_{\text{final}})`.

    Each phase anneals by half a cosine (or linearly) in :math:`p = (t - t_{\text{start}})/(t_{\text{end}} - t_{\text{start}})`,
    with torch's phase ends (the first ends at step :math:`\lceil\,\text{pct\_start}\cdot T\rceil - 1`).
    """
    lrs = {"initial": max_lr / div_factor, "max": max_lr}
    lrs["min"] = lrs["initial"] / final_div_factor
    start = 0.0
    phases = _one_cycle_phases(total_steps, pct_start, three_phase)
    for i, (end, lo, hi) in enumerate(phases):
        if t <= end or i == len(phases) - 1:
            return _anneal(lrs[lo], lrs[hi], (t - start) / (end - start), anneal_strategy)
        start = end
    raise AssertionError("unreachable")  # pragma: no cover


def wsd_lr(
    t: int,
    base_lr: float,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    start_factor: float = 0.0,
    end_factor: float = 0.0,
    decay: Literal["linear", "cosine", "sqrt"] = "linear",
) -> float:
    r"""Warmup-stable-decay: a linear warmup from ``start_factor`` over ``warmup_steps``, the base lr for
    ``stable_steps``, a decay to ``end_factor`` over ``decay_steps``, then flat at ``end_factor``.

    With :math:`k = t - w - s` the step into the decay and :math:`q = \min(k/d, 1)`, the decay factor is
    :math:`1 - (1-e)\,\phi(q)` with :math:`\phi(q) = q` (linear), :math:`\tfrac12(1 - \cos\pi q)`
    (cosine) or :math:`\sqrt q` ("1 − sqrt", Hägele et al.).
    """
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    k = t - warmup_steps - stable_steps
    if k <= 0:
        return base_lr
    q = min(k / decay_steps, 1.0)
    phi = {"linear": q, "cosine": (1 - math.cos(math.pi * q)) / 2, "sqrt": math.sqrt(q)}
    return base_lr * (1 - (1 - end_factor) * phi[decay])


# --------------------------------------------------------------------------------------------
# Schedulers
# --------------------------------------------------------------------------------------------


def _current(scheduler: LRScheduler) -> list[float]:
    return [group["lr"] for group in scheduler.optimizer.param_groups]


class StepLR(LRScheduler):
    r"""Multiply every group's lr by ``gamma`` every ``step_size`` steps (as ``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_int("step_size", step_size, 1)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable form: the current lr, times ``gamma`` at a non-zero multiple of ``step_size``."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _current(self)
        return [lr * self.gamma for lr in _current(self)]

    def _get_closed_form_lr(self) -> list[float]:
        return [step_lr(self.last_epoch, b, self.step_size, self.gamma) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Multiply every group's lr by ``gamma`` at every step (as ``torch.optim.lr_scheduler.ExponentialLR``).

    ``gamma > 1`` makes the lr grow geometrically, as in a learning-rate range test.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        if not gamma > 0:  # > 1 grows the lr (the range test of chapter 9)
            raise ValueError(f"gamma must be > 0, got {gamma!r}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable form: the current lr times ``gamma`` (not at construction)."""
        if self._is_initial:
            return _current(self)
        return [lr * self.gamma for lr in _current(self)]

    def _get_closed_form_lr(self) -> list[float]:
        return [exponential_lr(self.last_epoch, b, self.gamma) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the base lr to ``eta_min`` over ``T_max`` steps (as torch's ``CosineAnnealingLR``).

    ``get_lr`` is torch's recursion: :math:`\gamma_t - \gamma_{\min} = (\gamma_{t-1} - \gamma_{\min})
    \frac{1 + \cos(\pi t/T)}{1 + \cos(\pi (t-1)/T)}`, which equals the closed form :func:`cosine_lr` when
    nothing else touches the lr, and the additive step at the bottom of a period, where the ratio's
    denominator vanishes.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_int("T_max", T_max, 1)
        if eta_min < 0:
            raise ValueError(f"eta_min must be >= 0, got {eta_min!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable form (torch's recursion, branch for branch)."""
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _current(self)
        if self._step_count == 1 and t > 0:  # resumed with last_epoch: closed form
            return self._get_closed_form_lr()
        if (t - 1 - T) % (2 * T) == 0:  # leaving the bottom, 1 + cos(pi (t-1)/T) = 0
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for lr, b in zip(_current(self), self.base_lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [lo + (lr - lo) * ratio for lr in _current(self)]

    def _get_closed_form_lr(self) -> list[float]:
        return [cosine_lr(self.last_epoch, b, self.T_max, self.eta_min) for b in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Ramp the lr's factor linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps
    (as ``torch.optim.lr_scheduler.LinearLR``; a warmup when ``start_factor < end_factor``)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        _check_factor("start_factor", start_factor, 0.0, 1.0, open_low=True)
        _check_factor("end_factor", end_factor, 0.0, 1.0)
        _check_int("total_iters", total_iters, 1)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable form: the factor's ratio f(t)/f(t-1) applied to the current lr."""
        t, a, e, n = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        if t == 0:
            return [lr * a for lr in _current(self)]
        if self._is_initial or t > n:
            return _current(self)
        ratio = 1.0 + (e - a) / (n * a + (t - 1) * (e - a))  # f(t)/f(t-1), f(t) = a + (e-a) t/n
        return [lr * ratio for lr in _current(self)]

    def _get_closed_form_lr(self) -> list[float]:
        return [linear_lr(self.last_epoch, b, self.start_factor, self.end_factor, self.total_iters)
                for b in self.base_lrs]


class InverseSqrtLR(LRScheduler):
    r"""Linear warmup over ``warmup_steps``, then :math:`\gamma_0\sqrt{w/(t+1)}` (:func:`inverse_sqrt_lr`).

    torch has no such class (``LambdaLR`` with the same factor gives the same values). ``get_lr`` is
    multiplicative, the current lr times :math:`f(t)/f(t-1)`, so it chains like torch's own.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int = 1, last_epoch: int = -1) -> None:
        _check_int("warmup_steps", warmup_steps, 1)
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch)

    def _factor(self, t: int) -> float:
        return inverse_sqrt_lr(t, 1.0, self.warmup_steps)

    def get_lr(self) -> list[float]:
        """Chainable form: the current lr times f(t)/f(t-1); f(0) at step 0."""
        t = self.last_epoch
        if self._is_initial and t > 0:  # resumed with last_epoch: the lrs are already set
            return _current(self)
        ratio = self._factor(0) if t == 0 else self._factor(t) / self._factor(t - 1)
        return [lr * ratio for lr in _current(self)]

    def _get_closed_form_lr(self) -> list[float]:
        return [inverse_sqrt_lr(self.last_epoch, b, self.warmup_steps) for b in self.base_lrs]


class OneCycleLR(LRScheduler):
    r"""The one-cycle policy (as ``torch.optim.lr_scheduler.OneCycleLR``, :func:`one_cycle_lr` per group).

    Like torch's, it sets each group's ``initial_lr`` to ``max_lr / div_factor`` (ignoring the
    optimizer's ``lr``) and, with ``cycle_momentum``, moves the momentum (or Adam's
    :math:`\beta_1`) the opposite way: from ``max_momentum`` down to ``base_momentum`` while the lr
    rises, and back while it falls.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int,
                 pct_start: float = 0.3, anneal_strategy: Literal["cos", "linear"] = "cos",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1) -> None:
        _check_int("total_steps", total_steps, 1)
        if not (isinstance(pct_start, float) and 0 <= pct_start <= 1):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        n = len(optimizer.param_groups)

        def per_group(name: str, value: float | list[float]) -> list[float]:
            values = list(value) if isinstance(value, (list, tuple)) else [value] * n
            if len(values) != n:
                raise ValueError(f"expected {n} values for {name}, got {len(values)}")
            return values

        self.total_steps, self.pct_start, self.three_phase = total_steps, pct_start, three_phase
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, cycle_momentum
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
        if last_epoch == -1:
            moms = zip(per_group("max_momentum", max_momentum), per_group("base_momentum", base_momentum),
                       strict=True)
            for group, peak, (m_max, m_base) in zip(optimizer.param_groups, per_group("max_lr", max_lr),
                                                    moms, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if cycle_momentum:
                    group["max_momentum"], group["base_momentum"] = m_max, m_base
                    self._set_momentum(group, m_max)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _momentum(self, group: dict, t: int) -> float:
        """The momentum at step t: the lr's phase shape from max to base (and back), mirrored."""
        ends = {"initial": group["max_momentum"], "max": group["base_momentum"], "min": group["max_momentum"]}
        start = 0.0
        phases = _one_cycle_phases(self.total_steps, self.pct_start, self.three_phase)
        for i, (end, lo, hi) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                return _anneal(ends[lo], ends[hi], (t - start) / (end - start), self.anneal_strategy)
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    def get_lr(self) -> list[float]:
        """Closed form per group (and, with ``cycle_momentum``, the momentum as a side effect)."""
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"Tried to step {t} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(one_cycle_lr(t, group["max_lr"], self.total_steps, self.pct_start, self.anneal_strategy,
                                    self.div_factor, self.final_div_factor, self.three_phase))
            if self.cycle_momentum:
                self._set_momentum(group, self._momentum(group, t))
        return lrs

    _get_closed_form_lr = get_lr


class WarmupStableDecayLR(LRScheduler):
    r"""Warmup-stable-decay (:func:`wsd_lr`): warm up linearly, hold the base lr, decay at the end.

    torch has no such class; ``SequentialLR`` of ``LinearLR`` (warmup), ``ConstantLR(factor=1)`` and
    ``LinearLR``/``CosineAnnealingLR`` (decay) gives the same values. ``get_lr`` is the closed form,
    as in ``LambdaLR``, since the factor may start at 0 (and a product of ratios cannot).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        stable_steps: int,
        decay_steps: int,
        start_factor: float = 0.0,
        end_factor: float = 0.0,
        decay: Literal["linear", "cosine", "sqrt"] = "linear",
        last_epoch: int = -1,
    ) -> None:
        _check_int("warmup_steps", warmup_steps, 0)
        _check_int("stable_steps", stable_steps, 0)
        _check_int("decay_steps", decay_steps, 1)
        _check_factor("start_factor", start_factor, 0.0, 1.0)
        _check_factor("end_factor", end_factor, 0.0, 1.0)
        if decay not in ("linear", "cosine", "sqrt"):
            raise ValueError(f"decay must be linear, cosine or sqrt, got {decay!r}")
        self.warmup_steps, self.stable_steps = warmup_steps, stable_steps
        self.decay_steps = decay_steps
        self.start_factor, self.end_factor, self.decay = start_factor, end_factor, decay
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Closed form per group: :func:`wsd_lr` at the current step."""
        t, w, s = self.last_epoch, self.warmup_steps, self.stable_steps
        d, a, e = self.decay_steps, self.start_factor, self.end_factor
        return [wsd_lr(t, b, w, s, d, a, e, self.decay) for b in self.base_lrs]

    _get_closed_form_lr = get_lr
