"""Nesterov's accelerated gradient in its two-sequence form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State, check_lr, check_nonnegative

__all__ = ["NAG"]


class NAG(CourseOptimizer):
    r"""Nesterov's accelerated gradient (Nesterov, 1983) as two sequences, constant :math:`\mu`.

    The parameters the model holds, :math:`\theta_t`, are the points where the gradient is
    taken; :math:`y_t` (kept in ``state["y"]``, :math:`y_0 = \theta_0`) are the points
    reached by plain gradient steps:

    .. math::
       y_{t+1} &= \theta_t - \gamma\, \nabla f(\theta_t)                       && \text{(opt-nag-gradient-step)} \\
       \theta_{t+1} &= y_{t+1} + \mu\,(y_{t+1} - y_t)                          && \text{(opt-nag-extrapolation)}

    Relations the tests check (constant :math:`\gamma`, :math:`\mu`): :math:`y_t` is the
    :math:`\theta_t` of :class:`~course_lib.optim.SutskeverSGD` with ``lookahead=1`` and its
    velocity is :math:`v_t = y_t - y_{t-1}`; :math:`\theta_t = y_t + \mu v_t` is what
    ``torch.optim.SGD(momentum=μ, nesterov=True)`` holds. So PyTorch's Nesterov *is* this
    two-sequence method, reporting the extrapolated point.

    Equation labels: ``opt-nag-gradient-step``, ``opt-nag-extrapolation``.

    Differences from the paper: Nesterov (1983) uses the schedule
    :math:`\mu_t = (a_t - 1)/a_{t+1}` with :math:`a_{t+1} = (1 + \sqrt{4a_t^2 + 1})/2`
    (close to :math:`(t-1)/(t+2)`) for convex problems; here :math:`\mu` is a constant
    hyperparameter (a scheduler may change it between steps), as in deep-learning practice.
    Source 001 names the sequences the other way round (gradient taken at :math:`y`); the
    algorithm is the same. There is no torch class; the final answer of the method is
    arguably :math:`y_t` (available as ``optimizer.state[p]["y"]``), not :math:`\theta_t`.
    ``state["y"]`` is updated in place, as torch's momentum buffer is: clone it to keep it.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.9,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(momentum, "momentum value")
        # --- end validation
        super().__init__(params, {"lr": lr, "momentum": momentum})

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        # y_0 = θ_0
        state["y"] = theta.detach().clone(memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, mu = float(group["lr"]), group["momentum"]
            for theta, g, state in self._with_grad(group):
                y = state["y"]
                # y_{t+1} = θ_t − γ ∇f(θ_t)  (opt-nag-gradient-step)
                y_next = theta.add(g, alpha=-gamma)
                # θ_{t+1} = y_{t+1} + μ (y_{t+1} − y_t)  (opt-nag-extrapolation)
                torch.add(y_next, y_next - y, alpha=mu, out=theta)
                # y_t ← y_{t+1}, in place: a compiled step then allocates nothing
                y.copy_(y_next)
        return loss
