"""The experiments by id, in the order of BOOK.md's table "Experiments to reproduce"."""

from __future__ import annotations

from nndl.experiments import (
    baselines,
    chapter1,
    chapter3,
    chapter5,
    chapter6,
    more_data,
    multiple_eta,
    overfitting,
    saturation,
    weight_init,
)
from nndl.experiments.spec import Experiment

_ALL = (*chapter1.EXPERIMENTS, *baselines.EXPERIMENTS, *saturation.EXPERIMENTS, *chapter3.EXPERIMENTS[:2],
        *overfitting.EXPERIMENTS, *chapter3.EXPERIMENTS[2:6], *more_data.EXPERIMENTS, *weight_init.EXPERIMENTS,
        *multiple_eta.EXPERIMENTS, *chapter3.EXPERIMENTS[6:], *chapter5.EXPERIMENTS,
        *chapter6.EXPERIMENTS)

#: id -> Experiment, in BOOK.md's order.
REGISTRY: dict[str, Experiment] = {e.id: e for e in _ALL}

IDS: tuple[str, ...] = tuple(REGISTRY)


def get(id_: str) -> Experiment:
    try:
        return REGISTRY[id_]
    except KeyError:
        raise KeyError(f"unknown experiment {id_!r}; choose from: {', '.join(IDS)}") from None
