"""Data sets: MNIST with the book's split, the bundled 8x8 digits, user data, expansion.

Where MNIST comes from (``load_mnist``), first match wins:

1. an explicit folder (``data_dir`` argument, the CLI's ``--data-dir``): when given, the
   only one (a folder that does not exist is a DataError; no fallback to 2. or 3.);
2. the folder named by the environment variable ``NNDL_DATA``;
3. the user cache folder, ``cache_dir() / "mnist"`` (``NNDL_CACHE`` overrides it);
4. else the four IDX files are downloaded from ``MIRRORS`` (or ``NNDL_MIRRORS``) into the
   explicit folder if one was given, else into the cache folder.

Every file is checked: IDX structure, dimensions, label range and the md5 of its
*decompressed* content. Decoded arrays are memoised as ``.npy`` files in
``cache_dir() / "decoded"``, keyed by the md5 of the source file and re-checked against the
content md5 on every load, so a second load skips the gunzip. The data folders themselves
are only read (``NNDL_DATA`` may be read-only).

``load_dataset("auto")`` uses MNIST when it is on this machine and otherwise scikit-learn's
bundled 8x8 digits, which need no network. Every result says which data set it is
(``DataSplits.name`` and ``DataSplits.description``).

Layout of the arrays (DESIGN.md): ``X`` has one example per row, shape ``(n, n_in)``,
pixels in [0, 1] (0 = background); ``y`` holds int64 labels 0-9.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nndl import _download, _validate
from nndl._download import Progress
from nndl.errors import DataError

__all__ = [
    "MIRRORS",
    "MNIST_FILES",
    "DataError",
    "DataSplits",
    "Dataset",
    "cache_dir",
    "expand",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "read_idx",
]

log = logging.getLogger(__name__)

#: Base URLs that serve the four gzipped MNIST IDX files, tried in order. Overridden by the
#: ``mirrors`` argument of ``load_mnist`` or by ``NNDL_MIRRORS`` (URLs separated by spaces).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's first mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow tutorials' mirror
    "http://yann.lecun.com/exdb/mnist/",  # the original host (often answers 403/404 now)
)


class MnistFile(NamedTuple):
    name: str  # the published (gzipped) file name
    md5: str  # md5 of the decompressed content; the .gz bytes differ between mirrors
    shape: tuple[int, ...]  # shape of the decoded uint8 array


MNIST_FILES: tuple[MnistFile, ...] = (
    MnistFile("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb", (60000, 28, 28)),
    MnistFile("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624", (60000,)),
    MnistFile("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea", (10000, 28, 28)),
    MnistFile("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637", (10000,)),
)
MNIST_TRAINING = 50_000  # the book's split: first 50,000 training images; the rest validate
DIGITS_SPLIT = (1197, 300, 300)  # digits in file order: first 1,197 / next 300 / last 300
_DIGITS_FILE = ("datasets", "data", "digits.csv.gz")  # inside the sklearn package folder
NUM_CLASSES = 10  # labels are 0..9


class Dataset(NamedTuple):
    """Examples and labels; unpacks as ``(X, y)``, which ``Network.sgd`` accepts.

    X : ndarray of shape (n, n_in), float64 or float32, C-contiguous, pixels in [0, 1]
    y : ndarray of shape (n,), int64 labels 0-9
    """

    X: np.ndarray
    y: np.ndarray

    def head(self, n: int) -> Dataset:
        """The first ``n`` examples (views, no copy), e.g. the book's "first 1,000 images"."""
        return Dataset(self.X[:n], self.y[:n])


@dataclass(frozen=True)
class DataSplits:
    """A data set split into training, validation and test sets, and where it came from."""

    name: str  # "mnist" | "digits" | a user data set's name
    training: Dataset  # MNIST: the first 50,000 training images (book split)
    validation: Dataset  # MNIST: the last 10,000 training images
    test: Dataset  # MNIST: the 10,000 t10k images
    source: str  # folder or file it was read from, or "scikit-learn bundled digits (...)"
    checksums: dict[str, str]  # file name -> md5 of its decompressed content ({} if n/a)
    description: str  # one line for humans, says which data set a run used


# ---------------------------------------------------------------------------------------
# IDX files


_IDX_TYPES = {  # IDX type code -> element type (big-endian in the file)
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {(t.kind, t.itemsize): code for code, t in _IDX_TYPES.items()}
MAX_IDX_BYTES = 1 << 30  # an IDX file (decompressed) nndl reads; MNIST's largest is 47 MB
MAX_IDX_DIMS = 8  # MNIST's have 1 (labels) and 3 (images)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into an array of its declared shape and type.

    The format (yann.lecun.com/exdb/mnist): two zero bytes, a type code (0x08 = uint8),
    the number of dimensions, each dimension as a big-endian uint32, then the data.

    Raises
    ------
    DataError
        naming the file and the problem: not a regular file, not gzip/corrupt gzip, bad
        magic number, unknown type code, more than 8 dimensions, truncated header or data,
        bytes after the data, more than ``MAX_IDX_BYTES`` (1 GiB) decompressed.
    """
    return _read_idx_md5(Path(path))[0]


def _read_idx_md5(path: Path, limit: int = MAX_IDX_BYTES,
                  expected: str = "an IDX file may have") -> tuple[np.ndarray, str]:
    """``read_idx(path)`` and the md5 of the file's decompressed content (at most ``limit``)."""
    # a gzip of incompressible data is slightly larger than its content
    raw = _validate.read_bytes(path, limit + limit // 100 + 1024, DataError, "IDX file")
    if raw[:2] == b"\x1f\x8b":
        raw = _validate.gunzip(raw, limit, str(path), DataError, expected)
    return _decode_idx(raw, path), hashlib.md5(raw).hexdigest()


def _decode_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{path}: truncated: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or code not in _IDX_TYPES or ndim == 0:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}: not an IDX file (MNIST labels start "
            f"with 0x00000801, images with 0x00000803); it is {_validate.describe(raw[:64])}"
        )
    if ndim > MAX_IDX_DIMS:
        raise DataError(f"{path}: the header declares {ndim} dimensions; nndl reads at most "
                        f"{MAX_IDX_DIMS}")
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise DataError(f"{path}: truncated: the header declares {ndim} dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - start != expected:
        what = "truncated" if len(raw) - start < expected else "trailing bytes"
        kind = {"u": "unsigned", "i": "signed", "f": "float"}[dtype.kind]
        raise DataError(
            f"{path}: {what}: the header declares shape {shape} of type 0x{code:02X} ({kind}, "
            f"{dtype.itemsize} byte{'s' if dtype.itemsize > 1 else ''} each: {expected:,} bytes of data), the file holds "
            f"{len(raw) - start:,}"
        )
    data = np.frombuffer(raw, dtype, offset=start).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _idx_md5(array: np.ndarray) -> str:
    """md5 of the IDX encoding of ``array``: equals the content md5 of the file it came from."""
    code = _IDX_CODES[array.dtype.kind, array.dtype.itemsize]
    h = hashlib.md5(bytes([0, 0, code, array.ndim]))
    for n in array.shape:
        h.update(n.to_bytes(4, "big"))
    h.update(np.ascontiguousarray(array, array.dtype.newbyteorder(">")).data)
    return h.hexdigest()


def _read_idx_cached(path: Path, cache: Path, spec: MnistFile) -> tuple[np.ndarray, str]:
    """``_read_idx_md5`` through the decoded-array cache ``cache / "decoded"``.

    Entries are ``<md5 of the source file's bytes>.<md5 of its content>.npy``; an entry is
    used only if it is a uint8 array of ``spec.shape`` that re-encodes to exactly that
    content md5, else it is deleted (and rebuilt). Failure to write the cache (read-only,
    full disk) only costs speed. Decompression stops at the size ``spec`` implies.
    """
    folder = cache / "decoded"
    limit = 4 + 4 * len(spec.shape) + math.prod(spec.shape)
    try:
        with _validate.open_regular(path, DataError, "IDX file") as f:
            source_md5 = hashlib.file_digest(f, "md5").hexdigest()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    for entry in sorted(folder.glob(f"{source_md5}.*.npy")):
        content_md5 = entry.name.split(".")[1]
        try:
            array = _validate.read_npy(entry, DataError, limit, kinds="u")
            if array.shape == spec.shape and array.dtype == np.uint8 and (
                    _idx_md5(array) == content_md5):
                return array, content_md5
            problem = "its content does not match its checksum"
        except (DataError, OSError) as exc:
            problem = str(exc)
        log.warning("ignoring the corrupt cache file %s (%s)", entry, problem)
        _remove_quietly(entry)
    array, content_md5 = _read_idx_md5(
        path, limit, f"of {spec.name}; wrong dimensions: it holds uint8 {spec.shape}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(folder)
        with _download.atomic_file(folder / f"{source_md5}.{content_md5}.npy") as f:
            np.save(f, array)
    except OSError as exc:
        log.debug("cannot write the decoded cache in %s: %s", folder, exc)
    return array, content_md5


STALE_PART_SECONDS = 3600.0  # a .part file this old in the decoded cache is a killed write's


def _remove_stale_parts(folder: Path) -> None:
    """Remove the decoded cache's ``.part`` files that killed processes left (by age: the
    cache has no lock, and a younger one may be another process's write in progress)."""
    import time

    for part in folder.glob(".*.part"):
        try:
            if time.time() - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
        except OSError:
            pass


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("cannot remove %s: %s", path, exc)


# ---------------------------------------------------------------------------------------
# Checks and conversions shared by every data set


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, not {dt}")
    return dt


def _features(images: np.ndarray, dtype: np.dtype, where: str) -> np.ndarray:
    """Images ``(n, ...)`` -> C-contiguous ``(n, n_in)`` floats in [0, 1].

    uint8 (or integers in 0..255) are divided by 255; floats must already lie in [0, 1].
    """
    if images.ndim < 2:
        raise DataError(f"{where}: wrong dimensions: images need (n, ...), not {images.shape}")
    flat = images.reshape(len(images), math.prod(images.shape[1:]))  # also for 0 images
    if images.dtype.kind in "ui":
        if images.dtype != np.uint8 and flat.size and (flat.min() < 0 or flat.max() > 255):
            found = f"{flat.min()}..{flat.max()}"
            raise DataError(f"{where}: integer pixels must be in 0..255, found {found}")
        out = flat.astype(dtype)  # a new C-contiguous array
        out /= 255  # 0 -> 0.0, 255 -> 1.0, correctly rounded in dtype
        return out
    if images.dtype.kind != "f":
        raise DataError(f"{where}: pixels must be numbers, not {images.dtype}")
    if flat.size and not (np.isfinite(flat).all() and flat.min() >= 0 and flat.max() <= 1):
        raise DataError(f"{where}: float pixels must be finite and in [0, 1]")
    return np.ascontiguousarray(flat, dtype)


def _labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Check labels: a 1-D integer array of values 0..9; returns it as int64."""
    if labels.ndim != 1:
        raise DataError(f"{where}: wrong dimensions: labels need shape (n,), not {labels.shape}")
    if labels.dtype.kind not in "ui":
        raise DataError(f"{where}: labels must be integers, not {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise DataError(
            f"{where}: labels outside 0-9: {bad.size} of them, the first is {labels[bad[0]]} "
            f"at index {bad[0]}"
        )
    return labels.astype(np.int64)


def _dataset(images: np.ndarray, labels: np.ndarray, dtype: np.dtype, images_where: str,
             labels_where: str) -> Dataset:
    """Check one split (shapes, count match, label range) and convert it."""
    y = _labels(labels, labels_where)
    if len(images) != len(y):
        raise DataError(
            f"{images_where}: image/label count mismatch: {len(images):,} images but "
            f"{len(y):,} labels in {labels_where}"
        )
    return Dataset(_features(images, dtype, images_where), y)


def _split(data: Dataset, *cuts: int) -> list[Dataset]:
    """``data`` cut at the given row indices into consecutive pieces (views, no copies)."""
    edges = [0, *cuts, len(data.y)]
    return [Dataset(data.X[a:b], data.y[a:b]) for a, b in itertools.pairwise(edges)]


def _describe(name: str, training: Dataset, validation: Dataset, test: Dataset,
              origin: str) -> str:
    n_in = training.X.shape[1]
    side = math.isqrt(n_in)
    size = f"{side}x{side}" if side * side == n_in else f"{n_in} inputs"
    return (
        f"{name} ({len(training.y):,}/{len(validation.y):,}/{len(test.y):,} "
        f"training/validation/test, {size}) from {origin}"
    )


# ---------------------------------------------------------------------------------------
# MNIST


def cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The user cache folder: ``path``, else ``$NNDL_CACHE``, else the platform's convention.

    The convention is platformdirs' ``user_cache_dir("nndl")``:
    Linux ``$XDG_CACHE_HOME/nndl`` or ``~/.cache/nndl``; macOS: ``~/Library/Caches/nndl``;
    Windows: ``%LOCALAPPDATA%\\nndl\\Cache``.
    """
    if path is not None:
        return Path(path).expanduser()
    if env := os.environ.get("NNDL_CACHE"):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("nndl", appauthor=False))


def _mnist_spellings(folder: Path, name: str) -> list[Path]:
    """Every file in ``folder`` that is ``name``: gzipped, or unzipped under either usual name."""
    stem = name.removesuffix(".gz")
    return [folder / c for c in (name, stem, stem.replace("-idx", ".idx")) if (folder / c).is_file()]


def _mnist_path(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder``: gzipped, or unzipped under either usual name."""
    found = _mnist_spellings(folder, name)
    return found[0] if found else None


def _one_spelling(folder: Path, name: str, strict: bool) -> Path | None:
    """``_mnist_path``, saying so when ``folder`` holds ``name`` under two spellings:
    ``strict`` (content not checked against MNIST's): a ``DataError``; else a warning."""
    found = _mnist_spellings(folder, name)
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        if strict:
            raise DataError(f"{folder}: holds both {names} (one file under two names); keep one, "
                            "nndl will not guess which")
        log.warning("%s: holds both %s; using %s (checked against MNIST's checksum)", folder, names,
                    found[0].name)
    return found[0] if found else None


def _has_mnist(folder: Path) -> bool:
    try:
        return all(_mnist_path(folder, f.name) for f in MNIST_FILES)
    except OSError:  # e.g. a folder we may not list
        return False


def check_mnist_dir(data_dir: str | os.PathLike[str], option: str = "--data-dir") -> None:
    """``UsageError`` unless the folder a user named for MNIST holds the four MNIST files.

    The command line's ``--data-dir`` says where MNIST is: a folder without it is a usage
    error, never a silent switch to ``$NNDL_DATA`` or the cache.
    """
    from nndl.errors import UsageError

    folder = Path(data_dir).expanduser()
    if not _has_mnist(folder):
        names = ", ".join(f.name for f in MNIST_FILES)
        raise UsageError(f"{option} {folder}: does not hold the four MNIST files ({names}); "
                         f"put them there, or leave {option} out to use $NNDL_DATA or the cache")


def _search_path(data_dir, cache: Path) -> list[tuple[str, Path]]:
    """The folders searched for MNIST, in order, each with how it was chosen.

    An explicit ``data_dir`` is the only folder: never a silent switch to $NNDL_DATA or the cache.
    """
    folders = []
    if data_dir is not None:
        return [("data_dir", Path(data_dir).expanduser())]
    if env := os.environ.get("NNDL_DATA"):
        folders.append(("NNDL_DATA", Path(env).expanduser()))
    folders.append(("cache", cache / "mnist"))
    return folders


def _find_mnist(data_dir, cache: Path) -> Path | None:
    """The first folder of the search path that holds all four MNIST files, or None.

    ``DataError`` if an explicit ``data_dir`` is not a folder.
    """
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise DataError(f"data_dir {Path(data_dir).expanduser()}: no such folder (it should hold the "
                        f"four MNIST files, {', '.join(f.name for f in MNIST_FILES)})")
    for how, folder in _search_path(data_dir, cache):
        if _has_mnist(folder):
            log.debug("MNIST found in %s (%s)", folder, how)
            return folder
        if how != "cache":
            log.warning("%s %s does not hold the four MNIST files", how, folder)
    return None


def _mirrors(mirrors) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    if env := os.environ.get("NNDL_MIRRORS"):
        return env.split()
    return list(MIRRORS)


def _not_found(data_dir, cache: Path, failure: str) -> str:
    looked = ", ".join(f"{folder} ({how})" for how, folder in _search_path(data_dir, cache))
    names = ", ".join(f.name for f in MNIST_FILES)
    return (
        f"MNIST not found (looked in {looked}) and {failure}. To use MNIST offline, put the "
        f"four files {names} in a folder and set NNDL_DATA to that folder or pass "
        "--data-dir FOLDER (or use the data set 'digits', the bundled 8x8 digits, offline)"
    )


def _load_mnist_file(path: Path, spec: MnistFile, cache: Path) -> tuple[np.ndarray, str]:
    """Read one MNIST file and check its dimensions, labels and content md5."""
    array, md5 = _read_idx_cached(path, cache, spec)
    if array.shape != spec.shape or array.dtype != np.uint8:
        raise DataError(
            f"{path}: wrong dimensions: {spec.name} holds uint8 {spec.shape}, this file "
            f"holds {array.dtype} {array.shape}"
        )
    if array.ndim == 1:
        _labels(array, str(path))
    if md5 != spec.md5:
        raise DataError(
            f"{path}: wrong checksum: content md5 {md5}, MNIST's {spec.name} has {spec.md5} "
            "(a corrupt or different file)"
        )
    return array, md5


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dtype=np.float64,
    download: bool = True,
    progress: Progress | None = None,
    mirrors: list[str] | tuple[str, ...] | None = None,
    cache: str | os.PathLike[str] | None = None,
    timeout: float = _download.TIMEOUT,
) -> DataSplits:
    """MNIST with the book's split: training 50,000 / validation 10,000 / test 10,000.

    Parameters
    ----------
    data_dir : folder holding the four IDX files (the only folder searched when given, and
        where downloads go; a DataError if it is not a folder).
    dtype : float64 (default) or float32, the type of ``X``.
    download : fetch missing files (and corrupt files of the cache folder) from the mirrors.
    progress : ``progress(file_name, bytes_done, bytes_total)``; default: INFO log lines.
    mirrors : base URLs to download from; default ``$NNDL_MIRRORS`` or ``MIRRORS``.
    cache : the cache folder; default ``cache_dir()``.
    timeout : seconds a mirror may take to connect or stay silent.

    Returns
    -------
    DataSplits
        ``training.X`` of shape (50000, 784), ``validation.X`` (10000, 784) and
        ``test.X`` (10000, 784): views of one C-contiguous array per file, no extra copy.

    Raises
    ------
    DataError
        if MNIST is neither found nor downloadable (the message says what to do), or a file
        is bad (the message names it and the problem). A bad file in the cache folder is
        downloaded again when ``download`` is true; a bad file elsewhere is never replaced.
    """
    dtype = _float_dtype(dtype)
    cache_root = cache_dir(cache)
    managed = cache_root / "mnist"  # the folder nndl owns and may repair
    folder = _find_mnist(data_dir, cache_root)
    urls = _mirrors(mirrors)
    if folder is None:
        if not download:
            raise DataError(_not_found(data_dir, cache_root, "downloading is off"))
        folder = Path(data_dir).expanduser() if data_dir is not None else managed
        try:
            for spec in MNIST_FILES:
                if _mnist_path(folder, spec.name) is None:
                    _download.fetch(spec.name, urls, folder, spec.md5, progress=progress,
                                    timeout=timeout)
        except _download.DownloadError as exc:
            failure = f"could not be downloaded ({exc.summary()})"
            raise _download.DownloadError(exc.name, exc.failures, exc.offline).with_message(
                _not_found(data_dir, cache_root, failure)) from None
    arrays, checksums = [], {}
    for spec in MNIST_FILES:
        path = _one_spelling(folder, spec.name, strict=False)
        assert path is not None
        try:
            array, md5 = _load_mnist_file(path, spec, cache_root)
        except DataError as exc:
            if folder != managed or not download:
                raise
            log.warning("%s; downloading it again", exc)
            path.unlink()
            path = _download.fetch(spec.name, urls, folder, spec.md5, progress=progress)
            array, md5 = _load_mnist_file(path, spec, cache_root)
        arrays.append(array)
        checksums[spec.name] = md5
    train_images, train_labels, test_images, test_labels = arrays
    train = _dataset(train_images, train_labels, dtype, "MNIST training images", "labels")
    test = _dataset(test_images, test_labels, dtype, "MNIST test images", "labels")
    training, validation = _split(train, MNIST_TRAINING)
    description = _describe("MNIST, book split", training, validation, test, str(folder))
    return DataSplits("mnist", training, validation, test, str(folder), checksums, description)


# ---------------------------------------------------------------------------------------
# The embedded default: scikit-learn's bundled digits


def _digits_table() -> tuple[np.ndarray, str, dict[str, str]]:
    """The 1,797 x 65 table of the bundled digits (64 pixels 0..16, then the label).

    Read straight from scikit-learn's data file when it is where scikit-learn keeps it
    (importing scikit-learn costs about a second); else through ``sklearn.datasets``.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the digits data set needs scikit-learn: pip install scikit-learn")
    path = Path(spec.submodule_search_locations[0]).joinpath(*_DIGITS_FILE)
    try:
        raw = gzip.decompress(path.read_bytes())
        table = np.loadtxt(io.BytesIO(raw), delimiter=",")
        checksums = {path.name: hashlib.md5(raw).hexdigest()}
        return table, f"scikit-learn bundled digits ({path})", checksums
    except (OSError, EOFError, ValueError) as exc:
        log.debug("reading %s directly failed (%s); asking sklearn.datasets", path, exc)
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return np.column_stack([bunch.data, bunch.target]), "scikit-learn bundled digits", {}


def load_digits(*, dtype=np.float64) -> DataSplits:
    """scikit-learn's bundled 8x8 handwritten digits: real data that needs no network.

    1,797 images of 64 pixels (values 0..16, scaled to [0, 1] by dividing by 16), split in
    file order: training = the first 1,197, validation = the next 300, test = the last 300.
    Each split holds every digit about equally often (the file cycles through the classes).
    A network for it has 64 inputs, e.g. ``Network([64, 30, 10])``.
    """
    dtype = _float_dtype(dtype)
    table, source, checksums = _digits_table()
    if table.shape != (1797, 65) or table.min() < 0 or table[:, :64].max() > 16:
        raise DataError(f"{source}: unexpected content, shape {table.shape}")
    X = np.ascontiguousarray(table[:, :64] / 16.0, dtype)
    y = _labels(table[:, 64].astype(np.int64), source)
    n_training, n_validation, _ = DIGITS_SPLIT
    cuts = (n_training, n_training + n_validation)
    training, validation, test = _split(Dataset(X, y), *cuts)
    origin = "scikit-learn's bundled copy (not MNIST)"
    description = _describe("handwritten digits", training, validation, test, origin)
    return DataSplits("digits", training, validation, test, source, checksums, description)


# ---------------------------------------------------------------------------------------
# One entry point


def load_dataset(
    name: str | os.PathLike[str] = "auto",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    dtype=np.float64,
    download: bool = True,
) -> DataSplits:
    """Load a data set by name; logs which one at INFO level.

    Parameters
    ----------
    name : "mnist" | "digits" | "auto" | a path to a ``.npz`` file, the book's
        ``mnist.pkl.gz`` or a folder.
        "auto" = MNIST: found on this machine (``data_dir``, ``NNDL_DATA``, the cache
        folder), else downloaded (``AUTO_TIMEOUT`` seconds to connect), checked and cached;
        only if no mirror can be reached (offline) the bundled digits, with a warning.
        ``download=False``: never download (the digits if MNIST is not here). A folder holding the four
        MNIST-named IDX files is read as IDX data of any content (e.g. Fashion-MNIST);
        any other folder as labelled images (see ``docs/data.md``).
    data_dir, download : as for ``load_mnist``.
    dtype : float64 (default) or float32.
    """
    text = os.fspath(name)
    if text == "auto":
        splits = _load_auto(data_dir, dtype, download)
    elif text == "mnist":
        splits = load_mnist(data_dir, dtype=dtype, download=download)
    elif text == "digits":
        splits = load_digits(dtype=dtype)
    elif Path(text).expanduser().exists() or Path(text).expanduser().is_symlink():
        from nndl import _userdata

        splits = _userdata.load_path(Path(text).expanduser(), _float_dtype(dtype))
    else:
        raise DataError(
            f"unknown data set {text!r}: use 'mnist', 'digits', 'auto', or the path of a "
            ".npz file or of a folder of images"
        )
    log.info("data: %s", splits.description)
    return splits


AUTO_TIMEOUT = 10.0  # seconds to reach a mirror before "auto" counts this machine as offline


def _load_auto(data_dir, dtype, download: bool) -> DataSplits:
    """MNIST if here or downloadable; the bundled digits only offline (or ``download=False``)."""
    folder = _find_mnist(data_dir, cache_dir())
    if folder is not None:
        return load_mnist(folder, dtype=dtype, download=download)
    if not download:
        log.warning("MNIST is not on this machine: using the bundled 8x8 digits instead")
        return load_digits(dtype=dtype)
    log.info("MNIST is not on this machine: downloading it (11 MB, once) into %s",
             Path(data_dir).expanduser() if data_dir is not None else cache_dir() / "mnist")
    try:
        return load_mnist(data_dir, dtype=dtype, timeout=AUTO_TIMEOUT)
    except _download.DownloadError as exc:
        if not exc.offline:
            raise
        log.warning("MNIST is not on this machine and %s (offline?): using the bundled 8x8 digits "
                    "instead", exc.summary())
        return load_digits(dtype=dtype)


# ---------------------------------------------------------------------------------------
# Artificially expanding the training data (chapter 3; the one-pixel shifts of chapter 6)

def expand(
    data: Dataset,
    rng: np.random.Generator,
    *,
    copies: int = 1,
    max_shift: int = 1,
    max_rotation: float = 10.0,
) -> Dataset:
    """The data plus ``copies`` randomly shifted and rotated copies of every image.

    Each copy of an image is rotated about its centre by an angle drawn uniformly from
    [-max_rotation, max_rotation] degrees (bilinear interpolation), then shifted by whole
    pixels dx, dy drawn uniformly from -max_shift..max_shift; pixels moved in from outside
    are 0. ``max_rotation=0, max_shift=1`` gives chapter 6's one-pixel shifts (also
    diagonal ones, and sometimes none). Deterministic given ``rng``.

    Parameters
    ----------
    data : Dataset with X of shape (n, s*s): square images (28x28 MNIST, 8x8 digits).
    rng : the only source of randomness.

    Returns
    -------
    Dataset with X of shape ((1 + copies) * n, s*s), the originals first, then copy 1 of
    every image, and so on; y repeated to match. One new array, made once: train on it for
    as many epochs as you like.
    """
    X, y = data
    n, d = X.shape
    side = math.isqrt(d)
    if side * side != d:
        raise ValueError(f"expand needs square images, but {d} inputs is not a square")
    if copies < 0 or max_shift < 0 or max_rotation < 0:
        raise ValueError("copies, max_shift and max_rotation must not be negative")
    from scipy import ndimage

    angles = np.deg2rad(rng.uniform(-max_rotation, max_rotation, size=(copies, n)))
    shifts = rng.integers(-max_shift, max_shift, size=(copies, n, 2), endpoint=True)
    images = X.reshape(n, side, side)
    centre = np.full(2, (side - 1) / 2)
    out = np.empty(((1 + copies) * n, d), X.dtype)
    out[:n] = X
    copy = out[n:].reshape(copies, n, side, side)  # a view: the copies are written in place
    for k, i in np.ndindex(copies, n):
        cos, sin = np.cos(angles[k, i]), np.sin(angles[k, i])
        rotation = np.array([[cos, -sin], [sin, cos]])  # (row, col) of the output -> input
        offset = centre - rotation @ (centre + shifts[k, i])  # undo the shift, then rotate
        ndimage.affine_transform(images[i], rotation, offset, output=copy[k, i], order=1,
                                 mode="constant", cval=0.0)
    np.clip(out[n:], 0.0, 1.0, out=out[n:])  # bilinear interpolation can overshoot 1 by an ulp
    return Dataset(out, np.tile(y, 1 + copies))
