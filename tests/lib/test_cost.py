"""course_lib.measure.cost: bytes an optimizer step moves, and the ceilings it is measured against.

The traffic counter is checked against hand counts of tiny programs (each rule once), then
on torch's three Adam implementations, where the relations the chapter states must hold:
fused moves the minimum 28 B/param, the single-tensor loop and foreach move the same larger
amount, and foreach keeps a full-size temporary alive that the loop does not. Timings are
checked only for relations that hold on any machine (never absolute times).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch

import course_lib.optim as co
from course_lib.measure.cost import (
    attainable_flops,
    copy_bandwidth,
    fresh_bytes_per_call,
    fresh_bytes_reader,
    matmul_flops,
    min_bytes_per_param,
    state_bytes_per_param,
)
from course_lib.measure.timing import time_and_count_calls, time_calls
from course_lib.measure.traffic import count_traffic

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N = 4000  # parameters in 4 tensors of 1000


def params() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ps = [torch.randn(N // 4, generator=gen).requires_grad_() for _ in range(4)]
    for p in ps:
        p.grad = torch.randn(p.shape, generator=gen)
    return ps


def steady_traffic(optimizer: torch.optim.Optimizer):
    optimizer.step()  # creates the state
    return count_traffic(optimizer.step)


def per_param(nbytes: int) -> float:
    """Bytes per parameter, to 0.05 B: the 0-d step counters add 12 bytes per tensor."""
    return round(nbytes / N, 1)


@pytest.mark.parametrize("k,expected", [(0, 12), (1, 20), (2, 28), (3, 36)])
def test_min_bytes_are_three_plus_two_per_state_buffer_elements(k: int, expected: int) -> None:
    assert min_bytes_per_param(k) == expected
    assert min_bytes_per_param(k, itemsize=4, state_itemsize=2) == 12 + 4 * k  # bfloat16 state


def test_min_bytes_rejects_negative_buffers() -> None:
    with pytest.raises(ValueError, match="state_buffers"):
        min_bytes_per_param(-1)


def test_counter_rules_on_hand_counted_programs() -> None:
    x, y = torch.ones(100), torch.ones(100)
    assert count_traffic(lambda: x.add_(y)).bytes == 3 * 400  # read x, y; write x
    assert count_traffic(lambda: x.addcmul_(y, y)).bytes == 3 * 400  # y counted once
    assert count_traffic(lambda: x.copy_(y)).bytes == 2 * 400  # copy_ does not read its destination
    assert count_traffic(lambda: x.view(10, 10)).bytes == 0  # a view moves nothing
    out = torch.empty(100)
    assert count_traffic(lambda: torch.maximum(x, y, out=out)).bytes == 3 * 400
    traffic = count_traffic(lambda: (x.sqrt() + 1).mul_(2))
    assert (traffic.bytes, traffic.operators) == (2 * 400 + 2 * 400 + 2 * 400, 3)
    assert traffic.peak_temporary_bytes == 2 * 400  # sqrt's result and the sum coexist


def test_fused_adam_moves_the_minimum_and_the_loops_move_about_two_and_a_half_times_more() -> None:
    fused = steady_traffic(torch.optim.Adam(params(), fused=True))
    loop = steady_traffic(torch.optim.Adam(params(), foreach=False))
    foreach = steady_traffic(torch.optim.Adam(params(), foreach=True))
    ours = steady_traffic(co.Adam(params()))
    assert per_param(fused.bytes) == min_bytes_per_param(2)  # 28 B/param
    assert per_param(loop.bytes) == per_param(foreach.bytes) == per_param(ours.bytes) == 72  # 7 passes
    assert foreach.operators < loop.operators
    assert foreach.peak_temporary_bytes == 4 * N  # one float32 temporary for every parameter at once
    assert loop.peak_temporary_bytes <= 2 * 4 * N // 4  # at most two temporaries of one tensor
    assert ours.peak_temporary_bytes == 4 * N // 4  # one temporary of one tensor (in-place div_, add_)


@pytest.mark.parametrize("name,kwargs,k", [("SGD", {"lr": 0.1}, 0), ("SGD", {"lr": 0.1, "momentum": 0.9}, 1),
                                           ("Adam", {}, 2), ("Adam", {"amsgrad": True}, 3)])
def test_state_bytes_per_param_is_four_per_buffer_in_float32(name: str, kwargs: dict, k: int) -> None:
    optimizer = getattr(co, name)(params(), **kwargs)
    optimizer.step()
    assert state_bytes_per_param(optimizer) == 4 * k
    torch_fused = getattr(torch.optim, name)(params(), **kwargs, fused=True)
    assert per_param(steady_traffic(torch_fused).bytes) == min_bytes_per_param(k)


def test_time_calls_interleaves_and_a_bigger_copy_takes_longer() -> None:
    small, big = torch.ones(10_000), torch.ones(4_000_000)
    out_small, out_big = torch.empty_like(small), torch.empty_like(big)
    samples = time_calls({"small": lambda: out_small.copy_(small), "big": lambda: out_big.copy_(big)},
                         "cpu", repeats=5)
    assert len(samples["small"]) == len(samples["big"]) == 5
    assert statistics.median(samples["big"]) > 10 * statistics.median(samples["small"])  # 400x the bytes


def test_ceilings_are_positive_and_the_roofline_is_their_minimum() -> None:
    bandwidth, flops = copy_bandwidth(1_000_000, "cpu", repeats=3), matmul_flops(256, "cpu", repeats=3)
    assert bandwidth > 0 and flops > 0
    ridge = flops / bandwidth
    assert attainable_flops(ridge / 10, flops, bandwidth) == pytest.approx(ridge / 10 * bandwidth)
    assert attainable_flops(ridge * 10, flops, bandwidth) == flops


def test_time_calls_rejects_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeats"):
        time_calls({"f": lambda: None}, "cpu", repeats=0)


def test_rmw_bandwidth_counts_one_read_and_one_write_of_the_array(monkeypatch) -> None:
    from course_lib.measure import cost

    calls = []

    def fake_time_calls(fns, device, repeats, inner=1):
        (fn,) = fns.values()
        calls.append(fn)
        return {key: [0.5, 0.25, 1.0] for key in fns}  # the best sample is 0.25 s

    monkeypatch.setattr(cost, "time_calls", fake_time_calls)
    assert cost.rmw_bandwidth(1000, "cpu", repeats=3) == 2 * 1000 * 4 / 0.25  # best, not median
    x = calls[0].__self__  # the timed call is x.neg_ on the array itself: in place
    before = x.clone()
    calls[0]()
    assert torch.equal(x, -before)


def test_rmw_bandwidth_rejects_an_empty_array() -> None:
    from course_lib.measure.cost import rmw_bandwidth

    with pytest.raises(ValueError, match="numel"):
        rmw_bandwidth(0, "cpu")


def test_last_level_cache_is_a_positive_size_or_unknown() -> None:
    from course_lib.measure.cost import last_level_cache_bytes

    size = last_level_cache_bytes("cpu")
    assert size is None or (isinstance(size, int) and size >= 2**16)


_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# unknown (not Linux): the 4 KiB page count may undercount
_THP_ALWAYS = "[always]" in (_THP.read_text() if _THP.exists() else "[always]")


@pytest.mark.skipif(_THP_ALWAYS, reason="huge pages for all memory: one fault maps 2 MiB")
def test_fresh_bytes_count_a_large_temporary_every_call_and_nothing_for_a_reused_buffer() -> None:
    n = 16 * 2**20  # 64 MiB: above glibc's largest mmap threshold (32 MiB), mapped afresh each time
    buffer = torch.empty(n)
    fresh = fresh_bytes_per_call(lambda: torch.ones(n), "cpu", calls=3)
    reused = fresh_bytes_per_call(lambda: buffer.fill_(1.0), "cpu", calls=3)
    assert fresh is not None and reused is not None
    assert 0.95 * 4 * n <= fresh <= 1.2 * 4 * n  # every page of the temporary, once per call
    assert reused < 0.05 * 4 * n  # the same pages, already mapped


@pytest.mark.skipif(_THP_ALWAYS, reason="huge pages for all memory: one fault maps 2 MiB")
def test_time_and_count_calls_counts_the_fresh_pages_of_each_timed_call() -> None:
    import mmap

    n = 8 * 2**20  # a new anonymous mapping, one byte written per page: every page faults

    def touch() -> None:
        buf = mmap.mmap(-1, n)
        view = torch.frombuffer(buf, dtype=torch.uint8)
        view[:: mmap.PAGESIZE].fill_(1)
        del view
        buf.close()

    reader = fresh_bytes_reader("cpu")
    assert reader is not None
    seconds, counts = time_and_count_calls({"touch": touch, "none": lambda: None}, reader, "cpu",
                                           repeats=3, warmup=1)
    assert len(seconds["touch"]) == len(counts["touch"]) == 3  # one count per timed sample
    assert all(0.95 * n <= c <= 1.2 * n for c in counts["touch"])  # every page, every call
    assert all(c < 0.05 * n for c in counts["none"])  # a call that maps nothing


def test_fresh_bytes_rejects_bad_calls() -> None:
    with pytest.raises(ValueError, match="calls"):
        fresh_bytes_per_call(lambda: None, "cpu", calls=0)
