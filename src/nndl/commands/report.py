"""``nndl report RUN``: one self-contained HTML page for a run (``nndl.report``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


log = logging.getLogger("nndl.report")

DESCRIPTION = """\
Write one HTML page about a run, to open by double-clicking: it works offline from
file:// with everything inside it (scripts, styles, fonts, images). It shows the run
(data, network, settings, seed, versions, timings, the book's number for the same
configuration), the cost, accuracy and speed-of-learning charts, the confusion matrix
and the worst mistakes, the first-layer neurons' weights as images, a canvas to draw a
digit on and watch it go through the network (activations of every layer; choose the
true label to see delta^L and each delta^l by BP1 and BP2), and the five learners'
questions answered by nndl derive and nndl explain, with the mathematics typeset.
For a chapter-6 run (nndl train --net) the canvas runs the layered network and draws each
convolutional layer's feature maps, the first layer's filters are shown as images, and the
deltas go back through pooling and convolution as network3 backpropagates.
RUN is a run folder written by nndl train; the page goes to RUN/report.html unless -o
says otherwise.
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="one self-contained HTML page for a run, with a draw-a-digit canvas",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="run folder (written by nndl train)")
    p.add_argument("-o", "--out", metavar="FILE.html", help="where to write the page (default RUN/report.html)")
    p.add_argument("--no-answers", dest="answers", action="store_false",
                   help="leave out the learners' questions (they take about 10 s to compute)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write(args.run, args.out, answers=args.answers)
    return 0


def write(folder, out=None, *, answers: bool = True) -> Path:
    """Write the page (checking ``out`` first) and print where it went; used by train --report."""
    from nndl import report

    path = report.write(folder, out, answers=answers)  # checks RUN and -o before the work
    size = path.stat().st_size
    print(f"report: {path} ({size / 1e6:.2f} MB)")
    return path
