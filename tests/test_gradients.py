"""Backpropagation against two independent oracles, in float64.

1. Central finite differences of the cost, for every cost x output layer x hidden
   activation at depth 1-4 hidden layers.
2. A per-example implementation written as network2 does it (tests/reference.py):
   the batched sums of BP3/BP4 and one eq. (93) step agree to 1e-12 relative.
"""

import itertools

import numpy as np
import pytest

import nndl
from nndl.network import as_targets
from nndl.training import _FusedSGD

import reference

# Fourth-order central differences, f' ~ [-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)] / 12h:
# truncation ~h^4, rounding ~1e-16 |C| / h. Deep sigmoid layers have gradients ~1e-4 next to
# a cost ~1, so the plain two-point stencil (rounding ~1e-16/1e-6 = 1e-10 absolute) cannot
# resolve 1e-7 relative there; this one can (~1e-12 absolute).
FD_EPS = 1e-4
FD_RTOL = 1e-7  # the bound on the relative error per layer
REF_RTOL = 1e-12  # two correct float64 orderings of the same sums differ by ~1e-15 relative

COSTS = [nndl.QuadraticCost, nndl.CrossEntropyCost, nndl.LogLikelihoodCost]
OUTPUTS = ["sigmoid", "softmax"]
HIDDEN = ["sigmoid", "tanh", "relu"]


def mean_cost(net, X, Y):
    zs, acts = net.forward_pass(X)
    return net._cost_sum(acts[-1], Y, zs[-1])


def derivative(P, idx, f):
    """dC/dP[idx] by the fourth-order central stencil, restoring P[idx]."""
    old = P[idx]
    vals = []
    for k in (2, 1, -1, -2):
        P[idx] = old + k * FD_EPS
        vals.append(f())
    P[idx] = old
    return (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * FD_EPS)


def numerical_gradients(net, X, Y):
    """Central differences of the summed cost w.r.t. every weight and bias."""
    grads_w, grads_b = [], []
    for params, grads in ((net.weights, grads_w), (net.biases, grads_b)):
        for P in params:
            G = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                G[idx] = derivative(P, idx, lambda: mean_cost(net, X, Y))
            grads.append(G)
    return grads_b, grads_w


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("cost,output,hidden", list(itertools.product(COSTS, OUTPUTS, HIDDEN)))
def test_backprop_matches_finite_differences(cost, output, hidden, depth):
    rng = np.random.default_rng(depth)
    sizes = [4] + [5] * depth + [3]
    net = nndl.Network(sizes, cost, output=output, hidden=hidden, rng=rng)
    X = rng.standard_normal((6, 4))
    Y = as_targets(rng.integers(0, 3, 6), 3)
    nabla_b, nabla_w = net.backprop(X, Y)
    num_b, num_w = numerical_gradients(net, X, Y)
    for l in range(len(sizes) - 1):
        assert rel_error(nabla_w[l], num_w[l]) <= FD_RTOL, f"weights[{l}]"
        assert rel_error(nabla_b[l], num_b[l]) <= FD_RTOL, f"biases[{l}]"


def test_finite_differences_catch_a_wrong_delta():
    """The oracle can fail: multiplying the cross-entropy delta by sigma'(z^L) is caught."""

    class WrongCrossEntropy:
        fn = staticmethod(nndl.CrossEntropyCost.fn)

        @staticmethod
        def delta(z, a, y):
            return (a - y) * a * (1 - a)  # the classic mistake

    rng = np.random.default_rng(0)
    net = nndl.Network([4, 5, 3], WrongCrossEntropy, rng=rng)
    X = rng.standard_normal((6, 4))
    Y = as_targets(rng.integers(0, 3, 6), 3)
    nabla_b, nabla_w = net.backprop(X, Y)
    num_b, _ = numerical_gradients(net, X, Y)
    assert rel_error(nabla_b[-1], num_b[-1]) > 1e-2


CANONICAL = [("quadratic", "sigmoid"), ("cross-entropy", "sigmoid"), ("log-likelihood", "softmax")]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("cost,output", CANONICAL)
@pytest.mark.parametrize("depth", [1, 3])
def test_backprop_sums_match_per_example_reference(cost, output, hidden, depth):
    rng = np.random.default_rng(7)
    sizes = [6] + [7] * depth + [4]
    net = nndl.Network(sizes, cost, output=output, hidden=hidden, init="large", rng=rng)
    X = rng.random((11, 6))
    Y = as_targets(rng.integers(0, 4, 11), 4)
    nabla_b, nabla_w = net.backprop(X, Y)
    ref_b, ref_w = reference.sums_over_batch(net.weights, net.biases, X, Y, cost, hidden, output)
    for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
        np.testing.assert_allclose(got, want, rtol=REF_RTOL, atol=REF_RTOL * np.abs(want).max())


@pytest.mark.parametrize("cost,output", CANONICAL)
@pytest.mark.parametrize("fast", [True, False])
def test_one_l2_step_matches_per_example_reference(cost, output, fast):
    """One eq. (93)/(94) step with L2, through update_mini_batch and through the fast trainer step."""
    rng = np.random.default_rng(3)
    net = nndl.Network([6, 7, 5, 4], cost, output=output, init="large", rng=rng)
    X = rng.random((10, 6))
    y = rng.integers(0, 4, 10)
    eta, lmbda, n = 0.7, 5.0, 40
    want_w, want_b = reference.update_one_batch(net.weights, net.biases, X, as_targets(y, 4), eta, lmbda, n, cost,
                                                output=output)
    if fast:
        # A trainer over a 40-example set whose first shuffled mini-batch is X: drive one step.
        trainer = nndl.Trainer(net, (np.vstack([X] * 4), np.concatenate([y] * 4)), 1, 10, eta, lmbda)
        assert trainer._fast_ok()
        fused = _FusedSGD(net, eta, lmbda, n)
        fused.load()
        fused.step(np.ascontiguousarray(X), as_targets(y, 4))
        fused.store()
    else:
        net.update_mini_batch(X, y, eta, lmbda, n)
    for got, want in zip(net.weights + net.biases, want_w + [b.ravel() for b in want_b]):
        np.testing.assert_allclose(got, want, rtol=REF_RTOL, atol=REF_RTOL * np.abs(want).max())


@pytest.mark.parametrize("sizes", [[8, 6, 3], [8, 6, 5, 3]])  # straight-line and generic fused loops
@pytest.mark.parametrize("cost", COSTS)
def test_fast_and_reference_training_agree(sizes, cost):
    """Whole epochs (203 examples: a short last mini-batch): the fused path equals update_mini_batch."""
    rng = np.random.default_rng(0)
    X, y = rng.random((203, 8)), rng.integers(0, 3, 203)
    results = []
    for fast in (True, False):
        net = nndl.Network(sizes, cost, init="large", rng=np.random.default_rng(1))
        net.sgd((X, y), 3, 10, 0.5, lmbda=2.0, rng=np.random.default_rng(2), fast=fast)
        results.append(net.weights + net.biases)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_float32_network_tracks_float64():
    rng = np.random.default_rng(4)
    X, y = rng.random((64, 8)), rng.integers(0, 3, 64)
    nets = [nndl.Network([8, 6, 3], rng=np.random.default_rng(5), dtype=dt) for dt in (np.float64, np.float32)]
    for net in nets:
        net.sgd((X, y), 2, 8, 0.5, rng=np.random.default_rng(6))
    assert nets[1].weights[0].dtype == np.float32 and nets[1].feedforward(X).dtype == np.float32
    for a, b in zip(nets[0].weights, nets[1].weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_dropout_gradient_matches_finite_differences_with_fixed_masks():
    rng = np.random.default_rng(8)
    net = nndl.Network([4, 6, 5, 3], dropout=0.5, rng=rng)
    X = rng.standard_normal((5, 4))
    Y = as_targets(rng.integers(0, 3, 5), 3)
    masks = net.dropout_masks(5, rng)
    nabla_b, nabla_w = net.backprop(X, Y, masks)

    def cost():
        zs, acts = net.forward_pass(X, masks)
        return net._cost_sum(acts[-1], Y, zs[-1])

    for P, G in zip(net.weights + net.biases, nabla_w + nabla_b):
        num = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            num[idx] = derivative(P, idx, cost)
        assert rel_error(G, num) <= FD_RTOL


def test_test_time_dropout_scales_hidden_activations():
    """Book convention: at test time the outgoing weights of hidden neurons are scaled by 1 - p."""
    rng = np.random.default_rng(9)
    net = nndl.Network([4, 6, 3], dropout=0.5, rng=rng)
    plain = net.copy()
    plain.dropout = 0.0
    plain.weights[1] = plain.weights[1] * 0.5  # "halve the weights outgoing from the hidden neurons"
    X = rng.random((7, 4))
    np.testing.assert_allclose(net.feedforward(X), plain.feedforward(X), rtol=1e-14)


@pytest.mark.parametrize("sizes,m", [([8, 6, 3], 10), ([8, 6, 5, 3], 10), ([8, 40, 3], 30), ([8, 40, 30, 3], 30)])
def test_fused_chunks_and_large_batches_agree_with_reference(monkeypatch, sizes, m):
    """Several gather chunks per epoch (CHUNK_BYTES shrunk to two mini-batches), and mini-batches
    large enough (m * n >= TANH_FROM) for the eq. (111) sigmoid: the same weights as update_mini_batch."""
    import nndl.activations as activations
    import nndl.training as training

    monkeypatch.setattr(training, "CHUNK_BYTES", 2 * m * 8 * 8)
    rng = np.random.default_rng(5)
    X, y = rng.random((203, 8)), rng.integers(0, 3, 203)
    results = []
    for fast in (True, False):
        net = nndl.Network(sizes, init="large", rng=np.random.default_rng(1))
        net.sgd((X, y), 2, m, 0.5, lmbda=1.0, rng=np.random.default_rng(2), fast=fast)
        results.append(net.weights + net.biases)
    assert any(m * k >= activations.TANH_FROM for k in sizes[1:]) == (m == 30)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
