"""Shared pieces of the experiments: data, seeds, training one network, versions, figures.

Seeds: an experiment's seed ``s`` gives, for its ``k``-th network, one
``numpy.random.Generator`` for the initial weights (``default_rng([s, k, 0])``) and one
for the per-epoch shuffles (``default_rng([s, k, 1])``). The same seed gives the same run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import platform
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

import nndl
from nndl import _words
from nndl.costs import get_cost

#: Examples kept from each evaluation set in ``--quick`` runs.
QUICK_EVALUATION = 2000


@functools.lru_cache(maxsize=2)
def mnist(dtype=np.float64):
    """The book's MNIST split (50,000 / 10,000 / 10,000), loaded once per process."""
    from nndl.data import load_mnist

    return load_mnist(dtype=dtype)


def data_info() -> dict[str, Any]:
    splits = mnist()
    return {"description": splits.description, "checksums": dict(getattr(splits, "checksums", {}) or {})}


def rngs(seed: int, k: int = 0) -> tuple[np.random.Generator, np.random.Generator]:
    """(init, shuffle) generators of network ``k`` of a run with ``seed``."""
    return np.random.default_rng([seed, k, 0]), np.random.default_rng([seed, k, 1])


def versions(*extra: str) -> dict[str, str]:
    """Versions of Python, nndl, NumPy (+ the BLAS it uses) and of ``extra`` packages."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(),
           "nndl": nndl.__version__, "numpy": np.__version__}
    for name in ("scipy", "sklearn", "matplotlib", *extra):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    with contextlib.suppress(ImportError):  # informational only
        import threadpoolctl

        out["blas"] = ", ".join(f"{i['internal_api']} {i.get('version', '')} ({_words.count(i['num_threads'], 'thread')})"
                                for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")
    return out


def config_dict(cfg) -> dict[str, Any]:
    """A config dataclass as JSON-ready data (cost classes by their registry name)."""
    d = asdict(cfg)
    for f in fields(cfg):
        if f.name == "cost":
            from nndl.costs import cost_name

            d["cost"] = cost_name(get_cost(getattr(cfg, f.name)))
    return d


@dataclass(frozen=True)
class Net:
    """What one training run needs: the book's network2 ``SGD`` arguments, plus data."""

    sizes: tuple[int, ...]
    cost: str
    init: str
    n_train: int
    evaluation: str | None  # "test", "validation" or None
    eta: float
    lmbda: float
    epochs: int
    mini_batch_size: int = 10
    n_evaluation: int | None = None  # None: the whole evaluation set
    monitor: tuple[str, ...] = ("evaluation_accuracy",)


def train(net_cfg: Net, seed: int, k: int = 0, *, final_accuracy: bool = False, **options) -> dict[str, Any]:
    """Train network ``k`` of a run as ``net_cfg`` says; return its history as a dict.

    Adds ``seconds`` (wall time of the training), ``sum_w2`` (sum of the squared weights
    after each epoch: network2's cost variant is the mean cost + lmbda/(2 n_eval) sum_w2)
    and, with ``final_accuracy``, ``final_evaluation_accuracy`` (correct answers on the
    evaluation data after the last epoch only, as fig/more_data.py measures).
    ``options`` go to ``Network.sgd`` (e.g. ``monitor_gradient_norms=True``).
    """
    import time

    splits = mnist()
    init_rng, shuffle_rng = rngs(seed, k)
    net = nndl.Network(list(net_cfg.sizes), get_cost(net_cfg.cost), init=net_cfg.init, rng=init_rng)
    training = (splits.training.X[: net_cfg.n_train], splits.training.y[: net_cfg.n_train])
    evaluation = None
    if net_cfg.evaluation is not None:
        ev = getattr(splits, net_cfg.evaluation)
        m = net_cfg.n_evaluation or len(ev.X)
        evaluation = (ev.X[:m], ev.y[:m])
    monitors = {f"monitor_{name}": True for name in net_cfg.monitor}
    sum_w2: list[float] = []

    def record(epoch, history, network):  # sum of squared weights, for network2's cost variant
        sum_w2.append(float(sum(np.vdot(W, W) for W in network.weights)))

    start = time.perf_counter()
    history = net.sgd(training, net_cfg.epochs, net_cfg.mini_batch_size, net_cfg.eta, net_cfg.lmbda,
                      evaluation, rng=shuffle_rng, on_epoch=record, **monitors, **options)
    out = history.to_dict()
    out["sum_w2"] = sum_w2
    out["seconds"] = time.perf_counter() - start
    if final_accuracy:
        out["final_evaluation_accuracy"] = net.accuracy(*evaluation)
        out["n_evaluation"] = len(evaluation[0])
    return out


def percent(count: int, n: int) -> float:
    return 100.0 * count / n


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (``nndl.io.atomic_write``: fsynced, errors name the file)."""
    from nndl.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=False)
    with atomic_write(path, "w") as f:
        f.write(text + "\n")


def new_figure(width: float = 6.4, height: float = 4.2):
    """A matplotlib Figure and its single Axes, without pyplot (no backend forced)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def band(ax, x, runs, label: str | None = None, **style) -> None:
    """Median over seeds as a line; each seed as a thin line and their range shaded."""
    runs = np.asarray(runs, dtype=float)
    if runs.ndim == 1:
        runs = runs[None]
    (line,) = ax.plot(x, np.median(runs, axis=0), label=label, **style)
    if len(runs) > 1:
        color = line.get_color()
        ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=color, alpha=0.12, lw=0)
        for run in runs:
            ax.plot(x, run, color=color, lw=0.6, alpha=0.5)


def note_seeds(ax, result: dict) -> None:
    """Say under ``ax``'s figure which seeds the curves summarise."""
    ax.figure.supxlabel(seeds_note(result), x=0.99, ha="right", fontsize=7, color="0.3")


def seeds_note(result: dict) -> str:
    seeds = sorted(result.get("seeds", {}), key=int)
    if len(seeds) > 1:
        return f"median of seeds {', '.join(seeds)} (thin lines: each seed; band: range)"
    return f"seed {', '.join(seeds)}"
