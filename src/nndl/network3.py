"""Chapter 6's network of layers (the book's ``network3.py``), trained by SGD on NumPy.

>>> import numpy as np
>>> from nndl.network3 import Network, ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, ReLU
>>> mini_batch_size = 10
>>> net = Network([
...     ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28), filter_shape=(20, 1, 5, 5),
...                   poolsize=(2, 2), activation_fn=ReLU),
...     FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100, activation_fn=ReLU),
...     SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, rng=np.random.default_rng(0))
>>> net.feedforward(np.zeros((3, 784), np.float32)).shape
(3, 10)

What ``network3.py`` does, and so what this does by default (../shared/BOOK.md, chapter 6):

- The cost of a mini-batch is the MEAN over its m examples of -ln a_y (eq. 80), plus
  ``0.5 * lmbda * (sum of the squares of all weights) / num_training_batches`` with
  num_training_batches = n // mini_batch_size; biases are not regularised. Plain SGD:
  param -> param - eta * dC/dparam. So one step shrinks the weights by the factor
  ``1 - eta * lmbda / num_training_batches``: at mini-batch 10, lmbda 0.1 here decays the
  weights ten times faster per step than lmbda 0.1 in network2's eq. (93)
  (``1 - eta * lmbda / n``). Chapter 3's lmbda L2 corresponds to lmbda_3 = lmbda_2 / m here.
- No reshuffle: the training data are walked in the same order every epoch, in
  consecutive slices (``reshuffle=True`` is nndl's option, not the book's). Like network3,
  the last n % mini_batch_size training examples are never used.
- Each epoch ends with the validation accuracy; the number the book reports is the TEST
  accuracy at the epoch of the best validation accuracy (ties: the later epoch, as
  network3's ``>=``). ``Network3History.test_accuracy_at_best`` gives it. nndl measures the
  test accuracy after every epoch (network3 only when validation did not get worse); the
  reported number is the same.
- float32 throughout (Theano's floatX); float64 is for the gradient checks.
- Dropout masks are drawn per mini-batch from the network's ``numpy.random.Generator``.

The trainer differs from chapter 3's (``nndl.training``) in exactly these conventions;
the chapter-3 ``Network`` and its trainer are untouched.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nndl import _words
from nndl._cores import usable_cores
from nndl.activations import ReLU, Sigmoid, Tanh
from nndl.errors import DivergenceError, HelperProcessError, ModelFileError
from nndl.layers import (
    ACTIVATIONS3,
    INITS3,
    MAX_PARAMETERS,
    ConvPoolLayer,
    FullyConnectedLayer,
    Linear,
    SoftmaxLayer,
    _Buffers,
    _step,
)
from nndl.layers import _is_number, _positive_ints  # the layers' checks of numbers, shared

log = logging.getLogger(__name__)

Array = NDArray[np.floating]

# network3's names for its activation functions
sigmoid, tanh, linear = Sigmoid, Tanh, Linear

__all__ = ["Network", "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer", "Network3History",
           "sigmoid", "tanh", "ReLU", "linear", "load", "save", "book_net", "BOOK_NETS"]

EVAL_CHUNK = 200  # examples per forward pass when evaluating (bounded buffers)
# Training: a large mini-batch goes through the convolutional layers in chunks of examples
# when a conv layer after the first passes its gradient down by col2im: chunks whose working
# set there (the im2col matrix and the gradient of the window entries) stays near this size,
# which bounds the buffers of large mini-batches. Measured (one thread, per-step CPU, minima):
# since col2im runs one filter row at a time, ch6-conv2 and ch6-relu at mini-batch 100 are
# 3 % faster in one piece (25.6 MB) than in chunks of 20 (18.0-18.5 vs 18.6-19.0 ms); at
# mini-batch 200 in chunks of 100 and in one piece within 1 %. (Before, with one GEMM and
# strided additions, chunks of 20 were 5 % faster.) ch6-conv1 (one conv layer, no col2im)
# is not cut. The gradients are the sums over the chunks (equal to float32 rounding).
CONV_CHUNK_BYTES = 26_000_000
# Training on threads (``Network.threads``): the step after the backward passes (the fully
# connected layers' BP3/BP4 and updates, the conv layers' sums over the parts) is shared out
# among the threads once every part has ended, when the fully connected layers' share is at
# least this many multiply-adds (m n_in n_out summed over them); else one thread does it after
# the join. Measured (CPU, one thread each, loaded machine): ch6-conv2 at mini-batch 10
# (0.65 M) 71 us whole, 80 us in two shares; ch6-conv1 (2.9 M) 117 us whole, 129 in two
# shares; a hand-over between threads about 11 us (18 us at the 90th percentile). Below 0.5 M
# the hand-over would cost about what sharing saves.
PARALLEL_UPDATE_MACS = 500_000
FORMAT = "nndl-layered-network"
FORMAT_VERSION = 1
MAX_LAYERS = 100
# MAX_PARAMETERS (nndl.layers): a layer, or a model file's layers together, larger is refused before allocation
MAX_MINI_BATCH = 60_000  # a mini-batch of all of MNIST's training images


@dataclass
class Network3History:
    """What one ``Network.SGD`` run measured, one entry per epoch.

    Accuracies are fractions in [0, 1]; ``training_cost`` is the mean over the epoch's
    mini-batches of their cost (eq. 80 averaged, without the L2 term) as seen during
    training, with the dropout masks; ``epoch_seconds`` is the wall time of the training
    steps of the epoch, ``eval_seconds`` that of the evaluation after it.
    """

    validation_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    training_cost: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    n_training: int = 0
    n_validation: int = 0
    n_test: int = 0
    stopped: str | None = None  # None or "interrupted"

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    @property
    def best_epoch(self) -> int | None:
        """The epoch (0-based) of the best validation accuracy; ties go to the later (network3's >=)."""
        v = self.validation_accuracy
        if not v:
            return None
        best = max(v)
        return max(i for i, a in enumerate(v) if a == best)

    @property
    def best_validation_accuracy(self) -> float | None:
        return None if self.best_epoch is None else self.validation_accuracy[self.best_epoch]

    @property
    def test_accuracy_at_best(self) -> float | None:
        """The book's reported number: test accuracy at the best validation epoch."""
        e = self.best_epoch
        if e is None or e >= len(self.test_accuracy):
            return None
        return self.test_accuracy[e]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Network3History:
        """The history ``to_dict`` wrote, every field's type checked (ValueError names the field)."""
        from nndl._validate import plain_int, plain_number

        if not isinstance(d, dict):
            raise ValueError("the history is not an object")
        for k, v in d.items():
            if k not in cls.__dataclass_fields__:
                raise ValueError(f"unknown history field {k!r}")
            if k.startswith("n_"):
                ok = plain_int(v, 0, 10**9)
            elif k == "stopped":
                ok = v is None or v == "interrupted"
            else:
                ok = isinstance(v, list) and all(plain_number(x) for x in v)
            if not ok:
                raise ValueError(f"history field {k!r} holds {str(v)[:40]!r}")
        return cls(**{k: list(v) if isinstance(v, list) else v for k, v in d.items()})


def _pair(data, name: str, n_in: int, dtype, n_out: int | None = None) -> tuple[Array, NDArray[np.int64]]:
    """``(X (m, n_in) dtype, y (m,) int64)`` of a data pair; ValueError naming ``name`` for wrong
    shapes, an empty set, labels that are not whole numbers in 0..n_out-1; DataError for NaN."""
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (X, y)") from None
    X = np.asarray(X)
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    X = np.ascontiguousarray(X, dtype=dtype)  # no copy when it is already so (the expanded set)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name}: inputs must have shape (m, {n_in}); got {X.shape}")
    if not np.isfinite(X).all():
        from nndl.errors import DataError

        raise DataError(f"{name}: the inputs hold NaN or infinite values; clean the data first")
    y = np.asarray(y)
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    if len(y) != len(X):
        raise ValueError(f"{name}: {len(X)} inputs but {len(y)} labels")
    if len(y) == 0:
        raise ValueError(f"{name} is empty: give at least one example (or None to skip it)")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"{name}: labels must be whole numbers; got {y.dtype} labels")
    if n_out is not None and (y.min() < 0 or y.max() >= n_out):
        raise ValueError(f"{name}: labels must lie in 0..{n_out - 1}; got {y.min():g}..{y.max():g}")
    return X, y.astype(np.int64)


class Network:
    """A network of chapter-6 layers (network3's ``Network(layers, mini_batch_size)``).

    Parameters
    ----------
    layers : list of ConvPoolLayer / FullyConnectedLayer, ending in a SoftmaxLayer
        Consecutive layers must agree: ``layers[i].n_out == layers[i+1].n_in``.
    mini_batch_size : int, optional
        The book's argument; the default of ``SGD``'s mini_batch_size. Any batch size works
        for ``feedforward``.
    rng : numpy.random.Generator, optional
        Initialises the layers that were built without an rng (in order: each layer's w,
        then b, as network3), and draws the dropout masks. Default: a fresh unseeded one.
    dtype : float32 or float64, optional
        Converts every layer's parameters; default: the layers' dtype (float32).

    Attribute ``threads`` (default 1): Python threads sharing each training mini-batch, each
    running the forward and backward pass of its part of the examples (see ``Trainer3``).

    Raises ValueError when the layers do not fit together.
    """

    def __init__(self, layers: Sequence, mini_batch_size: int | None = None, *,
                 rng: np.random.Generator | None = None, dtype=None) -> None:
        layers = list(layers)
        if not layers or not isinstance(layers[-1], SoftmaxLayer):
            raise ValueError("the last layer must be a SoftmaxLayer (network3's output layer)")
        for i, layer in enumerate(layers):
            if not isinstance(layer, (ConvPoolLayer, FullyConnectedLayer)):
                raise ValueError(f"layer {i} is {type(layer).__name__}; expected ConvPoolLayer, "
                                 "FullyConnectedLayer or SoftmaxLayer")
            if isinstance(layer, SoftmaxLayer) and i != len(layers) - 1:
                raise ValueError(f"layer {i}: a SoftmaxLayer can only be the last layer")
        for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
            if a.n_out != b.n_in:
                raise ValueError(f"layer {i} gives {a.n_out} outputs but layer {i + 1} takes {b.n_in} inputs")
            if isinstance(a, ConvPoolLayer) and isinstance(b, ConvPoolLayer):
                if b.image_shape != (a.filter_shape[0], *a.pooled_shape):
                    raise ValueError(f"layer {i + 1} expects images {b.image_shape}; layer {i} gives "
                                     f"{(a.filter_shape[0], *a.pooled_shape)}")
        if mini_batch_size is not None:
            mini_batch_size = _positive_ints((mini_batch_size,), 1, "mini_batch_size")[0]
            for i, layer in enumerate(layers):  # the book's image_shape[0] must agree (network3's would)
                if getattr(layer, "mini_batch_size", None) not in (None, mini_batch_size):
                    raise ValueError(f"layer {i} was built for mini-batches of {layer.mini_batch_size} "
                                     f"(its image_shape[0]) but the network's mini_batch_size is "
                                     f"{mini_batch_size}; give both the same, or image_shape without it")
        self.mini_batch_size = mini_batch_size
        self.layers = layers
        self.dtype = np.dtype(dtype) if dtype is not None else layers[0].dtype
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}")
        self.rng = rng if rng is not None else np.random.default_rng()
        for i, layer in enumerate(layers):
            if layer.dtype != self.dtype:
                _set_dtype(layer, self.dtype)
            if isinstance(layer, ConvPoolLayer):
                layer.input_book_order = i == 0 or not isinstance(layers[i - 1], ConvPoolLayer)
                layer.output_book_order = not isinstance(layers[i + 1], ConvPoolLayer)
                layer._buf.clear()
            if not layer.initialized:
                layer.initialize(self.rng)
        self._masks: dict[int, dict[int, Array]] = {}
        # the leading convolutional layers (their work can be split into chunks of examples)
        self._n_conv = next((i for i, layer in enumerate(layers) if not isinstance(layer, ConvPoolLayer)), 0)
        self._replicas: list[list[ConvPoolLayer]] = []
        self._stack: dict[int, Array] = {}
        self._split: tuple | None = None  # the threads' copies of the layers (``_thread_replicas``)
        self._workers: _Workers | None = None
        self._helper: _HelperProcess | None = None  # processes=2 (Trainer3): half 1's conv layers
        self.threads = 1

    # ------------------------------------------------------------------ properties
    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def sizes(self) -> list[int]:
        """[n_in, n_out of each layer]: what the chapter-3 tools (evaluate, predict) read."""
        return [self.n_in] + [layer.n_out for layer in self.layers]

    output = "softmax"  # the output layer, in the chapter-3 Network's terms

    @property
    def cost(self):
        """The log-likelihood cost (eq. 80) of network3's SoftmaxLayer."""
        from nndl.costs import LogLikelihoodCost

        return LogLikelihoodCost

    def total_cost(self, X: ArrayLike, y: ArrayLike) -> float:
        """Mean over the examples of -ln a_y (eq. 80) of the test-time network, no L2 term."""
        y = np.asarray(y)
        if y.ndim == 2:
            y = np.argmax(y, axis=1)
        A = self.feedforward(X)
        p = A[np.arange(len(y)), y.astype(np.int64)]
        return float(-np.mean(np.log(np.maximum(p, np.finfo(A.dtype).tiny)))) if len(y) else float("nan")

    def params(self) -> list[Array]:
        """[w, b] of every layer, in order (the arrays themselves)."""
        return [p for layer in self.layers for p in layer.params()]

    def weights(self) -> list[Array]:
        return [layer.w for layer in self.layers]

    # ------------------------------------------------------------------ forward
    def _check_input(self, X: ArrayLike) -> Array:
        X = np.asarray(X)
        if X.ndim > 2:
            X = X.reshape(len(X), -1)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != self.n_in:
            raise ValueError(f"input must have shape (m, {self.n_in}); got {np.shape(X)}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():  # as training's inputs (_pair): NaN would predict class 0
            from nndl.errors import DataError

            raise DataError("the inputs hold NaN or infinite values; clean the data first")
        return X

    def _draw_masks(self, m: int, masks: dict[int, Array] | None) -> None:
        """Set each dropout layer's 0/1 mask (m, n_in): given ones, or drawn (keep with 1 - p)."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, FullyConnectedLayer) and layer.p_dropout:
                if masks is not None and i in masks:
                    layer.mask = np.asarray(masks[i], dtype=self.dtype)
                    continue
                buf = self._masks.setdefault(m, {}).get(i)
                if buf is None:
                    buf = self._masks[m][i] = np.empty((m, layer.n_in), self.dtype)
                r = self.rng.random((m, layer.n_in), dtype=self.dtype)
                np.greater_equal(r, layer.p_dropout, out=buf)  # keep with probability 1 - p
                layer.mask = buf

    def _forward_hidden(self, X: Array, train: bool) -> Array:
        a = X
        for layer in self.layers[:-1]:
            a = layer.forward(a, train)
        return a

    def feedforward(self, X: ArrayLike) -> Array:
        """Output probabilities (test-time network: dropout as (1 - p) scaling): (m, n_in) -> (m, n_out)."""
        X = self._check_input(X)
        out = [self.layers[-1].forward(self._forward_hidden(X[i: i + EVAL_CHUNK], False), False).copy()
               for i in range(0, len(X), EVAL_CHUNK)]
        return np.concatenate(out) if out else np.zeros((0, self.n_out), self.dtype)

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        """The most probable class of each example, (m,)."""
        X = self._check_input(X)
        out = [np.argmax(self.layers[-1].logits(self._forward_hidden(X[i: i + EVAL_CHUNK], False), False), axis=1)
               for i in range(0, len(X), EVAL_CHUNK)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> float:
        """Fraction of examples classified correctly (network3's ``accuracy``, over all of them)."""
        y = np.asarray(y)
        if y.ndim == 2:
            y = np.argmax(y, axis=1)
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.predict(X) == y))

    # ------------------------------------------------------------------ gradients
    def backprop(self, X: ArrayLike, y: ArrayLike, masks: dict[int, Array] | None = None,
                 scale: float = 1.0) -> float:
        """One forward and backward pass; returns the mean cost (eq. 80, no L2 term).

        Leaves each layer's ``nabla_w`` / ``nabla_b`` = ``scale`` times the gradient of the
        mean cost of this mini-batch. ``masks`` {layer index: 0/1 array (m, n_in)} fixes
        the dropout masks; otherwise they are drawn from ``rng``.
        """
        return self._backprop(X, y, masks, scale, None)

    def _backprop(self, X: ArrayLike, y: ArrayLike, masks: dict[int, Array] | None, scale: float,
                  update: float | None, checked: bool = False) -> float:
        """``backprop``; with ``update`` each layer also takes its SGD step as soon as its dC/dx is out.
        ``checked``: X and y are rows of data ``_pair`` checked (``_train_step``), not checked again."""
        if not checked:
            X = self._check_input(X)
            y = np.asarray(y, dtype=np.int64)
        self._draw_masks(len(X), masks)
        if self._helper is not None and self._helper.on and len(X) == self._helper.m:
            return self._helper.step(X, y, scale, update)  # (a failing helper: the step is still whole)
        parts = self._thread_parts(len(X))
        if parts is not None:
            return self._backprop_threads(X, y, parts, scale, update)
        k = self._n_conv
        plan = self._chunk_plan(len(X))
        if plan is None:
            k = 0
            a = self._forward_hidden(X, True)
        else:
            a = self._forward_conv_chunks(X, plan)
            for layer in self.layers[k:-1]:
                a = layer.forward(a, True)
        out = self.layers[-1]
        _, cost = out.forward_cost(a, y, True)
        d = out.backward_labels(y, need_dx=len(self.layers) > 1, scale=scale, update=update)  # BP1, eq. (84)
        for i in range(len(self.layers) - 2, k - 1, -1):  # BP2 layer by layer, BP3/BP4 inside
            d = self.layers[i].backward(d, need_dx=i > 0, update=update)
        if plan is not None:
            self._backward_conv_chunks(d, plan, update)
        return cost / len(X)

    # ------------------------------------------------------------------ the conv layers in chunks
    def _chunk_plan(self, m: int) -> list[tuple[int, int]] | None:
        """Row ranges that split a training mini-batch of m for the conv layers (None: in one piece)."""
        if not self._n_conv:
            return None
        per_example = [layer._backward_bytes_per_example() for layer in self.layers[1: self._n_conv]]
        size = max(1, CONV_CHUNK_BYTES // max(per_example)) if per_example else m
        n = -(-m // size)  # chunks of <= size examples
        if n <= 1:
            return None
        edges = [m * j // n for j in range(n + 1)]
        return list(zip(edges[:-1], edges[1:]))

    def _conv_replicas(self, n: int) -> list[list[ConvPoolLayer]]:
        """n copies of the conv layers that share w and b but have their own buffers and gradients."""
        conv = self.layers[: self._n_conv]
        if self._replicas and any(r.w is not c.w or r.b is not c.b for r, c in zip(self._replicas[0], conv)):
            self._replicas = []  # the parameters were replaced (dtype, load): copy again
        while len(self._replicas) < n:
            reps = []
            for layer in conv:
                r = copy.copy(layer)
                r._buf = _Buffers()
                r.nabla_w, r.nabla_b = np.zeros_like(layer.w), np.zeros_like(layer.b)
                reps.append(r)
            self._replicas.append(reps)
        for reps in self._replicas:
            for r, c in zip(reps, conv):
                r.input_gradient = c.input_gradient
        return self._replicas[:n]

    def _forward_conv_chunks(self, X: Array, plan: list[tuple[int, int]]) -> Array:
        reps = self._conv_replicas(len(plan))
        last = self.layers[self._n_conv - 1]
        A = self._stack.get(len(X))
        if A is None:
            self._stack = {len(X): np.empty((len(X), last.n_out), self.dtype)}
            A = self._stack[len(X)]

        def run(j: int) -> None:
            lo, hi = plan[j]
            a = X[lo:hi]
            for layer in reps[j]:
                a = layer.forward(a, True)
            A[lo:hi] = a  # the book's (filter, row, column) order, as the next layer takes it

        for j in range(len(plan)):
            run(j)
        return A

    def _backward_conv_chunks(self, d: Array, plan: list[tuple[int, int]], update: float | None) -> None:
        k = self._n_conv
        reps = self._replicas[: len(plan)]

        def run(j: int) -> None:
            lo, hi = plan[j]
            g = d[lo:hi]
            for i in range(k - 1, -1, -1):
                g = reps[j][i].backward(g, need_dx=i > 0)

        for j in range(len(plan)):
            run(j)
        for i, layer in enumerate(self.layers[:k]):
            _sum_grads(layer, [r[i] for r in reps], update)

    # ------------------------------------------------------------------ threads
    def _thread_parts(self, m: int) -> list[tuple[int, int]] | None:
        """Row ranges that split a training mini-batch of m over ``threads`` threads (None: one)."""
        t = min(int(self.threads), m)
        if t <= 1:
            return None
        edges = [m * j // t for j in range(t + 1)]
        return list(zip(edges[:-1], edges[1:]))

    def _thread_replicas(self, m: int, parts: list[tuple[int, int]]) -> tuple[list[list], dict[int, tuple]]:
        """One copy of every layer per part of the mini-batch, sharing w and b, each with its own
        buffers and gradients; and for each fully connected (or softmax) layer i the whole
        mini-batch's input as used (after dropout, (m, n_in)) and delta ((m, n_out)), whose rows
        the copies write in place (their buffers are views of these), for BP3/BP4 after the join."""
        key = (m, tuple(parts))
        if self._split is not None and self._split[0] == key and all(
                r.w is c.w and r.b is c.b for r, c in zip(self._split[1][0], self.layers)):
            return self._split[1], self._split[2]
        stacks = {i: (np.empty((m, layer.n_in), self.dtype), np.empty((m, layer.n_out), self.dtype))
                  for i, layer in enumerate(self.layers) if isinstance(layer, FullyConnectedLayer)}
        reps = []
        for lo, hi in parts:
            rep = []
            for layer in self.layers:
                r = copy.copy(layer)
                r._buf = _Buffers()
                r.nabla_w, r.nabla_b = np.zeros_like(layer.w), np.zeros_like(layer.b)
                r._buf.get(hi - lo, r._make)
                rep.append(r)
            for i, (xs, ds) in stacks.items():
                bf = rep[i]._buf[hi - lo]
                bf["z" if isinstance(rep[i], SoftmaxLayer) else "delta"] = ds[lo:hi]
                if rep[i].p_dropout:
                    bf["xd"] = xs[lo:hi]
                elif i > 0:  # the layer below writes its output straight into the stack
                    below = rep[i - 1]._buf[hi - lo]
                    name = "out" if isinstance(rep[i - 1], ConvPoolLayer) else "z"
                    below[name] = xs[lo:hi].reshape(below[name].shape)
            reps.append(rep)
        self._split = (key, reps, stacks)
        return reps, stacks

    def _backprop_threads(self, X: Array, y: NDArray[np.int64], parts: list[tuple[int, int]], scale: float,
                          update: float | None) -> float:
        """``_backprop`` on ``len(parts)`` threads (``_Workers``): each part, the forward and
        backward pass of its rows of the mini-batch through every layer, is run by whichever
        thread claims it (NumPy and BLAS release the GIL); then the conv layers' gradients are
        summed over the parts (shared weights) and BP3/BP4 of the fully connected layers taken on
        the whole mini-batch's x and delta (``finish``, in shares or by this thread)."""
        m = len(X)
        reps, stacks = self._thread_replicas(m, parts)
        for rep, (lo, hi) in zip(reps, parts):
            for r, layer in zip(rep, self.layers):
                if getattr(layer, "p_dropout", 0.0):
                    r.mask = layer.mask[lo:hi]
        costs = [0.0] * len(parts)
        n, t = len(self.layers), len(parts)
        if self._workers is None or self._workers.n != t or self._workers.pid != os.getpid():
            if self._workers is not None:
                self._workers.close()
            self._workers = _Workers(t)
            weakref.finalize(self, self._workers.close)
        bufs = [None if isinstance(layer, ConvPoolLayer) else layer._buf.get(m, layer._make) for layer in self.layers]
        # After the backward passes: the conv layers' gradients summed over the parts (shared
        # weights), the fully connected layers' BP3/BP4 on the whole mini-batch's x and delta.
        # A large share (m n_in n_out summed >= PARALLEL_UPDATE_MACS) is split among the threads
        # (rows of each w; the biases and conv layers whole), once every part has ended; a small
        # one is done by this thread after the join (the hand-over would cost more).
        split = t if sum(m * layer.n_in * layer.n_out for layer in self.layers[self._n_conv:]) \
            >= PARALLEL_UPDATE_MACS else 1

        def finish(j: int, share: int) -> None:
            self._finish_parts(X, reps, stacks, update, j, share, bufs)

        def run(j: int) -> None:
            lo, hi = parts[j]
            costs[j] = _run_part(reps[j], X[lo:hi], y[lo:hi], scale, m)

        # the shares start once every part has ended: every dC/dx is out (with the old weights),
        # every delta and x written
        self._workers.run(run, t, lambda k: finish(k, split), split if split > 1 else 0)
        if split == 1:
            finish(0, 1)
        return sum(costs) / m

    def _finish_parts(self, X: Array, reps: list, stacks: dict, update: float | None, j: int = 0,
                      share: int = 1, bufs: list | None = None) -> None:
        """After the parts: the conv layers' gradients summed over the parts (``reps``, in order),
        the fully connected layers' BP3/BP4 on the whole mini-batch's x and delta (``stacks``).
        Share ``j`` of ``share``: every share-th conv layer, and rows j/share.. of each w (the
        biases with share 0), so that threads can divide it."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ConvPoolLayer):
                if i % share == j:
                    _sum_grads(layer, [rep[i] for rep in reps], update)
                continue
            xs, ds = stacks[i]
            lo, hi = layer.n_in * j // share, layer.n_in * (j + 1) // share
            buf = bufs[i] if bufs is not None else layer._buf.get(len(X), layer._make)
            layer.weight_grads(X if i == 0 and not layer.p_dropout else xs, ds, update, buf,
                               slice(lo, hi), bias=j == 0)  # BP3, BP4

    def mini_batch_cost(self, X: ArrayLike, y: ArrayLike, lmbda: float = 0.0, num_training_batches: int = 1,
             masks: dict[int, Array] | None = None) -> float:
        """network3's training cost of a batch: mean -ln a_y + 0.5 lmbda sum w^2 / num_training_batches.

        With ``masks`` (or no dropout layers) this is the training network's cost, as the
        gradients of ``gradients`` see it; without masks dropout layers use new random masks.
        """
        X = self._check_input(X)
        y = np.asarray(y, dtype=np.int64)
        self._draw_masks(len(X), masks)
        _, c = self.layers[-1].forward_cost(self._forward_hidden(X, True), y, True)
        return c / len(X) + self.l2_term(lmbda, num_training_batches)

    def l2_term(self, lmbda: float, num_training_batches: int) -> float:
        if not lmbda:
            return 0.0
        return 0.5 * lmbda * sum(float(np.vdot(w, w)) for w in self.weights()) / num_training_batches

    def gradients(self, X: ArrayLike, y: ArrayLike, lmbda: float = 0.0, num_training_batches: int = 1,
                  masks: dict[int, Array] | None = None) -> list[Array]:
        """dC/dparam of ``mini_batch_cost`` for every parameter, in ``params()`` order (copies)."""
        self.backprop(X, y, masks)
        grads = []
        for layer in self.layers:
            gw, gb = (np.array(g) for g in layer.grads())
            if lmbda:
                gw += (lmbda / num_training_batches) * layer.w  # d/dw of the L2 term
            grads += [gw, gb]
        return grads

    # ------------------------------------------------------------------ training
    def update_mini_batch(self, X: ArrayLike, y: ArrayLike, eta: float, lmbda: float = 0.0,
                          num_training_batches: int = 1, masks: dict[int, Array] | None = None) -> float:
        """One SGD step of network3: param -> param - eta * dC/dparam. Returns the batch's mean cost.

        With L2: w -> (1 - eta lmbda / num_training_batches) w - eta dC_0/dw, the same step
        as network3's T.grad of ``cost + 0.5 lmbda sum w^2 / num_training_batches``.
        """
        decay = 1.0 - eta * lmbda / num_training_batches  # the L2 term's share, eq. (93) (weights only)
        # gradients come out times eta; each layer steps once the layer below has its dC/da
        # (computed with the old weights), fused into the BP4 product where it can be
        return self._backprop(X, y, masks, eta, decay)

    def _train_step(self, X: Array, y: NDArray[np.int64], eta: float, lmbda: float, num_training_batches: int) -> float:
        """``update_mini_batch`` for ``Trainer3``'s mini-batches: rows of the training set that
        ``_pair`` checked once (finite, contiguous, int64 labels), so not checked at every step
        (that took ~10 us of a ~1.3 ms step of ch6-conv2 at mini-batch 10 on two processes)."""
        if X.dtype != self.dtype:  # (the network's dtype changed since the trainer checked them)
            return self.update_mini_batch(X, y, eta, lmbda, num_training_batches)
        decay = 1.0 - eta * lmbda / num_training_batches  # eq. (93), as update_mini_batch
        return self._backprop(X, y, None, eta, decay, checked=True)

    def SGD(self, training_data, epochs: int, mini_batch_size: int | None = None, eta: float = 0.1,
            validation_data=None, test_data=None, lmbda: float = 0.0, **options) -> Network3History:  # noqa: N802
        """Train by network3's SGD; returns a ``Network3History``. See ``Trainer3`` for the options.

        ``training_data``, ``validation_data``, ``test_data``: pairs (X (n, n_in), y (n,)).
        Keyword options: ``reshuffle`` (nndl's, default False), ``rng`` (for reshuffling and
        dropout; default the network's), ``monitor`` (what to measure after each epoch),
        ``checkpoint`` (a path: saved after every epoch, and resumed from if it exists),
        ``on_epoch``, ``should_stop``, ``blas_threads``, ``threads`` and ``processes`` (all default "auto").
        """
        mb = mini_batch_size if mini_batch_size is not None else self.mini_batch_size
        if mb is None:
            raise ValueError("mini_batch_size is needed (here or in Network(layers, mini_batch_size))")
        return Trainer3(self, training_data, epochs, mb, eta, validation_data, test_data, lmbda, **options).run()

    sgd = SGD

    # ------------------------------------------------------------------ files
    def description(self) -> dict[str, Any]:
        """The architecture, JSON-ready (the npz metadata; enough to rebuild the layers)."""
        return {"layers": [layer_description(layer) for layer in self.layers], "dtype": self.dtype.name,
                "mini_batch_size": self.mini_batch_size}

    def save(self, path: str | Path, *, metadata: dict | None = None,
             arrays: dict[str, np.ndarray] | None = None) -> None:
        """Save to nndl's ``.npz`` (no pickle); see ``nndl.network3.save``."""
        save(self, path, metadata=metadata, arrays=arrays)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Network([\n  {inner}], mini_batch_size={self.mini_batch_size}, dtype={self.dtype.name})"


def _corr(v: Array) -> Array:
    """A conv layer's (F, C, fh, fw) array seen in the order of its correlation kernel, (F, fh, fw, C)
    flipped (the layout ``ConvPoolLayer.backward`` computes nabla_w in: of its nabla_w, a
    contiguous view)."""
    return v[:, :, ::-1, ::-1].transpose(0, 2, 3, 1)


def _sum_grads(layer, copies: list, update: float | None) -> None:
    """layer.nabla_w, nabla_b = the sums of its copies' (shared weights), in the order of the
    copies; then the SGD step if ``update``. The weight gradients are added in the layout the
    copies computed them in (contiguous there: 2-3x faster than through the book's order)."""
    buf = getattr(layer, "_nabla_sum", None)
    if buf is None or buf.shape != _corr(layer.w).shape or buf.dtype != layer.w.dtype:
        buf = layer._nabla_sum = np.empty(_corr(layer.w).shape, layer.w.dtype)
    if len(copies) > 1:
        np.add(_corr(copies[0].nabla_w), _corr(copies[1].nabla_w), out=buf)
    else:
        np.copyto(buf, _corr(copies[0].nabla_w))
    for r in copies[2:]:
        buf += _corr(r.nabla_w)
    layer.nabla_w = buf.transpose(0, 3, 1, 2)[:, :, ::-1, ::-1]  # the book's (F, C, fh, fw), a view
    np.copyto(layer.nabla_b, copies[0].nabla_b)
    for r in copies[1:]:
        layer.nabla_b += r.nabla_b
    if update is not None:
        _step(layer, update)


class _Workers:
    """n - 1 persistent threads that help the calling thread run a step's parts, then its shares.

    ``run(part, n_parts, share, n_shares)``: every thread, the calling one first, claims the
    next unclaimed part j and runs part(j) until none is left; once every part has ended it
    claims and runs share(k) the same way. A worker that is late (its core busy with other
    work) finds the parts taken and touches nothing: the calling thread never waits for a
    thread that has not started, only for parts and shares already running. One hand-over
    per worker and step; the claims are ``itertools.count`` (atomic in CPython).
    """

    def __init__(self, n: int) -> None:
        import queue

        self.n = n
        self.pid = os.getpid()  # threads do not survive a fork: a child makes its own
        self._todo = [queue.SimpleQueue() for _ in range(n - 1)]
        for j, q in enumerate(self._todo, 1):
            threading.Thread(target=_Workers._loop, args=(q,), daemon=True, name=f"nndl-step-{j}").start()

    @staticmethod
    def _loop(todo) -> None:
        while True:
            step = todo.get()
            if step is None:
                return
            step.work()
            step = None  # hold no reference to the network between steps

    def run(self, part: Callable[[int], None], n_parts: int, share: Callable[[int], None] | None = None,
            n_shares: int = 0) -> None:
        """part(0..n_parts-1), then share(0..n_shares-1), on the threads that come; the first
        exception is raised once every started part and share has ended (no share runs then)."""
        step = _Step(part, n_parts, share, n_shares)
        for q in self._todo:
            q.put(step)
        step.work()
        try:
            step.wait()
        except BaseException:  # e.g. Ctrl-C: the parts in flight end before their buffers are reused
            step.wait()
            raise
        if step.errors:
            raise step.errors[0]

    def close(self) -> None:
        for q in self._todo:
            q.put(None)


class _Step:
    """One step of ``_Workers.run``: claim counters, counts of what has ended, and the errors."""

    def __init__(self, part, n_parts: int, share, n_shares: int) -> None:
        self.part, self.n_parts, self.share, self.n_shares = part, n_parts, share, n_shares
        self.next_part = itertools.count().__next__
        self.next_share = itertools.count().__next__
        self.lock = threading.Lock()
        self.left = n_parts + n_shares  # parts and shares not yet ended
        self.parts_done = threading.Event()
        self.all_done = threading.Event()
        self.errors: list[BaseException] = []
        if n_shares == 0:
            self.parts_done = self.all_done

    def _run(self, fn, j: int) -> None:
        error = None
        try:
            fn(j)
        except BaseException as exc:  # noqa: BLE001 - raised by the calling thread
            error = exc
        with self.lock:
            if error is not None:
                self.errors.append(error)
            self.left -= 1
            if self.left == self.n_shares:  # every part has ended
                self.parts_done.set()
            if self.left == 0 or (self.left == self.n_shares and self.errors):  # (no share runs then)
                self.all_done.set()

    def work(self) -> None:
        while (j := self.next_part()) < self.n_parts:
            self._run(self.part, j)
        if not self.n_shares:
            return
        self.parts_done.wait()  # the shares need every part's results
        if self.errors:
            return
        while (k := self.next_share()) < self.n_shares:
            self._run(self.share, k)

    def wait(self) -> None:
        self.all_done.wait()



def _run_part(rep: list, X: Array, y: NDArray[np.int64], scale: float, m: int) -> float:
    """One part of a split mini-batch through a copy of every layer (``_thread_replicas``): the
    forward pass, BP1 and BP2 layer by layer, the conv layers' BP3/BP4 inside (the fully
    connected layers' are taken on the whole mini-batch after the parts). Returns the part's
    summed cost. Run by the Network's threads."""
    n = len(rep)
    a = X
    for layer in rep[:-1]:
        a = layer.forward(a, True)
    _, cost = rep[-1].forward_cost(a, y, True)
    d = rep[-1].backward_labels(y, need_dx=n > 1, scale=scale, grads=False, m=m)  # BP1, eq. (84)
    for i in range(n - 2, -1, -1):  # BP2 layer by layer; BP3/BP4 of the conv layers inside
        if isinstance(rep[i], ConvPoolLayer):
            d = rep[i].backward(d, need_dx=i > 0)
        else:
            d = rep[i].backward(d, need_dx=i > 0, grads=False)
    return cost


def _alone() -> bool:
    """Whether this is the process's only thread (besides nndl's own idle step threads)."""
    me = threading.current_thread()
    return all(t is me or t.name.startswith("nndl-step-") for t in threading.enumerate())


def helper_process_supported() -> bool:
    """``processes=2`` needs a forked child that shares memory with this process and sees its
    writes in order without memory barriers (x86-64's total store order): Linux on x86-64; and
    a process that may have children (not a daemonic ``multiprocessing`` worker)."""
    import multiprocessing

    return _linux_x86_64() and not multiprocessing.current_process().daemon


def _linux_x86_64() -> bool:
    import platform
    import sys

    return sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")


def _beside_another(name: str) -> HelperProcessError:
    return HelperProcessError(f"{name} cannot start while another chapter-6 training runs in this process: "
                              "a fork beside a thread inside NumPy's BLAS can hang for good; use processes=1")


def _die_with_parent(parent: int) -> None:
    """In the helper: have Linux kill this process with SIGKILL when the thread that forked it
    ends (``prctl(PR_SET_PDEATHSIG)``, see prctl(2)), even while it is stopped. Without it, a
    helper stopped together with its parent (Ctrl-Z) stayed stopped for good once the parent was
    killed with SIGKILL: its own check of the parent runs only while it runs. The forking
    thread outlives the helper (``Trainer3.run`` closes it before returning)."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1 (cannot fail here)
    if os.getppid() != parent:  # the parent died before the request: nobody to help
        os._exit(0)


class _HelperProcess:
    """``processes=2``: a forked process that runs the network's leading convolutional layers,
    forward and backward, on half of every training mini-batch of m.

    This process runs them on the other half, and every later layer (the fully connected and
    softmax layers, with their steps) on the whole mini-batch, as one process does that runs
    the conv layers in two chunks of examples (``Network._backprop``: the same numbers, bit for
    bit). So the two processes split the costly part of a step, the convolutions, and the
    fully connected layers' weights never leave this process's core: its products and steps
    there read them from its own cache (when both processes ran every layer on half of the
    examples, those weights went back and forth between the cores at every step, and the
    fully connected layers' fixed costs were paid twice). In shared anonymous mappings
    (``_alloc``): the conv layers' parameters, the child's half of the mini-batch, the conv
    layers' output for the whole mini-batch and the gradient there, both halves' conv gradients
    and their sums. Per step: the child's half's conv output is in (FWD), then this process's
    dC/d(output) (DX), the child's conv gradients (PART), this process's (P0), the child's sums
    of the two (DONE); this process then steps the conv layers. The two processes wait for
    each other by spinning on these counters, not on a lock: on this virtual machine a sleeping
    thread or process took ~100 us to wake, more than half a step of ch6-conv2 at mini-batch
    10; spinning, a hand-over costs a few us. Idle (evaluation), the child sleeps in 0.5 ms
    naps after 10 ms. It ignores Ctrl-C (this process handles it, and lets the child finish the
    step before raising) and exits when this process ends or dies. A child that fails, ends or
    is stuck leaves this process to finish the step alone (``step``).
    """

    SEQ, FWD, DX, PART, P0, DONE, ERROR, MSG_LEN, READY = range(9)  # control words
    IDLE_SECONDS = 0.01  # the child spins this long without work, then naps
    STALL_SECONDS = 0.1  # ... and this long waiting within a step
    WARM_PARTS = 12  # halves the child runs before it is ready: its first ones took 8-15 ms here, not
    # 1-2 (its first writes to the memory it shares copy-on-write with this process)

    def __init__(self, net: Network, m: int, auto: bool = False) -> None:
        import multiprocessing

        self.net, self.m, self.k = net, m, net._n_conv
        self.parts = [(0, m // 2), (m // 2, m)]
        self._map, self._used = None, 0  # the shared mapping ``_alloc`` takes memory from, bytes used
        self.proc = None
        self.auto = auto  # processes="auto": a failure is a warning, and training goes on alone
        self.closed = False
        net._helper = self  # from here on, close() puts everything back (also after a Ctrl-C here)
        try:
            self._start(net, m, net.dtype, multiprocessing)
        except OSError as exc:  # e.g. no memory for the fork
            self.close()
            raise HelperProcessError(f"could not start {self.name}: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _start(self, net: Network, m: int, dt, multiprocessing) -> None:
        k = self.k
        conv = net.layers[:k]
        for layer in conv:  # the conv layers' parameters, moved into shared memory (this process steps them)
            for name in ("w", "b"):
                v = self._alloc(getattr(layer, name).shape, dt)
                v[...] = getattr(layer, name)
                setattr(layer, name, v)
        self.A = self._alloc((m, conv[-1].n_out), dt)  # the last conv layer's output, the book's order
        self.D = self._alloc((m, conv[-1].n_out), dt)  # dC/d(that output)
        lo, hi = self.parts[1]
        self.Xc = self._alloc((hi - lo, net.n_in), dt)  # the child's half of the mini-batch
        # one copy of the conv layers per half (sharing w and b), its gradients in shared memory
        self.reps, self.grads = [], []
        for lo, hi in self.parts:
            rep, grads = [], []
            for layer in conv:
                r = copy.copy(layer)
                r._buf = _Buffers()
                bf = r._buf.get(hi - lo, r._make)
                r._make_backward(hi - lo, bf)
                bf["nw"] = self._alloc(bf["nw"].shape, dt)  # nabla_w in the correlation kernel's order
                r.nabla_w, r.nabla_b = np.zeros_like(layer.w), self._alloc(layer.b.shape, dt)
                rep.append(r)
                grads.append((bf["nw"], r.nabla_b))
            rep[-1]._buf[hi - lo]["out"] = self.A[lo:hi].reshape(rep[-1]._buf[hi - lo]["out"].shape)  # (written in place)
            self.reps.append(rep)
            self.grads.append(grads)
        self.sums = [(self._alloc(nw.shape, dt), self._alloc(nb.shape, dt)) for nw, nb in self.grads[0]]
        self.ctl = self._alloc((16,), np.int64)
        self.msg = self._alloc((4096,), np.uint8)
        self.ctl[:] = 0
        self.seq, self.on, self.started = 0, True, time.thread_time()
        import signal

        from nndl._cores import blas_controllers

        self._shared = [(layer, layer.w, layer.b) for layer in conv]
        self._parent = os.getpid()
        proc = multiprocessing.get_context("fork").Process(target=self._child, daemon=True, name="nndl-helper")
        main = threading.current_thread() is threading.main_thread()
        with _blas_lock:  # not while another nndl training of this process scans its libraries
            if _trainings[0] > 1:  # checked again where no other training can start before the fork
                raise _beside_another(self.name)
            mine, others = blas_controllers()
            self._blas_libs = mine + others
            if main:  # a Ctrl-C during the fork comes after it (inside, Python's fork handlers drop it)
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self.proc = proc  # (close() stops it even if the start is interrupted half-way)
                proc.start()
            finally:
                if main:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    @property
    def name(self) -> str:
        return f"nndl's helper process (processes={'auto' if self.auto else 2})"

    def gone(self) -> bool:
        """Whether the child has ended. (``is_alive`` alone says True for ever where SIGCHLD is
        ignored: the kernel then reaps the child at once and ``waitpid`` finds nothing.)"""
        if not self.proc.is_alive():
            return True
        try:
            os.kill(self.proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    MAP_BYTES = 1 << 22  # each shared mapping: 4 MiB, or one array's size if larger

    def _alloc(self, shape, dtype) -> Array:
        """An array in memory shared with the child (MAP_SHARED | MAP_ANONYMOUS: a forked child
        sees the same pages), 64-byte aligned; a new mapping when the current one is full."""
        import mmap

        dtype = np.dtype(dtype)
        n = -(-max(int(np.prod(shape)) * dtype.itemsize, 1) // 64) * 64
        if self._map is None or self._used + n > len(self._map):  # (each array keeps its mapping alive)
            self._map, self._used = mmap.mmap(-1, max(n, self.MAP_BYTES)), 0
        v = np.ndarray(shape, dtype, buffer=self._map, offset=self._used)
        self._used += n
        return v

    # ---------------------------------------------------------------- both
    def _forward(self, j: int, X: Array) -> None:
        """Half j's forward pass through the conv layers; its output lands in its rows of A."""
        a = X
        for r in self.reps[j]:
            a = r.forward(a, True)

    def _backward(self, j: int, d: Array) -> None:
        """Half j's backward pass through the conv layers from its rows of dC/dA: BP2 layer by
        layer, each layer's BP3/BP4 (summed over its positions) into its shared gradients."""
        for i in range(self.k - 1, -1, -1):
            d = self.reps[j][i].backward(d, need_dx=i > 0)

    def _sum_conv_grads(self) -> None:
        """The conv layers' gradients summed over the two halves (as ``_sum_grads``), into ``sums``.
        In the child; by this process when the child failed."""
        for (nw, nb), (nw0, nb0), (nw1, nb1) in zip(self.sums, self.grads[0], self.grads[1]):
            np.add(nw0, nw1, out=nw)
            np.add(nb0, nb1, out=nb)

    # ---------------------------------------------------------------- the child
    def _spin(self, word: int, seq: int, parent: int) -> bool:
        """In the child: until control word ``word`` is ``seq``; False if the parent is gone.
        After ``STALL_SECONDS`` (this process's part took ~1 ms at ch6-conv2's mini-batch 10: it
        was stopped, e.g. in a debugger, or starved) the child naps between looks."""
        ctl, spins, since = self.ctl, 0, time.perf_counter()
        while ctl[word] != seq:
            spins += 1
            if spins == 1024:
                spins = 0
                if os.getppid() != parent:
                    return False
                if time.perf_counter() - since > self.STALL_SECONDS:
                    time.sleep(0.0005)
        return True

    def _child(self) -> None:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        parent, ctl, seen = self._parent, self.ctl, 0
        _die_with_parent(parent)
        lo, hi = self.parts[1]
        try:
            # one BLAS thread, through the controllers found before the fork (scanning the loaded
            # libraries again here could wait forever on a loader lock another thread held then)
            for lc in self._blas_libs:
                lc.set_num_threads(1)
            # halves on whatever the buffers hold, their results unused, until its steps take
            # their usual time; the probe waits for this (a step given meanwhile is taken first)
            for _ in range(self.WARM_PARTS):
                if ctl[self.SEQ] != seen:
                    break
                self._forward(1, self.Xc)
                self._backward(1, self.D[lo:hi])
            ctl[self.READY] = 1
            while True:
                spins, napping, last = 0, False, time.perf_counter()
                while ctl[self.SEQ] == seen:
                    spins += 1
                    if spins == 1024:
                        spins = 0
                        if os.getppid() != parent:
                            return
                        napping = time.perf_counter() - last > self.IDLE_SECONDS
                    if napping:
                        time.sleep(0.0005)
                seq = int(ctl[self.SEQ])
                if seq < 0:
                    return
                self._forward(1, self.Xc)
                ctl[self.FWD] = seq
                if not self._spin(self.DX, seq, parent):  # this process runs the later layers
                    return
                self._backward(1, self.D[lo:hi])
                ctl[self.PART] = seq
                if not self._spin(self.P0, seq, parent):
                    return
                self._sum_conv_grads()
                ctl[self.DONE] = seq
                seen = seq
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:4096]
            self.msg[: len(text)] = np.frombuffer(text, np.uint8)
            ctl[self.MSG_LEN] = len(text)
            ctl[self.ERROR] = 1

    # ---------------------------------------------------------------- the parent
    def step(self, X: Array, y: NDArray[np.int64], scale: float, update: float | None) -> float:
        """One training step on both processes; the mini-batch's mean cost. A child that fails,
        ends or is stuck leaves this process to finish the step alone (the step is always whole);
        then HelperProcessError, or with ``auto`` a warning and no helper from the next step on."""
        net = self.net
        for layer, w, b in self._shared:  # parameters replaced by new arrays (e.g. in on_epoch): the
            if layer.w is not w or layer.b is not b:  # helper's copies of the layers use the shared ones
                if layer.w.shape != w.shape or layer.b.shape != b.shape:
                    raise ValueError(f"{layer!r}: its parameters were replaced by others of another shape")
                np.copyto(w, layer.w)
                np.copyto(b, layer.b)
                layer.w, layer.b = w, b
        (lo, hi), (lo1, hi1) = self.parts
        np.copyto(self.Xc, X[lo1:hi1])
        self.seq += 1
        seq, ctl, k = self.seq, self.ctl, self.k
        ctl[self.SEQ] = seq  # after every write above (x86-64 keeps stores in order)
        failure = None  # the HelperProcessError that left this process alone
        try:
            self._forward(0, X[lo:hi])
            try:
                self._wait(seq, self.FWD)
            except HelperProcessError as exc:
                failure = self._lost(exc)
                self._forward(1, self.Xc)
            # the later layers on the whole mini-batch, each stepping once dC/dx is out (as _backprop)
            a = self.A
            for layer in net.layers[k:-1]:
                a = layer.forward(a, True)
            out = net.layers[-1]
            _, cost = out.forward_cost(a, y, True)
            d = out.backward_labels(y, need_dx=True, scale=scale, update=update)  # BP1, eq. (84)
            for i in range(len(net.layers) - 2, k - 1, -1):  # BP2 layer by layer, BP3/BP4 inside
                d = net.layers[i].backward(d, need_dx=True, update=update)
            if failure is None:
                np.copyto(self.D, d)
                ctl[self.DX] = seq
            self._backward(0, d[lo:hi])
            if failure is None:
                ctl[self.P0] = seq
                try:
                    self._wait(seq)  # the child's half, and its sums of both halves' conv gradients
                except HelperProcessError as exc:
                    failure = self._lost(exc)
                    self._forward(1, self.Xc)  # (its forward state was the child's)
            if failure is not None:
                self._backward(1, d[lo1:hi1])
                self._sum_conv_grads()
        except BaseException:  # e.g. Ctrl-C: the child finishes the step before the buffers are touched again
            if failure is None:
                ctl[self.DX] = ctl[self.P0] = seq
                try:
                    self._wait(seq)
                except HelperProcessError:
                    pass
            raise
        for layer, (nw, nb) in zip(net.layers[:k], self.sums):  # the conv layers' step, from the sums
            layer.nabla_w = nw.transpose(0, 3, 1, 2)[:, :, ::-1, ::-1]  # the book's (F, C, fh, fw), a view
            np.copyto(layer.nabla_b, nb)
            if update is not None:
                _step(layer, update)
        if failure is not None:  # the step is whole; the next ones without the child (or not at all)
            if not self.auto:
                raise failure
            log.warning("%s; training goes on in this process alone", failure)
            self.close()
        return cost / self.m

    def _lost(self, exc: HelperProcessError) -> HelperProcessError:
        """The child failed, ended or was stuck: killed, and waited for until it is gone, so that
        it writes no more to the buffers this process now uses alone."""
        self._end(0.0)
        return exc

    def _end(self, grace: float) -> None:
        """Give the child ``grace`` seconds to end, then kill it; return once it is gone."""
        deadline = time.monotonic() + grace
        try:
            while not self.gone() and time.monotonic() < deadline:
                time.sleep(0.001)
        finally:
            if not self.gone():
                self.proc.kill()
            while not self.gone():  # (SIGKILL: soon)
                time.sleep(0.001)
            self.proc.join(timeout=1)  # (where SIGCHLD is ignored there is nothing to join)

    def _wait(self, seq: int, word: int | None = None) -> None:
        """Until the child has set control word ``word`` (default DONE) to ``seq``."""
        ctl, spins, since = self.ctl, 0, None
        word = self.DONE if word is None else word
        while ctl[word] != seq:
            spins += 1
            if spins % 4096 == 0:
                now = time.thread_time()  # time spent waiting: not the time both were stopped (Ctrl-Z)
                since = since or now
                if now - since > HELPER_TIMEOUT:  # alive but stuck (e.g. a lock it inherited locked)
                    self.proc.kill()
                    raise HelperProcessError(f"{self.name} did not finish its part of a step in "
                                             f"{HELPER_TIMEOUT:g} s; it was killed")
                if ctl[self.ERROR]:
                    text = bytes(self.msg[: int(ctl[self.MSG_LEN])]).decode("utf-8", "replace")
                    raise HelperProcessError(f"{self.name} failed: {text}")
                if self.gone():
                    code = self.proc.exitcode
                    raise HelperProcessError(f"{self.name} ended (exit code {'unknown' if code is None else code})")

    def close(self) -> None:
        """Stop the child; the parameters move back to this process's own memory (once). The
        network is put back first, so that an interruption while waiting for the child (a second
        Ctrl-C) cannot leave it attached to a helper; the child is then killed at once."""
        proc, self.closed = self.proc, True
        if proc is not None and proc.pid is not None and proc.exitcode is None:
            self.ctl[self.SEQ] = -1
        if self.net._helper is self:
            for layer in self.net.layers:  # (the child never writes the parameters)
                layer.w, layer.b = np.array(layer.w), np.array(layer.b)  # (copies of the shared ones, or own)
            self.net._split = None
            self.net._replicas = []
            self.net._helper = None
        if proc is not None and proc.pid is not None and proc.exitcode is None:  # (pid: not started)
            self._end(5.0)


def _set_dtype(layer, dtype) -> None:
    layer.dtype = np.dtype(dtype)
    layer.w = layer.w.astype(dtype)
    layer.b = layer.b.astype(dtype)
    layer.nabla_w = np.zeros_like(layer.w)
    layer.nabla_b = np.zeros_like(layer.b)
    layer._buf.clear()


# ---------------------------------------------------------------------------------- trainer
MONITORS = ("validation_accuracy", "test_accuracy", "training_cost")


AUTO_THREADS_MAX = 2  # Python threads of threads="auto": measured with 2 cores only
# threads="auto" splits mini-batches of at least this many examples. Measured on this 2-core
# machine with its other core idle (benchmarks/ch6.py cells, seconds per 50,000-image epoch,
# one thread / two): mini-batch 10: ch6-conv1 5.6 / 12.7, ch6-conv2 15.4 / 21.6 (minima of 3);
# 20: 7.8-9.2 / 11.1-11.5 and 17.4-17.9 / 15.1-21.6; 50: 8.0-8.1 / 6.4-6.9 and 15.7-16.8 /
# 11.5-12.0; 100: 7.1 / 4.9 and 13.3 / 10.3 (minima of 3). Below about 50 examples the
# hand-overs between threads cost more than the halves save.
AUTO_THREADS_MIN_BATCH = 50


MAX_THREADS = 1024  # threads and blas_threads: more is refused (OpenBLAS's own limit is 64 to 512)


def _thread_count(v) -> bool:
    """Whether v is a whole number of threads, 1 to ``MAX_THREADS`` (bools, NaN, 1.5, 10**30: no)."""
    try:
        return _is_number(v) and 1 <= v <= MAX_THREADS and int(v) == v
    except (TypeError, ValueError, OverflowError):
        return False


def auto_threads(mini_batch_size: int | None = None) -> int:
    """``threads="auto"``: the cores this process may use (its CPU affinity), at most
    ``AUTO_THREADS_MAX``, for mini-batches of at least ``AUTO_THREADS_MIN_BATCH`` examples;
    else 1 (on a one-core machine ``threads=2`` would only add the cost of splitting each
    mini-batch in two, and on small mini-batches the hand-overs cost more than they save)."""
    if mini_batch_size is not None and mini_batch_size < AUTO_THREADS_MIN_BATCH:
        return 1
    return max(1, min(AUTO_THREADS_MAX, usable_cores()))


# blas_threads="auto" with one Python thread: NumPy's BLAS on one thread or two, whichever ran
# the last probe's steps faster. Measured on this 2-core machine (ch6-conv2, mini-batch 10,
# 500 steps, seconds per 50,000 images): one BLAS thread 11.2, two 9.1 with the other core idle;
# but two took 26-36 with the other core busy and 1,285 with both busy (OpenBLAS's threads wait
# for a core they do not get), so two threads are a measurement, not a rule.
AUTO_BLAS_MAX = 2
AUTO_MIN_STEPS = 200  # the probe (and processes="auto"'s helper) only for runs of this many steps or
# more: a short run gains little, and a probe on a busy machine costs a few slow steps (the helper's
# start and stop took 8 + 19 ms here, 5 % of 200 steps of ch6-conv2 at mini-batch 10)
HELPER_TIMEOUT = 60.0  # seconds without the helper's part of a step (or its readiness): it is stuck.
# Counted in this thread's CPU time (it spins, or trains alone until the helper is ready), so that
# the time both processes spent stopped (Ctrl-Z, then fg) does not count.
BLAS_PROBE_ORDER = (1, 2, 2, 1, 1, 2, 2, 1)  # one or two threads, block by block (a drift cancels)
BLAS_PROBE_BLOCK = 5  # steps per block, the first untimed: 16 steps timed each way
BLAS_PROBE_FIRST = 5  # steps before the first probe (the first step allocates the buffers)
BLAS_PROBE_EVERY = 1000  # steps between probes; doubled, up to 16x, while one thread keeps winning
BLAS_PROBE_SOON = 100  # steps to the second probe when the first chose one
BLAS_PROBE_MARGIN = 0.95  # two threads are chosen if their steps took under 0.95 x one thread's
BLAS_PROBE_GIVE_UP = 3.0  # a probe drops two threads once their steps' time passes 3x one thread's
# mean step times (the two-thread steps so far + 2): after one step 9x as long as one thread's
BLAS_WATCH_SLOW = 3.0  # on two: a step over 3x the probe's mean two-thread step is slow, and
BLAS_WATCH_STRIKES = 3  # this many slow steps in a row switch back to one at once (a core got busy)
_blas_lock = threading.Lock()
_blas_users = [0, []]  # trainings inside _BlasThreads now; the settings found by the first
_trainings = [0]  # Trainer3.run calls running now in this process (threads): a helper only when alone


class _BlasThreads:
    """The BLAS threads of one training run (``Trainer3``'s ``blas_threads``), set on entry and
    restored on exit; with "auto", ``before_step`` / ``after_step`` probe and choose.

    The other BLAS libraries loaded (SciPy's wheels bring their own OpenBLAS) get one thread:
    two libraries' thread pools on two threads each made a ch6-conv2 step 7x slower here, each
    pool's threads spinning on the cores the other's needed. The settings are process-wide:
    the first training to enter saves them and the last to leave restores them; a training
    that starts while another runs (another Python thread) leaves them as they are and does
    not probe.
    """

    warm = False  # this process has run a product on AUTO_BLAS_MAX threads

    def __init__(self, setting: int | str | None, python_threads: int, helper: _HelperProcess | None = None,
                 steps: int | None = None, chosen: list[int] | None = None) -> None:
        self.setting, self.python_threads = setting, python_threads
        self.helper = helper  # given: the probe compares one core with the helper process, not BLAS threads
        self.steps_planned = steps  # the run's steps (None: unknown); a probe only from AUTO_MIN_STEPS
        self.probing = False
        self.chosen: list[int] = [] if chosen is None else chosen  # the probes' choices, in order (appended)
        self.entered = False

    def __enter__(self) -> _BlasThreads:
        self._mine: list = []
        if self.setting is None and self.helper is None:
            return self
        from nndl._cores import blas_controllers

        with _blas_lock:
            mine, others = blas_controllers()
            first = _blas_users[0] == 0
            if first:
                _blas_users[1] = [(lc, lc.num_threads) for lc in mine + others]
            _blas_users[0] += 1
            self.entered = True
        if not first:  # another training runs in this process: its settings stay, no probe
            return self
        try:
            self._configure(mine, others)
        except BaseException:  # e.g. Ctrl-C now: the settings found go back
            self.__exit__()
            raise
        return self

    def _configure(self, mine: list, others: list) -> None:
        if self.helper is not None:  # (Trainer3 checked that two cores are there to use)
            self.probing, n, targets = True, 1, mine
        elif self.setting == "auto":
            top = min([AUTO_BLAS_MAX, usable_cores()] + [lc.num_threads for lc in mine]) if mine else 1
            long_enough = self.steps_planned is None or self.steps_planned >= AUTO_MIN_STEPS
            self.probing = self.python_threads == 1 and top >= 2 and long_enough  # (an outer limit of 1 is kept)
            n, targets = 1, mine
        else:
            n, targets = int(self.setting), mine or others  # NumPy's unknown: every library, as asked
        self._mine = targets
        for lc in others:
            if lc not in targets:
                lc.set_num_threads(1)
        if self.probing and self.helper is None and not _BlasThreads.warm:  # a process's first product
            self._set(AUTO_BLAS_MAX)  # on two threads costs ~40 ms more (OpenBLAS starts its threads)
            a = np.ones((256, 256), np.float32)
            a @ a
            _BlasThreads.warm = True
        self._set(n)
        self.n, self.left, self.every, self.phase, self.strikes = n, BLAS_PROBE_FIRST, BLAS_PROBE_EVERY, 0, 0

    def __exit__(self, *exc) -> None:
        if not self.entered:
            return
        with _blas_lock:
            self.entered = False
            _blas_users[0] -= 1
            if _blas_users[0] == 0:
                for lc, n in _blas_users[1]:
                    lc.set_num_threads(n)
                _blas_users[1] = []

    def _set(self, n: int) -> None:
        self.n = n
        if self.helper is not None:  # two: the helper process runs half of each step; one BLAS thread each
            self.helper.on = n > 1
            n = 1
        for lc in self._mine:
            lc.set_num_threads(n)

    def before_step(self) -> None:
        if self.helper is not None and self.helper.closed:  # it failed ("auto"): on
            self.helper = None  # alone, with the probe of one or two BLAS threads as without it
            self._set(1)
            self.phase, self.left, self.every, self.strikes = 0, BLAS_PROBE_FIRST, BLAS_PROBE_EVERY, 0
        if self.phase == 0:  # between probes
            self.left -= 1
            h = self.helper
            if self.left <= 0 and h is not None and not h.ctl[h.READY]:  # the child is not ready yet
                if h.ctl[h.ERROR] or (self.left % 100 == 0 and (
                        h.gone() or time.thread_time() - h.started > HELPER_TIMEOUT)):
                    h.on = True  # failed or stuck: the next step says so (HelperProcessError), goes on alone
            elif self.left <= 0:
                self.phase, self.step, self.spent, self.steps, self.raw_two = 1, 0, [0.0, 0.0], [0, 0], [0.0, 0]
        if self.phase:
            n = BLAS_PROBE_ORDER[self.step // BLAS_PROBE_BLOCK]
            if n != self.phase or self.step == 0:
                self.phase = n
                self._set(1 if n == 1 else AUTO_BLAS_MAX)
        self.t0 = time.perf_counter()

    def after_step(self) -> None:
        seconds = time.perf_counter() - self.t0
        if self.phase == 0:
            if self.n > 1:  # on two: a core that got busy shows as slow steps
                self.strikes = self.strikes + 1 if seconds > BLAS_WATCH_SLOW * self.mean_two else 0
                if self.strikes >= BLAS_WATCH_STRIKES:
                    self._set(1)
                    self.chosen.append(1)
                    self.every, self.left, self.strikes = BLAS_PROBE_EVERY, BLAS_PROBE_EVERY, 0
                    log.debug("%d steps in a row over %.1fx the probe's time on two: back to one",
                              BLAS_WATCH_STRIKES, BLAS_WATCH_SLOW)
            return
        k = self.phase - 1
        if self.step % BLAS_PROBE_BLOCK:  # a block's first step, just after a switch, is not timed:
            self.spent[k] += seconds  # the other way's caches (buffers, a napping child) are cold
            self.steps[k] += 1
        if k == 1:  # every step on two, for giving up early
            self.raw_two[0] += seconds
            self.raw_two[1] += 1
        self.step += 1
        one, two = self.spent
        if k == 1 and self.raw_two[0] > BLAS_PROBE_GIVE_UP * one / self.steps[0] * (self.raw_two[1] + 2):
            self._choose(1)  # far slower (e.g. the other core busy): no need to see the rest
        elif self.step == len(BLAS_PROBE_ORDER) * BLAS_PROBE_BLOCK:
            self._choose(AUTO_BLAS_MAX if two < BLAS_PROBE_MARGIN * one else 1)

    def _choose(self, n: int) -> None:
        self._set(n)
        self.chosen.append(n)
        self.mean_two = self.spent[1] / max(1, self.steps[1])
        self.every = BLAS_PROBE_EVERY if n > 1 else min(2 * self.every, 16 * BLAS_PROBE_EVERY)
        self.phase, self.left, self.strikes = 0, self.every, 0
        if len(self.chosen) == 1 and n == 1:  # the first probe, near the start (a child still slow,
            self.left = BLAS_PROBE_SOON  # caches cold): one more look soon
        log.debug("%s probe: %d steps took %.4f s on one core, %d steps %.4f s on %d; chose %d",
                  "BLAS" if self.helper is None else "helper process", self.steps[0], self.spent[0],
                  self.steps[1], self.spent[1], AUTO_BLAS_MAX, n)


class _WholeSteps:
    """Ctrl-C during a training run, made safe (``Trainer3.run``).

    Inside a step it takes effect once the step is taken: a step updates the layers one after
    the other (each as soon as its gradient is out), so an interruption inside one left the
    fully connected layers stepped and the conv layers not; a second Ctrl-C in the same step
    interrupts at once. While ``critical`` (the run's set-up and tear-down: counting the
    trainings, forking and stopping the helper process) every Ctrl-C waits until it is over: one
    landing there left a helper running or the network attached to one. Elsewhere (evaluation,
    callbacks) the first interrupts at once. Only where Python's own handler would raise
    KeyboardInterrupt (the main thread, the default handler, or an outer training's); on exit
    the handler found is put back, unless something else replaced this one meanwhile.
    """

    def __init__(self) -> None:
        self.in_step = self.pending = False
        self.critical = True
        self.old = None
        self._h = self._handler  # (one bound method: compared by identity on exit)

    def __enter__(self) -> _WholeSteps:
        import signal

        if threading.current_thread() is threading.main_thread():
            h = signal.getsignal(signal.SIGINT)
            if h is signal.default_int_handler or isinstance(getattr(h, "__self__", None), _WholeSteps):
                self.old = signal.signal(signal.SIGINT, self._h)
        return self

    def _handler(self, signum, frame) -> None:
        if self.critical or (self.in_step and not self.pending):
            if not self.pending:
                log.info("interrupted: stopping %s", "once this is done" if self.critical else "after this step")
            self.pending = True
            return
        raise KeyboardInterrupt

    def open(self) -> None:
        """The set-up is over: a Ctrl-C that came during it takes effect now."""
        self.critical = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, exc_type, *exc) -> None:
        if self.old is not None:
            import signal

            if signal.getsignal(signal.SIGINT) is self._h:
                signal.signal(signal.SIGINT, self.old)
            self.old = None
        if self.pending and exc_type is None:  # a Ctrl-C during the tear-down: the run was interrupted
            raise KeyboardInterrupt


class Trainer3:
    """One run of network3's SGD, resumable at epoch boundaries.

    ``checkpoint`` (a path): after every epoch the network, the history and the position
    (epoch, rng state) are written there atomically; a new ``Trainer3`` with the same
    checkpoint path and the same settings continues after the last finished epoch. A
    checkpoint written with other settings or another architecture raises ValueError. A Ctrl-C
    during a step takes effect after it, and one during the run's set-up or tear-down (the helper
    process's start and stop) once that is over (``_WholeSteps``): the network is left after a
    whole number of steps, unless a second Ctrl-C comes in the same step.

    Cores: ``threads`` (default "auto") is the number of Python threads
    that share each mini-batch (``Network.threads``): the mini-batch is cut into ``threads``
    parts of consecutive examples, and each thread runs the forward and backward pass of a
    part through every layer (one hand-over per step, to persistent threads; NumPy and BLAS
    release the GIL); then the conv layers' gradients are summed over the parts and the fully
    connected layers' BP3/BP4 taken on the whole mini-batch's x and delta (which the threads
    wrote into shared arrays). The same dropout masks, drawn before the split. The calling
    thread runs any part no other thread has started (a busy core does not stall the step).
    ``threads="auto"`` (``auto_threads``): two threads for mini-batches of at least
    ``AUTO_THREADS_MIN_BATCH`` (50) examples where this process may use two cores or more,
    else one; the book's mini-batches of 10 train on one thread. Two threads change the
    summation order of the conv layers' gradients: each step equals one thread's to float32
    rounding (the same bit for bit whichever thread ran which part); over a run the differences
    grow as in any float32 training (equal parts stayed within ~1e-7 over 2 epochs; ch6-relu at
    mini-batch 7, parts of 4 and 3, ended 2 epochs 0.9 points apart with one and two threads,
    92.1 % and 91.2 %).

    ``blas_threads`` is the number of threads of each matrix product of NumPy's BLAS (every
    other BLAS library loaded gets one: see ``_BlasThreads``); None leaves the libraries as
    they are. "auto" (the default): one thread where ``threads`` is more than one, or where
    this process may use one core only or NumPy's BLAS is already limited to one thread (an
    outer ``threadpool_limits``, ``OPENBLAS_NUM_THREADS=1``; ``nndl experiment`` runs so);
    else a probe after the first 5 steps, and again every 1,000 steps or more, times 16 steps
    on one BLAS thread and 16 on two, in alternating blocks of 5 (a block's first step, just
    after the switch, untimed), and trains on the faster (two
    only if under 0.95x one's time; ``BLAS_PROBE_*``). Two BLAS threads took ch6-conv2 at mini-batch 10 from 11.2 to 9.1 s
    per 50,000 images here with the other core idle, but to 26-36 s with it busy, which the
    probe sees and avoids (see docs/chapter6.md for the probe's rules). Two BLAS threads sum some
    products in another order than one, and every probe runs steps both ways, so two runs with
    "auto" are not the same bit for bit once a probe has run (``cores()`` says whether one
    did). ``threads=1, blas_threads=1`` gives the same numbers each time on one machine (not on
    another CPU, whose BLAS kernels round differently), and a run resumed from its checkpoint
    the same numbers as one never interrupted.

    ``processes`` (1, 2 or "auto", the default): 2 runs the leading conv layers of half of each
    mini-batch in a helper process (``_HelperProcess``: forked, sharing the conv layers'
    parameters and the buffers that the halves exchange, waiting on each other by spinning, not
    by sleeping, so that a hand-over costs a few microseconds), while this process runs the
    other half's and every later layer on the whole mini-batch: the same numbers as one process
    that runs the conv layers in the same two chunks (bit for bit), and as ``threads=2`` to
    float32 rounding, without the Python threads' hand-overs, which on small mini-batches cost
    more than they save. ValueError for a network that does not start with a ``ConvPoolLayer``;
    HelperProcessError while another chapter-6 training runs in this process (a fork beside a thread
    inside OpenBLAS can hang in the fork itself).
    Measured here at mini-batch 10 (benchmarks/RESULTS.md, minimum / median of 4 epochs): ch6-conv2
    10.9 / 13.3 s per epoch on one core, 6.4 / 7.6 with ``processes=2``; ch6-conv1 4.9 / 5.4 and
    4.6 / 4.8.
    Linux on x86-64 only (``helper_process_supported``). "auto": where the probe of
    ``blas_threads="auto"`` would run (one Python thread, a mini-batch under
    ``AUTO_THREADS_MIN_BATCH``, two cores, no outer limit of one BLAS thread), the run has
    ``AUTO_MIN_STEPS`` (200) steps or more and the calling thread is the process's only one
    (a fork beside other threads can copy a lock one of them holds) and the network starts with
    a conv layer, the helper process is started and the probe compares one core with the two
    processes instead (one BLAS thread each); else 1. The
    numbers then depend on the probes' choices as with ``blas_threads="auto"``.
    """

    def __init__(self, net: Network, training_data, epochs: int, mini_batch_size: int, eta: float,
                 validation_data=None, test_data=None, lmbda: float = 0.0, *, reshuffle: bool = False,
                 rng: np.random.Generator | None = None, monitor: Sequence[str] = MONITORS,
                 checkpoint: str | Path | None = None,
                 on_epoch: Callable[[int, Network3History, Network], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, blas_threads: int | str | None = "auto",
                 threads: int | str = "auto", resume_from: str | Path | None = None,
                 processes: int | str = "auto") -> None:
        if not _is_number(epochs) or not np.isfinite(epochs) or int(epochs) != epochs or epochs < 0:
            raise ValueError(f"epochs must be a whole number >= 0; got {epochs!r}")
        mini_batch_size = _positive_ints((mini_batch_size,), 1, "mini_batch_size")[0]
        if not _is_number(eta) or not np.isfinite(eta) or eta <= 0:
            raise ValueError(f"eta must be a positive number; got {eta!r}")
        if not _is_number(lmbda) or not np.isfinite(lmbda) or lmbda < 0:
            raise ValueError(f"lmbda must be a number >= 0; got {lmbda!r}")
        if not (isinstance(processes, str) and processes == "auto"
                or _is_number(processes) and processes in (1, 2)):  # (not True, np.True_, arrays)
            raise ValueError(f"processes must be 1, 2 or 'auto'; got {processes!r}")
        if processes == 2 and not helper_process_supported():
            import multiprocessing

            why = ("a process that may start one (this is a daemonic multiprocessing worker)"
                   if multiprocessing.current_process().daemon and _linux_x86_64()
                   else "Linux on x86-64 (a forked helper process sharing memory)")
            raise ValueError(f"processes=2 needs {why}; use processes=1")
        if processes == 2 and mini_batch_size < 2:
            raise ValueError(f"processes=2 splits each mini-batch in two: it needs mini_batch_size >= 2; "
                             f"got {mini_batch_size}")
        if processes == 2 and not net._n_conv:
            raise ValueError("processes=2 runs the convolutional layers of half of each mini-batch in a "
                             "helper process; this network does not start with one: use processes=1")
        if processes == 2 and threads not in ("auto", 1):
            raise ValueError(f"processes=2 runs one thread in each process; got threads={threads!r}")
        if threads == "auto":
            threads = 1 if processes == 2 else auto_threads(mini_batch_size)
        elif not _thread_count(threads):
            raise ValueError(f"threads must be a whole number from 1 to {MAX_THREADS} or 'auto'; got {threads!r}")
        if blas_threads is not None and blas_threads != "auto" and not _thread_count(blas_threads):
            raise ValueError(f"blas_threads must be None, 'auto' or a whole number from 1 to {MAX_THREADS}; "
                             f"got {blas_threads!r}")
        for name, n in (("threads", threads), ("blas_threads", blas_threads)):
            if _is_number(n) and n > usable_cores():
                log.warning("%s=%d is more than the %s this process may use: they will share them",
                            name, n, _words.count(usable_cores(), "core"))
        unknown = set(monitor) - set(MONITORS)
        if unknown:
            raise ValueError(f"unknown monitor {sorted(unknown)[0]!r}; choose from {', '.join(MONITORS)}")
        self.net = net
        self.X, self.y = _pair(training_data, "training_data", net.n_in, net.dtype, net.n_out)
        self.m = int(mini_batch_size)
        self.num_training_batches = len(self.X) // self.m  # network3: size / mini_batch_size
        if self.num_training_batches < 1:
            raise ValueError(f"training_data has {len(self.X)} examples, fewer than one mini-batch of {self.m}")
        self.validation = None if validation_data is None else _pair(validation_data, "validation_data",
                                                                      net.n_in, net.dtype, net.n_out)
        self.test = None if test_data is None else _pair(test_data, "test_data", net.n_in, net.dtype, net.n_out)
        self.epochs, self.eta, self.lmbda = int(epochs), float(eta), float(lmbda)
        self.reshuffle = bool(reshuffle)
        self.rng = rng if rng is not None else net.rng
        self.monitor = tuple(monitor)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.on_epoch, self.should_stop = on_epoch, should_stop
        self.blas_threads = blas_threads if blas_threads in (None, "auto") else int(blas_threads)
        self.threads = int(threads)
        self.processes = "auto" if isinstance(processes, str) else int(processes)
        self.epoch = 0
        self.history = Network3History(n_training=len(self.X),
                                       n_validation=0 if self.validation is None else len(self.validation[0]),
                                       n_test=0 if self.test is None else len(self.test[0]))
        self.initial_cost: float | None = None  # the untrained network's cost (chapter 3's divergence rule)
        # the file the state is read from: the checkpoint, or (resume_from) another file saved by
        # _save_checkpoint, e.g. a finished run's model.npz; errors and the log name that file
        self.resume_from = Path(resume_from) if resume_from is not None else self.checkpoint
        self.probes: list[int] = []  # the BLAS / helper probes' choices (1 or 2), every run() so far (and
        # before the checkpoint resumed from)
        if self.resume_from is not None and self.resume_from.exists():
            self._resume()
        for i, layer in enumerate(net.layers):
            for name in ("w", "b"):
                if not np.isfinite(getattr(layer, name)).all():
                    raise ValueError(f"layer {i}'s {name} holds NaN or infinite values before training; "
                                     "initialise the network again")

    def settings(self) -> dict[str, Any]:
        return {"n_training": len(self.X), "mini_batch_size": self.m, "eta": self.eta, "lmbda": self.lmbda,
                "reshuffle": self.reshuffle, "network": self.net.description()}

    def _resume(self) -> None:
        net, meta, arrays = load_npz(self.resume_from)
        state = meta.get("trainer")
        if not isinstance(state, dict) or state.get("settings") != json.loads(json.dumps(self.settings())):
            raise ModelFileError(f"{self.resume_from}: a checkpoint of other settings or another network; "
                             "remove it or choose another path")
        try:
            epoch = int(state["epoch"])
            history = Network3History.from_dict(state["history"])
            if type(state["epoch"]) is not int or not 0 <= epoch == len(history.epoch_seconds):
                raise ValueError("its epoch and its history disagree")
            if any(len(getattr(history, k)) != epoch for k in ("validation_accuracy", "test_accuracy",
                                                                 "training_cost", "eval_seconds")
                   if getattr(history, k)):
                raise ValueError("its history's lists have different lengths")
            self.rng.bit_generator.state = state["rng_state"]
            initial = state.get("initial_cost")
            if initial is not None and not (_is_number(initial) and np.isfinite(initial) and initial >= 0):
                raise ValueError(f"its initial_cost is {initial!r}")
            self.initial_cost = initial
            if state.get("net_rng_state") is not None:
                self.net.rng.bit_generator.state = state["net_rng_state"]
            probes = state.get("probes", [])  # the choices of the probes before it: the weights depend on them
            if not isinstance(probes, list) or any(type(n) is not int or n not in (1, 2) for n in probes):
                raise ValueError(f"its probes are {probes!r}, not a list of 1s and 2s")
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ModelFileError(f"{self.resume_from}: a damaged training state ({exc})") from None
        for mine, theirs in zip(self.net.params(), net.params()):
            mine[...] = theirs
        self.epoch, self.history = epoch, history
        self.probes[:] = probes
        log.info("resuming from %s after epoch %d", self.resume_from, self.epoch - 1)

    def _save_checkpoint(self) -> None:
        state = {"settings": self.settings(), "epoch": self.epoch, "history": self.history.to_dict(),
                 "rng_state": self.rng.bit_generator.state, "net_rng_state": self.net.rng.bit_generator.state,
                 "initial_cost": self.initial_cost, "probes": list(self.probes)}
        save(self.net, self.checkpoint, metadata={"trainer": json.loads(json.dumps(state, default=int))})

    def run(self) -> Network3History:
        with _WholeSteps() as self._whole:  # a Ctrl-C in the set-up or tear-down waits for its end
            saved, self.net.threads = self.net.threads, self.threads
            with _blas_lock:
                _trainings[0] += 1
            try:
                mode = self._processes()
                helper = None
                if mode != 1:
                    try:
                        helper = _HelperProcess(self.net, self.m, auto=mode == "probe")
                    except HelperProcessError as exc:
                        if mode != "probe":  # processes=2, asked for
                            raise
                        log.warning("%s; training in this process alone", exc)
                        mode = 1
                try:
                    with _BlasThreads(self.blas_threads, self.threads * (2 if mode == 2 else 1),
                                      helper if mode == "probe" else None,
                                      self.num_training_batches * (self.epochs - self.epoch), self.probes) as self._blas:
                        self._whole.open()
                        try:
                            return self._run()
                        finally:
                            self._whole.critical = True
                finally:
                    if helper is not None:
                        helper.close()
            finally:
                self.net.threads = saved
                with _blas_lock:
                    _trainings[0] -= 1

    def cores(self) -> dict[str, Any]:
        """How this run used the cores: the options, the probes' choices so far (1 or 2 each), and
        whether the run is repeatable bit for bit (no probe ran: each probe runs steps on two
        cores, whose rounding differs from one's, whichever it then chooses)."""
        return {"threads": self.threads, "blas_threads": self.blas_threads, "processes": self.processes,
                "probes": list(self.probes), "repeatable": not self.probes}

    def _processes(self) -> int | str:
        """1, 2, or "probe" (``processes="auto"`` where a helper process may pay: the probe decides)."""
        steps = self.num_training_batches * (self.epochs - self.epoch)
        if steps < 1 or self.processes == 1:
            return 1
        if self.processes == 2:
            with _blas_lock:
                others = _trainings[0] > 1
            if others:  # (seen here: OpenBLAS's fork handler waiting for a product of the other one)
                raise _beside_another("nndl's helper process (processes=2)")
            return 2
        if (self.threads != 1 or self.blas_threads != "auto" or not 2 <= self.m < AUTO_THREADS_MIN_BATCH
                or not self.net._n_conv
                or steps < AUTO_MIN_STEPS or usable_cores() < 2 or not helper_process_supported()):
            return 1
        from nndl._cores import blas_controllers

        if not _alone():  # a fork beside other threads can copy a lock one holds (a child that waits
            return 1  # forever), and left OpenBLAS stuck on one thread in 1 of 20 runs here
        with _blas_lock:
            if _trainings[0] > 1:  # another training runs in this process: no fork beside it
                return 1
            mine, _ = blas_controllers()
        if not mine or min(lc.num_threads for lc in mine) < 2:  # an outer limit of one thread is kept
            return 1
        return "probe"

    def _run(self) -> Network3History:
        net, h, m = self.net, self.history, self.m
        h.stopped = None
        nb = self.num_training_batches
        update = net._train_step
        if self.initial_cost is None and self.epoch == 0 and self.epoch < self.epochs:
            from nndl.runs import COST_SAMPLE

            self.initial_cost = net.total_cost(self.X[:COST_SAMPLE], self.y[:COST_SAMPLE])
        while self.epoch < self.epochs:
            t0 = time.perf_counter()
            X, y = self.X, self.y
            order = self.rng.permutation(len(X)) if self.reshuffle else None
            cost = 0.0
            blas = self._blas if self._blas.probing else None
            whole = self._whole
            for j in range(nb):
                if order is None:  # network3: consecutive slices, the same order every epoch
                    xb, yb = X[j * m: (j + 1) * m], y[j * m: (j + 1) * m]
                else:
                    idx = order[j * m: (j + 1) * m]
                    xb, yb = X[idx], y[idx]
                whole.in_step = True
                if blas is None:
                    cost += update(xb, yb, self.eta, self.lmbda, nb)
                else:
                    blas.before_step()
                    cost += update(xb, yb, self.eta, self.lmbda, nb)
                    blas.after_step()
                whole.in_step = False
                if whole.pending:  # a Ctrl-C during the step: now, with the step whole
                    whole.pending = False
                    raise KeyboardInterrupt
            seconds = time.perf_counter() - t0
            if not np.isfinite(cost) or not all(np.isfinite(np.sum(p)) for p in net.params()):
                raise DivergenceError(f"training diverged in epoch {self.epoch} (the cost or the weights "
                                      f"became NaN or infinite); try a smaller eta than {self.eta:g}")
            from nndl.runs import check_divergence  # chapter 3's rule: cost > DIVERGENCE_FACTOR x untrained

            check_divergence(self.epoch, SimpleNamespace(training_cost=[cost / nb], evaluation_cost=[]),
                             self.initial_cost, self.eta)
            t1 = time.perf_counter()
            parts = [f"epoch {self.epoch}"]
            if "training_cost" in self.monitor:
                h.training_cost.append(cost / nb)
                parts.append(f"training cost {cost / nb:.4f}")
            for name, data in (("validation", self.validation), ("test", self.test)):
                if data is not None and f"{name}_accuracy" in self.monitor:
                    acc = net.accuracy(*data)
                    getattr(h, f"{name}_accuracy").append(acc)
                    parts.append(f"{name} accuracy {acc:.2%}")
            h.epoch_seconds.append(seconds)
            h.eval_seconds.append(time.perf_counter() - t1)
            parts.append(f"{seconds:.1f} s")
            self.epoch += 1
            if self.checkpoint is not None:
                self._save_checkpoint()
            log.info(", ".join(parts))  # after the checkpoint: an epoch shown is an epoch kept
            if self.on_epoch is not None:
                self.on_epoch(self.epoch - 1, h, net)
            if self.should_stop is not None and self.epoch < self.epochs and self.should_stop():
                h.stopped = "interrupted"
                break
        return h


# ---------------------------------------------------------------------------------- the book's nets
def _conv_layers(mb: int, act, dtype) -> list:
    return [ConvPoolLayer((mb, 1, 28, 28), (20, 1, 5, 5), (2, 2), act, dtype=dtype),
            ConvPoolLayer((mb, 20, 12, 12), (40, 20, 5, 5), (2, 2), act, dtype=dtype)]


def _book_layers(name: str, mb: int, dtype) -> list:
    if name == "ch6-fc":
        return [FullyConnectedLayer(784, 100, Sigmoid, dtype=dtype), SoftmaxLayer(100, 10, dtype=dtype)]
    if name == "ch6-conv1":
        return [_conv_layers(mb, Sigmoid, dtype)[0], FullyConnectedLayer(20 * 12 * 12, 100, Sigmoid, dtype=dtype),
                SoftmaxLayer(100, 10, dtype=dtype)]
    if name == "ch6-conv2":
        return [*_conv_layers(mb, Sigmoid, dtype), FullyConnectedLayer(40 * 4 * 4, 100, Sigmoid, dtype=dtype),
                SoftmaxLayer(100, 10, dtype=dtype)]
    if name in ("ch6-relu", "ch6-expanded"):
        return [*_conv_layers(mb, ReLU, dtype), FullyConnectedLayer(640, 100, ReLU, dtype=dtype),
                SoftmaxLayer(100, 10, dtype=dtype)]
    if name == "ch6-extra-fc":
        return [*_conv_layers(mb, ReLU, dtype), FullyConnectedLayer(640, 100, ReLU, dtype=dtype),
                FullyConnectedLayer(100, 100, ReLU, dtype=dtype), SoftmaxLayer(100, 10, dtype=dtype)]
    if name in ("ch6-dropout", "ch6-ensemble"):
        return [*_conv_layers(mb, ReLU, dtype), FullyConnectedLayer(640, 1000, ReLU, 0.5, dtype=dtype),
                FullyConnectedLayer(1000, 1000, ReLU, 0.5, dtype=dtype), SoftmaxLayer(1000, 10, 0.5, dtype=dtype)]
    raise ValueError(f"unknown network {name!r}; choose from {', '.join(BOOK_NETS)}")


#: The book's chapter-6 networks by their experiment ids (../shared/BOOK.md), with a description.
BOOK_NETS: dict[str, str] = {
    "ch6-fc": "FullyConnected(784->100, sigmoid), Softmax(100->10)",
    "ch6-conv1": "ConvPool(1x28x28, 20 5x5, pool 2x2, sigmoid), FullyConnected(2880->100, sigmoid), Softmax(100->10)",
    "ch6-conv2": "ch6-conv1 + ConvPool(20x12x12, 40 5x5, pool 2x2, sigmoid); FullyConnected(640->100)",
    "ch6-relu": "ch6-conv2 with ReLU in both ConvPool layers and the fully connected layer",
    "ch6-expanded": "the ch6-relu network (trained on the expanded data)",
    "ch6-extra-fc": "ch6-relu + FullyConnected(100->100, ReLU)",
    "ch6-dropout": "two ReLU ConvPool layers, FullyConnected(640->1000, ReLU, p_dropout 0.5), "
                   "FullyConnected(1000->1000, ReLU, p_dropout 0.5), Softmax(1000->10, p_dropout 0.5)",
}


def book_net(name: str, mini_batch_size: int = 10, *, rng: np.random.Generator | None = None,
             dtype=np.float32) -> Network:
    """One of the book's chapter-6 networks by its id (``BOOK_NETS``), freshly initialised from ``rng``.

    Raises ValueError for an unknown name.
    """
    return Network(_book_layers(name, mini_batch_size, dtype), mini_batch_size, rng=rng, dtype=dtype)


# ---------------------------------------------------------------------------------- files
def layer_description(layer) -> dict[str, Any]:
    if isinstance(layer, ConvPoolLayer):
        return {"type": "ConvPoolLayer", "image_shape": list(layer.image_shape),
                "filter_shape": list(layer.filter_shape), "poolsize": list(layer.poolsize),
                "activation_fn": layer.activation, "init": layer.init}
    if isinstance(layer, SoftmaxLayer):
        return {"type": "SoftmaxLayer", "n_in": layer.n_in, "n_out": layer.n_out, "p_dropout": layer.p_dropout}
    return {"type": "FullyConnectedLayer", "n_in": layer.n_in, "n_out": layer.n_out,
            "activation_fn": layer.activation, "p_dropout": layer.p_dropout, "init": layer.init}


def layer_text(d: dict[str, Any]) -> str:
    """One layer of ``nndl.network3.layer_description`` in a few words."""
    kind = d.get("type")
    if kind == "ConvPoolLayer":
        f, c, fh, fw = d["filter_shape"]
        text = (f"ConvPool({'x'.join(map(str, d['image_shape']))}, {f} filters {fh}x{fw}, "
                f"pool {'x'.join(map(str, d['poolsize']))}, {d['activation_fn']})")
    elif kind == "SoftmaxLayer":
        text = f"Softmax({d['n_in']}->{d['n_out']})"
    else:
        text = f"FullyConnected({d['n_in']}->{d['n_out']}, {d['activation_fn']})"
    p = d.get("p_dropout", 0)
    return text[:-1] + f", p_dropout {p})" if p else text


def describe(net: Network) -> str:
    """A layered network in a few words: the book's network whose layers it has (all the ids
    that share them, e.g. "the book's ch6-relu / ch6-expanded network"), else its layers."""
    ours = [layer_description(layer) for layer in net.layers]
    names = [name for name in BOOK_NETS
             if [layer_description(layer) for layer in _book_layers(name, net.mini_batch_size, net.dtype)] == ours]
    if names:
        return f"the book's {' / '.join(names)} network"
    return ", ".join(layer_text(d) for d in ours)


def _int_list(v, n: int, where: str, what: str, limit: int = 100_000) -> list[int]:
    if (not isinstance(v, list) or len(v) != n
            or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= limit for i in v)):
        raise ModelFileError(f"{where}: {what} must be a list of {n} whole numbers in 1..{limit}")
    return v


def build_layer(d: Any, dtype, where: str = "layer"):
    """A layer from ``layer_description``'s dict, validated (ModelFileError names the problem)."""
    if not isinstance(d, dict):
        raise ModelFileError(f"{where}: a layer must be a JSON object")
    kind = d.get("type")
    act = d.get("activation_fn", "sigmoid")
    if not isinstance(kind, str) or not isinstance(act, str):
        raise ModelFileError(f"{where}: 'type' and 'activation_fn' must be names")
    if kind != "SoftmaxLayer" and act not in ACTIVATIONS3:
        raise ModelFileError(f"{where}: activation_fn {act!r}; expected one of {', '.join(ACTIVATIONS3)}")
    init = d.get("init", "book")
    if not isinstance(init, str) or init not in INITS3:
        raise ModelFileError(f"{where}: init {init!r}; expected one of {', '.join(INITS3)}")
    p = d.get("p_dropout", 0.0)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ModelFileError(f"{where}: p_dropout must be a number in [0, 1)")
    try:
        if kind == "ConvPoolLayer":
            image = _int_list(d.get("image_shape"), 3, where, "image_shape")
            filt = _int_list(d.get("filter_shape"), 4, where, "filter_shape")
            pool = _int_list(d.get("poolsize"), 2, where, "poolsize")
            return ConvPoolLayer(image, filt, pool, act, dtype=dtype, init=init)
        if kind in ("FullyConnectedLayer", "SoftmaxLayer"):
            n_in, n_out = (_int_list([d.get("n_in"), d.get("n_out")], 2, where, "n_in, n_out", 10_000_000))
            if kind == "SoftmaxLayer":
                return SoftmaxLayer(n_in, n_out, p, dtype=dtype)
            return FullyConnectedLayer(n_in, n_out, act, p, dtype=dtype, init=init)
    except ValueError as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{where}: {exc}") from None
    raise ModelFileError(f"{where}: type {kind!r}; expected ConvPoolLayer, FullyConnectedLayer or SoftmaxLayer")


def save(net: Network, path: str | Path, *, metadata: dict | None = None,
         arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write ``net`` to an ``.npz``: ``w0, b0, w1, b1, ...`` (the book's shapes) and ``meta``
    (JSON: format, the layers' descriptions, dtype, and ``metadata`` under "extra"). Atomic."""
    from nndl import __version__
    from nndl.io import atomic_write

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "nndl_version": __version__, **net.description()}
    if metadata:
        meta["extra"] = metadata
    payload = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(net.layers):
        payload[f"w{i}"] = np.ascontiguousarray(layer.w)
        payload[f"b{i}"] = layer.b
    for k, v in (arrays or {}).items():
        if k in payload:
            raise ValueError(f"extra array name {k!r} clashes with the network's own")
        payload[k] = np.asarray(v)
    with atomic_write(path) as f:
        np.savez(f, **payload)


def is_layered_file(path: str | Path) -> bool:
    """True if ``path`` is a zip whose ``meta`` names this format (cheap; never raises)."""
    try:
        return _read_meta(path).get("format") == FORMAT
    except Exception:  # noqa: BLE001 - any unreadable file is simply not one of ours
        return False


def _read_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` JSON of an ``.npz`` (read alone, through ``nndl._validate``): a dict."""
    from nndl.io import read_npz_json

    return read_npz_json(path, ModelFileError)


def load_npz(path: str | Path) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """Read a layered network: (network, the "extra" metadata, other arrays).

    Every check happens before the arrays are read (``nndl._validate.read_npz``, as for
    chapter 3's model file): the zip members (``.npy`` only, no encryption, sizes that
    agree with their headers, no trailing bytes), then the metadata (format, version,
    dtype, layers within ``MAX_PARAMETERS``, ``mini_batch_size``), then each array's header
    (dtype, the shape its layer needs), then the values (finite).

    Raises ModelFileError (one line, naming the file) for a missing, unreadable, pickled,
    truncated or inconsistent file.
    """
    from nndl import _validate

    where = str(path)
    meta = _read_meta(path)
    if meta.get("format") != FORMAT:
        from nndl.io import FORMAT as CHAPTER3

        if meta.get("format") == CHAPTER3:  # the other chapter's network: said as such
            raise ModelFileError(f"{where}: a chapter-3 nndl network, where a chapter-6 (layered) one was expected")
        raise ModelFileError(f"{where}: not a layered (chapter 6) nndl network")
    version = meta.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(f"{where}: unsupported format version {version!r}")
    dtype = meta.get("dtype")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{where}: dtype {dtype!r}; expected float32 or float64")
    mbs = meta.get("mini_batch_size")
    if mbs is not None and not _validate.plain_int(mbs, 1, MAX_MINI_BATCH):
        raise ModelFileError(f"{where}: 'mini_batch_size' is {mbs!r}; expected a whole number "
                             f"1..{MAX_MINI_BATCH:,} or null")
    specs = meta.get("layers")
    if not isinstance(specs, list) or not 1 <= len(specs) <= MAX_LAYERS:
        raise ModelFileError(f"{where}: 'layers' must be a list of 1..{MAX_LAYERS} layers")
    layers = [build_layer(d, dtype, f"{where}: layer {i}") for i, d in enumerate(specs)]
    if sum(layer.w.size + layer.b.size for layer in layers) > MAX_PARAMETERS:
        raise ModelFileError(f"{where}: more than {MAX_PARAMETERS:,} parameters; more than nndl loads")

    def own(name: str) -> int | None:
        i = name[1:]
        if name[:1] in "wb" and i.isdigit() and str(int(i)) == i and int(i) < len(layers):
            return int(i)
        return None

    def check(name: str, shape: tuple[int, ...], dt) -> None:
        if name[:1] in "wb" and name[1:].isdigit() and int(name[1:]) >= len(layers):
            raise ModelFileError(f"{where}: holds the array {name} but its metadata describe "
                                 f"{len(layers)} layers")
        i = own(name)
        if i is None:
            return
        target = layers[i].w if name[0] == "w" else layers[i].b
        if dt.kind != "f":
            raise ModelFileError(f"{where}: array {name} has dtype {dt}; expected floats")
        if shape != target.shape:
            raise ModelFileError(f"{where}: array {name} has shape {shape}; layer {i} needs {target.shape}")

    files = _validate.read_npz(path, ModelFileError, what=".npz model file", check=check,
                               max_array_bytes=8 * MAX_PARAMETERS)
    for i, layer in enumerate(layers):
        for key, target in ((f"w{i}", layer.w), (f"b{i}", layer.b)):
            if key not in files:
                raise ModelFileError(f"{where}: missing array {key}")
            if not np.all(np.isfinite(files[key])):
                raise ModelFileError(f"{where}: array {key} holds NaN or infinite values")
            target[...] = files[key]
        layer.initialized = True
    extras = {k: v for k, v in files.items() if k != "meta" and own(k) is None}
    try:
        net = Network(layers, mbs, rng=np.random.default_rng(0))
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    extra = meta.get("extra", {})
    return net, extra if isinstance(extra, dict) else {}, extras


def load(path: str | Path) -> Network:
    """Load a layered network saved by ``save`` (ModelFileError for anything else)."""
    return load_npz(path)[0]
