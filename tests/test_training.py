"""SGD: determinism, histories, stopping rules, interrupt/resume, bad arguments."""

import numpy as np
import pytest

import nndl
from nndl.errors import DivergenceError
from nndl.training import Trainer


def toy_data(n=300, seed=0):
    """Three well-separated blobs in 8 dimensions: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.random((3, 8))
    X = np.clip(centres[y] + 0.1 * rng.standard_normal((n, 8)), 0, 1)
    return X, y


def train(seed=0, **kw):
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], init=kw.pop("init", "default"), dropout=kw.pop("dropout", 0.0),
                       rng=np.random.default_rng(seed))
    hist = net.sgd((X, y), kw.pop("epochs", 3), 10, kw.pop("eta", 0.5), evaluation_data=(X, y),
                   rng=np.random.default_rng(seed + 1), **kw)
    return net, hist


@pytest.mark.parametrize("options", [{}, {"momentum": 0.5}, {"dropout": 0.5}, {"lmbda": 1.0, "regularization": "l1"}])
def test_same_seed_gives_bit_identical_weights(options):
    a, _ = train(**options)
    b, _ = train(**options)
    c, _ = train(seed=1, **options)
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(Wa, Wb)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_histories_are_recorded_and_learning_happens():
    net, h = train(epochs=5, lmbda=0.1, monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                   monitor_training_cost=True, monitor_training_accuracy=True, monitor_gradient_norms=True)
    assert len(h.evaluation_cost) == len(h.evaluation_accuracy) == len(h.training_cost) == 5
    assert len(h.training_accuracy) == len(h.epoch_seconds) == len(h.eta) == 5
    assert len(h.gradient_norms) == 5 and all(len(g) == 1 for g in h.gradient_norms)
    assert h.n_training == h.n_evaluation == 300
    assert h.training_cost[-1] < h.training_cost[0]
    assert h.best_evaluation_accuracy() > 0.9
    X, y = toy_data()
    assert h.training_cost[-1] == pytest.approx(net.total_cost(X, y, 0.1, 300))
    assert h.training_accuracy[-1] == net.accuracy(X, y)
    assert net.evaluate(X, y, 0.1, 300) == (pytest.approx(h.training_cost[-1]), h.training_accuracy[-1])
    assert nndl.TrainingHistory.from_dict(h.to_dict()) == h


def test_cost_history_uses_training_set_size_for_l2():
    """Eq. (85)'s n is the training-set size, also when the cost of other data is reported."""
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], rng=np.random.default_rng(0))
    h = net.sgd((X, y), 1, 10, 0.5, lmbda=3.0, evaluation_data=(X[:50], y[:50]), monitor_evaluation_cost=True)
    l2 = 0.5 * 3.0 / 300 * sum(float(np.sum(W**2)) for W in net.weights)
    assert h.evaluation_cost[0] == pytest.approx(net.total_cost(X[:50], y[:50]) + l2)


def test_stopping_rules():
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], rng=np.random.default_rng(0))
    t = Trainer(net, (X, y), 100, 10, 0.5, evaluation_data=(X, y), early_stopping=3)
    for acc in [10, 20, 20, 19]:
        t._apply_stopping_rules(acc)
    assert t.history.stopped is None
    t._apply_stopping_rules(20)  # the third epoch in a row without beating 20
    assert t.history.stopped == "early-stopping"

    t = Trainer(net, (X, y), 100, 10, 0.8, evaluation_data=(X, y), eta_schedule=2)
    t._apply_stopping_rules(10)
    etas = []
    for _ in range(14):
        t._apply_stopping_rules(5)
        etas.append(t.eta)
        if t.history.stopped:
            break
    # halved after every 2 epochs without improvement: 0.4, 0.2, ..., 0.8/128 -> stop
    assert etas[1::2] == [0.8 / 2**k for k in range(1, 8)]
    assert t.history.stopped == "eta-schedule"


def test_early_stopping_ends_a_real_run():
    _, h = train(epochs=200, eta=0.05, early_stopping=2)
    assert h.stopped == "early-stopping" and h.epochs < 200


@pytest.mark.parametrize("options", [{}, {"momentum": 0.7, "dropout": 0.3}])
def test_interrupt_and_resume_is_bit_identical(options):
    X, y = toy_data(205)
    opts = dict(options)
    dropout = opts.pop("dropout", 0.0)

    def fresh():
        return nndl.Network([8, 10, 3], dropout=dropout, rng=np.random.default_rng(3))

    full = fresh()
    Trainer(full, (X, y), 3, 10, 0.5, 0.2, (X, y), rng=np.random.default_rng(4), monitor_evaluation_accuracy=True,
            **opts).run()

    net = fresh()
    calls = {"n": 0}

    def stop_at_33():
        calls["n"] += 1
        return calls["n"] == 33  # mid-way through the second epoch (21 mini-batches per epoch)

    t = Trainer(net, (X, y), 3, 10, 0.5, 0.2, (X, y), rng=np.random.default_rng(4), monitor_evaluation_accuracy=True,
                should_stop=stop_at_33, **opts)
    h = t.run()
    assert h.stopped == "interrupted" and t.epoch == 1 and 0 < t.batch < 21
    state = t.state()
    saved = net.copy()
    # A new process would load the weights and the state; do the same with fresh objects.
    resumed = fresh()
    resumed.weights, resumed.biases = saved.weights, saved.biases
    t2 = Trainer(resumed, (X, y), 3, 10, 0.5, 0.2, (X, y), rng=np.random.default_rng(999),
                 monitor_evaluation_accuracy=True, **opts)
    t2.restore(state)
    h2 = t2.run()
    assert h2.stopped is None and len(h2.evaluation_accuracy) == 3
    for a, b in zip(full.weights + full.biases, resumed.weights + resumed.biases):
        assert np.array_equal(a, b)


def test_divergence_is_reported():
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], rng=np.random.default_rng(0))
    net.weights[0][0, 0] = np.inf
    with pytest.raises(DivergenceError, match="smaller eta"):
        with np.errstate(all="ignore"):
            net.sgd((X, y), 1, 10, 0.5)


@pytest.mark.parametrize("bad,match", [
    (dict(eta=-1.0), "eta must be a positive"),
    (dict(eta=float("nan")), "eta must be a positive"),
    (dict(mini_batch_size=0), "mini_batch_size"),
    (dict(epochs=-1), "epochs"),
    (dict(lmbda=-0.1), "lmbda"),
    (dict(momentum=1.5), "momentum"),
    (dict(regularization="l3"), "regularization"),
    (dict(early_stopping=3, evaluation_data=None), "need evaluation_data"),
])
def test_bad_arguments_are_named(bad, match):
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], rng=np.random.default_rng(0))
    args = dict(epochs=1, mini_batch_size=10, eta=0.5, evaluation_data=(X, y)) | bad
    with pytest.raises(ValueError, match=match):
        Trainer(net, (X, y), **args)


def test_bad_data_is_named():
    net = nndl.Network([8, 10, 3], rng=np.random.default_rng(0))
    X, y = toy_data()
    with pytest.raises(ValueError, match=r"shape \(m, 8\)"):
        net.sgd((X[:, :5], y), 1, 10, 0.5)
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        net.sgd((X, y + 5), 1, 10, 0.5)
    with pytest.raises(ValueError, match="300 inputs but 299 targets"):
        net.sgd((X, y[:-1]), 1, 10, 0.5)
    with pytest.raises(ValueError, match="unknown init"):
        nndl.Network([8, 3], init="huge")
    with pytest.raises(ValueError, match="sizes"):
        nndl.Network([8])


def test_reassigning_the_cost_changes_the_gradient():
    X, y = toy_data(20)
    net = nndl.Network([8, 4, 3], nndl.CrossEntropyCost, rng=np.random.default_rng(0))
    ce = net.backprop(X, y)[0][-1]
    net.cost = "quadratic"
    assert net.cost is nndl.QuadraticCost
    assert not np.allclose(net.backprop(X, y)[0][-1], ce)

    class Mine:  # a user's cost whose delta takes only (z, a, y)
        fn = staticmethod(lambda a, y: 0.5 * float(np.sum((a - y) ** 2)))
        delta = staticmethod(lambda z, a, y: (a - y) * a * (1 - a))

    net.cost = Mine  # the same quadratic cost, called without output=
    net2 = net.copy()
    net2.cost = "quadratic"
    np.testing.assert_allclose(net.backprop(X, y)[0][-1], net2.backprop(X, y)[0][-1], rtol=1e-12)


def test_training_runs_blas_on_one_thread_by_default():
    from threadpoolctl import threadpool_info

    seen = []
    X, y = toy_data(50)
    net = nndl.Network([8, 4, 3], rng=np.random.default_rng(0))

    def record(epoch, history, net):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

    net.sgd((X, y), 1, 10, 0.5, on_epoch=record)
    assert seen == [{1}]
    before = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    net.sgd((X, y), 1, 10, 0.5, on_epoch=record, blas_threads=None)
    assert seen[1] == {n for f, n in before.items() if f in {i["filepath"] for i in threadpool_info()
                                                              if i["user_api"] == "blas"}}


def test_a_run_stuck_at_chance_with_saturated_outputs_is_warned_about(caplog):
    """Issue 12, item 4: quadratic cost, eta 100 'finished' at cost 0.5000 and 10 % accuracy."""
    X, y = toy_data()
    net = nndl.Network([8, 10, 3], "quadratic", init="large", rng=np.random.default_rng(0))
    with caplog.at_level("WARNING", logger="nndl.training"):
        h = net.sgd((X, y), 2, 10, 100.0, evaluation_data=(X, y), monitor_evaluation_accuracy=True,
                    rng=np.random.default_rng(1))
    assert len(h.warnings) == 1 and h.warnings[0].startswith("stuck at chance in epoch 0")
    assert "eta = 100 is far too large" in h.warnings[0] and "quadratic" in h.warnings[0]
    assert h.warnings[0] in caplog.text
    assert nndl.TrainingHistory.from_dict(h.to_dict()).warnings == h.warnings
    # a network that learns gets no such warning
    _, good = train(epochs=2, monitor_evaluation_accuracy=True)
    assert good.warnings == []


def test_training_data_as_the_books_list_of_examples_even_of_length_two():
    """Issue 12, item 10: [(x1, y1), (x2, y2)] was taken as the pair (X, y)."""
    X, y = toy_data(n=2)
    runs = []
    for data in [(X, y), [(X[0], y[0]), (X[1], y[1])], [(X[0][:, None], np.eye(3)[y[0]][:, None]),
                                                       (X[1][:, None], np.eye(3)[y[1]][:, None])],
                 list(zip(X, y))]:
        net = nndl.Network([8, 4, 3], rng=np.random.default_rng(0))
        net.sgd(data, 1, 1, 0.5, rng=np.random.default_rng(1))
        runs.append(net.weights[0])
    for W in runs[1:]:
        np.testing.assert_array_equal(W, runs[0])


@pytest.mark.parametrize("data,message", [
    ([(np.zeros(8), 1), (np.zeros(5), 1)], "example 1 is a tuple of 2, not"),
    ([np.zeros(8), np.zeros(8), np.zeros(8)], "example 0 is ndarray"),
    ([(np.zeros(8), 1), (np.zeros(8), np.zeros(3))], "all be labels or all be vectors"),
    (3, "got int"),
    ([], "is empty"),
    ((np.zeros((4, 5)), np.zeros(4)), r"shape \(m, 8\)"),
    ((np.zeros((4, 8)), np.zeros(3)), "4 inputs but 3 targets"),
])
def test_malformed_training_data_gets_a_clear_error(data, message):
    net = nndl.Network([8, 4, 3], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        net.sgd(data, 1, 1, 0.5)


def test_a_pair_whose_x_is_a_list_of_two_rows_is_still_the_pair():
    X, y = toy_data(n=2)
    a = nndl.Network([8, 4, 3], rng=np.random.default_rng(0))
    a.sgd(([list(X[0]), list(X[1])], list(y)), 1, 1, 0.5, rng=np.random.default_rng(1))
    b = nndl.Network([8, 4, 3], rng=np.random.default_rng(0))
    b.sgd((X, y), 1, 1, 0.5, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
