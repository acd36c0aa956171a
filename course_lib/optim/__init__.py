"""Every optimizer of the course, written from scratch on top of ``torch.optim.Optimizer``.

The torch counterparts (:class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adadelta`,
:class:`Adam`, :class:`AdamW`, :class:`NAdam`) take the same arguments with the same defaults
(minus ``foreach``/``fused``/``capturable``/``differentiable``) and give the same parameter
trajectories, step for step; their state dicts are interchangeable with torch.optim's.
:class:`SutskeverSGD` and :class:`NAG` are the textbook forms of momentum and Nesterov's
method that torch does not have. :func:`compiled` runs an optimizer's own step through
``torch.compile``.
"""

from ._compiled import STORE_SCALARS, CompilerUnavailableWarning, compiled, cpp_compiler, is_compiled
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .nadam import NAdam
from .nesterov import NAG
from .rmsprop import RMSprop
from .sgd import SGD
from .sutskever import SutskeverSGD

__all__ = [
    "NAG",
    "SGD",
    "STORE_SCALARS",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "CompilerUnavailableWarning",
    "NAdam",
    "RMSprop",
    "SutskeverSGD",
    "compiled",
    "cpp_compiler",
    "is_compiled",
]
