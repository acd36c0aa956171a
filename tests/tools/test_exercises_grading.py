"""The trusted grader scores the committed planted submissions exactly, and no submission can fool it.

The planted submissions (tests/tools/fixtures/make_submissions.py) include every attack of the grader's threat
model (chapters/instructor_guide.md): cheating with every answer wrong, interfering with other
submissions, the library and the grader, exhausting resources, and damaged files. One batch grades them
all with ``--jobs 2``; the tests below read its CSV. The outcomes do not depend on the machine's load:
the cases' limits count CPU seconds, and the notebooks' wall-clock limit is generous.
"""

import csv
import hashlib
import io
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from course_tools.build.notebooks import read
from course_tools.grader import sandbox
from course_tools.grader import submission as sub
from course_tools.grader.grading import Row, _journal_path, beside, grade, merge_manual, read_marks, rows_for
from course_tools.grader.session import HiddenResult, Report, Settings

ROOT = Path(__file__).resolve().parents[2]
# Every test here reads the one graded class of planted submissions (the module fixture `graded`,
# about 100 s of grading): under pytest-xdist they share one worker (`--dist loadgroup` in the
# Makefile), so the class is graded once, not once per worker.
pytestmark = pytest.mark.xdist_group("planted-submissions")
PLANTED = ROOT / "tests" / "tools" / "fixtures" / "submissions"
CH1, CH2 = "01_gradient_descent_ode.ipynb", "02_sgd_sde.ipynb"
DAEMON_TOKEN = "PLANTED-DAEMON-7f3a"

#: Submissions whose attacks would do real damage without a sandbox: graded only under bubblewrap.
NEEDS_SANDBOX = {"interference"}

MANUAL = (0, "manual: grade by hand")
NO_ANSWER = (0, "manual: no answer written")

FRAME_1 = ("cell \"your extra cell after '1.1-answer'\" broke the Python kernel's replies (the kernel sent a "
           "malformed reply (RecursionError)); it was skipped and the kernel restarted")
FRAME_2 = ("cell \"your extra cell after '1.2-answer'\" broke the Python kernel's replies (the kernel sent a reply "
           "of 50331648 bytes, over the limit of 4194304)")
EDITED = "note: you edited the given cell 'imports'; it ran as handed out, then your version right after it"
LINKED = ("not graded: 'linked/01_gradient_descent_ode.ipynb' is a symbolic link (to "
          "'../correct/01_gradient_descent_ode.ipynb'), not a notebook; hand in the notebook itself")

#: submission -> {question: (points, fragments of the message, all of which must appear)}
EXPECTED = {
    f"correct/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (2, "passed"), "1.4": MANUAL},
    f"partly_wrong/{CH1}": {
        "1.1": (2, ["wrong dtype: expected torch.float32 (the dtype of theta0), got torch.float64",
                    "(float32 inputs: return float32"]),
        "1.2": (0, ["far too high (off by more than a factor of 3)", "It matches a classic slip: that is 2/λmin"]),
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
        "1.2": (0, "far too high"), "1.3": (0, "much too low (off by a factor between 1.5 and 3)"), "1.4": NO_ANSWER},
    f"cheat_values/{CH2}": {
        "2.1": (0, "returned a subclass of torch.Tensor (AlwaysEqual), expected a torch.Tensor"),
        "2.2": (0, "expected a single number, got a Anything"),
        "2.3": (0, ["wrong value: expected", "your function returns zeros"]), "2.4": NO_ANSWER},
    # honest answers (1.3 wrong) beside attacks on other submissions, the library and the grader
    f"interference/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (0, "much too low"),
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
    # issue 24: each of these used to stop the whole batch; now each costs its own submission only
    f"huge_values/{CH1}": {
        "1.1": (0, ["FLAG: the library-use scan could not read this answer (the code can't be parsed (RecursionError",
                    "returned an integer too large for a float, expected a torch.Tensor on case 1 of 4",
                    "points per check: random cases 0/2, edge cases 0/1", "edge cases: the same problem"]),
        "1.2": (0, "Exercise 1.2: expected a single number, got an integer too large for a float"),
        "1.3": (2, "passed"), "1.4": MANUAL},
    f"odd_tensors/{CH2}": {
        "2.1": (0, ["returned a nested tensor, expected a torch.Tensor on case 1 of 4", "edge cases: the same problem"]),
        "2.2": (2, "passed"),
        "2.3": (0, "returned a sparse tensor (sparse_coo), expected a torch.Tensor on case 1 of 4"),
        "2.4": MANUAL},
    f"forged_values/{CH1}": {  # an empty .npy, then an .npz, forged as the reply to each hidden check
        "1.1": (0, ["random cases 0/2, edge cases 0/1", ("Exercise 1.1: the result of case 1 could not be read safely "
                                                       "(malformed array)"), "edge cases: the same problem"]),
        "1.2": (2, "passed"), "1.3": (2, "passed"), "1.4": MANUAL},
    f"forged_values/{CH2}": {  # a pickled global in an .npy, a saved nested tensor, a lying header twice
        "2.1": (0, ["could not be read safely (malformed array)", "could not be read safely (malformed tensor)"]),
        "2.2": (2, "passed"),
        "2.3": (0, ["could not be read safely (malformed shape)", "could not be read safely (malformed array)"]),
        "2.4": MANUAL},
    f"forged_frames/{CH1}": {q: (p, [m, FRAME_1, FRAME_2])
                             for q, p, m in (("1.1", 3, "passed"), ("1.2", 2, "passed"), ("1.3", 2, "passed"),
                                             ("1.4", 0, "manual: grade by hand"))},
    f"bad_metadata/{CH1}": {"1.1": (3, "passed"), "1.2": (0, "the answer cell '1.2-answer' is missing"),
                            "1.3": (2, "passed"), "1.4": MANUAL},
    f"deep_json/{CH1}": {**{q: (0, "not a valid notebook file: its JSON is nested too deeply") for q in ("1.1", "1.2", "1.3")},
                         "1.4": (0, "manual: the notebook could not be read — not a valid notebook file: its JSON is nested too deeply")},
    f"honest/{CH1}": {q: (p, [m, EDITED])
                      for q, p, m in (("1.1", 3, "passed"), ("1.2", 2, "passed"), ("1.3", 2, "passed"),
                                      ("1.4", 0, "manual: grade by hand"))},
    f'=HYPERLINK("example.com","click")/{CH1}': {
        **{q: (0, "not a valid notebook file: it is not valid JSON") for q in ("1.1", "1.2", "1.3")},
        "1.4": (0, "manual: the notebook could not be read")},
    f"linked/{CH1}": {q: (0, LINKED)
                      for q in ("1.1", "1.2", "1.3", "1.4")},
    f"sparse_file/{CH1}": {q: (0, "not graded: the file is 1024 MB, over the limit of 16 MB")
                           for q in ("1.1", "1.2", "1.3", "1.4")},
}


def _journal(out: Path) -> Path:
    return _journal_path(out)


def _csv_name(name: str) -> str:
    """How a submission's name appears in the CSV (a leading = + - @ is escaped with ')."""
    return "'" + name if name[:1] in "=+-@" else name


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
    shutil.copytree(PLANTED, folder, dirs_exist_ok=True, symlinks=True)
    if mode.kind != "bwrap":
        for name in NEEDS_SANDBOX:
            shutil.rmtree(folder / name)
    (folder / "sparse_file").mkdir()
    with open(folder / "sparse_file" / CH1, "wb") as f:  # 1 GiB on paper, nothing on disk: refused unread
        f.truncate(2**30)
    before = {p: p.read_bytes() if not p.is_symlink() and p.stat().st_size < 2**24 else b"" for p in
              folder.rglob("*.ipynb")}
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
    rows = {r["question"]: r for r in graded["rows"] if r["submission"] == _csv_name(name)}
    assert set(rows) == set(EXPECTED[name])
    for question, (points, fragments) in EXPECTED[name].items():
        message = rows[question]["message"]
        assert float(rows[question]["points"]) == points, (question, message)
        for fragment in [fragments] if isinstance(fragments, str) else fragments:
            assert fragment in message, (question, fragment, message)


def test_every_submission_on_disk_was_graded_and_none_was_changed(graded):
    graded_names = {r["submission"] for r in graded["rows"]}
    assert graded_names == {_csv_name(str(p.relative_to(graded["folder"]))) for p in graded["before"]}
    for path, data in graded["before"].items():
        if data:
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
    assert all(r["submission"] in {_csv_name(str(p.relative_to(graded["folder"]))) for p in graded["before"]}
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


def test_formula_cells_are_escaped_in_every_csv(graded):
    out = graded["out"]
    for path in (out, beside(out, "_wide.csv"), beside(out, "_canvas.csv"), beside(out, "_moodle.csv")):
        text = path.read_text(encoding="utf-8")
        assert "'=HYPERLINK(" in text, path
        for record in csv.reader(io.StringIO(text)):
            assert not any(cell[:1] in ("=", "+", "-", "@") for cell in record), (path, record)


def test_a_forged_heading_in_an_answer_forges_no_section_and_no_mark(graded):
    manual = beside(graded["out"], "_manual.md").read_text(encoding="utf-8")
    assert "> ## bob/01_gradient_descent_ode.ipynb" in manual
    assert not any(line.startswith(("## bob/", "<!-- grade: [\"bob/", "Points: 2 / 2")) for line in manual.splitlines())
    assert read_marks(beside(graded["out"], "_manual.md")) == {}


def test_hand_marks_merge_back_into_every_output(graded, tmp_path):
    shutil.copytree(graded["out"].parent, tmp_path / "grades")
    out = tmp_path / "grades" / graded["out"].name
    manual = beside(out, "_manual.md")
    lines = manual.read_text(encoding="utf-8").splitlines()
    marker = f'<!-- grade: {json.dumps([f"huge_values/{CH1}", "1.4"])} -->'
    at = lines.index(marker)
    assert lines[at + 1] == "Points: _ / 2"
    lines[at + 1] = "Points: 1.5 / 2"
    manual.write_text("\n".join(lines), encoding="utf-8")
    assert read_marks(manual) == {(f"huge_values/{CH1}", "1.4"): 1.5}
    rows = merge_manual(out, "Week 1")
    merged = [r for r in rows if r.submission == f"huge_values/{CH1}" and r.question == "1.4"]
    assert merged[0].points == 1.5 and merged[0].message.startswith("manual: marked by hand, 1.5/2")
    with open(out, newline="") as f:
        long_rows = {(r["submission"], r["question"]): r for r in csv.DictReader(f)}
    assert long_rows[(f"huge_values/{CH1}", "1.4")]["points"] == "1.5"
    with open(beside(out, "_wide.csv"), newline="") as f:
        wide = {r["student"]: r for r in csv.DictReader(f)}
    assert wide["huge_values"]["manual"] == "1.5" and wide["huge_values"]["total"] == "3.5"  # 2 (1.3) + 1.5
    assert wide["correct"]["manual"] == ""  # not marked yet: blank, not 0
    with open(beside(out, "_canvas.csv"), newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Week 1"]
    assert canvas[1][0] == "Points Possible"
    assert ["huge_values", "", "", "huge_values", "", "3.5"] in canvas
    assert "Question 1.4: 1.5 / 2" in (beside(out, "_feedback") / f"huge_values__{CH1}.md").read_text()


def test_lms_exports_and_feedback_files(graded):
    out = graded["out"]
    with open(beside(out, "_wide.csv"), newline="") as f:
        wide = list(csv.DictReader(f))
    assert list(wide[0])[:5] == ["student", "1.1 (3)", "1.2 (2)", "1.3 (2)", "1.4 (2)"]
    assert list(wide[0])[-4:] == ["automatic", "manual", "total", "max"]
    by_student = {r["student"]: r for r in wide}
    assert by_student["correct"]["automatic"] == "7" and by_student["partly_wrong"]["1.1 (3)"] == "2"
    with open(beside(out, "_moodle.csv"), newline="") as f:
        moodle = list(csv.reader(f))
    assert moodle[0][0] == "Username" and moodle[0][2] == "Feedback"
    assert ["correct", "7", "all automatic checks passed (hand-graded questions not yet marked)"] in moodle
    feedback = (beside(out, "_feedback") / f"partly_wrong__{CH1}.md").read_text(encoding="utf-8")
    assert "## Question 1.1: 2 / 3" in feedback
    assert "- random cases (2/2 points): passed" in feedback
    assert "- edge cases (0/1 points): failed — Exercise 1.1: wrong dtype: expected torch.float32" in feedback
    assert "It matches a classic slip: that is 2/λmin" in feedback
    summary_text = beside(out, "_summary.txt").read_text(encoding="utf-8")
    assert "Most common problems" in summary_text and "partly_wrong/01_gradient_descent_ode.ipynb" in summary_text
    assert len(list(beside(out, "_feedback").glob("*.md"))) == len({r["submission"] for r in graded["rows"]})


def test_resume_does_not_retry_a_submission_that_crashed_the_grader_twice(tmp_path):
    folder = tmp_path / "subs"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        shutil.copy(PLANTED / "malformed" / CH1, folder / name / CH1)
    out = tmp_path / "results.csv"
    started = json.dumps({"started": f"a/{CH1}"})
    _journal(out).write_text("\n".join([json.dumps({"seed": 7}), started, started]) + "\n", encoding="utf-8")
    rows = grade(folder, out, ROOT, resume=True, echo=False, sandbox_mode="none")
    a = [r for r in rows if r.submission == f"a/{CH1}"]
    assert {r.points for r in a} == {0} and all("interrupted 2 times" in r.message for r in a)
    assert all("not a valid notebook file" in r.message for r in rows if r.submission == f"b/{CH1}")


def test_any_failure_on_the_trusted_side_costs_only_its_submission(tmp_path, monkeypatch):
    from course_tools.grader import grading

    folder = tmp_path / "subs"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        shutil.copy(PLANTED / "malformed" / CH1, folder / name / CH1)
    real = grading._grade_one

    def exploding(sub, *args, **kwargs):
        if sub.name.startswith("a/"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(sub, *args, **kwargs)

    monkeypatch.setattr(grading, "_grade_one", exploding)
    rows = grade(folder, tmp_path / "results.csv", ROOT, echo=False, sandbox_mode="none")
    a = [r for r in rows if r.submission == f"a/{CH1}"]
    assert len(a) == 4 and all(r.points == 0 for r in a)
    assert all("the grader failed on this submission (RecursionError: maximum recursion depth exceeded); the "
               "other submissions are not affected" in r.message for r in a)
    assert all("not a valid notebook file" in r.message for r in rows if r.submission == f"b/{CH1}")
    journal = _journal(tmp_path / "results.csv").read_text()
    assert f'"submission": "a/{CH1}"' in journal  # recorded: --resume will not try it again


def test_grade_runs_from_anywhere_with_root_or_course_root(tmp_path, monkeypatch):
    from course_tools.build.generate import find_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    with pytest.raises(FileNotFoundError, match="pass --root"):
        find_root()
    assert find_root(ROOT) == ROOT
    monkeypatch.setenv("COURSE_ROOT", str(ROOT))
    assert find_root() == ROOT
