"""nndl: the networks of Michael Nielsen's *Neural Networks and Deep Learning*.

Chapters 1-3 and 5 as a fast, verified library: sigmoid networks trained by
mini-batch SGD with backpropagation (BP1-BP4), the quadratic, cross-entropy and
softmax + log-likelihood costs, L2/L1 regularization, momentum, dropout and the
book's experiments.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
