"""Adamax: Adam with the second moment replaced by an exponentially weighted ∞-norm."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import (
    Closure,
    CourseOptimizer,
    Group,
    State,
    check_beta,
    check_lr,
    check_nonnegative,
)

__all__ = ["Adamax"]


class Adamax(CourseOptimizer):
    r"""Adamax (Kingma & Ba, 2015, Section 7.1), as ``torch.optim.Adamax``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and ``opt-common-l2``,
    :math:`m_0 = u_0 = 0`:

    .. math::
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                          && \text{(opt-adamax-first-moment)} \\
       u_t &= \max\bigl(\beta_2 u_{t-1},\ |g_t| + \varepsilon\bigr)        && \text{(opt-adamax-infinity-norm)} \\
       \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\, \frac{m_t}{u_t}
                                                                            && \text{(opt-adamax-update)}

    Equation labels: ``opt-adamax-first-moment``, ``opt-adamax-infinity-norm``,
    ``opt-adamax-update`` (and ``opt-common-maximize``, ``opt-common-l2``).

    :math:`u_t` is the limit :math:`p\to\infty` of
    :math:`\bigl((1-\beta_2^p)\sum_{i\le t}\beta_2^{p(t-i)}|g_i|^p\bigr)^{1/p}`: the
    largest recent gradient, each discounted by :math:`\beta_2` per step of age. It needs no
    bias correction (a maximum is not pulled towards its zero start), and the step is bounded,
    :math:`|\theta_t-\theta_{t-1}| \le \gamma` coordinate-wise.

    Differences from the paper: Kingma & Ba have no :math:`\varepsilon`; PyTorch adds it to
    :math:`|g_t|` inside the maximum, so that :math:`u_t > 0`.

    Differences from torch: none in the arithmetic. ``foreach`` is accepted by position in
    torch; here the flags after ``weight_decay`` are keyword-only. Complex parameters,
    ``foreach``/``capturable``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
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

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        # m_0
        state["exp_avg"] = torch.zeros_like(theta, memory_format=torch.preserve_format)
        # u_0
        state["exp_inf"] = torch.zeros_like(theta, memory_format=torch.preserve_format)

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
                g = self._direction(theta, g, maximize=maximize, weight_decay=omega)
                m, u = state["exp_avg"], state["exp_inf"]
                # m_t = β1 m_{t−1} + (1−β1) g_t  (opt-adamax-first-moment)
                m.lerp_(g, 1 - beta1)
                # (opt-adamax-infinity-norm)
                torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)
                # (opt-adamax-update)
                theta.addcdiv_(m, u, value=-(gamma / (1 - beta1**t)))
        return loss
