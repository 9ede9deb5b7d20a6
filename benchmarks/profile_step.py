"""Where nndl's SGD epoch spends its time (issue 8): phases, per step, and call costs.

    python benchmarks/profile_step.py                  # 784-30-10, mb 10, float32
    python benchmarks/profile_step.py --mb 10 100 --dtype float64
    python benchmarks/profile_step.py --contention     # also: BLAS threads vs. a busy core
    python benchmarks/profile_step.py --mb 10 100 --contention --out benchmarks/PROFILE.md

Three views, all in this one fresh process, repeated and reported as minima:

1. **Phases of ``net.sgd``** (two calls of two epochs each): the ``Trainer`` set-up,
   each epoch's mini-batches (the fast step's ``run_batches``, which gathers the
   epoch's order a chunk of rows at a time) and its end (monitoring, checks).
2. **Per step**: nndl's epochs (the first and the second of one ``sgd`` call, with
   OpenBLAS's default threads and limited to one) against the shape floor (the five
   products alone, see ``worker.py``) and ``fast_step.py``'s prototype (one epoch,
   gathering included).
3. **Call costs at the real shapes**: each product, the fused gemm update, gemv,
   a small ufunc, the sigmoid two ways (``scipy.special.expit`` and the tanh form
   (1 + tanh(z/2)) / 2, eq. 111) at the mini-batch and at the 10,000-row evaluation
   size, and the shuffle two ways (the whole set at once, or a chunk of rows into a
   small reused buffer).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import worker  # noqa: E402  (this folder's worker: data loading, floor and prototype)

REPEAT = 5


def phases(X, y, sizes, m, dtype) -> list[str]:
    """Time the parts of two epochs of ``net.sgd`` by wrapping the Trainer's methods."""
    import nndl
    from nndl import training

    trainer_cls = getattr(training, "Trainer", None)
    fused_cls = getattr(training, "_FusedSGD", None)
    if trainer_cls is None or fused_cls is None or not hasattr(fused_cls, "run_batches") \
            or not hasattr(trainer_cls, "_end_epoch"):
        return ["(nndl.training's Trainer._end_epoch or _FusedSGD.run_batches not found: phase timing skipped)"]
    log: list[tuple[str, float]] = []
    originals = {(trainer_cls, "_end_epoch"): trainer_cls._end_epoch,
                 (fused_cls, "run_batches"): fused_cls.run_batches}

    def timed(name, f):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                log.append((name, time.perf_counter() - t))
        return wrapper

    for (cls, name), f in originals.items():
        setattr(cls, name, timed(name, f))
    rows = []
    try:
        for rep in range(2):
            net = nndl.Network(sizes, cost=nndl.CrossEntropyCost, init="large", dtype=dtype,
                               rng=np.random.default_rng(0))
            log.clear()
            t0 = time.perf_counter()
            trainer = trainer_cls(net, (X, y), 2, m, worker.ETA, rng=np.random.default_rng(1))
            t1 = time.perf_counter()
            trainer.run()
            total = time.perf_counter() - t1
            steps = [s for name, s in log if name == "run_batches"]
            ends = [s for name, s in log if name == "_end_epoch"]
            n_steps = -(-len(X) // m)
            rows.append(
                f"- sgd call {rep + 1}: Trainer set-up {1e3 * (t1 - t0):.1f} ms; "
                "mini-batches (gathers included) " + ", ".join(f"{s:.3f} s" for s in steps)
                + " = " + ", ".join(f"{1e6 * s / n_steps:.1f} us/step" for s in steps)
                + "; end of epoch " + ", ".join(f"{1e3 * s:.1f} ms" for s in ends)
                + f"; rest {1e3 * (total - sum(steps) - sum(ends)):.1f} ms")
    finally:
        for (cls, name), f in originals.items():
            setattr(cls, name, f)
    return rows


def per_step(X, y, sizes, m, dtype) -> list[str]:
    """nndl's epochs (first and second of an ``sgd(epochs=2)`` call) against the floor and prototype."""
    import nndl
    from threadpoolctl import threadpool_limits

    data = (X, y, X[:100], y[:100])
    n_steps = -(-len(X) // m)
    names = ("nndl, 1st epoch of a call",
             "nndl, 2nd epoch (steady state)",
             "nndl, 1 BLAS thread (threadpoolctl), 1st epoch",
             "nndl, 1 BLAS thread (threadpoolctl), 2nd epoch",
             "shape floor", "prototype (fast_step.py), one epoch")
    res: dict[str, list[float]] = {k: [] for k in names}
    net = nndl.Network(sizes, cost=nndl.CrossEntropyCost, init="large", dtype=dtype,
                       rng=np.random.default_rng(0))
    for _ in range(REPEAT):
        for threads, (first, second) in ((None, names[:2]), (1, names[2:4])):
            with threadpool_limits(threads, user_api="blas"):
                hist = net.sgd((X, y), 2, m, worker.ETA, rng=np.random.default_rng(3))
            res[first].append(hist.epoch_seconds[0])
            res[second].append(hist.epoch_seconds[1])
        res["shape floor"].append(worker.run_floor(sizes, m, dtype, data)["seconds"])
        res[names[-1]].append(worker.run_proto(sizes, m, dtype, data)["seconds"])
    floor = min(res["shape floor"])
    return [f"- {k}: min {min(v):.4f} s/epoch = {1e6 * min(v) / n_steps:.1f} us/step "
            f"({min(v) / floor:.2f} x floor); median {np.median(v):.4f} s"
            for k, v in res.items()]


def call_costs(X, sizes, m, dtype) -> list[str]:
    from scipy.linalg import blas
    from scipy.special import expit

    from nndl import activations, training

    n_in, h, n_out = sizes
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(X[:m])
    W1 = rng.standard_normal((h, n_in)).astype(dtype)
    W2 = rng.standard_normal((n_out, h)).astype(dtype)
    b1 = np.zeros(h, dtype)
    Z1 = (rng.standard_normal((m, h)) * 4).astype(dtype)
    A1, T = np.empty_like(Z1), np.empty_like(Z1)
    Z2, D2 = np.empty((m, n_out), dtype), rng.random((m, n_out)).astype(dtype)
    G1, G2 = np.empty((h, n_in), dtype), np.empty((n_out, h), dtype)
    Ze = (rng.standard_normal((10_000, h)) * 4).astype(dtype)
    Ae = np.empty_like(Ze)
    ones = np.ones(m, dtype)
    gemm, gemv = blas.get_blas_funcs(("gemm", "gemv"), dtype=dtype)
    W1T, W2T, xT, D2T, Z1T = W1.T, W2.T, x.T, D2.T, Z1.T
    n = len(X)
    perm = rng.permutation(n)
    Xs = np.empty_like(X)
    np.take(X, perm, axis=0, out=Xs, mode="clip")  # touch the pages once
    chunk = max(m, training.CHUNK_BYTES // (n_in * X.itemsize) // m * m)
    Xc = np.empty((chunk, n_in), dtype)
    sig_tanh = activations.sigmoid_for_size(activations.TANH_FROM)  # nndl's eq. (111) form, at any size

    cases = [
        (f"forward 1: x @ W1.T ({m}x{n_in} @ {n_in}x{h})", lambda: np.matmul(x, W1T, out=Z1), 1),
        (f"forward 2: A1 @ W2.T ({m}x{h} @ {h}x{n_out})", lambda: np.matmul(A1, W2T, out=Z2), 1),
        (f"BP2: D2 @ W2 ({m}x{n_out} @ {n_out}x{h})", lambda: np.matmul(D2, W2, out=T), 1),
        (f"dW2: D2.T @ A1 ({n_out}x{m} @ {m}x{h})", lambda: np.matmul(D2T, A1, out=G2), 1),
        (f"dW1: D1.T @ x ({h}x{m} @ {m}x{n_in})", lambda: np.matmul(Z1T, x, out=G1), 1),
        ("dW1 fused with eq. (93): gemm(alpha, x.T, D1.T, 1, W1.T, 0, 1, 1), positional",
         lambda: gemm(-1e-9, xT, Z1T, 1.0, W1T, 0, 1, 1), 1),
        ("unfused update: W1 -= G1 (after the product)", lambda: np.subtract(W1, G1, out=W1), 1),
        ("bias gradient + eq. (94): gemv(alpha, D1.T, ones, 1, b1), positional arguments",
         lambda: gemv(-1e-9, Z1T, ones, 1.0, b1, 0, 1, 0, 1, 0, 1), 1),
        ("the same gemv with keywords: beta=1.0, y=b1, overwrite_y=True",
         lambda: gemv(-1e-9, Z1T, ones, beta=1.0, y=b1, overwrite_y=True), 1),
        ("dW1 fused gemm with keywords: beta=1.0, c=W1.T, trans_b=True, overwrite_c=True",
         lambda: gemm(-1e-9, xT, Z1T, beta=1.0, c=W1T, trans_b=True, overwrite_c=True), 1),
        (f"a ufunc on {m}x{h} with out= (bias add)", lambda: np.add(Z1, b1, out=A1), 1),
        (f"sigmoid {m}x{h}: scipy expit", lambda: expit(Z1, out=A1), 1),
        (f"sigmoid {m}x{h}: tanh form, 4 ufuncs", lambda: sig_tanh(Z1, A1), 1),
        (f"sigmoid 10000x{h} (evaluation): scipy expit", lambda: expit(Ze, out=Ae), 1),
        (f"sigmoid 10000x{h} (evaluation): tanh form", lambda: sig_tanh(Ze, Ae), 1),
        (f"shuffle, whole set ({n} rows) into a touched buffer, per step",
         lambda: np.take(X, perm, axis=0, out=Xs, mode="clip"), n // m),
        (f"shuffle, {chunk}-row chunk into a small reused buffer, per step",
         lambda: np.take(X, perm[:chunk], axis=0, out=Xc, mode="clip"), chunk // m),
    ]
    rows = []
    for text, fn, per in cases:
        number = max(1, int(0.02 / max(timeit.timeit(fn, number=1), 1e-7)))
        best = min(timeit.repeat(fn, number=number, repeat=REPEAT)) / number
        rows.append(f"| {text} | {1e6 * best / per:.2f} |")
    return rows


def contention(X, sizes, dtype) -> list[str]:
    """The shape floor at mb 100 with 1 and 2 BLAS threads, as the machine is and with one more busy process."""
    from threadpoolctl import threadpool_limits

    data = (X, None, None, None)
    rows = []
    for busy in (False, True):
        hog = None
        if busy:  # one process of our own spinning on the other core, ended below by its pid
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for threads in (1, 2):
                with threadpool_limits(threads, user_api="blas"):
                    t = [worker.run_floor(sizes, 100, dtype, data)["seconds"] for _ in range(3)]
                rows.append(f"| {'+ 1 spinning process' if busy else 'as it is'} | {threads} | {min(t):.4f} | "
                            f"{max(t):.4f} |")
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    return rows


def report(X, y, sizes, m, dtype, contend: bool) -> list[str]:
    out = [f"# Profile of one SGD epoch: {sizes}, mini-batch {m}, {dtype.name}", "",
           "## Phases of net.sgd (2 epochs)", ""]
    out += phases(X, y, sizes, m, dtype)
    out += ["", f"## Per step (minimum of {REPEAT})", ""]
    out += per_step(X, y, sizes, m, dtype)
    out += ["", f"## Call costs at the real shapes (minimum of {REPEAT}, microseconds)", "",
            "| call | us |", "|---|---|"]
    out += call_costs(X, sizes, m, dtype)
    if contend:
        out += ["", "## Shape floor at mini-batch 100 vs. BLAS threads and load (s/epoch)",
                "", "| load | BLAS threads | min of 3 | max of 3 |", "|---|---|---|---|"]
        out += contention(X, sizes, dtype)
    return out + [""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=30)
    p.add_argument("--mb", type=int, nargs="+", default=[10], help="mini-batch size(s)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--contention", action="store_true",
                   help="also time BLAS threads against a busy core (spawns one spinning process)")
    p.add_argument("--out", type=Path, help="also write the report to this file")
    args = p.parse_args(argv)
    os.environ.setdefault("NNDL_DATA", str(worker.DEFAULT_DATA))
    dtype = np.dtype(args.dtype)
    sizes = [784, args.hidden, 10]
    X, y, _, _ = worker.load(dtype, 50_000)
    out = [f"Written by `python benchmarks/profile_step.py "
           f"{' '.join(sys.argv[1:] if argv is None else argv)}` ({time.strftime('%Y-%m-%d %H:%M')}, "
           f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores). Do not edit by hand.", ""]
    for i, m in enumerate(args.mb):
        out += report(X, y, sizes, m, dtype, args.contention and i == len(args.mb) - 1)
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
