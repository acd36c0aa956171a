"""Checks for the exercises of chapter 5 (PyTorch's SGD).

The reference of 5.1 is ``torch.optim.SGD`` itself; the predict questions are verified by running
``torch.optim.SGD`` and ``course_lib.optim.SutskeverSGD``. Both are imported inside the functions, so
this module imports without them. Every case is plain data: the gradient is rebuilt from a Hessian and
a minimizer (``Fn("quadratic_grad", ...)``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises.spec import Case, Fn, Rng, explain, implement, predict, see

#: Exercise 5.2: momentum and StepLR's factor (the notebook's text states them).
MU_5_2, RHO_5_2 = 0.95, 0.2
#: Exercise 5.3: learning rate, momentum, weight decay.
LR_5_3, MU_5_3, OMEGA_5_3 = 0.05, 0.8, 0.02


def _sgd_reference(grad: Any, theta0: torch.Tensor, lr: Any, n_steps: Any, momentum: float = 0.0,
                   dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                   maximize: bool = False) -> torch.Tensor:
    """θ_0, …, θ_n of ``torch.optim.SGD`` with these hyperparameters, the gradient given by ``grad``."""
    theta = torch.nn.Parameter(theta0.detach().clone())
    optimizer = torch.optim.SGD([theta], lr=float(lr), momentum=float(momentum), dampening=float(dampening),
                                weight_decay=float(weight_decay), nesterov=bool(nesterov),
                                maximize=bool(maximize))
    path = [theta0.detach().clone()]
    for _ in range(int(n_steps)):
        theta.grad = grad(theta.detach().clone())
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)


def _sgd_case(rng: Rng, family: str, dtype: torch.dtype = torch.float64, n_steps: int | None = None,
              **hyper: Any) -> Case:
    d = rng.integer(2, 4)
    lams = torch.tensor([rng.uniform(0.2, 2.0) for _ in range(d)], dtype=torch.float64)
    q, _ = torch.linalg.qr(rng.normal(d, d))
    hessian = (q * lams) @ q.T
    hessian = (hessian + hessian.T) / 2
    grad = Fn("quadratic_grad", hessian=hessian.tolist(), minimizer=rng.normal(d).tolist())
    theta0 = rng.normal(d, dtype=dtype)
    lr = rng.uniform(0.05, 0.3)
    n = rng.integer(3, 12) if n_steps is None else n_steps
    settings = ", ".join(f"{k}={v}" for k, v in hyper.items())
    text = f"theta0 of shape ({d},) and dtype {dtype}, lr={lr:.3g}, n_steps={n}" + (
        f", {settings}" if settings else "")
    return Case((grad, theta0, lr, n), kwargs=hyper, family=family, description=text)


@implement("5.1", "PyTorch's SGD, every branch", name="pytorch_sgd", reference=_sgd_reference,
           rtol=1e-5, atol=1e-6, steps=True, input_hint="the dtype of theta0",
           arg_names=("grad", "theta0", "lr", "n_steps"),
           forbid=("torch.optim.SGD", "torch.optim.sgd.SGD", "course_lib.optim.SGD", "course_lib.optim.sgd.SGD"))
def pytorch_sgd_cases(rng: Rng, group: str) -> list[Case]:
    """One family per branch ("core"); the details a transcription gets wrong ("edge")."""
    if group == "core":
        return [
            _sgd_case(rng, "plain SGD"),
            _sgd_case(rng, "heavy-ball momentum", momentum=rng.uniform(0.5, 0.95)),
            _sgd_case(rng, "Nesterov", momentum=rng.uniform(0.5, 0.95), nesterov=True),
            _sgd_case(rng, "L2 weight decay added to the gradient", weight_decay=rng.uniform(0.01, 0.2)),
        ]
    return [
        _sgd_case(rng, "dampening: the buffer starts at g_1, (1 − τ) only from step 2", momentum=0.9,
                  dampening=rng.uniform(0.2, 0.8)),
        _sgd_case(rng, "maximize with weight decay: the sign flips before the decay is added", n_steps=5,
                  weight_decay=0.1, maximize=True),
        _sgd_case(rng, "every branch at once", momentum=0.8, weight_decay=0.05, nesterov=True, maximize=True,
                  n_steps=6),
        _sgd_case(rng, "zero steps: just theta0", n_steps=0, momentum=0.9),
        _sgd_case(rng, "float32 inputs: return float32", torch.float32, momentum=0.9, nesterov=True),
    ]


def _extra_distance(mu: float, rho: float, n_before: int = 400, n_after: int = 400) -> float:
    """Measured extra distance, in steps of the old length, of the lr-inside form after a drop by ρ."""
    from course_lib.optim import SutskeverSGD

    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    paths = []
    for make in (lambda p: torch.optim.SGD(p, lr=0.1, momentum=mu), lambda p: SutskeverSGD(p, lr=0.1, momentum=mu)):
        theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        optimizer = make([theta])
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=n_before, gamma=rho)
        path = [theta.detach().clone()]
        for _ in range(n_before + n_after):
            optimizer.zero_grad()
            (c @ theta).backward()
            optimizer.step()
            scheduler.step()
            path.append(theta.detach().clone())
        paths.append(torch.stack(path))
    outside, inside = paths
    old_step = float((outside[n_before] - outside[n_before - 1]).norm())
    after = slice(n_before, None)
    extra = float((inside[after][-1] - inside[after][0]).norm() - (outside[after][-1] - outside[after][0]).norm())
    return extra / old_step


@predict("5.2", "How far the old velocity carries", name="extra_steps", rtol=0.01,
         ratios={"that is μ/(1 − μ): the new, smaller rate also enters the inside form's velocity — only a "
                 "fraction 1 − ρ of the old steps is extra": 1 / (1 - RHO_5_2),
                 "that is (1 − ρ)/(1 − μ): the first step after the drop already carries the factor μ": 1 / MU_5_2})
def extra_steps_truth() -> tuple[float, str]:
    """(1 − ρ) μ / (1 − μ), confirmed by running both forms under StepLR."""
    truth = (1 - RHO_5_2) * MU_5_2 / (1 - MU_5_2)
    measured = _extra_distance(MU_5_2, RHO_5_2)
    if abs(measured - truth) > 1e-3 * truth:
        raise RuntimeError(f"measured extra distance {measured} disagrees with (1 - rho) mu / (1 - mu) = {truth}")
    how = (f"Verified by simulation: on a loss with a constant gradient, 400 steps after the drop the "
           f"lr-inside form (SutskeverSGD) has travelled {measured:.3f} old steps further than torch.optim.SGD.")
    return truth, how


def _measured_half_life(lr: float, mu: float, omega: float, n_steps: int = 3000) -> float:
    """Steps for θ to halve under torch.optim.SGD with weight decay only (zero loss gradient), late in the run."""
    theta = torch.ones(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=mu, weight_decay=omega)
    values = []
    for _ in range(n_steps):
        theta.grad = torch.zeros_like(theta)
        optimizer.step()
        values.append(float(theta.detach()))
    shrink = values[-1] / values[-2]
    return math.log(2) / -math.log(shrink)


def _half_life_truth_value() -> float:
    a = 1 + MU_5_3 - LR_5_3 * OMEGA_5_3
    root = (a + math.sqrt(a * a - 4 * MU_5_3)) / 2
    return math.log(2) / -math.log(root)


@predict("5.3", "Weight decay with momentum: the half-life of the weights", name="half_life", rtol=0.03,
         ratios={"that is the half-life of decoupled decay, ln 2 / (γω): with momentum SGD's decay term is "
                 "accumulated in the buffer like any gradient": (math.log(2) / (LR_5_3 * OMEGA_5_3))
                 / _half_life_truth_value()})
def half_life_truth() -> tuple[float, str]:
    """ln 2 / −ln z, with z the larger root of z² − (1 + μ − γω) z + μ, confirmed by simulation."""
    truth = _half_life_truth_value()
    measured = _measured_half_life(LR_5_3, MU_5_3, OMEGA_5_3)
    if abs(measured - truth) > 1e-6 * truth:
        raise RuntimeError(f"measured half-life {measured} disagrees with the heavy-ball root's {truth}")
    how = (f"Verified by simulation: torch.optim.SGD(lr={LR_5_3}, momentum={MU_5_3}, weight_decay={OMEGA_5_3}) "
           f"with a zero loss gradient halves θ every {measured:.2f} steps once the transient has died out.")
    return truth, how


explain("5.4", "Which parameters did you evaluate?")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("5.1", "5.1", "torch.optim.SGD, branch by branch", "ch5-update")
see("5.2", "5.2", "The learning rate outside the velocity", "ch5-lr-lag")
see("5.3", "5.6", "Weight decay in SGD is an L2 penalty", "ch5-l2")
see("5.4", "5.3", "PyTorch's Nesterov is Nesterov in shifted variables", "ch5-nesterov-sutskever")
