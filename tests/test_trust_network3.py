"""Chapter-6 run folders and model files keep chapter 3's promises (issue 13, findings B1 A, B, C).

A locked run folder, ``--resume`` from every kill point, a schema for what ``--resume``
reads, and the layered model file read through ``nndl._validate``.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl.cli import main
from nndl.errors import ModelFileError
from test_trust_runs import locked_by_another_process  # noqa: F401 - a fixture


def _have_mnist() -> bool:
    folder = os.environ.get("NNDL_DATA")
    return bool(folder) and (Path(folder) / "train-images-idx3-ubyte.gz").exists()


pytestmark = pytest.mark.skipif(not _have_mnist(), reason="real MNIST not available (set NNDL_DATA)")
RUN = ("train", "--net", "ch6-fc", "--training-size", "200", "--epochs", "1", "--no-plots")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch6") / "r6"
    assert main(["-q", *RUN, "-o", str(folder)]) == 0
    return folder


def _copy(finished, tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(finished, folder)
    return folder


def test_a_locked_chapter6_folder_is_refused(capsys, locked_by_another_process):
    folder = locked_by_another_process
    code, _, err = cli(capsys, "-q", *RUN, "-o", folder)
    assert code == 1 and "in use by another nndl process" in err and err.count("\n") == 1
    assert not (folder / "history.json").exists()
    (folder / "history.json").write_text(json.dumps({"format": "nndl-run-network3"}))
    code, _, err = cli(capsys, "train", "--resume", folder)
    assert code == 1 and "in use by another nndl process" in err


def test_killed_before_the_first_checkpoint_starts_again(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    (folder / "model.npz").unlink()
    record = json.loads((folder / "history.json").read_text())
    record.update(status="running", history={})  # as written before the first epoch
    (folder / "history.json").write_text(json.dumps(record))
    (folder / ".checkpoint.npz.x1.tmp").write_bytes(b"")  # a temporary a kill left
    code, _, err = cli(capsys, "train", "--resume", folder, "--no-plots")
    assert code == 0, err
    assert "starting it again" in err
    assert json.loads((folder / "history.json").read_text())["status"] == "finished"
    assert (folder / "model.npz").is_file() and not list(folder.glob(".*.tmp"))


def test_killed_between_model_and_finished_record_is_finished(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    record = json.loads((folder / "history.json").read_text())
    record["status"] = "running"
    (folder / "history.json").write_text(json.dumps(record))
    code, _, err = cli(capsys, "train", "--resume", folder, "--no-plots")
    assert code == 0, err
    after = json.loads((folder / "history.json").read_text())
    assert after["status"] == "finished" and after["history"] == record["history"]
    code, _, err = cli(capsys, "train", "--resume", folder, "--no-plots")
    assert code == 2 and "has completed 1 of 1 epochs" in err


@pytest.mark.parametrize("edit", [
    lambda h: h.update(settings=[1]),
    lambda h: h["settings"].pop("eta"),
    lambda h: h["settings"].update(eta="0.1"),
    lambda h: h["settings"].update(seed=True),
    lambda h: h["settings"].update(extra=1),
    lambda h: h.update(history=[]),
    lambda h: h["history"].update(epoch_seconds=1.5),
    lambda h: h["history"].update(epoch_seconds=["x"]),
    lambda h: h.update(status=7),
    lambda h: h["settings"].update(training_size=1.5),
    lambda h: h["settings"].update(training_size=1),  # less than one mini-batch
    lambda h: h["settings"].update(data_dir=5),
    lambda h: h["settings"].update(expanded="yes"),
])
def test_resume_checks_every_history_field(capsys, finished, tmp_path, edit):
    folder = _copy(finished, tmp_path)
    record = json.loads((folder / "history.json").read_text())
    edit(record)
    (folder / "history.json").write_text(json.dumps(record))
    code, _, err = cli(capsys, "train", "--resume", folder, "--epochs", "2", "--no-plots")
    assert code == 2 and "not a readable chapter-6 run" in err and err.count("\n") == 1, err


def _rewrite(src: Path, dst: Path, **change) -> Path:
    import io

    import numpy as np

    with zipfile.ZipFile(src) as z:
        members = {k: z.read(k) for k in z.namelist()}
    for name, value in change.items():
        if name == "meta":
            meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
            meta.update(value)
            buf = io.BytesIO()
            np.save(buf, np.array(json.dumps(meta)))
            value = buf.getvalue()
        members[name.replace("_npy", ".npy") if name != "meta" else "meta.npy"] = value
    with zipfile.ZipFile(dst, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return dst


def _bad_header(raw: bytes) -> bytes:
    d = bytearray(raw)
    d[20:60] = b"{'descr': '<f4', 'shape': ((((((((((((("
    return bytes(d)


@pytest.mark.parametrize("change, expected", [
    (lambda m: {"b0_npy": b"hello, not a .npy"}, "is not a .npy array"),
    (lambda m: {"w0_npy": _bad_header(m["w0.npy"])}, "not a valid .npy array"),
    (lambda m: {"w0_npy": m["w0.npy"] + bytes(1000)}, "but holds"),  # trailing bytes
    (lambda m: {"meta": {"mini_batch_size": 0}}, "'mini_batch_size' is 0"),
    (lambda m: {"meta": {"mini_batch_size": -5}}, "'mini_batch_size' is -5"),
    (lambda m: {"meta": {"mini_batch_size": 2**40}}, "'mini_batch_size' is 1099511627776"),
    (lambda m: {"meta": {"mini_batch_size": 1.5}}, "'mini_batch_size' is 1.5"),
    (lambda m: {"meta": {"mini_batch_size": "10"}}, "'mini_batch_size' is '10'"),
    (lambda m: {"meta": {"format_version": True}}, "unsupported format version True"),
    (lambda m: {"meta": {"layers": [{"type": ["x"]}]}}, "must be names"),
])
def test_damaged_layered_model_is_one_line(capsys, finished, tmp_path, change, expected):
    with zipfile.ZipFile(finished / "model.npz") as z:
        members = {k: z.read(k) for k in z.namelist()}
    bad = _rewrite(finished / "model.npz", tmp_path / "bad.npz", **change(members))
    png = tmp_path / "one.png"
    from PIL import Image, ImageDraw

    img = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(img).line((50, 10, 50, 90), fill=0, width=8)
    img.save(png)
    code, _, err = cli(capsys, "predict", bad, png)
    assert code == 1 and expected in err and err.count("\n") == 1, err


def _checkpoint_meta(folder: Path, edit) -> None:
    import io

    import numpy as np

    ckpt = folder / "checkpoint.npz"
    shutil.copyfile(folder / "model.npz", ckpt)
    with zipfile.ZipFile(ckpt) as z:
        members = {k: z.read(k) for k in z.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    edit(meta["extra"]["trainer"])
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(ckpt, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)


@pytest.mark.parametrize("edit", [
    lambda t: t["history"].update(epoch_seconds=1.5),
    lambda t: t["history"].update(validation_accuracy="ab"),
    lambda t: t["history"].update(validation_accuracy=[0.5, 0.6]),
    lambda t: t["history"].update(n_training=True),
    lambda t: t.update(history=[]),
    lambda t: t.update(epoch=1.0),
    lambda t: t.update(rng_state={"bit_generator": 5}),
    lambda t: t["settings"].update(eta=9.0),  # contradicts the run's settings
])
def test_resume_checks_every_checkpoint_field(capsys, finished, tmp_path, edit):
    folder = _copy(finished, tmp_path)
    _checkpoint_meta(folder, edit)
    before = (folder / "history.json").read_text()
    code, _, err = cli(capsys, "-q", "train", "--resume", folder, "--epochs", "2", "--no-plots")
    assert code == 1 and "checkpoint.npz: a" in err and err.count("\n") == 1, err
    assert (folder / "history.json").read_text() == before  # the record is left as it was


def test_gradcheck_of_a_chapter6_run_is_one_line(capsys, finished):
    code, _, err = cli(capsys, "gradcheck", "--model", finished)
    assert code == 2 and "a chapter-6 network of layers" in err and err.count("\n") == 1, err




def test_training_size_below_one_mini_batch_is_a_usage_error(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "--net", "ch6-fc", "--training-size", "3", "-o", tmp_path / "r")
    assert code == 2 and "less than one mini-batch" in err, err


def test_resume_fuzz_of_history_and_checkpoint_meta(finished, tmp_path):
    """Seeded mutations of history.json and of the checkpoint's trainer state: nndl's errors only."""
    import contextlib
    import io
    import random

    import fuzz_readers as fz

    rng = random.Random(0)
    escaped = []
    for k in range(40):
        folder = tmp_path / f"c{k}"
        shutil.copytree(finished, folder)
        if k % 2:
            record = fz.mutate_tree(json.loads((folder / "history.json").read_text()), rng)
            (folder / "history.json").write_text(json.dumps(record))
        else:
            def edit(trainer: dict) -> None:
                mutated = fz.mutate_tree(trainer, rng)
                trainer.clear()
                trainer.update(mutated if isinstance(mutated, dict) else {})

            _checkpoint_meta(folder, edit)
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                main(["-q", "train", "--resume", str(folder), "--epochs", "2", "--no-plots"])
        except Exception as exc:  # noqa: BLE001 - main() returns a status for nndl's own errors
            escaped.append(f"{type(exc).__name__}: {exc}")
        shutil.rmtree(folder)
    assert not escaped, escaped[:5]


def test_a_finished_run_trained_further_resumes_from_and_names_model_npz(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    code, _, err = cli(capsys, "train", "--resume", folder, "--epochs", "2", "--no-plots")
    assert code == 0, err
    assert f"resuming from {folder / 'model.npz'} after epoch 0" in err  # was checkpoint.npz, which is not there
    assert len(json.loads((folder / "history.json").read_text())["history"]["epoch_seconds"]) == 2
    assert not (folder / "checkpoint.npz").exists()


def test_a_chapter3_model_in_a_finished_chapter6_run_is_named_as_itself(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    nndl.Network([784, 10], rng=np.random.default_rng(0)).save(folder / "model.npz")
    code, _, err = cli(capsys, "train", "--resume", folder, "--epochs", "5", "--no-plots")
    assert code == 1 and err.count("nndl: error:") == 1
    assert f"{folder / 'model.npz'}: a chapter-3 nndl network, where a chapter-6 (layered) one was expected" in err
    assert "checkpoint.npz" not in err and not (folder / "checkpoint.npz").exists()


def test_each_chapters_reader_says_it_met_the_other_chapters_network(tmp_path):
    from nndl import io, network3

    layered, plain = tmp_path / "layered.npz", tmp_path / "plain.npz"
    network3.book_net("ch6-fc", 10, rng=np.random.default_rng(0)).save(layered)
    nndl.Network([784, 10], rng=np.random.default_rng(0)).save(plain)
    with pytest.raises(ModelFileError, match="layered.npz: a chapter-6 .layered. nndl network, where a chapter-3 "
                                             "one was expected"):
        io.read_npz_meta(layered)  # was "not an nndl model file (format 'nndl-layered-network')"
    with pytest.raises(ModelFileError, match="plain.npz: a chapter-3 nndl network, where a chapter-6"):
        network3.load_npz(plain)
