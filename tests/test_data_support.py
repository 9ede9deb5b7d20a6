"""Helpers for the data tests: IDX writers, the real-MNIST folder, a local HTTP server.

No test here; pytest collects the file and finds none. No test of nndl.data touches the
internet: ``isolate`` points the cache at a temporary folder and the mirrors at a closed
port of 127.0.0.1.
"""

from __future__ import annotations

import gzip
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from nndl.data import MNIST_FILES

# Label histograms of MNIST, digits 0..9 (the published counts).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CLOSED_PORT_URL = "http://127.0.0.1:9/"  # nothing listens there: "connection refused"


def idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    """The IDX encoding of ``array`` (uint8, or a big-endian type), or with a forced magic."""
    codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = codes[f"{array.dtype.kind}{array.dtype.itemsize}"]
    header = magic or bytes([0, 0, code, array.ndim])
    dims = b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool | None = None, **kw) -> Path:
    """Write ``array`` as an IDX file, gzipped if ``gz`` (default: if the name ends in .gz)."""
    data = idx_bytes(array, **kw)
    gz = path.name.endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def small_idx_folder(folder: Path, n_train: int = 21, n_test: int = 7, seed: int = 0) -> Path:
    """The four MNIST-named IDX files holding small random 4x4 data with labels 0..9."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for spec, n in zip(MNIST_FILES, (n_train, n_train, n_test, n_test), strict=True):
        shape = (n, 4, 4) if "images" in spec.name else (n,)
        high = 256 if "images" in spec.name else 10
        write_idx(folder / spec.name, rng.integers(0, high, shape, dtype=np.uint8))
    return folder


@pytest.fixture
def isolate(tmp_path, monkeypatch):
    """A fresh cache folder and mirrors that cannot reach the internet."""
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NNDL_MIRRORS", CLOSED_PORT_URL)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder named by NNDL_DATA (CI sets it to ../shared/data/mnist)."""
    folder = os.environ.get("NNDL_DATA")
    if not folder or not all((Path(folder) / f.name).is_file() for f in MNIST_FILES):
        pytest.skip("NNDL_DATA does not name a folder with the four MNIST files")
    return Path(folder)


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET /<mode>/<name>: mode ok | missing (404) | wrong (other content) | cut (half, then
    the connection closes)."""

    def do_GET(self):
        import time

        server = self.server
        server.hits.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        body = server.files.get(name)
        if mode in ("huge", "endless", "trickle"):  # a hostile or broken mirror
            self.send_response(200)
            if mode == "huge":
                self.send_header("Content-Length", str(1 << 40))
            self.end_headers()
            try:
                for _ in range(100_000 if mode == "endless" else 50):
                    self.wfile.write(b"x" * (1 << 16) if mode == "endless" else b"x")
                    if mode == "trickle":
                        self.wfile.flush()
                        time.sleep(0.1)
            except OSError:
                pass
            return
        if mode == "missing" or body is None:
            self.send_error(404)
            return
        if mode == "wrong":
            body = gzip.compress(b"not the file you want", mtime=0)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "cut" else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(isolate):
    """A real HTTP server on 127.0.0.1 in a thread; fill ``server.files[name] = bytes``.

    ``server.url(mode)`` is the base URL of a mirror that behaves as ``mode`` says.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.hits = {}, []
    port = server.server_address[1]
    server.url = lambda mode: f"http://127.0.0.1:{port}/{mode}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
