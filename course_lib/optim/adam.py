"""Adam: bias-corrected running moments of the gradient, with optional AMSGrad."""

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

__all__ = ["Adam"]


class Adam(CourseOptimizer):
    r"""Adam (Kingma & Ba, 2015), with AMSGrad (Reddi et al., 2018), as ``torch.optim.Adam``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and, unless
    ``decoupled_weight_decay``, ``opt-common-l2`` (with it, ``opt-common-decoupled-decay``
    shrinks :math:`\theta_{t-1}` first, which makes this AdamW); :math:`m_0 = V_0 = 0`:

    .. math::
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                          && \text{(opt-adam-first-moment)} \\
       V_t &= \beta_2 V_{t-1} + (1-\beta_2)\, g_t \odot g_t                 && \text{(opt-adam-second-moment)} \\
       c_1 &= 1 - \beta_1^t, \qquad c_2 = 1 - \beta_2^t                     && \text{(opt-adam-bias-correction)} \\
       V^{\max}_t &= \max(V^{\max}_{t-1}, V_t) \ \text{(amsgrad; used for } V_t \text{ below)}
                                                                            && \text{(opt-adam-amsgrad)} \\
       s_t &= \sqrt{V_t} / \sqrt{c_2} + \varepsilon                          && \text{(opt-adam-denominator)} \\
       \theta_t &= \theta_{t-1} - \frac{\gamma}{c_1}\, \frac{m_t}{s_t}      && \text{(opt-adam-update)}

    Equation labels: ``opt-adam-first-moment``, ``opt-adam-second-moment``,
    ``opt-adam-bias-correction``, ``opt-adam-amsgrad``, ``opt-adam-denominator``,
    ``opt-adam-update`` (and ``opt-common-maximize``, ``opt-common-l2``,
    ``opt-common-decoupled-decay``).

    Differences from the paper: Kingma & Ba write :math:`\hat m_t = m_t/c_1`,
    :math:`\hat v_t = V_t/c_2` and :math:`\theta_t = \theta_{t-1} - \gamma \hat m_t /
    (\sqrt{\hat v_t} + \varepsilon)`, which is the rule above; their "efficient version"
    (end of their Section 2) instead adds :math:`\hat\varepsilon` to :math:`\sqrt{V_t}` before
    the correction, which changes the meaning of :math:`\varepsilon` slightly. Reddi et al.'s
    AMSGrad keeps the maximum of the *uncorrected* :math:`V_t` (they write it :math:`\hat v_t`;
    in this course a hat means bias correction, and the maximum is :math:`V^{\max}_t`) and uses no bias correction;
    PyTorch (and this code) keeps the maximum of :math:`V_t` and still divides by
    :math:`\sqrt{c_2}`. (Source 003's transcription adds 1, not :math:`\varepsilon`, to the
    denominator; that is a slip: the code adds :math:`\varepsilon`.)

    Differences from torch: none in the arithmetic (the same operations in the same order,
    so float64 trajectories agree to the last bit on CPU); one temporary fewer per step in
    the denominator. ``betas`` given as tensors, complex parameters,
    ``foreach``/``fused``/``capturable``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
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
            "betas": (float(betas[0]), float(betas[1])),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
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
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(
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
            omega, maximize, amsgrad = (
                group["weight_decay"],
                group["maximize"],
                group["amsgrad"],
            )
            decoupled = group["decoupled_weight_decay"]
            for theta, g, state in self._with_grad(group):
                t = self._advance(state)
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
                # m_t = β1 m_{t−1} + (1−β1) g_t  (opt-adam-first-moment)
                m.lerp_(g, 1 - beta1)
                # V_t = β2 V_{t−1} + (1−β2) g_t²  (opt-adam-second-moment)
                V.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                c1, c2 = 1 - beta1**t, 1 - beta2**t  # (opt-adam-bias-correction)
                if amsgrad:
                    # V^max_t  (opt-adam-amsgrad)
                    V = torch.maximum(
                        state["max_exp_avg_sq"], V, out=state["max_exp_avg_sq"]
                    )
                # s_t = √V_t / √c2 + ε, √V^max_t with amsgrad  (opt-adam-denominator)
                s = V.sqrt().div_(c2**0.5).add_(eps)
                # θ_t = θ_{t−1} − (γ/c1) m_t / s_t  (opt-adam-update)
                theta.addcdiv_(m, s, value=-(gamma / c1))
        return loss
