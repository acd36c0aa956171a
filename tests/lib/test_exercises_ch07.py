"""Chapter 7's exercise checks pass the solutions and name the classic slips."""

import pytest
import torch

from course_lib.exercises import check, spec
from course_lib.exercises.ch07 import _roofline_reference, counted_bytes_per_param
from course_lib.exercises.registry import questions
from course_lib.measure.cost import attainable_flops


def roofline_time(flops, bytes_moved, peak_flops, bandwidth):
    """The solution of 7.3 (the notebook's)."""
    return torch.maximum(flops / peak_flops, bytes_moved / bandwidth)


def test_the_solutions_pass_every_group():
    for hidden in (False, True, "edge"):
        assert check("7.3", roofline_time, hidden=hidden, quiet=True).passed
    for hidden in (False, True):
        assert check("7.1", 20, hidden=hidden, quiet=True).passed
        assert check("7.2", 28 * 1e8 / 50e9, hidden=hidden, quiet=True).passed


def test_the_roofline_reference_is_flops_over_attainable_flops_when_there_is_arithmetic():
    flops = torch.tensor([1e6, 3e9, 5e12], dtype=torch.float64)
    moved = torch.tensor([4e6, 1e7, 2e9], dtype=torch.float64)
    peak, beta = 2e11, 5e10
    expected = [f / attainable_flops(f / b, peak, beta) for f, b in zip(flops.tolist(),
                                                                        moved.tolist())]
    torch.testing.assert_close(_roofline_reference(flops, moved, peak, beta),
                               torch.tensor(expected, dtype=torch.float64))


def test_summing_the_two_ceilings_is_told_that_at_the_ridge_the_time_is_their_maximum():
    result = check("7.3", lambda f, b, p, bw: f / p + b / bw, quiet=True)
    assert not result.passed and "maximum, not their sum" in result.message


def test_dividing_flops_by_attainable_flops_fails_on_pure_copies_with_nan():
    def via_intensity(f, b, p, bw):
        return f / torch.minimum(torch.as_tensor(p, dtype=f.dtype), f / b * bw)

    result = check("7.3", via_intensity, hidden="edge", quiet=True)
    assert not result.passed and "NaN" in result.message and "F = 0" in result.message


@pytest.mark.parametrize(("answer", "hint"), [
    (12, "momentum buffer"), (16, "read the gradient"), (24, "count it twice"),
    (28, "weight decay needs no buffer"), (5, "numbers, not bytes"), (56, "for-loop"),
])
def test_the_bytes_of_a_nesterov_step_name_the_slip(answer, hint):
    result = check("7.1", answer, quiet=True)
    assert not result.passed and hint in result.message


@pytest.mark.parametrize(("answer", "hint"), [
    (12e8 / 50e9, "SGD's 12 bytes"), (56.0, "milliseconds"), (72e8 / 50e9, "72 bytes"),
    (28e8 / (50 * 2**30), "2³⁰"),
])
def test_the_time_of_an_adam_step_names_the_slip(answer, hint):
    result = check("7.2", answer, quiet=True)
    assert not result.passed and hint in result.message


def test_the_counted_bytes_are_the_closed_form_for_fused_steps():
    assert counted_bytes_per_param("SGD", lr=0.1, momentum=0.9, nesterov=True,
                                   weight_decay=1e-4, fused=True) == pytest.approx(20, abs=0.01)
    assert counted_bytes_per_param("Adam", lr=1e-3, fused=True) == pytest.approx(28, abs=0.01)


def test_every_case_is_plain_data():
    import numpy as np

    for group in ("core", "edge"):
        for case in questions()["7.3"].make_cases(spec.Rng(3), group):
            assert all(isinstance(a, (torch.Tensor, float, np.floating)) for a in case.args)
