"""The book's network, vectorised over the mini-batch: feedforward, BP1-BP4, eq. (93)/(94).

Index map, said once as Nielsen does: ``weights[l]`` and ``biases[l]`` belong to the
book's layer l+2. ``weights[0]`` is w^2 (input layer 1 -> first hidden layer 2), and
``weights[-1]`` is w^L. ``weights[l]`` has the book's orientation (n_out, n_in): entry
[j, k] is w_jk, from neuron k of the previous layer to neuron j. A mini-batch is a
matrix with one example per row, ``X`` (m, n_in), so eq. (25) for the whole batch reads
``Z = A_prev @ W.T + b``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nndl.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, output_fn
from nndl.costs import CrossEntropyCost, cost_name, get_cost, output_for

log = logging.getLogger(__name__)

Array = NDArray[np.floating]

INITS = ("default", "large")
REGULARIZATIONS = ("l2", "l1")
EVAL_CHUNK = 10_000  # rows evaluated at once: large batches, bounded memory


def as_targets(y: ArrayLike, n_out: int, dtype=np.float64) -> Array:
    """Targets as a one-hot matrix (m, n_out): integer labels (m,) are one-hot encoded.

    A 2-D ``y`` is taken as given (one-hot or any target vectors), checked for shape.
    """
    y = np.asarray(y)
    if y.ndim == 1:
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("labels must be integers 0..n_out-1 (or pass one-hot targets)")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_out):
            raise ValueError(f"labels must lie in 0..{n_out - 1}; got {y.min()}..{y.max()}")
        Y = np.zeros((y.shape[0], n_out), dtype=dtype)
        Y[np.arange(y.shape[0]), y] = 1.0
        return Y
    if y.ndim != 2 or y.shape[1] != n_out:
        raise ValueError(f"targets must have shape (m, {n_out}) or be labels (m,); got {y.shape}")
    return np.ascontiguousarray(y, dtype=dtype)


def as_labels(y: ArrayLike) -> NDArray[np.int64]:
    """Integer labels (m,) from labels or one-hot targets (argmax of each row)."""
    y = np.asarray(y)
    return y.astype(np.int64) if y.ndim == 1 else np.argmax(y, axis=1)


class Network:
    """A feedforward network of the book's kind, trained by mini-batch SGD.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input first, e.g. ``[784, 30, 10]``.
    cost : cost class, instance or name, default CrossEntropyCost
        ``QuadraticCost``, ``CrossEntropyCost``, ``LogLikelihoodCost``, an instance of
        one, or their names "quadratic", "cross-entropy", "log-likelihood"; all three forms
        give the same network (``nndl.costs.get_cost``). Or any object with ``fn(a, y)``
        and ``delta(z, a, y)`` (such a network cannot be saved).
    init : {"default", "large"}
        "default": weights N(0, 1/n_in), biases N(0, 1) (network2's
        ``default_weight_initializer``); "large": weights and biases N(0, 1) (chapter 1).
    hidden : {"sigmoid", "tanh", "relu"}
        Hidden neurons (eqs. 3, 109-110, 112).
    output : {"sigmoid", "softmax"} or None
        Output layer; None picks the cost's partner (softmax for log-likelihood).
    dtype : float64 (default) or float32
        The whole network computes in this one dtype.
    dropout : float in [0, 1)
        Probability of dropping each hidden neuron during training (chapter 3). The book's
        convention is used: training does not rescale; at test time (``feedforward``) each
        hidden activation is multiplied by ``1 - dropout``, which is exactly "halving the
        weights outgoing from the hidden neurons" when dropout = 0.5.
    rng : numpy.random.Generator, optional
        Source of the initial weights and of dropout masks. Default: a fresh unseeded one.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        cost=CrossEntropyCost,
        *,
        init: str = "default",
        hidden: str = "sigmoid",
        output: str | None = None,
        dtype=np.float64,
        dropout: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two layers of >= 1 neuron; got {sizes}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
        if hidden not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"unknown hidden activation {hidden!r}; choose from {', '.join(HIDDEN_ACTIVATIONS)}")
        self.cost = get_cost(cost)
        output = output or output_for(self.cost)
        if output not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"unknown output layer {output!r}; choose from {', '.join(OUTPUT_ACTIVATIONS)}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output layer needs at least 2 neurons")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.sizes = sizes
        self.init = init
        self.hidden = hidden
        self.output = output
        self.dropout = float(dropout)
        self.rng = rng if rng is not None else np.random.default_rng()
        self._act = HIDDEN_ACTIVATIONS[hidden]
        # network2 draws all biases, then all weights; so do we (in float64, then cast,
        # so a float32 network starts from the same numbers rounded).
        self.biases = [self.rng.standard_normal(n).astype(self.dtype) for n in sizes[1:]]
        scale = (lambda n_in: 1.0 / np.sqrt(n_in)) if init == "default" else (lambda n_in: 1.0)
        self.weights = [
            (self.rng.standard_normal((n_out, n_in)) * scale(n_in)).astype(self.dtype)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        ]
        self.velocities: list[Array] | None = None  # momentum, eq. (107); created on first use

    @property
    def cost(self):
        """The cost: a class or object with ``fn(a, y)`` and ``delta(z, a, y)``; may be reassigned."""
        return self._cost

    @cost.setter
    def cost(self, cost) -> None:
        self._cost = get_cost(cost)
        # The book's costs also take the output layer (``output=``); a user's own may not.
        self._delta_takes_output = "output" in inspect.signature(self._cost.delta).parameters

    # ------------------------------------------------------------------ forward
    @property
    def num_layers(self) -> int:
        return len(self.sizes)

    def _check_input(self, X: ArrayLike) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"input must have shape (m, {self.sizes[0]}); got {np.shape(X)}")
        return X

    def forward_pass(self, X: ArrayLike, masks: Sequence[Array] | None = None) -> tuple[list[Array], list[Array]]:
        """Weighted inputs and activations of every layer, eqs. (23)-(25), for a batch.

        Returns ``(zs, activations)``: ``zs[l]`` is z^{l+2}, shape (m, sizes[l+1]);
        ``activations[0]`` is X and ``activations[l+1]`` = f(zs[l]). ``masks`` (training
        with dropout) multiply the hidden activations; without masks and with dropout > 0
        the hidden activations are scaled by 1 - dropout (the test-time rule).
        """
        A = self._check_input(X)
        zs, activations = [], [A]
        last = len(self.weights) - 1
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            Z = A @ W.T + b  # eq. (25): z^l = w^l a^{l-1} + b^l              (m, n_l)
            if l == last:
                A = output_fn(self.output, Z)  # a^L = sigma(z^L) or softmax, eq. (78)
            else:
                A = self._act.fn(Z)  # a^l = sigma(z^l)                              (m, n_l)
                if masks is not None:
                    A = A * masks[l]  # dropout: the deleted neurons output 0
                elif self.dropout:
                    A = A * (1.0 - self.dropout)  # test time: outgoing weights scaled by 1 - p
            zs.append(Z)
            activations.append(A)
        return zs, activations

    def feedforward(self, X: ArrayLike) -> Array:
        """Output activations a^L for a batch: X (m, n_in) -> (m, n_out)."""
        return self.forward_pass(X)[1][-1]

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        """The index of the most active output neuron for each example, shape (m,)."""
        X = self._check_input(X)
        return np.concatenate(
            [np.argmax(self.feedforward(X[i : i + EVAL_CHUNK]), axis=1) for i in range(0, len(X), EVAL_CHUNK)]
            or [np.zeros(0, dtype=np.int64)]
        )

    # ------------------------------------------------------------------ backward
    def _output_delta(self, z: Array, a: Array, Y: Array) -> Array:
        if self._delta_takes_output:
            return self.cost.delta(z, a, Y, output=self.output)
        return self.cost.delta(z, a, Y)

    def deltas(self, X: ArrayLike, Y: ArrayLike, masks: Sequence[Array] | None = None) -> list[Array]:
        """The error delta^l = dC_x/dz^l of every layer for every example, by BP1 and BP2.

        Returns a list parallel to ``weights``: ``deltas[l]`` has shape (m, sizes[l+1]).
        """
        zs, activations = self.forward_pass(X, masks)
        Y = as_targets(Y, self.sizes[-1], self.dtype)
        return self._backward(zs, activations, Y, masks)

    def _backward(self, zs, activations, Y, masks) -> list[Array]:
        D = self._output_delta(zs[-1], activations[-1], Y)  # BP1: delta^L = nabla_a C (.) sigma'(z^L)   (m, n_L)
        deltas = [D]
        for l in range(len(self.weights) - 1, 0, -1):
            A = activations[l]  # a^l, the hidden layer that feeds weights[l]                 (m, n_l)
            if masks is None and not self.dropout:
                D = (D @ self.weights[l]) * self._act.prime_from_a(A)  # BP2: ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l)
            else:
                # a = f(z) * s with s the dropout mask (0/1) or the test-time scale 1 - p,
                # so da/dz = f'(z) s. For a 0/1 mask f'(z) may be taken from the masked a.
                s = masks[l - 1] if masks is not None else 1.0 - self.dropout
                F = A if masks is not None else A / s  # f(z) where s != 0
                D = (D @ self.weights[l]) * self._act.prime_from_a(F) * s  # BP2 with dropout
            deltas.append(D)
        deltas.reverse()
        return deltas

    def backprop(self, X: ArrayLike, Y: ArrayLike, masks: Sequence[Array] | None = None) -> tuple[list[Array], list[Array]]:
        """Gradients of the cost summed over the batch, by BP1-BP4, with no loop over examples.

        Returns ``(nabla_b, nabla_w)``, lists shaped like ``biases`` and ``weights``:
        sum_x dC_x/db^l and sum_x dC_x/dw^l (what network2 accumulates), no L2 term.
        ``Y``: one-hot targets (m, n_out) or integer labels (m,).
        """
        zs, activations = self.forward_pass(X, masks)
        Y = as_targets(Y, self.sizes[-1], self.dtype)
        deltas = self._backward(zs, activations, Y, masks)
        nabla_b = [D.sum(axis=0) for D in deltas]  # BP3: dC/db^l_j = delta^l_j, summed over x     (n_l,)
        nabla_w = [D.T @ A for D, A in zip(deltas, activations[:-1])]  # BP4: dC/dw^l_jk = a^{l-1}_k delta^l_j   (n_l, n_{l-1})
        return nabla_b, nabla_w

    def dropout_masks(self, m: int, rng: np.random.Generator | None = None) -> list[Array] | None:
        """Random 0/1 masks (m, n_l) keeping each hidden neuron with probability 1 - dropout."""
        if not self.dropout:
            return None
        rng = rng if rng is not None else self.rng
        return [(rng.random((m, n)) >= self.dropout).astype(self.dtype) for n in self.sizes[1:-1]]

    # ------------------------------------------------------------------ update
    def update_mini_batch(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        eta: float,
        lmbda: float = 0.0,
        n: int | None = None,
        *,
        regularization: str = "l2",
        momentum: float = 0.0,
        masks: Sequence[Array] | None = None,
    ) -> None:
        """One gradient-descent step on a mini-batch: eq. (93)/(94), or L1 eq. (97).

        ``n`` is the size of the whole training set (eq. 93's n); ``m = len(X)``.
        With ``momentum`` mu > 0: v -> mu v - eta grad C, w -> w + v (eqs. 107-108),
        for weights and biases, where grad C includes the regularization term.
        """
        X = self._check_input(X)
        m = X.shape[0]
        if regularization not in REGULARIZATIONS:
            raise ValueError(f"unknown regularization {regularization!r}; choose from l2, l1")
        if lmbda and n is None:
            raise ValueError("regularization needs n, the size of the whole training set (eq. 93)")
        if masks is None and self.dropout:
            masks = self.dropout_masks(m)
        nabla_b, nabla_w = self.backprop(X, Y, masks)
        reg = eta * lmbda / n if lmbda else 0.0
        if momentum:
            if self.velocities is None:
                self.velocities = [np.zeros_like(p) for p in self.weights + self.biases]
            vw, vb = self.velocities[: len(self.weights)], self.velocities[len(self.weights) :]
            for W, b, gW, gb, v, u in zip(self.weights, self.biases, nabla_w, nabla_b, vw, vb):
                v *= momentum
                v -= (eta / m) * gW  # eq. (107): v -> mu v - eta dC/dw ...
                v -= reg * (W if regularization == "l2" else np.sign(W))  # ... with the L2 (eq. 88) or L1 (eq. 96) term
                W += v  # eq. (108): w -> w + v
                u *= momentum
                u -= (eta / m) * gb  # eq. (107) for the biases (not regularized, eq. 89)
                b += u
            return
        for W, b, gW, gb in zip(self.weights, self.biases, nabla_w, nabla_b):
            if regularization == "l2":
                W *= 1.0 - reg  # eq. (93): w -> (1 - eta lmbda / n) w ...
            else:
                W -= reg * np.sign(W)  # eq. (97): w -> w - (eta lmbda / n) sgn(w) ..., sgn(0) = 0
            W -= (eta / m) * gW  # ... - (eta/m) sum_x dC_x/dw   (eqs. 93, 97)
            b -= (eta / m) * gb  # eq. (94): b -> b - (eta/m) sum_x dC_x/db

    # ------------------------------------------------------------------ monitoring
    def regularization_cost(self, lmbda: float, n: int, regularization: str = "l2") -> float:
        """lmbda/(2n) sum w^2 (eq. 85) or lmbda/n sum |w| (eq. 95); biases excluded."""
        if not lmbda:
            return 0.0
        if regularization == "l2":
            return 0.5 * (lmbda / n) * sum(float(np.vdot(W, W)) for W in self.weights)
        return (lmbda / n) * sum(float(np.abs(W).sum()) for W in self.weights)

    def total_cost(
        self, X: ArrayLike, Y: ArrayLike, lmbda: float = 0.0, n: int | None = None, regularization: str = "l2"
    ) -> float:
        """Mean cost over the examples plus the regularization term, eqs. (85)-(86), (95).

        ``n`` is the size of the training set (default: ``len(X)``). network2's
        ``total_cost`` divides the L2 term by the size of the set being *evaluated*
        instead; for evaluation data its curves therefore carry a regularization term
        n_train/n_eval times smaller than eq. (85) says. nndl always uses eq. (85).
        """
        return self.evaluate(X, Y, lmbda, n, regularization)[0]

    def evaluate(self, X: ArrayLike, Y: ArrayLike, lmbda: float = 0.0, n: int | None = None,
                 regularization: str = "l2") -> tuple[float, int]:
        """``(total_cost(X, Y, ...), accuracy(X, Y))`` from one forward pass, in chunks of 10,000 rows."""
        X = self._check_input(X)
        Y = np.asarray(Y)
        total, correct = 0.0, 0
        for i in range(0, len(X), EVAL_CHUNK):
            zs, activations = self.forward_pass(X[i : i + EVAL_CHUNK])
            Yc = as_targets(Y[i : i + EVAL_CHUNK], self.sizes[-1], self.dtype)
            total += self._cost_sum(activations[-1], Yc, zs[-1])
            correct += int(np.sum(np.argmax(activations[-1], axis=1) == as_labels(Y[i : i + EVAL_CHUNK])))
        cost = total / max(len(X), 1) + self.regularization_cost(lmbda, n or len(X), regularization)
        return cost, correct

    def _cost_sum(self, a: Array, Y: Array, z: Array) -> float:
        if self._delta_takes_output:
            return float(self.cost.fn(a, Y, z, output=self.output))
        return float(self.cost.fn(a, Y))

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> int:
        """How many examples the network classifies correctly (argmax of a^L equals the label)."""
        return int(np.sum(self.predict(X) == as_labels(y)))

    def gradient_norms(self, X: ArrayLike, Y: ArrayLike) -> list[float]:
        """||dC/db^l|| for each hidden layer, dC/db averaged over the examples (chapter 5).

        The chapter-5 measure of "the speed of learning" of each hidden layer: the
        Euclidean norm of the vector of mean bias gradients (BP3), first hidden layer first.
        """
        X = self._check_input(X)
        nabla_b, _ = self.backprop(X, Y)
        return [float(np.linalg.norm(g / len(X))) for g in nabla_b[:-1]]

    # ------------------------------------------------------------------ training
    def sgd(self, training_data, epochs: int, mini_batch_size: int, eta: float, lmbda: float = 0.0,
            evaluation_data=None, **options):
        """Train by mini-batch stochastic gradient descent; see ``nndl.training.sgd``.

        ``training_data`` and ``evaluation_data`` are pairs ``(X, y)`` with X (m, n_in)
        and y integer labels (m,) or one-hot targets (m, n_out), or the book's lists of
        ``(x, y)`` examples. Returns a
        ``TrainingHistory`` with the four histories network2 monitors, the per-hidden-layer
        gradient norms, and timings.
        """
        from nndl.training import sgd

        return sgd(self, training_data, epochs, mini_batch_size, eta, lmbda, evaluation_data, **options)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """Save to ``.npz`` (native; no pickle) or ``.json`` (the book's network2 format)."""
        from nndl.io import save

        save(self, path)

    def copy(self) -> Network:
        """An independent copy (weights, biases, velocities; the rng is shared)."""
        new = object.__new__(Network)
        new.__dict__.update(self.__dict__)
        new.weights = [W.copy() for W in self.weights]
        new.biases = [b.copy() for b in self.biases]
        new.velocities = None if self.velocities is None else [v.copy() for v in self.velocities]
        new.sizes = list(self.sizes)
        return new

    def __repr__(self) -> str:
        cost = cost_name(self.cost)
        return (f"Network({self.sizes}, cost={cost!r}, init={self.init!r}, hidden={self.hidden!r}, "
                f"output={self.output!r}, dtype={self.dtype.name}, dropout={self.dropout})")
