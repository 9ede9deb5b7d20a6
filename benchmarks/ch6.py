"""Chapter 6's benchmark cells (issue 14): nndl's layered networks vs PyTorch eager, side by side.

Run through ``compare.py --ch6`` (or alone, same options)::

    python benchmarks/compare.py --ch6 --rounds 2 --out benchmarks/RESULTS.md
    python benchmarks/ch6.py worker nndl --net ch6-conv2 --mb 10      # one cell, one JSON line

Cells: {nndl with ``threads=1`` (one core), nndl with ``threads=2`` (two Python threads, each
running half of each mini-batch through every layer, one BLAS thread each), PyTorch eager (default
threads), PyTorch eager with 1 thread} x {ch6-conv1, ch6-conv2} x mini-batch {10, 100}, float32, each in its own fresh process, interleaved in a
new random order every round. A cell trains the book's network (network3's layer order:
convolution, max-pool, then bias and sigmoid; its initialisation; eta 0.1; no reshuffle)
on the first ``--n`` MNIST training images (default 50,000: one whole epoch, timed as it is, so
that what a training pays once, such as starting nndl's helper process or measuring the untrained
cost, counts once per epoch as in a real run, not five times as when 10,000 images were scaled up)
after a warm-up of 1,000 images on a throw-away network, and reports seconds per 50,000-image
epoch (the timed seconds x 50,000 / n when --n is smaller), with the test accuracy
afterwards as a check. Plus ``rss``: the peak resident memory of a ch6-expanded training
process (MNIST, the 250,000-image expanded set, the trainer, 500 steps, evaluation).

``--out FILE`` writes the chapter-6 section of FILE (between the markers
``<!-- ch6:begin -->`` and ``<!-- ch6:end -->``, appended if absent) and leaves the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NETS = ("ch6-conv1", "ch6-conv2")
MBS = (10, 100)
IMPLS = ("nndl", "nndl2", "nndlp2", "nndlauto", "torch", "torch1")
LABELS = {"nndl": "nndl, threads=1", "nndl2": "nndl, threads=2", "nndlp2": "nndl, processes=2 (mb 10)",
          "nndlauto": "nndl, auto (mb 10)", "torch": "PyTorch eager", "torch1": "PyTorch eager, 1 thread"}
ETA = 0.1
EPOCH = 50_000
WARMUP = 1_000
# issue 14's targets: nndl / PyTorch eager, per mini-batch size
TARGETS = {10: 0.5, 100: 1.0}
RSS_LIMIT_MB = 1536.0
ANCHORS = {"ch6-conv1": 16.0, "ch6-conv2": 23.0}  # issue 14: PyTorch eager s/epoch, mb 10, quiet machine
BEGIN, END = "<!-- ch6:begin -->", "<!-- ch6:end -->"


def default_impl(mb: int) -> str:
    """The cell that trains as nndl's defaults (threads="auto", blas_threads="auto") do on this
    machine: two Python threads (one BLAS thread each) from mini-batch 50 on two cores; below,
    one Python thread whose BLAS threads (one or two) a probe chooses, the "nndlauto" cell."""
    from nndl.network3 import auto_threads

    return "nndl2" if auto_threads(mb) == 2 else "nndlauto"


def _cells() -> list[tuple]:
    return [(impl, net, mb) for net in NETS for mb in MBS for impl in IMPLS
            if impl not in ("nndlauto", "nndlp2") or default_impl(mb) == "nndlauto"]


# ----------------------------------------------------------------------------- worker side
def _data(n: int):
    import numpy as np

    from nndl.data import load_mnist

    os.environ.setdefault("NNDL_DATA", str(ROOT.parent / "shared" / "data" / "mnist"))
    s = load_mnist(dtype=np.float32, download=False)
    return s.training.X[:n], s.training.y[:n], s.test.X, s.test.y


def run_nndl(net_name: str, mb: int, n: int, threads: int | str = 1, blas_threads: int | str = 1,
             processes: int | str = 1) -> dict:
    """One nndl cell; ``threads="auto", blas_threads="auto"`` are nndl's defaults. Also returns
    the BLAS threads that the probes of the timed run chose (``blas_chosen``)."""
    import logging

    import numpy as np

    from nndl import network3
    from nndl.network3 import book_net

    chosen: list[int] = []

    class Probes(logging.Handler):
        def emit(self, record):
            if "probe:" in record.msg:
                chosen.append(int(record.args[-1]))

    X, y, Xt, yt = _data(n)
    kw = {"threads": threads, "blas_threads": blas_threads, "processes": processes}
    warm = book_net(net_name, mb, rng=np.random.default_rng(9))
    warm.SGD((X[:WARMUP], y[:WARMUP]), 1, mb, ETA, monitor=(), **kw)
    net = book_net(net_name, mb, rng=np.random.default_rng(0))
    handler = Probes()
    network3.log.addHandler(handler)
    network3.log.setLevel(logging.DEBUG)
    t0, c0 = time.perf_counter(), time.process_time()
    net.SGD((X, y), 1, mb, ETA, monitor=(), **kw)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    network3.log.removeHandler(handler)
    return {"seconds": seconds, "cpu_seconds": cpu, "acc": int(round(net.accuracy(Xt, yt) * len(yt))),
            "blas_chosen": chosen}


def run_torch(net_name: str, mb: int, n: int, threads: int | None = None) -> dict:
    import torch
    import torch.nn.functional as F

    if threads is not None:
        torch.set_num_threads(threads)
    X, y, Xt, yt = _data(n)
    torch.manual_seed(0)

    class Net(torch.nn.Module):  # network3's layers: conv, pool, then bias and sigmoid
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(1, 20, 5, bias=False)
            self.b1 = torch.nn.Parameter(torch.randn(20))
            fc_in = 20 * 12 * 12
            if net_name == "ch6-conv2":
                self.c2 = torch.nn.Conv2d(20, 40, 5, bias=False)
                self.b2 = torch.nn.Parameter(torch.randn(40))
                fc_in = 40 * 4 * 4
            self.fc = torch.nn.Linear(fc_in, 100)
            self.out = torch.nn.Linear(100, 10)
            torch.nn.init.zeros_(self.out.weight)
            torch.nn.init.zeros_(self.out.bias)

        def forward(self, x):
            x = torch.sigmoid(F.max_pool2d(self.c1(x), 2) + self.b1[None, :, None, None])
            if net_name == "ch6-conv2":
                x = torch.sigmoid(F.max_pool2d(self.c2(x), 2) + self.b2[None, :, None, None])
            return self.out(torch.sigmoid(self.fc(x.flatten(1))))

    def epoch(model, Xe, ye):
        opt = torch.optim.SGD(model.parameters(), lr=ETA)
        for k in range(0, len(Xe) - mb + 1, mb):  # network3: consecutive mini-batches, no reshuffle
            loss = F.cross_entropy(model(Xe[k:k + mb]), ye[k:k + mb])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def book_init(model, seed):  # the same starting weights as run_nndl's network (network3's init)
        import numpy as np

        from nndl.network3 import book_net

        params = [torch.from_numpy(np.ascontiguousarray(p)) for p in
                  book_net(net_name, mb, rng=np.random.default_rng(seed)).params()]
        convs = [(model.c1, model.b1)] + ([(model.c2, model.b2)] if net_name == "ch6-conv2" else [])
        with torch.no_grad():
            for (conv, bias), w, b in zip(convs, params[0::2], params[1::2]):
                conv.weight.copy_(torch.flip(w, dims=(2, 3)))  # nndl convolves with the flipped kernel
                bias.copy_(b)
            for lin, w, b in zip((model.fc, model.out), params[-4::2], params[-3::2]):
                lin.weight.copy_(w.T)
                lin.bias.copy_(b)
        return model

    Xtr = torch.from_numpy(X).reshape(-1, 1, 28, 28)
    ytr = torch.from_numpy(y)
    epoch(book_init(Net(), 9), Xtr[:WARMUP], ytr[:WARMUP])
    model = book_init(Net(), 0)
    t0, c0 = time.perf_counter(), time.process_time()
    epoch(model, Xtr, ytr)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        pred = model(torch.from_numpy(Xt).reshape(-1, 1, 28, 28)).argmax(1).numpy()
    return {"seconds": seconds, "cpu_seconds": cpu, "acc": int((pred == yt).sum()),
            "threads": torch.get_num_threads()}


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_rss(steps: int = 500) -> dict:
    """Peak memory of ch6-expanded training: data, the expanded set, the trainer, steps, evaluation."""
    import numpy as np

    from nndl.data import load_mnist
    from nndl.expand_mnist import expanded_training_data
    from nndl.network3 import Trainer3, book_net

    os.environ.setdefault("NNDL_DATA", str(ROOT.parent / "shared" / "data" / "mnist"))
    after_import = maxrss_mb()
    s = load_mnist(dtype=np.float32, download=False)
    X, y = expanded_training_data(s.training)
    after_load = maxrss_mb()
    net = book_net("ch6-expanded", 10, rng=np.random.default_rng(0))
    trainer = Trainer3(net, (X, y), 1, 10, 0.03, s.validation, s.test, 0.1)
    assert trainer.X is X  # the trainer walks the expanded set in place: no copy
    for j in range(steps):
        net.update_mini_batch(X[10 * j: 10 * j + 10], y[10 * j: 10 * j + 10], 0.03, 0.1, len(X) // 10)
    net.accuracy(*s.validation)
    net.accuracy(*s.test)
    return {"peak_rss_mb": maxrss_mb(), "after_import_mb": after_import, "after_load_mb": after_load,
            "n_expanded": len(X), "expanded_mb": X.nbytes / 2**20}


def worker(argv) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("impl", choices=IMPLS + ("rss",))
    p.add_argument("--net", choices=NETS, default="ch6-conv2")
    p.add_argument("--mb", type=int, default=10)
    p.add_argument("--n", type=int, default=EPOCH)
    a = p.parse_args(argv)
    out = {"impl": a.impl, "net": a.net, "mb": a.mb, "n": a.n}
    try:
        if a.impl == "rss":
            out.update(run_rss())
        elif a.impl == "nndlauto":
            out.update(run_nndl(a.net, a.mb, a.n, "auto", "auto", "auto"))
        elif a.impl == "nndlp2":
            out.update(run_nndl(a.net, a.mb, a.n, 1, 1, 2))
        elif a.impl in ("nndl", "nndl2"):
            out.update(run_nndl(a.net, a.mb, a.n, 2 if a.impl == "nndl2" else 1, 1))
        else:
            out.update(run_torch(a.net, a.mb, a.n, 1 if a.impl == "torch1" else None))
    except ImportError as exc:
        out["error"] = f"not available: {exc}"
    if "seconds" in out:
        out["epoch_seconds"] = out["seconds"] * EPOCH / (a.n - a.n % a.mb)
        out["epoch_cpu_seconds"] = out["cpu_seconds"] * EPOCH / (a.n - a.n % a.mb)
    print(json.dumps(out))
    return 0


# ----------------------------------------------------------------------------- driver side
def _run_cell(cell: tuple, n: int) -> dict:
    impl, net, mb = cell
    cmd = [sys.executable, str(Path(__file__)), "worker", impl, "--net", net, "--mb", str(mb), "--n", str(n)]
    env = dict(os.environ)
    env.setdefault("NNDL_DATA", str(ROOT.parent / "shared" / "data" / "mnist"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"}
    return json.loads(lines[-1])


def run(rounds: int, n: int, rss: bool = True) -> dict:
    cells = _cells()
    if rss:
        cells.append(("rss", "ch6-conv2", 10))
    times: dict[tuple, list[float]] = {}
    records: dict[tuple, list[dict]] = {}
    errors: dict[tuple, str] = {}
    load = []
    for r in range(rounds):
        order = list(cells)
        random.Random(100 + r).shuffle(order)
        for i, cell in enumerate(order):
            if cell in errors or (cell[0] == "rss" and cell in records):
                continue
            load.append(os.getloadavg()[0])
            out = _run_cell(cell, n)
            if "error" in out:
                errors[cell] = out["error"]
                print(f"[round {r + 1} cell {i + 1}/{len(order)}] {cell}: {out['error']}", file=sys.stderr)
                continue
            records.setdefault(cell, []).append(out)
            value = out["peak_rss_mb"] if cell[0] == "rss" else out["epoch_seconds"]
            times.setdefault(cell, []).append(value)
            print(f"[round {r + 1} cell {i + 1}/{len(order)}] {cell}: {value:.2f}", file=sys.stderr)
    return {"times": times, "records": records, "errors": errors, "load": load}


def _stat(res: dict, cell: tuple):
    v = res["times"].get(cell)
    return None if not v else (min(v), statistics.median(v))


def _cpu(res: dict, cell: tuple):
    v = [r["epoch_cpu_seconds"] for r in res["records"].get(cell, []) if "epoch_cpu_seconds" in r]
    return None if not v else (min(v), statistics.median(v))


def report(res: dict, rounds: int, n: int, argv: list[str], elapsed: float, commit: str) -> str:
    from nndl.network3 import AUTO_THREADS_MIN_BATCH as AUTO_MIN_BATCH

    load = res["load"] or [0.0]
    lines = [BEGIN, "## Chapter 6: the book's convolutional networks (issue 14)", "",
             f"Written by `python benchmarks/compare.py --ch6{' ' + ' '.join(argv) if argv else ''}` "
             f"({time.strftime('%Y-%m-%d %H:%M')}, nndl commit {commit}, {rounds} rounds, {elapsed / 60:.1f} min; "
             "see benchmarks/ch6.py). Do not edit by hand.", "",
             f"Each cell trains the book's network (network3's order: convolution, max-pool, then bias and "
             f"sigmoid; eta {ETA}; no reshuffle; float32) on the first {n:,} MNIST training images, in its "
             "own fresh process, after a 1,000-image warm-up; all cells interleaved in random order each "
             "round. **Seconds per 50,000-image epoch** (" + ("one whole epoch, timed" if n == EPOCH else
             "timed seconds x 50,000 / n") + "), minimum / median "
             "over the rounds. nndl trains with `threads=1, blas_threads=1` (one core), with "
             "`threads=2, blas_threads=1` (two Python threads, each running half of each mini-batch through "
             "every layer, one BLAS thread each) and, at mini-batch 10, with `processes=2` (half of each "
             "mini-batch in a helper process, one BLAS thread each) and with its defaults "
             "(`threads=\"auto\", blas_threads=\"auto\", processes=\"auto\"`: one Python thread below "
             f"mini-batch {AUTO_MIN_BATCH}, and on Linux x86-64 the helper process on or off, whichever a "
             "probe of 16 timed steps each found faster, probed again every 1,000 steps or more; elsewhere the "
             "same probe between one and two BLAS threads). From mini-batch "
             f"{AUTO_MIN_BATCH} the defaults are the `threads=2` cell on a machine with two cores or more. "
             "The 'nndl default' column names the cell. PyTorch eager with its default threads (2 here) "
             "and with 1.", "",
             f"1-minute load average before each cell {min(load):.2f}-{max(load):.2f} (median "
             f"{statistics.median(load):.2f}) on {os.cpu_count()} cores, the previous cell's own load "
             "included (a two-thread cell leaves about 2). Two-thread PyTorch suffers most "
             "from a busy second core; the 1-thread columns are the like-for-like comparison.", "",
             "| network, mini-batch | " + " | ".join(LABELS[i] for i in IMPLS) + " | nndl default "
             "| nndl default / PyTorch eager | target (nndl default / PyTorch eager) "
             "| nndl threads=1 / PyTorch 1 thread |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for net in NETS:
        for mb in MBS:
            cells = []
            for impl in IMPLS:
                s = _stat(res, (impl, net, mb))
                cells.append("n/a" if s is None else f"{s[0]:.2f} / {s[1]:.2f}")
            default = default_impl(mb)
            a, b = _stat(res, (default, net, mb)), _stat(res, ("torch", net, mb))
            ratio = "-" if a is None or b is None else f"{a[0] / b[0]:.2f} ({a[1] / b[1]:.2f})"
            limit = TARGETS[mb]
            if a is None or b is None:
                verdict = "not measured"
            else:
                verdict = ("met" if a[0] / b[0] <= limit else "NOT met") + f" (<= {limit:g})"
            a1, b1 = _stat(res, ("nndl", net, mb)), _stat(res, ("torch1", net, mb))
            one = "-" if a1 is None or b1 is None else f"{a1[0] / b1[0]:.2f} ({a1[1] / b1[1]:.2f})"
            lines.append(f"| {net}, mb {mb} | " + " | ".join(cells) + f" | {LABELS[default].split(' (')[0]} | "
                         f"{ratio} | {verdict} | {one} |")
    lines += ["", "Ratios: of minima (of medians in parentheses). The verdicts follow the issue's definition "
              "(wall time against PyTorch eager with its default threads), which a loaded machine flatters: "
              "two-thread PyTorch slows down by large factors when the second core is busy. The like-for-like "
              "numbers are the CPU seconds below.", "",
              "**CPU seconds per epoch** (the process's CPU time, minimum / median): for one-thread "
              "processes this is the work done, and much less sensitive to the load than wall time. "
              "(Two-thread PyTorch's CPU time includes its threads' spinning, so it is left out.)", "",
              "| network, mini-batch | nndl, threads=1 | PyTorch eager, 1 thread | nndl threads=1 / PyTorch 1 thread |", "|---|---|---|---|"]
    for net in NETS:
        for mb in MBS:
            a, b = (_cpu(res, (impl, net, mb)) for impl in ("nndl", "torch1"))
            fa, fb = (("n/a" if s is None else f"{s[0]:.2f} / {s[1]:.2f}") for s in (a, b))
            r = "-" if a is None or b is None else f"{a[0] / b[0]:.2f} ({a[1] / b[1]:.2f})"
            lines.append(f"| {net}, mb {mb} | {fa} | {fb} | {r} |")
    anchors = []
    for net, anchor in ANCHORS.items():
        a = _cpu(res, ("nndl", net, 10))
        if a is not None:
            verdict = "within" if a[0] / anchor <= TARGETS[10] else "NOT within"
            anchors.append(f"{net} {a[0]:.1f} s = {a[0] / anchor:.2f} x the {anchor:g} s anchor "
                           f"({verdict} the 0.5 target)")
    if anchors:
        lines += ["", "Against the issue's anchors (PyTorch eager, default threads, mini-batch 10, measured on "
                  "a quieter machine): nndl's CPU seconds per epoch at mini-batch 10: " + "; ".join(anchors) + "."]
    rss = res["records"].get(("rss", "ch6-conv2", 10))
    if rss:
        d = rss[0]
        ok = "met" if d["peak_rss_mb"] <= RSS_LIMIT_MB else "NOT met"
        lines += ["", f"Peak resident memory of ch6-expanded training: **{d['peak_rss_mb']:.0f} MB** "
                  f"(target <= {RSS_LIMIT_MB:.0f} MB: {ok}): after imports {d['after_import_mb']:.0f} MB, after "
                  f"loading MNIST and the expanded set ({d['n_expanded']:,} images, {d['expanded_mb']:.0f} MB "
                  f"in float32) {d['after_load_mb']:.0f} MB; then the trainer (no copy of the set), 500 steps "
                  "and the validation and test accuracy."]
    accs = [f"{c[0]} {c[1]} mb {c[2]}: {r[0]['acc']}" for c, r in sorted(res["records"].items()) if "acc" in r[0]]
    if accs:
        lines += ["", f"Check, test accuracy (of 10,000) after the timed {n:,} images (first round): "
                  + "; ".join(accs) + "."]
    probes = []
    for c, recs in sorted(res["records"].items()):
        if c[0] == "nndlauto":
            got = [n for r in recs for n in r.get("blas_chosen", [])]
            probes.append(f"{c[1]} mb {c[2]}: two cores chosen in {got.count(2)} of {len(got)} probes")
    if probes:
        lines += ["", "The default cells' probes (every round's timed run): " + "; ".join(probes) + "."]
    if res["errors"]:
        lines += ["", "Cells that did not run: " + "; ".join(f"{c}: {e}" for c, e in res["errors"].items())]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the chapter-6 section of ``path`` (or append it), leaving the rest as it was."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        return worker(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--n", type=int, default=EPOCH, help="training images per cell (default 50,000, one epoch)")
    p.add_argument("--no-rss", action="store_true", help="skip the ch6-expanded peak-memory cell")
    p.add_argument("--out", type=Path, help="write the chapter-6 section of this Markdown file")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    res = run(a.rounds, a.n, not a.no_rss)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "?"
    text = report(res, a.rounds, a.n, argv, time.perf_counter() - t0, commit)
    print(text)
    if a.out:
        write_section(a.out, text)
        print(f"wrote the chapter-6 section of {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
