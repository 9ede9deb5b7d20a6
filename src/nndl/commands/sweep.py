"""``nndl sweep``: train a grid (or random samples) of settings and seeds; rank them."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time

from nndl.runs import TrainSettings

log = logging.getLogger("nndl.sweep")

BAR_WIDTH = 30
INTERRUPTED = 130

DESCRIPTION = """\
Train one network per cell of a grid of settings times seeds, evaluate each on the
validation data (--evaluate-on test only if you mean it), and rank the settings by
their best validation accuracy, averaged over the seeds. The best settings are printed
as a ready `nndl train` command.

Every option of `nndl train` that sets a training setting takes a comma-separated list
here (--sizes separates its alternatives with /):

  nndl sweep --data mnist --epochs 5 --eta 0.025,0.25,2.5 --lmbda 0,5 --seeds 0,1 \\
             --jobs 2 --out sweep-eta

Random search: --samples N draws N settings; a list is a set of choices, and a range
is uniform:LOW:HIGH or loguniform:LOW:HIGH (e.g. --eta loguniform:0.01:10).

A TOML file may hold the sweep (a list is an axis, {loguniform = [LOW, HIGH]} a range,
seeds = [0, 1], samples = N); options override it.

Results are appended to OUT/results.jsonl as each cell finishes. Running the same
command again computes only the cells that have no row yet (after Ctrl-C, or a lost
worker). A cell that fails (diverges, NaN, out of memory) becomes a row with its error.
--jobs N runs N worker processes here; --scheduler tcp://HOST:PORT runs the cells on
a Dask cluster (pip install 'nndl[sweep]'; see docs/sweep.md).

A list that starts with a minus sign is read as values, not as an option (no setting takes
a negative value: --lmbda -1,1 is the error "--lmbda must be a number >= 0; got -1").
Exit status: 0 if at least one cell succeeded, 1 if every cell failed (or another
error), 2 for a usage error (found before any cell runs), 130 after Ctrl-C.
"""
# argparse reads "-1" and "-0.5" as values but "-1,1" as an option: a value list may start with
# a negative number too (only the sweep's parser; none of its options looks like a number).
NEGATIVE_LIST = re.compile(r"^-\.?\d")  # -1,1  -0.5  -.5  -1e3,2: a value (no option starts so)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="hyper-parameter search: a grid of settings x seeds, in parallel or on a Dask cluster",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p._negative_number_matcher = NEGATIVE_LIST  # argparse's own hook for what counts as a number
    d = TrainSettings()
    data = p.add_argument_group("data (one value for the whole sweep)")
    data.add_argument("--data", help="auto, mnist, digits, or a .npz file / folder of your own (default auto)")
    data.add_argument("--data-dir", metavar="DIR", help="folder holding the MNIST files (default $NNDL_DATA)")
    data.add_argument("--evaluate-on", metavar="SET", help="validation (default) or test")
    grid = p.add_argument_group("settings (each a comma-separated list of values to sweep, or one value)")
    for name in TrainSettings.names():
        if name in ("data", "data_dir", "evaluate_on", "seed"):
            continue
        default = getattr(d, name)
        shown = "" if default is None else f" (default {default if name != 'sizes' else 'n_in,30,10'})"
        metavar = "N,N,.../..." if name == "sizes" else "V,V,..."
        grid.add_argument("--" + name.replace("_", "-"), metavar=metavar, help=f"as nndl train{shown}")
    grid.add_argument("--seeds", metavar="S,S,...", help="seeds of every setting (default 0)")
    grid.add_argument("--samples", type=int, metavar="N", help="random search: draw N settings instead of a grid")
    grid.add_argument("--sample-seed", type=int, metavar="S", help="seed of the random search's draws (default 0)")
    run_ = p.add_argument_group("run")
    run_.add_argument("--config", metavar="FILE.toml", help="read the sweep from a TOML file (options override it)")
    run_.add_argument("-o", "--out", metavar="DIR", required=True,
                      help="sweep folder; the same command with the same folder resumes a sweep")
    run_.add_argument("-j", "--jobs", type=int, metavar="N",
                      help="worker processes (default 1; -1: one per core this process may use; "
                           "not with --scheduler)")
    run_.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the cells on this Dask scheduler's cluster")
    run_.add_argument("--retry-failed", action="store_true", help="also recompute cells that failed before")
    run_.add_argument("--no-plots", action="store_true", help="do not draw the accuracy plots and heatmap")
    p.set_defaults(func=run)


class _Bar:
    """A one-line progress bar of cells on stderr (a terminal); a log line per cell elsewhere."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.todo = self.total = self.done = self.failed = 0
        self.started = time.monotonic()

    def start(self, todo: int, total: int) -> None:
        self.todo, self.total = todo, total
        self.started = time.monotonic()
        self.draw()

    def row(self, row: dict) -> None:
        self.done += 1
        from nndl.sweep import point_text, succeeded

        ok = succeeded(row)
        self.failed += not ok
        if not self.tty:
            point = point_text(row["varied"])
            result = (f"best accuracy {row['best_accuracy']:.4f} (epoch {row['best_epoch']})"
                      if ok else f"failed: {row.get('error') or 'no accuracy'}")
            log.info("cell %d/%d: %s seed %d: %s, %.1f s", self.done, self.todo, point, row["seed"], result,
                     row["seconds"] or 0.0)
        self.draw()

    def draw(self) -> None:
        if not self.tty or not self.todo:
            return
        elapsed = time.monotonic() - self.started
        left = f", ~{elapsed / self.done * (self.todo - self.done):.0f} s left" if self.done else ""
        filled = int(BAR_WIDTH * self.done / self.todo)
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\rsweep [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.todo} "
                          f"cells{failed}, {elapsed:.0f} s{left}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self.todo:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from nndl import sweep
    from nndl.runs import read_config

    values = {name: getattr(args, name) for name in TrainSettings.names()
              if name != "seed" and getattr(args, name, None) is not None}
    config = read_config(args.config) if args.config else None
    spec = sweep.spec_from_options(values, args.seeds, args.samples, args.sample_seed, config,
                                   f"--config {args.config}")
    bar = _Bar(sys.stderr)
    # one line (or the bar) per finished cell, not every cell's per-epoch lines (docs/sweep.md)
    quiet = [logging.getLogger(name) for name in ("nndl.training", "nndl.runs")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(max(logging.WARNING, q.getEffectiveLevel()))
    try:
        result = sweep.run_sweep(spec, args.out, jobs=args.jobs, scheduler=args.scheduler,
                                 retry_failed=args.retry_failed, on_start=bar.start, on_row=bar.row)
    except KeyboardInterrupt:
        bar.clear()
        log.warning("interrupted after %d cells; the same command resumes the sweep", bar.done)
        return INTERRUPTED
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    bar.clear()
    sweep.write_summary(result)
    if not args.no_plots:
        try:
            files = sweep.plot(result)
            if files:
                log.info("plots: %s", ", ".join(str(f) for f in files))
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            log.warning("could not draw the plots: %s", exc)
    print("\n".join(sweep.summary_lines(result)))
    return sweep.exit_status(result)
