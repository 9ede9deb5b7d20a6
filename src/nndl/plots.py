"""Figures of training runs and evaluations, with matplotlib's object API.

Every ``plot_*`` function draws into an ``Axes`` (or a ``Figure``) it is given and
returns it, so a caller can compose, restyle or inspect them; ``new_figure`` makes a
``matplotlib.figure.Figure`` without pyplot and ``save_png`` writes one atomically.
Nothing here selects a backend or touches pyplot's global state: a library that did
would override the user's choice (a notebook's inline backend, ``MPLBACKEND``).

The histories are the dicts of ``TrainingHistory.to_dict()`` (the ``"history"`` of a
run's ``history.json``), so old runs can be re-plotted:
``plot_run(folder, nndl.runs.read_history(folder)["history"])``. Epochs are numbered
from 0, as the book prints them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RUN_PLOTS = ("cost.png", "accuracy.png", "speed.png")
DPI = 100


def new_figure(width: float = 6.4, height: float = 4.0):
    """A ``Figure`` with constrained layout, not registered with pyplot."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save_png(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG, atomically (temporary file, then rename)."""
    from nndl.io import atomic_write

    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI)
    return path


def plot_cost(ax, history: dict[str, Any], evaluation: str = "evaluation"):
    """Training and evaluation cost per epoch (whichever were monitored).

    ``evaluation`` names the evaluation set in the legend: "test", "validation" (as the
    book's figures say "test data"), or the neutral default "evaluation".
    """
    series = [
        (history.get(key) or [], label)
        for key, label in (
            ("training_cost", "training data"),
            ("evaluation_cost", f"{evaluation} data"),
        )
    ]
    return _per_epoch(ax, series, "cost", "Cost per epoch")


def plot_accuracy(ax, history: dict[str, Any], evaluation: str = "evaluation"):
    """Training and evaluation accuracy per epoch, in percent; ``evaluation`` as in ``plot_cost``."""
    series = []
    for key, n_key, label in (
        ("training_accuracy", "n_training", "training data"),
        ("evaluation_accuracy", "n_evaluation", f"{evaluation} data"),
    ):
        counts, n = history.get(key) or [], history.get(n_key) or 0
        series.append(([100.0 * c / n for c in counts] if n else [], label))
    return _per_epoch(ax, series, "accuracy (%)", "Classification accuracy per epoch")


def plot_speed(ax, history: dict[str, Any]):
    """Chapter 5's speed of learning: ||dC/db|| of each hidden layer at the start of each epoch."""
    norms = history.get("gradient_norms") or []
    layers = max((len(row) for row in norms), default=0)
    series = [([row[l] for row in norms], f"hidden layer {l + 1}") for l in range(layers)]
    _per_epoch(
        ax, series, r"$\|\partial C / \partial b\|$", "Speed of learning of each hidden layer"
    )
    ax.set_yscale("log" if norms and all(v > 0 for row in norms for v in row) else "linear")
    return ax


def plot_confusion(ax, matrix, labels: Sequence[str] | None = None):
    """A confusion matrix: rows are the true classes, columns the predicted ones."""
    import numpy as np

    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    labels = [str(i) for i in range(k)] if labels is None else list(labels)
    ax.imshow(matrix, cmap="Blues")
    top = matrix.max() if matrix.size else 0
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if top and v > 0.6 * top else "black",
        )
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    return ax


def plot_image_grid(fig, images, titles: Sequence[str], ncols: int = 5):
    """Square grey images (n, side*side) in a grid with a title each (ink dark on white)."""
    import numpy as np

    images = np.asarray(images)
    n = len(images)
    side = math.isqrt(images.shape[1]) if n else 0
    nrows = max(1, -(-n // ncols))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i].reshape(side, side), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_title(titles[i], fontsize=8)
    return fig


def plot_run(folder: str | Path, history: dict[str, Any], evaluation: str = "evaluation") -> list[Path]:
    """Write a run's cost.png, accuracy.png and speed.png into ``folder``; return their paths.

    ``evaluation``: what the evaluation data are ("test" or "validation", the run's
    ``evaluate_on``), for the legends.
    """
    folder = Path(folder)
    written = []
    for name, draw in zip(RUN_PLOTS, (plot_cost, plot_accuracy, plot_speed)):
        fig = new_figure()
        ax = fig.add_subplot()
        if draw is plot_speed:
            draw(ax, history)
        else:
            draw(ax, history, evaluation)
        written.append(save_png(fig, folder / name))
    return written


def _per_epoch(ax, series, ylabel: str, title: str):
    """One line per (values, label) against the epoch number; "not monitored" if all are empty."""
    from matplotlib.ticker import MaxNLocator

    for values, label in series:
        if values:
            ax.plot(
                range(len(values)), values, marker="." if len(values) < 50 else None, label=label
            )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if max((len(values) for values, _ in series), default=0) == 1:
        ax.set_xlim(-0.5, 0.5)  # one epoch: the tick 0 alone, not fractions of an epoch
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend()
    else:
        ax.text(
            0.5,
            0.5,
            "not monitored",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="grey",
        )
    return ax


def plot_validation_test_accuracy(ax, history: dict[str, Any]):
    """A chapter-6 run's validation and test accuracy per epoch, in percent (``Network3History``).

    The epoch of the best validation accuracy is marked: the book reports the test accuracy there.
    """
    series = [([100.0 * a for a in history.get(key) or []], label)
              for key, label in (("validation_accuracy", "validation data"), ("test_accuracy", "test data"))]
    _per_epoch(ax, series, "accuracy (%)", "Classification accuracy per epoch")
    v = history.get("validation_accuracy") or []
    if v:
        best = max(i for i, a in enumerate(v) if a == max(v))  # network3's >=: the later epoch
        ax.axvline(best, color="0.5", lw=0.8, ls=":", label="best validation epoch")
    return ax
