"""The checking machinery shared by every answer: symbolic checks and claims about runs.

An answer is made of steps. Each :class:`Step` states a result (with the book's
equation number), says why it holds, and carries :class:`Check` objects: an
expression obtained by *computing* (SymPy's ``diff``, ``solve``, ``apart``,
substitution) and the expression the step *claims*. :func:`run_check` passes a check
only when ``derived - claimed`` simplifies to exactly zero. Claims about networks
(accuracies, gradient norms, divergence) are :class:`Claim` objects: a measured number,
a comparison and a bound, decided here, never written by hand.

SymPy is imported inside :func:`_sympy` only, never at import time, and by no other
module of nndl.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Check:
    """One symbolic check: ``derived - claimed`` must simplify to zero.

    Attributes
    ----------
    label : str
        What is compared, in words a reader can follow, e.g.
        ``"d/db C(sigma(z)) = C'(a) sigma'(z)"``.
    derived : sympy.Expr
        The expression obtained by computation (differentiation, solving, ...).
    claimed : sympy.Expr
        The expression the step states (the book's form).
    """

    label: str
    derived: Any
    claimed: Any


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a :class:`Check`: the expressions as text and whether it passed."""

    label: str
    derived: str  # str(sympy expression)
    claimed: str
    residual: str  # str(derived - claimed), before simplification
    simplified: str  # what the residual simplified to; "0" when the check passes
    method: str  # how it was simplified
    passed: bool
    claimed_latex: str


@dataclass(frozen=True)
class Step:
    """One step of a derivation.

    Attributes
    ----------
    title : str
        A few words, e.g. ``"Chain rule"``.
    equation : str
        The book's equation number(s) this step reaches, e.g. ``"(75)"``; ``""`` if none.
    text : str
        The result of the step in plain text.
    latex : str
        The same result in LaTeX (for ``--format markdown``).
    why : str
        Why it holds, in prose.
    checks : tuple of Check
        The SymPy checks of the step; at least one.
    """

    title: str
    equation: str
    text: str
    latex: str
    why: str
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class CheckedStep:
    """A :class:`Step` with the results of its checks."""

    step: Step
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)


@dataclass(frozen=True)
class NumericCheck:
    """A floating-point check on a real network (relative error against a tolerance)."""

    label: str
    max_rel_error: float
    tolerance: float
    detail: str

    @property
    def passed(self) -> bool:
        return self.max_rel_error <= self.tolerance


@dataclass(frozen=True)
class Derivation:
    """A derivation with every check run; :func:`derive` returns one."""

    topic: str
    title: str
    question: str  # the learner's question it answers
    setting: str  # the symbols, in plain text
    steps: tuple[CheckedStep, ...]
    answer: str  # the conclusion, in prose
    numeric: tuple[NumericCheck, ...] = field(default=())

    @property
    def n_checks(self) -> int:
        return sum(len(s.results) for s in self.steps) + len(self.numeric)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps) and all(c.passed for c in self.numeric)


@dataclass(frozen=True)
class _Topic:
    title: str
    question: str
    setting: str
    answer: str
    build: Callable[[], list[Step]]
    numeric: Callable[[], list[NumericCheck]] | None = None


# --------------------------------------------------------------------------- checking


def _sympy():
    try:
        import sympy  # the only place nndl imports SymPy
    except ImportError:
        from nndl.errors import NndlError

        raise NndlError("nndl derive needs SymPy: pip install 'nndl[derive]' (or pip install sympy)") from None

    return sympy


def _together_expand(expr):
    sp = _sympy()
    return sp.expand(sp.together(expr))


def _simplify(expr):
    return _sympy().simplify(expr)


def _rewrite_exp_simplify(expr):
    sp = _sympy()
    return sp.simplify(expr.rewrite(sp.exp))


# Tried in this order until one gives exactly 0; the cheap one settles most checks.
_SIMPLIFIERS = (
    ("together, expand", _together_expand),
    ("simplify", _simplify),
    ("rewrite(exp), simplify", _rewrite_exp_simplify),
)


def _witness(residual) -> str | None:
    """A point where ``residual`` is clearly not 0, as text; None if none is found.

    Every free symbol gets a distinct value in (0, 1) (an integer for integer
    symbols) and the residual is evaluated to 30 digits. A non-zero value proves the
    claim wrong, so an altered step fails fast, without a long symbolic search.
    Expressions with undefined functions (C(a)) cannot be evaluated: None.
    """
    sp = _sympy()
    symbols = sorted(residual.free_symbols, key=str)
    point = {
        x: sp.Integer(3 + i) if x.is_integer else sp.Rational(3 + 4 * i, 10 + 9 * i)
        for i, x in enumerate(symbols)
    }
    try:
        value = complex(residual.subs(point).evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if value != value or abs(value) <= 1e-15:  # NaN, or too close to 0 to prove anything
        return None
    at = ", ".join(f"{x} = {v}" for x, v in point.items())
    shown = f"{value.real:.6g}" if value.imag == 0 else f"{value:.6g}"
    return f"{shown} (not 0) at {at}" if at else f"{shown} (not 0)"


def run_check(check: Check) -> CheckResult:
    """Decide whether ``check.derived - check.claimed`` is identically zero.

    The residual is simplified symbolically, by cheap means first (see
    ``_SIMPLIFIERS``); the check passes only if one of them gives exactly 0. If the
    residual is non-zero at a sample point, the check fails at once and that value is
    reported. Nothing numeric ever makes a check pass.
    """
    sp = _sympy()
    residual = sp.sympify(check.derived) - sp.sympify(check.claimed)
    simplified, method, passed = residual, "", False
    for name, transform in _SIMPLIFIERS:
        simplified, method = transform(residual), name
        if simplified == 0:
            passed = True
            break
        if name == _SIMPLIFIERS[0][0]:
            witness = _witness(residual)
            if witness is not None:
                simplified, method = witness, "evaluated at a point"
                break
    return CheckResult(
        label=check.label,
        derived=str(check.derived),
        claimed=str(check.claimed),
        residual=str(residual),
        simplified=str(simplified),
        method=method,
        passed=passed,
        claimed_latex=sp.latex(check.claimed),
    )



def _sigma(t):
    """sigma(t) = 1/(1 + e^{-t}), eq. (3), as a SymPy expression."""
    sp = _sympy()
    return 1 / (1 + sp.exp(-t))


def _sigma_prime(t):
    """sigma'(t) as a SymPy expression, differentiated by SymPy (not written by hand)."""
    sp = _sympy()
    s = sp.Symbol("s", real=True)
    return sp.diff(_sigma(s), s).subs(s, t)


def _kron(i: int, j: int) -> int:
    return 1 if i == j else 0




# --------------------------------------------------------------------------- claims about runs

_OPS: dict[str, Callable[[float, float, float], bool]] = {
    "<": lambda v, b, t: v < b,
    "<=": lambda v, b, t: v <= b,
    ">": lambda v, b, t: v > b,
    ">=": lambda v, b, t: v >= b,
    "~": lambda v, b, t: abs(v - b) <= t * max(1.0, abs(b)),  # equal within a relative tolerance
}


@dataclass(frozen=True)
class Claim:
    """A claim about a computation on a real network: ``value op bound`` must hold.

    ``value`` is measured by the answer's own run; ``op`` is one of ``<``, ``<=``,
    ``>``, ``>=`` or ``~`` (equal to ``bound`` within the relative ``tolerance``).
    :attr:`passed` is decided here from those numbers, so a claim cannot be marked as
    passing by hand; ``tests/test_exercises.py`` recomputes every claim this way.
    """

    label: str
    value: float
    op: str
    bound: float
    tolerance: float = 0.0
    detail: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}; choose from {', '.join(_OPS)}")

    @property
    def passed(self) -> bool:
        v = float(self.value)
        return v == v and _OPS[self.op](v, float(self.bound), float(self.tolerance))

    @property
    def condition(self) -> str:
        """The comparison in words: ``> 0.5``, ``= 7 exactly``, ``= 1.22 within 1e-02 (relative)``."""
        if self.op != "~":
            return f"{self.op} {_g(self.bound)}"
        if self.tolerance == 0:
            return f"= {_g(self.bound)} exactly"
        return f"= {_g(self.bound)} within {self.tolerance:.0e} (relative)"

    @property
    def text(self) -> str:
        within = "" if self.op != "~" else " exactly" if self.tolerance == 0 else f" within {self.tolerance:.0e}"
        value, bound = _g(self.value), _g(self.bound)
        digits = 4
        # never print "10 > 10": show more digits until value and bound differ as printed
        while value == bound and float(self.value) != float(self.bound) and digits < 17:
            digits += 2
            value, bound = _g(self.value, digits), _g(self.bound, digits)
        return f"{self.label}: {value} {self.op} {bound}{within}"


def _g(x: float, digits: int = 4) -> str:
    x = float(x)
    return f"{x:.{digits}g}" if x == x and abs(x) < 1e6 else f"{x:.{digits - 1}e}"
