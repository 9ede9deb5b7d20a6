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
    parts = ("settings", "data", "network", "environment", "history", "best_evaluation_accuracy")
    nested = ("sizes", "epoch_seconds", "n_training", "name", "eta", "momentum", "evaluate_on")

    @settings(max_examples=30)  # each example renders the run section (~0.07 s)
    @given(st.dictionaries(st.sampled_from(parts), _json_values(), max_size=3),
           st.dictionaries(st.sampled_from(nested), _json_values(), max_size=3))
    def check(top, inner):
        record = json.loads(json.dumps(base))
        record.update(top)
        for part in ("settings", "data", "network", "history"):
            if isinstance(record.get(part), dict):
                record[part].update(inner)
        try:
            html, subtitle = report.run_summary(record, digits_run)
        except ModelFileError as exc:
            assert "history.json" in str(exc)
        else:
            assert "<table" in html and isinstance(subtitle, str)

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


def test_chapter6_runs_get_a_one_line_error_not_a_silent_exit(tmp_path, capsys):
    """No page for chapter-6 runs yet: both ways of asking say so (exit 2), before any work."""
    import json

    from nndl.commands.train3 import FORMAT

    run = tmp_path / "ch6"
    run.mkdir()
    (run / "history.json").write_text(json.dumps({"format": FORMAT, "settings": {"net": "ch6-fc"}}))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chapter-6 run (ch6-fc" in err and "chapter-3 networks" in err
    assert not (run / "report.html").exists()
    out = tmp_path / "trained"
    assert main(["train", "--net", "ch6-fc", "--epochs", "1", "--training-size", "100", "-o", str(out),
                 "--report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--report" in err and "chapter-3 networks" in err
    assert not out.exists()  # refused before training


def test_a_model_that_is_not_the_runs_network_is_a_warning_on_the_page_and_stderr(digits_run, tmp_path, capsys):
    import shutil

    import nndl

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    nndl.Network([64, 10], rng=np.random.default_rng(0)).save(run / "model.npz")
    assert main(["report", str(run), "--no-answers"]) == 0
    warning = "the model is not the network history.json describes: sizes 64-10 (history.json: 64-30-10)"
    assert warning in capsys.readouterr().err
    assert warning in (run / "report.html").read_text(encoding="utf-8")
    assert "history.json describes" not in report.build(digits_run, answers=False)
