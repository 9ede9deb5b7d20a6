"""nndl: the networks of Michael Nielsen's *Neural Networks and Deep Learning*.

Chapters 1-3 and 5 as a fast, verified library: sigmoid networks trained by
mini-batch SGD with backpropagation (BP1-BP4), the quadratic, cross-entropy and
softmax + log-likelihood costs, L2/L1 regularization, momentum, dropout and the
book's experiments.

>>> import numpy as np, nndl
>>> net = nndl.Network([4, 3, 2], cost=nndl.CrossEntropyCost, rng=np.random.default_rng(0))
>>> net.feedforward(np.zeros((5, 4))).shape
(5, 2)
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from nndl.costs import COSTS, CrossEntropyCost, LogLikelihoodCost, QuadraticCost  # noqa: E402
from nndl.errors import DataError, ModelFileError, NndlError  # noqa: E402
from nndl.io import load, save  # noqa: E402
from nndl.network import Network  # noqa: E402
from nndl.training import Trainer, TrainingHistory, sgd  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "Network",
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "COSTS",
    "load",
    "save",
    "sgd",
    "Trainer",
    "TrainingHistory",
    "NndlError",
    "DataError",
    "ModelFileError",
]
