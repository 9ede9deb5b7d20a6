"""The report page in a real browser: Debian's Chromium driven by Playwright.

The page's JavaScript (preprocessing, forward pass, deltas) must compute what nndl's
Python computes. Strokes are drawn with Playwright's mouse on the canvas; the canvas's
own pixels are then read back (as a PNG) and given to ``nndl.images.digit_input``, the
preprocessing of ``nndl predict``, so both sides see the very same image.

The browser is /usr/bin/chromium (``apt-get install chromium``; or $NNDL_CHROMIUM) and
the ``playwright`` package (in the ``test`` extra); no browser is ever downloaded. Without
them these tests skip, saying so, unless NNDL_BROWSER_TESTS=required (set by .ci/run),
where they fail.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("NNDL_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("NNDL_BROWSER_TESTS") == "required"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PIXEL_TOL = 1 / 255  # the bound on the page's 28x28 input vs nndl predict's, per pixel
VALUE_TOL = 1e-6  # outputs and deltas of the page vs Network.feedforward / Network.deltas
N_MNIST = 20  # MNIST test digits drawn on the canvas
PAD = 280  # the canvas's side in CSS pixels: 10 per MNIST pixel
MAX_BYTES = 3_000_000  # the page of a 784-100-10 network
SCREENSHOTS = os.environ.get("NNDL_SCREENSHOTS")  # also copy the screenshots to this folder

pytestmark = pytest.mark.skipif(
    not os.environ.get("NNDL_DATA"), reason="NNDL_DATA (the MNIST folder) is not set"
)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NNDL_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def browser():
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"browser tests are required here (NNDL_BROWSER_TESTS=required) but {why}")
        pytest.skip(f"browser tests skipped: {why}; NNDL_BROWSER_TESTS=required makes this a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def run_page(tmp_path_factory):
    """The issue's run: ``nndl train --epochs 2 --report`` (784-30-10 on MNIST) and its page."""
    from nndl.cli import main

    folder = tmp_path_factory.mktemp("report") / "run"
    assert main(["-q", "train", "--epochs", "2", "--no-plots", "-o", str(folder), "--report"]) == 0
    return folder, folder / "report.html"


@pytest.fixture(scope="session")
def large_page(tmp_path_factory, run_page):
    """The page of a 784-100-10 network (untrained: the size does not depend on training)."""
    from nndl.cli import main

    folder = tmp_path_factory.mktemp("report") / "large"
    assert main(["-q", "train", "--sizes", "784,100,10", "--epochs", "0", "--no-plots",
                 "-o", str(folder), "--report"]) == 0
    return folder / "report.html"


@pytest.fixture(scope="session")
def net(run_page):
    import nndl

    return nndl.load(run_page[0] / "model.npz")


def mnist_strokes(image) -> list[tuple]:
    """Mouse operations that trace an MNIST digit, 10 canvas pixels per MNIST pixel.

    ``("move", x, y)`` (canvas CSS pixels), ``("down",)``, ``("up",)``. The pen is 20 pixels
    wide (two MNIST rows), so one horizontal segment covers each run of inked pixels
    (> 0.5) in a pair of rows, its round caps (radius 10) reaching the run's outer edges.
    A run that overlaps the previous segment's columns continues the same stroke (as a
    hand would, down the digit); any other starts a new stroke.
    """
    ink = image.reshape(28, 28) > 0.5
    ops: list[tuple] = []
    last = None  # (c0, c1, x) of the segment the pen is on, while it is down
    for r in range(0, 28, 2):
        row = ink[r] | ink[r + 1]
        cols = np.flatnonzero(row)
        runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1) if len(cols) else []
        y = 10 * r + 10
        segments = []
        for run in runs:
            c0, c1 = int(run[0]), int(run[-1])
            x0, x1 = 10 * c0 + 10, max(10 * c0 + 10, 10 * c1)
            if last is not None and c0 <= last[1] and c1 >= last[0]:  # overlaps: go on
                a, b = (x0, x1) if abs(last[2] - x0) <= abs(last[2] - x1) else (x1, x0)
                ops += [("move", a, y), ("move", b, y)]
            else:
                if last is not None:
                    ops.append(("up",))
                ops += [("move", x0, y), ("down",), ("move", x1, y)]
                b = x1
            last = (c0, c1, b)
            segments.append(last)
        if not segments and last is not None:
            ops.append(("up",))
            last = None
    if last is not None:
        ops.append(("up",))
    return ops


STATE_JS = """() => { const s = nndl.state; return s.input === null ? null : {
    input: Array.from(s.input),
    activations: s.pass.as.slice(1).map((a) => Array.from(a)),
    deltas: s.deltas === null ? null : s.deltas.map((d) => Array.from(d)),
    predicted: document.getElementById('predicted').textContent } }"""
CANVAS_JS = "document.getElementById('pad').toDataURL('image/png')"


class Page:
    """One opened report with its console messages and every request the page made."""

    def __init__(self, browser, path: Path, **context):
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.messages: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.messages.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))

        def route(r):
            self.requests.append(r.request.url)
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                r.abort()

        self.context.route("**/*", route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.nndl && window.nndl.ready")
        self.locate()

    def locate(self):
        """Where the canvas is on the screen now (clicking a button may scroll the page)."""
        self.page.locator("#pad").scroll_into_view_if_needed()
        box = self.page.locator("#pad").bounding_box()
        self.x0, self.y0, self.scale = box["x"], box["y"], box["width"] / PAD

    def errors(self):
        return [m for m in self.messages if m[0] in ("error", "pageerror")]

    def clear(self):
        self.page.locator("#clear").click()
        self.locate()

    def stroke(self, points, steps: int = 1):
        """A mouse stroke through ``points`` (canvas CSS pixels, 0..280)."""
        m = self.page.mouse
        at = lambda p: (self.x0 + p[0] * self.scale, self.y0 + p[1] * self.scale)  # noqa: E731
        m.move(*at(points[0]))
        m.down()
        for p in points[1:]:
            m.move(*at(p), steps=steps)
        m.up()

    def draw_mnist(self, image):
        m = self.page.mouse
        for op, *xy in mnist_strokes(image):
            if op == "move":
                m.move(self.x0 + xy[0] * self.scale, self.y0 + xy[1] * self.scale)
            else:
                getattr(m, op)()

    def canvas_png(self, folder: Path, name: str) -> Path:
        data = self.page.evaluate(CANVAS_JS)
        path = folder / name
        path.write_bytes(base64.b64decode(data.split(",", 1)[1]))
        return path

    def state(self):
        return self.page.evaluate(STATE_JS)

    def choose_label(self, label: int):
        self.page.locator(f"#labels button[data-label='{label}']").click()

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def page(browser, run_page):
    p = Page(browser, run_page[1], viewport={"width": 1280, "height": 900})
    yield p
    p.close()


def _screenshot(page, path: Path, **options):
    page.screenshot(path=str(path), **options)
    if SCREENSHOTS:
        shutil.copy(path, Path(SCREENSHOTS) / path.name)


def _compare(net, state, png: Path, agreement: dict):
    """The page's input, outputs and hidden activations against nndl's Python."""
    from nndl.images import digit_input

    assert state is not None, "the page found no digit in the drawing"
    x_page = np.array(state["input"])
    x_python = digit_input(png)
    pixel = np.abs(x_page - x_python).max()
    zs, activations = net.forward_pass(x_page)
    outputs = np.abs(np.array(state["activations"][-1]) - activations[-1][0]).max()
    hidden = max(np.abs(np.array(a) - b[0]).max() for a, b in zip(state["activations"], activations[1:]))
    from_python = np.abs(np.array(state["activations"][-1]) - net.feedforward(x_python)[0]).max()
    agreement.setdefault("pixel", []).append(pixel)
    agreement.setdefault("output", []).append(max(outputs, hidden))
    agreement.setdefault("output_from_python_input", []).append(from_python)
    assert pixel <= PIXEL_TOL, f"{png.name}: the page's 28x28 input differs by {pixel:.3g}"
    assert outputs <= VALUE_TOL and hidden <= VALUE_TOL, (png.name, outputs, hidden)
    assert int(state["predicted"]) == int(np.argmax(activations[-1][0]))
    return state, x_page


def test_the_page_is_one_file_within_size_that_loads_offline_without_errors(page, run_page, large_page):
    size = large_page.stat().st_size
    assert size <= MAX_BYTES, f"the 784-100-10 page is {size:,} bytes"
    assert page.requests == [run_page[1].as_uri()], page.requests  # nothing but the page itself
    assert page.errors() == []
    assert page.page.locator("#neuron-grid canvas").count() == 30  # one image per hidden neuron
    assert page.page.locator("#training svg.chart").count() == 3
    assert page.page.locator(".mistakes img").count() == 12
    timing = page.page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    print(f"\n784-100-10 page: {size / 1e6:.2f} MB; 784-30-10 page: load event after "
          f"{timing['loadEventEnd']:.0f} ms")


def test_every_formula_renders_with_embedded_fonts(page):
    p = page.page
    n = p.locator("details.answer").count()
    assert n == 5
    for d in p.locator("details.answer").all():
        d.locator("summary").click()
    p.evaluate("document.fonts.ready")
    assert p.locator(".katex-error").count() == 0
    assert p.locator("#answers .katex").count() > 50
    faces = p.evaluate("Array.from(document.fonts).map((f) => [f.family, f.status])")
    assert faces and all(status != "error" for _, status in faces), faces
    declared = {family.strip('"') for family, _ in faces}
    used = p.evaluate(
        """Array.from(new Set(Array.from(document.querySelectorAll('.katex-html *'))
             .map((e) => getComputedStyle(e).fontFamily.split(',')[0].trim().replace(/"/g, ''))))"""
    )
    assert set(used) <= declared, set(used) - declared  # no glyph falls back to a system font
    loaded = {family.strip('"') for family, status in faces if status == "loaded"}
    assert {"KaTeX_Main", "KaTeX_Math"} <= loaded
    assert page.errors() == []
    assert page.requests[1:] == []


def test_mnist_digits_drawn_with_the_mouse_agree_with_nndl_predict(page, net, tmp_path):
    from nndl.data import load_mnist

    test = load_mnist().test
    agreement: dict = {}
    for i in range(N_MNIST):
        page.clear()
        page.draw_mnist(test.X[i])
        state, _ = _compare(net, page.state(), page.canvas_png(tmp_path, f"mnist-{i}.png"), agreement)
        agreement.setdefault("read", []).append(int(state["predicted"]) == int(test.y[i]))
    print(
        f"\n{N_MNIST} MNIST digits ({sum(agreement['read'])} read as their label): max pixel difference {max(agreement['pixel']):.2e}, "
        f"max activation difference {max(agreement['output']):.2e} "
        f"(outputs from Python's own input: {max(agreement['output_from_python_input']):.2e})"
    )
    assert page.errors() == []


HAND = {  # strokes in canvas pixels, as a learner might draw them
    7: [[(70, 60), (210, 60), (190, 110), (150, 180), (120, 245)]],
    1: [[(150, 40), (145, 140), (140, 245)]],
    0: [[(140 + 60 * np.sin(t), 140 - 95 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    4: [[(170, 40), (80, 170), (210, 170)], [(170, 90), (170, 250)]],
    3: [[(80, 60), (150, 40), (200, 80), (140, 135), (205, 185), (150, 240), (80, 220)]],
}


def test_hand_drawn_strokes_agree_and_a_drawn_seven_reads_seven(page, net, tmp_path):
    agreement: dict = {}
    for digit, strokes in HAND.items():
        state = _draw_and_compare(page, net, strokes, tmp_path / f"hand-{digit}.png", agreement)
        if digit == 7:
            assert state["predicted"] == "7"
    print(
        f"\nhand-drawn: max pixel difference {max(agreement['pixel']):.2e} (8x8: "
        f"{max(agreement['pixel_8x8']):.2e}), max activation difference {max(agreement['output']):.2e}"
    )


def _draw_and_compare(page, net, strokes, png: Path, agreement: dict) -> dict:
    """Draw ``strokes`` on a clear canvas; compare the page with Python for 784 and 64 inputs."""
    page.clear()
    for s in strokes:
        page.stroke(s)
    state, _ = _compare(net, page.state(), page.canvas_png(png.parent, png.name), agreement)
    _compare_8x8(page, png, agreement)
    return state


def _compare_8x8(page, png: Path, agreement: dict):
    """The same drawing for a 64-input network (the bundled 8x8 digits): frame 8, box 8."""
    from nndl.images import digit_input

    small = page.page.evaluate(
        """() => { const pad = document.getElementById('pad');
             const rgba = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
             const x = nndl.mnistInput(nndl.greyFromRGBA(rgba), pad.width, pad.height,
                                       {side: 8, box: 8, centre: 3.5});
             return x === null ? null : Array.from(x); }"""
    )
    assert small is not None, f"{png.name}: the page found no digit for the 8x8 frame"
    pixel = np.abs(np.array(small) - digit_input(png, 64)).max()
    agreement.setdefault("pixel_8x8", []).append(pixel)
    assert pixel <= PIXEL_TOL, f"{png.name}: the page's 8x8 input differs by {pixel:.3g}"


def _scaled(strokes, factor: float, centre=(140, 140)):
    return [[(centre[0] + factor * (x - 140), centre[1] + factor * (y - 140)) for x, y in s] for s in strokes]


AWKWARD = {  # drawings that exercise nndl.images.ink_image's every step (found by a tester)
    "seven-at-30%": _scaled(HAND[7], 0.3),
    "zero-at-30%": _scaled(HAND[0], 0.3),
    "small-seven-in-a-corner": _scaled(HAND[7], 0.18, centre=(60, 70)),
    "single-dot": [[(140, 140)]],
    "one-and-a-mark-at-the-edge": HAND[1] + [[(6, 274), (30, 256)]],  # the mark's cap touches the edge
    "canvas-wide-zero": [[(140 + 128 * np.sin(t), 140 - 128 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 60)]],
}


def test_small_dotted_and_edge_touching_drawings_agree_with_nndl_predict(page, net, tmp_path):
    """Drawings outside MNIST's usual range: the pen far too thick for the digit's size
    (thinning), a dot, a mark touching the canvas's edge (dropped), a zero as wide as the
    canvas (the pen thin for its size); and the 8x8 frame."""
    agreement: dict = {}
    for name, strokes in AWKWARD.items():
        _draw_and_compare(page, net, strokes, tmp_path / f"{name}.png", agreement)
    print(
        f"\nsmall, dotted, edge-touching: max pixel difference {max(agreement['pixel']):.2e} (8x8: "
        f"{max(agreement['pixel_8x8']):.2e}), max activation difference {max(agreement['output']):.2e}, "
        f"outputs from Python's own input {max(agreement['output_from_python_input']):.2e}"
    )
    assert page.errors() == []


def test_deltas_for_a_chosen_label_are_network_deltas(page, net, tmp_path):
    page.clear()
    for s in HAND[7]:
        page.stroke(s)
    worst = 0.0
    for label in (7, 1, 9):
        page.choose_label(label)
        state = page.state()
        expected = net.deltas(np.array(state["input"]), [label])
        assert len(state["deltas"]) == len(expected) == 2
        for got, want in zip(state["deltas"], expected):
            worst = max(worst, np.abs(np.array(got) - want[0]).max())
    print(f"\ndeltas: max difference {worst:.2e}")
    assert worst <= VALUE_TOL
    assert page.page.locator("#deltas h3").count() == 2  # delta^3 (BP1) and delta^2 (BP2)
    _screenshot(page.page.locator("#draw"), tmp_path / "report-desktop.png")
    assert (tmp_path / "report-desktop.png").stat().st_size > 10_000


def test_a_pen_draws_too(page):
    page.clear()
    cdp = page.context.new_cdp_session(page.page)
    try:
        at = lambda x, y: {"x": page.x0 + x * page.scale, "y": page.y0 + y * page.scale}  # noqa: E731
        pen = {"pointerType": "pen", "button": "left", "clickCount": 1, "force": 0.5}
        cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", **at(140, 40), **pen})
        for y in range(60, 260, 20):
            cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", **at(140, y), **pen, "buttons": 1})
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **at(140, 250), **pen})
        assert page.state() is not None  # a vertical bar: the page found a digit
        assert page.page.evaluate("nndl.lastPointerType") == "pen"
    finally:
        cdp.detach()


PHONE = {"width": 375, "height": 667}  # an iPhone SE's screen in CSS pixels
MIN_CHART_TEXT = 11  # px: the smallest chart text on the phone (nndl.report.CHART_POINTS, scaled)
MIN_EXPONENT = 8  # px: the exponents of a log axis's labels (mathtext draws them at 0.7 x)


LIVE_EVERY = 100  # ms: page.js's LIVE_EVERY, the updates while a stroke is drawn
SHOWS_THE_CANVAS = """(() => { const pad = document.getElementById('pad');
    const rgba = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
    const x = nndl.mnistInput(nndl.greyFromRGBA(rgba), pad.width, pad.height, nndl.network.frame);
    const s = nndl.state.input;
    return x !== null && s !== null && x.every((v, i) => v === s[i]); })()"""  # the page is up to date


def _wait_until(page, expression: str, seconds: float = 10.0) -> None:
    """Poll ``expression`` with ``page.evaluate`` (wait_for_function's polling would eval a
    string inside the page, which the page's Content-Security-Policy forbids)."""
    import time

    end = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < end, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(25)


def _on_screen(page, selector: str) -> list[str]:
    """The elements matching ``selector`` that are not wholly inside the viewport (empty: all are)."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).filter((e) => {
             const r = e.getBoundingClientRect();
             return !(r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth);
           }).map((e) => e.textContent)""",
        selector,
    )


def test_a_finger_draws_on_a_phone_and_sees_the_answer_under_the_canvas(browser, run_page, tmp_path):
    """On a 375 x 667 phone, with the canvas scrolled into view: while the finger is still
    down, the digit read and all ten output bars are on the screen, and the page has not
    scrolled; nothing is wider than the screen (the confusion matrix scrolls in its own
    box); the charts' text is at least MIN_CHART_TEXT px."""
    phone = Page(browser, run_page[1], viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    try:
        cdp = phone.context.new_cdp_session(phone.page)
        at = lambda x, y: [{"x": phone.x0 + x * phone.scale, "y": phone.y0 + y * phone.scale}]  # noqa: E731
        scrolled = phone.page.evaluate("window.scrollY")
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(70, 60)})
        for x, y in [(140, 60), (210, 60), (190, 110), (150, 180), (120, 245)]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(x, y)})
        _wait_until(phone.page, "nndl.state.input !== null")  # the live update, finger still down
        phone.page.wait_for_timeout(2 * LIVE_EVERY)  # then one more move, on the spot: the next live
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(120, 245)})  # update
        _wait_until(phone.page, SHOWS_THE_CANVAS)  # sees the whole stroke
        assert phone.page.evaluate("window.scrollY") == scrolled > 0  # the canvas took the touch
        assert _on_screen(phone.page, "#predicted") == []
        assert phone.page.locator("#output-bars .bar").count() == 10
        assert _on_screen(phone.page, "#output-bars .bar") == []
        assert _on_screen(phone.page, "#pad") == []
        _screenshot(phone.page, tmp_path / "report-phone.png")
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert phone.page.evaluate("nndl.lastPointerType") == "touch"
        phone.choose_label(7)
        assert phone.errors() == []
        assert phone.requests == [run_page[1].as_uri()]
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
        box = phone.page.locator("#evaluation .scroll").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # the matrix scrolls inside it
        sizes = phone.page.evaluate(
            """Array.from(document.querySelectorAll('svg.chart text, svg.chart tspan'))
                 .filter((t) => t.style.fontSize && t.textContent.trim())
                 .map((t) => { const m = t.closest('text').getScreenCTM();  // (rotated: the y label)
                   return [parseFloat(t.style.fontSize), Math.hypot(m.a, m.b)]; })"""
        )
        text = [size * scale for size, scale in sizes if size >= 11]  # matplotlib's font.size
        exponents = [size * scale for size, scale in sizes if size < 11]  # 10^-2's -2 (0.7 x)
        assert text and min(text) >= MIN_CHART_TEXT, sorted(text)[:3]
        assert exponents and min(exponents) >= MIN_EXPONENT, sorted(exponents)[:3]
    finally:
        phone.close()


def test_other_networks_are_told_the_features_are_for_chapters_3_and_6(browser, run_page, tmp_path, monkeypatch):
    from nndl import report

    monkeypatch.setattr(report, "page_network", lambda net: {"kind": "unsupported", "type": "OtherNet"})
    monkeypatch.setattr(report, "_evaluation", lambda net, record, folder: None)
    path = report.write(run_page[0], tmp_path / "other.html", answers=False)
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(path.as_uri())
        page.wait_for_function("window.nndl && window.nndl.ready")
        notes = page.locator(".note").all_inner_texts()
        assert any("chapter-3 and chapter-6 networks (nndl.Network, nndl.network3.Network) only; this is a "
                   "OtherNet" in t for t in notes)
        assert any("Neuron images are drawn for chapter-3 and chapter-6 networks" in t for t in notes)
        assert page.locator("#pad").count() == 0
        assert errors == []
    finally:
        context.close()


CONFIGURATIONS = [  # (cost, output layer, hidden neurons, dropout): every branch of page.js
    ("quadratic", "sigmoid", "sigmoid", 0.0),
    ("quadratic", "softmax", "tanh", 0.0),
    ("cross-entropy", "sigmoid", "sigmoid", 0.3),
    ("cross-entropy", "softmax", "relu", 0.0),
    ("log-likelihood", "softmax", "sigmoid", 0.5),
    ("log-likelihood", "sigmoid", "tanh", 0.0),
]
EXACT_TOL = 1e-12  # same float32 weights on both sides: only the order of float64 sums differs


@pytest.mark.parametrize("cost,output,hidden,dropout", CONFIGURATIONS)
def test_the_page_network_is_nndl_network_for_every_cost_and_layer(page, cost, output, hidden, dropout):
    import nndl
    from nndl import report

    rng = np.random.default_rng(7)
    net = nndl.Network([9, 7, 5, 4], cost, output=output, hidden=hidden, dropout=dropout, rng=rng)
    net.weights = [W.astype(np.float32).astype(np.float64) for W in net.weights]  # as in the page
    net.biases = [b.astype(np.float32).astype(np.float64) for b in net.biases]
    X = rng.random((4, 9)) * 3 - 1
    labels = [0, 3, 2, 1]
    got = page.page.evaluate(
        """([N, xs, labels]) => { const m = nndl.chapter3Network(N);
             return xs.map((x, i) => { const p = m.forward(x);
               return { as: p.as.slice(1).map((a) => Array.from(a)),
                        deltas: m.deltas(p, labels[i]).map((d) => Array.from(d)) }; }); }""",
        [report.page_network(net), X.tolist(), labels],
    )
    _, activations = net.forward_pass(X)
    deltas = net.deltas(X, labels)
    for i, g in enumerate(got):
        for a, want in zip(g["as"], activations[1:]):
            np.testing.assert_allclose(a, want[i], rtol=0, atol=EXACT_TOL)
        for d, want in zip(g["deltas"], deltas):
            np.testing.assert_allclose(d, want[i], rtol=0, atol=EXACT_TOL)


def test_bp1_and_bp2_are_shown_for_the_networks_own_activations(browser, tmp_path):
    """A tanh network with a softmax output and log-likelihood cost: BP2 with tanh'(z^l), BP1
    as eq. (84); captions and the verdict say "an 8", not "a 8"."""
    from nndl import report
    from nndl.cli import main

    folder = tmp_path / "tanh"
    assert main(["-q", "train", "--data", "digits", "--hidden", "tanh", "--cost", "log-likelihood",
                 "--epochs", "1", "--no-plots", "-o", str(folder)]) == 0
    page = Page(browser, report.write(folder, answers=False))
    try:
        bp1, bp2 = (page.page.locator(f"#{i}").inner_text() for i in ("bp1-formula", "bp2-formula"))
        assert "84" in bp1, bp1  # delta^L = a^L - y (eq. 84)
        assert "tanh" in bp2 and "σ" not in bp2, bp2
        assert page.errors() == []
    finally:
        page.close()
    assert report._a(8) == "an" and report._a(7) == "a" and report._a(18) == "an"


# ---------------------------------------------------------------------- chapter 6

N_MNIST6 = 4  # MNIST test digits drawn on the chapter-6 page (each a full-canvas trace)


@pytest.fixture(scope="session")
def ch6_run(tmp_path_factory, run_page):
    """A ch6-relu run (ch6-conv2's layers with ReLU), 1 epoch on 1,000 images at eta 0.1, with its page.

    The tests check agreement, not accuracy; this little training (about 55 %) makes the
    screenshot read a drawn 7 as a 7. (After ``run_page``, so that the seed answers are
    already computed in this process.)
    """
    from nndl.cli import main

    folder = tmp_path_factory.mktemp("report") / "ch6"
    assert main(["-q", "train", "--net", "ch6-relu", "--training-size", "1000", "--eta", "0.1", "--epochs", "1",
                 "--no-plots", "-o", str(folder), "--report"]) == 0
    return folder, folder / "report.html"


@pytest.fixture(scope="session")
def net6(ch6_run):
    """The run's network in float64 (its float32 weights converted exactly), as the page runs it."""
    from nndl import network3

    net = network3.load(ch6_run[0] / "model.npz")
    return network3.Network(net.layers, net.mini_batch_size, dtype=np.float64)


@pytest.fixture(scope="session")
def page6(browser, ch6_run):
    p = Page(browser, ch6_run[1], viewport={"width": 1280, "height": 900})
    yield p
    p.close()


def _book_order(layer, a):
    """A layer's output (as its ``forward`` returns it, for one example) in the book's order, flat."""
    if layer.kind == "conv" and not layer.output_book_order:  # channel-last rows (PH * PW, F)
        return np.asarray(a).reshape(*layer.pooled_shape, -1).transpose(2, 0, 1).ravel().copy()
    return np.asarray(a).ravel().copy()


def _prime(name, a):  # f'(z) from a = f(z)
    return {"sigmoid": a * (1 - a), "tanh": 1 - a * a, "relu": (a > 0) * 1.0, "linear": np.ones_like(a)}[name]


def network3_pass(net, x, label=None):
    """Each layer's output and, for ``label``, each layer's delta = dC/dz, for one input ``x``.

    By nndl.layers' own ``forward`` / ``backward`` (the training path, with every dropout
    mask the constant 1 - p_dropout: exactly the test-time network that the page and
    ``Network.feedforward`` run). A ConvPoolLayer's delta is its BP2 factor times f'(z) of
    its pooled units, in the book's (filter, row, column) order.
    """
    for layer in net.layers:
        if layer.kind in ("fc", "softmax") and layer.p_dropout:
            layer.mask = np.full((1, layer.n_in), 1.0 - layer.p_dropout)
    a, outs = np.asarray(x, dtype=np.float64)[None], []
    for layer in net.layers[:-1]:
        a = layer.forward(a, True)
        outs.append(_book_order(layer, a))
    out = net.layers[-1]
    outs.append(out.forward(a, True)[0].copy())
    if label is None:
        return outs, None
    d = out.backward_labels(np.array([label]))  # BP1, eq. (84), and dC/da of the layer below
    deltas = [outs[-1] - np.eye(out.n_out)[label]]
    for i in range(len(net.layers) - 2, -1, -1):
        layer = net.layers[i]
        deltas.insert(0, _book_order(layer, d) * _prime(layer.activation, outs[i]))  # BP2
        d = layer.backward(d, need_dx=i > 0)
    return outs, deltas


def _compare6(net, state, png: Path, agreement: dict, label=None):
    """The chapter-6 page's input, feature maps, activations (and deltas) against nndl's Python."""
    from nndl.images import digit_input

    assert state is not None, "the page found no digit in the drawing"
    x_page = np.array(state["input"])
    pixel = np.abs(x_page - digit_input(png)).max()
    outs, deltas = network3_pass(net, x_page, label)
    assert len(state["activations"]) == len(outs)
    worst = max(np.abs(np.array(g) - w).max() for g, w in zip(state["activations"], outs))
    feedforward = np.abs(np.array(state["activations"][-1]) - net.feedforward(x_page)[0]).max()
    agreement.setdefault("pixel", []).append(pixel)
    agreement.setdefault("output", []).append(max(worst, feedforward))
    assert pixel <= PIXEL_TOL, f"{png.name}: the page's 28x28 input differs by {pixel:.3g}"
    assert worst <= VALUE_TOL and feedforward <= VALUE_TOL, (png.name, worst, feedforward)
    assert int(state["predicted"]) == int(np.argmax(outs[-1]))
    if label is not None:
        assert len(state["deltas"]) == len(deltas)
        d = max(np.abs(np.array(g) - w).max() for g, w in zip(state["deltas"], deltas))
        agreement.setdefault("delta", []).append(d)
        assert d <= VALUE_TOL, (png.name, d)


def test_chapter6_page_loads_offline_with_its_filters_and_feature_maps(page6, ch6_run):
    p = page6.page
    size = ch6_run[1].stat().st_size
    assert page6.requests == [ch6_run[1].as_uri()], page6.requests
    assert page6.errors() == []
    assert p.locator("#neuron-grid canvas").count() == 20  # the first ConvPoolLayer's 20 filters
    assert "filters" in p.locator("#neurons h2").inner_text()
    assert p.locator("#training svg.chart").count() == 2  # accuracy and cost (no speed: not recorded)
    assert p.locator(".mistakes img").count() == 12
    assert "ch6-relu" in p.locator("#run").inner_text()
    assert "The book gives no single number for ch6-relu" in p.locator("#run").inner_text()
    page6.clear()
    for s in HAND[7]:
        page6.stroke(s)
    assert p.locator("#hidden-activations .maps").count() == 2  # both ConvPool layers as feature maps
    assert p.locator("#hidden-activations .maps").nth(0).locator("canvas").count() == 20
    assert p.locator("#hidden-activations .maps").nth(1).locator("canvas").count() == 40
    assert p.locator("#hidden-activations .cells").count() == 1  # the fully connected layer
    print(f"\nch6-relu (ch6-conv2's shape) page: {size / 1e6:.2f} MB")


def test_chapter6_drawn_digits_and_strokes_agree_with_network3(page6, net6, tmp_path):
    """Feature maps, activations and outputs of the page = network3's forward pass (float64, the
    same float32 weights) on the page's own 28x28 input; deltas for a chosen label = its backward."""
    from nndl.data import load_mnist

    test = load_mnist().test
    agreement: dict = {}
    for i in range(N_MNIST6):
        page6.clear()
        page6.draw_mnist(test.X[i])
        label = int(test.y[i])
        page6.choose_label(label)
        _compare6(net6, page6.state(), page6.canvas_png(tmp_path, f"mnist6-{i}.png"), agreement, label)
    for digit in (4, 7):  # (the 7 last: the screenshot)
        page6.clear()
        for s in HAND[digit]:
            page6.stroke(s)
        page6.choose_label(digit)
        _compare6(net6, page6.state(), page6.canvas_png(tmp_path, f"hand6-{digit}.png"), agreement, digit)
    page6.page.locator("#draw").scroll_into_view_if_needed()
    assert page6.page.locator("#deltas .maps").count() == 2  # delta of both ConvPool layers, as maps
    _screenshot(page6.page.locator("#draw"), tmp_path / "report-chapter6.png")
    print(f"\nchapter 6, {N_MNIST6} MNIST digits and 2 hand-drawn: max pixel difference {max(agreement['pixel']):.2e}, "
          f"max activation difference {max(agreement['output']):.2e}, max delta difference {max(agreement['delta']):.2e}")
    assert page6.errors() == []


LAYERED = [  # small layered networks that take every branch of page.js's chapter6Network
    "conv-sigmoid-tanh",  # two ConvPool layers (channel-last between them), 2x2 and 3x2 pools
    "conv-relu-linear-dropout",  # ReLU conv, a linear fully connected layer, dropout everywhere
    "fc-only",  # ch6-fc's shape: fully connected and softmax layers
]


def _layered(name: str, rng):
    from nndl.network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer

    if name == "conv-sigmoid-tanh":
        layers = [ConvPoolLayer((1, 12, 12), (3, 1, 3, 3), (2, 2), "sigmoid"),  # -> 3 x 5 x 5
                  ConvPoolLayer((3, 5, 5), (4, 3, 2, 2), (3, 2), "tanh"),  # 4x4 conv -> 4 x 1 x 2
                  FullyConnectedLayer(8, 6, "sigmoid"), SoftmaxLayer(6, 4)]
    elif name == "conv-relu-linear-dropout":
        layers = [ConvPoolLayer((1, 12, 12), (4, 1, 5, 5), (2, 2), "relu"),  # -> 4 x 4 x 4
                  FullyConnectedLayer(64, 7, "linear", p_dropout=0.3),
                  FullyConnectedLayer(7, 5, "tanh", p_dropout=0.2), SoftmaxLayer(5, 3, p_dropout=0.5)]
    else:
        layers = [FullyConnectedLayer(144, 9, "relu"), SoftmaxLayer(9, 10)]
    net = Network(layers, 2, rng=rng)  # the book's initialisation, float32
    for layer in net.layers:  # the softmax starts at zero (network3): give it weights to check
        if layer.kind == "softmax":
            layer.w[...] = rng.normal(0, 1, layer.w.shape)
            layer.b[...] = rng.normal(0, 1, layer.b.shape)
    return Network(net.layers, 2, dtype=np.float64)  # the float32 values, exactly, in float64


@pytest.mark.parametrize("name", LAYERED)
def test_the_page_network_is_network3_for_every_layer_kind(page, name):
    from nndl import report

    rng = np.random.default_rng(11)
    net = _layered(name, rng)
    X = rng.random((3, 144)) * 2 - 0.5
    X[0, :60] = 0.0  # a blank region: max-pooling ties, decided the same way on both sides
    labels = [1, 0, 2]
    got = page.page.evaluate(
        """([N, xs, labels]) => { const m = nndl.chapter6Network(N);
             return xs.map((x, i) => { const p = m.forward(x);
               return { as: p.as.slice(1).map((a) => Array.from(a)),
                        deltas: m.deltas(p, labels[i]).map((d) => Array.from(d)) }; }); }""",
        [report.page_network(net), X.tolist(), labels],
    )
    for i, g in enumerate(got):
        outs, deltas = network3_pass(net, X[i], labels[i])
        assert len(g["as"]) == len(outs) == len(g["deltas"]) == len(deltas) == len(net.layers)
        for a, want in zip(g["as"], outs):
            np.testing.assert_allclose(a, want, rtol=0, atol=EXACT_TOL)
        for d, want in zip(g["deltas"], deltas):
            np.testing.assert_allclose(d, want, rtol=0, atol=EXACT_TOL * max(1.0, np.abs(want).max()))
        np.testing.assert_allclose(g["as"][-1], net.feedforward(X[i])[0], rtol=0, atol=EXACT_TOL)


def test_a_fully_connected_chapter6_network_shows_neuron_images_and_cells(browser, run_page, tmp_path, monkeypatch):
    """ch6-fc's shape (no conv layer): each first-layer neuron's weights as an image, the hidden
    layer's activations as cells, its delta by BP2 through the softmax layer."""
    from nndl import report
    from nndl.network3 import FullyConnectedLayer, Network, SoftmaxLayer

    rng = np.random.default_rng(5)
    net = Network([FullyConnectedLayer(784, 12, "tanh", p_dropout=0.2), SoftmaxLayer(12, 10, p_dropout=0.3)], 10,
                  rng=rng)
    net.layers[1].w[...] = rng.normal(0, 1, net.layers[1].w.shape)
    monkeypatch.setattr(report, "page_network", lambda _: report.layered_network(net))
    monkeypatch.setattr(report, "_evaluation", lambda net, record, folder: None)
    page = Page(browser, report.write(run_page[0], tmp_path / "fc.html", answers=False))
    try:
        assert page.page.locator("#neuron-grid canvas").count() == 12
        for s in HAND[7]:
            page.stroke(s)
        page.choose_label(7)
        state = page.state()
        net64 = Network(net.layers, 10, dtype=np.float64)
        outs, deltas = network3_pass(net64, np.array(state["input"]), 7)
        for got, want in zip(state["activations"] + state["deltas"], outs + deltas, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=EXACT_TOL)
        assert page.page.locator("#hidden-activations .cells").count() == 1
        assert page.page.locator("#hidden-activations .maps").count() == 0
        assert page.page.locator("#deltas h3").count() == 2
        assert page.errors() == []
    finally:
        page.close()
