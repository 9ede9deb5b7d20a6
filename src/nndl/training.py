"""Mini-batch stochastic gradient descent (chapters 1-3), resumable and monitored.

``sgd(net, training_data, epochs, mini_batch_size, eta, ...)`` is network2's ``SGD``:
every epoch it reshuffles the training data with an explicit ``numpy.random.Generator``,
steps through consecutive mini-batches with eq. (93)/(94), and at the end of the epoch
records what it was asked to monitor. It returns a ``TrainingHistory`` instead of printing.

The chapter-3 toolkit is options of the same loop: L1 (eq. 97), momentum (eqs. 107-108),
dropout, early stopping ("no improvement in N epochs") and the learning-rate schedule
(halve eta when validation accuracy has not improved for N epochs; stop when eta has
fallen to 1/128 of its start).

Two implementations of one step exist. ``Network.update_mini_batch`` is the readable
reference (backprop, then eq. 93). The fast step here computes the same numbers with
fewer calls: in-place buffers, sigma' from the stored activation, eta/m folded into
delta^L once, and eq. (93)'s shrink-and-subtract done by a single BLAS gemm
(C <- alpha A B + beta C with beta = 1 - eta lmbda / n). Tests pin the two together.

A ``Trainer`` holds the whole state of a run (position in the epoch, permutation, rng
state, schedule counters, velocities, history), so an interrupted run can be
checkpointed and resumed with bit-identical results.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.linalg import blas as _blas

from nndl.activations import sigmoid_for_size
from nndl.costs import CrossEntropyCost, LogLikelihoodCost, QuadraticCost
from nndl.errors import DivergenceError
from nndl.network import REGULARIZATIONS, Network, as_targets
from nndl import _words

log = logging.getLogger(__name__)

ETA_SCHEDULE_FLOOR = 1.0 / 128  # chapter 3: stop when eta has fallen to 1/128 of its start
# The fast step keeps each bias in the packed [W | b] and divides it by eq. (93)'s shrink
# factor 1 - eta lmbda / n before the gemm scales the whole block by it. That is exact to
# a few ulp while the factor is not tiny; nearer 0 (at 0, eta lmbda / n = 1, the bias
# would be lost) the reference step is used instead.
FAST_MIN_SHRINK = 2.0**-10
# Stuck at chance (Trainer._stuck_at_chance): accuracy within CHANCE_MARGIN of always
# answering the most common label, and more than SATURATED_SHARE of the outputs of the
# first COST_SAMPLE_ROWS training examples within SATURATED of 0 or 1.
CHANCE_MARGIN = 0.05
SATURATED = 1e-3
SATURATED_SHARE = 0.9
COST_SAMPLE_ROWS = 1000


@dataclass
class TrainingHistory:
    """What one run of SGD monitored, one entry per epoch (network2's four lists, and more).

    Accuracies are counts of correct examples, as network2 returns them; divide by
    ``n_evaluation`` / ``n_training`` for fractions. Costs are means over the examples
    plus the regularization term with n = the training-set size (see ``Network.total_cost``).
    ``gradient_norms[e][l]`` is ||mean dC/db|| of hidden layer l at the start of epoch e
    (chapter 5's speed of learning).
    """

    evaluation_cost: list[float] = field(default_factory=list)
    evaluation_accuracy: list[int] = field(default_factory=list)
    training_cost: list[float] = field(default_factory=list)
    training_accuracy: list[int] = field(default_factory=list)
    gradient_norms: list[list[float]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    eta: list[float] = field(default_factory=list)
    n_training: int = 0
    n_evaluation: int = 0
    stopped: str | None = None  # None (ran all epochs), "early-stopping", "eta-schedule", "interrupted"
    warnings: list[str] = field(default_factory=list)  # e.g. stuck at chance with saturated outputs

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    def best_evaluation_accuracy(self) -> float | None:
        """Best evaluation accuracy as a fraction, or None if it was not monitored."""
        if not self.evaluation_accuracy or not self.n_evaluation:
            return None
        return max(self.evaluation_accuracy) / self.n_evaluation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingHistory:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _as_pair(data, name: str, net: Network):
    """``(X, y)`` from training or evaluation data given in either of the two forms.

    - the pair ``(X, y)``: X of shape (n, n_in), y labels (n,) or targets (n, n_out);
    - the book's list of examples ``[(x, y), ...]`` (network2's ``training_data``), x of
      n_in numbers (shape (n_in,) or the book's column (n_in, 1)), y a label or a target
      vector (n_out,) or (n_out, 1).

    The forms are told apart by structure, not by length: a list of exactly two examples
    is not the pair (X, y), because its first element is not a 2-D array of numbers.
    Raises ``ValueError`` naming ``name`` and what is wrong.
    """
    n_in = net.sizes[0]
    X = None
    if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_example(data[0], n_in):
        first = data[0]
        try:
            X = np.asarray(first, dtype=net.dtype)
        except (TypeError, ValueError):
            X = None
        if X is not None and X.ndim == 2:
            y = data[1]
        else:
            X = None
    if X is None:
        X, y = _from_examples(data, name, n_in, net.dtype)
    X = np.ascontiguousarray(X, dtype=net.dtype)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name}: inputs must have shape (m, {n_in}); got {X.shape}")
    if not np.isfinite(X).all():
        from nndl.errors import DataError

        raise DataError(f"{name}: the inputs hold NaN or infinite values (row "
                        f"{int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])}); clean the data first")
    try:
        y = np.asarray(y)
    except ValueError:
        raise ValueError(f"{name}: the targets are not one array (labels (m,) or targets (m, "
                         f"{net.sizes[-1]}))") from None
    if y.dtype == object:
        raise ValueError(f"{name}: the targets must be numbers: labels (m,) or targets (m, {net.sizes[-1]})")
    if len(y) != len(X):
        raise ValueError(f"{name}: {len(X)} inputs but {len(y)} targets")
    return X, y


def _is_example(item, n_in: int) -> bool:
    """True for one of the book's examples: a pair (x, y) with x holding n_in numbers."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return False
    try:
        x = np.asarray(item[0], dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if not (x.size == n_in and x.ndim in (1, 2) and (x.ndim == 1 or 1 in x.shape)):
        return False
    # [row, row] (X as a list of two rows) is not an example: an example is a tuple, as the
    # book's and zip's are, or a list whose second element is not another input
    return isinstance(item, tuple) or np.size(item[1]) != n_in


def _from_examples(data, name: str, n_in: int, dtype):
    """X (n, n_in) and y from the book's list of ``(x, y)`` examples; ValueError if it is not one."""
    form = f"a pair (X, y) with X of shape (n, {n_in}), or a list of (x, y) examples as in the book"
    try:
        examples = list(data)
    except TypeError:
        raise ValueError(f"{name} must be {form}; got {type(data).__name__}") from None
    if not examples:
        raise ValueError(f"{name} is empty")
    for i, e in enumerate(examples):
        if not _is_example(e, n_in):
            what = (f"{_words.a(type(e).__name__)} of {len(e)}" if isinstance(e, (tuple, list))
                    else type(e).__name__)
            raise ValueError(f"{name} must be {form}; example {i} is {what}, not (x, y) with x "
                             f"of {n_in} numbers")
    X = np.stack([np.asarray(x, dtype=dtype).reshape(-1) for x, _ in examples])
    ys = [np.asarray(t) for _, t in examples]
    if all(t.ndim == 0 for t in ys):
        y = np.array([t.item() for t in ys])
    elif len({t.size for t in ys}) == 1 and all(t.ndim > 0 for t in ys):
        y = np.stack([t.reshape(-1) for t in ys]).astype(dtype)
    else:
        raise ValueError(f"{name}: the examples' targets must all be labels or all be vectors of one size")
    return X, y


class Trainer:
    """One run of mini-batch SGD on one network; see ``sgd`` for the parameters.

    ``run()`` trains until the epochs are done, a stopping rule fires, or
    ``should_stop()`` returns true after a mini-batch (then ``history.stopped`` is
    "interrupted" and ``state()`` / ``restore()`` checkpoint the exact position).
    """

    def __init__(
        self,
        net: Network,
        training_data,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        evaluation_data=None,
        *,
        regularization: str = "l2",
        momentum: float = 0.0,
        monitor_evaluation_cost: bool = False,
        monitor_evaluation_accuracy: bool = False,
        monitor_training_cost: bool = False,
        monitor_training_accuracy: bool = False,
        monitor_gradient_norms: bool = False,
        gradient_norm_examples: int = 1000,
        early_stopping: int | None = None,
        eta_schedule: int | None = None,
        rng: np.random.Generator | None = None,
        on_epoch: Callable[[int, TrainingHistory, Network], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        fast: bool = True,
        blas_threads: int | None = 1,
    ) -> None:
        if epochs < 0 or int(epochs) != epochs:
            raise ValueError(f"epochs must be a whole number >= 0; got {epochs}")
        if mini_batch_size < 1 or int(mini_batch_size) != mini_batch_size:
            raise ValueError(f"mini_batch_size must be a whole number >= 1; got {mini_batch_size}")
        if not np.isfinite(eta) or eta <= 0:
            raise ValueError(f"eta must be a positive number; got {eta}")
        if not np.isfinite(lmbda) or lmbda < 0:
            raise ValueError(f"lmbda must be >= 0; got {lmbda}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum}")
        if regularization not in REGULARIZATIONS:
            raise ValueError(f"unknown regularization {regularization!r}; choose from l2, l1")
        for name, v in (("early_stopping", early_stopping), ("eta_schedule", eta_schedule)):
            if v is not None and (v < 1 or int(v) != v):
                raise ValueError(f"{name} must be a whole number of epochs >= 1; got {v}")
        if (early_stopping or eta_schedule) and evaluation_data is None:
            raise ValueError("early stopping and the eta schedule need evaluation_data")
        self.net = net
        self.X, self.y = _as_pair(training_data, "training_data", net)
        if len(self.X) == 0:
            raise ValueError("training_data is empty")
        self.Y = as_targets(self.y, net.sizes[-1], net.dtype)  # validates labels once
        self.evaluation_data = None
        if evaluation_data is not None:
            self.evaluation_data = _as_pair(evaluation_data, "evaluation_data", net)
        self.epochs = int(epochs)
        self.mini_batch_size = int(mini_batch_size)
        self.eta0 = float(eta)
        self.lmbda = float(lmbda)
        self.regularization = regularization
        self.momentum = float(momentum)
        self.monitor = {
            "evaluation_cost": monitor_evaluation_cost,
            "evaluation_accuracy": monitor_evaluation_accuracy or bool(early_stopping or eta_schedule),
            "training_cost": monitor_training_cost,
            "training_accuracy": monitor_training_accuracy,
            "gradient_norms": monitor_gradient_norms,
        }
        if (self.monitor["evaluation_cost"] or self.monitor["evaluation_accuracy"]) and evaluation_data is None:
            raise ValueError("monitoring evaluation cost or accuracy needs evaluation_data")
        self.gradient_norm_examples = int(gradient_norm_examples)
        self.early_stopping = early_stopping
        self.eta_schedule = eta_schedule
        self.rng = rng if rng is not None else net.rng
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        self.fast = fast
        self.blas_threads = blas_threads
        # Position and schedule state (what a checkpoint must hold).
        self.epoch = 0  # epochs completed
        self.batch = 0  # mini-batches completed within the current epoch
        self.perm: np.ndarray | None = None  # the current epoch's order, once drawn
        self.eta = self.eta0
        self.best_accuracy = -1
        self.epochs_without_improvement = 0
        self.epoch_elapsed = 0.0
        self.history = TrainingHistory(
            n_training=len(self.X),
            n_evaluation=0 if self.evaluation_data is None else len(self.evaluation_data[0]),
        )

    # ------------------------------------------------------------------ checkpoint
    def state(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (weights are saved with the network)."""
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "perm": None if self.perm is None else self.perm.copy(),
            "eta": self.eta,
            "best_accuracy": self.best_accuracy,
            "epochs_without_improvement": self.epochs_without_improvement,
            "epoch_elapsed": self.epoch_elapsed,
            "rng_state": self.rng.bit_generator.state,
            "net_rng_state": self.net.rng.bit_generator.state,
            "velocities": None if self.net.velocities is None else [v.copy() for v in self.net.velocities],
            "history": self.history.to_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from ``state()``; the network's weights must be those saved with it."""
        self.epoch = int(state["epoch"])
        self.batch = int(state["batch"])
        self.perm = None if state["perm"] is None else np.asarray(state["perm"], dtype=np.int64)
        self.eta = float(state["eta"])
        self.best_accuracy = int(state["best_accuracy"])
        self.epochs_without_improvement = int(state["epochs_without_improvement"])
        self.epoch_elapsed = float(state.get("epoch_elapsed", 0.0))
        self.rng.bit_generator.state = state["rng_state"]
        if state.get("net_rng_state") is not None:
            self.net.rng.bit_generator.state = state["net_rng_state"]
        vel = state.get("velocities")
        self.net.velocities = None if vel is None else [np.array(v, dtype=self.net.dtype) for v in vel]
        self.history = TrainingHistory.from_dict(state["history"])

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainingHistory:
        """Train from the current position to the end; return the history.

        BLAS runs on ``blas_threads`` threads meanwhile (default 1). NumPy and SciPy each
        bring their own OpenBLAS, and the fused step calls both every mini-batch; with two
        thread pools spinning in turn, a mini-batch-100 epoch on 2 cores measured 63x
        slower than on one thread (benchmarks/RESULTS.md). At the book's sizes one thread
        loses nothing.
        """
        if self.blas_threads is None:
            return self._run()
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            return self._run()

    def _run(self) -> TrainingHistory:
        h = self.history
        h.stopped = None
        n = len(self.X)
        m = self.mini_batch_size
        n_batches = -(-n // m)
        while self.epoch < self.epochs:
            t0 = time.perf_counter()
            if self.perm is None:  # the start of an epoch
                if self.monitor["gradient_norms"]:
                    k = min(self.gradient_norm_examples, n)
                    h.gradient_norms.append(self.net.gradient_norms(self.X[:k], self.Y[:k]))
                self.perm = self.rng.permutation(n)  # reshuffle every epoch (the order, not a copy)
                self.batch = 0
            fused = _FusedSGD(self.net, self.eta, self.lmbda, n) if self.fast and self._fast_ok() else None
            if fused is not None:
                fused.load()
            try:
                if fused is not None:
                    self.batch, interrupted = fused.run_batches(self.X, self.Y, self.perm, self.batch, m,
                                                                self.should_stop)
                else:
                    interrupted = self._reference_batches(n_batches)
                if interrupted:
                    h.stopped = "interrupted"
            finally:
                if fused is not None:
                    fused.store()
                self.epoch_elapsed += time.perf_counter() - t0
            if h.stopped:
                return h
            self._end_epoch()
            if h.stopped:
                return h
            if self.should_stop is not None and self.epoch < self.epochs and self.should_stop():
                h.stopped = "interrupted"
                return h
        return h

    def _reference_batches(self, n_batches: int) -> bool:
        """Steps through the rest of the epoch with ``Network.update_mini_batch``; True if interrupted."""
        n, m = len(self.X), self.mini_batch_size
        while self.batch < n_batches:
            lo = self.batch * m
            idx = self.perm[lo : lo + m]
            xb, yb = self.X[idx], self.Y[idx]
            self.net.update_mini_batch(xb, yb, self.eta, self.lmbda, n, regularization=self.regularization,
                                       momentum=self.momentum, masks=self.net.dropout_masks(len(xb), self.rng))
            self.batch += 1
            if self.should_stop is not None and self.batch < n_batches and self.should_stop():
                return True
        return False

    def _end_epoch(self) -> None:
        net, h = self.net, self.history
        self._check_finite()
        n = len(self.X)
        h.eta.append(self.eta)
        h.epoch_seconds.append(self.epoch_elapsed)
        parts = [f"epoch {self.epoch}"]
        for which, data in (("training", (self.X, self.Y)), ("evaluation", self.evaluation_data)):
            want_cost, want_acc = self.monitor[f"{which}_cost"], self.monitor[f"{which}_accuracy"]
            if data is None or not (want_cost or want_acc):
                continue
            X, Y = data
            if want_cost:  # one forward pass gives both; eq. (85)'s n is the training-set size
                cost, correct = net.evaluate(X, Y, self.lmbda, n, self.regularization)
                getattr(h, f"{which}_cost").append(cost)
                parts.append(f"{which} cost {cost:.4f}")
            else:
                correct = net.accuracy(X, Y)
            if want_acc:
                getattr(h, f"{which}_accuracy").append(correct)
                parts.append(f"{which} accuracy {correct} / {len(X)}")
        parts.append(f"{self.epoch_elapsed:.2f} s")
        log.info(", ".join(parts))
        if not any(w.startswith("stuck at chance") for w in h.warnings):
            warning = self._stuck_at_chance()
            if warning:
                h.warnings.append(warning)
                log.warning("%s", warning)
        self.epoch += 1
        self.perm = None
        self.batch = 0
        self.epoch_elapsed = 0.0
        if h.evaluation_accuracy and (self.early_stopping or self.eta_schedule):
            self._apply_stopping_rules(h.evaluation_accuracy[-1])
        if self.on_epoch is not None:
            self.on_epoch(self.epoch - 1, h, net)

    def _stuck_at_chance(self) -> str | None:
        """The warning for a network stuck at chance with saturated outputs, or None.

        Divergence (NaN, a cost that explodes) is an error; this is its quiet twin, as in
        chapter 1's eta = 100 run with the quadratic cost: every output neuron saturates
        (sigma'(z) ~ 0, so BP1 gives delta^L ~ 0 and learning stops), the cost sits still
        and the accuracy stays at chance. Checked after each epoch on the accuracy
        monitored (evaluation, else training): within ``CHANCE_MARGIN`` of always
        answering the most common label, while more than ``SATURATED_SHARE`` of the outputs
        of up to ``COST_SAMPLE_ROWS`` training examples are within ``SATURATED`` of 0 or 1
        (for softmax: rows whose largest output is above 1 - ``SATURATED``).
        """
        h = self.history
        if h.evaluation_accuracy:
            correct, labels = h.evaluation_accuracy[-1], self.evaluation_data[1]
        elif h.training_accuracy:
            correct, labels = h.training_accuracy[-1], self.y
        else:
            return None
        labels = np.asarray(labels)
        labels = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
        chance = np.bincount(labels.astype(np.int64)).max() / len(labels)
        if correct / len(labels) > chance + CHANCE_MARGIN:
            return None
        A = self.net.feedforward(self.X[:COST_SAMPLE_ROWS])
        if self.net.output == "softmax":
            share = float(np.mean(A.max(axis=1) > 1 - SATURATED))
        else:
            share = float(np.mean((A < SATURATED) | (A > 1 - SATURATED)))
        if share <= SATURATED_SHARE:
            return None
        from nndl.costs import cost_name

        slowdown = ("; the quadratic cost learns slowest exactly there (chapter 3's learning slowdown: "
                    "the cross-entropy cost does not)") if self.net.cost is QuadraticCost else ""
        return (f"stuck at chance in epoch {self.epoch}: accuracy {100 * correct / len(labels):.1f} %, "
                f"no better than always answering the most common digit ({100 * chance:.1f} %), and "
                f"{100 * share:.0f} % of the output activations are saturated (within {SATURATED:g} of 0 or 1). "
                f"Saturated sigmoid neurons have sigma'(z) ~ 0, so the {cost_name(self.net.cost)} gradients "
                f"vanish and learning stops. Likely cause: eta = {self.eta:g} is far too large (try a "
                f"smaller eta){slowdown}")

    def _apply_stopping_rules(self, accuracy: int) -> None:
        if accuracy > self.best_accuracy:
            self.best_accuracy = accuracy
            self.epochs_without_improvement = 0
            return
        self.epochs_without_improvement += 1
        if self.early_stopping and self.epochs_without_improvement >= self.early_stopping:
            log.info("early stopping: no improvement in %s", _words.count(self.early_stopping, "epoch"))
            self.history.stopped = "early-stopping"
        elif self.eta_schedule and self.epochs_without_improvement >= self.eta_schedule:
            self.eta /= 2  # chapter 3's schedule: halve eta ...
            self.epochs_without_improvement = 0
            log.info("eta schedule: no improvement in %s, eta -> %g", _words.count(self.eta_schedule, "epoch"), self.eta)
            if self.eta < self.eta0 * ETA_SCHEDULE_FLOOR * (1 + 1e-9):  # ... stop at eta0 / 128
                self.history.stopped = "eta-schedule"

    def _check_finite(self) -> None:
        for l, W in enumerate(self.net.weights):
            if not np.isfinite(np.sum(W)) or not np.all(np.isfinite(self.net.biases[l])):
                raise DivergenceError(
                    f"training diverged in epoch {self.epoch} (weights became NaN or infinite); "
                    f"try a smaller eta than {self.eta:g}")

    # ------------------------------------------------------------------ fast step

    def _fast_ok(self) -> bool:
        net = self.net
        shrink = 1.0 - self.eta * self.lmbda / len(self.X)  # eq. (93); see FAST_MIN_SHRINK
        return (self.regularization == "l2" and not self.momentum and not net.dropout
                and abs(shrink) >= FAST_MIN_SHRINK
                and net.cost in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)
                and net.output == net.cost.default_output
                and net.hidden == "sigmoid")


CHUNK_BYTES = 512 * 1024  # rows of X gathered at a time: about half an L2 cache
class _FusedSGD:
    """The fast step: eq. (93)/(94) with BP1-BP4 for sigmoid hidden layers, in few NumPy/BLAS calls.

    Memory layout (private; ``load``/``store`` copy to and from ``net.weights``/``net.biases``):

    - Layer 0 keeps W (n_1, n_0) and b apart, because its input is the training set itself.
      Every later layer packs P = [W | b], shape (n_l, n_{l-1} + 1), and the hidden
      activation buffers carry a last column of ones, so z = [a, 1] @ P^T is one product
      and BP3 + eq. (94) ride along in the BP4 + eq. (93) gemm.
    - Every layer that feeds a hidden layer has one *spare row* of zeros (W, b and P are
      n_l + 1 rows high). BP2 can then multiply by the whole packed P of the next layer:
      the delta it gives has n_l + 1 columns, and the last one is exactly 0 because the
      ones column has sigma'(z) = a (1 - a) = 1 (1 - 1) = 0. So delta is a contiguous
      array for the next gemm, and the spare row's update (0 times anything) keeps it zero.
    - Every product is a SciPy BLAS call on transposed (Fortran-ordered) views of C-ordered
      buffers, with positional arguments (f2py parses keywords slowly, ~0.5 us a call;
      np.matmul costs ~0.7 us more than gemm at these sizes: benchmarks/PROFILE.md).

    The epoch's order is gathered a chunk of rows at a time (``CHUNK_BYTES``) into small
    reused buffers: the same mini-batches as a shuffled copy of the training set, read
    from cache, without that copy (157 MB for MNIST in float32).
    """

    def __init__(self, net: Network, eta: float, lmbda: float, n: int) -> None:
        if abs(1.0 - eta * lmbda / n) < FAST_MIN_SHRINK:
            raise ValueError(f"the fast step needs |1 - eta lmbda / n| >= {FAST_MIN_SHRINK:g} (FAST_MIN_SHRINK); "
                             f"got eta {eta:g}, lmbda {lmbda:g}, n {n}: use Network.update_mini_batch")
        self.net = net
        self.eta, self.lmbda, self.n = eta, lmbda, n
        dt = net.dtype
        sizes = net.sizes
        L = len(sizes) - 1
        # rows of layer l (0-based): n_{l+1}, plus the spare row when a hidden layer follows
        self.rows = [sizes[l + 1] + (1 if l < L - 1 else 0) for l in range(L)]
        self.W0 = np.zeros((self.rows[0], sizes[0]), dtype=dt)
        self.b0 = np.zeros(self.rows[0], dtype=dt)
        self.P = [np.zeros((self.rows[l], sizes[l] + 1), dtype=dt) for l in range(1, L)]
        self.gemm, self.gemv, self.ger = _blas.get_blas_funcs(("gemm", "gemv", "ger"), dtype=dt)
        self.quadratic = net.cost is QuadraticCost
        self.softmax = net.output == "softmax"
        self._buffers: dict[int, tuple] = {}
        self._chunks: dict[tuple[int, int], tuple] = {}

    def load(self) -> None:
        net = self.net
        k = net.sizes[1]
        self.W0[:k] = net.weights[0]
        self.b0[:k] = net.biases[0]
        for P, W, b in zip(self.P, net.weights[1:], net.biases[1:]):
            P[: len(W), :-1] = W
            P[: len(W), -1] = b

    def store(self) -> None:
        net = self.net
        k = net.sizes[1]
        net.weights[0][...] = self.W0[:k]
        net.biases[0][...] = self.b0[:k]
        for P, W, b in zip(self.P, net.weights[1:], net.biases[1:]):
            W[...] = P[: len(W), :-1]
            b[...] = P[: len(W), -1]

    def buffers(self, m: int) -> tuple:
        """Work arrays for mini-batches of ``m``: z, [a, 1], a, output a, delta, scratch, ones, sigmoids."""
        bufs = self._buffers.get(m)
        if bufs is None:
            dt = self.net.dtype
            sizes = self.net.sizes
            Zs = [np.empty((m, r), dtype=dt) for r in self.rows]  # z^l, with the spare column   (m, rows_l)
            Zv = [Z[:, :k] for Z, k in zip(Zs, sizes[1:])]  # z^l without it                       (m, n_l)
            H = [np.ones((m, k + 1), dtype=dt) for k in sizes[1:-1]]  # hidden [a^l, 1]          (m, n_l + 1)
            A_out = np.empty((m, sizes[-1]), dtype=dt)
            Ds = [np.empty((m, r), dtype=dt) for r in self.rows]  # delta^l, spare column = 0     (m, rows_l)
            T = [np.empty((m, r), dtype=dt) for r in self.rows]
            ones = np.ones(m, dtype=dt)
            sig = [sigmoid_for_size(m * k) for k in sizes[1:]]
            bufs = self._buffers[m] = (Zs, Zv, H, [h[:, :-1] for h in H], A_out, Ds, T, ones, sig)
        return bufs

    def _chunk(self, rows: int, m: int) -> tuple:
        """Gather buffers for ``rows`` rows and their mini-batch views ``(x, x^T, y)``."""
        chunk = self._chunks.get((rows, m))
        if chunk is None:
            dt = self.net.dtype
            Xc = np.empty((rows, self.net.sizes[0]), dtype=dt)
            Yc = np.empty((rows, self.net.sizes[-1]), dtype=dt)
            views = [(Xc[lo : lo + m], Xc[lo : lo + m].T, Yc[lo : lo + m]) for lo in range(0, rows, m)]
            chunk = self._chunks[rows, m] = (Xc, Yc, views)
        return chunk

    def run_batches(self, X: np.ndarray, Y: np.ndarray, perm: np.ndarray, first: int, m: int,
                    should_stop: Callable[[], bool] | None) -> tuple[int, bool]:
        """Steps on mini-batches ``first, first+1, ...`` of the order ``perm``; returns (next batch, interrupted).

        Row i of mini-batch k is ``X[perm[k*m + i]]``, as in a shuffled copy of X.
        """
        n = X.shape[0]
        n_batches = -(-n // m)
        n_full = n // m
        per_chunk = max(1, CHUNK_BYTES // (X.shape[1] * X.itemsize * m))  # whole mini-batches per chunk
        step = self._one_hidden_step(m) if self._straight_line() else self.step_views
        take = np.take
        k = first
        while k < n_batches:
            count = min(per_chunk, n_full - k) if k < n_full else 1
            rows = count * m if k < n_full else n - k * m
            Xc, Yc, views = self._chunk(rows, m if k < n_full else rows)
            idx = perm[k * m : k * m + rows]
            take(X, idx, 0, Xc, "clip")  # this chunk of the epoch's order
            take(Y, idx, 0, Yc, "clip")
            for view in views:
                (step if k < n_full else self.step_views)(*view)
                k += 1
                if should_stop is not None and k < n_batches and should_stop():
                    return k, True
        return k, False

    def _straight_line(self) -> bool:
        return len(self.P) == 1 and not self.softmax and not self.quadratic

    def _one_hidden_step(self, m: int):
        """The step for the book's one-hidden-layer nets, straight-line with everything bound once.

        At mini-batch 10 the Python overhead of a loop over layers costs as much as the
        small products; this closure is 13 calls and nothing else. Shapes for [n_0, n_1, n_2].
        """
        Zs, Zv, H, Hv, A_out, Ds, T, ones, sig = self.buffers(m)
        Z0T, Z1T, Z0v, Z1 = Zs[0].T, Zs[1].T, Zv[0], Zs[1]
        h, hv, D, Dp, T0 = H[0], Hv[0], Ds[1], Ds[0], T[0]
        sigma0, sigma1 = sig
        W0T, b0, P = self.W0.T, self.b0, self.P[0]
        PT, hT, DT, DpT, Pb = P.T, h.T, D.T, Dp.T, P[:, -1]
        gemm, gemv, ger, multiply, subtract = self.gemm, self.gemv, self.ger, np.multiply, np.subtract
        alpha = -self.eta / m  # eq. (93)'s -eta/m, applied inside the gemms
        shrink = 1.0 - self.eta * self.lmbda / self.n  # eq. (93)'s 1 - eta lmbda / n

        # Argument order. gemm: alpha, a, b, beta, c, trans_a, trans_b, overwrite_c (c <- alpha op(a) op(b) + beta c)
        # ger: alpha, x, y, incx, incy, a, overwrite_x, overwrite_y, overwrite_a (a <- alpha x y^T + a)
        # gemv: alpha, a, x, beta, y, offx, incx, offy, incy, trans, overwrite_y (y <- alpha a x + beta y)
        def step(x, xT, y):
            gemm(1.0, W0T, xT, 0.0, Z0T, 1, 0, 1)  # eq. (25), hidden layer: z^T = w x^T             (n_1 + 1, m)
            ger(1.0, b0, ones, 1, 1, Z0T, 1, 1, 1)  # ... + b 1^T
            sigma0(Z0v, hv)  # a = sigma(z)                                                         (m, n_1)
            gemm(1.0, PT, hT, 0.0, Z1T, 1, 0, 1)  # eq. (25), output layer: z^T = [W | b] [a, 1]^T   (n_2, m)
            sigma1(Z1, A_out)
            subtract(A_out, y, D)  # BP1, eqs. (66)/(99): delta^L = a^L - y                             (m, n_2)
            gemm(1.0, PT, DT, 0.0, DpT, 0, 0, 1)  # BP2: [W | b]^T delta^L, with the old weights      (n_1 + 1, m)
            multiply(Dp, h, Dp)  # (.) sigma'(z) = a (1 - a), as D a - D a a; 0 in the ones column  (m, n_1 + 1)
            multiply(Dp, h, T0)
            subtract(Dp, T0, Dp)
            if shrink != 1.0:
                np.divide(Pb, shrink, Pb)  # eq. (94): the gemm's beta must not shrink the biases
            gemm(alpha, hT, DT, shrink, PT, 0, 1, 1)  # BP3 + BP4 + eqs. (93)/(94): P^T <- shrink P^T - (eta/m) [a, 1]^T delta
            gemm(alpha, xT, DpT, shrink, W0T, 0, 1, 1)  # BP4 + eq. (93), hidden layer                (n_0, n_1 + 1)
            gemv(alpha, DpT, ones, 1.0, b0, 0, 1, 0, 1, 0, 1)  # BP3 + eq. (94): b <- b - (eta/m) delta^T 1

        return step

    def step_views(self, x: np.ndarray, xT: np.ndarray, Y: np.ndarray) -> None:
        self.step(x, Y)

    def step(self, x: np.ndarray, Y: np.ndarray) -> None:
        """One mini-batch, any depth: x (m, n_0) C-ordered, Y one-hot (m, n_L). Same numbers as update_mini_batch."""
        m = x.shape[0]
        Zs, Zv, H, Hv, A_out, Ds, T, ones, sig = self.buffers(m)
        P, gemm = self.P, self.gemm
        L = len(Zs)
        # ---- forward, eq. (25): z^l = a^{l-1} w^T + b, a^l = sigma(z^l)
        gemm(1.0, self.W0.T, x.T, 0.0, Zs[0].T, 1, 0, 1)  # z^T = w x^T                          (rows_1, m)
        self.ger(1.0, self.b0, ones, 1, 1, Zs[0].T, 1, 1, 1)  # ... + b 1^T
        for l in range(1, L + 1):
            a = Hv[l - 1] if l < L else A_out
            if l < L or not self.softmax:
                sig[l - 1](Zv[l - 1], a)  # a^l = sigma(z^l)
            else:
                Z = Zs[l - 1]
                Z -= Z.max(axis=1, keepdims=True)  # softmax, eq. (78), with the max shift
                np.exp(Z, out=a)
                a /= a.sum(axis=1, keepdims=True)
            if l < L:
                gemm(1.0, P[l - 1].T, H[l - 1].T, 0.0, Zs[l].T, 1, 0, 1)  # z^T = [W | b] [a, 1]^T    (rows_{l+1}, m)
        # ---- backward
        D = Ds[L - 1]
        np.subtract(A_out, Y, out=D)  # BP1 with eq. (66)/(84): delta^L = a^L - y                    (m, n_L)
        if self.quadratic:  # BP1 with eq. (30): (a - y) (.) sigma'(z^L), sigma' = a(1 - a)
            np.multiply(D, A_out, out=D)
            np.multiply(D, A_out, out=T[L - 1])
            np.subtract(D, T[L - 1], out=D)
        alpha = -self.eta / m  # eq. (93)'s -eta/m, applied inside the gemms
        shrink = 1.0 - self.eta * self.lmbda / self.n  # eq. (93)'s 1 - eta lmbda / n
        for l in range(L - 1, 0, -1):
            Dp, h = Ds[l - 1], H[l - 1]
            gemm(1.0, P[l - 1].T, D.T, 0.0, Dp.T, 0, 0, 1)  # BP2: [W | b]^T delta^{l+1}, old weights (n_l + 1, m)
            np.multiply(Dp, h, out=Dp)  # (.) sigma'(z^l) = a (1 - a), as D a - D a a; ones column -> 0
            np.multiply(Dp, h, out=T[l - 1])
            np.subtract(Dp, T[l - 1], out=Dp)
            if shrink != 1.0:
                P[l - 1][:, -1] /= shrink  # eq. (94): the gemm's beta must not shrink the biases
            # BP4 + eq. (93), and BP3 + eq. (94) through the ones column, in one gemm on the
            # transposed (Fortran-ordered) views: P^T <- shrink P^T - (eta/m) [a, 1]^T delta
            gemm(alpha, h.T, D.T, shrink, P[l - 1].T, 0, 1, 1)
            D = Dp
        gemm(alpha, x.T, D.T, shrink, self.W0.T, 0, 1, 1)  # BP4 + eq. (93)
        self.gemv(alpha, D.T, ones, 1.0, self.b0, 0, 1, 0, 1, 0, 1)  # BP3 + eq. (94): b - (eta/m) sum delta


def sgd(net: Network, training_data, epochs: int, mini_batch_size: int, eta: float, lmbda: float = 0.0,
        evaluation_data=None, **options) -> TrainingHistory:
    """Train ``net`` by mini-batch SGD with eq. (93)/(94); return its ``TrainingHistory``.

    Parameters
    ----------
    training_data, evaluation_data : pairs (X, y), or the book's lists of (x, y) examples
        X of shape (n, n_in); y integer labels (n,) or one-hot targets (n, n_out). Or, as
        network2 takes them, a list of examples (x, y): x of shape (n_in,) or (n_in, 1),
        y a label or a target vector. The two are told apart by structure (``_as_pair``),
        so a list of exactly two examples is not mistaken for (X, y); malformed data
        raise ``ValueError`` saying what is wrong.
    epochs, mini_batch_size, eta, lmbda
        As in network2; eq. (93)'s n is ``len(training_data)``.
    regularization : {"l2", "l1"}
        L2 (eq. 93) or L1 (eq. 97, sgn(0) = 0).
    momentum : float
        Momentum coefficient mu of eqs. (107)-(108); 0 is plain SGD.
    monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy : bool
        network2's four histories, recorded at the end of each epoch.
    monitor_gradient_norms : bool
        Record ||mean dC/db|| per hidden layer at the start of each epoch, over the first
        ``gradient_norm_examples`` training examples (chapter 5).
    early_stopping : int, optional
        Stop when evaluation accuracy has not improved for this many epochs.
    eta_schedule : int, optional
        Halve eta when evaluation accuracy has not improved for this many epochs; stop
        once eta has fallen to eta/128.
    rng : numpy.random.Generator, optional
        Shuffles and dropout masks; default ``net.rng``.
    on_epoch : callable(epoch, history, net), optional
        Called after each epoch's monitoring.
    should_stop : callable() -> bool, optional
        Checked after every mini-batch; True ends the run early as "interrupted".
    fast : bool
        Use the fused fast step where it applies (default); False forces the reference step.
    blas_threads : int or None
        BLAS threads while training (default 1: see ``Trainer.run``); None leaves them alone.
    """
    return Trainer(net, training_data, epochs, mini_batch_size, eta, lmbda, evaluation_data, **options).run()
