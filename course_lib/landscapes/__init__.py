"""Loss landscapes for the dynamics chapters: small, analytic, batched.

Every landscape follows the protocol of the course's conventions: an attribute ``dim``, and methods
``loss(theta)`` and ``grad(theta)`` where ``theta`` has shape ``(..., dim)`` (any leading batch
dimensions, so that many trajectories run at once); ``loss`` returns shape ``(...)``, ``grad``
shape ``(..., dim)``, both in plain torch ops (autograd works through ``loss``) and in ``theta``'s
device and dtype. The gradient is analytic, so a step costs a few tensor operations.
"""

from course_lib.landscapes.counterexample import LessardCounterexample
from course_lib.landscapes.quadratic import Quadratic
from course_lib.landscapes.two_d import TwoBasins

__all__ = ["LessardCounterexample", "Quadratic", "TwoBasins"]
from course_lib.landscapes.one_d import NarrowWideDoubleWell as NarrowWideDoubleWell  # chapter 2
from course_lib.landscapes.tilted_double_well import TiltedDoubleWell as TiltedDoubleWell  # chapter 3
