"""The MNIST downloader against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import gzip
import hashlib
import logging

import numpy as np
import pytest
import test_data_support as support
from test_data_support import CLOSED_PORT_URL, idx_bytes

from nndl import _download
from nndl.data import MNIST_FILES, DataError, load_mnist

NAME = "t10k-labels-idx1-ubyte.gz"
# An IDX label file of ~200 kB, so that a download takes several chunks (CHUNK = 64 kB).
CONTENT = idx_bytes(np.random.default_rng(0).integers(0, 10, 200_000, dtype=np.uint8))
MD5 = hashlib.md5(CONTENT).hexdigest()
http_server, isolate, mnist_dir = support.http_server, support.isolate, support.mnist_dir


@pytest.fixture
def served(http_server):
    """The server, serving CONTENT gzipped (bytes unlike any other gzip of it: verify content)."""
    http_server.files[NAME] = gzip.compress(CONTENT, compresslevel=1, mtime=12345)
    return http_server


def leftovers(folder):
    # everything but the download lock, which stays (unlocked) in the folder
    return sorted(p.name for p in folder.iterdir() if p.name != ".nndl.lock") if folder.exists() else []


def test_download_success_with_progress(served, tmp_path):
    calls = []
    path = _download.fetch(NAME, [served.url("ok")], tmp_path / "d", MD5,
                           progress=lambda *args: calls.append(args))
    assert path == tmp_path / "d" / NAME and _download.content_md5(path) == MD5
    assert leftovers(tmp_path / "d") == [NAME]  # no temporary file left
    size = len(served.files[NAME])
    assert calls[0] == (NAME, 0, size) and calls[-1] == (NAME, size, size)
    assert len(calls) > 2 and [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_failing_mirrors_then_one_that_works(served, tmp_path, caplog):
    mirrors = [CLOSED_PORT_URL, served.url("missing"), served.url("cut"), served.url("ok")]
    with caplog.at_level(logging.WARNING):
        path = _download.fetch(NAME, mirrors, tmp_path, MD5)
    assert _download.content_md5(path) == MD5 and leftovers(tmp_path) == [NAME]
    assert "HTTP 404" in caplog.text and "refused" in caplog.text.lower()
    assert [hit.split("/")[1] for hit in served.hits] == ["missing", "cut", "ok"]


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("wrong", "checksum mismatch"),
        ("cut", "connection closed after|IncompleteRead"),
        ("missing", "HTTP 404"),
    ],
)
def test_no_good_mirror_leaves_no_file(served, tmp_path, mode, problem):
    (tmp_path / NAME).write_bytes(b"an older file stays as it was")
    with pytest.raises(DataError, match=problem) as info:
        _download.fetch(NAME, [served.url(mode)], tmp_path, MD5)
    assert f"could not download {NAME}" in str(info.value)
    assert leftovers(tmp_path) == [NAME]  # no partial or temporary file
    assert (tmp_path / NAME).read_bytes() == b"an older file stays as it was"


def test_unwritable_destination(served, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot create the data folder"):
        _download.fetch(NAME, [served.url("ok")], blocker / "sub", MD5)


def test_default_progress_logs_quarters(served, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="nndl"):
        _download.fetch(NAME, [served.url("ok")], tmp_path, MD5)
    size = f"{len(served.files[NAME]) / 1e6:.1f} MB"
    lines = [m for m in caplog.messages if "% of" in m]
    percents = [int(m.split(":")[1].split("%")[0]) for m in lines]
    assert all(m.startswith(f"{NAME}: ") and m.endswith(size) for m in lines)
    assert percents[0] == 0 and percents[-1] == 100 and percents == sorted(set(percents))
    assert set(percents) <= {0, 25, 50, 75, 100} and len(percents) >= 3  # not every chunk


# --- load_mnist end to end, serving the real files ------------------------------------------


@pytest.fixture
def mnist_server(http_server, mnist_dir, monkeypatch):
    monkeypatch.delenv("NNDL_DATA")
    for spec in MNIST_FILES:
        http_server.files[spec.name] = (mnist_dir / spec.name).read_bytes()
    return http_server


def test_load_mnist_downloads_into_the_cache_once(mnist_server, isolate):
    mirrors = [mnist_server.url("missing"), mnist_server.url("ok")]
    splits = load_mnist(mirrors=mirrors)
    assert splits.checksums == {f.name: f.md5 for f in MNIST_FILES}
    assert splits.training.X.shape == (50_000, 784) and splits.source == str(isolate / "mnist")
    assert leftovers(isolate / "mnist") == sorted(f.name for f in MNIST_FILES)
    hits = len(mnist_server.hits)
    assert load_mnist(mirrors=mirrors).checksums == splits.checksums
    assert len(mnist_server.hits) == hits  # the second load did not download anything


def test_corrupt_file_in_the_cache_is_fetched_again(mnist_server, isolate, mnist_dir, caplog):
    folder = isolate / "mnist"
    folder.mkdir(parents=True)
    for spec in MNIST_FILES:
        (folder / spec.name).symlink_to(mnist_dir / spec.name)
    bad = folder / "train-labels-idx1-ubyte.gz"
    bad.unlink()
    bad.write_bytes(gzip.compress(idx_bytes(np.zeros(60000, np.uint8))))  # wrong checksum
    with caplog.at_level(logging.WARNING, logger="nndl.data"):
        splits = load_mnist(mirrors=[mnist_server.url("ok")])
    assert "wrong checksum" in caplog.text and "downloading it again" in caplog.text
    assert [hit.rsplit("/")[-1] for hit in mnist_server.hits] == [bad.name]
    assert _download.content_md5(bad) == MNIST_FILES[1].md5
    assert splits.checksums["train-labels-idx1-ubyte.gz"] == MNIST_FILES[1].md5


def test_download_into_an_explicit_folder_fetches_only_missing_files(mnist_server, tmp_path,
                                                                     mnist_dir):
    folder = tmp_path / "mine"
    folder.mkdir()
    for spec in MNIST_FILES[:3]:
        (folder / spec.name).symlink_to(mnist_dir / spec.name)
    load_mnist(folder, mirrors=[mnist_server.url("ok")])
    assert [hit.rsplit("/")[-1] for hit in mnist_server.hits] == [MNIST_FILES[3].name]
    assert (folder / MNIST_FILES[3].name).is_file()


def test_wrong_checksum_from_every_mirror(mnist_server, isolate):
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_mnist(mirrors=[mnist_server.url("wrong")])
    assert "train-images-idx3-ubyte.gz" in str(info.value) and "NNDL_DATA" in str(info.value)
    assert leftovers(isolate / "mnist") == []
