"""One network trained on MNIST, accuracy per epoch: most ids of chapters 1 and 3.

``run`` trains ``cfg`` (a ``common.Net``) with one seed; ``plot`` draws the book's
"accuracy per epoch" curve (median and range over the seeds); ``quick`` keeps the network,
cost, init and eta, and shrinks the data (2,000 training images, ``lmbda`` scaled with it so
that eq. (93)'s lmbda/n stays the book's) and the epochs (3).
"""

from __future__ import annotations

import dataclasses

from nndl.experiments import common
from nndl.experiments.spec import Metric, Result

QUICK_TRAIN = 2000
QUICK_EPOCHS = 3


def run(cfg: common.Net, seed: int) -> Result:
    return {"history": common.train(cfg, seed)}


def quick(cfg: common.Net, n_train: int = QUICK_TRAIN, epochs: int = QUICK_EPOCHS) -> common.Net:
    n = min(cfg.n_train, n_train)
    return dataclasses.replace(cfg, n_train=n, lmbda=cfg.lmbda * n / cfg.n_train,  # same lmbda/n
                               epochs=min(cfg.epochs, epochs), n_evaluation=common.QUICK_EVALUATION)


def accuracies(seed_result: Result, key: str = "evaluation_accuracy") -> list[float]:
    h = seed_result["history"]
    n = h["n_evaluation"] if key.startswith("evaluation") else h["n_training"]
    return [common.percent(c, n) for c in h[key]]


def best(key: str = "evaluation_accuracy"):
    return lambda r: max(accuracies(r, key))


def final(key: str = "evaluation_accuracy"):
    return lambda r: accuracies(r, key)[-1]


def at_epoch(epoch: int, key: str = "evaluation_accuracy"):
    return lambda r: accuracies(r, key)[epoch]


def metrics(cfg: common.Net, book: float | None = None, book_text: str = "") -> tuple[Metric, ...]:
    """Best and last-epoch accuracy on the evaluation set; the book's number goes with the best."""
    where = cfg.evaluation
    return (Metric(f"best {where} accuracy (%)", best(), book, book_text),
            Metric(f"last-epoch {where} accuracy (%)", final()))


def plot(result: Result) -> dict:
    cfg = result["config"]
    seeds = list(result["seeds"].values())
    fig, ax = common.new_figure()
    epochs = range(len(seeds[0]["history"]["evaluation_accuracy"]))
    common.band(ax, epochs, [accuracies(r) for r in seeds], label=f"{cfg['evaluation']} data")
    if seeds[0]["history"]["training_accuracy"]:
        common.band(ax, epochs, [accuracies(r, "training_accuracy") for r in seeds], label="training data")
        ax.legend()
    sizes = "-".join(map(str, cfg["sizes"]))
    ax.set(xlabel="Epoch", ylabel="Accuracy (%)",
           title=f"{result['id']}: [{sizes}] {cfg['cost']}, eta={cfg['eta']}, lmbda={cfg['lmbda']}")
    common.note_seeds(ax, result)
    ax.grid(alpha=0.3)
    return {"accuracy": fig}
