"""``nndl evaluate MODEL``: accuracy, cost, confusion matrix and the worst mistakes."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from nndl.errors import DataError, UsageError

log = logging.getLogger("nndl.evaluate")

DESCRIPTION = """\
Evaluate a trained network on a data set: accuracy, mean cost, the confusion matrix
(printed, and drawn as confusion-DATA-SPLIT.png) and the examples it got wrong most
confidently (drawn as wrong-DATA-SPLIT.png), e.g. confusion-mnist-test.png and
wrong-mnist-test.png, in the model's folder or -o DIR. MODEL is a model file (.npz, or
the book's network2 .json) or a run folder.

The data are the --data you name; by default MNIST for a 784-input model and the
bundled digits for a 64-input one (MNIST only if it is on this machine: a model file
never makes nndl download, nor read a path it names).
"""

SPLITS = ("test", "validation", "training")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="accuracy, cost, confusion matrix and worst mistakes of a model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model", metavar="MODEL", help="model file (.npz or network2 .json) or run folder"
    )
    p.add_argument(
        "--data", help="auto, mnist, digits, or a .npz file / folder (default: the model's)"
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the MNIST files (default $NNDL_DATA)"
    )
    p.add_argument(
        "--split", choices=SPLITS, default="test", help="which part of the data (default test)"
    )
    p.add_argument(
        "--wrong",
        type=int,
        default=25,
        metavar="N",
        help="show the N most confidently wrong examples in wrong-DATA-SPLIT.png (default 25, at most 100)",
    )
    p.add_argument(
        "-o", "--out", metavar="DIR", help="folder for the PNGs (default: the model's folder)"
    )
    p.add_argument("--no-plots", action="store_true", help="do not write PNGs")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def evaluate(net, X, y) -> dict:
    """Accuracy, mean cost, confusion matrix and the wrong examples ranked by confidence.

    ``confusion[i][j]`` counts examples of true class i classified as j. ``wrong`` lists
    the indices of misclassified examples, most confident first (confidence = the output
    activation of the class chosen, as a share of all output activations).
    """
    import numpy as np

    A = np.concatenate([net.feedforward(X[i : i + 10_000]) for i in range(0, len(X), 10_000)])
    predicted = np.argmax(A, axis=1)
    k = net.sizes[-1]
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    confidence = A[np.arange(len(A)), predicted] / A.sum(axis=1)
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return {
        "n": len(y),
        "correct": int(np.trace(confusion)),
        "accuracy": float(np.trace(confusion) / max(len(y), 1)),
        "cost": float(net.total_cost(X, y)),
        "confusion": confusion,
        "predicted": predicted,
        "confidence": confidence,
        "wrong": wrong,
    }


def confusion_text(confusion) -> str:
    """The confusion matrix as a table; rows are true digits, columns predicted ones."""
    k = len(confusion)
    width = max(4, len(str(int(confusion.max()))) + 1)
    lines = [" " * 6 + "".join(f"{j:>{width}}" for j in range(k)) + "   accuracy"]
    for i, row in enumerate(confusion):
        total = row.sum()
        share = f"{100 * row[i] / total:6.1f} %" if total else "     - "
        lines.append(f"{i:>4}  " + "".join(f"{v:>{width}}" for v in row) + f"   {share}")
    return "\n".join(lines)


MAX_WRONG = 100  # images in the wrong-examples figure: a 10 x 10 grid


def run(args: argparse.Namespace) -> int:
    from nndl import runs
    from nndl.data import load_dataset
    from nndl.paths import check_data_options, check_output_dir

    if not 0 <= args.wrong <= MAX_WRONG:
        raise UsageError(f"--wrong must be from 0 to {MAX_WRONG} (a figure of more images is "
                         f"unreadable, and slow to draw); got {args.wrong}")
    if args.no_plots and args.out:
        raise UsageError("-o/--out names the folder for the PNGs, and --no-plots writes none")
    check_data_options(args.data, args.data_dir)
    if args.data_dir is not None and args.data in (None, "auto", "mnist"):
        from nndl.data import check_mnist_dir

        check_mnist_dir(args.data_dir)
    if args.out is not None:
        check_output_dir(args.out, "--out")
    net, metadata, model_file = runs.load_model(args.model)
    out = None
    if not args.no_plots:  # where the PNGs go, checked before the data are read
        out = (Path(args.out).expanduser() if args.out
               else check_output_dir(model_file.parent, "the model's folder (or choose one with -o)"))
    n_in = net.sizes[0]
    data = args.data or runs.model_data(metadata, n_in)
    if data is None:
        raise UsageError(
            f"{model_file}: cannot tell which data this {n_in}-input model is for; pass --data "
            "(nndl never reads a data path named inside a model file)"
        )
    if not args.data:
        log.info("data: %s, the default for a %d-input model (pass --data to choose)", data, n_in)
    # Data a model file implies are read from this machine only, never downloaded.
    try:
        splits = load_dataset(data, data_dir=args.data_dir, dtype=net.dtype,
                              download=bool(args.data))
    except DataError as exc:
        if args.data:
            raise
        raise DataError(f"{exc}; to download it, pass --data {data}") from None
    X, y = getattr(splits, args.split)
    if X.shape[1] != n_in:
        raise UsageError(
            f"{model_file} has {n_in} inputs but {splits.name} examples have {X.shape[1]}; "
            "pass the --data the model was trained on"
        )
    if y.size and y.max() >= net.sizes[-1]:
        raise UsageError(
            f"{splits.name} has labels up to {y.max()} but {model_file} has only "
            f"{net.sizes[-1]} outputs"
        )
    result = evaluate(net, X, y)
    written = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        written = _plots(result, X, y, out, f"{splits.name}-{args.split}", args.wrong)
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(model_file),
                    "data": splits.name,
                    "description": splits.description,
                    "split": args.split,
                    "n": result["n"],
                    "correct": result["correct"],
                    "accuracy": result["accuracy"],
                    "cost": result["cost"],
                    "confusion": result["confusion"].tolist(),
                    "most_confidently_wrong": [
                        {
                            "index": int(i),
                            "label": int(y[i]),
                            "predicted": int(result["predicted"][i]),
                            "confidence": float(result["confidence"][i]),
                        }
                        for i in result["wrong"][: args.wrong]
                    ],
                    "plots": [str(p) for p in written],
                },
                indent=1,
            )
        )
        return 0
    from nndl.costs import cost_name

    from nndl.network3 import Network as LayeredNetwork, describe

    shape = describe(net) if isinstance(net, LayeredNetwork) else net.sizes  # not a conv net's "sizes"
    print(f"model:     {model_file}  ({shape}, {cost_name(net.cost)} cost)")
    print(f"data:      {splits.description}; the {args.split} set")
    print(f"accuracy:  {100 * result['accuracy']:.2f} % ({result['correct']:,} / {result['n']:,})")
    print(f"cost:      {result['cost']:.4f} (mean {cost_name(net.cost)} cost per example)")
    print()
    print("confusion matrix (rows: true digit, columns: the network's answer)")
    print(confusion_text(result["confusion"]))
    wrong = result["wrong"][: min(args.wrong, 5)]
    if len(wrong):
        print()
        print(
            "most confidently wrong: "
            + ", ".join(
                f"#{i} ({y[i]} taken for {result['predicted'][i]}, {result['confidence'][i]:.2f})"
                for i in wrong
            )
        )
    for path in written:
        print(f"wrote {path}")
    return 0


def _plots(result: dict, X, y, out: Path, tag: str, n_wrong: int) -> list[Path]:
    """confusion-<tag>.png and wrong-<tag>.png in ``out``."""
    import math

    from nndl import plots

    fig = plots.new_figure(6.0, 5.5)
    plots.plot_confusion(fig.add_subplot(), result["confusion"])
    written = [plots.save_png(fig, out / f"confusion-{tag}.png")]
    wrong = result["wrong"][:n_wrong]
    side = math.isqrt(X.shape[1])
    if len(wrong) and side * side == X.shape[1]:
        ncols = min(5, len(wrong))
        nrows = -(-len(wrong) // ncols)
        fig = plots.new_figure(1.6 * ncols, 1.8 * nrows)
        titles = [
            f"{y[i]} as {result['predicted'][i]} ({result['confidence'][i]:.2f})" for i in wrong
        ]
        plots.plot_image_grid(fig, X[wrong], titles, ncols=ncols)
        fig.suptitle("Most confidently wrong (true as predicted, confidence)", fontsize=9)
        written.append(plots.save_png(fig, out / f"wrong-{tag}.png"))
    elif len(wrong):
        log.warning("the inputs are not square images: no wrong-%s.png", tag)
    return written
