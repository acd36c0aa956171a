"""Stochastic gradient descent with heavy-ball or Nesterov momentum, in PyTorch's form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, check_lr, check_nonnegative

__all__ = ["SGD"]


class SGD(CourseOptimizer):
    r"""SGD with optional momentum (Polyak, 1964) and Nesterov momentum, as ``torch.optim.SGD``.

    With :math:`g_t` the gradient after the common transformations
    (``opt-common-maximize``, ``opt-common-l2``):

    .. math::
       \begin{aligned}
       v_1 &= g_1 && \text{(opt-sgd-momentum-init)} \\
       v_t &= \mu\, v_{t-1} + (1-\tau)\, g_t \quad (t > 1) && \text{(opt-sgd-momentum)} \\
       d_t &= g_t + \mu\, v_t \ \text{(nesterov)}, \quad d_t = v_t \ \text{(otherwise)}
           && \text{(opt-sgd-nesterov)} \\
       \theta_t &= \theta_{t-1} - \gamma\, d_t && \text{(opt-sgd-update)}
       \end{aligned}

    Without momentum (:math:`\mu = 0`) :math:`d_t = g_t` and no state is kept.

    Equation labels: ``opt-sgd-momentum-init``, ``opt-sgd-momentum``, ``opt-sgd-nesterov``,
    ``opt-sgd-update`` (and ``opt-common-maximize``, ``opt-common-l2``).

    Differences from the papers. Polyak (1964) and Sutskever et al. (2013) put the learning rate
    inside the velocity, :math:`v_t = \mu v_{t-1} - \gamma \nabla f` and
    :math:`\theta_t = \theta_{t-1} + v_t` (see :class:`~course_lib.optim.SutskeverSGD`). With a
    constant learning rate and :math:`v_0 = 0` the two give the same trajectory (the velocities
    differ by the factor :math:`-\gamma`); after a change of learning rate they differ, because
    here the new rate scales the whole accumulated velocity at once. The Nesterov branch is the
    change of variables of Bengio et al. (2013): the parameters held are the look-ahead point
    :math:`\theta + \mu v` of Sutskever's formulation, and the gradient is taken there, so one
    gradient per step suffices. Dampening :math:`\tau` has no counterpart in the papers.

    Differences from torch's docs: none in the arithmetic; the velocity is initialised to the
    first gradient (not to zero), so dampening first acts at step 2. Sparse gradients, complex
    parameters, ``foreach``/``fused``/``differentiable`` are left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        check_lr(lr)
        check_nonnegative(momentum, "momentum value")
        check_nonnegative(weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        # --- end validation
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, mu, tau = float(group["lr"]), group["momentum"], group["dampening"]
            omega, nesterov, maximize = (
                group["weight_decay"],
                group["nesterov"],
                group["maximize"],
            )
            for theta, g, state in self._with_grad(group, stateful=mu != 0):
                g = self._direction(theta, g, maximize=maximize, weight_decay=omega)
                d = g
                if mu != 0:
                    v = state.get("momentum_buffer")
                    if v is None:
                        # v_1 = g_1  (opt-sgd-momentum-init)
                        v = state["momentum_buffer"] = g.clone()
                    else:
                        # v_t = μ v_{t−1} + (1−τ) g_t  (opt-sgd-momentum)
                        v.mul_(mu).add_(g, alpha=1 - tau)
                    d = g.add(v, alpha=mu) if nesterov else v  # d_t  (opt-sgd-nesterov)
                theta.add_(d, alpha=-gamma)  # θ_t = θ_{t−1} − γ d_t  (opt-sgd-update)
        return loss
