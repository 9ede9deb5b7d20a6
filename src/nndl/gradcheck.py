"""Check backpropagation against central differences, layer by layer.

This is the package's gradient checker (STYLE.md item 1): the tests, ``nndl
gradcheck`` and ``nndl explain`` all use it. For every parameter p of a network it
computes, in float64, the fourth-order central difference

    dC/dp ~ [-C(p + 2h) + 8 C(p + h) - 8 C(p - h) + C(p - 2h)] / (12 h)

where C = sum_x C_x is the cost summed over the batch (what ``Network.backprop``
differentiates), and compares the result with backpropagation (BP1-BP4) layer by
layer, with the relative error

    ||numeric - backprop|| / (||numeric|| + ||backprop||)

(Euclidean norms over one layer's weights, or its biases). A layer passes if that is
at most ``TOLERANCE``.

A user's own cost, or only its output error delta^L, can be checked by giving
``"module:function"`` specs (see :func:`load_callable` and :func:`custom_cost`): this
is how the classic mistake of multiplying the cross-entropy delta a - y by
sigma'(z^L) is caught.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nndl.errors import UsageError

__all__ = [
    "EPS",
    "EPS_RELU",
    "GRAD_FLOOR",
    "TOLERANCE",
    "GradCheckResult",
    "LayerCheck",
    "check_gradients",
    "cost_sum",
    "custom_cost",
    "default_eps",
    "load_callable",
    "numerical_bias_gradient",
    "numerical_gradients",
    "rebuilt",
    "relative_error",
    "to_json",
    "to_markdown",
    "to_text",
]

Array = NDArray[np.float64]

# Step h of the fourth-order central difference: truncation error ~h^4 f^(5), rounding
# error ~2e-16 |C| / h. Measured (3 seeds each, nets [4,5,3] to [10,8,8,8,8,8,3], sigmoid,
# tanh, ReLU, all costs): for sigmoid and tanh nets h = 1e-3 gave relative errors
# <= 3e-8 per layer, h = 1e-4 up to 3e-7 (rounding: the first layers of a deep sigmoid
# net have gradients ~4e-4 next to a cost ~10). ReLU nets have kinks at z = 0 which a
# step of 2h may cross: h = 1e-3 gave errors up to 2e-2 there, h = 1e-4 <= 3e-11.
EPS = 1e-3  # smooth hidden activations (sigmoid, tanh)
EPS_RELU = 1e-4  # ReLU hidden layers
# A layer passes when its relative error is at most this: 30 times the worst error
# measured above for correct gradients, and 1e5 times smaller than the mistakes it
# must catch (a sign error gives exactly 1; multiplying the cross-entropy delta by
# sigma'(z^L) <= 1/4 gives more than 0.6).
TOLERANCE = 1e-6
# A layer whose gradient norm is below this fraction of the largest layer's is flagged
# when it fails: finite differences may not resolve it (GradCheckResult.notes).
SMALL_GRADIENT = 1e-3
# Smallest denominator of the relative error, so that a layer whose true gradient is
# exactly 0 (dead ReLUs) is judged by its absolute error.
GRAD_FLOOR = 1e-12


@dataclass(frozen=True)
class LayerCheck:
    """Relative errors of one layer's gradients.

    ``layer`` indexes ``net.weights``; the book's layer number is ``layer + 2``.
    """

    layer: int
    weights: float  # relative error of dC/dw^{layer+2}
    biases: float  # relative error of dC/db^{layer+2}
    weights_norm: float  # ||dC/dw|| by backpropagation (summed over the batch)
    biases_norm: float
    n_weights: int  # entries compared
    n_biases: int

    @property
    def book_layer(self) -> int:
        return self.layer + 2

    @property
    def max_error(self) -> float:
        return max(self.weights, self.biases)


@dataclass(frozen=True)
class GradCheckResult:
    """The outcome of :func:`check_gradients`; ``passed`` is True if every layer passed."""

    sizes: tuple[int, ...]
    cost: str
    hidden: str
    output: str
    m: int  # examples in the batch
    eps: float
    tolerance: float
    layers: tuple[LayerCheck, ...]

    @property
    def max_error(self) -> float:
        return max(c.max_error for c in self.layers)

    @property
    def passed(self) -> bool:
        return all(c.max_error <= self.tolerance for c in self.layers)

    def notes(self) -> list[str]:
        """Advice on failures that may be rounding rather than a wrong gradient.

        Central differences resolve a gradient only to about 1e-16 |C| / h in absolute
        terms; a layer whose gradient is more than 1,000 times smaller than the largest
        layer's (the first layers of a deep sigmoid net, chapter 5) can fail by rounding.
        """
        largest = max(max(c.weights_norm, c.biases_norm) for c in self.layers)
        tiny = [c.book_layer for c in self.layers if c.max_error > self.tolerance
                and max(c.weights_norm, c.biases_norm) < SMALL_GRADIENT * largest]
        if not tiny:
            return []
        return [
            f"layer(s) {', '.join(map(str, tiny))}: the gradient is over "
            f"{1 / SMALL_GRADIENT:,.0f} times smaller than the largest layer's, near what "
            "float64 finite differences can resolve; rerun with a larger step (--eps 1e-2 "
            "for sigmoid or tanh layers) or a smaller batch to tell a wrong gradient from "
            "rounding error"
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        d["notes"] = self.notes()
        d["max_error"] = self.max_error
        for layer, c in zip(d["layers"], self.layers):
            layer["book_layer"] = c.book_layer
            layer["passed"] = c.max_error <= self.tolerance
        return d


# --------------------------------------------------------------------------- numerics


def _takes(func, name: str) -> bool:
    """True if ``func`` has a parameter ``name``; cached (a numerical gradient asks it 4 times a
    parameter: uncached, inspect.signature took more than half of ``nndl explain shapes``)."""
    try:
        return _takes_cached(func, name)
    except TypeError:  # an unhashable callable
        return _signature_has(func, name)


def _signature_has(func, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=256)
def _takes_cached(func, name: str) -> bool:
    return _signature_has(func, name)


def cost_sum(net, X: Array, Y: Array, masks=None) -> float:
    """C = sum_x C_x over the batch, at the network's current parameters (no L2 term).

    Uses ``net.cost.fn``; z^L and the output layer are passed when ``fn`` accepts them
    (the built-in costs use z for a stable value), so a user's ``fn(a, y)`` works too.
    ``masks``: fixed dropout masks, as for ``Network.forward_pass``.
    """
    zs, activations = net.forward_pass(X, masks)
    fn = net.cost.fn
    kwargs = {}
    if _takes(fn, "z"):
        kwargs["z"] = zs[-1]
    if _takes(fn, "output"):
        kwargs["output"] = net.output
    return float(fn(activations[-1], Y, **kwargs))


_STENCIL = ((2, -1.0), (1, 8.0), (-1, -8.0), (-2, 1.0))  # (offset in h, weight); sum / 12h


def _central_difference(net, X, Y, P: Array, index, eps: float, masks=None) -> float:
    """dC/dP[index] by the fourth-order central stencil; P[index] is restored exactly."""
    old = P[index]
    total = 0.0
    for k, weight in _STENCIL:
        P[index] = old + k * eps
        total += weight * cost_sum(net, X, Y, masks)
    P[index] = old
    return total / (12.0 * eps)


def rebuilt(net, *, cost=None, dtype=np.float64):
    """A new ``Network`` with ``net``'s parameters (cast to ``dtype``), optionally another cost.

    Keeps the sizes, hidden and output activations and dropout rate; the parameters are
    copies, so checking never touches ``net``.
    """
    from nndl.network import Network

    new = Network(
        net.sizes,
        cost=cost if cost is not None else net.cost,
        init=getattr(net, "init", "default"),
        hidden=net.hidden,
        output=net.output,
        dtype=dtype,
        dropout=getattr(net, "dropout", 0.0),
        rng=np.random.default_rng(0),
    )
    new.weights = [np.array(W, dtype=dtype) for W in net.weights]
    new.biases = [np.array(b, dtype=dtype) for b in net.biases]
    return new


def default_eps(net) -> float:
    """:data:`EPS_RELU` for a network with ReLU hidden layers, else :data:`EPS`."""
    return EPS_RELU if getattr(net, "hidden", "sigmoid") == "relu" else EPS


def _entries(shape, max_entries: int | None, rng: np.random.Generator) -> list[tuple]:
    """All indices of an array of ``shape``, or a random sample of ``max_entries`` of them."""
    size = int(np.prod(shape))
    flat = np.arange(size)
    if max_entries is not None and size > max_entries:
        flat = np.sort(rng.choice(size, size=max_entries, replace=False))
    return [np.unravel_index(i, shape) for i in flat]


def numerical_gradients(net, X, Y, *, eps: float | None = None) -> tuple[list[Array], list[Array]]:
    """Central-difference gradients of C = sum_x C_x, shaped like ``(nabla_b, nabla_w)``.

    The parameters are perturbed in place and restored exactly. Every entry of every
    layer: 2 forward passes per parameter, so keep the network small.
    """
    X, Y = _as_batch(net, X, Y)
    eps = eps if eps is not None else default_eps(net)
    nabla_b = [_numerical(net, X, Y, b, _entries(b.shape, None, None), eps) for b in net.biases]
    nabla_w = [_numerical(net, X, Y, W, _entries(W.shape, None, None), eps) for W in net.weights]
    return nabla_b, nabla_w


def numerical_bias_gradient(net, X, Y, layer: int, *, eps: float | None = None) -> Array:
    """Central-difference dC/db of one layer (``layer`` indexes ``net.biases``).

    For the output layer and a single example this is dC_x/dz^L = delta^L (since
    dz^L/db^L = 1): how the derivations check BP1 numerically.
    """
    X, Y = _as_batch(net, X, Y)
    eps = eps if eps is not None else default_eps(net)
    b = net.biases[layer]
    return _numerical(net, X, Y, b, _entries(b.shape, None, None), eps)


def _numerical(net, X, Y, P: Array, entries, eps: float, masks=None) -> Array:
    G = np.full(P.shape, np.nan)
    for index in entries:
        G[index] = _central_difference(net, X, Y, P, index, eps, masks)
    return G


def _as_batch(net, X, Y) -> tuple[Array, Array]:
    from nndl.network import as_targets

    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    return X, as_targets(Y, net.sizes[-1], np.float64)


def relative_error(numeric, analytic, floor: float = GRAD_FLOOR) -> float:
    """||numeric - analytic|| / max(||numeric|| + ||analytic||, floor), over all entries.

    0 when they agree, 1 when one is the negative of the other or one is zero.
    NaN entries of ``numeric`` (not sampled) are left out of all three norms.
    """
    n = np.asarray(numeric, dtype=np.float64).ravel()
    a = np.asarray(analytic, dtype=np.float64).ravel()
    keep = ~np.isnan(n)
    n, a = n[keep], a[keep]
    scale = max(float(np.linalg.norm(n)) + float(np.linalg.norm(a)), floor)
    return float(np.linalg.norm(n - a)) / scale


def check_gradients(
    net,
    X,
    Y,
    *,
    eps: float | None = None,
    tolerance: float = TOLERANCE,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
    masks=None,
) -> GradCheckResult:
    """Compare ``net.backprop`` with central differences, layer by layer.

    Parameters
    ----------
    net : nndl.Network
        Any network (float32 networks are checked on a float64 copy), with any cost
        object having ``fn`` and ``delta``.
    X : ndarray of shape (m, n_in)
    Y : ndarray of shape (m, n_out), or integer labels of shape (m,)
    eps : float, optional
        Step h of the central differences; default :func:`default_eps`.
    tolerance : float
        Largest relative error a layer may have and pass.
    max_entries : int, optional
        Compare at most this many randomly chosen entries per weight matrix or bias
        vector (for large networks); default all.
    rng : numpy.random.Generator, optional
        Chooses the sampled entries; default ``default_rng(0)``.
    masks : list of ndarray, optional
        Fixed dropout masks (``Network.dropout_masks``) for both computations.

    Returns
    -------
    GradCheckResult
        One :class:`LayerCheck` per layer, first hidden layer first.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    work = rebuilt(net)
    eps = eps if eps is not None else default_eps(work)
    X, Y = _as_batch(work, X, Y)
    nabla_b, nabla_w = work.backprop(X, Y, masks)
    layers = []
    for l, (b, W) in enumerate(zip(work.biases, work.weights)):
        eb, ew = _entries(b.shape, max_entries, rng), _entries(W.shape, max_entries, rng)
        num_b = _numerical(work, X, Y, b, eb, eps, masks)
        num_w = _numerical(work, X, Y, W, ew, eps, masks)
        layers.append(
            LayerCheck(
                layer=l,
                weights=relative_error(num_w, nabla_w[l]),
                biases=relative_error(num_b, nabla_b[l]),
                weights_norm=float(np.linalg.norm(nabla_w[l])),
                biases_norm=float(np.linalg.norm(nabla_b[l])),
                n_weights=len(ew),
                n_biases=len(eb),
            )
        )
    from nndl.costs import cost_name

    return GradCheckResult(
        sizes=tuple(work.sizes),
        cost=cost_name(work.cost),
        hidden=work.hidden,
        output=work.output,
        m=X.shape[0],
        eps=eps,
        tolerance=tolerance,
        layers=tuple(layers),
    )


# --------------------------------------------------------------------------- user costs


def load_callable(spec: str):
    """Import ``"package.module:name"`` and return that attribute (a function or a class).

    This runs the user's module, on purpose: it is how a user hands nndl their own
    cost or delta. Errors become one-line :class:`~nndl.errors.UsageError`.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected module:function, got {spec!r}")
    added = os.getcwd() not in sys.path  # as `python -m`: modules in the current folder
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r} (from {spec!r}): {exc}") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


class _UserCost:
    """A cost assembled from a base cost and a user's ``fn`` and/or ``delta``."""

    def __init__(self, name: str, fn, delta, default_output: str) -> None:
        self.name = name
        self.fn = fn
        self.delta = delta
        self.default_output = default_output

    def __repr__(self) -> str:
        return f"<cost {self.name}>"


def custom_cost(base="cross-entropy", *, fn=None, delta=None):
    """A cost object: ``base`` (a name, a cost class, or ``"module:attr"``) with its
    ``fn`` and/or ``delta`` replaced by user functions (callables or ``"module:function"``).

    ``fn(a, y)`` must return the cost summed over the batch (rows are examples); it may
    also accept ``z`` and ``output`` keywords. ``delta(z, a, y)`` must return
    delta^L = dC_x/dz^L, shape (m, n_out).
    """
    from nndl.costs import cost_name, get_cost

    if isinstance(base, str) and ":" in base:
        base = load_callable(base)
    try:
        base_cost = get_cost(base)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if fn is None and delta is None:
        return base_cost
    name = cost_name(base_cost)
    parts = []
    if isinstance(fn, str):
        parts.append(f"fn={fn}")
        fn = load_callable(fn)
    if isinstance(delta, str):
        parts.append(f"delta={delta}")
        delta = load_callable(delta)
    for what, f in (("fn", fn), ("delta", delta)):
        if f is not None and not callable(f):
            raise UsageError(f"the {what} given is not callable: {f!r}")
    label = f"{name} with {', '.join(parts)}" if parts else f"{name} (modified)"
    return _UserCost(
        label,
        _guarded("fn", fn) if fn is not None else base_cost.fn,
        _guarded("delta", delta) if delta is not None else base_cost.delta,
        getattr(base_cost, "default_output", "sigmoid"),
    )


def _guarded(what: str, f):
    """``f`` whose failures (wrong signature, wrong result) become one-line ``UsageError``s.

    Importing the user's code is by design; calling, say, ``os:system`` as ``fn(a, y)``
    must end in a message, not a traceback. ``fn`` must return a real number, ``delta``
    an array of the shape of ``a``.
    """
    import functools

    import numpy as np

    from nndl.errors import NndlError

    name = getattr(f, "__qualname__", None) or repr(f)
    usage = "fn(a, y)" if what == "fn" else "delta(z, a, y)"

    @functools.wraps(f)
    def call(*args, **kwargs):
        try:
            out = f(*args, **kwargs)
        except NndlError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
            raise UsageError(f"the {what} {name} failed when called as {usage} "
                             f"({type(exc).__name__}: {exc})") from None
        a = args[0] if what == "fn" else args[1]
        if what == "fn":
            if isinstance(out, bool) or not isinstance(out, (int, float, np.number)) or (
                    isinstance(out, np.ndarray)):
                raise UsageError(f"the fn {name} returned {type(out).__name__}; a cost must be a "
                                 "number (the cost summed over the batch)")
        elif not isinstance(out, np.ndarray) or out.shape != np.shape(a) or out.dtype.kind not in "fiu":
            raise UsageError(f"the delta {name} returned {type(out).__name__} "
                             f"{getattr(out, 'shape', '')}; it must be an array of numbers of "
                             f"shape {np.shape(a)} (delta^L for each example)")
        return out

    return call


# Deliberately wrong output errors, so that a learner can watch gradcheck catch them:
#   nndl gradcheck --cost cross-entropy --delta nndl.gradcheck:wrong_delta_sigma_prime


def wrong_delta_sigma_prime(z, a, y):
    """WRONG on purpose: the cross-entropy delta multiplied by sigma'(z^L) = a(1 - a).

    That is BP1 done twice: for the cross-entropy, dC/da = (a - y)/(a(1 - a)) and
    BP1 multiplies it by sigma'(z) once, giving a - y (eq. 66). Multiplying again
    brings back the learning slowdown the cross-entropy was designed to remove.
    """
    return (a - y) * a * (1.0 - a)


def wrong_delta_sign(z, a, y):
    """WRONG on purpose: y - a instead of a - y (gradient ascent on the cost)."""
    return y - a


# --------------------------------------------------------------------------- rendering


def _verdict(error: float, tolerance: float) -> str:
    return "ok" if error <= tolerance else "FAIL"


def to_text(r: GradCheckResult) -> str:
    """A table of per-layer relative errors, and the verdict with the threshold."""
    out = [
        f"Gradient check: network {list(r.sizes)}, cost {r.cost}, hidden {r.hidden}, "
        f"output {r.output}, batch of {r.m}",
        f"Backpropagation (BP1-BP4) vs fourth-order central differences of C = sum_x C_x, "
        f"h = {r.eps:g}, float64",
        "relative error = ||numeric - backprop|| / (||numeric|| + ||backprop||)",
        "",
        f"{'layer':>5}  {'shape of w':>11}  {'||dC/dw||':>10}  {'rel. error w':>12}  "
        f"{'||dC/db||':>10}  {'rel. error b':>12}  verdict",
    ]
    for c in r.layers:
        shape = f"{r.sizes[c.layer + 1]}x{r.sizes[c.layer]}"
        out.append(
            f"{c.book_layer:>5}  {shape:>11}  {c.weights_norm:>10.3e}  {c.weights:>12.2e}  "
            f"{c.biases_norm:>10.3e}  {c.biases:>12.2e}  {_verdict(c.max_error, r.tolerance)}"
        )
    out.append("")
    out.append("(layer = the book's l: layer 2 is the first hidden layer)")
    out += [f"Note: {note}" for note in r.notes()]
    word = "PASSED" if r.passed else "FAILED"
    out.append(
        f"{word}: largest relative error {r.max_error:.2e}; a layer passes when it is "
        f"<= {r.tolerance:g} (nndl.gradcheck.TOLERANCE)"
    )
    return "\n".join(out)


def to_markdown(r: GradCheckResult) -> str:
    """The same as :func:`to_text`, as a Markdown table."""
    out = [
        f"**Gradient check** of network `{list(r.sizes)}`, cost `{r.cost}`, batch of {r.m}: "
        f"backpropagation vs fourth-order central differences with $h = {r.eps:g}$.",
        "",
        r"Relative error $\lVert g_{\rm num} - g_{\rm bp}\rVert / (\lVert g_{\rm num}\rVert"
        r" + \lVert g_{\rm bp}\rVert)$.",
        "",
        "| layer $l$ | $\\lVert\\partial C/\\partial w^l\\rVert$ | rel. error $w^l$ "
        "| $\\lVert\\partial C/\\partial b^l\\rVert$ | rel. error $b^l$ | |",
        "|---|---|---|---|---|---|",
    ]
    for c in r.layers:
        out.append(
            f"| {c.book_layer} | {c.weights_norm:.3e} | {c.weights:.2e} | {c.biases_norm:.3e} "
            f"| {c.biases:.2e} | {_verdict(c.max_error, r.tolerance)} |"
        )
    out += [f"\n*Note: {note}.*" for note in r.notes()]
    out += ["", f"**{'Passed' if r.passed else 'FAILED'}**: largest relative error "
            f"{r.max_error:.2e}, threshold {r.tolerance:g}."]
    return "\n".join(out)


def to_json(r: GradCheckResult) -> str:
    return json.dumps(r.to_dict(), indent=2)
