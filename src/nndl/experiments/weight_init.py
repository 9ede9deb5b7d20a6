"""Chapter 3, weight initialization (fig/weight_initialization.py): N(0, 1/n_in) vs N(0, 1).

For 30 and 100 hidden neurons: the cross-entropy network trained with network2's default
initialization (weights N(0, 1/n_in), biases N(0, 1)) and with the "large" N(0, 1) one,
validation accuracy after every epoch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nndl.experiments import common
from nndl.experiments.spec import Claim, Experiment, Metric, Result

INITS = ("default", "large")


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (30, 100)  # weight_initialization.py: run_network for n = 30 and n = 100
    cost: str = "cross-entropy"  # network2.Network([784, n, 10], cost=network2.CrossEntropyCost)
    n_train: int = 50_000  # training_data
    evaluation: str = "validation"  # evaluation_data=validation_data
    eta: float = 0.1  # eta = 0.1 (chap3: "eta = 0.1")
    lmbda: float = 5.0  # lmbda = 5.0
    epochs: int = 30  # net.SGD(training_data, 30, 10, eta, ...)
    mini_batch_size: int = 10  # mini-batches of 10
    n_evaluation: int | None = None  # None: all 10,000


def nets(cfg: Config) -> dict[str, common.Net]:
    return {f"{n}-{init}": common.Net(sizes=(784, n, 10), cost=cfg.cost, init=init, n_train=cfg.n_train,
                                      evaluation=cfg.evaluation, eta=cfg.eta, lmbda=cfg.lmbda, epochs=cfg.epochs,
                                      mini_batch_size=cfg.mini_batch_size, n_evaluation=cfg.n_evaluation)
            for n in cfg.hidden for init in INITS}


def run(cfg: Config, seed: int) -> Result:
    return {"nets": {name: common.train(net, seed, k) for k, (name, net) in enumerate(nets(cfg).items())}}


def quick(cfg: Config) -> Config:
    n = 5000
    return dataclasses.replace(cfg, n_train=n, lmbda=cfg.lmbda * n / cfg.n_train, epochs=2,
                               n_evaluation=common.QUICK_EVALUATION)


def accuracy(name: str, epoch: int | None = None):
    def f(r: Result) -> float:
        h = r["nets"][name]
        acc = [common.percent(c, h["n_evaluation"]) for c in h["evaluation_accuracy"]]
        return max(acc) if epoch is None else acc[epoch]
    return f


def _default_ahead(r: Result) -> bool:
    hidden = sorted({int(name.split("-")[0]) for name in r["nets"]})
    return all(accuracy(f"{n}-default", 0)(r) > accuracy(f"{n}-large", 0)(r) for n in hidden)


def plot(result: Result) -> dict:
    seeds = list(result["seeds"].values())
    figs = {}
    for n in result["config"]["hidden"]:
        fig, ax = common.new_figure()
        for init, label in (("large", "Old approach to weight initialization, N(0,1)"),
                            ("default", "New approach to weight initialization, N(0,1/n_in)")):
            runs = [[common.percent(c, r["nets"][f"{n}-{init}"]["n_evaluation"])
                     for c in r["nets"][f"{n}-{init}"]["evaluation_accuracy"]] for r in seeds]
            common.band(ax, range(len(runs[0])), runs, label=label)
        ax.set(xlabel="Epoch", ylabel="Validation accuracy (%)",
               title=f"ch3-weight-init: [784,{n},10]")
        ax.legend(loc="lower right", fontsize=8)
        common.note_seeds(ax, result)
        ax.grid(alpha=0.3)
        figs[f"weight_initialization_{n}"] = fig
    return figs


EXPERIMENTS = (
    Experiment(
        id="ch3-weight-init", title="chapter 3, weight initialization (fig/weight_initialization.py)",
        config=Config(), run=run, plot=plot, quick=quick,
        metrics=tuple(m for n in Config().hidden for init in INITS for m in (
            Metric(f"[784,{n},10] {init} init: validation accuracy after epoch 0 (%)", accuracy(f"{n}-{init}", 0)),
            Metric(f"[784,{n},10] {init} init: best validation accuracy (%)", accuracy(f"{n}-{init}")))),
        claims=(Claim("default init is ahead of large init after the first epoch (both sizes)", _default_ahead),),
        cost=4.0),
)
