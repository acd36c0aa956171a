"""The trusted grader scores the committed planted submissions exactly, and no submission can fool it.

The planted submissions (tests/tools/fixtures/make_submissions.py) include every attack of the grader's threat
model (chapters/instructor_guide.md): cheating with every answer wrong, interfering with other
submissions, the library and the grader, exhausting resources, and damaged files. One batch grades them
all with ``--jobs 2``; the tests below read its CSV. The outcomes do not depend on the machine's load:
the cases' limits count CPU seconds, and the notebooks' wall-clock limit is generous.
"""

import csv
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from course_tools.build.notebooks import read
from course_tools.grader import sandbox
from course_tools.grader import submission as sub
from course_tools.grader.grading import Row, grade, rows_for
from course_tools.grader.session import HiddenResult, Report, Settings

ROOT = Path(__file__).resolve().parents[2]
PLANTED = ROOT / "tests" / "tools" / "fixtures" / "submissions"
CH1, CH2 = "01_gradient_descent_ode.ipynb", "02_sgd_sde.ipynb"
DAEMON_TOKEN = "PLANTED-DAEMON-7f3a"

#: Submissions whose attacks would do real damage without a sandbox: graded only under bubblewrap.
NEEDS_SANDBOX = {"interference"}

MANUAL = (0, "manual: grade by hand")
NO_ANSWER = (0, "manual: no answer written")

#: submission -> {question: (points, fragments of the message, all of which must appear)}
EXPECTED = {
    f"correct/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (2, "passed"), "1.4": MANUAL},
    f"partly_wrong/{CH1}": {
        "1.1": (2, ["wrong dtype: expected torch.float32 (the dtype of theta0), got torch.float64",
                    "(float32 inputs: return float32"]),
        "1.2": (0, ["too high by 300%", "It is 4 × the right value: that is 2/λmin"]),
        "1.3": (2, "passed"), "1.4": MANUAL},
    f"crashing/{CH1}": {
        "1.1": (0, ["raised IndexError", "`n_starts, d = theta0.shape[0], theta0.shape[2]`"]),
        "1.2": (0, ("`lr_max` is not defined — your answer cell '1.2-answer' raised NameError: name "
                   "'eigenvalues_of_H' is not defined")),
        "1.3": (2, "passed"), "1.4": MANUAL},
    f"looping/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"),
                       "1.3": (0, "cell '1.3-answer' was still running when the notebook's time limit"),
                       "1.4": MANUAL},
    f"malformed/{CH1}": {**{q: (0, "not a valid notebook file: it is not valid JSON") for q in ("1.1", "1.2", "1.3")},
                         "1.4": (0, "manual: the notebook could not be read")},
    f"moved_cells/{CH1}": {"1.1": (3, ["passed", "reordered"]), "1.2": (0, "'1.2-answer' is missing"),
                           "1.3": (2, ["passed", "reordered"]), "1.4": MANUAL},
    f"too_slow/{CH2}": {
        "2.1": (0, ["too slow", "(z = 0, so only the drift term h·drift(θ) counts"]),
        "2.2": (2, "passed"), "2.3": (3, "passed"), "2.4": NO_ANSWER},
    # every answer wrong; the tricks that fooled the in-kernel grader gain nothing
    f"cheat_namespace/{CH1}": {
        "1.1": (0, ["wrong value first at step 0", "your function returns zeros",
                    "FLAG: the answer uses course_lib.dynamics.ode.gradient_descent"]),
        "1.2": (0, "too high by 300%"), "1.3": (0, "too low by 38%"), "1.4": NO_ANSWER},
    f"cheat_values/{CH2}": {
        "2.1": (0, "returned a subclass of torch.Tensor (AlwaysEqual), expected a torch.Tensor"),
        "2.2": (0, "expected a single number, got a Anything"),
        "2.3": (0, ["wrong value: expected", "your function returns zeros"]), "2.4": NO_ANSWER},
    # honest answers (1.3 wrong) beside attacks on other submissions, the library and the grader
    f"interference/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (0, "too low by 38%"),
                            "1.4": MANUAL},
    f"kernel_killers/{CH1}": {
        "1.1": (0, "your function ended its Python process on case 1 of 4"),
        "1.2": (2, ["passed", "cell \"your extra cell after '1.2-answer'\" killed the Python kernel"]),
        "1.3": (2, "passed"), "1.4": MANUAL},
    f"resources/{CH2}": {
        "2.1": (0, ["raised RuntimeError: out of memory", "`big = torch.ones(2**30, dtype=torch.float64)  # 8 GB`"]),
        "2.2": (2, "passed"),
        "2.3": (0, "too slow — case 1 of 4 (random gradients"),
        "2.4": MANUAL},
    f"damaged_file/{CH1}": {
        "1.1": (3, ["passed", "the answer cell '1.1-answer' appears 2 times; the last copy was graded",
                    "byte-order mark", "not valid UTF-8 (first bad byte 0xe9", "unknown top-level key(s) 'colab'"]),
        "1.2": (0, "your answer cell '1.2-answer' is a Markdown cell, so it never runs"),
        "1.3": (2, "passed"), "1.4": MANUAL},
    f"twice/{CH1}": {
        "1.1": (3, ["passed", "FLAG: the answer uses course_lib.dynamics.ode.gradient_descent",
                    "FLAG: student 'twice' handed in 2 notebooks"]),
        "1.2": (2, "passed"), "1.3": (2, "passed"), "1.4": MANUAL},
    f"twice/old/{CH1}": {**{q: (0, ["not a valid notebook file", "FLAG: student 'twice' handed in 2 notebooks"])
                            for q in ("1.1", "1.2", "1.3")}, "1.4": (0, "manual: the notebook could not be read")},
}


def _library_digest() -> str:
    files = sorted((ROOT / "course_lib").rglob("*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def _planted_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if DAEMON_TOKEN.encode() in cmd and b"pytest" not in cmd:
                found.append(entry.name)
    return found


@pytest.fixture(scope="module")
def mode():
    return sandbox.probe("auto")


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mode):
    folder = tmp_path_factory.mktemp("planted")
    shutil.copytree(PLANTED, folder, dirs_exist_ok=True)
    if mode.kind != "bwrap":
        for name in NEEDS_SANDBOX:
            shutil.rmtree(folder / name)
    before = {p: p.read_bytes() for p in folder.rglob("*.ipynb")}
    library = _library_digest()
    out = tmp_path_factory.mktemp("grades") / "results.csv"
    log = tmp_path_factory.mktemp("log") / "stdout.txt"
    started = time.monotonic()
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        # generous wall time for the notebooks' own cells (the looping cell never ends, whatever the limit);
        # the checks' cases are limited in CPU seconds, which the machine's load does not stretch
        grade(folder, out, ROOT, timeout=40, check_timeout=8, jobs=2, seed=20260101)
    elapsed = time.monotonic() - started
    log.write_text(buffer.getvalue())
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return {"rows": rows, "out": out, "elapsed": elapsed, "stdout": buffer.getvalue(), "folder": folder,
            "before": before, "library_before": library}


def test_the_csv_has_the_documented_columns(graded):
    assert list(graded["rows"][0]) == ["submission", "question", "points", "max_points", "message"]
    assert (graded["out"].parent / "results_manual.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_planted_submission_gets_the_expected_score_and_reason(graded, mode, name):
    if name.split("/")[0] in NEEDS_SANDBOX and mode.kind != "bwrap":
        pytest.skip(f"{name} attacks the machine; graded only under bubblewrap ({mode.why})")
    rows = {r["question"]: r for r in graded["rows"] if r["submission"] == name}
    assert set(rows) == set(EXPECTED[name])
    for question, (points, fragments) in EXPECTED[name].items():
        message = rows[question]["message"]
        assert float(rows[question]["points"]) == points, (question, message)
        for fragment in [fragments] if isinstance(fragments, str) else fragments:
            assert fragment in message, (question, fragment, message)


def test_every_submission_on_disk_was_graded_and_none_was_changed(graded):
    graded_names = {r["submission"] for r in graded["rows"]}
    assert graded_names == {str(p.relative_to(graded["folder"])) for p in graded["before"]}
    for path, data in graded["before"].items():
        assert path.read_bytes() == data, f"{path} was changed during grading"


def test_the_library_is_unchanged_and_no_process_outlives_the_batch(graded):
    assert _library_digest() == graded["library_before"]
    assert sandbox.descendants() == []
    assert _planted_processes() == []


def test_the_batch_finished_within_the_bound_it_printed(graded):
    match = re.search(r"this batch finishes within (\d+) s", graded["stdout"])
    assert match, graded["stdout"][:500]
    assert graded["elapsed"] <= float(match.group(1))


def test_no_forged_row_reaches_the_csv(graded):
    assert all(r["submission"] in {str(p.relative_to(graded["folder"])) for p in graded["before"]}
               for r in graded["rows"])
    assert all(float(r["points"]) <= float(r["max_points"]) for r in graded["rows"])


def test_points_are_capped_and_tied_to_their_question():
    source = read(ROOT / "exercises" / "source" / CH1)
    nb, _ = sub.load(PLANTED / "correct" / CH1)
    plan = sub.make_plan(source, nb)
    forged = [{"id": "1.1-hidden-a", "question": "1.1", "points": 2, "passed": True, "message": "passed"}] * 200
    forged += [{"id": "1.1-hidden-b", "question": "1.1", "points": 400, "passed": True, "message": "passed"},
               {"id": "x", "question": "9.9", "points": 400, "passed": True, "message": "passed"}]
    rows = rows_for("s", source, "", [], plan, Report(hidden=[HiddenResult(**f) for f in forged]), [])
    by_q = {r.question: r for r in rows}
    assert set(by_q) == {"1.1", "1.2", "1.3", "1.4"}  # the record for 9.9 is tied to no question: dropped
    assert by_q["1.1"].points == 3  # 400/3 forged, capped by the header's points
    assert by_q["1.2"].points == 0 and "not graded" in by_q["1.2"].message


def test_resume_keeps_finished_submissions_and_grades_the_rest(tmp_path):
    folder = tmp_path / "subs"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    for name in ("a", "b"):
        shutil.copy(PLANTED / "malformed" / CH1, folder / name / CH1)
    out = tmp_path / "results.csv"
    journal = out.with_name(out.name + ".journal.jsonl")
    kept = Row(f"a/{CH1}", "1.1", 3.0, 3.0, "graded before the interruption")
    journal.write_text(json.dumps({"seed": 7}) + "\n" + json.dumps({"submission": kept.submission, "rows": [
        kept.__dict__]}) + "\n" + '{"submission": "b/01_gr', encoding="utf-8")  # cut off mid-line
    rows = grade(folder, out, ROOT, resume=True, echo=False, sandbox_mode="none")
    assert [r.message for r in rows if r.submission == kept.submission] == ["graded before the interruption"]
    assert {r.submission for r in rows} == {f"a/{CH1}", f"b/{CH1}"}
    assert '"seed": 7' in journal.read_text()
    with open(out, newline="") as f:
        assert len(list(csv.DictReader(f))) == 1 + 4


def test_without_a_sandbox_the_batch_says_so_once_and_still_grades_correctly(tmp_path, capsys):
    folder = tmp_path / "subs" / "cheat_values"
    shutil.copytree(PLANTED / "cheat_values", folder)
    rows = grade(tmp_path / "subs", tmp_path / "r.csv", ROOT, timeout=12, check_timeout=8, echo=False,
                 sandbox_mode="none", seed=3)
    err = capsys.readouterr().err
    assert err.count("WARNING: no sandbox") == 1 and "they can read and write your files" in err
    assert sum(r.points for r in rows) == 0
    assert sandbox.descendants() == []


def test_tolerant_reading_repairs_what_it_can_and_refuses_the_rest():
    data = (PLANTED / "damaged_file" / CH1).read_bytes()
    nb, problem, notes = sub.read_bytes(data)
    assert nb is not None and problem == ""
    assert any("byte-order mark" in n for n in notes) and any("Latin-1" in n for n in notes)
    assert "café" in "".join(c.source for c in nb.cells)
    nb, problem, _ = sub.read_bytes((PLANTED / "malformed" / CH1).read_bytes())
    assert nb is None and "not valid JSON" in problem


def test_the_plan_grades_in_the_source_order_and_keeps_extra_cells():
    source = sub.load(ROOT / "exercises" / "source" / CH1)[0]
    plan = sub.make_plan(source, sub.load(PLANTED / "correct" / CH1)[0])
    labels = [s.label for s in plan.steps]
    assert labels.index("1.1-answer") < labels.index("your extra cell after '1.1-answer'") < labels.index("1.2-answer")
    assert plan.blocked == {} and plan.notes == {}
    moved = sub.make_plan(source, sub.load(PLANTED / "moved_cells" / CH1)[0])
    assert [s.label for s in moved.steps if s.question] == ["1.1-answer", "1.3-answer"]


@pytest.mark.parametrize("source, found", [
    ("from course_lib.dynamics.ode import gradient_descent as g\ng(1)", ["course_lib.dynamics.ode.gradient_descent"]),
    ("import course_lib.dynamics.ode as o\no.gradient_descent(1)", ["course_lib.dynamics.ode.gradient_descent"]),
    ("from course_lib.dynamics import ode\node.gradient_descent(1)", ["course_lib.dynamics.ode.gradient_descent"]),
    ("import importlib\nm = importlib.import_module('course_lib.dynamics.ode')\ngetattr(m, 'gradient_descent')",
     ["course_lib.dynamics.ode.gradient_descent"]),
    ("def gradient_descent(grad, theta0, lr, n):\n    return theta0", []),
])
def test_the_library_call_scan_finds_the_usual_spellings(source, found):
    assert sub.library_calls(source, ["course_lib.dynamics.ode.gradient_descent"]) == found


def test_the_bound_counts_every_restart_and_check():
    s = Settings(timeout=10, check_timeout=8, startup_timeout=20, max_restarts=2, max_cases=6)
    assert s.case_limit(6) == 3.0 and s.case_limit(2) == 4.0
    assert s.submission_bound(3) == (20 + 10 + 5) * 3 + 3 * (6 * (15 + 1.5) + 10) + 15  # 15 s: 3 CPU-s' backstop
