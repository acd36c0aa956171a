"""What a submission sends the trusted side costs it a small, bounded amount, and nothing it sends can raise
anything but a refusal; the sandbox runs it unprivileged, with capped mounts, memory and processes.

The end-to-end versions of these attacks are planted submissions (tests/test_exercises_grading.py); these
tests pin each defence down on its own, with the exact refusal.
"""

import base64
import io
import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from course_lib.exercises import wire
from course_lib.exercises.checks import MAX_MESSAGE, Outcome, how_far, judge, judge_number
from course_lib.exercises.harness import MAX_REPLY, MAX_REPLY_ITEMS
from course_tools.grader import sandbox
from course_tools.grader import submission as sub
from course_tools.grader.grading import cell_text, quote_answer


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, a=np.ones(2))
    return buf.getvalue()


def _deep(n: int) -> dict:
    value: dict = {"int": "1"}
    for _ in range(n):
        value = {"list": [value]}
    return value


FORGED_VALUES = {
    "an empty .npy (old format)": ({"numpy": "", "scalar": False}, "malformed array"),
    "an .npz (old format)": ({"numpy": _b64(_npz()), "scalar": False}, "malformed array"),
    "a pickled global (old format)": ({"numpy": _b64(_npy(np.array([print], dtype=object), True)), "scalar": False},
                                      "malformed array"),
    "a saved nested tensor (old format)": (
        {"tensor": _b64(_saved(torch.nested.nested_tensor([torch.ones(2), torch.ones(3)])))}, "malformed tensor"),
    "a saved sparse tensor (old format)": ({"tensor": _b64(_saved(torch.ones(3).to_sparse()))}, "malformed tensor"),
    "a header that lies about the shape": ({"numpy": {"dtype": "<f8", "shape": [10**9], "data": "", "scalar": False}},
                                           "malformed shape"),
    "bytes that don't fill the shape": ({"tensor": {"dtype": "float64", "shape": [3], "data": _b64(b"\0" * 16)}},
                                        "can't hold 16 bytes"),
    "a tensor over the size limit": ({"tensor": {"dtype": "float64", "shape": [2**19],
                                                 "data": _b64(b"\0" * 2**22)}}, "over the limit"),
    "an object dtype": ({"numpy": {"dtype": "|O8", "shape": [1], "data": "", "scalar": False}}, "not plain numbers"),
    "an unknown tensor dtype": ({"tensor": {"dtype": "qint8", "shape": [1], "data": "AA=="}}, "not plain numbers"),
    "a value nested 30 deep": (_deep(30), "nested more than 20 levels deep"),
    "a value nested 5000 deep": (_deep(5000), "nested more than 20 levels deep"),
    "a list that is not a list": ({"list": {"a": 1}}, "malformed list"),
    "a dict of non-pairs": ({"dict": [1, 2]}, "malformed dict"),
    "not base64": ({"tensor": {"dtype": "float64", "shape": [1], "data": "!!!!"}}, "malformed base64"),
}


@pytest.mark.parametrize("name", sorted(FORGED_VALUES))
def test_a_forged_value_is_refused_with_a_value_error_only(name):
    value, why = FORGED_VALUES[name]
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        wire.decode(value)
    with pytest.raises(ValueError):
        Outcome.from_plain({"status": "returned", "value": value})


def test_values_that_are_not_plain_tensors_cross_as_opaque():
    nested = torch.nested.nested_tensor([torch.ones(2), torch.ones(3)])
    assert wire.decode(wire.encode(nested)) == wire.Opaque("a nested tensor", "")
    assert wire.decode(wire.encode(torch.ones(3).to_sparse())).type_name == "a sparse tensor (sparse_coo)"
    assert wire.decode(wire.encode(10**400)).type_name == "an integer too large for a float"
    assert wire.decode({"int": "9" * 400}).type_name == "an integer too large for a float"
    assert wire.as_real(10**400) is None
    for x in (torch.arange(6.0).reshape(2, 3), torch.ones(2, dtype=torch.bfloat16), np.float32(1.5),
              np.arange(4, dtype=np.int16), torch.tensor(True), torch.zeros(0, 3)):
        back = wire.decode(json.loads(json.dumps(wire.encode(x))))
        assert type(back) is type(x) and back.dtype == x.dtype and back.shape == x.shape
        assert (torch.equal(back, x) if isinstance(x, torch.Tensor) else np.array_equal(back, x))


class _Pipe(sandbox.Kernel):
    """A Kernel reading from a process that writes ``payload`` (no harness, no sandbox)."""

    def __init__(self, payload: bytes, folder) -> None:
        path = folder / "payload"
        path.write_bytes(payload)
        self.proc = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        self._buffer = bytearray()
        self.cgroup, self.uid, self.private = None, None, None


@pytest.mark.parametrize("payload, why", [
    (b"%010d\n" % (48 * 2**20) + b"{" * 100, f"a reply of {48 * 2**20} bytes, over the limit of {MAX_REPLY}"),
    (b"%010d\n" % 200_000 + b"[" * 100_000 + b"]" * 100_000, "a malformed reply (RecursionError)"),
    (b"%010d\n" % 600_000 + b"[]," * 199_999 + b"[0]", f"JSON items, over the limit of {MAX_REPLY_ITEMS}"),
    (b"%010d\n" % 3 + b"[1]", "a malformed reply (not an object)"),
    (b"%010d\n" % 4 + b"\xff\xfe{}", "a malformed reply (UnicodeDecodeError)"),
    (b"not a frame at all", "something that is not a reply"),
    (b"", "died"),
])
def test_a_forged_frame_loses_the_kernel_and_nothing_else(payload, why, tmp_path):
    kernel = _Pipe(payload, tmp_path)
    try:
        with pytest.raises(sandbox.KernelLost, match=why.replace("(", r"\(").replace(")", r"\)")):
            kernel._read(20)
    finally:
        kernel.proc.kill()
        kernel.proc.wait()


def test_reading_a_submission_is_bounded_before_anything_is_parsed(tmp_path):
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as f:
        f.truncate(2**30)  # a 1 GiB sparse file
    started = time.monotonic()
    data, why = sub.read_file(big)
    assert data is None and why == "the file is 1024 MB, over the limit of 16 MB"
    assert time.monotonic() - started < 2  # refused by its size, not read
    link = tmp_path / "link.ipynb"
    link.symlink_to(big)
    assert sub.read_file(link) == (None, "the file is a symbolic link, not a notebook (hand in the notebook itself)")
    many = b'{"cells": [' + b"1," * (sub.MAX_ITEMS + 1) + b"1]}"
    assert sub.read_bytes(many)[1].endswith(f"JSON items, over the limit of {sub.MAX_ITEMS}")
    deep = b'{"cells": [], "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert sub.read_bytes(deep)[1] == "not a valid notebook file: its JSON is nested too deeply"


def test_submitted_metadata_is_reduced_to_what_the_grader_reads():
    nested: dict = {}
    for _ in range(500):
        nested = {"x": nested}
    raw = {"cells": [{"cell_type": "code", "source": ["x = 1"],
                      "metadata": {"exercise": {"id": "1.1-answer", "role": ["answer"], "question": {"q": 1}},
                                   "deep": nested, "tags": ["a", 3, ["b"]]}},
                     {"cell_type": "code", "source": "y", "metadata": ["not", "a", "dict"]}],
           "metadata": {"exercise": {"set": ["01_gradient_descent_ode"]}, "deep": nested}}
    nb, problem, _ = sub.read_bytes(json.dumps(raw).encode())
    assert problem == ""
    assert nb.cells[0].metadata == {"exercise": {"id": "1.1-answer"}, "tags": ["a"]}
    assert nb.cells[1].metadata == {} and nb.metadata == {}


def test_the_static_scan_refuses_code_it_cannot_afford():
    forbidden = ["course_lib.dynamics.ode.gradient_descent"]
    deep = "x = " + "+".join(["1"] * 3000)
    assert sub.library_calls(deep, forbidden) == []
    assert "can't be parsed (RecursionError" in sub.scan_refused(deep)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)  # as torch.compile does (to 2000) in the process that grades
    try:
        assert "can't be parsed (RecursionError" in sub.scan_refused(deep)
        assert sub.library_calls("from course_lib.dynamics.ode import gradient_descent\n" + deep, forbidden) == []
    finally:
        sys.setrecursionlimit(previous)
    assert sys.getrecursionlimit() == previous
    huge = "# padding\n" * 20_000
    assert sub.library_calls(huge, forbidden) == []
    assert sub.scan_refused(huge) == "the code is 200 kB, over the scan's limit of 100 kB"
    assert sub.scan_refused("import math") == ""


@pytest.mark.parametrize("value, truth, words", [
    (0.81, 0.8, "a little too high (off by less than 10 %)"),
    (0.5, 0.8, "much too low (off by a factor between 1.5 and 3)"),
    (1.0, 0.8, "too high (off by 10 to 50 %)"),
    (4.0, 1.0, "far too high (off by more than a factor of 3)"),
    (-0.8, 0.8, "of the wrong sign"),
])
def test_predictions_are_told_only_coarse_words(value, truth, words):
    assert how_far(value, truth) == words
    message = judge_number("9.1", value, truth, "", rtol=0.01, ratios={"a slip": value / truth}).message
    assert words in message and "It matches a classic slip: a slip?" in message
    shown = message.replace("9.1", "").replace(f"{value:.6g}", "").replace("1%", "")
    assert not any(f"{x:.3g}" in shown for x in (truth, value / truth, truth / value, abs(value - truth) / truth * 100))


def test_every_failure_message_is_one_line_of_at_most_500_characters():
    label = "case 1 of 4 (" + "a very long description, " * 40 + ")"
    outcomes = [Outcome("raised", error="ValueError: " + "x" * 800, where="line 1: `" + "y" * 400 + "`"),
                Outcome("timeout", detail="3"), Outcome("died", detail="killed by SIGKILL"),
                Outcome("returned", value=torch.zeros(3)), Outcome("returned", value=torch.ones(2)),
                Outcome("returned", value="a\nstring"), Outcome("returned", value=torch.ones(3), mutated=("theta",))]
    for outcome in outcomes:
        status, message = judge("1.1", outcome, torch.ones(3), label + "\nsecond line", rtol=1e-5, atol=1e-8,
                                steps=False)
        assert status == "failed" and "\n" not in message and len(message) <= MAX_MESSAGE, message
        assert message.startswith("Exercise 1.1: ")


def test_instructor_files_quote_what_a_student_wrote():
    assert cell_text('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")"
    assert [cell_text(x) for x in ("+1", "-1", "@a", "\tx", "ok")] == ["'+1", "'-1", "'@a", "'\tx", "ok"]
    quoted = quote_answer("fine\n## bob — question 1.4\n<!-- grade: [\"bob\", \"1.4\"] -->\nPoints: 2 / 2")
    assert all(line.startswith("> ") for line in quoted)


@pytest.fixture(scope="module")
def confined():
    mode = sandbox.probe("auto")
    if mode.kind != "bwrap":
        pytest.skip(f"bubblewrap does not work here ({mode.why})")
    kernel = sandbox.Kernel(mode, sandbox.Limits(memory_mb=1200, tmp_mb=32, processes=64))
    try:
        assert kernel.request({"op": "hello", "forbid": []}, 240)["status"] == "ok"
        yield mode, kernel
    finally:
        kernel.close()


PROBE = '''
import mmap, os
seen = {"uid": os.getuid(), "gid": os.getgid(), "proc": os.path.exists("/proc/1/cmdline")}
try:
    open("/etc/shadow").read(1)
    seen["shadow"] = "read"
except OSError as err:
    seen["shadow"] = type(err).__name__
for folder in ("/", "/opt", "/usr", "/dev/shm", "/tmp"):
    try:
        with open(os.path.join(folder, "fill"), "wb") as f:
            for _ in range(48):
                f.write(b"x" * 2**20)
        seen[folder] = "48 MB written"
    except OSError as err:
        seen[folder] = err.strerror
    try:
        os.unlink(os.path.join(folder, "fill"))
    except OSError:
        pass
try:
    shared = mmap.mmap(-1, 6 * 2**30, flags=mmap.MAP_SHARED)  # past RLIMIT_AS: refused outright
    seen["mmap"] = "mapped"
except OSError as err:
    seen["mmap"] = type(err).__name__
children = []
for i in range(200):
    try:
        pid = os.fork()
    except OSError as err:
        seen["forks"] = i
        break
    if pid == 0:
        import time
        time.sleep(3)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
'''


def test_student_code_runs_unprivileged_with_capped_mounts_and_processes(confined):
    _, kernel = confined
    reply = kernel.request({"op": "run", "source": PROBE, "timeout": 120}, 150)
    assert reply["status"] == "ok", reply
    seen = wire.decode(kernel.request({"op": "value", "name": "seen"}, 30)["value"])
    assert seen["uid"] == seen["gid"] == 65534
    assert seen["proc"] is False  # no /proc: nothing of the host's command lines or mounts
    assert seen["shadow"] in ("PermissionError", "FileNotFoundError")
    assert seen["/"] == seen["/opt"] == seen["/usr"] == "Read-only file system"
    assert seen["/dev/shm"] == "No space left on device"  # 8 MB: a quarter of /tmp's 32 MB
    assert seen["/tmp"] in ("File too large", "No space left on device")  # RLIMIT_FSIZE (16 MB) or the 32 MB cap
    assert seen["mmap"] == "OSError"
    assert seen["forks"] < 64


def test_the_submission_is_capped_as_a_whole_where_a_cgroup_can_be_made(confined):
    mode, kernel = confined
    if not mode.cgroup:
        pytest.skip(f"no writable cgroup here ({mode.cgroup_why}); only per-process limits hold")
    five = '''
import os
pids = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        block = bytearray(400 * 2**20)  # 400 MB each: 2 GB in all, past the 1200 MB cap
        for i in range(0, len(block), 4096):
            block[i] = 1
        os._exit(0)
    pids.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in pids]
killed = sum(os.WIFSIGNALED(s) for s in statuses)
'''
    try:
        reply = kernel.request({"op": "run", "source": five, "timeout": 120}, 150)
    except sandbox.KernelLost:  # the OOM killer may pick the harness itself: the cap held all the same
        reply = {"status": "lost"}
    if reply.get("status") == "ok":
        assert wire.decode(kernel.request({"op": "value", "name": "killed"}, 30)["value"]) >= 1
    peak = kernel.cgroup.peak_bytes() if kernel.cgroup else 0
    assert peak <= 1200 * 2**20 + 2**20 or not peak


def test_the_address_space_cap_counts_what_the_libraries_map():
    limits = sandbox.Limits(memory_mb=1000)
    assert limits.address_space_bytes() == (1000 + sandbox.LIBRARY_MAPPINGS_MB) * 2**20
    assert math.isclose(sandbox.LIBRARY_MAPPINGS_MB, 4096)
