"""Checked, atomic file downloads from a list of mirrors (private helpers of ``nndl.data``).

A file is streamed into a temporary file in its destination folder, its *decompressed*
content is checked against a known md5, fsynced, and only then renamed into place
(``os.replace``): an interrupted or wrong download never leaves a file that looks finished.
Every download is bounded: at most ``max_bytes`` (a mirror announcing or sending more is
dropped at once), at most ``deadline`` seconds per mirror however slowly it trickles,
``timeout`` seconds of silence. Temporary ``*.part`` files a killed process left behind
are removed by the next download into that folder, which holds the folder's lock.

Why not pooch (which scientific Python uses for this): pooch checks the hash of the bytes
as downloaded, but MNIST's .gz files differ in bytes between mirrors, so nndl checks the
md5 of the decompressed content; and pooch (through requests) bounds neither the size nor
the total time of a download, nor fsyncs the file it moves into place. Those are promises
nndl makes, so the ~150 lines below stay. The cache *folder* comes from platformdirs
(``nndl.data.cache_dir``).
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
DEADLINE = 600.0  # seconds one file may take from one mirror, however it trickles
MAX_BYTES = 64 << 20  # a downloaded file (MNIST's largest .gz is 9.9 MB, 47 MB unzipped)
_GZIP_MAGIC = b"\x1f\x8b"


class DownloadError(DataError):
    """No mirror delivered a file with the right content; ``failures`` says why, per URL.

    ``offline`` is true if no mirror could even be reached (no network, DNS, refused).
    """

    def __init__(self, name: str, failures: Sequence[str], offline: bool = False):
        self.name = name
        self.failures = list(failures)
        self.offline = offline
        super().__init__(f"could not download {name}: {self.summary()}")

    def summary(self) -> str:
        """Why, in words and once: "no mirror could be reached (name not resolved)" when
        offline, else each mirror's answer."""
        if not self.failures:
            return "no mirrors to try"
        if self.offline:
            why = dict.fromkeys(f.split(": ", 1)[-1] for f in self.failures)  # unique, in order
            return f"no mirror could be reached ({', '.join(why)})"
        return "; ".join(self.failures)

    def with_message(self, message: str) -> DownloadError:
        """This error with another message (the same name, failures and ``offline``)."""
        self.args = (message,)
        return self


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``dest``; rename it to ``dest`` only if the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``dest``
    is left as it was. Raises OSError if the folder cannot be written, and
    ``FileWriteError`` (an OSError) if ``dest`` exists and is not a regular file.
    """
    from nndl.errors import FileWriteError
    from nndl.paths import refuse_non_regular

    refuse_non_regular(dest, FileWriteError, f"cannot write {dest}")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:  # by path, so that f.name is the path
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def open_content(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading its content: gunzipped if it starts with the gzip magic."""
    with open(path, "rb") as f:
        gz = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def content_md5(path: str | os.PathLike[str], limit: int | None = None) -> str:
    """md5 of a file's decompressed content (of its bytes, if it is not gzipped).

    Raises ``ValueError`` if the content exceeds ``limit`` bytes (a gzip bomb).
    """
    h = hashlib.md5()
    done = 0
    with open_content(path) as f:
        while chunk := f.read(1 << 20):
            done += len(chunk)
            if limit is not None and done > limit:
                raise ValueError(f"decompresses to more than {limit:,} bytes")
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


def remove_stale_parts(folder: Path) -> None:
    """Remove ``.*.part`` files (downloads a killed process left); hold the folder's lock."""
    try:
        parts = list(folder.glob(".*.part"))
    except OSError:
        return
    for part in parts:
        with contextlib.suppress(OSError):
            part.unlink()
            log.debug("removed the stale partial download %s", part)


def fetch(
    name: str,
    mirrors: Sequence[str],
    folder: Path,
    md5: str,
    *,
    progress: Progress | None = None,
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> Path:
    """Download ``name`` from the first mirror that serves it with content md5 ``md5``.

    Parameters
    ----------
    name : file name, appended to each mirror's base URL.
    mirrors : base URLs, tried in order.
    folder : destination folder (created if needed); the result is ``folder / name``.
    md5 : md5 of the file's decompressed content.
    progress : ``progress(name, done, total)`` callback; default: INFO log lines.
    timeout : seconds a mirror may stay silent (also the connection timeout).
    deadline : seconds one mirror may take for the whole file.
    max_bytes : the largest file accepted.

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
    from nndl.io import folder_lock

    report = progress or LogProgress()
    failures, offline = [], True
    with folder_lock(folder, "download folder", timeout=deadline):
        remove_stale_parts(folder)
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            log.info("downloading %s", url)
            try:
                _fetch_one(url, dest, md5, report, timeout, deadline, max_bytes)
            except _MirrorError as exc:
                log.warning("%s: %s", url, exc)
                failures.append(f"{url}: {exc}")
                offline = offline and exc.unreachable
                continue
            return dest
    raise DownloadError(name, failures, offline=offline and bool(failures))


def unreachable_reason(reason: object) -> str:
    """Why a mirror could not be reached, in words (not "[Errno -2] Name or service not known")."""
    import errno
    import socket

    if isinstance(reason, socket.gaierror):
        return "name not resolved"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


class _MirrorError(Exception):
    """This mirror did not deliver the file; try the next one."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable  # no connection at all (offline?), not a bad answer


def _fetch_one(url: str, dest: Path, md5: str, progress: Progress, timeout: float,
               deadline: float, max_bytes: int) -> None:
    import time

    request = urllib.request.Request(url, headers={"User-Agent": "nndl (python urllib)"})
    stop_at = time.monotonic() + deadline
    try:
        with atomic_file(dest) as out:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as resp:
                    total = resp.length  # None without a Content-Length header
                    if total is not None and total > max_bytes:
                        raise _MirrorError(f"announces {total:,} bytes; more than the "
                                           f"{max_bytes:,} this file may have")
                    done = 0
                    progress(dest.name, done, total)
                    while chunk := resp.read1(CHUNK):  # what has arrived: the deadline holds
                        out.write(chunk)
                        done += len(chunk)
                        if done > max_bytes:
                            raise _MirrorError(f"sent more than the {max_bytes:,} bytes this "
                                               "file may have")
                        if time.monotonic() > stop_at:
                            raise _MirrorError(f"too slow: {done:,} bytes in {deadline:g} s")
                        progress(dest.name, done, total)
                if total is not None and done < total:
                    raise _MirrorError(f"connection closed after {done} of {total} bytes")
                out.flush()
                got = content_md5(out.name, max_bytes)
            except urllib.error.HTTPError as exc:
                raise _MirrorError(f"HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:  # DNS, refused, unreachable, connect timeout
                raise _MirrorError(unreachable_reason(exc.reason), unreachable=True) from None
            except (http.client.HTTPException, EOFError, zlib.error, OSError, ValueError) as exc:
                raise _MirrorError(f"{type(exc).__name__}: {exc}") from None
            if got != md5:
                raise _MirrorError(f"checksum mismatch (content md5 {got}, expected {md5})")
    except OSError as exc:  # from atomic_file itself: the folder is not writable, dest not a file
        raise DataError(str(exc) if isinstance(exc, NndlError) else f"cannot write {dest}: {exc}") from None
