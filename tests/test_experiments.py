"""nndl.experiments: every id of BOOK.md's table, and the book's qualitative claims in --quick runs.

The --quick versions keep each configuration's shape (network, cost, init, eta, lmbda/n)
with less data and fewer epochs; the assertions are what the book says in words.
Full-size runs are commands (``nndl experiment all``), not tests.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from nndl.cli import main
from nndl.experiments import chapter5, overfitting, saturation, single, weight_init
from nndl.experiments.registry import IDS, REGISTRY
from nndl.experiments.runner import claim_values, run_experiment

BOOK = Path(__file__).resolve().parents[2] / "shared" / "BOOK.md"


def _have_mnist() -> bool:
    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and (Path(folder) / "train-images-idx3-ubyte.gz").exists()


needs_mnist = pytest.mark.skipif(not _have_mnist(), reason="real MNIST not available (set NNDL_DATA)")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("experiments")


def quick(id_: str, out: Path, seeds=(0,)) -> dict:
    return run_experiment(id_, seeds, quick=True, out_dir=out, figures=False)


# ------------------------------------------------------------------------------ the registry
def test_registry_has_every_id_of_the_book_table():
    if not BOOK.exists():
        pytest.skip("../shared/BOOK.md not here")
    table = BOOK.read_text().split("## Experiments to reproduce", 1)[1].split("\n## ", 1)[0]
    book_ids = re.findall(r"^\| (ch\d-[\w-]+) \|", table, flags=re.MULTILINE)
    assert len(book_ids) == 21
    ch6 = BOOK.read_text().split("## Chapter 6", 1)[1].split("\n## ", 1)[0]  # chapter 6's own table
    ch6_ids = re.findall(r"^\| (ch6-[\w-]+) \|", ch6, flags=re.MULTILINE)
    assert len(ch6_ids) == 8
    assert list(IDS) == book_ids + ch6_ids  # same ids, same order


def test_book_numbers_are_bookmd_numbers():
    # the published numbers the report compares with, as BOOK.md states them
    book = {(e.id, m.name): m.book for e in REGISTRY.values() for m in e.metrics if m.book is not None}
    assert book[("ch1-30", "best test accuracy (%)")] == 95.42
    assert book[("ch1-svm", "test accuracy (%)")] == 94.35
    assert book[("ch3-more-data", "NN validation accuracy at N=5,000 (%)")] == 93.24
    assert book[("ch3-more-data", "SVM validation accuracy at N=50,000 (%)")] == 94.48
    assert book[("ch3-reg-100-long", "best validation accuracy (%)")] == 98.04


def test_configs_are_the_book_table():
    assert REGISTRY["ch3-reg-100-long"].config.eta == 0.1 and REGISTRY["ch3-reg-100-long"].config.epochs == 60
    assert REGISTRY["ch3-reg-1000"].config.n_train == 1000 and REGISTRY["ch3-reg-1000"].config.lmbda == 0.1
    more = REGISTRY["ch3-more-data"].config
    assert [more.steps // n for n in more.sizes][:2] == [15000, 7500] and more.steps // 50000 == 30
    speed = REGISTRY["ch5-speed"].config
    assert (speed.n_train, speed.mini_batch_size, speed.epochs) == (1000, 1000, 500)


def test_quick_keeps_lambda_over_n():
    cfg = REGISTRY["ch3-reg-full"].config
    small = single.quick(cfg)
    assert small.lmbda / small.n_train == pytest.approx(cfg.lmbda / cfg.n_train)
    assert (small.sizes, small.cost, small.init, small.eta) == (cfg.sizes, cfg.cost, cfg.init, cfg.eta)


# ------------------------------------------------------------------------------ the book's claims
def test_cross_entropy_escapes_the_saturated_start_faster_than_quadratic(out):
    r = quick("ch3-saturation", out)["once"]
    quadratic, ce_same_eta = saturation.QUADRATIC, saturation.CE_SAME_ETA
    # from (2,2), quadratic: output still above 0.9 after 150 steps; from (0.6,0.9) below 0.2
    assert r["runs"]["2.0,2.0"][quadratic]["output"][150] > 0.9
    assert r["runs"]["0.6,0.9"][quadratic]["output"][150] < 0.2
    # same eta: cross-entropy leaves the saturated start at least 10x sooner
    assert 10 * saturation.steps_to(r, "2.0,2.0", ce_same_eta) < saturation.steps_to(r, "2.0,2.0", quadratic)
    assert all(v for _, values in claim_values(REGISTRY["ch3-saturation"], {"once": r}) for v in values)


@needs_mnist
def test_1000_images_overfit_and_l2_narrows_the_gap(out):
    plain = quick("ch3-overfit", out)["seeds"]["0"]
    reg = quick("ch3-reg-1000", out)["seeds"]["0"]
    train_acc = single.final("training_accuracy")
    assert train_acc(plain) > 97.0  # the 1,000 training images are (nearly) memorised ...
    assert overfitting.gap(plain) > 10.0  # ... far above the test accuracy
    assert overfitting.gap(reg) < overfitting.gap(plain) - 1.0  # L2 narrows the gap
    assert single.final()(reg) > single.final()(plain)  # by raising the test accuracy


@needs_mnist
def test_default_init_is_ahead_of_large_init_after_the_first_epoch(out):
    r = quick("ch3-weight-init", out)["seeds"]["0"]
    for n in weight_init.Config().hidden:
        assert weight_init.accuracy(f"{n}-default", 0)(r) > weight_init.accuracy(f"{n}-large", 0)(r) + 5.0


@needs_mnist
def test_first_hidden_layer_learns_slower_than_the_last_in_deeper_nets(out):
    r = quick("ch5-speed", out)["seeds"]["0"]
    for layers in (2, 3, 4):
        g = chapter5.norms(r, layers)  # (epochs, layers)
        assert g.shape == (50, layers)
        assert (g[:, 0] < g[:, -1]).all()  # first hidden layer slower than the last, every epoch
    # and the gap grows with depth (eq. 122: one more sigma' w factor per layer)
    assert chapter5.speed_ratio(2)(r) < chapter5.speed_ratio(4)(r)


# ------------------------------------------------------------------------------ runner and CLI
@needs_mnist
def test_cli_writes_results_figures_and_resumes(tmp_path, capsys):
    args = ["experiment", "ch1-eta-big", "--quick", "--seeds", "0,1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert "ch1-eta-big" in capsys.readouterr().out
    folder = tmp_path / "quick" / "ch1-eta-big"  # quick runs never share a full result's folder
    r = json.loads((folder / "result.json").read_text())
    assert list(r["seeds"]) == ["0", "1"] and r["quick"] is True
    h = r["seeds"]["0"]["history"]
    assert len(h["evaluation_accuracy"]) == len(h["epoch_seconds"]) == 3
    assert r["config"]["eta"] == 100.0 and r["versions"]["numpy"]
    assert (folder / "accuracy.png").stat().st_size > 0 and (folder / "accuracy.svg").stat().st_size > 0
    before = r["timings"]["seeds"]
    assert main(args) == 0  # resumes: nothing left to do, same seeds kept
    assert json.loads((folder / "result.json").read_text())["timings"]["seeds"] == before


def test_cli_lists_and_rejects(capsys):
    assert main(["experiment", "--list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(IDS)
    assert main(["experiment", "ch9-nothing"]) == 2
    assert main(["experiment", "ch1-30", "--seeds", "a"]) == 2


@needs_mnist
def test_report_compares_with_the_book(tmp_path):
    from nndl.experiments.report import build

    run_experiment("ch1-darkness", out_dir=tmp_path)
    text = build(tmp_path, tmp_path / "docs" / "reproduction.md")
    assert "| ch1-darkness | test accuracy (%) | 22.25 % (2,225) | 22.25 | (once) | - | equal |" in text
    assert "**Not run (missing from the results):** ch1-30" in text


def test_committed_report_is_generated_from_the_committed_results():
    from nndl.experiments.report import build

    root = Path(__file__).resolve().parents[1]
    doc = root / "docs" / "reproduction.md"
    if not (root / "results").is_dir() or not doc.exists():
        pytest.skip("no committed results here")
    assert build(root / "results", doc) == doc.read_text()  # nobody edited the numbers by hand
