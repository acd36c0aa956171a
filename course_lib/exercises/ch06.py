"""Checks for the exercises of chapter 6 (the Adam family).

The references are ``course_lib.optim``'s own optimizers, driven with hand-set gradients. They are
imported inside the functions, so this module imports even where they are missing. Every case is plain
data: the gradients g_1, …, g_T of exercise 6.1 are given in advance as one tensor.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises.spec import Case, Rng, explain, implement, predict, see

#: The set-ups of the predict-then-verify exercises (the notebook's text states them).
RMSPROP_6_2 = {"theta0": 0.5, "g": -4.0, "lr": 0.01, "alpha": 0.99, "eps": 1e-8}
ADADELTA_6_3 = {"rho": 0.95, "eps": 1e-4, "g": 10.0}


def adam_trajectory_reference(grads: torch.Tensor, lr: Any, beta1: Any, beta2: Any, eps: Any) -> torch.Tensor:
    """θ_0 = 0, …, θ_T of ``course_lib.optim.Adam`` fed the gradients ``grads[0], …, grads[T-1]``."""
    from course_lib.optim import Adam

    theta = grads.new_zeros(grads.shape[1:]).requires_grad_()
    optimizer = Adam([theta], lr=float(lr), betas=(float(beta1), float(beta2)), eps=float(eps))
    trajectory = [theta.detach().clone()]
    for g in grads:
        theta.grad = g.clone()
        optimizer.step()
        trajectory.append(theta.detach().clone())
    return torch.stack(trajectory)


def _adam_written_out(grads: torch.Tensor, lr: Any, beta1: Any, beta2: Any, eps: Any, *, shift: int = 0,
                      eps_inside: bool = False) -> torch.Tensor:
    """Adam written out step by step, with one of two classic mistakes on demand (for the hints).

    ``shift=1`` corrects the bias with 1 − β^(t+1) instead of 1 − β^t (an off-by-one in the step count);
    ``eps_inside`` divides by √(V̂ + ε) instead of √V̂ + ε.
    """
    lr, beta1, beta2, eps = float(lr), float(beta1), float(beta2), float(eps)
    theta = grads.new_zeros(grads.shape[1:])
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    out = [theta]
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** (t + shift)), v / (1 - beta2 ** (t + shift))
        denominator = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
        theta = theta - lr * m_hat / denominator
        out.append(theta)
    return torch.stack(out)


#: The classic mistakes of exercise 6.1, written out, with the hint each earns (see ``mistakes=``).
ADAM_MISTAKES = {
    ("your values match Adam with the bias correction 1 − β^(t+1) instead of 1 − β^t: an off-by-one in the "
     "step count (t is 1 at the first step; §6.5, the Adam step)"):
        lambda *a: _adam_written_out(*a, shift=1),
    ("your values match Adam with ε inside the square root, √(V̂_t + ε); the update divides by √V̂_t + ε, "
     "ε outside the root (§6.3 and §6.5)"):
        lambda *a: _adam_written_out(*a, eps_inside=True),
}


def _bias_correction_slips(beta1: float, beta2: float) -> dict[str, float]:
    """The factors (yours / expected) of a one-step trajectory when a bias correction is missing."""
    return {
        "(1 − β1)/√(1 − β2): you left out the bias correction — divide m_t by 1 − β1^t and V_t by 1 − β2^t":
            (1 - beta1) / math.sqrt(1 - beta2),
        "1/√(1 − β2): you corrected m_t but not V_t (divide V_t by 1 − β2^t)": 1 / math.sqrt(1 - beta2),
        "1 − β1: you corrected V_t but not m_t (divide m_t by 1 − β1^t)": 1 - beta1,
    }


def _adam_case(rng: Rng, family: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float64,
               scale: float = 1.0, n_steps: int | None = None, one_step: bool = False,
               numpy_scalars: bool = False) -> Case:
    T = (1 if one_step else rng.integer(2, 30)) if n_steps is None else n_steps
    if one_step:  # |g| in [0.5, 2] and ε = 1e-8: the bias correction alone sets the ratio of the first step
        magnitude = rng.rand(T, *shape) * 1.5 + 0.5
        grads = torch.where(rng.rand(T, *shape) < 0.5, -magnitude, magnitude)
        eps = 1e-8
    else:
        grads = scale * rng.normal(T, *shape)
        eps = 10 ** rng.uniform(-8, -4)
    grads = grads.to(dtype)
    lr = rng.uniform(1e-3, 0.1)
    beta1, beta2 = rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999)
    text = (f"grads of shape {tuple(grads.shape)} and dtype {dtype}, lr={lr:.3g}, beta1={beta1:.3g}, "
            f"beta2={beta2:.5g}, eps={eps:.1e}")
    hints = _bias_correction_slips(beta1, beta2) if one_step else {}
    args: tuple[Any, ...] = (grads, lr, beta1, beta2, eps)
    if numpy_scalars:
        import numpy as np

        args = (grads, *(np.float64(x) for x in (lr, beta1, beta2, eps)))
        text += " (lr, beta1, beta2, eps as numpy.float64)"
    return Case(args, family=family, description=text, ratios=hints)


@implement("6.1", "Adam with its bias correction", name="adam_trajectory", reference=adam_trajectory_reference,
           rtol=1e-5, atol=1e-7, steps=True, input_hint="the dtype of grads",
           arg_names=("grads", "lr", "beta1", "beta2", "eps"), time_limit_s=3.0, mistakes=ADAM_MISTAKES,
           forbid=("course_lib.optim.Adam", "course_lib.optim.adam.Adam", "torch.optim.Adam"))
def adam_trajectory_cases(rng: Rng, group: str) -> list[Case]:
    """One step (where the bias correction shows alone) and random runs ("core"); the edge families."""
    if group == "core":
        return [
            _adam_case(rng, "one gradient (T = 1), where the bias correction is the whole difference", (3,),
                       one_step=True),
            *[_adam_case(rng, "random gradients", (rng.integer(1, 5),)) for _ in range(3)],
        ]
    return [
        _adam_case(rng, "a single parameter: grads of shape (T,), θ a scalar", ()),
        _adam_case(rng, "float32 gradients: return float32", (4,), torch.float32),
        _adam_case(rng, "two parameter dimensions", (2, 3)),
        _adam_case(rng, "zero steps (T = 0): just θ_0 = 0", (3,), n_steps=0),
        _adam_case(rng, "numpy scalars for lr, beta1, beta2 and eps", (2,), numpy_scalars=True),
        _adam_case(rng, "tiny gradients (scale 1e-6), where ε matters", (3,), scale=1e-6),
        _adam_case(rng, "huge gradients (scale 1e3): Adam's step does not grow with them", (3,), scale=1e3),
    ]


def _first_step(optimizer_factory: Any, theta0: float, g: float) -> float:
    """θ_1 after one step of the optimizer ``optimizer_factory([θ])`` from ``theta0`` with gradient ``g``."""
    theta = torch.tensor([theta0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([theta])
    theta.grad = torch.tensor([g], dtype=torch.float64)
    optimizer.step()
    return float(theta.item())


def rmsprop_first_step() -> float:
    """θ_1 = θ_0 − γ g_1 / (√((1 − α) g_1²) + ε) of RMSprop (no bias correction) for ``RMSPROP_6_2``."""
    s = RMSPROP_6_2
    return s["theta0"] - s["lr"] * s["g"] / (math.sqrt((1 - s["alpha"]) * s["g"] ** 2) + s["eps"])


def _rmsprop_slips() -> dict[str, float]:
    s = RMSPROP_6_2
    truth = rmsprop_first_step()
    return {
        "that is about θ_0 + γ, a step of γ as if V_1 were bias-corrected (or weighted by α) — RMSprop's "
        "V_1 = (1 − α)g_1² is not, so its first step is γ/√(1 − α) = 10γ": (s["theta0"] + s["lr"]) / truth,
        "the step goes against the gradient, and g_1 < 0, so θ grows": (s["theta0"] - (truth - s["theta0"])) / truth,
        "you divided by V_1 itself, not by its square root":
            (s["theta0"] - s["lr"] * s["g"] / ((1 - s["alpha"]) * s["g"] ** 2)) / truth,
        "that is the step θ_1 − θ_0; the question asks for θ_1": (truth - s["theta0"]) / truth,
    }


@predict("6.2", "RMSprop's first step", name="theta_1", rtol=0.01, ratios=_rmsprop_slips())
def rmsprop_first_step_truth() -> tuple[float, str]:
    """θ_1 of torch-default RMSprop, measured with course_lib's RMSprop and checked against the closed form."""
    from course_lib.optim import RMSprop

    s = RMSPROP_6_2
    measured = _first_step(lambda ps: RMSprop(ps, lr=s["lr"], alpha=s["alpha"], eps=s["eps"]), s["theta0"], s["g"])
    exact = rmsprop_first_step()
    if abs(measured - exact) > 1e-12:
        raise RuntimeError(f"measured {measured} disagrees with the closed form {exact}")
    return measured, "Verified by one step of course_lib.optim.RMSprop at torch's defaults."


def adadelta_first_step(rho: float, eps: float, g: float) -> float:
    """|θ_1 − θ_0| = √ε |g_1| / √((1 − ρ) g_1² + ε): the numerator's accumulator is still 0, so √ε is left."""
    return math.sqrt(eps) * abs(g) / math.sqrt((1 - rho) * g**2 + eps)


def _adadelta_slips() -> dict[str, float]:
    rho, eps, g = ADADELTA_6_3["rho"], ADADELTA_6_3["eps"], ADADELTA_6_3["g"]
    truth = adadelta_first_step(rho, eps, g)
    return {
        "the numerator is √(E[Δθ²]_0 + ε) = √ε, not 0 — that ε is what starts Adadelta": 0.0,
        "that is RMSprop's step with γ = 1; Adadelta's numerator is √(E[Δθ²]_0 + ε) = √ε, not 1":
            (abs(g) / math.sqrt((1 - rho) * g**2 + eps)) / truth,
        "E[g²]_1 = (1 − ρ)g_1², not g_1² — did you drop the factor 1 − ρ":
            (math.sqrt(eps) * abs(g) / math.sqrt(g**2 + eps)) / truth,
        "E[g²]_1 = (1 − ρ)g_1², not ρ g_1²": (math.sqrt(eps) * abs(g) / math.sqrt(rho * g**2 + eps)) / truth,
    }


@predict("6.3", "Adadelta's first step", name="step_size", rtol=0.01, ratios=_adadelta_slips())
def adadelta_first_step_truth() -> tuple[float, str]:
    """The size of Adadelta's first step, measured with course_lib's Adadelta and checked in closed form."""
    from course_lib.optim import Adadelta

    rho, eps, grad = ADADELTA_6_3["rho"], ADADELTA_6_3["eps"], ADADELTA_6_3["g"]
    measured = abs(_first_step(lambda ps: Adadelta(ps, rho=rho, eps=eps), 0.0, grad))
    exact = adadelta_first_step(rho, eps, grad)
    if abs(measured - exact) > 1e-12:
        raise RuntimeError(f"measured {measured} disagrees with the closed form {exact}")
    return measured, f"Verified by one step of course_lib.optim.Adadelta(rho={rho}, eps={eps})."


explain("6.4", "What weight decay means for Adam")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("6.1", "6.5", "Adam: both moments, and the bias correction", "ch6-adam-step")
see("6.2", "6.3", "RMSprop: forget the distant past", "ch6-rmsprop")
see("6.3", "6.4", "Adadelta: a step with the units of θ", "ch6-adadelta-first")
see("6.4", "6.8", "AdamW: weight decay, decoupled", "ch6-adamw")
