"""Issue 13's examples, kind by kind, for the file readers (and issue 12 items 7, 9, 13, 17).

Every bad file gives nndl's own one-line error naming the file; sizes are bounded before
allocation; nothing hangs; nothing invalid is accepted silently.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import signal
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import test_data_support as support
from fuzz_readers import npy_bytes, png_bytes, png_with_size, set_zip_flags, zip_bytes
from test_data_support import idx_bytes

import nndl
from nndl import _download, _validate, data, images
from nndl.cli import main
from nndl.errors import DataError, ModelFileError, UsageError
from nndl.runs import TrainSettings, read_config

http_server, isolate, mnist_dir = support.http_server, support.isolate, support.mnist_dir


def one_line(exc_info, path) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and str(path) in message, message
    return message


@pytest.fixture
def no_hang():
    """Fail a test that blocks for more than 10 s (a FIFO opened for reading blocks)."""
    def alarm(signum, frame):
        raise TimeoutError("blocked")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def peak_mib(fn, *args, **kwargs):
    """(result or exception, peak MiB allocated) of fn(*args)."""
    tracemalloc.start()
    try:
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            out = exc
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def model_members() -> dict[str, np.ndarray]:
    with np.load(_saved_model()) as z:
        return {k: z[k] for k in z.files}


_MODEL_CACHE: dict[str, Path] = {}


def _saved_model() -> Path:
    if "p" not in _MODEL_CACHE:
        import tempfile

        p = Path(tempfile.mkdtemp()) / "m.npz"
        nndl.Network([3, 2], rng=np.random.default_rng(0)).save(p)
        _MODEL_CACHE["p"] = p
    return _MODEL_CACHE["p"]


def write_model(tmp_path: Path, members: dict, meta_edit=None, **zip_kw) -> Path:
    members = dict(members)
    if meta_edit is not None:
        meta = json.loads(str(members["meta"]))
        meta_edit(meta)
        members["meta"] = np.array(json.dumps(meta))
    path = tmp_path / "model.npz"
    path.write_bytes(zip_bytes({f"{k}.npy": npy_bytes(v) for k, v in members.items()}, **zip_kw))
    return path


# --- kind 1: exceptions that escaped ------------------------------------------------------


def test_gzip_with_a_reserved_deflate_block_type(tmp_path):
    raw = gzip.compress(idx_bytes(np.zeros(5, np.uint8)), mtime=0)
    path = tmp_path / "a.gz"
    path.write_bytes(raw[:10] + bytes([0b111]) + raw[11:])  # BTYPE = 11: reserved
    with pytest.raises(DataError, match="corrupt or truncated gzip") as info:
        data.read_idx(path)
    one_line(info, path)


def test_idx_header_with_65_dimensions(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\0\0\x08" + bytes([65]) + (1).to_bytes(4, "big") * 65 + b"\0")
    with pytest.raises(DataError, match="65 dimensions") as info:
        data.read_idx(path)
    one_line(info, path)


def test_empty_or_damaged_decoded_cache_entries_are_rebuilt(tmp_path, caplog):
    from fuzz_readers import MnistCacheReader

    reader = MnistCacheReader(tmp_path)
    for k, damage in enumerate((b"", b"\x93NUMPY\x01\x00", npy_bytes(np.zeros(3), {"descr": "|O"}))):
        folder = tmp_path / f"f{k}"
        (folder / "cache" / "decoded").mkdir(parents=True)
        source = folder / reader.spec.name
        source.write_bytes(reader.source_gz)
        import hashlib

        key = hashlib.md5(reader.source_gz).hexdigest()
        entry = folder / "cache" / "decoded" / f"{key}.{reader.spec.md5}.npy"
        entry.write_bytes(damage)
        array, md5 = data._load_mnist_file(source, reader.spec, folder / "cache")
        assert np.array_equal(array, reader.array) and md5 == reader.spec.md5
        assert entry.read_bytes() != damage  # rebuilt
    assert "corrupt cache file" in caplog.text


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update({"x.txt": b"hello"}), "is not a NumPy .npy array"),
    (lambda m: m.update({"w0.npy": npy_bytes(np.zeros((2, 3)), {"descr": "|O"})}), "pickled Python objects"),
])
def test_npz_members_that_are_not_plain_arrays(tmp_path, edit, match):
    members = {f"{k}.npy": npy_bytes(v) for k, v in model_members().items()}
    edit(members)
    path = tmp_path / "model.npz"
    path.write_bytes(zip_bytes(members))
    with pytest.raises(ModelFileError, match=match) as info:
        nndl.load(path)
    one_line(info, path)


@pytest.mark.parametrize("flag, method, match", [
    (1, None, "encrypted"), (0, 12, "compression method 12"), (0, 14, "compression method 14"),
    (0, 99, "compression method 99"),
])
def test_encrypted_or_unreadable_compression(tmp_path, flag, method, match):
    path = write_model(tmp_path, model_members(), compress=zipfile.ZIP_DEFLATED)
    path.write_bytes(set_zip_flags(path.read_bytes(), flag_or=flag, method=method))
    with pytest.raises(ModelFileError, match=match) as info:
        nndl.load(path)
    one_line(info, path)


def test_json_and_toml_nested_deep_or_with_huge_integers(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"sizes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelFileError, match="nested too deeply"):
        nndl.load(deep)
    big = tmp_path / "big.json"
    big.write_text('{"sizes": [' + "9" * 5000 + ', 2], "weights": [], "biases": [], "cost": "x"}')
    with pytest.raises(ModelFileError, match="digits"):
        nndl.load(big)
    for text, match in (("eta = " + "[" * 100_000 + "]" * 100_000, "nested too deeply|not valid"),
                        ("epochs = " + "9" * 5000, "digits|not usable|not valid"),
                        ("eta = " + "9" * 5000 + ".0", "characters|not usable")):
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        with pytest.raises(UsageError, match=match) as info:
            TrainSettings.from_dict(read_config(cfg), "config").check()
        one_line(info, cfg)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(cost=[1]), "'cost' is \\[1\\]"),
    (lambda m: m.update(format_version=True), "unsupported format version True"),
    (lambda m: m.update(dropout=False), "'dropout' must be a number"),
    (lambda m: m.update(sizes=[3, True]), "'sizes' must be"),
])
def test_npz_metadata_of_the_wrong_types(tmp_path, edit, match):
    path = write_model(tmp_path, model_members(), edit)
    with pytest.raises(ModelFileError, match=match) as info:
        nndl.load(path)
    one_line(info, path)


@pytest.mark.parametrize("array, match", [
    (np.array(["a", "b"]), "dtype <U1"), (np.array([True, False]), "dtype bool"),
    (np.array([1 + 2j, 0j]), "dtype complex"), (np.array([np.nan, 0.0]), "NaN"),
])
def test_biases_must_be_real_finite_floats(tmp_path, array, match):
    members = model_members()
    members["b0"] = array
    path = write_model(tmp_path, members)
    with pytest.raises(ModelFileError, match=match) as info:
        nndl.load(path)
    one_line(info, path)


def test_user_npz_zero_dimensional_x_and_empty_test_set(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array(3.0), y=np.arange(1))
    with pytest.raises(DataError, match="wrong dimensions"):
        data.load_dataset(path)
    np.savez(path, x_train=np.zeros((12, 4)), y_train=np.arange(12) % 10,
             x_test=np.zeros((0, 4)), y_test=np.zeros(0, int))
    with pytest.raises(DataError, match="the test set is empty") as info:
        data.load_dataset(path)
    one_line(info, path)


def test_a_damaged_png_is_a_data_error(tmp_path):
    good = png_bytes(np.zeros((28, 28), np.uint8))
    path = tmp_path / "d.png"
    path.write_bytes(good[:40] + b"\xff" * 8 + good[48:])
    with pytest.raises(DataError, match="cannot read this image: it is a PNG image") as info:
        images.digit_input(path)
    one_line(info, path)


# --- kind 2: memory and time bounded before allocation -----------------------------------


def test_network2_json_declaring_a_billion_neurons(tmp_path):
    path = tmp_path / "n.json"
    path.write_text('{"sizes": [4, 1000000000, 2], "weights": [], "biases": [], "cost": "x"}')
    assert len(path.read_bytes()) < 100
    out, peak = peak_mib(nndl.load, path)
    assert isinstance(out, ModelFileError) and "at most" in str(out), out
    assert peak < 5


@pytest.mark.parametrize("line, flag", [("expand = 2147483648", "--expand"),
                                        ("mini-batch-size = 4294967297", "--mini-batch-size"),
                                        ("sizes = [784, 100000, 100000, 10]", "--sizes")])
def test_config_asking_for_terabytes(tmp_path, line, flag):
    cfg = tmp_path / "c.toml"
    cfg.write_text(line + "\n")
    with pytest.raises(UsageError, match=f"{flag}.*at most"):
        TrainSettings.from_dict(read_config(cfg), "config").check()


def test_gzip_bomb_as_mnist_train_images(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for spec in data.MNIST_FILES[1:]:
        (folder / spec.name).symlink_to(mnist_dir / spec.name)
    header = b"\0\0\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (60000, 28, 28))
    bomb = gzip.compress(header + bytes(200 << 20), compresslevel=1, mtime=0)  # 200 MB inside
    (folder / data.MNIST_FILES[0].name).write_bytes(bomb)
    cache = tmp_path / "cache"
    out, peak = peak_mib(data.load_mnist, folder, cache=cache, download=False)
    assert isinstance(out, DataError) and "wrong dimensions" in str(out), out
    assert peak < 150  # at most the 47 MB MNIST's file can hold, not 200 MB
    assert not list((cache / "decoded").glob("*")) if (cache / "decoded").exists() else True


def test_npz_member_is_checked_before_it_is_inflated(tmp_path):
    members = model_members()
    members["w0"] = np.zeros((4000, 3000))  # 96 MB of zeros, a few hundred kB deflated
    path = write_model(tmp_path, members, compress=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    out, peak = peak_mib(nndl.load, path)
    assert isinstance(out, ModelFileError) and "(4000, 3000)" in str(out), out
    assert peak < 10


def test_a_png_declaring_13000x13000_pixels(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_with_size(13000, 13000))
    out, peak = peak_mib(images.digit_input, path)
    assert isinstance(out, DataError) and "13000x13000" in str(out), out
    assert peak < 5


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_read(tmp_path, no_hang):
    folder = tmp_path / "imgs" / "3"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    os.mkfifo(folder / "x.png")
    with pytest.raises(DataError, match="FIFO"):
        data.load_dataset(tmp_path / "imgs")
    with pytest.raises(DataError, match="FIFO"):
        images.digit_input(folder / "x.png")
    for reader in (nndl.load, data.read_idx):
        with pytest.raises((DataError, ModelFileError), match="FIFO"):
            reader(folder / "x.png")


# --- kind 3: accepted though invalid ------------------------------------------------------


def network2(tmp_path, **edits) -> Path:
    doc = {"sizes": [2, 1], "weights": [[[0.5, 1.0]]], "biases": [[[0.25]]], "cost": "QuadraticCost"}
    doc.update(edits)
    path = tmp_path / "n.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("edit", [
    {"weights": [[["1.5", 1.0]]]}, {"weights": [[[True, 1.0]]]}, {"biases": [[[False]]]},
    {"sizes": [2, True]},
])
def test_network2_values_of_the_wrong_type(tmp_path, edit):
    path = network2(tmp_path, **edit)
    with pytest.raises(ModelFileError) as info:
        nndl.load(path)
    one_line(info, path)


def test_x_test_and_X_test_together(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((12, 4)), y_train=np.arange(12) % 10,
             x_test=np.zeros((5, 4)), X_test=np.ones((5, 4)), y_test=np.arange(5))
    with pytest.raises(DataError, match="both x_test and X_test"):
        data.load_dataset(path)


def test_a_setting_given_in_two_spellings(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("mini-batch-size = 10\nmini_batch_size = 20\n")
    with pytest.raises(UsageError, match="same setting"):
        TrainSettings.from_dict(read_config(cfg), "config")


def test_16_bit_and_float_images_are_scaled_not_saturated(tmp_path):
    half16 = tmp_path / "h16.png"
    half16.write_bytes(png_bytes(np.full((4, 4), 0x8000, np.uint16)))
    assert np.allclose(images.read_grey(half16), 0x8000 / 65535)
    f = tmp_path / "f.tif"
    f.write_bytes(png_bytes(np.full((4, 4), 0.25, np.float32), fmt="TIFF"))
    assert np.allclose(images.read_grey(f), 0.25)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(png_bytes(np.full((4, 4), 7.0, np.float32), fmt="TIFF"))
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        images.read_grey(bad)


def test_transparent_pixels_are_paper_for_both_readers(tmp_path):
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., :3] = 255  # white, fully transparent everywhere ...
    rgba[2:4, 2:4] = (0, 0, 0, 255)  # ... but a black opaque square
    path = tmp_path / "3" / "t.png"
    path.parent.mkdir()
    path.write_bytes(png_bytes(rgba))
    grey = images.read_grey(path)  # predict: paper is white
    assert grey[0, 0] == 1.0 and grey[2, 2] == 0.0
    folder = _validate.image_grey(path, paper=0.0)  # data folders: paper is black (MNIST's 0)
    assert folder[0, 0] == 0.0 and folder[2, 2] == 0.0


# --- kind 6: files that point elsewhere ---------------------------------------------------


def test_symlinks_out_of_an_image_folder_are_refused(tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    folder = tmp_path / "imgs" / "1"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    (folder / "b.png").symlink_to(outside)
    with pytest.raises(DataError, match="outside"):
        data.load_dataset(tmp_path / "imgs")


def test_gradcheck_with_os_system_is_one_line(capsys):
    assert main(["gradcheck", "--fn", "os:system"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nndl: error: the fn system failed" in err, err


# --- issue 12 item 7: errors say what a file really is ------------------------------------


@pytest.mark.parametrize("content, what", [
    (b"just some notes\n", "a text file"), (b"", "an empty file"),
    (b"<!DOCTYPE html><html>", "an HTML page"), (b"\x1f\x8b\x08\0", "a gzip file"),
])
def test_a_model_file_that_is_something_else(tmp_path, content, what):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError) as info:
        nndl.load(path)
    message = one_line(info, path)
    assert what in message and "pickle" not in message, message
    with pytest.raises(ModelFileError) as info:  # as evaluate reads it
        from nndl.runs import load_model

        load_model(path)
    assert what in str(info.value)


# --- issue 12 item 9: the book's mnist.pkl.gz ---------------------------------------------


def book_pickle(path: Path, protocol: int = 2) -> tuple:
    pairs = []
    for n in (50_000, 10_000, 10_000):
        x = np.zeros((n, 784), np.float32)
        x[:, 400] = np.arange(n) % 256 / 256
        pairs.append((x, np.arange(n) % 10))
    path.write_bytes(gzip.compress(pickle.dumps(tuple(pairs), protocol=protocol), compresslevel=1))
    return tuple(pairs)


def test_the_books_mnist_pkl_gz_is_read_safely(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    pairs = book_pickle(path)
    splits = data.load_dataset(path)
    assert (len(splits.training.y), len(splits.validation.y), len(splits.test.y)) == (50_000, 10_000, 10_000)
    np.testing.assert_array_equal(splits.test.X, pairs[2][0].astype(np.float64))
    np.testing.assert_array_equal(splits.validation.y, pairs[1][1])


def test_a_pickle_naming_other_code_is_refused_unrun(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(((Evil(), 1), (2, 3), (4, 5)), protocol=2)))
    with pytest.raises(DataError, match="refused to load posix.system|refused to load nt.system"):
        data.load_dataset(path)
    assert not (tmp_path / "pwned").exists()
    wrong = tmp_path / "small.pkl.gz"
    wrong.write_bytes(gzip.compress(pickle.dumps(((np.zeros((5, 784), np.float32), np.arange(5)),) * 3)))
    with pytest.raises(DataError, match="the book's mnist.pkl.gz has"):
        data.load_dataset(wrong)


# --- issue 12 item 13: tests touch only temporary folders ---------------------------------


def test_the_cache_is_a_temporary_folder_in_tests():
    import platformdirs

    real = Path(platformdirs.user_cache_dir("nndl", appauthor=False))
    assert data.cache_dir() != real and "nndl-cache" in str(data.cache_dir())


# --- kind 7: the downloader ---------------------------------------------------------------

NAME = "t10k-labels-idx1-ubyte.gz"


@pytest.mark.parametrize("mode, match", [("huge", "announces"), ("endless", "more than")])
def test_download_size_is_capped(http_server, tmp_path, mode, match):
    with pytest.raises(_download.DownloadError, match=match):
        _download.fetch(NAME, [http_server.url(mode)], tmp_path / "d", "0" * 32, max_bytes=1 << 20)
    assert [p.name for p in (tmp_path / "d").iterdir()] == [".nndl.lock"]  # no partial file


def test_download_has_an_overall_deadline(http_server, tmp_path):
    import time

    t0 = time.monotonic()
    with pytest.raises(_download.DownloadError, match="too slow"):
        _download.fetch(NAME, [http_server.url("trickle")], tmp_path, "0" * 32, deadline=0.5)
    assert time.monotonic() - t0 < 4


def test_stale_parts_are_removed_and_files_fsynced(http_server, tmp_path, monkeypatch):
    content = idx_bytes(np.arange(10, dtype=np.uint8))
    http_server.files[NAME] = gzip.compress(content, mtime=0)
    stale = tmp_path / f".{NAME}.abcd.part"
    stale.write_bytes(b"left by a killed download")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(_download.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    import hashlib

    _download.fetch(NAME, [http_server.url("ok")], tmp_path, hashlib.md5(content).hexdigest())
    assert not stale.exists() and synced


# --- issue 12 item 17: --data auto downloads MNIST, or says it is offline ------------------


def test_auto_downloads_mnist_from_a_reachable_mirror(http_server, mnist_dir, monkeypatch, caplog):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    for spec in data.MNIST_FILES:
        http_server.files[spec.name] = (mnist_dir / spec.name).read_bytes()
    monkeypatch.setenv("NNDL_MIRRORS", http_server.url("ok"))
    import logging

    with caplog.at_level(logging.INFO, logger="nndl.data"):
        splits = data.load_dataset("auto")
    assert splits.name == "mnist" and "downloading" in caplog.text
    assert (data.cache_dir() / "mnist" / data.MNIST_FILES[0].name).is_file()  # cached


def test_auto_falls_back_to_the_digits_only_offline(isolate, monkeypatch, caplog, http_server):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    import logging

    with caplog.at_level(logging.WARNING, logger="nndl.data"):
        splits = data.load_dataset("auto")  # the mirrors: a closed port (isolate)
    assert splits.name == "digits" and "offline" in caplog.text
    monkeypatch.setenv("NNDL_MIRRORS", http_server.url("missing"))  # reachable, but no files
    with pytest.raises(DataError, match="HTTP 404"):  # not offline: an error, not the digits
        data.load_dataset("auto")


def test_stale_parts_in_the_decoded_cache_are_removed(tmp_path):
    from fuzz_readers import MnistCacheReader

    reader = MnistCacheReader(tmp_path)
    source = tmp_path / reader.spec.name
    source.write_bytes(reader.source_gz)
    decoded = tmp_path / "cache" / "decoded"
    decoded.mkdir(parents=True)
    old, young = decoded / ".a.npy.x1.part", decoded / ".b.npy.x2.part"
    old.write_bytes(b"killed")
    young.write_bytes(b"another process, writing now")
    os.utime(old, (0, 0))
    data._load_mnist_file(source, reader.spec, tmp_path / "cache")
    assert not old.exists() and young.exists()


def test_messages_count_and_article_by_the_rules_of_english(tmp_path):
    from nndl import _validate, _words
    from nndl.errors import DataError

    assert [_words.count(n, "epoch") for n in (0, 1, 2, 1000)] == ["0 epochs", "1 epoch", "2 epochs", "1,000 epochs"]
    assert _words.count(1, "mini-batch", "mini-batches") == "1 mini-batch"
    assert _words.count(3, "mini-batch", "mini-batches") == "3 mini-batches"
    assert [_words.a(w) for w in ("image", "file", "int", "object", "run history")] == [
        "an image", "a file", "an int", "an object", "a run history"]
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 20)
    with pytest.raises(DataError, match="more than the 10 bytes an image may have|more than the 10 an image"):
        _validate.read_bytes(big, 10, DataError, "image")
