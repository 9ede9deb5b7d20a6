"""``nndl predict`` and the MNIST-style preprocessing of ``nndl.images``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

import nndl
from nndl.cli import main
from nndl.data import load_digits
from nndl.errors import DataError, UsageError
from nndl.images import digit_input, frame_for


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def draw_seven(
    path: Path, size=(120, 160), box=(20, 20, 100, 140), ink=0, paper=255, mode="L"
) -> Path:
    """A '7' drawn with a thick pen: a bar and a slanted stroke."""
    if mode == "RGB":
        ink, paper = (ink,) * 3, (paper,) * 3
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    w = max(2, (x1 - x0) // 7)
    d.line([(x0, y0), (x1, y0), (x0 + (x1 - x0) * 0.4, y1)], fill=ink, width=w)
    img.save(path)
    return path


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("predict") / "run"
    assert (
        main(["train", "--data", "digits", "--epochs", "3", "--no-plots", "-q", "-o", str(folder)])
        == 0
    )
    return folder / "model.npz"


@pytest.fixture(scope="module")
def mnist_shaped_model(tmp_path_factory) -> Path:
    """An untrained 784-input model: predict's arithmetic, not its accuracy."""
    path = tmp_path_factory.mktemp("predict") / "mnist.npz"
    nndl.Network([784, 30, 10], rng=np.random.default_rng(1)).save(path)
    return path


# ---------------------------------------------------------------------- preprocessing


def test_the_mnist_geometry(tmp_path):
    img = Image.new("L", (300, 200), 255)
    ImageDraw.Draw(img).ellipse(
        [150, 30, 230, 150], outline=0, width=14
    )  # a '0', 80 x 120, off centre
    img.save(tmp_path / "0.png")
    x = digit_input(tmp_path / "0.png")
    assert x.shape == (784,) and x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    image = x.reshape(28, 28)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert (
        rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 13
    )  # into 20x20, aspect 2:3 kept
    assert np.allclose(ndimage.center_of_mass(image), (14.0, 14.0), atol=0.5)  # MNIST's centre


def test_a_lopsided_digit_is_kept_inside_the_frame(tmp_path):
    # A '7' has most of its ink high up: centring its mass would push the bottom off the frame.
    image = digit_input(draw_seven(tmp_path / "7.png")).reshape(28, 28)
    rows = np.flatnonzero(image.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20 and rows[-1] == 27
    assert ndimage.center_of_mass(image)[0] > 12


def test_dark_on_light_equals_light_on_dark(tmp_path):
    dark = digit_input(draw_seven(tmp_path / "dark.png", ink=0, paper=255))
    light = digit_input(draw_seven(tmp_path / "light.png", ink=255, paper=0))
    assert np.allclose(dark, light, atol=1e-6)


def test_position_size_and_format_do_not_matter_much(tmp_path):
    reference = digit_input(draw_seven(tmp_path / "a.png"))
    small = digit_input(draw_seven(tmp_path / "b.png", size=(400, 300), box=(30, 200, 70, 260)))
    grey_jpeg = digit_input(draw_seven(tmp_path / "c.jpg", ink=60, paper=200, mode="RGB"))
    assert np.corrcoef(reference, small)[0, 1] > 0.9
    assert np.corrcoef(reference, grey_jpeg)[0, 1] > 0.95


def test_transparent_background_counts_as_paper(tmp_path):
    img = Image.new(
        "RGBA", (120, 160), (0, 0, 0, 0)
    )  # ink drawn on nothing, as drawing apps save it
    ImageDraw.Draw(img).line([(20, 20), (100, 20), (52, 140)], fill=(0, 0, 0, 255), width=11)
    img.save(tmp_path / "t.png")
    on_white = Image.new("RGB", (120, 160), "white")
    ImageDraw.Draw(on_white).line([(20, 20), (100, 20), (52, 140)], fill="black", width=11)
    on_white.save(tmp_path / "w.png")
    assert np.allclose(digit_input(tmp_path / "t.png"), digit_input(tmp_path / "w.png"), atol=1e-6)


def test_the_frame_of_other_square_inputs():
    assert frame_for(784) == (28, 20, 14.0)
    assert frame_for(64) == (8, 8, 3.5)  # the bundled digits fill their frame
    with pytest.raises(UsageError, match="not a square"):
        frame_for(50)


def test_blank_and_unreadable_images_are_data_errors(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(DataError, match="no digit found"):
        digit_input(tmp_path / "blank.png")
    with pytest.raises(DataError, match="cannot read this image"):
        digit_input(tmp_path / "notes.png")
    with pytest.raises(DataError, match="no such file"):
        digit_input(tmp_path / "missing.png")


@pytest.mark.skipif(
    not os.environ.get("NNDL_DATA"), reason="NNDL_DATA (the MNIST folder) is not set"
)
def test_mnist_digits_drawn_large_on_paper_come_back_as_they_were(tmp_path):
    from nndl.data import load_mnist

    X = load_mnist().test.X[:40]
    correlations = []
    for i, x in enumerate(X):
        paper = Image.fromarray((255 - 255 * x.reshape(28, 28)).astype(np.uint8)).resize((112, 112))
        page = Image.new("L", (200, 150), 255)
        page.paste(paper, (60, 10))
        page.save(tmp_path / f"{i}.png")
        correlations.append(np.corrcoef(digit_input(tmp_path / f"{i}.png"), x)[0, 1])
    assert np.median(correlations) > 0.95


# ---------------------------------------------------------------------- the command


def test_predict_reads_digits_drawn_from_the_bundled_set(capsys, tmp_path, digits_model):
    net = nndl.load(digits_model)
    X, _ = load_digits().test
    paths = []
    for i in range(20):  # each 8x8 digit drawn 8 times larger, dark on light, off centre
        big = Image.fromarray((255 - 255 * X[i].reshape(8, 8)).astype(np.uint8)).resize(
            (64, 64), Image.BILINEAR
        )
        page = Image.new("L", (100, 90), 255)
        page.paste(big, (10, 20))
        paths.append(tmp_path / f"d{i}.png")
        page.save(paths[-1])
    code, out, err = cli(capsys, "predict", digits_model, *paths)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 20 and lines[0].startswith(f"{paths[0]}: ")
    said = np.array([int(line.split(": ")[1].split()[0]) for line in lines])
    assert (
        np.mean(said == net.predict(X[:20])) >= 0.7
    )  # mostly the network's answer on the original


def test_predict_json_gives_probabilities_of_the_network(capsys, tmp_path, mnist_shaped_model):
    seven = draw_seven(tmp_path / "7.png")
    code, out, err = cli(capsys, "predict", mnist_shaped_model, seven, seven, "--json")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == second and first["image"] == str(seven)
    a = nndl.load(mnist_shaped_model).feedforward(digit_input(seven))[0]
    assert first["outputs"] == pytest.approx(a, abs=1e-6)
    assert first["probabilities"] == pytest.approx(
        a / a.sum(), abs=1e-6
    )  # a sigmoid layer, normalised
    assert first["digit"] == int(np.argmax(a))


def test_a_softmax_model_gives_its_own_outputs_as_probabilities(capsys, tmp_path):
    path = tmp_path / "softmax.npz"
    nndl.Network([784, 10], cost="log-likelihood", rng=np.random.default_rng(2)).save(path)
    code, out, _ = cli(capsys, "predict", path, draw_seven(tmp_path / "7.png"), "--json")
    result = json.loads(out)
    assert code == 0 and result["probabilities"] == result["outputs"]
    assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "images, model, status, fragment",
    [
        (["missing.png"], "mnist", 1, "no such file"),
        (["notes.png"], "mnist", 1, "cannot read this image: it is a text file"),
        (["blank.png"], "mnist", 1, "no digit found"),
        (["7.png"], "missing.npz", 1, "no such file"),
        (["7.png"], "odd.npz", 2, "not a square image"),
        ([], "mnist", 2, "arguments are required"),
    ],
)
def test_predict_errors_are_one_line(
    capsys, tmp_path, monkeypatch, mnist_shaped_model, images, model, status, fragment
):
    monkeypatch.chdir(tmp_path)
    draw_seven(Path("7.png"))
    Image.new("L", (40, 40), 0).save("blank.png")
    Path("notes.png").write_text("shopping list")
    nndl.Network([50, 10], rng=np.random.default_rng(0)).save("odd.npz")
    code, _, err = cli(
        capsys, "predict", mnist_shaped_model if model == "mnist" else model, *images
    )
    assert code == status
    errors = [line for line in err.splitlines() if line.startswith("nndl: error:")]
    assert len(errors) == 1 and fragment in errors[0] and "Traceback" not in err, err
