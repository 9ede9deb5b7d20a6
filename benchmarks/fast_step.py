"""A prototype of a faster SGD epoch for [n_in, H, n_out] sigmoid networks (issue 8).

Benchmark-only: it showed, with running code, the levers that bring nndl's step to
the issue's targets. All six have since gone into ``nndl.training``'s fast step (which
also runs every product as a positional gemm and BP2 on the packed [W | b]); this file
stays as an independent column of ``compare.py``, sharing only the sigmoid choice and
the chunk size with nndl. Same arithmetic as network2's ``update_mini_batch`` (BP1-BP4,
eq. 93/94, cross-entropy so delta^L = a^L - y, no regularization), same mini-batches in
the same order as a full shuffle with ``rng.permutation(n)``. The levers, against the
step nndl had before:

1. **No shuffled copy of the training set.** The epoch's permutation is gathered a
   chunk at a time (``CHUNK_BYTES``, about an L2 cache) into one small reused buffer
   (``np.take(..., out=, mode="clip")``): the same rows in the same order, but the
   steps read them from cache, the 157 MB (f32) / 314 MB (f64) second copy of the
   training set is gone from memory, and its first-touch and write traffic with it.
2. **The hidden layer's bias lives inside the output layer's matrix.** The trainer
   keeps P2 = [w^3 | b^3] (n_out, H+1) and a^2 with a column of ones, so
   z^3 = [a^2 | 1] P2^T is one product and BP3 + BP4 + eq. (93)/(94) for the whole
   layer is one gemm (no bias add, no gemv). Layer 1 keeps W and b separate (its
   input rows would need a ones column too, i.e. a copy of X: not worth it).
3. **eta/m is gemm's alpha,** not a pass over delta^L (every delta is linear in it).
4. **One closure per chunk shape** with every buffer, view and BLAS function bound
   once, the chunk's mini-batch views (and their transposes) precomputed, and the
   SciPy BLAS wrappers called with **positional arguments**: an f2py wrapper parses
   keywords slowly, ``gemv(alpha, a, x, beta=1.0, y=b, overwrite_y=True)`` costs about
   1.5 us where the positional call costs 0.3 us (``profile_step.py``), and a step
   makes three such calls.
5. **One BLAS thread** for the epoch (``threadpoolctl``, which scikit-learn brings):
   the products are too small to share, and on a 2-core machine whose other core is
   busy, OpenBLAS's second thread makes a mini-batch-100 epoch 3-50x slower
   (``profile_step.py --contention``).
6. **The sigmoid as (1 + tanh(z/2)) / 2 (eq. 111) on larger arrays** (>= ``nndl.activations.TANH_FROM``
   elements): NumPy's tanh is vectorised, scipy's ``expit`` is not, and for a
   100 x 30 float32 array four tanh-form ufuncs take a third of expit's time; expit
   stays faster for a 10 x 30 mini-batch, where call overhead dominates.

The parameters are copied into the packed form at the start of ``sgd_epoch`` and
back at its end, so ``weights``/``biases`` stay plain contiguous arrays between
epochs (what the public API promises), and evaluation is unaffected.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas
from scipy.special import expit
from threadpoolctl import threadpool_limits

from nndl.activations import sigmoid_for_size
from nndl.training import CHUNK_BYTES


def sigmoid_fn(shape):
    """The faster sigmoid for arrays of this shape: ``f(z, out)`` writes sigma(z) to out."""
    return sigmoid_for_size(shape[0] * shape[1])


class FastNet:
    """[n_in, H, n_out] sigmoid network; ``weights[l]`` (n_out, n_in), ``biases[l]`` (n_out,)."""

    def __init__(self, weights, biases, chunk_bytes: int = CHUNK_BYTES):
        if len(weights) != 2:
            raise ValueError("the prototype handles one hidden layer")
        self.weights = [np.ascontiguousarray(W) for W in weights]
        self.biases = [np.ascontiguousarray(b) for b in biases]
        self.dtype = self.weights[0].dtype
        self.chunk_bytes = chunk_bytes

    def _chunk_fn(self, m: int, rows: int, W1, b1, P2, eta: float):
        """Train on one gathered chunk of ``rows`` rows, as consecutive mini-batches of m.

        Every buffer, view and BLAS function is bound once, and the loop over the chunk's
        mini-batches runs over precomputed views: a step is 13 calls and nothing else.
        """
        dt = self.dtype
        H, n_in = W1.shape
        n_out = P2.shape[0]
        Xc = np.empty((rows, n_in), dt)  # the gathered chunk, reused
        Yc = np.empty((rows, n_out), dt)
        Z1 = np.empty((m, H), dt)
        A1a = np.ones((m, H + 1), dt)  # [a^2 | 1]
        A1 = A1a[:, :H]  # a^2, a strided view
        Z2 = np.empty((m, n_out), dt)
        A2 = np.empty((m, n_out), dt)
        D2 = np.empty((m, n_out), dt)
        D1 = np.empty((m, H), dt)
        T = np.empty((m, H), dt)
        ones = np.ones(m, dt)
        gemm, gemv = blas.get_blas_funcs(("gemm", "gemv"), dtype=dt)
        W1T, P2T, W2 = W1.T, P2.T, P2[:, :H]
        A1aT, D2T, D1T = A1a.T, D2.T, D1.T
        alpha = -eta / m  # eq. (93)'s -eta/m, applied by gemm/gemv
        matmul, add, sub, mul = np.matmul, np.add, np.subtract, np.multiply
        sigma1, sigma2 = sigmoid_fn(Z1.shape), sigmoid_fn(Z2.shape)
        batches = [(Xc[lo:lo + m], Xc[lo:lo + m].T, Yc[lo:lo + m]) for lo in range(0, rows, m)]

        def train_chunk(X, Y, idx):
            np.take(X, idx, axis=0, out=Xc, mode="clip")  # this chunk of the epoch's order
            np.take(Y, idx, axis=0, out=Yc, mode="clip")
            for x, xT, y in batches:
                matmul(x, W1T, Z1)  # eq. (25): z^2 = x w^2T ...                       (m, H)
                add(Z1, b1, Z1)  # ... + b^2
                sigma1(Z1, A1)  # a^2 = sigma(z^2)
                matmul(A1a, P2T, Z2)  # z^3 = [a^2 | 1] [w^3 | b^3]^T               (m, n_out)
                sigma2(Z2, A2)  # a^3 = sigma(z^3)
                sub(A2, y, D2)  # BP1 with eq. (66): delta^3 = a^3 - y
                matmul(D2, W2, D1)  # BP2: delta^3 w^3 (old weights) ...             (m, H)
                mul(D1, A1, D1)  # ... (.) sigma'(z^2) = a (1 - a) = D a - D a a
                mul(D1, A1, T)
                sub(D1, T, D1)
                # BP3 + BP4 + eq. (93)/(94), layer 3: P2^T <- P2^T - eta/m [a^2 | 1]^T delta^3
                # (positional: alpha, a, b, beta, c, trans_a, trans_b, overwrite_c)
                gemm(alpha, A1aT, D2T, 1.0, P2T, 0, 1, 1)
                # layer 2: W^T <- W^T - eta/m x^T delta^2, and b <- b - eta/m delta^2T 1
                gemm(alpha, xT, D1T, 1.0, W1T, 0, 1, 1)
                # (alpha, a, x, beta, y, offx, incx, offy, incy, trans, overwrite_y)
                gemv(alpha, D1T, ones, 1.0, b1, 0, 1, 0, 1, 0, 1)

        return train_chunk

    def sgd_epoch(self, X, y, m: int, eta: float, rng: np.random.Generator) -> None:
        """One epoch: ``rng.permutation(n)``, then consecutive mini-batches of m rows."""
        dt = self.dtype
        n, n_in = X.shape
        n_out = self.weights[1].shape[0]
        H = self.weights[0].shape[0]
        Y = np.zeros((n, n_out), dt)
        Y[np.arange(n), y] = 1.0
        W1, b1 = self.weights[0], self.biases[0]  # updated in place
        P2 = np.empty((n_out, H + 1), dt)
        P2[:, :H], P2[:, H] = self.weights[1], self.biases[1]
        perm = rng.permutation(n)
        with threadpool_limits(1, user_api="blas"):
            self._epoch(X, Y, perm, m, eta, W1, b1, P2)
        self.weights[1][...] = P2[:, :H]
        self.biases[1][...] = P2[:, H]

    def _epoch(self, X, Y, perm, m, eta, W1, b1, P2):
        n, n_in = X.shape
        rows = max(m, self.chunk_bytes // (n_in * X.itemsize) // m * m)  # whole mini-batches
        fns = {}
        for c in range(0, n, rows):
            idx = perm[c:c + rows]
            k = len(idx)
            if k % m:  # the last, short mini-batch of the epoch: a chunk of its own
                self._chunk(fns, k - k % m, m, W1, b1, P2, eta)(X, Y, idx[:k - k % m])
                self._chunk(fns, k % m, k % m, W1, b1, P2, eta)(X, Y, idx[k - k % m:])
            elif k:
                self._chunk(fns, k, m, W1, b1, P2, eta)(X, Y, idx)

    def _chunk(self, fns, rows, m, W1, b1, P2, eta):
        fn = fns.get((rows, m))
        if fn is None:
            fn = fns[rows, m] = self._chunk_fn(m, rows, W1, b1, P2, eta)
        return fn

    def feedforward(self, X):
        A = X
        for W, b in zip(self.weights, self.biases):
            A = expit(A @ W.T + b)
        return A

    def accuracy(self, X, y) -> int:
        return int((self.feedforward(X).argmax(axis=1) == y).sum())
