"""Every field ``--resume`` reads from a chapter-3 run is checked (B1 findings B5, C6).

history.json's data and network fields, the checkpoint's history (warnings), and a
checkpoint whose metadata contradict its arrays: one line and a non-zero status, never
a traceback nor a different network trained.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nndl.cli import main

RUN = ["--data", "digits", "--training-size", "100", "--epochs", "1", "--no-plots"]


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ch3") / "run"
    assert main(["-q", "train", *RUN, "-o", str(folder)]) == 0
    return folder


def _copy(finished: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(finished, folder)
    return folder


def _edit_meta(path: Path, edit) -> None:
    with zipfile.ZipFile(path) as z:
        members = {k: z.read(k) for k in z.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    edit(meta)
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)


@pytest.mark.parametrize("edit, field", [
    (lambda h: h["network"].pop("hidden"), "network.hidden"),
    (lambda h: h["network"].update(hidden=True), "network.hidden"),
    (lambda h: h["network"].update(sizes="64,30"), "network.sizes"),
    (lambda h: h["data"].pop("n_inputs"), "data.n_inputs"),
    (lambda h: h["data"].update(description=5), "data.description"),
    (lambda h: h["data"].update(checksums={"x": 1}), "data.checksums"),
])
def test_history_fields_are_checked(capsys, finished, tmp_path, edit, field):
    folder = _copy(finished, tmp_path)
    record = json.loads((folder / "history.json").read_text())
    edit(record)
    (folder / "history.json").write_text(json.dumps(record))
    code, _, err = cli(capsys, "-q", "train", "--resume", folder, "--epochs", "2")
    assert code == 1 and f"'{field}' must be" in err and err.count("\n") == 1, err


def test_checkpoint_history_warnings_are_checked(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    before = (folder / "history.json").read_text()
    _edit_meta(folder / "checkpoint.npz", lambda m: m["extra"]["state"]["history"].update(warnings=1.5))
    code, _, err = cli(capsys, "-q", "train", "--resume", folder, "--epochs", "2")
    assert code == 1 and "'warnings' must be a list of texts" in err and err.count("\n") == 1, err
    assert (folder / "history.json").read_text() == before


def test_checkpoint_whose_meta_contradicts_its_arrays_is_refused(capsys, finished, tmp_path):
    folder = _copy(finished, tmp_path)
    _edit_meta(folder / "checkpoint.npz", lambda m: m.update(sizes=[64, 30]))  # arrays: 64-30-10
    code, _, err = cli(capsys, "-q", "train", "--resume", folder, "--epochs", "2")
    assert code == 1 and "holds the array" in err and "[64, 30]" in err and err.count("\n") == 1, err


def test_empty_out_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.npz").write_bytes(b"mine")
    for net in ([], ["--net", "ch6-fc"]):
        code, _, err = cli(capsys, "train", *(net or RUN), "-o", "")
        assert code == 2 and "--out: an empty path" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert (tmp_path / "model.npz").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["model.npz", "cost.png", "accuracy.png", "report.html"])
def test_a_folder_holding_files_a_run_writes_is_refused(capsys, tmp_path, name):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / name).write_bytes(b"mine")
    code, _, err = cli(capsys, "train", *RUN, "-o", mine)
    assert code == 2 and f"holds {name}, which a run would overwrite" in err, err
    assert sorted(p.name for p in mine.iterdir()) == [name] and (mine / name).read_bytes() == b"mine"


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "1", "--no-plots"],
    ["train", "--net", "ch6-fc", "--epochs", "1", "--no-plots"],
])
def test_a_data_dir_without_mnist_is_a_usage_error(capsys, tmp_path, argv):
    code, _, err = cli(capsys, *argv, "--data-dir", tmp_path, "-o", tmp_path / "run")
    assert code == 2 and "does not hold the four MNIST files" in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, option", [
    (["sweep", "--data", "digits", "--epochs", "1", "--eta", "0.1,,1"], "--eta"),
    (["sweep", "--data", "digits", "--epochs", "1", "--eta", "0.1,1,"], "--eta"),
    (["sweep", "--data", "digits", "--epochs", "1,", "--eta", "0.1"], "--epochs"),
    (["sweep", "--data", "digits", "--epochs", "1", "--sizes", "64,30,10//64,10"], "--sizes"),
    (["experiment", "ch1-30", "--quick", "--seeds", "0,,1"], "--seeds"),
    (["explain", "deep-networks", "--depths", "1,,2"], "--depths"),
    (["train", "--data", "digits", "--epochs", "1", "--sizes", "64,,10"], "--sizes"),
    (["gradcheck", "--sizes", "5,,3"], "--sizes"),
])
def test_an_empty_item_in_a_list_option_is_a_usage_error(capsys, tmp_path, argv, option):
    code, _, err = cli(capsys, *argv, *(["--out", tmp_path / "o"] if argv[0] in ("sweep", "experiment") else []))
    assert code == 2 and option in err and ("empty" in err or "whole numbers" in err), err
    assert not (tmp_path / "o").exists()


def test_empty_output_paths_are_usage_errors(capsys, finished, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from PIL import Image

    Image.new("L", (8, 8), 255).save(tmp_path / "one.png")
    code, _, err = cli(capsys, "predict", finished, "one.png", "--save-inputs", "")
    assert code == 2 and "--save-inputs: the path is empty" in err, err
    code, _, err = cli(capsys, "explain", "earlier-layers", "--plot", "")
    assert code == 2 and "--plot: the path is empty" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png"]


def test_offline_is_said_in_words_once(capsys, tmp_path, monkeypatch):
    """B1 E13: not "[Errno -2] Name or service not known" once per mirror."""
    import socket
    import urllib.error
    import urllib.request

    def unresolved(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", unresolved)
    monkeypatch.delenv("NNDL_DATA", raising=False)
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NNDL_MIRRORS", "http://a.invalid/ http://b.invalid/ http://c.invalid/")
    code, _, err = cli(capsys, "train", "--data", "auto", "--epochs", "1", "--training-size", "100",
                       "--no-plots", "-o", tmp_path / "auto")
    assert code == 0 and "Errno" not in err, err
    assert err.count("no mirror could be reached (name not resolved)") == 1, err
    code, _, err = cli(capsys, "-q", "train", "--data", "mnist", "--epochs", "1", "-o", tmp_path / "r")
    assert code == 1 and err.count("no mirror could be reached (name not resolved)") == 1, err
    assert "Errno" not in err and err.count("nndl: error:") == 1


def test_wrong_is_capped(capsys, finished):
    code, _, err = cli(capsys, "evaluate", finished, "--wrong", "100000")
    assert code == 2 and "--wrong must be from 0 to 100" in err, err


def test_a_sweep_of_too_many_cells_is_refused_at_once(capsys, tmp_path):
    values = ",".join(str(0.001 * (i + 1)) for i in range(1000))
    code, _, err = cli(capsys, "sweep", "--data", "digits", "--epochs", "1", "--eta", values,
                       "--lmbda", values, "--out", tmp_path / "s")
    assert code == 2 and "1,000,000 cells" in err, err
    assert not (tmp_path / "s").exists()


def test_sigterm_leaves_no_temporary_file(tmp_path):
    """SIGTERM unwinds like Ctrl-C, so the atomic writers remove their temporaries."""
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import os, signal, sys, time
        import nndl.cli
        from nndl.io import atomic_write

        def cmd(args):
            with atomic_write(sys.argv[1], "w") as f:
                f.write("half")
                print("writing", flush=True)
                time.sleep(60)
            return 0

        nndl.cli.build_parser = lambda: type("P", (), {"parse_args": lambda self, a: type(
            "A", (), {"command": "x", "verbose": False, "quiet": True, "func": staticmethod(cmd)})()})()
        sys.exit(nndl.cli.main([]))
    """)
    target = tmp_path / "out.txt"
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    proc.stdout.close()
    assert list(tmp_path.iterdir()) == []


def test_nan_in_training_inputs_is_a_data_error():
    import nndl
    from nndl.errors import DataError

    X = np.random.default_rng(0).random((20, 4))
    X[3, 1] = np.nan
    y = np.arange(20) % 2
    with pytest.raises(DataError, match=r"NaN or infinite values \(row 3\)"):
        nndl.Network([4, 3, 2], rng=np.random.default_rng(0)).sgd((X, y), 1, 5, 0.1)


def test_noise_is_predicted_with_a_warning(capsys, finished, tmp_path):
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    code, out, err = cli(capsys, "predict", finished, tmp_path / "noise.png")
    p = float(out.split("probability ")[1].split(")")[0])
    assert code == 0
    assert ("the network is unsure" in err) == (p < 0.5), (out, err)


def test_an_idx_file_under_two_names_is_refused(tmp_path):
    """B1 C8: train-images-idx3-ubyte.gz and train-images.idx3-ubyte: neither silently wins."""
    import gzip

    from test_data_support import small_idx_folder

    from nndl.data import load_dataset
    from nndl.errors import DataError

    folder = small_idx_folder(tmp_path / "d", n_train=24)
    other = small_idx_folder(tmp_path / "e", n_train=24, seed=1)
    (folder / "train-images.idx3-ubyte").write_bytes(gzip.decompress(
        (other / "train-images-idx3-ubyte.gz").read_bytes()))
    with pytest.raises(DataError, match="holds both train-images-idx3-ubyte.gz and train-images.idx3-ubyte"):
        load_dataset(folder)


def test_idx_messages_say_what_is_wrong(tmp_path):
    """B1 E14: a float IDX said to be float-sized, a folder named like an IDX file said so."""
    from test_data_support import idx_bytes

    from nndl.data import load_dataset, read_idx
    from nndl.errors import DataError

    raw = bytearray(idx_bytes(np.zeros((3, 2, 2), np.uint8)))
    raw[2] = 0x0D
    (tmp_path / "f.idx").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"type 0x0D \(float, 4 bytes each"):
        read_idx(tmp_path / "f.idx")
    (tmp_path / "d" / "train-images-idx3-ubyte.gz").mkdir(parents=True)
    with pytest.raises(DataError, match="is a folder, not the IDX file of that name"):
        load_dataset(tmp_path / "d")


def test_toml_messages_say_what_is_wrong(capsys, tmp_path):
    """B1 E14: a huge integer and settings in two places are said in words, naming the file."""
    big = tmp_path / "big.toml"
    big.write_text("epochs = " + "9" * 5000 + "\n")
    code, _, err = cli(capsys, "train", "--config", big)
    assert code == 2 and "more than 4,300 digits" in err and str(big) in err, err
    assert "set_int_max_str_digits" not in err
    both = tmp_path / "both.toml"
    both.write_text("eta = 1.0\n[train]\nepochs = 1\n")
    code, _, err = cli(capsys, "train", "--config", both)
    assert code == 2 and "both at the top (eta) and in a [train] table" in err and str(both) in err, err


def test_a_toml_value_error_names_the_file(capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("eta = inf\n")
    code, _, err = cli(capsys, "train", "--config", config)
    assert code == 2 and f"--config {config}: " in err and "--eta" in err, err


def test_a_png_with_a_broken_header_checksum_is_said_damaged(capsys, finished, tmp_path):
    from PIL import Image

    png = tmp_path / "one.png"
    Image.new("L", (28, 28), 255).save(png)
    raw = bytearray(png.read_bytes())
    raw[29] ^= 0xFF  # the IHDR chunk's CRC
    png.write_bytes(bytes(raw))
    code, _, err = cli(capsys, "predict", finished, png)
    assert code == 1 and "a PNG image, but a damaged one" in err, err


def test_plot_into_a_missing_folder_matches_the_docs(capsys, tmp_path, monkeypatch):
    """B1 F16: cli.md's error table says exit 2, "the folder nodir does not exist"."""
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "explain", "earlier-layers", "--plot", "nodir/x.png")
    assert code == 2 and "--plot nodir/x.png: the folder nodir does not exist" in err, err
    assert not (tmp_path / "nodir").exists()
