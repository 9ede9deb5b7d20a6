"""Chapter 6: the book's convolutional networks (network3.py), ch6-fc ... ch6-ensemble.

Every id trains the network of BOOK.md's chapter-6 table with network3's conventions
(``nndl.network3``): float32, mini-batch 10, no reshuffle, L2 divided by the number of
mini-batches, the book's initialisation; after each epoch the validation and the test
accuracy. The number the book reports, and the one compared with it, is the TEST accuracy
at the epoch of the best VALIDATION accuracy.

Long runs resume: after every epoch the network and its history go to
``<out>/<id>/checkpoint-seed<S>[-net<K>].npz`` (``Trainer3``'s checkpoint); a second
``nndl experiment ID`` continues after the last finished epoch. When a seed is done its
network is kept as ``net-seed<S>.npz`` (the dropout nets, 6.6 MB each, are not kept) and
the checkpoint removed. Wall time per epoch is in each history's ``epoch_seconds``
(training) and ``eval_seconds`` (the two accuracies after it).

ch6-ensemble trains five ch6-dropout networks (network k of seed s from
``common.rngs(s, k)``) and takes the majority vote of their predicted classes (ties: the
smallest class among the most voted, ``np.argmax`` of the vote counts). Each network's
checkpoint stays until the vote, so an interrupted ensemble resumes inside the network it
was training and does not train the finished ones again. Network 0 of seed s is the
ch6-dropout network of seed s (same settings, same generators), bit for bit.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl.experiments import common
from nndl.experiments.spec import Claim, Experiment, Metric, Result

log = logging.getLogger(__name__)

QUICK_TRAIN = 1000  # --quick: the first 1,000 training images (expanded: of 200 images, x5)
QUICK_EVALUATION = 500  # --quick: the first 500 validation and test images
QUICK_EPOCHS = 2
KEEP_NET_BYTES = 5_000_000  # networks larger than this are not kept in the results folder


@dataclass(frozen=True)
class Ch6Config:
    net: str  # the network, by the id of BOOK.md's table (nndl.network3.BOOK_NETS)
    expanded: bool  # train on the expanded set (expand_mnist.py: 250,000 images)
    eta: float  # net.SGD(training_data, epochs, mini_batch_size, eta, ...)
    lmbda: float  # SGD's lmbda (L2 divided by num_training_batches, network3)
    epochs: int  # epochs
    mini_batch_size: int = 10  # mini_batch_size = 10 everywhere in chapter 6
    n_train: int = 50_000  # training images before expansion (all 50,000)
    n_evaluation: int | None = None  # validation and test images (None: all 10,000 of each)
    ensemble: int = 1  # networks trained (ch6-ensemble: 5, majority vote)
    expand_seed: int = 0  # the one shuffle of the expanded set


def _data(cfg: Ch6Config):
    # float32 only: drop the float64 copy the runner loaded for the data description (440 MB;
    # with the expanded set's 784 MB it would take ch6-expanded past 1.5 GB)
    common.mnist.cache_clear()
    splits = common.mnist(np.float32)
    tr = splits.training
    training = (tr.X[: cfg.n_train], tr.y[: cfg.n_train])
    if cfg.expanded:
        from nndl.expand_mnist import expanded_training_data

        training = expanded_training_data(training, seed=cfg.expand_seed)
    m = cfg.n_evaluation
    validation = (splits.validation.X[:m], splits.validation.y[:m])
    test = (splits.test.X[:m], splits.test.y[:m])
    return training, validation, test


def _train_one(cfg: Ch6Config, seed: int, k: int, data, folder: Path | None) -> tuple[dict, object]:
    from nndl.network3 import book_net

    training, validation, test = data
    init_rng, run_rng = common.rngs(seed, k)
    net = book_net(cfg.net, cfg.mini_batch_size, rng=init_rng)
    suffix = f"-net{k}" if cfg.ensemble > 1 else ""
    checkpoint = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint = folder / f"checkpoint-seed{seed}{suffix}.npz"
    history = _sgd(net, cfg, data, run_rng, checkpoint)
    out = history.to_dict()
    out["best_epoch"] = history.best_epoch
    out["test_accuracy_at_best"] = history.test_accuracy_at_best
    out["seconds"] = float(sum(history.epoch_seconds) + sum(history.eval_seconds))
    out["peak_rss_mb"] = _peak_rss_mb()  # of this process so far (a resumed run: this session's)
    if net.layers[0].kind == "conv":
        out["first_layer_filters"] = np.asarray(net.layers[0].w, np.float64).round(6).tolist()
    if checkpoint is not None and cfg.ensemble == 1:  # an ensemble's: kept until the vote (``run``)
        kept = folder / f"net-seed{seed}{suffix}.npz"
        if checkpoint.stat().st_size <= KEEP_NET_BYTES:
            checkpoint.replace(kept)  # the trained network, with its history in the metadata
        else:
            checkpoint.unlink()
    del training
    return out, net


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _sgd(net, cfg: Ch6Config, data, rng, checkpoint):
    training, validation, test = data
    try:
        return net.SGD(training, cfg.epochs, cfg.mini_batch_size, cfg.eta, validation, test, cfg.lmbda,
                       rng=rng, checkpoint=checkpoint)
    except ValueError as exc:
        if checkpoint is None or "other settings" not in str(exc):
            raise
        log.info("%s: from another configuration; starting afresh", checkpoint)
        checkpoint.unlink()
        return net.SGD(training, cfg.epochs, cfg.mini_batch_size, cfg.eta, validation, test, cfg.lmbda,
                       rng=rng, checkpoint=checkpoint)


def run(cfg: Ch6Config, seed: int, checkpoint_dir: Path | None = None) -> Result:
    data = _data(cfg)
    if cfg.ensemble == 1:
        out, _ = _train_one(cfg, seed, 0, data, checkpoint_dir)
        return {"history": out}
    nets, votes = [], None
    test_X, test_y = data[2]
    for k in range(cfg.ensemble):
        out, net = _train_one(cfg, seed, k, data, checkpoint_dir)
        nets.append(out)
        pred = net.predict(test_X)
        counts = np.zeros((len(test_X), net.n_out), np.int64) if votes is None else votes
        counts[np.arange(len(pred)), pred] += 1
        votes = counts
    ensemble = float(np.mean(np.argmax(votes, axis=1) == test_y))
    if checkpoint_dir is not None:  # every network done: their finished checkpoints go
        for k in range(cfg.ensemble):
            (checkpoint_dir / f"checkpoint-seed{seed}-net{k}.npz").unlink(missing_ok=True)
    return {"nets": nets, "ensemble_test_accuracy": ensemble}


# --quick of the sigmoid conv net: 2 epochs of 1,000 images (200 steps) leave it on the plateau of
# chance (validation 10.4 %); one epoch of 5,000 images (500 steps) reaches about 50 % in a few
# seconds. (ch6-conv2 stays at chance even after 1,000 steps of 10,000 images at eta 0.1-0.3.)
QUICK_SIZES = {"ch6-conv1": {"n_train": 5000, "epochs": 1}}


def quick(cfg: Ch6Config) -> Ch6Config:
    n = QUICK_TRAIN // 5 if cfg.expanded else QUICK_TRAIN
    return dataclasses.replace(cfg, **{"n_train": n, "epochs": min(cfg.epochs, QUICK_EPOCHS),
                                       "n_evaluation": QUICK_EVALUATION, "ensemble": min(cfg.ensemble, 2),
                                       **QUICK_SIZES.get(cfg.net, {})})


def _history(r: Result) -> dict:
    return r["history"] if "history" in r else r["nets"][0]


def test_at_best(r: Result) -> float:
    return 100.0 * _history(r)["test_accuracy_at_best"]


def best_validation(r: Result) -> float:
    h = _history(r)
    return 100.0 * h["validation_accuracy"][h["best_epoch"]]


def seconds_per_epoch(r: Result) -> float:
    return float(np.median(_history(r)["epoch_seconds"]))


def plot(result: Result) -> dict:
    seeds = list(result["seeds"].values())
    fig, ax = common.new_figure()
    h = _history(seeds[0])
    epochs = range(len(h["validation_accuracy"]))
    common.band(ax, epochs, [[100 * a for a in _history(r)["validation_accuracy"]] for r in seeds],
                label="validation data")
    common.band(ax, epochs, [[100 * a for a in _history(r)["test_accuracy"]] for r in seeds], label="test data")
    best = h["best_epoch"]
    ax.axvline(best, color="0.5", lw=0.8, ls=":")
    late = best > len(h["validation_accuracy"]) / 2  # write the note on the side with room
    ax.annotate(f"best validation epoch {best}: test {100 * h['test_accuracy_at_best']:.2f} %",
                (best, 100 * h["test_accuracy_at_best"]), fontsize=8, xytext=(-4 if late else 4, -14),
                textcoords="offset points", ha="right" if late else "left")
    lo = min(min(h["validation_accuracy"]), min(h["test_accuracy"]))
    ax.set_ylim(max(100 * lo - 0.5, 100 * np.percentile(h["test_accuracy"], 5) - 1.0), None)
    cfg = result["config"]
    ax.set(xlabel="Epoch", ylabel="Accuracy (%)",
           title=f"{result['id']}: eta={cfg['eta']}, lmbda={cfg['lmbda']}"
                 + (", expanded data" if cfg["expanded"] else ""))
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    common.note_seeds(ax, result)
    figures = {"accuracy": fig}
    filters = h.get("first_layer_filters")
    if filters is not None:
        figures["filters"] = filters_figure(np.asarray(filters), f"{result['id']}: the first layer's learned filters")
    return figures


def filters_figure(w: np.ndarray, title: str):
    """The filters of a ConvPoolLayer (n, 1, fh, fw) as small grey images, as the book shows them.

    Shown as nndl stores them (the true-convolution kernel of Theano's conv2d); the
    cross-correlation filter a PyTorch user would see is each image rotated by 180 degrees.
    Darker = larger weight, each filter scaled to its own range.
    """
    from matplotlib.figure import Figure

    n = w.shape[0]
    cols = min(10, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * 0.8, rows * 0.8 + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(w[i, 0], cmap="Greys", interpolation="nearest")
    fig.suptitle(title, fontsize=9)
    return fig


def _metrics(book: float | None, book_text: str = "") -> tuple[Metric, ...]:
    return (Metric("test accuracy at the best validation epoch (%)", test_at_best, book, book_text),
            Metric("best validation accuracy (%)", best_validation),
            Metric("seconds per epoch (training, median)", seconds_per_epoch))


NOTES = ("float32 and network3's conventions (no reshuffle, L2 / num_training_batches, its initialisation); "
         "test accuracy measured after every epoch, the reported one at the best validation epoch. "
         "One seed, as the book ran one.")


def _exp(id_: str, title: str, cfg: Ch6Config, book: float | None, book_text: str = "", cost: float = 30.0,
         claims: tuple = (), metrics: tuple | None = None, quick_note: str = "") -> Experiment:
    return Experiment(id=id_, title=title, config=cfg, plot=plot, quick=quick, run=run,
                      metrics=metrics or _metrics(book, book_text), claims=claims, notes=NOTES, cost=cost,
                      checkpoints=True, quick_note=quick_note)


# QUICK_SIZES' comment: the small sigmoid ch6-conv2 never leaves the plateau of chance
QUICK_AT_CHANCE = ("this small sigmoid network stays at chance (about 10 %): its plateau outlasts the "
                   "quick run (even 1,000 steps of 10,000 images); the full run learns, as the book's")


def _ensemble_metrics() -> tuple[Metric, ...]:
    def member_tests(r):
        return [100.0 * h["test_accuracy_at_best"] for h in r["nets"]]

    return (Metric("ensemble (majority vote) test accuracy (%)", lambda r: 100.0 * r["ensemble_test_accuracy"]),
            Metric("best single network: test accuracy at its best validation epoch (%)",
                   lambda r: max(member_tests(r))),
            Metric("seconds per epoch (training, median over every network's epochs)",
                   lambda r: float(np.median([s for h in r["nets"] for s in h["epoch_seconds"]]))))


EXPERIMENTS = (
    _exp("ch6-fc", "chapter 6, fully connected baseline (784-100-10, softmax)",
         Ch6Config("ch6-fc", False, 0.1, 0.0, 60), 97.80, "97.80 %", cost=10,
         claims=(Claim("close to chapter 3's 98.04 % (within half a point)",
                       lambda r: abs(test_at_best(r) - 98.04) <= 0.5, full_size_only=True),)),
    _exp("ch6-conv1", "chapter 6, one convolutional-pooling layer", Ch6Config("ch6-conv1", False, 0.1, 0.0, 60),
         98.78, "98.78 %", cost=60),
    _exp("ch6-conv2", "chapter 6, two convolutional-pooling layers", Ch6Config("ch6-conv2", False, 0.1, 0.0, 60),
         99.06, "99.06 %", cost=90, quick_note=QUICK_AT_CHANCE),
    _exp("ch6-relu", "chapter 6, rectified linear units", Ch6Config("ch6-relu", False, 0.03, 0.1, 60),
         None, cost=90),
    _exp("ch6-expanded", "chapter 6, expanded training data", Ch6Config("ch6-expanded", True, 0.03, 0.1, 60),
         99.37, "99.37 %", cost=450),
    _exp("ch6-extra-fc", "chapter 6, an extra fully connected layer",
         Ch6Config("ch6-extra-fc", True, 0.03, 0.1, 60), None, cost=460),
    _exp("ch6-dropout", "chapter 6, dropout in the fully connected layers",
         Ch6Config("ch6-dropout", True, 0.03, 0.0, 40), None, cost=400),
    _exp("ch6-ensemble", "chapter 6, an ensemble of five dropout networks (majority vote)",
         Ch6Config("ch6-dropout", True, 0.03, 0.0, 40, ensemble=5), None, cost=2000,
         metrics=_ensemble_metrics()),
)
