"""How big the report page of a 784-100-10 MNIST run is and how fast it opens (issue 16).

Targets: <= 3 MB, open in under 1 s. Opens the page ROUNDS times in Debian's Chromium
(Playwright, no browser download), each in a fresh browser context, and prints the
minimum and median time from navigation start to the load event and to the page's
script being ready (``window.nndl.ready``: weights decoded, maths typeset, canvas set).

    python benchmarks/report_page.py [RUN_FOLDER]    # default: trains one (2 epochs)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROUNDS = 7
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    from nndl.cli import main as nndl

    if len(sys.argv) > 1:
        folder = Path(sys.argv[1])
    else:
        folder = Path(tempfile.mkdtemp()) / "run"
        assert nndl(["-q", "train", "--sizes", "784,100,10", "--epochs", "2", "--no-plots",
                     "-o", str(folder)]) == 0
    page_path = folder / "report.html"
    if not page_path.exists():
        assert nndl(["-q", "report", str(folder)]) == 0
    load, ready = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(ROUNDS):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.evaluate("1")
            page.goto(page_path.as_uri())
            page.wait_for_function("window.nndl && window.nndl.ready")
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
            load.append(nav["loadEventEnd"])
            ready.append(nav["domContentLoadedEventEnd"])
            context.close()
        browser.close()
    size = page_path.stat().st_size
    print(f"page: {page_path} ({size:,} bytes = {size / 1e6:.2f} MB; target <= 3 MB)")
    print(f"script ready (DOMContentLoaded end): min {min(ready):.0f} ms, median {statistics.median(ready):.0f} ms")
    print(f"load event end: min {min(load):.0f} ms, median {statistics.median(load):.0f} ms "
          f"({ROUNDS} opens; target < 1000 ms)")


if __name__ == "__main__":
    main()
