"""Turning a picture of a digit into a network input, the way MNIST was made.

MNIST's recipe (LeCun et al.): the digit's bounding box is "size normalized to fit in a
20x20 pixel box while preserving [its] aspect ratio", with anti-aliasing, then "centered
in a 28x28 image by computing the center of mass of the pixels, and translating the
image so as to position this point at the center of the 28x28 field". Measured on the
MNIST test set, that centre is (14.0, 14.0) in array indices (row, column).

``digit_input(path, n_inputs)`` does the same for any PNG/JPEG (read with Pillow): grey
levels, transparent parts on white (``read_grey``); then ``ink_image`` finds the ink in a
real photo (uneven light, a shadow, a dark border, a thick or thin pen: its docstring
gives the algorithm step by step, deterministic, so that other implementations, such as
a browser canvas's JavaScript, can follow it exactly); then ``normalize`` crops to the
digit, scales it (Lanczos, anti-aliased) so its longer side fills the box and pastes it
into the frame with its centre of mass at the frame's centre.

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


WORK_SIDE = 512  # photos are box-averaged down to at most this many pixels a side first
BACKGROUND_WINDOW = 0.12  # the opening's square window, as a share of the longer side
SPECK = 0.02  # ink components smaller than this share of the largest one are dropped
WINDOW_STROKES = 2  # step 3b: the window must be at least this many stroke widths wide
STROKE = 0.13  # MNIST's median stroke width, as a share of the digit's longer side (ink_image step 9)
STROKE_RANGE = (0.07, 0.18)  # thinner than nearly all of MNIST, or than its 90th percentile: -> STROKE
INK_LEVEL = 25  # percentile of the ink pixels' strength that becomes 1.0 (ink_image step 7)


def ink_image(grey: np.ndarray) -> np.ndarray:
    """Ink 1, paper 0, anything else 0: the ink of a photo of one digit, found robustly.

    ``grey`` is (h, w) in [0, 1] (0 black); the result has the same shape, in [0, 1]
    (except step 1's reduction: a side longer than ``WORK_SIDE`` gives a smaller array).
    Raises ``ValueError`` ("no digit found: ...") for a blank picture. Deterministic:
    the same picture always gives the same array. The steps:

    1. Size: if the longer side exceeds ``WORK_SIDE`` (512), the picture is reduced by an
       integer factor f = ceil(longer / 512) by averaging f x f blocks (the last partial
       row and column of blocks are cut off).
    2. Polarity: if the median of all pixels is above 0.5 the paper is light, and
       x = 1 - grey; otherwise x = grey. Ink is now high, paper low. (The median of the
       whole picture, not of its border: the paper covers most of a photo of a digit,
       while its border may be a dark table edge.)
    3. Background (the paper's own, uneven brightness): B = the grey-level *opening* of x
       with a k x k square window, k = max(3, r | 1) where r = round(BACKGROUND_WINDOW *
       the longer side after step 1) (Python's round: halves to even) and ``| 1`` sets the
       lowest bit (an even r becomes r + 1),
       i.e. a k x k minimum filter then a k x k maximum filter, edges handled by
       reflection (scipy.ndimage ``mode="reflect"``: d c b a | a b c d). Strokes narrower
       than k vanish from B; lighting gradients, shadows and dark borders wider than k stay.
    3b. After step 8, if the stroke width w of step 9 is more than k / ``WINDOW_STROKES``
       (k / 2: a marker's strokes, or their joins, would be taken for background), steps
       3-8 are done once more with k = ceil(2 w) | 1; the rest uses that second result.
    4. F = x - B (the white top-hat): ink stands out, the paper is ~0 everywhere.
       If max(F) < ``MIN_CONTRAST`` the picture is blank.
    5. Threshold t = max(Otsu's threshold of F, ``MIN_CONTRAST`` / 2 = 0.05): Otsu's is
       scikit-image's ``threshold_otsu(F, nbins=256)``, the bin centre over 256 equal
       bins of [min F, max F] that maximises the between-class variance. Ink mask M = F > t.
    6. Components: the 8-connected components of M. Components touching the picture's
       edge (a dark border, the shadow of the phone) are dropped unless nothing else is
       left; then components smaller than ``SPECK`` (2 %) of the largest remaining one
       (dust, paper texture) are dropped. K = the union of those kept.
    7. Strength: q = the ``INK_LEVEL`` (25th) percentile of F over K (linear
       interpolation, NumPy's default); I = clip(F / q, 0, 1). So three quarters of the
       ink is 1, like the saturated cores of MNIST's strokes, whatever the pen's darkness
       (a JPEG's ringing or a grey pencil does not dim the whole digit).
    8. Everything farther than one pixel (8-neighbourhood: a 3 x 3 dilation of K) from
       the kept ink is set to 0, keeping the anti-aliased edges of the strokes.
    9. Pen width: the stroke width is estimated as w = 4 * median over K of the Euclidean
       distance to the nearest pixel outside K (scipy.ndimage ``distance_transform_edt``;
       across a stroke of width w these distances run evenly from 0 to w/2), relative to
       the digit's size L = the longer side of K's bounding box. MNIST's digits have
       w / L between 0.10 and 0.18 (10th and 90th percentiles of the test set, median
       ``STROKE`` = 0.13). A pen outside ``STROKE_RANGE`` = [0.07, 0.18] (a marker, a
       fine liner) is brought to the median: I is grey-eroded (thinned) or grey-dilated (thickened) with
       a disk of radius r = round(|w - STROKE * L| / 2) pixels (the pixels (dy, dx) with
       dy^2 + dx^2 <= r^2); nothing changes when r = 0.
    """
    from scipy import ndimage

    g = np.asarray(grey, dtype=np.float64)
    h, w = g.shape
    f = -(-max(h, w) // WORK_SIDE)  # step 1
    if f > 1:
        hh, ww = h // f, w // f
        g = g[: hh * f, : ww * f].reshape(hh, f, ww, f).mean(axis=(1, 3))
    x = 1.0 - g if np.median(g) > 0.5 else g  # step 2
    k = max(3, int(round(BACKGROUND_WINDOW * max(g.shape))) | 1)  # step 3: odd
    ink, K, width = _ink_with_window(x, k)  # steps 3-8
    if width * WINDOW_STROKES > k:  # step 3b: a pen too wide for the window: again, wider
        ink, K, width = _ink_with_window(x, int(math.ceil(width * WINDOW_STROKES)) | 1)
    rows, cols = np.flatnonzero(K.any(axis=1)), np.flatnonzero(K.any(axis=0))  # step 9
    size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    if not STROKE_RANGE[0] <= width / size <= STROKE_RANGE[1]:
        r = int(round(abs(width - STROKE * size) / 2))
        if r > 0:
            dy, dx = np.indices((2 * r + 1, 2 * r + 1)) - r
            disk = dy**2 + dx**2 <= r**2
            grow = ndimage.grey_erosion if width > STROKE * size else ndimage.grey_dilation
            ink = grow(ink, footprint=disk, mode="constant", cval=0.0)
    return ink


def _ink_with_window(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Steps 3-8 of ``ink_image`` with a k x k window: (ink I, kept mask K, stroke width w)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    background = ndimage.maximum_filter(ndimage.minimum_filter(x, size=k, mode="reflect"), size=k, mode="reflect")
    F = x - background  # step 4
    if F.max() < MIN_CONTRAST:
        raise ValueError("no digit found: the image is blank (no contrast between ink and paper)")
    t = max(float(threshold_otsu(F, nbins=256)), MIN_CONTRAST / 2)  # step 5
    labels, count = ndimage.label(F > t, structure=np.ones((3, 3)))  # step 6
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inner = np.setdiff1d(np.arange(1, count + 1), edge)
    keep = inner if len(inner) else np.arange(1, count + 1)
    keep = keep[sizes[keep - 1] >= SPECK * sizes[keep - 1].max()]
    K = np.isin(labels, keep)
    q = float(np.percentile(F[K], INK_LEVEL))  # step 7
    ink = np.clip(F / q, 0.0, 1.0)
    ink[~ndimage.binary_dilation(K, structure=np.ones((3, 3)))] = 0.0  # step 8
    width = 4.0 * float(np.median(ndimage.distance_transform_edt(K)[K]))  # step 9's w
    return ink, K, width


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
    top = int(np.clip(round(centre - com_r), 0, side - new_h))  # shift so the centre of mass lands on centre
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
