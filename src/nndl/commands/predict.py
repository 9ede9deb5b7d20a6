"""``nndl predict MODEL IMAGE...``: read digits from pictures."""

from __future__ import annotations

import argparse
import json
import logging

DESCRIPTION = """\
Classify pictures of handwritten digits (PNG, JPEG, anything Pillow reads), photos
included. Each is prepared the way MNIST was made: the ink is found against the paper's
own, possibly uneven brightness (a lighting gradient, a shadow, a dark border), cropped
to the digit, scaled into a 20x20 box and centred by its centre of mass in 28x28 (for a
64-input model, such as one trained on the bundled 8x8 digits: scaled to fill 8x8).
Prints the digit and the network's probabilities for 0-9: the softmax outputs, or for a
sigmoid output layer its activations divided by their sum. --show prints the image the
network was given; --save-inputs writes it as a PNG. A picture that cannot be read is
reported and the others are still answered (exit status 1 if any failed).
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="read the digit in each picture with a trained model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model", metavar="MODEL", help="model file (.npz or network2 .json) or run folder"
    )
    p.add_argument(
        "images", metavar="IMAGE", nargs="+", help="PNG or JPEG pictures of one digit each"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument("--show", action="store_true",
                   help="also print the image the network was given, as text (one character a pixel)")
    p.add_argument("--save-inputs", metavar="DIR",
                   help="write the image the network was given as DIR/<name>-input.png (grey, ink white)")
    p.set_defaults(func=run)


SHADES = " .:-=+*#%@"  # --show: ink 0 -> ' ', 1 -> '@'


def text_image(x, side: int) -> str:
    """The network input ``x`` (side*side,) in [0, 1] as text, one character a pixel, framed."""
    rows = x.reshape(side, side)
    top = "+" + "-" * side + "+"
    body = ["|" + "".join(SHADES[min(len(SHADES) - 1, int(v * len(SHADES)))] for v in r) + "|" for r in rows]
    return "\n".join([top, *body, top])


def run(args: argparse.Namespace) -> int:
    """Answer for every image; report each bad one on stderr; exit 1 if any failed."""
    import sys
    from pathlib import Path

    import numpy as np

    from nndl import runs
    from nndl.errors import DataError, UsageError
    from nndl.images import digit_input, frame_for
    from nndl.paths import check_output_dir

    out = check_output_dir(args.save_inputs, "--save-inputs") if args.save_inputs is not None else None
    net, _, _ = runs.load_model(args.model)
    side = frame_for(net.sizes[0])[0]
    failed = 0
    for path in args.images:
        try:
            x = digit_input(path, net.sizes[0])
        except DataError as exc:
            print(f"nndl: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        a = net.feedforward(x[None, :])[0]
        p = a if net.output == "softmax" else a / a.sum()
        digit = int(np.argmax(p))
        if p[digit] < UNSURE:
            logging.getLogger("nndl.predict").warning(
                "%s: the network is unsure (probability %.2f of its best guess, below %.1f): this "
                "may not be a digit, or not one written as MNIST's are", path, p[digit], UNSURE)
        saved = None
        if out is not None:
            saved = _save_input(x, side, out, Path(path))
        if args.json:
            record = {"image": str(path), "digit": digit, "probabilities": [round(float(v), 6) for v in p],
                      "outputs": [round(float(v), 6) for v in a]}
            if args.show:
                record["input"] = [round(float(v), 4) for v in x]
            if saved is not None:
                record["input_png"] = str(saved)
            print(json.dumps(record))
        else:
            shares = "  ".join(f"{k}:{v:.2f}" for k, v in enumerate(p))
            print(f"{path}: {digit}  (probability {p[digit]:.2f})   {shares}")
            if args.show:
                print(text_image(x, side))
            if saved is not None:
                print(f"  the network's input: {saved}")
    if failed:
        if len(args.images) > 1:
            print(f"nndl: {failed} of {len(args.images)} images could not be read (above)", file=sys.stderr)
        return 1
    return 0


UNSURE = 0.5  # below this probability for its best guess, predict warns that it is unsure


def _save_input(x, side: int, folder, path) -> object:
    """DIR/<stem>-input.png: the side x side input, ink white on black as in MNIST."""
    import numpy as np
    from PIL import Image

    from nndl.io import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}-input.png"
    with atomic_write(target) as f:
        Image.fromarray(np.round(255 * x.reshape(side, side)).astype(np.uint8)).save(f, format="PNG")
    return target
