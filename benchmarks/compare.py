"""Side-by-side benchmark of nndl's training step (issue 8): one epoch of MNIST per cell.

Runs every (implementation, configuration) cell in its own fresh process
(``worker.py``), interleaved: each round runs every cell once, in a new random order,
so that drift in the machine's load spreads over all cells alike. Reports the minimum
and the median over the rounds of each cell, the ratios nndl / other within the same
run, the issue's targets, the book's ch3-ce-30 run end to end, and the peak resident
memory of a full MNIST training process.

    python benchmarks/compare.py                            # full run (~10-15 min, 2 cores)
    python benchmarks/compare.py --quick                    # smoke run: 5,000-image epochs
    python benchmarks/compare.py --only nndl --only floor   # a subset of implementations
    python benchmarks/compare.py --out benchmarks/RESULTS.md
    python benchmarks/compare.py --ch6 --rounds 2 --out benchmarks/RESULTS.md   # chapter 6 (ch6.py)

Needs the bench extra for PyTorch (``pip install -e .[bench]``); without it the
PyTorch cells say "not available" and everything else runs. MNIST is read from
``NNDL_DATA`` (default: ``../shared/data/mnist`` relative to the repository's root).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"

TIMED = ("nndl", "torch", "torch1", "sklearn", "loop", "floor", "proto")
WHOLE = ("e2e", "rss")
LABELS = {
    "nndl": "nndl",
    "torch": "PyTorch eager",
    "torch1": "PyTorch eager, 1 thread",
    "sklearn": "scikit-learn MLP",
    "loop": "per-example loop (f64)",
    "floor": "shape floor",
    "proto": "prototype step (benchmarks/fast_step.py)",
}
LOOP_DTYPE = "float64"  # the book's per-example algorithm runs in float64 only
E2E_LIMIT_S = 8.0  # issue 8: ch3-ce-30 end to end in float32
RSS_LIMIT_MB = 450.0  # issue 8: peak memory of full MNIST training
MNIST_PIXELS = 70_000 * 784  # all three splits


@dataclass(frozen=True)
class Cell:
    impl: str
    hidden: int = 30
    mb: int = 10
    dtype: str = "float32"

    @property
    def config(self) -> tuple[int, int, str]:
        return (self.hidden, self.mb, self.dtype)


@dataclass
class Results:
    times: dict[Cell, list[float]] = field(default_factory=dict)
    records: dict[Cell, list[dict]] = field(default_factory=dict)
    errors: dict[Cell, str] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-minute load average before each cell


def config_name(config: tuple[int, int, str]) -> str:
    hidden, mb, dtype = config
    return f"784-{hidden}-10, mb {mb}, {'f32' if dtype == 'float32' else 'f64'}"


def build_cells(quick: bool, only: list[str] | None) -> tuple[list[Cell], list[tuple]]:
    if quick:
        configs = [(30, 10, "float32"), (30, 10, "float64"), (30, 100, "float32")]
    else:
        configs = [(h, mb, dt) for h in (30, 100) for mb in (10, 100)
                   for dt in ("float32", "float64")]
    cells = []
    for hidden, mb, dtype in configs:
        for impl in TIMED:
            if impl == "loop" and dtype != LOOP_DTYPE:
                continue
            cells.append(Cell(impl, hidden, mb, dtype))
    cells += [Cell("e2e"), Cell("rss", dtype="float32"), Cell("rss", dtype="float64")]
    if only:
        cells = [c for c in cells if c.impl in only]
    return cells, configs


def run_cell(cell: Cell, n: int, epochs: int, env: dict) -> dict:
    cmd = [sys.executable, str(WORKER), cell.impl, "--hidden", str(cell.hidden),
           "--mb", str(cell.mb), "--dtype", cell.dtype, "--n", str(n), "--epochs", str(epochs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    wall = time.perf_counter() - t0
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    out = json.loads(lines[-1])
    out["process_s"] = wall
    return out


def run_all(cells: list[Cell], rounds: int, n: int, epochs: int) -> Results:
    env = dict(os.environ)
    env.setdefault("NNDL_DATA", str(ROOT.parent / "shared" / "data" / "mnist"))
    res = Results()
    order = list(cells)
    for r in range(rounds):
        random.Random(r).shuffle(order)
        t_round = time.perf_counter()
        for i, cell in enumerate(order):
            if cell in res.errors:
                continue
            res.load.append(os.getloadavg()[0])
            out = run_cell(cell, n, epochs, env)
            tag = f"[round {r + 1}/{rounds} cell {i + 1}/{len(order)}] {cell.impl:8s}"
            if "error" in out:
                res.errors[cell] = out["error"]
                print(f"{tag} {out['error']}", file=sys.stderr)
                continue
            res.records.setdefault(cell, []).append(out)
            value = out["peak_rss_mb"] if cell.impl == "rss" else out["seconds"]
            res.times.setdefault(cell, []).append(value)
            where = "" if cell.impl in WHOLE else config_name(cell.config)
            print(f"{tag} {where:24s} {value:9.4f}", file=sys.stderr)
        print(f"round {r + 1} took {time.perf_counter() - t_round:.0f} s", file=sys.stderr)
    return res


# -- reporting ----------------------------------------------------------------------------


def stat(res: Results, cell: Cell) -> tuple[float, float] | None:
    values = res.times.get(cell)
    if not values:
        return None
    return min(values), statistics.median(values)


def fmt_cell(res: Results, cell: Cell) -> str:
    s = stat(res, cell)
    if s is None:
        return "n/a" if cell in res.errors else "-"
    return f"{s[0]:.3f} / {s[1]:.3f}"


def other_cell(impl: str, config: tuple) -> Cell:
    hidden, mb, dtype = config
    return Cell(impl, hidden, mb, LOOP_DTYPE if impl == "loop" else dtype)


def ratio(res: Results, config: tuple, other: str) -> tuple[float, float] | None:
    a, b = stat(res, Cell("nndl", *config)), stat(res, other_cell(other, config))
    if a is None or b is None:
        return None
    return a[0] / b[0], a[1] / b[1]


# (description, config, other implementation or None for an absolute target, limit)
TARGETS = [
    ("mb 10, f32: nndl <= 0.08 x PyTorch eager", (30, 10, "float32"), "torch", 0.08),
    ("mb 10, f32: nndl <= 0.06 x per-example loop (f64)", (30, 10, "float32"), "loop", 0.06),
    ("mb 10, f32: nndl <= 1.5 x shape floor", (30, 10, "float32"), "floor", 1.5),
    ("mb 10, f64: nndl <= 0.15 x PyTorch eager", (30, 10, "float64"), "torch", 0.15),
    ("mb 100, f32: nndl <= 0.6 x PyTorch eager", (30, 100, "float32"), "torch", 0.6),
    ("mb 100, f64: nndl <= 0.6 x PyTorch eager", (30, 100, "float64"), "torch", 0.6),
]


def target_rows(res: Results, e2e_limit_s: float, rss_limit_mb: float) -> list[str]:
    rows = []
    for text, config, other, limit in TARGETS:
        r = ratio(res, config, other)
        if r is None:
            rows.append(f"| {text} | n/a | n/a | not measured |")
            continue
        verdict = "met" if r[0] <= limit else "NOT met"
        if r[0] <= limit < r[1]:
            verdict = "met on minima only"
        rows.append(f"| {text} | {r[0]:.3f} | {r[1]:.3f} | {verdict} |")
    s = stat(res, Cell("e2e"))
    if s is not None:
        rows.append(f"| ch3-ce-30, f32, load + 30 epochs + evaluation <= {e2e_limit_s:g} s "
                    f"| {s[0]:.2f} s | {s[1]:.2f} s | {'met' if s[0] <= e2e_limit_s else 'NOT met'} |")
    for dtype in ("float32", "float64"):
        s = stat(res, Cell("rss", dtype=dtype))
        if s is not None:
            rows.append(f"| peak RSS of full MNIST training ({dtype}) <= {rss_limit_mb:g} MB "
                        f"| {s[0]:.0f} MB | {s[1]:.0f} MB "
                        f"| {'met' if s[1] <= rss_limit_mb else 'NOT met (see Peak resident memory)'} |")
    return rows


def machine_info() -> list[str]:
    code = r"""
import json, platform, numpy, scipy, sklearn
info = {"python": platform.python_version(), "numpy": numpy.__version__,
        "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}
try:
    import nndl; info["nndl"] = nndl.__version__
except Exception as e:
    info["nndl"] = f"not importable ({e})"
cfg = numpy.show_config(mode="dicts")["Build Dependencies"]
info["numpy BLAS"] = "{name} {version} ({openblas configuration})".format(
    **cfg["blas"]) if "openblas configuration" in cfg["blas"] else str(cfg["blas"])
try:
    from threadpoolctl import threadpool_info
    info["BLAS at run time"] = "; ".join(
        f"{p['internal_api']} {p['version']} {p.get('architecture', '')}, "
        f"{p['num_threads']} threads ({p['filepath'].split('/')[-1]})" for p in threadpool_info())
except Exception as e:
    info["BLAS at run time"] = f"threadpoolctl failed: {e}"
try:
    import torch
    info["torch"] = torch.__version__
    lines = torch.__config__.show().splitlines()
    mkl = [l.strip(" -").split("-Product")[0] for l in lines if "Math Kernel" in l]
    blas = [f.split(":")[-1].strip() for l in lines for f in l.split(",") if "BLAS_INFO" in f]
    info["torch BLAS"] = "; ".join(blas + mkl)
    info["torch threads"] = torch.get_num_threads()
except Exception as e:
    info["torch"] = f"not available ({e.__class__.__name__})"
print(json.dumps(info))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    info = json.loads(out.stdout) if out.returncode == 0 else {"versions": out.stderr[-300:]}
    cpu, flags, mem = "?", "", "?"
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        fl = next(l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags"))
        flags = ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in fl)
        mem = next(l.split(":", 1)[1].strip() for l in
                   Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    rows = [f"- CPU: {cpu}, {os.cpu_count()} logical cores ({flags}); memory {mem}",
            f"- OS: {platform.platform()}",
            f"- nndl source: commit {commit}" + (" with uncommitted changes in src/" if dirty else "")]
    rows += [f"- {k}: {v}" for k, v in info.items()]
    return rows


def report(res: Results, configs: list[tuple], args, n: int, elapsed: float) -> str:
    impls = [i for i in TIMED if any(c.impl == i for c in list(res.times) + list(res.errors))]
    lines = ["# nndl vs. other implementations: one epoch of MNIST", "",
             f"Written by `python benchmarks/compare.py{' ' + ' '.join(args.argv) if args.argv else ''}`"
             f" ({time.strftime('%Y-%m-%d %H:%M')}, {args.rounds} rounds, {elapsed / 60:.1f} min)."
             " Do not edit by hand.", "",
             f"Each cell: one epoch of {n:,} MNIST training images, [784, H, 10] sigmoid network, "
             "cross-entropy, N(0, 1) initialization, eta = 0.5, shuffled each epoch; each "
             "cell in its own fresh process, all cells interleaved over the rounds in random "
             "order. Seconds, **minimum / median** over the rounds. The per-example loop is the "
             "book's network2 algorithm in float64 (in f32 rows its f64 time is shown and used).",
             "", "The machine is shared: the 1-minute load average before each cell ranged "
             f"{min(res.load, default=0):.2f}-{max(res.load, default=0):.2f} (median "
             f"{statistics.median(res.load or [0]):.2f}) on {os.cpu_count()} cores. Cells that "
             "use two threads (PyTorch by default; OpenBLAS in NumPy/SciPy for the larger "
             "products, e.g. mini-batch 100) slow down by large factors when the other core is "
             "busy, so minima are the comparable numbers and the spread between minimum and "
             "median shows the noise.", "", "## Machine", ""] + machine_info()
    lines += ["", "## One epoch, seconds (min / median)", "",
              "| config | " + " | ".join(LABELS[i] for i in impls) + " |",
              "|---" * (len(impls) + 1) + "|"]
    for config in configs:
        lines.append(f"| {config_name(config)} | "
                     + " | ".join(fmt_cell(res, other_cell(i, config)) for i in impls) + " |")
    others = [i for i in impls if i != "nndl"]
    if "nndl" in impls and others:
        lines += ["", "## Ratios nndl / other (of minima; of medians in parentheses)", "",
                  "| config | " + " | ".join(LABELS[i] for i in others) + " |",
                  "|---" * (len(others) + 1) + "|"]
        for config in configs:
            cells = []
            for other in others:
                r = ratio(res, config, other)
                cells.append("-" if r is None else f"{r[0]:.3f} ({r[1]:.3f})")
            lines.append(f"| {config_name(config)} | " + " | ".join(cells) + " |")
    if n == 50_000:
        lines += ["", "## Targets of issue 8 (784-30-10; ratios within this run)", "",
                  "| target | min | median | verdict |", "|---|---|---|---|"]
        lines += target_rows(res, E2E_LIMIT_S, RSS_LIMIT_MB)
    e2e = res.records.get(Cell("e2e"))
    if e2e:
        best = min(e2e, key=lambda d: d["seconds"])
        lines += ["", "## ch3-ce-30 end to end (nndl, float32)", "",
                  f"[784, 30, 10], cross-entropy, large init, mini-batch 10, eta 0.5, "
                  f"{best['epochs']} epochs on {n:,} images, test accuracy evaluated after every "
                  "epoch. Fastest round: import {import_s:.2f} s, load MNIST {load_s:.2f} s, "
                  "training + evaluation {train_eval_s:.2f} s; whole process (interpreter "
                  "start to exit) {process_s:.2f} s; test accuracy after the last epoch "
                  "{final_acc}, best {best_acc}; peak RSS {peak_rss_mb:.0f} MB.".format(**best),
                  "", "Load + training + evaluation over the rounds (s): "
                  + ", ".join(f"{d['seconds']:.2f}" for d in e2e)]
    for dtype in ("float32", "float64"):
        rss = res.records.get(Cell("rss", dtype=dtype))
        if rss:
            d = rss[0]
            if dtype == "float32":
                lines += ["", "## Peak resident memory, full MNIST training process (nndl)", ""]
            lines.append(f"- {dtype}: peak {statistics.median(res.times[Cell('rss', dtype=dtype)]):.0f} MB "
                         f"(after imports {d['after_import_mb']:.0f} MB, after loading all of "
                         f"MNIST {d['after_load_mb']:.0f} MB; then one training epoch and "
                         "evaluation)")
            pixels_mb = MNIST_PIXELS * (8 if dtype == "float64" else 4) / 2**20
            floor_mb = d["after_import_mb"] + pixels_mb
            peak = statistics.median(res.times[Cell("rss", dtype=dtype)])
            lines.append(f"  - the pixels of all of MNIST alone are {pixels_mb:.0f} MB in {dtype}: with the "
                         f"imports, {floor_mb:.0f} MB before any training"
                         + (f", above the {RSS_LIMIT_MB:g} MB target" if floor_mb > RSS_LIMIT_MB else "")
                         + f"; training and evaluation added {max(0.0, peak - d['after_load_mb']):.0f} MB "
                         "above the loaded data")
    accs = []
    for cell, recs in res.records.items():
        if "acc" in recs[0]:
            accs.append(f"{cell.impl} {config_name(cell.config)}: {recs[0]['acc']}")
    if accs:
        lines += ["", "## Check: test accuracy after the timed epoch (of 10,000; first round)", "",
                  "; ".join(sorted(accs))]
    if res.errors:
        lines += ["", "## Cells that did not run", ""]
        lines += [f"- {c.impl} {config_name(c.config)}: {e}" for c, e in res.errors.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--ch6" in argv:  # chapter 6's cells (issue 14): benchmarks/ch6.py, its own section of the report
        sys.path.insert(0, str(HERE))
        import ch6

        return ch6.main([a for a in argv if a != "--ch6"])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds (each runs every cell once)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: three 784-30-10 configs, 5,000-image epochs, e2e 2 epochs")
    p.add_argument("--only", action="append", choices=TIMED + WHOLE, metavar="IMPL",
                   help=f"run only this implementation (repeatable): {', '.join(TIMED + WHOLE)}")
    p.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    n, epochs = (5_000, 2) if args.quick else (50_000, 30)
    cells, configs = build_cells(args.quick, args.only)
    t0 = time.perf_counter()
    res = run_all(cells, args.rounds, n, epochs)
    text = report(res, configs, args, n, time.perf_counter() - t0)
    print(text)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
