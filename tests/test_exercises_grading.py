"""The grader scores the committed planted submissions exactly as expected, and reports why."""

import csv
import time
from pathlib import Path

import pytest

from course_lib.exercises import submission as sub
from course_lib.exercises.grading import grade

ROOT = Path(__file__).resolve().parent.parent

PLANTED = ROOT / "tests" / "fixtures" / "submissions"
CH1 = "01_gradient_descent_ode.ipynb"

#: submission -> {question: (points, a fragment of the message)}
EXPECTED = {
    f"correct/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (2, "passed"), "1.4": (0, "manual: grade")},
    f"partly_wrong/{CH1}": {"1.1": (2, "wrong dtype: expected torch.float32"), "1.2": (0, "too high by 300%"),
                            "1.3": (2, "passed"), "1.4": (0, "manual")},
    f"crashing/{CH1}": {"1.1": (0, "raised IndexError"), "1.2": (0, "NameError: name 'lr_max' is not defined"),
                        "1.3": (2, "passed"), "1.4": (0, "manual")},
    f"looping/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "passed"), "1.3": (0, "still running when the notebook's time"),
                       "1.4": (0, "manual")},
    f"malformed/{CH1}": {q: (0, "not a valid notebook file") for q in ("1.1", "1.2", "1.3", "1.4")},
    f"deleted_cells/{CH1}": {"1.1": (3, "passed"), "1.2": (0, "'1.2-answer' is missing"), "1.3": (2, "passed"),
                             "1.4": (0, "manual")},
    f"reordered_cells/{CH1}": {"1.1": (3, "passed"), "1.2": (2, "reordered"), "1.3": (2, "reordered"),
                               "1.4": (0, "manual")},
    "too_slow/02_sgd_sde.ipynb": {"2.1": (0, "too slow"), "2.2": (2, "passed"), "2.3": (3, "passed"),
                                  "2.4": (0, "manual: no answer written")},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grades") / "results.csv"
    started = time.monotonic()
    grade(PLANTED, out, ROOT, timeout=15, check_timeout=30, jobs=2, echo=False)
    elapsed = time.monotonic() - started
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, out, elapsed


def test_the_csv_has_the_documented_columns(graded):
    rows, out, _ = graded
    assert list(rows[0]) == ["submission", "question", "points", "max_points", "message"]
    assert (out.parent / "results_manual.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_planted_submission_gets_the_expected_score_and_reason(graded, name):
    rows = {r["question"]: r for r in graded[0] if r["submission"] == name}
    assert set(rows) == set(EXPECTED[name])
    for question, (points, fragment) in EXPECTED[name].items():
        assert float(rows[question]["points"]) == points, (question, rows[question]["message"])
        assert fragment in rows[question]["message"], (question, rows[question]["message"])


def test_the_crash_message_quotes_the_students_line(graded):
    row = next(r for r in graded[0] if r["submission"] == f"crashing/{CH1}" and r["question"] == "1.1")
    assert "`n_starts, d = theta0.shape[0], theta0.shape[2]`" in row["message"]


def test_a_broken_file_is_reported_without_executing_anything():
    nb, problem = sub.load(PLANTED / "malformed" / CH1)
    assert nb is None and "not valid JSON" in problem


def test_the_plan_grades_in_the_source_order_and_keeps_extra_cells():
    source = sub.load(ROOT / "exercises" / "source" / CH1)[0]
    plan = sub.make_plan(source, sub.load(PLANTED / "correct" / CH1)[0])
    labels = [s.label for s in plan.steps]
    assert labels.index("1.1-answer") < labels.index("your extra cell after '1.1-answer'") < labels.index("1.2-answer")
    assert plan.deleted == {} and plan.notes == {}
    reordered = sub.make_plan(source, sub.load(PLANTED / "reordered_cells" / CH1)[0])
    assert [s.label for s in reordered.steps if s.question] == ["1.1-answer", "1.2-answer", "1.3-answer"]
