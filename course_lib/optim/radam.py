"""RAdam: Adam whose adaptive step is switched on only once its variance is estimable."""

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

__all__ = ["RAdam"]


class RAdam(CourseOptimizer):
    r"""RAdam (Liu et al., 2020), as ``torch.optim.RAdam``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and, unless
    ``decoupled_weight_decay``, ``opt-common-l2`` (with it, ``opt-common-decoupled-decay``
    shrinks :math:`\theta_{t-1}` first); :math:`m_0 = V_0 = 0`:

    .. math::
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                          && \text{(opt-radam-first-moment)} \\
       V_t &= \beta_2 V_{t-1} + (1-\beta_2)\, g_t \odot g_t                 && \text{(opt-radam-second-moment)} \\
       c_1 &= 1 - \beta_1^t, \qquad c_2 = 1 - \beta_2^t                     && \text{(opt-radam-bias-correction)} \\
       \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
       \rho_t = \rho_\infty - \frac{2t\,\beta_2^t}{c_2}                      && \text{(opt-radam-sma-length)} \\
       r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\,\rho_\infty}
                         {(\rho_\infty-4)(\rho_\infty-2)\,\rho_t}}           && \text{(opt-radam-rectifier)} \\
       \theta_t &= \theta_{t-1} - \gamma\, \frac{m_t}{c_1}\,
                   \frac{\sqrt{c_2}}{\sqrt{V_t} + \varepsilon}\, r_t
                   \quad\text{if } \rho_t > 5                                && \text{(opt-radam-adaptive-update)} \\
       \theta_t &= \theta_{t-1} - \gamma\, \frac{m_t}{c_1}
                   \quad\text{otherwise}                                     && \text{(opt-radam-sgdm-update)}

    Equation labels: ``opt-radam-first-moment``, ``opt-radam-second-moment``,
    ``opt-radam-bias-correction``, ``opt-radam-sma-length``, ``opt-radam-rectifier``,
    ``opt-radam-adaptive-update``, ``opt-radam-sgdm-update`` (and ``opt-common-maximize``,
    ``opt-common-l2``, ``opt-common-decoupled-decay``).

    :math:`\rho_t` is the length of the simple moving average that the exponential average
    :math:`V_t/c_2` approximates; while it is at most 4 the variance of
    :math:`1/\sqrt{V_t}` is not finite (Liu et al.). PyTorch, and this class, wait until
    :math:`\rho_t > 5` (the first 5 steps at :math:`\beta_2 = 0.999`): until then the
    update is bias-corrected momentum SGD, *not normalised* by :math:`\sqrt{V_t}`: its size is
    :math:`\gamma|m_t|/c_1`, proportional to the gradient.

    Differences from the paper: Liu et al. write
    :math:`\theta_t = \theta_{t-1} - \gamma\, r_t\, \hat m_t / \sqrt{\hat v_t}` with no
    :math:`\varepsilon` and switch at :math:`\rho_t > 4`; PyTorch switches at
    :math:`\rho_t > 5` and adds :math:`\varepsilon` to the *uncorrected* :math:`\sqrt{V_t}`
    (Kingma & Ba's "efficient version"), not to :math:`\sqrt{V_t/c_2}` as its Adam does.

    Differences from torch: none in the arithmetic (the same operations in the same order).
    Complex parameters, ``foreach``/``capturable``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
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
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        # m_0
        state["exp_avg"] = torch.zeros_like(theta, memory_format=torch.preserve_format)
        # V_0
        state["exp_avg_sq"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )

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
            decoupled = group["decoupled_weight_decay"]
            rho_inf = 2 / (1 - beta2) - 1  # ρ_∞  (opt-radam-sma-length)
            for theta, g, state in self._with_grad(group):
                # t a 0-d tensor, even eagerly: ρ_t > 5 is then one too, for torch.where
                t = self._advance(state, as_tensor=True)
                # (opt-common-decoupled-decay) or (opt-common-l2)
                g = self._decayed_direction(
                    theta,
                    g,
                    lr=gamma,
                    weight_decay=omega,
                    maximize=maximize,
                    decoupled=decoupled,
                )
                m, V = state["exp_avg"], state["exp_avg_sq"]
                # m_t = β1 m_{t−1} + (1−β1) g_t  (opt-radam-first-moment)
                m.lerp_(g, 1 - beta1)
                # (opt-radam-second-moment)
                V.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                c1, c2 = 1 - beta1**t, 1 - beta2**t  # (opt-radam-bias-correction)
                rho_t = rho_inf - 2 * t * beta2**t / c2  # ρ_t  (opt-radam-sma-length)
                r = (  # r_t  (opt-radam-rectifier), used where ρ_t > 5 (can be NaN elsewhere)
                    (rho_t - 4)
                    * (rho_t - 2)
                    * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5
                step = (m / c1) * gamma  # γ m_t / c1
                adaptive = step * (c2**0.5 / V.sqrt().add_(eps)) * r
                # (opt-radam-adaptive-update) if ρ_t > 5, else (opt-radam-sgdm-update)
                step = torch.where(rho_t > 5.0, adaptive, step)
                theta.sub_(step)  # θ_t = θ_{t−1} − step
        return loss
