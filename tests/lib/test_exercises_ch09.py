"""Chapter 9's exercise checks pass the solutions and name the classic slips."""

import math

import pytest
import torch

from course_lib.exercises import check
from course_lib.exercises.ch09 import (
    BATCH_9_2,
    CURV_9_2,
    LR_AFTER_9_2,
    SIGMA2_9_2,
    floor_after_drop,
)


def wsd(t, base_lr, warmup_steps, stable_steps, decay_steps):
    """The solution of 9.1 (the notebook's)."""
    t = t.to(torch.float64)
    warm = t / warmup_steps if warmup_steps > 0 else torch.ones_like(t)
    k = t - warmup_steps - stable_steps
    decay = (1 - k / decay_steps).clamp(0, 1)
    factor = torch.where(t < warmup_steps, warm, torch.where(k <= 0, torch.ones_like(t), decay))
    return base_lr * factor


FLOOR = LR_AFTER_9_2 * SIGMA2_9_2 / (2 * BATCH_9_2 * (2 - LR_AFTER_9_2 * CURV_9_2))


def test_the_solutions_pass_every_group():
    for hidden in (False, True, "edge"):
        assert check("9.1", wsd, hidden=hidden, quiet=True).passed
    for hidden in (False, True):
        assert check("9.2", FLOOR, hidden=hidden, quiet=True).passed


def test_a_decay_that_never_stops_fails_past_the_end():
    def no_clamp(t, base_lr, w, s, d):
        t = t.to(torch.float64)
        k = t - w - s
        out = torch.where(k <= 0, torch.ones_like(t), 1 - k / d)
        return base_lr * torch.where(t < w, t / max(w, 1), out)

    assert not check("9.1", no_clamp, quiet=True).passed


def test_a_constant_lr_fails_the_edge_group():
    def constant(t, b, w, s, d):
        return b * torch.ones(t.shape, dtype=torch.float64)

    assert not check("9.1", constant, hidden="edge", quiet=True).passed


@pytest.mark.parametrize(("factor", "hint"), [
    ((2 - LR_AFTER_9_2 * CURV_9_2) / 2, "SDE"), (BATCH_9_2, "batch size"),
])
def test_the_floor_prediction_names_the_slip(factor, hint):
    result = check("9.2", FLOOR * factor, quiet=True)
    assert not result.passed and hint in result.message


def test_the_simulated_floor_is_the_closed_form():
    assert math.isclose(floor_after_drop(), FLOOR, rel_tol=0.02)
