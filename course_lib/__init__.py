"""course_lib: the from-scratch optimizers and shared helpers of the course.

Import what a page needs from the submodules (``course_lib.optim``, ``course_lib.landscapes``, ...);
the two helpers every page uses are re-exported here.
"""

from course_lib.device import get_device
from course_lib.seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "get_device", "seed_everything"]
