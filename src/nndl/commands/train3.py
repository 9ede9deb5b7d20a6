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
after Ctrl-C (or any interruption) ``nndl train --resume RUN`` continues after the last
finished epoch (the first command again is refused: RUN already holds a run). A run that
diverges records status "diverged" and its message in history.json, as chapter 3's.
``--report`` writes the run's page, ``RUN/report.html``, when training ends
(``nndl report RUN``: the canvas runs the layered network).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from nndl.errors import UsageError
from nndl import _words

log = logging.getLogger("nndl.train")

FORMAT = "nndl-run-network3"
ALLOWED = ("net", "eta", "lmbda", "epochs", "mini_batch_size", "training_size", "seed", "dtype",
           "data", "data_dir")
CHAPTER3_ONLY = ("evaluate_on", "sizes", "cost", "output", "hidden", "init", "regularization", "momentum", "dropout",
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
    if getattr(args, "net", None) is not None:  # --net "" too: an unknown network, not chapter 3
        return True
    if getattr(args, "resume", None):
        from nndl import _validate
        from nndl.runs import MAX_HISTORY_BYTES

        path = Path(args.resume).expanduser() / "history.json"
        if not path.exists() and (path.parent / "checkpoint.npz").is_file():
            from nndl.network3 import is_layered_file

            return is_layered_file(path.parent / "checkpoint.npz")  # _read_record says what is missing
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
    from nndl.runs import TrainSettings, read_config

    from_file: dict[str, Any] = {}
    if args.config:
        for key, value in read_config(args.config).items():
            name = key.replace("-", "_")
            if name not in ALLOWED + CHAPTER3_ONLY and name not in TrainSettings.names():  # as chapter 3's
                raise UsageError(f"--config {args.config}: unknown setting {key!r}; a --net network takes "
                                 f"{', '.join(k.replace('_', '-') for k in ALLOWED)}")
            from_file[name] = value
    options = {k: getattr(args, k) for k in ALLOWED + CHAPTER3_ONLY if getattr(args, k, None) is not None}
    given = {**from_file, **options}
    if "evaluate_on" in given:  # never silently dropped: a --net run measures both sets
        raise UsageError(f"--evaluate-on {given['evaluate_on']!r}: a --net network is measured on the "
                         "validation AND the test set after every epoch (the book reports the test "
                         "accuracy at the best validation epoch); leave --evaluate-on out")
    bad = [k for k in given if k not in ALLOWED]
    if bad:
        said = (f"--config {args.config}: {bad[0].replace('_', '-')!r}" if bad[0] in from_file and bad[0] not in options
                else f"--{bad[0].replace('_', '-')}")
        raise UsageError(f"{said} describes a chapter-3 network; a --net network "
                         f"takes only {', '.join('--' + k.replace('_', '-') for k in ALLOWED)}")
    name = given.pop("net")
    if not isinstance(name, str) or name not in BOOK_NETS:
        raise UsageError(f"--net: unknown network {name!r}; choose from {', '.join(BOOK_NETS)}")
    if given.pop("data", "mnist") not in ("auto", "mnist"):
        raise UsageError("--net networks take 28x28 images: use --data mnist (the default)")
    for values in (from_file, options):
        values.pop("net", None), values.pop("data", None)
    book = REGISTRY[name].config
    base = TrainSettings(data="mnist", eta=book.eta, lmbda=book.lmbda, epochs=book.epochs,
                         mini_batch_size=book.mini_batch_size, dtype="float32")
    # chapter 3's typed reader and range checks (nndl.runs.TrainSettings), one definition for both
    checked = base.updated(from_file, f"--config {args.config}").updated(options, "options")
    checked.check()
    from nndl.commands.train import _absolute_paths

    checked = _absolute_paths(checked)  # so that --resume works from any folder
    s = Train3Settings(net=name, expanded=book.expanded,
                       **{f.name: getattr(checked, f.name) for f in fields(Train3Settings)
                          if f.name not in ("net", "expanded")})
    if s.training_size is not None and s.training_size < s.mini_batch_size:
        raise UsageError(f"--training-size {s.training_size} is less than one mini-batch "
                         f"({s.mini_batch_size})")
    return s


def _settings_from_run(s: Train3Settings) -> None:
    """Check settings read back from a run folder (a file a user may have edited): ValueError.

    The same types and ranges as a new run's (chapter 3's ``TrainSettings.check``); the data
    folder is checked when the data are read (``nndl.data.load_mnist``: a DataError).
    """
    from nndl.network3 import BOOK_NETS
    from nndl.runs import TrainSettings

    if s.net not in BOOK_NETS:
        raise ValueError(f"unknown network {s.net!r}")
    values = {f.name: getattr(s, f.name) for f in fields(Train3Settings) if f.name not in ("net", "expanded")}
    if s.data_dir is not None and not isinstance(s.data_dir, str):
        raise ValueError("data_dir is not a path")
    try:
        TrainSettings(data="mnist").updated({**values, "data_dir": None}, "the run's settings").check()
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    if s.training_size is not None and s.training_size < s.mini_batch_size:
        raise ValueError("training_size is less than one mini-batch")
    if not isinstance(s.expanded, bool):
        raise ValueError("expanded is not true or false")


def _read_record(folder: Path) -> dict[str, Any]:
    """history.json of a chapter-6 run, every field ``--resume`` reads checked (UsageError)."""
    from nndl import _validate
    from nndl.errors import DivergenceError
    from nndl.runs import MAX_HISTORY_BYTES

    path = folder / "history.json"
    if not path.exists():
        raise UsageError(f"--resume {folder}: its history.json is missing, and with it the run's settings "
                         "(checkpoint.npz holds a chapter-6 network); it cannot be continued: start a "
                         f"new run (nndl evaluate {folder} still uses the checkpoint)")
    try:
        record = _validate.read_json(path, UsageError, MAX_HISTORY_BYTES, "run history")
    except UsageError as exc:
        raise UsageError(f"--resume {folder}: not a readable chapter-6 run ({exc})") from None
    try:
        s, seconds = check_record(record)
        if record.get("status") == "diverged":  # as chapter 3
            raise DivergenceError(f"{folder} diverged ({record.get('message')}); resuming would diverge "
                                  "again: start a new run with a smaller --eta")
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
    if record.get("status") not in ("running", "finished", "interrupted", "diverged"):
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
        from nndl.commands.train import check_resume_options

        check_resume_options(args, ("net",))  # as chapter 3: the run's settings, only --epochs, --data-dir
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
    - no checkpoint, a model.npz (the finished network, with the trainer's state): training
      resumes from it (``train``'s ``resume_from``), so that a larger ``--epochs`` trains on,
      and a run killed between the model and its "finished" record is finished;
    - a checkpoint: training continues after its last epoch.
    """
    from nndl.errors import NndlError
    from nndl.runs import remove_stale_temporaries

    remove_stale_temporaries(folder)
    record = _read_record(folder)
    s, done = record["settings"], record["done"]
    if args.epochs is not None:
        from nndl.commands.train import check_resume_epochs

        check_resume_epochs(folder, done, args.epochs)
        s = replace(s, epochs=int(args.epochs))
        try:
            _settings_from_run(s)  # (the run's own settings passed it: only --epochs can fail here)
        except ValueError as exc:
            raise UsageError(f"--resume {folder}: {exc}") from None
    elif done > s.epochs:
        raise UsageError(f"--resume {folder}: its history holds {_words.count(done, 'epoch')} but its settings say "
                         f"{s.epochs}; not a consistent run")
    if args.data_dir is not None:
        from nndl.data import check_mnist_dir

        check_mnist_dir(args.data_dir)
        s = replace(s, data_dir=str(Path(args.data_dir).expanduser().resolve()))
    elif s.data_dir is not None:
        from nndl.data import check_mnist_dir

        try:
            check_mnist_dir(s.data_dir)
        except UsageError:
            raise UsageError(f"--resume {folder}: the run's data folder {s.data_dir} no longer holds the "
                             "four MNIST files; give --data-dir DIR, a folder that does") from None
    checkpoint, model = folder / "checkpoint.npz", folder / "model.npz"
    if checkpoint.exists():
        return s
    if model.is_file():
        if done >= s.epochs and record["status"] == "finished":
            raise UsageError(f"{folder} has completed {done} of {s.epochs} epochs; to train it further "
                             f"pass --epochs N with N > {done}")
        return s  # train resumes from model.npz: it holds the trainer's state
    if done:
        raise NndlError(f"{folder}: checkpoint.npz is missing although {_words.count(done, 'epoch')} trained; "
                        "it cannot be continued (start a new run)")
    log.warning("%s: stopped before its first checkpoint; starting it again", folder)
    return s


def _data(s: Train3Settings):
    import numpy as np

    from nndl.data import load_mnist

    from nndl.runs import check_training_size

    splits = load_mnist(data_dir=s.data_dir, dtype=np.dtype(s.dtype))
    check_training_size(s.training_size, splits)
    n = s.training_size
    training = (splits.training.X[:n], splits.training.y[:n])
    if s.expanded:
        from nndl.expand_mnist import expanded_training_data

        training = expanded_training_data(training, dtype=np.dtype(s.dtype))
    return splits, training


def train(s: Train3Settings, folder: Path, plots: bool = True) -> int:
    import numpy as np

    from nndl.errors import DivergenceError, NndlError
    from nndl.experiments.common import rngs, write_json
    from nndl.network3 import Trainer3, book_net

    splits, training = _data(s)
    init_rng, run_rng = rngs(s.seed)
    net = book_net(s.net, s.mini_batch_size, rng=init_rng, dtype=np.dtype(s.dtype))
    record = {"format": FORMAT, "settings": asdict(s), "data": splits.description, "status": "running"}
    history_path = folder / "history.json"

    def write(h, status):
        record.update(status=status, history=h.to_dict(), best_epoch=h.best_epoch,
                      test_accuracy_at_best=h.test_accuracy_at_best, cores=trainer.cores())
        write_json(history_path, record)

    checkpoint, model = folder / "checkpoint.npz", folder / "model.npz"
    # a finished run trained further (--resume --epochs): its model.npz holds the trainer's state
    resume_from = model if not checkpoint.exists() and model.is_file() else None
    log.info("training %s on %d images, %s (eta %g, lmbda %g, mini-batch %d, %s) into %s", s.net,
             len(training[0]), _words.count(s.epochs, "epoch"), s.eta, s.lmbda, s.mini_batch_size, s.dtype, folder)
    trainer = Trainer3(net, training, s.epochs, s.mini_batch_size, s.eta, splits.validation, splits.test,
                       s.lmbda, rng=run_rng, checkpoint=checkpoint, resume_from=resume_from,
                       on_epoch=lambda e, hist, n: write(hist, "running"))
    write(trainer.history, "running")  # only once a checkpoint (if any) has been read and checked
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported
            h = trainer.run()
    except DivergenceError as exc:  # as chapter 3: recorded, the last good checkpoint kept
        record["message"] = str(exc)
        write(trainer.history, "diverged")
        raise DivergenceError(f"{exc}; the last good checkpoint is in {checkpoint}" if checkpoint.exists()
                              else str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the record says so, and how to continue (as chapter 3)
        record["status"] = "interrupted"  # its history is the last one written, that of the checkpoint
        write_json(history_path, record)
        log.warning("%s: interrupted; continue with: nndl train --resume %s", folder, folder)
        raise
    except MemoryError:  # stopped as by Ctrl-C: the last checkpoint is kept, and --resume continues
        record["status"] = "interrupted"
        write_json(history_path, record)
        raise NndlError(f"out of memory while training (mini-batch {s.mini_batch_size}); continue with "
                        f"nndl train --resume {folder} where more memory is free, or train again with a smaller "
                        "--mini-batch-size") from None
    if checkpoint.exists():  # the last checkpoint is the trained network, with the trainer's state
        checkpoint.replace(model)
    elif resume_from is None:  # (resumed from model.npz and no epoch trained: it is the network)
        net.save(model)
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
