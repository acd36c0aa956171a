r"""The look-ahead family of momentum methods, batched: heavy ball, Nesterov and the midpoint variant.

One rule covers the three methods of chapters 3 and 4. With the look-ahead :math:`a`,

.. math::
   v_{t+1} = \mu\, v_t - \gamma\, \nabla L(\theta_t + a\mu\, v_t), \qquad
   \theta_{t+1} = \theta_t + v_{t+1},

:math:`a = 0` is Polyak's heavy ball, :math:`a = 1` Nesterov's accelerated gradient in Sutskever et
al.'s form, and :math:`a = 1/2` the midpoint variant of source 004 (equation ``ch4-family``).
:func:`momentum_path` runs it on an analytic landscape for many starts and many hyperparameters at
once (the optimizer class :class:`course_lib.optim.SutskeverSGD` is the same rule for ``nn.Module``
parameters). The other helpers are the pieces chapter 4 needs around it: the two ways source 004
turns the damped Newton equation into :math:`(\gamma, \mu)`, the momentum schedules of Nesterov
(1983) and Sutskever et al. (2013), and the exact stationary covariance under gradient noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = [
    "euler_friction_parameters",
    "leapfrog_parameters",
    "momentum_path",
    "nesterov_convex_momentum",
    "stationary_covariance",
    "sutskever_schedule",
]

Gradient = Callable[[torch.Tensor], torch.Tensor]
Number = float | torch.Tensor


def _batched(x: Number, like: torch.Tensor, name: str) -> torch.Tensor:
    """A hyperparameter as a tensor broadcastable against ``like`` of shape ``(..., d)``."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {x}")
    return t[..., None]  # one value per trajectory, shared by its d coordinates


def momentum_path(
    grad: Gradient,
    theta0: torch.Tensor,
    lr: Number,
    momentum: Number,
    n_steps: int,
    lookahead: Number = 0.0,
    velocity0: torch.Tensor | None = None,
    momentum_schedule: Callable[[int], Number] | None = None,
) -> torch.Tensor:
    r"""Iterate ``ch4-family`` from :math:`\theta_0` and return :math:`\theta_0, \dots, \theta_n`.

    Args:
        grad: :math:`\nabla L`, mapping shape ``(..., d)`` to ``(..., d)``.
        theta0: starts of shape ``(..., d)``; every leading index is its own trajectory.
        lr, momentum, lookahead: :math:`\gamma`, :math:`\mu`, :math:`a`: floats, or tensors of the
            batch shape ``(...)`` (one value per trajectory).
        n_steps: the number of steps :math:`n`.
        velocity0: :math:`v_0` (zero when omitted).
        momentum_schedule: if given, :math:`\mu_t` = ``momentum_schedule(t)`` at step
            :math:`t = 1, 2, \dots` replaces ``momentum`` (a float, or a tensor of the batch
            shape, so that several schedules run side by side).

    Returns:
        The path, shape ``(n + 1, ..., d)``.
    """
    # --- validation
    if not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int, got {n_steps!r}")
    if not isinstance(theta0, torch.Tensor) or not theta0.is_floating_point() or theta0.ndim == 0:
        raise ValueError("theta0 must be a floating-point tensor of shape (..., d)")
    if velocity0 is not None and velocity0.shape != theta0.shape:
        raise ValueError(f"velocity0 must have theta0's shape {tuple(theta0.shape)}")
    # --- end validation
    gamma = _batched(lr, theta0, "lr")
    mu = _batched(momentum, theta0, "momentum")
    a = _batched(lookahead, theta0, "lookahead")
    theta = theta0.clone()
    v = torch.zeros_like(theta0) if velocity0 is None else velocity0.clone()
    path = [theta]
    for t in range(1, n_steps + 1):
        if momentum_schedule is not None:
            mu = _batched(momentum_schedule(t), theta0, "momentum_schedule(t)")
        v = mu * v - gamma * grad(theta + a * mu * v)  # v_{t+1} (ch4-family)
        theta = theta + v  # θ_{t+1} = θ_t + v_{t+1}
        path.append(theta)
    return torch.stack(path)


def leapfrog_parameters(step: float, friction: float) -> tuple[float, float]:
    r"""Source 004's momentum from :math:`\theta'' + \zeta\theta' = -\nabla L` by leapfrog with step :math:`h`.

    :math:`\gamma = h^2/(1+\zeta h/2)` and :math:`\mu = (1-\zeta h/2)/(1+\zeta h/2)`; returns
    ``(lr, momentum)``. Heavy ball with these is a second-order method for the ODE.
    """
    _check_step_friction(step, friction)
    return step**2 / (1 + friction * step / 2), (1 - friction * step / 2) / (1 + friction * step / 2)


def euler_friction_parameters(step: float, friction: float) -> tuple[float, float]:
    r"""Source 004's mapping for its Nesterov scheme: :math:`\gamma = h^2`, :math:`\mu = 1 - \zeta h`.

    Returns ``(lr, momentum)``. Requires :math:`\zeta h \le 1` (so that :math:`\mu \ge 0`).
    """
    _check_step_friction(step, friction)
    if friction * step > 1:
        raise ValueError(f"need friction * step <= 1 so that momentum >= 0, got {friction * step}")
    return step**2, 1 - friction * step


def _check_step_friction(step: float, friction: float) -> None:
    if not (step > 0 and math.isfinite(step)):
        raise ValueError(f"step must be positive and finite, got {step}")
    if not (friction >= 0 and math.isfinite(friction)):
        raise ValueError(f"friction must be non-negative and finite, got {friction}")


def nesterov_convex_momentum(t: int) -> float:
    r"""The momentum :math:`\mu_t = (t-1)/(t+2)` of Nesterov's method for convex, not strongly convex :math:`L`.

    (A closed form close to Nesterov's (1983) :math:`(a_t-1)/a_{t+1}`; it gives
    :math:`L(y_t) - L^* \le 2L\|\theta_0-\theta^*\|^2/(t+1)^2` for an :math:`L`-smooth convex loss
    with :math:`\gamma = 1/L`.) ``t`` starts at 1, where :math:`\mu_1 = 0`.
    """
    if not isinstance(t, int) or t < 1:
        raise ValueError(f"t must be an int >= 1, got {t!r}")
    return (t - 1) / (t + 2)


def sutskever_schedule(
    t: int | torch.Tensor, mu_max: float, every: int = 250
) -> float | torch.Tensor:
    r"""Sutskever et al.'s (2013) schedule :math:`\mu_t = \min(1 - 2^{-1-\log_2(\lfloor t/250\rfloor+1)}, \mu_{\max})`.

    :math:`1 - 2^{-1-\log_2 k} = 1 - 1/(2k)` with :math:`k = \lfloor t/250 \rfloor + 1`: 0.5 for the
    first 250 steps, then 0.75, 0.833, 0.875, … towards 1, capped at :math:`\mu_{\max}`. ``t`` (from 0)
    may be an int or an integer tensor; ``every`` is the 250.
    """
    if not 0 <= mu_max < 1:
        raise ValueError(f"mu_max must be in [0, 1), got {mu_max}")
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive int, got {every!r}")
    if isinstance(t, torch.Tensor):
        if t.is_floating_point() or (t < 0).any():
            raise ValueError("t must be a tensor of non-negative integers")
        k = torch.div(t, every, rounding_mode="floor") + 1
        return torch.clamp(1 - 2.0 ** (-1 - torch.log2(k.double())), max=mu_max)
    if not isinstance(t, int) or t < 0:
        raise ValueError(f"t must be a non-negative int, got {t!r}")
    return min(1 - 2.0 ** (-1 - math.log2(t // every + 1)), mu_max)


def stationary_covariance(
    lr: Number,
    momentum: Number,
    curvature: Number,
    noise_var: Number,
    lookahead: Number = 0.0,
) -> torch.Tensor:
    r"""The stationary covariance of :math:`(e_t, e_{t-1})` when each gradient carries noise of variance :math:`\sigma^2`.

    On :math:`L = \tfrac{\lambda}{2}\theta^2` with gradient :math:`\lambda\tilde\theta + \xi_t`
    (:math:`\xi_t` independent, mean 0, variance :math:`\sigma^2`), the error obeys
    :math:`e_{t+1} = T e_t - D e_{t-1} - \gamma\xi_t`, i.e. :math:`s_{t+1} = M s_t - \gamma\xi_t\,b`
    with :math:`s_t = (e_t, e_{t-1})`, :math:`b = (1, 0)` and :math:`M` the iteration matrix of
    :mod:`course_lib.quadratic_rates`. The stationary covariance solves the discrete Lyapunov
    equation :math:`C = M C M^\top + \gamma^2\sigma^2\, b b^\top`, here in closed form by
    vectorisation, :math:`(I - M\otimes M)\,\mathrm{vec}\,C = \gamma^2\sigma^2\,\mathrm{vec}\,bb^\top`;
    :math:`C_{11} = \operatorname{Var} e_\infty`. Broadcasts over its arguments and returns shape
    ``(..., 2, 2)``; raises ``ValueError`` where the iteration is not stable (no stationary law).
    """
    from course_lib.quadratic_rates import iteration_matrix, spectral_radius

    # --- validation
    if (torch.as_tensor(noise_var) < 0).any():
        raise ValueError(f"noise_var must be >= 0, got {noise_var}")
    if (spectral_radius(lr, momentum, curvature, lookahead) >= 1).any():
        raise ValueError("the iteration is not stable for these (lr, momentum, curvature, lookahead)")
    # --- end validation
    M = iteration_matrix(lr, momentum, curvature, lookahead)
    gamma = torch.as_tensor(lr, dtype=torch.float64)
    q = gamma**2 * torch.as_tensor(noise_var, dtype=torch.float64)  # γ²σ²
    q = torch.broadcast_to(q, M.shape[:-2])
    kron = M[..., :, None, :, None] * M[..., None, :, None, :]  # (M ⊗ M)[(i,j),(k,l)]
    kron = kron.reshape(*M.shape[:-2], 4, 4)
    rhs = torch.zeros(*M.shape[:-2], 4, dtype=torch.float64)
    rhs[..., 0] = q  # vec(γ²σ² b bᵀ) has one non-zero entry
    eye = torch.eye(4, dtype=torch.float64)
    return torch.linalg.solve(eye - kron, rhs).reshape(*M.shape[:-2], 2, 2)
