"""nndl.sklearn.NetworkClassifier: scikit-learn's own estimator checks, pipelines, and the
same numbers as nndl's own training."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nndl import Network, sgd
from nndl.cli import main
from nndl.data import load_digits
from nndl.io import load
from nndl.runs import seed_generators
from nndl.sklearn import NetworkClassifier


@parametrize_with_checks([NetworkClassifier(random_state=0)])
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # scikit-learn skips its array-API input check (with NumPy only, as this estimator
    # declares no array-API support) unless this variable is set; set it so that it runs.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_fit_gives_the_same_weights_as_nndl_train(tmp_path, digits):
    """Same settings and seed as `nndl train` -> the same weights, bit for bit."""
    assert main(["train", "--data", "digits", "--epochs", "2", "--eta", "0.3", "--lmbda", "1.5",
                 "--mini-batch-size", "7", "--seed", "5", "--no-plots", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    trained = load(tmp_path / "run" / "model.npz")
    X, y = digits.training
    clf = NetworkClassifier((30,), eta=0.3, lmbda=1.5, mini_batch_size=7, epochs=2, random_state=5).fit(X, y)
    assert clf.n_iter_ == 2
    for a, b in zip(clf.network_.weights + clf.network_.biases, trained.weights + trained.biases):
        np.testing.assert_array_equal(a, b)


def test_fit_matches_the_library_loop_and_partial_fit(digits):
    X, y = digits.training
    kw = dict(eta=0.5, lmbda=0.0, mini_batch_size=10, epochs=3, random_state=2)
    clf = NetworkClassifier((20,), **kw).fit(X, y)
    g = seed_generators(2)
    net = Network([64, 20, 10], rng=g[0])
    history = sgd(net, (X, y), 3, 10, 0.5, monitor_training_cost=True, rng=g[1])
    np.testing.assert_array_equal(clf.network_.weights[0], net.weights[0])
    assert clf.loss_curve_ == history.training_cost
    inc = NetworkClassifier((20,), **kw)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.arange(10))
    assert inc.n_iter_ == 3
    np.testing.assert_array_equal(inc.network_.weights[1], clf.network_.weights[1])


def test_string_labels_early_stopping_and_curves(digits):
    X, y = digits.training
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = NetworkClassifier(epochs=40, early_stopping=3, random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(X[:20])) <= set(names)
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(digits.test.X, names[digits.test.y]) > 0.85
    proba = clf.predict_proba(digits.test.X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(digits.test.X)).all()


def test_pipeline_and_grid_search(digits):
    X, y = digits.training
    pipe = make_pipeline(StandardScaler(), NetworkClassifier(epochs=10, random_state=0))
    search = GridSearchCV(pipe, {"networkclassifier__eta": [0.001, 0.5], "networkclassifier__lmbda": [0.0, 1.0]},
                          cv=2)
    search.fit(X[:600], y[:600])
    assert search.best_params_["networkclassifier__eta"] == 0.5  # 0.001 barely moves in 10 epochs
    assert search.score(*digits.test) > 0.8


@pytest.mark.parametrize("param, value, message", [
    ("epochs", 2.5, "epochs must be an int >= 1; got 2.5"),
    ("epochs", 0, "epochs must be an int >= 1; got 0"),
    ("early_stopping", 0, "early_stopping must be None or an int >= 1; got 0"),
    ("eta_schedule", 1.5, "eta_schedule must be None or an int >= 1"),
    ("mini_batch_size", True, "mini_batch_size must be an int >= 1"),
    ("eta", 0.0, "eta must be a finite number > 0"),
    ("eta", float("nan"), "eta must be a finite number > 0"),
    ("lmbda", -1, "lmbda must be a finite number >= 0"),
    ("momentum", 1.0, "momentum must be a number in [0, 1)"),
    ("dropout", -0.1, "dropout must be a number in [0, 1)"),
    ("validation_fraction", 1.0, "validation_fraction must be a number in (0, 1)"),
    ("hidden_layer_sizes", (30, 2.5), "hidden_layer_sizes must be ints >= 1"),
    ("hidden_layer_sizes", (0,), "hidden_layer_sizes must be ints >= 1"),
    ("cost", "hinge", "cost must be one of"),
    ("hidden", "softsign", "hidden must be one of"),
])
def test_bad_parameters_are_a_value_error_naming_them(digits, param, value, message):
    X, y = digits.training
    clf = NetworkClassifier(epochs=1).set_params(**{param: value})
    for fit in (lambda: clf.fit(X[:50], y[:50]), lambda: clf.partial_fit(X[:50], y[:50], classes=np.arange(10))):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            fit()


def test_divergence_fails_the_fit_as_nndl_train_fails(tmp_path, digits, capsys):
    from nndl.errors import DivergenceError

    X, y = digits.training
    with pytest.raises(DivergenceError, match="training diverged in epoch 0") as caught:
        NetworkClassifier(eta=100, epochs=10, random_state=0).fit(X, y)
    capsys.readouterr()
    assert main(["train", "--data", "digits", "--eta", "100", "--epochs", "10", "--no-plots",
                 "--out", str(tmp_path / "run")]) == 1
    assert str(caught.value) in capsys.readouterr().err  # the same rule, epoch and message
    clf = NetworkClassifier(eta=100, random_state=0)
    with pytest.raises(DivergenceError, match="training diverged in epoch 0"):
        clf.partial_fit(X, y, classes=np.arange(10))
