"""Chapter 3, "more data" (fig/more_data.py): accuracy against training-set size, NN and SVM.

For each size N the [784,30,10] cross-entropy network is re-initialised with N(0,1) weights
(``large_weight_initializer``) and trained on the first N training images for
1,500,000 // N epochs (the same number of mini-batch steps at every size) with
lmbda = N * 0.0001 (so eq. (93)'s lmbda/n is the same at every size); its accuracy on the
10,000 validation images is measured once, after training. ``SVC(gamma='auto')`` is fitted
on the same N images (deterministic: once).
"""

from __future__ import annotations

from dataclasses import dataclass

from nndl.experiments import baselines, common
from nndl.experiments.spec import Claim, Experiment, Metric, Result


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)  # more_data.py SIZES
    layers: tuple[int, ...] = (784, 30, 10)  # network2.Network([784, 30, 10], ...)
    cost: str = "cross-entropy"  # cost=network2.CrossEntropyCost()
    init: str = "large"  # net.large_weight_initializer() before every size
    steps: int = 1_500_000  # num_epochs = 1500000 / size (Python 2 integer division)
    mini_batch_size: int = 10  # net.SGD(training_data[:size], num_epochs, 10, 0.5, lmbda=size*0.0001)
    eta: float = 0.5  # as above
    lmbda_per_image: float = 0.0001  # lmbda = size * 0.0001
    evaluation: str = "validation"  # net.accuracy(validation_data)
    n_evaluation: int | None = None  # None: all 10,000
    svm: bool = True  # run_svms(): svm.SVC() on the same sizes


def net_config(cfg: Config, size: int) -> common.Net:
    return common.Net(sizes=cfg.layers, cost=cfg.cost, init=cfg.init, n_train=size, evaluation=cfg.evaluation,
                      eta=cfg.eta, lmbda=size * cfg.lmbda_per_image, epochs=cfg.steps // size,
                      mini_batch_size=cfg.mini_batch_size, n_evaluation=cfg.n_evaluation, monitor=())


def run(cfg: Config, seed: int) -> Result:
    runs = {}
    for k, size in enumerate(cfg.sizes):
        h = common.train(net_config(cfg, size), seed, k, final_accuracy=True)
        runs[str(size)] = {"correct": h["final_evaluation_accuracy"], "n_evaluation": h["n_evaluation"],
                           "epochs": len(h["epoch_seconds"]), "seconds": h["seconds"]}
    return {"nn": runs}


def run_once(cfg: Config, cache_dir=None) -> Result:
    if not cfg.svm:
        return {"svm": {}}
    out = {}
    for size in cfg.sizes:
        fit = baselines.svc(size, cache_dir, cfg.n_evaluation)
        out[str(size)] = {"correct": fit[f"{cfg.evaluation}_correct"], "n_evaluation": fit[f"{cfg.evaluation}_n"],
                          "fit_seconds": fit["fit_seconds"], "n_support": fit["n_support"]}
    return {"svm": out}


def quick(cfg: Config) -> Config:
    return Config(sizes=(100, 200, 500, 1000), steps=30_000, n_evaluation=common.QUICK_EVALUATION)


def nn_accuracy(size: int):
    return lambda r: common.percent(r["nn"][str(size)]["correct"], r["nn"][str(size)]["n_evaluation"])


def svm_accuracy(size: int):
    return lambda r: common.percent(r["svm"][str(size)]["correct"], r["svm"][str(size)]["n_evaluation"])


BOOK_NN = {5000: (93.24, "93.24 %"), 50000: (95.97, "95.97 %")}
BOOK_SVM = {50000: (94.48, "94.48 %")}


def metrics(cfg: Config) -> tuple[Metric, ...]:
    nn = tuple(Metric(f"NN validation accuracy at N={n:,} (%)", nn_accuracy(n), *BOOK_NN.get(n, (None, "")))
               for n in cfg.sizes)
    svm = tuple(Metric(f"SVM validation accuracy at N={n:,} (%)", svm_accuracy(n), *BOOK_SVM.get(n, (None, "")),
                       once=True) for n in cfg.sizes)
    return nn + svm


def _grows(r: Result) -> bool:
    acc = [nn_accuracy(n)(r) for n in sorted(int(s) for s in r["nn"])]
    return acc[-1] > acc[0] + 20


def plot(result: Result) -> dict:
    sizes = sorted(int(s) for s in next(iter(result["seeds"].values()))["nn"])
    nn = [[nn_accuracy(n)(r) for n in sizes] for r in result["seeds"].values()]
    figs = {}
    for name, log in (("more_data", False), ("more_data_log", True)):
        fig, ax = common.new_figure()
        common.band(ax, sizes, nn, marker="o", color="C0")
        ax.set(xlabel="Training set size", ylabel="Validation accuracy (%)",
               title="ch3-more-data: [784,30,10] cross-entropy")
        if log:
            ax.set_xscale("log")
        common.note_seeds(ax, result)
        ax.grid(alpha=0.3)
        figs[name] = fig
    svm = result.get("once", {}).get("svm") or {}
    if svm:
        fig, ax = common.new_figure()
        common.band(ax, sizes, nn, label="Neural network accuracy", marker="o", color="C0")
        ax.plot(sizes, [svm_accuracy(n)({"svm": svm}) for n in sizes], "o-", color="C1", label="SVM accuracy")
        ax.set(xscale="log", xlabel="Training set size", ylabel="Validation accuracy (%)",
               title="ch3-more-data: neural network and SVC(gamma='auto')")
        ax.legend(loc="lower right")
        common.note_seeds(ax, result)
        ax.grid(alpha=0.3)
        figs["more_data_comparison"] = fig
    return figs


EXPERIMENTS = (
    Experiment(
        id="ch3-more-data", title="chapter 3, more data (fig/more_data.py)", config=Config(), run=run,
        run_once=run_once, plot=plot, quick=quick, metrics=metrics(Config()),
        claims=(Claim("accuracy grows with the training set (largest N > smallest N + 20 points)", _grows),),
        notes="Accuracy measured once per size, after the last epoch (as more_data.py). The SVM is "
              "deterministic and fitted once per size; its 50,000 fit is ch1-svm's.",
        cost=25.0, extra_versions=("sklearn",)),  # the nine SVM fits dominate
)
