"""``nndl train``: train a network by mini-batch SGD and write a run folder."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Self

from nndl.errors import DivergenceError, NndlError, UsageError
from nndl.runs import TrainSettings
from nndl import _words

log = logging.getLogger("nndl.train")

INTERRUPTED = 130  # exit status of a run stopped by Ctrl-C or SIGTERM (after its checkpoint)
PROGRESS_AFTER = 1.0  # seconds into an epoch before a progress bar appears (terminals only)
PROGRESS_EVERY = 0.1  # seconds between redraws of the bar
BAR_WIDTH = 30

DESCRIPTION = """\
Train a network by mini-batch SGD (eq. 93/94) and write a run folder: the model
(model.npz), a checkpoint, history.json (every setting, the seed, versions, the data
set and its checksums, per-epoch histories and timings) and plots (cost.png,
accuracy.png, speed.png). The defaults are the book's chapter-3 network: sizes
[n_in, 30, 10] (784-30-10 on MNIST), cross-entropy, eta 0.5, mini-batch 10, 30 epochs.

The data: --data auto uses MNIST if it is on this machine (--data-dir, $NNDL_DATA or
the cache) and otherwise scikit-learn's bundled 8x8 digits (64 inputs). Accuracy is
measured on the test set after every epoch, as in the book (--evaluate-on validation
to tune hyper-parameters without touching the test set).

Settings can come from a TOML file; options given on the command line override it:

  # ch3.toml                     nndl train --config ch3.toml --epochs 5
  sizes = [784, 100, 10]
  eta = 0.5
  lmbda = 5.0

Ctrl-C (or SIGTERM) finishes the current mini-batch, writes a checkpoint and exits
with status 130; `nndl train --resume RUN` continues it and ends with the same
weights, bit for bit, as a run that was never interrupted. With --net (chapter 6) the
checkpoint is the one written after the last finished epoch: the resumed run starts
that epoch again, and ends with the same weights bit for bit where the run used one
core (its history.json's "cores" says "repeatable": true). --resume RUN --epochs N
trains a finished run further.
"""

# Options that --resume accepts besides the run folder (everything else comes from the run).
RESUME_OPTIONS = ("epochs", "data_dir")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a network; write the model, history.json and plots",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = TrainSettings()
    data = p.add_argument_group("data")
    data.add_argument(
        "--data", help="auto, mnist, digits, or a .npz file / folder of your own (default auto)"
    )
    data.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the MNIST files (default $NNDL_DATA)"
    )
    data.add_argument(
        "--training-size", type=int, metavar="N", help="train on the first N training examples only"
    )
    data.add_argument(
        "--evaluate-on", metavar="SET", help=f"test or validation (default {d.evaluate_on})"
    )
    data.add_argument(
        "--expand",
        type=int,
        metavar="N",
        help="add N randomly rotated and shifted copies of each training image (default 0)",
    )
    net = p.add_argument_group("network")
    net.add_argument(
        "--sizes",
        metavar="N,N,...",
        help="neurons per layer, e.g. 784,30,10 (default: the data's inputs, 30, 10)",
    )
    net.add_argument(
        "--cost", help=f"quadratic, cross-entropy or log-likelihood (default {d.cost})"
    )
    net.add_argument(
        "--output", help="output layer: sigmoid or softmax (default: the cost's partner)"
    )
    net.add_argument("--hidden", help=f"hidden neurons: sigmoid, tanh or relu (default {d.hidden})")
    net.add_argument(
        "--init", help=f"default (N(0,1/n_in) weights) or large (N(0,1)) (default {d.init})"
    )
    net.add_argument("--dtype", help=f"float64 or float32 (default {d.dtype})")
    net.add_argument("--net", metavar="NAME", help="a chapter-6 network of the book by its id, e.g. "
                     "ch6-conv2 (see nndl.commands.train3); then the book's eta, lmbda and epochs")
    sgd = p.add_argument_group("training")
    sgd.add_argument("--eta", type=float, help=f"learning rate (default {d.eta})")
    sgd.add_argument(
        "--lmbda", type=float, help=f"regularization parameter lambda (default {d.lmbda})"
    )
    sgd.add_argument(
        "--regularization", help=f"l2 (eq. 93) or l1 (eq. 97) (default {d.regularization})"
    )
    sgd.add_argument(
        "--mini-batch-size", type=int, metavar="M", help=f"(default {d.mini_batch_size})"
    )
    sgd.add_argument("--epochs", type=int, metavar="N", help=f"(default {d.epochs})")
    sgd.add_argument(
        "--momentum",
        type=float,
        metavar="MU",
        help="momentum coefficient, eqs. 107-108 (default 0)",
    )
    sgd.add_argument(
        "--dropout",
        type=float,
        metavar="P",
        help="drop each hidden neuron with probability P (default 0)",
    )
    sgd.add_argument(
        "--early-stopping",
        type=int,
        metavar="N",
        help="stop after N epochs without a better accuracy",
    )
    sgd.add_argument(
        "--eta-schedule",
        type=int,
        metavar="N",
        help="halve eta after N epochs without a better accuracy; stop at eta/128",
    )
    sgd.add_argument(
        "--seed",
        type=int,
        help=f"seed of the weights, shuffling, dropout, expansion (default {d.seed})",
    )
    run_ = p.add_argument_group("run")
    run_.add_argument(
        "--config", metavar="FILE.toml", help="read settings from a TOML file (options override it)"
    )
    run_.add_argument("-o", "--out", metavar="DIR", help="run folder (default runs/<date>-<time>)")
    run_.add_argument(
        "--resume", metavar="RUN", help="continue the interrupted (or finished) run in folder RUN"
    )
    run_.add_argument(
        "--no-plots", action="store_true", help="do not draw cost.png, accuracy.png, speed.png"
    )
    run_.add_argument(
        "--report", action="store_true",
        help="also write the run's HTML page, RUN/report.html (as nndl report RUN)",
    )
    p.set_defaults(func=run)


def _given(args: argparse.Namespace) -> dict:
    """The settings given as options (argparse leaves the others None)."""
    return {
        name: getattr(args, name)
        for name in TrainSettings.names()
        if getattr(args, name, None) is not None
    }


def _settings(args: argparse.Namespace) -> TrainSettings:
    """Defaults, then the --config file, then the options; checked."""
    from nndl.runs import read_config

    from_file = TrainSettings()
    if args.config:
        from_file = TrainSettings.from_dict(read_config(args.config), f"--config {args.config}")
    settings = from_file.updated(_given(args), "options")
    try:
        settings.check()
    except UsageError as exc:
        if args.config:  # the same fault without the options: a value of the file; name it
            try:
                from_file.check()
            except UsageError as in_file:
                if str(in_file) == str(exc):
                    raise UsageError(f"--config {args.config}: {exc}") from None
        raise
    return _absolute_paths(settings)


def _absolute_paths(settings: TrainSettings) -> TrainSettings:
    """Paths of data made absolute, so that --resume works from any folder."""
    from dataclasses import replace

    changes = {}
    if (
        settings.data not in ("auto", "mnist", "digits")
        and Path(settings.data).expanduser().exists()
    ):
        changes["data"] = str(Path(settings.data).expanduser().resolve())
    if settings.data_dir is not None:
        changes["data_dir"] = str(Path(settings.data_dir).expanduser().resolve())
    return replace(settings, **changes)


class _StopFlag:
    """A signal handler that asks training to stop after the current mini-batch.

    A second signal while the first is being honoured raises KeyboardInterrupt (stop now;
    the files already written stay complete).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __call__(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


class _Progress:
    """A one-line progress bar on a terminal inside long epochs; silent elsewhere.

    Called once per completed mini-batch (through the trainer's ``should_stop``); it
    counts the calls, since the fused step does not update ``trainer.batch`` as it goes.
    The bar is erased before the last mini-batch, so the epoch's log line starts clean.
    """

    def __init__(self, stream, trainer, n_batches: int) -> None:
        self.stream = stream
        self.trainer = trainer
        self.n_batches = n_batches
        self.epoch = trainer.epoch
        self.count = trainer.batch
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if self.trainer.epoch != self.epoch:  # the check after an epoch's end
            self.epoch, self.count, self.started = self.trainer.epoch, 0, now
            return
        self.count += 1
        if self.count >= self.n_batches - 1:
            self.clear()
        elif now - self.started >= PROGRESS_AFTER and now - self.drawn >= PROGRESS_EVERY:
            done = int(BAR_WIDTH * self.count / self.n_batches)
            self.stream.write(
                f"\repoch {self.epoch} [{'#' * done}{'.' * (BAR_WIDTH - done)}] "
                f"{self.count}/{self.n_batches} mini-batches\x1b[K"
            )
            self.stream.flush()
            self.drawn = now

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = 0.0


def run(args: argparse.Namespace) -> int:
    from nndl.commands import train3

    if train3.wants_layered(args):  # chapter 6's networks of layers
        return train3.run(args)
    if args.resume:
        return _resume(args)
    settings = _settings(args)
    from nndl import runs
    from nndl.io import folder_lock

    runs.check_out_option(args.out)  # before the data are read
    splits = runs.load_data(settings)
    folder = runs.new_run_folder(args.out)
    with folder_lock(folder, "run folder"):
        runs.check_new_run_folder(folder)  # again, now that no other process can start one
        runs.remove_stale_temporaries(folder)  # a run killed before its first file
        session = runs.Session.start(settings, splits, folder)
        return _train(session, plots=not args.no_plots, report=args.report)


def check_resume_options(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> None:
    """``UsageError`` if options other than --epochs and --data-dir come with --resume.

    Shared by chapter 3 and chapter 6 (``extra``: more option names to refuse, e.g. "net").
    """
    others = (
        sorted(set(_given(args)) - set(RESUME_OPTIONS))
        + [name for name in extra if getattr(args, name, None) is not None]
        + (["config"] if args.config else [])
        + (["out"] if args.out is not None else [])
    )
    if others:
        raise UsageError(
            f"--resume takes the settings of the run; only --epochs and --data-dir may be "
            f"given with it, not {', '.join('--' + o.replace('_', '-') for o in others)}"
        )


def check_resume_epochs(folder: Path, done: int, epochs: int) -> None:
    """``UsageError`` if --epochs asks a resumed run for fewer epochs than it has trained."""
    if epochs < done:
        raise UsageError(
            f"--resume {folder} --epochs {epochs}: the run has already trained {_words.count(done, 'epoch')}; "
            f"pass --epochs N with N >= {done} (or leave --epochs out)"
        )


def _resume(args: argparse.Namespace) -> int:
    check_resume_options(args)
    folder = Path(args.resume).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--resume {folder}: no such run folder")
    from nndl.io import folder_lock

    with folder_lock(folder, "run folder"):
        return _resume_locked(args, folder)


def _resume_locked(args: argparse.Namespace, folder: Path) -> int:
    """Continue (or finish) the run in ``folder``, whose lock is held, from any kill point.

    - no checkpoint, a history of 0 epochs (killed before the first checkpoint): the run
      starts again from its beginning (the same seed: the same bits);
    - a checkpoint but no history.json (killed between them): the record is rebuilt from
      the checkpoint and the data;
    - all epochs done but no model.npz, or a history still "running" (killed, or a full
      disk, between the last checkpoint and the model): the run is finished.
    """
    from dataclasses import replace

    from nndl import runs
    from nndl.io import network_description

    runs.remove_stale_temporaries(folder)
    changes = {k: v for k, v in _given(args).items() if k in RESUME_OPTIONS}
    has_history = (folder / runs.HISTORY).exists()
    record = runs.RunRecord.from_file(folder) if has_history else None
    if not (folder / runs.CHECKPOINT).exists():
        if record is None:
            raise UsageError(f"--resume {folder}: not a run folder (no {runs.HISTORY}, no "
                             f"{runs.CHECKPOINT}): nothing of a run was recorded there (stopped before it "
                             f"trained?); start it again with the command that started it, all its "
                             f"options (--net, --config ...) and -o {folder}")
        done = len(runs.read_history(folder).get("history", {}).get("epoch_seconds", []) or [])
        if done:
            raise NndlError(f"{folder}: {runs.CHECKPOINT} is missing although {_words.count(done, 'epoch')} "
                            "trained; it cannot be continued (start a new run)")
        settings = _absolute_paths(replace(record.settings, **changes))
        settings.check()
        log.warning("%s: stopped before its first checkpoint; starting it again", folder)
        splits = runs.load_data(settings, name=record.data.get("name"))
        session = runs.Session.start(settings, splits, folder)
        return _train(session, plots=not args.no_plots)
    net, settings, state = runs.load_checkpoint(folder / runs.CHECKPOINT)
    if args.epochs is not None:
        check_resume_epochs(folder, state["epoch"], args.epochs)
    if record is None:
        log.warning("%s: no %s (killed after the checkpoint); rebuilding it", folder, runs.HISTORY)
        record = runs.RunRecord(folder, settings, None, network_description(net))
    settings = _absolute_paths(replace(settings, **changes))
    settings.check()
    if record.status == "diverged":
        raise NndlError(
            f"{folder} diverged ({record.message}); resuming would diverge again: "
            "start a new run with a smaller --eta"
        )
    complete = record.status != "running" and (folder / runs.MODEL).is_file()
    if state["epoch"] >= settings.epochs and complete:
        raise UsageError(
            f"{folder} has completed {state['epoch']} of {settings.epochs} epochs; "
            f"to train it further pass --epochs N with N > {state['epoch']}"
        )
    name = record.data.get("name") if record.data else None
    splits = runs.load_data(settings, name=name)
    session = runs.Session.resume(record, settings, splits, net, state)
    return _train(session, plots=not args.no_plots, report=args.report)


def _train(session, plots: bool = True, report: bool = False) -> int:
    """Run the session's trainer with signal handling and progress; write the results."""
    import numpy as np

    session.draw_plots = plots
    trainer = session.trainer
    n_batches = -(-len(trainer.X) // trainer.mini_batch_size)
    progress = _Progress(sys.stderr, trainer, n_batches) if sys.stderr.isatty() else None
    with _StopFlag() as stop:

        def should_stop() -> bool:
            if progress is not None:
                progress()
            return stop.signum is not None

        trainer.should_stop = should_stop
        try:
            with np.errstate(
                over="ignore", invalid="ignore"
            ):  # divergence is detected and reported
                history = trainer.run()
        except DivergenceError as exc:
            if progress is not None:
                progress.clear()
            raise DivergenceError(session.diverged(exc)) from None
    if progress is not None:
        progress.clear()
    if history.stopped == "interrupted":
        session.interrupted()
        where = (
            f"in epoch {trainer.epoch} after mini-batch {trainer.batch} of {n_batches}"
            if trainer.batch
            else f"after epoch {trainer.epoch - 1}"
        )
        log.warning(
            "%s: stopped %s; checkpoint written. Continue with: nndl train --resume %s",
            stop.name or "interrupted",
            where,
            session.folder,
        )
        print(session.summary())
        if report:
            print(f"report: no page written (the run was interrupted); make it with: nndl report {session.folder}")
        return INTERRUPTED
    session.finished()
    print(session.summary())
    if report:
        from nndl.commands.report import write

        write(session.folder)
    return 0
