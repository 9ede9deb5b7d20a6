"""nndl.data: real MNIST through NNDL_DATA, the IDX reader on bad files, the digits default,
user data sets, and training-data expansion. The downloader: test_data_download.py."""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil

import numpy as np
import pytest
import test_data_support as support
from test_data_support import (
    MNIST_TEST_COUNTS,
    MNIST_TRAIN_COUNTS,
    idx_bytes,
    small_idx_folder,
    write_idx,
)

from nndl import data
from nndl.data import (
    MNIST_FILES,
    DataError,
    Dataset,
    DataSplits,
    expand,
    load_dataset,
    load_digits,
    load_mnist,
    read_idx,
)

isolate, mnist_dir = support.isolate, support.mnist_dir  # fixtures
pytestmark = pytest.mark.usefixtures("isolate")


@pytest.fixture(scope="module")
def mnist(mnist_dir, tmp_path_factory):
    """Real MNIST, loaded once for the read-only assertions of this module."""
    return load_mnist(mnist_dir, cache=tmp_path_factory.mktemp("cache"), download=False)


def sizes(splits):
    return [len(part.y) for part in (splits.training, splits.validation, splits.test)]


def linked_mnist(mnist_dir, folder):
    """A folder holding symbolic links to the real MNIST files (so that one can be replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    for spec in MNIST_FILES:
        (folder / spec.name).symlink_to(mnist_dir / spec.name)
    return folder


# --- real MNIST ---------------------------------------------------------------------------


def test_mnist_book_split_shapes_and_types(mnist):
    assert mnist.name == "mnist"
    for part, n in ((mnist.training, 50_000), (mnist.validation, 10_000), (mnist.test, 10_000)):
        X, y = part  # unpacks as (X, y), what Network.sgd takes
        assert X.shape == (n, 784) and X.dtype == np.float64 and X.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert X.min() == 0.0 and X.max() == 1.0


def test_mnist_label_histograms_and_checksums(mnist):
    train_and_validation = np.bincount(np.concatenate([mnist.training.y, mnist.validation.y]))
    assert train_and_validation.tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test.y).tolist() == MNIST_TEST_COUNTS
    assert mnist.checksums == {f.name: f.md5 for f in MNIST_FILES}
    assert "MNIST" in mnist.description and "50,000/10,000/10,000" in mnist.description


def test_mnist_pixels_are_the_file_bytes_over_255(mnist, mnist_dir):
    raw = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    assert raw.dtype == np.uint8 and raw.shape == (10000, 28, 28)
    # np.array_equal: np.testing's assert_array_equal takes seconds on MNIST-sized arrays
    assert np.array_equal(mnist.test.X, raw.reshape(10000, 784) / 255.0)
    # the validation set is the last 10,000 training images, in file order
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(mnist.validation.y, labels[50_000:])


def test_mnist_float32(mnist_dir, mnist):
    m32 = load_mnist(mnist_dir, dtype=np.float32, download=False)
    assert m32.training.X.dtype == np.float32 and m32.training.X.flags.c_contiguous
    assert np.abs(m32.test.X - mnist.test.X).max() < 1e-7
    with pytest.raises(ValueError, match="float32 or float64"):
        load_mnist(mnist_dir, dtype=np.int32)


def test_decoded_cache_is_used_and_validated(mnist_dir, isolate, monkeypatch, caplog):
    first = load_mnist(download=False)  # found through NNDL_DATA, decoded, cached
    entries = sorted((isolate / "decoded").glob("*.npy"))
    assert len(entries) == 4
    assert sorted(e.name.split(".")[1] for e in entries) == sorted(f.md5 for f in MNIST_FILES)

    def no_gunzip(*args):
        raise AssertionError("the cache should have made gunzip unnecessary")

    with monkeypatch.context() as m:
        m.setattr(data._validate, "gunzip", no_gunzip)
        second = load_mnist(download=False)
    assert np.array_equal(second.training.X, first.training.X)

    # A corrupt cache entry is noticed, removed and rebuilt, never used.
    biggest = max(entries, key=lambda e: e.stat().st_size)
    blob = bytearray(biggest.read_bytes())
    blob[-1] ^= 0xFF
    biggest.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="nndl.data"):
        third = load_mnist(download=False)
    assert "corrupt cache file" in caplog.text
    assert np.array_equal(third.training.X, first.training.X)
    assert biggest.read_bytes() != bytes(blob)  # rewritten from the source


def test_unwritable_cache_only_costs_speed(mnist_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache cannot be created below a file")
    splits = load_mnist(mnist_dir, cache=blocker / "cache", download=False)
    assert splits.checksums == {f.name: f.md5 for f in MNIST_FILES}


def test_auto_prefers_mnist_when_present(mnist_dir, caplog):
    with caplog.at_level(logging.INFO, logger="nndl.data"):
        splits = load_dataset("auto", dtype=np.float32)
    assert splits.name == "mnist" and splits.training.X.shape == (50_000, 784)
    assert "data: MNIST" in caplog.text


def test_mnist_folder_as_a_path_gives_the_same_data(mnist_dir, mnist):
    splits = load_dataset(mnist_dir)  # read as an IDX folder of any content
    assert splits.name == "mnist" and splits.checksums == mnist.checksums
    assert np.array_equal(splits.validation.X, mnist.validation.X)
    np.testing.assert_array_equal(splits.training.y, mnist.training.y)


# --- bad MNIST files: DataError naming the file and the problem ----------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda labels: labels[::-1].copy(), "wrong checksum"),
        (lambda labels: np.where(labels == 3, 10, labels).astype(np.uint8), "labels outside 0-9"),
        (lambda labels: labels.reshape(-1, 1), "wrong dimensions"),
        (lambda labels: labels[:9999], "wrong dimensions"),
    ],
)
def test_bad_mnist_file_is_named(mnist_dir, tmp_path, content, problem):
    folder = linked_mnist(mnist_dir, tmp_path / "mnist")
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    labels = read_idx(mnist_dir / bad.name)
    bad.unlink()
    write_idx(bad, content(labels))
    with pytest.raises(DataError, match=problem) as info:
        load_mnist(folder)  # a bad file outside the cache is never replaced ...
    assert str(bad) in str(info.value)
    assert bad.is_file() and not bad.is_symlink()  # ... nor touched


def test_bad_file_in_the_cache_without_download_is_not_used(mnist_dir, isolate, monkeypatch):
    monkeypatch.delenv("NNDL_DATA")
    folder = linked_mnist(mnist_dir, isolate / "mnist")
    bad = folder / "train-labels-idx1-ubyte.gz"
    bad.unlink()
    whole = gzip.compress(idx_bytes(np.arange(60000, dtype=np.uint8) % 10))
    bad.write_bytes(whole[: len(whole) // 2])  # cut in the middle
    with pytest.raises(DataError, match="corrupt or truncated gzip") as info:
        load_mnist(download=False)
    assert str(bad) in str(info.value)


def test_unzipped_files_under_either_usual_name(mnist_dir, tmp_path, mnist):
    folder = tmp_path / "raw"
    folder.mkdir()
    for i, spec in enumerate(MNIST_FILES):
        stem = spec.name.removesuffix(".gz")
        name = stem if i % 2 else stem.replace("-idx", ".idx")  # train-images.idx3-ubyte
        (folder / name).write_bytes(gzip.decompress((mnist_dir / spec.name).read_bytes()))
    splits = load_mnist(folder, download=False)
    assert splits.checksums == mnist.checksums


def test_offline_and_no_files_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    with pytest.raises(DataError) as info:  # the mirror is a closed local port: "offline"
        load_mnist()
    message = str(info.value)
    assert "MNIST not found" in message and "could not be downloaded" in message
    assert "NNDL_DATA" in message and "--data-dir" in message
    assert "train-images-idx3-ubyte.gz" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    (tmp_path / "empty").mkdir()  # (a folder that does not exist is its own error: test_ch6_checks)
    with pytest.raises(DataError, match="downloading is off"):
        load_mnist(tmp_path / "empty", download=False)


# --- the IDX reader on small files --------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5)
    array = (array % 256 if dtype == np.uint8 else array).astype(dtype)
    back = read_idx(write_idx(tmp_path / "a.idx", array, gz=gz))
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.flags.writeable
    np.testing.assert_array_equal(back, array)
    assert data._idx_md5(back) == hashlib.md5(idx_bytes(array)).hexdigest()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\x00\x00", "too short for an IDX header"),
        (b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc", "wrong magic number 0x12340801"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "wrong magic number 0x00000701"),
        (b"\x00\x00\x08\x00", "wrong magic number"),
        (b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"), "truncated: the header declares 3 dim"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", r"truncated: .*: 5 bytes of data"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"abc", "trailing bytes"),
        (gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc")[:-6], "gzip"),
        (b"\x1f\x8b" + b"no gzip here", "corrupt or truncated gzip"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, raw, problem):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=problem) as info:
        read_idx(path)
    assert str(info.value).startswith(str(path))


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope.gz")


# --- the embedded default ----------------------------------------------------------------


def test_digits_default_split(monkeypatch, caplog):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    with caplog.at_level(logging.INFO, logger="nndl.data"):
        splits = load_dataset()  # "auto", nothing on this machine: no network needed
    assert isinstance(splits, DataSplits) and splits.name == "digits"
    assert "bundled 8x8 digits instead" in caplog.text and "not MNIST" in splits.description
    assert sizes(splits) == [1197, 300, 300]
    for part in (splits.training, splits.validation, splits.test):
        assert part.X.shape[1] == 64 and part.X.flags.c_contiguous and part.y.dtype == np.int64
        assert part.X.min() >= 0.0 and part.X.max() <= 1.0
        assert np.bincount(part.y, minlength=10).min() >= 25  # every digit, about evenly


def test_auto_with_a_folder_without_mnist_warns_and_uses_digits(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    with caplog.at_level(logging.WARNING, logger="nndl.data"):
        splits = load_dataset("auto", data_dir=tmp_path)
    assert splits.name == "digits"
    assert f"data_dir {tmp_path} does not hold the four MNIST files" in caplog.text


def test_digits_equal_scikit_learns(monkeypatch):
    from sklearn.datasets import load_digits as sklearn_digits

    reference = sklearn_digits()
    splits = load_digits(dtype=np.float32)
    X = np.concatenate([splits.training.X, splits.validation.X, splits.test.X])
    y = np.concatenate([splits.training.y, splits.validation.y, splits.test.y])
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X * 16, reference.data)
    np.testing.assert_array_equal(y, reference.target)
    # the public-API fallback gives the same arrays as the direct read of the data file
    monkeypatch.setattr(data, "_DIGITS_FILE", ("datasets", "data", "moved.csv.gz"))
    fallback = load_digits(dtype=np.float32)
    np.testing.assert_array_equal(fallback.test.X, splits.test.X)


def test_unknown_name():
    with pytest.raises(DataError, match="unknown data set 'fashion'"):
        load_dataset("fashion")


def test_cache_dir_overrides(monkeypatch, tmp_path):
    assert data.cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "env"))
    assert data.cache_dir() == tmp_path / "env"
    monkeypatch.delenv("NNDL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if __import__("sys").platform.startswith("linux"):
        assert data.cache_dir() == tmp_path / "xdg" / "nndl"


# --- user data sets ----------------------------------------------------------------------


def test_idx_folder_of_other_data(tmp_path):
    folder = small_idx_folder(tmp_path / "fashion", n_train=24, n_test=7)
    splits = load_dataset(folder)
    assert splits.name == "fashion"
    assert sizes(splits) == [20, 4, 7]
    assert splits.training.X.shape == (20, 16) and splits.checksums.keys() == {
        f.name for f in MNIST_FILES
    }


def test_idx_folder_count_mismatch_and_label_range(tmp_path):
    folder = small_idx_folder(tmp_path / "d")
    labels = folder / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(20, np.uint8))  # 21 images
    with pytest.raises(DataError, match="image/label count mismatch: 21 images but 20 labels"):
        load_dataset(folder)
    write_idx(labels, np.full(21, 11, np.uint8))
    with pytest.raises(DataError, match="labels outside 0-9: 21 of them, the first is 11") as info:
        load_dataset(folder)
    assert str(labels) in str(info.value)


def test_npz_with_named_splits(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "mine.npz"
    x_train = rng.integers(0, 256, (60, 5, 5), dtype=np.uint8)
    np.savez(path, x_train=x_train, y_train=np.arange(60) % 10,
             x_test=rng.random((9, 25)), y_test=np.arange(9, dtype=np.uint8))
    splits = load_dataset(path, dtype=np.float32)
    assert splits.name == "mine" and sizes(splits) == [50, 10, 9]
    np.testing.assert_allclose(splits.training.X, x_train[:50].reshape(50, 25) / 255, rtol=1e-6)
    assert splits.validation.y.tolist() == list(range(10))
    assert splits.checksums == {"mine.npz": hashlib.md5(path.read_bytes()).hexdigest()}

    np.savez(path, X_train=x_train, y_train=np.arange(60) % 10, X_val=x_train[:3],
             y_val=np.arange(3), X_test=x_train[:4], y_test=np.arange(4))
    assert sizes(load_dataset(path)) == [60, 3, 4]


def test_npz_pooled_split_is_5_1_1(tmp_path):
    path = tmp_path / "pool.npz"
    np.savez(path, x=np.zeros((70, 4), np.uint8), y=np.arange(70) % 10)
    splits = load_dataset(path)
    assert sizes(splits) == [50, 10, 10]
    assert splits.test.y.tolist() == list(range(10))  # the last tenth, in order


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        ({"x": np.zeros((5, 4)), "y": np.arange(6)}, "count mismatch"),
        ({"x": np.zeros((5, 4)), "y": np.arange(5) + 6}, r"\[y\]: labels outside 0-9"),
        ({"x": np.full((5, 4), 2.0), "y": np.arange(5)}, r"\[x\]: float pixels .* \[0, 1\]"),
        ({"x": np.full((5, 4), np.nan), "y": np.arange(5)}, "finite"),
        ({"x": np.full((5, 4), 300), "y": np.arange(5)}, "0..255"),
        ({"x": np.zeros((5, 4)), "y": np.zeros((5, 10))}, "wrong dimensions"),
        ({"x": np.zeros((5, 4)), "y": np.arange(5) * 0.5}, "labels must be integers"),
        ({"x_train": np.zeros((5, 4)), "y_test": np.arange(5)}, "without its partner"),
        ({"x_train": np.zeros((5, 4)), "y_train": np.arange(5)}, "needs a training and a test"),
        ({"x_train": np.zeros((5, 4)), "y_train": np.arange(5), "x_test": np.zeros((2, 5)),
          "y_test": np.arange(2)}, "different numbers of inputs"),
        ({"images": np.zeros(3)}, "no arrays"),
        ({"x": np.array([[{}]], dtype=object), "y": np.arange(1)}, "pickled Python objects"),
    ],
)
def test_npz_bad_content(tmp_path, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=problem) as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def test_not_a_npz(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load_dataset(path)
    with pytest.raises(DataError, match=r"not a \.npz file, the book.s mnist.pkl.gz or a folder.*; it is a text file"):
        load_dataset(__file__)


def _png(path, value, size=(6, 6)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, color=value).save(path)


def test_image_folder_with_split_folders(tmp_path):
    root = tmp_path / "scans"
    for split, count in (("train", 3), ("test", 1)):
        for label in (0, 1, 7):
            for i in range(count):
                _png(root / split / str(label) / f"{i}.png", 30 * label)
    (root / "train" / "7" / "notes.txt").write_text("not an image: ignored")
    splits = load_dataset(root)
    assert splits.name == "scans" and sizes(splits) == [8, 1, 3]
    # round robin over the label folders: the validation tail mixes labels
    assert splits.training.y.tolist() == [0, 1, 7, 0, 1, 7, 0, 1]
    assert splits.validation.y.tolist() == [7]
    np.testing.assert_allclose(splits.test.X[:, 0], [0, 30 / 255, 210 / 255])
    assert splits.training.X.shape == (8, 36)


def test_image_folder_pooled(tmp_path, caplog):
    for label in range(10):
        for i in range(7):
            _png(tmp_path / "pool" / str(label) / f"{i:02}.png", 250)
    with caplog.at_level(logging.WARNING, logger="nndl.data"):
        splits = load_dataset(tmp_path / "pool")
    assert sizes(splits) == [50, 10, 10]
    assert sorted(splits.test.y.tolist()) == list(range(10))
    assert "dark on light" in caplog.text


@pytest.mark.parametrize("problem", ["size", "garbage", "folder", "empty"])
def test_image_folder_problems(tmp_path, problem):
    root = tmp_path / "imgs"
    _png(root / "1" / "a.png", 0)
    expected = {"size": "wrong dimensions", "garbage": "cannot read this image",
                "folder": "must be a label 0-9", "empty": "no images found"}[problem]
    culprit = root / "2" / "b.png"
    if problem == "size":
        _png(culprit, 0, size=(5, 6))
    elif problem == "garbage":
        culprit.parent.mkdir()
        culprit.write_bytes(b"\x89PNG not really")
    elif problem == "folder":
        culprit = root / "cats"
        culprit.mkdir()
    else:
        shutil.rmtree(root / "1")
        (root / "1").mkdir()
        culprit = root
    with pytest.raises(DataError, match=expected) as info:
        load_dataset(root)
    assert str(culprit) in str(info.value)


# --- expansion -------------------------------------------------------------------------------


def _digits_sample(n=40):
    return load_digits().training.head(n)


def test_expand_shape_order_and_determinism():
    base = _digits_sample()
    a = expand(base, np.random.default_rng(5), copies=2)
    b = expand(base, np.random.default_rng(5), copies=2)
    c = expand(base, np.random.default_rng(6), copies=2)
    assert isinstance(a, Dataset) and a.X.shape == (120, 64) and a.X.flags.c_contiguous
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.X[:40], base.X)  # the originals first, untouched
    assert a.y.tolist() == base.y.tolist() * 3
    assert a.X.min() >= 0.0 and a.X.max() <= 1.0
    np.testing.assert_array_equal(expand(base, np.random.default_rng(0), copies=0).X, base.X)


def test_expand_shifts_only_are_one_pixel_shifts():
    base = _digits_sample()
    out = expand(base, np.random.default_rng(1), copies=3, max_rotation=0.0)
    images = base.X.reshape(-1, 8, 8)

    def shifted(image, dy, dx):  # move by (dy, dx) whole pixels, zeros moved in
        padded = np.pad(image, 1)
        return padded[1 - dy : 9 - dy, 1 - dx : 9 - dx]

    seen = set()
    for k in range(1, 4):
        for i, copy in enumerate(out.X[40 * k : 40 * (k + 1)].reshape(-1, 8, 8)):
            matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                       if np.array_equal(copy, shifted(images[i], dy, dx))]
            assert matches, f"copy {k} of image {i} is not a one-pixel shift"
            seen.update(matches)
    assert len(seen) == 9  # all nine shifts occur


def test_expand_rotation_keeps_the_digit_roughly_in_place(mnist_dir, mnist):
    base = mnist.training.head(200)
    out = expand(base, np.random.default_rng(2), copies=1, max_shift=0, max_rotation=15.0)
    rotated = out.X[200:]
    assert not np.array_equal(rotated, base.X)
    ink_ratio = rotated.sum(axis=1) / base.X.sum(axis=1)
    assert np.all(np.abs(ink_ratio - 1) < 0.1)  # bilinear rotation nearly keeps the ink
    grid = np.indices((28, 28)).reshape(2, -1)
    centre_before = base.X @ grid.T / base.X.sum(axis=1, keepdims=True)
    centre_after = rotated @ grid.T / rotated.sum(axis=1, keepdims=True)
    assert np.abs(centre_before - centre_after).max() < 3.0  # pixels


def test_expand_keeps_float32_and_checks_arguments():
    base = load_digits(dtype=np.float32).training.head(5)
    assert expand(base, np.random.default_rng(0)).X.dtype == np.float32
    with pytest.raises(ValueError, match="square"):
        expand(Dataset(np.zeros((2, 10)), np.zeros(2, np.int64)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="negative"):
        expand(base, np.random.default_rng(0), copies=-1)
