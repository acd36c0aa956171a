"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State, check_lr, check_nonnegative

__all__ = ["Adagrad"]


class Adagrad(CourseOptimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), as ``torch.optim.Adagrad``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and ``opt-common-l2``,
    :math:`\eta` the ``lr_decay`` and :math:`V_0` = ``initial_accumulator_value``:

    .. math::
       \gamma_t &= \frac{\gamma}{1 + (t-1)\,\eta}                      && \text{(opt-adagrad-lr-decay)} \\
       V_t &= V_{t-1} + g_t \odot g_t                                   && \text{(opt-adagrad-accumulate)} \\
       \theta_t &= \theta_{t-1} - \gamma_t\, \frac{g_t}{\sqrt{V_t} + \varepsilon}
                                                                        && \text{(opt-adagrad-update)}

    Equation labels: ``opt-adagrad-lr-decay``, ``opt-adagrad-accumulate``,
    ``opt-adagrad-update`` (and ``opt-common-maximize``, ``opt-common-l2``).

    Differences from the paper: Duchi et al. analyse the diagonal version with
    :math:`\varepsilon` inside or omitted and no learning-rate decay; ``lr_decay`` and the
    starting value :math:`V_0` are PyTorch's additions. :math:`\varepsilon` is added to
    :math:`\sqrt{V_t}`, not to :math:`V_t`.

    Differences from torch: none in the arithmetic. Like torch, the state (``step``, ``sum``)
    is created eagerly in the constructor for the parameters given there (lazily for groups
    added later), and :math:`V_0` is always the constructor's ``initial_accumulator_value``:
    a different value in a parameter group's dict is ignored, as in torch. Sparse gradients,
    complex parameters, ``foreach``/``fused``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(lr_decay, "lr_decay value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(initial_accumulator_value, "initial_accumulator_value value")
        check_nonnegative(eps, "epsilon value")
        # --- end validation
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for theta in group["params"]:
                self._check_supported(theta)
                self._init_state(theta, self.state[theta], group)

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        state["sum"] = torch.full_like(
            theta,
            self.defaults["initial_accumulator_value"],
            memory_format=torch.preserve_format,
        )  # V_0

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, eta, eps = float(group["lr"]), group["lr_decay"], group["eps"]
            omega, maximize = group["weight_decay"], group["maximize"]
            for theta, g, state in self._with_grad(group):
                t = self._advance(state)
                g = self._direction(theta, g, maximize=maximize, weight_decay=omega)
                V = state["sum"]
                # γ_t = γ / (1 + (t−1)η)  (opt-adagrad-lr-decay)
                gamma_t = gamma / (1 + (t - 1) * eta)
                # V_t = V_{t−1} + g_t²  (opt-adagrad-accumulate)
                V.addcmul_(g, g, value=1)
                std = V.sqrt().add_(eps)  # √V_t + ε
                # θ_t = θ_{t−1} − γ_t g_t / (√V_t + ε)  (opt-adagrad-update)
                theta.addcdiv_(g, std, value=-gamma_t)
        return loss
