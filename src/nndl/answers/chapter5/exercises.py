"""Chapter 5, *Why are deep neural networks hard to train?*: its three problems, answered
(``nndl exercise ch5-...``). See :mod:`nndl.answers.exercises` for the format; the deep
networks themselves are :mod:`nndl.answers.chapter5.deep` (``nndl explain deep-networks``).
"""

from __future__ import annotations

import math

import numpy as np

from nndl.answers.checks import Check, Claim, Step, _sigma, _sigma_prime, _sympy
from nndl.answers.exercises import Run, Spec
from nndl.answers.tables import Table

SECTION = "What's causing the vanishing gradient problem? Unstable gradients in deep neural nets"


# --------------------------------------------------------------------------- 1. a larger derivative


def _large_derivative_steps() -> list[Step]:
    sp = _sympy()
    z = sp.Symbol("z", real=True)
    ws = sp.symbols("w_2:6", real=True)
    fs = sp.symbols("f'_1:6", positive=True)
    M = sp.Symbol("M", positive=True)
    product = fs[0] * sp.Mul(*[w * f for w, f in zip(ws, fs[1:])])
    return [
        Step("tanh is such an activation", "(110), (111)",
             "tanh'(z) = 1 - tanh(z)^2 = 4 sigma'(2z), at most 1 (four times sigma's 1/4)",
             r"\tanh'(z) = 1-\tanh^2 z = 4\sigma'(2z) \le 1",
             "From tanh(z) = 2 sigma(2z) - 1 (ch3-tanh-sigmoid).",
             (Check("d/dz tanh z = 1 - tanh^2 z", sp.diff(sp.tanh(z), z), 1 - sp.tanh(z) ** 2),
              Check("d/dz (2 sigma(2z) - 1) = 4 sigma'(2z)", sp.diff(2 * _sigma(2 * z) - 1, z), 4 * _sigma_prime(2 * z)),
              Check("tanh'(0) = 1", sp.diff(sp.tanh(z), z).subs(z, 0), 1))),
        Step("The gradient is still a product of many factors", "(122)",
             "dC/db_1 = f'(z_1) w_2 f'(z_2) ... w_5 f'(z_5) dC/da_5, each factor bounded by |w_j| M",
             r"\Big|\frac{\partial C}{\partial b_1}\Big| \le M \prod_{j=2}^{L} |w_j|\, M \, \Big|\frac{\partial C}{\partial a_L}\Big|",
             "A larger maximum M of f' only moves the balance point: the factors |w_j f'(z_j)| are "
             "now below 1 for |w_j| < 1/M and above it for larger weights where z is in range. "
             "A product of L such factors still shrinks or grows exponentially in L unless every "
             "factor stays near 1: the gradient is still unstable.",
             (Check("|product| at f' = M for all j = M^5 |w_2 w_3 w_4 w_5|",
                    product.subs({f: M for f in fs}), M**5 * ws[0] * ws[1] * ws[2] * ws[3]),)),
    ]


def _large_derivative_run(full: bool) -> Run:
    from nndl.answers.chapter5.deep import HIDDEN, layer_norms
    from nndl.answers.experiment import subset

    import nndl

    data = subset(100, 10)
    X, Y = data.X[:100], np.eye(10)[data.y[:100]]
    depth = 50 if full else 30
    rows, ratio = [], {}
    for scale in (0.5, 1.0, 2.0, 4.0):  # weight std = scale / sqrt(n_in); biases 0
        rng = np.random.default_rng(0)
        net = nndl.Network([data.n_in, *[HIDDEN] * depth, 10], hidden="tanh", rng=rng)
        for l, W in enumerate(net.weights):
            net.weights[l] = rng.standard_normal(W.shape) * scale / math.sqrt(W.shape[1])
            net.biases[l] = np.zeros(W.shape[0])
        nb = layer_norms(net, X, Y)[0]
        ratio[scale] = nb[0] / nb[-2]
        rows.append([f"{scale:g}/sqrt(n_in)", f"{nb[0]:.2e}", f"{nb[-2]:.2e}", f"{ratio[scale]:.1e}"])
    return Run([Claim(f"tanh, {depth} layers, std 0.5/sqrt(n): first/last hidden ||dC/db||", ratio[0.5], "<", 1e-3, detail="vanishes"),
                Claim(f"tanh, {depth} layers, std 4/sqrt(n): first/last hidden ||dC/db||", ratio[4.0], ">", 10.0, detail="explodes"),
                Claim("the ratio grows with the weights' scale by orders of magnitude (largest / smallest)",
                      ratio[4.0] / ratio[0.5], ">", 1e4)],
               [Table(f"tanh hidden layers (f' up to 1), {depth} x 30, cross-entropy, zero biases:",
                      ["weight std", "||dC/db|| first hidden", "last hidden", "first / last"], rows)],
               setting=f"[{data.n_in}, 30 x {depth}, 10] networks at initialisation, 100 images.")


# --------------------------------------------------------------------------- 2. the width, eq. (123)


def _width(w: float) -> float:
    """Eq. (123): the width of the interval of a where |w sigma'(w a + b)| >= 1 (|w| >= 4)."""
    w = abs(w)
    return 2.0 / w * math.log(w * (1.0 + math.sqrt(1.0 - 4.0 / w)) / 2.0 - 1.0)


def _width_steps() -> list[Step]:
    sp = _sympy()
    w = sp.Symbol("|w|", positive=True)  # the checks hold for |w|, the weight's size
    z = sp.Symbol("z", real=True)
    s = sp.sqrt(1 - 4 / w)
    x = sp.log((1 + s) / (1 - s))  # the z where sigma'(z) = 1/|w|, z >= 0
    return [
        Step("|w sigma'(z)| >= 1 needs |w| >= 4", "",
             "sigma'(z) <= sigma'(0) = 1/4, so |w sigma'(z)| <= |w|/4",
             r"|w\sigma'(z)| \le |w|/4",
             "sigma'(z) = sigma(z)(1 - sigma(z)) is largest at z = 0: 1/4 - sigma'(z) = "
             "(sigma(z) - 1/2)^2 >= 0, with equality only at sigma(z) = 1/2, i.e. z = 0.",
             (Check("sigma'(0) = 1/4", _sigma_prime(sp.Integer(0)), sp.Rational(1, 4)),
              Check("1/4 - sigma'(z) = (sigma(z) - 1/2)^2 (so 1/4 is the maximum)",
                    sp.Rational(1, 4) - _sigma_prime(z), (_sigma(z) - sp.Rational(1, 2)) ** 2))),
        Step("Where sigma'(z) = 1/|w|", "",
             "sigma(z)(1 - sigma(z)) = 1/|w| at sigma(z) = (1 +- s)/2, s = sqrt(1 - 4/|w|), i.e. z = +- ln((1+s)/(1-s))",
             r"\sigma(z) = \frac{1\pm s}{2},\ s = \sqrt{1-4/|w|},\quad z = \pm\ln\frac{1+s}{1-s}",
             "A quadratic in sigma(z); |w sigma'(z)| >= 1 between the two roots.",
             (Check("sigma(ln((1+s)/(1-s))) = (1+s)/2", _sigma(x), (1 + s) / 2),
              Check("sigma(-ln((1+s)/(1-s))) = (1-s)/2 (the other root)", _sigma(-x), (1 - s) / 2),
              Check("sigma'(z) there = 1/|w|", sp.simplify(_sigma_prime(x)), 1 / w))),
        Step("The interval of inputs a", "(123)",
             "z = w a + b, so a spans (z_+ - z_-)/|w| = (2/|w|) ln(|w|(1 + s)/2 - 1)",
             r"\frac{2}{|w|}\ln\left(\frac{|w|(1+\sqrt{1-4/|w|})}{2}-1\right)",
             "The bias only shifts the interval; its width in a is the z-width divided by |w|. "
             "(1+s)/(1-s) = |w|(1+s)/2 - 1 because 1 - s^2 = 4/|w|.",
             (Check("(1+s)/(1-s) = |w|(1+s)/2 - 1", (1 + s) / (1 - s), w * (1 + s) / 2 - 1),
              Check("width in a = (z_+ - z_-)/|w| = (2/|w|) ln((1+s)/(1-s))", (x - (-x)) / w, 2 / w * sp.log((1 + s) / (1 - s))))),
    ]


def _width_run(full: bool) -> Run:
    from scipy.optimize import minimize_scalar
    from scipy.special import expit

    best = minimize_scalar(lambda w: -_width(w), bounds=(4.0001, 50.0), method="bounded")
    w_star, width_star = float(best.x), float(-best.fun)
    a = np.linspace(-2, 2, 4_000_001)
    measured = {}
    for w in (5.0, w_star, 20.0):
        z = w * a + 0.3
        inside = np.abs(w * expit(z) * (1 - expit(z))) >= 1.0
        measured[w] = float(inside.sum() * (a[1] - a[0]))
    rows = [[f"{w:.3g}", f"{_width(w):.5f}", f"{m:.5f}"] for w, m in measured.items()]
    return Run([Claim("|w| that maximises eq. (123)", w_star, "~", 6.9, tolerance=0.01),
                Claim("the largest width", width_star, "~", 0.45, tolerance=0.01),
                Claim("w = 5, 6.9, 20: largest |measured width - eq. (123)| on a grid of step 1e-6",
                      max(abs(m - _width(w)) for w, m in measured.items()), "<", 1e-5)],
               [Table("Width of {a : |w sigma'(w a + 0.3)| >= 1}:", ["w", "eq. (123)", "measured on a grid"], rows)],
               numbers={"w": w_star, "width": width_star})


# --------------------------------------------------------------------------- 3. the identity neuron


def _identity_steps() -> list[Step]:
    sp = _sympy()
    w1 = sp.Symbol("w_1", positive=True)
    d = sp.Symbol("Delta", real=True)  # x = 1/2 + Delta
    out = (4 / w1) * _sigma(w1 * d)  # w2 = 4/w1, b = -w1/2: w1 x + b = w1 Delta
    series = sp.series(out, w1, 0, 4).removeO()
    return [
        Step("Centre the input", "",
             "write x = 1/2 + Delta (|Delta| <= 1/2) and take b = -w_1/2, so w_1 x + b = w_1 Delta",
             r"x = \tfrac12 + \Delta,\quad b = -\tfrac{w_1}{2}:\ w_1 x + b = w_1\Delta",
             "The book's hint.",
             (Check("w_1 (1/2 + Delta) - w_1/2 = w_1 Delta", w1 * (sp.Rational(1, 2) + d) - w1 / 2, w1 * d),)),
        Step("Taylor series in w_1 Delta", "",
             "sigma(w_1 Delta) = 1/2 + w_1 Delta/4 - (w_1 Delta)^3/48 + ...",
             r"\sigma(w_1\Delta) = \tfrac12 + \tfrac{w_1\Delta}{4} - \tfrac{(w_1\Delta)^3}{48} + O((w_1\Delta)^5)",
             "sigma''(0) = 0, so there is no quadratic term: the linear part is very accurate for small w_1.",
             (Check("series of sigma(t) to t^3", sp.series(_sigma(sp.Symbol("t")), sp.Symbol("t"), 0, 4).removeO(),
                    sp.Rational(1, 2) + sp.Symbol("t") / 4 - sp.Symbol("t") ** 3 / 48),)),
        Step("Choose w_2 = 4/w_1", "",
             "w_2 sigma(w_1 x + b) = 2/w_1 + Delta - w_1^2 Delta^3/12 + ... = x + (2/w_1 - 1/2) + O(w_1^2)",
             r"w_2\,\sigma(w_1 x + b) = x + \Big(\frac{2}{w_1} - \frac12\Big) - \frac{w_1^2\Delta^3}{12} + \ldots",
             "So the neuron passes x through up to a constant offset 2/w_1 - 1/2, which the bias of "
             "the neuron it feeds absorbs (subtract w (2/w_1 - 1/2) from that bias), and an error of "
             "order w_1^2 that vanishes as w_1 -> 0. Without an output bias an exact identity is "
             "impossible: w_2 sigma(...) is never 0 at x = 0 unless w_2 = 0.",
             (Check("series of (4/w_1) sigma(w_1 Delta) in w_1", series, 2 / w1 + d - w1**2 * d**3 / 12),)),
    ]


def _identity_run(full: bool) -> Run:
    from scipy.special import expit

    x = np.linspace(0, 1, 100_001)
    rows, err = [], {}
    for w1 in (1.0, 0.1, 0.01):
        w2, b = 4 / w1, -w1 / 2
        out = w2 * expit(w1 * x + b) - (2 / w1 - 0.5)  # the next neuron's bias removes the offset
        err[w1] = float(np.abs(out - x).max())
        rows.append([f"{w1:g}", f"{w2:g}", f"{b:g}", f"{err[w1]:.2e}", f"{w1**2 / 96:.2e}"])
    return Run([Claim("w_1 = 0.01: max |w_2 sigma(w_1 x + b) - (2/w_1 - 1/2) - x| on [0, 1] (the offset "
                      "2/w_1 - 1/2 removed, as the next neuron's bias would)", err[0.01], "<", 1e-5),
                Claim("error ratio w_1 = 0.1 vs 0.01 (O(w_1^2): about 100)", err[0.1] / err[0.01], "~", 100.0, tolerance=0.05)],
               [Table("w_2 sigma(w_1 x + b) - (2/w_1 - 1/2) vs x on [0, 1]:",
                      ["w_1", "w_2 = 4/w_1", "b = -w_1/2", "max |error|", "w_1^2/96 (the Delta^3 term at Delta = 1/2)"], rows)])


EXERCISES: dict[str, Spec] = {
    "ch5-large-derivative": Spec(
        "Does using an activation function whose derivative can be much larger than 1/4 cure the "
        "unstable gradient problem?",
        "no. tanh has derivative up to 1, four times the sigmoid's, yet in a deep tanh network the "
        "first layer's gradient still vanishes for small weights and explodes for large ones: "
        "the gradient is a product of one factor w_j f'(z_j) per layer, and a product of many "
        "factors is exponentially small or large unless each stays near 1. A larger f' only "
        "moves where that happens; stabilising it takes initialisation tuned to the activation "
        "(Glorot, He) and, in practice, more (see nndl explain deep-networks).",
        steps=_large_derivative_steps, run=_large_derivative_run, section=SECTION),
    "ch5-unstable-width": Spec(
        "Consider the product |w sigma'(wa + b)|. Suppose |w sigma'(wa + b)| >= 1. (1) Argue that "
        "this can only occur if |w| >= 4. (2) Supposing |w| >= 4, consider the set of input "
        "activations a for which |w sigma'(wa + b)| >= 1; show that it is an interval of width "
        "eq. (123). (3) Show numerically that it is greatest at |w| ~ 6.9, where it is ~ 0.45.",
        lambda n: ("(1) sigma' <= 1/4, so |w sigma'| >= 1 needs |w| >= 4. (2) |w sigma'(z)| >= 1 between the "
                   "roots of sigma(z)(1 - sigma(z)) = 1/|w|, z = +- ln((1+s)/(1-s)) with s = sqrt(1 - 4/|w|); "
                   "dividing the z-interval by |w| gives eq. (123). (3) Maximising eq. (123) numerically: "
                   f"|w| = {n['w']:.3f}, width {n['width']:.4f}. So even at best only a narrow band of "
                   "inputs avoids the vanishing gradient; an exploding one needs weights and inputs "
                   "to conspire."),
        steps=_width_steps, run=_width_run, section=SECTION),
    "ch5-identity-neuron": Spec(
        "Consider a neuron with a single input x, weight w_1, bias b and output weight w_2. Show "
        "that by choosing the weights and bias appropriately, w_2 sigma(w_1 x + b) ~ x for x in "
        "[0, 1]: an identity neuron (hint: x = 1/2 + Delta, w_1 small, Taylor series in w_1 Delta).",
        "take b = -w_1/2 and w_2 = 4/w_1 with w_1 small: w_2 sigma(w_1 x + b) = x + (2/w_1 - 1/2) - "
        "w_1^2 Delta^3/12 + ..., the identity up to a constant that the next neuron's bias cancels, "
        "with an error of order w_1^2 (below 1e-5 on [0, 1] for w_1 = 0.01).",
        steps=_identity_steps, run=_identity_run, section=SECTION),
}
