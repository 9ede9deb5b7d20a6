"""``nndl predict MODEL IMAGE...``: read digits from pictures."""

from __future__ import annotations

import argparse
import json

DESCRIPTION = """\
Classify pictures of handwritten digits (PNG, JPEG, anything Pillow reads). Each is
prepared the way MNIST was made: grey, inverted if the ink is dark on light paper,
cropped to the digit, scaled into a 20x20 box and centred by its centre of mass in
28x28 (for a 64-input model, such as one trained on the bundled 8x8 digits: scaled
to fill 8x8). Prints the digit and the network's probabilities for 0-9: the softmax
outputs, or for a sigmoid output layer its activations divided by their sum.
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from nndl import runs
    from nndl.images import digit_input

    net, _, _ = runs.load_model(args.model)
    X = np.stack([digit_input(path, net.sizes[0]) for path in args.images])
    A = net.feedforward(X)
    P = A if net.output == "softmax" else A / A.sum(axis=1, keepdims=True)
    for path, p, a in zip(args.images, P, A):
        digit = int(np.argmax(p))
        if args.json:
            print(
                json.dumps(
                    {
                        "image": str(path),
                        "digit": digit,
                        "probabilities": [round(float(v), 6) for v in p],
                        "outputs": [round(float(v), 6) for v in a],
                    }
                )
            )
        else:
            shares = "  ".join(f"{k}:{v:.2f}" for k, v in enumerate(p))
            print(f"{path}: {digit}  (probability {p[digit]:.2f})   {shares}")
    return 0
