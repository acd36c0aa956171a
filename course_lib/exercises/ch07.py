"""Checks for the exercises of chapter 7 (the cost of a step: bytes, not operations).

The predict questions are verified with :mod:`course_lib.measure.cost`: the closed form
:func:`course_lib.measure.cost.min_bytes_per_param`, cross-checked by counting, with
:func:`course_lib.measure.cost.count_traffic`, what torch's fused step moves. The roofline
reference of 7.3 is one line, ``max(F/Φ, B/β)``: what
:func:`course_lib.measure.cost.attainable_flops` says for ``F > 0``, and right for ``F = 0``.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.spec import Case, Rng, explain, implement, predict, see

#: The numbers of exercise 7.2 (the notebook's text states them): P, bandwidth in B/s.
P_7_2, BANDWIDTH_7_2 = 10**8, 50e9

#: Parameters per tensor, and tensors, of the traffic counts (small: instant to count).
_NUMEL, _TENSORS = 10_000, 4

#: The optimizer of exercise 7.1 (torch.optim.SGD's arguments).
NESTEROV_7_1 = {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}


def _params() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for _ in range(_TENSORS):
        p = torch.randn(_NUMEL, generator=gen).requires_grad_()
        p.grad = torch.randn(_NUMEL, generator=gen)
        params.append(p)
    return params


def counted_bytes_per_param(cls: str, **kwargs: Any) -> float:
    """Bytes per parameter one step (after the first) of ``torch.optim.<cls>`` moves."""
    from course_lib.measure.traffic import count_traffic

    optimizer = getattr(torch.optim, cls)(_params(), **kwargs)
    optimizer.step()  # the first step creates the state
    return count_traffic(optimizer.step).bytes / (_NUMEL * _TENSORS)


@predict("7.1", "The bytes of a Nesterov step with weight decay", name="nesterov_bytes",
         rtol=0.01,
         ratios={"did you leave out the momentum buffer v (read and written)": 0.6,
                 "did you forget to read the gradient g, or to write back v": 0.8,
                 "θ is read once and written once, however many terms use it: "
                 "did you count it twice": 1.2,
                 "weight decay needs no buffer (it uses θ, which the step reads "
                 "anyway): did you give it one": 1.4,
                 "did you count numbers, not bytes (a float32 number is 4 bytes)": 0.25,
                 "is that what the step-by-step (for-loop) SGD moves, rather than the "
                 "least": 2.8})
def nesterov_bytes_truth() -> tuple[float, str]:
    """(3 + 2·1)·4 = 20 bytes, confirmed by counting torch's fused SGD step."""
    from course_lib.measure.cost import min_bytes_per_param

    truth = float(min_bytes_per_param(1, itemsize=4))
    fused = counted_bytes_per_param("SGD", **NESTEROV_7_1, fused=True)
    loop = counted_bytes_per_param("SGD", **NESTEROV_7_1, foreach=False)
    if abs(fused - truth) > 0.01:
        raise RuntimeError(f"fused SGD moves {fused} B/param, the closed form {truth}")
    how = (f"Verified by counting: one step of torch.optim.SGD(momentum=0.9, "
           f"nesterov=True, weight_decay=1e-4, fused=True) on {_TENSORS} tensors of "
           f"{_NUMEL:,} parameters moves {fused:.2f} bytes per parameter (the for-loop "
           f"step moves {loop:.0f}).")
    return truth, how


@predict("7.2", "The time of a large Adam step", name="adam_step_time", rtol=0.01,
         ratios={"did you use SGD's 12 bytes per parameter instead of Adam's": 12 / 28,
                 "the step reads θ, g, m, V and writes θ, m, V: did you leave some "
                 "out": 16 / 28,
                 "did you count numbers, not bytes (a float32 number is 4 bytes)": 0.25,
                 "did you use the for-loop's 72 bytes per parameter instead of the "
                 "least a step moves": 72 / 28,
                 "did you answer in milliseconds instead of seconds": 1000.0,
                 "did you take 1 GB/s as 10¹² B/s instead of 10⁹": 0.001,
                 "did you take 1 GB as 2³⁰ bytes instead of 10⁹": 1e9 / 2**30})
def adam_step_time_truth() -> tuple[float, str]:
    """28·P/β for P = 10⁸, β = 50 GB/s; the 28 confirmed by counting fused Adam."""
    from course_lib.measure.cost import min_bytes_per_param

    per_param = min_bytes_per_param(2, itemsize=4)
    counted = counted_bytes_per_param("Adam", lr=1e-3, fused=True)
    if abs(counted - per_param) > 0.01:  # the 0-d step counters add 0.001 B/param
        raise RuntimeError(f"fused Adam moves {counted} B/param, the closed form 28")
    truth = per_param * P_7_2 / BANDWIDTH_7_2
    how = (f"Computed as {per_param} B/param × 10⁸ / (50 GB/s); the {per_param} bytes "
           f"are verified by counting torch's fused Adam step ({counted:.3f} B/param, "
           f"the extra from its step counters).{_here(per_param)}")
    return truth, how


def _here(per_param: int) -> str:
    """The step at this machine's measured copy bandwidth (for information)."""
    try:
        from course_lib import get_device
        from course_lib.measure.cost import copy_bandwidth

        device = get_device()
        numel = 2**22 if device.type == "cpu" else 2**26
        beta = copy_bandwidth(numel, device, repeats=5)
    except Exception:  # noqa: BLE001 - the grade never depends on this measurement
        return ""
    return (f" On this machine ({device.type}) the measured copy bandwidth is "
            f"{beta / 1e9:.1f} GB/s, so the step would take about "
            f"{per_param * P_7_2 / beta:.3g} s here (a timing, not part of the grade).")


def _roofline_reference(flops: torch.Tensor, bytes_moved: torch.Tensor, peak_flops: Any,
                        bandwidth: Any) -> torch.Tensor:
    """max(F/Φ, B/β): the least time of a kernel under both ceilings of the roofline."""
    return torch.maximum(flops / peak_flops, bytes_moved / bandwidth)


def _rand(rng: Rng, shape: tuple[int, ...]) -> torch.Tensor:
    return rng.rand(*shape, 1)[..., 0]  # Rng.rand needs a size, even for shape ()


def _roofline_case(rng: Rng, family: str, shape: tuple[int, ...] = (5,),
                   regime: str = "mixed", dtype: torch.dtype = torch.float64,
                   per_device: bool = False, numpy_scalars: bool = False) -> Case:
    peak, beta = rng.uniform(1e10, 1e12), rng.uniform(1e10, 1e12)
    ridge = peak / beta
    bytes_moved = (10 ** (4 + 4 * _rand(rng, shape))).round()
    if regime == "memory":
        intensity = ridge * (0.01 + 0.5 * _rand(rng, shape))
    elif regime == "compute":
        intensity = ridge * (2 + 100 * _rand(rng, shape))
    elif regime == "ridge":
        intensity = torch.full(shape, ridge, dtype=torch.float64)
    elif regime == "copy":
        intensity = torch.zeros(shape, dtype=torch.float64)
    else:  # two decades either side of the ridge
        intensity = ridge * 10 ** (4 * _rand(rng, shape) - 2)
    flops = (intensity * bytes_moved).to(dtype)
    bytes_moved = bytes_moved.to(dtype)
    ceilings: tuple[Any, Any] = (peak, beta)
    kernels = f"{flops.numel()} kernel" + ("s" if flops.numel() > 1 else "")
    text = f"{kernels}, Φ = {peak:.3g} flop/s, β = {beta:.3g} B/s"
    if per_device:
        ceilings = (torch.tensor([[peak], [2 * peak], [peak / 3]], dtype=dtype),
                    torch.tensor([[beta], [beta / 2], [3 * beta]], dtype=dtype))
        text = f"{kernels}, peak_flops and bandwidth tensors of shape (3, 1)"
    if numpy_scalars:
        import numpy as np

        ceilings = (np.float64(peak), np.float64(beta))
        text = f"{kernels}, numpy.float64 ceilings Φ = {peak:.3g}, β = {beta:.3g}"
    ratios = {}
    if regime == "ridge":
        ratios = {"at the ridge both ceilings take the same time: the time is their "
                  "maximum, not their sum": 2.0}
    return Case((flops, bytes_moved, *ceilings), family=family,
                description=f"{text}, dtype {dtype}", ratios=ratios)


@implement("7.3", "The time a roofline allows", name="roofline_time",
           reference=_roofline_reference, rtol=1e-6, atol=0.0,
           input_hint="the dtype of flops",
           arg_names=("flops", "bytes_moved", "peak_flops", "bandwidth"),
           forbid=("course_lib.measure.cost.attainable_flops",))
def roofline_time_cases(rng: Rng, group: str) -> list[Case]:
    """At and around the ridge ("core"); regimes and shapes one by one ("edge")."""
    if group == "core":
        return [_roofline_case(rng, "kernels exactly at the ridge point",
                               regime="ridge"),
                *[_roofline_case(rng, "kernels on both sides of the ridge point",
                                 (rng.integer(2, 8),)) for _ in range(3)]]
    return [
        _roofline_case(rng, "memory-bound kernels (below the ridge): time B/β",
                       regime="memory"),
        _roofline_case(rng, "compute-bound kernels (above the ridge): time F/Φ",
                       regime="compute"),
        _roofline_case(rng, "pure copies, F = 0: the time is B/β, not 0/0",
                       regime="copy"),
        _roofline_case(rng, "a single kernel, 0-d tensors", ()),
        _roofline_case(rng, "float32 inputs: return float32", (4,),
                       dtype=torch.float32),
        _roofline_case(rng, "two batch dimensions", (2, 3)),
        _roofline_case(rng, "one pair of ceilings per device: broadcast to (3, 4)",
                       (4,), per_device=True),
        _roofline_case(rng, "numpy scalars for the ceilings", (3,), numpy_scalars=True),
    ]


explain("7.4", "Why counting operations does not predict the time of a step")

# The chapter sections (and equations) the exercises rest on; each exercise links its own.
see("7.1", "7.1", "Bytes per parameter per step", "ch7-min-bytes")
see("7.2", "7.2", "The two ceilings: bandwidth and arithmetic", "ch7-roofline")
see("7.3", "7.2", "The two ceilings: bandwidth and arithmetic", "ch7-roofline")
see("7.4", "7.3", "Python overhead, bandwidth, and our code at the speed limit")
