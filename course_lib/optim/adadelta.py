"""Adadelta: a step whose units match the parameters', from two running averages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State, check_lr, check_nonnegative

__all__ = ["Adadelta"]


class Adadelta(CourseOptimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and ``opt-common-l2``,
    :math:`V_0 = U_0 = 0`:

    .. math::
       V_t &= \rho V_{t-1} + (1-\rho)\, g_t \odot g_t                       && \text{(opt-adadelta-second-moment)} \\
       \Delta_t &= \frac{\sqrt{U_{t-1} + \varepsilon}}{\sqrt{V_t + \varepsilon}} \odot g_t
                                                                            && \text{(opt-adadelta-delta)} \\
       U_t &= \rho U_{t-1} + (1-\rho)\, \Delta_t \odot \Delta_t             && \text{(opt-adadelta-accumulate-delta)} \\
       \theta_t &= \theta_{t-1} - \gamma\, \Delta_t                          && \text{(opt-adadelta-update)}

    Equation labels: ``opt-adadelta-second-moment``, ``opt-adadelta-delta``,
    ``opt-adadelta-accumulate-delta``, ``opt-adadelta-update`` (and ``opt-common-maximize``,
    ``opt-common-l2``).

    Differences from the paper: Zeiler's update has no learning rate (:math:`\gamma = 1`,
    torch's default); :math:`\varepsilon` sits inside both square roots, as in the paper.

    Differences from torch: none in the arithmetic. ``foreach`` is accepted by position in
    torch; here the flags after ``weight_decay`` are keyword-only. Complex parameters,
    ``foreach``/``capturable``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(weight_decay, "weight_decay value")
        # --- end validation
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        # V_0
        state["square_avg"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )
        # U_0
        state["acc_delta"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, rho, eps = float(group["lr"]), group["rho"], group["eps"]
            omega, maximize = group["weight_decay"], group["maximize"]
            for theta, g, state in self._with_grad(group):
                self._advance(state)
                g = self._direction(theta, g, maximize=maximize, weight_decay=omega)
                V, U = state["square_avg"], state["acc_delta"]
                # V_t = ρ V_{t−1} + (1−ρ) g_t²  (opt-adadelta-second-moment)
                V.mul_(rho).addcmul_(g, g, value=1 - rho)
                std = V.add(eps).sqrt_()  # √(V_t + ε)
                # Δ_t = √(U_{t−1}+ε) / √(V_t+ε) · g_t  (opt-adadelta-delta)
                delta = U.add(eps).sqrt_().div_(std).mul_(g)
                # U_t = ρ U_{t−1} + (1−ρ) Δ_t²  (opt-adadelta-accumulate-delta)
                U.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                # θ_t = θ_{t−1} − γ Δ_t  (opt-adadelta-update)
                theta.add_(delta, alpha=-gamma)
        return loss
