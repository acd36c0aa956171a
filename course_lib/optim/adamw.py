"""AdamW: Adam with weight decay decoupled from the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``: :class:`Adam` whose weight
    decay shrinks the parameters directly instead of entering the gradient.

    .. math::
       \theta_{t-1} &\leftarrow (1 - \gamma\omega)\, \theta_{t-1}         && \text{(opt-common-decoupled-decay)}

    followed by Adam's ``opt-adam-first-moment`` … ``opt-adam-update`` with the gradient
    :math:`g_t` alone (no :math:`\omega\theta` term), so the decay is not rescaled by
    :math:`1/s_t` and does not accumulate in :math:`m_t` or :math:`V_t`.

    Equation labels: ``opt-common-decoupled-decay`` and those of :class:`Adam`.

    Differences from the paper: Loshchilov & Hutter multiply the decay by a schedule
    multiplier :math:`\eta_t` only, :math:`\theta \leftarrow \theta - \eta_t(\alpha\,\hat m/
    (\sqrt{\hat v}+\varepsilon) + \lambda\theta)`, so their :math:`\lambda` is not scaled by
    the learning rate; PyTorch (and this code) decays by :math:`\gamma\omega`, so a
    learning-rate schedule also scales the decay, and the default :math:`\omega = 10^{-2}`
    must be read with :math:`\gamma` in mind.

    Differences from torch: none; the default ``weight_decay`` is ``1e-2`` as in torch, and
    ``decoupled_weight_decay`` is always ``True`` (also after ``load_state_dict``).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
