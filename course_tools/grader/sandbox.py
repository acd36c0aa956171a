"""Start the harness confined, talk to it with timeouts, and make sure nothing it started survives.

With bubblewrap (``bwrap``, Debian package ``bubblewrap``) each submission runs in fresh namespaces:
the Python installation and ``course_lib`` bound read-only, a private size-capped /tmp as its only
writable place, no network, its own PID namespace (every process it starts dies with it), a cleared
environment and a command line that names no file. Without bubblewrap (or where the kernel refuses
namespaces) it runs as a plain child in its own session and private folder; :func:`probe` says which,
and :data:`FALLBACK_WARNING` is what the grader prints, once per batch, about what that leaves open.

Both ways the child gets resource limits (``setrlimit``): memory (RLIMIT_DATA), CPU seconds, the size
of a file it writes (its output), and core dumps off. Every read from it has a deadline; at the end
its whole process group is killed (and, without bubblewrap, every leftover descendant is swept, see
:func:`sweep_descendants`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import course_lib

#: What the grader prints once per batch when it runs without bubblewrap.
FALLBACK_WARNING = (
    "WARNING: no sandbox (bubblewrap is {why}). Submissions run as plain processes with your permissions: "
    "they can read and write your files (other submissions, the course library, the results once this "
    "batch ends), use the network, and see the grader's command line. Scores are still computed outside "
    "the student's process and memory/CPU/output/time are still capped, and leftover processes are killed "
    "at the end — but install bubblewrap (apt-get install bubblewrap) before grading a class you don't trust."
)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-submission resource limits."""

    memory_mb: int = 2048
    cpu_s: int = 600
    output_mb: int = 16
    tmp_mb: int = 256


@dataclasses.dataclass(frozen=True)
class Mode:
    """How submissions are confined: ``"bwrap"`` or ``"none"``, and why."""

    kind: str
    why: str = ""


def _package_root() -> Path:
    return Path(course_lib.__file__).resolve().parent


def _python_dirs() -> list[str]:
    dirs = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    dirs.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(d for d in dirs if d not in ("/", "/usr"))


def _python() -> str:
    """This interpreter, by a path that exists inside the sandbox (the venv resolved, not a symlink to it)."""
    return str(Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name)


def bwrap_command(limits: Limits) -> list[str]:
    """The bubblewrap command line that starts the harness (see the module docstring)."""
    bwrap = shutil.which("bwrap") or "bwrap"
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--hostname", "sandbox", "--clearenv"]
    for path in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.lexists(path):
            cmd += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
    for path in _python_dirs():
        cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind", str(_package_root()), "/opt/course/course_lib",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            "--dir", "/tmp/work", "--dir", "/tmp/home", "--chdir", "/tmp/work"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp",
           "PYTHONPATH": "/opt/course", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": "/tmp/home", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "", "LANG": "C.UTF-8"}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", _python(), "-m", "course_lib.exercises.harness"]


def probe(requested: str = "auto") -> Mode:
    """Which confinement works here: ``bwrap`` if requested or available and working, else ``none``."""
    if requested == "none":
        return Mode("none", "turned off with --sandbox none")
    if shutil.which("bwrap") is None:
        if requested == "bwrap":
            raise RuntimeError("--sandbox bwrap: bubblewrap is not installed (apt-get install bubblewrap)")
        return Mode("none", "not installed")
    cmd = bwrap_command(Limits())
    cmd = cmd[: cmd.index("--")] + ["--", _python(), "-c",
                                    "import os; os.stat('/opt/course/course_lib/exercises/harness.py')"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
        ok, why = done.returncode == 0, done.stderr.decode("utf-8", "replace").strip()[-300:]
    except (OSError, subprocess.TimeoutExpired) as err:
        ok, why = False, str(err)
    if ok:
        return Mode("bwrap")
    if requested == "bwrap":
        raise RuntimeError(f"--sandbox bwrap: bubblewrap does not work here ({why})")
    return Mode("none", f"installed but does not work here: {why or 'no reason given'} "
                        f"(user namespaces disabled?)")


#: Sets the resource limits, then becomes the real command (run with ``python -S``: no site, fast).
_LIMIT_SHIM = ("import json, os, resource, sys\n"
               "for name, soft, hard in json.loads(sys.argv[1]):\n"
               "    resource.setrlimit(getattr(resource, name), (soft, hard))\n"
               "os.execv(sys.argv[2], sys.argv[2:])")


def limited(cmd: list[str], limits: Limits) -> list[str]:
    """``cmd`` started under the resource limits (inherited by everything it starts, bwrap included).

    A tiny ``python -S`` shim sets them and then execs ``cmd``; unlike ``preexec_fn`` this is safe in a
    threaded grader.
    """
    mem, out = limits.memory_mb * 2**20, limits.output_mb * 2**20
    table = [["RLIMIT_DATA", mem, mem], ["RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 5],
             ["RLIMIT_FSIZE", out, out], ["RLIMIT_CORE", 0, 0]]
    return [_python(), "-S", "-c", _LIMIT_SHIM, json.dumps(table), *cmd]


class KernelLost(Exception):
    """The harness did not answer in time, died, or answered garbage."""


class Kernel:
    """One confined harness process, and the framed conversation with it (every read has a deadline)."""

    def __init__(self, mode: Mode, limits: Limits) -> None:
        self.mode = mode
        self.private: Path | None = None
        if mode.kind == "bwrap":
            cmd, cwd, env = bwrap_command(limits), "/", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self.private = Path(tempfile.mkdtemp(prefix="submission-"))
            (self.private / "tmp").mkdir()
            cmd, cwd = [_python(), "-m", "course_lib.exercises.harness"], str(self.private)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.private),
                   "TMPDIR": str(self.private / "tmp"), "PYTHONPATH": str(_package_root().parent),
                   "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.private), "OMP_NUM_THREADS": "1",
                   "CUDA_VISIBLE_DEVICES": ""}
        self.proc = subprocess.Popen(
            limited(cmd, limits), cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self._buffer = b""

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request and wait at most ``timeout`` s for its reply; raises :class:`KernelLost`.

        Frames that don't carry this request's random id (forged by student code) are dropped.
        """
        nonce = secrets.token_hex(16)
        data = json.dumps({**message, "id": nonce}).encode("utf-8")
        try:
            self.proc.stdin.write(b"%010d\n" % len(data) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            raise KernelLost(f"the kernel is gone ({type(err).__name__})") from err
        deadline = time.monotonic() + timeout
        for _ in range(10_000):
            reply = self._read(deadline - time.monotonic())
            if reply.get("id") == nonce:
                return reply
        raise KernelLost("the kernel sent thousands of frames that are not replies")

    def _read(self, timeout: float) -> dict[str, Any]:
        from course_lib.exercises.harness import MAX_FRAME

        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        need: int | None = None
        while True:
            if need is None and len(self._buffer) >= 11:
                head = self._buffer[:11]
                if not head[:10].isdigit() or head[10:11] != b"\n":
                    raise KernelLost("the kernel wrote something that is not a reply")
                need = int(head[:10])
                if need > MAX_FRAME:
                    raise KernelLost("the kernel sent a reply over the size limit")
            if need is not None and len(self._buffer) >= 11 + need:
                body, self._buffer = self._buffer[11 : 11 + need], self._buffer[11 + need :]
                try:
                    reply = json.loads(body.decode("utf-8"))
                except ValueError as err:
                    raise KernelLost("the kernel sent a malformed reply") from err
                if not isinstance(reply, dict):
                    raise KernelLost("the kernel sent a malformed reply")
                return reply
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelLost("timeout")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    self.proc.poll()
                    raise KernelLost(f"died (exit status {self.proc.returncode})")
                self._buffer += chunk

    def close(self) -> None:
        """Kill the harness and everything in its session; never blocks for long."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux), so :func:`sweep_descendants` finds them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def descendants(root: int | None = None) -> list[int]:
    """The pids of every live descendant of ``root`` (default: this process), from /proc."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")[:200]
    except OSError:
        return "?"


def sweep_descendants() -> list[str]:
    """Kill every descendant process still alive and reap it; returns the command lines of the live ones.

    Processes already exiting (a sandbox being torn down, with an empty command line) are reaped silently.
    """
    pids = descendants()
    found = [cmd for cmd in (_cmdline(pid) for pid in pids) if cmd.strip()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if not descendants():
                break
            time.sleep(0.05)
    return found
