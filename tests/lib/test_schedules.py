"""course_lib.schedules gives torch.optim.lr_scheduler's learning rates, step by step.

Each scheduler drives an optimizer with three param groups of different learning rates; after every
``step()`` the groups' lrs are compared with torch's scheduler on its own optimizer and with the
closed form. Then the API: state dicts (resume), ChainedScheduler, SequentialLR, ``last_epoch``.
"""

from __future__ import annotations

import io
import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as tl

from course_lib import schedules as cs

LRS = [0.1, 0.03, 1.0]  # one lr per param group
REL = 1e-12


def _optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(2, dtype=torch.float64, requires_grad=True)], "lr": lr} for lr in LRS]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def _run(make, steps: int, kind: str = "sgd") -> list[list[float]]:
    """The groups' lrs at steps 0..steps (optimizer.step() before each scheduler.step())."""
    opt = _optimizer(kind)
    sched = make(opt)
    lrs = [[g["lr"] for g in opt.param_groups]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
    return lrs


def _close(a, b, rel: float = REL) -> bool:
    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return bool(((a - b).abs() <= rel * b.abs().clamp_min(1e-300) + 1e-300).all())


# (name, our factory, torch's factory, closed form f(t, base_lr), steps)
MATCHED = [
    ("StepLR", lambda o: cs.StepLR(o, 7, 0.5), lambda o: tl.StepLR(o, 7, 0.5),
     lambda t, b: cs.step_lr(t, b, 7, 0.5), 40),
    ("ExponentialLR", lambda o: cs.ExponentialLR(o, 0.9), lambda o: tl.ExponentialLR(o, 0.9),
     lambda t, b: cs.exponential_lr(t, b, 0.9), 40),
    ("CosineAnnealingLR", lambda o: cs.CosineAnnealingLR(o, 10, 1e-3),
     lambda o: tl.CosineAnnealingLR(o, 10, 1e-3), lambda t, b: cs.cosine_lr(t, b, 10, 1e-3), 45),
    ("CosineAnnealingLR eta_min 0", lambda o: cs.CosineAnnealingLR(o, 12),
     lambda o: tl.CosineAnnealingLR(o, 12), lambda t, b: cs.cosine_lr(t, b, 12), 30),
    ("LinearLR warmup", lambda o: cs.LinearLR(o, 0.1, 1.0, 8), lambda o: tl.LinearLR(o, 0.1, 1.0, 8),
     lambda t, b: cs.linear_lr(t, b, 0.1, 1.0, 8), 20),
    ("LinearLR decay to 0", lambda o: cs.LinearLR(o, 1.0, 0.0, 8), lambda o: tl.LinearLR(o, 1.0, 0.0, 8),
     lambda t, b: cs.linear_lr(t, b, 1.0, 0.0, 8), 20),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "closed", "steps"), MATCHED, ids=[m[0] for m in MATCHED])
def test_scheduler_gives_torchs_lr_and_the_closed_form_at_every_step(name, ours, theirs, closed, steps):
    got, ref = _run(ours, steps), _run(theirs, steps)
    assert _close(got, ref), name
    assert _close(got, [[closed(t, b) for b in LRS] for t in range(steps + 1)], rel=1e-10), name


ONE_CYCLE = [
    {"pct_start": 0.3},
    {"pct_start": 0.25, "anneal_strategy": "linear"},
    {"pct_start": 0.2, "three_phase": True},
    {"pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8,
     "max_momentum": 0.9},
    {"pct_start": 0.3, "cycle_momentum": False},
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("kwargs", ONE_CYCLE, ids=[str(k) for k in ONE_CYCLE])
def test_one_cycle_gives_torchs_lr_and_momentum_at_every_step(kwargs, kind):
    total, max_lrs = 50, [1.0, 0.5, 2.0]

    def trace(cls):
        opt = _optimizer(kind)
        sched = cls(opt, max_lr=max_lrs, total_steps=total, **kwargs)
        lrs, moms = [], []
        for t in range(total):
            lrs.append([g["lr"] for g in opt.param_groups])
            moms.append([g["betas"][0] if kind == "adam" else g["momentum"] for g in opt.param_groups])
            opt.step()
            if t < total - 1:
                sched.step()
        return lrs, moms

    (lr_ours, m_ours), (lr_torch, m_torch) = trace(cs.OneCycleLR), trace(tl.OneCycleLR)
    assert _close(lr_ours, lr_torch) and _close(m_ours, m_torch)
    closed_keys = ("pct_start", "anneal_strategy", "div_factor", "final_div_factor", "three_phase")
    closed_kw = {k: v for k, v in kwargs.items() if k in closed_keys}
    closed = [[cs.one_cycle_lr(t, m, total, **closed_kw) for m in max_lrs] for t in range(total)]
    assert _close(lr_ours, closed)
    assert _close(lr_ours[0], [m / kwargs.get("div_factor", 25.0) for m in max_lrs])


def test_inverse_sqrt_equals_lambda_lr_and_meets_at_the_end_of_warmup():
    w = 5
    got = _run(lambda o: cs.InverseSqrtLR(o, w), 30)
    ref = _run(lambda o: tl.LambdaLR(o, lambda t: min((t + 1) / w, math.sqrt(w / (t + 1)))), 30)
    assert _close(got, ref, rel=1e-12)
    assert _close(got[w - 1], LRS)  # the peak: t + 1 = w
    assert _close(got[4 * w - 1], [lr / 2 for lr in LRS])  # sqrt(w / 4w) = 1/2
    plain = _run(lambda o: cs.InverseSqrtLR(o), 10)
    assert _close(plain, [[b / math.sqrt(t + 1) for b in LRS] for t in range(11)])


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_wsd_equals_torchs_sequential_of_warmup_constant_and_decay(decay):
    w, s, d, a, e = 5, 10, 8, 0.1, 0.05

    def torch_wsd(o):
        # torch's eta_min is absolute (one value for all groups), so the cosine tail is a LambdaLR
        tail = (tl.LinearLR(o, 1.0, e, d) if decay == "linear" else
                tl.LambdaLR(o, lambda k: e + (1 - e) * (1 + math.cos(math.pi * min(k, d) / d)) / 2))
        return tl.SequentialLR(o, [tl.LinearLR(o, a, 1.0, w), tl.ConstantLR(o, 1.0, total_iters=0), tail],
                               milestones=[w, w + s])

    got = _run(lambda o: cs.WarmupStableDecayLR(o, w, s, d, a, e, decay=decay), 30)
    ref = _run(torch_wsd, 30)
    assert _close(got, ref, rel=1e-12)
    assert _close(got[w + s], LRS) and _close(got[w + s + d], [e * b for b in LRS])
    closed = [[cs.wsd_lr(t, b, w, s, d, a, e, decay) for b in LRS] for t in range(31)]
    assert _close(got, closed)


def test_wsd_sqrt_decay_and_zero_start():
    got = _run(lambda o: cs.WarmupStableDecayLR(o, 4, 3, 9, decay="sqrt"), 20)
    assert got[0] == [0.0, 0.0, 0.0]  # warmup from 0: the first step takes no step at all
    assert _close(got[4 + 3 + 4], [b * (1 - math.sqrt(4 / 9)) for b in LRS])
    assert all(row == [0.0, 0.0, 0.0] for row in got[16:])


def _both(make_ours, make_torch, steps: int, **kw):
    return _run(make_ours, steps, **kw), _run(make_torch, steps, **kw)


def test_chained_scheduler_composes_like_torchs():
    # cosine with eta_min and an exponential decay on top: only torch's affine recursion gives this
    def chain(lib):
        return lambda o: tl.ChainedScheduler([lib.ExponentialLR(o, 0.95), lib.CosineAnnealingLR(o, 10, 0.01),
                                              lib.StepLR(o, 4, 0.7), lib.LinearLR(o, 0.2, 1.0, 6)])

    got, ref = _both(chain(cs), chain(tl), 40)
    assert _close(got, ref, rel=1e-12)
    closed_cosine = [[cs.cosine_lr(t, b, 10, 0.01) * 0.95**t for b in LRS] for t in range(41)]
    assert not _close(got, closed_cosine, rel=1e-3)  # the chain is not the product of closed forms


def test_inverse_sqrt_chains_multiplicatively():
    got = _run(lambda o: tl.ChainedScheduler([cs.InverseSqrtLR(o, 3), cs.ExponentialLR(o, 0.9)]), 20)
    assert _close(got, [[cs.inverse_sqrt_lr(t, b, 3) * 0.9**t for b in LRS] for t in range(21)])


def test_sequential_lr_with_our_schedulers_equals_torchs():
    def seq(lib):
        return lambda o: tl.SequentialLR(o, [lib.LinearLR(o, 0.01, 1.0, 5), lib.CosineAnnealingLR(o, 20, 1e-4),
                                             lib.ExponentialLR(o, 0.8)], milestones=[5, 25])

    got, ref = _both(seq(cs), seq(tl), 35)
    assert _close(got, ref, rel=1e-12)
    assert _close(got[5], LRS)  # the cosine starts at the base lr at its milestone


def _resume_trace(make, steps: int, split: int, kind: str = "sgd"):
    """lrs of an uninterrupted run, and of a run saved at ``split`` and resumed from state dicts."""
    straight = _run(make, steps, kind)
    opt = _optimizer(kind)
    sched = make(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(split):
            opt.step()
            sched.step()
        buffer = io.BytesIO()
        torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
        opt2 = _optimizer(kind)
        sched2 = make(opt2)  # construct the scheduler first, then load both (torch's recipe)
        opt2.load_state_dict(saved["opt"])
        sched2.load_state_dict(saved["sched"])
        resumed = [[g["lr"] for g in opt2.param_groups]]
        for _ in range(steps - split):
            opt2.step()
            sched2.step()
            resumed.append([g["lr"] for g in opt2.param_groups])
    return straight, resumed


RESUMABLE = [
    lambda o: cs.StepLR(o, 4, 0.5),
    lambda o: cs.ExponentialLR(o, 0.9),
    lambda o: cs.CosineAnnealingLR(o, 12, 1e-3),
    lambda o: cs.LinearLR(o, 0.1, 1.0, 8),
    lambda o: cs.InverseSqrtLR(o, 4),
    lambda o: cs.OneCycleLR(o, max_lr=[1.0, 0.5, 2.0], total_steps=40),
    lambda o: cs.WarmupStableDecayLR(o, 4, 10, 10, decay="cosine"),
]


@pytest.mark.parametrize("make", RESUMABLE, ids=["step", "exp", "cos", "linear", "isqrt", "onecycle", "wsd"])
def test_state_dict_round_trip_resumes_the_same_lrs(make):
    straight, resumed = _resume_trace(make, 30, 11)
    assert resumed == straight[11:]  # bit-identical


def test_state_dict_holds_no_optimizer_and_loads_into_torchs_class():
    opt = _optimizer()
    sched = cs.CosineAnnealingLR(opt, 10, 1e-3)
    assert "optimizer" not in sched.state_dict() and sched.state_dict()["T_max"] == 10
    opt.step()
    sched.step()
    twin = tl.CosineAnnealingLR(_optimizer(), 10, 1e-3)
    twin.load_state_dict(sched.state_dict())
    assert twin.last_epoch == 1 and twin.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("make", [
    lambda lib, o: lib.CosineAnnealingLR(o, 20, 1e-3, last_epoch=6),
    lambda lib, o: lib.StepLR(o, 4, 0.5, last_epoch=6),
    lambda lib, o: lib.ExponentialLR(o, 0.9, last_epoch=6),
    lambda lib, o: lib.LinearLR(o, 0.1, 1.0, 10, last_epoch=6),
], ids=["cos", "step", "exp", "linear"])
def test_resume_with_last_epoch_behaves_as_torchs(make):
    # the old way to resume: groups hold initial_lr and the lr of step 6, the scheduler is told the step
    def trace(lib):
        opt = _optimizer()
        for g, b in zip(opt.param_groups, LRS, strict=True):
            g["initial_lr"], g["lr"] = b, 0.7 * b
        sched = make(lib, opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(12):
                opt.step()
                sched.step()
                lrs.append([g["lr"] for g in opt.param_groups])
        return lrs

    assert _close(trace(cs), trace(tl))


@pytest.mark.parametrize("bad", [
    lambda o: cs.StepLR(o, 0),
    lambda o: cs.ExponentialLR(o, 0.0),
    lambda o: cs.CosineAnnealingLR(o, 0),
    lambda o: cs.LinearLR(o, 0.0),
    lambda o: cs.InverseSqrtLR(o, 0),
    lambda o: cs.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.5),
    lambda o: cs.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"),
    lambda o: cs.WarmupStableDecayLR(o, 1, 1, 0),
    lambda o: cs.WarmupStableDecayLR(o, 1, 1, 5, decay="step"),
])
def test_bad_arguments_raise_value_error(bad):
    with pytest.raises(ValueError):
        bad(_optimizer())


def test_one_cycle_refuses_to_step_past_its_total():
    opt = _optimizer()
    sched = cs.OneCycleLR(opt, 1.0, total_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step"):
            sched.step()
