"""NAdam: Adam with a Nesterov-style look-ahead in the first moment."""

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
    scalar_dtype,
)

__all__ = ["NAdam"]


class NAdam(CourseOptimizer):
    r"""NAdam (Dozat, 2016), as ``torch.optim.NAdam``.

    With :math:`g_t` the gradient after ``opt-common-maximize`` and ``opt-common-l2`` (or,
    with ``decoupled_weight_decay``, after ``opt-common-decoupled-decay``), :math:`\psi` the
    ``momentum_decay``, :math:`m_0 = V_0 = 0`, :math:`\Pi_0 = 1`:

    .. math::
       \mu_t &= \beta_1 \bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \quad
       \mu_{t+1} = \beta_1 \bigl(1 - \tfrac12\, 0.96^{(t+1)\psi}\bigr)        && \text{(opt-nadam-momentum-schedule)} \\
       \Pi_t &= \Pi_{t-1}\, \mu_t                                             && \text{(opt-nadam-mu-product)} \\
       m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                             && \text{(opt-nadam-first-moment)} \\
       V_t &= \beta_2 V_{t-1} + (1-\beta_2)\, g_t \odot g_t                   && \text{(opt-nadam-second-moment)} \\
       s_t &= \sqrt{V_t / (1 - \beta_2^t)} + \varepsilon                      && \text{(opt-nadam-denominator)} \\
       \theta_t &= \theta_{t-1}
          - \gamma\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{s_t}
          - \gamma\,\frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\,\frac{m_t}{s_t}     && \text{(opt-nadam-update)}

    Equation labels: ``opt-nadam-momentum-schedule``, ``opt-nadam-mu-product``,
    ``opt-nadam-first-moment``, ``opt-nadam-second-moment``, ``opt-nadam-denominator``,
    ``opt-nadam-update`` (and ``opt-common-maximize``, ``opt-common-l2``,
    ``opt-common-decoupled-decay``).

    Differences from the paper: Dozat's momentum schedule and the two bias-corrected terms
    are as above (his :math:`\hat m_t = m_t / (1 - \prod_{i\le t+1}\mu_i)` uses
    :math:`\mu_t` in :math:`m_t = \mu_t m_{t-1} + (1-\mu_t) g_t`); PyTorch, like Keras,
    accumulates :math:`m_t` with the constant :math:`\beta_1` and uses the schedule only in
    the two coefficients of the update. ``decoupled_weight_decay`` (NAdamW) is PyTorch's
    addition.

    Differences from torch: none in the arithmetic; as in torch, :math:`\Pi_t` is kept in
    ``state["mu_product"]`` as a 0-d float32 tensor (float64 if that is the default dtype),
    so its rounding is torch's; unlike torch, ``load_state_dict`` keeps it there (torch casts it to
    the parameters' dtype, so its resumed runs drift slightly), so resuming is exact. Complex parameters, ``foreach``/``capturable``/
    ``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        check_nonnegative(momentum_decay, "momentum_decay value")
        # --- end validation
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """After ``load_state_dict``: put Π_t back in its own dtype on the CPU.

        ``Optimizer.load_state_dict`` casts every floating-point state tensor except
        ``step`` to the parameter's dtype, so torch's NAdam resumes with a float64 Π_t
        and its trajectory drifts from the uninterrupted run (by ~1e-14 after 10 steps
        in float64). The float32 value survives the round trip exactly, so casting back
        makes resuming exact.
        """
        super().__setstate__(state)
        for per_param in self.state.values():
            if isinstance(per_param.get("mu_product"), Tensor):
                per_param["mu_product"] = per_param["mu_product"].to(
                    device="cpu", dtype=scalar_dtype()
                )

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        state["mu_product"] = torch.tensor(1.0, dtype=scalar_dtype())  # Π_0 = 1
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
            omega, psi, maximize = (
                group["weight_decay"],
                group["momentum_decay"],
                group["maximize"],
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
                m, V, Pi = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
                # (opt-nadam-momentum-schedule)
                mu_t = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))  # μ_{t+1}
                Pi *= mu_t  # Π_t = Π_{t−1} μ_t  (opt-nadam-mu-product)
                # m_t = β1 m_{t−1} + (1−β1) g_t  (opt-nadam-first-moment)
                m.lerp_(g, 1 - beta1)
                # V_t = β2 V_{t−1} + (1−β2) g_t²  (opt-nadam-second-moment)
                V.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                # s_t = √(V_t / (1−β2^t)) + ε  (opt-nadam-denominator)
                s = V.div(1 - beta2**t).sqrt_().add_(eps)
                pi_t = Pi.item()
                # (opt-nadam-update), gradient term
                theta.addcdiv_(g, s, value=-gamma * (1.0 - mu_t) / (1.0 - pi_t))
                # (opt-nadam-update), momentum term
                theta.addcdiv_(m, s, value=(-gamma * mu_next) / (1.0 - pi_t * mu_next))
        return loss
