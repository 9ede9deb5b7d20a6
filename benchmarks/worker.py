"""Time one benchmark cell in this process and print one JSON line (issue 8).

Run by ``compare.py``, one fresh process per cell, but usable alone::

    python benchmarks/worker.py torch --hidden 30 --mb 10 --dtype float32
    python benchmarks/worker.py e2e            # the book's ch3-ce-30 run, end to end
    python benchmarks/worker.py rss --dtype float32

A cell trains one real epoch: the first ``--n`` MNIST training images (50,000 = the
book's training set), a [784, H, 10] sigmoid network, cross-entropy cost, the book's
"large" initialization N(0, 1), eta = 0.5, no regularization, the training set
shuffled once per epoch. The clock covers exactly the epoch (shuffle included);
importing, loading data and building the model are outside it. Every
implementation first runs a short warm-up (1,000 images) on a throw-away model,
then trains a freshly initialised one under the clock, and reports its test
accuracy afterwards (outside the clock) as a check that it really learned.

Implementations (``IMPL``):

- ``nndl``: ``nndl.Network(...).sgd(...)``, the library under test.
- ``torch``, ``torch1``: PyTorch eager, ``nn.Module`` + autograd + ``optim.SGD``
  (``torch1``: after ``torch.set_num_threads(1)``). A benchmark-only extra.
- ``sklearn``: ``MLPClassifier(solver="sgd")``, one ``partial_fit`` = one epoch. Its
  output layer is softmax + log-loss (scikit-learn's fixed choice for multiclass),
  the rest is as above; its weights are reset to N(0, 1) after the warm-up.
- ``loop``: the book's ``network2.py`` algorithm, written here: each mini-batch is
  back-propagated one (784, 1) column-vector example at a time and the ``nabla``
  lists are accumulated (float64 in the book).
- ``floor``: the "shape floor": only the five matrix products of a step, at their
  real shapes (forward 1 and 2, BP2, dW2, dW1), once per step, with ``out=``
  buffers and the same BLAS. Nothing that calls BLAS once per product goes below it.
  Timed twice, with OpenBLAS's default threads and with one (``threadpoolctl``); the
  faster counts (on a busy 2-core machine the second thread can cost 10-100x).
- ``proto``: ``fast_step.py``, a prototype of a faster step (see there).
- ``e2e``: ch3-ce-30 (BOOK.md) end to end with nndl: load MNIST, 30 epochs of
  mini-batch 10 with the test accuracy evaluated after each, as the book does.
- ``rss``: peak resident memory of a process that loads all of MNIST and trains one
  epoch with nndl (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

Data come from ``nndl.data.load_mnist``; its folder is the ``NNDL_DATA``
environment variable (``compare.py`` sets it to ``../shared/data/mnist`` relative to
the repository's root when unset).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ETA = 0.5  # the book's eta for ch3-ce-30
WARMUP_IMAGES = 1_000  # a throw-away model trains on these first, outside the clock
N_TEST = 10_000
IMPLS = ("nndl", "torch", "torch1", "sklearn", "loop", "floor", "proto", "e2e", "rss")
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


class Unavailable(Exception):
    """The implementation cannot run here (a missing package or API)."""


# -- data ---------------------------------------------------------------------------------


def load(dtype: np.dtype, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n`` training images and the test set: X (rows, 784) of ``dtype``, y int."""
    from nndl.data import load_mnist

    os.environ.setdefault("NNDL_DATA", str(DEFAULT_DATA))
    splits = load_mnist(dtype=dtype, download=False)
    (X, y), (X_test, y_test) = splits.training.head(n), splits.test.head(N_TEST)
    return X, y, X_test, y_test


def one_hot(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    Y = np.zeros((y.size, 10), dtype=dtype)
    Y[np.arange(y.size), y] = 1
    return Y


def large_init(sizes: list[int], dtype: np.dtype, rng: np.random.Generator):
    """network2's ``large_weight_initializer``: weights and biases N(0, 1), book orientation."""
    weights = [rng.standard_normal((o, i)).astype(dtype) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(o).astype(dtype) for o in sizes[1:]]
    return weights, biases


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- implementations: each returns {"seconds": ..., "acc": ...} ------------------------------


def run_nndl(sizes, m, dtype, data):
    try:
        import nndl

        Network, Cost = nndl.Network, nndl.CrossEntropyCost
    except (ImportError, AttributeError) as e:
        raise Unavailable(f"nndl.Network not available ({e})") from e
    X, y, X_test, y_test = data

    def net(seed):
        return Network(sizes, cost=Cost, init="large", dtype=dtype, rng=np.random.default_rng(seed))

    warm = net(9)
    warm.sgd((X[:WARMUP_IMAGES], y[:WARMUP_IMAGES]), epochs=1, mini_batch_size=m, eta=ETA,
             rng=np.random.default_rng(9))
    model = net(0)
    rng = np.random.default_rng(1)
    seconds = timed(lambda: model.sgd((X, y), epochs=1, mini_batch_size=m, eta=ETA, rng=rng))
    return {"seconds": seconds, "acc": int(model.accuracy(X_test, y_test))}


def run_torch(sizes, m, dtype, data, threads=None):
    try:
        import torch
    except ImportError as e:
        raise Unavailable("PyTorch not installed (pip install torch==2.13.0)") from e
    if threads is not None:
        torch.set_num_threads(threads)
    X, y, X_test, y_test = data
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype.type]
    Xt = torch.from_numpy(X)
    Yt = torch.from_numpy(one_hot(y, dtype))
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(i, o, dtype=tdtype) for i, o in zip(sizes[:-1], sizes[1:]))
            for layer in self.layers:  # the book's "large" initialization
                torch.nn.init.normal_(layer.weight)
                torch.nn.init.normal_(layer.bias)

        def forward(self, x):  # returns z^L; the output sigmoid is inside the loss
            for layer in self.layers[:-1]:
                x = torch.sigmoid(layer(x))
            return self.layers[-1](x)

    def epoch(model, Xe, Ye, gen):
        opt = torch.optim.SGD(model.parameters(), lr=ETA)
        perm = torch.randperm(Xe.shape[0], generator=gen)
        Xs, Ys = Xe[perm], Ye[perm]
        for k in range(0, Xe.shape[0], m):
            xb, yb = Xs[k:k + m], Ys[k:k + m]
            # cross-entropy eq. (63) summed over outputs, averaged over the mini-batch
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(xb), yb, reduction="sum") / xb.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()

    gen = torch.Generator().manual_seed(1)
    epoch(Net(), Xt[:WARMUP_IMAGES], Yt[:WARMUP_IMAGES], gen)
    model = Net()
    seconds = timed(lambda: epoch(model, Xt, Yt, gen))
    with torch.no_grad():
        pred = model(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    return {"seconds": seconds, "acc": int((pred == y_test).sum()),
            "threads": torch.get_num_threads()}


def run_sklearn(sizes, m, dtype, data):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="logistic",
                        solver="sgd", alpha=0.0, batch_size=m, learning_rate="constant",
                        learning_rate_init=ETA, momentum=0.0, nesterovs_momentum=False,
                        shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X[:WARMUP_IMAGES], y[:WARMUP_IMAGES], classes=np.arange(10))
        weights, biases = large_init(sizes, dtype, np.random.default_rng(0))
        for l, (W, b) in enumerate(zip(weights, biases)):  # sklearn keeps W as (n_in, n_out)
            clf.coefs_[l][...] = W.T
            clf.intercepts_[l][...] = b
        seconds = timed(lambda: clf.partial_fit(X, y))
    return {"seconds": seconds, "acc": int((clf.predict(X_test) == y_test).sum()),
            "param_dtype": str(clf.coefs_[0].dtype)}


def _network2_sgd_epoch(weights, biases, training_data, m, eta, rng):
    """One epoch of network2.py's ``SGD``/``update_mini_batch``/``backprop``, as in the book.

    ``weights[l]`` is (n_out, n_in), ``biases[l]`` a column (n_out, 1), each example a pair
    of columns x (784, 1), y (10, 1). Cross-entropy: delta^L = a - y. No regularization.
    """

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoid_prime(z):
        return sigmoid(z) * (1 - sigmoid(z))

    def backprop(x, y):
        nabla_b = [np.zeros(b.shape, dtype=b.dtype) for b in biases]
        nabla_w = [np.zeros(w.shape, dtype=w.dtype) for w in weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(biases, weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = activations[-1] - y  # CrossEntropyCost.delta
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(weights) + 1):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    n = len(training_data)
    rng.shuffle(training_data)  # network2: random.shuffle(training_data)
    with np.errstate(over="ignore"):  # the book's sigmoid overflows in exp for z < -709
        for k in range(0, n, m):
            mini_batch = training_data[k:k + m]
            nabla_b = [np.zeros(b.shape, dtype=b.dtype) for b in biases]
            nabla_w = [np.zeros(w.shape, dtype=w.dtype) for w in weights]
            for x, y in mini_batch:
                delta_nabla_b, delta_nabla_w = backprop(x, y)
                nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
                nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
            weights[:] = [w - (eta / len(mini_batch)) * nw for w, nw in zip(weights, nabla_w)]
            biases[:] = [b - (eta / len(mini_batch)) * nb for b, nb in zip(biases, nabla_b)]


def run_loop(sizes, m, dtype, data):
    X, y, X_test, y_test = data
    Y = one_hot(y, dtype)
    # mnist_loader's format: a list of (x, y) column-vector pairs, built once
    training_data = [(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in range(len(X))]

    def model(seed):
        weights, biases = large_init(sizes, dtype, np.random.default_rng(seed))
        return weights, [b.reshape(-1, 1) for b in biases]

    rng = np.random.default_rng(1)
    _network2_sgd_epoch(*model(9), training_data[:WARMUP_IMAGES], m, ETA, rng)
    weights, biases = model(0)
    seconds = timed(lambda: _network2_sgd_epoch(weights, biases, training_data, m, ETA, rng))
    A = X_test
    with np.errstate(over="ignore"):
        for W, b in zip(weights, biases):
            A = 1.0 / (1.0 + np.exp(-(A @ W.T + b.ravel())))
    return {"seconds": seconds, "acc": int((A.argmax(axis=1) == y_test).sum())}


def run_floor(sizes, m, dtype, data):
    """The five products of each step at their real shapes, on the real mini-batches."""
    if len(sizes) != 3:
        raise Unavailable("the shape floor is defined for one hidden layer")
    X = data[0]
    n_in, h, n_out = sizes
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((h, n_in)).astype(dtype)
    W2 = rng.standard_normal((n_out, h)).astype(dtype)
    A1 = rng.random((m, h)).astype(dtype)
    D2 = rng.random((m, n_out)).astype(dtype)
    Z1, Z2, D1 = np.empty((m, h), dtype), np.empty((m, n_out), dtype), np.empty((m, h), dtype)
    G2, G1 = np.empty((n_out, h), dtype), np.empty((h, n_in), dtype)
    W1T, W2T, D2T = W1.T, W2.T, D2.T
    D1T = D1.T
    matmul = np.matmul
    batches = [X[k:k + m] for k in range(0, len(X), m)]

    def epoch(batches):
        for Xb in batches:
            matmul(Xb, W1T, out=Z1)  # forward, layer 1     (m, h)
            matmul(A1, W2T, out=Z2)  # forward, layer 2     (m, 10)
            matmul(D2, W2, out=D1)  # BP2                   (m, h)
            matmul(D2T, A1, out=G2)  # BP4, dC/dW2          (10, h)
            matmul(D1T, Xb, out=G1)  # BP4, dC/dW1          (h, 784)

    from threadpoolctl import threadpool_limits

    epoch(batches[:WARMUP_IMAGES // m])
    default = timed(lambda: epoch(batches))
    with threadpool_limits(1, user_api="blas"):
        one = timed(lambda: epoch(batches))
    return {"seconds": min(default, one), "default_threads_s": default, "one_thread_s": one,
            "steps": len(batches)}


def run_proto(sizes, m, dtype, data):
    from fast_step import FastNet

    X, y, X_test, y_test = data

    def net(seed):
        return FastNet(*large_init(sizes, dtype, np.random.default_rng(seed)))

    net(9).sgd_epoch(X[:WARMUP_IMAGES], y[:WARMUP_IMAGES], m, ETA, np.random.default_rng(9))
    model = net(0)
    rng = np.random.default_rng(1)
    seconds = timed(lambda: model.sgd_epoch(X, y, m, ETA, rng))
    return {"seconds": seconds, "acc": model.accuracy(X_test, y_test)}


RUNNERS = {
    "nndl": run_nndl, "torch": run_torch, "sklearn": run_sklearn,
    "torch1": lambda *a: run_torch(*a, threads=1),
    "loop": run_loop, "floor": run_floor, "proto": run_proto,
}


# -- whole runs: ch3-ce-30 end to end, and peak memory --------------------------------------


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_e2e(args) -> dict:
    """ch3-ce-30 with nndl: load, 30 epochs, test accuracy after every epoch (the book's run)."""
    t0 = time.perf_counter()
    try:
        import nndl

        Network, Cost = nndl.Network, nndl.CrossEntropyCost
    except (ImportError, AttributeError) as e:
        raise Unavailable(f"nndl.Network not available ({e})") from e
    t_import = time.perf_counter()
    X, y, X_test, y_test = load(np.dtype(args.dtype), args.n)
    t_load = time.perf_counter()
    net = Network([784, 30, 10], cost=Cost, init="large", dtype=np.dtype(args.dtype),
                  rng=np.random.default_rng(0))
    hist = net.sgd((X, y), epochs=args.epochs, mini_batch_size=10, eta=ETA,
                   evaluation_data=(X_test, y_test), monitor_evaluation_accuracy=True,
                   rng=np.random.default_rng(1))
    t_end = time.perf_counter()
    acc = hist.evaluation_accuracy if hasattr(hist, "evaluation_accuracy") else hist[
        "evaluation_accuracy"]
    return {"seconds": t_end - t_import, "import_s": t_import - t0, "load_s": t_load - t_import,
            "train_eval_s": t_end - t_load, "epochs": args.epochs,
            "final_acc": int(acc[-1]), "best_acc": int(max(acc)), "peak_rss_mb": maxrss_mb()}


def run_rss(args) -> dict:
    """Peak RSS of a full MNIST training process: load everything, train one epoch, evaluate."""
    try:
        import nndl
        from nndl.data import load_mnist

        Network, Cost = nndl.Network, nndl.CrossEntropyCost
    except (ImportError, AttributeError) as e:
        raise Unavailable(f"nndl.Network or nndl.data not available ({e})") from e
    after_import = maxrss_mb()
    os.environ.setdefault("NNDL_DATA", str(DEFAULT_DATA))
    dtype = np.dtype(args.dtype)
    splits = load_mnist(dtype=dtype, download=False)
    training, validation, test = splits.training, splits.validation, splits.test
    after_load = maxrss_mb()
    net = Network([784, 30, 10], cost=Cost, init="large", dtype=dtype,
                  rng=np.random.default_rng(0))
    net.sgd(training, epochs=1, mini_batch_size=10, eta=ETA, evaluation_data=test,
            monitor_evaluation_accuracy=True, rng=np.random.default_rng(1))
    net.accuracy(*validation)
    return {"peak_rss_mb": maxrss_mb(), "after_import_mb": after_import,
            "after_load_mb": after_load}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("impl", choices=IMPLS)
    p.add_argument("--hidden", type=int, default=30)
    p.add_argument("--mb", type=int, default=10, help="mini-batch size")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--n", type=int, default=50_000, help="training images in the epoch")
    p.add_argument("--epochs", type=int, default=30, help="e2e only")
    args = p.parse_args(argv)
    out = {"impl": args.impl, "hidden": args.hidden, "mb": args.mb, "dtype": args.dtype,
           "n": args.n}
    try:
        if args.impl == "e2e":
            out.update(run_e2e(args))
        elif args.impl == "rss":
            out.update(run_rss(args))
        else:
            dtype = np.dtype(args.dtype)
            data = load(dtype, args.n)
            out.update(RUNNERS[args.impl]([784, args.hidden, 10], args.mb, dtype, data))
    except Unavailable as e:
        out["error"] = f"not available: {e}"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
