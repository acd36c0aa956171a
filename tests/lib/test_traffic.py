"""count_traffic: the operators an optimizer step launches and its passes over memory (chapters 5 and 7)."""

from __future__ import annotations

import pytest
import torch

from course_lib.measure.traffic import count_traffic
from course_lib.optim import SGD, SutskeverSGD

N_PARAMS, SIZE = 3, 100


@pytest.fixture
def params():
    ps = [torch.nn.Parameter(torch.randn(SIZE)) for _ in range(N_PARAMS)]
    for p in ps:
        p.grad = torch.randn(SIZE)
    return ps


def nbytes(ps):
    return sum(p.numel() * p.element_size() for p in ps)


def warm_count(optimizer, closure=None):
    """Count the second step (the first one creates the momentum buffers)."""
    optimizer.step(closure)
    return count_traffic(lambda: optimizer.step(closure))


def test_plain_sgd_is_one_in_place_add_per_parameter_reading_two_writing_one(params):
    count = warm_count(torch.optim.SGD(params, lr=0.1, foreach=False))
    assert count.kernels == ["add_"] * N_PARAMS
    assert count.passes(nbytes(params)) == 3.0  # reads θ and g, writes θ


def test_out_of_place_result_counts_as_written():
    a, b = torch.ones(10), torch.ones(10)
    count = count_traffic(lambda: a + b)
    assert (count.bytes_read, count.bytes_written) == (80, 40)


def test_views_move_no_memory():
    a = torch.ones(10)
    count = count_traffic(lambda: a.view(2, 5).t())
    assert count.operators == 0 and count.bytes_read == 0


def test_foreach_launches_fewer_kernels_than_the_loop_but_moves_the_same_bytes(params):
    loop = warm_count(torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, foreach=False))
    fresh = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(fresh, params, strict=True):
        p.grad = q.grad.clone()
    foreach = warm_count(torch.optim.SGD(fresh, lr=0.1, momentum=0.9, nesterov=True, foreach=True))
    assert foreach.operators == 4 < loop.operators == 4 * N_PARAMS
    assert foreach.passes(nbytes(params)) == loop.passes(nbytes(params)) == 11.0


def test_fused_step_is_one_kernel_with_fewer_passes(params):
    fused = warm_count(torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, fused=True))
    assert fused.kernels == ["_fused_sgd_"]
    # reads θ, g, b and writes θ, b; it declares g written too, but writes it only to unscale
    assert fused.passes(nbytes(params)) == 5.0


def test_course_sgd_moves_what_torch_for_loop_moves(params):
    course = warm_count(SGD(params, lr=0.1, momentum=0.9, nesterov=True))
    fresh = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(fresh, params, strict=True):
        p.grad = q.grad.clone()
    torch_loop = warm_count(torch.optim.SGD(fresh, lr=0.1, momentum=0.9, nesterov=True, foreach=False))
    assert course.kernels == torch_loop.kernels
    assert course.passes(nbytes(params)) == torch_loop.passes(nbytes(params))


def test_lookahead_form_pays_two_extra_sweeps_to_move_the_parameters_there_and_back(params):
    count = warm_count(SutskeverSGD(params, lr=0.1, momentum=0.9, lookahead=1.0), closure=lambda: None)
    assert count.passes(nbytes(params)) == 14.0  # 8 (heavy ball) + 3 (shift) + 3 (shift back)


def test_profiler_markers_are_not_operators():
    a, b = torch.ones(10), torch.ones(10)

    def marked():
        with torch.profiler.record_function("a marker"):
            return a + b

    count = count_traffic(marked)
    assert count.kernels == ["add"] and count.bytes == 120


def test_torch_for_loop_adam_makes_18_passes_in_one_count(params):
    """The count chapter 7 prints (72 B/param) and the passes chapter 5's rule gives agree: one counter."""
    count = warm_count(torch.optim.Adam(params, lr=1e-3, foreach=False))
    assert count.passes(nbytes(params)) == pytest.approx(18.0, abs=0.1)  # + the 0-d step counters


def test_a_tensor_read_twice_by_one_operator_is_read_once():
    x, y = torch.ones(100), torch.ones(100)
    assert count_traffic(lambda: x.addcmul_(y, y)).bytes == 3 * 400


def test_passes_rejects_nonpositive_size():
    with pytest.raises(ValueError, match="nbytes"):
        count_traffic(lambda: None).passes(0)


def test_non_callable_raises_type_error():
    with pytest.raises(TypeError, match="callable"):
        count_traffic(None)


def test_created_bytes_count_each_new_tensor_once_and_in_place_results_not_at_all():
    x = torch.ones(1000)
    traffic = count_traffic(lambda: (x.sqrt() / 2.0).add_(1.0).mul_(x))  # 2 new, 2 in place
    assert traffic.created_bytes == 2 * 4000
    assert count_traffic(lambda: x.mul_(2.0)).created_bytes == 0
