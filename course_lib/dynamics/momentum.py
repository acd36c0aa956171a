r"""The heavy ball: momentum as a damped mechanical system (chapter 3).

A ball of unit mass in the potential :math:`L`, slowed by a friction :math:`\zeta > 0`, obeys

.. math::
   \ddot\theta + \zeta\,\dot\theta = -\nabla L(\theta)                     \qquad\text{(ch3-newton)}

or, with the velocity :math:`\eta = \dot\theta`, the first-order system

.. math::
   \dot\theta = \eta, \qquad \dot\eta = -\zeta\,\eta - \nabla L(\theta).   \qquad\text{(ch3-system)}

This module holds what chapter 3 computes with:

* :func:`damped_flow` -- the vector field of (ch3-system) on a stacked state ``(θ, η)``, for
  :func:`course_lib.dynamics.ode.rk4` reference solutions of non-quadratic landscapes;
* :func:`damped_oscillator` -- the exact solution of (ch3-system) on one eigen-direction of a
  quadratic, :math:`L = \lambda\theta^2/2`, in every damping regime (under-, critically and
  over-damped), broadcasting over :math:`\lambda`, :math:`\zeta`, the start and the time;
* :func:`quadratic_damped_flow` -- the same for a whole :class:`~course_lib.landscapes.Quadratic`;
* :func:`heavy_ball` -- the momentum iteration (ch3-momentum) for many trajectories at once (many
  starts, learning rates and momenta in one call);
* :func:`leapfrog_coefficients` / :func:`friction_and_step` -- the map between the ODE's
  :math:`(\zeta, h)` and momentum's :math:`(\gamma, \mu)`, with the friction treated either
  explicitly (:math:`\mu = 1-\zeta h`) or symmetrically
  (:math:`\mu = (1-\zeta h/2)/(1+\zeta h/2)`, source 004's choice);
* :func:`raised_momentum` -- the momentum that keeps the friction fixed when the learning rate is
  multiplied by :math:`r`;
* :func:`buffer_under_constant_gradient` -- PyTorch's momentum buffer under a constant gradient
  (the terminal velocity).

The look-ahead family (chapter 4), batched: heavy ball, Nesterov and the midpoint variant.

One rule covers the three methods of chapters 3 and 4. With the look-ahead :math:`a`,

.. math::
   v_{t+1} = \mu\, v_t - \gamma\, \nabla L(\theta_t + a\mu\, v_t), \qquad
   \theta_{t+1} = \theta_t + v_{t+1},

:math:`a = 0` is Polyak's heavy ball, :math:`a = 1` Nesterov's accelerated gradient in Sutskever et
al.'s form, and :math:`a = 1/2` the midpoint variant of source 004 (chapter 4's family of look-ahead methods).
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

from course_lib._checks import as_float64, check_broadcasts_to, check_count, finite

__all__ = [
    "buffer_under_constant_gradient",
    "damped_flow",
    "damped_oscillator",
    "friction_and_step",
    "heavy_ball",
    "leapfrog_coefficients",
    "momentum_path",
    "nesterov_convex_momentum",
    "quadratic_damped_flow",
    "raised_momentum",
    "stationary_covariance",
    "sutskever_schedule",
]

Gradient = Callable[[torch.Tensor], torch.Tensor]


def damped_flow(
    grad: Gradient, friction: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""The vector field :math:`(\theta, \eta) \mapsto (\eta, -\zeta\eta - \nabla L(\theta))` of (ch3-system).

    The state is the concatenation ``torch.cat([theta, eta], -1)`` of shape ``(..., 2d)``, so the
    field can be handed to :func:`course_lib.dynamics.ode.rk4` or :func:`course_lib.dynamics.ode.euler`.
    """
    zeta = finite("friction", friction)
    if zeta < 0:
        raise ValueError(f"friction must be >= 0, got {friction!r}")

    def field(state: torch.Tensor) -> torch.Tensor:
        theta, eta = state.chunk(2, dim=-1)
        return torch.cat([eta, -zeta * eta - grad(theta)], dim=-1)

    return field


def damped_oscillator(
    curvature: float | torch.Tensor,
    friction: float | torch.Tensor,
    theta0: float | torch.Tensor,
    eta0: float | torch.Tensor,
    t: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The exact :math:`(\theta(t), \eta(t))` of :math:`\ddot\theta + \zeta\dot\theta + \lambda\theta = 0`.

    With :math:`\omega^2 = \lambda - \zeta^2/4` the solution of (ch3-newton) on
    :math:`L = \lambda\theta^2/2` is

    .. math::
       \theta(t) &= e^{-\zeta t/2}\big[\theta_0\, C(t) + (\eta_0 + \tfrac{\zeta}{2}\theta_0)\, S(t)\big]
                                                                  \qquad\text{(ch3-oscillator)} \\
       \eta(t) &= e^{-\zeta t/2}\big[\eta_0\, C(t) - (\lambda\theta_0 + \tfrac{\zeta}{2}\eta_0)\, S(t)\big]

    with :math:`C = \cos\omega t`, :math:`S = \sin(\omega t)/\omega` when under-damped
    (:math:`\omega^2 > 0`), :math:`C = \cosh kt`, :math:`S = \sinh(kt)/k`, :math:`k^2 = -\omega^2`,
    when over-damped, and :math:`C = 1`, :math:`S = t` at critical damping
    (:math:`\zeta = 2\sqrt\lambda`). One complex square root covers all three. All arguments
    broadcast against each other; the result is float64.
    """
    # --- validation
    lam = as_float64(curvature, "curvature")
    zeta = as_float64(friction, "friction", lam.device)
    x0 = as_float64(theta0, "theta0", lam.device)
    v0 = as_float64(eta0, "eta0", lam.device)
    time = as_float64(t, "t", lam.device)
    if (time < 0).any():
        raise ValueError("t must be >= 0")
    # --- end validation
    lam, zeta, x0, v0, time = torch.broadcast_tensors(lam, zeta, x0, v0, time)
    # ω: real, imaginary or 0
    omega = torch.sqrt((lam - zeta**2 / 4).to(torch.complex128))
    wt = omega * time
    C = torch.cos(wt).real
    safe = torch.where(omega == 0, torch.ones_like(omega), omega)
    # sin(ωt)/ω → t
    S = torch.where(omega == 0, time.to(torch.complex128), torch.sin(wt) / safe).real
    decay = torch.exp(-zeta * time / 2)
    theta = decay * (x0 * C + (v0 + zeta * x0 / 2) * S)  # (ch3-oscillator)
    eta = decay * (v0 * C - (lam * x0 + zeta * v0 / 2) * S)
    return theta, eta


def quadratic_damped_flow(
    quadratic,
    theta0: torch.Tensor,
    eta0: torch.Tensor | None,
    friction: float,
    t: torch.Tensor,
) -> torch.Tensor:
    r"""The exact heavy-ball flow (ch3-system) on a :class:`~course_lib.landscapes.Quadratic`.

    In the eigenbasis :math:`c = Q^\top(\theta - \theta^*)` every coordinate is one
    :func:`damped_oscillator`. Returns :math:`\theta(t_k)` of shape ``(len(t), *theta0.shape)``
    (float64); ``eta0`` defaults to rest (zero velocity).
    """
    times = as_float64(t, "t", theta0.device).reshape(-1)
    Q = quadratic.eigenvectors.to(theta0.device)
    lam = quadratic.eigenvalues.to(theta0.device)
    m = quadratic.minimizer.to(theta0.device)
    c0 = (theta0.to(torch.float64) - m) @ Q
    d0 = torch.zeros_like(c0) if eta0 is None else eta0.to(torch.float64) @ Q
    shape = (-1,) + (1,) * c0.ndim
    c, _ = damped_oscillator(lam, friction, c0, d0, times.reshape(shape))
    return m + c @ Q.T


def heavy_ball(
    grad: Gradient,
    theta0: torch.Tensor,
    lr: float | torch.Tensor,
    momentum: float | torch.Tensor,
    n_steps: int,
    *,
    v0: torch.Tensor | None = None,
    record_every: int = 1,
    return_velocity: bool = False,
    lookahead: float | torch.Tensor | None = None,
    momentum_schedule: Callable[[int], float | torch.Tensor] | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Momentum with the learning rate inside the velocity, for many trajectories at once.

    .. math::
       v_{t+1} = \mu\, v_t - \gamma\,\nabla L(\theta_t), \qquad
       \theta_{t+1} = \theta_t + v_{t+1}                                   \qquad\text{(ch3-momentum)}

    Args:
        grad: :math:`\nabla L`, shape ``(..., d)`` to ``(..., d)`` (e.g. ``landscape.grad``).
        theta0: the starts :math:`\theta_0`, shape ``(..., d)``.
        lr, momentum: :math:`\gamma \ge 0` and :math:`\mu \ge 0`, floats or tensors broadcastable to
            ``theta0`` (e.g. shape ``(G, M, 1, 1)`` for a grid of ``G`` rates and ``M`` momenta).
        n_steps: the number of steps.
        v0: the initial velocity (zero by default, as every framework starts).
        record_every: keep every ``record_every``-th iterate (``n_steps`` must be a multiple).
        return_velocity: also return the recorded velocities.
        lookahead, momentum_schedule: chapter 4's generalisation (:func:`momentum_path`): the
            gradient taken at :math:`\theta_t + a\mu v_t`, and a momentum
            :math:`\mu_t` that changes with the step :math:`t = 1, 2, \dots`.

    Returns:
        :math:`\theta_0, \theta_k, \dots, \theta_n` stacked along a new first dimension (and the
        velocities, if asked). With a constant :math:`\gamma` this is the trajectory of
        ``torch.optim.SGD(lr=γ, momentum=μ)``, whose buffer is :math:`-v/\gamma`.
    """
    # --- validation
    if not isinstance(theta0, torch.Tensor) or not theta0.is_floating_point():
        raise ValueError(
            f"theta0 must be a floating-point tensor, got {type(theta0).__name__}"
        )
    check_count("n_steps", n_steps, 0)
    check_count("record_every", record_every, 1)
    if n_steps % record_every:
        raise ValueError(
            f"n_steps={n_steps} must be a multiple of record_every={record_every}"
        )
    for name, value in (("lr", lr), ("momentum", momentum)):
        t = torch.as_tensor(value)
        plain = lookahead is None  # the heavy ball proper: no negative rate or momentum
        if not (torch.isfinite(t).all() and (not plain or (t >= 0).all())):
            raise ValueError(f"{name} must be finite and >= 0 everywhere, got {value}")
        if isinstance(value, torch.Tensor):
            check_broadcasts_to(name, value, theta0.shape)
    if v0 is not None and v0.shape != theta0.shape:
        raise ValueError(
            f"v0 must have theta0's shape {tuple(theta0.shape)}, got {tuple(v0.shape)}"
        )
    # --- end validation
    theta, mu = theta0, momentum
    v = torch.zeros_like(theta0) if v0 is None else v0
    thetas, vs = [theta], [v]
    for n in range(1, n_steps + 1):
        if momentum_schedule is not None:
            mu = momentum_schedule(n)  # μ_t (chapter 4)
        if lookahead is None:
            v = mu * v - lr * grad(theta)  # v_{t+1} = μ v_t − γ ∇L(θ_t)  (ch3-momentum)
        else:  # v_{t+1} = μ v_t − γ ∇L(θ_t + aμ v_t)  (chapter 4's family)
            v = mu * v - lr * grad(theta + lookahead * mu * v)
        theta = theta + v  # θ_{t+1} = θ_t + v_{t+1}
        if n % record_every == 0:
            thetas.append(theta)
            vs.append(v)
    if return_velocity:
        return torch.stack(thetas), torch.stack(vs)
    return torch.stack(thetas)


def leapfrog_coefficients(
    friction: float, h: float, symmetric: bool = False
) -> tuple[float, float]:
    r"""The :math:`(\gamma, \mu)` of the momentum step that discretises (ch3-system) with step :math:`h`.

    With :math:`v_{t+1} = h\,\eta_{t+1/2}`, central differences for :math:`\dot\theta` and
    :math:`\dot\eta`, and the friction taken at the older half-step (explicit) or averaged over the
    two half-steps (symmetric):

    .. math::
       \text{explicit:}\quad & \mu = 1 - \zeta h, && \gamma = h^2; \\
       \text{symmetric:}\quad & \mu = \frac{1-\zeta h/2}{1+\zeta h/2}, &&
       \gamma = \frac{h^2}{1+\zeta h/2}.                                   \qquad\text{(ch3-coefficients)}

    Source 004 uses both: the symmetric map for its leapfrog heavy ball (a second-order method for
    the ODE) and the explicit one for its Nesterov scheme. The explicit map needs
    :math:`\zeta h \le 1` (so that :math:`\mu \ge 0`).
    """
    zeta, step = finite("friction", friction), finite("h", h)
    if zeta < 0 or step <= 0:
        raise ValueError(
            f"need friction >= 0 and h > 0, got friction={friction!r}, h={h!r}"
        )
    if symmetric:
        return step**2 / (1 + zeta * step / 2), (1 - zeta * step / 2) / (
            1 + zeta * step / 2
        )
    if zeta * step > 1:
        raise ValueError(
            f"need friction * h <= 1 so that momentum >= 0, got {zeta * step}"
        )
    return step**2, 1 - zeta * step


def friction_and_step(
    lr: float, momentum: float, symmetric: bool = False
) -> tuple[float, float]:
    r"""Invert :func:`leapfrog_coefficients`: the :math:`(\zeta, h)` a momentum step integrates.

    Explicit: :math:`h = \sqrt\gamma`, :math:`\zeta = (1-\mu)/h`. Symmetric:
    :math:`\zeta h = 2(1-\mu)/(1+\mu)`, :math:`h = \sqrt{2\gamma/(1+\mu)}`.
    """
    gamma, mu = finite("lr", lr), finite("momentum", momentum)
    if gamma <= 0 or not 0 <= mu <= 1:
        raise ValueError(
            f"need lr > 0 and 0 <= momentum <= 1, got lr={lr!r}, momentum={momentum!r}"
        )
    if symmetric:
        h = math.sqrt(2 * gamma / (1 + mu))
        return 2 * (1 - mu) / ((1 + mu) * h), h
    h = math.sqrt(gamma)
    return (1 - mu) / h, h


def raised_momentum(momentum: float, ratio: float) -> float:
    r"""The momentum :math:`\mu' = 1 - (1-\mu)\sqrt r` that keeps the friction when :math:`\gamma \to r\gamma`.

    With the explicit map :math:`\mu = 1 - \zeta h`, :math:`\gamma = h^2`, the friction is
    :math:`\zeta = (1-\mu)/\sqrt\gamma`; keeping it while :math:`\gamma` becomes :math:`r\gamma`
    (so :math:`h` becomes :math:`\sqrt r\, h`) gives :math:`\mu'`.   (ch3-raise-momentum)
    """
    mu, r = finite("momentum", momentum), finite("ratio", ratio)
    if not 0 <= mu <= 1 or r <= 0:
        raise ValueError(
            f"need 0 <= momentum <= 1 and ratio > 0, got {momentum!r}, {ratio!r}"
        )
    return 1 - (1 - mu) * math.sqrt(r)


def buffer_under_constant_gradient(
    momentum: float, n: int | torch.Tensor, dampening: float = 0.0
) -> torch.Tensor:
    r"""PyTorch's buffer :math:`v_n / g` after :math:`n \ge 1` steps of a constant gradient :math:`g`.

    From :math:`v_1 = g` and :math:`v_n = \mu v_{n-1} + (1-\tau) g`:

    .. math::
       \frac{v_n}{g} = \mu^{n-1} + (1-\tau)\,\frac{1-\mu^{n-1}}{1-\mu}
       \;\longrightarrow\; \frac{1-\tau}{1-\mu}                          \qquad\text{(ch3-terminal)}

    so :math:`1/(1-\mu)` without dampening (10 at :math:`\mu = 0.9`) and 1 with :math:`\tau = \mu`.
    """
    mu, tau = finite("momentum", momentum), finite("dampening", dampening)
    if not 0 <= mu < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    steps = torch.as_tensor(n, dtype=torch.float64)
    if (steps < 1).any():
        raise ValueError("n must be >= 1")
    decayed = mu ** (steps - 1)
    return decayed + (1 - tau) * (1 - decayed) / (1 - mu)


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
    r"""Iterate chapter 4's family of methods from :math:`\theta_0` and return :math:`\theta_0, \dots, \theta_n`.

    The heavy ball's iteration (:func:`heavy_ball`, the one implementation of both) with the
    gradient taken at the look-ahead point, and hyperparameters given one per trajectory.

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
    if (
        not isinstance(theta0, torch.Tensor)
        or not theta0.is_floating_point()
        or theta0.ndim == 0
    ):
        raise ValueError("theta0 must be a floating-point tensor of shape (..., d)")
    if velocity0 is not None and velocity0.shape != theta0.shape:
        raise ValueError(f"velocity0 must have theta0's shape {tuple(theta0.shape)}")

    # --- end validation
    def schedule(t: int) -> torch.Tensor:
        return _batched(momentum_schedule(t), theta0, "momentum_schedule(t)")

    return heavy_ball(  # the one iteration, with the gradient at the look-ahead point
        grad,
        theta0,
        _batched(lr, theta0, "lr"),
        _batched(momentum, theta0, "momentum"),
        n_steps,
        v0=velocity0,
        lookahead=_batched(lookahead, theta0, "lookahead"),
        momentum_schedule=None if momentum_schedule is None else schedule,
    )


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
    :mod:`course_lib.dynamics.quadratic_rates`. The stationary covariance solves the discrete Lyapunov
    equation :math:`C = M C M^\top + \gamma^2\sigma^2\, b b^\top`, here in closed form by
    vectorisation, :math:`(I - M\otimes M)\,\mathrm{vec}\,C = \gamma^2\sigma^2\,\mathrm{vec}\,bb^\top`;
    :math:`C_{11} = \operatorname{Var} e_\infty`. Broadcasts over its arguments and returns shape
    ``(..., 2, 2)``; raises ``ValueError`` where the iteration is not stable (no stationary law).
    """
    from course_lib.dynamics.quadratic_rates import iteration_matrix, spectral_radius

    # --- validation
    if (torch.as_tensor(noise_var) < 0).any():
        raise ValueError(f"noise_var must be >= 0, got {noise_var}")
    if (spectral_radius(lr, momentum, curvature, lookahead) >= 1).any():
        raise ValueError(
            "the iteration is not stable for these (lr, momentum, curvature, lookahead)"
        )
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
