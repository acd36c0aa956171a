"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State, check_lr, check_nonnegative

__all__ = ["RMSprop"]


class RMSprop(CourseOptimizer):
    r"""RMSprop (Tieleman & Hinton, 2012), as ``torch.optim.RMSprop``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and ``opt-common-l2``,
    :math:`\beta` the smoothing constant (torch's ``alpha``), :math:`V_0 = m_0 = b_0 = 0`:

    .. math::
       V_t &= \beta V_{t-1} + (1-\beta)\, g_t \odot g_t                  && \text{(opt-rmsprop-second-moment)} \\
       m_t &= \beta m_{t-1} + (1-\beta)\, g_t \quad\text{(centered only)} && \text{(opt-rmsprop-centered-mean)} \\
       s_t &= \sqrt{V_t - m_t \odot m_t} + \varepsilon \ \text{(centered)}, \quad
              s_t = \sqrt{V_t} + \varepsilon \ \text{(otherwise)}          && \text{(opt-rmsprop-denominator)} \\
       b_t &= \mu\, b_{t-1} + g_t / s_t \quad (\mu > 0)                  && \text{(opt-rmsprop-momentum)} \\
       \theta_t &= \theta_{t-1} - \gamma\, b_t \ (\mu > 0), \quad
                   \theta_t = \theta_{t-1} - \gamma\, g_t / s_t \ (\mu = 0)  && \text{(opt-rmsprop-update)}

    Equation labels: ``opt-rmsprop-second-moment``, ``opt-rmsprop-centered-mean``,
    ``opt-rmsprop-denominator``, ``opt-rmsprop-momentum``, ``opt-rmsprop-update``
    (and ``opt-common-maximize``, ``opt-common-l2``).

    Differences from the source: RMSprop was never published as a paper; Tieleman & Hinton's
    lecture 6e divides by :math:`\sqrt{V_t}` (the "mean square" of recent gradients) with no
    :math:`\varepsilon`, and the centered variant (subtracting the squared running mean, a
    variance estimate) is from Graves (2013). Momentum here is applied to the already-scaled
    step :math:`g_t/s_t`, which is not the same as feeding momentum-averaged gradients into
    the scaling.

    Differences from torch: none in the arithmetic; :math:`\varepsilon` is added outside the
    square root. torch lets ``capturable``, ``foreach`` and ``maximize`` be given by position;
    here ``maximize`` is keyword-only. Complex parameters, ``foreach``/``capturable``/
    ``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(momentum, "momentum value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(alpha, "alpha value")
        # --- end validation
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
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
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(
                theta, memory_format=torch.preserve_format
            )
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(
                theta, memory_format=torch.preserve_format
            )

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, beta, eps, mu = (
                float(group["lr"]),
                group["alpha"],
                group["eps"],
                group["momentum"],
            )
            omega, centered, maximize = (
                group["weight_decay"],
                group["centered"],
                group["maximize"],
            )
            for theta, g, state in self._with_grad(group):
                self._advance(state)
                g = self._direction(theta, g, maximize=maximize, weight_decay=omega)
                V = state["square_avg"]
                # V_t = β V_{t−1} + (1−β) g_t²  (opt-rmsprop-second-moment)
                V.mul_(beta).addcmul_(g, g, value=1 - beta)
                if centered:
                    m = state["grad_avg"]
                    # m_t = β m_{t−1} + (1−β) g_t  (opt-rmsprop-centered-mean)
                    m.lerp_(g, 1 - beta)
                    s = V.addcmul(m, m, value=-1).sqrt_()  # √(V_t − m_t²)
                else:
                    s = V.sqrt()  # √V_t
                s.add_(eps)  # s_t = … + ε  (opt-rmsprop-denominator)
                if mu > 0:
                    b = state["momentum_buffer"]
                    # b_t = μ b_{t−1} + g_t / s_t  (opt-rmsprop-momentum)
                    b.mul_(mu).addcdiv_(g, s)
                    # θ_t = θ_{t−1} − γ b_t  (opt-rmsprop-update)
                    theta.add_(b, alpha=-gamma)
                else:
                    # θ_t = θ_{t−1} − γ g_t / s_t  (opt-rmsprop-update)
                    theta.addcdiv_(g, s, value=-gamma)
        return loss
