"""Benchmark of ``nndl sweep`` (issue 17): the same 8 cells, one process vs two vs a Dask cluster.

8 cells = 784-30-10, cross-entropy, mini-batch 10, 5 epochs on the 50,000 MNIST training
images, evaluated on the 10,000 validation images, eta in {0.1, 0.5, 1, 3} x seeds {0, 1}.
Three ways, in the same run, interleaved in a new random order every round:

- ``jobs1``: ``--jobs 1`` (the cells one after another in this process);
- ``jobs2``: ``--jobs 2`` (two joblib/loky worker processes, the data memory-mapped once);
- ``dask2``: a ``distributed.LocalCluster`` of two worker processes (one thread each),
  started once before the rounds (as a cluster would be), the data sent once per worker per sweep.

Each sweep starts from an empty folder and times ``nndl.sweep.run_sweep`` from the call
to its return (data shipping included; MNIST is read once beforehand, as every mode
needs it). Targets: jobs2 <= 0.6 x jobs1, dask2 <= 1.2 x jobs2. The rows of every mode
must be identical (timings aside); the script checks it.

    python benchmarks/sweep_bench.py                       # 3 rounds, prints the section
    python benchmarks/sweep_bench.py --out benchmarks/RESULTS.md   # (re)writes its own section

MNIST is read from ``NNDL_DATA``. Needs ``dask[distributed]`` (the sweep extra).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

START = "<!-- sweep-bench:start -->"
END = "<!-- sweep-bench:end -->"
TARGET_JOBS = 0.6
TARGET_DASK = 1.2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="a Markdown file whose sweep section is (re)written")
    args = ap.parse_args()

    import distributed
    import numpy as np

    from nndl import sweep
    from nndl.data import load_dataset
    from nndl.runs import TrainSettings

    base = TrainSettings(data="mnist", evaluate_on="validation", sizes=(784, 30, 10), mini_batch_size=10,
                         epochs=5)
    spec = sweep.SweepSpec(base, {"eta": [0.1, 0.5, 1.0, 3.0]}, (0, 1))
    splits = load_dataset("mnist", dtype=np.float64)
    began = time.time()
    times: dict[str, list[float]] = {"jobs1": [], "jobs2": [], "dask2": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}  # CPU seconds of the cells, summed
    loads: list[float] = []
    rows: dict[str, list] = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, tempfile.TemporaryDirectory() as tmp:
        runs = {
            "jobs1": lambda out: sweep.run_sweep(spec, out, jobs=1, splits=splits),
            "jobs2": lambda out: sweep.run_sweep(spec, out, jobs=2, splits=splits),
            "dask2": lambda out: sweep.run_sweep(spec, out, scheduler=cluster.scheduler_address, splits=splits),
        }
        for r in range(args.rounds):
            order = list(runs)
            random.Random(r).shuffle(order)
            for mode in order:
                loads.append(os.getloadavg()[0])
                out = Path(tmp) / f"{mode}-{r}"
                t0 = time.perf_counter()
                result = runs[mode](out)
                times[mode].append(time.perf_counter() - t0)
                cpu[mode].append(sum(x["cpu_seconds"] for x in result.rows))
                rows[mode] = sorted(str(sweep.comparable(x)) for x in result.rows)
                print(f"round {r} {mode}: {times[mode][-1]:.2f} s, cells' CPU {cpu[mode][-1]:.2f} s "
                      f"(load {loads[-1]:.2f})", flush=True)
    identical = rows["jobs1"] == rows["jobs2"] == rows["dask2"]
    best = max(result.rows, key=lambda x: x["best_accuracy"] or 0)
    text = section(times, cpu, loads, identical, best, args.rounds, time.time() - began)
    print(text)
    if args.out:
        write_section(Path(args.out), text)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def section(times, cpu, loads, identical, best, rounds, seconds) -> str:
    mn = {k: min(v) for k, v in times.items()}
    md = {k: statistics.median(v) for k, v in times.items()}
    r_jobs = (mn["jobs2"] / mn["jobs1"], md["jobs2"] / md["jobs1"])
    r_dask = (mn["dask2"] / mn["jobs2"], md["dask2"] / md["jobs2"])

    def verdict(ratio, target):
        return "met" if ratio <= target else "NOT met"

    lines = [
        START,
        "## nndl sweep: 8 cells in parallel (issue 17)",
        "",
        f"Written by `python benchmarks/sweep_bench.py --out benchmarks/RESULTS.md` "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {rounds} rounds, {seconds / 60:.1f} min, "
        f"nndl commit {_commit()}, Python {platform.python_version()}).",
        "",
        "8 cells: 784-30-10, cross-entropy, mini-batch 10, 5 epochs on the 50,000 MNIST training images, "
        "validation accuracy after every epoch, eta in {0.1, 0.5, 1, 3} x seeds {0, 1}, float64. "
        "Wall time of `nndl.sweep.run_sweep` into an empty folder (data shipping included), the three "
        "ways interleaved in a new order every round. The Dask LocalCluster (2 worker processes, "
        "1 thread each, on 127.0.0.1) is started once before the rounds.",
        "",
        f"The machine is shared by six developers: the 1-minute load average before each sweep ranged "
        f"{min(loads):.2f}-{max(loads):.2f} (median {statistics.median(loads):.2f}) on 2 cores, so "
        "the minima are the comparable numbers.",
        "",
        "| way | min s | median s | all rounds | cells' CPU s (median) | cores used (median CPU / wall) |",
        "|---|---|---|---|---|---|",
    ]
    names = {"jobs1": "`--jobs 1`", "jobs2": "`--jobs 2` (joblib, 2 processes)",
             "dask2": "Dask LocalCluster, 2 workers"}
    for k in ("jobs1", "jobs2", "dask2"):
        share = statistics.median(c / t for c, t in zip(cpu[k], times[k]))
        lines.append(f"| {names[k]} | {mn[k]:.2f} | {md[k]:.2f} | {', '.join(f'{t:.2f}' for t in times[k])} | "
                     f"{statistics.median(cpu[k]):.2f} | {share:.2f} |")
    lines += [
        "",
        "| target | ratio of minima | ratio of medians | verdict (minima) |",
        "|---|---|---|---|",
        f"| `--jobs 2` <= {TARGET_JOBS} x `--jobs 1` | {r_jobs[0]:.2f} | {r_jobs[1]:.2f} | "
        f"{verdict(r_jobs[0], TARGET_JOBS)} |",
        f"| LocalCluster <= {TARGET_DASK} x `--jobs 2` | {r_dask[0]:.2f} | {r_dask[1]:.2f} | "
        f"{verdict(r_dask[0], TARGET_DASK)} |",
        "",
        "The cells' CPU seconds (`cpu_seconds` of the rows, summed) are the work; \"cores used\" is "
        "that work over the wall time: 1.0 for a sweep that has one core to itself, 2.0 at most "
        "here. When other developers' processes keep the cores busy, two worker processes get "
        "less than two cores, and the wall-time ratios show the machine's load as much as nndl.",
        "",
        f"Rows of the three ways identical (timings aside): {'yes' if identical else 'NO'}. "
        f"Best cell: eta {best['varied']['eta']:g}, seed {best['seed']}: validation accuracy "
        f"{best['best_accuracy']:.4f} after epoch {best['best_epoch']}.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it); other sections stay as they are."""
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        tail = rest.split(END, 1)[1]
        new = head + text + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


if __name__ == "__main__":
    main()
