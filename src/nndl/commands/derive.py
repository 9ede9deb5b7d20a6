"""``nndl derive TOPIC``: a derivation from the book, every step checked by SymPy."""

from __future__ import annotations

import argparse

# The topic names, kept here so that `nndl --help` needs neither SymPy nor the
# engine; tests/test_derive.py checks they equal nndl.derive.TOPICS.
TOPICS = (
    "cross-entropy",
    "softmax-log-likelihood",
    "quadratic",
    "sigmoid-prime",
    "l2",
    "canonical-pairs",
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "derive",
        help="derive a formula of the book step by step, each step checked by SymPy",
        description=(
            "Derive a formula of the book step by step. Every step carries a SymPy check "
            "(an expression that must simplify to 0); the exit status is 1 if any fails. "
            "cross-entropy answers 'how is the cross-entropy derived from eq. (72), and "
            "where does (71) come in?'; softmax-log-likelihood answers 'why is "
            "dC/db_j = a_j - y_j for every output?'."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("topic", choices=(*TOPICS, "all"), metavar="TOPIC",
                   help=f"one of: {', '.join(TOPICS)}, or all")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="text (default), markdown with LaTeX, or json with every expression")
    p.add_argument("--details", action="store_true",
                   help="show every check and its SymPy expressions")
    p.add_argument("--no-numeric", dest="numeric", action="store_false",
                   help="skip the floating-point checks on a real network")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nndl import derive

    from nndl.errors import UsageError

    if args.details and args.format == "json":
        raise UsageError("--details: --format json always holds every check and its expressions")
    topics = TOPICS if args.topic == "all" else (args.topic,)
    results = [derive.derive(t, numeric=args.numeric) for t in topics]
    if args.format == "json":
        print(derive.to_json(results))
    else:
        render = derive.to_markdown if args.format == "markdown" else derive.to_text
        print("\n\n".join(render(d, details=args.details) for d in results))
    return 0 if all(d.passed for d in results) else 1
