"""Chapter 3, overfitting and regularization (fig/overfitting.py): 1,000 training images.

The [784,30,10] cross-entropy network with N(0,1) init trained on the first 1,000 training
images for 400 epochs, monitoring network2's four histories on the 10,000 test images and
the 1,000 training images: without L2 (ch3-overfit) and with lmbda = 0.1 (ch3-reg-1000).

Costs are the mean cost plus the L2 term of eq. (85) with n = 1,000 (the training-set
size) for *both* curves. network2's ``total_cost`` divides the test curve's L2 term by
10,000 instead; ``sum_w2`` (stored per epoch) gives that variant:
mean + lmbda/(2*10,000) * sum_w2 = nndl's test cost - lmbda/2 (1/1,000 - 1/10,000) sum_w2.
"""

from __future__ import annotations

import dataclasses

from nndl.experiments import common, single
from nndl.experiments.spec import Claim, Experiment, Metric, Result

MONITOR_ALL = ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy")

OVERFIT = common.Net(
    sizes=(784, 30, 10),  # overfitting.py: network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    cost="cross-entropy",  # as above
    init="large",  # net.large_weight_initializer()
    n_train=1000,  # training_data[:1000]
    evaluation="test",  # evaluation_data=test_data
    eta=0.5,  # net.SGD(..., 10, 0.5, ...)
    lmbda=0.0,  # no regularization
    epochs=400,  # num_epochs = 400
    mini_batch_size=10,  # mini-batches of 10
    monitor=MONITOR_ALL,  # monitor_evaluation_cost/accuracy, monitor_training_cost/accuracy=True
)
REG_1000 = dataclasses.replace(
    OVERFIT,
    lmbda=0.1,  # chap3: "the regularization parameter lambda = 0.1"
)
QUICK_EPOCHS = 100  # 1,000 images memorised; the L2 gap 1.8-3 points narrower (seeds 0-3, measured)


def quick(cfg: common.Net) -> common.Net:
    return dataclasses.replace(cfg, epochs=QUICK_EPOCHS, n_evaluation=common.QUICK_EVALUATION)


def gap(r: Result) -> float:
    """Training minus test accuracy after the last epoch, in points."""
    return single.final("training_accuracy")(r) - single.final()(r)


METRICS = (
    Metric("best test accuracy (%)", single.best()),
    Metric("last-epoch test accuracy (%)", single.final()),
    Metric("last-epoch training accuracy (%)", single.final("training_accuracy")),
    Metric("gap, training - test accuracy, last epoch (points)", gap),
    Metric("last-epoch training cost", lambda r: r["history"]["training_cost"][-1]),
    Metric("lowest test cost", lambda r: min(r["history"]["evaluation_cost"])),
    Metric("epoch of the lowest test cost", lambda r: min(range(len(r["history"]["evaluation_cost"])),
                                                          key=r["history"]["evaluation_cost"].__getitem__)),
)


def plot(result: Result) -> dict:
    """The book's four figures (x from 200 for training cost and test accuracy) and both accuracies."""
    seeds = list(result["seeds"].values())
    epochs = len(seeds[0]["history"]["training_cost"])
    late = min(200, epochs // 2)  # overfitting.py make_plots: training_cost_xmin=200, test_accuracy_xmin=200
    panels = (  # (name, history key, from epoch, y label)
        ("training_cost", "training_cost", late, "Cost on the training data"),
        ("test_accuracy", "evaluation_accuracy", late, "Accuracy (%) on the test data"),
        ("test_cost", "evaluation_cost", 0, "Cost on the test data"),
        ("training_accuracy", "training_accuracy", 0, "Accuracy (%) on the training data"),
    )
    figs = {}
    for name, key, xmin, ylabel in panels:
        fig, ax = common.new_figure()
        if key.endswith("accuracy"):
            runs = [single.accuracies(r, key) for r in seeds]
        else:
            runs = [r["history"][key] for r in seeds]
        common.band(ax, range(xmin, epochs), [run[xmin:] for run in runs], color="C0")
        title = f"{result['id']}: {ylabel.lower()} (lmbda={result['config']['lmbda']})"
        if xmin:  # say why the curve does not start at epoch 0
            title += (f"\nfrom epoch {xmin}, as in the book: the first epochs' "
                      f"{'large cost' if 'cost' in key else 'low accuracy'} would flatten the rest")
        ax.set(xlabel="Epoch", ylabel=ylabel, xlim=(xmin, epochs))
        ax.set_title(title, fontsize=10)
        common.note_seeds(ax, result)
        ax.grid(alpha=0.3)
        figs[name] = fig
    fig, ax = common.new_figure()
    common.band(ax, range(epochs), [single.accuracies(r) for r in seeds], label="Accuracy on the test data")
    common.band(ax, range(epochs), [single.accuracies(r, "training_accuracy") for r in seeds],
                label="Accuracy on the training data")
    ax.set(xlabel="Epoch", ylabel="Accuracy (%)", title=f"{result['id']}: training vs test accuracy")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    figs["accuracies"] = fig
    return figs


NOTES = ("Cost curves: mean cost + lmbda/(2n) sum w^2 with n = 1,000 (eq. 85) on both data sets; "
         "network2 divides the test curve's L2 term by 10,000 (sum_w2 is stored to recompute it).")

EXPERIMENTS = (
    Experiment(id="ch3-overfit", title="chapter 3, overfitting (fig/overfitting.py)", config=OVERFIT,
               run=single.run, plot=plot, quick=quick, metrics=METRICS, notes=NOTES, cost=1.0, claims=(
                   Claim("training accuracy climbs far above test accuracy (gap > 10 points)",
                         lambda r: gap(r) > 10.0),
                   Claim("test cost reaches its lowest point long before the last epoch (first half)",
                         lambda r: METRICS[-1].extract(r) < len(r["history"]["evaluation_cost"]) / 2),
               )),
    Experiment(id="ch3-reg-1000", title="chapter 3, regularization, 1,000 images", config=REG_1000,
               run=single.run, plot=plot, quick=quick, metrics=METRICS, notes=NOTES, cost=1.0, claims=(
                   Claim("test accuracy keeps rising through the second half (last 200 epochs beat the first 200)",
                         lambda r: single.best()(r) > max(single.accuracies(r)[: len(r["history"]["epoch_seconds"]) // 2])),
               )),
)
