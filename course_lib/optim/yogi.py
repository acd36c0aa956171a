"""Yogi: Adam whose second moment moves additively, by at most (1 − β2) g² per step."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, check_beta, check_lr, check_nonnegative

__all__ = ["Yogi"]


class Yogi(CourseOptimizer):
    r"""Yogi (Zaheer et al., 2018), as ``pytorch_optimizer.Yogi`` (its defaults and its bias correction).

    With :math:`g_t` the gradient after ``opt-common-maximize`` and, if ``weight_decay`` is not
    zero, ``opt-common-decoupled-decay``; :math:`m_0 = V_0 = v_{\text{init}}` (``initial_accumulator``):

    .. math::
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                                   && \text{(opt-yogi-first-moment)} \\
       V_t &= V_{t-1} - (1-\beta_2)\,\operatorname{sign}(V_{t-1} - g_t^2)\, g_t^2   && \text{(opt-yogi-second-moment)} \\
       \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{V_t}/\sqrt{1-\beta_2^t} + \varepsilon}          && \text{(opt-yogi-update)}

    Equation labels: ``opt-yogi-first-moment``, ``opt-yogi-second-moment``, ``opt-yogi-update``
    (and ``opt-common-maximize``, ``opt-common-decoupled-decay``).

    Adam's :math:`V_t - V_{t-1} = (1-\beta_2)(g_t^2 - V_{t-1})` is multiplicative: after a burst
    of large gradients, :math:`V` forgets it geometrically, and a sudden large :math:`g_t^2` can
    raise :math:`V` by a large factor in one step. Yogi keeps the sign of that change and
    replaces its size by :math:`(1-\beta_2)\,g_t^2`: when :math:`V_{t-1} \gg g_t^2` it decays
    only by :math:`(1-\beta_2)g_t^2` per step, so the effective learning rate grows slowly.

    Differences from the paper: Zaheer et al. write the update without bias correction and with
    :math:`\varepsilon = 10^{-3}`; ``pytorch_optimizer`` (and this class) divide by
    :math:`1-\beta_1^t` and :math:`\sqrt{1-\beta_2^t}` as Adam does and start both moments at
    ``initial_accumulator`` :math:`= 10^{-6}`. Differences from ``pytorch_optimizer``: its
    ``fixed_decay``, ``adam_debias``, ``foreach`` and complex support are left out; weight
    decay is decoupled (its default ``weight_decouple=True``).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-3,
        weight_decay: float = 0,
        *,
        initial_accumulator: float = 1e-6,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(eps, "epsilon value")
        check_beta(betas[0], 0)
        check_beta(betas[1], 1)
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(initial_accumulator, "initial_accumulator value")
        # --- end validation
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator": initial_accumulator,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _init_state(
        self, theta: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        state["step"] = self._new_step_count()
        v0 = group["initial_accumulator"]
        state["exp_avg"] = torch.full_like(
            theta, v0, memory_format=torch.preserve_format
        )  # m_0
        state["exp_avg_sq"] = torch.full_like(
            theta, v0, memory_format=torch.preserve_format
        )  # V_0

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, (beta1, beta2), eps = (
                float(group["lr"]),
                group["betas"],
                group["eps"],
            )
            omega, maximize = group["weight_decay"], group["maximize"]
            for theta, g, state in self._with_grad(group):
                t = self._advance(state)
                g = self._decayed_direction(
                    theta,
                    g,
                    lr=gamma,
                    weight_decay=omega,
                    maximize=maximize,
                    decoupled=True,
                )
                m, V = state["exp_avg"], state["exp_avg_sq"]
                g2 = g * g
                m.lerp_(g, 1 - beta1)  # (opt-yogi-first-moment)
                V.addcmul_(
                    (V - g2).sign_(), g2, value=-(1 - beta2)
                )  # (opt-yogi-second-moment)
                s = V.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
                theta.addcdiv_(
                    m, s, value=-(gamma / (1 - beta1**t))
                )  # (opt-yogi-update)
        return loss
