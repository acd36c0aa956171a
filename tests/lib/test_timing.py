"""time_step: warm-up calls are untimed, the result is the median of the timed calls."""

from __future__ import annotations

import itertools

import pytest

from course_lib.measure import timing


def fake_clock(monkeypatch, durations):
    """Make time.perf_counter advance by the given durations, one per timed call."""
    ticks = itertools.accumulate(d for duration in durations for d in (0.0, duration))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))


def test_warmup_calls_are_run_but_not_timed(monkeypatch):
    calls = []
    fake_clock(monkeypatch, [1.0, 2.0, 3.0])
    samples = timing.time_samples(lambda: calls.append(1), repeats=3, warmup=4)
    assert len(calls) == 7
    assert samples == [1.0, 2.0, 3.0]


def test_time_step_is_the_median_so_one_outlier_cannot_move_it(monkeypatch):
    fake_clock(monkeypatch, [1.0, 1.0, 100.0, 1.0, 1.0])
    assert timing.time_step(lambda: None, repeats=5, warmup=0) == 1.0  # the mean would be 20.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"repeats": 0}, "repeats"), ({"warmup": -1}, "warmup"), ({"repeats": 2.5}, "repeats")],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timing.time_step(lambda: None, **kwargs)


def test_non_callable_raises_type_error():
    with pytest.raises(TypeError, match="callable"):
        timing.time_step(3)


def test_cpu_timing_does_not_try_to_synchronise_an_accelerator(monkeypatch):
    import torch

    def fail(*args):
        raise AssertionError("synchronize called for the CPU")

    if hasattr(torch, "accelerator"):
        monkeypatch.setattr(torch.accelerator, "synchronize", fail)
    monkeypatch.setattr(torch.cuda, "synchronize", fail)
    assert timing.time_step(lambda: None, repeats=2, warmup=0, device=torch.device("cpu")) >= 0.0


def test_time_calls_interleaves_the_functions_in_a_rotating_order():
    order = []
    samples = timing.time_calls({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, "cpu",
                                repeats=3, warmup=1)
    assert order == ["a", "b"] + ["a", "b", "b", "a", "a", "b"]  # warm-up, then rotated rounds
    assert [len(s) for s in samples.values()] == [3, 3]


def test_time_and_count_calls_counts_each_timed_sample_per_call_and_not_the_warm_up():
    calls = {"a": 0, "b": 0}

    def bump(key, by):
        def fn():
            calls[key] += by
        return fn

    seconds, counts = timing.time_and_count_calls(
        {"a": bump("a", 1), "b": bump("b", 3)}, lambda: calls["a"] + calls["b"], "cpu",
        repeats=4, warmup=2, inner=5)
    assert counts == {"a": [1.0] * 4, "b": [3.0] * 4}  # per call, only what that sample did
    assert [len(s) for s in seconds.values()] == [4, 4]
    with pytest.raises(TypeError, match="counter"):
        timing.time_and_count_calls({"a": bump("a", 1)}, None, "cpu")  # type: ignore[arg-type]
