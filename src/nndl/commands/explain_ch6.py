"""``nndl explain-ch6 TOPIC``: chapter 6's questions on a real MNIST mini-batch, checked."""

from __future__ import annotations

import argparse

from nndl.errors import UsageError

# Kept here so that `nndl --help` imports nothing heavy; tests check they equal nndl.explain_ch6.TOPICS.
TOPICS = ("shared-weights", "pooling", "relu")

DESCRIPTION = """\
Explain chapter 6 with real numbers, on the first MNIST training images and the book's
networks (float64), each claim checked against explicit loops or finite differences:

  shared-weights  a conv filter's gradient is BP4 summed over every position (and its
                  bias's BP3 likewise): the vectorised gradient vs an explicit sum
  pooling         max-pooling passes the gradient to one input of each block; ties
  relu            why ReLU keeps the gradient of deep nets alive: first vs last layer's
                  bias gradient, sigmoid (ch6-conv2) vs ReLU (ch6-relu)
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("explain-ch6", help="chapter 6: shared weights, pooling, ReLU, checked",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("topic", choices=TOPICS, metavar="TOPIC", help=", ".join(TOPICS))
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--batch", type=int, default=10, help="mini-batch size, 1..1000 (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the network's weights (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from nndl.explain_ch6 import check_options, explain, to_text

    try:
        check_options(args.batch, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = explain(args.topic, m=args.batch, seed=args.seed)
    print(json.dumps(result, indent=1) if args.format == "json" else to_text(result))
    return 0
