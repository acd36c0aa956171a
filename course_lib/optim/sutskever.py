"""Momentum in the textbook form: the learning rate inside the velocity, optional look-ahead."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State, check_lr, check_nonnegative

__all__ = ["SutskeverSGD"]


class SutskeverSGD(CourseOptimizer):
    r"""Momentum as Sutskever et al. (2013) write it, with the gradient taken at a look-ahead point.

    With :math:`a` the ``lookahead``, :math:`v_0 = 0`, and the gradient evaluated at the
    shifted point :math:`\tilde\theta_t`:

    .. math::
       \tilde\theta_t &= \theta_t + a\,\mu\, v_t                                  && \text{(opt-sutskever-lookahead)} \\
       v_{t+1} &= \mu\, v_t - \gamma\, \nabla f(\tilde\theta_t)                   && \text{(opt-sutskever-velocity)} \\
       \theta_{t+1} &= \theta_t + v_{t+1}                                         && \text{(opt-sutskever-update)}

    * :math:`a = 0`: classical momentum (Polyak, 1964). With a constant :math:`\gamma` this is
      the trajectory of ``torch.optim.SGD(momentum=μ)``, whose buffer is :math:`-v/\gamma`;
      after a change of :math:`\gamma` the two differ: here the velocity built with the old
      rate still carries the parameters (the step shrinks gradually, as :math:`\mu^n`), while
      torch's step shrinks at once.
    * :math:`a = 1`: Nesterov's accelerated gradient in Sutskever et al.'s (2013) form. With a
      constant :math:`\gamma`, ``torch.optim.SGD(momentum=μ, nesterov=True)`` holds
      :math:`\Theta_t = \theta_t + \mu v_t` (Bengio et al., 2013's change of variables): it
      stores the look-ahead point, not :math:`\theta_t`.
    * :math:`a = 1/2`: the midpoint variant derived from an implicit discretisation of the
      damped Newton equation (source 004): the gradient at the midpoint of
      :math:`\theta_t` and the predicted :math:`\theta_t + \mu v_t`.

    With :math:`a \ne 0`, ``step(closure)`` moves the parameters to :math:`\tilde\theta_t`,
    calls the closure there (it must zero the gradients, compute the loss and call
    ``backward``), moves them back, and updates. ``step()`` without a closure raises
    ``RuntimeError``: the gradient already in ``.grad`` was taken at :math:`\theta_t`, not at
    the look-ahead point. The returned loss is :math:`f(\tilde\theta_t)`.

    Equation labels: ``opt-sutskever-lookahead``, ``opt-sutskever-velocity``,
    ``opt-sutskever-update``.

    Differences from the paper: none for :math:`a \in \{0, 1\}` (Sutskever et al.'s
    :math:`\varepsilon` is our :math:`\gamma`; they allow :math:`\mu_t` to vary, here
    :math:`\mu` is a group hyperparameter that a scheduler may change between steps).
    Differences from torch: torch has no such class; see the bullets above. Moving the
    parameters there and back rounds them at the last bit (:math:`(\theta + s) - s` need not
    be :math:`\theta` exactly in floating point), far below any tolerance the course uses.
    The state key is ``"velocity"`` (not torch's ``"momentum_buffer"``, which has the other
    sign and scale), so a torch SGD state dict is deliberately not interchangeable.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.9,
        lookahead: float = 0.0,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(momentum, "momentum value")
        if not 0.0 <= lookahead <= 1.0:
            raise ValueError(f"Invalid lookahead value: {lookahead}")
        # --- end validation
        super().__init__(
            params, {"lr": lr, "momentum": momentum, "lookahead": lookahead}
        )

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        # v_0 = 0
        state["velocity"] = torch.zeros_like(theta, memory_format=torch.preserve_format)

    def _shift(self, sign: float) -> None:
        """Move each parameter that has a velocity by ``sign · a μ v`` (there, back)."""
        for group in self.param_groups:
            shift = sign * group["lookahead"] * group["momentum"]
            if shift == 0:
                continue
            for theta in group["params"]:
                v = self.state.get(theta, {}).get("velocity")
                if v is not None:
                    theta.add_(v, alpha=shift)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with lookahead ≠ 0 the closure is required, called at θ + aμv."""
        looks_ahead = any(
            g["lookahead"] * g["momentum"] != 0 for g in self.param_groups
        )
        if looks_ahead and closure is None:
            raise RuntimeError(
                "SutskeverSGD with lookahead != 0 needs step(closure): the "
                "gradient must be taken at the shifted point θ + lookahead·μ·v, so "
                "the optimizer moves the parameters there, calls the closure (which "
                "zeroes the grads, computes the loss and calls backward) and moves "
                "them back"
            )
        if looks_ahead:
            self._shift(+1.0)  # θ̃_t = θ_t + a μ v_t  (opt-sutskever-lookahead)
            try:
                loss = self._evaluate(closure)
            finally:
                self._shift(-1.0)  # back to θ_t
        else:
            loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, mu = float(group["lr"]), group["momentum"]
            for theta, g, state in self._with_grad(group):
                v = state["velocity"]
                # v_{t+1} = μ v_t − γ ∇f(θ̃_t)  (opt-sutskever-velocity)
                v.mul_(mu).add_(g, alpha=-gamma)
                theta.add_(v)  # θ_{t+1} = θ_t + v_{t+1}  (opt-sutskever-update)
        return loss
