"""nndl: the networks of Michael Nielsen's *Neural Networks and Deep Learning*.

Chapters 1-3 and 5 as a fast, verified library: sigmoid networks trained by
mini-batch SGD with backpropagation (BP1-BP4), the quadratic, cross-entropy and
softmax + log-likelihood costs, L2/L1 regularization, momentum, dropout and the
book's experiments.

>>> import numpy as np, nndl
>>> net = nndl.Network([4, 3, 2], cost=nndl.CrossEntropyCost, rng=np.random.default_rng(0))
>>> net.feedforward(np.zeros((5, 4))).shape
(5, 2)

The names below are imported on first use (PEP 562), so ``import nndl`` and the
command line's ``nndl --help`` do not pay for NumPy and SciPy until they are needed.
"""

from __future__ import annotations

import importlib
import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_EXPORTS = {
    "Network": "nndl.network",
    "QuadraticCost": "nndl.costs",
    "CrossEntropyCost": "nndl.costs",
    "LogLikelihoodCost": "nndl.costs",
    "COSTS": "nndl.costs",
    "load": "nndl.io",
    "save": "nndl.io",
    "sgd": "nndl.training",
    "Trainer": "nndl.training",
    "TrainingHistory": "nndl.training",
    "NndlError": "nndl.errors",
    "DataError": "nndl.errors",
    "ModelFileError": "nndl.errors",
    "NetworkClassifier": "nndl.sklearn",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nndl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
