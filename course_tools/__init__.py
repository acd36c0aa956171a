"""The instructor's and author's tools: the trusted grader, the notebook builders, the set-up-cell checker.

Not needed to read the book or to do the exercises (Colab installs only what ``course_lib`` needs);
installed with the ``instructor`` extra (``pip install -e '.[instructor]'``, included in ``book`` and
``test``). Command line::

    python -m course_tools build [--check]                 # student/solution notebooks, exercise pages
    python -m course_tools grade SUBMISSIONS --out CSV     # grade a folder of submissions
    python -m course_tools colab check [--fix] [--offline] # every notebook's set-up cell
"""
