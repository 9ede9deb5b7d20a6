"""``nndl report`` without a browser: the command, its errors, what the page holds.

tests/test_report_browser.py runs the page in Chromium.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from nndl import report
from nndl.cli import main


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A 64-30-10 run on the bundled 8x8 digits (no MNIST needed), 1 epoch."""
    folder = tmp_path_factory.mktemp("report") / "run"
    assert main(["-q", "train", "--data", "digits", "--epochs", "1", "--no-plots", "-o", str(folder)]) == 0
    return folder


def test_report_writes_one_self_contained_page(digits_run, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["-q", "report", str(digits_run), "-o", str(out), "--no-answers"]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "default-src 'none'" in page  # the browser may fetch nothing
    # every src/href/url() of the markup and styles is inside the page: data URL or fragment
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    assert page.count("<script") == 3  # the data, KaTeX, the page's own script: all inline
    for ref in re.findall(r'(?:src|href)="([^"]*)"', markup) + re.findall(r"url\(([^)]*)\)", markup):
        assert ref.startswith(("data:", "#")), ref
    assert page.count("@font-face") == len(report.KATEX_FONTS)
    assert "scikit-learn" in page and "64-30-10" in page


def test_the_page_holds_the_weights_exactly_as_float32(digits_run):
    import base64
    import json

    import nndl

    page = report.build(digits_run, answers=False)
    data = json.loads(re.search(r'id="nndl-data">(.*?)</script>', page, re.S).group(1))
    net = nndl.load(digits_run / "model.npz")
    network = data["network"]
    assert network["kind"] == "chapter3" and network["sizes"] == [64, 30, 10]
    assert network["frame"] == {"side": 8, "box": 8, "centre": 3.5}
    for b64, W in zip(network["weights"], net.weights):
        got = np.frombuffer(base64.b64decode(b64), dtype="<f4").reshape(W.shape)
        assert np.array_equal(got, W.astype(np.float32))


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such run folder" in err
    assert main(["report", str(tmp_path)]) == 1  # a folder that is not a run
    assert "history.json" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "no" / "page.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.html"))


def test_other_networks_get_no_canvas():
    assert report.page_network(object()) == {"kind": "unsupported", "type": "object"}


def test_maths_survives_markdown():
    html = report.markdown_html(r"A $w_j x_j$ and $$\frac{\partial C}{\partial b_j}$$ with *emphasis*, `code_x`")
    assert '<span class="math">w_j x_j</span>' in html
    assert r'<span class="math display">\frac{\partial C}{\partial b_j}</span>' in html
    assert "<em>emphasis</em>" in html and "<code>code_x</code>" in html


def test_the_book_number_for_the_same_configuration():
    data = {"name": "mnist", "n_training": 50_000}
    ch3 = {"sizes": [784, 30, 10], "cost": "cross-entropy", "init": "large", "eta": 0.5, "lmbda": 0.0,
           "mini_batch_size": 10, "epochs": 30, "evaluate_on": "test"}
    match = report.book_match(ch3, data)
    assert (match["id"], match["book"], match["differences"]) == ("ch3-ce-30", 95.49, [])
    near = report.book_match({**ch3, "init": "default", "epochs": 2}, data)
    assert near["id"] == "ch3-ce-30"
    assert sorted(d[0] for d in near["differences"]) == ["epochs", "init"]
    assert report.book_match({**ch3, "momentum": 0.5}, data) is None
    assert report.book_match(ch3, {"name": "digits", "n_training": 1000}) is None


def test_katex_licence_ships_with_the_package():
    text = report._asset("katex", "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in text and "Khan Academy" in text


def _json_values():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)


def test_a_damaged_history_is_one_error_naming_the_file(digits_run):
    """Fuzz: any JSON in history.json's parts gives a page or a ModelFileError, nothing else."""
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nndl.errors import ModelFileError

    base = json.loads((digits_run / "history.json").read_text())
    parts = ("settings", "data", "network", "environment", "history", "best_evaluation_accuracy",
             "epochs_completed", "best_epoch", "status")
    nested = ("sizes", "epoch_seconds", "n_training", "name", "eta", "momentum", "evaluate_on",
              "training_cost", "evaluation_accuracy", "gradient_norms", "n_evaluation")

    @settings(max_examples=30, deadline=None)  # each example renders the run section (~0.07 s)
    @given(st.dictionaries(st.sampled_from(parts), _json_values(), max_size=3),
           st.dictionaries(st.sampled_from(nested), _json_values(), max_size=3))
    def check(top, inner):
        record = json.loads(json.dumps(base))
        record.update(top)
        for part in ("settings", "data", "network", "history"):
            if isinstance(record.get(part), dict):
                record[part].update(inner)
        try:
            report.check_history3(record, digits_run / "history.json")
            html, subtitle = report.run_summary(record, digits_run)
        except ModelFileError as exc:
            assert "history.json" in str(exc) and "\n" not in str(exc)
        else:
            assert "<table" in html and isinstance(subtitle, str)
            # histories that pass the checks are drawn (no "unreadable histories" fallback)
            assert report.charts3(record["history"]).count('class="chart"') == 3

    check()


def test_report_replaces_only_its_own_pages(digits_run, tmp_path, capsys):
    """-o must be a .html name, and an existing file there must be an earlier nndl report:
    the run's own model.npz and history.json, the user's notes, a FIFO stay untouched."""
    import os
    import shutil

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    notes = tmp_path / "notes.html"
    notes.write_text("my notes\n")
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    for target, why in [(run / "model.npz", "must end in .html"), (run / "history.json", "must end in .html"),
                        (tmp_path / "notes.txt", "must end in .html"), (notes, "not a page written by nndl report"),
                        (fifo, "is a FIFO"), (tmp_path, "must end in .html"), (run, "must end in .html")]:
        assert main(["report", str(run), "-o", str(target), "--no-answers"]) == 2, target
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name in before} == before
    assert notes.read_text() == "my notes\n" and fifo.is_fifo()
    page = tmp_path / "page.html"
    assert main(["-q", "report", str(run), "-o", str(page), "--no-answers"]) == 0
    assert report.is_report(page)
    assert main(["-q", "report", str(run), "-o", str(page), "--no-answers"]) == 0  # its own page: replaced
    assert main(["-q", "report", str(run / "model.npz")]) == 1
    assert "is a file, not a run folder" in capsys.readouterr().err


def test_every_atomic_writer_refuses_what_is_not_a_regular_file(tmp_path):
    """io.atomic_write (models, histories, plots, reports, results) and _download.atomic_file
    (downloads, decoded caches) rename a temporary over the target: a FIFO or a folder there
    is refused before anything is written, and left as it was."""
    import os

    from nndl import _download
    from nndl.errors import FileWriteError
    from nndl.io import atomic_write
    from nndl.paths import not_a_regular_file

    fifo, folder = tmp_path / "fifo", tmp_path / "folder"
    os.mkfifo(fifo)
    folder.mkdir()
    for writer in (atomic_write, _download.atomic_file):
        for target, kind in ((fifo, "FIFO"), (folder, "folder")):
            with pytest.raises(FileWriteError, match=kind), writer(target) as f:
                f.write(b"x")
    assert fifo.is_fifo() and folder.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder"]
    assert not_a_regular_file("/dev/null") == "a device"  # (never written: it would be replaced as root)
    assert not_a_regular_file(tmp_path / "new") is None


needs_mnist = pytest.mark.skipif(not __import__("os").environ.get("NNDL_DATA"),
                                 reason="NNDL_DATA (the MNIST folder) is not set")


@pytest.fixture(scope="module")
def ch6_run(tmp_path_factory):
    """A ch6-fc run (nndl train --net) on 100 MNIST images, 1 epoch."""
    folder = tmp_path_factory.mktemp("report6") / "ch6"
    assert main(["-q", "train", "--net", "ch6-fc", "--training-size", "100", "--epochs", "1", "--no-plots",
                 "-o", str(folder)]) == 0
    return folder


def _page_data(page: str) -> dict:
    import json

    return json.loads(re.search(r'id="nndl-data">(.*?)</script>', page, re.S).group(1))


@needs_mnist
def test_a_chapter6_run_gets_its_page_with_the_layered_network(ch6_run, tmp_path):
    import base64

    from nndl import network3

    out = tmp_path / "ch6.html"
    assert main(["-q", "report", str(ch6_run), "-o", str(out), "--no-answers"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<script") == 3 and "default-src 'none'" in page
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    for ref in re.findall(r'(?:src|href)="([^"]*)"', markup):
        assert ref.startswith(("data:", "#")), ref
    network = _page_data(page)["network"]
    assert network["kind"] == "chapter6" and network["sizes"] == [784, 100, 10]
    assert network["frame"] == {"side": 28, "box": 20, "centre": 14.0}
    net = network3.load(ch6_run / "model.npz")
    for d, layer in zip(network["layers"], net.layers, strict=True):
        assert (d["type"], d["activation"]) == (type(layer).__name__, layer.activation)
        for key, array in (("w", layer.w), ("b", layer.b)):
            got = np.frombuffer(base64.b64decode(d[key]), dtype="<f4").reshape(array.shape)
            assert np.array_equal(got, array)
    assert page.count('class="chart"') == 2  # accuracy and cost: a chapter-6 run records no speed
    assert "records no per-layer speed of learning" in page
    # the book's number for ch6-fc, and how this run differs from the book's
    assert "nndl experiment ch6-fc" in page and "97.80 %" in page and "training-size 100 here, 50000 there" in page
    assert '<table class="confusion">' in page and page.count('class="mistakes"') == 1
    assert "FullyConnected(784-&gt;100, sigmoid)" in page


def _ch6_copy(ch6_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(ch6_run, run)
    return run


@needs_mnist
def test_odd_chapter6_run_folders_are_one_line_errors(ch6_run, tmp_path, capsys):
    import json

    import nndl

    run = _ch6_copy(ch6_run, tmp_path)
    good = (run / "history.json").read_text()
    record = json.loads(good)

    def fails(why: str, code: int = 1):
        assert main(["report", str(run), "--no-answers"]) == code
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err, err
        assert not (run / "report.html").exists()

    for damage, why in [
        ({"settings": {**record["settings"], "eta": "fast"}}, "damaged chapter-6 run history"),
        ({"settings": {**record["settings"], "net": "ch6-nope"}}, "damaged chapter-6 run history"),
        ({"settings": {"net": "ch6-fc"}}, "exactly the fields of a chapter-6 run"),
        ({"history": {**record["history"], "test_accuracy": ["x"]}}, "history field 'test_accuracy'"),
        ({"status": "dreaming"}, "'status' is 'dreaming'"),
        ({"data": 7}, "'data' is not a description"),
    ]:
        (run / "history.json").write_text(json.dumps({**record, **damage}))
        fails(why)
    (run / "history.json").write_text(good[:-40])
    fails("history.json")
    (run / "history.json").write_text(good)
    (run / "model.npz").rename(run / "kept.npz")
    fails("a chapter-6 run without model.npz or checkpoint.npz")
    nndl.Network([784, 10], rng=np.random.default_rng(0)).save(run / "model.npz")  # a chapter-3 model
    fails("not a layered (chapter 6) nndl network")
    (run / "model.npz").write_bytes(b"PK\x03\x04 not a zip")
    fails("model.npz")
    for junk in (b"junk", (run / "kept.npz").read_bytes()[:300]):  # damage is said first, not the kind
        (run / "model.npz").write_bytes(junk)
        assert main(["report", str(run), "--no-answers"]) == 1
        err = capsys.readouterr().err
        assert "model.npz" in err and "not a layered" not in err, err


@needs_mnist
def test_a_chapter6_checkpoint_or_another_network_is_said_on_the_page(ch6_run, tmp_path, capsys, monkeypatch):
    import json

    from nndl import network3

    monkeypatch.setattr(report, "_evaluation6", lambda net, s: None)  # (the test set's pass: tested above)
    run = _ch6_copy(ch6_run, tmp_path)
    (run / "model.npz").rename(run / "checkpoint.npz")  # an interrupted run: only its checkpoint
    assert main(["report", str(run), "--no-answers"]) == 0
    assert "using checkpoint.npz, the network after 1 epoch" in capsys.readouterr().err
    other = network3.Network([network3.FullyConnectedLayer(784, 30), network3.SoftmaxLayer(30, 10)], 10,
                             rng=np.random.default_rng(0))
    other.save(run / "model.npz")
    (run / "report.html").unlink()
    _fails(run, "the model is not the ch6-fc network history.json describes: it is FullyConnected(784->30, "
           "sigmoid), Softmax(30->10)", capsys)
    # the same network, but trained with other settings than history.json's
    (run / "checkpoint.npz").rename(run / "model.npz")
    record = json.loads((run / "history.json").read_text())
    record["settings"]["eta"] = 0.5
    (run / "history.json").write_text(json.dumps(record))
    _fails(run, "trained by another run than history.json describes: eta 0.1 (history.json: 0.5)", capsys)


@needs_mnist
def test_a_damaged_chapter6_history_is_one_error_naming_the_file(ch6_run, tmp_path):
    """Fuzz: any JSON in a chapter-6 history.json's parts gives a run section or a ModelFileError."""
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nndl import network3
    from nndl.errors import ModelFileError

    run = _ch6_copy(ch6_run, tmp_path)
    base = json.loads((run / "history.json").read_text())
    net = network3.load(run / "model.npz")
    parts = ("settings", "data", "history", "status", "best_epoch", "format")
    nested = ("eta", "epochs", "training_size", "validation_accuracy", "test_accuracy", "epoch_seconds",
              "n_test", "stopped", "seed", "expanded")

    @settings(max_examples=40, deadline=None)
    @given(st.dictionaries(st.sampled_from(parts), _json_values(), max_size=2),
           st.dictionaries(st.sampled_from(nested), _json_values(), max_size=3))
    def check(top, inner):
        record = json.loads(json.dumps(base))
        record.update(top)
        for part in ("settings", "history"):
            if isinstance(record.get(part), dict):
                record[part].update(inner)
        (run / "history.json").write_text(json.dumps(record))
        try:
            parsed = report.chapter6_record(run)
        except ModelFileError as exc:
            assert "history.json" in str(exc)
            return
        if parsed is not None:  # (None: not a chapter-6 history, e.g. another "format")
            assert "<table" in report.run_summary6(parsed, run, net, run / "model.npz")

    check()


@needs_mnist
def test_train_net_report_checks_the_page_file_before_resuming(ch6_run, tmp_path, capsys):
    run = _ch6_copy(ch6_run, tmp_path)
    (run / "report.html").write_text("my own notes\n")
    assert main(["train", "--resume", str(run), "--epochs", "2", "--report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a page written by nndl report" in err
    assert (run / "report.html").read_text() == "my own notes\n"


def _fails(run, why: str, capsys, code: int = 1, *extra: str):
    assert main(["report", str(run), "--no-answers", *extra]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err, err
    assert not (run / "report.html").exists()


def test_a_model_that_is_not_the_runs_network_is_an_error(digits_run, tmp_path, capsys):
    """One rule (report.model_mismatch): the model must be the network history.json describes
    -- its kind, its shape, and the run settings its metadata record -- or no page at all."""
    import shutil

    import nndl
    from nndl import network3

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    own = (run / "model.npz").read_bytes()
    nndl.Network([64, 10], rng=np.random.default_rng(0)).save(run / "model.npz")
    _fails(run, "the model is not the network history.json describes: sizes 64-10 (history.json: 64-30-10)",
           capsys)
    # a chapter-6 network copied into a chapter-3 run
    network3.Network([network3.FullyConnectedLayer(64, 30), network3.SoftmaxLayer(30, 10)], 10,
                     rng=np.random.default_rng(0)).save(run / "model.npz")
    _fails(run, "a layered (chapter 6) nndl network, but history.json describes a chapter-3 run", capsys)
    # the model of another chapter-3 run of the same shape
    other = tmp_path / "other"
    assert main(["-q", "train", "--data", "digits", "--epochs", "1", "--training-size", "500", "--no-plots",
                 "-o", str(other)]) == 0
    shutil.copy(other / "model.npz", run / "model.npz")
    _fails(run, "trained by another run than history.json describes: training-size 500", capsys)
    (run / "model.npz").write_bytes(own)
    assert main(["-q", "report", str(run), "--no-answers"]) == 0
    # an interrupted run's checkpoint is still its network
    (run / "report.html").unlink()
    (run / "model.npz").unlink()
    assert main(["report", str(run), "--no-answers"]) == 0
    assert "using checkpoint.npz" in capsys.readouterr().err


def test_nonsense_in_a_chapter3_history_is_one_error_naming_the_field(digits_run, tmp_path, capsys):
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    good = json.loads((run / "history.json").read_text())

    def damaged(change) -> dict:
        record = json.loads(json.dumps(good))
        change(record)
        return record

    for change, why in [
        (lambda r: r.update(epochs_completed=-5), "'epochs_completed' must be a whole number >= 0; got -5"),
        (lambda r: r.update(best_epoch=99), "'best_epoch' is 99, but history.evaluation_accuracy has 1 epoch"),
        (lambda r: r.update(epochs_completed=2), "'history.epoch_seconds' must be a list of one entry per "
                                                 "epoch (2); got 1"),
        (lambda r: r["history"].update(evaluation_accuracy=[1, 2]), "'history.evaluation_accuracy' must be a "
                                                                   "list of one entry per epoch (1); got 2"),
        (lambda r: r["history"].update(evaluation_accuracy=[301]), "'history.evaluation_accuracy' must hold "
                                                                  "counts of right answers within 0..300"),
        (lambda r: r["history"].update(training_cost=[float("nan")]), "'history.training_cost' must hold "
                                                                     "finite numbers within +-1e+30; got nan"),
        (lambda r: r["history"].update(evaluation_cost=[1e308]), "'history.evaluation_cost' must hold finite "
                                                                "numbers within +-1e+30; got 1e+308"),
        (lambda r: r["history"].update(eta=["fast"]), "'history.eta' must hold finite numbers >= 0"),
        (lambda r: r["history"].update(gradient_norms=None), "'history.gradient_norms'"),
        (lambda r: r.update(history=None), "'history' must be an object; got None"),
        (lambda r: r.update(best_evaluation_accuracy=3), "'best_evaluation_accuracy' must be a fraction"),
    ]:
        (run / "history.json").write_text(json.dumps(damaged(change)))
        _fails(run, "history.json: " + why, capsys)  # one line naming the file and the field


def test_a_diverged_runs_huge_costs_are_drawn_without_numeric_warnings(digits_run, tmp_path):
    import json
    import shutil
    import warnings

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    record = json.loads((run / "history.json").read_text())
    record["status"] = "diverged"
    record["history"]["training_cost"] = [float("nan")]
    record["history"]["evaluation_cost"] = [1e308]
    (run / "history.json").write_text(json.dumps(record))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = report.build(run, answers=False)
    assert [str(w.message) for w in caught] == []
    assert page.count('class="chart"') == 3


def test_an_empty_page_name_is_said_as_typed(digits_run, tmp_path, capsys):
    for typed in (".html", "", str(tmp_path / ".HTML"), str(tmp_path) + "/"):
        assert main(["report", str(digits_run), "--no-answers", "-o", typed]) == 2
        err = capsys.readouterr().err
        assert f"-o {typed!r}: the page's file name is empty" in err and err.count("\n") == 1, err


def test_data_that_do_not_fit_the_model_are_said_in_the_books_terms(caplog):
    import nndl

    net = nndl.Network([784, 10], rng=np.random.default_rng(0))
    X, y = np.zeros((5, 64)), np.zeros(5, dtype=int)
    assert report._evaluate_on(net, X, y, "test", "digits") is None
    assert "the model takes 784 inputs, but the run's test set has 64 per example" in caplog.text
    assert "shape" not in caplog.text


def test_the_charts_titles_fit_their_figure():
    """The speed-of-learning chart's title was clipped on the desktop ("...hidden laye"): it is
    wrapped inside the chart, whose size (and so its text size on a phone) stays the same."""
    from nndl import plots

    svg = report._svg(plots.plot_speed, {"gradient_norms": [[0.1, 0.2], [0.05, 0.1]]}, "speed")
    width = float(re.search(r'viewBox="0 0 ([0-9.]+) ', svg).group(1))
    assert width == pytest.approx(72 * report.CHART_INCHES[0])
    title = re.findall(r'<text style="font-size: 13.2px[^>]*>([^<]*)</text>', svg)  # (1.2 x CHART_POINTS)
    assert len(title) == 2 and " ".join(title) == "Speed of learning of each hidden layer", title


def test_train_report_interrupted_says_no_page_was_written(tmp_path, capsys, monkeypatch):
    import signal

    from nndl.commands import train

    def enter(self):
        self.signum = signal.SIGINT  # as if Ctrl-C came during the first mini-batch
        return self

    monkeypatch.setattr(train._StopFlag, "__enter__", enter)
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--epochs", "1", "--no-plots", "--report", "-o", str(run)]) != 0
    out = capsys.readouterr().out
    assert f"report: no page written (the run was interrupted); make it with: nndl report {run}" in out
    assert not (run / "report.html").exists()
