"""Chapter 3's derivations (``nndl derive``): cross-entropy (eqs. 71-77), softmax with the
log-likelihood (eqs. 78-84), sigma' = sigma(1 - sigma), L2 regularization (eqs. 87-94) and
the matched cost/activation pairs. Every step carries SymPy checks (:mod:`nndl.answers.checks`).
"""

from __future__ import annotations

from nndl.answers.checks import Check, NumericCheck, Step, _kron, _sigma, _sigma_prime, _sympy

# --------------------------------------------------------------------------- cross-entropy


def _cross_entropy_steps() -> list[Step]:
    sp = _sympy()
    w1, w2, x1, x2, b, y = sp.symbols("w_1 w_2 x_1 x_2 b y", real=True)
    a = sp.Symbol("a", positive=True)  # 0 < a < 1
    z = w1 * x1 + w2 * x2 + b  # a neuron with two inputs stands for any number of them
    sz = _sigma(z)
    C = sp.Function("C")
    dCda = sp.Symbol("dC/da")
    dCda_at_a = sp.Derivative(C(a), a).subs(a, sz)  # C'(a) evaluated at a = sigma(z)
    eq75 = (a - y) / (a * (1 - a))
    eq76 = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    eq76_of_z = eq76.subs(a, sz)

    sol72 = sp.solve(sp.Eq(dCda * a * (1 - a), a - y), dCda)
    sol71 = sp.solve(sp.Eq(dCda * a * (1 - a) * x1, x1 * (a - y)), dCda)

    # eq. (62)-style average over three examples (x^(i), y^(i)) of a one-input neuron
    xs = sp.symbols("x^(1:4)", real=True)
    ys = sp.symbols("y^(1:4)", real=True)
    w = sp.Symbol("w", real=True)
    cost_avg = sum(eq76.subs({a: _sigma(w * xi + b), y: yi}) for xi, yi in zip(xs, ys)) / 3
    grad_b_avg = sum(_sigma(w * xi + b) - yi for xi, yi in zip(xs, ys)) / 3
    grad_w_avg = sum(xi * (_sigma(w * xi + b) - yi) for xi, yi in zip(xs, ys)) / 3

    return [
        Step(
            "The neuron",
            "",
            "z = sum_j w_j x_j + b,  a = sigma(z),  so dz/db = 1 and dz/dw_j = x_j",
            r"z = \sum_j w_j x_j + b,\quad a = \sigma(z),\quad "
            r"\frac{\partial z}{\partial b} = 1,\quad \frac{\partial z}{\partial w_j} = x_j",
            "The cost C is some function of the output a alone (for a fixed target y); "
            "we look for that function. The bias enters z with coefficient 1, the "
            "weight w_j with coefficient x_j.",
            (
                Check("dz/db = 1", sp.diff(z, b), 1),
                Check("dz/dw_1 = x_1", sp.diff(z, w1), x1),
            ),
        ),
        Step(
            "Chain rule for the bias",
            "(73)",
            "dC/db = dC/da * sigma'(z)",
            r"\frac{\partial C}{\partial b} = \frac{\partial C}{\partial a}\,\sigma'(z)",
            "C depends on b only through a = sigma(z), and dz/db = 1.",
            (
                Check(
                    "d/db C(sigma(z)) = C'(a) sigma'(z) at a = sigma(z)",
                    sp.diff(C(sz), b),
                    dCda_at_a * _sigma_prime(z),
                ),
            ),
        ),
        Step(
            "The derivative of the sigmoid",
            "(74)",
            "sigma'(z) = sigma(z)(1 - sigma(z)) = a(1 - a),  so  dC/db = dC/da * a(1 - a)",
            r"\sigma'(z) = \sigma(z)(1-\sigma(z)) = a(1-a),\quad "
            r"\frac{\partial C}{\partial b} = \frac{\partial C}{\partial a}\, a(1-a)",
            "Differentiate sigma(z) = 1/(1 + e^{-z}); see `nndl derive sigmoid-prime`.",
            (Check("sigma'(z) = sigma(z)(1 - sigma(z))", _sigma_prime(z), sz * (1 - sz)),),
        ),
        Step(
            "Impose (72): solve for dC/da",
            "(75)",
            "(72) says dC/db = a - y; with (74): dC/da * a(1 - a) = a - y, so "
            "dC/da = (a - y) / (a(1 - a))",
            r"\frac{\partial C}{\partial a}\,a(1-a) = a - y \;\Longrightarrow\; "
            r"\frac{\partial C}{\partial a} = \frac{a-y}{a(1-a)}",
            "For 0 < a < 1 the factor a(1 - a) is not zero, so the equation has exactly "
            "one solution: (72) fixes the derivative of C with respect to a.",
            (
                Check("solve dC/da * a(1-a) = a - y for dC/da: (a - y)/(a(1 - a))", sol72[0], eq75),
                Check("the solution is unique", len(sol72), 1),
            ),
        ),
        Step(
            "Where (71) comes in",
            "(71)",
            "chain rule: dC/dw_j = dC/da * sigma'(z) * x_j; (71) says dC/dw_j = x_j(a - y), "
            "so dC/da * a(1 - a) * x_j = x_j(a - y): x_j cancels and this is (75) again",
            r"\frac{\partial C}{\partial w_j} = \frac{\partial C}{\partial a}\,a(1-a)\,x_j"
            r" = x_j(a-y) \;\Longrightarrow\; \frac{\partial C}{\partial a} = \frac{a-y}{a(1-a)}",
            "The weight condition (71) gives the very same equation for dC/da as the bias "
            "condition (72), once the common factor x_j (non-zero for some input) is "
            "cancelled. So (71) is consistent with (72) but adds no new condition: either "
            "one alone determines C. The book states both because both gradients must be "
            "free of sigma'(z) for the slowdown to disappear.",
            (
                Check(
                    "d/dw_1 C(sigma(z)) = C'(a) sigma'(z) x_1 at a = sigma(z)",
                    sp.diff(C(sz), w1),
                    dCda_at_a * _sigma_prime(z) * x1,
                ),
                Check("solve dC/da * a(1-a) * x_1 = x_1(a - y) for dC/da: (a - y)/(a(1 - a))", sol71[0], eq75),
                Check("(71) and (72) give the same dC/da", sol71[0], sol72[0]),
            ),
        ),
        Step(
            "Partial fractions",
            "",
            "(a - y) / (a(1 - a)) = -y/a + (1 - y)/(1 - a)",
            r"\frac{a-y}{a(1-a)} = -\frac{y}{a} + \frac{1-y}{1-a}",
            "Split the right-hand side of (75) into two terms that are easy to integrate.",
            (Check("apart((a - y)/(a(1 - a)), a) = -y/a + (1 - y)/(1 - a)", sp.apart(eq75, a), -y / a + (1 - y) / (1 - a)),),
        ),
        Step(
            "Integrate over 0 < a < 1",
            "(76)",
            "C = -[y ln a + (1 - y) ln(1 - a)] + constant",
            r"C = -[y \ln a + (1-y) \ln (1-a)] + {\rm constant}",
            "The integral of -y/a is -y ln a; on 0 < a < 1 the integral of (1 - y)/(1 - a) "
            "is -(1 - y) ln(1 - a). (A computer algebra system may answer with ln(a - 1), "
            "which differs by a complex constant and is not real on 0 < a < 1; so the "
            "closed form is stated and checked by differentiating it.)",
            (Check("d/da of (76) = (75)", sp.diff(eq76, a), eq75),),
        ),
        Step(
            "Unique up to the constant",
            "(76)",
            "any C with dC/da = (75) is (76) plus a constant",
            r"\frac{d}{da}\bigl(C - C_{(76)}\bigr) = 0 \text{ on } (0, 1)",
            "If C'(a) is given by (75) then C - C_(76) has derivative zero on the interval "
            "0 < a < 1, so it is constant there. This is the sense in which (72) "
            "determines the cross-entropy.",
            (
                Check(
                    "d/da [C(a) - C_(76)(a)] with C'(a) = (75)",
                    sp.diff(C(a) - eq76, a).subs(sp.Derivative(C(a), a), eq75),
                    0,
                ),
            ),
        ),
        Step(
            "Check: differentiate (76) again",
            "(71), (72)",
            "with a = sigma(w_1 x_1 + w_2 x_2 + b): dC/db = sigma(z) - y and "
            "dC/dw_j = x_j(sigma(z) - y)",
            r"\frac{\partial C}{\partial b} = \sigma(z) - y,\quad "
            r"\frac{\partial C}{\partial w_j} = x_j(\sigma(z) - y)",
            "Substitute a = sigma(z) in the cross-entropy and differentiate with respect "
            "to the parameters: both requirements hold, and sigma'(z) has cancelled.",
            (
                Check("d/db of (76) at a = sigma(z) = sigma(z) - y", sp.diff(eq76_of_z, b), sz - y),
                Check(
                    "d/dw_1 of (76) = x_1(sigma(z) - y)", sp.diff(eq76_of_z, w1), x1 * (sz - y)
                ),
                Check(
                    "d/dw_2 of (76) = x_2(sigma(z) - y)", sp.diff(eq76_of_z, w2), x2 * (sz - y)
                ),
            ),
        ),
        Step(
            "Average over the training examples",
            "(61), (62), (77)",
            "C = -(1/n) sum_x [y ln a + (1 - y) ln(1 - a)]:  dC/db = (1/n) sum_x (sigma(z) - y), "
            "dC/dw = (1/n) sum_x x (sigma(z) - y)",
            r"\frac{\partial C}{\partial b} = \frac{1}{n}\sum_x (\sigma(z)-y),\quad"
            r"\frac{\partial C}{\partial w_j} = \frac{1}{n}\sum_x x_j(\sigma(z)-y)",
            "The derivative of an average is the average of the derivatives; checked with "
            "n = 3 examples of a one-input neuron. No sigma'(z) anywhere: the larger the "
            "error sigma(z) - y, the faster the neuron learns.",
            (
                Check("d/db of the mean cost (n = 3) = (1/n) sum_x (sigma(z) - y)", sp.diff(cost_avg, b), grad_b_avg),
                Check("d/dw of the mean cost (n = 3) = (1/n) sum_x x (sigma(z) - y)", sp.diff(cost_avg, w), grad_w_avg),
            ),
        ),
    ]


# --------------------------------------------------------------------------- softmax + log-likelihood

SOFTMAX_CLASSES = range(2, 7)  # K = 2..6 output neurons, checked symbolically


def _softmax(zs):
    sp = _sympy()
    den = sum(sp.exp(q) for q in zs)
    return [sp.exp(q) / den for q in zs], den


def _softmax_steps() -> list[Step]:
    sp = _sympy()
    sums, logs, jacobian, dC_da, dC_dz, chain, wrong, total = ([] for _ in range(8))
    for K in SOFTMAX_CLASSES:
        zs = sp.symbols(f"z_1:{K + 1}", real=True)
        A, den = _softmax(zs)
        a_sym = sp.symbols(f"a_1:{K + 1}", positive=True)
        sums.append(Check(f"K={K}: sum_j a_j = 1", sum(A), 1))
        for k in range(K):
            for j in range(K):
                jacobian.append(
                    Check(
                        f"K={K}: d a_{k + 1}/d z_{j + 1} = a_{k + 1}(delta_{k + 1}{j + 1}"
                        f" - a_{j + 1})",
                        sp.diff(A[k], zs[j]),
                        A[k] * (_kron(k, j) - A[j]),
                    )
                )
        for t in range(K):  # t = the index of the correct class, y_j = delta_{j t}
            C = -sp.log(A[t])  # eq. (80)
            C_of_a = -sp.log(a_sym[t])
            logs.append(
                Check(f"K={K}, y={t + 1}: -ln a_y = -z_y + ln sum_k e^(z_k)", C, -zs[t] + sp.log(den))
            )
            grads = [sp.diff(C, zs[j]) for j in range(K)]
            for j in range(K):
                dC_da.append(
                    Check(
                        f"K={K}, y={t + 1}: dC/da_{j + 1} = -delta_{j + 1}y / a_y",
                        sp.diff(C_of_a, a_sym[j]),
                        -_kron(j, t) / a_sym[t],
                    )
                )
                chain.append(
                    Check(
                        f"K={K}, y={t + 1}, j={j + 1}: sum_k dC/da_k da_k/dz_j = a_j - y_j",
                        sum(
                            (-_kron(k, t) / A[t]) * A[k] * (_kron(k, j) - A[j]) for k in range(K)
                        ),
                        A[j] - _kron(j, t),
                    )
                )
                dC_dz.append(
                    Check(
                        f"K={K}, y={t + 1}, j={j + 1}: d(-ln a_y)/dz_j = a_j - y_j",
                        grads[j],
                        A[j] - _kron(j, t),
                    )
                )
                if j != t:
                    wrong.append(
                        Check(f"K={K}, y={t + 1}, j={j + 1} != y: dC/dz_j = a_j", grads[j], A[j])
                    )
            total.append(Check(f"K={K}, y={t + 1}: sum_j dC/dz_j = 0", sum(grads), 0))

    # eqs. (81)-(82) for K = 3 outputs fed by two activations a^{L-1}_1, a^{L-1}_2
    K, t = 3, 1
    ap = sp.symbols("a^{L-1}_1:3", real=True)
    W = sp.Matrix(K, 2, lambda j, k: sp.Symbol(f"w_{j + 1}{k + 1}", real=True))
    bs = sp.symbols("b_1:4", real=True)
    zL = [W[j, 0] * ap[0] + W[j, 1] * ap[1] + bs[j] for j in range(K)]
    A, _ = _softmax(zL)
    C = -sp.log(A[t])
    params = [
        Check(f"K=3, y={t + 1}: dC/db_{j + 1} = a_{j + 1} - y_{j + 1}", sp.diff(C, bs[j]), A[j] - _kron(j, t))
        for j in range(K)
    ] + [
        Check(
            f"K=3, y={t + 1}: dC/dw_{j + 1}{k + 1} = a^(L-1)_{k + 1}(a_{j + 1} - y_{j + 1})",
            sp.diff(C, W[j, k]),
            ap[k] * (A[j] - _kron(j, t)),
        )
        for j in range(K)
        for k in range(2)
    ]

    # A worked example with exact numbers: z = (0, ln 2, ln 3) gives a = (1/6, 2/6, 3/6)
    zs3 = sp.symbols("z_1:4", real=True)
    A3, _ = _softmax(zs3)
    point = dict(zip(zs3, (0, sp.log(2), sp.log(3))))
    C3 = -sp.log(A3[0])  # correct class y = 1
    sixth = sp.Rational(1, 6)
    example = [
        Check(f"a_{j + 1} = {(j + 1) * sixth} at z = (0, ln 2, ln 3)", A3[j].subs(point), (j + 1) * sixth)
        for j in range(3)
    ] + [Check("C = -ln a_1 = ln 6", C3.subs(point), sp.log(6))] + [
        Check(f"dC/dz_{j + 1} = {g}", sp.diff(C3, zs3[j]).subs(point), g)
        for j, g in enumerate((-5 * sixth, sp.Rational(1, 3), sp.Rational(1, 2)))
    ]

    Ks = f"K = {SOFTMAX_CLASSES.start}..{SOFTMAX_CLASSES.stop - 1}"
    return [
        Step(
            "Softmax",
            "(78), (79)",
            "a_j = e^(z_j) / sum_k e^(z_k);  the a_j are positive and sum to 1",
            r"a^L_j = \frac{e^{z^L_j}}{\sum_k e^{z^L_k}},\quad \sum_j a^L_j = 1",
            f"Checked for {Ks} output neurons.",
            tuple(sums),
        ),
        Step(
            "The cost reads one output, but depends on every z",
            "(80)",
            "C = -ln a_y = -z_y + ln sum_k e^(z_k)",
            r"C = -\ln a^L_y = -z^L_y + \ln \sum_k e^{z^L_k}",
            "C is written with a_y only, but a_y's denominator contains every z_k. "
            "Moving any z_k moves a_y, so every output neuron's weighted input affects C.",
            tuple(logs),
        ),
        Step(
            "Softmax Jacobian",
            "",
            "da_k/dz_j = a_k(delta_kj - a_j)   (delta_kj = 1 if k = j, else 0)",
            r"\frac{\partial a_k}{\partial z_j} = a_k(\delta_{kj} - a_j)",
            "The Kronecker delta delta_kj appears because z_j is in the numerator of a_k "
            "only when k = j, but in the denominator of every a_k.",
            tuple(jacobian),
        ),
        Step(
            "The cost's derivative with respect to the outputs",
            "",
            "dC/da_k = -delta_ky / a_y   (zero for every k except the correct class)",
            r"\frac{\partial C}{\partial a_k} = -\frac{\delta_{ky}}{a_y}",
            "This is the learner's intuition, and it is right: as a function of the "
            "activations, C = -ln a_y reads only a_y. The other outputs get their "
            "gradient through the softmax Jacobian, next.",
            tuple(dC_da),
        ),
        Step(
            "Chain rule over all k",
            "(84)",
            "delta_j = dC/dz_j = sum_k dC/da_k * da_k/dz_j = -(1/a_y) a_y (delta_yj - a_j) "
            "= a_j - y_j",
            r"\delta^L_j = \sum_k \frac{\partial C}{\partial a_k}\frac{\partial a_k}{\partial z_j}"
            r" = -\frac{1}{a_y}\,a_y(\delta_{yj} - a_j) = a_j - y_j",
            "Only the k = y term of the sum survives, and its 1/a_y cancels the a_y of the "
            "Jacobian. With the one-hot target, delta_yj = y_j. Checked two ways: by the "
            "sum, and by differentiating -ln a_y directly, for every class y and every j.",
            tuple(chain + dC_dz),
        ),
        Step(
            "Why every output gets a gradient",
            "",
            "for j != y: dC/dz_j = a_j > 0;  for j = y: a_y - 1 < 0;  and sum_j dC/dz_j = 0",
            r"\frac{\partial C}{\partial z_j} = a_j \;(j \ne y),\quad "
            r"\frac{\partial C}{\partial z_y} = a_y - 1,\quad \sum_j \frac{\partial C}{\partial z_j} = 0",
            "Gradient descent lowers every wrong output's z_j in proportion to the "
            "probability a_j it wrongly gets, and raises z_y by 1 - a_y, which is exactly "
            "the total of the others: the push on the correct class is paid for by the "
            "wrong ones.",
            tuple(wrong + total),
        ),
        Step(
            "A worked example",
            "",
            "K = 3, z = (0, ln 2, ln 3), correct class y = 1: a = (1/6, 1/3, 1/2), "
            "C = ln 6, dC/dz = (-5/6, 1/3, 1/2)",
            r"a = \left(\tfrac16, \tfrac13, \tfrac12\right),\ C = \ln 6,\ "
            r"\nabla_z C = a - y = \left(-\tfrac56, \tfrac13, \tfrac12\right)",
            "The cost looks only at a_1 = 1/6, yet the gradient is non-zero for all "
            "three outputs: lowering z_2 or z_3 raises a_1 just as raising z_1 does. "
            "The three components sum to 0.",
            tuple(example),
        ),
        Step(
            "Bias and weight gradients",
            "(81), (82)",
            "z_j = sum_k w_jk a^(L-1)_k + b_j, so dC/db_j = a_j - y_j and "
            "dC/dw_jk = a^(L-1)_k (a_j - y_j)",
            r"\frac{\partial C}{\partial b^L_j} = a^L_j - y_j,\quad "
            r"\frac{\partial C}{\partial w^L_{jk}} = a^{L-1}_k (a^L_j - y_j)",
            "BP3 and BP4: dz_j/db_j = 1 and dz_j/dw_jk = a^(L-1)_k. Checked with K = 3 "
            "outputs fed by two activations of the layer before.",
            tuple(params),
        ),
    ]


def _softmax_numeric() -> list[NumericCheck]:
    """dC_x/dz^L = a - y on the output layer of real softmax networks, by central differences.

    dz^L/db^L = 1, so perturbing the output biases for one example x measures
    dC_x/dz^L_j for every j, including the wrong classes.
    """
    import numpy as np

    import nndl
    from nndl import gradcheck

    checks = []
    rng = np.random.default_rng(1)
    m = 4
    for K in SOFTMAX_CLASSES:
        net = nndl.Network(
            [5, 4, K], cost=nndl.LogLikelihoodCost, output="softmax", rng=np.random.default_rng(K)
        )
        X = rng.standard_normal((m, 5))
        labels = rng.integers(0, K, size=m)
        Y = np.eye(K)[labels]
        A = net.feedforward(X)
        fd = np.array(
            [gradcheck.numerical_bias_gradient(net, X[i : i + 1], Y[i : i + 1], -1) for i in range(m)]
        )
        worst = max(gradcheck.relative_error(fd[i], A[i] - Y[i]) for i in range(m))
        detail = ""
        if K == 3:
            vec = lambda v: "(" + ", ".join(f"{x:.4f}" for x in v) + ")"  # noqa: E731
            detail = (
                f"e.g. example 1, correct class y = {labels[0] + 1}: a - y = {vec(A[0] - Y[0])}, "
                f"central differences {vec(fd[0])}; every class gets a gradient"
            )
        checks.append(
            NumericCheck(
                f"K={K}: network [5, 4, {K}] with softmax output, {m} examples, "
                f"dC_x/db^L by central differences vs a - y",
                worst,
                gradcheck.TOLERANCE,
                detail,
            )
        )
    return checks


# --------------------------------------------------------------------------- sigmoid-prime


def _sigmoid_prime_steps() -> list[Step]:
    sp = _sympy()
    z = sp.Symbol("z", real=True)
    s = _sigma(z)
    ds = sp.diff(s, z)
    return [
        Step(
            "Differentiate",
            "(3)",
            "sigma(z) = 1/(1 + e^(-z)),  sigma'(z) = e^(-z) / (1 + e^(-z))^2",
            r"\sigma(z) = \frac{1}{1+e^{-z}},\quad \sigma'(z) = \frac{e^{-z}}{(1+e^{-z})^2}",
            "Chain rule on (1 + e^(-z))^(-1).",
            (Check("d/dz 1/(1 + e^(-z)) = e^(-z)/(1 + e^(-z))^2", ds, sp.exp(-z) / (1 + sp.exp(-z)) ** 2),),
        ),
        Step(
            "Split the fraction",
            "",
            "e^(-z)/(1 + e^(-z)) = 1 - sigma(z)",
            r"\frac{e^{-z}}{1+e^{-z}} = 1 - \sigma(z)",
            "Add and subtract 1 in the numerator: (1 + e^(-z) - 1)/(1 + e^(-z)).",
            (Check("e^(-z)/(1 + e^(-z)) = 1 - sigma(z)", sp.exp(-z) / (1 + sp.exp(-z)), 1 - s),),
        ),
        Step(
            "So sigma' = sigma(1 - sigma)",
            "(74)",
            "sigma'(z) = sigma(z)(1 - sigma(z)) = a(1 - a)",
            r"\sigma'(z) = \sigma(z)(1-\sigma(z)) = a(1-a)",
            "Backpropagation (BP1, BP2) uses this form: sigma'(z) from the stored "
            "activation a, without evaluating an exponential again.",
            (Check("sigma'(z) = sigma(z)(1 - sigma(z))", ds, s * (1 - s)),),
        ),
        Step(
            "Largest at z = 0, where it is 1/4",
            "",
            "sigma''(z) = sigma'(z)(1 - 2 sigma(z)) = 0 only at z = 0;  sigma'(0) = 1/4",
            r"\sigma''(z) = \sigma'(z)(1-2\sigma(z)),\quad \sigma'(0) = \tfrac14",
            "sigma'(z) > 0 everywhere, so sigma'' vanishes only where sigma(z) = 1/2, i.e. "
            "z = 0. Hence sigma'(z) <= 1/4: each sigmoid layer multiplies a backpropagated "
            "error by at most 1/4 (chapter 5, eq. 122).",
            (
                Check("sigma''(z) = sigma'(z)(1 - 2 sigma(z))", sp.diff(s, z, 2), ds * (1 - 2 * s)),
                Check("sigma'(0) = 1/4", ds.subs(z, 0), sp.Rational(1, 4)),
                Check("sigma(z) = 1/2 solved for z", sp.solve(sp.Eq(s, sp.Rational(1, 2)), z)[0], 0),
            ),
        ),
        Step(
            "Symmetry",
            "",
            "sigma(-z) = 1 - sigma(z),  sigma'(-z) = sigma'(z)",
            r"\sigma(-z) = 1-\sigma(z),\quad \sigma'(-z) = \sigma'(z)",
            "A neuron saturated near 0 learns as slowly as one saturated near 1.",
            (
                Check("sigma(-z) = 1 - sigma(z)", s.subs(z, -z), 1 - s),
                Check("sigma'(-z) = sigma'(z)", ds.subs(z, -z), ds),
            ),
        ),
        Step(
            "Relation to tanh",
            "(111)",
            "sigma(z) = (1 + tanh(z/2)) / 2",
            r"\sigma(z) = \frac{1+\tanh(z/2)}{2}",
            "A tanh neuron is a rescaled sigmoid neuron (chapter 3).",
            (Check("sigma(z) = (1 + tanh(z/2))/2", s, (1 + sp.tanh(z / 2)) / 2),),
        ),
    ]


# --------------------------------------------------------------------------- L2


def _l2_steps() -> list[Step]:
    sp = _sympy()
    w, v, b, eta, lmbda = sp.symbols("w v b eta lambda", real=True)
    n, m = sp.symbols("n m", positive=True, integer=True)
    C0 = sp.Function("C_0")(w, v, b)
    C = C0 + lmbda / (2 * n) * (w**2 + v**2)  # eq. (87) with two weights w, v
    gC0 = sp.Derivative(C0, w)
    step = w - eta * sp.diff(C, w)

    # n = 6 examples, per-example gradients g_1..g_6 of C_x wrt w, mini-batches of m = 2
    N, M = 6, 2
    g = sp.symbols(f"g_1:{N + 1}", real=True)
    full = sum(g) / N + lmbda * w / N
    batches = [g[i : i + M] for i in range(0, N, M)]
    mean_estimate = sum(sum(bt) / M + lmbda * w / N for bt in batches) / len(batches)
    return [
        Step(
            "The regularized cost",
            "(87), (88)",
            "C = C_0 + (lambda/2n) sum_w w^2,  dC/dw = dC_0/dw + (lambda/n) w",
            r"C = C_0 + \frac{\lambda}{2n}\sum_w w^2,\quad "
            r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{n} w",
            "C_0 = (1/n) sum_x C_x is the unregularized cost over the n training examples; "
            "the sum runs over all weights (two, w and v, in the check). The 1/2 cancels "
            "the 2 from w^2.",
            (Check("d/dw [C_0 + lambda/(2n)(w^2 + v^2)] = dC_0/dw + (lambda/n) w", sp.diff(C, w), gC0 + lmbda / n * w),),
        ),
        Step(
            "Biases are not regularized",
            "(89)",
            "dC/db = dC_0/db",
            r"\frac{\partial C}{\partial b} = \frac{\partial C_0}{\partial b}",
            "The penalty sums over weights only.",
            (Check("d/db C = d/db C_0", sp.diff(C, b), sp.Derivative(C0, b)),),
        ),
        Step(
            "Weight decay",
            "(91), (92)",
            "w -> w - eta dC/dw = (1 - eta lambda/n) w - eta dC_0/dw",
            r"w \rightarrow \left(1-\frac{\eta \lambda}{n}\right) w -\eta \frac{\partial C_0}{\partial w}",
            "A gradient step first shrinks w by the factor 1 - eta lambda/n, then moves it "
            "as without regularization.",
            (Check("w - eta dC/dw = (1 - eta lambda/n) w - eta dC_0/dw", step, (1 - eta * lmbda / n) * w - eta * gC0),),
        ),
        Step(
            "Stochastic gradient descent",
            "(93)",
            "w -> (1 - eta lambda/n) w - (eta/m) sum_x dC_x/dw  (sum over a mini-batch of m)",
            r"w \rightarrow \left(1-\frac{\eta \lambda}{n}\right) w -\frac{\eta}{m} \sum_x "
            r"\frac{\partial C_x}{\partial w}",
            "Only dC_0/dw, an average over all n examples, is estimated by the average "
            "over a mini-batch of m. The decay term (lambda/n) w does not depend on the "
            "examples at all: it is computed exactly, with the n of the cost (87). Check: "
            "with n = 6 examples split into 3 mini-batches of m = 2, the mini-batch "
            "estimates average to the exact gradient of (87).",
            (
                Check(
                    "mean over the 3 mini-batches of (1/m) sum g_x + (lambda/n) w = (1/n) sum g_x + (lambda/n) w",
                    mean_estimate,
                    full,
                ),
            ),
        ),
        Step(
            "Why n and not m",
            "(93)",
            "using lambda/m would be the regularization of (87) with lambda' = lambda n/m",
            r"1 - \frac{\eta\lambda}{m} = 1 - \frac{\eta\lambda'}{n},\quad \lambda' = \frac{n}{m}\lambda",
            "Dividing by the mini-batch size instead would make the penalty n/m times "
            "stronger (5,000 times for n = 50,000 and m = 10) and tie lambda to the batch "
            "size. With n, the same lambda means the same cost (87) whatever m is.",
            (Check("1 - eta lambda/m = 1 - eta (n lambda/m)/n", 1 - eta * lmbda / m, 1 - eta * (n * lmbda / m) / n),),
        ),
        Step(
            "Biases",
            "(94)",
            "b -> b - (eta/m) sum_x dC_x/db",
            r"b \rightarrow b - \frac{\eta}{m} \sum_x \frac{\partial C_x}{\partial b}",
            "From (89): no decay factor for biases.",
            (Check("b - eta dC/db = b - eta dC_0/db", b - eta * sp.diff(C, b), b - eta * sp.Derivative(C0, b)),),
        ),
    ]


# --------------------------------------------------------------------------- canonical pairs


def _canonical_pairs_steps() -> list[Step]:
    sp = _sympy()
    z, y = sp.symbols("z y", real=True)
    s = _sigma(z)
    ce = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))  # eq. (76) at a = sigma(z)
    quad_linear = sp.Rational(1, 2) * (z - y) ** 2  # a = z, eqs. (68)-(70)
    quad_sigmoid = sp.Rational(1, 2) * (s - y) ** 2
    zs = sp.symbols("z_1:4", real=True)
    A, den = _softmax(zs)
    t = 1  # correct class: y = (0, 1, 0)
    Y = [_kron(j, t) for j in range(3)]
    ll = -sp.log(A[t])
    A_bern = sp.log(1 + sp.exp(z))
    A_cat = sp.log(den)
    A_gauss = z**2 / 2
    return [
        Step(
            "Cross-entropy with a sigmoid output",
            "(66)",
            "delta = dC/dz = a - y",
            r"\delta^L = a^L - y",
            "sigma'(z) = a(1 - a) from the chain rule cancels the denominator of "
            "dC/da = (a - y)/(a(1 - a)); see `nndl derive cross-entropy`.",
            (Check("d/dz -[y ln sigma(z) + (1-y) ln(1 - sigma(z))] = sigma(z) - y", sp.diff(ce, z), s - y),),
        ),
        Step(
            "Log-likelihood with a softmax output",
            "(84)",
            "delta_j = dC/dz_j = a_j - y_j",
            r"\delta^L_j = a^L_j - y_j",
            "The softmax Jacobian a_k(delta_kj - a_j) cancels the 1/a_y of dC/da_y; see "
            "`nndl derive softmax-log-likelihood`. Checked for 3 classes, y = class 2.",
            tuple(Check(f"d/dz_{j + 1} (-ln a_2) = a_{j + 1} - y_{j + 1}", sp.diff(ll, zs[j]), A[j] - Y[j]) for j in range(3)),
        ),
        Step(
            "Quadratic cost with a linear output",
            "(68)-(70)",
            "a = z, C = (1/2)(a - y)^2:  delta = a - y",
            r"a^L = z^L,\ C = \tfrac12 (a^L - y)^2 \Rightarrow \delta^L = a^L - y",
            "A third matched pair from the book: linear output neurons have no sigma'(z) "
            "to cancel.",
            (Check("d/dz (1/2)(z - y)^2 = z - y = a - y", sp.diff(quad_linear, z), z - y),),
        ),
        Step(
            "A mismatched pair: quadratic cost with a sigmoid output",
            "(30)",
            "delta = (a - y) sigma'(z)",
            r"\delta^L = (a^L - y)\,\sigma'(z^L)",
            "Nothing cancels sigma'(z): this pair learns slowly when the output saturates.",
            (Check("d/dz (1/2)(sigma(z) - y)^2 = (sigma(z) - y) sigma'(z)", sp.diff(quad_sigmoid, z), (s - y) * _sigma_prime(z)),),
        ),
        Step(
            "The common form: C = A(z) - y.z",
            "",
            "each matched cost is C = A(z) - y.z + (terms free of z):  Bernoulli A = ln(1 + e^z), "
            "categorical A = ln sum_k e^(z_k), Gaussian A = z^2/2",
            r"C = A(z) - y\cdot z + {\rm const},\quad A_{\rm Bern} = \ln(1+e^z),\ "
            r"A_{\rm cat} = \ln \sum_k e^{z_k},\ A_{\rm Gauss} = \tfrac12 z^2",
            "Each matched cost is -ln of a probability of the target y (Bernoulli for "
            "a sigmoid neuron, categorical for softmax, Gaussian for a linear neuron) "
            "written with z as the distribution's natural parameter. A(z) is the log of "
            "the normalizing constant.",
            (
                Check("cross-entropy at a = sigma(z) = ln(1 + e^z) - y z", ce, A_bern - y * z),
                Check("-ln softmax_2(z) = ln sum_k e^(z_k) - y.z", ll, A_cat - sum(yj * zj for yj, zj in zip(Y, zs))),
                Check("(1/2)(z - y)^2 = z^2/2 - y z + y^2/2", quad_linear, A_gauss - y * z + y**2 / 2),
            ),
        ),
        Step(
            "The output activation is dA/dz, so delta = a - y",
            "",
            "dA/dz = sigma(z), d A/d z_j = softmax_j(z), dA/dz = z:  delta = dA/dz - y = a - y",
            r"\nabla_z A(z) = a \;\Longrightarrow\; \delta^L = \nabla_z C = a - y",
            "In each matched pair the output activation is exactly the gradient of A, "
            "so differentiating C = A(z) - y.z gives a - y whatever the activation. "
            "The quadratic cost with sigmoid outputs is not of this form, which is why "
            "it keeps the factor sigma'(z).",
            (
                Check("d/dz ln(1 + e^z) = sigma(z)", sp.diff(A_bern, z), s),
                *(Check(f"d/dz_{j + 1} ln sum_k e^(z_k) = a_{j + 1}", sp.diff(A_cat, zs[j]), A[j]) for j in range(3)),
                Check("d/dz z^2/2 = z", sp.diff(A_gauss, z), z),
            ),
        ),
    ]


