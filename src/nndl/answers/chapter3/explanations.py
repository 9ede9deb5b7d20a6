"""Chapter 3's questions answered on a real network and batch (``nndl explain``).

- :func:`shapes`: the symbols of eq. (61), dC/dw_j = (1/n) sum_x x_j (sigma(z) - y), for
  one example and as matrices for the batch (eq. 67).
- :func:`hidden_layers`: delta^L for the cross-entropy (eq. 66), delta^l of every hidden
  layer by BP2, dC/db and dC/dw by BP3/BP4, each against finite differences.
- :func:`saturation`: chapter 3's single neuron from (w, b) = (0.6, 0.9) and (2, 2)
  ("The cross-entropy cost function").

matplotlib is imported only inside ``figure()``, through its object API (no pyplot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nndl.answers.tables import Table, _batch, _fmt, _Result, _shape, _vec

# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class ShapesResult(_Result):
    """Every symbol of eq. (61) and eq. (67) on a real batch: shapes, values, checks."""

    m: int
    labels: list[int]
    neuron_symbols: list[list[str]]  # rows: symbol, meaning, book shape, nndl, shape, value
    neuron_batch: list[list[str]]
    j: int  # the pixel shown
    terms: list[float]  # x_j (sigma(z) - y) for each example
    dC_dwj: float
    neuron_checks: dict[str, float]  # relative errors
    layer_symbols: list[list[str]]
    jk: tuple[int, int]
    layer_terms: list[float]
    dC_dwjk: float
    layer_checks: dict[str, float]
    n_in: int = 64
    data: str = "the bundled 8x8 digits (64 pixels)"
    title: str = "What x_j, w_j and sigma(z) are in dC/dw_j = (1/n) sum_x x_j (sigma(z) - y)"
    equations: tuple[str, ...] = (
        r"\frac{\partial C}{\partial w_j} = \frac{1}{n} \sum_x x_j(\sigma(z)-y) \quad (61)",
        r"\frac{\partial C}{\partial w^L_{jk}} = \frac{1}{n} \sum_x a^{L-1}_k (a^L_j-y_j) "
        r"\quad (67)",
    )

    def _parts(self):
        n = self.m
        intro = [
            "Question (chapter 3, 'The cross-entropy cost function', eq. 61): in eq. (61), is w_j the weight matrix of the last layer, x_j "
            "the input vector and sigma(z) the output vector? Here is every symbol, computed on "
            f"a real mini-batch of n = {n} images of {self.data}; pixels in "
            f"[0, 1]; labels {self.labels}.",
            "Eq. (61) is about ONE sigmoid neuron (chapter 3's setting): every symbol in it is "
            f"a single number for one training example x. Below, the neuron has the {self.n_in} pixels "
            "as inputs and is trained to answer 'is this digit a 0?' (y = 1 for a 0, else 0): "
            f"nndl.Network([{self.n_in}, 1], cost=CrossEntropyCost).",
        ]
        headers = ["symbol", "meaning", "book shape", "nndl", "shape", "value"]
        tables = [
            Table("One training example x (the first image):", headers, self.neuron_symbols),
            Table(f"The whole mini-batch, n = {n} examples, one per row:", headers, self.neuron_batch),
            Table(
                f"Eq. (61) for pixel j = {self.j}: the n terms "
                f"x_j (sigma(z) - y), one per example, and their mean",
                ["example x", *[str(i + 1) for i in range(n)], "mean = dC/dw_j"],
                [["x_j(sigma(z) - y)", *[_fmt(t) for t in self.terms], _fmt(self.dC_dwj)]],
            ),
            Table(
                "Checks of dC/dw = (A - Y).T @ X / n and dC/db = mean(A - Y):",
                ["against", "relative error"],
                [[k, f"{v:.1e}"] for k, v in self.neuron_checks.items()],
            ),
            Table(
                f"A whole output layer (eq. 67), network [{self.n_in}, 30, 10], cross-entropy: "
                "dC/dw^L_jk = (1/n) sum_x a^(L-1)_k (a^L_j - y_j)",
                headers,
                self.layer_symbols,
            ),
            Table(
                f"Eq. (67) for j = {self.jk[0]}, k = {self.jk[1]}: the n terms "
                "a^(L-1)_k (a^L_j - y_j) and their mean",
                ["example x", *[str(i + 1) for i in range(n)], "mean = dC/dw_jk"],
                [["a_k(a_j - y_j)", *[_fmt(t) for t in self.layer_terms], _fmt(self.dC_dwjk)]],
            ),
            Table(
                "Checks of dC/dW^L = (A^L - Y).T @ A^(L-1) / n:",
                ["against", "relative error"],
                [[k, f"{v:.1e}"] for k, v in self.layer_checks.items()],
            ),
        ]
        answer = (
            "in eq. (61), w_j is ONE weight (from input j to the neuron), x_j is ONE "
            "number (the j-th component of the input x, here pixel j), z = sum_j w_j x_j + b "
            "and sigma(z) = a are numbers (the neuron's weighted input and output), and y is the "
            "target number; the sum runs over the n training examples x. For a mini-batch "
            "stored one example per row, X (n, n_in), all j at once is the matrix product "
            "dC/dw = (A - Y).T @ X / n, shape (1, n_in) for one neuron and (n_out, n_in) for a "
            "layer (eq. 67, with x_j replaced by the activation a^(L-1)_k that feeds the "
            "weight): the same shape as the weight matrix, one gradient entry per weight."
        )
        return intro, tables, answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": "shapes",
            "data": self.data,
            "m": self.m,
            "labels": self.labels,
            "one_example": self.neuron_symbols,
            "batch": self.neuron_batch,
            "j": self.j,
            "terms": self.terms,
            "dC_dw_j": self.dC_dwj,
            "neuron_checks": self.neuron_checks,
            "layer": self.layer_symbols,
            "jk": list(self.jk),
            "layer_terms": self.layer_terms,
            "dC_dw_jk": self.dC_dwjk,
            "layer_checks": self.layer_checks,
        }


def shapes(*, m: int = 10, seed: int = 0, data: str = "auto") -> ShapesResult:
    """Every symbol of eqs. (61) and (67) on a real mini-batch of ``m`` digits.

    ``data``: "auto" (MNIST if it is here, else the 8x8 digits), "mnist" or "digits".
    """
    import nndl
    from nndl import gradcheck
    from nndl.activations import sigmoid

    X, labels, description = _batch(m, data)
    n_in = X.shape[1]
    # -- one neuron, eq. (61): "is it a 0?"
    neuron = nndl.Network([n_in, 1], cost=nndl.CrossEntropyCost, rng=np.random.default_rng(seed))
    W, b = neuron.weights[0], neuron.biases[0]  # (1, n_in), (1,)
    Y1 = (labels == 0).astype(np.float64)[:, None]  # (m, 1)
    Z = X @ W.T + b  # eq. (25)                                                  (m, 1)
    A = sigmoid(Z)  # (m, 1)
    dC_dw = (A - Y1).T @ X / m  # eq. (61) for every j at once                (1, n_in)
    dC_db = (A - Y1).mean(axis=0)  # eq. (62)                                     (1,)
    # the pixel shown: the largest |dC/dw_j| among the pixels that are not 0 in image 1
    j = int(np.argmax(np.where(X[0] > 0, np.abs(dC_dw[0]), -1.0)))
    terms = X[:, j] * (A[:, 0] - Y1[:, 0])  # x_j (sigma(z) - y) for each x           (m,)

    nb, nw = neuron.backprop(X, Y1)
    fb, fw = gradcheck.numerical_gradients(neuron, X, Y1)
    neuron_checks = {
        "nndl backprop (BP1-BP4) / n, dC/dw": gradcheck.relative_error(nw[0] / m, dC_dw),
        "central differences of C, dC/dw": gradcheck.relative_error(fw[0] / m, dC_dw),
        "central differences of C, dC/db": gradcheck.relative_error(fb[0] / m, dC_db),
        f"mean of the n terms vs (A - Y).T @ X / n, entry j = {j}": gradcheck.relative_error(
            [terms.mean()], [dC_dw[0, j]]
        ),
    }
    x0, z0, a0, y0 = X[0], Z[0, 0], A[0, 0], Y1[0, 0]
    neuron_symbols = [
        ["x", f"the input: all {n_in} pixels of one image", f"{n_in}-vector", "X[0]", _shape(x0), _vec(x0)],
        [f"x_j (j={j})", "pixel j of that image: one number", "scalar", f"X[0, {j}]", "()", _fmt(x0[j])],
        ["w", "the neuron's weights, one per input", f"{n_in}-vector", "net.weights[0][0]", _shape(W[0]), _vec(W[0])],
        [f"w_j (j={j})", "the weight from input j: one number", "scalar", f"net.weights[0][0, {j}]", "()", _fmt(W[0, j])],
        ["b", "the neuron's bias", "scalar", "net.biases[0][0]", "()", _fmt(b[0])],
        ["z", "weighted input sum_j w_j x_j + b", "scalar", "X[0] @ W[0] + b[0]", "()", _fmt(z0)],
        ["sigma(z) = a", "the neuron's output", "scalar", "sigmoid(z)", "()", _fmt(a0)],
        ["y", "the target (1 if the digit is 0)", "scalar", "Y[0, 0]", "()", _fmt(y0)],
        ["x_j(sigma(z) - y)", "this example's dC_x/dw_j, eq. (71)", "scalar", f"X[0, {j}] * (a - y)", "()", _fmt(terms[0])],
    ]
    neuron_batch = [
        ["X", "the n inputs, one per row", "-", "X", _shape(X), f"row i = image i + 1 (digit {labels[0]}, {labels[1]}, ...)"],
        ["w", f"the weights as a 1 x {n_in} matrix", f"1 x {n_in}", "net.weights[0]", _shape(W), _vec(W)],
        ["z", "weighted inputs of the n examples", "n numbers", "Z = X @ W.T + b", _shape(Z), _vec(Z)],
        ["sigma(z)", "outputs of the n examples", "n numbers", "A = sigmoid(X @ W.T + b)", _shape(A), _vec(A)],
        ["y", "targets", "n numbers", "Y", _shape(Y1), _vec(Y1)],
        ["dC/dw_j, all j", "eq. (61) for every weight", f"{n_in} numbers", "(A - Y).T @ X / n", _shape(dC_dw), _vec(dC_dw)],
        ["dC/db", "eq. (62)", "scalar", "(A - Y).mean(axis=0)", _shape(dC_db), _fmt(dC_db[0])],
    ]

    # -- a whole layer, eq. (67)
    net = nndl.Network([n_in, 30, 10], cost=nndl.CrossEntropyCost, rng=np.random.default_rng(seed))
    Y = np.eye(10)[labels]  # one-hot targets                                    (m, 10)
    zs, acts = net.forward_pass(X)
    A_prev, A_L, W_L = acts[-2], acts[-1], net.weights[-1]  # (m, 30), (m, 10), (10, 30)
    dC_dW = (A_L - Y).T @ A_prev / m  # eq. (67) for every j, k                   (10, 30)
    jj, kk = (int(i) for i in np.unravel_index(np.argmax(np.abs(dC_dW)), dC_dW.shape))
    layer_terms = A_prev[:, kk] * (A_L[:, jj] - Y[:, jj])  # (m,)
    _, lw = net.backprop(X, Y)
    _, lfw = gradcheck.numerical_gradients(net, X, Y)
    layer_checks = {
        "nndl backprop (BP1-BP4) / n": gradcheck.relative_error(lw[-1] / m, dC_dW),
        "central differences of C": gradcheck.relative_error(lfw[-1] / m, dC_dW),
    }
    layer_symbols = [
        ["w^L", "output-layer weights, [j, k] = w^L_jk", "10 x 30", "net.weights[-1]", _shape(W_L), _vec(W_L)],
        ["a^(L-1)", "activations feeding the layer (x_j in 61)", "30 per x", "activations[-2]", _shape(A_prev), _vec(A_prev)],
        ["a^L", "outputs", "10 per x", "activations[-1]", _shape(A_L), _vec(A_L)],
        ["y", "one-hot targets", "10 per x", "Y", _shape(Y), _vec(Y)],
        ["a^L - y", "delta^L for the cross-entropy, eq. (66)", "10 per x", "A_L - Y", _shape(A_L), _vec(A_L - Y)],
        ["dC/dw^L", "eq. (67): (1/n) sum_x a^(L-1)_k (a^L_j - y_j)", "10 x 30", "(A_L - Y).T @ A_prev / n", _shape(dC_dW), _vec(dC_dW)],
    ]
    return ShapesResult(
        n_in=n_in,
        data=description,
        m=m,
        labels=labels.tolist(),
        neuron_symbols=neuron_symbols,
        neuron_batch=neuron_batch,
        j=j,
        terms=terms.tolist(),
        dC_dwj=float(dC_dw[0, j]),
        neuron_checks=neuron_checks,
        layer_symbols=layer_symbols,
        jk=(jj, kk),
        layer_terms=layer_terms.tolist(),
        dC_dwjk=float(dC_dW[jj, kk]),
        layer_checks=layer_checks,
    )


# --------------------------------------------------------------------------- hidden layers


@dataclass(frozen=True)
class HiddenLayersResult(_Result):
    """delta^l, dC/db^l and dC/dw^l of every layer, each checked by finite differences."""

    sizes: list[int]
    m: int
    rows: list[dict[str, Any]]  # one per quantity, output layer first
    example: list[dict[str, Any]]  # delta^l of the first example, per layer
    data: str = "the bundled 8x8 digits (64 pixels)"
    title: str = "The gradients of the hidden layers under the cross-entropy cost"
    equations: tuple[str, ...] = (
        r"\delta^L = a^L - y \quad (66)",
        r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l) \quad (BP2)",
        r"\frac{\partial C}{\partial b^l_j} = \delta^l_j \quad (BP3), \qquad "
        r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j \quad (BP4)",
    )

    @property
    def max_error(self) -> float:
        return max(max(r["rel_fd"], r["rel_engine"]) for r in self.rows)

    def _parts(self):
        L = len(self.sizes)
        intro = [
            "Question (chapter 3, eqs. 66-67, and chapter 2, BP1-BP4): with the cross-entropy, dC/db = sigma(z) - y and dC/dw = "
            "x_j(sigma(z) - y) hold for the output layer; what are the gradients of the other "
            "layers? Answer: run BP2 from delta^L = a^L - y. Below, for a real network "
            f"{self.sizes} (cross-entropy, sigmoid neurons) and a mini-batch of n = {self.m} "
            f"images of {self.data}, every quantity is computed from its equation (NumPy, one row per example) "
            "and compared with central differences of the cost (nndl.gradcheck) and with nndl's "
            "own backprop.",
            f"Layers are numbered as in the book: 1 is the input, {L} = L the output; nndl's "
            "weights[l - 2] is the book's w^l. The gradients are means over the batch, as "
            "C = (1/n) sum_x C_x.",
        ]
        headers = ["layer", "quantity", "equation", "computed as", "shape", "norm",
                   "rel. error vs finite diff.", "vs nndl"]
        table_rows = [
            [str(r["layer"]), r["quantity"], r["equation"], r["code"], r["shape"],
             f"{r['norm']:.3e}", f"{r['rel_fd']:.1e}", f"{r['rel_engine']:.1e}"]
            for r in self.rows
        ]
        ex_rows = [[str(e["layer"]), e["formula"], _vec(e["delta"], 5)] for e in self.example]
        tables = [
            Table("Every layer, from the output back:", headers, table_rows),
            Table("delta^l for the first example (first 5 neurons):", ["layer", "by", "delta^l"], ex_rows),
        ]
        answer = (
            "only the output layer is special. Its error is delta^L = a^L - y (the "
            "cross-entropy's sigma'(z^L) cancelled, eq. 66); every hidden layer then gets "
            "delta^l = ((w^(l+1))^T delta^(l+1)) (.) sigma'(z^l) (BP2), exactly as with any "
            "other cost, and dC/db^l = delta^l (BP3), dC/dw^l_jk = a^(l-1)_k delta^l_j (BP4), "
            "averaged over the batch. For the whole batch: Delta^l = (Delta^(l+1) @ W^(l+1)) * "
            "A^l * (1 - A^l), dC/db^l = Delta^l.mean(0), dC/dw^l = Delta^l.T @ A^(l-1) / n. "
            f"Largest relative error of all {len(self.rows)} quantities: {self.max_error:.1e}."
        )
        return intro, tables, answer

    def to_dict(self) -> dict[str, Any]:
        return {"topic": "hidden-layers", "data": self.data, "sizes": self.sizes, "m": self.m, "rows": self.rows,
                "example": self.example, "max_error": self.max_error}


def hidden_layers(*, sizes=None, m: int = 10, seed: int = 0, data: str = "auto") -> HiddenLayersResult:
    """delta^L (cross-entropy), delta^l by BP2, dC/db and dC/dw by BP3/BP4, checked.

    ``sizes`` default: (n_in, 20, 15, 10), n_in = 784 for MNIST, 64 for the 8x8 digits;
    ``data`` as for :func:`shapes`.
    """
    import nndl
    from nndl import gradcheck

    X, labels, description = _batch(m, data)
    sizes = [int(s) for s in (sizes or (X.shape[1], 20, 15, 10))]
    if sizes[0] != X.shape[1] or sizes[-1] != 10:
        raise ValueError(f"sizes must start with {X.shape[1]} inputs and end with 10 outputs; got {sizes}")
    net = nndl.Network(sizes, cost=nndl.CrossEntropyCost, rng=np.random.default_rng(seed))
    Y = np.eye(10)[labels]
    zs, acts = net.forward_pass(X)
    n_layers = len(net.weights)

    # The equations, written out (not the engine's code)
    deltas: list[np.ndarray] = [np.empty(0)] * n_layers
    deltas[-1] = acts[-1] - Y  # delta^L = a^L - y, eq. (66)                     (m, n_L)
    for l in range(n_layers - 2, -1, -1):
        a = acts[l + 1]  # a^l of this hidden layer                                  (m, n_l)
        deltas[l] = (deltas[l + 1] @ net.weights[l + 1]) * a * (1 - a)  # BP2
    grad_b = [D.mean(axis=0) for D in deltas]  # BP3, averaged over x
    grad_w = [D.T @ A / m for D, A in zip(deltas, acts[:-1])]  # BP4, averaged over x

    # The references: finite differences (per example for delta) and the engine
    engine_deltas = net.deltas(X, Y)
    engine_b, engine_w = net.backprop(X, Y)
    fd_b, fd_w = gradcheck.numerical_gradients(net, X, Y)
    rows, example = [], []
    for l in range(n_layers - 1, -1, -1):
        book = l + 2
        fd_delta = np.array(
            [gradcheck.numerical_bias_gradient(net, X[i : i + 1], Y[i : i + 1], l) for i in range(m)]
        )  # dC_x/db^l = delta^l_x, one row per example
        is_out = l == n_layers - 1
        eq, code = ("(66)", "A[-1] - Y") if is_out else (
            "BP2", f"(D{book + 1} @ W{book + 1}) * A{book} * (1 - A{book})")
        rows.append(dict(layer=book, quantity=f"delta^{book}", equation=eq, code=code,
                         shape=_shape(deltas[l]), norm=float(np.linalg.norm(deltas[l])),
                         rel_fd=gradcheck.relative_error(fd_delta, deltas[l]),
                         rel_engine=gradcheck.relative_error(engine_deltas[l], deltas[l])))
        rows.append(dict(layer=book, quantity=f"dC/db^{book}", equation="BP3", code=f"D{book}.mean(0)",
                         shape=_shape(grad_b[l]), norm=float(np.linalg.norm(grad_b[l])),
                         rel_fd=gradcheck.relative_error(fd_b[l] / m, grad_b[l]),
                         rel_engine=gradcheck.relative_error(engine_b[l] / m, grad_b[l])))
        rows.append(dict(layer=book, quantity=f"dC/dw^{book}", equation="BP4",
                         code=f"D{book}.T @ A{book - 1} / n",
                         shape=_shape(grad_w[l]), norm=float(np.linalg.norm(grad_w[l])),
                         rel_fd=gradcheck.relative_error(fd_w[l] / m, grad_w[l]),
                         rel_engine=gradcheck.relative_error(engine_w[l] / m, grad_w[l])))
        example.append(dict(layer=book, formula="a^L - y" if is_out else "BP2",
                            delta=deltas[l][0].tolist()))
    return HiddenLayersResult(sizes=sizes, m=m, rows=rows, example=example, data=description)


# --------------------------------------------------------------------------- saturation

SATURATION_STARTS = ((0.6, 0.9), (2.0, 2.0))  # (w, b): chapter 3's two starting points
SATURATION_STEPS = 300
SATURATION_SHOWN = (0, 25, 50, 100, 150, 200, 300)


@dataclass(frozen=True)
class SaturationRun:
    name: str  # "quadratic" or "cross-entropy"
    widget: bool  # True: the book widget's update, dC/da instead of the gradient
    eta: float
    start: tuple[float, float]  # (w, b)
    outputs: list[float]  # a after 0..steps steps
    costs: list[float]  # C after 0..steps steps

    @property
    def label(self) -> str:
        if self.widget:
            return "cross-entropy, book widget: dC/da = 1/(1-a)"
        return f"{self.name}, gradient {'(a-y) sigma' + chr(39) + '(z)' if self.name == 'quadratic' else 'a-y'}"


@dataclass(frozen=True)
class SaturationResult(_Result):
    """Chapter 3's neuron (x = 1, y = 0) learning under different costs and rules."""

    steps: int
    runs: list[SaturationRun]
    title: str = "Learning slowdown: chapter 3's single neuron, quadratic vs cross-entropy"
    equations: tuple[str, ...] = (
        r"\text{quadratic: } \frac{\partial C}{\partial b} = (a-y)\sigma'(z), \qquad "
        r"\text{cross-entropy: } \frac{\partial C}{\partial b} = a - y \quad (72)",
    )

    def run(self, name: str, eta: float, start: tuple[float, float], widget: bool = False):
        """The run of cost ``name`` with ``eta`` from ``start`` (the book widget's if ``widget``)."""
        for r in self.runs:
            if (r.name, r.eta, r.start, r.widget) == (name, eta, start, widget):
                return r
        raise KeyError((name, eta, start, widget))

    def _parts(self):
        intro = [
            "One sigmoid neuron, input x = 1, target y = 0, trained by gradient descent for "
            f"{self.steps} steps from (w, b) = (0.6, 0.9) (output 0.82) and (2.0, 2.0) "
            "(output 0.98, badly wrong and saturated). Each run is an nndl.Network([1, 1]) "
            "stepped by update_mini_batch.",
            "How the book's widgets compute their updates (chapter 3, 'Introducing the cross-entropy cost function'): the quadratic widgets use "
            "the true gradient dC/dw = (a - y) sigma'(z) x with eta = 0.15. The cross-entropy "
            "widgets use dC/da = 1/(1 - a) (that is, (a - y)/(a(1 - a)) at y = 0) as their "
            "gradient, with eta = 0.005, not the true gradient dC/db = a - y of eq. (72). "
            "Both are shown, and the true cross-entropy gradient also with the quadratic's "
            "eta = 0.15, which compares the costs alone.",
        ]
        shown = [s for s in SATURATION_SHOWN if s <= self.steps]
        headers = ["cost and update rule", "eta", "start (w, b)", *[f"step {s}" for s in shown]]
        rows = [
            [r.label, f"{r.eta:g}", f"({r.start[0]:g}, {r.start[1]:g})",
             *[f"{r.outputs[s]:.3f}" for s in shown]]
            for r in self.runs
        ]
        q_slow = self.run("quadratic", 0.15, (2.0, 2.0))
        c_fast = self.run("cross-entropy", 0.15, (2.0, 2.0))
        slow = self.run("cross-entropy", 0.005, (2.0, 2.0))
        widget = self.run("cross-entropy", 0.005, (2.0, 2.0), widget=True)
        s = min(150, self.steps)
        answer = (
            "from (2, 2) the quadratic cost's gradient a sigma'(z) is tiny because "
            f"sigma'(4) = 0.018: its output moves from {q_slow.outputs[0]:.3f} only to "
            f"{q_slow.outputs[s]:.3f} in {s} steps. The cross-entropy's gradient a - y is "
            "largest when the neuron is most wrong: with the same eta it reaches "
            f"{c_fast.outputs[s]:.3f}, faster from (2, 2) than the quadratic is from "
            "(0.6, 0.9). The book's cross-entropy widget uses eta = 0.005, 30 times smaller; "
            "with the true gradient that eta gives "
            f"{slow.outputs[s]:.3f} after {s} steps, and the widget's pictures "
            f"({widget.outputs[s]:.3f}) come from its update 1/(1 - a), which is large "
            "exactly where a is near 1."
        )
        return intro, [Table("Output a of the neuron (target 0):", headers, rows)], answer

    def to_dict(self) -> dict[str, Any]:
        return {"topic": "saturation", "steps": self.steps,
                "runs": [vars(r) | {"start": list(r.start), "label": r.label} for r in self.runs]}

    def figure(self):
        """Output a against the step, one panel per starting point."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4.2), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, start in zip(axes, SATURATION_STARTS):
            for r in self.runs:
                if r.start == start:
                    ax.plot(r.outputs, label=f"{r.label}, eta = {r.eta:g}")
            ax.set_title(f"start (w, b) = {start}")
            ax.set_xlabel("step")
            ax.set_ylim(0, 1)
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel(r"output $a$ (target $y = 0$)")
        axes[0].legend(fontsize="small")
        fig.suptitle("Chapter 3's neuron, x = 1, y = 0")
        return fig


class _BookWidgetCrossEntropy:
    """The book's cross-entropy widget: the cross-entropy, but the 'gradient' dC/da.

    delta returns dC/da = (a - y)/(a(1 - a)) (= 1/(1 - a) for y = 0) where the true BP1
    gives a - y: it reproduces how the widget updates w and b, not a correct gradient.
    """

    name = "cross-entropy (book widget)"
    default_output = "sigmoid"

    @staticmethod
    def fn(a, y, z=None, output=None):
        import nndl

        return nndl.CrossEntropyCost.fn(a, y, z, output)

    @staticmethod
    def delta(z, a, y):
        return (a - y) / (a * (1.0 - a))


def saturation(*, steps: int = SATURATION_STEPS) -> SaturationResult:
    """Chapter 3's neuron (x = 1, y = 0) under four update rules, from both starts."""
    import nndl

    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    rules = [  # name, the book widget's rule?, cost, eta
        ("quadratic", False, nndl.QuadraticCost, 0.15),
        ("cross-entropy", False, nndl.CrossEntropyCost, 0.15),
        ("cross-entropy", False, nndl.CrossEntropyCost, 0.005),
        ("cross-entropy", True, _BookWidgetCrossEntropy, 0.005),
    ]
    runs = []
    for name, widget, cost, eta in rules:
        for w, b in SATURATION_STARTS:
            net = nndl.Network([1, 1], cost=cost, output="sigmoid", rng=np.random.default_rng(0))
            net.weights[0][...] = w
            net.biases[0][...] = b
            outputs, costs = [], []
            for step in range(steps + 1):
                outputs.append(float(net.feedforward(X)[0, 0]))
                costs.append(net.total_cost(X, Y))
                if step < steps:
                    net.update_mini_batch(X, Y, eta)
            runs.append(SaturationRun(name, widget, eta, (w, b), outputs, costs))
    return SaturationResult(steps=steps, runs=runs)


