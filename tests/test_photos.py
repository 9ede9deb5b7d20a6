"""Photos of digits on paper: uneven light, a shadow, a dark border, thick and thin pens.

Issue 12, item 3: a 5 photographed under a lighting gradient (darker on one side) was
read as 0, because the dark side of the paper passed the ink threshold and the crop took
in the background. Each synthetic photo here is built from a real MNIST test digit
(scaled up 6x onto paper), so the right answer is known: the 28x28 image ``digit_input``
makes from the photo must look like the MNIST original, and a network trained on MNIST
must read it as it reads the original.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from nndl.images import digit_input

pytestmark = pytest.mark.skipif(not os.environ.get("NNDL_DATA"), reason="needs MNIST (NNDL_DATA)")

N = 30  # digits per kind of photo
SCALE = 6


def photo(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A grey photo (h, w) in [0, 1] of MNIST digit ``x`` (784,) written on paper."""
    ink = ndimage.zoom(x.reshape(28, 28), SCALE, order=1).clip(0, 1)  # 168 x 168
    if kind == "thick pen":
        ink = ndimage.grey_dilation(ink, size=(9, 9))  # strokes about 1.3 MNIST pixels wider
    elif kind == "marker":
        ink = ndimage.grey_dilation(ink, size=(13, 13))  # strokes about 2 MNIST pixels wider
    elif kind == "thin pen":
        ink = ndimage.grey_erosion(ink, size=(5, 5))
    h, w = 230, 200
    page = np.zeros((h, w))
    page[30:198, 16:184] = ink
    grey = 0.9 - 0.75 * page  # paper 0.9, ink 0.15
    rows, cols = np.indices((h, w))
    if kind == "lighting gradient":  # light from the right: the left edge gets 30 % of it
        grey *= 0.3 + 0.7 * cols / (w - 1)
    elif kind == "shadow":  # a soft shadow (a hand, the phone) over the lower left
        grey *= 1.0 - 0.55 / (1.0 + np.exp(-(rows - cols - 60) / 8.0))
    elif kind == "dark border":  # the paper does not fill the photo: dark table at two edges
        grey[:, :14] = 0.08
        grey[:22, :] = 0.1
    grey += 0.02 * rng.standard_normal((h, w))  # sensor noise
    return grey.clip(0, 1)


KINDS = ["even light", "lighting gradient", "shadow", "dark border", "thick pen", "marker", "thin pen"]


@pytest.fixture(scope="module")
def mnist_and_net():
    import nndl
    from nndl.data import load_mnist

    data = load_mnist(dtype=np.float32)
    net = nndl.Network([784, 30, 10], dtype=np.float32, rng=np.random.default_rng(0))
    net.sgd(data.training, 2, 10, 0.5, rng=np.random.default_rng(1))
    X, y = data.test.X[:200], data.test.y[:200]
    right = np.flatnonzero(net.predict(X) == y)[:N]  # digits the network reads correctly
    return X[right].astype(np.float64), y[right], net


@pytest.mark.parametrize("kind", KINDS)
def test_the_network_sees_the_digit_it_would_see_in_mnist(tmp_path, mnist_and_net, kind):
    X, y, net = mnist_and_net
    rng = np.random.default_rng(3)
    seen, corr = [], []
    for i, x in enumerate(X):
        path = tmp_path / f"{i}.png"
        Image.fromarray((255 * photo(x, kind, rng)).round().astype(np.uint8)).save(path)
        v = digit_input(path)
        seen.append(v)
        corr.append(np.corrcoef(v, x)[0, 1])
    read = net.predict(np.array(seen))
    assert np.median(corr) > 0.8, f"{kind}: median correlation with the MNIST originals {np.median(corr):.2f}"
    # A marker (strokes ~2 MNIST pixels wider, outside MNIST's own range) is the hard case:
    # 26 of 30 are read as in MNIST (measured), where the old threshold-the-border way
    # failed the lighting gradient, the shadow and the dark border outright.
    least = 0.8 if kind == "marker" else 0.9
    assert np.mean(read == y) >= least, f"{kind}: {np.mean(read == y):.0%} read as in MNIST"


def test_the_issue_example_a_five_under_a_lighting_gradient(tmp_path, mnist_and_net):
    """The issue's photo: a 5 with its paper darker on one side (it was read as 0, p 0.53)."""
    X, y, net = mnist_and_net
    fives = np.flatnonzero(y == 5)
    assert len(fives)
    for i in fives:
        path = tmp_path / f"five{i}.png"
        Image.fromarray((255 * photo(X[i], "lighting gradient", np.random.default_rng(i))).round()
                        .astype(np.uint8)).save(path)
        v = digit_input(path).reshape(28, 28)
        assert net.predict(v.reshape(1, -1))[0] == 5
        # the digit fills MNIST's 20-pixel box, not a corner of the frame
        rows, cols = np.flatnonzero(v.max(axis=1) > 0.2), np.flatnonzero(v.max(axis=0) > 0.2)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 18


def test_preprocessing_is_deterministic(tmp_path, mnist_and_net):
    X, _, _ = mnist_and_net
    path = tmp_path / "p.png"
    Image.fromarray((255 * photo(X[0], "shadow", np.random.default_rng(0))).astype(np.uint8)).save(path)
    assert np.array_equal(digit_input(path), digit_input(path))
