"""Lion: the sign of an interpolation of momentum and gradient (Chen et al., 2023)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State

__all__ = ["Lion"]


class Lion(CourseOptimizer):
    r"""Lion ("EvoLved Sign Momentum", Chen et al., 2023), as ``lion_pytorch.Lion``.

    The rule was found by a program search over update rules. With :math:`m_0 = 0`:

    .. math::
       c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t                           && \text{(opt-lion-interpolation)} \\
       \theta_{t-1} &\leftarrow (1 - \gamma\omega)\,\theta_{t-1}            && \text{(opt-common-decoupled-decay)} \\
       \theta_t &= \theta_{t-1} - \gamma\,\operatorname{sign}(c_t)          && \text{(opt-lion-update)} \\
       m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t                           && \text{(opt-lion-momentum)}

    Every coordinate moves by exactly :math:`\gamma` (or 0 where :math:`c_t = 0`): the update has
    the same magnitude in every coordinate, :math:`\|\Delta\theta\|_\infty = \gamma`, whatever the
    scale of the gradient. Two betas: :math:`\beta_1` mixes the *current* gradient into the
    direction, :math:`\beta_2` (closer to 1) is the memory of the momentum. The state is one buffer
    :math:`m` per parameter (Adam keeps two).

    Equation labels: ``opt-lion-interpolation``, ``opt-lion-update``, ``opt-lion-momentum``,
    ``opt-common-decoupled-decay``.

    Differences from the paper: none in the rule (the paper's Algorithm 2). Differences from
    ``lion_pytorch.Lion``: bad hyperparameters raise ``ValueError`` (lion-pytorch uses ``assert``,
    which ``python -O`` removes); ``use_triton=True`` is refused (no Triton kernel here). With
    ``decoupled_weight_decay=True`` the decay is divided by the *initial* lr, as lion-pytorch does,
    so that :math:`\theta \leftarrow (1 - \gamma_t\omega/\gamma_0)\theta` follows a schedule without
    being scaled by the base lr.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        use_triton: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        # --- validation
        if not lr > 0.0:
            raise ValueError(f"Invalid learning rate: {lr} (Lion needs lr > 0)")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta <= 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if use_triton:
            raise ValueError(
                "course_lib Lion has no Triton kernel; use lion_pytorch.Lion(use_triton=True)"
            )
        # --- end validation
        self._init_lr = lr
        self.decoupled_wd = decoupled_weight_decay
        super().__init__(
            params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay}
        )

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["exp_avg"] = torch.zeros_like(theta)  # m_0 = 0

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, (beta1, beta2), omega = (
                group["lr"],
                group["betas"],
                group["weight_decay"],
            )
            if self.decoupled_wd:
                omega = omega / self._init_lr
            for theta, g, state in self._with_grad(group):
                m = state["exp_avg"]
                # c_t = β1 m + (1−β1) g  (opt-lion-interpolation)
                c = m.mul(beta1).add_(g, alpha=1 - beta1)
                # θ ← (1 − γω) θ  (opt-common-decoupled-decay)
                theta.mul_(1 - gamma * omega)
                # θ_t = θ − γ sign(c_t)  (opt-lion-update)
                theta.add_(c.sign_(), alpha=-gamma)
                # m_t = β2 m + (1−β2) g  (opt-lion-momentum)
                m.mul_(beta2).add_(g, alpha=1 - beta2)
        return loss
