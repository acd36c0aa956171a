"""The trusted grader: ``grading`` (the batch and the CSV), ``session`` (one submission), ``sandbox``
(bubblewrap, limits, processes) and ``submission`` (tolerant reading of a submitted notebook).

The student's code runs only inside the sandbox, in :mod:`course_lib.exercises.harness`.
"""
