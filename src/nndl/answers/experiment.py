"""Small, quiet training runs for the answers: a subsample of MNIST (the 8x8 digits when
MNIST is not on this machine), nndl's own SGD, and what a run reports.

The answers keep their runs small (seconds) so that the test suite can run them all; each
network-training answer has a ``full`` size for ``--full``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from nndl.errors import NndlError


class Subset(NamedTuple):
    """Training and evaluation examples: X (n, n_in) in [0, 1], y (n,) int labels."""

    X: np.ndarray
    y: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    description: str  # e.g. "5,000 MNIST training images, 1,000 validation images"

    @property
    def n_in(self) -> int:
        return int(self.X.shape[1])


def subset(n_train: int, n_eval: int, data: str = "auto") -> Subset:
    """The first ``n_train`` training and ``n_eval`` validation images of MNIST when it is on
    this machine (``NNDL_DATA``, the cache; never downloaded), else of the 8x8 digits
    (capped at what they hold). ``data``: "auto", "mnist" or "digits"."""
    from nndl.data import load_dataset, load_digits

    splits = load_digits() if data == "digits" else load_dataset(data, download=False)
    tr, ev = splits.training.head(n_train), splits.validation.head(n_eval)
    name = "MNIST" if splits.name == "mnist" else "8x8 digits (MNIST is not on this machine)"
    return Subset(tr.X, tr.y, ev.X, ev.y,
                  f"{len(tr.X):,} {name} training images, {len(ev.X):,} validation images")


@contextmanager
def quiet_training():
    """Silence nndl.training's per-epoch INFO lines and its advice (an answer reports its own
    numbers; its runs are deliberate experiments, e.g. eta = 40 on purpose, so "stuck at
    chance ... eta is far too large" is not advice to the reader). Warnings stay in
    ``history.warnings``; errors are still logged."""
    logger = logging.getLogger("nndl.training")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def train(net, data: Subset, epochs: int, mini_batch_size: int, eta: float, lmbda: float = 0.0,
          *, seed: int = 0, **options):
    """Train ``net`` on ``data`` by nndl's SGD (eqs. 93-94), monitoring validation accuracy.

    Returns ``(history, status)``: the :class:`nndl.training.TrainingHistory` (None if it
    diverged) and "ok" or "diverged" (weights became NaN or infinite).
    """
    from nndl.training import sgd

    options.setdefault("monitor_evaluation_accuracy", True)
    with quiet_training():
        try:
            h = sgd(net, (data.X, data.y), epochs, mini_batch_size, eta, lmbda,
                    evaluation_data=(data.X_eval, data.y_eval), rng=np.random.default_rng(seed),
                    **options)
        except NndlError:  # DivergenceError
            return None, "diverged"
    return h, "ok"


def accuracies(history, n_eval: int) -> list[float]:
    """Validation accuracies per epoch, as fractions."""
    return [a / n_eval for a in history.evaluation_accuracy] if history is not None else []
