"""Issue 13 kinds 4-6 and issue 12 item 11: run folders can always be finished, two
processes never write one folder, per-seed results merge, the run record tells the truth,
and a model file never chooses what the machine reads."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import test_data_support as support

import nndl
from nndl.cli import main
from nndl.runs import load_checkpoint, read_history

http_server, isolate = support.http_server, support.isolate
RUN = ["--data", "digits", "--training-size", "100", "--epochs", "2", "--momentum", "0.5",
       "--no-plots"]


class _Kill(BaseException):
    """A simulated kill: nothing after it runs (it is not an Exception)."""


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def params(path: Path) -> list[np.ndarray]:
    net = nndl.load(path)
    return net.weights + net.biases


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, int]:
    """An uninterrupted run, and how many files it renamed into place."""
    folder = tmp_path_factory.mktemp("ref") / "run"
    count = [0]
    real = os.replace

    def counting(src, dst):
        count[0] += 1
        return real(src, dst)

    os.replace = counting
    try:
        assert main([*map(str, ["-q", "train", *RUN, "-o", folder])]) == 0
    finally:
        os.replace = real
    return folder, count[0]


def interrupt_at(monkeypatch, n: int, kill: bool):
    """Make the n-th rename of a finished file fail: a kill (leaving the temporary file,
    as a killed process does) or a full disk."""
    real = os.replace
    seen = [0]

    def replace(src, dst):
        seen[0] += 1
        if seen[0] == n:
            if kill:
                shutil.copy(src, str(src)[:-4] + "KILLED.tmp")  # survives the cleanup below
                raise _Kill()
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("kill", [True, False], ids=["kill", "full-disk"])
def test_every_kill_point_and_full_disk_leave_a_run_that_resume_finishes(
        capsys, tmp_path, monkeypatch, reference, kill):
    ref_folder, writes = reference
    assert writes >= 8  # history, checkpoint, history, 2 x (checkpoint, history), model, ...
    # every kill point; a full disk at the first checkpoint, mid-run and at the model
    points = range(1, writes + 1) if kill else (2, 4, writes - 2)
    for n in points:
        folder = tmp_path / f"run{n}"
        with monkeypatch.context() as m:
            interrupt_at(m, n, kill)
            try:
                code = main(["-q", "train", *RUN, "-o", str(folder)])
            except _Kill:
                code = None
        out, err = capsys.readouterr()
        if not kill:  # the full disk: one line naming the file it could not write
            assert code == 1 and err.count("\n") == 1 and "No space left on device" in err, err
            assert f"cannot write {folder}" in err, err
        code, _, err = cli(capsys, "-q", "train", "--resume", folder)
        if n == 1:  # killed before its first file: nothing to resume, and it says so
            assert code == 2 and f"start it again with the command that started it, all its options (--net, --config ...) and " \
                f"-o {folder}" in err, err  # not "nndl train -o RUN": a --net run would become chapter 3's
            code, _, err = cli(capsys, "-q", "train", *RUN, "-o", folder)
        assert code == 0, (n, err)
        for a, b in zip(params(folder / "model.npz"), params(ref_folder / "model.npz"), strict=True):
            np.testing.assert_array_equal(a, b)
        record = read_history(folder)
        assert record["status"] == "finished" and record["files"]["model"] == "model.npz"
        assert record["history"]["evaluation_accuracy"] == \
            read_history(ref_folder)["history"]["evaluation_accuracy"]
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
        assert not leftovers, (n, leftovers)


def test_a_finished_run_is_still_refused(capsys, reference):
    code, _, err = cli(capsys, "train", "--resume", reference[0])
    assert code == 2 and "has completed 2 of 2 epochs" in err


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from filelock import FileLock
    lock = FileLock(sys.argv[1]); lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def locked_by_another_process(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(folder / ".nndl.lock")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield folder
    proc.stdin.close()
    proc.wait(timeout=10)


def test_a_second_process_is_refused(capsys, locked_by_another_process):
    folder = locked_by_another_process
    code, _, err = cli(capsys, "-q", "train", *RUN, "-o", folder)
    assert code == 1 and "in use by another nndl process" in err and err.count("\n") == 1
    assert not (folder / "history.json").exists()
    (folder / "history.json").write_text("{}")  # whatever it holds: not read while locked
    code, _, err = cli(capsys, "train", "--resume", folder)
    assert code == 1 and "in use by another nndl process" in err


def test_two_trains_into_one_folder_at_once(tmp_path):
    """Real processes: exactly one trains, the other is refused; the folder is consistent."""
    folder = tmp_path / "same"
    argv = [sys.executable, "-m", "nndl", "-q", "train", "--data", "digits", "--epochs", "3",
            "--no-plots", "-o", str(folder)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    refused = next(err for code, err in results if code)
    assert "in use by another nndl process" in refused or "already holds a run" in refused
    net = load_checkpoint(folder / "checkpoint.npz")[0]
    for a, b in zip(net.weights, nndl.load(folder / "model.npz").weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_per_seed_results_are_merged_not_lost(tmp_path):
    from nndl.experiments import runner
    from nndl.experiments.registry import get

    exp_id = next(e for e in ("ch3-overfit", "ch1-sgd") if _exists(e))
    exp = get(exp_id)
    cfg = {"a": 1}
    path = tmp_path / exp.id / "result.json"
    base = {"id": exp.id, "quick": True, "config": cfg, "seeds": {}, "once": None,
            "timings": {"seeds": {}, "once": None}}
    mine = json.loads(json.dumps(base))
    mine["seeds"]["0"] = {"accuracy": 0.5}
    theirs = json.loads(json.dumps(base))
    theirs["seeds"]["1"] = {"accuracy": 0.6}
    runner._save(path, theirs, exp, cfg, True)  # the other process finished seed 1 meanwhile
    runner._save(path, mine, exp, cfg, True)
    assert sorted(json.loads(path.read_text())["seeds"]) == ["0", "1"]


def _exists(exp_id: str) -> bool:
    from nndl.experiments.registry import get

    try:
        get(exp_id)
        return True
    except Exception:  # noqa: BLE001
        return False


# --- checkpoints that lie -------------------------------------------------------------------


def edit_checkpoint(path: Path, edit) -> None:
    with np.load(path) as z:
        members = {k: z[k] for k in z.files}
    meta = json.loads(str(members["meta"]))
    edit(meta, members)
    members["meta"] = np.array(json.dumps(meta))
    np.savez(path, **members)


@pytest.mark.parametrize("edit, match", [
    (lambda meta, m: (meta["extra"]["state"].update(batch=3), m.update(perm=np.arange(100) + 5)),
     "not a permutation"),
    (lambda meta, m: (meta["extra"]["state"].update(batch=3), m.pop("perm", None)),
     "holds no permutation"),
    (lambda meta, m: meta["extra"]["settings"].update(sizes=[64, 31, 10]), "sizes"),
    (lambda meta, m: meta["extra"]["settings"].update(cost="quadratic"), "cost"),
    (lambda meta, m: meta["extra"]["state"].update(rng_state={"bit_generator": "PCG64"}),
     "rng_state"),
    (lambda meta, m: meta["extra"]["state"]["history"].update(training_cost=["x"]),
     "training_cost"),
])
def test_a_checkpoint_that_lies_is_refused(capsys, tmp_path, reference, edit, match):
    folder = tmp_path / "run"
    shutil.copytree(reference[0], folder)
    (folder / "model.npz").unlink()
    edit_checkpoint(folder / "checkpoint.npz", edit)
    code, _, err = cli(capsys, "-q", "train", "--resume", folder)
    assert code == 1 and match in err and err.count("\n") == 1, err


# --- issue 12 item 11: the run record tells the truth -------------------------------------


def test_after_divergence_the_record_names_no_model_and_evaluate_refuses_the_untrained(
        capsys, tmp_path):
    folder = tmp_path / "div"
    code, _, err = cli(capsys, "train", "--data", "digits", "--epochs", "5", "--eta", "100",
                       "-o", folder)
    assert code == 1 and "diverged" in err
    record = read_history(folder)
    assert record["files"]["model"] is None and not (folder / "model.npz").exists()
    assert record["files"]["plots"] == sorted(p.name for p in folder.glob("*.png")) or \
        set(record["files"]["plots"]) == {p.name for p in folder.glob("*.png")}
    code, _, err = cli(capsys, "evaluate", folder, "--no-plots")
    if record["epochs_completed"] == 0:
        assert code == 1 and "untrained network" in err, err
    else:
        assert code == 0 and "no model.npz" in err, err


def test_plots_written_are_listed(capsys, tmp_path):
    folder = tmp_path / "p"
    assert cli(capsys, "train", "--data", "digits", "--epochs", "1", "-o", folder)[0] == 0
    plots = read_history(folder)["files"]["plots"]
    assert plots and all((folder / p).is_file() for p in plots)


def test_interrupted_in_epoch_0_says_where(capsys, tmp_path, monkeypatch):
    from nndl.commands import train

    class StopAfter3:
        """Stop (as Ctrl-C does) after the third mini-batch."""

        calls = 0
        name = "SIGINT"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        @property
        def signum(self):
            self.calls += 1
            return 2 if self.calls >= 3 else None

    monkeypatch.setattr(train, "_StopFlag", StopAfter3)
    code, out, _ = cli(capsys, "train", "--data", "digits", "--epochs", "4", "--no-plots",
                       "-o", tmp_path / "i")
    assert code == train.INTERRUPTED
    assert "0 of 4 epochs complete, interrupted in epoch 0 after mini-batch 3 of 120" in out, out


# --- kind 6: a model file does not choose what the machine reads ---------------------------


def test_evaluate_ignores_data_paths_named_in_a_model_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bait = tmp_path / "bait.npz"
    np.savez(bait, x=np.zeros((70, 16)), y=np.arange(70) % 10)
    from nndl.io import save

    net = nndl.Network([16, 10], rng=np.random.default_rng(0))
    save(net, tmp_path / "m.npz", metadata={"settings": {"data": str(bait)},
                                            "data": {"name": "../../../etc"}})
    opened = []
    real_open = os.open

    def spy(path, *a, **k):
        opened.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", spy)
    code, _, err = cli(capsys, "evaluate", "m.npz", "--no-plots")
    assert code == 2 and "pass --data" in err and "never reads a data path" in err
    assert not any("bait" in p for p in opened)
    code, out, _ = cli(capsys, "evaluate", "m.npz", "--data", str(bait), "--no-plots")
    assert code == 0 and "bait" in out  # the data the user names, and it says which


def test_evaluate_never_downloads_for_a_model_file(capsys, tmp_path, monkeypatch, http_server):
    """A 784-input model implies MNIST; without MNIST here, evaluate says so, and no mirror
    is contacted (only an explicit --data mnist may download)."""
    monkeypatch.delenv("NNDL_DATA", raising=False)
    monkeypatch.setenv("NNDL_MIRRORS", http_server.url("missing"))
    nndl.Network([784, 10], rng=np.random.default_rng(0)).save(tmp_path / "m.npz")
    code, _, err = cli(capsys, "evaluate", tmp_path / "m.npz", "--no-plots")
    errors = [line for line in err.splitlines() if line.startswith("nndl: error:")]
    assert code == 1 and len(errors) == 1 and "downloading is off" in errors[0], err
    assert errors[0].endswith("to download it, pass --data mnist")
    assert http_server.hits == []


SAVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from nndl.experiments import runner
    from nndl.experiments.registry import REGISTRY
    exp = next(iter(REGISTRY.values()))
    path, first = Path(sys.argv[1]), int(sys.argv[2])
    cfg = {"a": 1}
    result = {"id": exp.id, "quick": True, "config": cfg, "seeds": {}, "once": None,
              "timings": {"seeds": {}, "once": None}}
    for seed in range(first, first + 25):
        result["seeds"][str(seed)] = {"accuracy": seed}
        runner._save(path, result, exp, cfg, True)
""")


def test_two_processes_saving_seeds_into_one_result_lose_none(tmp_path):
    path = tmp_path / "exp" / "result.json"
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(first)])
             for first in (0, 100)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    seeds = sorted(int(s) for s in json.loads(path.read_text())["seeds"])
    assert seeds == [*range(25), *range(100, 125)]


def test_a_kill_while_drawing_a_plot_leaves_no_temporary_after_resume(
        capsys, tmp_path, monkeypatch, reference):
    folder = tmp_path / "plots"
    real = os.replace

    def replace(src, dst):  # killed while renaming the first plot into place
        if str(dst).endswith(".png"):
            shutil.copy(src, str(src)[:-4] + "KILLED.tmp")
            raise _Kill()
        return real(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace)
        with pytest.raises(_Kill):
            main(["-q", "train", *[a for a in RUN if a != "--no-plots"], "-o", str(folder)])
    capsys.readouterr()
    assert [p for p in folder.glob(".*.png.*.tmp")]  # what a killed process leaves
    code, _, err = cli(capsys, "-q", "train", "--resume", folder)
    assert code == 0, err
    assert not list(folder.glob(".*.tmp"))
    for a, b in zip(params(folder / "model.npz"), params(reference[0] / "model.npz"), strict=True):
        np.testing.assert_array_equal(a, b)
    assert set(read_history(folder)["files"]["plots"]) == {p.name for p in folder.glob("*.png")}
