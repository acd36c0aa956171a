"""Grade a synthetic class and print what it costs: wall time, CPU, the trusted side's peak memory, scaling.

A class of N submissions (default 200) across every chapter's exercise set: half correct (the solution
notebooks), three in ten partly wrong (one answer replaced by the student's stub, another by a wrong
value), two in ten hostile (the planted attacks of tests/tools/fixtures/submissions, ch. 1–2). The
grader's command line grades it with ``--jobs J``; the grader's own resident memory (the trusted side,
without its sandboxed kernels) and the whole process tree's are sampled every half second. With
``--scaling K`` the first K submissions are graded again with ``--jobs 1`` and ``--jobs 2`` to measure how
the batch scales. It ends with a projection for a class on a bigger machine. A benchmark that prints a
table, not a test: it exits 0 whatever the numbers are (1 only if a submission got no row).

    python benchmarks/grade_class.py [--n 200] [--jobs 2] [--scaling 20] [--students 500 --cores 16]
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grade_planted import _tree  # the process tree under a pid (one implementation, benchmarks/)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_tools.build import notebooks as nbx

PLANTED = ROOT / "tests" / "tools" / "fixtures" / "submissions"
HOSTILE = ["cheat_namespace", "cheat_values", "kernel_killers", "resources", "forged_values", "huge_values",
           "odd_tensors", "forged_frames", "looping", "deep_json", "malformed", "bad_metadata"]


def _partly_wrong(solution: nbx.nbformat.NotebookNode, student: nbx.nbformat.NotebookNode):
    """The solution with its first code answer replaced by the stub and its second by a wrong value."""
    stubs = {nbx.cell_id(c): c.source for c in student.cells if nbx.role(c) == "answer"}
    nb = copy.deepcopy(solution)
    answers = [c for c in nb.cells if nbx.role(c) == "answer" and c.cell_type == "code"]
    if answers:
        answers[0].source = stubs.get(nbx.cell_id(answers[0]), answers[0].source)
    for cell in answers[1:2]:
        lines = cell.source.splitlines()
        cell.source = "\n".join(lines + ["# a slip", *[f"{line.split('=')[0].strip()} = 0.123"
                                                       for line in lines if line[:1].isalpha() and " = " in line][:1]])
    return nb


def make_class(folder: Path, n: int) -> dict[str, int]:
    """Write N submissions into ``folder`` (one sub-folder per student); returns the count per kind."""
    sets = sorted((ROOT / "exercises" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    kinds = {"correct": 0, "partly wrong": 0, "hostile": 0}
    hostile = [p for name in HOSTILE for p in sorted((PLANTED / name).glob("*.ipynb"))]
    for i in range(n):
        student = folder / f"s{i:03d}"
        student.mkdir(parents=True)
        slot = i % 10
        if slot >= 8:
            source = hostile[(i // 10 * 2 + slot - 8) % len(hostile)]
            shutil.copy(source, student / source.name)
            kinds["hostile"] += 1
            continue
        path = sets[i % len(sets)]
        solution = nbx.read(path)
        if slot < 5:
            nb = solution
            kinds["correct"] += 1
        else:
            nb = _partly_wrong(solution, nbx.read(ROOT / "exercises" / "student" / path.name))
            kinds["partly wrong"] += 1
        (student / path.name).write_text(nbx.dumps(nb), encoding="utf-8")
    return kinds


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (from /proc; 0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(folder: Path, jobs: int, timeout: float, check_timeout: float, deadline: float = 1e12) -> dict[str, float]:
    """Grade ``folder`` with the command line; the measurements (partial when stopped at ``deadline``)."""
    out = Path(tempfile.mkdtemp(prefix="class-out-")) / "results.csv"
    cmd = [sys.executable, "-m", "course_tools", "grade", str(folder), "--out", str(out), "--jobs", str(jobs),
           "--timeout", str(timeout), "--check-timeout", str(check_timeout), "--seed", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(out.with_name("log.txt"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        hwm, tree_peak, cpu = 0, 0.0, {}
        while proc.poll() is None:
            hwm = max(hwm, _status(proc.pid).get("VmHWM", 0))
            tree = _tree(proc.pid)
            tree_peak = max(tree_peak, sum(_status(p).get("VmRSS", 0) for p in tree))
            for p in tree:  # the sandboxed kernels too: killed, not reaped by us, so rusage misses them
                cpu[p] = max(cpu.get(p, 0.0), _cpu_s(p))
            if time.monotonic() > deadline:
                proc.terminate()  # the grader's own handlers kill its kernels; the journal keeps what finished
                proc.wait()
                break
            time.sleep(0.5)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.is_file():
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = []
    graded = {r["submission"].split("/")[0].lstrip("'") for r in rows}
    trusted_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": max(sum(cpu.values()), trusted_cpu), "trusted_cpu": cpu.get(proc.pid, 0.0),
            "trusted_mb": hwm, "tree_mb": tree_peak, "graded": len(graded), "rc": proc.returncode,
            "points": sum(float(r["points"]) for r in rows), "log": str(out.with_name("log.txt"))}


def _row(label: str, n: int, jobs: int, m: dict[str, float]) -> str:
    return (f"| {label} | {n} | {jobs} | {m['wall']:.0f} | {m['cpu']:.0f} | {m['trusted_cpu']:.0f} | "
            f"{m['trusted_mb']:.0f} | {m['tree_mb']:.0f} | {m['wall'] * jobs / n:.1f} | {m['cpu'] / n:.1f} | "
            f"{m['graded']}/{n} |")


def main() -> int:
    """Build the class, grade it, print the table and the projection."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scaling", type=int, default=0, help="also grade the first K with --jobs 1 and 2")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--check-timeout", type=float, default=30)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=1e9, help="stop the whole-class run after this long")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="class-"))
    kinds = make_class(base / "all", args.n)
    print(f"A class of {args.n}: {kinds}; {os.cpu_count()} CPU cores here, load average "
          f"{os.getloadavg()[0]:.1f} at the start (other users share this machine: wall times are inflated).",
          flush=True)
    head = ("| run | submissions | jobs | wall s | CPU s (all) | CPU s (trusted) | trusted peak MB | tree peak MB | "
            "wall × jobs / sub s | CPU / sub s | graded |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = []
    scaling = {}
    if args.scaling:
        part = base / "part"
        part.mkdir()
        for student in sorted((base / "all").iterdir())[: args.scaling]:
            shutil.copytree(student, part / student.name)
        for jobs in (1, 2):
            scaling[jobs] = run(part, jobs, args.timeout, args.check_timeout)
            lines.append(_row(f"first {args.scaling}", args.scaling, jobs, scaling[jobs]))
            print(lines[-1], flush=True)
    full = run(base / "all", args.jobs, args.timeout, args.check_timeout, time.monotonic() + 60 * args.minutes)
    done = int(full["graded"]) or 1
    lines.append(_row("whole class" if full["graded"] == args.n else f"class, stopped after {done}", done,
                      args.jobs, full))
    print("\n" + head + "\n" + "\n".join(lines))
    per_cpu = full["cpu"] / done
    projection = args.students * per_cpu / args.cores
    print(f"\nProjection: {args.students} students on {args.cores} cores with --jobs {args.cores}: about "
          f"{projection / 60:.0f} min if the batch stays CPU-bound ({per_cpu:.1f} CPU s per submission, measured "
          f"here), {args.cores} kernels × ~0.8 GB resident = ~{args.cores * 0.8:.0f} GB of memory; the trusted "
          f"side stays at its {full['trusted_mb']:.0f} MB.")
    if scaling:
        speedup = scaling[1]["wall"] / scaling[2]["wall"]
        print(f"Scaling on this machine: --jobs 2 is {speedup:.2f}× as fast as --jobs 1 on {args.scaling} "
              f"submissions (2 cores, shared with other users).")
    print(f"Logs: {full['log']}")
    return 0 if full["graded"] == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
