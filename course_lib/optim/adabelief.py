"""AdaBelief: Adam whose second moment is the running variance of g around its own average."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, check_beta, check_lr, check_nonnegative

__all__ = ["AdaBelief"]


class AdaBelief(CourseOptimizer):
    r"""AdaBelief (Zhuang et al., 2020), as ``pytorch_optimizer.AdaBelief`` without rectification.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and, if ``weight_decay`` is not
    zero, ``opt-common-decoupled-decay``; :math:`m_0 = S_0 = 0`:

    .. math::
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                                   && \text{(opt-adabelief-first-moment)} \\
       S_t &= \beta_2 S_{t-1} + (1-\beta_2)\,(g_t - m_t)^2 + \varepsilon             && \text{(opt-adabelief-belief)} \\
       \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{S_t}/\sqrt{1-\beta_2^t} + \varepsilon}          && \text{(opt-adabelief-update)}

    Equation labels: ``opt-adabelief-first-moment``, ``opt-adabelief-belief``,
    ``opt-adabelief-update`` (and ``opt-common-maximize``, ``opt-common-decoupled-decay``).

    Where Adam divides by the root mean square of :math:`g`, AdaBelief divides by the root mean
    square of :math:`g - m_t`, the gradient's deviation from its prediction (the "belief"): on a
    steady slope, where :math:`g_t \approx m_t`, :math:`S_t` is small and the step large; where
    the gradient keeps changing, the step is small, whatever the gradient's size.

    Differences from the paper: Zhuang et al.'s Algorithm 2 adds :math:`\varepsilon` to
    :math:`S_t` (inside the running average, as here) and again in the denominator, as here.
    Differences from ``pytorch_optimizer``: its ``rectify`` (RAdam-style), ``ams_bound``,
    ``fixed_decay``, ``adanorm``, ``foreach`` and complex support are left out; weight decay is
    decoupled (its default ``weight_decouple=True``).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(eps, "epsilon value")
        check_beta(betas[0], 0)
        check_beta(betas[1], 1)
        check_nonnegative(weight_decay, "weight_decay value")
        # --- end validation
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _init_state(
        self, theta: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        state["step"] = self._new_step_count()
        state["exp_avg"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )  # m_0
        state["exp_avg_var"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )  # S_0

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
                m, S = state["exp_avg"], state["exp_avg_var"]
                m.lerp_(g, 1 - beta1)  # (opt-adabelief-first-moment)
                r = g - m
                S.mul_(beta2).addcmul_(r, r, value=1 - beta2).add_(
                    eps
                )  # (opt-adabelief-belief)
                s = S.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
                theta.addcdiv_(
                    m, s, value=-(gamma / (1 - beta1**t))
                )  # (opt-adabelief-update)
        return loss
