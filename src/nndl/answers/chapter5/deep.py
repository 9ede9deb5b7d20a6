"""Very deep networks: does the cross-entropy help 100 hidden layers, and does ReLU?
(``nndl explain deep-networks``; chapter 5, eqs. 122-124, and chapter 6).

A learner's question about chapter 5: the cross-entropy removes sigma'(z^L) from the
output error; does it help a network with 100 hidden layers at all, and does ReLU solve
the problem? Answered by running networks:

1. Per-layer ||dC/db^l|| and ||dC/dw^l|| (chapter 5's speed of learning) for 2 to 100
   hidden layers of 30 neurons; sigmoid, tanh and ReLU hidden neurons, each with its usual
   initialisation (Glorot & Bengio 2010 for sigmoid and tanh, He et al. 2015 for ReLU;
   biases 0) and with the book's (weights N(0, 1/n_in), biases N(0, 1), chapter 3); under
   the quadratic and the cross-entropy costs; at initialisation and after a little
   training on MNIST (the 8x8 digits if MNIST is not on the machine).
2. The exploding case of chapter 5 (w = 100, biases making every z = 0, so each factor
   w sigma'(z) = 25) and the general bound: the error shrinks or grows by at most
   max|f'(z^l)| ||w^(l+1)||_2 per layer (eq. 124's product, in matrix form).
3. A deep sigmoid network vs the same depth with ReLU and He initialisation, trained for
   the same fixed budget: do they learn at all?

The defaults take about a minute on two cores; ``full=True`` (``--full``) trains longer on
more data. Networks are nndl's own (:class:`nndl.Network`); only the initial weights are
set here. matplotlib is imported only inside ``figure()``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nndl.answers.checks import Claim
from nndl.answers.tables import Table, _Result, _training_set

log = logging.getLogger(__name__)

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INIT_KINDS = ("usual", "book")
COSTS = ("quadratic", "cross-entropy")
USUAL_INIT = {"sigmoid": "Glorot", "tanh": "Glorot", "relu": "He"}

DEPTHS = (2, 5, 20, 100)  # hidden layers, gradient norms at initialisation (>= 2: first/last hidden)
HIDDEN = 30  # neurons per hidden layer (chapter 5's width)
BATCH = 100  # examples over which the gradient norms are averaged


@dataclass(frozen=True)
class Budget:
    """How much training: the short default, or ``--full``."""

    n_train: int  # training images
    n_eval: int  # validation images (accuracy)
    epochs: int  # epochs of each "a little training" run (section 1)
    train_depth: int  # hidden layers of the networks trained in section 1
    race_depths: tuple[int, ...]  # hidden layers of the sigmoid vs ReLU race (section 3)
    race_epochs: int
    mini_batch_size: int = 10


QUICK = Budget(n_train=5000, n_eval=1000, epochs=2, train_depth=20, race_depths=(10, 30, 100), race_epochs=5)
FULL = Budget(n_train=50_000, n_eval=10_000, epochs=3, train_depth=100, race_depths=(10, 30, 100), race_epochs=10)
ETA = {"sigmoid": 0.1, "tanh": 0.01, "relu": 0.01}  # chapter 5 trains sigmoids with eta = 0.1


def initialise(net, activation: str, init: str, rng: np.random.Generator) -> None:
    """Set ``net``'s weights and biases: ``init`` "book" keeps nndl's default (chapter 3's
    N(0, 1/n_in) weights, N(0, 1) biases); "usual" draws Glorot-normal weights
    (std sqrt(2/(n_in + n_out)), Glorot & Bengio 2010) for sigmoid and tanh layers and
    He-normal weights (std sqrt(2/n_in), He et al. 2015) for ReLU layers, with zero biases.
    The sigmoid output layer is Glorot in every "usual" network.
    """
    if init == "book":
        return
    if init != "usual":
        raise ValueError(f"unknown init {init!r}; choose from {', '.join(INIT_KINDS)}")
    last = len(net.weights) - 1
    for l, W in enumerate(net.weights):
        n_out, n_in = W.shape
        std = math.sqrt(2.0 / n_in) if activation == "relu" and l < last else math.sqrt(2.0 / (n_in + n_out))
        net.weights[l] = rng.standard_normal((n_out, n_in)) * std  # (n_out, n_in)
        net.biases[l] = np.zeros(n_out)


def make_network(n_in: int, depth: int, activation: str, init: str, cost: str, seed: int):
    """A [n_in, 30 x depth, 10] network with sigmoid outputs, initialised by :func:`initialise`."""
    import nndl

    rng = np.random.default_rng(seed)
    net = nndl.Network([n_in, *[HIDDEN] * depth, 10], cost=cost, hidden=activation, rng=rng)
    initialise(net, activation, init, rng)
    return net


def layer_norms(net, X: np.ndarray, Y: np.ndarray) -> tuple[list[float], list[float], float]:
    """Per-layer ||mean dC/db^l|| (BP3) and ||mean dC/dw^l||_F (BP4), first hidden layer first,
    and the worst ratio of the per-layer bound of eq. (124) (at most 1 when it holds):

    ||delta^l_x|| <= max_j |f'(z^l_xj)| * ||w^(l+1)||_2 * ||delta^(l+1)_x||   (BP2)
    """
    from nndl.activations import HIDDEN_ACTIVATIONS

    zs, acts = net.forward_pass(X)  # acts[0] = X                                 (m, n_l)
    D = net.deltas(X, Y)  # delta^l per layer                                      (m, n_l)
    m = len(X)
    norms_b = [float(np.linalg.norm(d.mean(axis=0))) for d in D]
    norms_w = [float(np.linalg.norm(d.T @ acts[l] / m)) for l, d in enumerate(D)]
    prime = HIDDEN_ACTIVATIONS[net.hidden].prime_from_a
    worst = 0.0
    for l in range(len(D) - 1):  # hidden layers: BP2 from layer l + 1
        spectral = float(np.linalg.norm(net.weights[l + 1], 2))
        fmax = prime(acts[l + 1]).max(axis=1)  # max_j |f'(z_j)| per example        (m,)
        bound = fmax * spectral * np.linalg.norm(D[l + 1], axis=1)
        lhs = np.linalg.norm(D[l], axis=1)
        ok = bound > 0
        if np.any(~ok & (lhs > 0)):
            return norms_b, norms_w, math.inf
        if np.any(ok):
            worst = max(worst, float((lhs[ok] / bound[ok]).max()))
    return norms_b, norms_w, worst


def _per_layer(ratio: float, depth: int) -> float:
    """The mean factor per layer, ratio^(1/(depth - 1)), of a first/last hidden ratio over
    ``depth`` hidden layers (depth - 1 steps of BP2)."""
    return ratio ** (1.0 / (depth - 1)) if ratio > 0 else 0.0


def _ratio(norms: list[float]) -> float:
    """First hidden layer's norm over the last hidden layer's (0 if that is 0)."""
    return norms[0] / norms[-2] if norms[-2] > 0 else 0.0


def exploding_chain(depth: int, *, w: float = 100.0, x: float = 1.0, y: float = 0.0):
    """Chapter 5's exploding gradient: a chain of ``depth`` + 1 sigmoid neurons (``depth``
    hidden, one output), one per layer, every weight ``w`` and the biases chosen so that
    every z = 0 (b_1 = -w x, b_j = -w sigma(0) = -w/2): each factor w sigma'(z_j) of
    eq. (122) is w/4 (25 for w = 100). Returns the network, X and Y (quadratic cost).
    """
    import nndl

    net = nndl.Network([1] * (depth + 2), cost=nndl.QuadraticCost, rng=np.random.default_rng(0))
    net.weights = [np.array([[w]]) for _ in range(depth + 1)]
    net.biases = [np.array([-w * x])] + [np.array([-w / 2]) for _ in range(depth)]
    return net, np.array([[x]]), np.array([[y]])


@dataclass(frozen=True)
class DeepNetworksResult(_Result):
    """What :func:`deep_networks` measured; see the module docstring."""

    data: str
    n_in: int
    budget: dict[str, Any]
    at_init: list[dict[str, Any]]  # one per (depth, activation, init, cost)
    trained: list[dict[str, Any]]  # one per (activation, init, cost) at budget.train_depth
    chain: dict[str, Any]
    race: list[dict[str, Any]]  # one per (depth, network)
    claims: list[Claim] = field(default_factory=list)
    seconds: float = 0.0
    title: str = "100 hidden layers: does the cross-entropy help, and does ReLU? (chapter 5, eqs. 122-124)"
    equations: tuple[str, ...] = (
        r"\frac{\partial C}{\partial b_1} = \sigma'(z_1) \, w_2 \sigma'(z_2) \, w_3 "
        r"\sigma'(z_3) \, w_4 \sigma'(z_4) \, \frac{\partial C}{\partial a_4} \quad (122)",
        r"|w \sigma'(wa+b)| \ge 1 \ \text{only for}\ |w| \ge 4,\ \text{on an interval of width}\ "
        r"\frac{2}{|w|} \ln\left( \frac{|w|(1+\sqrt{1-4/|w|})}{2}-1\right) \quad (123)",
        r"\delta^l = \Sigma'(z^l) (w^{l+1})^T \Sigma'(z^{l+1}) (w^{l+2})^T \ldots "
        r"\Sigma'(z^L) \nabla_a C \quad (124)",
    )

    def _parts(self):
        b = self.budget
        deepest = max(r["depth"] for r in self.at_init)
        intro = [
            "Question (chapter 5, 'What's causing the vanishing gradient problem?'): the "
            "cross-entropy removes sigma'(z^L) from the output error; does it help a network "
            "with 100 hidden layers at all, and does ReLU solve the problem? Below: networks "
            f"[{self.n_in}, 30 x depth, 10] with sigmoid outputs on {self.data}; the speed "
            "of learning of a layer is ||dC/db^l|| (chapter 5's measure) and ||dC/dw^l||, "
            f"means over {BATCH} training images. 'usual' initialisation = Glorot (sigmoid, "
            "tanh) or He (ReLU) weights with zero biases; 'book' = chapter 3's N(0, 1/n_in) "
            "weights and N(0, 1) biases.",
        ]
        rows = []
        for r in self.at_init:
            if r["depth"] != deepest and r["init"] == "book":
                continue
            rows.append([str(r["depth"]), r["activation"], r["init"], r["cost"],
                         f"{r['norms_b'][0]:.2e}", f"{r['norms_b'][-2] if r['depth'] else 0:.2e}",
                         f"{r['norms_b'][-1]:.2e}", f"{r['ratio_b']:.1e}", f"{r['ratio_w']:.1e}"])
        headers = ["hidden layers", "neurons", "init", "cost", "||dC/db|| first hidden",
                   "last hidden", "output", "first/last hidden (b)", "first/last hidden (w)"]
        tables = [Table("1. At initialisation (same weights for both costs):", headers, rows)]
        trows = [[r["activation"], r["init"], r["cost"], f"{r['ratio_before']:.1e}",
                  f"{r['ratio_after']:.1e}", f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "diverged"]
                 for r in self.trained]
        tables.append(Table(
            f"1b. After a little training ({b['epochs']} epoch(s) on {b['n_train']:,} images, "
            f"mini-batch {b['mini_batch_size']}, eta by neuron: {ETA}), {b['train_depth']} hidden layers:",
            ["neurons", "init", "cost", "first/last hidden before", "after", "validation accuracy"], trows))
        c = self.chain
        tables.append(Table(
            f"2. Exploding: a chain of {c['depth']} hidden sigmoid neurons + 1 output, every w = "
            f"{c['w']:g}, every z = 0 (so w sigma'(z) = {c['factor']:g}):",
            ["quantity", "value"],
            [["|dC/db| of the output neuron", f"{c['db'][-1]:.3e}"],
             ["|dC/db| of the last hidden neuron", f"{c['db'][-2]:.3e}"],
             ["|dC/db| of the first hidden neuron", f"{c['db'][0]:.3e}"],
             ["first / last hidden", f"{c['db'][0] / c['db'][-2]:.3e}"],
             [f"product of the {c['depth'] - 1} factors w sigma'(z) between them (eq. 122)",
              f"{c['product']:.3e}"],
             ["worst layer-to-layer ratio vs 25 (relative difference)", f"{c['factor_error']:.1e}"],
             [f"4-neuron chain: dC/db_1 by backprop vs central differences (rel. error)",
              f"{c['fd_error']:.1e}"]]))
        race_rows = [[str(r["depth"]), r["net"], f"{r['eta']:g}",
                      ", ".join(f"{a:.1%}" for a in r["accuracies"]) or "-",
                      str(r.get("classes_predicted", "")), r["status"], f"{r['ratio_before']:.1e}",
                      f"{r['seconds']:.1f} s"] for r in self.race]
        tables.append(Table(
            f"3. Fixed budget: {b['race_epochs']} epochs on {b['n_train']:,} images, "
            f"cross-entropy, validation accuracy per epoch (chance = 10 %):",
            ["hidden layers", "network", "eta", "accuracy by epoch", "classes predicted at the end",
             "status", "first/last hidden at init", "time"],
            race_rows))
        tables.append(Table("Checks:", ["claim", "", ""],
                            [[cl.text, "ok" if cl.passed else "FAIL", cl.detail] for cl in self.claims]))
        answer = self._answer()
        return intro, tables, answer

    def _find(self, rows, **keys):
        for r in rows:
            if all(r.get(k) == v for k, v in keys.items()):
                return r
        return None

    def _answer(self) -> str:
        deepest = max(r["depth"] for r in self.at_init)
        sq = self._find(self.at_init, depth=deepest, activation="sigmoid", init="book", cost="quadratic")
        sc = self._find(self.at_init, depth=deepest, activation="sigmoid", init="book", cost="cross-entropy")
        rh = self._find(self.at_init, depth=deepest, activation="relu", init="usual", cost="cross-entropy")
        race = {(r["depth"], r["net"]): r for r in self.race}
        dmax = max(r["depth"] for r in self.race)
        sig, relu = race.get((dmax, "sigmoid, book init")), race.get((dmax, "ReLU, He init"))
        dmin = min(r["depth"] for r in self.race)
        sig_s, relu_s = race.get((dmin, "sigmoid, book init")), race.get((dmin, "ReLU, He init"))

        def best(r):
            if r is None or not r["accuracies"]:
                return "diverged"
            if r.get("classes_predicted") == 1:  # one class for every image: it has not learned
                return (f"{max(r['accuracies']):.1%} at best and ends predicting one class for every "
                        "image (a constant predictor: it has not learned)")
            return f"{max(r['accuracies']):.1%} at best"

        return (
            "the cost changes only the output error delta^L (BP1): with the cross-entropy it lacks "
            "the factor sigma'(z^L), so it is larger, and BP2 carries that larger error into every "
            "layer. What the cost cannot change is everything between the output and layer l: "
            "BP2 multiplies the error, layer by layer, by (w^(l+1))^T and by sigma'(z^l) <= 1/4 "
            "(eq. 124; eq. 122 for one neuron per layer), and that product is the same for "
            "every cost; whether it shrinks depends on the weights too (sigma' <= 1/4 alone "
            "does not make it shrink when |w| > 4). With "
            f"{deepest} hidden sigmoid layers (book init) the first hidden "
            f"layer's ||dC/db|| is {sq['ratio_b']:.1e} times the last hidden layer's under the "
            f"quadratic cost and {sc['ratio_b']:.1e} times under the cross-entropy: the cost "
            "rescales every layer by the same factor, the ratio stays. So no, the "
            "cross-entropy does not help the earlier layers of a deep network relative to the "
            f"later ones{self._cost_in_training()}. What does change "
            "the product is its factors: the activation (ReLU's derivative is 1 wherever the "
            "neuron is active, instead of at most 1/4) and the initialisation (He's std "
            "sqrt(2/n_in) keeps ||w|| times the fraction of active ReLUs near 1). With both, "
            f"the {deepest}-layer ratio at initialisation is {rh['ratio_b']:.1e}. The same "
            f"product explodes instead when |w sigma'(z)| > 1: w = 100 with z = 0 gives a factor "
            f"of 25 per layer, {self.chain['product']:.1e} over {self.chain['depth'] - 1} layers; "
            "for sigmoids that needs |w| >= 4 and z in a narrow band (eq. 123), which is why the "
            "gradient is unstable rather than reliably large. In a fixed budget: "
            f"with {dmin} hidden layers the sigmoid net reaches {best(sig_s)} and the ReLU + He "
            f"net {best(relu_s)}; with {dmax} hidden layers the sigmoid net reaches {best(sig)} "
            f"(chance is 10 %) and the ReLU + He net {best(relu)}. These are single runs at one "
            f"learning rate per network (eta = {ETA['sigmoid']:g} for sigmoids, {ETA['relu']:g} for "
            "ReLU) and one budget; other learning rates were not tried here, and a sigmoid net "
            "that does not learn at one eta may learn at another. ReLU with He initialisation "
            f"shrinks the gradient much less per layer at initialisation ({_per_layer(rh['ratio_b'], deepest):.2f} "
            f"against the sigmoid's {_per_layer(sc['ratio_b'], deepest):.2f}), but over {deepest} layers "
            f"the first layer still gets {rh['ratio_b']:.1e} of the last one's gradient, and it does not "
            "make 100 plain layers easy to train: chapter 6 ('Other approaches to deep neural nets', and its deep "
            "convolutional networks) trains deep networks with ReLUs, convolutions, better "
            "initialisation, more data and regularisation together, and later work adds "
            "normalisation and residual connections. One reasonable reading of these runs, "
            "not the last word: the answer depends on the width, the learning rate and the budget."
        )

    def _cost_in_training(self) -> str:
        """What the short training runs show about the cost (it still helps the output layer)."""
        pairs = []
        for r in self.trained:
            if r["cost"] == "cross-entropy":
                q = self._find(self.trained, activation=r["activation"], init=r["init"], cost="quadratic")
                if q and r["accuracy"] is not None and q["accuracy"] is not None:
                    pairs.append((r["accuracy"] - q["accuracy"], r, q))
        if not pairs:
            return ""
        gain, r, q = max(pairs, key=lambda t: t[0])
        if gain <= 0.01:
            return ""
        return (f" (it does help the whole network start faster, because the output layer no longer "
                f"saturates: {r['activation']} with {r['init']} init and {r['depth']} hidden layers "
                f"reached {r['accuracy']:.1%} under the cross-entropy and {q['accuracy']:.1%} under "
                f"the quadratic in table 1b)")

    def to_dict(self) -> dict[str, Any]:
        return {"topic": "deep-networks", "data": self.data, "n_in": self.n_in, "budget": self.budget,
                "at_init": self.at_init, "trained": self.trained, "chain": self.chain,
                "race": self.race, "seconds": self.seconds,
                "claims": [{"label": c.label, "value": c.value, "op": c.op, "bound": c.bound,
                            "passed": c.passed, "detail": c.detail} for c in self.claims]}

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    def figure(self):
        """Four panels: per-layer ||dC/db^l|| at init (deepest nets), the cost's effect, the
        exploding chain, and the fixed-budget race."""
        from matplotlib.figure import Figure

        deepest = max(r["depth"] for r in self.at_init)
        fig = Figure(figsize=(12, 8.5), layout="constrained")
        (a1, a2), (a3, a4) = fig.subplots(2, 2)
        for r in self.at_init:
            if r["depth"] == deepest and r["cost"] == "cross-entropy":
                a1.plot(range(2, len(r["norms_b"]) + 2), r["norms_b"],
                        label=f"{r['activation']}, {r['init']} init",
                        linestyle="-" if r["init"] == "usual" else "--")
        a1.set_yscale("log")
        a1.set_xlabel(r"layer $l$ (2 = first hidden, last = output)")
        a1.set_ylabel(r"$\|\partial C/\partial b^l\|$")
        a1.set_title(f"{deepest} hidden layers at initialisation, cross-entropy")
        a1.legend(fontsize=8)
        for cost, style in (("quadratic", "--"), ("cross-entropy", "-")):
            r = self._find(self.at_init, depth=deepest, activation="sigmoid", init="book", cost=cost)
            a2.plot(range(2, len(r["norms_b"]) + 2), r["norms_b"], style, label=f"sigmoid, {cost}")
        a2.set_yscale("log")
        a2.set_xlabel(r"layer $l$")
        a2.set_ylabel(r"$\|\partial C/\partial b^l\|$")
        a2.set_title("The cost shifts every layer alike (same weights)")
        a2.legend(fontsize=8)
        c = self.chain
        a3.plot(range(2, len(c["db"]) + 2), c["db"], marker=".")
        a3.set_yscale("log")
        a3.set_xlabel(r"layer $l$ of the chain")
        a3.set_ylabel(r"$|\partial C/\partial b^l|$")
        a3.set_title(rf"Exploding: $w = {c['w']:g}$, $z = 0$, $w\sigma'(z) = {c['factor']:g}$ per layer")
        for r in self.race:
            if r["accuracies"]:
                a4.plot(range(1, len(r["accuracies"]) + 1), [100 * a for a in r["accuracies"]],
                        marker="o", label=f"{r['depth']} hidden, {r['net']}")
        a4.axhline(10, color="grey", linewidth=0.8)
        a4.set_xlabel("epoch")
        a4.xaxis.get_major_locator().set_params(integer=True)
        a4.set_ylabel("validation accuracy (%)")
        a4.set_title("Fixed budget: does it learn?")
        a4.legend(fontsize=8)
        for ax in (a1, a2, a3, a4):
            ax.grid(True, which="both", alpha=0.3)
        fig.suptitle("Very deep networks: what the cost changes and what it cannot (eqs. 122-124)")
        return fig


def _train(net, train, evaluation, epochs: int, eta: float, mbs: int, seed: int):
    """Train ``net`` by SGD; (validation accuracies per epoch, "ok" | "diverged")."""
    from nndl.answers.experiment import Subset, accuracies, train as train_quietly

    data = Subset(train[0], train[1], evaluation[0], evaluation[1], "")
    history, status = train_quietly(net, data, epochs, mbs, eta, seed=seed)
    return accuracies(history, len(evaluation[0])), status


def deep_networks(*, depths=DEPTHS, full: bool = False, data: str = "auto", seed: int = 0,
                  m: int = BATCH) -> DeepNetworksResult:
    """Run the three parts described in the module docstring and return the result.

    Parameters
    ----------
    depths : sequence of int
        Hidden layers of the networks whose gradients are measured at initialisation
        (default 2, 5, 20, 100), each at least 2 (the first/last hidden ratio needs two
        hidden layers), no repeats. The training runs use the budget's depths, capped at
        ``max(depths)``. Raises ``ValueError`` for an empty list, a repeat or a depth < 2.
    full : bool
        The real size (:data:`FULL`: all 50,000 training images, longer runs) instead of
        :data:`QUICK` (about a minute on two cores).
    data : "auto" | "mnist" | "digits"
        As for ``nndl explain``: MNIST when it is on this machine, else the 8x8 digits.
    seed : int
        Seeds the weights and the shuffles.
    m : int
        Training images over which the gradient norms are averaged.
    """
    start = time.perf_counter()
    depths = [int(d) for d in depths]
    if not depths:
        raise ValueError("depths: name at least one number of hidden layers")
    if len(set(depths)) != len(depths):
        raise ValueError(f"depths: each depth once; got {', '.join(map(str, depths))}")
    if min(depths) < 2:
        raise ValueError(f"depths must be at least 2 hidden layers (the first/last hidden ratio needs "
                         f"two); got {', '.join(map(str, depths))}")
    depths = sorted(depths)
    budget = FULL if full else QUICK
    training, description = _training_set(data)
    n_eval = min(budget.n_eval, len(training.X) // 4)
    n_train = min(budget.n_train, len(training.X) - n_eval)
    if not 1 <= m <= n_train:
        raise ValueError(f"the batch size must be between 1 and {n_train}; got {m}")
    Xtr, ytr = training.X[:n_train], training.y[:n_train]
    Xev, yev = training.X[-n_eval:], training.y[-n_eval:]  # held out from the training images
    X, Y = Xtr[:m], np.eye(10)[ytr[:m]]
    n_in = X.shape[1]
    claims: list[Claim] = []
    worst_bound = 0.0

    # 1. at initialisation
    at_init = []
    for depth in depths:
        for activation in ACTIVATIONS:
            for init in INIT_KINDS:
                net = make_network(n_in, depth, activation, init, "quadratic", seed)
                for cost in COSTS:
                    net.cost = cost  # the same weights under both costs
                    nb, nw, bound = layer_norms(net, X, Y)
                    worst_bound = max(worst_bound, bound)
                    at_init.append(dict(depth=depth, activation=activation, init=init, cost=cost,
                                        norms_b=nb, norms_w=nw, ratio_b=_ratio(nb), ratio_w=_ratio(nw)))
    log.info("deep-networks: gradient norms at initialisation done (%.1f s)", time.perf_counter() - start)

    # 1b. after a little training
    train_depth = min(budget.train_depth, max(depths))
    trained = []
    for activation in ACTIVATIONS:
        for init in INIT_KINDS:
            for cost in COSTS:
                net = make_network(n_in, train_depth, activation, init, cost, seed)
                before = _ratio(layer_norms(net, X, Y)[0])
                acc, status = _train(net, (Xtr, ytr), (Xev, yev), budget.epochs, ETA[activation],
                                     budget.mini_batch_size, seed)
                after = _ratio(layer_norms(net, X, Y)[0]) if status == "ok" else float("nan")
                trained.append(dict(activation=activation, init=init, cost=cost, depth=train_depth,
                                    ratio_before=before, ratio_after=after,
                                    accuracy=acc[-1] if acc else None, status=status))
    log.info("deep-networks: short training runs done (%.1f s)", time.perf_counter() - start)

    # 2. exploding chain
    from nndl import gradcheck

    chain_depth = max(depths)
    net, Xc, Yc = exploding_chain(chain_depth)
    db = [abs(float(g[0])) for g in net.backprop(Xc, Yc)[0]]
    factors = [db[l] / db[l + 1] for l in range(chain_depth - 1)]  # hidden layer l vs l + 1
    factor_error = max(abs(f / 25.0 - 1.0) for f in factors) if factors else 0.0
    short, Xs, Ys = exploding_chain(3)
    fd_b, _ = gradcheck.numerical_gradients(short, Xs, Ys, eps=1e-6)
    bp_b, _ = short.backprop(Xs, Ys)
    fd_error = gradcheck.relative_error(fd_b[0], bp_b[0])
    chain = dict(depth=chain_depth, w=100.0, factor=25.0, db=db, product=25.0 ** (chain_depth - 1),
                 factor_error=factor_error, fd_error=fd_error)

    # 3. the fixed-budget race
    race = []
    for depth in sorted({min(d, max(depths)) for d in budget.race_depths}):
        for name, activation, init, eta in (("sigmoid, book init", "sigmoid", "book", ETA["sigmoid"]),
                                            ("ReLU, He init", "relu", "usual", ETA["relu"])):
            t0 = time.perf_counter()
            net = make_network(n_in, depth, activation, init, "cross-entropy", seed)
            before = _ratio(layer_norms(net, X, Y)[0])
            acc, status = _train(net, (Xtr, ytr), (Xev, yev), budget.race_epochs, eta,
                                 budget.mini_batch_size, seed)
            classes = (len(np.unique(net.feedforward(Xev).argmax(axis=1))) if status == "ok" else 0)
            race.append(dict(depth=depth, net=name, eta=eta, accuracies=acc, status=status,
                             classes_predicted=classes, ratio_before=before,
                             seconds=time.perf_counter() - t0))
    log.info("deep-networks: fixed-budget race done (%.1f s)", time.perf_counter() - start)

    # claims, each decided from the numbers above
    deepest = max(depths)

    def find(**keys):
        return next(r for r in at_init if all(r[k] == v for k, v in keys.items()))

    sq = find(depth=deepest, activation="sigmoid", init="book", cost="quadratic")
    sc = find(depth=deepest, activation="sigmoid", init="book", cost="cross-entropy")
    claims.append(Claim(
        "BP2 bound ||delta^l|| <= max|f'(z^l)| ||w^(l+1)||_2 ||delta^(l+1)||, worst ratio over all nets, layers, examples",
        worst_bound, "<=", 1.0 + 1e-12))
    claims.append(Claim(
        f"{deepest} sigmoid layers: |log10| of the change the cost makes to the first/last hidden ratio",
        abs(math.log10(sc["ratio_b"] / sq["ratio_b"])), "<", 1.0,
        detail="log10 of the ratio's change; the cross-entropy shifts all hidden layers nearly alike"))
    rh = find(depth=deepest, activation="relu", init="usual", cost="cross-entropy")
    sig_factor, relu_factor = _per_layer(sc["ratio_b"], deepest), _per_layer(rh["ratio_b"], deepest)
    claims.append(Claim(
        f"{deepest} sigmoid layers (book init, cross-entropy): mean factor per layer, "
        f"(first/last hidden ||dC/db||)^(1/{deepest - 1})", sig_factor, "<", 1.0,
        detail=f"vanishing: first/last hidden = {sc['ratio_b']:.1e}"))
    claims.append(Claim(
        f"{deepest} ReLU layers (He init, cross-entropy): mean factor per layer, minus the sigmoid's",
        relu_factor - sig_factor, ">", 0.0,
        detail=f"ReLU + He: {relu_factor:.3f} per layer, first/last hidden = {rh['ratio_b']:.1e}"))
    claims.append(Claim("exploding chain: every layer-to-layer factor equals w sigma'(0) = 25",
                        factor_error, "<", 1e-9))
    claims.append(Claim("exploding chain: backprop vs central differences, dC/db_1", fd_error, "<", 1e-6))
    return DeepNetworksResult(
        data=description, n_in=n_in,
        budget=dict(n_train=n_train, n_eval=n_eval, epochs=budget.epochs, train_depth=train_depth,
                    race_epochs=budget.race_epochs, mini_batch_size=budget.mini_batch_size,
                    full=full),
        at_init=at_init, trained=trained, chain=chain, race=race, claims=claims,
        seconds=time.perf_counter() - start,
    )
