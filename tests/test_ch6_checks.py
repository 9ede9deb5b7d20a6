"""Chapter 6's checks of what a user gives (issue 14's tester findings): options, config files,
resumed runs, data folders, the expanded-data cache, divergence and the library's arguments."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nndl.cli import main
from nndl.errors import DataError, DivergenceError


def _have_mnist() -> bool:
    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and (Path(folder) / "train-images-idx3-ubyte.gz").exists()


needs_mnist = pytest.mark.skipif(not _have_mnist(), reason="real MNIST not available (set NNDL_DATA)")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ch6_run(tmp_path, capsys, name="run", *extra) -> Path:
    run = tmp_path / name
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "100", "--epochs", "2",
                       "--out", run, "--no-plots", *extra)
    assert code == 0, err
    return run


def _interrupt(run: Path) -> None:
    """Make a finished chapter-6 run look interrupted after its last epoch (model -> checkpoint)."""
    (run / "model.npz").replace(run / "checkpoint.npz")
    record = json.loads((run / "history.json").read_text())
    record["status"] = "interrupted"
    (run / "history.json").write_text(json.dumps(record))


@needs_mnist
def test_ch6_resume_takes_only_epochs_and_data_dir(tmp_path, capsys):  # findings 8, 18, 19, 21
    run = _ch6_run(tmp_path, capsys, "run", "--seed", "10000000000")  # 18: a seed train takes resumes
    for option in (["--net", "ch6-conv2"], ["--eta", "5"], ["--lmbda", "1"], ["--seed", "3"],
                   ["--mini-batch-size", "20"], ["--training-size", "200"], ["--dtype", "float64"],
                   ["--cost", "quadratic"], ["--evaluate-on", "test"]):
        code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3", *option)
        assert code == 2 and "only --epochs and --data-dir" in err and option[0] in err, (option, err)
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3", "--data-dir", tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3")
    assert code == 0, err
    _interrupt(run)
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "2")  # fewer than trained
    assert code == 2 and "already trained 3 epochs" in err
    record = json.loads((run / "history.json").read_text())
    assert record["status"] == "interrupted" and record["settings"]["epochs"] == 3
    # evaluate uses the checkpoint of the interrupted run, as chapter 3's
    code, out, err = cli(capsys, "evaluate", run, "--no-plots", "--json")
    assert code == 0 and "using checkpoint.npz, the network after 3 epochs" in err, err
    assert json.loads(out)["n"] == 10_000
    (run / "history.json").unlink()
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 2 and "history.json is missing" in err and "not an nndl model file" not in err


def test_ch3_resume_with_fewer_epochs_is_an_error(tmp_path, capsys):  # finding 19, chapter 3
    run = tmp_path / "r3"
    code, _, err = cli(capsys, "train", "--data", "digits", "--epochs", "2", "--out", run, "--no-plots")
    assert code == 0, err
    record = json.loads((run / "history.json").read_text())
    record["status"] = "interrupted"
    (run / "history.json").write_text(json.dumps(record))
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "1")
    assert code == 2 and "already trained 2 epochs" in err
    assert json.loads((run / "history.json").read_text())["settings"]["epochs"] == 2


def test_ch6_seed_range_is_chapter_3s(tmp_path, capsys):  # finding 18 (the resume half is above)
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--seed", str(2**63), "--out", tmp_path / "s2")
    assert code == 2 and "--seed must be at most" in err


@needs_mnist
@pytest.mark.parametrize("options, toml, message", [
    (["--evaluate-on", "validation"], "", "--evaluate-on 'validation'"),  # finding 9
    ([], 'evaluate_on = "bogus"\n', "--evaluate-on 'bogus'"),
    (["--training-size", "60000"], "", "mnist has only 50,000 training examples"),  # finding 10
    ([], "training_size = 1e12\n", "--training-size must be at most"),
    ([], "epochs = 1.5\n", "epochs must be a whole number; got 1.5"),  # finding 11
    ([], "epochs = true\n", "epochs must be a whole number; got True"),
    ([], 'eta = "0.2"\n', "eta must be a number; got '0.2'"),
    ([], 'epochs = "two"\n', "epochs must be a whole number; got 'two'"),
    (["--data-dir", "/nonexistent"], "", "/nonexistent"),
])
def test_ch6_settings_are_checked_as_chapter_3(tmp_path, capsys, options, toml, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text('net = "ch6-fc"\n' + toml)
    code, _, err = cli(capsys, "train", "--config", cfg, "--epochs", "1", *options, "--out", tmp_path / "r")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r" / "history.json").exists()


@needs_mnist
def test_load_mnist_explicit_missing_folder_is_an_error(tmp_path, capsys):  # finding 13
    from nndl.data import load_mnist

    with pytest.raises(DataError, match="no such folder"):
        load_mnist(data_dir=tmp_path / "nonexistent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_mnist(data_dir=tmp_path / "empty", download=False)
    # a run whose recorded data folder is gone does not resume on other data
    data = tmp_path / "data"
    shutil.copytree(os.environ["NNDL_DATA"], data)
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "100", "--epochs", "1",
                       "--data-dir", data, "--out", run, "--no-plots")
    assert code == 0, err
    shutil.rmtree(data)
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 2 and "no longer holds" in err and str(data) in err


@needs_mnist
def test_ch6_divergence_is_recorded_without_warnings(tmp_path, capsys):  # finding 24
    run = tmp_path / "dv"
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "500", "--epochs", "2",
                       "--eta", "1e30", "--out", run, "--no-plots")
    assert code == 1 and "diverged" in err and "RuntimeWarning" not in err and "overflow" not in err, err
    record = json.loads((run / "history.json").read_text())
    assert record["status"] == "diverged" and "diverged" in record["message"]
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3")
    assert code == 1 and "smaller --eta" in err


def test_explain_ch6_checks_batch_and_seed(capsys):  # finding 4
    for argv, message in ((["--seed", "-1"], "--seed must be a whole number from 0"),
                          (["--seed", str(2**63)], "--seed must be a whole number from 0"),
                          (["--batch", "70000"], "50,000 training images"),
                          (["--batch", "0"], "--batch must be")):
        code, _, err = cli(capsys, "explain-ch6", "pooling", *argv)
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_expanded_cache_is_verified_and_inputs_checked(tmp_path):  # finding 23
    from nndl.expand_mnist import expanded_training_data

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, 784)) / 255.0
    y = rng.integers(0, 10, size=20)
    X1, y1 = expanded_training_data((X, y), cache=tmp_path)
    (labels,) = (tmp_path / "expanded").glob("*-labels.npy")
    np.save(labels, np.full(100, 42, np.int64))
    X2, y2 = expanded_training_data((X, y), cache=tmp_path)
    assert np.array_equal(y2, y1) and not np.any(y2 == 42) and np.array_equal(X2, X1)
    (images,) = (tmp_path / "expanded").glob("*-images.npy")
    bad = np.load(images)
    bad[:, 0] = 7
    np.save(images, bad)
    X3, _ = expanded_training_data((X, y), cache=tmp_path)
    assert np.array_equal(X3, X1)
    labels.write_bytes(b"")  # a file cut short (np.load: EOFError) is rebuilt too
    X4, y4 = expanded_training_data((X, y), cache=tmp_path)
    assert np.array_equal(X4, X1) and np.array_equal(y4, y1)
    for pair, message in (((X[:, :100], y), r"shape \(n, 784\)"), ((X, y[:5]), "one per image"),
                          ((X.reshape(-1)[:10000], y), "shape")):
        with pytest.raises(ValueError, match=message):
            expanded_training_data(pair, cache=tmp_path)


def test_quick_runs_do_not_fail_full_size_claims():  # finding 25
    from nndl.experiments import chapter6
    from nndl.experiments.registry import REGISTRY
    from nndl.experiments.runner import summary_lines

    h = {"validation_accuracy": [0.6, 0.7], "test_accuracy": [0.6, 0.7], "best_epoch": 1,
         "test_accuracy_at_best": 0.7, "epoch_seconds": [1.0, 1.0]}
    result = {"quick": True, "seeds": {"0": {"history": h}}}
    text = "\n".join(summary_lines(REGISTRY["ch6-fc"], result))
    assert "FAIL" not in text and "not checked on --quick data: close to chapter 3's 98.04 %" in text
    text = "\n".join(summary_lines(REGISTRY["ch6-fc"], {**result, "quick": False}))
    assert "FAIL (0/1): close to chapter 3's" in text  # a full-size run is checked
    assert "the same command" not in __import__("nndl.commands.train3").commands.train3.__doc__
    conv1 = chapter6.quick(REGISTRY["ch6-conv1"].config)  # enough steps to leave chance (measured: ~50 %)
    assert conv1.n_train // conv1.mini_batch_size * conv1.epochs >= 500


def _fc_net(mb=10):
    from nndl.layers import FullyConnectedLayer, SoftmaxLayer
    from nndl.network3 import Network

    return Network([FullyConnectedLayer(784, 20), SoftmaxLayer(20, 10)], mb, rng=np.random.default_rng(0))


def test_library_rejects_lax_arguments():  # finding 26
    from nndl.layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    from nndl.network3 import Network

    rng = np.random.default_rng(1)
    X, y = rng.random((40, 784)), rng.integers(0, 10, 40)
    net = _fc_net()
    for kwargs, message in (({"validation_data": (X, y + 2)}, "validation_data: labels must lie in 0..9"),
                            ({"test_data": (X, y - 1)}, "test_data: labels must lie in 0..9"),
                            ({"validation_data": (X[:0], y[:0])}, "validation_data is empty"),
                            ({"validation_data": (X, y.astype(str))}, "labels must be whole numbers")):
        with pytest.raises(ValueError, match=message):
            net.SGD((X, y), 1, 10, 0.1, **kwargs)
    with pytest.raises(ValueError, match="training_data: labels must be whole numbers"):
        net.SGD((X, y.astype(str)), 1, 10, 0.1)
    with pytest.raises(ValueError, match="built for mini-batches of 10"):
        Network([ConvPoolLayer((10, 1, 28, 28), (2, 1, 5, 5)), SoftmaxLayer(2 * 12 * 12, 10)], 20)
    Network([ConvPoolLayer((20, 1, 28, 28), (2, 1, 5, 5)), SoftmaxLayer(2 * 12 * 12, 10)], 20)  # agrees
    with pytest.raises(ValueError, match="mini_batch_size"):
        Network([FullyConnectedLayer(784, 20), SoftmaxLayer(20, 10)], True)
    with pytest.raises(ValueError, match="mini_batch_size"):
        net.SGD((X, y), 1, True, 0.1)
    with pytest.raises(ValueError, match="poolsize"):
        ConvPoolLayer((1, 28, 28), (2, 1, 5, 5), poolsize=(True, True))
    with pytest.raises(ValueError, match="p_dropout"):
        FullyConnectedLayer(784, 20, p_dropout="0.5")
    with pytest.raises(ValueError, match="p_dropout"):
        SoftmaxLayer(20, 10, p_dropout=True)
    with pytest.raises(ValueError, match="eta"):
        net.SGD((X, y), 1, 10, "0.1")
    with pytest.raises(ValueError, match="epochs"):
        net.SGD((X, y), True, 10, 0.1)


def test_huge_finite_cost_is_divergence():  # finding 26: chapter 3's rule (10x the untrained cost)
    rng = np.random.default_rng(2)
    X, y = rng.random((200, 784)), rng.integers(0, 10, 200)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(DivergenceError, match="rose from"):
        _fc_net().SGD((X, y), 2, 10, 1e6)


def test_ch6_interrupt_is_recorded_with_the_resume_hint(tmp_path, capsys, monkeypatch, caplog):
    """Ctrl-C in a chapter-6 run: status "interrupted", the history of the checkpoint, the hint, 130."""
    from nndl.network3 import Trainer3

    run = tmp_path / "i6"
    save = Trainer3._save_checkpoint
    calls = []

    def interrupted_in_epoch_1(self):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C during epoch 1, before its checkpoint
            raise KeyboardInterrupt
        save(self)

    monkeypatch.setattr(Trainer3, "_save_checkpoint", interrupted_in_epoch_1)
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "300", "--epochs", "3",
                       "--out", run, "--no-plots")
    assert code == 130, err
    assert f"nndl train --resume {run}" in err + caplog.text
    record = json.loads((run / "history.json").read_text())
    assert record["status"] == "interrupted" and len(record["history"]["epoch_seconds"]) == 1
    monkeypatch.setattr(Trainer3, "_save_checkpoint", save)
    code, _, err = cli(capsys, "train", "--resume", run, "--no-plots")
    assert code == 0, err
    record = json.loads((run / "history.json").read_text())
    assert record["status"] == "finished" and len(record["history"]["epoch_seconds"]) == 3


def test_a_quick_run_that_stays_at_chance_says_so():
    from nndl.experiments.registry import REGISTRY
    from nndl.experiments.runner import summary_lines

    h = {"validation_accuracy": [0.098, 0.098], "test_accuracy": [0.098, 0.098], "best_epoch": 0,
         "test_accuracy_at_best": 0.098, "epoch_seconds": [1.0, 1.0]}
    result = {"quick": True, "seeds": {"0": {"history": h}}}
    text = "\n".join(summary_lines(REGISTRY["ch6-conv2"], result))
    assert "(--quick: this small sigmoid network stays at chance (about 10 %)" in text and "book: 99.06 %" in text
    assert "stays at chance" not in "\n".join(summary_lines(REGISTRY["ch6-conv2"], {**result, "quick": False}))
    assert "stays at chance" not in "\n".join(summary_lines(REGISTRY["ch6-conv1"], result))
