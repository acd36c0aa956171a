"""The grader's agent inside the sandbox: runs a submission's cells and calls its functions on request.

Started by :mod:`course_tools.grader.sandbox` as ``python -m course_tools.harness`` (no
arguments: nothing on its command line names a file), it reads requests from stdin and writes replies
to the stdout it was started with; the student's own output goes to a capped file in the sandbox's
private /tmp. Every message is a frame: ten ASCII digits (the length), a newline, then JSON. Each
request carries a fresh random ``id`` that its reply echoes, so a frame a cell forged in advance is
never taken for a reply.

Requests (plain data only):

``{"op": "hello", "forbid": [...]}``
    import the chapter modules (for the :class:`~course_lib.exercises.spec.Fn` builders) and start an
    IPython shell; ``forbid`` lists library functions the answers must not call (a call is counted).
``{"op": "run", "source": ..., "timeout": s}``
    run one cell in the shell; reply ``{"status": "ok" | "error" | "timeout", "error": ..., "where": ...}``.
``{"op": "call", "name": ..., "cases": [{"args": ..., "kwargs": ...}], "time_limit": s, "arg_names": [...]}``
    call the function ``name`` of the notebook on each case, each in a forked child killed after
    ``time_limit`` CPU seconds (a sleeping call: ``checks.wall_limit`` of it); reply one plain outcome per case (see :func:`course_lib.exercises.checks.call_student`).
``{"op": "value", "name": ...}``
    the value of a variable (a prediction), encoded by :mod:`course_lib.exercises.wire`.

This process runs student code, so nothing it says is trusted: the grader compares what comes back
against values it computed itself, and treats a malformed reply as a failure of this submission only.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from typing import Any, BinaryIO

#: The largest request frame the harness accepts (bytes of JSON; requests come from the trusted side).
MAX_FRAME = 64 * 2**20
#: The largest reply frame the trusted side accepts, checked before it reads the frame (bytes of JSON).
MAX_REPLY = 4 * 2**20
#: The most JSON containers and separators (``[{,:``) a reply may hold, checked before it is parsed: so
#: parsing a reply costs the trusted side at most a few tens of MB, whatever it holds.
MAX_REPLY_ITEMS = 200_000
#: What the student's code may print in all (bytes); the rest is dropped, with one line saying so.
MAX_PRINTED = 1 * 2**20


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON frame and flush."""
    data = json.dumps(message).encode("utf-8")
    stream.write(b"%010d\n" % len(data) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """Read one frame (blocking); None at end of input."""
    head = stream.read(11)
    if len(head) < 11:
        return None
    size = int(head[:10])
    if not 0 <= size <= MAX_FRAME:
        raise ValueError("frame too large")
    return json.loads(stream.read(size).decode("utf-8"))


def _tmp() -> str:
    """The private temporary folder: the sandbox's /tmp, or the folder the grader made for us."""
    return os.environ.get("TMPDIR", "/tmp")


class _CappedOutput(io.TextIOBase):
    """sys.stdout/sys.stderr for student code: writes until the cap, then drops the rest, never raises.

    So a correct function that prints keeps its result however much the notebook printed before.
    """

    def __init__(self, fd: int, budget: list[int]) -> None:
        self._fd, self._budget, self._told = fd, budget, False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        try:
            data = str(text).encode("utf-8", "replace")
            if self._budget[0] > 0:
                part = data[: self._budget[0]]
                self._budget[0] -= len(part)
                os.write(self._fd, part)
            elif not self._told:
                self._told = True
                os.write(self._fd, b"\n[output truncated by the grader]\n")
        except (OSError, ValueError):
            pass
        return len(text) if isinstance(text, str) else 0

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd


class _CellTimeout(BaseException):
    """Raised in a cell by the alarm when the cell runs past its time."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _CellTimeout


class Harness:
    """The shell that holds the notebook's namespace, and the calls into it."""

    def __init__(self) -> None:
        self.shell: Any = None
        self.forbidden_calls: dict[str, int] = {}

    def hello(self, request: dict[str, Any]) -> dict[str, Any]:
        from IPython.core.interactiveshell import InteractiveShell

        from course_lib.exercises import registry

        registry.questions()  # imports every chapter module, so their Fn builders exist here too
        import torch

        torch.broadcast_shapes((1,), (1,))  # imports sympy lazily (seconds): do it once, not in every fork
        self.shell = InteractiveShell.instance()
        self._trip(list(request.get("forbid", [])))
        return {"status": "ok", "pid": os.getpid(), "load_errors": registry.load_errors()}

    def _trip(self, names: list[str]) -> None:
        """Wrap each forbidden library function so that a call is counted (a flag for the instructor)."""
        import functools
        import importlib

        for dotted in names:
            module_name, _, attr = str(dotted).rpartition(".")
            try:
                module = importlib.import_module(module_name)
                original = getattr(module, attr)
            except (ImportError, AttributeError):
                continue

            def make(original: Any, dotted: str) -> Any:
                @functools.wraps(original)
                def counted(*args: Any, **kwargs: Any) -> Any:
                    self.forbidden_calls[dotted] = self.forbidden_calls.get(dotted, 0) + 1
                    return original(*args, **kwargs)

                return counted

            setattr(module, attr, make(original, str(dotted)))

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        from course_lib.exercises.checks import student_line

        timeout = float(request.get("timeout", 60))
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.01))
        try:
            result = self.shell.run_cell(str(request.get("source", "")), store_history=False, silent=False)
        except _CellTimeout:
            return {"status": "timeout"}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        error = result.error_in_exec or result.error_before_exec
        if error is None:
            return {"status": "ok"}
        if isinstance(error, _CellTimeout):
            return {"status": "timeout"}
        return {"status": "error", "error": f"{type(error).__name__}: {error}"[:500],
                "where": student_line(error)[:300]}

    def _lookup(self, name: str) -> tuple[bool, Any]:
        ns = self.shell.user_ns
        return (name in ns), ns.get(name)

    def value(self, request: dict[str, Any]) -> dict[str, Any]:
        from course_lib.exercises import wire

        found, value = self._lookup(str(request.get("name", "")))
        if not found:
            return {"status": "missing"}
        return {"status": "ok", "value": wire.encode(value)}

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        from course_lib.exercises import spec, wire

        name = str(request.get("name", ""))
        found, function = self._lookup(name)
        if not found:
            return {"status": "missing", "detail": f"there is no `{name}` in your notebook (was its cell run?)"}
        if not callable(function):
            return {"status": "not_callable", "value": wire.encode(function)}
        limit = float(request.get("time_limit", 10))
        outcomes = []
        for index, case in enumerate(request.get("cases", [])):
            args = spec.build(spec.from_plain(tuple(wire.decode(a) for a in case["args"])))
            kwargs = spec.build(spec.from_plain({k: wire.decode(v) for k, v in case["kwargs"].items()}))
            outcome = self._call_in_child(function, args, kwargs, list(request.get("arg_names", [])), limit, index)
            outcomes.append(outcome)
            if outcome["status"] != "returned":
                break
        return {"status": "ok", "outcomes": outcomes}

    def _call_in_child(self, function: Any, args: tuple, kwargs: dict, arg_names: list[str], limit: float,
                       index: int) -> dict[str, Any]:
        """Call in a forked child, so a hang, an exit or a crash costs this case only."""
        from course_lib.exercises.checks import call_student, wall_limit

        path = os.path.join(_tmp(), f".case-{os.getpid()}-{index}.json")
        if os.path.exists(path):
            os.unlink(path)
        pid = os.fork()
        if pid == 0:  # the child: call, write the plain outcome, leave without cleanup
            try:
                os.setpgid(0, 0)
                self.forbidden_calls.clear()
                outcome = call_student(function, args, kwargs, arg_names, limit, cpu=True)
                outcome["forbidden_calls"] = dict(self.forbidden_calls)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(outcome, f)
            finally:
                os._exit(0)
        deadline = time.monotonic() + wall_limit(limit) + 1.0  # the child stops itself before
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.01)
        else:
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
            os.waitpid(pid, 0)
            return {"status": "timeout", "detail": f"{limit:g}"}
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                return {"status": "died", "detail": f"killed by {sig}"}
            return {"status": "died", "detail": f"exit code {os.WEXITSTATUS(status)}"}


def main() -> None:
    """Serve requests until stdin closes (see the module docstring)."""
    replies = os.fdopen(os.dup(1), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    out = os.open(os.path.join(_tmp(), ".output"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    budget = [MAX_PRINTED]
    sys.stdout = _CappedOutput(1, budget)
    sys.stderr = _CappedOutput(2, budget)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the output cap, writes fail instead of killing us
    harness = Harness()
    handlers = {"hello": harness.hello, "run": harness.run, "call": harness.call, "value": harness.value}
    while True:
        request = read_frame(requests)
        if request is None:
            return
        op = str(request.get("op", ""))
        try:
            reply = handlers[op](request) if op in handlers else {"status": "bad_request"}
        except Exception as exc:  # noqa: BLE001 - report and keep serving
            reply = {"status": "harness_error", "error": f"{type(exc).__name__}: {exc}"[:500]}
        reply["id"] = request.get("id")
        write_frame(replies, reply)


if __name__ == "__main__":
    main()
