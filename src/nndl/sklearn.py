"""The book's network as a scikit-learn classifier: ``NetworkClassifier``.

``NetworkClassifier(hidden_layer_sizes=(30,), eta=0.5, ...)`` is chapter 3's network
(``nndl.Network`` trained by ``nndl.training.Trainer``, eqs. 93/94) behind scikit-learn's
estimator interface, so that it works in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and the rest. Its constructor parameters are the book's
hyper-parameters with the book's names (``eta``, ``lmbda``, ``mini_batch_size``).

Labels may be of any type (integers, strings): ``classes_`` holds them sorted, and the
network's output neuron j stands for ``classes_[j]`` (the mapping of scikit-learn's
``LabelEncoder``). The output layer has one neuron per class, two for a binary problem.

Reproducibility: with an integer ``random_state`` the estimator draws its initial
weights and its shuffles exactly as ``nndl train --seed`` does (one
``numpy.random.SeedSequence(seed)`` spawned into independent generators), so
``NetworkClassifier(random_state=s)`` fitted on the same training data with the same
settings ends with the same weights, bit for bit, as ``nndl train --seed s``
(tests/test_sklearn.py checks it).

scikit-learn is imported by this module (it is a dependency of nndl); import it as
``from nndl.sklearn import NetworkClassifier``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nndl.data import Dataset
from nndl.network import Network
from nndl.runs import check_divergence, initial_cost, seed_generators
from nndl.training import Trainer, TrainingHistory

__all__ = ["NetworkClassifier"]


def _seed_of(random_state) -> int:
    """An integer seed from scikit-learn's ``random_state`` convention (None, int, RandomState)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int or a numpy RandomState; got {random_state!r}")


class NetworkClassifier(ClassifierMixin, BaseEstimator):
    """Chapter 3's sigmoid network, trained by mini-batch SGD, as a scikit-learn classifier.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (30,)
        Neurons of each hidden layer; the input and output layers come from the data
        (``n_features_in_`` inputs, one output neuron per class).
    cost : {"cross-entropy", "quadratic", "log-likelihood"}, default "cross-entropy"
        Eq. (63), eq. (6), or eq. (80) with a softmax output layer.
    init : {"default", "large"}, default "default"
        Weights N(0, 1/n_in) (network2's default) or N(0, 1) (chapter 1).
    hidden : {"sigmoid", "tanh", "relu"}, default "sigmoid"
        The hidden neurons.
    eta : float, default 0.5
        Learning rate, eq. (93).
    lmbda : float, default 0.0
        Regularization parameter lambda of eq. (93) (L2) or eq. (97) (L1); n is the size
        of the training set (after the early-stopping hold-out, if any).
    regularization : {"l2", "l1"}, default "l2"
    mini_batch_size : int, default 10
    epochs : int, default 30
        Epochs of ``fit`` (``partial_fit`` trains one epoch per call).
    momentum : float in [0, 1), default 0.0
        Momentum coefficient mu, eqs. (107)-(108).
    dropout : float in [0, 1), default 0.0
        Probability of dropping each hidden neuron while training (chapter 3).
    early_stopping : int or None, default None
        Stop when the accuracy on a hold-out of ``validation_fraction`` of the training
        data has not improved for this many epochs (chapter 3's "no-improvement-in-n").
    eta_schedule : int or None, default None
        Halve eta when the hold-out accuracy has not improved for this many epochs; stop
        at eta/128 (chapter 3).
    validation_fraction : float in (0, 1), default 0.1
        Share of the training data held out when ``early_stopping`` or ``eta_schedule``
        is set; unused otherwise.
    dtype : {"float64", "float32"}, default "float64"
        The precision the network computes in.
    random_state : int, numpy RandomState or None, default None
        Seed of the initial weights, the shuffles, dropout and the hold-out; an int gives
        the same numbers as ``nndl train --seed``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; output neuron j stands for ``classes_[j]``.
    n_features_in_ : int
    network_ : nndl.Network
        The trained network, sizes ``[n_features_in_, *hidden_layer_sizes, n_classes]``.
    history_ : nndl.TrainingHistory
        Per-epoch histories (counts of correct examples, as network2 returns them).
    n_iter_ : int
        Epochs trained (fewer than ``epochs`` if a stopping rule fired).
    loss_curve_ : list of float
        Training cost after each epoch, eq. (63)/(85) with the regularization term.
    validation_scores_ : list of float or None
        Hold-out accuracy (a fraction) after each epoch, when there is a hold-out.
    best_validation_score_ : float or None

    Raises
    ------
    ValueError
        Bad hyper-parameters (checked by ``fit`` and ``partial_fit``, as scikit-learn's
        estimators do, naming the parameter: e.g. ``epochs=2.5``, ``early_stopping=0``),
        fewer than two classes, continuous targets, NaN or infinite inputs, or input of
        the wrong width.
    nndl.errors.DivergenceError
        Training diverged, by ``nndl train``'s rule (``nndl.runs.check_divergence``): after
        an epoch the weights or the training cost are NaN or infinite, or the training cost
        is above ``DIVERGENCE_FACTOR`` (10) times the untrained network's. The fit fails (an
        exception, not a ``ConvergenceWarning``): a diverged network is no model, and
        ``GridSearchCV`` records such a fit as failed (``error_score``) and goes on. The
        message is ``nndl train``'s ("training diverged in epoch N ..."; epochs from 0).

    Notes
    -----
    ``predict_proba`` of a sigmoid output layer (the book's cross-entropy and quadratic
    nets) is the output activations divided by their sum over the classes: the book's
    outputs are independent sigmoids, not a distribution, and this is the usual way to
    make them one (its argmax is the network's answer). With ``cost="log-likelihood"``
    the softmax layer gives probabilities directly (eq. 78).
    """

    def __init__(
        self,
        hidden_layer_sizes=(30,),
        *,
        cost="cross-entropy",
        init="default",
        hidden="sigmoid",
        eta=0.5,
        lmbda=0.0,
        regularization="l2",
        mini_batch_size=10,
        epochs=30,
        momentum=0.0,
        dropout=0.0,
        early_stopping=None,
        eta_schedule=None,
        validation_fraction=0.1,
        dtype="float64",
        random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.cost = cost
        self.init = init
        self.hidden = hidden
        self.eta = eta
        self.lmbda = lmbda
        self.regularization = regularization
        self.mini_batch_size = mini_batch_size
        self.epochs = epochs
        self.momentum = momentum
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.eta_schedule = eta_schedule
        self.validation_fraction = validation_fraction
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        """``ValueError`` naming the first bad hyper-parameter (scikit-learn checks them in ``fit``)."""
        from nndl.activations import HIDDEN_ACTIVATIONS
        from nndl.costs import COSTS, cost_name, get_cost
        from nndl.network import INITS, REGULARIZATIONS

        def integer(v) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def real(v) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)

        rules = [
            ("eta", real(self.eta) and self.eta > 0, "a finite number > 0"),
            ("lmbda", real(self.lmbda) and self.lmbda >= 0, "a finite number >= 0"),
            ("mini_batch_size", integer(self.mini_batch_size) and self.mini_batch_size >= 1, "an int >= 1"),
            ("epochs", integer(self.epochs) and self.epochs >= 1, "an int >= 1"),
            ("momentum", real(self.momentum) and 0 <= self.momentum < 1, "a number in [0, 1)"),
            ("dropout", real(self.dropout) and 0 <= self.dropout < 1, "a number in [0, 1)"),
            ("early_stopping", self.early_stopping is None
             or (integer(self.early_stopping) and self.early_stopping >= 1), "None or an int >= 1"),
            ("eta_schedule", self.eta_schedule is None
             or (integer(self.eta_schedule) and self.eta_schedule >= 1), "None or an int >= 1"),
            ("validation_fraction", real(self.validation_fraction) and 0 < self.validation_fraction < 1,
             "a number in (0, 1)"),
            ("init", self.init in INITS, f"one of {', '.join(map(repr, INITS))}"),
            ("hidden", isinstance(self.hidden, str) and self.hidden in HIDDEN_ACTIVATIONS, f"one of {', '.join(map(repr, HIDDEN_ACTIVATIONS))}"),
            ("regularization", self.regularization in REGULARIZATIONS,
             f"one of {', '.join(map(repr, REGULARIZATIONS))}"),
        ]
        for name, ok, wanted in rules:
            if not ok:
                raise ValueError(f"{name} must be {wanted}; got {getattr(self, name)!r}")
        try:
            cost_name(get_cost(self.cost))
        except (ValueError, TypeError):
            raise ValueError(f"cost must be one of {', '.join(map(repr, COSTS))}; got {self.cost!r}") from None
        self._hidden_sizes()
        self._np_dtype()

    def _np_dtype(self) -> np.dtype:
        if self.dtype not in ("float64", "float32", np.float64, np.float32):
            raise ValueError(f"dtype must be 'float64' or 'float32'; got {self.dtype!r}")
        return np.dtype(self.dtype)

    def _hidden_sizes(self) -> list[int]:
        sizes = [self.hidden_layer_sizes] if np.isscalar(self.hidden_layer_sizes) else self.hidden_layer_sizes
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = [None]
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be ints >= 1; got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _start(self, n_features: int, classes: np.ndarray) -> None:
        """A new network and generators for ``classes`` (which must be >= 2)."""
        if len(classes) < 2:
            raise ValueError(
                f"NetworkClassifier needs at least 2 classes to train; got 1 class ({classes[0]!r})")
        self.classes_ = classes
        generators = seed_generators(_seed_of(self.random_state))
        self._train_rng, self._holdout_rng = generators[1], generators[2]
        self.network_ = Network([n_features, *self._hidden_sizes(), len(classes)], self.cost, init=self.init,
                                hidden=self.hidden, dtype=self._np_dtype(), dropout=self.dropout,
                                rng=generators[0])
        self.history_ = TrainingHistory()
        self._initial_cost = None  # the untrained network's, for the divergence rule
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = None
        self.best_validation_score_ = None

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Labels -> indices into ``classes_`` (ValueError for a label not in it)."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.minimum(idx, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(f"labels not in classes_: {np.unique(y[unknown])[:5].tolist()}")
        return idx.astype(np.int64)

    def _train(self, X: np.ndarray, y_idx: np.ndarray, epochs: int, holdout: bool) -> None:
        evaluation = None
        if holdout and (self.early_stopping or self.eta_schedule):
            if not 0.0 < self.validation_fraction < 1.0:
                raise ValueError(f"validation_fraction must be in (0, 1); got {self.validation_fraction}")
            n_val = int(round(self.validation_fraction * len(y_idx)))
            if n_val < 1 or n_val >= len(y_idx):
                raise ValueError(f"validation_fraction {self.validation_fraction} of {len(y_idx)} samples "
                                 "leaves no hold-out or no training data")
            order = self._holdout_rng.permutation(len(y_idx))
            evaluation = (X[order[:n_val]], y_idx[order[:n_val]])
            X, y_idx = X[order[n_val:]], y_idx[order[n_val:]]
        if self._initial_cost is None:  # as nndl train: on the first training examples (lmbda, regularization: ours)
            self._initial_cost = initial_cost(self.network_, Dataset(X, y_idx), self)
        done = self.n_iter_  # epochs numbered from 0 over every call, as nndl train numbers them
        trainer = Trainer(self.network_, (X, y_idx), epochs, self.mini_batch_size, self.eta, self.lmbda,
                          evaluation, regularization=self.regularization, momentum=self.momentum,
                          monitor_training_cost=True, monitor_evaluation_accuracy=evaluation is not None,
                          monitor_evaluation_cost=evaluation is not None,
                          early_stopping=self.early_stopping if evaluation is not None else None,
                          eta_schedule=self.eta_schedule if evaluation is not None else None,
                          rng=self._train_rng,
                          on_epoch=lambda e, h, net: check_divergence(done + e, h, self._initial_cost, self.eta))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised
            h = trainer.run()
        self.n_iter_ += h.epochs
        for name in ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy",
                     "epoch_seconds", "eta"):
            getattr(self.history_, name).extend(getattr(h, name))
        self.history_.n_training, self.history_.n_evaluation, self.history_.stopped = (
            h.n_training, h.n_evaluation, h.stopped)
        self.loss_curve_ = list(self.history_.training_cost)
        if evaluation is not None:
            self.validation_scores_ = [c / h.n_evaluation for c in self.history_.evaluation_accuracy]
            self.best_validation_score_ = max(self.validation_scores_)

    # ------------------------------------------------------------------ estimator API
    def fit(self, X, y):
        """Train a new network for ``epochs`` epochs (fewer if a stopping rule fires).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), labels of any type (at least two classes)

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=self._np_dtype(), reset=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        self._start(X.shape[1], classes)
        self._train(X, y_idx.astype(np.int64), self.epochs, holdout=True)
        return self

    def partial_fit(self, X, y, classes=None):
        """Train one epoch over ``(X, y)``, continuing from the current network.

        The first call needs ``classes`` (every label that will ever be seen); later calls
        continue the same network, generators and momentum. ``fit(epochs=k)`` equals k
        calls of ``partial_fit`` on the same data with the same ``random_state`` (no
        hold-out: ``early_stopping`` and ``eta_schedule`` apply to ``fit`` only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), required on the first call

        Returns
        -------
        self
        """
        self._check_params()
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, dtype=self._np_dtype(), reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first call of partial_fit needs classes= (every label to expect)")
            self._start(X.shape[1], np.unique(np.asarray(classes)))
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the first call's classes_ {self.classes_!r}")
        self._train(X, self._encode(y), 1, holdout=False)
        return self

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self.network_.dtype, reset=False)
        return self.network_.feedforward(X)  # (n_samples, n_classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``.

        Sigmoid outputs are normalised to sum to 1 (see Notes of the class); softmax
        outputs are returned as they are. A row whose outputs are all 0 gives 1/n_classes.
        """
        A = self._outputs(X).astype(np.float64)
        total = A.sum(axis=1, keepdims=True)
        uniform = total[:, 0] <= 0
        A[uniform] = 1.0
        total[uniform] = A.shape[1]
        return A / total

    def predict(self, X):
        """The label of the most active output neuron, shape (n_samples,)."""
        outputs = self._outputs(X)
        return self.classes_[np.argmax(outputs, axis=1)]
