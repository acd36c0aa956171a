"""Exercises for class: self-checks students call, and the tools that build and grade the exercise sets.

Students call::

    from course_lib.exercises import check
    check("1.1", gradient_descent)      # an implement exercise: pass your function
    check("1.2", lr_max)                # a predict-then-verify exercise: pass your number

Instructors use the command line (see the instructor guide)::

    python -m course_lib.exercises build [--check]
    python -m course_lib.exercises grade SUBMISSIONS_DIR --out results.csv [--timeout 60]
"""

from course_lib.exercises.checks import CheckResult, check_function, check_number
from course_lib.exercises.registry import check, questions
from course_lib.exercises.spec import Case

__all__ = ["Case", "CheckResult", "check", "check_function", "check_number", "questions"]
