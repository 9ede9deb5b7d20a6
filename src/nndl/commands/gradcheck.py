"""``nndl gradcheck``: backpropagation vs central differences, layer by layer."""

from __future__ import annotations

import argparse

from nndl.errors import UsageError

DESCRIPTION = """\
Check a network's gradients: backpropagation (BP1-BP4) against central
differences in float64, with the relative error of every layer's weights and
biases and a pass/fail verdict (exit status 1 on failure).

The network is built from --sizes (random weights from --seed) or loaded with
--model; the batch is --batch random inputs in [0, 1) with random one-hot targets.
Check your own cost, or only your own output error delta^L, by naming a Python
function as module:function (the module must be importable, e.g. from the
current directory):

  nndl gradcheck --cost cross-entropy --delta my_costs:my_delta
  nndl gradcheck --cost my_costs:MyCost            # an object with fn and delta
  nndl gradcheck --delta nndl.gradcheck:wrong_delta_sigma_prime   # the classic mistake

fn(a, y) returns the cost summed over the rows (examples) of a and y;
delta(z, a, y) returns delta^L = dC_x/dz^L, one row per example.
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="check backpropagation against finite differences, layer by layer",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    net = p.add_mutually_exclusive_group()
    net.add_argument("--sizes", default="5,4,3", help="layer sizes, comma-separated (default 5,4,3)")
    net.add_argument("--model", metavar="MODEL",
                     help="check a saved network instead: a model file (.npz or network2 .json) or a run folder")
    p.add_argument("--cost", default=None,
                   help="quadratic, cross-entropy, log-likelihood, or module:attr "
                        "(an object with fn and delta); default cross-entropy, or the "
                        "model's own cost with --model")
    p.add_argument("--fn", metavar="MODULE:FUNCTION", help="your own cost fn(a, y)")
    p.add_argument("--delta", metavar="MODULE:FUNCTION", help="your own delta(z, a, y)")
    p.add_argument("--hidden", default=None, help="sigmoid, tanh or relu (default sigmoid)")
    p.add_argument("--output", default=None, help="sigmoid or softmax (default: the cost's own)")
    p.add_argument("--init", default=None, help="default or large (default: default)")
    p.add_argument("--batch", type=int, default=5, help="examples in the batch (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    p.add_argument("--eps", type=float, default=None, help="step h of the central differences (default 1e-3; 1e-4 for relu)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="largest relative error that passes (default 1e-6)")
    p.add_argument("--max-entries", type=int, default=None,
                   help="check at most this many random entries per weight matrix or bias vector")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import nndl
    from nndl import gradcheck

    from nndl.runs import load_model, parse_sizes

    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if args.seed < 0:
        raise UsageError(f"--seed must be at least 0; got {args.seed}")
    for name in ("eps", "tolerance"):
        value = getattr(args, name)
        if value is not None and not 0 < value < float("inf"):
            raise UsageError(f"--{name} must be a positive number; got {value:g}")
    if args.max_entries is not None and args.max_entries < 1:
        raise UsageError(f"--max-entries must be at least 1; got {args.max_entries}")
    if args.model:  # the model defines its network: these would be silently ignored
        given = [f"--{o}" for o in ("hidden", "output", "init") if getattr(args, o) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: the network comes from --model; leave them out")
    rng = np.random.default_rng(args.seed)
    model = load_model(args.model)[0] if args.model else None
    from nndl.network3 import Network as LayeredNetwork

    if isinstance(model, LayeredNetwork):
        raise UsageError(f"--model {args.model}: a chapter-6 network of layers; gradcheck checks "
                         "the chapters 1-5 networks (nndl.Network) only")
    base = args.cost or (model.cost if model is not None else "cross-entropy")
    cost = gradcheck.custom_cost(base, fn=args.fn, delta=args.delta)
    try:
        if model is not None:
            net = gradcheck.rebuilt(model, cost=cost)
        else:
            net = nndl.Network(parse_sizes(args.sizes), cost=cost, init=args.init or "default",
                               hidden=args.hidden or "sigmoid", output=args.output, rng=rng)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    X = rng.random((args.batch, net.sizes[0]))
    Y = np.eye(net.sizes[-1])[rng.integers(0, net.sizes[-1], size=args.batch)]
    result = gradcheck.check_gradients(
        net, X, Y,
        eps=args.eps,
        tolerance=args.tolerance if args.tolerance is not None else gradcheck.TOLERANCE,
        max_entries=args.max_entries,
        rng=np.random.default_rng(args.seed),
    )
    render = {"text": gradcheck.to_text, "markdown": gradcheck.to_markdown,
              "json": gradcheck.to_json}[args.format]
    print(render(result))
    return 0 if result.passed else 1
