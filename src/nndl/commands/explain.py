"""``nndl explain TOPIC``: the learners' questions answered on a real network and batch."""

from __future__ import annotations

import argparse
import logging

from nndl.errors import UsageError

log = logging.getLogger(__name__)

# Kept here so that `nndl --help` imports nothing heavy; tests/test_explain.py checks
# they equal nndl.explain.TOPICS.
TOPICS = ("shapes", "hidden-layers", "earlier-layers", "saturation", "deep-networks")
PLOTS = ("earlier-layers", "saturation", "deep-networks")
DATA_CHOICES = ("auto", "mnist", "digits")  # = nndl.answers.tables.DATA_CHOICES (tested)

DESCRIPTION = """\
Explain a piece of the book with real numbers, on MNIST when it is on this machine
($NNDL_DATA, the cache; never downloaded here) and on the bundled 8x8 digits otherwise
(--data chooses); the output says which:

  shapes          what w_j, x_j and sigma(z) are in dC/dw_j = (1/n) sum_x x_j (sigma(z) - y),
                  with shapes and values for one example and for a mini-batch (eq. 61, 67)
  hidden-layers   delta^L for the cross-entropy, delta^l of each hidden layer by BP2,
                  dC/db and dC/dw by BP3/BP4, each against finite differences
  earlier-layers  quadratic vs cross-entropy on the same networks: per-layer gradient
                  norms for 1-4 hidden layers (chapter 5, eq. 122); --plot
  saturation      chapter 3's single neuron from (w, b) = (0.6, 0.9) and (2, 2); --plot
  deep-networks   up to 100 hidden layers: sigmoid, tanh, ReLU, two inits, two costs; the
                  exploding case; sigmoid vs ReLU + He in a fixed budget (eqs. 122-124);
                  about a minute; --full for the real size; --plot
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="answer a learner's question with a real network, batch and checked numbers",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("topic", choices=TOPICS, metavar="TOPIC", help=", ".join(TOPICS))
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--plot", metavar="PATH",
                   help=f"also write the figure (PNG, PDF, SVG... by the suffix); {', '.join(PLOTS)}")
    p.add_argument("--batch", type=int, default=None,
                   help="mini-batch size (default 10; 100 for earlier-layers)")
    p.add_argument("--seed", type=int, default=None, help="seed of the network's weights (default 0)")
    p.add_argument("--full", action="store_true",
                   help="deep-networks: train at the real size (50,000 images, longer runs)")
    p.add_argument("--depths", metavar="D,D,...",
                   help="deep-networks: hidden-layer counts measured at initialisation (each >= 2, default 2,5,20,100)")
    p.add_argument("--data", choices=DATA_CHOICES, default="auto",
                   help="auto (default): MNIST if it is on this machine, else the 8x8 digits; "
                        "mnist; digits")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nndl import explain

    if args.plot is not None and args.topic not in PLOTS:
        raise UsageError(f"{args.topic} has no plot; --plot works with {', '.join(PLOTS)}")
    if args.plot is not None:  # --plot '' is a usage error, not "no plot"
        from nndl.paths import check_output_file, plot_formats

        args.plot = check_output_file(args.plot, "--plot", plot_formats())  # before the work, not after it
    if args.topic == "saturation":
        given = [o for o, v in (("--seed", args.seed), ("--batch", args.batch)) if v is not None]
        if given:  # the single neuron starts from the book's fixed (w, b): nothing random, no batch
            raise UsageError(f"saturation has no {' or '.join(given)}: its neuron starts from the "
                             "book's (w, b) = (0.6, 0.9) and (2, 2), one example")
    options = {}
    if args.topic != "deep-networks" and (args.full or args.depths is not None):
        raise UsageError("--full and --depths work with deep-networks only")
    if args.depths is not None:  # --depths '' is a usage error, not the defaults
        from nndl.runs import split_list

        try:
            options["depths"] = [int(d) for d in split_list(args.depths, "--depths")]
        except ValueError:
            raise UsageError(f"--depths takes whole numbers separated by commas; got {args.depths!r}") from None
        if min(options["depths"]) < 2 or max(options["depths"]) > 1000:
            raise UsageError(f"--depths must lie between 2 and 1000 hidden layers (the first/last hidden "
                             f"ratio needs two); got {args.depths!r}")
        if len(set(options["depths"])) != len(options["depths"]):
            raise UsageError(f"--depths names each depth once; got {args.depths!r}")
    if args.full:
        options["full"] = True
    if args.seed is None:
        args.seed = 0
    if args.topic == "saturation":
        if args.data != "auto":
            raise UsageError("saturation is one neuron with input x = 1: it uses no data set; drop --data")
    else:
        options["seed"] = args.seed
        options["data"] = args.data
        if args.batch is not None:
            if args.batch < 1:
                raise UsageError("--batch must be at least 1")
            options["m"] = args.batch
    try:
        result = explain.explain(args.topic, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    render = {"text": result.to_text, "markdown": result.to_markdown, "json": result.to_json}
    print(render[args.format]())
    if args.plot:
        result.figure().savefig(args.plot, dpi=120)
        log.info("wrote %s", args.plot)
    return 0 if getattr(result, "passed", True) else 1
