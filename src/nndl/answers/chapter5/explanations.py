"""Chapter 5's questions answered on real networks (``nndl explain``).

- :func:`earlier_layers`: quadratic vs cross-entropy on the same networks: only delta^L
  changes; BP2's sigma'(z^l) still shrinks the error layer by layer (eq. 122).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nndl.answers.tables import Table, _batch, _Result

# --------------------------------------------------------------------------- earlier layers


@dataclass(frozen=True)
class EarlierLayersResult(_Result):
    """Quadratic vs cross-entropy on the same networks, init and batch: per-layer errors."""

    m: int
    hidden: int
    depths: list[int]
    layers: list[dict[str, Any]]  # one per (depth, layer)
    output_relation: float  # max |delta^L_quad - delta^L_CE * sigma'(z^L)| / max |delta^L_quad|
    bp2_relation: float  # max deviation of BP2 with the common sigma'(z^l), both costs
    n_in: int = 64
    data: str = "the bundled 8x8 digits (64 pixels)"
    title: str = "Does the cost change how the earlier layers learn? (chapter 5, eq. 122)"
    equations: tuple[str, ...] = (
        r"\delta^L_{\rm quad} = (a^L-y) \odot \sigma'(z^L) \quad (30), \qquad "
        r"\delta^L_{\rm CE} = a^L - y \quad (66)",
        r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l) \quad (BP2)",
        r"\frac{\partial C}{\partial b_1} = \sigma'(z_1) \, w_2 \sigma'(z_2) \, w_3 "
        r"\sigma'(z_3) \, w_4 \sigma'(z_4) \, \frac{\partial C}{\partial a_4} \quad (122)",
    )

    def _parts(self):
        intro = [
            "Question (chapter 5, 'What's causing the vanishing gradient problem?', eq. 122): cross-entropy removes sigma'(z) from the output layer's "
            "gradient; does it change the hidden layers, and does it help a very deep network? "
            f"Below: sigmoid networks with 1 to {max(self.depths)} hidden layers of "
            f"{self.hidden} neurons ({self.n_in} inputs, 10 outputs, default init), the SAME weights and "
            f"the SAME batch of n = {self.m} images of {self.data} under both costs. The speed of learning of "
            "a layer is ||dC/db^l||, the norm of its mean bias gradient (chapter 5's measure).",
            "Output layer: delta^L(quadratic) = delta^L(cross-entropy) (.) sigma'(z^L) holds to "
            f"{self.output_relation:.1e} (relative): the only difference between the costs. "
            "Hidden layers: both costs give delta^l = ((w^(l+1))^T delta^(l+1)) (.) sigma'(z^l) "
            "with the same sigma'(z^l) "
            f"({'exactly' if self.bp2_relation == 0 else f'to {self.bp2_relation:.1e}'}): "
            "BP2 is the same equation for every cost.",
        ]
        headers = ["net", "layer", "mean sigma'(z^l)", "||dC/db^l|| quadratic",
                   "||dC/db^l|| cross-entropy", "CE / quadratic", "vs next layer (CE)"]
        rows = []
        for r in self.layers:
            rows.append([
                f"{r['depth']} hidden", f"{r['layer']}{' (L)' if r['output'] else ''}",
                f"{r['mean_sigma_prime']:.3f}", f"{r['norm_quadratic']:.2e}",
                f"{r['norm_cross_entropy']:.2e}", f"{r['ratio']:.2f}",
                "-" if r["shrink"] is None else f"x {r['shrink']:.3f}",
            ])
        deepest = [r for r in self.layers if r["depth"] == max(self.depths)]
        first, last_hidden = deepest[0], deepest[-2]
        answer = (
            "the cost changes only the output error. With the cross-entropy, delta^L "
            "lacks the factor sigma'(z^L), so it is larger, and BP2 carries that larger error "
            "into every hidden layer (the 'CE / quadratic' column). But BP2 still multiplies by "
            "w^(l+1) and by sigma'(z^l) <= 1/4 at every hidden layer, under either cost, so the "
            "first layers still learn far slower than the later ones, more so the deeper the "
            f"network: in the {max(self.depths)}-hidden-layer net the first hidden layer's "
            f"gradient is {first['norm_cross_entropy'] / last_hidden['norm_cross_entropy']:.1e} "
            "times the last hidden layer's under the cross-entropy "
            f"({first['norm_quadratic'] / last_hidden['norm_quadratic']:.1e} under the "
            "quadratic). This is eq. (122): dC/db_1 = sigma'(z_1) w_2 sigma'(z_2) w_3 "
            "sigma'(z_3) w_4 sigma'(z_4) dC/da_4; the cross-entropy cancels only the last "
            "sigma'(z_4). The vanishing gradient is a property of sigmoid layers, not of the cost."
        )
        return intro, [Table("Per-layer error norms, same weights and batch:", headers, rows)], answer

    def to_dict(self) -> dict[str, Any]:
        return {"topic": "earlier-layers", "data": self.data, "m": self.m, "hidden": self.hidden, "depths": self.depths,
                "layers": self.layers, "output_relation": self.output_relation,
                "bp2_relation": self.bp2_relation}

    def figure(self):
        """Per-layer ||dC/db^l|| against the layer, one line per depth, one panel per cost."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4.2), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, name in zip(axes, ("norm_quadratic", "norm_cross_entropy"),
                                 ("quadratic cost", "cross-entropy cost")):
            for depth in self.depths:
                rows = [r for r in self.layers if r["depth"] == depth]
                ax.plot([r["layer"] for r in rows], [r[key] for r in rows], marker="o",
                        label=f"{depth} hidden layer{'s' if depth > 1 else ''}")
            ax.set_yscale("log")
            ax.set_xlabel(r"layer $l$ (2 = first hidden, last = output)")
            ax.set_xticks(range(2, max(self.depths) + 3))
            ax.set_title(name)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel(r"$\|\partial C/\partial b^l\|$, mean over the batch")
        axes[1].legend()
        fig.suptitle("Speed of learning by layer: same networks and batch, two costs")
        return fig


def earlier_layers(*, depths=(1, 2, 3, 4), hidden: int = 30, m: int = 100,
                   seed: int = 0, data: str = "auto") -> EarlierLayersResult:
    """Per-layer ||dC/db^l|| under the quadratic and cross-entropy costs, same nets and batch.

    ``data``: "auto" (MNIST if it is here, else the 8x8 digits), "mnist" or "digits".
    """
    import nndl
    from nndl import gradcheck

    X, labels, description = _batch(m, data)
    Y = np.eye(10)[labels]
    layers = []
    output_relation = bp2_relation = 0.0
    for depth in depths:
        sizes = [X.shape[1]] + [hidden] * depth + [10]
        quad = nndl.Network(sizes, cost=nndl.QuadraticCost, init="default",
                            rng=np.random.default_rng(seed))
        ce = gradcheck.rebuilt(quad, cost=nndl.CrossEntropyCost)  # the same weights
        zs, acts = quad.forward_pass(X)
        d_quad, d_ce = quad.deltas(X, Y), ce.deltas(X, Y)
        sp_L = acts[-1] * (1 - acts[-1])  # sigma'(z^L)                            (m, 10)
        output_relation = max(output_relation, float(
            np.abs(d_quad[-1] - d_ce[-1] * sp_L).max() / np.abs(d_quad[-1]).max()))
        for l in range(depth):  # BP2 with the same sigma'(z^l) for both costs
            sp = acts[l + 1] * (1 - acts[l + 1])
            for d in (d_quad, d_ce):
                bp2 = (d[l + 1] @ quad.weights[l + 1]) * sp
                bp2_relation = max(bp2_relation, gradcheck.relative_error(d[l], bp2))
        norms_q = [float(np.linalg.norm(d.mean(axis=0))) for d in d_quad]
        norms_c = [float(np.linalg.norm(d.mean(axis=0))) for d in d_ce]
        for l in range(depth + 1):
            layers.append(dict(
                depth=depth, layer=l + 2, output=l == depth,
                mean_sigma_prime=float((acts[l + 1] * (1 - acts[l + 1])).mean()),
                norm_quadratic=norms_q[l], norm_cross_entropy=norms_c[l],
                ratio=norms_c[l] / norms_q[l],
                shrink=None if l == depth else norms_c[l] / norms_c[l + 1],
            ))
    return EarlierLayersResult(m=m, hidden=hidden, depths=list(depths), layers=layers,
                               output_relation=output_relation, bp2_relation=bp2_relation,
                               n_in=X.shape[1], data=description)


