"""The textbook forms of momentum (SutskeverSGD, NAG) and how they relate to torch's SGD.

Claims of the momentum and Nesterov chapters (sources 000, 001, 004), each checked on the
deterministic float64 problem of ``optim_testing``.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from optim_testing import Problem, max_relative_error

import course_lib.optim as co

MU, LR, STEPS = 0.9, 0.05, 40


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def closure_for(optimizer: torch.optim.Optimizer, problem: Problem, params: list[torch.Tensor]):
    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = problem.loss(params)
        loss.backward()
        return loss

    return closure


def velocity(optimizer: co.SutskeverSGD, params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [optimizer.state[p]["velocity"] for p in params]


def test_lr_inside_velocity_equals_torch_momentum_when_lr_is_constant() -> None:
    problem = Problem.make()
    ours, theirs = problem.params(), problem.params()
    sutskever = co.SutskeverSGD(ours, lr=LR, momentum=MU, lookahead=0.0)
    torch_sgd = torch.optim.SGD(theirs, lr=LR, momentum=MU)
    for _ in range(STEPS):
        sutskever.step(closure_for(sutskever, problem, ours))
        torch_sgd.step(closure_for(torch_sgd, problem, theirs))
        assert max_relative_error(ours, theirs) <= 1e-10
        buffers = [torch_sgd.state[p]["momentum_buffer"] for p in theirs]
        assert max_relative_error(velocity(sutskever, ours), [-LR * b for b in buffers]) <= 1e-10  # v = −γ b


def step_norm(after: list[torch.Tensor], before: list[torch.Tensor]) -> float:
    return torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after, before, strict=True))).item()


def test_after_an_lr_drop_lr_inside_velocity_keeps_moving_while_torch_slows_at_once() -> None:
    """Source 001: with γ inside v the old velocity keeps carrying θ; torch's form rescales it at once."""
    problem = Problem.make()
    ours, theirs = problem.params(), problem.params()
    sutskever = co.SutskeverSGD(ours, lr=LR, momentum=MU)
    torch_sgd = torch.optim.SGD(theirs, lr=LR, momentum=MU)
    for _ in range(20):
        sutskever.step(closure_for(sutskever, problem, ours))
        torch_sgd.step(closure_for(torch_sgd, problem, theirs))
    assert max_relative_error(ours, theirs) <= 1e-10  # identical up to the drop
    v_before = [v.clone() for v in velocity(sutskever, ours)]
    before = [p.detach().clone() for p in ours]
    last_step = step_norm(before, [p - v for p, v in zip(before, v_before, strict=True)])

    drop = 0.1
    for optimizer in (sutskever, torch_sgd):
        optimizer.param_groups[0]["lr"] = drop * LR
    sutskever.step(closure_for(sutskever, problem, ours))
    torch_sgd.step(closure_for(torch_sgd, problem, theirs))
    g = [p.grad for p in theirs]  # the same gradient for both: both were at the same point
    # Δθ = μ v_t − γ₂ g  (lr inside)   versus   Δθ = (γ₂/γ₁) μ v_t − γ₂ g  (torch)
    expected_ours = [b + MU * v - drop * LR * gi for b, v, gi in zip(before, v_before, g, strict=True)]
    expected_theirs = [b + drop * MU * v - drop * LR * gi for b, v, gi in zip(before, v_before, g, strict=True)]
    assert max_relative_error(ours, expected_ours) <= 1e-10
    assert max_relative_error(theirs, expected_theirs) <= 1e-10
    ours_step, theirs_step = step_norm(ours, before), step_norm(theirs, before)
    assert ours_step > 0.8 * last_step  # the old velocity still carries θ: about μ times the last step
    assert theirs_step < 0.15 * last_step  # torch's step shrinks with the learning rate, at once

    # Afterwards the lr-inside step shrinks gradually (the old velocity decays as μⁿ) and the two
    # step sizes become comparable again.
    ratios = []
    for _ in range(30):
        ours_before, theirs_before = [p.detach().clone() for p in ours], [p.detach().clone() for p in theirs]
        sutskever.step(closure_for(sutskever, problem, ours))
        torch_sgd.step(closure_for(torch_sgd, problem, theirs))
        ratios.append(step_norm(ours, ours_before) / step_norm(theirs, theirs_before))
    assert ratios[0] > 3 and ratios[-1] < 2
    assert all(later < earlier for earlier, later in itertools.pairwise(ratios[:11]))


def test_lookahead_one_is_torch_nesterov_after_the_change_of_variables() -> None:
    """torch's SGD(nesterov=True) holds Θ = θ + μ v, θ and v those of Sutskever et al.'s NAG."""
    problem = Problem.make()
    ours, theirs = problem.params(), problem.params()
    sutskever = co.SutskeverSGD(ours, lr=LR, momentum=MU, lookahead=1.0)
    torch_nesterov = torch.optim.SGD(theirs, lr=LR, momentum=MU, nesterov=True)
    for _ in range(STEPS):
        sutskever.step(closure_for(sutskever, problem, ours))
        torch_nesterov.step(closure_for(torch_nesterov, problem, theirs))
        shifted = [p + MU * v for p, v in zip(ours, velocity(sutskever, ours), strict=True)]
        assert max_relative_error(shifted, theirs) <= 1e-10
    assert max_relative_error(ours, theirs) > 1e-4  # θ itself is not what torch holds


def reference_lookahead_momentum(problem: Problem, lookahead: float, steps: int) -> list[torch.Tensor]:
    """θ and v as plain tensors; the gradient at θ + aμv from torch.autograd.grad on a fresh copy."""
    theta = [p.detach().clone() for p in problem.initial]
    v = [torch.zeros_like(p) for p in theta]
    for _ in range(steps):
        point = [(p + lookahead * MU * vi).requires_grad_() for p, vi in zip(theta, v, strict=True)]
        grads = torch.autograd.grad(problem.loss(point), point)
        v = [MU * vi - LR * gi for vi, gi in zip(v, grads, strict=True)]
        theta = [p + vi for p, vi in zip(theta, v, strict=True)]
    return theta


def test_midpoint_variant_matches_an_independent_reference() -> None:
    problem = Problem.make()
    ours = problem.params()
    midpoint = co.SutskeverSGD(ours, lr=LR, momentum=MU, lookahead=0.5)
    for _ in range(STEPS):
        midpoint.step(closure_for(midpoint, problem, ours))
    assert max_relative_error(ours, reference_lookahead_momentum(problem, 0.5, STEPS)) <= 1e-10
    for other in (0.0, 1.0):  # the variant is neither classical momentum nor Nesterov's
        assert max_relative_error(ours, reference_lookahead_momentum(problem, other, STEPS)) > 1e-4


def test_step_without_closure_raises_when_the_gradient_must_be_taken_at_the_shifted_point() -> None:
    problem = Problem.make()
    params = problem.params()
    optimizer = co.SutskeverSGD(params, lr=LR, momentum=MU, lookahead=1.0)
    problem.loss(params).backward()
    with pytest.raises(RuntimeError, match="closure.*shifted point"):
        optimizer.step()
    classical = co.SutskeverSGD(params, lr=LR, momentum=MU, lookahead=0.0)
    assert classical.step() is None  # no look-ahead: the gradient in .grad is the right one


def test_parameters_return_to_theta_around_the_closure_even_if_it_raises() -> None:
    problem = Problem.make()
    params = problem.params()
    optimizer = co.SutskeverSGD(params, lr=LR, momentum=MU, lookahead=1.0)
    for _ in range(3):
        optimizer.step(closure_for(optimizer, problem, params))
    before = [p.detach().clone() for p in params]
    seen = []

    def failing() -> torch.Tensor:
        seen.append([p.detach().clone() for p in params])
        raise ArithmeticError("boom")

    with pytest.raises(ArithmeticError):
        optimizer.step(failing)
    shifted = [b + MU * v for b, v in zip(before, velocity(optimizer, params), strict=True)]
    assert max_relative_error(seen[0], shifted) <= 1e-12  # the closure ran at θ + μ v
    assert max_relative_error(params, before) <= 1e-15  # and θ is back (up to the last bit)


def test_two_sequence_nag_holds_torchs_nesterov_point_and_its_y_is_sutskevers_theta() -> None:
    problem = Problem.make()
    nag_params, torch_params, sut_params = problem.params(), problem.params(), problem.params()
    nag = co.NAG(nag_params, lr=LR, momentum=MU)
    torch_nesterov = torch.optim.SGD(torch_params, lr=LR, momentum=MU, nesterov=True)
    sutskever = co.SutskeverSGD(sut_params, lr=LR, momentum=MU, lookahead=1.0)
    for _ in range(STEPS):
        for optimizer, params in ((nag, nag_params), (torch_nesterov, torch_params), (sutskever, sut_params)):
            optimizer.step(closure_for(optimizer, problem, params))
        assert max_relative_error(nag_params, torch_params) <= 1e-10
        assert max_relative_error([nag.state[p]["y"] for p in nag_params], sut_params) <= 1e-10
