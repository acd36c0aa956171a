r"""What every optimizer of ``course_lib.optim`` shares, written once.

* hyperparameter checks that raise ``ValueError`` with torch's wording
  (``"Invalid learning rate: -1.0"``), so a reader who swaps torch.optim for
  course_lib sees the same error at the same place;
* :class:`CourseOptimizer`, a thin layer over :class:`torch.optim.Optimizer`
  (whose bookkeeping we reuse: ``param_groups``, ``state``, ``state_dict``,
  ``load_state_dict``, ``zero_grad``, ``add_param_group``) that

  - evaluates the closure once, with gradients enabled, and returns its loss;
  - walks the parameters of a group that have a gradient, skipping those whose
    ``grad`` is ``None``, and creates their state lazily on first use;
  - applies the two gradient transformations all optimizers share:

    .. math::
       g_t \leftarrow -g_t \quad\text{if maximize}                 \qquad\text{(opt-common-maximize)}

       g_t \leftarrow g_t + \omega\,\theta_{t-1}                    \qquad\text{(opt-common-l2)}

    and the decoupled weight decay of Loshchilov & Hutter (2019),

    .. math::
       \theta_{t-1} \leftarrow (1 - \gamma\omega)\,\theta_{t-1}     \qquad\text{(opt-common-decoupled-decay)}

  - keeps the step count in ``state["step"]`` as a 0-d CPU tensor, as torch does, so that
    state dicts load with ``torch.load(weights_only=True)`` and are interchangeable with
    torch.optim's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = [
    "Closure",
    "CourseOptimizer",
    "check_beta",
    "check_lr",
    "check_nonnegative",
    "scalar_dtype",
]

# torch < 2.3 lacks it
_is_compiling: Callable[[], bool] = getattr(
    torch.compiler, "is_compiling", lambda: False
)

Closure = Callable[[], Any]
State = dict[str, Any]  # one parameter's state (torch's optimizer.state[p])
Group = dict[str, Any]  # one parameter group, with its hyperparameters
"""A function that zeroes the gradients, computes the loss, calls ``backward`` and returns the loss."""


# --------------------------------------------------------------------------------------------
# Hyperparameter checks (torch's messages, word for word)
# --------------------------------------------------------------------------------------------


def check_lr(lr: float | Tensor) -> None:
    """Raise ``ValueError`` unless the learning rate is a number (or 1-element tensor) ≥ 0."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_nonnegative(value: float, what: str) -> None:
    """Raise ``ValueError(f"Invalid {what}: {value}")`` unless ``value ≥ 0`` (NaN fails too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def check_beta(beta: float, index: int) -> None:
    """Raise ``ValueError`` unless ``0 ≤ beta < 1`` (Adam's and NAdam's ``betas[index]``)."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def scalar_dtype() -> torch.dtype:
    """The dtype torch uses for ``state["step"]``: float64 if that is the default dtype, else float32."""
    return (
        torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    )


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------


class CourseOptimizer(Optimizer):
    """Base class of the course's optimizers; subclasses write ``__init__``, ``_init_state`` and ``step``.

    A subclass's ``step`` reads::

        loss = self._evaluate(closure)
        for group in self.param_groups:
            ...hyperparameters of the group...
            for theta, g, state in self._with_grad(group):
                g = self._direction(theta, g, maximize=..., weight_decay=...)
                ...one line per equation...
        return loss
    """

    # -- hooks for subclasses ----------------------------------------------------------------

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        """Create the per-parameter state (called once per parameter, on its first gradient)."""

    # -- shared machinery --------------------------------------------------------------------

    @staticmethod
    def _evaluate(closure: Closure | None) -> Any:
        """Call the closure (once, with autograd enabled) and return its loss; ``None`` without one."""
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()

    def _with_grad(
        self, group: dict[str, Any], *, stateful: bool = True
    ) -> Iterator[tuple[Tensor, Tensor, dict[str, Any]]]:
        """Yield ``(theta, grad, state)`` for each parameter of ``group`` whose grad is not None.

        State is created lazily: a parameter that has never had a gradient has no state, and a
        parameter's step count advances only on the steps where it has a gradient. With
        ``stateful=False`` (SGD without momentum) no state entry is touched, as in torch.
        """
        for theta in group["params"]:
            g = theta.grad
            if g is None:
                continue
            if not stateful:
                yield theta, g, {}
                continue
            state = self.state[theta]
            if len(state) == 0:
                self._check_supported(theta)
                self._init_state(theta, state, group)
            yield theta, g, state

    def _check_supported(self, theta: Tensor) -> None:
        """Refuse what the course's code leaves out (torch handles these by special paths)."""
        name = type(self).__name__
        if theta.grad is not None and theta.grad.is_sparse:
            raise RuntimeError(f"course_lib {name} does not support sparse gradients")
        if torch.is_complex(theta):
            raise RuntimeError(
                f"course_lib {name} does not support complex parameters "
                "(torch.optim views them as real; use torch.view_as_real)"
            )

    @staticmethod
    def _direction(
        theta: Tensor, g: Tensor, *, maximize: bool, weight_decay: float
    ) -> Tensor:
        r"""The gradient the update uses: :math:`\pm g_t + \omega\theta_{t-1}`.

        Never writes into ``theta.grad``; makes at most one temporary (torch makes two when both
        ``maximize`` and ``weight_decay`` are set; the arithmetic is the same).
        """
        if maximize:
            g = g.neg()  # g_t ← −g_t  (opt-common-maximize)
            if weight_decay != 0:
                # g_t ← g_t + ω θ_{t−1}  (opt-common-l2)
                g.add_(theta, alpha=weight_decay)
        elif weight_decay != 0:
            # g_t ← g_t + ω θ_{t−1}  (opt-common-l2)
            g = g.add(theta, alpha=weight_decay)
        return g

    @staticmethod
    def _decoupled_decay(theta: Tensor, lr: float, weight_decay: float) -> None:
        """Shrink the parameters in place: θ ← (1 − γω) θ  (opt-common-decoupled-decay)."""
        if weight_decay != 0:
            theta.mul_(1 - lr * weight_decay)

    @classmethod
    def _decayed_direction(
        cls,
        theta: Tensor,
        g: Tensor,
        *,
        lr: float,
        weight_decay: float,
        maximize: bool,
        decoupled: bool,
    ) -> Tensor:
        """The gradient an adaptive method uses, with weight decay either decoupled or as L2.

        Decoupled (AdamW's): shrink θ in place first, then use ±g_t (opt-common-decoupled-decay);
        otherwise fold ω θ_{t−1} into the gradient (opt-common-l2).
        """
        if decoupled:
            cls._decoupled_decay(theta, lr, weight_decay)
            return cls._direction(theta, g, maximize=maximize, weight_decay=0)
        return cls._direction(theta, g, maximize=maximize, weight_decay=weight_decay)

    @staticmethod
    def _new_step_count() -> Tensor:
        """``state["step"]``: a 0-d CPU tensor, float32 (float64 if that is the default dtype)."""
        return torch.tensor(0.0, dtype=scalar_dtype())

    @staticmethod
    def _advance(state: dict[str, Any], *, as_tensor: bool = False) -> float | Tensor:
        """Increment this parameter's step count t and return it.

        Eagerly, t is a Python float (``.item()`` of a CPU scalar is cheaper than 0-d tensor
        arithmetic), unless ``as_tensor``. Under ``torch.compile`` it stays a 0-d float64
        tensor, so the step traces into one graph (no ``.item()``, no graph break) and the bias
        corrections ``1 − β^t`` are computed in double precision, as Python computes them
        eagerly. A step that selects with ``torch.where`` on a function of t (RAdam) asks for
        the tensor eagerly too, so that it has one code path.
        """
        step = state["step"]
        step += 1
        if as_tensor or _is_compiling():
            return step.to(torch.float64)
        return step.item()
