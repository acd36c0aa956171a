"""Checks for the exercises of chapter 9 (learning-rate schedules).

The reference of 9.1 is :func:`course_lib.schedules.wsd_lr` applied to every step; the truth of 9.2 is the
noise floor of chapter 9's eq. (ch9-floor), confirmed by simulating chains of SGD on the noisy quadratic.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib.exercises.spec import Case, Rng, explain, implement, predict

#: Exercise 9.2's numbers (the notebook states them): curvature, per-example noise variance, batch size,
#: the learning rate before and after the drop.
CURV_9_2, SIGMA2_9_2, BATCH_9_2, LR_BEFORE_9_2, LR_AFTER_9_2 = 2.0, 4.0, 8, 0.2, 0.05


def _wsd_reference(t: torch.Tensor, base_lr: Any, warmup_steps: Any, stable_steps: Any,
                   decay_steps: Any) -> torch.Tensor:
    from course_lib.schedules import wsd_lr

    values = [wsd_lr(int(k), float(base_lr), int(warmup_steps), int(stable_steps), int(decay_steps))
              for k in t.reshape(-1).tolist()]
    return torch.tensor(values, dtype=torch.float64).reshape(t.shape)


def _wsd_case(rng: Rng, family: str, warmup: int, stable: int, decay: int, n: int | None = None,
              beyond: int = 5) -> Case:
    total = warmup + stable + decay + beyond
    t = torch.arange(total) if n is None else torch.randint(0, total, (n,), generator=rng.generator)
    base = round(rng.uniform(1e-3, 1.0), 6)
    return Case((t, base, warmup, stable, decay), family=family,
                description=f"t of shape {tuple(t.shape)}, base_lr={base}, warmup_steps={warmup}, "
                            f"stable_steps={stable}, decay_steps={decay}")


@implement("9.1", "Warmup-stable-decay as a schedule", name="wsd", reference=_wsd_reference, rtol=1e-10,
           atol=1e-12, input_hint="float64", arg_names=("t", "base_lr", "warmup_steps", "stable_steps",
                                                         "decay_steps"),
           forbid=("course_lib.schedules",))
def wsd_cases(rng: Rng, group: str) -> list[Case]:
    """Every step of random schedules ("core"); no warmup, no stable phase, a one-step decay, unsorted
    steps and steps far past the end ("edge")."""
    if group == "core":
        return [_wsd_case(rng, "every step of a random schedule", rng.integer(1, 10), rng.integer(0, 20),
                          rng.integer(1, 10)) for _ in range(4)]
    return [
        _wsd_case(rng, "no warmup: the base lr from step 0", 0, rng.integer(1, 8), rng.integer(2, 8)),
        _wsd_case(rng, "no stable phase: the decay starts right after the warmup", rng.integer(1, 6), 0,
                  rng.integer(2, 8)),
        _wsd_case(rng, "a one-step decay", rng.integer(1, 6), rng.integer(1, 6), 1),
        _wsd_case(rng, "steps in random order, some far past the end (lr 0 there)", 3, 4, 5, n=30,
                  beyond=40),
    ]


def floor_after_drop(steps: int = 400, chains: int = 20_000, seed: int = 0) -> float:
    """Mean loss of SGD chains on the noisy quadratic, 200 steps at the high lr then `steps` at the low one."""
    gen = torch.Generator().manual_seed(seed)
    theta = torch.zeros(chains, dtype=torch.float64)
    losses = []
    for t in range(200 + steps):
        lr = LR_BEFORE_9_2 if t < 200 else LR_AFTER_9_2
        noise = torch.randn(chains, generator=gen, dtype=torch.float64) * math.sqrt(SIGMA2_9_2 / BATCH_9_2)
        theta = theta - lr * (CURV_9_2 * theta + noise)
        if t >= 200 + steps // 2:
            losses.append(0.5 * CURV_9_2 * theta.pow(2).mean())
    return torch.stack(losses).mean().item()


def _floor(lr: float) -> float:
    return lr * SIGMA2_9_2 / (2 * BATCH_9_2 * (2 - lr * CURV_9_2))


_FLOOR = _floor(LR_AFTER_9_2)


@predict("9.2", "The noise floor after a learning-rate drop", name="floor_after", rtol=0.01,
         ratios={"that is the floor before the drop: the loss follows the current lr, not the past one":
                 _floor(LR_BEFORE_9_2) / _FLOOR,
                 "that is the SDE's γσ²/(4B): the discrete recursion has 2 − γλ, not 2":
                 LR_AFTER_9_2 * SIGMA2_9_2 / (4 * BATCH_9_2) / _FLOOR,
                 "did you forget to divide the noise variance by the batch size": BATCH_9_2,
                 "a factor 2 is off (the loss is λθ²/2, the floor γσ²/(2B(2 − γλ)))": 2.0})
def floor_after_truth() -> tuple[float, str]:
    """γσ²/(2B(2 − γλ)) at the new lr, confirmed by 20,000 simulated chains."""
    simulated = floor_after_drop()
    if abs(simulated / _FLOOR - 1) > 0.02:
        raise RuntimeError(f"simulated floor {simulated} disagrees with the closed form {_FLOOR}")
    return _FLOOR, (f"Verified by simulation: 20,000 chains of SGD on the noisy quadratic, 200 steps at "
                    f"lr {LR_BEFORE_9_2} then 400 at lr {LR_AFTER_9_2}, settle at a mean loss of "
                    f"{simulated:.5f}.")


explain("9.3", "Why WSD's loss drops suddenly")
explain("9.4", "What a learning-rate range test cannot tell")
