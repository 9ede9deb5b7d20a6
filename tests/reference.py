"""An independent per-example implementation, written the way network2.py does it.

Column vectors, one example at a time, sigma written out as 1/(1+exp(-z)), and the
book's update rule. It shares no code with nndl: the tests compare nndl's batched
BP1-BP4 and eq. (93) against it.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def act(name, z):
    return {"sigmoid": sigmoid, "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0)}[name](z)


def act_prime(name, z):
    if name == "sigmoid":
        return sigmoid(z) * (1 - sigmoid(z))
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    return (z > 0).astype(float)


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def backprop_one(weights, biases, x, y, cost, hidden="sigmoid", output="sigmoid"):
    """network2.backprop for one example x (n_in, 1), y (n_out, 1): (nabla_b, nabla_w)."""
    activation = x
    activations = [x]
    zs = []
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = np.dot(w, activation) + b
        zs.append(z)
        last = l == len(weights) - 1
        activation = (softmax(z) if output == "softmax" else sigmoid(z)) if last else act(hidden, z)
        activations.append(activation)
    a = activations[-1]
    # BP1 for the book's pairings, as network2 writes it
    if cost == "quadratic":
        delta = (a - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
    elif cost in ("cross-entropy", "log-likelihood"):
        delta = a - y
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].T)
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].T, delta) * act_prime(hidden, zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
    return nabla_b, nabla_w


def sums_over_batch(weights, biases, X, Y, cost, hidden="sigmoid", output="sigmoid"):
    """network2.update_mini_batch's accumulation: sum over examples of the per-example gradients."""
    weights = [np.array(w, dtype=float) for w in weights]
    biases = [np.array(b, dtype=float).reshape(-1, 1) for b in biases]
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in zip(X, Y):
        db, dw = backprop_one(weights, biases, x.reshape(-1, 1), y.reshape(-1, 1), cost, hidden, output)
        nabla_b = [nb + d for nb, d in zip(nabla_b, db)]
        nabla_w = [nw + d for nw, d in zip(nabla_w, dw)]
    return [nb.ravel() for nb in nabla_b], nabla_w


def update_one_batch(weights, biases, X, Y, eta, lmbda, n, cost, hidden="sigmoid", output="sigmoid"):
    """network2.update_mini_batch: eq. (93) for weights, eq. (94) for biases."""
    nabla_b, nabla_w = sums_over_batch(weights, biases, X, Y, cost, hidden, output)
    m = len(X)
    new_w = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw for w, nw in zip(weights, nabla_w)]
    new_b = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)]
    return new_w, new_b
