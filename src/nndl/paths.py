"""Paths a user names for nndl to write: checked before the work starts, errors in plain words.

Every command that writes a file or a folder the user named (``train -o``, ``evaluate -o``,
``predict --save-inputs``, ``explain --plot``, ``experiment --out``) calls
``check_output_file`` or ``check_output_dir`` first, so that a typo in a path is a
one-line usage error before minutes of training, not a traceback after them.
``os_error_message`` turns an ``OSError`` (``[Errno 2] No such file or directory: 'x'``)
into ``x: no such file or folder``; the CLI uses it for every OSError it catches.

Cheap to import (no NumPy): ``nndl --help`` imports the command modules.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from nndl.errors import UsageError

_PLAIN = {
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "the file system is read-only",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EDQUOT: "over the disk quota",
}


def os_error_reason(exc: OSError) -> str:
    """What is wrong, in plain words, for an OSError: "no such file or folder", not "[Errno 2] ..."."""
    reason = _PLAIN.get(exc.errno) if exc.errno is not None else None
    return reason or (exc.strerror or str(exc)).lower()


def os_error_message(exc: OSError) -> str:
    """``PATH: what is wrong, in plain words`` for an OSError (no ``[Errno N]``)."""
    reason = os_error_reason(exc)
    if exc.filename is None:
        return reason
    where = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return f"{where}: {reason}"


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """What ``path`` is if it exists and is not a regular file ("a folder", "a FIFO (named
    pipe)", "a device", "a socket"), else None (a regular file, or nothing there yet).

    Every writer that replaces a file by renaming a temporary over it (``nndl.io.atomic_write``,
    ``nndl._download.atomic_file``) refuses such a target: the rename would silently turn a
    device node or a FIFO into a regular file.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None  # cannot tell (no permission...): the write itself reports it
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def refuse_non_regular(path: str | os.PathLike, error=UsageError, shown: str | None = None) -> None:
    """Raise ``error`` (``SHOWN: is a device, not a regular file; nndl replaces only regular
    files``) if ``path`` exists and is not a regular file."""
    kind = not_a_regular_file(path)
    if kind is not None:
        what = "is a folder; name a file" if kind == "a folder" else (
            f"is {kind}, not a regular file; nndl writes only regular files (name a new file)")
        raise error(f"{shown or os.fspath(path)}: {what}")


def plot_formats() -> tuple[str, ...]:
    """The file suffixes matplotlib can write (png, pdf, svg, jpg, ...), without dots."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def _writable_folder(folder: Path, shown: str) -> None:
    if not folder.exists():
        raise UsageError(f"{shown}: the folder {str(folder) or '.'} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{shown}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: cannot write into the folder {folder} (permission denied)")
    _probe(folder, shown)


def _probe(folder: Path, shown: str) -> None:
    """Create and delete a temporary file in ``folder``: the only sure test that it can be
    written (permissions say yes to root on a read-only file system, or in /proc)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nndl-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        # The folder exists (checked before): ENOENT here means it takes no new files
        # (/proc, /sys), not that it is missing.
        reason = ("it does not accept new files" if exc.errno == errno.ENOENT and folder.is_dir()
                  else os_error_reason(exc))
        raise UsageError(f"{shown}: cannot write into the folder {str(folder) or '.'} ({reason})") from None


def _not_empty(path: str | os.PathLike, option: str) -> Path:
    if not os.fspath(path).strip():
        raise UsageError(f"{option}: the path is empty; name a file or folder")
    return Path(path).expanduser()


def check_output_file(path: str | os.PathLike, option: str, formats: Iterable[str] | None = None) -> Path:
    """Check a file nndl is about to write; return it as a Path.

    Raises ``UsageError`` naming ``option`` and the path if it is empty, if it is an
    existing folder (said before any suffix check), if its folder does not exist or
    cannot be written, or if its suffix is not one of
    ``formats`` (suffixes without the dot, e.g. ``plot_formats()``; None: any suffix).
    """
    path = _not_empty(path, option)
    shown = f"{option} {path}"
    if path.is_dir():  # before the suffix: "/root" is a folder, not a file with no suffix
        raise UsageError(f"{shown}: is a folder; name a file")
    if formats is not None:
        formats = tuple(formats)
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in formats:
            got = f"'.{suffix}'" if suffix else "no suffix"
            raise UsageError(f"{shown}: cannot write {got}; the file name must end in one of "
                             f"{', '.join('.' + f for f in formats)}")
    refuse_non_regular(path, UsageError, shown)
    _writable_folder(path.parent, shown)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{shown}: the file exists and cannot be overwritten (permission denied)")
    return path


def check_output_dir(path: str | os.PathLike, option: str) -> Path:
    """Check a folder nndl is about to write into (it may not exist yet); return it as a Path.

    An existing path must be a writable folder; a new one must be creatable: its nearest
    existing ancestor must be a writable folder. Raises ``UsageError`` naming ``option``.
    """
    path = _not_empty(path, option)
    shown = f"{option} {path}"
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{shown}: is a file, not a folder")
        _writable_folder(path, shown)
        return path
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{shown}: cannot create the folder: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: cannot create the folder inside {parent} (permission denied)")
    _probe(parent, shown)
    return path


def check_input_dir(path: str | os.PathLike, option: str) -> Path:
    """An existing folder the user named for nndl to read (``--data-dir``); UsageError if not."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{option} {path}: no such folder")
    if not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder")
    return path


DATA_NAMES = ("auto", "mnist", "digits")  # the data sets nndl.data.load_dataset knows by name


def check_data_options(data: str | None, data_dir: str | os.PathLike | None, option: str = "--data") -> None:
    """``--data`` must be a known name or an existing path, ``--data-dir`` an existing folder.

    Raises ``UsageError`` (exit status 2), with the closest name when ``data`` looks like a
    misspelt one (``mnst`` -> ``mnist``): an explicit option that cannot be honoured is
    never replaced by a default.
    """
    if data is not None and str(data) not in DATA_NAMES and not Path(data).expanduser().exists():
        import difflib

        close = difflib.get_close_matches(str(data), DATA_NAMES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"{option} {data}: not a data set name ({', '.join(DATA_NAMES)}) and no such "
                         f"file or folder{hint}")
    if data_dir is not None:
        check_input_dir(Path(data_dir).expanduser(), "--data-dir")
        if data is not None and str(data) not in ("auto", "mnist"):
            raise UsageError(f"--data-dir names the folder of MNIST; {option} {data} does not read it")
