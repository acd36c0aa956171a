"""Measuring what a step costs.

* :mod:`~course_lib.measure.traffic` — the operators a call dispatches and the bytes they move;
* :mod:`~course_lib.measure.timing` — wall-clock time of short calls (warm-up, synchronisation, median);
* :mod:`~course_lib.measure.cost` — the roofline: the least bytes a step must move, fresh memory
  per call (page faults), copy bandwidth,
  matrix-multiply throughput, attainable flop/s.
"""
