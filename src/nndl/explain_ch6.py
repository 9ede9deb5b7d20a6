"""Chapter 6's questions, answered on a real MNIST mini-batch and checked numerically.

Topics (``nndl explain-ch6 TOPIC``):

- ``shared-weights``: a conv layer's filter is used at every position of the image, so its
  gradient is BP4 summed over every position, and its bias gradient BP3 summed likewise.
  The layer's vectorised ``nabla_w`` / ``nabla_b`` are compared with an explicit sum over
  positions of per-position BP4 terms, and with finite differences.
- ``pooling``: max-pooling passes the gradient to ONE input of each block, the maximum;
  the others get 0 because nudging them does not change the output. Shown on one block of
  the batch and counted over the whole batch (ties: the first maximum in row-major order).
- ``relu``: why ReLU keeps the gradient of deep nets alive. At the book's initialisation,
  the first layer's bias gradient relative to the last hidden layer's, sigmoid vs ReLU
  (sigma' <= 1/4 shrinks every layer's delta by BP2; ReLU' = 1 on active units), checked by
  finite differences.

Every number comes from the book's networks (``nndl.network3.book_net``) in float64 on the
first 10 MNIST training images; ``explain(topic)`` returns a dict, ``to_text`` renders it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from nndl.network3 import Network, book_net

TOPICS = ("shared-weights", "pooling", "relu")
H = 1e-6  # finite-difference step (central differences, float64)


@functools.lru_cache(maxsize=4)
def _batch(m: int):
    """The first ``m`` MNIST training images in float64 (read-only, shared by the topics)."""
    from nndl.data import load_mnist

    tr = load_mnist().training
    X, y = np.array(tr.X[:m], np.float64), np.array(tr.y[:m])
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _fd(net: Network, X, y, P: np.ndarray, index: tuple) -> float:
    """dC/dP[index] by a central difference of the mini-batch's mean cost."""
    old = P[index]
    P[index] = old + H
    up = net.mini_batch_cost(X, y)
    P[index] = old - H
    down = net.mini_batch_cost(X, y)
    P[index] = old
    return (up - down) / (2 * H)


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _trained_softmax(net: Network, rng) -> None:
    """Small random softmax weights: network3 starts them at zero, which leaves every
    hidden delta exactly 0 at the first step (BP2 multiplies by w) and nothing to show."""
    out = net.layers[-1]
    out.w[...] = rng.normal(0.0, 0.1, size=out.w.shape)


MAX_BATCH = 1000  # of MNIST's 50,000 training images: a mini-batch shows it all (about 0.3 GB)


def check_options(m: Any, seed: Any) -> None:
    """ValueError unless ``m`` is a whole number in 1..MAX_BATCH and ``seed`` a valid run seed
    (the rule of ``nndl train --seed``: a whole number in 0..``nndl.runs.MAX_SETTING["seed"]``)."""
    from nndl.runs import MAX_SETTING

    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or not 1 <= m <= MAX_BATCH:
        raise ValueError(f"--batch must be a whole number from 1 to {MAX_BATCH:,} (a mini-batch of the "
                         f"50,000 training images; more only costs memory); got {m!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= MAX_SETTING["seed"]:
        raise ValueError(f"--seed must be a whole number from 0 to {MAX_SETTING['seed']:,} (as nndl train's "
                         f"--seed); got {seed!r}")


def _net_after_backprop(m: int, seed: int, name: str = "ch6-conv1"):
    """The book's network ``name`` in float64 (softmax weights non-zero) after one backprop.

    ValueError for a bad ``m`` or ``seed`` (``check_options``)."""
    check_options(m, seed)
    rng = np.random.default_rng(seed)
    net = book_net(name, m, rng=rng, dtype=np.float64)
    _trained_softmax(net, rng)
    X, y = _batch(m)
    net.backprop(X, y)
    return net, X, y


def shared_weights(m: int = 10, seed: int = 0) -> dict[str, Any]:
    net, X, y = _net_after_backprop(m, seed)
    conv = net.layers[0]
    F, C, fh, fw = conv.filter_shape
    # dC/dz of the convolution's output at every position (zero where pooling did not pick it)
    bf = conv._buf[m]
    PH, PW = conv.pooled_shape
    dconv = np.zeros((m, 2 * PH, 2 * PW, F))
    d = bf["dconv"].reshape(2, 2, m, PH, PW, F)
    for di in range(2):
        for dj in range(2):
            dconv[:, di::2, dj::2, :] = d[di, dj]
    images = X.reshape(m, 28, 28)
    f = 0
    per_position = np.zeros((fh, fw))  # the explicit sum over examples and positions of BP4
    used = 0
    for n in range(m):
        for i in range(2 * PH):
            for j in range(2 * PW):
                g = dconv[n, i, j, f]
                if g:
                    used += 1
                per_position += images[n, i: i + fh, j: j + fw] * g  # BP4 at position (i, j): a_in * delta
    explicit_w = per_position[::-1, ::-1]  # the kernel is flipped (true convolution, as Theano)
    fd_w = _fd(net, X, y, conv.w, (f, 0, 2, 2))
    fd_b = _fd(net, X, y, conv.b, (f,))
    net.backprop(X, y)
    return {
        "topic": "shared-weights",
        "network": "ch6-conv1 (book's initialisation; softmax weights made non-zero), float64",
        "batch": f"the first {m} MNIST training images",
        "positions_per_map": (2 * PH) * (2 * PW),
        "positions_with_gradient": used,
        "filter": f,
        "nabla_w_vectorised": np.asarray(conv.nabla_w[f, 0]).round(8).tolist(),
        "nabla_w_explicit_sum": explicit_w.round(8).tolist(),
        "relative_difference": _rel(conv.nabla_w[f, 0], explicit_w),
        "w_center_finite_difference": fd_w,
        "w_center_backprop": float(conv.nabla_w[f, 0, 2, 2]),
        "b_finite_difference": fd_b,
        "b_backprop": float(conv.nabla_b[f]),
        "b_explicit_sum_of_deltas": float(dconv[..., f].sum()),
    }


def pooling(m: int = 10, seed: int = 0) -> dict[str, Any]:
    net, X, y = _net_after_backprop(m, seed)
    conv = net.layers[0]
    bf = conv._buf[m]
    z = bf["conv"]  # (4, N, F): the 4 inputs of every pooling block
    g = bf["dconv"]  # their gradients
    N, F = z.shape[1:]
    block_max = z.max(axis=0)
    ties = int(np.sum(np.sum(z == block_max, axis=0) > 1))
    receivers = np.count_nonzero(g, axis=0)
    spread = np.abs(z - block_max).sum(axis=0)
    k = int(np.argmax(spread))  # a block with clearly different inputs, to show
    r, f = divmod(k, F)
    n, rest = divmod(r, conv.pooled_shape[0] * conv.pooled_shape[1])
    ph, pw = divmod(rest, conv.pooled_shape[1])
    winner = int(np.argmax(z[:, r, f]))  # inputs in row-major order: (0,0), (0,1), (1,0), (1,1)
    z, g = z.copy(), g.copy()
    fd = [_fd_conv_output(net, z, y, k, r, f) for k in range(4)]  # nudge each input of the block
    net.backprop(X, y)
    return {
        "topic": "pooling",
        "network": "ch6-conv1 (book's initialisation; softmax weights made non-zero), float64",
        "batch": f"the first {m} MNIST training images",
        "block": {"example": n, "filter": f, "pooled_row": ph, "pooled_col": pw,
                  "inputs": z[:, r, f].round(6).tolist(), "winner": winner,
                  "gradient_backprop": g[:, r, f].tolist(), "gradient_finite_difference": fd},
        "blocks": int(N * F),
        "blocks_with_exactly_one_receiver": int(np.sum(receivers == 1)),
        "blocks_with_zero_gradient": int(np.sum(receivers == 0)),
        "blocks_with_several_receivers": int(np.sum(receivers > 1)),
        "blocks_with_tied_maxima": ties,
    }


def _cost_from_conv(net: Network, z: np.ndarray, y) -> float:
    """The mini-batch's mean cost when the first conv layer's outputs (before pooling) are ``z``.

    ``z``: (4, N, F), the four inputs of every 2x2 pooling block (the layer's own layout);
    the rest of the network runs as in training: pool, add the bias, f, the later layers.
    """
    from nndl.layers import ACTIVATIONS3

    conv = net.layers[0]
    PH, PW = conv.pooled_shape
    a = np.asarray(ACTIVATIONS3[conv.activation].fn(z.max(axis=0) + conv.b))  # f(maxpool(z) + b)   (N, F)
    m = len(y)
    x = np.ascontiguousarray(a.reshape(m, PH, PW, -1).transpose(0, 3, 1, 2).reshape(m, -1))
    for layer in net.layers[1:-1]:
        x = layer.forward(x, True)
    return net.layers[-1].forward_cost(x, y, True)[1] / m


def _fd_conv_output(net: Network, z: np.ndarray, y, k: int, r: int, f: int) -> float:
    """dC/dz[k, r, f] by a central difference of ``_cost_from_conv``."""
    z = z.copy()
    old = z[k, r, f]
    z[k, r, f] = old + H
    up = _cost_from_conv(net, z, y)
    z[k, r, f] = old - H
    down = _cost_from_conv(net, z, y)
    return (up - down) / (2 * H)


def relu(m: int = 10, seed: int = 0) -> dict[str, Any]:
    X, y = _batch(m)
    out = {"topic": "relu", "batch": f"the first {m} MNIST training images",
           "networks": "ch6-conv2 (sigmoid) and ch6-relu, the book's initialisation, softmax weights "
                       "N(0, 0.01) (network3's zeros give no hidden gradient at all), float64"}
    for name in ("ch6-conv2", "ch6-relu"):
        net, X, y = _net_after_backprop(m, seed, name)
        norms = [float(np.linalg.norm(layer.nabla_b)) for layer in net.layers[:-1]]
        conv0 = net.layers[0]
        fd = _fd(net, X, y, conv0.b, (0,))
        net.backprop(X, y)
        active = []
        for layer in net.layers[:-1]:
            buf = layer._buf[m]
            a = buf["a"] if "a" in buf else layer._a
            if layer.activation == "relu":
                active.append(float(np.mean(a > 0)))
            else:
                active.append(float(np.mean(a * (1 - a))))  # the mean sigma'(z)
        out[name] = {"bias_gradient_norms": norms, "first_over_last_hidden": norms[0] / norms[-1],
                     "mean_derivative_per_layer": active,
                     "first_bias_finite_difference": fd, "first_bias_backprop": float(conv0.nabla_b[0])}
    return out


def explain(topic: str, **options) -> dict[str, Any]:
    """The result of ``topic`` (one of ``TOPICS``) as a dict. Raises ValueError for an unknown one."""
    funcs = {"shared-weights": shared_weights, "pooling": pooling, "relu": relu}
    if topic not in funcs:
        raise ValueError(f"unknown topic {topic!r}; choose from {', '.join(TOPICS)}")
    return funcs[topic](**options)


def to_text(r: dict[str, Any]) -> str:
    t = r["topic"]
    if t == "shared-weights":
        lines = [
            "Shared weights: one 5x5 filter is used at every position of the 24x24 convolution, so",
            "dC/dw is BP4 summed over every position (and every example), and dC/db is BP3 summed",
            "likewise:  dC/dw_pq = sum_x sum_(i,j) a_(i+p, j+q) delta_(i,j)   (w flipped: a true convolution)",
            f"Network: {r['network']}; batch: {r['batch']}.",
            f"Filter {r['filter']}: {r['positions_per_map']} positions per map; {r['positions_with_gradient']} "
            "(example, position) pairs carry a gradient (pooling passes it to one position per block).",
            "nabla_w (vectorised, one GEMM over all positions):",
            *("  " + " ".join(f"{v:+.6f}" for v in row) for row in r["nabla_w_vectorised"]),
            "the same, summed position by position with explicit loops:",
            *("  " + " ".join(f"{v:+.6f}" for v in row) for row in r["nabla_w_explicit_sum"]),
            f"relative difference: {r['relative_difference']:.1e}",
            f"finite differences: dC/dw[centre] {r['w_center_finite_difference']:+.8f} vs backprop "
            f"{r['w_center_backprop']:+.8f}; dC/db {r['b_finite_difference']:+.8f} vs backprop "
            f"{r['b_backprop']:+.8f} (= the sum of the map's deltas {r['b_explicit_sum_of_deltas']:+.8f})",
        ]
    elif t == "pooling":
        b = r["block"]
        lines = [
            "Max-pooling passes the gradient to one input: max(z1, z2, z3, z4) changes with the largest",
            "input only (slope 1) and not at all with the others (slope 0), as long as the maximum is unique.",
            f"Network: {r['network']}; batch: {r['batch']}.",
            f"A block (example {b['example']}, filter {b['filter']}, pooled position "
            f"({b['pooled_row']}, {b['pooled_col']})): inputs {b['inputs']}; winner: input {b['winner']}.",
            "dC/d(input), backprop:          " + ", ".join(f"{v:+.3e}" for v in b["gradient_backprop"]),
            "dC/d(input), finite difference: " + ", ".join(f"{v:+.3e}" for v in b["gradient_finite_difference"]),
            f"Over the batch: {r['blocks']} blocks; {r['blocks_with_exactly_one_receiver']} pass a gradient to "
            f"exactly one input, {r['blocks_with_zero_gradient']} have a zero gradient, "
            f"{r['blocks_with_several_receivers']} pass it to more than one.",
            f"{r['blocks_with_tied_maxima']} blocks have tied maxima (blank corners of the digits: all four "
            "inputs equal): nndl gives the gradient to the first in row-major order, once; a mask x == max would "
            "send it to all four and count it four times.",
        ]
    else:
        s, u = r["ch6-conv2"], r["ch6-relu"]
        lines = [
            "Why ReLU keeps the gradient of a deep net alive: by BP2 every layer's delta is multiplied by",
            "f'(z). The sigmoid's f' is at most 1/4, so each sigmoid layer shrinks it; ReLU's f' is exactly 1",
            "wherever the unit is active (and 0 where it is not).",
            f"Networks: {r['networks']}; batch: {r['batch']}.",
            "                        ||dC/db|| per hidden layer (first conv ... fully connected)   first/last",
            "  sigmoid (ch6-conv2)   " + ", ".join(f"{v:.2e}" for v in s["bias_gradient_norms"])
            + f"   {s['first_over_last_hidden']:.3f}",
            "  ReLU (ch6-relu)       " + ", ".join(f"{v:.2e}" for v in u["bias_gradient_norms"])
            + f"   {u['first_over_last_hidden']:.3f}",
            "mean sigma'(z) per sigmoid layer: " + ", ".join(f"{v:.3f}" for v in s["mean_derivative_per_layer"]),
            "share of active ReLU units per layer: " + ", ".join(f"{v:.2f}" for v in u["mean_derivative_per_layer"]),
            f"checks (dC/db of the first conv filter): sigmoid {s['first_bias_finite_difference']:+.3e} (finite "
            f"difference) vs {s['first_bias_backprop']:+.3e}; ReLU {u['first_bias_finite_difference']:+.3e} vs "
            f"{u['first_bias_backprop']:+.3e}",
        ]
    return "\n".join(lines)
