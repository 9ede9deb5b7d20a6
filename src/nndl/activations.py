"""Neuron activation functions and their derivatives, eqs. (3)-(4), (78), (109)-(112).

Each hidden activation is a small object with ``fn(z)`` and ``prime_from_a(a)``:
the derivative written in terms of the stored activation, which is what
backpropagation (BP2) needs and what saves recomputing f(z). For the sigmoid
that is sigma'(z) = sigma(z)(1 - sigma(z)) = a(1 - a).

All functions are stable for any finite z: no overflow and no warnings
except harmless underflow (sigma(-800) is exactly 0.0 in float64).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, log_softmax as _log_softmax

Array = NDArray[np.floating]


def sigmoid(z: Array, out: Array | None = None) -> Array:
    """The sigmoid sigma(z) = 1 / (1 + e^{-z}), eq. (3), elementwise.

    Uses ``scipy.special.expit``: it never overflows, and it is the fastest stable
    form measured for small arrays (STYLE.md item 5; see ``sigmoid_for_size`` for large ones).
    """
    return expit(z, out=out) if out is not None else expit(z)


TANH_FROM = 1024  # elements from which the eq. (111) sigmoid beats scipy's expit (benchmarks/PROFILE.md)


def sigmoid_for_size(size: int):
    """The faster sigmoid ``f(z, out)`` for arrays of ``size`` elements (the fast training step's).

    Small arrays: scipy's ``expit`` (call overhead dominates). Larger ones: eq. (111),
    sigma(z) = (1 + tanh(z/2)) / 2, four vectorised NumPy calls. Its absolute error is
    ~1e-16, but it returns 0 where expit returns sigma(z) < ~1e-17 (z < -40): harmless in
    training, where sigma'(z) = a (1 - a) is then 0 either way.
    """
    if size < TANH_FROM:
        return expit
    mul, add, tanh = np.multiply, np.add, np.tanh

    def sigmoid_eq_111(z, out):
        mul(z, 0.5, out)
        tanh(out, out)
        mul(out, 0.5, out)
        add(out, 0.5, out)

    return sigmoid_eq_111


def sigmoid_prime(z: Array) -> Array:
    """sigma'(z) = sigma(z)(1 - sigma(z)), the derivative of the sigmoid."""
    s = expit(z)
    return s * (1.0 - s)


def softmax(z: Array) -> Array:
    """Softmax over the last axis, eq. (78): a_j = e^{z_j} / sum_k e^{z_k}.

    Shifted by the row maximum first, so e^{z} never overflows; rows sum to 1, eq. (79).
    """
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def log_softmax(z: Array) -> Array:
    """ln softmax(z) = z - logsumexp(z) over the last axis, computed with the max shift."""
    return _log_softmax(z, axis=-1)


class Sigmoid:
    """Sigmoid neurons, chapter 1."""

    name = "sigmoid"

    @staticmethod
    def fn(z: Array) -> Array:
        return expit(z)

    @staticmethod
    def prime_from_a(a: Array) -> Array:
        """sigma'(z) written with a = sigma(z): a(1 - a)."""
        return a * (1.0 - a)


class Tanh:
    """tanh neurons, eqs. (109)-(110); sigma(z) = (1 + tanh(z/2)) / 2, eq. (111)."""

    name = "tanh"

    @staticmethod
    def fn(z: Array) -> Array:
        return np.tanh(z)

    @staticmethod
    def prime_from_a(a: Array) -> Array:
        """tanh'(z) = 1 - tanh(z)^2 = 1 - a^2."""
        return 1.0 - a * a


class ReLU:
    """Rectified linear units, eq. (112): max(0, z)."""

    name = "relu"

    @staticmethod
    def fn(z: Array) -> Array:
        return np.maximum(z, 0.0)

    @staticmethod
    def prime_from_a(a: Array) -> Array:
        """1 where z > 0 (equivalently a > 0), else 0 (the value at z = 0 is taken as 0)."""
        return (a > 0).astype(a.dtype)


HIDDEN_ACTIVATIONS: dict[str, type] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}

OUTPUT_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "softmax")


def output_fn(output: str, z: Array) -> Array:
    """The output layer's activation a^L = f(z^L): ``"sigmoid"`` (eq. 3) or ``"softmax"`` (eq. 78)."""
    if output == "sigmoid":
        return expit(z)
    if output == "softmax":
        return softmax(z)
    raise ValueError(f"unknown output layer {output!r}; choose from {', '.join(OUTPUT_ACTIVATIONS)}")
