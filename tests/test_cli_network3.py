"""``nndl train --net``, ``evaluate`` and ``predict`` with the book's chapter-6 networks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nndl
from nndl.cli import main
from nndl.network3 import Network


def _have_mnist() -> bool:
    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and (Path(folder) / "train-images-idx3-ubyte.gz").exists()


pytestmark = pytest.mark.skipif(not _have_mnist(), reason="real MNIST not available (set NNDL_DATA)")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_predict_resume(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "300", "--epochs", "1",
                         "--eta", "0.5", "--out", run)
    assert code == 0, err
    assert "test accuracy there" in out and "epoch 0" in err
    record = json.loads((run / "history.json").read_text())
    assert record["status"] == "finished" and record["settings"]["eta"] == 0.5
    assert record["settings"]["lmbda"] == 0.0 and record["settings"]["dtype"] == "float32"  # the book's
    # how the cores were used (30 steps: too short for a probe, so repeatable)
    assert record["cores"] == {"threads": 1, "blas_threads": "auto", "processes": "auto", "probes": [],
                               "repeatable": True}
    assert {"model.npz", "accuracy.png"} <= {p.name for p in run.iterdir()}  # (conv nets: filters.png too)
    net = nndl.load(run / "model.npz")
    assert isinstance(net, Network) and [layer.n_out for layer in net.layers] == [100, 10]

    code, out, err = cli(capsys, "evaluate", run, "--no-plots", "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 10_000
    code, out, err = cli(capsys, "evaluate", run, "--no-plots")
    assert code == 0, err
    assert "(the book's ch6-fc network, log-likelihood cost)" in out  # not its "sizes" [784, 100, 10]

    from nndl.data import load_mnist

    x = load_mnist().test.X[0].reshape(28, 28)
    png = tmp_path / "digit.png"
    Image.fromarray((255 * (1 - x)).astype(np.uint8)).save(png)  # dark ink on white paper
    code, out, err = cli(capsys, "predict", run / "model.npz", png)
    assert code == 0, err and str(png) in out



def test_resume_trains_further(tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "200", "--epochs", "1",
                       "--out", run, "--no-plots")
    assert code == 0, err
    code, out, err = cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 0, err
    assert "resuming" in err
    assert len(json.loads((run / "history.json").read_text())["history"]["epoch_seconds"]) == 2
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 2 and "completed 2 of 2" in err
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "100000000")  # checked as for a new run
    assert code == 2 and "--epochs must be at most" in err and err.count("\n") == 1, err


def test_out_of_memory_while_training_is_one_line_and_the_run_resumable(tmp_path, capsys, monkeypatch):
    from nndl import network3

    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr(network3.Trainer3, "run", no_memory)
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "200", "--epochs", "1",
                       "--out", run, "--no-plots")
    assert code == 1 and err.splitlines()[-1].startswith("nndl: error: out of memory while training"), err
    assert "Traceback" not in err
    assert json.loads((run / "history.json").read_text())["status"] == "interrupted"
    monkeypatch.undo()
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 0, err


def test_train_net_usage_errors(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--net", "ch6-conv9", "--out", tmp_path / "a")
    assert code == 2 and "choose from ch6-fc" in err
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--hidden", "relu", "--out", tmp_path / "b")
    assert code == 2 and "--hidden describes a chapter-3 network" in err
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--data", "digits", "--out", tmp_path / "c")
    assert code == 2 and "28x28" in err


def test_config_file_names_the_net(tmp_path, capsys):
    cfg = tmp_path / "ch6.toml"
    cfg.write_text('net = "ch6-fc"\nepochs = 1\ntraining-size = 200\n')
    code, out, err = cli(capsys, "train", "--config", cfg, "--out", tmp_path / "run", "--no-plots")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "history.json").read_text())["settings"]["net"] == "ch6-fc"


def test_resume_of_a_damaged_run_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.json").write_text(json.dumps({"format": "nndl-run-network3", "settings": {"net": "evil"}}))
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 2 and "not a readable chapter-6 run" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [("--net", ""), ("--net=",), ("--net", " ")])
def test_an_empty_net_is_an_unknown_network(tmp_path, capsys, argv):
    code, _, err = cli(capsys, "train", *argv, "--out", tmp_path / "run", "--epochs", "1")
    assert code == 2 and "unknown network" in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "model.npz").exists()


@pytest.mark.parametrize("line, expected", [
    ("foo = 1", "unknown setting 'foo'"),
    ("layers = [1, 2]", "unknown setting 'layers'"),
    ("sizes = [784, 30, 10]", "'sizes' describes a chapter-3 network"),
])
def test_a_net_config_names_the_file_and_calls_an_unknown_key_unknown(tmp_path, capsys, line, expected):
    cfg = tmp_path / "ch6.toml"
    cfg.write_text(f'net = "ch6-fc"\n{line}\n')
    code, _, err = cli(capsys, "train", "--config", cfg, "--out", tmp_path / "run")
    assert code == 2 and f"--config {cfg}: {expected}" in err and err.count("\n") == 1


def test_resume_of_a_net_run_stopped_while_loading_data_keeps_the_net(tmp_path, capsys, monkeypatch):
    import nndl.commands.train3 as train3

    def stop(*_a, **_k):
        raise KeyboardInterrupt  # Ctrl-C while the data load

    monkeypatch.setattr(train3, "_data", stop)
    run = tmp_path / "run"
    assert main(["train", "--net", "ch6-conv1", "-o", str(run)]) != 0
    capsys.readouterr()
    assert not (run / "history.json").exists()
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 2 and "start it again with the command that started it, all its options (--net" in err
    assert f"nndl train -o {run}" not in err  # that would start a chapter-3 run
