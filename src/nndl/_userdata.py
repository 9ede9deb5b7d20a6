"""User data sets for ``nndl.data.load_dataset(path)``: .npz arrays, IDX folders, image folders.

Every format goes through the same checks as MNIST (``nndl.data._dataset``): image/label
count match, labels 0-9, pixels uint8 0..255 or floats in [0, 1], the same number of
inputs in every split. Splits (documented in docs/data.md):

- training and test given, no validation: validation = the last sixth of the training
  examples (as MNIST's 60,000 training images -> 50,000 + 10,000);
- one pooled set only: training / validation / test = the first 5/7, the next 1/7, the
  last 1/7 (MNIST's 50,000 / 10,000 / 10,000 proportions).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import pickle
import struct
from pathlib import Path

import numpy as np

from nndl import _validate
from nndl.data import (
    MNIST_FILES,
    DataSplits,
    _dataset,
    _describe,
    _has_mnist,
    _one_spelling,
    _read_idx_md5,
    _split,
)
from nndl.errors import DataError

log = logging.getLogger("nndl.data")

SPLITS = {  # split -> the names it may have (file keys x_<name>/y_<name>, or folder names)
    "training": ("train", "training"),
    "validation": ("val", "valid", "validation"),
    "test": ("test",),
}
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".webp"}
)

# A piece of a data set before checking: images, labels, where each of them is (for messages)
Piece = tuple[np.ndarray, np.ndarray, str, str]


def load_path(path: Path, dtype: np.dtype) -> DataSplits:
    """Load the data set at ``path``: a .npz file, a folder of IDX files or of images."""
    if path.is_dir():
        if _has_mnist(path):
            return load_idx_folder(path, dtype)
        return load_image_folder(path, dtype)
    if path.suffix.lower() == ".npz":
        return load_npz(path, dtype)
    if path.name.lower().endswith((".pkl.gz", ".pkl")):
        return load_book_pickle(path, dtype)
    raise DataError(f"{path}: not a .npz file, the book's mnist.pkl.gz or a folder of images or "
                    f"IDX files; it is {_validate.describe_file(path)}")


def _assemble(name: str, source: Path, pieces: dict[str, Piece], dtype: np.dtype,
              checksums: dict[str, str]) -> DataSplits:
    """Check every piece, split as documented, check that the splits agree."""
    data = {split: _dataset(*piece[:2], dtype, *piece[2:]) for split, piece in pieces.items()}
    if "all" in data:
        pooled = data.pop("all")
        n, k = len(pooled.y), len(pooled.y) // 7
        data["training"], data["validation"], data["test"] = _split(pooled, n - 2 * k, n - k)
    if "training" not in data or "test" not in data:
        raise DataError(f"{source}: needs a training and a test set (or a single pooled set)")
    if "validation" not in data:
        n = len(data["training"].y)
        data["training"], data["validation"] = _split(data["training"], n - n // 6)
    widths = {split: d.X.shape[1] for split, d in data.items()}
    if len(set(widths.values())) != 1:
        raise DataError(f"{source}: the splits have different numbers of inputs: {widths}")
    for split, d in data.items():
        if len(d.y) == 0:
            raise DataError(f"{source}: the {split} set is empty")
    training, validation, test = data["training"], data["validation"], data["test"]
    description = _describe(name, training, validation, test, str(source))
    return DataSplits(name, training, validation, test, str(source), checksums, description)


MAX_DATA_BYTES = 8 << 30  # a data set's features as floats (MNIST's float64: 439 MB)


def load_npz(path: Path, dtype: np.dtype) -> DataSplits:
    """Arrays ``x_train, y_train, x_test, y_test`` (optional ``x_val, y_val``), or ``x, y``.

    ``X_...`` may stand for ``x_...`` (not both); ``training``/``validation`` for
    ``train``/``val``. Keras's ``mnist.npz`` has exactly this layout. The file is checked
    before any data are read (``nndl._validate.read_npz``): only ``.npy`` members of numbers,
    no pickles; every pair's shapes agree; the features fit in ``MAX_DATA_BYTES``.
    """
    where = str(path)
    headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}

    def note(name: str, shape: tuple[int, ...], dt: np.dtype) -> None:
        headers[name] = (shape, dt)

    _validate.read_npz(path, DataError, only=frozenset(), check=note, kinds="biuf",
                       what=".npz data file")
    pieces: dict[str, tuple[str, str]] = {}
    named = [(split, f"_{alias}") for split, aliases in SPLITS.items() for alias in aliases]
    for split, suffix in [*named, ("all", "")]:
        x_keys = [k for k in (f"x{suffix}", f"X{suffix}") if k in headers]
        y_key = f"y{suffix}"
        if len(x_keys) > 1:
            raise DataError(f"{path}: holds both {x_keys[0]} and {x_keys[1]}; keep one")
        x_key = x_keys[0] if x_keys else None
        if x_key is None and y_key not in headers:
            continue
        if x_key is None or y_key not in headers:
            pair = f"x{suffix}, y{suffix}"
            raise DataError(f"{path}: has {x_key or y_key} without its partner ({pair})")
        if split in pieces:
            raise DataError(f"{path}: two pairs of arrays for the {split} set; keep one")
        pieces[split] = (x_key, y_key)
    if "all" in pieces and len(pieces) > 1:
        del pieces["all"]  # named splits take precedence over a pooled x, y
    if not pieces:
        raise DataError(
            f"{path}: no arrays x_train/y_train, x_test/y_test or x/y (found {sorted(headers)})"
        )
    n_values = 0
    for x_key, y_key in pieces.values():
        (x_shape, _), (y_shape, _) = headers[x_key], headers[y_key]
        if len(x_shape) < 2:
            raise DataError(f"{path}[{x_key}]: wrong dimensions: images need (n, ...), not {x_shape}")
        if len(y_shape) != 1:
            raise DataError(f"{path}[{y_key}]: wrong dimensions: labels need shape (n,), not {y_shape}")
        if x_shape[0] != y_shape[0]:
            raise DataError(f"{path}[{x_key}]: image/label count mismatch: {x_shape[0]:,} images "
                            f"but {y_shape[0]:,} labels in {path}[{y_key}]")
        n_values += int(np.prod(x_shape, dtype=object))
    if n_values * dtype.itemsize > MAX_DATA_BYTES:
        raise DataError(f"{path}: {n_values:,} pixel values would take "
                        f"{n_values * dtype.itemsize / 2**30:.1f} GiB as {dtype}; nndl reads at most "
                        f"{MAX_DATA_BYTES / 2**30:.0f} GiB")
    keys = frozenset(k for pair in pieces.values() for k in pair)
    arrays = _validate.read_npz(path, DataError, only=keys, kinds="biuf", what=".npz data file")
    data = {split: (arrays[x], arrays[y], f"{where}[{x}]", f"{where}[{y}]")
            for split, (x, y) in pieces.items()}
    with _validate.open_regular(path, DataError) as f:
        checksums = {path.name: hashlib.file_digest(f, "md5").hexdigest()}
    return _assemble(path.stem, path, data, dtype, checksums)


BOOK_PICKLE_SHAPES = ((50_000, 784), (10_000, 784), (10_000, 784))  # mnist.pkl.gz's splits
MAX_PICKLE_BYTES = 512 << 20  # mnist.pkl.gz decompressed: 220 MB (up to 2x as Python 3 protocol 2)


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds NumPy arrays, dtypes and tuples, and nothing else.

    ``find_class`` is the only way a pickle reaches code; here it admits the three names
    NumPy's array pickles use (``_reconstruct``, ``ndarray``, ``dtype`` restricted to
    numbers), under NumPy 1's and 2's module names. Any other global (``os.system``...)
    is refused before it is looked up.
    """

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        if name == "_reconstruct":
            return _reconstruct
        if name == "ndarray":
            return np.ndarray
        if name == "encode":  # how Python 3 writes bytes in protocol 2
            return _latin1_bytes
        return _numeric_dtype


def _reconstruct(cls, shape, typecode):
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only plain NumPy arrays are admitted")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _latin1_bytes(text, encoding="latin1"):
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("refused a call of _codecs.encode")
    return text.encode("latin1")


def _numeric_dtype(spec, *args):
    dt = np.dtype(spec)
    if dt.kind not in "biuf":
        raise pickle.UnpicklingError(f"refused the array type {dt}")
    return dt


def load_book_pickle(path: Path, dtype: np.dtype) -> DataSplits:
    """The book's ``mnist.pkl.gz`` (``mnist_loader.load_data``), read safely.

    The file is three pickled (images, labels) pairs: training 50,000, validation 10,000,
    test 10,000 images of 784 float32 pixels in [0, 1], int64 labels. It is unpickled by
    ``_ArraysOnly``, which admits NumPy arrays of numbers and nothing else (a pickle that
    names any other code is refused unrun), after a gunzip bounded at 256 MB, and its
    content is checked against those shapes.
    """
    where = str(path)
    raw = _validate.read_bytes(path, MAX_PICKLE_BYTES, DataError, "pickle file")
    if raw[:2] == b"\x1f\x8b":
        raw = _validate.gunzip(raw, MAX_PICKLE_BYTES, where, DataError, "mnist.pkl.gz holds")
    if raw[:1] != b"\x80":
        raise DataError(f"{where}: not a pickle; it is {_validate.describe(raw[:64])}")
    try:
        obj = _ArraysOnly(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError, RecursionError, struct.error) as exc:
        raise DataError(f"{where}: not the book's mnist.pkl.gz: it holds more than NumPy arrays "
                        f"or is damaged ({type(exc).__name__}: {exc})") from None
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(
            isinstance(p, tuple) and len(p) == 2 and all(isinstance(a, np.ndarray) for a in p)
            for p in obj)):
        raise DataError(f"{where}: not the book's mnist.pkl.gz (three (images, labels) pairs)")
    pieces: dict[str, Piece] = {}
    for split, (x, y), shape in zip(("training", "validation", "test"), obj, BOOK_PICKLE_SHAPES):
        if x.shape != shape or y.shape != shape[:1]:
            raise DataError(f"{where}: the {split} set has images {x.shape} and labels {y.shape}; "
                            f"the book's mnist.pkl.gz has {shape} and {shape[:1]}")
        pieces[split] = (x, y, f"{where} ({split} images)", f"{where} ({split} labels)")
    with _validate.open_regular(path, DataError) as f:
        checksums = {path.name: hashlib.file_digest(f, "md5").hexdigest()}
    return _assemble("mnist.pkl", path, pieces, dtype, checksums)


def load_idx_folder(path: Path, dtype: np.dtype) -> DataSplits:
    """A folder with the four MNIST-named IDX files, of any content (e.g. Fashion-MNIST).

    Called "mnist" if the files are MNIST's (same content md5s), else after the folder.
    """
    arrays, checksums = [], {}
    for spec in MNIST_FILES:
        file = _one_spelling(path, spec.name, strict=True)
        assert file is not None
        array, checksums[spec.name] = _read_idx_md5(file)
        arrays.append((array, str(file)))
    (xi, wi), (yi, wl), (xt, wt), (yt, wtl) = arrays
    pieces = {"training": (xi, yi, wi, wl), "test": (xt, yt, wt, wtl)}
    is_mnist = all(checksums[f.name] == f.md5 for f in MNIST_FILES)
    return _assemble("mnist" if is_mnist else path.name, path, pieces, dtype, checksums)


def load_image_folder(path: Path, dtype: np.dtype) -> DataSplits:
    """Images in label folders ``0``..``9``, either inside split folders or directly.

    ``path/train/3/a.png`` (``train``, optional ``validation``, ``test``), or
    ``path/3/a.png`` for one pooled set. Images are read as grayscale (0 = black), must all
    have one size, and are taken in turn from each label folder (file-name order within
    a folder), so every tail of the list, and hence every split, mixes all labels.
    """
    folders = {p.name.lower(): p for p in _list(path, path) if p.is_dir()}
    pieces: dict[str, Piece] = {}
    for split, aliases in SPLITS.items():
        for alias in aliases:
            if alias in folders:
                images, labels = _read_images(folders[alias], path)
                pieces[split] = (images, labels, str(folders[alias]), str(folders[alias]))
    if not pieces:
        images, labels = _read_images(path, path)
        pieces["all"] = (images, labels, str(path), str(path))
    shapes = {piece[0].shape[1:] for piece in pieces.values()}
    if len(shapes) > 1:
        raise DataError(f"{path}: the splits hold images of different sizes: {sorted(shapes)}")
    splits = _assemble(path.name, path, pieces, dtype, {})
    if splits.training.X.mean() > 0.5:
        log.warning(
            "%s: the images look dark on light; MNIST's are light on dark (0 = background): "
            "invert them if the digits are dark", path
        )
    return splits


MAX_FOLDER_PIXELS = 2_000_000_000  # all images of a folder data set (MNIST: 55 million)


def _list(folder: Path, root: Path) -> list[Path]:
    """The entries of ``folder``; symbolic links leading outside ``root`` are refused."""
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot list it ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.is_symlink():
            _validate.check_inside(entry, root)
    return entries


def _read_images(folder: Path, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The images of the label folders 0..9 of ``folder``: uint8 (n, h, w) and labels (n,)."""
    per_label: list[list[Path]] = []
    labels_found: list[int] = []
    for sub in sorted(p for p in _list(folder, root) if p.is_dir() and not p.name.startswith(".")):
        if not (len(sub.name) == 1 and sub.name.isdigit()):
            if any(sub.name in (f.name, f.name.removesuffix(".gz")) for f in MNIST_FILES):
                raise DataError(f"{sub}: is a folder, not the IDX file of that name")
            raise DataError(f"{sub}: a folder name must be a label 0-9 (or train/validation/test)")
        files = sorted(f for f in _list(sub, root) if f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            per_label.append(files)
            labels_found.append(int(sub.name))
    if not per_label:
        raise DataError(
            f"{folder}: no images found; expected label folders 0-9 holding image files, "
            "e.g. FOLDER/train/3/a.png or FOLDER/3/a.png"
        )
    labelled = zip(per_label, labels_found, strict=True)
    columns = [[(file, label) for file in files] for files, label in labelled]
    order = [item for row in itertools.zip_longest(*columns) for item in row if item is not None]
    images, size = [], None
    pixels = 0
    for file, _ in order:
        # paper (transparent) = 0, the background of MNIST-style data; 16-bit and float
        # images are scaled, then rounded to 8 bits (8-bit images are taken exactly)
        grey = _validate.image_grey(file, DataError, paper=0.0)
        array = np.rint(grey * 255.0).astype(np.uint8)
        pixels += array.size
        if pixels > MAX_FOLDER_PIXELS:
            raise DataError(f"{folder}: more than {MAX_FOLDER_PIXELS:,} pixels in all; too big")
        if size is None:
            size = array.shape
        elif array.shape != size:
            raise DataError(
                f"{file}: wrong dimensions: {array.shape[1]}x{array.shape[0]}, the first image "
                f"is {size[1]}x{size[0]}; all images must have one size"
            )
        images.append(array)
    return np.stack(images), np.array([label for _, label in order], np.int64)
