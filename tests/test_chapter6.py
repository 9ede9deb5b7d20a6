"""Chapter 6's experiments (--quick, as CI runs them) and the expanded training set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from nndl.expand_mnist import SHIFTS, expand, expanded_training_data
from nndl.experiments import chapter6
from nndl.experiments.registry import REGISTRY
from nndl.experiments.runner import result_folder, run_experiment


def _have_mnist() -> bool:
    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and (Path(folder) / "train-images-idx3-ubyte.gz").exists()


needs_mnist = pytest.mark.skipif(not _have_mnist(), reason="real MNIST not available (set NNDL_DATA)")


# ------------------------------------------------------------------------- expand_mnist
def book_expand(images: np.ndarray) -> list[np.ndarray]:
    """expand_mnist.py's loop (before its shuffle), for one image at a time: np.roll, then zero."""
    out = []
    for x in images:
        image = x.reshape(28, 28)
        out.append(x)
        for d, axis, index_position, index in [(1, 0, "first", 0), (-1, 0, "first", 27),
                                               (1, 1, "last", 0), (-1, 1, "last", 27)]:
            new_img = np.roll(image, d, axis)
            if index_position == "first":
                new_img[index, :] = np.zeros(28)
            else:
                new_img[:, index] = np.zeros(28)
            out.append(new_img.reshape(784))
    return out


def test_expand_equals_expand_mnist_py_up_to_the_shuffle():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 7)
    X, y = expand(images, labels, seed=3)
    perm = np.random.default_rng(3).permutation(35)  # the one shuffle
    ref = book_expand(images)
    for j in range(35):
        np.testing.assert_array_equal(X[j], ref[perm[j]])
        assert y[j] == labels[perm[j] // 5]
    assert len(SHIFTS) == 4


def test_expanded_set_is_cached_and_deterministic(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    X = (rng.integers(0, 256, (20, 784)) / 255).astype(np.float32)
    y = rng.integers(0, 10, 20)
    a, ya = expanded_training_data((X, y), seed=0, cache=tmp_path)
    assert a.shape == (100, 784) and a.dtype == np.float32 and ya.shape == (100,)
    originals = {row.tobytes() for row in X}
    assert sum(row.tobytes() in originals for row in a) >= 20  # every original image is in it
    monkeypatch.setattr("nndl.expand_mnist.expand", lambda *a, **k: pytest.fail("rebuilt instead of cached"))
    b, yb = expanded_training_data((X, y), seed=0, cache=tmp_path)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    monkeypatch.undo()
    for f in (tmp_path / "expanded").glob("*-images.npy"):
        f.write_bytes(b"garbage")  # a corrupt cache file is rebuilt
    c, _ = expanded_training_data((X, y), seed=0, cache=tmp_path)
    np.testing.assert_array_equal(a, c)
    d, _ = expanded_training_data((X, y), seed=1, cache=tmp_path)
    assert not np.array_equal(a, d)  # another shuffle
    with pytest.raises(ValueError, match="k/255"):
        expanded_training_data((X + 0.001, y), cache=tmp_path)


# ------------------------------------------------------------------------- the experiments
def test_configs_are_the_book_table():
    c = {i: REGISTRY[i].config for i in REGISTRY if i.startswith("ch6-")}
    assert list(c) == ["ch6-fc", "ch6-conv1", "ch6-conv2", "ch6-relu", "ch6-expanded", "ch6-extra-fc",
                       "ch6-dropout", "ch6-ensemble"]
    assert all(x.mini_batch_size == 10 and x.n_train == 50_000 for x in c.values())
    assert [(x.eta, x.lmbda, x.epochs) for x in c.values()] == [
        (0.1, 0.0, 60), (0.1, 0.0, 60), (0.1, 0.0, 60), (0.03, 0.1, 60), (0.03, 0.1, 60), (0.03, 0.1, 60),
        (0.03, 0.0, 40), (0.03, 0.0, 40)]
    assert [x.expanded for x in c.values()] == [False] * 4 + [True] * 4
    assert c["ch6-ensemble"].ensemble == 5
    books = {i: m.book for i in c for m in REGISTRY[i].metrics if m.book is not None}
    assert books == {"ch6-fc": 97.80, "ch6-conv1": 98.78, "ch6-conv2": 99.06, "ch6-expanded": 99.37}


@needs_mnist
def test_quick_relu_net_learns_and_records_per_epoch_times(tmp_path):
    r = run_experiment("ch6-relu", (0,), quick=True, out_dir=tmp_path)
    h = r["seeds"]["0"]["history"]
    assert len(h["validation_accuracy"]) == len(h["test_accuracy"]) == len(h["epoch_seconds"]) == 2
    assert h["test_accuracy_at_best"] == h["test_accuracy"][h["best_epoch"]]
    assert chapter6.test_at_best(r["seeds"]["0"]) > 40.0  # far above chance (10 %) after 2 quick epochs
    assert np.asarray(h["first_layer_filters"]).shape == (20, 1, 5, 5)
    folder = result_folder(tmp_path, "ch6-relu", quick=True)
    assert {"accuracy.png", "filters.png"} <= {p.name for p in folder.iterdir()}
    assert (folder / "net-seed0.npz").exists() and not list(folder.glob("checkpoint-*"))


def _run_ch6_fc_cut_after_its_first_epoch(monkeypatch, out_dir) -> None:
    """The quick ch6-fc into ``out_dir``, interrupted (KeyboardInterrupt) once its first epoch's
    checkpoint is written."""
    from nndl.network3 import Trainer3

    save = Trainer3._save_checkpoint

    def interrupt_after_first_epoch(self):
        save(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer3, "_save_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_experiment("ch6-fc", (0,), quick=True, out_dir=out_dir, figures=False)


@needs_mnist
def test_interrupted_run_resumes_at_the_last_finished_epoch(tmp_path, monkeypatch):
    clean = run_experiment("ch6-fc", (0,), quick=True, out_dir=tmp_path / "clean", figures=False)
    _run_ch6_fc_cut_after_its_first_epoch(monkeypatch, tmp_path / "cut")
    assert (result_folder(tmp_path / "cut", "ch6-fc", quick=True) / "checkpoint-seed0.npz").exists()
    monkeypatch.undo()
    resumed = run_experiment("ch6-fc", (0,), quick=True, out_dir=tmp_path / "cut", figures=False)
    a, b = clean["seeds"]["0"]["history"], resumed["seeds"]["0"]["history"]
    assert a["validation_accuracy"] == b["validation_accuracy"] and a["training_cost"] == b["training_cost"]
    assert len(b["epoch_seconds"]) == 2


@needs_mnist
def test_a_resumed_runs_compute_time_counts_the_sessions_before_the_resume(tmp_path, monkeypatch):
    import types

    from nndl import network3

    clock = iter(range(0, 10**9, 1000))  # the first session's clock: 1000 s between readings
    monkeypatch.setattr(network3, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    _run_ch6_fc_cut_after_its_first_epoch(monkeypatch, tmp_path)
    monkeypatch.undo()
    resumed = run_experiment("ch6-fc", (0,), quick=True, out_dir=tmp_path, figures=False)
    history = resumed["seeds"]["0"]["history"]
    assert history["epoch_seconds"][0] == 1000.0  # the first session's epoch, kept in the checkpoint
    assert resumed["timings"]["seeds"]["0"] >= history["seconds"] >= 2000.0  # its epoch and evaluation


@needs_mnist
def test_quick_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))
    r = run_experiment("ch6-expanded", (0,), quick=True, out_dir=tmp_path, figures=False)
    h = r["seeds"]["0"]["history"]
    assert h["n_training"] == 1000 and r["config"]["expanded"]  # 200 images x 5
    assert json.loads((result_folder(tmp_path, "ch6-expanded", quick=True) / "result.json").read_text())["quick"] is True


@needs_mnist
def test_ensemble_is_the_majority_vote(tmp_path, monkeypatch):
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))
    cfg = chapter6.Ch6Config("ch6-dropout", True, 0.03, 0.0, 1, n_train=20, n_evaluation=100, ensemble=3)
    votes = []
    from nndl.network3 import Network

    predict = Network.predict

    def spy(self, X):
        p = predict(self, X)
        votes.append(p)
        return p

    monkeypatch.setattr(Network, "predict", spy)
    r = chapter6.run(cfg, 0, tmp_path)
    votes = votes[2::3]  # each net: validation and test accuracy after its epoch, then the vote
    assert len(r["nets"]) == 3 and len(votes) == 3
    y = chapter6._data(cfg)[2][1]
    counts = np.stack([np.bincount(v, minlength=10) for v in np.stack(votes, axis=1)])
    assert r["ensemble_test_accuracy"] == np.mean(np.argmax(counts, axis=1) == y)
    assert not list(tmp_path.glob("checkpoint-*"))


@needs_mnist
def test_interrupted_ensemble_resumes_without_training_finished_networks_again(tmp_path, monkeypatch):
    import dataclasses

    from nndl.network3 import Trainer3

    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))
    cfg = chapter6.Ch6Config("ch6-dropout", True, 0.03, 0.0, 1, n_train=20, n_evaluation=100, ensemble=3)
    clean = chapter6.run(cfg, 0, tmp_path / "clean")
    save, saves = Trainer3._save_checkpoint, []

    def count_and_cut_in_the_second_network(self):
        save(self)
        saves.append(self.checkpoint.name)
        if self.checkpoint.name == "checkpoint-seed0-net1.npz":
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer3, "_save_checkpoint", count_and_cut_in_the_second_network)
    with pytest.raises(KeyboardInterrupt):
        chapter6.run(cfg, 0, tmp_path / "cut")
    assert sorted(p.name for p in (tmp_path / "cut").glob("checkpoint-*")) == [
        "checkpoint-seed0-net0.npz", "checkpoint-seed0-net1.npz"]
    monkeypatch.setattr(Trainer3, "_save_checkpoint", lambda self: (save(self), saves.append(self.checkpoint.name)))
    resumed = chapter6.run(cfg, 0, tmp_path / "cut")
    assert saves == ["checkpoint-seed0-net0.npz", "checkpoint-seed0-net1.npz", "checkpoint-seed0-net2.npz"]
    keys = ("validation_accuracy", "test_accuracy", "training_cost")
    assert [[n[k] for k in keys] for n in resumed["nets"]] == [[n[k] for k in keys] for n in clean["nets"]]
    assert resumed["ensemble_test_accuracy"] == clean["ensemble_test_accuracy"]
    assert not list((tmp_path / "cut").glob("checkpoint-*"))
    single = chapter6.run(dataclasses.replace(cfg, ensemble=1), 0, tmp_path / "single")["history"]
    assert [single[k] for k in keys] == [clean["nets"][0][k] for k in keys]  # net 0 is ch6-dropout's
