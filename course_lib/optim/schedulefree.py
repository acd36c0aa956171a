"""Schedule-Free AdamW: interpolate between a base sequence and its running average (Defazio et al., 2024)."""

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

__all__ = ["AdamWScheduleFree"]

RUNNING = ("k", "scheduled_lr", "lr_max", "weight_sum")
"""The running numbers of a group's schedule (0-d tensors while stepping; see ``step``)."""


class AdamWScheduleFree(CourseOptimizer):
    r"""Schedule-Free AdamW (Defazio et al., 2024), as ``schedulefree.AdamWScheduleFree``.

    Three sequences: the *base* iterates :math:`z_t` take plain (Adam-normalised) gradient steps;
    :math:`x_t` is their weighted running average (what you evaluate); the gradient is taken at the
    interpolation :math:`y_t = (1-\beta_1) z_t + \beta_1 x_t`. The model's parameters hold
    :math:`y` in ``train()`` mode and :math:`x` in ``eval()`` mode. With :math:`V_0 = 0`,
    :math:`z_0 = x_0 = \theta_0`, warm-up factor :math:`s_t = \min(1, t/T_{\text{warm}})`,
    :math:`\gamma_t = s_t\gamma`, and weights :math:`w_t = t^r\,(\max_{i\le t}\gamma_i)^{p}`
    (:math:`p` = ``weight_lr_power``):

    .. math::
       V_t &= \beta_2 V_{t-1} + (1-\beta_2)\, g_t\odot g_t, \quad g_t = \nabla L(y_{t-1})
                                                                             && \text{(opt-sf-second-moment)} \\
       u_t &= g_t / (\sqrt{V_t / (1-\beta_2^t)} + \varepsilon) + \omega\, y_{t-1}
                                                                             && \text{(opt-sf-direction)} \\
       z_t &= z_{t-1} - \gamma_t u_t                                         && \text{(opt-sf-base)} \\
       x_t &= (1 - c_t)\, x_{t-1} + c_t z_t, \quad c_t = w_t / \textstyle\sum_{i\le t} w_i
                                                                             && \text{(opt-sf-average)} \\
       y_t &= (1-\beta_1)\, z_t + \beta_1 x_t                                && \text{(opt-sf-interpolation)}

    The code stores only :math:`y` (in the parameter), :math:`z` and :math:`V`, and updates
    :math:`y` in place: substituting ``opt-sf-average`` into ``opt-sf-interpolation`` gives
    :math:`y_t = (1-c_t)\,y_{t-1} + c_t z_{t-1} + \gamma_t(\beta_1(1-c_t) - 1)\,u_t`, and
    :math:`x` is recovered from :math:`y` and :math:`z` when switching to ``eval()``:
    :math:`x = (y - (1-\beta_1) z)/\beta_1`.

    Equation labels: ``opt-sf-second-moment``, ``opt-sf-direction``, ``opt-sf-base``,
    ``opt-sf-average``, ``opt-sf-interpolation``.

    Differences from schedulefree: none in the arithmetic (its for-loop path); ``foreach`` is
    accepted and ignored; the group's running numbers ``k``, ``scheduled_lr``, ``lr_max`` and
    ``weight_sum`` are 0-d float64 tensors updated in place, as torch keeps its step counts, so
    that a compiled step (``course_lib.optim.compiled``) is one graph for every step (``state_dict`` saves
    them as numbers, so checkpoints move both ways); :math:`g_t` is not overwritten in ``p.grad`` (schedulefree divides
    ``p.grad`` in place); bad hyperparameters raise ``ValueError``. Call :meth:`train` before
    training and :meth:`eval` before evaluating or saving, as with schedulefree.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        foreach: bool | None = None,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(eps, "epsilon value")
        check_beta(betas[0], 0)
        check_beta(betas[1], 1)
        if betas[0] == 0:
            raise ValueError(
                "Invalid beta parameter at index 0: 0 (eval() divides by beta1)"
            )
        check_nonnegative(weight_decay, "weight_decay value")
        if not (isinstance(warmup_steps, int) and warmup_steps >= 0):
            raise ValueError(f"Invalid warmup_steps: {warmup_steps}")
        # --- end validation
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "r": r,
            "k": 0,
            "warmup_steps": warmup_steps,
            "train_mode": False,
            "weight_sum": 0.0,
            "lr_max": -1.0,
            "scheduled_lr": 0.0,
            "weight_lr_power": weight_lr_power,
            "weight_decay": weight_decay,
            "foreach": foreach,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def eval(self) -> None:
        """Put the averaged point x in the parameters (x = y + (1 − 1/β1)(z − y))."""
        for group in self.param_groups:
            if group["train_mode"]:
                beta1 = group["betas"][0]
                for theta in group["params"]:
                    if "z" in self.state[theta]:
                        theta.lerp_(
                            end=self.state[theta]["z"].to(theta.device),
                            weight=1 - 1 / beta1,
                        )
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Put the gradient point y in the parameters (y = x + (1 − β1)(z − x))."""
        for group in self.param_groups:
            if not group["train_mode"]:
                beta1 = group["betas"][0]
                for theta in group["params"]:
                    if "z" in self.state[theta]:
                        theta.lerp_(
                            end=self.state[theta]["z"].to(theta.device),
                            weight=1 - beta1,
                        )
                group["train_mode"] = True

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        # z_0 = θ_0
        state["z"] = torch.clone(theta, memory_format=torch.preserve_format)
        # V_0 = 0
        state["exp_avg_sq"] = torch.zeros_like(
            theta, memory_format=torch.preserve_format
        )

    @staticmethod
    def _running_numbers(group: Group) -> tuple[Tensor, ...]:
        """The group's k, γ_t, max γ_i and Σ w_i, as 0-d float64 tensors.

        schedulefree keeps them as Python numbers; a compiled step would be
        specialised to their values and recompile at every step. The defaults
        and a loaded state dict hold numbers: they become tensors on first use
        (and numbers again in ``state_dict``).
        """
        for key in RUNNING:
            if not isinstance(group[key], Tensor):
                group[key] = torch.tensor(float(group[key]), dtype=torch.float64)
        return tuple(group[key] for key in RUNNING)

    def state_dict(self) -> dict[str, Any]:
        """torch's state dict, with the running numbers as numbers (as schedulefree)."""
        saved = super().state_dict()
        for group in saved["param_groups"]:
            for key in RUNNING:
                group[key] = float(group[key])
            group["k"] = int(group["k"])
        return saved

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step (train mode); with a closure, evaluate it first, return its loss."""
        if not self.param_groups[0]["train_mode"]:
            raise RuntimeError(
                "AdamWScheduleFree is not in train mode: call optimizer.train() before "
                "training and optimizer.eval() before evaluating or saving"
            )
        loss = self._evaluate(closure)
        for group in self.param_groups:
            (beta1, beta2), eps, omega = (
                group["betas"],
                group["eps"],
                group["weight_decay"],
            )
            # 0-d tensors, updated in place (see _running_numbers)
            k, gamma, lr_max, weight_sum = self._running_numbers(group)
            t = k.add_(1)  # this step's t = k + 1
            # s_t = min(1, t/T_warm)
            s = (t / max(group["warmup_steps"], 1)).clamp(max=1.0)
            gamma.copy_(group["lr"] * s)  # γ_t = s_t γ
            torch.maximum(lr_max, gamma, out=lr_max)  # max_{i≤t} γ_i
            # w_t
            weight = t ** group["r"] * lr_max ** group["weight_lr_power"]
            weight_sum += weight  # Σ_{i≤t} w_i
            # c_t = w_t / Σ w_i  (0 while every w_i is 0: lr = 0)
            c = torch.where(weight_sum > 0, weight / weight_sum, 0.0)
            c2 = 1 - beta2**t
            for y, g, state in self._with_grad(group):
                z, V = state["z"], state["exp_avg_sq"]
                V.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # (opt-sf-second-moment)
                u = g.div(V.div(c2).sqrt_().add_(eps))  # g / (√(V/c2) + ε)
                if omega != 0:
                    u.add_(y, alpha=omega)  # u_t = … + ω y  (opt-sf-direction)
                y.lerp_(end=z, weight=c)  # (1 − c) y + c z_{t−1}
                # … + γ(β1(1−c) − 1) u  (opt-sf-interpolation)
                y.addcmul_(u, gamma * (beta1 * (1 - c) - 1))
                z.addcmul_(u, gamma, value=-1)  # z_t = z − γ u  (opt-sf-base)
        return loss
