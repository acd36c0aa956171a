r"""Exact convergence rates of momentum methods on a quadratic (chapters 3 and 4).

The look-ahead family of momentum methods

.. math::
   v_{t+1} = \mu\, v_t - \gamma\,\nabla L(\theta_t + a\mu\, v_t), \qquad
   \theta_{t+1} = \theta_t + v_{t+1}                                        \qquad\text{(ch3-lookahead)}

holds heavy ball (:math:`a = 0`, Polyak 1964), Nesterov's method in Sutskever et al.'s form
(:math:`a = 1`) and source 004's midpoint variant (:math:`a = 1/2`). On a quadratic, along an
eigen-direction of curvature :math:`\lambda`, the error :math:`e_t = \theta_t - \theta^*` obeys
(write :math:`x = \gamma\lambda`)

.. math::
   e_{t+1} = \big(1 + \mu - x(1 + a\mu)\big)\, e_t - \mu(1 - a x)\, e_{t-1},  \qquad\text{(ch4-matrix)}

a linear two-step recursion with iteration matrix
:math:`M = \begin{pmatrix} 1+\mu-x(1+a\mu) & -\mu(1-ax) \\ 1 & 0\end{pmatrix}` acting on
:math:`(e_t, e_{t-1})`. Its spectral radius :math:`\rho` is the asymptotic rate: :math:`|e_t|`
shrinks like :math:`\rho^t` (times a polynomial in :math:`t` when the two roots coincide).

Everything broadcasts over tensors of :math:`\gamma`, :math:`\mu`, :math:`\lambda` (and :math:`a`)
and is computed in float64.
"""

from __future__ import annotations

import math

import torch

from course_lib._checks import as_float64

__all__ = [
    "convergence_rate",
    "iteration_matrix",
    "nesterov_parameters",
    "polyak_parameters",
    "spectral_radius",
    "stability_limit",
    "stable_interval",
]

Number = float | torch.Tensor


def _coefficients(
    lr: Number, momentum: Number, curvature: Number, lookahead: Number
) -> tuple[torch.Tensor, torch.Tensor]:
    """The trace :math:`T = 1+\\mu-x(1+a\\mu)` and determinant :math:`D = \\mu(1-ax)` of :math:`M`."""
    gamma, mu = as_float64(lr, "lr"), as_float64(momentum, "momentum")
    lam, a = as_float64(curvature, "curvature"), as_float64(lookahead, "lookahead")
    x = gamma * lam
    return 1 + mu - x * (1 + a * mu), mu * (1 - a * x)


def iteration_matrix(
    lr: Number, momentum: Number, curvature: Number, lookahead: Number = 0.0
) -> torch.Tensor:
    r"""The matrix :math:`M` of (ch4-matrix): :math:`(e_{t+1}, e_t) = M\,(e_t, e_{t-1})`, shape ``(..., 2, 2)``."""
    T, D = _coefficients(lr, momentum, curvature, lookahead)
    T, D = torch.broadcast_tensors(T, D)
    top = torch.stack([T, -D], dim=-1)
    bottom = torch.stack([torch.ones_like(T), torch.zeros_like(T)], dim=-1)
    return torch.stack([top, bottom], dim=-2)


def spectral_radius(
    lr: Number, momentum: Number, curvature: Number, lookahead: Number = 0.0
) -> torch.Tensor:
    r"""The larger modulus of the roots of :math:`z^2 - Tz + D` (the eigenvalues of :math:`M`).

    .. math::
       z_\pm = \tfrac12\big(T \pm \sqrt{T^2 - 4D}\big),\qquad \rho = \max(|z_+|, |z_-|).
                                                                            \qquad\text{(ch3-roots)}

    Complex roots (:math:`T^2 < 4D`) have :math:`|z_\pm| = \sqrt D`: for heavy ball
    :math:`\rho = \sqrt\mu` in the whole complex region.
    """
    T, D = _coefficients(lr, momentum, curvature, lookahead)
    disc = torch.sqrt((T * T - 4 * D).to(torch.complex128))
    return torch.maximum((T + disc).abs(), (T - disc).abs()) / 2


def convergence_rate(
    lr: Number, momentum: Number, eigenvalues: Number, lookahead: Number = 0.0
) -> torch.Tensor:
    r"""The worst rate :math:`\max_i \rho(\gamma, \mu, \lambda_i)` over the last dimension of ``eigenvalues``.

    ``lr`` and ``momentum`` (and ``lookahead``) of shape ``(...)`` broadcast against
    ``eigenvalues[..., i]``; a 1-D spectrum of shape ``(k,)`` is shared by every :math:`(\gamma, \mu)`.
    """
    lam = as_float64(eigenvalues, "eigenvalues")
    if lam.ndim == 0:
        lam = lam.reshape(1)
    expand = [
        as_float64(v, n).unsqueeze(-1)
        for v, n in ((lr, "lr"), (momentum, "momentum"), (lookahead, "lookahead"))
    ]
    return spectral_radius(expand[0], expand[1], lam, expand[2]).amax(-1)


def stable_interval(
    momentum: Number, lookahead: Number = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The open interval :math:`(x_-, x_+)` of :math:`x = \gamma\lambda > 0` where both roots satisfy :math:`|z| < 1`.

    The Jury (Schur--Cohn) conditions for :math:`z^2 - Tz + D` are :math:`1 - T + D > 0`,
    :math:`1 + T + D > 0` and :math:`|D| < 1`. With :math:`T, D` from (ch4-matrix) each is
    linear in :math:`x`:

    .. math::
       \begin{aligned}
       1 - T + D &= x > 0, \\
       1 + T + D &= 2(1+\mu) - x(1 + 2a\mu) > 0, \\
       1 - D &= 1 - \mu + a\mu x > 0, \qquad 1 + D = 1 + \mu - a\mu x > 0.
       \end{aligned}                                                        \qquad\text{(ch3-jury)}

    For :math:`a, \mu \ge 0` and :math:`\mu < 1` the upper end is :math:`2(1+\mu)/(1+2a\mu)`
    (the :math:`|D| < 1` bounds never bind there); for :math:`\mu \ge 1` and :math:`a > 0` the
    condition :math:`D < 1` gives a lower end :math:`(\mu-1)/(a\mu) > 0`. An empty interval is
    returned as :math:`x_- = x_+ = 0`.
    """
    mu, a = torch.broadcast_tensors(
        as_float64(momentum, "momentum"), as_float64(lookahead, "lookahead")
    )
    constraints = [  # p + q x > 0
        (torch.zeros_like(mu), torch.ones_like(mu)),
        (2 * (1 + mu), -(1 + 2 * a * mu)),
        (1 - mu, a * mu),
        (1 + mu, -a * mu),
    ]
    lower = torch.zeros_like(mu)
    upper = torch.full_like(mu, math.inf)
    feasible = torch.ones_like(mu, dtype=torch.bool)
    for p, q in constraints:
        bound = -p / torch.where(q == 0, torch.ones_like(q), q)
        lower = torch.where(q > 0, torch.maximum(lower, bound), lower)
        upper = torch.where(q < 0, torch.minimum(upper, bound), upper)
        feasible &= (q != 0) | (p > 0)
    empty = ~feasible | (upper <= lower)
    zero = torch.zeros_like(mu)
    return torch.where(empty, zero, lower), torch.where(empty, zero, upper)


def stability_limit(momentum: Number, lookahead: Number = 0.0) -> torch.Tensor:
    r"""The largest stable :math:`\gamma\lambda`: :math:`2(1+\mu)` for heavy ball, :math:`2(1+\mu)/(1+2\mu)` for Nesterov.

    The upper end of :func:`stable_interval` (0 where no step is stable, e.g. heavy ball with
    :math:`\mu \ge 1`).                                                   (ch3-stability)
    """
    return stable_interval(momentum, lookahead)[1]


def _condition(mu_min: float, L: float) -> float:
    for name, v in (("mu_min", mu_min), ("L", L)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
        ):
            raise ValueError(f"{name} must be a finite real number, got {v!r}")
    if not 0 < mu_min <= L:
        raise ValueError(f"need 0 < mu_min <= L, got mu_min={mu_min!r}, L={L!r}")
    return L / mu_min


def polyak_parameters(mu_min: float, L: float) -> tuple[float, float, float]:
    r"""Polyak's optimal heavy ball for eigenvalues in :math:`[\mu_{\min}, L]`: :math:`(\gamma, \mu, \rho)`.

    .. math::
       \gamma = \frac{4}{(\sqrt L + \sqrt{\mu_{\min}})^2},\quad
       \mu = \Big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\Big)^2,\quad
       \rho = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}.                       \qquad\text{(ch3-polyak)}

    Both extreme eigenvalues then sit at critical damping (a double root :math:`\pm\sqrt\mu`).
    """
    kappa = _condition(mu_min, L)
    q = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    return 4 / (math.sqrt(L) + math.sqrt(mu_min)) ** 2, q * q, q


def nesterov_parameters(mu_min: float, L: float) -> tuple[float, float, float]:
    r"""Nesterov's constant-momentum choice :math:`(\gamma, \mu, \rho) = (1/L,\ (\sqrt\kappa-1)/(\sqrt\kappa+1),\ 1 - 1/\sqrt\kappa)`.

    Used with ``lookahead = 1``; :math:`\rho` is the rate of (ch4-matrix) at
    :math:`\lambda = \mu_{\min}` (complex roots of modulus :math:`\sqrt{\mu(1 - 1/\kappa)}`).
    """
    kappa = _condition(mu_min, L)
    s = math.sqrt(kappa)
    return 1 / L, (s - 1) / (s + 1), 1 - 1 / s
