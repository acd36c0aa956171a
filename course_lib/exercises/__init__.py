"""Exercises for class: self-checks students call, and the tools that build and grade the exercise sets.

Students call::

    from course_lib.exercises import check
    check("1.1", gradient_descent)      # an implement exercise: pass your function
    check("1.2", lr_max)                # a predict-then-verify exercise: pass your number

Instructors use the command line (see the instructor guide)::

    python -m course_lib.exercises build [--check]
    python -m course_lib.exercises grade SUBMISSIONS_DIR --out results.csv [--timeout 60] [--jobs 2]

The modules fall in three groups:

* shared, the questions themselves: ``spec`` (how a chapter declares a question), ``ch01``, ``ch02``, ...
  (the declarations), ``checks`` (the judge both sides use), ``wire`` (plain data across processes);
* the student's side, light and Colab-friendly (torch and numpy only): ``registry`` (``check``) and
  ``harness`` (the grader's agent inside the sandbox, which runs the student's code);
* the instructor's side: ``grading`` (the batch and the CSV), ``session`` (one submission, trusted),
  ``sandbox`` (bubblewrap, limits, processes), ``submission`` (tolerant reading), and ``notebooks``,
  ``build``, ``book`` (the source notebooks and what is generated from them).
"""

from course_lib.exercises.checks import CheckResult, check_function, check_number
from course_lib.exercises.registry import check, questions
from course_lib.exercises.spec import Case

__all__ = ["Case", "CheckResult", "check", "check_function", "check_number", "questions"]
