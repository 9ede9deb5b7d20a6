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


