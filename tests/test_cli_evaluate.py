"""``nndl evaluate`` and the figures of ``nndl.plots`` (their data, not their pixels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nndl
from nndl import plots
from nndl.cli import main
from nndl.commands.evaluate import evaluate
from nndl.data import load_digits
from nndl.runs import read_history


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A digits run of 3 epochs, with its plots."""
    folder = tmp_path_factory.mktemp("evaluate") / "run"
    assert main(["train", "--data", "digits", "--epochs", "3", "-q", "-o", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def test_set():
    return load_digits().test


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        extrema = img.convert("L").getextrema()
        assert extrema[0] < extrema[1]  # not a blank canvas
        return img.size


def test_evaluate_prints_accuracy_cost_and_the_confusion_matrix(capsys, run, test_set, tmp_path):
    net = nndl.load(run / "model.npz")
    X, y = test_set
    code, out, err = cli(
        capsys, "evaluate", run, "-o", tmp_path
    )  # a run folder stands for its model
    assert code == 0, err
    correct = net.accuracy(X, y)
    assert f"accuracy:  {100 * correct / 300:.2f} % ({correct} / 300)" in out
    assert f"cost:      {net.total_cost(X, y):.4f}" in out
    assert read_history(run)["history"]["evaluation_accuracy"][-1] == correct
    table = out.split("confusion matrix")[1].splitlines()[2:12]
    rows = np.array([[int(v) for v in line.split()[1:11]] for line in table])
    assert rows.sum() == 300 and np.trace(rows) == correct
    assert list(rows.sum(axis=1)) == list(np.bincount(y, minlength=10))  # rows are the true digits
    for name in ("confusion-digits-test.png", "wrong-digits-test.png"):
        assert png_size(tmp_path / name)[0] > 100
        assert f"wrote {tmp_path / name}" in out


def test_evaluate_json_matches_an_independent_count(capsys, run, test_set):
    X, y = test_set
    net = nndl.load(run / "model.npz")
    code, out, err = cli(
        capsys, "evaluate", run / "model.npz", "--json", "--no-plots", "--wrong", "7"
    )
    assert code == 0, err
    result = json.loads(out)
    predicted = net.predict(X)
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(y, predicted):  # a plain loop, independent of evaluate()'s np.add.at
        expected[t, p] += 1
    assert result["confusion"] == expected.tolist()
    assert result["correct"] == int(np.sum(predicted == y)) and result["n"] == 300
    assert result["cost"] == pytest.approx(net.total_cost(X, y), rel=1e-12)
    wrong = result["most_confidently_wrong"]
    assert len(wrong) == min(7, 300 - result["correct"])
    assert all(w["label"] != w["predicted"] == predicted[w["index"]] for w in wrong)
    confidences = [w["confidence"] for w in wrong]
    assert confidences == sorted(confidences, reverse=True)
    assert result["plots"] == []


def test_evaluate_other_splits_and_a_network2_json_model(capsys, run, tmp_path):
    net = nndl.load(run / "model.npz")
    net.save(tmp_path / "book.json")  # network2's format: no metadata, data chosen by the 64 inputs
    code, out, err = cli(
        capsys, "evaluate", tmp_path / "book.json", "--split", "validation", "--json", "--no-plots"
    )
    assert code == 0, err
    assert json.loads(out)["n"] == 300 and json.loads(out)["data"] == "digits"
    validation = load_digits().validation
    assert json.loads(out)["correct"] == net.accuracy(validation.X, validation.y)


def test_evaluate_function_ranks_the_wrong_examples():
    net = nndl.Network([2, 2], rng=np.random.default_rng(0))
    net.weights[0][:] = [[10.0, 0.0], [0.0, 10.0]]
    net.biases[0][:] = 0.0
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.0], [1.0, 0.1]])  # net says 0, 1, 0, 0
    y = np.array([0, 0, 1, 1])
    r = evaluate(net, X, y)
    assert r["confusion"].tolist() == [[1, 1], [2, 0]]
    assert r["correct"] == 1 and r["accuracy"] == 0.25
    # Confidence = a_chosen / sum(a), with a = sigma(10 x):  #1: 0.99995 / (0.5 + 0.99995) = 0.667,
    # #2: sigma(2) / (sigma(2) + 0.5) = 0.8808 / 1.3808 = 0.6379,
    # #3: 0.99995 / (0.99995 + sigma(1)) = 0.578.
    assert r["wrong"].tolist() == [1, 2, 3]  # the most confident mistake first
    assert r["confidence"][[1, 2, 3]] == pytest.approx([0.6667, 0.6379, 0.5777], abs=1e-4)


@pytest.mark.parametrize(
    "setup, argv, status, fragment",
    [
        (None, ["missing.npz"], 1, "no such file"),
        ("corrupt", ["model.npz"], 1, "not a readable .npz"),
        ("pickle", ["model.pkl"], 1, "pickle"),
        ("folder", ["emptyfolder"], 1, "not a run folder"),
        (
            "model",
            ["model.npz", "--data", "wide.npz"],
            2,
            "has 64 inputs but wide examples have 16",
        ),
        ("model", ["model.npz", "--split", "everything"], 2, "invalid choice"),
        ("model", ["model.npz", "--wrong", "-1"], 2, "--wrong"),
    ],
)
def test_evaluate_errors_are_one_line(
    capsys, tmp_path, monkeypatch, run, setup, argv, status, fragment
):
    monkeypatch.chdir(tmp_path)
    if setup == "corrupt":
        Path("model.npz").write_bytes(b"PK\x03\x04garbage")
    elif setup == "pickle":
        Path("model.pkl").write_bytes(b"\x80\x04\x95 a pickle")
    elif setup == "folder":
        Path("emptyfolder").mkdir()
    elif setup == "model":
        Path("model.npz").write_bytes((run / "model.npz").read_bytes())
        rng = np.random.default_rng(0)
        np.savez(
            "wide.npz",
            x_train=rng.random((70, 16)),
            y_train=np.arange(70) % 10,
            x_test=rng.random((20, 16)),
            y_test=np.arange(20) % 10,
        )
    code, _, err = cli(capsys, "evaluate", *argv)
    assert code == status
    errors = [line for line in err.splitlines() if line.startswith("nndl: error:")]
    assert len(errors) == 1 and fragment in errors[0] and "Traceback" not in err, err


# ---------------------------------------------------------------------- plots: their data


def test_run_plots_exist_and_show_the_history(run):
    history = read_history(run)["history"]
    for name in plots.RUN_PLOTS:
        assert png_size(run / name) == (640, 400)
    fig = plots.new_figure()
    ax = plots.plot_cost(fig.add_subplot(), history)
    (train, evaluation) = ax.get_lines()
    assert list(train.get_ydata()) == history["training_cost"]
    assert list(evaluation.get_ydata()) == history["evaluation_cost"]
    assert list(train.get_xdata()) == [0, 1, 2]  # epochs numbered from 0, as the book prints them
    ax = plots.plot_accuracy(plots.new_figure().add_subplot(), history)
    assert list(ax.get_lines()[1].get_ydata()) == [
        100 * a / 300 for a in history["evaluation_accuracy"]
    ]
    ax = plots.plot_speed(plots.new_figure().add_subplot(), history)
    [layer] = ax.get_lines()  # one hidden layer
    assert list(layer.get_ydata()) == [row[0] for row in history["gradient_norms"]]
    assert ax.get_yscale() == "log"


def test_plots_of_unmonitored_histories_say_so():
    ax = plots.plot_cost(
        plots.new_figure().add_subplot(), {"training_cost": [], "evaluation_cost": []}
    )
    assert not ax.get_lines() and ax.texts[0].get_text() == "not monitored"


def test_confusion_and_image_grid_figures_hold_their_data():
    matrix = np.arange(9).reshape(3, 3)
    ax = plots.plot_confusion(plots.new_figure().add_subplot(), matrix)
    assert np.array_equal(ax.get_images()[0].get_array(), matrix)
    assert [t.get_text() for t in ax.texts] == [str(v) for v in range(9)]
    images = np.random.default_rng(0).random((7, 16))
    fig = plots.plot_image_grid(plots.new_figure(), images, [f"#{i}" for i in range(7)], ncols=4)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(fig.axes) == 8 and len(shown) == 7
    assert np.array_equal(shown[6].get_images()[0].get_array(), images[6].reshape(4, 4))
    assert shown[6].get_title() == "#6"


def test_the_library_never_selects_a_matplotlib_backend(run, tmp_path):
    import subprocess
    import sys

    code = (
        "import matplotlib, sys; from nndl import plots; "
        f"plots.plot_run({str(tmp_path)!r}, {{'training_cost': [1.0, 0.5]}}); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
    assert (tmp_path / "cost.png").stat().st_size > 0
