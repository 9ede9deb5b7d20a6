"""nndl sweep: options checked before any work, one definition of a failed cell, exit statuses,
results files that cannot be read, divergence detected as nndl train does (issue 17's review)."""

from __future__ import annotations

import json
import logging
import os
import shlex

import pytest

from nndl import sweep
from nndl.cli import main
from nndl.data import load_digits
from nndl.errors import UsageError
from nndl.runs import TrainSettings

BASE = TrainSettings(data="digits", evaluate_on="validation", epochs=1, training_size=300)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _sweep(tmp_path, *argv, out="s"):
    return main(["sweep", "--data", "digits", "--out", str(tmp_path / out), "--no-plots", "--quiet", *argv])


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be at least 1 in a sweep; got 0"),
    (["--epochs", "1,0"], "--epochs must be at least 1 in a sweep; got 0"),
    (["--scheduler", "nonsense"], "--scheduler nonsense: an address is tcp://HOST:PORT"),
    (["--scheduler", "tcp://"], "--scheduler tcp://: an address is tcp://HOST:PORT"),
    (["--scheduler", "http://127.0.0.1:8911"], "an address is tcp://HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:99999"], "a port from 1 to 65535"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--jobs", "2"], "--jobs 2 with --scheduler"),
    (["--samples", "2", "--eta", "0.1,1", "--sample-seed", "-1"], "--sample-seed must be at least 0; got -1"),
    (["--sample-seed", "5"], "--sample-seed is the seed of random search's draws: it needs --samples N"),
    (["--seeds", "99999999999999999999999"], "--seeds must be at most 9,223,372,036,854,775,807; "
                                             "got 99999999999999999999999"),
    (["--seeds", "a"], "--seeds: 'a' is not a number"),
    (["--eta", "-1,1"], "--eta must be a positive number; got -1"),  # read as a value, not an option
    (["--lmbda", "-0.5"], "--lmbda must be a number >= 0; got -0.5"),
    (["--sizes", "784,30,10"], "--sizes 784,30,10 does not fit the data: digits has 64 inputs"),
    (["--sizes", "64,30,10/784,30,10"], "--sizes 784,30,10 does not fit the data"),
    (["--training-size", "100,99999"], "--training-size 99999: digits has only"),
    (["--jobs", "-2"], "--jobs must be at least 1, or -1 for every core this process may use; got -2"),
])
def test_usage_errors_before_any_work(tmp_path, capsys, argv, message):
    assert _sweep(tmp_path, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nndl: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "s" / sweep.RESULTS).exists() and not (tmp_path / "s" / sweep.DEFINITION).exists()


@pytest.mark.parametrize("toml, message", [
    ("eta = []", "--eta: an empty list of values"),
    ("sample_seed = -1\nsamples = 2\neta = [0.1, 1.0]", "--sample-seed must be at least 0"),
    ("seeds = 3", "seeds must be a list of whole numbers, e.g. seeds = [0, 1]; got 3"),
    ("sample_seed = 1.5\nsamples = 2\neta = [0.1, 1.0]", "sample_seed must be a whole number; got 1.5"),
    ("samples = 2.5\neta = [0.1, 1.0]", "samples must be a whole number; got 2.5"),
    ("samples = 2\neta = {uniform = [0.1, inf]}", "--eta: a range needs finite LOW and HIGH; got 0.1, inf"),
    ("samples = 2\neta = {loguniform = [nan, 1]}", "--eta: a range needs finite LOW and HIGH; got nan, 1"),
    ("samples = 2\neta = {uniform = [1, 0.1]}", "--eta: a range needs LOW < HIGH; got 1, 0.1"),
])
def test_toml_usage_errors(tmp_path, capsys, toml, message):
    (tmp_path / "s.toml").write_text(toml + "\n")
    assert _sweep(tmp_path, "--config", str(tmp_path / "s.toml")) == 2
    assert message in capsys.readouterr().err


def test_integer_values_are_parsed_exactly():
    assert sweep.parse_axis("seed", "0,99999999999999999999", "--seeds") == [0, 99999999999999999999]
    assert sweep.parse_axis("epochs", "1e1") == [10]
    with pytest.raises(UsageError, match="not a whole number"):
        sweep.parse_value("epochs", "1e30")


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_one_definition_of_failed_and_bad_rows_recomputed(tmp_path, capsys):
    """An "ok" row without accuracy, an unknown status, binary garbage: a warning, the cell recomputed;
    the header's failure count and the lines below it agree."""
    args = ("--training-size", "300", "--epochs", "1", "--eta", "0.5,1")
    assert _sweep(tmp_path, *args) == 0
    folder = tmp_path / "s"
    good = _rows(folder / sweep.RESULTS)
    assert len(good) == 2 and all(sweep.succeeded(r) for r in good)
    broken = [dict(good[0], best_accuracy=None), dict(good[1], status="weird")]
    (folder / sweep.RESULTS).write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in broken)
                                         + bytes(range(256)) * 20 + b"\n")
    capsys.readouterr()
    assert main(["sweep", "--data", "digits", "--out", str(folder), "--no-plots", *args]) == 0
    out, err = capsys.readouterr()
    assert "2 of 2 cells done (2 computed now, 0 failed)" in out and "failed:" not in out
    assert "status 'ok' without a best accuracy" in err and "'weird'" in err and "not UTF-8" in err
    # a result whose rows disagree with their status is counted once, as failed, everywhere
    result = sweep.SweepResult(sweep.SweepSpec(BASE), [], [dict(good[0], best_accuracy=None)], 0, folder)
    assert sweep.failed(result) == 1 and sweep.exit_status(result) == 1
    assert "(0 computed now, 1 failed)" in sweep.summary_lines(result)[0]


def test_every_cell_failed_exits_1(tmp_path, capsys):
    assert _sweep(tmp_path, "--training-size", "300", "--epochs", "2", "--eta", "500,1000") == 1
    out = capsys.readouterr().out
    assert "2 failed" in out and "no cell finished without an error" in out


def test_a_diverging_cell_stops_as_nndl_train_does(tmp_path, capsys):
    assert _sweep(tmp_path, "--eta", "100", "--epochs", "10") == 1
    row, = _rows(tmp_path / "s" / sweep.RESULTS)
    assert row["status"] == "error" and row["error"].startswith("DivergenceError: training diverged in epoch 0:")
    command = shlex.split(sweep.train_command(TrainSettings.from_dict(row["settings"], "row")))
    capsys.readouterr()
    assert main([*command[1:], "--out", str(tmp_path / "run"), "--no-plots"]) == 1
    assert row["error"].removeprefix("DivergenceError: ") in capsys.readouterr().err


def test_per_cell_lines_not_per_epoch_lines(tmp_path, capsys):
    assert main(["sweep", "--data", "digits", "--out", str(tmp_path / "s"), "--no-plots",
                 "--training-size", "300", "--epochs", "3", "--eta", "0.5,1"]) == 0
    err = capsys.readouterr().err
    assert err.count("cell 1/2") == 1 and err.count("cell 2/2") == 1
    assert "epoch 0" not in err and "training cost" not in err


def test_a_categorical_setting_is_plotted(tmp_path, digits):
    spec = sweep.SweepSpec(BASE, {"hidden": ["sigmoid", "relu"], "eta": [0.5, 1.0]})
    result = sweep.run_sweep(spec, tmp_path, splits=digits)
    assert {p.name for p in sweep.plot(result)} == {"accuracy-hidden.png", "accuracy-eta.png"}


def test_stale_shared_data_removed_and_only_what_the_cells_use_shipped(tmp_path, digits):
    stale = tmp_path / sweep.SHARED_DATA
    stale.mkdir()
    (stale / "training.X.npy").write_bytes(b"x" * 1000)  # left by a killed --jobs sweep
    spec = sweep.SweepSpec(BASE, {"training_size": [100, 200]})
    sweep.run_sweep(spec, tmp_path, splits=digits, on_row=lambda row: None)
    assert not stale.exists()
    cells = spec.cells()
    needed = sweep._needed(digits, "validation", cells)
    assert len(needed.training.y) == 200 and len(needed.test.y) == 0
    assert len(sweep._needed(digits, "validation", [*cells, *sweep.SweepSpec(TrainSettings()).cells()])
               .training.y) == len(digits.training.y)


def test_expansion_too_large_for_a_cell_is_found_before_any_cell():
    from types import SimpleNamespace

    import numpy as np

    from nndl.data import Dataset

    mnist_sized = SimpleNamespace(name="mnist", training=Dataset(np.broadcast_to(np.float64(0), (50_000, 784)),
                                                                 np.zeros(50_000, np.int64)),
                                  validation=Dataset(np.zeros((2, 784)), np.arange(2)))
    spec = sweep.SweepSpec(TrainSettings(evaluate_on="validation"), {"expand": [0, 30]})
    with pytest.raises(UsageError, match="--expand 30: the expanded training data would take 9.1 GiB"):
        sweep._fits_the_data(spec.cells(), mnist_sized, "validation")
    sweep._fits_the_data(sweep.SweepSpec(TrainSettings(evaluate_on="validation", training_size=1000),
                                         {"expand": [0, 30]}).cells(), mnist_sized, "validation")


def test_jobs_minus_1_is_every_core_this_process_may_use(tmp_path, digits, monkeypatch, caplog):
    """-1 is joblib's and scikit-learn's "all cores": the cores of this process's CPU affinity.
    More jobs than that is a warning in the log."""
    monkeypatch.setattr(logging.getLogger("nndl"), "propagate", True)  # the CLI's tests turn it off
    if hasattr(os, "sched_getaffinity"):
        assert sweep.usable_cores() == len(os.sched_getaffinity(0))
    used = []
    monkeypatch.setattr(sweep, "usable_cores", lambda: 3)
    monkeypatch.setattr(sweep, "_run_joblib", lambda cells, splits, jobs, on_row, folder: used.append(jobs))
    spec = sweep.SweepSpec(BASE, {"eta": [0.5, 1.0, 2.0, 3.0]})
    sweep.run_sweep(spec, tmp_path / "a", jobs=-1, splits=digits)
    assert used == [3] and "cores" not in caplog.text
    sweep.run_sweep(spec, tmp_path / "b", jobs=4, splits=digits)
    assert used == [3, 4] and "--jobs 4 is more than the 3 cores this process may use" in caplog.text
    assert sweep.count(1, "core") == "1 core"  # (the message's plural: "the 1 core", not "the 1 cores")
    with pytest.raises(UsageError, match="got -2"):
        sweep.run_sweep(spec, tmp_path / "c", jobs=-2, splits=digits)


def test_draws_that_coincide_are_said_and_counts_are_singular_or_plural(tmp_path, capsys):
    """Random search with fewer distinct settings than --samples says so; "1 cell", "1 seed"."""
    assert _sweep(tmp_path, "--training-size", "100", "--epochs", "uniform:1:2", "--samples", "6") == 0
    out, err = capsys.readouterr()
    assert "random search: 6 draws gave 2 distinct settings (the same values drawn again): 2 cells" in err
    assert "2 of 2 cells done" in out and "over 1 seed:" in out and "seed(s)" not in out
    assert _sweep(tmp_path, "--training-size", "100", "--epochs", "1", out="one") == 0
    out, err = capsys.readouterr()
    assert "1 of 1 cell done" in out and "draws" not in err
    assert _sweep(tmp_path, "--training-size", "100", "--epochs", "1", "--eta", "0.5,1", "--samples", "2",
                  out="two") == 0
    assert "random search: 2 draws gave 1 distinct setting (the same values drawn again): 1 cell\n" in \
        capsys.readouterr().err
    assert _sweep(tmp_path, "--training-size", "100", "--epochs", "1", "--eta", "0.5,1", "--samples", "1",
                  out="three") == 0
    assert "draws" not in capsys.readouterr().err  # as many distinct settings as draws: nothing to say


def test_the_data_line_says_the_training_size_and_values_read_the_same_everywhere(tmp_path, capsys):
    """The data line counts the whole split: the next says what --training-size leaves; a cell's log
    line writes its values as the summary does (lmbda=0, not lmbda=0.0)."""
    assert main(["sweep", "--data", "digits", "--out", str(tmp_path / "s"), "--no-plots", "--training-size",
                 "100,200", "--epochs", "1", "--lmbda", "0,0.5"]) == 0
    out, err = capsys.readouterr()
    assert "data: the cells train on the first 100 or 200 of these 1,197 training examples" in err
    assert "training_size=100 lmbda=0 seed 0" in err and "lmbda=0.0" not in err
    assert "training_size=100 lmbda=0:" in out


def test_the_best_epoch_of_a_setting_is_the_upper_median_of_its_seeds(tmp_path):
    rows = [{"key": str(seed), "varied": {"eta": 1.0}, "seed": seed, "status": "ok", "best_accuracy": 0.9,
             "best_epoch": epoch, "settings": BASE.to_dict()} for seed, epoch in enumerate((7, 4))]
    result = sweep.SweepResult(sweep.SweepSpec(BASE, seeds=(0, 1)), [], rows, 0, tmp_path)
    assert "best epoch 7" in sweep.summary_lines(result)[1]  # an epoch that occurred, as docs/sweep.md says
