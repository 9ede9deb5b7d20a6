"""``nndl train``: the run folder, config files, resume, divergence and every error path.

In-process ``main([...])`` calls on the bundled 8x8 digits (fast, offline), one real
subprocess per signal for the interrupt-and-resume test, and one MNIST run when
``NNDL_DATA`` is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.cli import main
from nndl.errors import UsageError
from nndl.runs import load_checkpoint, read_history

DIGITS = ["--data", "digits"]
SMALL = [
    *DIGITS,
    "--training-size",
    "300",
    "--epochs",
    "2",
    "--no-plots",
]  # a fraction of a second per run


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def weights(path: Path) -> list[np.ndarray]:
    net = nndl.load(path)
    return net.weights + net.biases


def assert_same_weights(a: Path, b: Path) -> None:
    for x, y in zip(weights(a), weights(b), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)  # bit for bit


def assert_one_error_line(err: str, *fragments: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("nndl: error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# ---------------------------------------------------------------------- the run folder


def test_default_run_on_the_embedded_digits_writes_a_complete_run_folder(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNDL_DATA", raising=False)
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))  # no MNIST anywhere: auto = digits
    code, out, err = cli(capsys, "train", "--epochs", "2")
    assert code == 0, err
    [folder] = list((tmp_path / "runs").iterdir())
    assert f"run folder:  runs/{folder.name}" in out
    assert "bundled 8x8 digits" in err  # the user is told which data set was used
    epoch_lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert (
        len(epoch_lines) == 2
        and "training cost" in epoch_lines[0]
        and "evaluation accuracy" in epoch_lines[0]
    )
    assert epoch_lines[0].endswith(" s")
    assert "\r" not in err  # no progress bar when stderr is not a terminal
    for name in (
        "model.npz",
        "checkpoint.npz",
        "history.json",
        "cost.png",
        "accuracy.png",
        "speed.png",
    ):
        assert (folder / name).stat().st_size > 0, name
    # no temporary files left behind; the lock file (.nndl.lock) stays, unlocked
    assert [p.name for p in folder.glob(".*")] == [".nndl.lock"]

    record = read_history(folder)
    assert record["status"] == "finished" and record["epochs_completed"] == 2
    s = record["settings"]  # the book's defaults, with sizes from the data
    assert (s["cost"], s["eta"], s["mini_batch_size"], s["lmbda"], s["seed"]) == (
        "cross-entropy",
        0.5,
        10,
        0.0,
        0,
    )
    assert record["network"]["sizes"] == [64, 30, 10]
    assert record["data"]["name"] == "digits" and record["data"]["checksums"]
    assert record["data"]["evaluate_on"] == "test" and record["data"]["n_evaluation"] == 300
    env = record["environment"]
    assert env["nndl"] == nndl.__version__ and env["numpy"] == np.__version__ and env["python"]
    h = record["history"]
    for key in (
        "training_cost",
        "evaluation_cost",
        "training_accuracy",
        "evaluation_accuracy",
        "epoch_seconds",
        "gradient_norms",
    ):
        assert len(h[key]) == 2, key
    assert all(t > 0 for t in h["epoch_seconds"])

    # The saved model is the one that scored the last recorded accuracy.
    from nndl.data import load_digits

    test = load_digits().test
    model = nndl.load(folder / "model.npz")
    assert model.accuracy(test.X, test.y) == h["evaluation_accuracy"][-1]
    assert f"{100 * h['evaluation_accuracy'][-1] / 300:.2f} %" in out


def test_config_file_with_options_overriding_it(capsys, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'data = "digits"\nsizes = [64, 20, 10]\neta = 0.1\nmini-batch-size = 20\n'
        "epochs = 5\nlmbda = 1.0\nseed = 7\n"
    )
    code, _, err = cli(
        capsys,
        "train",
        "--config",
        config,
        "--epochs",
        "1",
        "--seed",
        "8",
        "--no-plots",
        "-o",
        tmp_path / "r",
    )
    assert code == 0, err
    s = read_history(tmp_path / "r")["settings"]
    assert (s["sizes"], s["eta"], s["mini_batch_size"], s["lmbda"]) == ([64, 20, 10], 0.1, 20, 1.0)
    assert (s["epochs"], s["seed"]) == (1, 8)  # the options win


def test_a_config_table_named_train_is_read_too(capsys, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        '[train]\ndata = "digits"\ntraining_size = 200\nepochs = 1\ncost = "quadratic"\n'
    )
    code, _, err = cli(capsys, "train", "--config", config, "--no-plots", "-o", tmp_path / "r")
    assert code == 0, err
    assert read_history(tmp_path / "r")["network"]["cost"] == "quadratic"


@pytest.mark.parametrize(
    "options, network",
    [
        (["--cost", "log-likelihood"], {"output": "softmax", "cost": "log-likelihood"}),
        (["--hidden", "tanh", "--init", "large"], {"hidden": "tanh", "init": "large"}),
        (["--hidden", "relu", "--eta", "0.05"], {"hidden": "relu"}),
        (["--dtype", "float32"], {"dtype": "float32"}),
        (["--dropout", "0.5", "--sizes", "64,40,10"], {"dropout": 0.5, "sizes": [64, 40, 10]}),
        (["--momentum", "0.5", "--eta", "0.1"], {}),
        (["--lmbda", "0.5", "--regularization", "l1"], {}),
        (["--expand", "1"], {}),
        (["--evaluate-on", "validation", "--eta-schedule", "1"], {}),
    ],
)
def test_training_options_are_used_and_recorded(capsys, tmp_path, options, network):
    code, _, err = cli(capsys, "train", *SMALL, *options, "-o", tmp_path / "r")
    assert code == 0, err
    record = read_history(tmp_path / "r")
    for key, value in network.items():
        assert record["network"][key] == value
    given = dict(zip(options[::2], options[1::2]))
    if "--expand" in given:
        assert record["data"]["n_training"] == 600  # the 300 images and one copy of each
    if "--momentum" in given:
        assert record["settings"]["momentum"] == 0.5
    if "--evaluate-on" in given:
        assert (
            record["data"]["n_evaluation"] == 300 and record["data"]["evaluate_on"] == "validation"
        )
    assert nndl.load(tmp_path / "r" / "model.npz").dtype.name == record["network"]["dtype"]


def test_early_stopping_ends_the_run_and_says_so(capsys, tmp_path):
    # With a tiny eta the accuracy cannot improve: one epoch without improvement stops the run.
    code, out, err = cli(
        capsys,
        "train",
        *DIGITS,
        "--epochs",
        "30",
        "--eta",
        "1e-9",
        "--early-stopping",
        "1",
        "--no-plots",
        "-o",
        tmp_path / "r",
    )
    assert code == 0, err
    record = read_history(tmp_path / "r")
    assert record["status"] == "early-stopping" and record["epochs_completed"] == 2
    assert "(early-stopping)" in out


def test_same_seed_same_weights_other_seed_other_weights(capsys, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli(capsys, "train", *SMALL, "--seed", seed, "-o", tmp_path / name)[0] == 0
    assert_same_weights(tmp_path / "a" / "model.npz", tmp_path / "b" / "model.npz")
    assert not np.array_equal(
        weights(tmp_path / "a" / "model.npz")[0], weights(tmp_path / "c" / "model.npz")[0]
    )


def test_resume_with_more_epochs_equals_one_longer_run(capsys, tmp_path):
    assert cli(capsys, "train", *SMALL, "-o", tmp_path / "short")[0] == 0
    code, _, err = cli(capsys, "train", "--resume", tmp_path / "short", "--epochs", "4")
    assert code == 0, err
    assert cli(capsys, "train", *SMALL, "--epochs", "4", "-o", tmp_path / "long")[0] == 0
    assert_same_weights(tmp_path / "short" / "model.npz", tmp_path / "long" / "model.npz")
    short, long = read_history(tmp_path / "short"), read_history(tmp_path / "long")
    assert short["history"]["evaluation_accuracy"] == long["history"]["evaluation_accuracy"]
    assert [s["epoch"] for s in short["sessions"]] == [0, 2]


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(
    capsys, tmp_path
):
    run = tmp_path / "r"
    code, _, err = cli(
        capsys, "train", *DIGITS, "--epochs", "5", "--eta", "100", "--no-plots", "-o", run
    )
    assert code == 1
    assert_one_error_line(err, "diverged", "try a smaller eta than 100", "checkpoint")
    record = read_history(run)
    assert record["status"] == "diverged" and "smaller eta" in record["message"]
    net, settings, state = load_checkpoint(run / "checkpoint.npz")
    assert settings.eta == 100 and state["epoch"] == record["epochs_completed"]
    assert all(np.all(np.isfinite(w)) for w in net.weights)
    assert not (run / "model.npz").exists()
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 1
    assert_one_error_line(err, "diverged", "smaller --eta")


def test_weights_that_become_infinite_are_a_divergence_too(capsys, tmp_path):
    code, _, err = cli(
        capsys, "train", *SMALL, "--hidden", "relu", "--eta", "1e300", "-o", tmp_path / "r"
    )
    assert code == 1
    assert_one_error_line(err, "NaN or infinite", "smaller eta")
    assert "RuntimeWarning" not in err


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "argv, status, fragments",
    [
        (["--cost", "cubic"], 2, ["unknown cost 'cubic'", "cross-entropy"]),
        (["--hidden", "step"], 2, ["unknown hidden"]),
        (["--sizes", "784,30,10"], 2, ["does not fit the data", "64 inputs", "--sizes 64,30,10"]),
        (["--sizes", "64,30,5"], 2, ["output layer has 5 neurons"]),
        (["--sizes", "64,thirty,10"], 2, ["--sizes must be whole numbers"]),
        (["--sizes", "64"], 2, ["at least two layers"]),
        (["--eta", "-0.5"], 2, ["--eta must be a positive number"]),
        (["--eta", "nan"], 2, ["--eta must be a positive number"]),
        (["--lmbda", "-1"], 2, ["--lmbda"]),
        (["--epochs", "-1"], 2, ["--epochs must be at least 0"]),
        (["--mini-batch-size", "0"], 2, ["--mini-batch-size"]),
        (["--dropout", "1.5"], 2, ["--dropout"]),
        (["--momentum", "1"], 2, ["--momentum"]),
        (["--training-size", "99999"], 2, ["only 1,197 training examples"]),
        (["--evaluate-on", "training"], 2, ["test, validation"]),
        (["--eta", "fast"], 2, ["--eta", "invalid float value"]),
        (["--bogus"], 2, ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_options_give_one_line_and_a_status(capsys, tmp_path, argv, status, fragments):
    code, _, err = cli(capsys, "train", *DIGITS, *argv, "-o", tmp_path / "r")
    assert code == status
    assert_one_error_line(err, *fragments)
    assert not (tmp_path / "r" / "history.json").exists()


@pytest.mark.parametrize(
    "content, fragments",
    [
        (None, ["no such file"]),
        ("eta = = 1", ["not valid TOML"]),
        ("learning_rate = 0.1", ["unknown setting 'learning_rate'"]),
        ('eta = "fast"', ["eta must be a number"]),
        ("sizes = 30", ["sizes must be a list of whole numbers"]),
        ('cost = "cubic"', ["unknown cost 'cubic'"]),
        ("epochs = -3", ["--epochs must be at least 0"]),
    ],
)
def test_bad_config_files_give_one_line(capsys, tmp_path, content, fragments):
    config = tmp_path / "c.toml"
    if content is not None:
        config.write_text(content)
    code, _, err = cli(capsys, "train", *DIGITS, "--config", config, "-o", tmp_path / "r")
    assert code == 2
    assert_one_error_line(err, *fragments)


def test_data_that_is_neither_a_name_nor_a_path_is_a_usage_error(capsys, tmp_path):
    """Issue 12, item 8: an explicit option that cannot be honoured is a usage error (2)."""
    code, _, err = cli(capsys, "train", "--data", tmp_path / "nowhere.npz", "-o", tmp_path / "r")
    assert code == 2
    assert_one_error_line(err, "nowhere.npz: not a data set name", "no such file or folder")
    code, _, err = cli(capsys, "train", "--data", "mnst", "-o", tmp_path / "r")
    assert code == 2
    assert_one_error_line(err, "--data mnst", "did you mean mnist?")
    assert not (tmp_path / "r").exists()


def test_run_folder_and_resume_errors(capsys, tmp_path):
    run = tmp_path / "r"
    assert cli(capsys, "train", *SMALL, "-o", run)[0] == 0
    code, _, err = cli(capsys, "train", *SMALL, "-o", run)
    assert code == 2
    assert_one_error_line(err, "already holds a run", f"--resume {run}")
    code, _, err = cli(capsys, "train", "--resume", run, "--eta", "0.1")
    assert code == 2
    assert_one_error_line(err, "only --epochs and --data-dir", "--eta")
    code, _, err = cli(capsys, "train", "--resume", run)
    assert code == 2
    assert_one_error_line(err, "completed 2 of 2 epochs", "--epochs N")
    code, _, err = cli(capsys, "train", "--resume", tmp_path / "missing")
    assert code == 2
    assert_one_error_line(err, "no such run folder")
    (run / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3")
    assert code == 1
    assert_one_error_line(err, "checkpoint.npz")
    (run / "history.json").write_text("{")
    code, _, err = cli(capsys, "train", "--resume", run, "--epochs", "3")
    assert code == 1
    assert_one_error_line(err, "history.json", "not valid JSON")


def test_traceback_option_reraises(tmp_path):
    with pytest.raises(UsageError, match="--eta"):
        main(["train", *DIGITS, "--eta", "-1", "--traceback", "-o", str(tmp_path / "r")])


# ---------------------------------------------------------------------- real processes


def nndl_executable() -> str:
    """The installed console script (beside this Python, else on PATH)."""
    beside = Path(sys.executable).with_name("nndl")
    found = str(beside) if beside.exists() else shutil.which("nndl")
    if found is None:
        pytest.skip("the nndl entry point is not installed")
    return found


def test_the_installed_entry_point_and_python_m_nndl(tmp_path):
    exe = nndl_executable()
    r = subprocess.run([exe, "--help"], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "train" in r.stdout and "evaluate" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "nndl", "--version"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.strip() == f"nndl {nndl.__version__}"
    r = subprocess.run(
        [exe, "train", "--cost", "cubic"], check=False, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    expected = "nndl: error: --cost: unknown cost 'cubic'; choose from quadratic, cross-entropy, "
    assert r.stderr.strip().splitlines() == [expected + "log-likelihood"]


def test_building_the_parser_imports_nothing_heavy():
    # `nndl --help` must stay fast: no matplotlib, Pillow, SymPy or scikit-learn behind it.
    code = (
        "import sys, nndl.cli; nndl.cli.build_parser(); "
        "print(sorted(m for m in ('matplotlib', 'PIL', 'sympy', 'sklearn') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


# About 0.1 s per epoch: long enough for a signal to land inside an epoch, short enough for CI.
INTERRUPTIBLE = [
    "train",
    *DIGITS,
    "--sizes",
    "64,400,10",
    "--mini-batch-size",
    "1",
    "--epochs",
    "8",
    "--seed",
    "5",
    "--no-plots",
    "-q",
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ref") / "run"
    assert main([*INTERRUPTIBLE, "-o", str(folder)]) == 0
    return folder


def wait_for_epochs(
    proc: subprocess.Popen, folder: Path, epochs: int, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if read_history(folder)["epochs_completed"] >= epochs:
                return
        except nndl.ModelFileError:
            pass  # not written yet
        time.sleep(0.005)
    pytest.fail(f"the child process ended or stalled before epoch {epochs}: {proc.communicate()}")


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_signal_stops_training_and_resume_is_bit_identical(tmp_path, uninterrupted, sig):
    exe = nndl_executable()
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [exe, *INTERRUPTIBLE, "-o", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wait_for_epochs(proc, run, 1)
    time.sleep(0.01)  # most likely inside an epoch now
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    record = read_history(run)
    assert record["epochs_completed"] < 8, "the run finished before the signal"
    if sig == signal.SIGKILL:  # no chance to clean up: the last complete files must remain
        assert proc.returncode == -signal.SIGKILL
        assert record["status"] == "running"
    else:
        assert proc.returncode == 130, err
        assert record["status"] == "interrupted"
        assert f"nndl train --resume {run}" in err and "Traceback" not in err
        assert "checkpoint:" in out
    _, _, state = load_checkpoint(run / "checkpoint.npz")
    assert state["epoch"] == record["epochs_completed"]
    assert not (run / "model.npz").exists()

    r = subprocess.run(
        [exe, "train", "--resume", str(run)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert not list(run.glob(".*.tmp"))
    assert_same_weights(run / "model.npz", uninterrupted / "model.npz")
    h, ref = read_history(run)["history"], read_history(uninterrupted)["history"]
    for key in ("training_cost", "evaluation_accuracy", "gradient_norms", "eta"):
        assert h[key] == ref[key], key


# ---------------------------------------------------------------------- MNIST


@pytest.mark.skipif(
    not os.environ.get("NNDL_DATA"), reason="NNDL_DATA (the MNIST folder) is not set"
)
def test_auto_finds_mnist_through_nndl_data(capsys, tmp_path):
    code, out, err = cli(
        capsys, "train", "--epochs", "1", "--training-size", "10000", "-o", tmp_path / "r"
    )
    assert code == 0, err
    record = read_history(tmp_path / "r")
    assert record["data"]["name"] == "mnist" and record["network"]["sizes"] == [784, 30, 10]
    assert len(record["data"]["checksums"]) == 4
    assert record["best_evaluation_accuracy"] > 0.85
    assert "MNIST" in out
