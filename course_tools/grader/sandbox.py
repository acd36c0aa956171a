"""Start the harness confined, talk to it with timeouts, and make sure nothing it started survives.

With bubblewrap (``bwrap``, Debian package ``bubblewrap``) each submission runs in fresh namespaces
as an unprivileged user (uid 65534 in a user namespace of its own; as root, a host uid of its own that
owns no file): the Python installation and ``course_lib`` bound read-only, ``/`` read-only, a private
size-capped /tmp and /dev/shm (a quarter of /tmp's size) as its only writable place, no /proc, no network, its own
PID namespace (every process it starts dies with it), a cleared environment and a command line that
names no file. Without bubblewrap (or where the kernel refuses namespaces) it runs as a plain child in
its own session and private folder; :func:`probe` says which, and :data:`FALLBACK_WARNING` is what the
grader prints, once per batch, about what that leaves open.

The submission as a whole is capped by a cgroup (memory without swap, process count) where one can be
made (:class:`Cgroup`: v2, else v1). Every process also gets resource limits (``setrlimit``): address
space (RLIMIT_AS, so shared anonymous mappings count too), CPU seconds, the size of a file it writes,
the process count (RLIMIT_NPROC, as root, where the uid is the submission's own) and core dumps off. Every read
from it has a deadline and a size checked first; at the end its whole process group and cgroup are
killed (and every leftover descendant is swept, see :func:`sweep_descendants`).
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
import threading
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


#: What the grader prints once per batch when no cgroup can cap a submission as a whole.
NO_CGROUP_WARNING = (
    "WARNING: no cgroup can cap a submission as a whole here ({why}). Each process of a submission is "
    "still capped (address space --memory-mb plus the libraries' mappings, CPU time, file size) and, "
    "where it runs under a uid of its own, its process count; but a submission that starts several "
    "processes can use several times --memory-mb. Grade where the grader's cgroup is writable (cgroup v2 "
    "with memory and pids delegated, e.g. systemd-run --user --scope -p Delegate=yes) to cap the whole."
)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-submission resource limits."""

    memory_mb: int = 2048
    cpu_s: int = 600
    output_mb: int = 16
    tmp_mb: int = 256
    processes: int = 128

    def address_space_bytes(self) -> int:
        """RLIMIT_AS per process: ``memory_mb`` plus :data:`LIBRARY_MAPPINGS_MB` for the mapped libraries."""
        return (self.memory_mb + LIBRARY_MAPPINGS_MB) * 2**20


#: Address space a harness maps before it runs any student code (torch, IPython and their libraries,
#: about 3.3 GB of mostly file-backed mappings): added to ``--memory-mb`` for RLIMIT_AS.
LIBRARY_MAPPINGS_MB = 4096

#: The host uids sandboxed kernels run as when the grader is root: one per concurrent kernel, so a
#: process-count limit holds per submission. Inside their user namespace each shows as 65534 (nobody).
UID_BASE = 1_900_000_000
SANDBOX_UID = 65534


@dataclasses.dataclass(frozen=True)
class Mode:
    """How submissions are confined: ``"bwrap"`` or ``"none"``, and why; ``cgroup`` caps the whole submission."""

    kind: str
    why: str = ""
    cgroup: str = ""  # "v2", "v1" or "" (then only the per-process rlimits hold)
    cgroup_why: str = ""


def _package_root() -> Path:
    return Path(course_lib.__file__).resolve().parent


def _python_dirs() -> list[str]:
    dirs = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    dirs.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(d for d in dirs if d not in ("/", "/usr"))


def _python() -> str:
    """This interpreter, by a path that exists inside the sandbox (the venv resolved, not a symlink to it)."""
    return str(Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name)


def is_root() -> bool:
    """True when the grader runs as root (then kernels drop to an unprivileged uid of their own)."""
    return os.geteuid() == 0


#: Runs first inside the sandbox: sets the resource limits, and as root drops to an unprivileged uid in a
#: user namespace of its own (a root parent writes the uid map through a /proc it mounts and unmounts
#: again, so the student's process sees no /proc at all), then becomes the harness. ``python -S``: fast.
_SHIM = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
for name, soft, hard in cfg["rlimits"]:
    resource.setrlimit(getattr(resource, name), (soft, hard))
libc = ctypes.CDLL(None, use_errno=True)
uid = cfg.get("uid")
cmd = sys.argv[2:]
if uid is None:
    libc.prctl(38, 1, 0, 0, 0)
    os.execv(cmd[0], cmd)
r, w = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r); os.close(w2)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    ok = libc.unshare(0x10000000) == 0
    os.write(w, b"1" if ok else b"0"); os.close(w)
    os.read(r2, 1); os.close(r2)
    libc.prctl(38, 1, 0, 0, 0)
    os.execv(cmd[0], cmd)
os.close(w); os.close(r2)
if os.read(r, 1) == b"1" and libc.mount(b"proc", b"/run/p", b"proc", 0, None) == 0:
    for name in ("uid_map", "gid_map"):
        with open(f"/run/p/{pid}/{name}", "w") as f:
            f.write(f"%d {uid} 1" % cfg["inner"])
    libc.umount2(b"/run/p", 2)
os.write(w2, b"1")
for fd in (0, 1, 2):
    os.close(fd)
_, status = os.waitpid(pid, 0)
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def _rlimits(limits: Limits, slot_uid: bool) -> list[list[Any]]:
    out, space = limits.output_mb * 2**20, limits.address_space_bytes()
    table: list[list[Any]] = [["RLIMIT_AS", space, space], ["RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 5],
                              ["RLIMIT_FSIZE", out, out], ["RLIMIT_CORE", 0, 0]]
    if slot_uid:  # counted per real uid: only a uid of the kernel's own makes it a per-submission cap
        table.append(["RLIMIT_NPROC", limits.processes, limits.processes])
    return table


def bwrap_command(limits: Limits, uid: int | None = None) -> list[str]:
    """The bubblewrap command line that starts the harness (see the module docstring).

    As root, bwrap sets up the mounts with privileges and :data:`_SHIM` drops to host uid ``uid`` in a
    user namespace where it is 65534; otherwise bwrap makes the user namespace (``--unshare-user --uid
    65534``). Either way: read-only ``/`` (nothing writable but the size-capped ``/tmp``, which also backs
    ``/dev/shm``), no ``/proc``, no network, a PID namespace of its own, a cleared environment.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    root = is_root() and uid is not None
    cmd = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    if root:
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_SYS_ADMIN"]
    else:
        cmd += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    made: set[str] = set()
    for path in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.lexists(path):
            cmd += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
            made.add(path)
    for path in _python_dirs():
        for parent in reversed(Path(path).parents):
            if str(parent) != "/" and str(parent) not in made:
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        cmd += ["--ro-bind", path, path]
    cmd += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", "/opt/course",
            "--ro-bind", str(_package_root()), "/opt/course/course_lib", "--dev", "/dev",
            "--perms", "01777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            "--perms", "01777", "--size", str(max(1, limits.tmp_mb // 4) * 2**20), "--tmpfs", "/dev/shm",
            "--perms", "01777", "--dir", "/tmp/work", "--perms", "01777", "--dir", "/tmp/home",
            "--perms", "0700", "--dir", "/run/p", "--remount-ro", "/", "--chdir", "/tmp/work"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp",
           "PYTHONPATH": "/opt/course", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": "/tmp/home", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "", "LANG": "C.UTF-8"}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    config = {"rlimits": _rlimits(limits, root), "uid": uid if root else None, "inner": SANDBOX_UID}
    return cmd + ["--", _python(), "-S", "-c", _SHIM, json.dumps(config),
                  _python(), "-m", "course_lib.exercises.harness"]


def probe(requested: str = "auto") -> Mode:
    """Which confinement works here: ``bwrap`` if requested or available and working, else ``none``.

    It also finds whether a cgroup can cap each submission as a whole (see :class:`Cgroup`).
    """
    group, group_why = Cgroup.available()
    if requested == "none":
        return Mode("none", "turned off with --sandbox none", group, group_why)
    if shutil.which("bwrap") is None:
        if requested == "bwrap":
            raise RuntimeError("--sandbox bwrap: bubblewrap is not installed (apt-get install bubblewrap)")
        return Mode("none", "not installed", group, group_why)
    uid = _UIDS.take() if is_root() else None
    cmd = bwrap_command(Limits(), uid)
    test = ("import os, sys; os.stat('/opt/course/course_lib/exercises/harness.py'); "
            "assert os.getuid() == 65534, os.getuid(); assert not os.path.exists('/proc/self')")
    cmd = cmd[: cmd.index("-m")] + ["-c", test]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
        ok, why = done.returncode == 0, done.stderr.decode("utf-8", "replace").strip()[-300:]
    except (OSError, subprocess.TimeoutExpired) as err:
        ok, why = False, str(err)
    if uid is not None:
        _UIDS.give(uid)
    if ok:
        return Mode("bwrap", "", group, group_why)
    if requested == "bwrap":
        raise RuntimeError(f"--sandbox bwrap: bubblewrap does not work here ({why})")
    return Mode("none", f"installed but does not work here: {why or 'no reason given'} "
                        f"(user namespaces disabled?)", group, group_why)


class _UidPool:
    """Host uids for concurrent kernels (root only): each kernel takes one and gives it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._next = 0

    def take(self) -> int:
        with self._lock:
            if self._free:
                return self._free.pop()
            self._next += 1
            return UID_BASE + os.getpid() % 1000 * 1000 + self._next % 1000

    def give(self, uid: int) -> None:
        with self._lock:
            self._free.append(uid)


_UIDS = _UidPool()


class Cgroup:
    """A cgroup capping one submission as a whole: memory (no swap) and process count.

    cgroup v2 where the grader's own cgroup is writable and delegates ``memory`` and ``pids``; else the
    v1 ``memory`` and ``pids`` hierarchies where writable; else none (then only the per-process rlimits
    hold, see the instructor guide).
    """

    def __init__(self, limits: Limits, version: str) -> None:
        self.dirs: list[Path] = []
        name = f"course-grader-{os.getpid()}-{secrets.token_hex(4)}"
        memory = limits.memory_mb * 2**20
        if version == "v2":
            folder = _v2_parent() / name
            folder.mkdir()
            self.dirs.append(folder)
            _write(folder / "memory.max", memory)
            _write(folder / "memory.swap.max", 0, missing_ok=True)
            _write(folder / "pids.max", limits.processes)
        else:
            for controller, files in (("memory", {"memory.limit_in_bytes": memory,
                                                  "memory.memsw.limit_in_bytes": memory}),
                                      ("pids", {"pids.max": limits.processes})):
                folder = _v1_parent(controller) / name
                folder.mkdir()
                self.dirs.append(folder)
                for file, value in files.items():
                    _write(folder / file, value, missing_ok=file.startswith("memory.memsw"))

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid into to join."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def peak_bytes(self) -> int:
        """The most memory the submission used (0 when the cgroup can't say)."""
        for d in self.dirs:
            for name in ("memory.peak", "memory.max_usage_in_bytes"):
                try:
                    return int((d / name).read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    continue
        return 0

    def close(self) -> None:
        """Kill whatever is left in the cgroup and remove it."""
        for d in self.dirs:
            try:
                (d / "cgroup.kill").write_text("1")
            except OSError:
                pass
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)

    @staticmethod
    def available() -> tuple[str, str]:
        """("v2" | "v1" | "", why not) — whether a submission can be capped as a whole here."""
        reasons = []
        for version in ("v2", "v1"):
            try:
                Cgroup(Limits(), version).close()
                return version, ""
            except (OSError, ValueError) as err:
                reasons.append(f"{version}: {type(err).__name__}: {err}")
        return "", "; ".join(reasons)


def _write(path: Path, value: int, missing_ok: bool = False) -> None:
    try:
        path.write_text(str(value))
    except FileNotFoundError:
        if not missing_ok:
            raise


def _own_cgroup(prefix: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        if (prefix == "" and hid == "0" and controllers == "") or prefix in controllers.split(","):
            return path
    raise ValueError(f"not in a {prefix or 'v2'} cgroup")


def _v2_parent() -> Path:
    for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        root = Path(mount)
        if (root / "cgroup.controllers").is_file():
            parent = root / _own_cgroup("").lstrip("/")
            if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                raise ValueError(f"{parent} does not delegate the memory and pids controllers")
            return parent
    raise ValueError("no cgroup v2 mount")


def _v1_parent(controller: str) -> Path:
    root = Path("/sys/fs/cgroup") / controller
    if not (root / "cgroup.procs").is_file():
        raise ValueError(f"no cgroup v1 {controller} hierarchy")
    return root / _own_cgroup(controller).lstrip("/")


#: Joins the cgroups named in argv[1] (a JSON list of cgroup.procs files), then execs the rest.
_JOIN = ("import json, os, sys\n"
         "for path in json.loads(sys.argv[1]):\n"
         "    open(path, 'w').write(str(os.getpid()))\n"
         "os.execv(sys.argv[2], sys.argv[2:])")


def limited(cmd: list[str], limits: Limits) -> list[str]:
    """``cmd`` started under the per-process resource limits (without bubblewrap: a ``python -S`` shim)."""
    config = {"rlimits": _rlimits(limits, False), "uid": None, "inner": SANDBOX_UID}
    return [_python(), "-S", "-c", _SHIM, json.dumps(config), *cmd]


class KernelLost(Exception):
    """The harness did not answer in time, died, or answered garbage."""


class Kernel:
    """One confined harness process, and the framed conversation with it (every read has a deadline)."""

    def __init__(self, mode: Mode, limits: Limits) -> None:
        self.mode = mode
        self.private: Path | None = None
        self.uid: int | None = _UIDS.take() if mode.kind == "bwrap" and is_root() else None
        self.cgroup: Cgroup | None = None
        self.peak = 0
        if mode.cgroup:
            try:
                self.cgroup = Cgroup(limits, mode.cgroup)
            except (OSError, ValueError):
                self.cgroup = None
        if mode.kind == "bwrap":
            cmd, cwd = bwrap_command(limits, self.uid), "/"
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self.private = Path(tempfile.mkdtemp(prefix="submission-"))
            (self.private / "tmp").mkdir()
            cmd, cwd = limited([_python(), "-m", "course_lib.exercises.harness"], limits), str(self.private)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.private),
                   "TMPDIR": str(self.private / "tmp"), "PYTHONPATH": str(_package_root().parent),
                   "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.private), "OMP_NUM_THREADS": "1",
                   "CUDA_VISIBLE_DEVICES": ""}
        if self.cgroup is not None:
            cmd = [_python(), "-S", "-c", _JOIN, json.dumps(self.cgroup.procs_files()), *cmd]
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self._buffer = bytearray()

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request and wait at most ``timeout`` s for its reply; raises :class:`KernelLost`.

        Frames that don't carry this request's random id (forged by student code) are dropped.
        """
        nonce = secrets.token_hex(16)
        data = json.dumps({**message, "id": nonce}).encode("utf-8")
        try:
            self.proc.stdin.write(b"%010d\n" % len(data) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as err:
            raise KernelLost(f"the kernel is gone ({type(err).__name__})") from err
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            reply = self._read(deadline - time.monotonic())
            if reply.get("id") == nonce:
                return reply
        raise KernelLost("the kernel sent a thousand frames that are not replies")

    def _read(self, timeout: float) -> dict[str, Any]:
        """One reply frame: its size checked before it is read, its structure counted before it is parsed.

        So a reply costs this process at most :data:`~course_lib.exercises.harness.MAX_REPLY` bytes to
        hold and :data:`~course_lib.exercises.harness.MAX_REPLY_ITEMS` JSON items to parse; anything
        else (too big, nested too deep, not JSON, not an object) is :class:`KernelLost`.
        """
        from course_lib.exercises.harness import MAX_REPLY, MAX_REPLY_ITEMS

        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        need: int | None = None
        while True:
            if need is None and len(self._buffer) >= 11:
                head = bytes(self._buffer[:11])
                if not head[:10].isdigit() or head[10:11] != b"\n":
                    raise KernelLost("the kernel wrote something that is not a reply")
                need = int(head[:10])
                if need > MAX_REPLY:
                    raise KernelLost(f"the kernel sent a reply of {need} bytes, over the limit of {MAX_REPLY}")
            if need is not None and len(self._buffer) >= 11 + need:
                body = bytes(self._buffer[11 : 11 + need])
                del self._buffer[: 11 + need]
                return _parse_reply(body, MAX_REPLY_ITEMS)
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelLost("timeout")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                want = (11 + need - len(self._buffer)) if need is not None else 11 - len(self._buffer)
                chunk = os.read(fd, max(1, min(want, 1 << 20)) if want > 0 else 1 << 16)
                if not chunk:
                    self.proc.poll()
                    raise KernelLost(f"died (exit status {self.proc.returncode})")
                self._buffer += chunk

    def close(self) -> None:
        """Kill the harness and everything in its session (and its cgroup); never blocks for long."""
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
        if self.cgroup is not None:
            self.peak = max(self.peak, self.cgroup.peak_bytes())
            self.cgroup.close()
            self.cgroup = None
        if self.uid is not None:
            _UIDS.give(self.uid)
            self.uid = None
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


def _parse_reply(body: bytes, max_items: int) -> dict[str, Any]:
    """A reply frame's JSON object; :class:`KernelLost` for anything else (never another exception)."""
    items = sum(body.count(c) for c in (b"[", b"{", b",", b":"))
    if items > max_items:
        raise KernelLost(f"the kernel sent a reply of {items} JSON items, over the limit of {max_items}")
    try:
        reply = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError, MemoryError) as err:
        raise KernelLost(f"the kernel sent a malformed reply ({type(err).__name__})") from None
    if not isinstance(reply, dict):
        raise KernelLost("the kernel sent a malformed reply (not an object)")
    return reply


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
