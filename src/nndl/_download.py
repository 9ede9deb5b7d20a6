"""Checked, atomic file downloads from a list of mirrors (private helpers of ``nndl.data``).

A file is streamed into a temporary file in its destination folder, its *decompressed*
content is checked against a known md5, and only then is it renamed into place
(``os.replace``): an interrupted or wrong download never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from nndl.errors import DataError

log = logging.getLogger(__name__)

#: ``progress(file_name, bytes_done, bytes_total_or_None)``, called as a download proceeds.
Progress = Callable[[str, int, "int | None"], None]

CHUNK = 1 << 16  # bytes read from the network at a time
TIMEOUT = 30.0  # seconds a mirror may stay silent before it counts as failed
_GZIP_MAGIC = b"\x1f\x8b"


class DownloadError(DataError):
    """No mirror delivered a file with the right content; ``failures`` says why, per URL."""

    def __init__(self, name: str, failures: Sequence[str]):
        self.name = name
        self.failures = list(failures)
        reasons = "; ".join(self.failures) or "no mirrors to try"
        super().__init__(f"could not download {name}: {reasons}")


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``dest``; rename it to ``dest`` only if the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``dest``
    is left as it was. Raises OSError if the folder cannot be written.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:  # by path, so that f.name is the path
            yield f
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def open_content(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading its content: gunzipped if it starts with the gzip magic."""
    with open(path, "rb") as f:
        gz = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def content_md5(path: str | os.PathLike[str]) -> str:
    """md5 of a file's decompressed content (of its bytes, if it is not gzipped)."""
    h = hashlib.md5()
    with open_content(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def file_md5(path: str | os.PathLike[str]) -> str:
    """md5 of a file's bytes as stored."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


class LogProgress:
    """Default progress report: an INFO log line at every quarter of each file."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if total:
            quarter = 4 * done // total
            if quarter != self._last.get(name):
                self._last[name] = quarter
                log.info("%s: %3d%% of %.1f MB", name, 25 * quarter, total / 1e6)


def fetch(
    name: str,
    mirrors: Sequence[str],
    folder: Path,
    md5: str,
    *,
    progress: Progress | None = None,
    timeout: float = TIMEOUT,
) -> Path:
    """Download ``name`` from the first mirror that serves it with content md5 ``md5``.

    Parameters
    ----------
    name : file name, appended to each mirror's base URL.
    mirrors : base URLs, tried in order.
    folder : destination folder (created if needed); the result is ``folder / name``.
    md5 : md5 of the file's decompressed content.
    progress : ``progress(name, done, total)`` callback; default: INFO log lines.

    Raises
    ------
    DownloadError
        if no mirror worked (each failure is listed); a DataError if ``folder`` cannot be
        written. No partial file is ever left behind.
    """
    dest = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {folder}: {exc}") from None
    report = progress or LogProgress()
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        log.info("downloading %s", url)
        try:
            _fetch_one(url, dest, md5, report, timeout)
        except _MirrorError as exc:
            log.warning("%s: %s", url, exc)
            failures.append(f"{url}: {exc}")
            continue
        return dest
    raise DownloadError(name, failures)


class _MirrorError(Exception):
    """This mirror did not deliver the file; try the next one."""


def _fetch_one(url: str, dest: Path, md5: str, progress: Progress, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "nndl (python urllib)"})
    try:
        with atomic_file(dest) as out:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as resp:
                    total = resp.length  # None without a Content-Length header
                    done = 0
                    progress(dest.name, done, total)
                    while chunk := resp.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        progress(dest.name, done, total)
                if total is not None and done < total:
                    raise _MirrorError(f"connection closed after {done} of {total} bytes")
                out.flush()
                got = content_md5(out.name)
            except urllib.error.HTTPError as exc:
                raise _MirrorError(f"HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                raise _MirrorError(str(exc.reason)) from None
            except (http.client.HTTPException, EOFError, zlib.error, OSError) as exc:
                raise _MirrorError(f"{type(exc).__name__}: {exc}") from None
            if got != md5:
                raise _MirrorError(f"checksum mismatch (content md5 {got}, expected {md5})")
    except OSError as exc:  # from atomic_file itself: the folder is not writable
        raise DataError(f"cannot write {dest}: {exc}") from None
