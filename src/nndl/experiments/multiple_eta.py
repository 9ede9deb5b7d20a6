"""Chapter 3, choosing eta (fig/multiple_eta.py): training cost per epoch for three etas."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nndl.experiments import common
from nndl.experiments.spec import Experiment, Metric, Result


@dataclass(frozen=True)
class Config:
    etas: tuple[float, ...] = (0.025, 0.25, 2.5)  # multiple_eta.py: LEARNING_RATES
    sizes: tuple[int, ...] = (784, 30, 10)  # network2.Network([784, 30, 10]) for each eta
    cost: str = "cross-entropy"  # network2's default cost
    init: str = "default"  # network2's default initialization
    n_train: int = 50_000  # training_data
    lmbda: float = 5.0  # net.SGD(training_data, NUM_EPOCHS, 10, eta, lmbda=5.0, ...)
    epochs: int = 30  # NUM_EPOCHS = 30
    mini_batch_size: int = 10  # mini-batches of 10


def run(cfg: Config, seed: int) -> Result:
    runs = {}
    for k, eta in enumerate(cfg.etas):
        net = common.Net(sizes=cfg.sizes, cost=cfg.cost, init=cfg.init, n_train=cfg.n_train, evaluation=None,
                         eta=eta, lmbda=cfg.lmbda, epochs=cfg.epochs, mini_batch_size=cfg.mini_batch_size,
                         monitor=("training_cost",))
        runs[str(eta)] = common.train(net, seed, k)
    return {"etas": runs}


def quick(cfg: Config) -> Config:
    n = 2000
    return dataclasses.replace(cfg, n_train=n, lmbda=cfg.lmbda * n / cfg.n_train, epochs=3)


def plot(result: Result) -> dict:
    seeds = list(result["seeds"].values())
    fig, ax = common.new_figure()
    for eta in result["config"]["etas"]:
        runs = [r["etas"][str(eta)]["training_cost"] for r in seeds]
        common.band(ax, range(len(runs[0])), runs, label=f"eta = {eta}")
    ax.set(xlabel="Epoch", ylabel="Cost on the training data",
           title="ch3-multiple-eta: [784,30,10], lmbda=5")
    ax.legend()
    common.note_seeds(ax, result)
    ax.grid(alpha=0.3)
    return {"multiple_eta": fig}


def _cost(eta: float, which: str):
    return lambda r: (min if which == "lowest" else lambda c: c[-1])(r["etas"][str(eta)]["training_cost"])


EXPERIMENTS = (
    Experiment(
        id="ch3-multiple-eta", title="chapter 3, multiple eta (fig/multiple_eta.py)", config=Config(),
        run=run, plot=plot, quick=quick,
        metrics=tuple(Metric(f"eta={eta}: {which} training cost", _cost(eta, which))
                      for eta in Config().etas for which in ("last-epoch", "lowest")),
        notes="Training cost = mean cross-entropy over the 50,000 images + lmbda/(2*50,000) sum w^2 "
              "(eq. 85; here network2's total_cost agrees, the evaluated set being the training set).",
        cost=1.5),
)
