"""``nndl experiment ID``: the book's experiments (BOOK.md, "Experiments to reproduce")."""

from __future__ import annotations

import argparse

from nndl.errors import UsageError

DESCRIPTION = """\
Reproduce an experiment of the book by its id (chapters 1, 3 and 5 and the baselines),
with the book's configuration, for several seeds. Each id writes OUT/ID/result.json
(configuration, seeds, versions, per-epoch histories, timings) and the book's figures
for it (PNG and SVG); a second run resumes where the first stopped. --quick runs write
OUT/quick/ID instead, so a quick run never replaces a full result.

  nndl experiment --list
  nndl experiment ch1-30 --seeds 0,1,2
  nndl experiment ch3-overfit --quick                    # a small version: results/quick/ch3-overfit
  nndl experiment all --jobs 2                           # everything, full size

The deterministic ids (ch1-darkness, ch1-svm, ch3-saturation, and ch3-more-data's SVM)
run once, whatever --seeds says. python -m nndl.experiments.report turns an output folder
into docs/reproduction.md.
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="reproduce the book's experiments by id",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*", metavar="ID", help="experiment ids, or 'all'")
    p.add_argument("--list", action="store_true", help="list the ids and exit")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--quick", action="store_true",
                   help="a small version of each (same shape, less data and epochs), written to OUT/quick/ID")
    p.add_argument("--out", default="results", help="output folder (default ./results)")
    p.add_argument("--jobs", type=int, default=1, help="processes for several ids (default 1)")
    p.add_argument("--data-dir", help="folder of the four MNIST IDX files (default: $NNDL_DATA, the cache)")
    p.add_argument("--force", action="store_true", help="rerun seeds already in the output folder")
    p.set_defaults(func=run)


def _seeds(text: str) -> list[int]:
    from nndl.runs import split_list

    try:
        seeds = [int(s) for s in split_list(text, "--seeds")]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated whole numbers; got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise UsageError("--seeds needs at least one seed >= 0")
    return seeds


def run(args) -> int:
    import logging
    import os

    from nndl.experiments.registry import IDS, REGISTRY, describe
    from nndl.paths import check_data_options, check_output_dir

    if args.list:
        for id_ in IDS:
            print(f"{id_:18} {describe(REGISTRY[id_])}")
        return 0
    if not args.ids:
        raise UsageError("name an experiment id, 'all', or use --list")
    ids = list(IDS) if args.ids == ["all"] else args.ids
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown experiment {unknown[0]!r}; choose from: all, {', '.join(IDS)}")
    if args.jobs < 1:
        raise UsageError("--jobs must be >= 1")
    seeds = _seeds(args.seeds or "0,1,2")
    if args.seeds is not None and not any(REGISTRY[i].seeded for i in ids):
        raise UsageError(f"--seeds: {', '.join(ids)} {'is' if len(ids) == 1 else 'are'} deterministic "
                         "and run once; leave --seeds out")
    check_data_options(None, args.data_dir)
    check_output_dir(args.out, "--out")
    if args.data_dir:  # read by nndl.data.load_mnist, here and in the --jobs worker processes
        os.environ["NNDL_DATA"] = args.data_dir
    log = logging.getLogger("nndl.experiments")
    training_log = logging.getLogger("nndl.training")
    level = training_log.level
    if not args.verbose:  # one line per seed from the runner, not one per epoch from training
        training_log.setLevel(logging.WARNING)
    try:
        return _run(args, ids, seeds, log)
    finally:
        training_log.setLevel(level)  # main() may be called again in this process (tests, notebooks)


def _run(args, ids, seeds, log) -> int:
    import sys
    import time
    from pathlib import Path

    from nndl.experiments.runner import run_many

    def done(id_: str, seconds: float, lines: list[str]) -> None:
        print("\n".join(lines) + f"\n  ({seconds:.1f} s)", flush=True)

    failed = []

    def error(id_: str, exc: Exception) -> None:  # the other ids still run
        failed.append(id_)
        print(f"nndl: error: {id_}: {exc}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    run_many(ids, seeds, quick=args.quick, out_dir=args.out, force=args.force, jobs=args.jobs, on_done=done,
             on_error=error)
    log.info("%d experiment(s) in %.1f s; results in %s", len(ids) - len(failed), time.perf_counter() - start,
             Path(args.out) / "quick" if args.quick else args.out)
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    if failed:
        print(f"nndl: {len(failed)} of {len(ids)} experiments failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
