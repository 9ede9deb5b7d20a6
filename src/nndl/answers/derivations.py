"""The book's derivations by topic (``nndl derive TOPIC``), every step checked by SymPy.

Each topic's steps are built in its chapter's module (:mod:`nndl.answers.chapter2`,
:mod:`nndl.answers.chapter3.derivations`); :func:`derive` runs every check
(:func:`nndl.answers.checks.run_check`) and returns a :class:`Derivation`.
"""

from __future__ import annotations

from nndl.answers.chapter2 import _quadratic_steps
from nndl.answers.chapter3.derivations import (
    _canonical_pairs_steps,
    _cross_entropy_steps,
    _l2_steps,
    _sigmoid_prime_steps,
    _softmax_numeric,
    _softmax_steps,
)
from nndl.answers.checks import CheckedStep, Derivation, NumericCheck, Step, _Topic, run_check


def build_steps(topic: str) -> list[Step]:
    """The unchecked steps of a derivation (what :func:`derive` checks)."""
    return _topic(topic).build()


def numeric_checks(topic: str) -> list[NumericCheck]:
    """The floating-point checks of a derivation on real networks (may be empty)."""
    t = _topic(topic)
    return t.numeric() if t.numeric is not None else []


def derive(topic: str, *, numeric: bool = True) -> Derivation:
    """Build the derivation ``topic`` and run every check.

    Parameters
    ----------
    topic : str
        One of :data:`TOPICS`.
    numeric : bool
        Also run the floating-point checks on a real network where the topic has
        some (``softmax-log-likelihood``); they need NumPy and the engine.

    Returns
    -------
    Derivation
        ``.passed`` is True when every check passed.
    """
    t = _topic(topic)
    steps = tuple(
        CheckedStep(step, tuple(run_check(c) for c in step.checks)) for step in t.build()
    )
    numeric_results = tuple(numeric_checks(topic)) if numeric else ()
    return Derivation(
        topic=topic,
        title=t.title,
        question=t.question,
        setting=t.setting,
        steps=steps,
        answer=t.answer,
        numeric=numeric_results,
    )


def _topic(topic: str) -> _Topic:
    try:
        return _TOPICS[topic]
    except KeyError:
        raise ValueError(
            f"unknown derivation {topic!r}; choose from {', '.join(TOPICS)}"
        ) from None


# --------------------------------------------------------------------------- registry

_TOPICS: dict[str, _Topic] = {
    "cross-entropy": _Topic(
        "Deriving the cross-entropy from dC/db = a - y (chapter 3, eqs. 71-77)",
        "How does the book get the cross-entropy (76) from (72) and the chain rule, "
        "and where does eq. (71) come in? (chapter 3, 'Introducing the cross-entropy cost function')",
        "one sigmoid neuron: inputs x_j, weights w_j, bias b, z = sum_j w_j x_j + b, "
        "output a = sigma(z) in (0, 1), target y; C is a function of a",
        "Only (72) is used to find C: with the chain rule (73) and sigma' = a(1 - a) (74) "
        "it fixes dC/da = (a - y)/(a(1 - a)) (75), and a function whose derivative is "
        "fixed is fixed up to a constant (76). Eq. (71) gives the same equation for "
        "dC/da once x_j cancels, so it is consistent with (72) but not needed beyond "
        "it. Differentiating (76) again gives back both (71) and (72): the factor "
        "sigma'(z) that slows the quadratic cost down has cancelled.",
        _cross_entropy_steps,
    ),
    "softmax-log-likelihood": _Topic(
        "Softmax with the log-likelihood cost: dC/dz_j = a_j - y_j (chapter 3, eqs. 78-84)",
        "Why is dC/db_j = a_j - y_j for every output j, when C = -ln a_y only reads "
        "the output of the correct class? (chapter 3, 'Softmax', eqs. 80-84)",
        "output layer of K neurons, weighted inputs z_1..z_K, a = softmax(z), correct "
        "class y, one-hot target y_j = delta_jy; C = -ln a_y",
        "C reads only a_y, but a_y = e^(z_y)/sum_k e^(z_k) depends on every z_k through "
        "its denominator. By the chain rule over all outputs, dC/dz_j = sum_k "
        "(dC/da_k)(da_k/dz_j); only k = y survives, and the softmax Jacobian "
        "a_y(delta_yj - a_j) times -1/a_y gives a_j - y_j. So the correct class is pushed "
        "up by 1 - a_y and every wrong class j down by a_j; these balance. "
        "dC/db_j = a_j - y_j and dC/dw_jk = a^(L-1)_k (a_j - y_j) follow by BP3/BP4.",
        _softmax_steps,
        _softmax_numeric,
    ),
    "quadratic": _Topic(
        "BP1 for the quadratic cost, with the 1/2 (chapter 2, eqs. 27, 30)",
        "Where does delta^L = (a^L - y) (.) sigma'(z^L) come from, and what is the 1/2 for?",
        "output layer of sigmoid neurons a_j = sigma(z_j), target y, "
        "C = (1/2) sum_j (y_j - a_j)^2",
        "The 1/2 cancels the 2 of the square, so nabla_a C = a - y (leaving it out only "
        "doubles eta). BP1 multiplies by sigma'(z^L), which is at most 1/4 and nearly 0 "
        "for a saturated output: that factor is the learning slowdown that the "
        "cross-entropy removes.",
        _quadratic_steps,
    ),
    "sigmoid-prime": _Topic(
        "The derivative of the sigmoid: sigma' = sigma(1 - sigma)",
        "Why is sigma'(z) = sigma(z)(1 - sigma(z)), and how large can it be?",
        "sigma(z) = 1/(1 + e^(-z)), a = sigma(z)",
        "sigma'(z) = sigma(z)(1 - sigma(z)) = a(1 - a): the derivative comes from the "
        "stored activation. It is at most 1/4 (at z = 0) and symmetric about z = 0.",
        _sigmoid_prime_steps,
    ),
    "l2": _Topic(
        "L2 regularization: weight decay, eq. (93), and why it divides by n",
        "Where does w -> (1 - eta lambda/n) w - (eta/m) sum_x dC_x/dw come from, and "
        "why n (training-set size) and not m (mini-batch size)?",
        "C = C_0 + (lambda/2n) sum_w w^2 with C_0 = (1/n) sum_x C_x over n training "
        "examples; mini-batches of m examples; learning rate eta",
        "Differentiating the penalty gives (lambda/n) w, so every step shrinks w by "
        "1 - eta lambda/n (weight decay). SGD estimates only the data term by a "
        "mini-batch average; the decay term is exact and keeps the n of the cost. "
        "Using m would silently multiply lambda by n/m.",
        _l2_steps,
    ),
    "canonical-pairs": _Topic(
        "Why cross-entropy + sigmoid and log-likelihood + softmax both give delta = a - y",
        "Why do two different costs with two different output activations give the same "
        "output error delta^L = a^L - y?",
        "weighted input z (a vector for softmax), target y, output a",
        "In each matched pair the cost is A(z) - y.z for the log-normalizer A of a "
        "probability distribution (Bernoulli, categorical, Gaussian), and the output "
        "activation is dA/dz. So delta^L = dA/dz - y = a - y. The quadratic cost with "
        "sigmoid outputs is not matched, and keeps sigma'(z).",
        _canonical_pairs_steps,
    ),
}

#: The derivations :func:`derive` knows, in the order ``nndl derive --help`` lists them.
TOPICS: tuple[str, ...] = tuple(_TOPICS)


