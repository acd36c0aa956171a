r"""The minibatch gradient as a noisy estimate of the full gradient (chapter 2, section 2.1).

With per-example gradients g_i = ∇ℓ_i(θ), i = 1..N, the full gradient is ḡ = (1/N) Σ_i g_i and the
per-example gradient covariance is Σ = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)^T. A minibatch gradient
g_B = (1/B) Σ_{j=1}^B g_{I_j} is unbiased, E g_B = ḡ, and its covariance is (equation ``ch2-noise-cov``)

* Σ / B                      when the B indices I_j are drawn independently, *with* replacement;
* (Σ / B) · (N − B)/(N − 1)  when they are B distinct indices drawn *without* replacement
  (the finite-population correction: the noise vanishes at B = N, where g_B = ḡ).

:func:`noise_trace` gives tr Cov(g_B) = E‖g_B − ḡ‖² from these formulas; :func:`sample_minibatch_gradients`
draws minibatch gradients, and :func:`sample_noise_sq_norms` draws ‖g_B − ḡ‖² cheaply from the centred
Gram matrix of the g_i (:func:`centred_gram`), so that the chapter can measure the same quantity; and :func:`per_example_gradients`
(any model, via ``torch.func``) and :func:`logistic_regression_per_example_gradients` (closed form)
produce the g_i.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "centred_gram",
    "logistic_regression_hessian_products",
    "logistic_regression_per_example_gradients",
    "noise_trace",
    "per_example_gradients",
    "sample_minibatch_gradients",
    "sample_noise_sq_norms",
]


def per_example_gradients(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """The per-example gradients g_i = ∇_θ ℓ(model(x_i), y_i) as one matrix of shape (N, P).

    Uses ``torch.func.vmap`` over ``torch.func.grad`` of a functional call, so no Python loop over
    examples. The columns follow ``model.parameters()`` order, each parameter flattened row-major
    (the order of ``torch.nn.utils.parameters_to_vector``). ``loss_fn(outputs, targets)`` must
    return a scalar for a batch of one example (e.g. ``torch.nn.functional.cross_entropy``).
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of examples, got {X.shape[0]} and {y.shape[0]}")
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(p: dict[str, torch.Tensor], x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, p, (x.unsqueeze(0),))
        return loss_fn(out, target.unsqueeze(0))

    grads = torch.func.vmap(torch.func.grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([grads[name].reshape(X.shape[0], -1) for name in params], dim=1)


def logistic_regression_per_example_gradients(
    weight: torch.Tensor, bias: torch.Tensor, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Closed-form per-example gradients of softmax cross-entropy for logits x W^T + b, shape (N, K·D + K).

    For ℓ_i = −log softmax(W x_i + b)_{y_i}, ∇_W ℓ_i = (p_i − e_{y_i}) x_i^T and ∇_b ℓ_i = p_i − e_{y_i},
    with p_i the predicted probabilities. The columns are W (row-major) then b, the order of
    :func:`per_example_gradients` for ``nn.Linear``.
    """
    residual = torch.softmax(X @ weight.T + bias, dim=1)
    residual[torch.arange(len(y), device=y.device), y] -= 1.0  # p_i - e_{y_i}
    return torch.cat([(residual[:, :, None] * X[:, None, :]).reshape(len(y), -1), residual], dim=1)


def noise_trace(per_example_grads: torch.Tensor, batch_size: int, replacement: bool = True) -> float:
    """tr Cov(g_B) from the formula (ch2-noise-cov): tr Σ / B, times (N − B)/(N − 1) without replacement.

    ``per_example_grads`` is the (N, P) matrix of the g_i; tr Σ = (1/N) Σ_i ‖g_i − ḡ‖².
    Raises ValueError for B < 1, or B > N without replacement.
    """
    n = per_example_grads.shape[0]
    _check_batch_size(batch_size, n, replacement)
    centred = per_example_grads - per_example_grads.mean(dim=0)
    trace_sigma = float((centred * centred).sum(dim=1).mean())
    correction = 1.0 if replacement else (n - batch_size) / (n - 1)
    return trace_sigma / batch_size * correction


def sample_minibatch_gradients(
    per_example_grads: torch.Tensor,
    batch_size: int,
    n_batches: int,
    generator: torch.Generator | None = None,
    replacement: bool = True,
) -> torch.Tensor:
    """Draw ``n_batches`` minibatch gradients g_B = (1/B) Σ_j g_{I_j}, shape (n_batches, P).

    The indices are uniform with replacement, or B distinct ones without. The average is computed as
    C @ G / B with C the (n_batches, N) matrix of how often each example was drawn, which keeps the
    memory at O(n_batches · (N + P)) whatever B is.
    """
    n = per_example_grads.shape[0]
    device = per_example_grads.device
    index = _draw_indices(n, batch_size, n_batches, generator, replacement, device)
    counts = torch.zeros((n_batches, n), dtype=per_example_grads.dtype, device=device)
    counts.scatter_add_(1, index, torch.ones_like(index, dtype=per_example_grads.dtype))
    return counts @ per_example_grads / batch_size


def centred_gram(per_example_grads: torch.Tensor) -> torch.Tensor:
    """The centred Gram matrix K_ij = ⟨g_i − ḡ, g_j − ḡ⟩, shape (N, N); its trace / N is tr Σ."""
    centred = per_example_grads - per_example_grads.mean(dim=0)
    return centred @ centred.T


def sample_noise_sq_norms(
    gram: torch.Tensor,
    batch_size: int,
    n_batches: int,
    generator: torch.Generator | None = None,
    replacement: bool = True,
) -> torch.Tensor:
    """Draw ``n_batches`` values of ‖g_B − ḡ‖², shape (n_batches,), from the centred Gram matrix K.

    With c_i the number of times example i is in the batch (Σ_i c_i = B),
    g_B − ḡ = (1/B) Σ_i c_i (g_i − ḡ), so ‖g_B − ḡ‖² = c^T K c / B² — no P-dimensional vector is formed.
    Their mean estimates tr Cov(g_B) (see :func:`noise_trace`). Small batches sum B² entries of K,
    large ones use the (n_batches, N) count matrix, whichever is cheaper.
    """
    n = gram.shape[0]
    if gram.ndim != 2 or gram.shape[1] != n:
        raise ValueError(f"gram must be a square (N, N) matrix, got shape {tuple(gram.shape)}")
    index = _draw_indices(n, batch_size, n_batches, generator, replacement, gram.device)
    if 4 * batch_size < n:
        total = gram[index[:, :, None], index[:, None, :]].sum(dim=(1, 2))
    else:
        counts = torch.zeros((n_batches, n), dtype=gram.dtype, device=gram.device)
        counts.scatter_add_(1, index, torch.ones_like(index, dtype=gram.dtype))
        total = ((counts @ gram) * counts).sum(dim=1)
    return total / batch_size**2


def _draw_indices(n: int, batch_size: int, n_batches: int, generator: torch.Generator | None,
                  replacement: bool, device: torch.device) -> torch.Tensor:
    _check_batch_size(batch_size, n, replacement)
    if isinstance(n_batches, bool) or not isinstance(n_batches, int) or n_batches < 1:
        raise ValueError(f"n_batches must be an int >= 1, got {n_batches!r}")
    if replacement:
        return torch.randint(n, (n_batches, batch_size), generator=generator, device=device)
    # B distinct indices: the positions of the B largest of n uniforms (topk: no full sort)
    return torch.rand((n_batches, n), generator=generator, device=device).topk(batch_size, dim=1).indices


def _check_batch_size(batch_size: int, n: int, replacement: bool) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not replacement and batch_size > n:
        raise ValueError(f"without replacement batch_size must be <= N = {n}, got {batch_size}")
    if not replacement and n < 2:
        raise ValueError("without replacement N must be >= 2")


def logistic_regression_hessian_products(
    weight: torch.Tensor, bias: torch.Tensor, X: torch.Tensor, V: torch.Tensor
) -> torch.Tensor:
    r"""Products :math:`HV` of the Hessian of the mean softmax cross-entropy with a block of directions.

    For logits :math:`W x_i + b` and probabilities :math:`p_i`, the Hessian is
    :math:`H = \frac1N\sum_i (\operatorname{diag}p_i - p_ip_i^\top)\otimes \tilde x_i\tilde x_i^\top` with
    :math:`\tilde x_i = (x_i, 1)`. A direction :math:`v = (V_W, v_b)` changes the logits by
    :math:`s_i = V_W x_i + v_b`, and :math:`Hv = \frac1N\sum_i r_i\tilde x_i^\top` with
    :math:`r_i = (\operatorname{diag}p_i - p_ip_i^\top)s_i`. Parameters are ordered as in
    :func:`logistic_regression_per_example_gradients` (W row-major, then b).

    Args:
        weight, bias: shapes ``(K, D)`` and ``(K,)``.
        X: inputs, shape ``(N, D)``.
        V: directions, shape ``(K·D + K, m)`` (one per column).

    Returns:
        :math:`HV`, shape ``(K·D + K, m)``.
    """
    K, D = weight.shape
    if V.ndim != 2 or V.shape[0] != K * D + K:
        raise ValueError(f"V must have shape ({K * D + K}, m), got {tuple(V.shape)}")
    p = torch.softmax(X @ weight.T + bias, dim=1)                       # (N, K)
    VW = V[: K * D].T.reshape(-1, K, D)                                  # (m, K, D)
    vb = V[K * D:].T                                                     # (m, K)
    s = torch.einsum("nd,mkd->mnk", X, VW) + vb[:, None, :]              # (m, N, K) logit changes
    r = p * s - p * (p * s).sum(-1, keepdim=True)                        # (diag p - p p^T) s
    HW = torch.einsum("mnk,nd->mkd", r, X) / len(X)
    Hb = r.sum(1) / len(X)
    return torch.cat([HW.reshape(len(V.T), -1), Hb], dim=1).T
