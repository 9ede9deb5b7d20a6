"""The book's three costs, each with ``fn`` (the cost) and ``delta`` (BP1), as in network2.

``fn(a, y, z=None, output=None)`` is the cost summed over a batch: rows of ``a``, ``y``
and ``z`` are examples, shape (m, n_L). ``delta(z, a, y, output=None)`` is the output
error delta^L = dC_x/dz^L for every example, shape (m, n_L) (BP1, eq. 33 in general).

``output`` names the output layer, ``"sigmoid"`` or ``"softmax"``; ``None`` means the
cost's natural partner (sigmoid for the quadratic and cross-entropy costs, softmax for
log-likelihood), which is what the book's two-argument forms assume.

Numerical stability: when ``z`` is given, costs are computed from z, never from
ln(a), because a = sigma(z) rounds to exactly 0 or 1 once |z| > ~37 (float64):
``-[y ln sigma(z) + (1-y) ln(1-sigma(z))] = log(1 + e^z) - y z`` is exact for every
finite z, where the book's ``np.nan_to_num`` form returns 1.797e308 (STYLE.md item 2).
The a-only forms use ``xlogy`` (0 ln 0 = 0) and are exact wherever a is not rounded
to 0 or 1; the network always passes z.

Cost histories in nndl are means over the examples plus the regularization term, with
n = the size of the *training* set; network2's ``total_cost`` instead divides the L2
term by the size of the set being evaluated (BOOK.md, "quirks"). See ``Network.total_cost``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logsumexp, xlogy

from nndl.activations import log_softmax, softmax

Array = NDArray[np.floating]


def _check_output(output: str) -> None:
    if output not in ("sigmoid", "softmax"):
        raise ValueError(f"unknown output layer {output!r}; choose from sigmoid, softmax")


def _logsumexp_without_each(z: Array) -> Array:
    """L[.., k] = ln sum_{i != k} e^{z_i}: the log of 1 - softmax(z)_k times sum e^z.

    Shape (m, K) from (m, K); needs K >= 2. Used for ln(1 - a_k) under a softmax output.
    """
    K = z.shape[-1]
    zz = np.broadcast_to(z[..., None, :], z.shape[:-1] + (K, K)).copy()  # (m, K, K)
    idx = np.arange(K)
    zz[..., idx, idx] = -np.inf
    return logsumexp(zz, axis=-1)


class QuadraticCost:
    """Quadratic cost C_x = 1/2 ||y - a^L||^2, eq. (27); delta^L = (a - y) sigma'(z), eq. (30)."""

    name = "quadratic"
    default_output = "sigmoid"

    @staticmethod
    def fn(a: Array, y: Array, z: Array | None = None, output: str | None = None) -> float:
        """Sum over the batch of 1/2 ||a - y||^2 (the 1/2 of eq. 27, as network2)."""
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z: Array, a: Array, y: Array, output: str | None = None) -> Array:
        """delta^L = nabla_a C (.) sigma'(z^L), BP1a with eq. (30).                    (m, n_L)

        sigma'(z) is written sigma(z) sigma(-z): exact even where a rounds to 1.
        Under a softmax output, BP1 takes the softmax Jacobian (eq. 33):
        delta_j = a_j (g_j - sum_k a_k g_k) with g = a - y.
        """
        output = output or QuadraticCost.default_output
        _check_output(output)
        if output == "sigmoid":
            return (a - y) * a * expit(-z)  # BP1, eq. (30): (a - y) sigma'(z), sigma' = a sigma(-z)
        g = a - y  # nabla_a C                                                         (m, n_L)
        return a * (g - np.sum(a * g, axis=-1, keepdims=True))  # BP1 via eq. (33)


class CrossEntropyCost:
    """Cross-entropy cost, eq. (63); with sigmoid outputs delta^L = a - y, eq. (66)."""

    name = "cross-entropy"
    default_output = "sigmoid"

    @staticmethod
    def fn(a: Array, y: Array, z: Array | None = None, output: str | None = None) -> float:
        """Sum over the batch of -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)], eq. (63).

        From z (stable): sigmoid output: sum log(1 + e^z) - y z; softmax output:
        ln a_k = z_k - LSE(z) and ln(1 - a_k) = LSE_{i != k}(z) - LSE(z).
        """
        output = output or CrossEntropyCost.default_output
        _check_output(output)
        if z is None:
            return -float(np.sum(xlogy(y, a) + xlogy(1.0 - y, 1.0 - a)))
        if output == "sigmoid":
            return float(np.sum(np.logaddexp(0.0, z) - y * z))
        lse = logsumexp(z, axis=-1, keepdims=True)
        log_a = z - lse
        log_1m_a = _logsumexp_without_each(z) - lse
        return -float(np.sum(y * log_a + (1.0 - y) * log_1m_a))

    @staticmethod
    def delta(z: Array, a: Array, y: Array, output: str | None = None) -> Array:
        """delta^L = a - y for sigmoid outputs: sigma'(z^L) cancels, eqs. (66) and (99).   (m, n_L)

        Under a softmax output (not one of the book's pairings) the Jacobian of eq. (78)
        is taken exactly: delta_j = -y_j + a_j sum_k y_k + a_j sum_k (1 - y_k)
        - sum_{k != j} (1 - y_k) a_j / (1 - a_k), with a_j / (1 - a_k) = e^{z_j - LSE_{i != k}} <= 1.
        """
        output = output or CrossEntropyCost.default_output
        _check_output(output)
        if output == "sigmoid":
            return a - y  # BP1 with eq. (66)
        lse_wo = _logsumexp_without_each(z)  # (m, K)
        log_ratio = z[..., :, None] - lse_wo[..., None, :]  # ln a_j/(1-a_k) <= 0 for j != k   (m, K, K)
        K = z.shape[-1]
        log_ratio[..., np.arange(K), np.arange(K)] = -np.inf  # the sum runs over k != j
        ratio = np.exp(log_ratio)
        cross = np.einsum("mjk,mk->mj", ratio, 1.0 - y)
        total = np.sum(y, axis=-1, keepdims=True) + np.sum(1.0 - y, axis=-1, keepdims=True)
        return a * total - y - cross  # BP1 via eq. (33)


class LogLikelihoodCost:
    """Log-likelihood cost C = -ln a^L_y, eq. (80), for a softmax output layer; delta^L = a - y, eq. (84)."""

    name = "log-likelihood"
    default_output = "softmax"

    @staticmethod
    def fn(a: Array, y: Array, z: Array | None = None, output: str | None = None) -> float:
        """Sum over the batch of -sum_j y_j ln a_j (= -ln a_y for one-hot y), eq. (80)."""
        output = output or LogLikelihoodCost.default_output
        _check_output(output)
        if z is None:
            return -float(np.sum(xlogy(y, a)))
        if output == "softmax":
            return -float(np.sum(y * log_softmax(z)))
        return float(np.sum(y * np.logaddexp(0.0, -z)))  # -y ln sigma(z)

    @staticmethod
    def delta(z: Array, a: Array, y: Array, output: str | None = None) -> Array:
        """delta^L_j = a_j - y_j for softmax outputs and one-hot y, eqs. (81) and (84).   (m, n_L)

        Under a sigmoid output, C = -ln sigma(z_y) gives delta = -y sigma(-z) = y (a - 1).
        """
        output = output or LogLikelihoodCost.default_output
        _check_output(output)
        if output == "softmax":
            return a - y  # BP1 with eq. (84)
        return -y * expit(-z)  # BP1: d(-y ln sigma(z))/dz = -y (1 - sigma(z))


COSTS: dict[str, type] = {
    "quadratic": QuadraticCost,
    "cross-entropy": CrossEntropyCost,
    "log-likelihood": LogLikelihoodCost,
}

# network2's JSON stores the class name (e.g. "CrossEntropyCost"); accept those too.
_ALIASES = {cls.__name__: key for key, cls in COSTS.items()}
_NAMES = {cls: key for key, cls in COSTS.items()}


def get_cost(name_or_cost) -> type:
    """The one normal form of a cost, used by everything that takes one (Network, io, CLI, runs).

    A name ("cross-entropy", or network2's "CrossEntropyCost"), one of the book's cost
    classes, or an *instance* of one of them all give that class (the book's costs are
    stateless: ``CrossEntropyCost()`` and ``CrossEntropyCost`` are the same cost). Any
    other object with callable ``fn`` and ``delta`` (a user's own cost, class or
    instance) is passed through as is.

    Raises ``ValueError`` for an unknown name (listing the choices) and ``TypeError``
    for anything else; no ``getattr`` on user data.
    """
    if isinstance(name_or_cost, str):
        key = _ALIASES.get(name_or_cost, name_or_cost)
        if key not in COSTS:
            raise ValueError(f"unknown cost {name_or_cost!r}; choose from {', '.join(COSTS)}")
        return COSTS[key]
    if isinstance(name_or_cost, type) and name_or_cost in _NAMES:
        return name_or_cost
    if type(name_or_cost) in _NAMES:  # an instance of a book cost: its class
        return type(name_or_cost)
    if callable(getattr(name_or_cost, "fn", None)) and callable(getattr(name_or_cost, "delta", None)):
        return name_or_cost
    raise TypeError(f"a cost needs fn(a, y) and delta(z, a, y); got {name_or_cost!r}")


def cost_name(cost) -> str:
    """The registry name of a cost ("cross-entropy") given in any form ``get_cost`` takes.

    A user's own cost (not one of the book's classes, even a subclass of one) is named by
    its class name, which is not in ``COSTS``: that is how io refuses to save it.
    """
    cost = get_cost(cost)
    if cost in _NAMES:
        return _NAMES[cost]
    return cost.__name__ if isinstance(cost, type) else type(cost).__name__


def cost_class_name(cost) -> str:
    """network2's name of a book cost ("CrossEntropyCost"), for its JSON files."""
    return COSTS[cost_name(cost)].__name__ if cost_name(cost) in COSTS else cost_name(cost)


def output_for(cost) -> str:
    """The natural output layer of a cost: its ``default_output``, else sigmoid."""
    return getattr(cost, "default_output", "sigmoid")


__all__ = [
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "COSTS",
    "get_cost",
    "cost_name",
    "cost_class_name",
    "output_for",
    "softmax",
]
