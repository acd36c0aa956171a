r"""Integrators for the gradient-flow ODE and its discretisations (chapter 1).

* :func:`euler` -- explicit Euler for :math:`y' = f(y)`: :math:`y_{n+1} = y_n + h f(y_n)` (eq. ``ch1-euler``).
* :func:`gradient_descent` -- Euler applied to the gradient flow :math:`\theta' = -\nabla L(\theta)`
  (eq. ``ch1-flow``) with step :math:`h = \gamma`, which is exactly gradient descent
  :math:`\theta_{n+1} = \theta_n - \gamma\nabla L(\theta_n)` (eq. ``ch1-gd``).
* :func:`rk4` -- the classical fourth-order Runge--Kutta method, for reference solutions of
  non-linear flows whose exact solution is unknown.
* :func:`quadratic_flow` -- the exact gradient flow of a :class:`~course_lib.landscapes.Quadratic`,
  :math:`\theta(t) = \theta^* + Q e^{-\Lambda t} Q^\top(\theta_0-\theta^*)` (eq. ``ch1-quad-flow``).

All of them work on whole batches: ``y0`` may carry any leading dimensions (many starts at once),
and the step may be a tensor broadcastable to ``y0`` (many step sizes at once). They return the
whole trajectory, stacked along a new first dimension, so ``out[n]`` is the state after ``n`` steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_lib._checks import check_broadcasts_to, check_count, check_positive

__all__ = ["euler", "gradient_descent", "quadratic_flow", "rk4"]

VectorField = Callable[[torch.Tensor], torch.Tensor]


def _check_common(
    y0: torch.Tensor, h: float | torch.Tensor, n_steps: int, name: str
) -> None:
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise ValueError(
            f"the initial state must be a floating-point tensor, got {type(y0).__name__}"
            + (f" of dtype {y0.dtype}" if isinstance(y0, torch.Tensor) else "")
        )
    check_count("n_steps", n_steps, 0)
    if isinstance(h, torch.Tensor):
        if not (torch.isfinite(h).all() and (h > 0).all()):
            raise ValueError(f"{name} must be positive and finite everywhere, got {h}")
        check_broadcasts_to(name, h, y0.shape)
    else:
        check_positive(name, h)


def _check_record_every(record_every: int, n_steps: int) -> None:
    check_count("record_every", record_every, 1)
    if n_steps % record_every:
        raise ValueError(
            f"n_steps={n_steps} must be a multiple of record_every={record_every}, "
            f"so that the last state is recorded"
        )


def _field(f: VectorField, y: torch.Tensor) -> torch.Tensor:
    v = f(y)
    if not isinstance(v, torch.Tensor) or v.shape != y.shape:
        shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(
            f"the vector field must return a tensor of the state's shape {tuple(y.shape)}, got {shape}"
        )
    return v


def euler(
    f: VectorField,
    y0: torch.Tensor,
    h: float | torch.Tensor,
    n_steps: int,
    *,
    record_every: int = 1,
) -> torch.Tensor:
    r"""Explicit Euler for :math:`y' = f(y)`: :math:`y_{n+1} = y_n + h\,f(y_n)` (eq. ``ch1-euler``).

    Args:
        f: the vector field; maps a tensor of ``y0``'s shape to one of the same shape.
        y0: the initial state, shape ``(..., d)``; leading dimensions are independent trajectories.
        h: the step, a positive float or a positive tensor broadcastable to ``y0`` (one step per
            trajectory, e.g. shape ``(G, 1)`` for ``G`` starts of shape ``(G, d)``).
        n_steps: the number of steps :math:`n \ge 0`.
        record_every: keep every ``record_every``-th state only (``n_steps`` must be a multiple of it),
            to save memory when many trajectories run for many steps.

    Returns:
        The trajectory :math:`y_0, \dots, y_n`, shape ``(n_steps + 1, *y0.shape)`` (with
        ``record_every=k``: :math:`y_0, y_k, y_{2k}, \dots, y_n`, shape ``(n_steps // k + 1, *y0.shape)``). A diverging run
        is not stopped: its entries grow to ``inf``/``nan``, which is what a stability test looks for.

    One step costs one evaluation of :math:`f`; the local error is :math:`O(h^2)` and the global error
    at a fixed time :math:`t = nh` is :math:`O(h)` (first order; eq. ``ch1-global-error``).
    """
    # --- validation
    _check_common(y0, h, n_steps, "h (the step)")
    _check_record_every(record_every, n_steps)
    # --- end validation
    ys = [y0]
    y = y0
    for n in range(1, n_steps + 1):
        y = y + h * _field(f, y)  # eq. (4) of chapter 1
        if n % record_every == 0:
            ys.append(y)
    return torch.stack(ys)


def gradient_descent(
    grad: VectorField,
    theta0: torch.Tensor,
    lr: float | torch.Tensor,
    n_steps: int,
    *,
    record_every: int = 1,
) -> torch.Tensor:
    r"""Gradient descent :math:`\theta_{n+1} = \theta_n - \gamma\nabla L(\theta_n)` (eq. ``ch1-gd``).

    This *is* :func:`euler` applied to the gradient flow :math:`\theta' = -\nabla L(\theta)`
    (eq. ``ch1-flow``) with step :math:`h = \gamma`, and it is implemented as exactly that.

    Args:
        grad: :math:`\nabla L`, e.g. ``landscape.grad``; maps shape ``(..., d)`` to ``(..., d)``.
        theta0: the start :math:`\theta_0`, shape ``(..., d)``.
        lr: the learning rate :math:`\gamma > 0`, a float or a tensor broadcastable to ``theta0``
            (e.g. shape ``(G, 1)`` to run ``G`` learning rates at once).
        n_steps: the number of steps :math:`n \ge 0`.
        record_every: keep every ``record_every``-th iterate only (as in :func:`euler`).

    Returns:
        :math:`\theta_0, \dots, \theta_n`, shape ``(n_steps + 1, *theta0.shape)``.
    """
    # --- validation
    _check_common(theta0, lr, n_steps, "lr (the learning rate gamma)")
    # --- end validation
    # chapter 1, eq. (5) = eq. (4)
    return euler(
        lambda theta: -grad(theta), theta0, lr, n_steps, record_every=record_every
    )


def rk4(
    f: VectorField,
    y0: torch.Tensor,
    h: float | torch.Tensor,
    n_steps: int,
    *,
    record_every: int = 1,
) -> torch.Tensor:
    r"""The classical Runge--Kutta method of order 4 for :math:`y' = f(y)` (global error :math:`O(h^4)`).

    Same arguments and return shape as :func:`euler`. The course uses it only to compute reference
    solutions of flows that have no closed form, with a step small enough that its error is negligible
    next to the error being measured.
    """
    _check_common(y0, h, n_steps, "h (the step)")
    _check_record_every(record_every, n_steps)
    ys = [y0]
    y = y0
    for n in range(1, n_steps + 1):
        k1 = _field(f, y)
        k2 = _field(f, y + 0.5 * h * k1)
        k3 = _field(f, y + 0.5 * h * k2)
        k4 = _field(f, y + h * k3)
        y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        if n % record_every == 0:
            ys.append(y)
    return torch.stack(ys)


def quadratic_flow(
    quadratic, theta0: torch.Tensor, t: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    r"""The exact gradient flow of a quadratic (chapter 1, eq. (8)).

    For :math:`L(\theta) = \tfrac12(\theta-\theta^*)^\top H(\theta-\theta^*)` with
    :math:`H = Q\Lambda Q^\top`, the flow :math:`\theta' = -H(\theta-\theta^*)` decouples in the
    eigenbasis, :math:`c_i' = -\lambda_i c_i` with :math:`c = Q^\top(\theta-\theta^*)`, so

    .. math:: \theta(t) = \theta^* + Q\, e^{-\Lambda t} Q^\top (\theta_0 - \theta^*).

    Args:
        quadratic: a :class:`~course_lib.landscapes.Quadratic`.
        theta0: the start, shape ``(..., d)``.
        t: the times, a 1-D sequence or tensor of non-negative numbers.

    Returns:
        :math:`\theta(t_k)` for each time, shape ``(len(t), *theta0.shape)``, in ``theta0``'s device and
        dtype (computed in float64).
    """
    # --- validation
    if not isinstance(theta0, torch.Tensor) or not theta0.is_floating_point():
        raise ValueError(
            f"theta0 must be a floating-point tensor, got {type(theta0).__name__}"
        )
    if theta0.ndim == 0 or theta0.shape[-1] != quadratic.dim:
        raise ValueError(
            f"theta0 must have shape (..., {quadratic.dim}), got {tuple(theta0.shape)}"
        )
    # --- end validation
    times = torch.as_tensor(t, dtype=torch.float64).to(theta0.device)
    # --- validation
    if times.ndim != 1:
        raise ValueError(
            f"t must be a 1-D sequence of times, got shape {tuple(times.shape)}"
        )
    if not (torch.isfinite(times).all() and (times >= 0).all()):
        raise ValueError(f"t must hold finite times >= 0, got {times}")
    # --- end validation
    Q = quadratic.eigenvectors.to(theta0.device)
    lam = quadratic.eigenvalues.to(theta0.device)
    m = quadratic.minimizer.to(theta0.device)
    # eigen-coordinates of the start error
    c0 = (theta0.to(torch.float64) - m) @ Q
    # e^{-lambda_i t}, shape (T, d)
    decay = torch.exp(-times[:, None] * lam)
    # over the batch dims
    decay = decay.reshape(len(times), *([1] * (theta0.ndim - 1)), -1)
    return (m + (c0 * decay) @ Q.T).to(theta0.dtype)
