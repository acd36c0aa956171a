"""Grade the planted submissions and print the batch's wall time, memory, and the processes left behind.

The planted submissions (tests/tools/fixtures/submissions) attack the grader in every way its threat model
names. This runs the grader's command line on them, samples the memory of the whole process tree every
half second, and after the grader exits looks for any process it (or a submission) left running. A
benchmark that prints a table, not a test: it exits 0 whatever the numbers are.

    python benchmarks/grade_planted.py [--jobs 2] [--timeout 12] [--check-timeout 8] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKENS = ("PLANTED-DAEMON", "course_lib.exercises.harness", "bwrap")


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, stack = [root], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _leftovers() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if any(t in cmd for t in TOKENS):
                found.append(f"{entry.name}: {cmd[:100]}")
    return found


def main() -> None:
    """Run the batch and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=12)
    parser.add_argument("--check-timeout", type=float, default=8)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="planted-")) / "results.csv"
    cmd = [sys.executable, "-m", "course_tools", "grade", str(ROOT / "tests" / "tools" / "fixtures" / "submissions"),
           "--out", str(out), "--jobs", str(args.jobs), "--timeout", str(args.timeout), "--check-timeout",
           str(args.check_timeout), "--sandbox", args.sandbox]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    started = time.monotonic()
    log = out.with_name("log.txt")
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    peak_total, peak_one, peak_procs = 0.0, 0.0, 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        sizes = [_rss_mb(p) for p in pids]
        peak_total, peak_one = max(peak_total, sum(sizes)), max(peak_one, max(sizes, default=0.0))
        peak_procs = max(peak_procs, len(pids))
        time.sleep(0.5)
    wall = time.monotonic() - started
    log_lines = log.read_text().splitlines()
    time.sleep(1.0)
    left = _leftovers()
    bound = next((line for line in log_lines if "finishes within" in line), "(no bound printed)")
    print("\n".join(line for line in log_lines if line.startswith(("graded ", "Prepared", "WARNING", "killed"))))
    print()
    print(f"{'measure':<44}{'value':>16}")
    print("-" * 60)
    print(f"{'submissions':<44}{sum(1 for _ in (ROOT / 'tests/tools/fixtures/submissions').rglob('*.ipynb')):>16}")
    print(f"{'wall time of the batch (s)':<44}{wall:>16.1f}")
    print(f"{'peak memory, whole process tree (MB)':<44}{peak_total:>16.0f}")
    print(f"{'peak memory, largest process (MB)':<44}{peak_one:>16.0f}")
    print(f"{'most processes at once':<44}{peak_procs:>16}")
    print(f"{'processes left after the batch':<44}{len(left):>16}")
    print(f"{'exit status':<44}{proc.returncode:>16}")
    print(bound)
    for line in left:
        print("  left:", line)


if __name__ == "__main__":
    main()
