"""Chapter 1's baselines: average darkness (mnist_average_darkness.py) and an SVM (mnist_svm.py).

Both are deterministic: they run once, whatever the seeds. The SVM is scikit-learn's
``SVC(gamma='auto')``: rbf kernel, C=1, gamma = 1/784, the default ``svm.SVC()`` had when the
book was written (scikit-learn's default became gamma='scale' in 0.22). Its fits are cached
in ``<output>/cache/`` (one JSON per training-set size, holding the number of correct
validation *and* test predictions), so ch1-svm (test) and ch3-more-data (validation, at
50,000) share the one 50,000-image fit, and a second run reads it instead of refitting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndl.experiments import common
from nndl.experiments.spec import Experiment, Metric, Result

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DarknessConfig:
    n_train: int = 50_000  # chap1: averages over the 50,000 training images
    evaluation: str = "test"  # classified: the 10,000 test images
    n_evaluation: int | None = None  # None: all of them


@dataclass(frozen=True)
class SvmConfig:
    n_train: int = 50_000  # mnist_svm.py: clf.fit(training_data[0], training_data[1]), 50,000 images
    evaluation: str = "test"  # predictions on the 10,000 test images
    kernel: str = "rbf"  # svm.SVC() default
    C: float = 1.0  # svm.SVC() default
    gamma: str = "auto"  # the book-era default, 1/n_features = 1/784


def darkness(cfg: DarknessConfig, cache_dir=None) -> Result:
    """Nearest mean total darkness: each digit's mean sum of pixels, then the closest mean."""
    splits = common.mnist()
    X, y = splits.training.X[: cfg.n_train], splits.training.y[: cfg.n_train]
    totals = X.sum(axis=1)  # total darkness of each training image
    means = np.array([totals[y == d].mean() for d in range(10)])  # (10,)
    ev = getattr(splits, cfg.evaluation)
    m = cfg.n_evaluation or len(ev.X)
    guesses = np.abs(ev.X[:m].sum(axis=1)[:, None] - means[None, :]).argmin(axis=1)  # (m,)
    return {"correct": int((guesses == ev.y[:m]).sum()), "n_evaluation": m, "mean_darkness": means.tolist()}


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on the cache folder: another process fitting an SVM waits for this one."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)  # flock on the folder itself: no lock files left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def svc(n_train: int, cache_dir: Path | None, n_evaluation: int | None = None) -> Result:
    """Fit ``SVC(gamma='auto')`` on the first ``n_train`` training images; count correct answers.

    Returns the numbers of correct predictions on the validation and the test images
    (the first ``n_evaluation`` of each), the number of support vectors and the timings.
    """
    import sklearn
    from sklearn.svm import SVC

    key = f"svc-{n_train}" + (f"-eval{n_evaluation}" if n_evaluation else "")
    path = None if cache_dir is None else Path(cache_dir) / f"{key}.json"
    lock = contextlib.nullcontext() if path is None else _locked(path.parent)
    with lock:
        if path is not None and path.exists():
            from nndl import _validate
            from nndl.errors import NndlError

            try:
                cached = _validate.read_json(path, NndlError, 1 << 20, "SVC cache file")
            except NndlError as exc:  # nndl's own cache: a damaged entry is refitted
                log.warning("ignoring %s (%s)", path, exc)
                cached = {}
            cached = cached if isinstance(cached, dict) else {}
            data = cached.get("data") if isinstance(cached.get("data"), dict) else {}
            same_data = data.get("checksums") == common.data_info()["checksums"]
            if cached.get("sklearn") == sklearn.__version__ and same_data:
                return cached
        splits = common.mnist()
        log.info("fitting SVC(gamma='auto') on %d images", n_train)
        start = time.perf_counter()
        clf = SVC(gamma="auto").fit(splits.training.X[:n_train], splits.training.y[:n_train])
        out: Result = {"n_train": n_train, "fit_seconds": time.perf_counter() - start,
                       "n_support": int(clf.n_support_.sum()), "sklearn": sklearn.__version__,
                       "data": common.data_info()}
        for name in ("validation", "test"):
            ev = getattr(splits, name)
            m = n_evaluation or len(ev.X)
            start = time.perf_counter()
            out[f"{name}_correct"] = int((clf.predict(ev.X[:m]) == ev.y[:m]).sum())
            out[f"{name}_n"] = m
            out[f"{name}_predict_seconds"] = time.perf_counter() - start
        log.info("SVC on %d images: %d/%d validation, %d/%d test", n_train,
                 out["validation_correct"], out["validation_n"], out["test_correct"], out["test_n"])
        if path is not None:
            common.write_json(path, out)
        return out


def svm(cfg: SvmConfig, cache_dir=None) -> Result:
    if (cfg.kernel, cfg.C, cfg.gamma) != ("rbf", 1.0, "auto"):
        raise ValueError("only the book's SVC(gamma='auto') (rbf, C=1) is implemented")
    n_eval = None if cfg.n_train >= 50_000 else common.QUICK_EVALUATION
    fit = svc(cfg.n_train, cache_dir, n_eval)
    return {"correct": fit[f"{cfg.evaluation}_correct"], "n_evaluation": fit[f"{cfg.evaluation}_n"], "fit": fit}


def _accuracy(r: Result) -> float:
    return common.percent(r["correct"], r["n_evaluation"])


def _bar(result: Result) -> dict:
    once = result["once"]
    fig, ax = common.new_figure(4.5, 3.2)
    ax.bar([result["id"]], [_accuracy(once)], color="0.5")
    ax.set(ylabel="Test accuracy (%)", ylim=(0, 100), title=f"{result['id']}: {_accuracy(once):.2f} %")
    return {"accuracy": fig}


EXPERIMENTS = (
    Experiment(
        id="ch1-darkness", title="chapter 1 baseline: average darkness", config=DarknessConfig(),
        run_once=darkness, plot=_bar, quick=lambda c: c,
        metrics=(Metric("test accuracy (%)", _accuracy, 22.25, "22.25 % (2,225)", once=True),),
        notes="Deterministic, run once. The book's pixels are k/256 (its pickle), nndl's k/255: "
              "a common scale, which cannot change a nearest-mean answer.", cost=0.05),
    Experiment(
        id="ch1-svm", title="chapter 1 baseline: SVM", config=SvmConfig(),
        run_once=svm, plot=_bar,
        quick=lambda c: SvmConfig(n_train=1000, evaluation=c.evaluation),
        metrics=(Metric("test accuracy (%)", _accuracy, 94.35, "94.35 % (9,435)", once=True),),
        notes="Deterministic (libsvm), run once. SVC(gamma='auto'): the default of the book's "
              "scikit-learn. The 50,000-image fit is shared with ch3-more-data.",
        cost=0.5, extra_versions=("sklearn",)),  # cheap once ch3-more-data has fitted the 50,000 SVM
)
