"""Every answer nndl gives, by id, with its chapter and one line (``nndl exercise --list``).

Cheap to import (no NumPy, no SymPy, no engine): the command line builds its choices
from it. The answers themselves are built by their chapter's module, found here by name:
exercises in ``EXERCISES`` of :mod:`nndl.answers.chapter1`, :mod:`~nndl.answers.chapter2`,
:mod:`nndl.answers.chapter3.exercises`, :mod:`nndl.answers.chapter5.exercises`.

The 43 exercises and problems of chapters 1-3 and 5 are listed in the book's order;
``number`` is their place among their chapter's exercises and problems.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    id: str
    chapter: int
    kind: str  # "exercise", "problem", "derive" or "explain"
    line: str  # one line, what is asked
    number: int = 0  # place among the chapter's exercises and problems (exercises only)


_EXERCISE_MODULES = {
    1: "nndl.answers.chapter1",
    2: "nndl.answers.chapter2",
    3: "nndl.answers.chapter3.exercises",
    5: "nndl.answers.chapter5.exercises",
}

# (id, chapter, kind, one line), in the book's order
_EXERCISES = (
    ("ch1-perceptron-scaling", 1, "exercise", "multiplying a perceptron network's weights and biases by c > 0 changes nothing"),
    ("ch1-sigmoid-limit", 1, "exercise", "sigmoid neurons with w, b scaled by c -> infinity act as perceptrons, except where w.x + b = 0"),
    ("ch1-binary-output", 1, "exercise", "an extra layer turning the ten outputs into a 4-bit binary code: its weights and biases"),
    ("ch1-steepest-descent", 1, "exercise", "the gradient step is the steepest descent for a fixed step length (Cauchy-Schwarz)"),
    ("ch1-one-variable", 1, "exercise", "gradient descent in one variable, and its geometric picture"),
    ("ch1-online-learning", 1, "exercise", "online learning (mini-batch of 1): advantages and disadvantages"),
    ("ch1-eq22-components", 1, "exercise", "eq. (22) written out component-wise, checked against eq. (4)"),
    ("ch1-no-hidden-layer", 1, "exercise", "a network with no hidden layer, [784, 10], trained by SGD: its accuracy"),
    ("ch2-matrix-form", 2, "exercise", "BP1 and BP2 in matrix form with the diagonal matrix Sigma'(z) (eqs. 33-35)"),
    ("ch2-prove-bp3-bp4", 2, "exercise", "proofs of BP3 and BP4"),
    ("ch2-modified-neuron", 2, "exercise", "backpropagation when one neuron has a different activation f"),
    ("ch2-linear-neurons", 2, "exercise", "backpropagation with linear neurons sigma(z) = z throughout"),
    ("ch2-minibatch-matrix", 2, "problem", "fully matrix-based mini-batch backpropagation, and its speed-up"),
    ("ch3-sigmoid-prime", 3, "exercise", "verify sigma'(z) = sigma(z)(1 - sigma(z))"),
    ("ch3-cross-entropy-roles", 3, "exercise", "why -[y ln a + (1-y) ln(1-a)] and not -[a ln y + (1-a) ln(1-y)]"),
    ("ch3-cross-entropy-minimum", 3, "exercise", "for 0 < y < 1 the cross-entropy is minimised (not zero) at a = y"),
    ("ch3-many-layer-cross-entropy", 3, "problem", "many layers, many neurons: the quadratic's dC/dw^L has sigma'(z^L) (eq. 65), the cross-entropy's not"),
    ("ch3-linear-output", 3, "problem", "linear output neurons with the quadratic cost: delta^L = a^L - y (eqs. 68-70)"),
    ("ch3-hidden-saturation", 3, "exercise", "the slowdown of saturated hidden neurons, which no output cost cures"),
    ("ch3-sigmoid-not-distribution", 3, "exercise", "a sigmoid output layer whose activations do not sum to 1"),
    ("ch3-softmax-monotonicity", 3, "exercise", "softmax is monotone: da_j/dz_k > 0 for j = k, < 0 otherwise"),
    ("ch3-softmax-nonlocality", 3, "exercise", "softmax is not local: a_j depends on every z_k"),
    ("ch3-softmax-inverse", 3, "problem", "inverting softmax: z_j = ln a_j + C"),
    ("ch3-softmax-derivatives", 3, "exercise", "derive eqs. (81) and (82)"),
    ("ch3-softmax-name", 3, "exercise", "where softmax gets its name: eq. (83) as c -> infinity"),
    ("ch3-softmax-backprop", 3, "problem", "backpropagation with softmax and log-likelihood: delta^L = a^L - y (eq. 84)"),
    ("ch3-large-rotations", 3, "exercise", "what goes wrong with arbitrarily large rotations when expanding the data"),
    ("ch3-asymptotic-performance", 3, "problem", "(research) how learning algorithms perform as the data grow"),
    ("ch3-new-init-std", 3, "exercise", "the standard deviation sqrt(3/2) of z under the new initialisation, N(0, 1/n_in) weights"),
    ("ch3-weight-decay-heuristic", 3, "problem", "L2 and the old initialisation: weight decay dominates the first epochs"),
    ("ch3-l1-mnist", 3, "exercise", "L1 regularisation on MNIST (30 hidden neurons): a lmbda that beats none"),
    ("ch3-cost-derivative", 3, "problem", "network.py's cost_derivative rewritten for the cross-entropy, and the problem with it"),
    ("ch3-early-stopping", 3, "exercise", "early stopping by no-improvement-in-n epochs"),
    ("ch3-early-stopping-other", 3, "problem", "another early-stopping rule"),
    ("ch3-eta-schedule", 3, "exercise", "the learning-rate schedule: halve eta on no-improvement-in-10, stop at eta/128"),
    ("ch3-hyperparameter-gradient", 3, "exercise", "why gradient descent on lmbda and eta is hard"),
    ("ch3-momentum-above-1", 3, "exercise", "what goes wrong with momentum mu > 1"),
    ("ch3-momentum-negative", 3, "exercise", "what goes wrong with momentum mu < 0"),
    ("ch3-momentum-network2", 3, "problem", "momentum-based SGD in network2"),
    ("ch3-tanh-sigmoid", 3, "exercise", "prove eq. (111): sigma(z) = (1 + tanh(z/2))/2"),
    ("ch5-large-derivative", 5, "problem", "an activation whose derivative can be much larger than 1/4: does it cure unstable gradients?"),
    ("ch5-unstable-width", 5, "problem", "|w sigma'(wa + b)| >= 1 only for |w| >= 4, on an interval of width eq. (123), at most ~0.45"),
    ("ch5-identity-neuron", 5, "problem", "the identity neuron: w_1, b, w_2 so one sigmoid neuron passes x in [0, 1] through"),
)


def _numbered():
    seen: dict[int, int] = {}
    for id_, chapter, kind, line in _EXERCISES:
        seen[chapter] = seen.get(chapter, 0) + 1
        yield Entry(id_, chapter, kind, line, seen[chapter])


#: The 43 exercises and problems, id -> Entry, in the book's order.
EXERCISES: dict[str, Entry] = {e.id: e for e in _numbered()}

#: Former ids still accepted by ``nndl exercise``, old -> current (not listed).
ALIASES: dict[str, str] = {"ch3-old-init-std": "ch3-new-init-std"}  # sqrt(3/2) is the NEW init's std


def resolve(id_: str) -> str:
    """The current id for ``id_`` (an alias's target, else ``id_`` itself)."""
    return ALIASES.get(id_, id_)


#: The topics of ``nndl derive`` and ``nndl explain`` (answered there, listed here too).
TOPICS: dict[str, Entry] = {
    e.id: e
    for e in (
        Entry("cross-entropy", 3, "derive", "how the cross-entropy follows from dC/db = a - y (eq. 72); where eq. (71) comes in"),
        Entry("softmax-log-likelihood", 3, "derive", "softmax + log-likelihood: dC/dz_j = a_j - y_j for every output"),
        Entry("quadratic", 2, "derive", "BP1 for the quadratic cost, with its 1/2 (eqs. 27, 30)"),
        Entry("sigmoid-prime", 3, "derive", "sigma' = sigma(1 - sigma), its maximum 1/4, eq. (111)"),
        Entry("l2", 3, "derive", "L2 regularization: weight decay, and why eq. (93) divides by n (eqs. 87-94)"),
        Entry("canonical-pairs", 3, "derive", "why cross-entropy + sigmoid and log-likelihood + softmax both give a - y"),
        Entry("shapes", 3, "explain", "what w_j, x_j and sigma(z) are in eq. (61), with shapes for a real batch"),
        Entry("hidden-layers", 3, "explain", "the hidden layers' gradients under the cross-entropy (BP1-BP4)"),
        Entry("saturation", 3, "explain", "chapter 3's saturated neuron: quadratic vs cross-entropy"),
        Entry("earlier-layers", 5, "explain", "does the cost change how earlier layers learn? (eq. 122)"),
        Entry("deep-networks", 5, "explain", "100 hidden layers: does cross-entropy help, does ReLU? (eqs. 122-124)"),
    )
}


def exercise_module(id_: str) -> str:
    """The module that builds exercise ``id_``'s answer (raises KeyError for an unknown id)."""
    return _EXERCISE_MODULES[EXERCISES[resolve(id_)].chapter]
