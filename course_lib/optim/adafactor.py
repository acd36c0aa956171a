"""Adafactor: a factored second moment with relative steps and update clipping (Shazeer & Stern, 2018)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State

__all__ = ["Adafactor"]


class Adafactor(CourseOptimizer):
    r"""Adafactor (Shazeer & Stern, 2018), as ``torch.optim.Adafactor`` (its for-loop path).

    For a matrix gradient :math:`G_t \in \R^{n\times m}` (the last two dimensions of a tensor)
    Adafactor keeps only a row statistic :math:`R_t \in \R^{n}` and a column statistic
    :math:`C_t \in \R^{m}` of :math:`G_t\odot G_t` — :math:`n + m` numbers instead of Adam's
    :math:`nm` — and rebuilds a rank-1 estimate of the second moment from them. With
    :math:`R_0 = C_0 = 0`, :math:`\hat\beta_{2,t} = 1 - t^{\tau}` (:math:`\tau` = ``beta2_decay``):

    .. math::
       \rho_t &= \min(\gamma, 1/\sqrt t), \qquad
       \alpha_t = \max(\varepsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t      && \text{(opt-adafactor-relative-step)} \\
       \theta_{t-1} &\leftarrow (1-\gamma\omega)\,\theta_{t-1}                  && \text{(opt-common-decoupled-decay)} \\
       R_t &= \hat\beta_{2,t} R_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{\text{cols}}(G_t\odot G_t)
                                                                               && \text{(opt-adafactor-row)} \\
       C_t &= \hat\beta_{2,t} C_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{\text{rows}}(G_t\odot G_t)
                                                                               && \text{(opt-adafactor-col)} \\
       \hat V_t &= R_t C_t^\top / \max(\mathrm{mean}(R_t), \varepsilon_1)      && \text{(opt-adafactor-factored)} \\
       U_t &= G_t / \sqrt{\max(\hat V_t, \varepsilon_1^2)}                      && \text{(opt-adafactor-normalised)} \\
       \theta_t &= \theta_{t-1} - \alpha_t\, U_t / \max(1, \mathrm{RMS}(U_t)/d)  && \text{(opt-adafactor-update)}

    A vector (or 0-d) parameter keeps an unfactored :math:`\hat V_t = \hat\beta_{2,t}\hat V_{t-1} +
    (1-\hat\beta_{2,t})\,g_t\odot g_t`. :math:`\varepsilon_1` defaults to the dtype's machine epsilon.

    The step is *relative*: :math:`\alpha_t` scales with the parameter's own RMS, and the clipping
    (``opt-adafactor-update``) caps the update's RMS at :math:`d\alpha_t`, which guards against the
    large steps a stale second moment gives when :math:`\hat\beta_{2,t}` is close to 1. There is
    no first moment (the paper's :math:`\beta_1 = 0` setting).

    Equation labels: ``opt-adafactor-relative-step``, ``opt-adafactor-row``, ``opt-adafactor-col``,
    ``opt-adafactor-factored``, ``opt-adafactor-normalised``, ``opt-adafactor-update``.

    Differences from the paper: torch (and this class) lets ``lr`` cap :math:`\rho_t` (the paper uses
    0.01), uses means instead of sums, applies :math:`\varepsilon_1` when forming :math:`\hat V_t` and
    :math:`U_t` rather than adding it to :math:`G\odot G`, and adds decoupled weight decay.
    Differences from torch: none in the arithmetic; ``foreach`` is left out.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        # --- validation
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        # --- end validation
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": None,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        state["step"] = self._new_step_count()
        g = theta.grad
        if g.dim() > 1:
            # R_0: one number per row
            state["row_var"] = g.new_zeros((*g.shape[:-1], 1))
            # C_0: one per column
            state["col_var"] = g.new_zeros((*g.shape[:-2], 1, g.shape[-1]))
        else:
            # V̂_0
            state["variance"] = torch.zeros_like(g, memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, tau, d, omega = (
                float(group["lr"]),
                group["beta2_decay"],
                group["d"],
                group["weight_decay"],
            )
            eps1, eps2 = group["eps"]
            for theta, g, state in self._with_grad(group):
                g = -g if group["maximize"] else g
                e1 = torch.finfo(theta.dtype).eps if eps1 is None else eps1
                # t a 0-d tensor, even eagerly: ρ_t is then a tensor clamp, not a Python
                # min that Dynamo would specialise on a variable learning rate
                t = self._advance(state, as_tensor=True)
                one_minus_beta2 = t**tau  # 1 − β̂_{2,t} = t^τ
                rho = (1 / t**0.5).clamp(max=gamma)  # (opt-adafactor-relative-step)
                alpha = max(eps2, theta.norm(2).item() / theta.numel() ** 0.5) * rho
                if omega != 0:
                    theta.mul_(1 - gamma * omega)  # (opt-common-decoupled-decay)
                if g.dim() > 1:
                    R, C = state["row_var"], state["col_var"]
                    R.lerp_(
                        torch.linalg.vector_norm(g, dim=-1, keepdim=True)
                        .square_()
                        .div_(g.size(-1)),
                        one_minus_beta2,
                    )  # (opt-adafactor-row)
                    C.lerp_(
                        torch.linalg.vector_norm(g, dim=-2, keepdim=True)
                        .square_()
                        .div_(g.size(-2)),
                        one_minus_beta2,
                    )  # (opt-adafactor-col)
                    # (opt-adafactor-factored)
                    V = (R @ C).div_(R.mean(dim=-2, keepdim=True).clamp_(min=e1))
                else:
                    state["variance"].lerp_(g * g, one_minus_beta2)
                    V = state["variance"].clone()
                # U_t = G / √max(V̂, ε1²)  (opt-adafactor-normalised)
                U = V.clamp_(min=e1 * e1).rsqrt_().mul_(g)
                clip = max(1.0, U.norm(2).item() / (U.numel() ** 0.5 * d))
                theta.addcmul_(U, -alpha / clip)  # (opt-adafactor-update)
        return loss
