"""Chapter 3's one-neuron widgets: learning slowdown of the quadratic cost, and cross-entropy.

One sigmoid neuron, input x = 1, target y = 0, trained by gradient descent for 300 steps
from (w, b) = (0.6, 0.9) (output 0.82) and from (2.0, 2.0) (output 0.98, saturated).
The runs are ``nndl.explain.saturation``'s (``nndl explain saturation``), which steps an
``nndl.Network([1, 1])`` with:

- quadratic cost, eta = 0.15, the true gradient dC/dz = (a - y) sigma'(z)  (eq. 30);
- cross-entropy as the book's widgets do it (BOOK.md, "two quirks"): they step along
  dC/da = 1/(1-a) (for y = 0) with eta = 0.005, not along dC/dz = a - y;
- cross-entropy with its true gradient dC/dz = a - y (eq. 72), at the widgets' eta = 0.005
  and at the quadratic's eta = 0.15 (the like-for-like comparison).

Deterministic: run once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl.experiments import common
from nndl.experiments.spec import Claim, Experiment, Metric, Result


@dataclass(frozen=True)
class Config:
    starts: tuple[tuple[float, float], ...] = ((0.6, 0.9), (2.0, 2.0))  # chap3 widgets' starting (w, b)
    x: float = 1.0  # chap3: "the input 1"
    y: float = 0.0  # "to output 0"
    eta_quadratic: float = 0.15  # chap3: "the learning rate is eta = 0.15"
    eta_cross_entropy: float = 0.005  # chap3: cross-entropy widgets use "eta = 0.005"
    steps: int = 300  # the widgets run 300 epochs


QUADRATIC = "quadratic, eta=0.15"
CE_SAME_ETA = "cross-entropy eq. (72), eta=0.15"
CE_BOOK_ETA = "cross-entropy eq. (72), eta=0.005"
CE_WIDGET = "cross-entropy widget rule, eta=0.005"
VARIANTS = (QUADRATIC, CE_WIDGET, CE_BOOK_ETA, CE_SAME_ETA)


def _variant(run) -> str:
    rule = "quadratic" if run.name == "quadratic" else (
        "cross-entropy widget rule" if run.widget else "cross-entropy eq. (72)")
    return f"{rule}, eta={run.eta:g}"


def run_once(cfg: Config, cache_dir=None) -> Result:
    from nndl import explain

    if (cfg.starts, cfg.x, cfg.y) != (explain.SATURATION_STARTS, 1.0, 0.0):
        raise ValueError("nndl.explain.saturation runs the book's neuron only: x=1, y=0, its two starts")
    runs: dict[str, dict] = {}
    for run in explain.saturation(steps=cfg.steps).runs:
        a = np.asarray(run.outputs)
        runs.setdefault(f"{run.start[0]},{run.start[1]}", {})[_variant(run)] = {
            "z": (np.log(a) - np.log1p(-a)).tolist(),  # weighted input z = w x + b, from a = sigma(z)
            "output": run.outputs, "cost": run.costs}
    return {"runs": runs, "source": "nndl.explain.saturation"}


def quick(cfg: Config) -> Config:
    return cfg  # 300 steps of one neuron: already small


def steps_to(r: Result, start: str, variant: str, level: float = 0.5) -> int:
    """First step at which the output falls below ``level`` (steps + 1 if never)."""
    out = r["runs"][start][variant]["output"]
    return next((i for i, a in enumerate(out) if a < level), len(out))


def _quadratic_stalls(r: Result) -> bool:
    runs = r["runs"]
    return runs["2.0,2.0"][QUADRATIC]["output"][150] > 0.9 and runs["0.6,0.9"][QUADRATIC]["output"][150] < 0.2


def _first_move(r: Result, start: str, variant: str) -> float:
    """How far the first step moves the weighted input z (= eta * 2 * |dC/dz| here, x = 1)."""
    z = r["runs"][start][variant]["z"]
    return z[0] - z[1]


def _ce_fastest_when_wrong(r: Result) -> bool:
    ce, q = CE_BOOK_ETA, QUADRATIC
    return (_first_move(r, "2.0,2.0", ce) > _first_move(r, "0.6,0.9", ce)
            and _first_move(r, "2.0,2.0", q) < _first_move(r, "0.6,0.9", q))


def _ce_escapes_faster(r: Result) -> bool:
    return steps_to(r, "2.0,2.0", CE_SAME_ETA) < steps_to(r, "2.0,2.0", QUADRATIC)


def plot(result: Result) -> dict:
    figs = {}
    once = result["once"]
    for start, runs in once["runs"].items():
        fig, ax = common.new_figure()
        for name, run in runs.items():
            ax.plot(range(len(run["cost"])), run["cost"], label=name)
        ax.set(xlabel="Epoch (gradient step)", ylabel="Cost", title=f"One neuron, x=1, y=0, start (w, b) = ({start})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        figs[f"cost_from_{start.replace(',', '_')}"] = fig
    return figs


def _steps_metric(start: str, variant: str):
    return lambda r: steps_to(r, start, variant)


EXPERIMENTS = (
    Experiment(
        id="ch3-saturation", title="chapter 3 widgets: one neuron, quadratic vs cross-entropy", config=Config(),
        run_once=run_once, plot=plot, quick=quick,
        metrics=tuple(Metric(f"steps until the output falls below 0.5 from ({start}): {name}",
                             _steps_metric(start, name), once=True)
                      for start in ("0.6,0.9", "2.0,2.0") for name in VARIANTS),
        claims=(
            Claim("quadratic from (2,2) barely moves for 150 steps (output still > 0.9; from (0.6,0.9) < 0.2)",
                  _quadratic_stalls, once=True),
            Claim("cross-entropy (eq. 72) learns fastest when most wrong: its first step moves z further from "
                  "(2,2) than from (0.6,0.9); the quadratic's moves it less", _ce_fastest_when_wrong, once=True),
            Claim("at the same eta = 0.15, cross-entropy escapes the saturated start (2,2) faster than quadratic",
                  _ce_escapes_faster, once=True),
        ),
        notes="Deterministic, run once, by `nndl explain saturation`'s code. The book's cross-entropy widgets "
              "step along dC/da = 1/(1-a) with eta = 0.005 (chapter 3, the widgets of 'Introducing the cross-entropy cost function'); nndl shows that rule and the true "
              "gradient a - y (eq. 72). Steps: the first step at which the output is below 0.5 "
              "(301 = never in 300 steps).",
        cost=0.01, uses_mnist=False),
)
