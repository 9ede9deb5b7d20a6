"""The book's ``expand_mnist.py``: each training image plus its four one-pixel shifts, shuffled once.

For every one of the 50,000 training images (x, y) the expanded set holds x itself and x
shifted by one pixel down, up, right and left (in that order, as ``expand_mnist.py``
does with ``np.roll`` along rows, then columns); the row or column that rolls over is
set to zero. The 250,000 images are then shuffled once. The book used Python's
unseeded ``random.shuffle``; nndl shuffles with ``numpy.random.default_rng(seed)``, so
the same seed gives the same set everywhere.

The set is built once and cached in ``cache_dir() / "expanded"`` as uint8 pixels
(196 MB; the float32 set is 784 MB), keyed by the MD5 of the source images and labels
and the seed. ``expanded_training_data`` returns one float32 array converted chunk by
chunk from the memory-mapped cache: no second full-size copy, and training walks it in
place every epoch (network3 does not reshuffle).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SIDE = 28
# (shift, axis) in expand_mnist.py's order: down, up (rows); right, left (columns)
SHIFTS = ((1, 0), (-1, 0), (1, 1), (-1, 1))
COPIES = 1 + len(SHIFTS)
CHUNK = 10_000  # rows converted to float at a time


def shifted(images: np.ndarray, shift: int, axis: int) -> np.ndarray:
    """``images`` (n, 28, 28) moved by ``shift`` pixels along ``axis`` (0 rows, 1 columns), zero-filled.

    The same as expand_mnist.py's ``np.roll`` followed by zeroing the row or column that
    rolled over.
    """
    out = np.zeros_like(images)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    if shift > 0:
        src[1 + axis], dst[1 + axis] = slice(0, SIDE - shift), slice(shift, SIDE)
    else:
        src[1 + axis], dst[1 + axis] = slice(-shift, SIDE), slice(0, SIDE + shift)
    out[tuple(dst)] = images[tuple(src)]
    return out


def expand(images_u8: np.ndarray, labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The expanded set as uint8: (5 n, 784) images and (5 n,) labels, shuffled by ``seed``.

    ``images_u8``: (n, 784) uint8 pixels (ValueError for wrong shapes). Before the shuffle, example 5 i is image i and
    examples 5 i + 1 ... 5 i + 4 its shifts down, up, right, left.
    """
    images_u8, labels = _check_training((images_u8, labels))
    n = len(images_u8)
    imgs = images_u8.reshape(n, SIDE, SIDE)
    perm = np.random.default_rng(seed).permutation(COPIES * n)  # shuffled[j] = unshuffled[perm[j]]
    where = np.empty_like(perm)
    where[perm] = np.arange(COPIES * n)  # where[t] = the position of unshuffled example t
    X = np.empty((COPIES * n, SIDE * SIDE), np.uint8)
    y = np.empty(COPIES * n, np.int64)
    for k in range(COPIES):
        rows = where[k::COPIES]  # unshuffled examples 5 i + k
        X[rows] = (imgs if k == 0 else shifted(imgs, *SHIFTS[k - 1])).reshape(n, -1)
        y[rows] = labels
    return X, y


def _key(images_u8: np.ndarray, labels: np.ndarray, seed: int) -> str:
    h = hashlib.md5(images_u8.tobytes())
    h.update(np.ascontiguousarray(labels, np.int64).tobytes())
    return f"mnist-expanded-{h.hexdigest()[:16]}-seed{seed}"


def _digest(images: np.ndarray, labels: np.ndarray) -> str:
    """md5 of the expanded set's pixels and labels (stored beside the cache, checked on reading)."""
    h = hashlib.md5()
    for a in range(0, len(images), CHUNK * 5):
        h.update(np.ascontiguousarray(images[a: a + CHUNK * 5]).data)
    h.update(np.ascontiguousarray(labels, np.int64).data)
    return h.hexdigest()


def _check_training(training) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, 784), y (n,) int64)`` of a training pair, or a ValueError naming what is wrong."""
    try:
        X, labels = training
    except (TypeError, ValueError):
        raise ValueError("training must be a pair (X, y) of images and labels") from None
    X, labels = np.asarray(X), np.asarray(labels)
    if X.ndim == 3 and X.shape[1:] == (SIDE, SIDE):
        X = X.reshape(len(X), SIDE * SIDE)
    if X.ndim != 2 or X.shape[1] != SIDE * SIDE:
        raise ValueError(f"training images must have shape (n, {SIDE * SIDE}) or (n, {SIDE}, {SIDE}); "
                         f"got {X.shape}")
    if labels.shape != (len(X),):
        raise ValueError(f"training labels must have shape ({len(X)},), one per image; got {labels.shape}")
    if labels.size and not (np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0):
        raise ValueError("training labels must be whole numbers >= 0")
    return X, labels.astype(np.int64)


def _to_uint8(X: np.ndarray) -> np.ndarray:
    """The 8-bit pixels k of images k/255, a chunk of rows at a time (small temporaries)."""
    X = np.asarray(X)
    out = np.empty(X.shape, np.uint8)
    for a in range(0, len(X), CHUNK):
        x = np.asarray(X[a: a + CHUNK], np.float64)
        k = np.rint(x * 255.0)
        if x.size and (k.min() < 0 or k.max() > 255 or np.abs(k / 255.0 - x).max() > 1e-6):
            raise ValueError("the training images must be MNIST's pixels k/255 (0 <= k <= 255)")
        out[a: a + CHUNK] = k
    return out


def _save_atomic(path: Path, array: np.ndarray) -> None:
    from nndl.io import atomic_write  # temporary + rename; refuses a target that is not a file

    with atomic_write(path) as f:
        np.save(f, array, allow_pickle=False)


def expanded_training_data(training, *, seed: int = 0, cache: str | os.PathLike[str] | None = None,
                           dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The expanded training set (250,000 images for MNIST's 50,000): (X (5 n, 784), y (5 n,)).

    ``training``: the book's training split (X (n, 784) floats k/255, y (n,) labels), e.g.
    ``nndl.data.load_mnist().training``. Built on first use and cached (``cache`` folder,
    default ``nndl.data.cache_dir()``); a cache file that cannot be read is rebuilt.
    The cache is verified on reading against the md5 stored beside it (``<key>-md5.txt``)
    and rebuilt on any mismatch. Raises ValueError if the images are not 8-bit pixels scaled
    to [0, 1], or the pair's shapes are wrong (named in the message).
    """
    from nndl.data import cache_dir

    X, labels = _check_training(training)
    u8 = _to_uint8(X)
    folder = cache_dir(cache) / "expanded"
    key = _key(u8, labels, seed)
    px, py, pd = (folder / f"{key}-{part}" for part in ("images.npy", "labels.npy", "md5.txt"))
    n = COPIES * len(u8)
    images = ys = None
    try:
        images = np.load(px, mmap_mode="r", allow_pickle=False)
        ys = np.load(py, allow_pickle=False)
        if images.shape != (n, SIDE * SIDE) or images.dtype != np.uint8 or ys.shape != (n,):
            raise ValueError("wrong shape")
        if pd.read_text().strip() != _digest(images, ys):  # a damaged or edited cache is rebuilt
            log.warning("the cached expanded set %s does not match its checksum; rebuilding it", px)
            raise ValueError("wrong checksum")
    except (OSError, ValueError, EOFError):  # (EOFError: np.load of a file cut short, e.g. empty)
        log.info("building the expanded training set (%d images) in %s", n, folder)
        built_x, ys = expand(u8, labels, seed)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _save_atomic(px, built_x)
            _save_atomic(py, ys)
            from nndl.io import atomic_write

            with atomic_write(pd) as f:
                f.write(_digest(built_x, ys).encode())
        except OSError as exc:  # a read-only cache only costs the rebuild next time
            log.warning("cannot cache the expanded set in %s: %s", folder, exc)
        images = built_x
    out = np.empty((n, SIDE * SIDE), dtype)
    for a in range(0, n, CHUNK):  # k / 255 in dtype, as nndl.data converts MNIST
        chunk = out[a: a + CHUNK]
        chunk[...] = images[a: a + CHUNK]
        chunk /= 255
    del images
    return out, ys
