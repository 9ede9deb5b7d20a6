"""Chapter 3, *Improving the way neural networks learn*: its 27 exercises and problems,
answered (``nndl exercise ch3-...``). See :mod:`nndl.answers.exercises` for the format.

Where a derivation of ``nndl derive`` already proves a result, its steps are reused
(:func:`_steps_titled`), so both commands check the same thing.
"""

from __future__ import annotations

import math

import numpy as np

from nndl.answers.checks import Check, Claim, Step, _kron, _sigma, _sigma_prime, _sympy
from nndl.answers.exercises import Run, Spec
from nndl.answers.experiment import accuracies, subset, train
from nndl.answers.tables import Table

S_CE = "Introducing the cross-entropy cost function"
S_SOFTMAX = "Softmax"
S_EXPAND = "Artificially expanding the training data"
S_INIT = "Weight initialization"
S_CODE = "Handwriting recognition revisited: the code"
S_HYPER = "How to choose a neural network's hyper-parameters?"
S_SGD = "Variations on stochastic gradient descent"
S_NEURONS = "Other models of artificial neuron"


def _steps_titled(builder, *titles):
    """The steps of a ``nndl derive`` derivation with these titles, in its order."""
    def build():
        steps = [s for s in builder() if s.title in titles]
        assert len(steps) == len(titles), (titles, [s.title for s in steps])
        return steps
    return build


def _derivations():
    from nndl.answers.chapter3 import derivations

    return derivations


def _mnist_net(data, sizes=None, seed=0, **kw):
    import nndl

    return nndl.Network(sizes or [data.n_in, 30, 10], rng=np.random.default_rng(seed), **kw)


# --------------------------------------------------------------------------- 1. sigma'


def _sigmoid_prime_steps():
    return _steps_titled(_derivations()._sigmoid_prime_steps, "Differentiate", "Split the fraction",
                         "So sigma' = sigma(1 - sigma)")()


def _sigmoid_prime_run(full: bool) -> Run:
    from nndl.activations import sigmoid, sigmoid_prime

    z = np.linspace(-30, 30, 100_001)
    h = 1e-5
    fd = (sigmoid(z + h) - sigmoid(z - h)) / (2 * h)
    err = float(np.abs(fd - sigmoid_prime(z)).max())
    return Run([Claim("central differences of sigma vs sigma(1 - sigma) on [-30, 30], max difference", err, "<", 1e-10)])


# --------------------------------------------------------------------------- 2. the roles of y and a


def _roles_steps() -> list[Step]:
    sp = _sympy()
    a = sp.Symbol("a", positive=True)
    y = sp.Symbol("y", positive=True)
    swapped = -(a * sp.log(y) + (1 - a) * sp.log(1 - y))
    right = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    ah = sp.Rational(3, 10)  # any output strictly between 0 and 1
    return [
        Step("The swapped expression at y = 0", "",
             "-[a ln y + (1-a) ln(1-y)] -> infinity as y -> 0 for every output a > 0",
             r"-[a\ln y + (1-a)\ln(1-y)] \to \infty \quad (y \to 0^+)",
             "Targets in classification are exactly 0 or 1, where ln y or ln(1 - y) is ln 0: the "
             "swapped cost is infinite (or undefined) for every output a that is not exactly y. "
             "Shown for a = 3/10 (1/C -> 0).",
             (Check("lim_{y -> 0+} 1/C_swapped(a = 3/10, y) = 0", sp.limit(1 / swapped.subs(a, ah), y, 0, "+"), 0),
              Check("lim_{y -> 1-} 1/C_swapped(a = 3/10, y) = 0", sp.limit(1 / swapped.subs(a, ah), y, 1, "-"), 0))),
        Step("The swapped gradient ignores the output", "",
             "d/da of the swapped expression = ln((1-y)/y), the same for every a",
             r"\frac{\partial}{\partial a}\Big(-[a\ln y + (1-a)\ln(1-y)]\Big) = \ln\frac{1-y}{y}",
             "It does not shrink as a approaches y, so it cannot say 'you are nearly right'.",
             (Check("d/da C_swapped = ln(1-y) - ln(y)", sp.diff(swapped, a), sp.log(1 - y) - sp.log(y)),)),
        Step("The book's expression is finite at y = 0 and y = 1", "(57)",
             "-[y ln a + (1-y) ln(1-a)] is -ln(1-a) at y = 0 and -ln a at y = 1",
             r"C(y=0) = -\ln(1-a),\quad C(y=1) = -\ln a",
             "Finite for every 0 < a < 1, with gradient (a - y)/(a(1-a)). For y = 0 or 1 it is 0 "
             "only at a = y; for 0 < y < 1 it is never 0: its minimum, at a = y, is the binary "
             "entropy of y (ch3-cross-entropy-minimum).",
             (Check("C(a, y = 0) = -ln(1 - a)", right.subs(y, 0), -sp.log(1 - a)),
              Check("C(a, y = 1) = -ln a", right.subs(y, 1), -sp.log(a)),
              Check("dC/da = (a - y)/(a(1 - a))", sp.diff(right, a), (a - y) / (a * (1 - a))))),
    ]


# --------------------------------------------------------------------------- 3. minimum at a = y


def _minimum_steps() -> list[Step]:
    sp = _sympy()
    a, y = sp.symbols("a y", positive=True)
    C = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    return [
        Step("Stationary point", "(57)",
             "dC/da = (a - y)/(a(1 - a)) = 0 only at a = y",
             r"\frac{\partial C}{\partial a} = \frac{a-y}{a(1-a)} = 0 \iff a = y",
             "For 0 < a < 1 the denominator is positive.",
             (Check("solve dC/da = 0 for a", sp.solve(sp.diff(C, a), a)[0], y),)),
        Step("It is a minimum", "",
             "d^2C/da^2 at a = y is 1/(y(1 - y)) > 0",
             r"\left.\frac{\partial^2 C}{\partial a^2}\right|_{a=y} = \frac{1}{y(1-y)} > 0",
             "C is convex in a on (0, 1); the stationary point is its minimum.",
             (Check("d^2C/da^2 at a = y", sp.simplify(sp.diff(C, a, 2).subs(a, y)), 1 / (y * (1 - y))),)),
        Step("The minimum is not zero", "",
             "C(a = y) = -[y ln y + (1 - y) ln(1 - y)], the binary entropy of y",
             r"C_{\min} = -[y\ln y + (1-y)\ln(1-y)] > 0 \quad (0<y<1)",
             "Both logarithms are negative for 0 < y < 1. The minimum is 0 only when y is 0 or 1; "
             "for y = 1/2 it is ln 2.",
             (Check("C at a = y", C.subs(a, y), -(y * sp.log(y) + (1 - y) * sp.log(1 - y))),
              Check("C at a = y = 1/2 is ln 2", C.subs({a: sp.Rational(1, 2), y: sp.Rational(1, 2)}), sp.log(2)))),
    ]


def _minimum_run(full: bool) -> Run:
    a = np.linspace(1e-6, 1 - 1e-6, 1_000_001)
    claims = []
    for y in (0.2, 0.5, 0.9):
        C = -(y * np.log(a) + (1 - y) * np.log(1 - a))
        claims.append(Claim(f"y = {y}: the argmin of C over a grid of a", float(a[np.argmin(C)]), "~", y, tolerance=1e-5))
    return Run(claims)


# --------------------------------------------------------------------------- 4. many layers


def _many_layer_steps() -> list[Step]:
    sp = _sympy()
    ak = sp.symbols("a_1:3", real=True)  # a^(L-1)
    w = sp.Matrix(2, 2, lambda j, k: sp.Symbol(f"w_{j + 1}{k + 1}", real=True))
    b = sp.symbols("b_1:3", real=True)
    y = sp.symbols("y_1:3", real=True)
    z = [sum(w[j, k] * ak[k] for k in range(2)) + b[j] for j in range(2)]
    aL = [_sigma(zj) for zj in z]
    quad = sum((aL[j] - y[j]) ** 2 for j in range(2)) / 2
    ce = -sum(y[j] * sp.log(aL[j]) + (1 - y[j]) * sp.log(1 - aL[j]) for j in range(2))
    return [
        Step("Quadratic cost: the output layer keeps sigma'", "(65)",
             "dC/dw^L_jk = a^(L-1)_k (a^L_j - y_j) sigma'(z^L_j)",
             r"\frac{\partial C}{\partial w^L_{jk}} = a^{L-1}_k (a^L_j - y_j)\,\sigma'(z^L_j)",
             "One example, two output neurons, two neurons in layer L-1 (the average over x is "
             "the same for every term). sigma'(z^L_j) is small when the output saturates.",
             tuple(Check(f"quadratic: dC/dw_{j + 1}{k + 1}", sp.diff(quad, w[j, k]),
                         ak[k] * (aL[j] - y[j]) * _sigma_prime(z[j])) for j in range(2) for k in range(2))),
        Step("Cross-entropy: sigma' cancels", "(66), (67)",
             "dC/dw^L_jk = a^(L-1)_k (a^L_j - y_j)",
             r"\frac{\partial C}{\partial w^L_{jk}} = a^{L-1}_k (a^L_j - y_j)",
             "With C = -sum_j [y_j ln a^L_j + (1 - y_j) ln(1 - a^L_j)], dC/da_j = (a_j - y_j)/(a_j(1 - a_j)) "
             "and sigma'(z) = a(1 - a) cancel it: no slowdown from saturated output neurons.",
             tuple(Check(f"cross-entropy: dC/dw_{j + 1}{k + 1}", sp.diff(ce, w[j, k]), ak[k] * (aL[j] - y[j]))
                   for j in range(2) for k in range(2))),
    ]


def _many_layer_run(full: bool) -> Run:
    import nndl
    from nndl import gradcheck

    data = subset(20, 10)
    X, Y = data.X[:10], np.eye(10)[data.y[:10]]
    claims = []
    for cost, with_prime in ((nndl.QuadraticCost, True), (nndl.CrossEntropyCost, False)):
        net = _mnist_net(data, [data.n_in, 20, 15, 10], cost=cost)
        zs, acts = net.forward_pass(X)
        aL = acts[-1]
        d = (aL - Y) * (aL * (1 - aL) if with_prime else 1.0)
        formula = d.T @ acts[-2]  # eq. (65) / (67), summed over x                  (10, 15)
        err = gradcheck.relative_error(net.backprop(X, Y)[1][-1], formula)
        claims.append(Claim(f"{cost.__name__}: eq. ({65 if with_prime else 67}) vs nndl's backprop, dC/dw^L", err, "<", 1e-12))
    return Run(claims, setting=f"a [{data.n_in}, 20, 15, 10] network, 10 images.")


# --------------------------------------------------------------------------- 5. linear outputs


def _linear_output_steps():
    return _steps_titled(_derivations()._canonical_pairs_steps, "Quadratic cost with a linear output")() + [
        _linear_output_weights()]


def _linear_output_weights() -> Step:
    sp = _sympy()
    ak = sp.symbols("a_1:3", real=True)
    w1, w2, b, y = sp.symbols("w_1 w_2 b y", real=True)
    aL = w1 * ak[0] + w2 * ak[1] + b  # a^L = z^L
    C = (aL - y) ** 2 / 2
    return Step("The weight and bias gradients", "(69), (70)",
                "dC/dw^L_jk = a^(L-1)_k (a^L_j - y_j), dC/db^L_j = a^L_j - y_j",
                r"\frac{\partial C}{\partial w^L_{jk}} = a^{L-1}_k (a^L_j-y_j),\quad \frac{\partial C}{\partial b^L_j} = a^L_j-y_j",
                "No sigma'(z^L): linear output neurons with the quadratic cost do not slow down "
                "when they are badly wrong (hidden layers still carry sigma').",
                (Check("dC/dw_1 = a_1 (a^L - y)", sp.diff(C, w1), ak[0] * (aL - y)),
                 Check("dC/db = a^L - y", sp.diff(C, b), aL - y)))


# --------------------------------------------------------------------------- 6. saturated hidden neurons


def _hidden_saturation_steps() -> list[Step]:
    sp = _sympy()
    z, v, c, y = sp.symbols("z v c y", real=True)  # hidden z; output weight v, bias c
    a = _sigma(v * _sigma(z) + c)
    zL = v * _sigma(z) + c
    quad = (a - y) ** 2 / 2
    ce = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    return [
        Step("BP2 multiplies by the hidden neuron's sigma'", "(BP2)",
             "delta^l = ((w^(l+1))^T delta^(l+1)) (.) sigma'(z^l), for any cost",
             r"\delta^l_j = \sigma'(z^l_j) \sum_k w^{l+1}_{kj}\delta^{l+1}_k",
             "One hidden neuron (weighted input z) feeding one output neuron (weight v). The cost "
             "enters only through delta^L; the hidden neuron's own factor sigma'(z) is there "
             "under both costs, so a saturated hidden neuron (sigma'(z) ~ 0) learns slowly "
             "whatever the output cost.",
             (Check("quadratic: dC/dz = sigma'(z) v (a - y) sigma'(z^L)", sp.diff(quad, z),
                    _sigma_prime(z) * v * (a - y) * _sigma_prime(zL)),
              Check("cross-entropy: dC/dz = sigma'(z) v (a - y)", sp.diff(ce, z), _sigma_prime(z) * v * (a - y)))),
    ]


def _hidden_saturation_run(full: bool) -> Run:
    import nndl

    data = subset(200, 10)
    X, Y = data.X[:100], np.eye(10)[data.y[:100]]
    rows, norms = [], {}
    for cost in ("quadratic", "cross-entropy"):
        for shift in (0.0, 8.0):
            net = _mnist_net(data, cost=cost)
            net.biases[0] += shift  # hidden neurons pushed into saturation: sigma'(z) ~ e^-8
            D = net.deltas(X, Y)
            norms[cost, shift] = float(np.linalg.norm(D[0].mean(axis=0)))
            rows.append([cost, "saturated (b + 8)" if shift else "normal", f"{norms[cost, shift]:.2e}",
                         f"{float(np.linalg.norm(D[-1].mean(axis=0))):.2e}"])
    claims = [Claim(f"{c}: hidden ||dC/db|| saturated / normal", norms[c, 8.0] / norms[c, 0.0], "<", 0.05)
              for c in ("quadratic", "cross-entropy")]
    return Run(claims, [Table("Hidden-layer gradient, same weights, hidden biases normal or + 8:",
                              ["cost", "hidden neurons", "||dC/db|| hidden", "||dC/db|| output"], rows)],
               setting=f"[{data.n_in}, 30, 10] networks, 100 images.")


# --------------------------------------------------------------------------- 7. sigmoid outputs don't sum to 1


def _not_distribution_run(full: bool) -> Run:
    import nndl

    from nndl.activations import sigmoid

    data = subset(5000 if not full else 50_000, 1000)
    net = _mnist_net(data)
    train(net, data, 3, 10, 0.5)
    sums = net.feedforward(data.X_eval).sum(axis=1)
    soft = _mnist_net(data, cost=nndl.LogLikelihoodCost)
    train(soft, data, 3, 10, 0.5)
    soft_sums = soft.feedforward(data.X_eval).sum(axis=1)
    example = float(sigmoid(np.array([1.0, 2.0])).sum())
    return Run([Claim("two sigmoid outputs with z = (1, 2): sum", example, ">", 1.6),
                Claim("trained sigmoid output layer: largest |sum of outputs - 1| over the images", float(np.abs(sums - 1).max()), ">", 0.1),
                Claim("trained softmax output layer: largest |sum - 1|", float(np.abs(soft_sums - 1).max()), "<", 1e-12)],
               [Table("Sum of the ten outputs over the validation images:", ["output layer", "min", "median", "max"],
                      [["sigmoid (cross-entropy)", f"{sums.min():.3f}", f"{np.median(sums):.3f}", f"{sums.max():.3f}"],
                       ["softmax (log-likelihood)", f"{soft_sums.min():.3f}", f"{np.median(soft_sums):.3f}", f"{soft_sums.max():.3f}"]])],
               numbers={"min": float(sums.min()), "max": float(sums.max())},
               setting=f"[{data.n_in}, 30, 10] networks trained 3 epochs on {data.description}.")


# --------------------------------------------------------------------------- 8-13. softmax


def _softmax_expr(sp, zs, c=1):
    den = sum(sp.exp(c * zk) for zk in zs)
    return [sp.exp(c * zj) / den for zj in zs]


def _monotonicity_steps() -> list[Step]:
    sp = _sympy()
    steps = []
    for K in range(2, 7):
        zs = sp.symbols(f"z_1:{K + 1}", real=True)
        a = _softmax_expr(sp, zs)
        steps.append(Step(f"Softmax Jacobian, K = {K}", "(78)",
                          "da_j/dz_k = a_j (delta_jk - a_k)",
                          r"\frac{\partial a_j}{\partial z_k} = a_j(\delta_{jk} - a_k)",
                          "For j = k this is a_j(1 - a_j) > 0 since 0 < a_j < 1: increasing z_j increases "
                          "a_j. For j != k it is -a_j a_k < 0: increasing z_k decreases every other "
                          "output. Checked for every j, k.",
                          tuple(Check(f"K={K}: da_{j + 1}/dz_{k + 1}", sp.diff(a[j], zs[k]), a[j] * (_kron(j, k) - a[k]))
                                for j in range(K) for k in range(K))))
        # the signs, symbolically: each derivative as exponentials whose sign SymPy decides
        e = [sp.exp(zk) for zk in zs]
        total = sum(e)
        diag = e[0] * sum(e[1:]) / total**2  # > 0: products and sums of exponentials
        off = -e[0] * e[1] / total**2  # < 0
        steps.append(Step(f"The signs, K = {K}", "",
                          "da_j/dz_j = e^(z_j) sum_(i != j) e^(z_i) / (sum_i e^(z_i))^2 > 0, "
                          "da_j/dz_k = -e^(z_j) e^(z_k) / (sum_i e^(z_i))^2 < 0 (j != k)",
                          r"\frac{\partial a_j}{\partial z_j} = \frac{e^{z_j}\sum_{i\ne j} e^{z_i}}{(\sum_i e^{z_i})^2} > 0,"
                          r"\quad \frac{\partial a_j}{\partial z_k} = -\frac{e^{z_j+z_k}}{(\sum_i e^{z_i})^2} < 0",
                          "Written in exponentials, each derivative is a product and quotient of sums of "
                          "positive terms: SymPy decides the sign from the assumption that every z is real "
                          "(shown for j = 1, k = 2; the others are the same by symmetry).",
                          (Check(f"K={K}: da_1/dz_1 in exponentials", sp.diff(a[0], zs[0]), diag),
                           Check(f"K={K}: da_1/dz_2 in exponentials", sp.diff(a[0], zs[1]), off),
                           Check(f"K={K}: sign of da_1/dz_1", sp.sign(diag), 1),
                           Check(f"K={K}: sign of da_1/dz_2", sp.sign(off), -1))))
    return steps


def _softmax_sign_run(full: bool) -> Run:
    """The signs measured on nndl's softmax by central differences (not from the formula)."""
    from nndl.activations import softmax

    rng = np.random.default_rng(0)
    h = 1e-5
    worst_diag, worst_off, worst_err = math.inf, -math.inf, 0.0
    for K in range(2, 11):
        Z = rng.normal(0, 1, (200, K))  # moderate z: no output underflows to 0      (200, K)
        for k in range(K):
            step = np.zeros(K)
            step[k] = h
            col = (softmax(Z + step) - softmax(Z - step)) / (2 * h)  # da_j/dz_k, every j  (200, K)
            diag = col[:, k]
            off = np.delete(col, k, axis=1)
            worst_diag = min(worst_diag, float(diag.min()))
            worst_off = max(worst_off, float(off.max()))
            a = softmax(Z)
            formula = a * ((np.arange(K) == k) - a[:, [k]])  # a_j (delta_jk - a_k), eq. (78)
            worst_err = max(worst_err, float(np.abs(col - formula).max()))
    return Run([Claim("nndl's softmax, central differences: smallest da_j/dz_j over 1,800 random z, K = 2..10",
                      worst_diag, ">", 0.0),
                Claim("the same: largest da_j/dz_k, j != k", worst_off, "<", 0.0),
                Claim("central differences vs a_j (delta_jk - a_k), largest difference", worst_err, "<", 1e-8)])


def _nonlocality_steps() -> list[Step]:
    sp = _sympy()
    zs = sp.symbols("z_1:4", real=True)
    a = _softmax_expr(sp, zs)
    return [Step("Every output depends on every weighted input", "(78)",
                 "a_j = e^(z_j) / sum_k e^(z_k); da_1/dz_3 = -a_1 a_3, not 0",
                 r"\frac{\partial a_1}{\partial z_3} = -a_1 a_3 \ne 0",
                 "The denominator holds every z_k, so a_j is not a function of z_j alone: softmax "
                 "is a layer-wide operation, unlike sigmoid outputs, where a_j = sigma(z_j).",
                 (Check("da_1/dz_3 = -a_1 a_3", sp.diff(a[0], zs[2]), -a[0] * a[2]),
                  Check("sigmoid outputs: d sigma(z_1)/dz_3 = 0", sp.diff(_sigma(zs[0]), zs[2]), 0)))]


def _nonlocality_run(full: bool) -> Run:
    from nndl.activations import softmax

    z = np.array([[1.0, 2.0, 0.5, -1.0]])
    z2 = z.copy()
    z2[0, 3] += 2.0  # change only the last weighted input
    a, a2 = softmax(z), softmax(z2)
    return Run([Claim("raising z_4 by 2: the change of a_1 (it decreases)", float(a2[0, 0] - a[0, 0]), "<", -0.01)],
               [Table("Softmax outputs:", ["z", "a"], [[str(z[0].tolist()), str(np.round(a[0], 4).tolist())],
                                                       [str(z2[0].tolist()), str(np.round(a2[0], 4).tolist())]])])


def _inverse_steps() -> list[Step]:
    sp = _sympy()
    zs = sp.symbols("z_1:4", real=True)
    a = _softmax_expr(sp, zs)
    C = -sp.log(sum(sp.exp(z) for z in zs))
    return [Step("Take logarithms", "(78)",
                 "ln a_j = z_j - ln sum_k e^(z_k), so z_j = ln a_j + C with C = ln sum_k e^(z_k)",
                 r"z_j = \ln a_j + C,\quad C = \ln\sum_k e^{z_k}",
                 "C is the same for every j: softmax determines z only up to a common constant "
                 "(adding a constant to every z_j leaves every a_j unchanged).",
                 tuple(Check(f"ln a_{j + 1} - z_{j + 1} = -ln sum_k e^(z_k)", sp.expand_log(sp.log(a[j]), force=True) - zs[j], C)
                       for j in range(3))
                 + (Check("softmax(z + t) = softmax(z)", _softmax_expr(sp, [z + sp.Symbol("t") for z in zs])[0], a[0]),))]


def _up_to_k(steps, k_max: int = 3):
    """Keep the checks for K <= k_max output neurons (``nndl derive softmax-log-likelihood``
    checks every K = 2..6; here fewer keep ``nndl exercise`` quick)."""
    import dataclasses
    import re

    def small(check):
        m = re.match(r"K=(\d+)", check.label)
        return m is None or int(m.group(1)) <= k_max

    return [dataclasses.replace(s, checks=tuple(c for c in s.checks if small(c)),
                                why=s.why + f" (Checked here for K <= {k_max}; nndl derive "
                                "softmax-log-likelihood checks K = 2..6.)")
            for s in steps]


def _derivatives_steps():
    return _up_to_k(_steps_titled(_derivations()._softmax_steps, "Softmax Jacobian", "Chain rule over all k",
                                  "Bias and weight gradients")())


def _name_steps() -> list[Step]:
    sp = _sympy()
    c = sp.Symbol("c", positive=True)
    d2, d3 = sp.symbols("d_2 d_3", positive=True)  # z_1 is the largest: z_k = z_1 - d_k
    # softmax does not change when every z_k moves by the same amount (ch3-softmax-inverse), so
    # z_1 = 0 loses nothing: z = (0, -d_2, -d_3)
    a = _softmax_expr(sp, [sp.Integer(0), -d2, -d3], c)
    return [Step("A soft maximum", "(83)",
                 "a_j = e^(c z_j)/sum_k e^(c z_k) -> 1 for the largest z_j and 0 for the others as c -> oo",
                 r"\lim_{c\to\infty} \frac{e^{c z_j}}{\sum_k e^{c z_k}} = [z_j = \max_k z_k]",
                 "With c = 1 it is softmax; as c grows the outputs approach the indicator of the "
                 "largest weighted input, a 'hard' maximum. Softmax is a softened version of it. "
                 "Checked with z_1 the largest, z_2 = z_1 - d_2, z_3 = z_1 - d_3 (d_k > 0), and z_1 = 0 "
                 "since a common shift of every z_k changes nothing.",
                 (Check("lim a_1 (the largest)", sp.limit(a[0], c, sp.oo), 1),
                  Check("lim a_2", sp.limit(a[1], c, sp.oo), 0),
                  Check("lim a_3", sp.limit(a[2], c, sp.oo), 0)))]


def _backprop_softmax_steps():
    return _up_to_k(_steps_titled(_derivations()._softmax_steps, "The cost's derivative with respect to the outputs",
                                  "Chain rule over all k")())


def _backprop_softmax_run(full: bool) -> Run:
    import nndl
    from nndl import gradcheck

    data = subset(20, 10)
    X, Y = data.X[:8], np.eye(10)[data.y[:8]]
    net = _mnist_net(data, [data.n_in, 20, 10], cost=nndl.LogLikelihoodCost)
    zs, acts = net.forward_pass(X)
    fd = gradcheck.numerical_bias_gradient(net, X, Y, len(net.weights) - 1)  # output biases only
    err = gradcheck.relative_error(fd, (acts[-1] - Y).sum(axis=0))
    return Run([Claim("delta^L = a^L - y (eq. 84) vs central differences of the log-likelihood", err, "<", 1e-7)],
               setting=f"a [{data.n_in}, 20, 10] softmax network, 8 images.")


# --------------------------------------------------------------------------- 14. large rotations


def _rotations_run(full: bool) -> Run:
    from scipy.ndimage import rotate

    data = subset(50_000 if full else 10_000, 10)
    if data.n_in != 784:
        return Run([], setting="needs MNIST (28x28 images); not on this machine.")
    from nndl.data import load_dataset

    test = load_dataset("mnist", download=False).test
    net = _mnist_net(data)
    train(net, data, 10 if full else 4, 10, 0.5)
    sixes = test.X[test.y == 6].reshape(-1, 28, 28)
    rows, share = [], {}
    for angle in (0, 15, 45, 90, 180):
        imgs = sixes if angle == 0 else rotate(sixes, angle, axes=(1, 2), reshape=False, order=1)
        pred = net.predict(np.clip(imgs, 0, 1).reshape(len(imgs), 784))
        share[angle] = (float((pred == 6).mean()), float((pred == 9).mean()))
        rows.append([f"{angle} degrees", f"{share[angle][0]:.1%}", f"{share[angle][1]:.1%}"])
    claims = [Claim("15 degrees: share of 6s still read as 6", share[15][0], ">", 0.6),
              Claim("180 degrees: share of 6s read as 9", share[180][1], ">", 0.3),
              Claim("180 degrees: share of 6s still read as 6", share[180][0], "<", 0.2)]
    return Run(claims, [Table(f"The {len(sixes):,} test 6s, rotated, classified by a network trained on upright digits:",
                              ["rotation", "read as 6", "read as 9"], rows)],
               numbers={"share": share},
               setting=f"[784, 30, 10], cross-entropy, trained on {len(data.X):,} upright MNIST training "
                       "images (no validation run); tested on the MNIST test set's 6s.")


def _rotations_answer(n) -> str:
    s = n.get("share")
    tail = (f" Here a network trained on upright digits reads {s[15][0]:.0%} of the test 6s as 6 after a "
            f"15 degree turn, but after 180 degrees only {s[180][0]:.0%} as 6 and {s[180][1]:.0%} as 9.") if s else ""
    return ("a rotation is a good expansion only while the label stays true. Small rotations (the "
            "book's 15 degrees) mimic how people write; large ones change what the digit is: a 6 "
            "turned by 180 degrees is a 9 (and a 9 a 6), a 2 or a 7 turned on its side is no digit "
            "at all. Training on such images with the old label would label 9-shaped images "
            "as 6 (and 6-shaped ones as 9), contradicting the real 9s and 6s; that is the "
            "reasoning, not a run: no network below is trained on rotated images. What the run "
            "checks is the premise, that a turned 6 looks like a 9 to a network." + tail)


# --------------------------------------------------------------------------- 15. asymptotic performance


def _asymptotic_run(full: bool) -> Run:
    sizes = (500, 1000, 2000, 5000, 10_000, 50_000) if full else (250, 500, 1000, 2000, 4000)
    data = subset(max(sizes), 2000 if not full else 10_000)
    rows, err = [], {}
    for n in sizes:
        part = data._replace(X=data.X[:n], y=data.y[:n])
        net = _mnist_net(data)
        epochs = 30 if full else max(3, 30_000 // n)  # about 30,000 examples seen per run
        h, _ = train(net, part, epochs, 10, 0.5)
        err[n] = 1 - max(accuracies(h, len(data.y_eval)))
        rows.append([f"{n:,}", f"{err[n]:.1%}"])
    ns = np.array(sizes, dtype=float)
    es = np.array([err[n] for n in sizes])
    slope, intercept = np.polyfit(np.log(ns), np.log(es), 1)  # error ~ A n^slope
    claims = [Claim("validation error falls from the smallest to the largest training set", es[-1] / es[0], "<", 0.8),
              Claim("fitted exponent b of error ~ A n^(-b)", -slope, ">", 0.0)]
    return Run(claims, [Table("[n_in, 30, 10], cross-entropy, eta 0.5, best validation error by training-set size:",
                              ["training images", "error"], rows)],
               numbers={"b": -slope, "A": math.exp(intercept), "err": err, "sizes": sizes},
               setting=f"{data.description}; about 30,000 examples seen per run (capped at 3 epochs minimum).")


def _asymptotic_answer(n) -> str:
    return (f"one way to study it: fit the validation error as a power law of the training-set size n, "
            f"error ~ A n^(-b). Here b = {n['b']:.2f} for [n_in, 30, 10]. A learning algorithm whose b is "
            "larger improves faster with data, so comparisons at one n (as in the book's plot of "
            "network vs SVM) can reverse at larger n; the power law breaks down as the error nears the "
            "best the model can do (its asymptote), which a fit error ~ A n^(-b) + E_inf would "
            "estimate with more sizes (--full runs up to 50,000). Learning-curve studies such as "
            "Hestness et al. 2017 ('Deep learning scaling is predictable, empirically') find such "
            "power laws across many tasks.")


# --------------------------------------------------------------------------- 16. sqrt(3/2)


def _new_init_steps() -> list[Step]:
    sp = _sympy()
    n_on = 500
    return [Step("Variance of a sum of independent terms", "",
                 "z = sum_{500 inputs on} w_j + b: Var z = 500 Var w + Var b",
                 r"\mathrm{Var}\, z = 500\,\mathrm{Var}\,w + \mathrm{Var}\,b",
                 "1,000 inputs, half of them 1 and half 0 (the book's setting): only the 500 'on' "
                 "inputs contribute w_j x_j = w_j.",
                 (Check("old init, Var w = Var b = 1: Var z = 501", n_on * 1 + 1, 501),
                  Check("new init, Var w = 1/1000, Var b = 1: Var z = 3/2", n_on * sp.Rational(1, 1000) + 1, sp.Rational(3, 2)),
                  Check("std z = sqrt(3/2)", sp.sqrt(n_on * sp.Rational(1, 1000) + 1), sp.sqrt(sp.Rational(3, 2)))))]


def _new_init_run(full: bool) -> Run:
    rng = np.random.default_rng(0)
    n = 400_000 if full else 100_000
    x = np.zeros(1000)
    x[:500] = 1.0
    zs = []
    for chunk in range(n // 10_000):
        w = rng.standard_normal((10_000, 1000)) / math.sqrt(1000)
        zs.append(w @ x + rng.standard_normal(10_000))
    std = float(np.std(np.concatenate(zs)))
    old = float(np.std(rng.standard_normal((20_000, 500)).sum(axis=1) + rng.standard_normal(20_000)))
    return Run([Claim(f"sampled std of z, new init, {n:,} neurons, vs sqrt(3/2) = {math.sqrt(1.5):.4f}", std, "~", math.sqrt(1.5), tolerance=0.01),
                Claim(f"sampled std of z, old N(0, 1) init, vs sqrt(501) = {math.sqrt(501):.2f}", old, "~", math.sqrt(501), tolerance=0.02)])


# --------------------------------------------------------------------------- 17. weight decay heuristic


def _decay_steps() -> list[Step]:
    sp = _sympy()
    eta, lmbda, m = sp.symbols("eta lambda m", positive=True)
    n = sp.Symbol("n", positive=True)
    return [Step("One epoch of pure weight decay", "(93)",
                 "(1 - eta lambda/n)^(n/m) -> exp(-eta lambda/m) when eta lambda << n",
                 r"\left(1-\frac{\eta\lambda}{n}\right)^{n/m} \approx e^{-\eta\lambda/m}",
                 "An epoch has n/m mini-batches; each multiplies every weight by 1 - eta lambda/n. "
                 "While the weights are large (old N(0, 1) init) the gradient term is small beside "
                 "the decay term, so decay dominates the first epochs and the weights shrink by about "
                 "exp(-eta lambda/m) per epoch. It tails off once the weights are about 1/sqrt(n_w) in "
                 "size (n_w the number of weights), where the gradient term is as large as the decay: "
                 "the regularised start of the improved initialisation, reached by decay.",
                 (Check("limit n -> oo of (1 - eta lambda/n)^(n/m)", sp.limit((1 - eta * lmbda / n) ** (n / m), n, sp.oo),
                        sp.exp(-eta * lmbda / m)),))]


def _decay_run(full: bool) -> Run:
    from nndl.training import sgd

    data = subset(1000 if not full else 50_000, 500)
    eta, lmbda, m = 0.5, 5.0 if not full else 5.0, 10
    net = _mnist_net(data, init="large")
    norms = [float(np.linalg.norm(net.weights[0]))]
    epochs = 25 if not full else 30
    from nndl.answers.experiment import quiet_training

    with quiet_training():
        sgd(net, (data.X, data.y), epochs, m, eta, lmbda, rng=np.random.default_rng(0),
            on_epoch=lambda e, h, n: norms.append(float(np.linalg.norm(n.weights[0]))))
    factors = [norms[i + 1] / norms[i] for i in range(len(norms) - 1)]
    predicted = math.exp(-eta * lmbda / len(data.X) * (len(data.X) / m))
    n_w = sum(w.size for w in net.weights)
    rms = norms[-1] / math.sqrt(net.weights[0].size)
    rows = [[str(i + 1), f"{norms[i + 1]:.2f}", f"{factors[i]:.3f}"] for i in range(0, len(factors), max(1, len(factors) // 8))]
    claims = [Claim(f"epoch 1: shrink factor of ||w^2|| vs exp(-eta lambda/m) = {predicted:.3f}", factors[0], "~", predicted, tolerance=0.03),
              Claim("last epoch's shrink factor, much closer to 1 (decay has tailed off)", factors[-1], ">", predicted + 0.5 * (1 - predicted)),
              Claim("final rms weight of w^2 / initial (about 1)", rms / (norms[0] / math.sqrt(net.weights[0].size)), "<", 0.1)]
    return Run(claims, [Table(f"||w^2|| by epoch, old N(0, 1) start, eta = {eta}, lambda = {lmbda}, m = {m}:",
                              ["epoch", "||w^2||", "factor"], rows)],
               numbers={"predicted": predicted, "first": factors[0], "last": factors[-1], "rms": rms,
                        "target": 1 / math.sqrt(n_w)},
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description} (chapter 3's overfitting setting).")


# --------------------------------------------------------------------------- 18. L1


def _l1_answer(n) -> str:
    """The L1 answer, every comparison in it read off the run's numbers."""
    top, late = n["top"], n["late"]
    beats = late[top] > late[0.0]
    big = max(late)
    after_top = (f"The largest lambda tried ({big:g}) averaged {late[big]:.1%}, "
                 + ("below" if late[big] < late[top] else "not below") + f" lambda = {top:g}'s"
                 + (": too strong a pull to 0 costs accuracy again. " if late[big] < late[top] else ". ")
                 if big != top else "")
    return ((f"yes, on this run: with L1 (eq. 97, nndl train --regularization l1) lambda = {top:g} averaged "
             if beats else f"not on this run: the best L1 lambda, {top:g}, averaged ")
            + f"{late[top]:.1%} validation accuracy over the last 10 of {n['epochs']} epochs against "
            f"{late[0.0]:.1%} without regularisation (best epochs: {n['best'][top]:.1%} vs "
            f"{n['best'][0.0]:.1%}), with {n['n_train']:,} training images, {n['n_eval']:,} validation "
            "images and the old N(0, 1) start (chapter 3's overfitting setting uses 1,000 training images). "
            "One seed per lambda, and no other seed was run: a difference of a percent or two is "
            f"shown for this run only. {after_top}L2 with chapter 3's lambda = 0.1 averaged {n['l2']:.1%} in the same run. "
            "Unlike L2, L1 shrinks every weight by the same amount, so it drives many weights to 0: "
            f"{n['near0'][top]:.0%} of the hidden weights end below 0.001 in size with L1 lambda = {top:g}, "
            f"{n['l2_near0']:.0%} with L2.")


def _l1_run(full: bool) -> Run:
    # chapter 3's regularisation setting: the old N(0, 1) initialisation (network2's
    # large_weight_initializer, which the book's overfitting runs use), cross-entropy, eta 0.5
    data = subset(50_000 if full else 1000, 10_000 if full else 2000)
    epochs = 30 if full else 40
    rows, best, late, near0 = [], {}, {}, {}
    for lmbda in (0.0, 0.1, 0.5, 2.0):
        net = _mnist_net(data, init="large")
        h, _ = train(net, data, epochs, 10, 0.5, lmbda, regularization="l1")
        a = accuracies(h, len(data.y_eval))
        best[lmbda], late[lmbda] = max(a), float(np.mean(a[-10:]))
        near0[lmbda] = small = float(np.mean(np.abs(net.weights[0]) < 1e-3))
        rows.append([f"{lmbda:g}", f"{late[lmbda]:.1%}", f"{max(a):.1%}", f"{small:.0%}"])
    net = _mnist_net(data, init="large")  # L2 (eq. 93) with chapter 3's lambda, for comparison
    h, _ = train(net, data, epochs, 10, 0.5, 0.1)
    a = accuracies(h, len(data.y_eval))
    l2 = float(np.mean(a[-10:]))
    l2_near0 = float(np.mean(np.abs(net.weights[0]) < 1e-3))
    rows.append(["L2, 0.1", f"{l2:.1%}", f"{max(a):.1%}", f"{l2_near0:.0%}"])
    top = max((l for l in late if l > 0), key=lambda l: late[l])  # judged on the last 10 epochs
    return Run([Claim(f"L1 lambda = {top:g}: mean accuracy of the last 10 epochs minus no regularisation's",
                      late[top] - late[0.0], ">", 0.01),
                Claim(f"L1 lambda = {top:g}: best validation accuracy minus no regularisation's", best[top] - best[0.0], ">", 0.0),
                Claim(f"hidden weights with |w| < 0.001: L1 lambda = {top:g}'s share minus L2's",
                      near0[top] - l2_near0, ">", 0.1, detail="L1 drives many weights to 0, L2 few")],
               [Table(f"{epochs} epochs, eta 0.5, L1 (eq. 97), old N(0, 1) start:",
                      ["lambda", "mean of last 10 epochs", "best", "hidden weights |w| < 0.001"], rows)],
               numbers={"best": best, "top": top, "late": late, "l2": l2, "near0": near0, "l2_near0": l2_near0,
                        "n_train": len(data.X), "n_eval": len(data.X_eval), "epochs": epochs},
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description} (chapter 3's regularisation setting).")


# --------------------------------------------------------------------------- 19. cost_derivative for the cross-entropy


def _cost_derivative_steps() -> list[Step]:
    sp = _sympy()
    a, y = sp.symbols("a y", positive=True)
    C = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    return [Step("The cross-entropy's cost_derivative", "(63)",
                 "dC/da = (a - y)/(a(1 - a)); times sigma'(z) = a(1 - a) it gives a - y",
                 r"\frac{\partial C}{\partial a} = \frac{a-y}{a(1-a)},\quad \frac{\partial C}{\partial a}\sigma'(z) = a-y",
                 "network.py's backprop computes delta^L = cost_derivative(a, y) * sigma'(z). For the "
                 "cross-entropy that multiplies and divides by a(1 - a): exact in algebra, but in "
                 "floating point a = sigma(z) rounds to exactly 1 once z > ~37 (1 - a = e^(-z) is "
                 "then below the float spacing near 1), giving (a - y)/0 = inf, times sigma'(z) = 0: "
                 "nan. On the negative side a ~ e^z stays representable much longer: it underflows to "
                 "exactly 0 only once z < ~-745. network2.py avoids both by returning "
                 "delta = a - y directly (CrossEntropyCost.delta).",
                 (Check("dC/da", sp.diff(C, a), (a - y) / (a * (1 - a))),
                  Check("dC/da * a(1 - a) = a - y", sp.diff(C, a) * a * (1 - a), a - y)))]


def _cost_derivative_run(full: bool) -> Run:
    from nndl.activations import sigmoid

    z = np.array([-800.0, -40.0, 0.0, 10.0, 30.0, 40.0, 800.0])
    a, y = sigmoid(z), 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = ((a - y) / (a * (1 - a))) * (a * (1 - a))
    stable = a - y
    return Run([Claim("cost_derivative * sigma': nan at z = 40, 800 and -800 (a rounded to 1 or 0)",
                      float(np.isnan(naive[[0, 5, 6]]).sum()), "~", 3, tolerance=0.0),
                Claim("cost_derivative * sigma': finite at z = -40 (a = 4e-18, not yet 0) and 0, 10, 30",
                      float(np.isfinite(naive[1:5]).sum()), "~", 4, tolerance=0.0),
                Claim("delta = a - y directly: entries that are not finite", float((~np.isfinite(stable)).sum()), "<=", 0)],
               [Table("delta^L for y = 0:", ["z", "a", "cost_derivative * sigma'", "a - y"],
                      [[f"{zi:g}", f"{ai:.17g}", f"{ni:.6g}", f"{si:.6g}"] for zi, ai, ni, si in zip(z, a, naive, stable)])])


# --------------------------------------------------------------------------- 20-22. stopping rules and schedules


def _run_history(data, epochs, seed=0, **options):
    net = _mnist_net(data, seed=seed)
    h, status = train(net, data, epochs, 10, 0.5, 5.0, seed=seed, monitor_evaluation_cost=True, **options)
    return h


def _first_stop(acc, n: int) -> float:
    """The epoch (1-based) at which no-improvement-in-n first fires on ``acc``, counted here
    independently of nndl's Trainer; nan if it never fires."""
    best, since = -math.inf, 0
    for epoch, a in enumerate(acc, 1):
        best, since = (a, 0) if a > best else (best, since + 1)
        if since >= n:
            return float(epoch)
    return float("nan")


def _early_stopping_run(full: bool) -> Run:
    data = subset(50_000 if full else 1000, 10_000 if full else 1000)
    n = 10
    h = _run_history(data, 400 if full else 200, early_stopping=n)
    acc = accuracies(h, len(data.y_eval))
    best_epoch = int(np.argmax(acc))
    return Run([Claim("the run stopped by the rule (epochs run < the cap)", len(acc), "<", 400 if full else 200),
                Claim(f"epochs after the best one when it stopped (n = {n})", len(acc) - 1 - best_epoch, "~", n, tolerance=0.0),
                Claim("epoch at which an independent count of the rule first fires, vs the epochs run",
                      _first_stop(acc, n), "~", len(acc), tolerance=0.0,
                      detail="neither earlier nor later than the rule says")],
               [Table("No-improvement-in-10 on the validation accuracy:", ["epochs run", "best epoch", "best accuracy", "final"],
                      [[str(len(acc)), str(best_epoch + 1), f"{max(acc):.2%}", f"{acc[-1]:.2%}"]])],
               numbers={"epochs": len(acc), "best": best_epoch + 1},
               setting=f"[{data.n_in}, 30, 10], cross-entropy, eta 0.5, lambda 5, {data.description}; "
                       "nndl train --early-stopping N implements the rule (nndl.training.Trainer).")


def _stop_no_improvement(values, n, higher=True):
    """1-based epoch at which no-improvement-in-n fires on ``values`` (len(values) if never)."""
    best, since = None, 0
    for i, v in enumerate(values):
        better = best is None or (v > best if higher else v < best)
        best, since = (v, 0) if better else (best, since + 1)
        if since >= n:
            return i + 1
    return len(values)


def _stop_generalisation_loss(costs, alpha):
    """Prechelt's GL_alpha: the 1-based epoch at which the validation cost first exceeds its
    minimum so far by more than alpha percent (len(costs) if never)."""
    low = math.inf
    for i, c in enumerate(costs):
        low = min(low, c)
        if 100.0 * (c / low - 1.0) > alpha:
            return i + 1
    return len(costs)


def _early_other_run(full: bool) -> Run:
    data = subset(50_000 if full else 1000, 10_000 if full else 1000)
    net = _mnist_net(data)
    h, _ = train(net, data, 150 if full else 60, 10, 0.5, 0.0, monitor_evaluation_cost=True)
    acc, cost = accuracies(h, len(data.y_eval)), list(h.evaluation_cost)
    rules = {"no improvement in accuracy for 10 epochs (exercise 20)": _stop_no_improvement(acc, 10),
             "validation cost 10 % above its minimum so far (GL_10)": _stop_generalisation_loss(cost, 10.0),
             "no improvement in validation cost for 5 epochs": _stop_no_improvement(cost, 5, higher=False)}
    rows, kept = [], {}
    for name, stop in rules.items():
        kept[name] = max(acc[:stop])  # a stopping rule keeps the best network seen so far
        rows.append([name, str(stop), f"{kept[name]:.2%}"])
    rows.append(["(no stopping: the best of all epochs)", str(int(np.argmax(acc)) + 1), f"{max(acc):.2%}"])
    gl = rules["validation cost 10 % above its minimum so far (GL_10)"]
    low = int(np.argmin(cost[:gl]))
    claims = [Claim("GL_10 replay: at its stop the cost exceeds the minimum so far by (%)",
                    100 * (cost[gl - 1] / min(cost[:gl]) - 1) if gl < len(cost) else 0.0, ">",
                    10.0 if gl < len(cost) else -1.0),
              Claim("GL_10 replay: no earlier epoch exceeded it (largest excess before the stop, %)",
                    max([100 * (cost[i] / min(cost[:i + 1]) - 1) for i in range(gl - 1)] or [0.0]), "<=", 10.0),
              Claim("the validation cost's minimum comes before the stop (overfitting sets in)", low + 1, "<", gl)]
    return Run(claims, [Table("Three rules replayed on one run's validation history (the network kept is the best so far):",
                              ["rule", "stops after epoch", "accuracy kept"], rows)],
               numbers={"rules": rules, "kept": kept, "best": max(acc), "n_epochs": len(acc)},
               setting=f"[{data.n_in}, 30, 10], cross-entropy, eta 0.5, no regularisation (it overfits), {data.description}.")


def _early_other_answer(n) -> str:
    (a, sa), (b, sb), (c, sc) = n["rules"].items()
    return (f"watch the validation COST instead of the accuracy: stop when it has risen more than alpha % "
            f"above the lowest value so far (Prechelt's 'generalisation loss' GL_alpha, 1998), keeping the best "
            "network seen. The cost changes smoothly while the accuracy moves in steps of one image, so the "
            f"rule reacts to overfitting itself. On this run GL_10 stopped after epoch {sb} keeping "
            f"{n['kept'][b]:.1%}, no-improvement-in-10 on the accuracy after epoch {sa} keeping {n['kept'][a]:.1%}, "
            f"and no-improvement-in-5 on the cost after epoch {sc} keeping {n['kept'][c]:.1%} (the best of "
            f"all {n['n_epochs']} epochs: {n['best']:.1%}). "
            + ("All three kept the same accuracy here, so this run tells the rules apart only by "
               "how long they train, not by what they keep. " if len({round(v, 6) for v in n["kept"].values()}) == 1
               else "")
            + "alpha trades training time against accuracy; "
            "with regularisation the validation cost can rise while the accuracy still improves (as "
            "chapter 3's plots show), so the rule suits unregularised runs best.")


def _schedule_run(full: bool) -> Run:
    data = subset(50_000 if full else 1000, 10_000 if full else 1000)
    net = _mnist_net(data)
    h, _ = train(net, data, 2000, 10, 0.5, 5.0, eta_schedule=10 if full else 5)
    etas = list(h.eta)
    used = sorted(set(etas), reverse=True)
    return Run([Claim("learning rates used: eta_0, eta_0/2, ..., eta_0/64", len(used), "~", 7, tolerance=0.0),
                Claim("smallest eta used / eta_0", used[-1] / etas[0], "~", 1 / 64, tolerance=1e-12,
                      detail="the seventh halving reaches eta_0/128 and ends the run"),
                Claim("the run ended by the schedule (1 = yes)", float(h.stopped == "eta-schedule"), "~", 1.0, tolerance=0.0)],
               [Table("Learning-rate schedule:", ["epochs run", "eta by halving"], [[str(len(etas)), ", ".join(f"{e:g}" for e in sorted(set(etas), reverse=True))]])],
               setting=f"[{data.n_in}, 30, 10], eta 0.5, lambda 5, {data.description}; no-improvement-in-"
                       f"{10 if full else 5} (10 with --full, as the book); nndl train --eta-schedule N.")


# --------------------------------------------------------------------------- 23. gradient descent on hyper-parameters


def _hyper_run(full: bool) -> Run:
    data = subset(2000, 1000)
    rows, acc, cost = [], {}, {}
    etas = (0.025, 0.1, 0.5, 2.5, 10.0, 40.0)
    for eta in etas:
        net = _mnist_net(data)
        h, status = train(net, data, 1, 10, eta, monitor_evaluation_cost=True)
        acc[eta] = accuracies(h, len(data.y_eval))[-1] if h else float("nan")
        cost[eta] = h.evaluation_cost[-1] if h else float("nan")
        rows.append([f"{eta:g}", f"{acc[eta]:.1%}", f"{cost[eta]:.3f}"])
    # the accuracy as a function of eta is piecewise constant: a tiny change moves no image across
    net_a, net_b = _mnist_net(data), _mnist_net(data)
    ha, _ = train(net_a, data, 1, 10, 0.5)
    hb, _ = train(net_b, data, 1, 10, 0.5 + 1e-9)
    d_acc = (hb.evaluation_accuracy[-1] - ha.evaluation_accuracy[-1]) / 1e-9
    costs = [cost[e] for e in etas]
    turns = sum(1 for i in range(1, len(costs) - 1) if (costs[i] - costs[i - 1]) * (costs[i + 1] - costs[i]) < 0)
    return Run([Claim("d(validation accuracy)/d(eta) by a difference of 1e-9 (one whole run each)", d_acc, "~", 0.0, tolerance=0.0),
                Claim("validation cost vs eta: changes of direction over the grid (not monotone)", turns, ">=", 1)],
               [Table("One epoch at each eta (each row is a whole training run):", ["eta", "validation accuracy", "validation cost"], rows)],
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description}.")


# --------------------------------------------------------------------------- 24-26. momentum


def _momentum_steps(mu_sign: str) -> list[Step]:
    sp = _sympy()
    mu, eta, k = sp.symbols("mu eta k", real=True)
    M = sp.Matrix([[mu, -eta * k], [mu, 1 - eta * k]])  # (v, w) -> (v', w') for C = k w^2/2
    v, w = sp.symbols("v w", real=True)
    step = M * sp.Matrix([v, w])
    steps = [Step("Momentum on a quadratic valley", "(107), (108)",
                  "C = k w^2/2: v' = mu v - eta k w, w' = w + v' = mu v + (1 - eta k) w",
                  r"\begin{pmatrix} v' \\ w' \end{pmatrix} = \begin{pmatrix} \mu & -\eta k \\ \mu & 1-\eta k\end{pmatrix}\begin{pmatrix} v \\ w \end{pmatrix}",
                  "The step is a linear map M of (v, w); it converges only when both eigenvalues "
                  "of M have modulus below 1.",
                  (Check("v' = mu v - eta dC/dw", step[0], mu * v - eta * sp.diff(k * w**2 / 2, w)),
                   Check("w' = w + v'", step[1], w + step[0]))),
             Step("The product of the eigenvalues is mu", "",
                  "det M = mu",
                  r"\det M = \lambda_1 \lambda_2 = \mu",
                  ("So with mu > 1 at least one eigenvalue has modulus > 1: the velocity and the "
                   "weights grow without bound (on a flat stretch, v' = mu v grows by mu every "
                   "step) - the 'friction' becomes a push." if mu_sign == "+" else
                   "With mu < 0 the product of the eigenvalues is negative: on a flat stretch "
                   "v' = mu v flips sign every step, so the velocity fights its own previous step "
                   "and the weights zig-zag. On that flat stretch |v| changes by |mu| per step: for "
                   "mu < -1 it grows without bound, mu = -1 is the borderline (|v| stays the same, "
                   "eigenvalue modulus 1), and -1 < mu < 0 damps it (the runs below use mu in that "
                   "range only)."),
                  (Check("det M = mu", sp.simplify(M.det()), mu),
                   Check("flat stretch (k = 0): v after two steps = mu^2 v", (M.subs(k, 0) ** 2 * sp.Matrix([v, w]))[0], mu**2 * v)))]
    return steps


def _momentum_loop(data, mu, steps, eta=0.1, seed=0):
    net = _mnist_net(data, seed=seed)
    rng = np.random.default_rng(seed)
    Y = np.eye(10)[data.y]
    prev, cosines, norms = None, [], []
    for s in range(steps):
        idx = rng.integers(0, len(data.X), 10)
        before = [w.copy() for w in net.weights]
        with np.errstate(all="ignore"):
            net.update_mini_batch(data.X[idx], Y[idx], eta, momentum=mu)  # eqs. (107)-(108)
        delta = np.concatenate([(w - b).ravel() for w, b in zip(net.weights, before)])
        if not np.all(np.isfinite(delta)):
            norms.append(math.inf)
            break
        if prev is not None and np.linalg.norm(prev) > 0 and np.linalg.norm(delta) > 0:
            cosines.append(float(delta @ prev / (np.linalg.norm(delta) * np.linalg.norm(prev))))
        prev = delta
        norms.append(float(np.linalg.norm(net.weights[0])))
    acc = float((net.predict(data.X_eval) == data.y_eval).mean()) if np.isfinite(norms[-1]) else float("nan")
    return norms, cosines, acc


def _momentum_above_run(full: bool) -> Run:
    data = subset(2000, 500)
    rows, out = [], {}
    for mu in (0.9, 1.1):
        norms, cos, acc = _momentum_loop(data, mu, 1500 if full else 600)
        out[mu] = (norms, acc)
        rows.append([f"{mu:g}", f"{norms[0]:.3g}", f"{norms[-1]:.3g}" if np.isfinite(norms[-1]) else "inf/nan",
                     str(len(norms)), f"{acc:.1%}" if acc == acc else "-"])
    grow = out[1.1][0][-1] / out[1.1][0][0]
    return Run([Claim("mu = 1.1: ||w^2|| at the end / at the start", grow, ">", 100.0, detail="diverges"),
                Claim("mu = 0.9: validation accuracy after the same steps", out[0.9][1], ">", 0.5)],
               [Table("Momentum SGD (eqs. 107-108), eta 0.1, mini-batch 10:", ["mu", "||w^2|| first step", "last", "steps", "accuracy"], rows)],
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description}.")


def _momentum_negative_run(full: bool) -> Run:
    data = subset(2000, 500)
    rows, out = [], {}
    for mu in (0.0, 0.5, -0.5):
        norms, cos, acc = _momentum_loop(data, mu, 1000 if full else 400)
        out[mu] = (float(np.mean(cos)), acc)
        rows.append([f"{mu:g}", f"{out[mu][0]:+.3f}", f"{acc:.1%}"])
    return Run([Claim("mu = -0.5: mean cosine between successive weight updates", out[-0.5][0], "<", 0.0, detail="they zig-zag"),
                Claim("mu = +0.5: mean cosine between successive updates", out[0.5][0], ">", 0.0),
                Claim("mu = -0.5 minus mu = 0: validation accuracy after the same steps", out[-0.5][1] - out[0.0][1], "<", 0.0)],
               [Table("Momentum SGD, eta 0.1, mini-batch 10:", ["mu", "mean cos(update_t, update_t-1)", "accuracy"], rows)],
               numbers={"out": out},
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description}.")


def _momentum_network2_run(full: bool) -> Run:
    import nndl

    data = subset(5000 if not full else 50_000, 1000)
    X, Y = data.X[:10], np.eye(10)[data.y[:10]]
    net = _mnist_net(data)
    ref = net.copy()
    mu, eta = 0.9, 0.1
    vw = [np.zeros_like(w) for w in ref.weights]
    vb = [np.zeros_like(b) for b in ref.biases]
    for _ in range(3):  # three steps of eqs. (107)-(108), written out
        nb, nw = ref.backprop(X, Y)
        for l in range(len(vw)):
            vw[l] = mu * vw[l] - eta / len(X) * nw[l]
            vb[l] = mu * vb[l] - eta / len(X) * nb[l]
            ref.weights[l] = ref.weights[l] + vw[l]
            ref.biases[l] = ref.biases[l] + vb[l]
        net.update_mini_batch(X, Y, eta, momentum=mu)
    err = max(float(np.abs(a - b).max()) for a, b in zip(net.weights + net.biases, ref.weights + ref.biases))
    rows, acc = [], {}
    for mu_, eta_ in ((0.0, 0.5), (0.9, 0.05)):
        n2 = _mnist_net(data)
        h, _ = train(n2, data, 3, 10, eta_, momentum=mu_)
        acc[mu_] = accuracies(h, len(data.y_eval))
        rows.append([f"{mu_:g}", f"{eta_:g}", ", ".join(f"{a:.1%}" for a in acc[mu_])])
    del nndl
    return Run([Claim("nndl's momentum step vs eqs. (107)-(108) written out, 3 steps, max difference", err, "<", 1e-12),
                Claim("momentum 0.9 (eta 0.05) after 3 epochs: validation accuracy", acc[0.9][-1], ">", 0.8)],
               [Table("Plain SGD vs momentum (eta scaled by about 1 - mu):", ["mu", "eta", "validation accuracy by epoch"], rows)],
               setting=f"[{data.n_in}, 30, 10], cross-entropy, {data.description}; "
                       "nndl train --momentum MU (nndl.Network.update_mini_batch).")


# --------------------------------------------------------------------------- 27. eq. (111)


def _tanh_steps() -> list[Step]:
    sp = _sympy()
    z = sp.Symbol("z", real=True)
    t = z / 2
    tanh_exp = (sp.exp(t) - sp.exp(-t)) / (sp.exp(t) + sp.exp(-t))
    return [
        Step("tanh in exponentials", "(110)",
             "tanh(z/2) = (e^(z/2) - e^(-z/2))/(e^(z/2) + e^(-z/2)) = (1 - e^(-z))/(1 + e^(-z))",
             r"\tanh(z/2) = \frac{1-e^{-z}}{1+e^{-z}}",
             "Multiply numerator and denominator by e^(-z/2).",
             (Check("tanh(z/2) = (e^(z/2) - e^(-z/2))/(e^(z/2) + e^(-z/2))", sp.tanh(t), tanh_exp),
              Check("(e^(z/2) - e^(-z/2))/(e^(z/2) + e^(-z/2)) = (1 - e^(-z))/(1 + e^(-z))", tanh_exp, (1 - sp.exp(-z)) / (1 + sp.exp(-z))))),
        Step("Add 1 and halve", "(111)",
             "(1 + tanh(z/2))/2 = (1/2)(2/(1 + e^(-z))) = sigma(z)",
             r"\frac{1+\tanh(z/2)}{2} = \frac{1}{1+e^{-z}} = \sigma(z)",
             "1 + (1 - e^(-z))/(1 + e^(-z)) = 2/(1 + e^(-z)). So a tanh neuron is a sigmoid neuron "
             "with its input scaled by 2 and its output rescaled from (0, 1) to (-1, 1): "
             "tanh(z) = 2 sigma(2z) - 1.",
             (Check("(1 + (1 - e^(-z))/(1 + e^(-z)))/2 = sigma(z)", (1 + (1 - sp.exp(-z)) / (1 + sp.exp(-z))) / 2, _sigma(z)),
              Check("tanh(z) = 2 sigma(2z) - 1", sp.tanh(z), 2 * _sigma(2 * z) - 1))),
    ]


def _tanh_run(full: bool) -> Run:
    from scipy.special import expit

    z = np.linspace(-30, 30, 200_001)
    return Run([Claim("max |(1 + tanh(z/2))/2 - sigma(z)| on [-30, 30] (float64)", float(np.abs((1 + np.tanh(z / 2)) / 2 - expit(z)).max()), "<", 1e-15)])


EXERCISES: dict[str, Spec] = {
    "ch3-sigmoid-prime": Spec("Verify that sigma'(z) = sigma(z)(1 - sigma(z)).",
        "differentiating 1/(1 + e^(-z)) gives e^(-z)/(1 + e^(-z))^2, and e^(-z)/(1 + e^(-z)) = 1 - sigma(z), "
        "so sigma'(z) = sigma(z)(1 - sigma(z)) (also `nndl derive sigmoid-prime`).",
        steps=_sigmoid_prime_steps, run=_sigmoid_prime_run, section=S_CE),
    "ch3-cross-entropy-roles": Spec(
        "When the cross-entropy was introduced, a reader might misremember it as "
        "-[a ln y + (1-a) ln(1-y)]. Is that a sensible expression? What goes wrong when y = 0 or 1, "
        "and does the book's -[y ln a + (1-y) ln(1-a)] have that problem?",
        "with y = 0 or 1, as targets are in classification, the swapped expression takes ln 0 and "
        "is infinite whatever the output, and its gradient ln((1-y)/y) does not depend on a at all. "
        "The book's form is finite for every output strictly between 0 and 1 (a sigmoid never "
        "reaches 0 or 1), is 0 exactly when a = y, and its gradient (a - y)/(a(1 - a)) is what "
        "removes the learning slowdown.",
        steps=_roles_steps, section=S_CE),
    "ch3-cross-entropy-minimum": Spec(
        "In the single-neuron discussion the cross-entropy is small when sigma(z) ~ y for all "
        "training inputs, an argument that relies on y being 0 or 1. Show that for 0 < y < 1 the "
        "cross-entropy is still minimised when sigma(z) = y, though the minimum is not 0.",
        "dC/da = (a - y)/(a(1 - a)) vanishes only at a = y and the second derivative is positive "
        "there, so a = y is the minimum; its value -[y ln y + (1-y) ln(1-y)] (the binary entropy "
        "of y) is positive for 0 < y < 1.",
        steps=_minimum_steps, run=_minimum_run, section=S_CE),
    "ch3-many-layer-cross-entropy": Spec(
        "Many-layer multi-neuron networks: show that for the quadratic cost dC/dw^L_jk = "
        "(1/n) sum_x a^(L-1)_k (a^L_j - y_j) sigma'(z^L_j) (eq. 65), and that for the cross-entropy "
        "the sigma'(z^L_j) term disappears.",
        "differentiating each cost through a^L_j = sigma(z^L_j): the quadratic cost leaves the "
        "factor sigma'(z^L_j), which is tiny for saturated outputs; the cross-entropy's dC/da cancels "
        "it, leaving a^(L-1)_k (a^L_j - y_j). nndl's backprop agrees with both formulas.",
        steps=_many_layer_steps, run=_many_layer_run, section=S_CE),
    "ch3-linear-output": Spec(
        "With linear neurons in the output layer, a^L_j = z^L_j, and the quadratic cost, show that "
        "delta^L = a^L - y (eq. 68), and hence eqs. (69)-(70): the gradients have no sigma' term.",
        "with a^L = z^L, dC/dz^L = dC/da^L = a^L - y, so delta^L = a^L - y and BP3/BP4 give "
        "dC/db^L_j = a^L_j - y_j and dC/dw^L_jk = a^(L-1)_k (a^L_j - y_j): no learning slowdown "
        "in the output layer (also `nndl derive canonical-pairs`).",
        steps=_linear_output_steps, section=S_CE),
    "ch3-hidden-saturation": Spec(
        "The cross-entropy cures the slowdown of saturated output neurons. What about saturated "
        "hidden neurons?",
        "it cannot help them: BP2 multiplies the error of hidden neuron j by its own sigma'(z^l_j), "
        "whatever the cost. Pushing the hidden neurons into saturation divides their gradient by "
        "a large factor under the quadratic and the cross-entropy alike. The cures are elsewhere: "
        "the weight initialisation of chapter 3, other activations (chapter 3's tanh and ReLU).",
        steps=_hidden_saturation_steps, run=_hidden_saturation_run, section="The cross-entropy cost function"),
    "ch3-sigmoid-not-distribution": Spec(
        "Construct an example showing that in a network with a sigmoid output layer the output "
        "activations a^L_j won't always sum to 1.",
        lambda n: ("two sigmoid outputs with z = (1, 2) give 0.731 + 0.881 = 1.61. Sigmoid outputs are "
                   "computed independently, so nothing ties their sum to 1; a trained network's ten "
                   f"outputs summed to between {n['min']:.2f} and {n['max']:.2f} on the validation images, "
                   "while a softmax layer's sum to 1 to rounding, which is why softmax outputs can be "
                   "read as a probability distribution."),
        run=_not_distribution_run, section=S_SOFTMAX),
    "ch3-softmax-monotonicity": Spec(
        "Monotonicity of softmax: show that da^L_j/dz^L_k is positive if j = k and negative if "
        "j != k: increasing z^L_j increases a^L_j and decreases every other output.",
        "da_j/dz_k = a_j(delta_jk - a_k): a_j(1 - a_j) > 0 on the diagonal and -a_j a_k < 0 off it, "
        "because every softmax output lies strictly between 0 and 1.",
        steps=_monotonicity_steps, run=_softmax_sign_run, section=S_SOFTMAX),
    "ch3-softmax-nonlocality": Spec(
        "Non-locality of softmax: a sigmoid output a^L_j depends only on z^L_j; explain why this "
        "is not so for softmax, where any output depends on all the weighted inputs.",
        "the denominator sum_k e^(z_k) contains every weighted input, so da_j/dz_k = -a_j a_k is "
        "never 0: changing any z_k changes every output.",
        steps=_nonlocality_steps, run=_nonlocality_run, section=S_SOFTMAX),
    "ch3-softmax-inverse": Spec(
        "Inverting the softmax layer: show that a softmax layer with activations a^L_j has "
        "weighted inputs z^L_j = ln a^L_j + C for some constant C independent of j.",
        "ln a_j = z_j - ln sum_k e^(z_k), so z_j = ln a_j + C with C = ln sum_k e^(z_k), the same for "
        "all j; C cannot be recovered from the outputs, since adding a constant to every z_j leaves "
        "softmax unchanged.",
        steps=_inverse_steps, section=S_SOFTMAX),
    "ch3-softmax-derivatives": Spec("Derive eqs. (81) and (82): for softmax with the log-likelihood, "
        "dC/db^L_j = a^L_j - y_j and dC/dw^L_jk = a^(L-1)_k (a^L_j - y_j).",
        "with C = -ln a_y, dC/da_k = -1/a_y for k = y and 0 otherwise; the softmax Jacobian "
        "a_k(delta_kj - a_j) turns that into dC/dz_j = a_j - y_j for every j, and BP3/BP4 give (81) "
        "and (82) (also `nndl derive softmax-log-likelihood`, with every K = 2..6 checked).",
        steps=_derivatives_steps, run=_backprop_softmax_run, section=S_SOFTMAX),
    "ch3-softmax-name": Spec(
        "Where does softmax get its name? Consider a_j = e^(c z_j)/sum_k e^(c z_k) with c > 0; "
        "what is the limit as c -> infinity?",
        "as c grows the largest weighted input takes all the output (its a_j -> 1, the others -> 0): "
        "the limit is a hard maximum, and c = 1 gives a 'softened' maximum, the softmax.",
        steps=_name_steps, section=S_SOFTMAX),
    "ch3-softmax-backprop": Spec(
        "Backpropagation with softmax and the log-likelihood cost: show that delta^L_j = "
        "a^L_j - y_j (eq. 84).",
        "dC/dz_j = sum_k dC/da_k da_k/dz_j = -(1/a_y) a_y(delta_yj - a_j) = a_j - y_j; so "
        "backpropagation starts from delta^L = a^L - y and is otherwise unchanged (BP2-BP4). "
        "This agrees with central differences of the log-likelihood on a real network.",
        steps=_backprop_softmax_steps, run=_backprop_softmax_run, section=S_SOFTMAX),
    "ch3-large-rotations": Spec(
        "Expanding the training data by small rotations improves accuracy. What goes wrong if we "
        "use arbitrarily large rotations?", _rotations_answer, run=_rotations_run, section=S_EXPAND),
    "ch3-asymptotic-performance": Spec(
        "(Research problem) How do machine-learning algorithms perform in the limit of very large "
        "data sets? For any given algorithm it is natural to define a notion of asymptotic "
        "performance; find a way of studying it and of comparing algorithms.",
        _asymptotic_answer, run=_asymptotic_run, open_question=True, section=S_EXPAND),
    "ch3-new-init-std": Spec(
        "Verify that the standard deviation of z = sum_j w_j x_j + b is sqrt(3/2) with the new "
        "initialisation (weights N(0, 1/n_in), bias N(0, 1)) for 1,000 inputs of which 500 are 1 "
        "and 500 are 0.",
        "the 500 'on' inputs each add a weight of variance 1/1000 and the bias adds 1: Var z = "
        "500/1000 + 1 = 3/2, std sqrt(3/2) ~ 1.22 (against sqrt(501) ~ 22.4 with the old N(0, 1) "
        "weights); sampling 100,000 neurons agrees.",
        steps=_new_init_steps, run=_new_init_run, section=S_INIT),
    "ch3-weight-decay-heuristic": Spec(
        "Connecting regularisation and the improved initialisation: L2 regularisation sometimes "
        "gives the effect of the improved initialisation automatically. With the old N(0, 1) "
        "start, show heuristically that (a) if lambda is not too small, the first epochs are "
        "dominated by weight decay, (b) the weights then shrink by about exp(-eta lambda/m) per "
        "epoch while eta lambda << n, and (c) the decay tails off once the weights are about "
        "1/sqrt(n) in size, n the total number of weights.",
        lambda n: ("each mini-batch multiplies the weights by 1 - eta lambda/n; with large initial weights "
                   "the gradient term is small beside that (the saturated sigmoids barely learn), so an "
                   f"epoch of n/m steps shrinks them by about exp(-eta lambda/m) = {n['predicted']:.3f} "
                   f"(measured in the first epoch: {n['first']:.3f}). As the weights shrink the neurons leave "
                   "saturation, the gradient term grows to balance the decay, and the shrinking stops "
                   f"(last epoch's factor: {n['last']:.3f}) with an rms weight of {n['rms']:.3f}. Part (c) "
                   f"predicts about 1/sqrt(n_w) = {n['target']:.4f}; the measured rms is "
                   f"{n['rms'] / n['target']:.1f} times that, so "
                   + ("this run supports (c)'s scale" if 1 / 3 <= n["rms"] / n["target"] <= 3 else
                      "this run does NOT confirm (c)'s scale: the decay does tail off, but the weights settle "
                      "where the gradient balances the decay, which depends on lambda and the data, not at "
                      "1/sqrt(n_w)")
                   + " (unchecked: no claim below compares the rms with 1/sqrt(n_w))."),
        steps=_decay_steps, run=_decay_run, section=S_INIT),
    "ch3-l1-mnist": Spec(
        "Modify network2.py to use L1 regularisation and use it to classify MNIST digits with a "
        "30-hidden-neuron network. Can you find a regularisation parameter that gives better "
        "results than no regularisation?",
        lambda n: _l1_answer(n),
        run=_l1_run, section=S_CODE),
    "ch3-cost-derivative": Spec(
        "Look at the cost_derivative method in network.py (written for the quadratic cost). "
        "Rewrite it for the cross-entropy cost. Can you think of a problem that might arise in "
        "the cross-entropy version?",
        "cost_derivative becomes (a - y)/(a(1 - a)); backprop then multiplies it by sigma'(z) = "
        "a(1 - a). The algebra cancels, but floating point does not: once z > ~37 a = sigma(z) "
        "is exactly 1.0 (and once z < ~-745 exactly 0.0), the division gives inf and inf * 0 = nan, and training breaks. "
        "Computing delta^L = a - y in one step (network2's CrossEntropyCost.delta, nndl's) avoids it.",
        steps=_cost_derivative_steps, run=_cost_derivative_run, section=S_CODE),
    "ch3-early-stopping": Spec(
        "Modify network2.py so that it implements early stopping using a no-improvement-in-n "
        "epochs strategy, where n is a parameter that can be set.",
        lambda n: ("track the best validation accuracy; count the epochs since it last improved; stop when "
                   "the count reaches n. nndl has it (nndl train --early-stopping N, "
                   f"Trainer(early_stopping=N)); on this run it stopped after epoch {n['epochs']}, "
                   f"n = 10 epochs after the best one (epoch {n['best']})."),
        run=_early_stopping_run, section=S_HYPER),
    "ch3-early-stopping-other": Spec(
        "Can you think of a rule for early stopping other than no-improvement-in-n? Ideally, a rule "
        "that compromises between getting high validation accuracies and not training too long.",
        _early_other_answer, run=_early_other_run, open_question=True, section=S_HYPER),
    "ch3-eta-schedule": Spec(
        "Modify network2.py so that it implements a learning-rate schedule that halves the "
        "learning rate each time the validation accuracy satisfies the no-improvement-in-10 rule, "
        "and terminates when the learning rate has dropped to 1/128 of its original value.",
        "keep the no-improvement counter of early stopping, but when it reaches 10 halve eta and reset "
        "it; stop when eta is eta_0/128, after seven halvings. nndl has it (nndl train "
        "--eta-schedule N); the run below halves eta seven times and stops at eta_0/128.",
        run=_schedule_run, section=S_HYPER),
    "ch3-hyperparameter-gradient": Spec(
        "It's tempting to use gradient descent to learn good values for hyper-parameters such as "
        "lambda and eta. Can you think of an obstacle to using gradient descent to determine lambda? "
        "Can you think of an obstacle to using gradient descent to determine eta?",
        "lambda: the training cost includes the penalty (lambda/2n) sum w^2, so descending it in lambda "
        "just drives lambda to 0 (no regularisation); lambda must be judged on held-out data, whose "
        "dependence on lambda goes through a whole training run. eta: each evaluation of the "
        "objective is a whole training run, the validation accuracy is piecewise constant in eta "
        "(a change of 1e-9 moves no image across a boundary: derivative 0 almost everywhere), and the "
        "validation cost as a function of eta is not monotone (on the grid below it falls, then "
        "rises: one minimum, so a descent in eta must first find the right side of it), blowing up past the "
        "largest stable eta. Gradient-based hyper-parameter learning exists (differentiating "
        "through training, e.g. Maclaurin et al. 2015) but is costly; search is the usual answer.",
        steps=None, run=_hyper_run, section=S_HYPER),
    "ch3-momentum-above-1": Spec("What would go wrong if we used mu > 1 in the momentum technique?",
        "the friction becomes a push: the velocity is multiplied by mu > 1 every step, so even "
        "where the gradient is 0 it grows geometrically and the weights run off to infinity "
        "(det M = mu > 1 on a quadratic valley). On a real network the weights blow up within a "
        "few hundred steps.",
        steps=lambda: _momentum_steps("+"), run=_momentum_above_run, section=S_SGD),
    "ch3-momentum-negative": Spec("What would go wrong if we used mu < 0 in the momentum technique?",
        "each step then pushes against the previous one: the velocity changes sign every step on a "
        "flat stretch (v' = mu v), the weights zig-zag and learning slows (successive updates "
        "point in opposite directions, negative mean cosine, and a lower accuracy after the same "
        "steps); on a flat stretch |v| changes by |mu| per step, so mu < -1 diverges and mu = -1 "
        "is the borderline (the runs use -1 < mu < 0 only).",
        steps=lambda: _momentum_steps("-"), run=_momentum_negative_run, section=S_SGD),
    "ch3-momentum-network2": Spec("Add momentum-based stochastic gradient descent to network2.py.",
        "keep a velocity v per weight and bias, initially 0; each mini-batch: v -> mu v - eta grad C "
        "(eq. 107), w -> w + v (eq. 108), with the L2 term in grad C. nndl has it "
        "(nndl train --momentum MU, Network.update_mini_batch(momentum=mu)); its step equals the "
        "equations written out, and it trains.",
        run=_momentum_network2_run, section=S_SGD),
    "ch3-tanh-sigmoid": Spec("Prove eq. (111): sigma(z) = (1 + tanh(z/2))/2.",
        "writing tanh(z/2) in exponentials and multiplying through by e^(-z/2) gives (1 - e^(-z))/"
        "(1 + e^(-z)); adding 1 and halving gives 1/(1 + e^(-z)) = sigma(z). Equivalently tanh(z) = "
        "2 sigma(2z) - 1: a tanh neuron is a rescaled sigmoid neuron.",
        steps=_tanh_steps, run=_tanh_run, section=S_NEURONS),
}
