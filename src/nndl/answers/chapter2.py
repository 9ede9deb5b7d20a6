"""Chapter 2, *How the backpropagation algorithm works*: the quadratic cost's BP1 with its 1/2
(``nndl derive quadratic``) and the chapter's exercises and problems.
"""

from __future__ import annotations

from nndl.answers.checks import Check, Step, _sigma, _sigma_prime, _sympy

# --------------------------------------------------------------------------- quadratic


def _quadratic_steps() -> list[Step]:
    sp = _sympy()
    K = 3
    a = sp.symbols("a_1:4", real=True)
    y = sp.symbols("y_1:4", real=True)
    zs = sp.symbols("z_1:4", real=True)
    C = sp.Rational(1, 2) * sum((yj - aj) ** 2 for yj, aj in zip(y, a))  # eq. (27)
    C_no_half = sum((yj - aj) ** 2 for yj, aj in zip(y, a))
    C_of_z = C.subs({aj: _sigma(zj) for aj, zj in zip(a, zs)})
    Cf = sp.Function("C")
    Cgen = Cf(*[_sigma(zj) for zj in zs])
    u = sp.symbols("u_1:4")
    dCda1 = sp.Derivative(Cf(*u), u[0]).subs({uj: _sigma(zj) for uj, zj in zip(u, zs)})

    z, x, w, b = sp.symbols("z x w b", real=True)
    a1 = _sigma(w * x + b)
    quad1 = sp.Rational(1, 2) * (0 - a1) ** 2  # chapter 3's neuron, target y = 0
    ce1 = -sp.log(1 - a1)  # (76) with y = 0
    return [
        Step(
            "The quadratic cost of one example",
            "(27)",
            "C = (1/2) ||y - a^L||^2 = (1/2) sum_j (y_j - a^L_j)^2",
            r"C = \frac{1}{2}\|y-a^L\|^2 = \frac{1}{2}\sum_j (y_j-a^L_j)^2",
            "Checked with 3 output neurons; nothing depends on that number.",
            tuple(
                Check(f"dC/da_{j + 1} = a_{j + 1} - y_{j + 1}", sp.diff(C, a[j]), a[j] - y[j])
                for j in range(K)
            ),
        ),
        Step(
            "What the 1/2 is for",
            "",
            "without the 1/2: dC/da_j = 2(a_j - y_j)",
            r"\frac{\partial}{\partial a_j}\sum_k (y_k - a_k)^2 = 2(a_j - y_j)",
            "The 1/2 only cancels the 2 that differentiating the square brings down, so "
            "that nabla_a C = a - y. Leaving it out doubles every gradient, which is the "
            "same as doubling the learning rate eta; nothing else changes.",
            (Check("d/da_1 sum_k (y_k - a_k)^2 = 2(a_1 - y_1)", sp.diff(C_no_half, a[0]), 2 * (a[0] - y[0])),),
        ),
        Step(
            "BP1 for any cost",
            "(BP1)",
            "delta^L_j = dC/dz^L_j = dC/da^L_j * sigma'(z^L_j)",
            r"\delta^L_j = \frac{\partial C}{\partial a^L_j} \sigma'(z^L_j)",
            "a^L_j depends on z^L_j alone, so the chain rule has a single term. Checked "
            "for an arbitrary cost C(a_1, a_2, a_3).",
            (Check("d/dz_1 C(sigma(z_1), sigma(z_2), sigma(z_3)) = dC/da_1 sigma'(z_1)", sp.diff(Cgen, zs[0]), dCda1 * _sigma_prime(zs[0])),),
        ),
        Step(
            "BP1 for the quadratic cost",
            "(30)",
            "delta^L = (a^L - y) (.) sigma'(z^L) = (a^L - y) (.) a^L (1 - a^L)",
            r"\delta^L = (a^L-y) \odot \sigma'(z^L)",
            "Insert dC/da_j = a_j - y_j into BP1; (.) is the elementwise (Hadamard) product.",
            tuple(
                Check(
                    f"dC/dz_{j + 1} = (a_{j + 1} - y_{j + 1}) a_{j + 1}(1 - a_{j + 1})",
                    sp.diff(C_of_z, zs[j]),
                    (_sigma(zs[j]) - y[j]) * _sigma(zs[j]) * (1 - _sigma(zs[j])),
                )
                for j in range(K)
            ),
        ),
        Step(
            "The learning slowdown",
            "",
            "one neuron, target y = 0: quadratic dC/db = a sigma'(z), cross-entropy dC/db = a; "
            "their ratio is sigma'(z) <= 1/4",
            r"\frac{\partial C_{\rm quad}}{\partial b} = a\,\sigma'(z) = "
            r"\sigma'(z)\,\frac{\partial C_{\rm CE}}{\partial b}",
            "Chapter 3's neuron (input x, target 0). The quadratic gradient carries the "
            "factor sigma'(z), at most 1/4 and tiny when the neuron saturates: from "
            "(w, b) = (2, 2), x = 1, z = 4 and sigma'(4) = 0.0177, so the quadratic "
            "gradient is 57 times smaller than the cross-entropy one just when the "
            "output a = 0.982 is badly wrong. See `nndl explain saturation`.",
            (
                Check("d/db (1/2)a^2 = a sigma'(z)", sp.diff(quad1, b), a1 * _sigma_prime(w * x + b)),
                Check("d/db -ln(1 - a) = a", sp.diff(ce1, b), a1),
                Check("sigma'(4) = sigma(4)(1 - sigma(4))", _sigma_prime(sp.Integer(4)), _sigma(4) * (1 - _sigma(4))),
            ),
        ),
    ]




# =========================================================================== exercises and problems
# (``nndl exercise ch2-...``; see nndl.answers.exercises for the format)

import numpy as np  # noqa: E402  (the derivation above needs only SymPy)

from nndl.answers.checks import Claim  # noqa: E402
from nndl.answers.exercises import Run, Spec  # noqa: E402
from nndl.answers.experiment import subset  # noqa: E402


def _sym_matrix(sp, name, rows, cols):
    return sp.Matrix(rows, cols, lambda j, k: sp.Symbol(f"{name}_{j + 1}{k + 1}", real=True))


def _sym_vector(sp, name, n):
    return sp.Matrix(n, 1, lambda j, _: sp.Symbol(f"{name}_{j + 1}", real=True))


def _matrix_form_steps() -> list[Step]:
    sp = _sympy()
    s2, s3, s4 = (_sym_vector(sp, f"s{l}", 2) for l in (2, 3, 4))  # sigma'(z^l)
    g = _sym_vector(sp, "g", 2)  # grad_a C
    W3, W4 = _sym_matrix(sp, "w3", 2, 2), _sym_matrix(sp, "w4", 2, 2)
    S = {l: sp.diag(*v) for l, v in ((2, s2), (3, s3), (4, s4))}
    d4 = S[4] * g  # BP1, eq. (33)
    d3 = S[3] * W4.T * d4  # BP2, eq. (34)
    d2 = S[2] * W3.T * d3
    had = lambda u, v: sp.Matrix([u[i] * v[i] for i in range(len(u))])  # noqa: E731
    return [
        Step("BP1 in matrix form", "(33)",
             "delta^L = Sigma'(z^L) grad_a C, Sigma'(z) = diag(sigma'(z_j))",
             r"\delta^L = \Sigma'(z^L) \nabla_a C",
             "A diagonal matrix times a vector multiplies component by component: the "
             "Hadamard product of BP1.",
             tuple(Check(f"(Sigma'(z^L) grad_a C)_{j + 1} = sigma'(z^L_{j + 1}) dC/da_{j + 1}", d4[j], had(s4, g)[j]) for j in range(2))),
        Step("BP2 in matrix form", "(34)",
             "delta^l = Sigma'(z^l) (w^(l+1))^T delta^(l+1)",
             r"\delta^l = \Sigma'(z^l) (w^{l+1})^T \delta^{l+1}",
             "The same rule, with the vector (w^(l+1))^T delta^(l+1) in place of grad_a C.",
             tuple(Check(f"row {j + 1}: Sigma'(z^3) (w^4)^T delta^4 = ((w^4)^T delta^4) (.) sigma'(z^3)", d3[j],
                         had(W4.T * d4, s3)[j]) for j in range(2))),
        Step("Both together", "(35)",
             "delta^l = Sigma'(z^l) (w^(l+1))^T ... Sigma'(z^(L-1)) (w^L)^T Sigma'(z^L) grad_a C",
             r"\delta^l = \Sigma'(z^l) (w^{l+1})^T \cdots \Sigma'(z^{L-1}) (w^L)^T \Sigma'(z^L) \nabla_a C",
             "Unrolling BP2 down to BP1: one matrix product from the output back to layer l "
             "(here L = 4, l = 2, two neurons a layer).",
             tuple(Check(f"delta^2_{j + 1}: BP2 applied twice = the product of eq. (35)", d2[j],
                         (S[2] * W3.T * S[3] * W4.T * S[4] * g)[j]) for j in range(2))),
    ]


def _matrix_form_run(full: bool) -> Run:
    import nndl

    data = subset(20, 10)
    net = nndl.Network([data.n_in, 20, 15, 10], cost=nndl.QuadraticCost, rng=np.random.default_rng(0))
    x, y = data.X[:1], np.eye(10)[data.y[:1]]
    zs, acts = net.forward_pass(x)
    sig = lambda a: np.diag(a[0] * (1 - a[0]))  # noqa: E731  Sigma'(z) from a = sigma(z)
    grad_a = (acts[-1] - y)[0]  # quadratic cost, eq. (27)
    deltas = [None] * len(net.weights)
    deltas[-1] = sig(acts[-1]) @ grad_a  # eq. (33)
    for l in range(len(net.weights) - 2, -1, -1):
        deltas[l] = sig(acts[l + 1]) @ net.weights[l + 1].T @ deltas[l + 1]  # eq. (34)
    engine = net.deltas(x, y)
    from nndl import gradcheck

    err = max(gradcheck.relative_error(e[0], d) for e, d in zip(engine, deltas))
    return Run([Claim("eqs. (33)-(34) with explicit diagonal matrices vs nndl's BP1/BP2, relative error", err, "<", 1e-12)],
               setting=f"one image through a [{data.n_in}, 20, 15, 10] network, quadratic cost.")


def _bp34_steps() -> list[Step]:
    sp = _sympy()
    a = _sym_vector(sp, "a", 2)  # a^(l-1)
    W, b = _sym_matrix(sp, "w", 2, 2), _sym_vector(sp, "b", 2)
    V, c = _sym_matrix(sp, "v", 1, 2), sp.Symbol("c", real=True)  # the next layer: one neuron
    y = sp.Symbol("y", real=True)
    zl = _sym_vector(sp, "z", 2)  # z^l as free symbols, to define delta^l = dC/dz^l
    C_of_z = (_sigma((V * zl.applyfunc(_sigma))[0] + c) - y) ** 2 / 2
    delta = [sp.diff(C_of_z, zl[j]) for j in range(2)]  # eq. (29)
    z_expr = W * a + b  # eq. (25)
    at = dict(zip(zl, z_expr))
    C = C_of_z.subs(at)
    return [
        Step("delta^l is the derivative of the cost with respect to z^l", "(29), (25)",
             "delta^l_j = dC/dz^l_j; z^l_j = sum_k w^l_jk a^(l-1)_k + b^l_j",
             r"\delta^l_j \equiv \frac{\partial C}{\partial z^l_j},\quad z^l_j = \sum_k w^l_{jk} a^{l-1}_k + b^l_j",
             "The checks use a hidden layer l of two neurons feeding one sigmoid neuron and "
             "the quadratic cost; C depends on b^l_j and w^l_jk only through z^l_j.",
             (Check("dz^l_1/db^l_1 = 1", sp.diff(z_expr[0], b[0]), 1),
              Check("dz^l_1/dw^l_12 = a^(l-1)_2", sp.diff(z_expr[0], W[0, 1]), a[1]))),
        Step("BP3", "(BP3)",
             "dC/db^l_j = delta^l_j",
             r"\frac{\partial C}{\partial b^l_j} = \delta^l_j",
             "Chain rule: dC/db^l_j = dC/dz^l_j * dz^l_j/db^l_j = delta^l_j * 1.",
             tuple(Check(f"dC/db^l_{j + 1} = delta^l_{j + 1}", sp.diff(C, b[j]), delta[j].subs(at)) for j in range(2))),
        Step("BP4", "(BP4)",
             "dC/dw^l_jk = a^(l-1)_k delta^l_j",
             r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j",
             "Chain rule: dC/dw^l_jk = dC/dz^l_j * dz^l_j/dw^l_jk = delta^l_j a^(l-1)_k.",
             tuple(Check(f"dC/dw^l_{j + 1}{k + 1} = a_{k + 1} delta^l_{j + 1}", sp.diff(C, W[j, k]), a[k] * delta[j].subs(at))
                   for j in range(2) for k in range(2))),
    ]


def _bp34_run(full: bool) -> Run:
    import nndl
    from nndl import gradcheck

    data = subset(20, 10)
    X = data.X[:5, np.argsort(data.X[:20].var(axis=0))[-64:]]  # 64 pixels that vary (not the blank border)
    net = nndl.Network([X.shape[1], 12, 10], cost=nndl.QuadraticCost, rng=np.random.default_rng(0))
    Y = np.eye(10)[data.y[:5]]
    fb, fw = gradcheck.numerical_gradients(net, X, Y)
    D = net.deltas(X, Y)
    zs, acts = net.forward_pass(X)
    bp3 = max(gradcheck.relative_error(f, d.sum(axis=0)) for f, d in zip(fb, D))
    bp4 = max(gradcheck.relative_error(f, d.T @ acts[l]) for l, (f, d) in enumerate(zip(fw, D)))
    return Run([Claim("BP3: delta^l summed over the batch vs central differences of C, relative error", bp3, "<", 1e-7),
                Claim("BP4: delta^l a^(l-1) vs central differences of C, relative error", bp4, "<", 1e-7)],
               setting=f"a [{X.shape[1]}, 12, 10] network, 5 images, every weight and bias.")


def _modified_steps() -> list[Step]:
    sp = _sympy()
    f = sp.Function("f")
    x, y = sp.symbols("x y", real=True)
    w1, w2, b1, b2, v1, v2, c = sp.symbols("w1 w2 b1 b2 v1 v2 c", real=True)
    z1, z2 = sp.symbols("z1 z2", real=True)  # the hidden neurons' weighted inputs
    aL = _sigma(v1 * f(z1) + v2 * _sigma(z2) + c)  # neuron 1 uses f, neuron 2 sigma
    C = (aL - y) ** 2 / 2
    zL = v1 * f(z1) + v2 * _sigma(z2) + c
    deltaL = (aL - y) * _sigma_prime(zL)  # BP1
    return [
        Step("Only that neuron's derivative changes", "(BP2)",
             "delta^l_j = f'(z^l_j) sum_k w^(l+1)_kj delta^(l+1)_k for the modified neuron j; "
             "sigma'(z^l_i) for the others",
             r"\delta^l_j = f'(z^l_j) \sum_k w^{l+1}_{kj}\delta^{l+1}_k",
             "BP2's factor sigma'(z^l_j) is the derivative of neuron j's own activation, "
             "a^l_j = f(z^l_j): replace it by f'(z^l_j). BP1 (if the neuron is in the output "
             "layer), BP3 and BP4 are unchanged. Checked on 1 input, 2 hidden neurons (the first "
             "with an arbitrary f), 1 sigmoid output, quadratic cost.",
             (Check("dC/dz_1 = f'(z_1) v_1 delta^L (the modified neuron)", sp.diff(C, z1), sp.diff(f(z1), z1) * v1 * deltaL),
              Check("dC/dz_2 = sigma'(z_2) v_2 delta^L (an ordinary neuron)", sp.diff(C, z2), _sigma_prime(z2) * v2 * deltaL))),
    ]


def _modified_run(full: bool) -> Run:
    """Backpropagation with hidden neuron 0 a tanh neuron, vs central differences."""
    from scipy.special import expit

    from nndl import gradcheck

    rng = np.random.default_rng(0)
    data = subset(20, 10)
    X, Y = data.X[:5, np.argsort(data.X[:20].var(axis=0))[-40:]], np.eye(10)[data.y[:5]]  # 40 pixels that vary
    W1, b1 = rng.standard_normal((8, 40)) / np.sqrt(40), rng.standard_normal(8)
    W2, b2 = rng.standard_normal((10, 8)) / np.sqrt(8), rng.standard_normal(10)

    def hidden(z):
        a = expit(z)
        a[:, 0] = np.tanh(z[:, 0])  # the one neuron with f = tanh
        return a

    def cost(W1, b1):
        a2 = expit(hidden(X @ W1.T + b1) @ W2.T + b2)
        return 0.5 * np.sum((a2 - Y) ** 2)

    z1 = X @ W1.T + b1
    a1 = hidden(z1)
    a2 = expit(a1 @ W2.T + b2)
    d2 = (a2 - Y) * a2 * (1 - a2)  # BP1
    fprime = a1 * (1 - a1)
    fprime[:, 0] = 1 - a1[:, 0] ** 2  # f'(z) = 1 - tanh^2
    d1 = (d2 @ W2) * fprime  # BP2 with f' for neuron 0
    grad_b1, grad_W1 = d1.sum(axis=0), d1.T @ X  # BP3, BP4
    h = 1e-6
    num_b = np.array([(cost(W1, b1 + h * e) - cost(W1, b1 - h * e)) / (2 * h) for e in np.eye(8)])
    num_W = np.zeros_like(W1)
    for j in range(8):
        for k in range(0, 40, 5):
            E = np.zeros_like(W1)
            E[j, k] = h
            num_W[j, k] = (cost(W1 + E, b1) - cost(W1 - E, b1)) / (2 * h)
    err_b = gradcheck.relative_error(num_b, grad_b1)
    err_w = gradcheck.relative_error(num_W[:, ::5], grad_W1[:, ::5])
    fd_sigma = d1.copy()
    fd_sigma[:, 0] = (d2 @ W2)[:, 0] * a1[:, 0] * (1 - a1[:, 0])  # the mistake: sigma' kept
    wrong = gradcheck.relative_error(num_b, fd_sigma.sum(axis=0))
    return Run([Claim("modified BP2: dC/db of the hidden layer vs central differences", err_b, "<", 1e-6),
                Claim("modified BP2: dC/dw (every 5th input) vs central differences", err_w, "<", 1e-6),
                Claim("keeping sigma' for the tanh neuron: error vs central differences", wrong, ">", 1e-2,
                      detail="the check can tell")],
               setting="a 40-8-10 sigmoid network whose first hidden neuron is a tanh neuron, 5 images.")


def _linear_steps() -> list[Step]:
    sp = _sympy()
    z = sp.Symbol("z", real=True)
    x = _sym_vector(sp, "x", 2)
    W2, W3 = _sym_matrix(sp, "w2", 2, 2), _sym_matrix(sp, "w3", 2, 2)
    b2, b3 = _sym_vector(sp, "b2", 2), _sym_vector(sp, "b3", 2)
    d3, y = _sym_vector(sp, "d", 2), _sym_vector(sp, "y", 2)
    net = W3 * (W2 * x + b2) + b3
    C = sum((net[i] - y[i]) ** 2 for i in range(2)) / 2
    return [
        Step("sigma'(z) = 1", "",
             "with sigma(z) = z every sigma'(z) is 1",
             r"\sigma(z) = z \ \Rightarrow\ \sigma'(z) = 1",
             "The four equations lose their sigma' factors.",
             (Check("d/dz z = 1", sp.diff(z, z), 1),)),
        Step("The equations become", "(BP1)-(BP4)",
             "delta^L = grad_a C (= a^L - y for the quadratic cost); delta^l = (w^(l+1))^T delta^(l+1); "
             "dC/db^l_j = delta^l_j; dC/dw^l_jk = a^(l-1)_k delta^l_j",
             r"\delta^L = \nabla_a C,\quad \delta^l = (w^{l+1})^T\delta^{l+1}",
             "Checked on a 2-2-2 linear network with the quadratic cost: the derivative with "
             "respect to the hidden biases is (w^3)^T (a^3 - y).",
             tuple(Check(f"dC/db^2_{j + 1} = ((w^3)^T (a^3 - y))_{j + 1}", sp.diff(C, b2[j]),
                         (W3.T * (net - y))[j]) for j in range(2))),
        Step("The whole network is one affine map", "",
             "a^3 = w^3 (w^2 x + b^2) + b^3 = (w^3 w^2) x + (w^3 b^2 + b^3)",
             r"w^3(w^2 x + b^2) + b^3 = (w^3 w^2) x + (w^3 b^2 + b^3)",
             "So a network of linear neurons, however deep, computes no more than a single "
             "linear layer: the non-linearity of sigma is what the hidden layers are for.",
             tuple(Check(f"component {i + 1}", net[i], ((W3 * W2) * x + (W3 * b2 + b3))[i]) for i in range(2))),
    ]
    del d3


def _linear_run(full: bool) -> Run:
    from nndl import gradcheck

    rng = np.random.default_rng(0)
    sizes = [20, 15, 10, 5]
    Ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    X, Y = rng.standard_normal((7, 20)), rng.standard_normal((7, 5))

    def forward(bs):
        acts = [X]
        for W, b in zip(Ws, bs):
            acts.append(acts[-1] @ W.T + b)  # sigma(z) = z
        return acts

    acts = forward(bs)
    D = [acts[-1] - Y]  # BP1 with sigma' = 1
    for W in reversed(Ws[1:]):
        D.insert(0, D[0] @ W)  # BP2 with sigma' = 1
    h = 1e-6
    cost = lambda bs: 0.5 * np.sum((forward(bs)[-1] - Y) ** 2)  # noqa: E731
    err = 0.0
    for l in range(len(bs)):
        num = np.array([(cost([b + h * e if i == l else b for i, b in enumerate(bs)])
                         - cost([b - h * e if i == l else b for i, b in enumerate(bs)])) / (2 * h)
                        for e in np.eye(len(bs[l]))])
        err = max(err, gradcheck.relative_error(num, D[l].sum(axis=0)))
    M, c = Ws[2] @ Ws[1] @ Ws[0], Ws[2] @ (Ws[1] @ bs[0] + bs[1]) + bs[2]
    affine = float(np.abs(acts[-1] - (X @ M.T + c)).max())
    return Run([Claim("BP1-BP3 without sigma' vs central differences, every bias", err, "<", 1e-7),
                Claim("a 20-15-10-5 linear network vs one affine map, max difference", affine, "<", 1e-12)],
               setting="a random linear network 20-15-10-5, 7 random inputs, quadratic cost.")


def _minibatch_run(full: bool) -> Run:
    import time

    import nndl
    from nndl import gradcheck

    data = subset(1000, 10)
    net = nndl.Network([data.n_in, 30, 10], rng=np.random.default_rng(0))
    m = 100
    X, Y = data.X[:m], np.eye(10)[data.y[:m]]

    def loop():  # the book's network.py: backprop one example at a time, and sum
        nb = [np.zeros_like(b) for b in net.biases]
        nw = [np.zeros_like(w) for w in net.weights]
        for i in range(m):
            db, dw = net.backprop(X[i:i + 1], Y[i:i + 1])
            nb = [a + d for a, d in zip(nb, db)]
            nw = [a + d for a, d in zip(nw, dw)]
        return nb, nw

    (lb, lw), (mb, mw) = loop(), net.backprop(X, Y)
    err = max(gradcheck.relative_error(a, b) for a, b in zip(lb + lw, mb + mw))
    from threadpoolctl import threadpool_limits

    times = {}
    with threadpool_limits(1):  # one BLAS thread for both, as nndl trains (no thread contention)
        for name, fn in (("loop", loop), ("matrix", lambda: net.backprop(X, Y))):
            best = []
            for _ in range(7 if full else 5):
                t0 = time.perf_counter()
                fn()
                best.append(time.perf_counter() - t0)
            times[name] = min(best)
    speedup = times["loop"] / times["matrix"]
    from nndl.answers.tables import Table

    return Run([Claim("the matrix backprop's gradient vs the per-example loop's, relative error", err, "<", 1e-12),
                Claim("speed-up of the matrix form over the loop (minimum of repeated timings)", speedup, ">", 2.0)],
               [Table(f"One mini-batch of {m}, [{data.n_in}, 30, 10]:", ["method", "time (best)"],
                      [["per-example loop (network.py)", f"{times['loop'] * 1e3:.2f} ms"],
                       ["one matrix pass (nndl)", f"{times['matrix'] * 1e3:.2f} ms"],
                       ["speed-up", f"{speedup:.1f} x"]])],
               numbers={"speedup": speedup},
               setting=f"{m} images stacked as the rows of X (m, n_in); Delta^l, A^l are (m, n_l).")


EXERCISES: dict[str, Spec] = {
    "ch2-matrix-form": Spec(
        "Show that BP1 can be written delta^L = Sigma'(z^L) grad_a C, where Sigma'(z^L) is the "
        "diagonal matrix with sigma'(z^L_j) on its diagonal; that BP2 can be written delta^l = "
        "Sigma'(z^l)(w^(l+1))^T delta^(l+1); and, combining them, eq. (35).",
        "multiplying by the diagonal matrix Sigma'(z) multiplies component j by sigma'(z_j), which "
        "is the Hadamard product of BP1 and BP2; unrolling BP2 down to BP1 gives eq. (35). nndl's "
        "BP1/BP2 agree with the explicit matrix products on a real network.",
        steps=_matrix_form_steps, run=_matrix_form_run, section="The four fundamental equations behind backpropagation"),
    "ch2-prove-bp3-bp4": Spec("Prove equations BP3 and BP4.",
        "z^l_j = sum_k w^l_jk a^(l-1)_k + b^l_j, and C depends on b^l_j and w^l_jk only through "
        "z^l_j; the chain rule gives dC/db^l_j = delta^l_j * 1 (BP3) and dC/dw^l_jk = delta^l_j "
        "a^(l-1)_k (BP4). Both agree with central differences of the cost on a real network.",
        steps=_bp34_steps, run=_bp34_run, section="Proof of the four fundamental equations"),
    "ch2-modified-neuron": Spec(
        "Suppose one neuron in a feedforward network has activation f(sum_j w_j x_j + b) with some "
        "function f other than the sigmoid. How should backpropagation be modified?",
        "only BP2's (or, in the output layer, BP1's) factor for that neuron changes: use f'(z^l_j) "
        "in place of sigma'(z^l_j); BP3 and BP4 are unchanged. With this change backpropagation "
        "agrees with central differences; keeping sigma' does not.",
        steps=_modified_steps, run=_modified_run, section="The backpropagation algorithm"),
    "ch2-linear-neurons": Spec(
        "Suppose we replace the sigmoid with sigma(z) = z throughout the network. Rewrite "
        "backpropagation for this case.",
        "every sigma'(z) is 1: delta^L = grad_a C (a^L - y for the quadratic cost), delta^l = "
        "(w^(l+1))^T delta^(l+1), and BP3, BP4 as before. The network is then a single affine map "
        "x -> Mx + c however many layers it has, which is why hidden layers need a non-linearity.",
        steps=_linear_steps, run=_linear_run, section="The backpropagation algorithm"),
    "ch2-minibatch-matrix": Spec(
        "Fully matrix-based backpropagation over a mini-batch: rewrite network.py's "
        "update_mini_batch so that it computes the gradients for all examples of a mini-batch at "
        "once, with a matrix X = [x_1 x_2 ... x_m], and measure the speed-up.",
        lambda n: ("stack the mini-batch as a matrix (nndl: one example per row, X of shape (m, n_in)); "
                   "then Z^l = A^(l-1) (w^l)^T + b^l, Delta^L = BP1 row by row, Delta^l = (Delta^(l+1) "
                   "w^(l+1)) (.) sigma'(Z^l), dC/db^l = the column sums of Delta^l and dC/dw^l = "
                   "(Delta^l)^T A^(l-1) (the sum over x of BP4). This is nndl's Network.backprop. It "
                   f"gives the same gradient as the per-example loop and ran {n['speedup']:.0f} times faster "
                   "here, because a few large matrix products replace many small ones (BLAS)."),
        run=_minibatch_run, section="The code for backpropagation"),
}
