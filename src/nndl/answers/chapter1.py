"""Chapter 1, *Using neural nets to recognize handwritten digits*: its eight exercises,
answered (``nndl exercise ch1-...``). See :mod:`nndl.answers.exercises` for the format.
"""

from __future__ import annotations

import math
import time

import numpy as np

from nndl.answers.checks import Check, Claim, Step, _sigma, _sympy
from nndl.answers.exercises import Run, Spec
from nndl.answers.experiment import accuracies, subset, train
from nndl.answers.tables import Table


# --------------------------------------------------------------------------- 1. scaling perceptrons


def _scaling_steps() -> list[Step]:
    sp = _sympy()
    z = sp.Symbol("z", real=True)  # w.x + b
    c = sp.Symbol("c", positive=True)
    return [
        Step("A perceptron's output depends only on the sign of w.x + b", "(2)",
             "output = 1 if w.x + b > 0, else 0; with weights c w and bias c b: c w.x + c b = c (w.x + b)",
             r"c\,w\cdot x + c\,b = c\,(w\cdot x + b)",
             "Multiplying every weight and the bias by c multiplies the weighted input by c.",
             (Check("c w.x + c b = c (w.x + b) (two inputs)", sp.expand(c * sp.Symbol("w1") * sp.Symbol("x1")
                    + c * sp.Symbol("w2") * sp.Symbol("x2") + c * sp.Symbol("b")),
                    sp.expand(c * (sp.Symbol("w1") * sp.Symbol("x1") + sp.Symbol("w2") * sp.Symbol("x2") + sp.Symbol("b")))),)),
        Step("For c > 0 the sign does not change", "",
             "sgn(c z) = sgn(z) for c > 0, so each perceptron gives the same 0 or 1",
             r"\mathrm{sgn}(c z) = \mathrm{sgn}(z) \quad (c > 0)",
             "Every perceptron of the network therefore outputs the same bits; the next layer "
             "receives the same inputs, and by induction over the layers the network's output "
             "is unchanged. (For c < 0 every bit would flip; c = 0 makes every output 0.)",
             (Check("sign(c z) = sign(z), c > 0", sp.sign(c * z), sp.sign(z)),)),
    ]


def _scaling_run(full: bool) -> Run:
    rng = np.random.default_rng(0)
    sizes = [8, 6, 5, 3]
    Ws = [rng.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    X = rng.integers(0, 2, size=(20_000 if full else 4000, 8)).astype(float)

    def perceptrons(c):
        a = X
        for W, b in zip(Ws, bs):
            a = (a @ (c * W).T + c * b > 0).astype(float)  # eq. (2), each layer
        return a

    base = perceptrons(1.0)
    rows, claims = [], []
    for c in (1e-3, 0.5, 7.0, 1e6):
        changed = int(np.any(perceptrons(c) != base, axis=1).sum())
        rows.append([f"{c:g}", f"{changed} of {len(X)}"])
        claims.append(Claim(f"c = {c:g}: inputs whose output changed", changed, "<=", 0))
    flipped = int(np.any(perceptrons(-1.0) != base, axis=1).sum())
    claims.append(Claim("c = -1 (not allowed): inputs whose output changed", flipped, ">", 0,
                        detail="the condition c > 0 matters"))
    return Run(claims, [Table("Outputs changed by scaling every weight and bias by c:", ["c", "changed"], rows)],
               setting=f"a random perceptron network {sizes} on {len(X):,} random binary inputs.")


# --------------------------------------------------------------------------- 2. sigmoid limit


def _limit_steps() -> list[Step]:
    sp = _sympy()
    c = sp.Symbol("c", positive=True)
    zp = sp.Symbol("z", positive=True)
    zn = sp.Symbol("z", negative=True)
    w1, w2, x1, x2, b = sp.symbols("w1 w2 x1 x2 b", real=True)
    return [
        Step("Scaling by c scales the weighted input", "(3), (4)",
             "sigma(c w.x + c b) = sigma(c z), z = w.x + b",
             r"\sigma(c\,w\cdot x + c\,b) = \sigma(c z)",
             "As in the perceptron exercise, c multiplies z.",
             (Check("sigma(c w1 x1 + c w2 x2 + c b) = sigma(c z) with z = w1 x1 + w2 x2 + b (two inputs)",
                    _sigma(sp.expand(c * w1 * x1 + c * w2 * x2 + c * b)), _sigma(c * (w1 * x1 + w2 * x2 + b))),)),
        Step("z > 0: the output tends to 1", "",
             "lim_{c -> oo} sigma(c z) = 1 for z > 0",
             r"\lim_{c\to\infty} \sigma(c z) = 1 \quad (z > 0)",
             "e^(-cz) -> 0.",
             (Check("limit c -> oo of sigma(c z), z > 0", sp.limit(_sigma(c * zp), c, sp.oo), 1),)),
        Step("z < 0: the output tends to 0", "",
             "lim_{c -> oo} sigma(c z) = 0 for z < 0",
             r"\lim_{c\to\infty} \sigma(c z) = 0 \quad (z < 0)",
             "e^(-cz) -> infinity: exactly a perceptron's output, eq. (2).",
             (Check("limit c -> oo of sigma(c z), z < 0", sp.limit(_sigma(c * zn), c, sp.oo), 0),)),
        Step("z = 0: the exception", "",
             "sigma(c * 0) = 1/2 for every c",
             r"\sigma(c \cdot 0) = \tfrac12",
             "A perceptron outputs 0 at w.x + b = 0; the sigmoid neuron outputs 1/2 however large "
             "c is. So the network behaves as the perceptron network except for inputs where some "
             "neuron has w.x + b = 0 exactly.",
             (Check("sigma(0) = 1/2", _sigma(sp.Integer(0)), sp.Rational(1, 2)),)),
    ]


def _limit_run(full: bool) -> Run:
    from scipy.special import expit

    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((5, 8)), rng.standard_normal(5)
    X = rng.standard_normal((10_000, 8))
    Z = X @ W.T + b
    perceptron = (Z > 0).astype(float)
    keep = np.abs(Z).min(axis=1) > 1e-2  # no neuron within 0.01 of w.x + b = 0
    rows, claims = [], []
    for c in (1.0, 10.0, 1e3, 1e5):
        gap = float(np.abs(expit(c * Z[keep]) - perceptron[keep]).max())
        rows.append([f"{c:g}", f"{gap:.2e}"])
    claims.append(Claim("c = 1e5: max |sigmoid - perceptron| away from w.x + b = 0", float(rows[-1][1]), "<", 1e-12))
    at_zero = float(expit(1e5 * 0.0))
    claims.append(Claim("at w.x + b = 0, sigma(c z) with c = 1e5", at_zero, "~", 0.5, tolerance=1e-15,
                        detail="the perceptron gives 0 there"))
    return Run(claims, [Table("Largest difference from the perceptrons (inputs with every |w.x + b| > 0.01):",
                              ["c", "max |sigma(cz) - step(z)|"], rows)],
               setting="a layer of 5 sigmoid neurons with 8 inputs, 10,000 random inputs.")


# --------------------------------------------------------------------------- 3. binary output layer

BIT_WEIGHT, BIT_BIAS = 10.0, -5.0  # w_kd = 10 if bit k of digit d is 1, else 0; b_k = -5


def binary_layer() -> tuple[np.ndarray, np.ndarray]:
    """The 4-bit output layer: W (4, 10), b (4,); bit k (k = 0 least significant) of digit d."""
    W = np.array([[BIT_WEIGHT if (d >> k) & 1 else 0.0 for d in range(10)] for k in range(4)])
    return W, np.full(4, BIT_BIAS)


def _binary_steps() -> list[Step]:
    sp = _sympy()
    # worst cases with the book's premise: the right output >= 0.99, the others <= 0.01
    hi, lo = sp.Rational(99, 100), sp.Rational(1, 100)
    z_on_min = BIT_WEIGHT * hi + BIT_BIAS  # bit set: only the right digit counted, others 0
    # bit clear: the wrong digits whose code has bit k set, each at 0.01; counted, not assumed
    shared = max(sum((d >> k) & 1 for d in range(10)) for k in range(4))  # 5 (bit 0: 1, 3, 5, 7, 9)
    z_off_max = BIT_WEIGHT * lo * shared + BIT_BIAS
    return [
        Step("The weights and biases", "",
             "w_kd = 10 if bit k of digit d is 1, else 0; b_k = -5 (k = 0..3, d = 0..9)",
             r"w_{kd} = 10\,[\text{bit}_k(d) = 1], \quad b_k = -5",
             "Output neuron k adds up the old outputs of the digits whose binary code has bit k "
             "set. The right digit's old output is at least 0.99 and the others at most 0.01 "
             "(the book's premise). When bit k of the right digit is 0, only wrong digits with bit "
             "k set add to z_k, and at most five digits share any bit (1, 3, 5, 7 and 9 for bit 0).",
             (Check("z_k when bit k of the right digit is 1 (worst case) = 4.9", sp.nsimplify(z_on_min), sp.Rational(49, 10)),
              Check("z_k when bit k is 0 (worst case: the five digits sharing bit 0, at 0.01 each) = -4.5",
                    sp.nsimplify(z_off_max), sp.Rational(-9, 2)))),
        Step("Each bit is decided with margin", "(3)",
             "sigma(4.9) > 0.99 and sigma(-4.5) < 0.02",
             r"\sigma(4.9) > 0.99,\quad \sigma(-4.5) < 0.02",
             "So the new layer's outputs are the 4-bit code of the digit, within 0.02.",
             (Check("sigma(4.9) - 0.99 > 0 (as sign)", sp.sign(sp.N(_sigma(sp.Rational(49, 10)) - hi, 30)), 1),
              Check("sigma(-4.5) - 0.02 < 0 (as sign)", sp.sign(sp.N(_sigma(z_off_max) - sp.Rational(2, 100), 30)), -1))),
    ]


def _binary_run(full: bool) -> Run:
    import nndl

    from nndl.activations import sigmoid

    W4, b4 = binary_layer()
    rows, worst_bits = [], 0
    rng = np.random.default_rng(0)
    for d in range(10):  # every digit, worst-case old outputs at the corners of the premise
        for trial in range(200):
            a = rng.uniform(0.0, 0.01, 10)
            a[d] = rng.uniform(0.99, 1.0)
            bits = sigmoid(W4 @ a + b4) > 0.5
            worst_bits += int(sum(int(bit) << k for k, bit in enumerate(bits)) != d)
    data = subset(50_000 if full else 5000, 10_000 if full else 2000)
    net = nndl.Network([data.n_in, 30, 10], rng=np.random.default_rng(0))
    train(net, data, 30 if full else 5, 10, 3.0 if data.n_in == 784 else 1.0)
    A = net.feedforward(data.X_eval)  # old outputs                                (n, 10)
    code = sigmoid(A @ W4.T + b4) > 0.5  # the new layer                          (n, 4)
    decoded = (code * (1 << np.arange(4))).sum(axis=1)
    premise = (A.max(axis=1) >= 0.99) & (np.sort(A, axis=1)[:, -2] <= 0.01)
    agree_all = float((decoded == A.argmax(axis=1)).mean())
    agree_premise = float((decoded[premise] == A[premise].argmax(axis=1)).mean()) if premise.any() else float("nan")
    rows = [["random outputs meeting the premise, all 10 digits x 200", "2,000", f"{worst_bits} wrong codes"],
            ["trained net: images meeting the premise", f"{int(premise.sum()):,}", f"{agree_premise:.2%} code = argmax"],
            ["trained net: all images", f"{len(A):,}", f"{agree_all:.2%} code = argmax"]]
    claims = [Claim("wrong codes under the premise (random outputs)", worst_bits, "<=", 0),
              Claim("trained network, images meeting the premise: code = argmax", agree_premise, "~", 1.0, tolerance=0.0),
              Claim("trained network, all images: code = argmax", agree_all, ">", 0.9,
                    detail="where no output is confidently right, the bits can disagree with the argmax")]
    return Run(claims, [Table("The 4-bit layer on top of old outputs:", ["outputs", "count", "result"], rows)],
               numbers={"agree_all": agree_all},
               setting=f"the layer on random outputs, and on a [{data.n_in}, 30, 10] network trained on {data.description}.")


# --------------------------------------------------------------------------- 4. steepest descent


def _steepest_steps() -> list[Step]:
    sp = _sympy()
    g1, g2, g3, v1, v2, v3 = sp.symbols("g1 g2 g3 v1 v2 v3", real=True)
    eps = sp.Symbol("epsilon", positive=True)
    g = sp.Matrix([g1, g2, g3])
    v = sp.Matrix([v1, v2, v3])
    gn = sp.sqrt(g1**2 + g2**2 + g3**2)
    lagrange = (g.dot(g)) * (v.dot(v)) - g.dot(v) ** 2
    pairs = (g1 * v2 - g2 * v1) ** 2 + (g1 * v3 - g3 * v1) ** 2 + (g2 * v3 - g3 * v2) ** 2
    best = -eps * g / gn
    lam = sp.Symbol("lambda")
    L = g.dot(v) + lam * (v.dot(v) - eps**2)
    grad_L = sp.Matrix([sp.diff(L, x) for x in (v1, v2, v3)]).subs(dict(zip((v1, v2, v3), best))).subs(lam, gn / (2 * eps))
    return [
        Step("The change of the cost to first order", "(9)",
             "Delta C ~ grad C . Delta v; minimise it over ||Delta v|| = epsilon",
             r"\Delta C \approx \nabla C \cdot \Delta v, \quad \|\Delta v\| = \epsilon",
             "Write g = grad C (three components in the checks; any number works the same way).",
             (Check("Lagrange's identity: |g|^2 |v|^2 - (g.v)^2 = sum_{i<j} (g_i v_j - g_j v_i)^2", sp.expand(lagrange), sp.expand(pairs)),)),
        Step("Cauchy-Schwarz", "",
             "|g . v| <= ||g|| ||v||, so g . Delta v >= -epsilon ||g||",
             r"\nabla C\cdot \Delta v \ge -\|\nabla C\|\,\|\Delta v\| = -\epsilon \|\nabla C\|",
             "The identity above is a sum of squares, so (g.v)^2 <= |g|^2 |v|^2, with equality "
             "only when v is parallel to g.",
             (Check("g . (-epsilon g/||g||) = -epsilon ||g|| (the bound is reached)", sp.simplify(g.dot(best)), -eps * gn),)),
        Step("The minimiser is the gradient step", "(10)",
             "Delta v = -eta grad C with eta = epsilon / ||grad C||",
             r"\Delta v = -\eta \nabla C,\quad \eta = \epsilon/\|\nabla C\|",
             "It is also where the Lagrangian g.v + lambda(v.v - epsilon^2) is stationary, with "
             "lambda = ||g||/(2 epsilon).",
             tuple(Check(f"dL/dv{i + 1} = 0 at v = -epsilon g/||g||", sp.simplify(grad_L[i]), 0) for i in range(3))),
    ]


def _steepest_run(full: bool) -> Run:
    import nndl

    data = subset(1000, 10)
    net = nndl.Network([data.n_in, 30, 10], rng=np.random.default_rng(0))
    X, Y = data.X[:100], np.eye(10)[data.y[:100]]
    nb, nw = net.backprop(X, Y)
    g = np.concatenate([x.ravel() for x in nw + nb]) / len(X)  # grad C, all parameters
    params = [p for p in net.weights + net.biases]
    shapes = [p.shape for p in params]

    def cost_after(step):
        trial = net.copy()
        i = 0
        for p, s in zip(trial.weights + trial.biases, shapes):
            k = int(np.prod(s))
            p += step[i:i + k].reshape(s)
            i += k
        return trial.total_cost(X, Y)

    eps = 1e-3
    c_grad = cost_after(-eps * g / np.linalg.norm(g))
    # Rivals close to the gradient step (random directions in ~24,000 dimensions are nearly
    # orthogonal to g and would lose to any descent direction): the same length, tilted by a
    # few degrees in random planes. If -g/||g|| were not the steepest, one of them would win.
    rng = np.random.default_rng(1)
    ghat = g / np.linalg.norm(g)
    angles = (2.0, 5.0, 10.0, 20.0)
    n_planes = 50 if full else 10
    best_near = math.inf
    for _ in range(n_planes):
        r = rng.standard_normal(g.size)
        r -= (r @ ghat) * ghat
        r /= np.linalg.norm(r)
        for deg in angles:
            t = math.radians(deg)
            best_near = min(best_near, cost_after(eps * (-math.cos(t) * ghat + math.sin(t) * r)))
    c_plus = cost_after(eps * ghat)
    claims = [Claim(f"cost after the gradient step minus the best of {n_planes * len(angles)} steps of the same "
                    f"length tilted {', '.join(f'{a:g}' for a in angles)} degrees from it", c_grad - best_near, "<", 0.0),
              Claim("cost after the step +eps g/||g|| minus the cost after -eps g/||g||", c_plus - c_grad, ">", 0.0)]
    return Run(claims, [Table("A step of length 0.001 on a real network's cost:", ["step", "cost after"],
                              [["none", f"{net.total_cost(X, Y):.8f}"], ["-eps g/||g|| (gradient descent)", f"{c_grad:.8f}"],
                               [f"best of {n_planes * len(angles)} tilted by {angles[0]:g}-{angles[-1]:g} degrees",
                                f"{best_near:.8f}"],
                               ["+eps g/||g|| (uphill)", f"{c_plus:.8f}"]])],
               setting=f"a [{data.n_in}, 30, 10] network at initialisation, cross-entropy on 100 images.")


# --------------------------------------------------------------------------- 5. one variable


def _one_variable_steps() -> list[Step]:
    sp = _sympy()
    v, eta = sp.symbols("v eta", real=True)
    C = sp.Function("C")
    first = sp.diff(C(v - eta * sp.diff(C(v), v)), eta).subs(eta, 0).doit()
    k = sp.Symbol("k", positive=True)
    q = k * (v - 3) ** 2 / 2
    step = v - eta * sp.diff(q, v)
    return [
        Step("The update rule", "(10)-(11) with one variable",
             "v -> v' = v - eta C'(v)",
             r"v \rightarrow v' = v - \eta\, C'(v)",
             "The gradient of a function of one variable is its derivative.",
             (Check("d/d(eta) C(v - eta C'(v)) at eta = 0 = -C'(v)^2", first, -sp.diff(C(v), v) ** 2),)),
        Step("The cost goes down", "(9)",
             "Delta C ~ -eta C'(v)^2 <= 0",
             r"\Delta C \approx -\eta\, C'(v)^2 \le 0",
             "Geometrically: the ball moves downhill along the slope of the curve C(v), a "
             "distance proportional to the slope, and stops where the slope is 0.",
             (Check("quadratic C = k(v - 3)^2/2: v' - 3 = (1 - eta k)(v - 3)", sp.expand(step - 3), sp.expand((1 - eta * k) * (v - 3))),)),
        Step("The step can be too long", "",
             "for C = k(v - 3)^2/2 the distance to the minimum is multiplied by |1 - eta k| per step",
             r"|v' - 3| = |1 - \eta k|\,|v - 3|",
             "It converges for 0 < eta < 2/k and diverges for eta > 2/k: the first-order picture "
             "holds only for small steps.",
             (Check("the factor is 1 at eta = 2/k (the edge)", sp.Abs(1 - (2 / k) * k), 1),)),
    ]


def _one_variable_run(full: bool) -> Run:
    rows, out = [], {}
    for eta in (0.1, 0.9, 1.9, 2.1):  # k = 1: converges below 2, diverges above
        v = 0.0
        for _ in range(100):
            v -= eta * (v - 3.0)  # C'(v) = v - 3
        out[eta] = abs(v - 3.0)
        rows.append([f"{eta:g}", f"{out[eta]:.3g}"])
    claims = [Claim("eta = 0.1: |v - 3| after 100 steps", out[0.1], "<", 1e-3),
              Claim("eta = 1.9: |v - 3| after 100 steps", out[1.9], "<", 1e-1),
              Claim("eta = 2.1 (> 2/k): |v - 3| after 100 steps", out[2.1], ">", 1e3)]
    return Run(claims, [Table("C(v) = (v - 3)^2/2 from v = 0, 100 steps:", ["eta", "|v - 3|"], rows)])


# --------------------------------------------------------------------------- 6. online learning


def _online_run(full: bool) -> Run:
    import nndl

    data = subset(10_000 if full else 3000, 2000)
    rows, acc, secs = [], {}, {}
    for m in (1, 20, 100):  # 20: the question's comparison
        net = nndl.Network([data.n_in, 30, 10], rng=np.random.default_rng(0))
        t0 = time.perf_counter()
        h, _ = train(net, data, 1, m, 0.5)
        secs[m] = time.perf_counter() - t0
        acc[m] = accuracies(h, len(data.y_eval))[-1]
        rows.append([str(m), f"{len(data.X) // m:,}", f"{acc[m]:.1%}", f"{secs[m]:.2f} s"])
    claims = [Claim("after one epoch: accuracy with mini-batch 1 minus with 100 (same eta)", acc[1] - acc[100], ">", 0.0,
                    detail="more updates per epoch"),
              Claim("time of one epoch with mini-batch 1 over with 20", secs[1] / secs[20], ">", 1.5,
                    detail="no matrix products over a batch")]
    return Run(claims, [Table("One epoch, eta = 0.5, cross-entropy:", ["mini-batch", "updates", "accuracy", "time"], rows)],
               numbers={"acc": acc, "secs": secs},
               setting=f"[{data.n_in}, 30, 10] networks from the same start, {data.description}.")


def _online_answer(n) -> str:
    acc, secs = n["acc"], n["secs"]
    versus20 = ("above" if acc[1] > acc[20] else "below") + f" mini-batch 20's {acc[20]:.1%}"
    return ("advantages: a step after every example, so 20 times as many steps per epoch as "
            "mini-batch 20; it can start learning at once, works on data that arrive as a stream, "
            "and its noise can help escape poor regions (the last is not tested here). "
            "Disadvantages: each gradient is estimated from one example, so the steps are noisy "
            "and eta must be smaller to settle; and it cannot use fast matrix-matrix products "
            f"over a batch, so an epoch is slower ({secs[1]:.2f} s vs {secs[20]:.2f} s with "
            f"mini-batch 20 here). At the same eta = 0.5, one epoch of online learning reached "
            f"{acc[1]:.1%}, {versus20} and mini-batch 100's {acc[100]:.1%}: more steps beat fewer, "
            "but at this eta "
            + ("the noise of single examples costs more than the extra steps gain against mini-batch 20."
               if acc[1] < acc[20] else "the extra steps win against mini-batch 20 as well.")
            + " One eta and one seed: a smaller eta for online learning was not tried.")


# --------------------------------------------------------------------------- 7. eq. (22)


def _eq22_steps() -> list[Step]:
    sp = _sympy()
    W = sp.Matrix(3, 2, lambda j, k: sp.Symbol(f"w_{j + 1}{k + 1}", real=True))
    a = sp.Matrix(2, 1, lambda k, _: sp.Symbol(f"a_{k + 1}", real=True))
    b = sp.Matrix(3, 1, lambda j, _: sp.Symbol(f"b_{j + 1}", real=True))
    z = W * a + b
    return [
        Step("Component j of the matrix form", "(22)",
             "a' = sigma(w a + b): a'_j = sigma(sum_k w_jk a_k + b_j)",
             r"a'_j = \sigma\Big(\sum_k w_{jk} a_k + b_j\Big)",
             "Row j of w a is sum_k w_jk a_k, and sigma acts on each component: this is eq. (4), "
             "the output of a single sigmoid neuron 1/(1 + exp(-sum_j w_j x_j - b)), for neuron j, "
             "whose inputs x are the activations a of the previous layer.",
             tuple(Check(f"(w a + b)_{j + 1} = sum_k w_{j + 1}k a_k + b_{j + 1}", z[j],
                         sum(W[j, k] * a[k] for k in range(2)) + b[j]) for j in range(3))
             + (Check("sigma((w a + b)_1) = eq. (4) for neuron 1", _sigma(z[0]),
                      1 / (1 + sp.exp(-W[0, 0] * a[0] - W[0, 1] * a[1] - b[0]))),)),
    ]


def _eq22_run(full: bool) -> Run:
    import nndl

    data = subset(20, 10)
    net = nndl.Network([data.n_in, 30, 10], rng=np.random.default_rng(0))
    x = data.X[0]
    a = x
    for W, b in zip(net.weights, net.biases):  # eq. (4), neuron by neuron
        a = np.array([1.0 / (1.0 + np.exp(-(sum(W[j, k] * a[k] for k in range(len(a))) + b[j])))
                      for j in range(len(b))])
    err = float(np.abs(a - net.feedforward(x[None, :])[0]).max())
    return Run([Claim("neuron-by-neuron eq. (4) vs nndl's matrix feedforward, max difference", err, "<", 1e-12)],
               setting=f"one image through a [{data.n_in}, 30, 10] network.")


# --------------------------------------------------------------------------- 8. no hidden layer


def _no_hidden_run(full: bool) -> Run:
    import nndl

    data = subset(50_000 if full else 10_000, 10_000 if full else 2000)
    epochs = 30 if full else 5
    big = data.n_in == 784
    runs = (("no hidden, quadratic (chapter 1)", [data.n_in, 10], "quadratic", 3.0 if big else 1.0),
            ("no hidden, cross-entropy", [data.n_in, 10], "cross-entropy", 0.5),
            ("30 hidden, quadratic (chapter 1)", [data.n_in, 30, 10], "quadratic", 3.0 if big else 1.0))
    rows, acc = [], {}
    for name, sizes, cost, eta in runs:
        net = nndl.Network(sizes, cost=cost, rng=np.random.default_rng(0))
        h, _ = train(net, data, epochs, 10, eta)
        a = accuracies(h, len(data.y_eval))
        acc[name] = max(a)
        rows.append([name, str(sizes), f"{eta:g}", ", ".join(f"{x:.1%}" for x in a[-5:]), f"{max(a):.2%}"])
    claims = [Claim("[n_in, 10], cross-entropy: best validation accuracy", acc[runs[1][0]], ">", 0.85),
              Claim("[n_in, 10], quadratic: best validation accuracy", acc[runs[0][0]], ">", 0.5,
                    detail="it learns, slowly: its saturated outputs slow the quadratic cost (chapter 3)"),
              Claim("30 hidden minus no hidden (quadratic, same budget)", acc[runs[2][0]] - acc[runs[0][0]], ">", 0.0)]
    return Run(claims, [Table(f"{epochs} epochs, mini-batch 10, N(0, 1/n_in) weights:",
                              ["network", "sizes", "eta", "last epochs", "best"], rows)],
               numbers={"acc": acc, "full": full, "names": [r[0] for r in runs]},
               setting=f"{data.description}. --full: all 50,000 images for 30 epochs, as chapter 1.")


def _no_hidden_answer(n) -> str:
    size = "at full size" if n["full"] else "in this short run (--full for 50,000 images, 30 epochs)"
    quad, ce, hidden = (n["acc"][k] for k in n["names"])
    return (f"a network with no hidden layer is a linear classifier followed by sigmoids. {size.capitalize()} "
            f"it reaches {ce:.1%} with the cross-entropy and {quad:.1%} with chapter 1's quadratic cost "
            f"(its sigmoid outputs saturate and learn slowly), against {hidden:.1%} for [n_in, 30, 10] "
            "trained the same way. Linear classifiers on the full MNIST are commonly reported near "
            "92 % (a figure from the literature, not checked here; --full trains this one at "
            "chapter 1's size), far better than the 22 % darkness baseline and below chapter 1's "
            "~95 % with 30 hidden neurons (the book's figures).")


EXERCISES: dict[str, Spec] = {
    "ch1-perceptron-scaling": Spec(
        "Take all the weights and biases of a network of perceptrons and multiply them by a positive "
        "constant c > 0. Show that the network's behaviour does not change.",
        "the output of each perceptron depends only on the sign of w.x + b, which c > 0 does not "
        "change, so every layer passes on the same bits and the network's output is the same.",
        steps=_scaling_steps, run=_scaling_run, section="Perceptrons"),
    "ch1-sigmoid-limit": Spec(
        "In a network of perceptrons, replace every perceptron by a sigmoid neuron and multiply its "
        "weights and bias by c > 0. Show that as c -> infinity the network behaves exactly as the "
        "perceptron network, and that this fails when w.x + b = 0 for some perceptron.",
        "sigma(c z) tends to 1 for z > 0 and to 0 for z < 0, the perceptron's outputs; at z = 0 it "
        "stays 1/2 for every c, where the perceptron outputs 0, so the limit differs exactly for "
        "inputs where some neuron has w.x + b = 0.",
        steps=_limit_steps, run=_limit_run, section="Sigmoid neurons"),
    "ch1-binary-output": Spec(
        "Add a fourth layer to the three-layer network that turns the ten outputs into a 4-bit "
        "binary code of the digit. Find its weights and biases, assuming the correct output has "
        "activation at least 0.99 and the incorrect ones less than 0.01.",
        "w_kd = 10 when bit k of digit d is 1 and 0 otherwise, b_k = -5: bit k's weighted input is at "
        "least 4.9 when the digit has bit k and at most -4.1 when it does not, so the new outputs are "
        "the digit's binary code within 0.02.",
        steps=_binary_steps, run=_binary_run, section="A simple network to classify handwritten digits"),
    "ch1-steepest-descent": Spec(
        "Prove that the choice Delta v = -eta grad C minimises grad C . Delta v among all steps of a "
        "fixed length ||Delta v|| = epsilon (hint: the Cauchy-Schwarz inequality).",
        "by Cauchy-Schwarz, grad C . Delta v >= -||grad C|| epsilon, with equality only for Delta v "
        "parallel to -grad C: Delta v = -eta grad C with eta = epsilon/||grad C|| decreases C the most "
        "to first order. On a real network, no random direction does better.",
        steps=_steepest_steps, run=_steepest_run, section="Learning with gradient descent"),
    "ch1-one-variable": Spec(
        "Explain what gradient descent is when C is a function of just one variable, and give a "
        "geometric interpretation.",
        "v -> v - eta C'(v): a ball on the curve C(v) moves downhill, by a step proportional to the "
        "slope; C decreases by about eta C'(v)^2 per step while the step is small, and a step "
        "larger than 2/C'' overshoots and diverges.",
        steps=_one_variable_steps, run=_one_variable_run, section="Learning with gradient descent"),
    "ch1-online-learning": Spec(
        "An extreme version of mini-batching uses a mini-batch of 1 (online learning). Name one "
        "advantage and one disadvantage compared with a mini-batch of 20.",
        _online_answer, run=_online_run, section="Learning with gradient descent"),
    "ch1-eq22-components": Spec(
        "Write out eq. (22) a' = sigma(w a + b) in component form, and verify that it gives the "
        "same result as eq. (4) for computing the output of a sigmoid neuron.",
        "component j is a'_j = sigma(sum_k w_jk a_k + b_j), which is eq. (4) for neuron j with the "
        "previous layer's activations as its inputs; nndl's matrix feedforward equals the "
        "neuron-by-neuron computation to rounding.",
        steps=_eq22_steps, run=_eq22_run, section="Implementing our network to classify digits"),
    "ch1-no-hidden-layer": Spec(
        "Create a network with just two layers, the input and the output layer, no hidden layer, "
        "with 784 and 10 neurons, and train it by stochastic gradient descent. What accuracy does "
        "it reach?",
        _no_hidden_answer, run=_no_hidden_run, section="Implementing our network to classify digits"),
}
