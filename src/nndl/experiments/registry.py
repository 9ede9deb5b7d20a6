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


def describe(exp: Experiment) -> str:
    """One line that tells ``exp`` apart from the other ids: its title and, for one network, its settings."""
    from nndl.experiments.common import Net

    cfg = exp.config
    if not isinstance(cfg, Net):
        return exp.title
    sizes = "-".join(map(str, cfg.sizes))
    lmbda = f", lmbda {cfg.lmbda:g}" if cfg.lmbda else ""
    watched = ", ".join(m.replace("_", " ") for m in cfg.monitor if m != "evaluation_accuracy")
    watched = f"; also {watched}" if watched else ""
    return (f"{exp.title}: [{sizes}] {cfg.cost}, eta {cfg.eta:g}{lmbda}, "
            f"{cfg.n_train:,} training images, {cfg.epochs} epochs, on {cfg.evaluation} data{watched}")


def get(id_: str) -> Experiment:
    try:
        return REGISTRY[id_]
    except KeyError:
        raise KeyError(f"unknown experiment {id_!r}; choose from: {', '.join(IDS)}") from None
