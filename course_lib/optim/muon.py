"""Muon: momentum orthogonalised by Newton–Schulz, for 2-D weights (Jordan et al., 2024)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer, Group, State

__all__ = ["Muon", "newton_schulz"]

#: The quintic's coefficients (a, b, c) of Jordan et al.: p(σ) = aσ + bσ³ + cσ⁵ has slope 3.4445 at 0.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    G: Tensor,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    steps: int = 5,
    eps: float = 1e-7,
    dtype: torch.dtype | None = torch.bfloat16,
) -> Tensor:
    r"""Approximately orthogonalise a matrix: :math:`G = U\Sigma V^\top \mapsto U\,p_k(\Sigma)\,V^\top \approx UV^\top`.

    .. math::
       X_0 &= G / \max(\|G\|_F, \varepsilon)                                 && \text{(opt-muon-normalise)} \\
       X_{j+1} &= a X_j + (b A_j + c A_j^2) X_j, \quad A_j = X_j X_j^\top      && \text{(opt-muon-newton-schulz)}

    Each step maps every singular value :math:`\sigma` of :math:`X_j` to
    :math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5` and leaves the singular vectors alone, so
    after ``steps`` steps the singular values are :math:`p^{\circ k}(\sigma_i/\|G\|_F)`. Dividing by
    the Frobenius norm puts them in :math:`(0, 1]`; the quintic's large slope at 0 lifts small ones
    fast, and for these coefficients the iterates end up oscillating in about :math:`[0.7, 1.2]`
    rather than converging to exactly 1 (a cheap, rough orthogonalisation). A wide matrix is
    processed as its transpose so that :math:`A_j` is the smaller Gram matrix.

    ``dtype`` is the working precision (bfloat16 as in torch.optim.Muon; ``None`` keeps ``G``'s).
    """
    # --- validation
    if G.ndim != 2:
        raise ValueError(
            f"newton_schulz needs a 2-D matrix, got shape {tuple(G.shape)}"
        )
    if len(coefficients) != 3:
        raise ValueError(f"coefficients must be (a, b, c), got {coefficients!r}")
    if not 0 <= steps < 100:
        raise ValueError(f"steps must be in [0, 100), got {steps}")
    # --- end validation
    a, b, c = coefficients
    X = G.to(dtype=dtype if dtype is not None else G.dtype, copy=True)
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    X.div_(X.norm().clamp(min=eps))  # X_0 = G / ‖G‖_F  (normalise)
    for _ in range(steps):
        A = X @ X.T
        B = torch.addmm(A, A, A, beta=b, alpha=c)  # b A + c A²
        # X ← a X + (b A + c A²) X  (opt-muon-newton-schulz)
        X = torch.addmm(X, B, X, beta=a)
    return X.T if tall else X


def _adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    """The lr scaled for a matrix of shape (A, B) = (fan-out, fan-in), as torch.optim.Muon does."""
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, A / B))  # Jordan et al.: √max(1, A/B)
    if adjust_lr_fn == "match_rms_adamw":
        # Liu et al. (Moonshot): RMS of AdamW's update
        return lr * 0.2 * math.sqrt(max(A, B))
    return lr * math.sqrt(A / B)  # "spectral_unclamped" (Bernstein)


class Muon(CourseOptimizer):
    r"""Muon (Jordan et al., 2024), as ``torch.optim.Muon``: for 2-D parameters only.

    With :math:`B_0 = 0`, the momentum buffer is an *exponential average* and the Nesterov
    direction an interpolation:

    .. math::
       B_t &= \mu B_{t-1} + (1-\mu)\, g_t                                    && \text{(opt-muon-momentum)} \\
       \tilde B_t &= (1-\mu)\, g_t + \mu B_t \ \text{(nesterov)}, \quad \tilde B_t = B_t \ \text{(otherwise)}
                                                                             && \text{(opt-muon-nesterov)} \\
       O_t &= \mathrm{NS}_k(\tilde B_t)                                      && \text{(opt-muon-orthogonalise)} \\
       \theta_{t-1} &\leftarrow (1-\gamma\omega)\,\theta_{t-1}                && \text{(opt-common-decoupled-decay)} \\
       \theta_t &= \theta_{t-1} - \gamma' O_t, \quad \gamma' = \gamma\sqrt{\max(1, A/B)}
                                                                             && \text{(opt-muon-update)}

    where :math:`\mathrm{NS}_k` is :func:`newton_schulz` and :math:`A\times B` the matrix's shape.

    Equation labels: ``opt-muon-momentum``, ``opt-muon-nesterov``, ``opt-muon-orthogonalise``,
    ``opt-muon-update``, ``opt-muon-normalise``, ``opt-muon-newton-schulz``.

    Differences from torch's docstring: torch documents :math:`B_t = \mu B_{t-1} + g_t` and
    :math:`\tilde B_t = g_t + \mu B_t`; its code (and this class) uses the exponential average and
    the interpolation above, which are :math:`(1-\mu)` times the documented ones. Because
    :math:`\mathrm{NS}` starts by dividing by the Frobenius norm, the two give the same update
    (up to the :math:`\varepsilon` clamp and bfloat16 rounding). Differences from torch: none in
    the arithmetic; complex parameters and sparse gradients are refused, as in torch.

    The working precision of Newton–Schulz is the instance attribute :attr:`ns_dtype`
    (bfloat16, as in torch; not a constructor argument, so that the constructor stays torch's).
    On a CPU without bfloat16 arithmetic (AVX2 and older) bfloat16 matrix products are an order
    of magnitude slower than float32 ones; set ``optimizer.ns_dtype = torch.float32`` there.
    """

    #: Working precision of :func:`newton_schulz` (``None``: the parameter's own dtype).
    ns_dtype: torch.dtype | None = torch.bfloat16

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        # --- validation
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn not in (
            None,
            "original",
            "match_rms_adamw",
            "spectral_unclamped",
        ):
            raise ValueError(
                f"Adjust learning rate function {adjust_lr_fn} is not supported"
            )
        # --- end validation
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": ns_coefficients,
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        "Muon only supports 2D parameters whereas we found a "
                        f"parameter with size: {p.size()}"
                    )

    def _init_state(self, theta: Tensor, state: State, group: Group) -> None:
        # B_0
        state["momentum_buffer"] = torch.zeros_like(
            theta.grad, memory_format=torch.preserve_format
        )

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> Any:
        """One step; with a closure, evaluate it first (once) and return its loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            gamma, omega, mu = (
                float(group["lr"]),
                group["weight_decay"],
                group["momentum"],
            )
            for theta, g, state in self._with_grad(group):
                B = state["momentum_buffer"]
                B.lerp_(g, 1 - mu)  # B_t = μ B + (1−μ) g  (opt-muon-momentum)
                # (opt-muon-nesterov)
                direction = g.lerp(B, mu) if group["nesterov"] else B
                O = newton_schulz(
                    direction,
                    group["ns_coefficients"],
                    group["ns_steps"],
                    group["eps"],
                    dtype=self.ns_dtype,
                )
                lr_adjusted = _adjusted_lr(gamma, group["adjust_lr_fn"], theta.shape)
                theta.mul_(1 - gamma * omega)  # (opt-common-decoupled-decay)
                theta.add_(O, alpha=-lr_adjusted)  # θ_t = θ − γ' O_t  (opt-muon-update)
        return loss
