"""A 2-3-2 network worked by hand, asserted to 1e-12.

Weights are chosen so every sigmoid is exact: sigma(ln 3) = 3/4, sigma(0) = 1/2,
sigma(-ln 3) = 1/4. One example x = (1, 0), target y = (1, 0).

Layer 2 (hidden):  W1 = [[ln3, 0.5], [0, -0.5], [-ln3, 2.0]], b1 = 0
    z1 = W1 x + b1 = (ln3, 0, -ln3)          a1 = (3/4, 1/2, 1/4)
    sigma'(z1) = a1 (1 - a1) = (3/16, 1/4, 3/16)
Layer 3 (output):  W2 = [[4, 0, 0], [0, 2, -4]], b2 = (ln3 - 3, 0)
    W2 a1 = (3, 1 - 1) = (3, 0)   z2 = (ln3, 0)   a2 = (3/4, 1/2)
    sigma'(z2) = (3/16, 1/4)

The update: eta = 1/2, lmbda = 1, n = 4 (the training-set size of eq. 93, not m = 1),
so the weight shrink factor is 1 - eta lmbda / n = 7/8, and biases are not shrunk.
"""

import math

import numpy as np
import pytest

import nndl

LN3 = math.log(3.0)
TOL = 1e-12


def hand_network(cost):
    net = nndl.Network([2, 3, 2], cost, rng=np.random.default_rng(0))
    net.weights[0][...] = [[LN3, 0.5], [0.0, -0.5], [-LN3, 2.0]]
    net.biases[0][...] = [0.0, 0.0, 0.0]
    net.weights[1][...] = [[4.0, 0.0, 0.0], [0.0, 2.0, -4.0]]
    net.biases[1][...] = [LN3 - 3.0, 0.0]
    return net


X = np.array([[1.0, 0.0]])
Y = np.array([[1.0, 0.0]])


def test_forward_pass_by_hand():
    zs, acts = hand_network(nndl.QuadraticCost).forward_pass(X)
    np.testing.assert_allclose(zs[0], [[LN3, 0.0, -LN3]], atol=TOL)
    np.testing.assert_allclose(acts[1], [[3 / 4, 1 / 2, 1 / 4]], atol=TOL)
    np.testing.assert_allclose(zs[1], [[LN3, 0.0]], atol=TOL)
    np.testing.assert_allclose(acts[2], [[3 / 4, 1 / 2]], atol=TOL)


def test_quadratic_cost_step_by_hand():
    net = hand_network(nndl.QuadraticCost)
    # C = 1/2 ((3/4 - 1)^2 + (1/2 - 0)^2) = 1/2 (1/16 + 4/16) = 5/32   (the 1/2 of eq. 27)
    assert net.total_cost(X, Y) == pytest.approx(5 / 32, abs=TOL)
    # BP1, eq. (30): delta2 = (a2 - y) sigma'(z2) = (-1/4 * 3/16, 1/2 * 1/4) = (-3/64, 1/8)
    # BP2: W2^T delta2 = (4(-3/64), 2(1/8), -4(1/8)) = (-3/16, 1/4, -1/2)
    #      delta1 = that * sigma'(z1) = (-3/16 * 3/16, 1/4 * 1/4, -1/2 * 3/16) = (-9/256, 1/16, -3/32)
    d1, d2 = net.deltas(X, Y)
    np.testing.assert_allclose(d2, [[-3 / 64, 1 / 8]], atol=TOL)
    np.testing.assert_allclose(d1, [[-9 / 256, 1 / 16, -3 / 32]], atol=TOL)
    # BP4: dC/dW2 = delta2 a1^T;  dC/dW1 = delta1 x^T (second column 0 because x_2 = 0)
    nabla_b, nabla_w = net.backprop(X, Y)
    np.testing.assert_allclose(nabla_w[1], [[-9 / 256, -3 / 128, -3 / 256], [3 / 32, 1 / 16, 1 / 32]], atol=TOL)
    np.testing.assert_allclose(nabla_w[0], [[-9 / 256, 0], [1 / 16, 0], [-3 / 32, 0]], atol=TOL)
    np.testing.assert_allclose(nabla_b[1], [-3 / 64, 1 / 8], atol=TOL)  # BP3
    # eq. (93): W <- 7/8 W - (1/2)(dC/dW);  eq. (94): b <- b - (1/2) delta
    net.update_mini_batch(X, Y, eta=0.5, lmbda=1.0, n=4)
    np.testing.assert_allclose(net.weights[1], [[7 / 8 * 4 + 9 / 512, 3 / 256, 3 / 512],
                                                [-3 / 64, 7 / 8 * 2 - 1 / 32, 7 / 8 * -4 - 1 / 64]], atol=TOL)
    np.testing.assert_allclose(net.weights[0], [[7 / 8 * LN3 + 9 / 512, 7 / 8 * 0.5],
                                                [-1 / 32, 7 / 8 * -0.5],
                                                [7 / 8 * -LN3 + 3 / 64, 7 / 8 * 2.0]], atol=TOL)
    np.testing.assert_allclose(net.biases[1], [LN3 - 3 + 3 / 128, -1 / 16], atol=TOL)
    np.testing.assert_allclose(net.biases[0], [9 / 512, -1 / 32, 3 / 64], atol=TOL)


def test_cross_entropy_step_by_hand():
    net = hand_network(nndl.CrossEntropyCost)
    # C = -[1 ln(3/4) + 0] - [0 + 1 ln(1 - 1/2)] = -ln(3/4) - ln(1/2) = ln(8/3)   (eq. 63)
    assert net.total_cost(X, Y) == pytest.approx(math.log(8 / 3), abs=TOL)
    # eq. (66): delta2 = a2 - y = (-1/4, 1/2);  W2^T delta2 = (-1, 1, -2)
    # delta1 = (-1 * 3/16, 1 * 1/4, -2 * 3/16) = (-3/16, 1/4, -3/8)
    d1, d2 = net.deltas(X, Y)
    np.testing.assert_allclose(d2, [[-1 / 4, 1 / 2]], atol=TOL)
    np.testing.assert_allclose(d1, [[-3 / 16, 1 / 4, -3 / 8]], atol=TOL)
    net.update_mini_batch(X, Y, eta=0.5, lmbda=1.0, n=4)
    # W2 <- 7/8 W2 - 1/2 delta2 a1^T, delta2 a1^T = [[-3/16, -1/8, -1/16], [3/8, 1/4, 1/8]]
    np.testing.assert_allclose(net.weights[1], [[3.5 + 3 / 32, 1 / 16, 1 / 32],
                                                [-3 / 16, 1.75 - 1 / 8, -3.5 - 1 / 16]], atol=TOL)
    np.testing.assert_allclose(net.biases[1], [LN3 - 3 + 1 / 8, -1 / 4], atol=TOL)
    np.testing.assert_allclose(net.biases[0], [3 / 32, -1 / 8, 3 / 16], atol=TOL)


def test_log_likelihood_softmax_by_hand():
    net = hand_network(nndl.LogLikelihoodCost)  # softmax output
    # softmax(ln3, 0) = (3/(3+1), 1/(3+1)) = (3/4, 1/4);  C = -ln a_y = -ln(3/4)   (eq. 80)
    np.testing.assert_allclose(net.feedforward(X), [[3 / 4, 1 / 4]], atol=TOL)
    assert net.total_cost(X, Y) == pytest.approx(-math.log(3 / 4), abs=TOL)
    # eq. (84): delta2 = a - y = (-1/4, 1/4);  W2^T delta2 = (-1, 1/2, -1)
    # delta1 = (-3/16, 1/8, -3/16)
    d1, d2 = net.deltas(X, Y)
    np.testing.assert_allclose(d2, [[-1 / 4, 1 / 4]], atol=TOL)
    np.testing.assert_allclose(d1, [[-3 / 16, 1 / 8, -3 / 16]], atol=TOL)


def test_l1_step_by_hand():
    """Eq. (97): w -> w - (eta lmbda / n) sgn(w) - eta dC/dw, with sgn(0) = 0."""
    net = hand_network(nndl.CrossEntropyCost)
    net.update_mini_batch(X, Y, eta=0.5, lmbda=1.0, n=4, regularization="l1")
    # eta lmbda / n = 1/8; W2[0] = (4, 0, 0): sgn = (1, 0, 0); gradient row (-3/16, -1/8, -1/16)
    np.testing.assert_allclose(net.weights[1][0], [4 - 1 / 8 + 3 / 32, 1 / 16, 1 / 32], atol=TOL)
    # W1[1] = (0, -0.5): sgn = (0, -1); gradient row (1/4, 0)
    np.testing.assert_allclose(net.weights[0][1], [0 - 1 / 8, -0.5 + 1 / 8], atol=TOL)


def test_momentum_steps_by_hand():
    """Eqs. (107)-(108): v -> mu v - eta grad C; w -> w + v. Two steps on the same example."""
    net = hand_network(nndl.CrossEntropyCost)
    w0 = net.weights[1][0, 0]  # 4; gradient at the start: -3/16
    net.update_mini_batch(X, Y, eta=0.5, momentum=0.5)
    # v1 = -0.5 * -3/16 = 3/32;  w1 = 4 + 3/32
    assert net.weights[1][0, 0] == pytest.approx(w0 + 3 / 32, abs=TOL)
    g = net.backprop(X, Y)[1][1][0, 0]
    net.update_mini_batch(X, Y, eta=0.5, momentum=0.5)
    # v2 = 0.5 * 3/32 - 0.5 g;  w2 = w1 + v2
    assert net.weights[1][0, 0] == pytest.approx(w0 + 3 / 32 + 3 / 64 - 0.5 * g, abs=TOL)
