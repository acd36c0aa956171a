"""Exercises for class: the questions and the self-checks students call.

Students call::

    from course_lib.exercises import check
    check("1.1", gradient_descent)      # an implement exercise: pass your function
    check("1.2", lr_max)                # a predict-then-verify exercise: pass your number

The tools that build and grade the exercise sets are in the separate package ``course_tools``
(see the instructor guide)::

    python -m course_tools build [--check]
    python -m course_tools grade SUBMISSIONS_DIR --out results.csv [--timeout 60] [--jobs 2]

The modules here:

* the questions themselves: ``spec`` (how a chapter declares a question), ``ch01``, ``ch02``, ...
  (the declarations), ``checks`` (the judge both sides use), ``wire`` (plain data across processes);
* the student's side, light and Colab-friendly (torch and numpy only): ``registry`` (``check``) and
  ``harness`` (the grader's agent inside the sandbox, which runs the student's code).
"""

from course_lib.exercises.checks import CheckResult
from course_lib.exercises.registry import check, questions
from course_lib.exercises.spec import Case

__all__ = ["Case", "CheckResult", "check", "questions"]
