r"""Run a course_lib optimizer's own, readable ``step`` through ``torch.compile``.

:func:`compiled` leaves the optimizer's class, constructor, ``state`` and ``state_dict``
untouched and replaces only the instance's ``step`` by a compiled one: the same Python source
(one line per equation), traced by TorchDynamo into one graph and turned by Inductor into one
fused loop per parameter tensor, which reads :math:`\theta`, :math:`g_t` and each state buffer
once and writes :math:`\theta` and each buffer once.

Why a wrapper and not a ``compile=True`` argument: the constructors take exactly torch's
arguments (a test holds them to that), a wrapper works for every class at once, and it can
refuse politely: compiling for the CPU needs a C++ compiler, and without one :func:`compiled`
warns and returns the optimizer with its eager step (``fallback=False`` raises instead).

What the compiled step does differently, and why:

* the closure (forward and backward pass) runs eagerly, outside the compiled region;
* the first step runs eagerly: it creates the state, so the compiled graph is the
  steady-state one (a graph that also allocated the state would be compiled once and
  then thrown away);
* the step count stays a tensor inside the graph (see ``CourseOptimizer._advance``);
* each call of :func:`compiled` compiles a function with a code object and a name of its own,
  because ``torch.compile`` keeps its cache, and its limit of ``recompile_limit`` entries, per
  code object, and its record of which inputs have changed between calls (which it then
  compiles as variables: "automatic dynamic") per file, line and name: without this, every
  optimizer of a program would share one cache, and a second optimizer with another learning
  rate would find its learning rate already made a variable by the first.

Recompilations: the graph is specialised to the parameters' shapes and dtypes and to the
hyperparameters. Changing the learning rate (a scheduler) recompiles once, after which the
learning rate is an input of the graph, for the optimizers that use it only as a factor of a
tensor (Adam, AdamW, NAdam, RAdam, Adamax, Yogi, AdaBelief, Adagrad, Schedule-Free). Those that
pass it as a Python number to an in-place operator (``alpha=-lr`` in SGD, SutskeverSGD, NAG,
RMSprop, Adadelta, Lion; Adafactor's clamp) recompile at every new value until Dynamo's limit,
and then run eagerly with a warning: correct, not faster.

One compiler setting matters on the CPU. Inductor decides for every intermediate result
whether to store it or to recompute it where it is used, and by default it recomputes cheap
ones. The bias corrections of Adam, :math:`1-\beta^t`, are 0-d tensors broadcast over
:math:`\theta`, so by default every iteration of the parameter loop recomputes two
double-precision ``pow`` calls, which the C++ compiler may not hoist out of the loop (Inductor
keeps ``errno`` semantics, and the step count is read through a pointer that may alias the
outputs). That makes the loop compute-bound, about three times slower than torch's fused
step. Lowering Inductor's store-versus-recompute threshold (``STORE_SCALARS``) stores each
such scalar once before the loop; the parameter loop then only streams memory.
"""

from __future__ import annotations

import itertools
import os
import types
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ._base import Closure, CourseOptimizer

__all__ = [
    "STORE_SCALARS",
    "CompilerUnavailableWarning",
    "compiled",
    "cpp_compiler",
    "is_compiled",
]

STORE_SCALARS: dict[str, Any] = {"realize_opcount_threshold": 1}
"""Inductor options used for CPU parameters: store, rather than recompute, any intermediate
with more than one operation that is reused or broadcast (see the module docstring)."""


class CompilerUnavailableWarning(UserWarning):
    """``compiled`` could not compile (no working C++ compiler); the eager step is used."""


def cpp_compiler() -> str | None:
    """The C++ compiler Inductor would use for CPU code (``$CXX``, else ``g++``), or ``None``.

    Inductor looks the compiler up when it first compiles a CPU kernel; asking the same
    question up front lets :func:`compiled` say what is missing before anything is traced.
    """
    try:
        from torch._inductor import cpp_builder, exc
    except ImportError:  # a torch without Inductor: nothing to compile with
        return None
    try:
        return cpp_builder.get_cpp_compiler()
    except exc.InvalidCxxCompiler:
        return None


def _missing_compiler_message(backend: str | Callable[..., Any]) -> str | None:
    """Why ``backend`` cannot compile here, or ``None`` if it can (only Inductor needs C++)."""
    if backend != "inductor" or cpp_compiler() is not None:
        return None
    wanted = os.environ.get("CXX", "g++")
    return (
        f"torch.compile's Inductor backend needs a C++ compiler to generate CPU code (the "
        f"parameters' loops on the CPU, and the step counts, which live on the CPU on every "
        f"device), and none works here: {wanted!r} was not found. Install one (Debian/Ubuntu: "
        f"`apt install g++`; conda: `conda install -c conda-forge gxx`) or point the CXX "
        f"environment variable at one, then restart Python."
    )


def _update(optimizer: CourseOptimizer) -> Any:
    """The region torch.compile captures: the class's own ``step``, without a closure."""
    return type(optimizer).step(optimizer)


_copies = itertools.count()


def _fresh_copy(function: types.FunctionType) -> types.FunctionType:
    """``function`` with a code object and a name of its own (see the module docstring)."""
    name = f"{function.__name__}_{next(_copies)}"
    names = {"co_name": name}
    if hasattr(function.__code__, "co_qualname"):  # Python >= 3.11
        names["co_qualname"] = name
    return types.FunctionType(
        function.__code__.replace(**names),
        function.__globals__,
        name,
        function.__defaults__,
    )


class _CompiledState:
    """What :func:`compiled` keeps on the optimizer: the compiled function and how it is doing."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.calls = 0
        self.fallback_reason: str | None = None


def _compiled_step(self: CourseOptimizer, closure: Closure | None = None) -> Any:
    """``step`` of a compiled optimizer: closure and first step eagerly, then the compiled update."""
    loss = self._evaluate(closure)
    compiled_state: _CompiledState = self._course_compiled
    eager = compiled_state.calls == 0 or compiled_state.fallback_reason is not None
    compiled_state.calls += 1
    if eager:
        type(self).step(self)
        return loss
    try:
        compiled_state.function(self)
    except (
        torch._dynamo.exc.BackendCompilerFailed,
        torch._dynamo.exc.FailOnRecompileLimitHit,
    ) as error:
        # nothing ran: the graph never executed (a failed compile, or more recompilations than
        # torch._dynamo.config.recompile_limit allows, e.g. after many changes of the lr's type)
        compiled_state.fallback_reason = (
            f"the step could not be compiled ({type(error).__name__}: {error})"
        )
        warnings.warn(
            f"course_lib.optim.compiled: {compiled_state.fallback_reason}; using the eager step.",
            CompilerUnavailableWarning,
            stacklevel=2,
        )
        type(self).step(self)
    return loss


def compiled(
    optimizer: CourseOptimizer,
    *,
    backend: str | Callable[..., Any] = "inductor",
    dynamic: bool | None = None,
    options: dict[str, Any] | None = None,
    fallback: bool = True,
) -> CourseOptimizer:
    """Make ``optimizer.step`` run the class's step compiled by ``torch.compile``; return ``optimizer``.

    Args:
        optimizer: a course_lib optimizer; every one traces into one graph that is
            compiled once, at its second step (tested for each class; ``SutskeverSGD`` only
            without ``lookahead``, which needs the closure inside the step). ``NAdam``'s
            float32 momentum product is then rounded once where the eager step rounds twice.
        backend, dynamic: passed to ``torch.compile`` (``fullgraph=True`` always: a graph
            break is an error, not a silent slowdown).
        options: Inductor options, added to :data:`STORE_SCALARS` when a parameter lives on
            the CPU (pass ``{"realize_opcount_threshold": None}`` to see Inductor's default).
        fallback: without a working C++ compiler (needed by the Inductor backend), warn with
            :class:`CompilerUnavailableWarning` and keep the eager step if ``True``; raise
            ``RuntimeError`` if ``False``.

    The trajectory is the eager one up to rounding (the same operations; Inductor may fuse
    a multiply and an add into one fma). The state and ``state_dict`` are unchanged, so a
    checkpoint moves freely between the compiled, the eager and torch's optimizer.
    """
    # --- validation
    if not isinstance(optimizer, CourseOptimizer):
        raise TypeError(
            f"compiled() takes a course_lib optimizer, got {type(optimizer).__name__}; "
            "torch's own optimizers are compiled with torch.compile(optimizer.step)"
        )
    if is_compiled(optimizer):
        raise ValueError("this optimizer's step is compiled already")
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            raise TypeError(
                "compiled() needs a float learning rate (the readable step reads it with float()); "
                "a changing float costs one recompilation, after which it is an input of the graph"
            )
    # --- end validation
    reason = _missing_compiler_message(backend)
    if reason is not None:
        if not fallback:
            raise RuntimeError(reason)
        warnings.warn(
            f"{reason} Using the eager step.", CompilerUnavailableWarning, stacklevel=2
        )
        return optimizer
    on_cpu = any(
        p.device.type == "cpu"
        for group in optimizer.param_groups
        for p in group["params"]
    )
    inductor_options = {**(STORE_SCALARS if on_cpu else {}), **(options or {})}
    function = torch.compile(
        _fresh_copy(_update),
        backend=backend,
        dynamic=dynamic,
        fullgraph=True,
        options=inductor_options if backend == "inductor" else None,
    )
    optimizer._course_compiled = _CompiledState(function)
    # a bound method, as schedulers expect
    optimizer.step = types.MethodType(_compiled_step, optimizer)
    return optimizer


def is_compiled(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` is the compiled one (and has not fallen back to the eager step)."""
    compiled_state = getattr(optimizer, "_course_compiled", None)
    return compiled_state is not None and compiled_state.fallback_reason is None
