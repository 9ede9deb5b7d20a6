"""One self-contained HTML page per run: ``nndl report RUN`` and ``nndl train --report``.

The page is a single file that works from ``file://`` with no network and no server:
every script, style, font and image is inside it, and its Content-Security-Policy forbids
the browser to fetch anything else. It shows

- the run: data, network, every setting, the seed, versions, timings, and the book's
  number for the same configuration where the book gives one (``book_match``);
- the monitored histories and the per-layer speed of learning ||dC/db^l|| as charts
  (``nndl.plots``, drawn as inline SVG);
- the confusion matrix and the most confidently wrong examples, with their images
  (``nndl.commands.evaluate.evaluate`` on the run's evaluation set);
- for square image inputs, each first-layer neuron's weights as an image;
- the draw-a-digit panel: the run's own weights (base64 float32, row-major, book
  orientation ``weights[l][j, k] = w^{l+2}_{jk}``) in JavaScript (``report_assets/page.js``),
  with the same preprocessing as ``nndl predict`` (``nndl.images``), the activations of
  every layer and, for a chosen label, delta^L (BP1) and each delta^l (BP2);
- the five seed questions' answers, as ``nndl derive TOPIC --format markdown`` and
  ``nndl explain TOPIC --format markdown`` print them, with the mathematics rendered by
  KaTeX (vendored from its npm release in ``report_assets/katex``, MIT licence).

The JavaScript's forward pass, deltas and preprocessing are tested against this package's
Python in a real browser (tests/test_report_browser.py).

What page.js runs is described by ``page_network``: a chapter-3 ``nndl.Network`` (kind
"chapter3") or a chapter-6 ``nndl.network3.Network`` (kind "chapter6", ``layered_network``);
for any other kind of network the page says that those features are for chapter-3 and
chapter-6 networks only.

A chapter-6 run (``nndl train --net``, its ``history.json`` of format
``nndl.commands.train3.FORMAT``) gets the same page from what it records
(``chapter6_record``, ``run_summary6``): the run and the book's number for its id
(``book_match6``), the validation and test accuracy and the training cost per epoch (no
speed of learning: not recorded), the confusion matrix on the test set, the first
ConvPoolLayer's filters as images, and the canvas running the layered network in
JavaScript as ``nndl.layers`` computes it, each ConvPool layer's feature maps drawn after
every stroke, and every layer's delta for a chosen label (BP1 with eq. 84, then BP2 through
the fully connected layers and through max-pooling and the convolution, as network3's
backward pass). tests/test_report_browser.py checks them against ``nndl.layers``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import io
import json
import logging
import math
import re
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from nndl.errors import DataError, ModelFileError, NndlError, UsageError
from nndl import _words

log = logging.getLogger(__name__)

REPORT = "report.html"  # the page's name in the run folder
N_WRONG = 12  # most confidently wrong examples shown
MAX_NEURON_IMAGES = 400  # first-layer neurons drawn (a 784-400-10 network shows all of them)
#: The five seed questions and the command that answers each (``nndl derive/explain TOPIC``).
SEED_ANSWERS = (
    ("derive", "cross-entropy"),
    ("derive", "softmax-log-likelihood"),
    ("explain", "shapes"),
    ("explain", "hidden-layers"),
    ("explain", "earlier-layers"),
)
#: KaTeX fonts the page embeds (what the answers and the page's own formulas use); the
#: others' @font-face rules are dropped, so the browser never looks for a missing file.
KATEX_FONTS = (
    "AMS-Regular",
    "Main-Bold",
    "Main-Italic",
    "Main-Regular",
    "Math-Italic",
    "Size1-Regular",
    "Size2-Regular",
    "Size3-Regular",
    "Size4-Regular",
)
#: Settings compared with the book's experiments (``nndl.experiments``) to find its number.
BOOK_FIELDS = ("sizes", "cost", "init", "eta", "lmbda", "mini_batch_size", "epochs")


def _asset(*parts: str) -> resources.abc.Traversable:
    return resources.files("nndl").joinpath("report_assets", *parts)


def _text_asset(*parts: str) -> str:
    return _asset(*parts).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Text that cannot end the ``<script>`` or ``<style>`` element it is put in."""
    return re.sub(r"</(?=(script|style))", r"<\\/", text, flags=re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def katex_css() -> str:
    """KaTeX's stylesheet with the embedded fonts as data URLs and the other fonts' rules dropped."""
    css = _text_asset("katex", "katex.min.css")

    def font_face(match: re.Match) -> str:
        rule = match.group(0)
        name = re.search(r"fonts/KaTeX_([A-Za-z0-9-]+)\.woff2", rule)
        if name is None or name.group(1) not in KATEX_FONTS:
            return ""
        data = _asset("katex", "fonts", f"KaTeX_{name.group(1)}.woff2").read_bytes()
        url = "data:font/woff2;base64," + base64.b64encode(data).decode("ascii")
        return re.sub(r"src:[^}]*", f'src:url({url}) format("woff2")', rule)

    return re.sub(r"@font-face\{[^}]*\}", font_face, css)


# ---------------------------------------------------------------------- markdown with maths

_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.DOTALL)


def markdown_html(text: str) -> str:
    """Markdown with ``$...$`` / ``$$...$$`` LaTeX -> HTML; maths left for KaTeX in the page.

    The maths is taken out before the Markdown parser sees it (so ``_`` and ``\\`` in it
    stay LaTeX) and put back as ``<span class="math">`` elements that page.js renders.
    """
    from markdown_it import MarkdownIt

    maths: list[str] = []

    def stash(match: re.Match) -> str:
        display = match.group(1) is not None
        tex = (match.group(1) if display else match.group(2)).strip()
        cls = "math display" if display else "math"
        maths.append(f'<span class="{cls}">{html.escape(tex)}</span>')
        return f"MATHPLACEHOLDER{len(maths) - 1}X"

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(_MATH.sub(stash, text))
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: maths[int(m.group(1))], body)


@functools.lru_cache(maxsize=1)
def seed_answers() -> tuple[tuple[str, str, str], ...]:
    """``(command, title, html)`` of each seed answer, from the commands' markdown output.

    Runs ``nndl derive TOPIC --format markdown`` / ``nndl explain TOPIC --format markdown``
    (their public command functions, in this process; about 10 s in all).
    """
    from nndl.cli import build_parser

    out = []
    data_log = logging.getLogger("nndl.data")  # the "data: ..." line: once, for the run, not per answer
    for command, topic in SEED_ANSWERS:
        args = build_parser().parse_args([command, topic, "--format", "markdown"])
        buffer = io.StringIO()
        level = data_log.level
        try:
            data_log.setLevel(logging.WARNING)
            with contextlib.redirect_stdout(buffer):
                status = args.func(args)
        except (ImportError, NndlError) as exc:  # e.g. SymPy (the derive extra) not installed
            log.warning("the report leaves out nndl %s %s: %s", command, topic, exc)
            note = f"<p>Not computed here: {html.escape(str(exc))} (pip install 'nndl[derive]').</p>"
            out.append((f"nndl {command} {topic}", f"{command} {topic}", note))
            continue
        finally:
            data_log.setLevel(level)
        text = buffer.getvalue()
        if status != 0:
            log.warning("nndl %s %s reported a failed check; the page shows it", command, topic)
        first = text.lstrip().splitlines()[0] if text.strip() else topic
        title = first.lstrip("#").strip()
        body = text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""
        out.append((f"nndl {command} {topic}", title, markdown_html(body)))
    return tuple(out)


# ---------------------------------------------------------------------- the run


def book_match(settings: dict[str, Any], data: dict[str, Any]) -> dict[str, Any] | None:
    """The book's experiment closest to a run's settings, and its published number.

    ``settings``: a run's ``TrainSettings.to_dict()`` with ``sizes`` filled in; ``data``:
    its ``history.json`` data record (``name``, ``n_training``).

    Returns ``{"id", "title", "book", "book_text", "metric", "differences"}`` where
    ``differences`` lists ``(setting, run's value, book's value)`` (empty: the same
    configuration), or None if the run is not on MNIST's 50,000 training images with
    plain sigmoid SGD (no momentum, dropout, expansion), where no book number applies.
    """
    if data.get("name") != "mnist" or data.get("n_training") != 50_000:
        return None
    plain = (
        settings.get("momentum", 0) == 0
        and settings.get("dropout", 0) == 0
        and settings.get("expand", 0) == 0
        and settings.get("hidden", "sigmoid") == "sigmoid"
        and settings.get("output") in (None, "sigmoid")
        and settings.get("regularization", "l2") == "l2"
    )
    if not plain:
        return None
    from nndl.experiments.common import Net
    from nndl.experiments.registry import REGISTRY

    best = None
    for exp in REGISTRY.values():
        cfg = exp.config
        if not isinstance(cfg, Net) or cfg.n_train != 50_000:
            continue
        metric = next((m for m in exp.metrics if m.book is not None and not m.once), None)
        if metric is None:
            continue
        theirs = {
            "sizes": list(cfg.sizes),
            "cost": cfg.cost,
            "init": cfg.init,
            "eta": cfg.eta,
            "lmbda": cfg.lmbda,
            "mini_batch_size": cfg.mini_batch_size,
            "epochs": cfg.epochs,
        }
        ours = {k: settings.get(k) for k in BOOK_FIELDS}
        ours["sizes"] = list(ours["sizes"] or [])
        differences = [(k, ours[k], theirs[k]) for k in BOOK_FIELDS if ours[k] != theirs[k]]
        if cfg.evaluation != settings.get("evaluate_on"):
            differences.append(("evaluate_on", settings.get("evaluate_on"), cfg.evaluation))
        if best is None or len(differences) < len(best["differences"]):
            best = {
                "id": exp.id,
                "title": exp.title,
                "book": metric.book,
                "book_text": metric.book_text,
                "metric": metric.name.replace(" (%)", ""),
                "differences": differences,
            }
    return best


def _b64_f32(array) -> str:
    import numpy as np

    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


PREPROCESSING = ("INK", "MIN_CONTRAST", "WORK_SIDE", "BACKGROUND_WINDOW", "SPECK",
                 "WINDOW_STROKES", "STROKE", "STROKE_RANGE", "INK_LEVEL")


def preprocessing_constants() -> dict[str, Any]:
    """``nndl.images``'s constants for page.js's copy of ``ink_image`` and ``normalize``."""
    from nndl import images

    return {name: getattr(images, name) for name in PREPROCESSING}


def page_network(net) -> dict[str, Any]:
    """What page.js needs to run ``net``: kind, sizes, activations, cost and float32 weights.

    For a chapter-3 ``nndl.Network`` (``kind`` "chapter3"): weights as base64 little-endian
    float32, ``weights[l]`` row-major (n_out, n_in) as in the book. A chapter-6
    ``nndl.network3.Network`` gets ``kind`` "chapter6" (``layered_network``). Any other
    network gets ``kind`` "unsupported" and the page says its features are for chapter-3
    and chapter-6 networks only.
    """
    from nndl.costs import cost_name
    from nndl.network import Network

    from nndl.network3 import Network as LayeredNetwork

    if isinstance(net, LayeredNetwork):
        return layered_network(net)
    if not isinstance(net, Network):
        return {"kind": "unsupported", "type": type(net).__name__}
    out: dict[str, Any] = {
        "kind": "chapter3",
        "sizes": list(net.sizes),
        "cost": cost_name(net.cost),
        "hidden": net.hidden,
        "output": net.output,
        "dropout": net.dropout,
        "weights": [_b64_f32(W) for W in net.weights],
        "biases": [_b64_f32(b) for b in net.biases],
        "frame": _frame(net.sizes[0]),  # not a square image: no canvas, no neuron images
    }
    return out


def _frame(n_inputs: int) -> dict[str, Any] | None:
    """``nndl.images.frame_for`` as the page's ``frame`` (None: not a square image)."""
    from nndl.images import frame_for

    try:
        side, box, centre = frame_for(n_inputs)
    except NndlError:
        return None
    return {"side": side, "box": box, "centre": centre}


def layered_network(net) -> dict[str, Any]:
    """What page.js needs to run a chapter-6 ``nndl.network3.Network`` (``kind`` "chapter6").

    One entry per layer, ``nndl.network3.layer_description``'s fields plus ``activation``
    ("softmax" for the SoftmaxLayer) and the parameters as base64 little-endian float32 in
    the book's shapes, row-major: a ConvPoolLayer's ``w`` (n_filters, channels, fh, fw)
    (the true-convolution kernel, as network3's Theano conv2d and nndl.layers use it) and
    ``b`` (n_filters,); a fully connected or softmax layer's ``w`` (n_in, n_out) (network3's
    orientation, z = x . w + b) and ``b`` (n_out,). ``frame``: the canvas's 28x28 frame when
    the first layer takes one square grey image, else None (no canvas).
    """
    from nndl.network3 import layer_description

    layers = []
    for layer in net.layers:
        d = layer_description(layer)
        d.update(activation=layer.activation, n_in=layer.n_in, n_out=layer.n_out,
                 w=_b64_f32(layer.w), b=_b64_f32(layer.b))
        layers.append(d)
    first = net.layers[0]
    frame = _frame(net.n_in)
    if frame is not None and first.kind == "conv" and first.image_shape != (1, frame["side"], frame["side"]):
        frame = None  # several channels, or not a square: the canvas cannot make its input
    return {"kind": "chapter6", "sizes": net.sizes, "layers": layers, "dtype": net.dtype.name, "frame": frame}


#: The charts' size and font: drawn at 72 SVG units an inch and scaled to the page's width,
#: so that on a 375 px phone (a 337 px column) the 11 pt labels come out at 11.7 px.
CHART_INCHES = (4.4, 3.0)
CHART_POINTS = 11


def _svg(draw, data, salt: str) -> str:
    """A chart drawn by ``nndl.plots`` as inline SVG that scales with the page."""
    import matplotlib
    import numpy as np

    from nndl import plots

    buffer = io.StringIO()
    with (matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt, "font.size": CHART_POINTS}),
          warnings.catch_warnings(), np.errstate(all="ignore")):
        # huge or non-finite values (a diverged run's cost) are drawn as far as they can be,
        # without NumPy's and matplotlib's multi-line warnings on stderr
        warnings.simplefilter("ignore", RuntimeWarning)
        fig = plots.new_figure(*CHART_INCHES)
        ax = draw(fig.add_subplot(), data)
        _fit_title(fig, ax)
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    return re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
        r'<svg\1 class="chart" role="img" aria-label="' + html.escape(salt) + '"',
        svg,
        count=1,
    )


def _fit_title(fig, ax) -> None:
    """Wrap the chart's title onto two lines if it would reach past the chart's edge (was clipped).

    The figure keeps its size (``CHART_INCHES``), so the text keeps its size on a phone.
    """
    import textwrap

    title = ax.title if ax is not None else None
    text = title.get_text() if title is not None else ""
    if not text or "\n" in text:
        return
    fig.draw_without_rendering()  # (the constrained layout places the axes)
    box = title.get_window_extent()  # centred on the axes, which leave room for the y label
    margin = 0.03 * fig.bbox.width  # (a browser's font may be a little wider than matplotlib's)
    room = 2 * min(box.x0 + box.width / 2 - margin, fig.bbox.x1 - margin - (box.x0 + box.width / 2))
    width = box.width
    if width > room:
        title.set_text(textwrap.fill(text, width=max(10, math.floor(len(text) * room / width))))


def _png_data_url(image, side: int) -> str:
    """A grey image (side*side,) in [0, 1], ink dark on white, as a PNG data URL."""
    import numpy as np
    from PIL import Image

    pixels = np.round(255 * (1.0 - np.clip(image, 0.0, 1.0))).astype(np.uint8).reshape(side, side)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _evaluation(net, record: dict[str, Any], folder: Path) -> dict[str, Any] | None:
    """Confusion matrix and worst mistakes on the run's evaluation set, or None without data."""
    from nndl import runs

    try:
        settings = runs.TrainSettings.from_dict(record["settings"], str(folder / runs.HISTORY))
        splits = runs.load_data(settings, name=record.get("data", {}).get("name"))
        _, evaluation = runs.prepare_data(settings, splits)
    except (DataError, UsageError, OSError, KeyError) as exc:
        log.warning("no confusion matrix in the report: cannot load the run's data (%s)", exc)
        return None
    return _evaluate_on(net, evaluation.X, evaluation.y, settings.evaluate_on, splits.description)


def _evaluate_on(net, X, y, name: str, description: str) -> dict[str, Any] | None:
    """``nndl evaluate``'s numbers for the page: confusion matrix, worst mistakes with images."""
    from nndl.commands.evaluate import evaluate

    n_in = getattr(net, "n_in", None) or (getattr(net, "sizes", None) or [None])[0]
    if n_in is not None and X.shape[1] != n_in:
        log.warning("no confusion matrix in the report: the model takes %d inputs, but the run's %s set "
                    "has %d per example", n_in, name, X.shape[1])
        return None
    try:
        result = evaluate(net, X, y)
    except (AttributeError, TypeError, ValueError) as exc:  # data that do not fit, another kind of net
        log.warning("no confusion matrix in the report: %s", exc)
        return None
    side = math.isqrt(X.shape[1])
    square = side * side == X.shape[1]
    wrong = [
        {
            "index": int(i),
            "label": int(y[i]),
            "predicted": int(result["predicted"][i]),
            "confidence": float(result["confidence"][i]),
            "image": _png_data_url(X[i], side) if square else None,
        }
        for i in result["wrong"][:N_WRONG]
    ]
    return {
        "set": name,
        "description": description,
        "n": result["n"],
        "correct": result["correct"],
        "accuracy": result["accuracy"],
        "cost": result["cost"],
        "confusion": result["confusion"].tolist(),
        "wrong": wrong,
    }


# ---------------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(title: str, rows: list[tuple[str, Any]]) -> str:
    return (
        f'<table class="kv"><caption>{_e(title)}</caption>'
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _run_section(record: dict[str, Any], folder: Path, book: dict[str, Any] | None) -> str:
    s, d, n, env = record["settings"], record["data"], record["network"], record["environment"]
    h = record.get("history", {})
    seconds = h.get("epoch_seconds") or []
    best = record.get("best_evaluation_accuracy")
    shown = {"sizes", "cost", "output", "hidden", "init", "dtype", "dropout", "data", "data_dir",
             "evaluate_on", "seed"}
    tables = [
        _table("Data", [
            ("data set", d.get("description")),
            ("training examples", f"{d.get('n_training', 0):,}"),
            ("evaluated on", f"the {d.get('evaluate_on')} set ({d.get('n_evaluation', 0):,} examples)"),
        ]),
        _table("Network", [
            ("layers", "-".join(str(k) for k in n.get("sizes", []))),
            ("cost", n.get("cost")),
            ("hidden neurons", n.get("hidden")),
            ("output layer", n.get("output")),
            ("initial weights", n.get("init")),
            ("dropout", n.get("dropout")),
            ("dtype", n.get("dtype")),
        ]),
        _table("Training", [("seed", record.get("seed"))] + [
            (k.replace("_", "-"), "-" if v is None else v) for k, v in s.items() if k not in shown
        ]),
        _table("Result and timings", [
            ("status", record.get("status")),
            ("started", record.get("started")),
            ("epochs completed", record.get("epochs_completed")),
            ("best accuracy", "-" if best is None
             else f"{100 * best:.2f} % after epoch {record.get('best_epoch')}"),
            ("training time", f"{sum(seconds):.2f} s"),
            ("seconds per epoch",
             ", ".join(f"{t:.2f}" for t in seconds[:10]) + (" ..." if len(seconds) > 10 else "")),
            ("run folder", folder.name),
        ]),
        _table("Versions", list(env.items())),
    ]
    book_html = _book_html(book, "The book gives no number for this kind of run (its numbers are for MNIST's "
                                 "50,000 training images and plain sigmoid SGD).")
    return book_html + '<div class="kv-grid">' + "".join(tables) + "</div>"


def _confusion_html(ev: dict[str, Any]) -> str:
    matrix = ev["confusion"]
    k = len(matrix)
    top = max((max(row) for row in matrix), default=0) or 1
    errors = max((v for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j), default=0)
    head = "<tr><th>true \\ predicted</th>" + "".join(f"<th>{j}</th>" for j in range(k)) + "<th>accuracy</th></tr>"
    body = []
    for i, row in enumerate(matrix):
        total = sum(row)
        cells = "".join(  # right answers in blue (share of the largest), mistakes in red
            f'<td style="background:rgba(31,119,180,{v / top:.3f});{"color:#fff;" if v > 0.6 * top else ""}">{v}</td>'
            if i == j
            else f'<td style="background:rgba(214,39,40,{0.8 * v / errors if errors else 0:.3f})">{v}</td>'
            for j, v in enumerate(row)
        )
        share = f"{100 * row[i] / total:.1f} %" if total else "-"
        body.append(f"<tr><th>{i}</th>{cells}<td>{share}</td></tr>")
    return f'<div class="scroll"><table class="confusion">{head}{"".join(body)}</table></div>'


def _wrong_html(ev: dict[str, Any]) -> str:
    if not ev["wrong"]:
        return "<p>No mistakes on this set.</p>"
    items = []
    for w in ev["wrong"]:
        img = f'<img src="{w["image"]}" alt="example {w["index"]}">' if w["image"] else ""
        items.append(
            f"<figure>{img}<figcaption>#{w['index']}: {_a(w['label'])} {w['label']} taken for "
            f"{_a(w['predicted'])} <b>{w['predicted']}</b> ({w['confidence']:.2f})</figcaption></figure>"
        )
    return '<div class="mistakes">' + "".join(items) + "</div>"


def _a(digit) -> str:
    """The article before a digit's name: "an 8", "an 11", "an 18", "a 7"."""
    return "an" if str(digit).startswith("8") or str(digit) in ("11", "18") else "a"


def run_summary(record: dict[str, Any], folder: Path) -> tuple[str, str]:
    """``(html, subtitle)``: the run section of the page and a one-line description.

    ``record`` is a parsed ``history.json``; a damaged one (keys missing, values of the
    wrong type) raises ``ModelFileError`` naming the file, never another exception.
    """
    from nndl.runs import HISTORY

    try:
        for key in ("settings", "data", "network", "environment"):
            if not isinstance(record.get(key), dict):
                raise TypeError(f"{key!r} is not a mapping")
        sizes = record["network"].get("sizes")
        book = book_match({**record["settings"], "sizes": sizes}, record["data"])
        html_ = _run_section(record, folder, book)
        subtitle = (
            f"{'-'.join(map(str, sizes or []))} network, {record['network'].get('cost')} cost, "
            f"{record['data'].get('name')}"
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{folder / HISTORY}: incomplete or damaged run history ({exc})") from None
    return html_, subtitle


def model_mismatch(record: dict[str, Any], net, metadata: dict[str, Any] | None = None) -> str | None:
    """How the model differs from the network ``history.json`` describes, or None.

    The one rule for both chapters (a model copied in from another run would give a page
    with one run's history and another's network): the model must be the kind of network
    the history describes (chapter 3: ``nndl.Network``; chapter 6: ``nndl.network3.Network``),
    with its shape (chapter 3: sizes, cost, activations; chapter 6: the layers of the book's
    network the history names), and where the model file's metadata record the run's
    settings (what ``nndl train`` stores), the same settings and data.
    ``record``: a chapter-3 ``history.json`` as parsed, or ``chapter6_record``'s result.
    """
    from nndl.network import Network
    from nndl.network3 import Network as LayeredNetwork

    metadata = metadata if isinstance(metadata, dict) else {}
    if "history" in record and hasattr(record.get("settings"), "net"):  # chapter 6 (chapter6_record)
        s = record["settings"]
        if not isinstance(net, LayeredNetwork):
            return (f"not a layered (chapter 6) nndl network, but history.json describes a chapter-6 "
                    f"run ({s.net})")
        shape = layered_mismatch(net, s.net, s.mini_batch_size)
        if shape:
            return shape
        trainer = metadata.get("trainer") if isinstance(metadata.get("trainer"), dict) else {}
        theirs = trainer.get("settings") if isinstance(trainer.get("settings"), dict) else {}
        ours = {"eta": s.eta, "lmbda": s.lmbda, "mini_batch_size": s.mini_batch_size,
                "n_training": record["history"].n_training}
        diffs = [f"{k.replace('_', '-')} {theirs[k]!r} (history.json: {v!r})"
                 for k, v in ours.items() if k in theirs and theirs[k] != v]
        return ("the model was trained by another run than history.json describes: " + "; ".join(diffs)
                if diffs else None)
    described = record.get("network")
    if isinstance(net, LayeredNetwork):
        return "a layered (chapter 6) nndl network, but history.json describes a chapter-3 run"
    if not isinstance(net, Network):
        return f"{_words.a(type(net).__name__)}, not the chapter-3 network history.json describes"
    if not isinstance(described, dict):
        return None  # run_summary says what is wrong with history.json
    from nndl.io import network_description

    actual = network_description(net)
    keys = ("sizes", "cost", "hidden", "output")
    diffs = [f"{k} {_plain(actual[k])} (history.json: {_plain(described[k])})"
             for k in keys if k in described and described[k] != actual[k]]
    if diffs:
        return "the model is not the network history.json describes: " + "; ".join(diffs)
    n_inputs = (record.get("data") or {}).get("n_inputs") if isinstance(record.get("data"), dict) else None
    if isinstance(n_inputs, int) and n_inputs != net.sizes[0]:
        return (f"the model takes {net.sizes[0]} inputs, but the run's data (history.json) have "
                f"{n_inputs} per example")
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    theirs = metadata.get("settings") if isinstance(metadata.get("settings"), dict) else {}
    diffs = [f"{k.replace('_', '-')} {_plain(v)} (history.json: {_plain(settings[k])})"
             for k, v in theirs.items() if k in settings and settings[k] != v]
    data, model_data = record.get("data"), metadata.get("data")
    if isinstance(data, dict) and isinstance(model_data, dict) and model_data.get("name") != data.get("name"):
        diffs.append(f"data {model_data.get('name')} (history.json: {data.get('name')})")
    if diffs:
        return "the model was trained by another run than history.json describes: " + "; ".join(diffs)
    return None


def check_model(record: dict[str, Any], net, metadata: dict[str, Any] | None, model_file: Path) -> None:
    """``ModelFileError`` (one line, naming the model file) unless ``model_mismatch`` finds nothing."""
    mismatch = model_mismatch(record, net, metadata)
    if mismatch:
        raise ModelFileError(f"{model_file}: {mismatch}; nndl report shows one run, not two "
                             "(put the run's own model back, or report the model's own run folder)")


_COSTS = ("evaluation_cost", "training_cost")
#: A cost beyond this (or not finite) is a diverged run's: an error in any other run's
#: history.json, and left out of a diverged run's chart (``_drawable``).
MAX_COST = 1e30


def _drawable(history: dict[str, Any]) -> dict[str, Any]:
    """``history`` with each cost beyond ``MAX_COST`` or not finite as NaN (a gap in the chart)."""
    out = dict(history)
    for key in _COSTS:
        out[key] = [x if math.isfinite(x) and abs(x) <= MAX_COST else math.nan for x in history.get(key) or []]
    return out
_COUNTS = (("evaluation_accuracy", "n_evaluation"), ("training_accuracy", "n_training"))


def check_history3(record: dict[str, Any], where: Path) -> None:
    """A chapter-3 ``history.json``'s results, as strictly as a chapter-6 one's: a one-line
    ``ModelFileError`` naming the field and what is wrong.

    ``epochs_completed`` a whole number >= 0; each monitored list empty (not monitored) or
    one entry per epoch; accuracies whole counts within 0..n; seconds, eta and gradient norms
    finite and >= 0; costs finite (or, in a diverged run, not: what diverged);
    ``best_epoch``/``best_evaluation_accuracy`` those of ``history.evaluation_accuracy``.
    """
    from nndl import _validate
    from nndl.runs import _short

    def bad(name: str, what: str) -> ModelFileError:
        return ModelFileError(f"{where}: {name} {what}")

    epochs = record.get("epochs_completed")
    if not _validate.plain_int(epochs, 0, 10**9):
        raise bad("'epochs_completed'", f"must be a whole number >= 0; got {_short(epochs)}")
    h = record.get("history")
    if not isinstance(h, dict):
        raise bad("'history'", f"must be an object; got {_short(h)}")
    counts = {}
    for key in ("n_training", "n_evaluation"):
        counts[key] = h.get(key, 0)
        if not _validate.plain_int(counts[key], 0, 2**40):
            raise bad(f"'history.{key}'", f"must be a whole number >= 0; got {_short(counts[key])}")

    def values(key: str) -> list:
        v = h.get(key, [])
        if not isinstance(v, list) or len(v) not in (0, epochs):
            n = len(v) if isinstance(v, list) else _short(v)
            raise bad(f"'history.{key}'", f"must be a list of one entry per epoch ({epochs}); got {n}")
        return v

    for key in ("epoch_seconds", "eta"):
        if not all(_validate.plain_number(x) and x >= 0 for x in values(key)):
            raise bad(f"'history.{key}'", "must hold finite numbers >= 0")
    if len(h.get("epoch_seconds", [])) != epochs:
        raise bad("'history.epoch_seconds'", f"records {_words.count(len(h.get('epoch_seconds', [])), 'epoch')} but "
                  f"'epochs_completed' is {epochs}")
    for key in _COSTS:
        for x in values(key):
            number = isinstance(x, (int, float)) and not isinstance(x, bool)
            sensible = number and math.isfinite(x) and abs(x) <= MAX_COST
            if not number or (not sensible and record.get("status") != "diverged"):
                raise bad(f"'history.{key}'", f"must hold finite numbers within +-{MAX_COST:.0e}; "
                          f"got {_short(x)}")
    for key, n in _COUNTS:
        if not all(_validate.plain_int(x, 0, counts[n]) for x in values(key)):
            raise bad(f"'history.{key}'", f"must hold counts of right answers within 0..{counts[n]:,} "
                      f"(history.{n})")
    norms = h.get("gradient_norms", [])
    if not isinstance(norms, list) or len(norms) > epochs + 1 or not all(
            isinstance(row, list) and all(_validate.plain_number(x) and x >= 0 for x in row) for row in norms):
        raise bad("'history.gradient_norms'", f"must be at most {epochs + 1} lists of finite numbers >= 0")
    acc = h.get("evaluation_accuracy", [])
    best, best_acc = record.get("best_epoch"), record.get("best_evaluation_accuracy")
    if best is not None and not _validate.plain_int(best, 0, len(acc) - 1):
        raise bad("'best_epoch'", f"is {_short(best)}, but history.evaluation_accuracy has {_words.count(len(acc), 'epoch')}")
    if best_acc is not None and not (_validate.plain_number(best_acc) and 0 <= best_acc <= 1):
        raise bad("'best_evaluation_accuracy'", f"must be a fraction within 0..1; got {_short(best_acc)}")


def _plain(value) -> str:
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


TRAINING_NOTE = (
    "<p>Cost and classification accuracy on the training and evaluation data after every epoch, "
    "and chapter 5's speed of learning: the length of the gradient "
    '<span class="math">\\|\\partial C/\\partial b^l\\|</span>\n'
    'of each hidden layer <span class="math">l</span> at the start of each epoch (mean over the first\n'
    "1,000 training examples).</p>"
)


def build(folder: str | Path, *, answers: bool = True) -> str:
    """The report page of the run in ``folder``, as one HTML string.

    A chapter-3 run (``nndl train``) or a chapter-6 run (``nndl train --net``, its
    ``history.json`` of format ``nndl.commands.train3.FORMAT``). Raises ``ModelFileError``
    if ``folder`` is not a run folder (no ``history.json`` or no model, or either damaged).
    ``answers=False`` leaves out the seed answers (they take about 10 s).
    """
    folder = check_run_folder(folder)
    record6 = chapter6_record(folder)
    parts = _chapter3_parts(folder) if record6 is None else _chapter6_parts(folder, record6)
    return _assemble(folder, parts, answers)


def _chapter3_parts(folder: Path) -> dict[str, Any]:
    from nndl import runs

    record = runs.read_history(folder)
    check_history3(record, folder / runs.HISTORY)
    net, metadata, model_file = runs.load_model(folder)
    check_model(record, net, metadata, model_file)
    run_html, subtitle = run_summary(record, folder)
    try:
        charts = charts3(record["history"])
    except (AttributeError, KeyError, TypeError, ValueError):  # (check_history3 leaves none: fuzz-tested)
        log.warning("no charts in the report: %s: the histories cannot be drawn", folder / runs.HISTORY)
        charts = "<p>The run's histories are unreadable: no charts.</p>"
    return {"net": net, "model_file": model_file, "run_html": run_html, "subtitle": subtitle,
            "training_note": TRAINING_NOTE, "charts": charts,
            "evaluation": _evaluation(net, record, folder)}


def charts3(history: dict[str, Any]) -> str:
    """A chapter-3 run's charts (cost, accuracy, speed of learning) as HTML figures.

    ``history``: ``history.json``'s ``history``, checked by ``check_history3``; a diverged
    run's costs beyond ``MAX_COST`` or not finite are left out (``_drawable``).
    """
    from nndl import plots

    drawable = _drawable(history)
    return "".join(
        f"<figure>{_svg(draw, drawable, name)}</figure>"
        for name, draw in (
            ("cost per epoch", plots.plot_cost),
            ("accuracy per epoch", plots.plot_accuracy),
            ("speed of learning per hidden layer", plots.plot_speed),
        )
    )


def _evaluation_html(evaluation: dict[str, Any] | None) -> str:
    if evaluation is None:
        return "<p>The run's data are not on this machine: no confusion matrix.</p>"
    return (
        f"<p>{_e(evaluation['description'])}; the {_e(evaluation['set'])} set: "
        f"<b>{100 * evaluation['accuracy']:.2f} %</b> ({evaluation['correct']:,} / "
        f"{evaluation['n']:,}), mean cost {evaluation['cost']:.4f}. Rows are the true digits, "
        "columns the network's answers.</p>"
        + _confusion_html(evaluation)
        + "<h3>Most confidently wrong</h3><p>True digit, the network's answer and its "
        "confidence (that output's share of all outputs).</p>"
        + _wrong_html(evaluation)
    )


def _assemble(folder: Path, parts: dict[str, Any], answers: bool) -> str:
    """The page from its parts (run, charts, evaluation, network) and the shared assets."""
    from nndl import __version__

    if answers:
        log.info("computing the learners' questions (nndl derive, nndl explain)...")
        answers_html = "".join(
            f'<details class="answer"><summary>{_e(title)} <code>{_e(cmd)}</code></summary>'
            f"{body}</details>"
            for cmd, title, body in seed_answers()
        )
    else:
        answers_html = "<p>Left out (<code>--no-answers</code>).</p>"
    data = {
        "network": page_network(parts["net"]),
        "model": parts["model_file"].name,
        "max_neurons": MAX_NEURON_IMAGES,
        "nndl": __version__,
        "preprocessing": preprocessing_constants(),
    }
    template = _text_asset("page.html")
    replacements = {
        "TITLE": _e(f"nndl run {folder.name}"),
        "HEADING": _e(f"Run {folder.name}"),
        "SUBTITLE": _e(f"{parts['subtitle']}; nndl {__version__}"),
        "KATEX_CSS": _script_safe(katex_css()),
        "PAGE_CSS": _script_safe(_text_asset("page.css")),
        "RUN": parts["run_html"],
        "TRAINING_NOTE": parts["training_note"],
        "CHARTS": parts["charts"],
        "EVALUATION": _evaluation_html(parts["evaluation"]),
        "ANSWERS": answers_html,
        "DATA": _script_safe(json.dumps(data, separators=(",", ":"))),
        "KATEX_JS": _script_safe(_text_asset("katex", "katex.min.js")),
        "PAGE_JS": _script_safe(_text_asset("page.js")),
    }
    return re.sub(r"<!--@(\w+)@-->", lambda m: replacements[m.group(1)], template)


# ---------------------------------------------------------------------- chapter 6


def chapter6_record(folder: Path) -> dict[str, Any] | None:
    """The parsed ``history.json`` of a chapter-6 run (``nndl train --net``), or None for another run.

    Raises ``ModelFileError`` (one line, naming the file) when it is a chapter-6 history
    whose fields are damaged (``nndl.commands.train3.check_record``).
    """
    from nndl import _validate
    from nndl.commands.train3 import FORMAT, check_record
    from nndl.runs import HISTORY, MAX_HISTORY_BYTES

    path = folder / HISTORY
    if not path.is_file():
        return None  # read_history says what is wrong
    record = _validate.read_json(path, ModelFileError, MAX_HISTORY_BYTES, "run history")
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    try:
        settings, _ = check_record(record)
        from nndl.network3 import Network3History

        history = Network3History.from_dict(record.get("history", {}))
        if not isinstance(record.get("data"), str):
            raise ValueError("'data' is not a description")
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: incomplete or damaged chapter-6 run history ({exc})") from None
    return {**record, "settings": settings, "history": history}


def _chapter6_model(folder: Path, record: dict[str, Any]):
    """``(net, model file)``: the run's model.npz, else its checkpoint.npz (with a warning)."""
    from nndl.network3 import is_layered_file, load_npz
    from nndl.runs import CHECKPOINT, MODEL

    path = folder / MODEL
    if not path.is_file():
        path = folder / CHECKPOINT
        if not path.is_file():
            raise ModelFileError(f"{folder}: a chapter-6 run without {MODEL} or {CHECKPOINT}; nothing to show")
        log.warning("%s: no %s (the run is %s); using %s, the network after %s", folder, MODEL,
                    record.get("status"), CHECKPOINT, _words.count(record["history"].epochs, "epoch"))
    from nndl.io import read_npz_json

    read_npz_json(path, ModelFileError)  # a damaged file is said as such, before what kind it is
    if not is_layered_file(path):
        raise ModelFileError(f"{path}: not a layered (chapter 6) nndl network, but history.json describes "
                             f"a chapter-6 run ({record['settings'].net})")
    net, metadata, _ = load_npz(path)
    check_model(record, net, metadata, path)
    return net, path


def layered_mismatch(net, name: str, mini_batch_size: int) -> str | None:
    """How ``net`` differs from the book's network ``name`` that history.json names, or None."""
    from nndl.network3 import _book_layers, layer_description, layer_text

    theirs = [layer_description(layer) for layer in _book_layers(name, mini_batch_size, net.dtype)]
    ours = [layer_description(layer) for layer in net.layers]
    if ours == theirs:
        return None
    return (f"the model is not the {name} network history.json describes: it is "
            f"{', '.join(layer_text(d) for d in ours)}")


def book_match6(s) -> dict[str, Any] | None:
    """The book's chapter-6 experiment for a run's ``Train3Settings`` and its published number.

    Same fields as ``book_match`` (``differences``: (setting, run's value, book's value));
    None if the book gives no number for that network (``nndl experiment --list``).
    """
    from nndl.experiments.registry import REGISTRY

    exp = REGISTRY.get(s.net)
    if exp is None:
        return None
    metric = next((m for m in exp.metrics if m.book is not None), None)
    if metric is None:
        return None
    cfg = exp.config
    ours = {"eta": s.eta, "lmbda": s.lmbda, "epochs": s.epochs, "mini_batch_size": s.mini_batch_size,
            "training_size": s.training_size or cfg.n_train, "expanded": s.expanded}
    theirs = {"eta": cfg.eta, "lmbda": cfg.lmbda, "epochs": cfg.epochs, "mini_batch_size": cfg.mini_batch_size,
              "training_size": cfg.n_train, "expanded": cfg.expanded}
    return {"id": exp.id, "title": exp.title, "book": metric.book, "book_text": metric.book_text,
            "metric": metric.name.replace(" (%)", ""),
            "differences": [(k, ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]]}


def _book_html(book: dict[str, Any] | None, none_text: str) -> str:
    if book is None:
        return f"<p>{none_text}</p>"
    if not book["differences"]:
        return (
            f'<p class="book">The book\'s number for this configuration '
            f"(<code>nndl experiment {_e(book['id'])}</code>, {_e(book['title'])}): "
            f"<b>{_e(book['book_text'] or book['book'])}</b> ({_e(book['metric'])}).</p>"
        )
    diffs = "; ".join(
        f"{k.replace('_', '-')} {_e(a)} here, {_e(b)} there" for k, a, b in book["differences"]
    )
    return (
        f'<p class="book">No book number for exactly this configuration. The closest '
        f"experiment with one is <code>nndl experiment {_e(book['id'])}</code> "
        f"({_e(book['title'])}): {_e(book['book_text'] or book['book'])} "
        f"({_e(book['metric'])}); it differs in {diffs}.</p>"
    )


TRAINING_NOTE6 = (
    "<p>network3's measurements after every epoch: the classification accuracy on the validation "
    "and test data (the book reports the test accuracy at the epoch of the best validation "
    "accuracy, marked) and the mean training cost of the epoch's mini-batches (eq. 80, with the "
    "dropout masks, without the L2 term). A chapter-6 run records no per-layer speed of learning "
    "(chapter 5's <span class=\"math\">\\|\\partial C/\\partial b^l\\|</span>): that chart is for "
    "chapter-3 runs.</p>"
)


def _chapter6_parts(folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    from nndl import plots

    net, model_file = _chapter6_model(folder, record)
    history = record["history"].to_dict()
    charts = "".join(
        f"<figure>{_svg(draw, history, name)}</figure>"
        for name, draw in (("accuracy per epoch", plots.plot_validation_test_accuracy),
                           ("cost per epoch", plots.plot_cost))
    )
    return {"net": net, "model_file": model_file, "run_html": run_summary6(record, folder, net, model_file),
            "subtitle": f"{record['settings'].net} (chapter 6), log-likelihood cost, mnist",
            "training_note": TRAINING_NOTE6, "charts": charts, "evaluation": _evaluation6(net, record["settings"])}


def run_summary6(record: dict[str, Any], folder: Path, net, model_file: Path) -> str:
    """The run section of a chapter-6 run's page (``record`` from ``chapter6_record``).

    Settings, the book's number for them (``book_match6``), the layers, the result at the
    best validation epoch and timings (the model is checked to be the run's by
    ``_chapter6_model``).
    """
    from nndl.io import read_npz_json
    from nndl.network3 import BOOK_NETS, layer_text

    s, h = record["settings"], record["history"]
    best = h.best_epoch
    seconds = h.epoch_seconds
    at_best = h.test_accuracy_at_best
    tables = [
        _table("Data", [
            ("data set", record["data"]),
            ("training examples", f"{h.n_training:,}" + (" (expanded: each image and its four "
                                                          "one-pixel shifts)" if s.expanded else "")),
            ("evaluated on", f"the validation set ({h.n_validation:,}) and the test set ({h.n_test:,})"),
        ]),
        _table("Network", [
            ("network", f"{s.net}: {BOOK_NETS.get(s.net, '')}"),
            ("layer 1", f"the input, {net.n_in} pixels"),  # the book's numbering, as the canvas's
            *((f"layer {i + 2}", layer_text(d)) for i, d in enumerate(net.description()["layers"])),
            ("cost", "log-likelihood (eq. 80), softmax output"),
            ("dtype", net.dtype.name),
        ]),
        _table("Training (network3's SGD)", [
            ("seed", s.seed), ("eta", s.eta), ("lmbda", s.lmbda), ("epochs", s.epochs),
            ("mini-batch-size", s.mini_batch_size),
            ("training-size", "all" if s.training_size is None else f"{s.training_size:,}"),
            ("expanded", s.expanded), ("data-dir", "-" if s.data_dir is None else s.data_dir),
        ]),
        _table("Result and timings", [
            ("status", record.get("status")),
            ("epochs completed", h.epochs),
            ("best validation accuracy", "-" if best is None
             else f"{100 * h.validation_accuracy[best]:.2f} % after epoch {best}"),
            ("test accuracy there", "-" if at_best is None else f"{100 * at_best:.2f} % (the book's measure)"),
            ("training time", f"{sum(seconds):.2f} s"),
            ("seconds per epoch",
             ", ".join(f"{t:.2f}" for t in seconds[:10]) + (" ..." if len(seconds) > 10 else "")),
            ("run folder", folder.name),
        ]),
        _table("Versions", [("nndl (the model file)", read_npz_json(model_file, ModelFileError).get("nndl_version", "-"))]),
    ]
    run_html = _book_html(book_match6(s), f"The book gives no single number for {s.net}.")
    run_html += '<div class="kv-grid">' + "".join(tables) + "</div>"
    return run_html


def _evaluation6(net, s) -> dict[str, Any] | None:
    """Confusion matrix and worst mistakes on the test set (the book's reported one), or None."""
    import numpy as np

    from nndl.data import load_mnist

    try:
        splits = load_mnist(data_dir=s.data_dir, dtype=np.dtype(net.dtype), download=False)
    except (DataError, UsageError, OSError) as exc:
        log.warning("no confusion matrix in the report: cannot load MNIST (%s)", exc)
        return None
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # as network3 trains: 2-4x faster than threads here
        return _evaluate_on(net, splits.test.X, splits.test.y, "test", splits.description)


MARKER = '<meta name="generator" content="nndl report">'  # in every page's head (page.html)


def is_report(path: str | Path) -> bool:
    """True if ``path`` is a regular file that starts like a page nndl report wrote (``MARKER``)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head


def check_run_folder(folder: str | Path) -> Path:
    """``folder`` as a Path if it is a folder; ``ModelFileError`` saying what it is if not."""
    folder = Path(folder).expanduser()
    if folder.is_dir():
        return folder
    if folder.exists():
        hint = f" (the run folder is probably {folder.parent})" if folder.parent.is_dir() and (
            folder.parent / "history.json").exists() else ""
        raise ModelFileError(f"{folder}: is a file, not a run folder; name the folder nndl train "
                             f"wrote (it holds history.json and the model){hint}")
    raise ModelFileError(f"{folder}: no such run folder")


def check_target(path: str | Path, option: str = "-o") -> Path:
    """Check the page's file before any work: a new ``.html`` name, or an earlier nndl report.

    Raises ``UsageError`` (``OPTION PATH: what is wrong``) for a name not ending in .html, a path
    that is a folder, device or FIFO, a folder that does not exist or cannot be written,
    and an existing file that is not an nndl report (a run's model.npz or history.json,
    the user's notes): a report never replaces anything but an earlier report.
    """
    from nndl.paths import check_output_file

    typed = str(path)
    path = Path(path).expanduser()
    shown = f"{option} {path}"
    if not typed.strip() or typed.endswith(("/", "\\")) or path.name.lower() == ".html":
        raise UsageError(f"{option} {typed!r}: the page's file name is empty; name a file such as report.html")
    if path.suffix.lower() != ".html":
        raise UsageError(f"{shown}: the page's file name must end in .html")
    check_output_file(path, option)
    if path.exists() and not is_report(path):
        raise UsageError(f"{shown}: the file exists and is not a page written by nndl report; "
                         "nndl report replaces only its own pages (name another file, or remove it)")
    return path


def write(folder: str | Path, out: str | Path | None = None, *, answers: bool = True) -> Path:
    """Write the report of the run in ``folder`` to ``out`` (default ``folder/report.html``).

    ``out`` is checked first (``check_target``: UsageError before any work).
    """
    from nndl.io import atomic_write

    folder = check_run_folder(folder)
    path = check_target(out if out is not None else folder / REPORT, "-o" if out is not None else "report")
    page = build(folder, answers=answers)
    with atomic_write(path, "wb") as f:
        f.write(page.encode("utf-8"))
    return path
