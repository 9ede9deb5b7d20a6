"""The fast step equals the reference step (``Network.update_mini_batch``) for every input.

Issue 12, item 1: with eta * lmbda / n exactly 1 the fast step divided the packed bias
column by eq. (93)'s shrink factor 1 - eta lmbda / n = 0 and lost the biases. The property
test runs whole epochs through ``Trainer(fast=True)`` and ``Trainer(fast=False)`` over
sizes, costs, eta, lmbda, n, mini-batch sizes (1, a short last batch, larger than n),
momentum, L1 and dropout, with the edge values drawn on purpose.
"""

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import nndl
from nndl.training import FAST_MIN_SHRINK, _FusedSGD

# Two float64 orderings of the same sums differ by ~1e-16 relative; a few epochs of SGD
# carry that along, and the fast step's b / s * s (FAST_MIN_SHRINK) adds a few ulp a step.
RTOL = 1e-9


def _train(fast, sizes, cost, X, y, epochs, m, eta, lmbda, momentum, regularization, dropout, dtype):
    net = nndl.Network(sizes, cost, init="large", dropout=dropout, dtype=dtype, rng=np.random.default_rng(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a divide-by-zero or overflow warning fails the test
        net.sgd((X, y), epochs, m, eta, lmbda, rng=np.random.default_rng(2), momentum=momentum,
                regularization=regularization, fast=fast)
    return net.weights + net.biases


def test_issue_example_bias_survives_eta_lmbda_over_n_equal_to_one():
    """The issue's case: [1, 1, 1], X = [[1]], y = [[1]], mini-batch 1, eta 1, lmbda 1 (shrink 0)."""
    for fast in (True, False):
        net = nndl.Network([1, 1, 1], rng=np.random.default_rng(0))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            net.sgd((np.array([[1.0]]), np.array([[1.0]])), 1, 1, 1.0, lmbda=1.0, fast=fast)
        # eq. (94) has no lmbda: the bias moves by -eta * delta only (value from the reference step)
        assert net.biases[-1][0] == pytest.approx(0.38301322757905365, rel=1e-15)


def test_fused_step_refuses_a_vanishing_shrink_factor():
    net = nndl.Network([2, 3, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="FAST_MIN_SHRINK"):
        _FusedSGD(net, 1.0, 10.0, 10)


sizes_st = st.lists(st.integers(1, 5), min_size=2, max_size=4)
cost_st = st.sampled_from(["quadratic", "cross-entropy", "log-likelihood"])


@st.composite
def configs(draw):
    sizes = draw(sizes_st)
    cost = draw(cost_st)
    if cost == "log-likelihood" and sizes[-1] < 2:
        sizes[-1] = 2
    n = draw(st.integers(1, 23))
    m = draw(st.sampled_from([1, 2, 3, 7, 10, n, n + 1]))
    eta = draw(st.sampled_from([0.01, 0.5, 1.0, 3.0, 10.0]))
    # lmbda: none, ordinary, and the edges of eq. (93)'s factor 1 - eta lmbda / n:
    # exactly 0, just either side of FAST_MIN_SHRINK, negative (eta lmbda / n > 1)
    kind = draw(st.sampled_from(["zero", "plain", "shrink0", "edge-", "edge+", "negative"]))
    lmbda = {
        "zero": 0.0,
        "plain": draw(st.floats(0.0, 5.0)),
        "shrink0": n / eta,
        "edge-": (1 - FAST_MIN_SHRINK / 2) * n / eta,
        "edge+": (1 - 2 * FAST_MIN_SHRINK) * n / eta,
        "negative": 1.5 * n / eta,
    }[kind]
    momentum = draw(st.sampled_from([0.0, 0.0, 0.5, 0.9]))
    regularization = draw(st.sampled_from(["l2", "l2", "l1"]))
    dropout = draw(st.sampled_from([0.0, 0.0, 0.5])) if len(sizes) > 2 else 0.0
    epochs = draw(st.integers(1, 2))
    return dict(sizes=sizes, cost=cost, n=n, m=m, eta=eta, lmbda=lmbda, momentum=momentum,
                regularization=regularization, dropout=dropout, epochs=epochs)


@given(cfg=configs(), seed=st.integers(0, 2**16))
@example(cfg=dict(sizes=[1, 1, 1], cost="cross-entropy", n=1, m=1, eta=1.0, lmbda=1.0, momentum=0.0,
                  regularization="l2", dropout=0.0, epochs=1), seed=0)
@example(cfg=dict(sizes=[3, 4, 3, 2], cost="quadratic", n=20, m=3, eta=2.0, lmbda=10.0, momentum=0.0,
                  regularization="l2", dropout=0.0, epochs=2), seed=1)  # shrink 0, deeper net, short last batch
def test_fast_step_equals_reference_step(cfg, seed):
    rng = np.random.default_rng(seed)
    n, k_in, k_out = cfg["n"], cfg["sizes"][0], cfg["sizes"][-1]
    X = rng.random((n, k_in))
    y = rng.integers(0, k_out, n)
    args = (cfg["sizes"], cfg["cost"], X, y, cfg["epochs"], cfg["m"], cfg["eta"], cfg["lmbda"],
            cfg["momentum"], cfg["regularization"], cfg["dropout"], np.float64)
    fast = _train(True, *args)
    ref = _train(False, *args)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * max(1.0, np.abs(b).max()))
