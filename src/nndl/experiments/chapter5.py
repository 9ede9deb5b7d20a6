"""Chapter 5: deeper networks (accuracy) and the speed of learning of each hidden layer.

ch5-depth: [784,30,10] up to four hidden layers of 30, cross-entropy, default init,
eta = 0.1, lmbda = 5.0, 30 epochs on 50,000 images, validation accuracy per epoch.

ch5-speed: the nets with 2, 3 and 4 hidden layers, fresh, trained on the first 1,000
images with mini-batches of 1,000 (full batch) for 500 epochs; at the start of each epoch
the norm ||dC/db^l|| of each hidden layer's mean bias gradient over the 1,000 images is
recorded (BP3; eq. 122 explains why the first layers' is small), then one full-batch step
of eq. (93)/(94) is taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nndl.experiments import common
from nndl.experiments.spec import Claim, Experiment, Metric, Result


@dataclass(frozen=True)
class DepthConfig:
    hidden_layers: tuple[int, ...] = (1, 2, 3, 4)  # chap5: [784,30,10] ... [784,30,30,30,30,10]
    width: int = 30  # 30 neurons per hidden layer
    cost: str = "cross-entropy"  # network2.Network(..., cost=CrossEntropyCost)
    init: str = "default"  # network2's default initialization
    n_train: int = 50_000  # training_data
    evaluation: str = "validation"  # evaluation_data=validation_data
    eta: float = 0.1  # net.SGD(training_data, 30, 10, 0.1, lmbda=5.0, ...)
    lmbda: float = 5.0  # as above
    epochs: int = 30  # as above
    mini_batch_size: int = 10  # as above
    n_evaluation: int | None = None  # None: all 10,000


@dataclass(frozen=True)
class SpeedConfig:
    hidden_layers: tuple[int, ...] = (2, 3, 4)  # chap5: the speed of learning for 2, 3 and 4 hidden layers
    width: int = 30  # hidden layers of 30
    cost: str = "cross-entropy"  # as ch5-depth
    init: str = "default"  # as ch5-depth, fresh networks
    n_train: int = 1000  # the first 1,000 training images
    mini_batch_size: int = 1000  # = n: one full-batch step per epoch
    eta: float = 0.1  # eta = 0.1
    lmbda: float = 5.0  # lmbda = 5.0
    epochs: int = 500  # 500 epochs
    gradient_examples: int = 1000  # dC/db averaged over the 1,000 images


def _sizes(layers: int, width: int) -> tuple[int, ...]:
    return (784, *([width] * layers), 10)


def _name(layers: int) -> str:
    return f"{layers}-hidden"


def run_depth(cfg: DepthConfig, seed: int) -> Result:
    out = {}
    for k, layers in enumerate(cfg.hidden_layers):
        net = common.Net(sizes=_sizes(layers, cfg.width), cost=cfg.cost, init=cfg.init, n_train=cfg.n_train,
                         evaluation=cfg.evaluation, eta=cfg.eta, lmbda=cfg.lmbda, epochs=cfg.epochs,
                         mini_batch_size=cfg.mini_batch_size, n_evaluation=cfg.n_evaluation)
        out[_name(layers)] = common.train(net, seed, k)
    return {"nets": out}


def run_speed(cfg: SpeedConfig, seed: int) -> Result:
    out = {}
    for k, layers in enumerate(cfg.hidden_layers):
        net = common.Net(sizes=_sizes(layers, cfg.width), cost=cfg.cost, init=cfg.init, n_train=cfg.n_train,
                         evaluation=None, eta=cfg.eta, lmbda=cfg.lmbda, epochs=cfg.epochs,
                         mini_batch_size=cfg.mini_batch_size, monitor=("gradient_norms",))
        out[_name(layers)] = common.train(net, seed, k, gradient_norm_examples=cfg.gradient_examples)
    return {"nets": out}


def quick_depth(cfg: DepthConfig) -> DepthConfig:
    n = 2000
    return dataclasses.replace(cfg, n_train=n, lmbda=cfg.lmbda * n / cfg.n_train, epochs=2,
                               n_evaluation=common.QUICK_EVALUATION)


def quick_speed(cfg: SpeedConfig) -> SpeedConfig:
    return dataclasses.replace(cfg, epochs=50)


def best_accuracy(layers: int):
    def f(r: Result) -> float:
        h = r["nets"][_name(layers)]
        return common.percent(max(h["evaluation_accuracy"]), h["n_evaluation"])
    return f


def norms(r: Result, layers: int) -> np.ndarray:
    """(epochs, hidden layers) array of ||dC/db^l||, first hidden layer first."""
    return np.asarray(r["nets"][_name(layers)]["gradient_norms"])


def speed_ratio(layers: int, epoch: int | None = 0):
    """Last hidden layer's speed over the first's, at ``epoch`` (None: median over all epochs)."""
    def f(r: Result) -> float:
        g = norms(r, layers)
        ratios = g[:, -1] / g[:, 0]
        return float(ratios[epoch] if epoch is not None else np.median(ratios))
    return f


def _first_slower(r: Result) -> bool:
    return all(speed_ratio(int(name.split("-")[0]), None)(r) > 1.0 and speed_ratio(int(name.split("-")[0]))(r) > 1.0
               for name in r["nets"])


def plot_depth(result: Result) -> dict:
    seeds = list(result["seeds"].values())
    fig, ax = common.new_figure()
    for layers in result["config"]["hidden_layers"]:
        runs = [[common.percent(c, r["nets"][_name(layers)]["n_evaluation"])
                 for c in r["nets"][_name(layers)]["evaluation_accuracy"]] for r in seeds]
        common.band(ax, range(len(runs[0])), runs, label=str(list(_sizes(layers, result["config"]["width"]))))
    ax.set(xlabel="Epoch", ylabel="Validation accuracy (%)", title="ch5-depth")
    ax.legend(loc="lower right", fontsize=8)
    common.note_seeds(ax, result)
    ax.grid(alpha=0.3)
    return {"depth": fig}


def plot_speed(result: Result) -> dict:
    seeds = list(result["seeds"].values())
    figs = {}
    for layers in result["config"]["hidden_layers"]:
        fig, ax = common.new_figure()
        for layer in range(layers):
            runs = [norms(r, layers)[:, layer] for r in seeds]
            common.band(ax, range(len(runs[0])), runs, label=f"Hidden layer {layer + 1}")
        ax.set(yscale="log", xlabel="Epoch (one full-batch step each)", ylabel="Speed of learning, ||dC/db||",
               title=f"ch5-speed: {list(_sizes(layers, result['config']['width']))}")
        ax.legend(fontsize=8)
        common.note_seeds(ax, result)
        ax.grid(alpha=0.3, which="both")
        figs[f"training_speed_{layers}_layers"] = fig
    return figs


EXPERIMENTS = (
    Experiment(
        id="ch5-depth", title="chapter 5, deeper networks", config=DepthConfig(), run=run_depth, plot=plot_depth,
        quick=quick_depth, metrics=tuple(Metric(f"{list(_sizes(n, 30))}: best validation accuracy (%)",
                                                best_accuracy(n)) for n in DepthConfig().hidden_layers),
        cost=3.0),
    Experiment(
        id="ch5-speed", title="chapter 5, speed of learning per hidden layer", config=SpeedConfig(), run=run_speed,
        plot=plot_speed, quick=quick_speed,
        metrics=tuple(m for n in SpeedConfig().hidden_layers for m in (
            Metric(f"{n} hidden layers: last / first hidden layer speed, epoch 0", speed_ratio(n)),
            Metric(f"{n} hidden layers: last / first hidden layer speed, median over epochs",
                   speed_ratio(n, None)))),
        claims=(Claim("the first hidden layer learns slower than the last (at epoch 0 and in the median over "
                      "epochs), for 2, 3 and 4 hidden layers", _first_slower),),
        notes="Speed = ||mean over the 1,000 images of dC/db^l|| (cross-entropy, without the L2 term, which "
              "does not touch biases), recorded before each epoch's single full-batch step.",
        cost=1.0),
)
