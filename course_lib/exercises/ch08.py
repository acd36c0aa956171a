"""Checks for the exercises of chapter 8 (after Adam: Muon, Lion, Schedule-Free AdamW, Adafactor).

References are ``course_lib``'s own (:func:`course_lib.optim.muon.newton_schulz`,
:class:`course_lib.optim.Lion`, :class:`course_lib.optim.Adafactor`), imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.spec import Case, Rng, explain, implement, predict, see

#: Exercise 8.2's Lion run: lr, decoupled weight decay and number of steps (the notebook states them).
LION_LR, LION_DECAY, LION_STEPS = 0.003, 0.5, 500
#: Exercise 8.3's layer: a weight matrix of shape (n, m) and a bias of length n.
LAYER_N, LAYER_M = 512, 1024


def _ns_case(rng: Rng, family: str, shape: tuple[int, int], dtype: torch.dtype = torch.float64,
             steps: int | None = None) -> Case:
    G = rng.normal(*shape, dtype=dtype)
    k = rng.integer(1, 6) if steps is None else steps
    return Case((G, k), family=family, description=f"G of shape {shape} and dtype {dtype}, steps={k}")


def _ns_reference(G: torch.Tensor, steps: Any) -> torch.Tensor:
    from course_lib.optim.muon import newton_schulz

    return newton_schulz(G, steps=int(steps), dtype=None)


@implement("8.1", "The quintic Newton–Schulz iteration", name="newton_schulz", reference=_ns_reference,
           rtol=1e-5, atol=1e-6, input_hint="the dtype of G", arg_names=("G", "steps"),
           forbid=("course_lib.optim.muon.newton_schulz",))
def newton_schulz_cases(rng: Rng, group: str) -> list[Case]:
    """Random tall, wide and square matrices ("core"); zero steps, float32 and a wide/tall pair ("edge")."""
    if group == "core":
        return [_ns_case(rng, "random matrices", (rng.integer(2, 8), rng.integer(2, 8))) for _ in range(4)]
    return [
        _ns_case(rng, "zero steps: just G / ||G||_F", (4, 3), steps=0),
        _ns_case(rng, "float32 input: return float32", (3, 5), torch.float32),
        _ns_case(rng, "a tall matrix (more rows than columns)", (9, 2)),
        _ns_case(rng, "a wide matrix (more columns than rows)", (2, 9)),
        _ns_case(rng, "a square matrix, five steps", (5, 5), steps=5),
    ]


def lion_reach(lr: float = LION_LR, decay: float = LION_DECAY, steps: int = LION_STEPS) -> float:
    """Run Lion from 0 with a gradient that always points down; return the final coordinate."""
    from course_lib.optim import Lion

    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = Lion([theta], lr=lr, weight_decay=decay)
    for _ in range(steps):
        theta.grad = -torch.ones(1, dtype=torch.float64)  # sign(c_t) = -1 at every step
        opt.step()
    return float(theta.detach())


_REACH = (1 - (1 - LION_LR * LION_DECAY) ** LION_STEPS) / LION_DECAY


@predict("8.2", "How far can Lion go in 500 steps?", name="reach", rtol=1e-3,
         ratios={"that is the box's radius 1/ω, reached only after infinitely many steps": 1 / LION_DECAY / _REACH,
                 "that is γ·t, the distance without weight decay": LION_LR * LION_STEPS / _REACH})
def lion_reach_truth() -> tuple[float, str]:
    """x_t = (1 − (1 − γω)^t)/ω from x_0 = 0, confirmed by running course_lib's Lion."""
    truth = _REACH
    simulated = lion_reach()
    if abs(simulated - truth) > 1e-9 * truth:
        raise RuntimeError(f"simulated reach {simulated} disagrees with the closed form {truth}")
    return truth, (f"Verified by simulation: {LION_STEPS} steps of course_lib.optim.Lion with a gradient "
                   f"that always points the same way end at θ = {simulated:.6f}.")


def adafactor_state_numel(n: int = LAYER_N, m: int = LAYER_M) -> int:
    """Count the numbers Adafactor keeps for a linear layer of shape (n, m) with bias (step counters excluded)."""
    from course_lib.optim import Adafactor

    layer = torch.nn.Linear(m, n)
    opt = Adafactor(layer.parameters())
    layer(torch.zeros(1, m)).sum().backward()
    opt.step()
    return sum(v.numel() for s in opt.state.values() for k, v in s.items() if k != "step")


_STATE = (LAYER_N + LAYER_M) + LAYER_N


@predict("8.3", "Adafactor's state for one layer", name="state_size", rtol=0.0,
         ratios={"that counts 2(nm + n): Adam's state, not Adafactor's": 2 * (LAYER_N * LAYER_M + LAYER_N) / _STATE,
                 "the bias is a vector: it keeps a full second moment of n numbers": (LAYER_N + LAYER_M) / _STATE})
def adafactor_state_truth() -> tuple[float, str]:
    """(n + m) for the matrix plus n for the bias, confirmed by counting the state tensors."""
    truth = _STATE
    counted = adafactor_state_numel()
    if counted != truth:
        raise RuntimeError(f"counted {counted} numbers of state, expected {truth}")
    return float(truth), f"Verified: after one step, course_lib.optim.Adafactor holds {counted} numbers of state."


explain("8.4", "Schedule-Free AdamW and checkpoints")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("8.1", "8.2", "Muon: orthogonalised momentum", "ch8-quintic")
see("8.2", "8.3", "Lion: the same step in every coordinate", "ch8-lion-box")
see("8.3", "8.5", "Adafactor: a second moment in n + m numbers")
see("8.4", "8.4", "Schedule-Free AdamW: averaging instead of a schedule", "ch8-sf")
