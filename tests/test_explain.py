"""nndl explain: the numbers agree with finite differences and with independent code."""

import json
import math
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl import explain, gradcheck
from nndl.cli import main
from nndl.commands import explain as explain_command
from nndl.data import load_digits

FD_AGREE = 1e-8  # central differences (nndl.gradcheck) vs the explained formulas, float64
EXACT = 1e-13  # two float64 evaluations of the same formula


@pytest.fixture(scope="module")
def digits():
    return load_digits().training


def test_command_lists_the_library_topics():
    assert explain_command.TOPICS == tuple(explain.TOPICS)
    result_types = {t: typing.get_type_hints(f)["return"] for t, f in explain.TOPICS.items()}
    assert set(explain_command.PLOTS) == {t for t, cls in result_types.items() if hasattr(cls, "figure")}


def test_shapes_symbols_are_the_real_numbers(digits):
    r = explain.shapes(m=10, seed=3, data="digits")
    X, labels = digits.X[:10], digits.y[:10]
    assert r.labels == labels.tolist()
    # independent recomputation of eq. (61) for the pixel shown, from the same network
    net = nndl.Network([64, 1], cost=nndl.CrossEntropyCost, rng=np.random.default_rng(3))
    a = 1 / (1 + np.exp(-(X @ net.weights[0][0] + net.biases[0][0])))
    y = (labels == 0).astype(float)
    terms = X[:, r.j] * (a - y)
    np.testing.assert_allclose(r.terms, terms, rtol=EXACT, atol=EXACT)
    assert r.dC_dwj == pytest.approx(terms.mean(), rel=EXACT)
    assert X[0, r.j] > 0  # the pixel shown is not blank in the first image
    for what, err in {**r.neuron_checks, **r.layer_checks}.items():
        assert err < FD_AGREE, what
    rows = {row[0]: row for row in r.neuron_symbols}
    assert rows["x"][4] == "(64,)" and rows[f"x_j (j={r.j})"][4] == "()"
    batch = {row[0]: row for row in r.neuron_batch}
    assert batch["X"][4] == "(10, 64)" and batch["dC/dw_j, all j"][4] == "(1, 64)"
    assert {row[0]: row[4] for row in r.layer_symbols}["dC/dw^L"] == "(10, 30)"
    text = r.to_text()
    assert "w_j is ONE weight" in text and "(A - Y).T @ X / n" in text


def test_hidden_layers_agree_with_finite_differences():
    r = explain.hidden_layers(sizes=(64, 12, 9, 10), m=6, seed=1, data="digits")
    assert [row["quantity"] for row in r.rows] == [
        "delta^4", "dC/db^4", "dC/dw^4", "delta^3", "dC/db^3", "dC/dw^3",
        "delta^2", "dC/db^2", "dC/dw^2"]
    assert [row["equation"] for row in r.rows[::3]] == ["(66)", "BP2", "BP2"]
    for row in r.rows:
        assert row["rel_fd"] < FD_AGREE, row
        assert row["rel_engine"] < EXACT, row
        assert row["norm"] > 0
    assert r.rows[3]["shape"] == "(6, 9)" and r.rows[5]["shape"] == "(9, 12)"
    assert "BP2" in r.to_text() and "$$" in r.to_markdown()


def test_earlier_layers_only_the_output_error_changes():
    r = explain.earlier_layers(depths=(1, 2, 3), m=40, seed=2, data="digits")
    assert r.output_relation < EXACT and r.bp2_relation < EXACT
    for depth in r.depths:
        rows = [x for x in r.layers if x["depth"] == depth]
        assert len(rows) == depth + 1 and rows[-1]["output"]
        norms_c = [x["norm_cross_entropy"] for x in rows]
        norms_q = [x["norm_quadratic"] for x in rows]
        # each hidden layer learns slower than the layer after it, under both costs
        assert norms_c == sorted(norms_c) and norms_q == sorted(norms_q)
        # the cross-entropy's larger delta^L is carried back into every hidden layer
        assert all(x["ratio"] > 1 for x in rows)
        assert all(0 < x["mean_sigma_prime"] <= 0.25 for x in rows)
    deepest = [x for x in r.layers if x["depth"] == 3]
    assert deepest[0]["norm_cross_entropy"] < 0.1 * deepest[-2]["norm_cross_entropy"]


def test_earlier_layers_norms_agree_with_finite_differences(digits):
    r = explain.earlier_layers(depths=(2,), m=8, seed=5, data="digits")
    X, Y = digits.X[:8], np.eye(10)[digits.y[:8]]
    quad = nndl.Network([64, 30, 30, 10], cost=nndl.QuadraticCost, rng=np.random.default_rng(5))
    for cost, key in ((nndl.QuadraticCost, "norm_quadratic"), (nndl.CrossEntropyCost, "norm_cross_entropy")):
        net = gradcheck.rebuilt(quad, cost=cost)
        fd_b, _ = gradcheck.numerical_gradients(net, X, Y)
        for row, g in zip(r.layers, fd_b):
            assert row[key] == pytest.approx(np.linalg.norm(g / 8), rel=FD_AGREE)


def _neuron(w, b, eta, rule, steps):
    """Chapter 3's neuron, x = 1, y = 0, in plain Python floats: an independent oracle."""
    out = []
    for step in range(steps + 1):
        a = 1 / (1 + math.exp(-(w + b)))
        out.append(a)
        g = {"quadratic": a * a * (1 - a), "ce": a, "widget": 1 / (1 - a)}[rule]  # dC/db
        w, b = w - eta * g, b - eta * g  # dC/dw = x dC/db with x = 1
    return out


def test_saturation_matches_plain_python():
    r = explain.saturation(steps=300)
    for start in explain.SATURATION_STARTS:
        for name, eta, widget, rule in (("quadratic", 0.15, False, "quadratic"),
                                        ("cross-entropy", 0.15, False, "ce"),
                                        ("cross-entropy", 0.005, False, "ce"),
                                        ("cross-entropy", 0.005, True, "widget")):
            run = r.run(name, eta, start, widget=widget)
            np.testing.assert_allclose(run.outputs, _neuron(*start, eta, rule, 300), rtol=1e-12)
    # chapter 3's point: from (2, 2) the quadratic barely moves for ~150 steps, the
    # cross-entropy (same eta) learns fastest where it is most wrong
    slow = r.run("quadratic", 0.15, (2.0, 2.0)).outputs
    fast = r.run("cross-entropy", 0.15, (2.0, 2.0)).outputs
    assert slow[150] > 0.9 and fast[150] < 0.05
    # the first step's change of z = w + b is the gradient's size (times 2 eta)
    def first_step(name, start):
        a0, a1 = r.run(name, 0.15, start).outputs[:2]
        return math.log(a0 / (1 - a0)) - math.log(a1 / (1 - a1))

    assert first_step("cross-entropy", (2.0, 2.0)) > first_step("cross-entropy", (0.6, 0.9))
    assert first_step("quadratic", (2.0, 2.0)) < first_step("quadratic", (0.6, 0.9)) / 5


def _small(topic):
    """CLI options that keep a topic quick in tests (the 8x8 digits; deep-networks small)."""
    return {"saturation": [], "deep-networks": ["--data", "digits", "--depths", "2,5"]}.get(
        topic, ["--data", "digits"])


@pytest.mark.parametrize("topic", explain_command.TOPICS)
def test_cli_formats(topic, capsys):
    assert main(["explain", topic, *_small(topic)]) == 0
    text = capsys.readouterr().out
    assert "Answer: " in text
    assert main(["explain", topic, "--format", "markdown", *_small(topic)]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## ") and "$$" in md and "**Answer.**" in md
    assert main(["explain", topic, "--format", "json", *_small(topic)]) == 0
    assert json.loads(capsys.readouterr().out)["topic"] == topic


@pytest.mark.parametrize("topic", explain_command.PLOTS)
def test_cli_writes_the_plot(topic, tmp_path, capsys):
    path = tmp_path / f"{topic}.png"
    assert main(["explain", topic, "--plot", str(path), *_small(topic)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [["shapes", "--plot", "x.png"], ["shapes", "--batch", "0"],
                                  ["hidden-layers", "--batch", "100000"],
                                  ["deep-networks", "--depths", "1"], ["deep-networks", "--depths", ""],
                                  ["deep-networks", "--depths", "5,5"], ["deep-networks", "--depths", "2,x"],
                                  ["deep-networks", "--plot", ""], ["saturation", "--plot", "."]])
def test_cli_usage_errors(args, capsys):
    assert main(["explain", *args]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("nndl: error: ")


@pytest.mark.parametrize("depths", [(), (1, 5), (5, 5)])
def test_deep_networks_rejects_depths_it_cannot_measure(depths):
    with pytest.raises(ValueError, match="depths"):
        explain.deep_networks(depths=depths, data="digits", m=10)


def test_explain_uses_mnist_when_it_is_here_and_says_which(monkeypatch, capsys):
    """Issue 12.16: MNIST when it is on the machine (784 inputs), the 8x8 digits otherwise."""
    from nndl.answers.tables import DATA_CHOICES

    assert explain_command.DATA_CHOICES == DATA_CHOICES
    if not _mnist_here():
        pytest.skip("MNIST is not on this machine (set NNDL_DATA)")
    assert main(["explain", "earlier-layers", "--batch", "20", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["data"].startswith("MNIST") and "784" in data["data"]
    assert main(["explain", "earlier-layers", "--batch", "20"]) == 0
    assert "784 inputs" in capsys.readouterr().out
    assert main(["explain", "earlier-layers", "--batch", "20", "--data", "digits"]) == 0
    out = capsys.readouterr().out
    assert "64 inputs, 10 outputs" in out and "8x8 digits" in out
    monkeypatch.setenv("NNDL_DATA", "/nonexistent-folder")
    monkeypatch.setenv("NNDL_CACHE", "/nonexistent-cache")
    r = explain.earlier_layers(depths=(1,), m=5)
    assert r.data.startswith("the bundled 8x8 digits") and r.n_in == 64
    assert main(["explain", "earlier-layers", "--data", "mnist"]) == 2  # asked for, not here: usage


def _mnist_here() -> bool:
    import os

    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and os.path.isdir(folder) and any(
        name.startswith("train-images") for name in os.listdir(folder))


def test_matplotlib_only_inside_figure():
    code = "import sys, nndl.explain, nndl.cli; nndl.cli.build_parser(); print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for path in Path(explain.__file__).parent.joinpath("answers").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "matplotlib.pyplot" not in source and "import pyplot" not in source, path
        assert "matplotlib.use" not in source, path


def test_deep_networks_small_checks_and_numbers():
    """deep-networks on a small scale: every claim holds, the numbers are the engine's."""
    from nndl.answers.chapter5 import deep

    r = explain.deep_networks(depths=(2, 6), data="digits", m=30)
    assert r.passed, [c.text for c in r.claims if not c.passed]
    for c in r.claims:  # passed is decided from the numbers, not written by hand
        assert c.passed == deep.Claim(c.label, c.value, c.op, c.bound, c.tolerance).passed
    assert len(r.at_init) == 2 * 3 * 2 * 2  # depths x activations x inits x costs
    # the same weights under both costs: the cost rescales layers, BP2's product stays
    for d in (2, 6):
        q = next(x for x in r.at_init if x["depth"] == d and x["activation"] == "sigmoid"
                 and x["init"] == "book" and x["cost"] == "quadratic")
        c = next(x for x in r.at_init if x["depth"] == d and x["activation"] == "sigmoid"
                 and x["init"] == "book" and x["cost"] == "cross-entropy")
        assert c["norms_b"][-1] > q["norms_b"][-1]  # no sigma'(z^L) in delta^L
    # recompute one row independently: sigmoid, book init, 6 hidden layers, cross-entropy
    net = deep.make_network(64, 6, "sigmoid", "book", "cross-entropy", 0)
    X, y = load_digits().training.X[:30], load_digits().training.y[:30]
    nb, nw = gradcheck.numerical_gradients(net, X, np.eye(10)[y])
    row = next(x for x in r.at_init if x["depth"] == 6 and x["activation"] == "sigmoid"
               and x["init"] == "book" and x["cost"] == "cross-entropy")
    np.testing.assert_allclose([np.linalg.norm(b / 30) for b in nb], row["norms_b"], rtol=1e-6)
    # the exploding chain: 25 per layer, as chapter 5 says
    assert r.chain["db"][0] / r.chain["db"][-2] == pytest.approx(25.0 ** 5, rel=1e-9)
    text = r.to_text()
    assert "eq. 124" in text and "chapter 6" in text


def test_deep_networks_claims_catch_a_wrong_bound():
    from nndl.answers.checks import Claim

    assert not Claim("x", 1.5, "<=", 1.0).passed and Claim("x", 0.5, "<=", 1.0).passed
    assert not Claim("x", float("nan"), "<", 1.0).passed
    assert Claim("x", 1.0 + 1e-10, "~", 1.0, tolerance=1e-9).passed
    assert not Claim("x", 1.1, "~", 1.0, tolerance=1e-9).passed


def test_plot_axes_render_the_maths():
    """Issue 12.18: axis labels are mathtext ($...$), never raw ||dC/db^l||."""
    figs = [explain.earlier_layers(depths=(1, 2), m=5, data="digits").figure(),
            explain.deep_networks(depths=(2, 3), data="digits", m=10).figure()]
    for fig in figs:
        labels = [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel(), ax.get_title())]
        assert not [t for t in labels if "||" in t or "dC/d" in t], labels
        assert any(r"\partial C/\partial b^l" in t for t in labels)
        fig.canvas.draw() if hasattr(fig.canvas, "draw") else None  # mathtext parses


def test_deep_networks_full_budget_runs():
    """--full takes the same code path with the FULL budget (capped by the data and depths)."""
    from nndl.answers.chapter5 import deep

    r = deep.deep_networks(depths=(2, 3), full=True, data="digits", m=10)
    assert r.budget["full"] and r.budget["race_epochs"] == deep.FULL.race_epochs
    assert {x["depth"] for x in r.race} == {3}  # FULL's race depths, capped at max(depths)
    assert r.passed


def test_user_facing_text_cites_the_book_not_our_files():
    """Issue 12.15: no "(seed 002)" or "(BOOK.md)" in what a learner reads; the book's
    chapter, section and equations instead."""
    import re

    from nndl.answers.derivations import _TOPICS
    from nndl.experiments.chapter1 import NOTES

    texts = [explain.shapes(m=3, data="digits").to_text(), explain.saturation(steps=5).to_text(),
             explain.earlier_layers(depths=(1,), m=5, data="digits").to_text(), NOTES]
    texts += [t.question + t.answer for t in _TOPICS.values()]
    for text in texts:
        assert not re.search(r"seed 00\d|BOOK\.md|shared/", text), text[:200]
    assert "chapter 3" in texts[0] and "eq. 61" in texts[0]
