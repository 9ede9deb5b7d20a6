"""``nndl train --net NAME``: train one of the book's chapter-6 networks and write a run folder.

Chosen by ``--net`` (or ``net = "ch6-conv2"`` in the ``--config`` TOML file), from
``nndl.network3.BOOK_NETS``. The defaults are the book's for that id (eta, lmbda,
epochs, mini-batch 10, float32, no reshuffle; ``ch6-expanded`` and the later ids train on
the expanded set); ``--eta``, ``--lmbda``, ``--epochs``, ``--mini-batch-size``,
``--training-size``, ``--seed``, ``--dtype`` and ``--data-dir`` override them. Options
that describe a chapter-3 network (``--sizes``, ``--cost``, ``--hidden`` ...) are usage
errors here.

The run folder holds ``model.npz`` (the layered network, loadable by ``nndl evaluate`` /
``predict`` and ``nndl.network3.load``), ``history.json`` (settings, per-epoch
accuracies and seconds, the test accuracy at the best validation epoch) and
``accuracy.png``. While training, ``checkpoint.npz`` is written after every epoch;
``nndl train --resume RUN`` (or Ctrl-C and the same command) continues after the last
finished epoch. ``--report`` writes the run's page, ``RUN/report.html``, when training ends
(``nndl report RUN``: the canvas runs the layered network).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from nndl.errors import UsageError

log = logging.getLogger("nndl.train")

FORMAT = "nndl-run-network3"
ALLOWED = ("net", "eta", "lmbda", "epochs", "mini_batch_size", "training_size", "seed", "dtype",
           "data", "data_dir", "evaluate_on")
CHAPTER3_ONLY = ("sizes", "cost", "output", "hidden", "init", "regularization", "momentum", "dropout",
                 "early_stopping", "eta_schedule", "expand")


@dataclass(frozen=True)
class Train3Settings:
    net: str  # one of nndl.network3.BOOK_NETS
    eta: float
    lmbda: float
    epochs: int
    mini_batch_size: int = 10
    training_size: int | None = None  # the first N training images (before expansion)
    seed: int = 0
    dtype: str = "float32"
    data_dir: str | None = None
    expanded: bool = False


def wants_layered(args: argparse.Namespace) -> bool:
    """True if this ``nndl train`` is about a chapter-6 network (--net, a config's net, a resumed run)."""
    if getattr(args, "net", None):
        return True
    if getattr(args, "resume", None):
        from nndl import _validate
        from nndl.runs import MAX_HISTORY_BYTES

        path = Path(args.resume).expanduser() / "history.json"
        try:  # bounded and checked like every reader; anything unreadable is not ours
            record = _validate.read_json(path, UsageError, MAX_HISTORY_BYTES, "run history")
        except UsageError:
            return False
        return isinstance(record, dict) and record.get("format") == FORMAT
    if getattr(args, "config", None):
        from nndl.runs import read_config

        return "net" in read_config(args.config)
    return False


def _settings(args: argparse.Namespace) -> Train3Settings:
    from nndl.experiments.registry import REGISTRY
    from nndl.network3 import BOOK_NETS
    from nndl.runs import read_config

    given: dict[str, Any] = {}
    if args.config:
        for key, value in read_config(args.config).items():
            given[key.replace("-", "_")] = value
    given.update({k: getattr(args, k) for k in ALLOWED + CHAPTER3_ONLY if getattr(args, k, None) is not None})
    bad = [k for k in given if k not in ALLOWED]
    if bad:
        raise UsageError(f"--{bad[0].replace('_', '-')} describes a chapter-3 network; a --net network "
                         f"takes only {', '.join('--' + k.replace('_', '-') for k in ALLOWED)}")
    name = given.pop("net")
    if name not in BOOK_NETS:
        raise UsageError(f"--net: unknown network {name!r}; choose from {', '.join(BOOK_NETS)}")
    if given.pop("data", "mnist") not in ("auto", "mnist"):
        raise UsageError("--net networks take 28x28 images: use --data mnist (the default)")
    given.pop("evaluate_on", None)  # both validation and test accuracy are measured every epoch
    book = REGISTRY[name].config
    s = Train3Settings(net=name, eta=book.eta, lmbda=book.lmbda, epochs=book.epochs,
                       mini_batch_size=book.mini_batch_size, expanded=book.expanded)
    types = {f.name: f.type for f in fields(Train3Settings)}
    try:
        s = replace(s, **{k: (float(v) if types[k] == "float" else int(v) if types[k] in ("int", "int | None")
                              else v) for k, v in given.items()})
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad setting: {exc}") from None
    if not s.eta > 0 or not 0 <= s.lmbda < float("inf"):
        raise UsageError("--eta must be > 0 and --lmbda >= 0")
    if s.epochs < 0 or s.mini_batch_size < 1 or s.seed < 0 or (s.training_size is not None and s.training_size < 1):
        raise UsageError("--epochs >= 0, --mini-batch-size >= 1, --seed >= 0 and --training-size >= 1")
    if s.training_size is not None and s.training_size < s.mini_batch_size:
        raise UsageError(f"--training-size {s.training_size} is less than one mini-batch "
                         f"({s.mini_batch_size})")
    if s.dtype not in ("float32", "float64"):
        raise UsageError(f"--dtype: unknown dtype {s.dtype!r}; choose from float32, float64")
    if s.data_dir is not None:
        from nndl.data import check_mnist_dir

        check_mnist_dir(s.data_dir)
        s = replace(s, data_dir=str(Path(s.data_dir).expanduser().resolve()))
    return s


def _settings_from_run(s: Train3Settings) -> None:
    """Check settings read back from a run folder (a file a user may have edited)."""
    from nndl.network3 import BOOK_NETS

    if s.net not in BOOK_NETS or s.dtype not in ("float32", "float64"):
        raise ValueError(f"unknown network {s.net!r} or dtype {s.dtype!r}")
    for name in ("eta", "lmbda", "epochs", "mini_batch_size", "seed"):
        if not isinstance(getattr(s, name), (int, float)) or isinstance(getattr(s, name), bool):
            raise ValueError(f"{name} is not a number")
    if not s.eta > 0 or s.lmbda < 0 or s.epochs < 0 or s.mini_batch_size < 1 or s.seed < 0:
        raise ValueError("a setting out of range")
    for name in ("epochs", "mini_batch_size", "seed"):
        if not isinstance(getattr(s, name), int) or getattr(s, name) > 10**9:
            raise ValueError(f"{name} is not a whole number up to 10**9")
    if s.training_size is not None and not (isinstance(s.training_size, int) and not isinstance(
            s.training_size, bool) and s.mini_batch_size <= s.training_size <= 10**9):
        raise ValueError("training_size is not a whole number of at least one mini-batch")
    if s.data_dir is not None and not isinstance(s.data_dir, str):
        raise ValueError("data_dir is not a path")
    if not isinstance(s.expanded, bool):
        raise ValueError("expanded is not true or false")


def _read_record(folder: Path) -> dict[str, Any]:
    """history.json of a chapter-6 run, every field ``--resume`` reads checked (UsageError)."""
    from nndl import _validate
    from nndl.runs import MAX_HISTORY_BYTES

    path = folder / "history.json"
    try:
        record = _validate.read_json(path, UsageError, MAX_HISTORY_BYTES, "run history")
    except UsageError as exc:
        raise UsageError(f"--resume {folder}: not a readable chapter-6 run ({exc})") from None
    try:
        s, seconds = check_record(record)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--resume {folder}: not a readable chapter-6 run ({exc})") from None
    record["settings"] = s
    record["done"] = len(seconds)
    return record


def check_record(record: Any) -> tuple[Train3Settings, list]:
    """``(settings, epoch_seconds)`` of a parsed chapter-6 ``history.json``, its fields checked.

    Raises ValueError (or TypeError) saying which field is wrong; used by ``--resume`` and
    by ``nndl report``.
    """
    from nndl import _validate

    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("not a chapter-6 run history")
    settings = record.get("settings")
    if not isinstance(settings, dict) or set(settings) != {f.name for f in fields(Train3Settings)}:
        raise ValueError("'settings' must name exactly the fields of a chapter-6 run")
    s = Train3Settings(**settings)
    _settings_from_run(s)
    history = record.get("history", {})
    if not isinstance(history, dict):
        raise ValueError("'history' is not an object")
    seconds = history.get("epoch_seconds", [])
    if not isinstance(seconds, list) or not all(_validate.plain_number(x) for x in seconds):
        raise ValueError("'history.epoch_seconds' is not a list of numbers")
    if record.get("status") not in ("running", "finished", "interrupted"):
        raise ValueError(f"'status' is {record.get('status')!r}")
    return s, seconds


def run(args: argparse.Namespace) -> int:
    """The ``nndl train`` command for a chapter-6 network; returns the exit status.

    The run folder is held under the same lock as chapter 3's (``nndl.io.folder_lock``):
    a second ``nndl train`` (or ``--resume``) of one folder is refused while one runs.
    """
    from nndl import runs
    from nndl.io import folder_lock

    report = getattr(args, "report", False)
    if args.resume:
        folder = Path(args.resume).expanduser()
        if not folder.is_dir():
            raise UsageError(f"--resume {folder}: no such run folder")
        if report:  # before any work: an existing file there that is not a page is refused now
            from nndl.report import REPORT, check_target

            check_target(folder / REPORT, "--report")
        with folder_lock(folder, "run folder"):
            s = _resume_locked(args, folder)
            status = train(s, folder, plots=not args.no_plots)
    else:
        s = _settings(args)
        runs.check_out_option(args.out)  # before the data are read
        folder = runs.new_run_folder(args.out)
        with folder_lock(folder, "run folder"):
            runs.check_new_run_folder(folder)  # again, now that no other process can start one
            runs.remove_stale_temporaries(folder)
            status = train(s, folder, plots=not args.no_plots)
    if report and status == 0:  # the run's page, as nndl report RUN writes it
        from nndl.commands.report import write

        write(folder)
    return status


def _resume_locked(args: argparse.Namespace, folder: Path) -> Train3Settings:
    """The settings to continue ``folder`` with (its lock held), from any kill point.

    - no checkpoint and no finished epoch (killed before the first checkpoint): the run
      starts again from its beginning (the same seed: the same bits);
    - no checkpoint, a model.npz (the finished network, with the trainer's state): it
      becomes the checkpoint again, so that a larger ``--epochs`` trains on, and a run
      killed between the model and its "finished" record is finished;
    - a checkpoint: training continues after its last epoch.
    """
    import shutil

    from nndl.errors import NndlError
    from nndl.runs import remove_stale_temporaries

    remove_stale_temporaries(folder)
    record = _read_record(folder)
    s, done = record["settings"], record["done"]
    if args.epochs is not None:
        s = replace(s, epochs=int(args.epochs))
        _settings_from_run(s)
    checkpoint, model = folder / "checkpoint.npz", folder / "model.npz"
    if checkpoint.exists():
        return s
    if model.is_file():
        if done >= s.epochs and record["status"] == "finished":
            raise UsageError(f"{folder} has completed {done} of {s.epochs} epochs; to train it further "
                             f"pass --epochs N with N > {done}")
        shutil.copyfile(model, checkpoint)  # it holds the trainer's state
        return s
    if done:
        raise NndlError(f"{folder}: checkpoint.npz is missing although {done} epochs were trained; "
                        "it cannot be continued (start a new run)")
    log.warning("%s: killed before its first checkpoint; starting it again", folder)
    return s


def _data(s: Train3Settings):
    import numpy as np

    from nndl.data import load_mnist

    splits = load_mnist(data_dir=s.data_dir, dtype=np.dtype(s.dtype))
    n = s.training_size
    training = (splits.training.X[:n], splits.training.y[:n])
    if s.expanded:
        from nndl.expand_mnist import expanded_training_data

        training = expanded_training_data(training, dtype=np.dtype(s.dtype))
    return splits, training


def train(s: Train3Settings, folder: Path, plots: bool = True) -> int:
    import numpy as np

    from nndl.experiments.common import rngs, write_json
    from nndl.network3 import Trainer3, book_net

    splits, training = _data(s)
    init_rng, run_rng = rngs(s.seed)
    net = book_net(s.net, s.mini_batch_size, rng=init_rng, dtype=np.dtype(s.dtype))
    record = {"format": FORMAT, "settings": asdict(s), "data": splits.description, "status": "running"}
    history_path = folder / "history.json"

    def write(h, status):
        record.update(status=status, history=h.to_dict(), best_epoch=h.best_epoch,
                      test_accuracy_at_best=h.test_accuracy_at_best)
        write_json(history_path, record)

    checkpoint = folder / "checkpoint.npz"
    log.info("training %s on %d images, %d epochs (eta %g, lmbda %g, mini-batch %d, %s) into %s", s.net,
             len(training[0]), s.epochs, s.eta, s.lmbda, s.mini_batch_size, s.dtype, folder)
    trainer = Trainer3(net, training, s.epochs, s.mini_batch_size, s.eta, splits.validation, splits.test,
                       s.lmbda, rng=run_rng, checkpoint=checkpoint,
                       on_epoch=lambda e, hist, n: write(hist, "running"))
    write(trainer.history, "running")  # only once a checkpoint (if any) has been read and checked
    h = trainer.run()
    if checkpoint.exists():  # the last checkpoint is the trained network, with the trainer's state
        checkpoint.replace(folder / "model.npz")
    else:
        net.save(folder / "model.npz")
    write(h, "finished")
    if plots and h.epochs:
        from nndl.experiments.chapter6 import plot

        result = {"id": s.net, "config": {"eta": s.eta, "lmbda": s.lmbda, "expanded": s.expanded},
                  "seeds": {str(s.seed): {"history": {**h.to_dict(), "best_epoch": h.best_epoch,
                                                       "test_accuracy_at_best": h.test_accuracy_at_best}}}}
        if net.layers[0].kind == "conv":  # the first layer's learned filters, as the book shows them
            result["seeds"][str(s.seed)]["history"]["first_layer_filters"] = np.asarray(net.layers[0].w).tolist()
        for name, fig in plot(result).items():
            fig.savefig(folder / f"{name}.png", dpi=110)
    if h.epochs:
        print(f"{s.net}: best validation accuracy {100 * h.best_validation_accuracy:.2f} % at epoch "
              f"{h.best_epoch}; test accuracy there {100 * h.test_accuracy_at_best:.2f} %  ({folder})")
    else:
        print(f"{s.net}: no epochs trained ({folder})")
    return 0
