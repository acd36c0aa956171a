"""Every optimizer of the course, written from scratch on top of ``torch.optim.Optimizer``.

The torch counterparts (:class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adadelta`,
:class:`Adam`, :class:`AdamW`, :class:`NAdam`, :class:`RAdam`, :class:`Adamax`, and from chapter 8
:class:`Muon` and :class:`Adafactor`) take the same arguments with the same defaults (minus
``foreach``/``fused``/``capturable``/``differentiable``) and give the same parameter trajectories,
step for step; their state dicts are interchangeable with torch.optim's. :class:`Lion` matches the
``lion-pytorch`` package and :class:`AdamWScheduleFree` the ``schedulefree`` package (both test
dependencies only). :class:`SutskeverSGD` and :class:`NAG` are the textbook forms of momentum and
Nesterov's method that torch does not have. :func:`compiled` runs an optimizer's own step through
``torch.compile`` (chapter 7).
"""

from ._compiled import (
    STORE_SCALARS,
    CompilerUnavailableWarning,
    compiled,
    cpp_compiler,
    is_compiled,
)
from .adabelief import AdaBelief
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .lion import Lion
from .muon import Muon
from .nadam import NAdam
from .nesterov import NAG
from .radam import RAdam
from .rmsprop import RMSprop
from .schedulefree import AdamWScheduleFree
from .sgd import SGD
from .sutskever import SutskeverSGD
from .yogi import Yogi

__all__ = [
    "NAG",
    "SGD",
    "STORE_SCALARS",
    "AdaBelief",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "CompilerUnavailableWarning",
    "Lion",
    "Muon",
    "NAdam",
    "RAdam",
    "RMSprop",
    "SutskeverSGD",
    "Yogi",
    "compiled",
    "cpp_compiler",
    "is_compiled",
]
