"""Turning a picture of a digit into a network input, the way MNIST was made.

MNIST's recipe (LeCun et al.): the digit's bounding box is "size normalized to fit in a
20x20 pixel box while preserving [its] aspect ratio", with anti-aliasing, then "centered
in a 28x28 image by computing the center of mass of the pixels, and translating the
image so as to position this point at the center of the 28x28 field". Measured on the
MNIST test set, that centre is (14.0, 14.0) in array indices (row, column).

``digit_input(path, n_inputs)`` does the same for any PNG/JPEG (read with Pillow):

1. grey levels in [0, 1], transparent parts on white;
2. inverted if the background (the median of the border pixels) is light, so that ink
   is 1 and paper 0 as in MNIST; the background level is subtracted and the contrast
   stretched to [0, 1];
3. cropped to the box of the pixels darker than ``INK``;
4. scaled (Lanczos, anti-aliased) so its longer side fills the box;
5. pasted into the frame with its centre of mass at the frame's centre.

For MNIST (784 inputs) box and frame are 20 and 28. For other square inputs, e.g. the
64 of scikit-learn's 8x8 digits, whose digits fill their frame, the box is the whole
frame and the centre is the frame's middle.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nndl.errors import DataError, UsageError

MNIST_SIDE = 28  # the frame
MNIST_BOX = 20  # the box the digit is scaled into
MNIST_CENTRE = 14.0  # where MNIST puts the centre of mass (row and column index)
INK = 0.2  # after contrast stretching, pixels above this count as the digit (cropping)
MIN_CONTRAST = 0.1  # an image whose darkest and lightest parts differ less is blank


def read_grey(path: str | Path) -> np.ndarray:
    """The image at ``path`` as grey levels (h, w) in [0, 1]; transparent parts are paper (white).

    Read through ``nndl._validate.image_grey``: regular files only, pixels counted before
    decoding, 16-bit and float images scaled correctly. Raises ``DataError`` naming the file.
    """
    from nndl import _validate

    return _validate.image_grey(path, DataError, paper=1.0)


def ink_image(grey: np.ndarray) -> np.ndarray:
    """Ink 1, background 0: invert a light background, subtract it, stretch the contrast."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = 1.0 - grey if background > 0.5 else grey
    background = 1.0 - background if background > 0.5 else background
    span = float(ink.max()) - background
    if span < MIN_CONTRAST:
        raise ValueError("no digit found: the image is blank (no contrast between ink and paper)")
    return np.clip((ink - background) / span, 0.0, 1.0)


def frame_for(n_inputs: int) -> tuple[int, int, float]:
    """``(side, box, centre)`` for a network with ``n_inputs`` (a square image)."""
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise UsageError(
            f"the network has {n_inputs} inputs, not a square image; predict needs square inputs"
        )
    if side == MNIST_SIDE:
        return MNIST_SIDE, MNIST_BOX, MNIST_CENTRE
    return side, side, (side - 1) / 2


def normalize(
    ink: np.ndarray, side: int = MNIST_SIDE, box: int = MNIST_BOX, centre: float = MNIST_CENTRE
) -> np.ndarray:
    """Crop, scale into ``box`` x ``box``, centre by mass in ``side`` x ``side``; ink in [0, 1]."""
    from PIL import Image

    rows = np.flatnonzero((ink > INK).any(axis=1))
    cols = np.flatnonzero((ink > INK).any(axis=0))
    if not len(rows):
        raise ValueError("no digit found: no pixel stands out from the background")
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = digit.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray(digit.astype(np.float32)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    patch = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    mass = patch.sum()
    if mass <= 0:
        raise ValueError("no digit found after scaling")
    r, c = np.indices(patch.shape)
    com_r, com_c = (r * patch).sum() / mass, (c * patch).sum() / mass
    top = int(
        np.clip(round(centre - com_r), 0, side - new_h)
    )  # shift so the centre of mass lands on centre
    left = int(np.clip(round(centre - com_c), 0, side - new_w))
    out = np.zeros((side, side))
    out[top : top + new_h, left : left + new_w] = patch
    return out


def digit_input(path: str | Path, n_inputs: int = MNIST_SIDE * MNIST_SIDE) -> np.ndarray:
    """The picture at ``path`` as a network input of shape (n_inputs,), ink 1 on 0.

    Raises ``DataError`` naming the file if it cannot be read or shows no digit.
    """
    side, box, centre = frame_for(n_inputs)
    grey = read_grey(path)
    try:
        return normalize(ink_image(grey), side, box, centre).reshape(-1)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
