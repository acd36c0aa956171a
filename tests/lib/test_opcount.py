"""count_kernels: the kernels an optimizer step launches and its passes over memory."""

from __future__ import annotations

import pytest
import torch

from course_lib.measure.traffic import count_kernels
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
    return count_kernels(lambda: optimizer.step(closure))


def test_plain_sgd_is_one_in_place_add_per_parameter_reading_two_writing_one(params):
    count = warm_count(torch.optim.SGD(params, lr=0.1, foreach=False))
    assert count.kernels == ["add_"] * N_PARAMS
    assert count.passes(nbytes(params)) == 3.0  # reads θ and g, writes θ


def test_out_of_place_result_counts_as_written():
    a, b = torch.ones(10), torch.ones(10)
    count = count_kernels(lambda: a + b)
    assert (count.bytes_read, count.bytes_written) == (80, 40)


def test_views_move_no_memory():
    a = torch.ones(10)
    count = count_kernels(lambda: a.view(2, 5).t())
    assert count.n_kernels == 0 and count.bytes_read == 0


def test_foreach_launches_fewer_kernels_than_the_loop_but_moves_the_same_bytes(params):
    loop = warm_count(torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, foreach=False))
    fresh = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(fresh, params, strict=True):
        p.grad = q.grad.clone()
    foreach = warm_count(torch.optim.SGD(fresh, lr=0.1, momentum=0.9, nesterov=True, foreach=True))
    assert foreach.n_kernels == 4 < loop.n_kernels == 4 * N_PARAMS
    assert foreach.passes(nbytes(params)) == loop.passes(nbytes(params)) == 11.0


def test_fused_step_is_one_kernel_with_fewer_passes(params):
    fused = warm_count(torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, fused=True))
    assert fused.kernels == ["_fused_sgd_"]
    assert fused.passes(nbytes(params)) == 6.0  # reads θ, g, b; declares θ, g, b written


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


def test_passes_rejects_nonpositive_size():
    with pytest.raises(ValueError, match="nbytes"):
        count_kernels(lambda: None).passes(0)


def test_non_callable_raises_type_error():
    with pytest.raises(TypeError, match="callable"):
        count_kernels(None)
