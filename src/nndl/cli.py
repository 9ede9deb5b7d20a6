"""The ``nndl`` command line: ``main(argv) -> int``.

Each subcommand lives in its own module ``nndl.commands.<name>`` exposing
``add_parser(subparsers)``, which registers the subcommand and sets
``func=run`` where ``run(args) -> int``. Those modules must be cheap to import
(``nndl --help`` answers in well under half a second): NumPy, SymPy, matplotlib
and the engine are imported inside ``run``.

Conventions (DESIGN.md): results on stdout, progress and logs on stderr; exit 0 ok,
1 failure, 2 usage error, 130 interrupted. Errors a user can cause are one line,
``nndl: error: ...``; ``--traceback`` re-raises them instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from enum import IntEnum

from nndl import __version__
from nndl.errors import NndlError, UsageError

# Subcommand modules, in the order `nndl --help` lists them.
COMMANDS: tuple[str, ...] = (
    "train", "evaluate", "predict", "info", "experiment", "derive", "explain", "gradcheck",
    "exercise",
    "explain_ch6",
    "report",
    "sweep",
)


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors raise instead of exiting, so main() decides."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="only warnings and errors")
    parser.add_argument("--traceback", action="store_true", default=default, help="show tracebacks of errors")


class _SubcommandParser(_Parser):
    """A subcommand's parser; it also takes the global options after the subcommand's name
    (``nndl train --traceback``). Their default SUPPRESS leaves the main parser's value alone."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, default=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nndl",
        description="Nielsen's Neural Networks and Deep Learning, as running, checked code.",
    )
    parser.add_argument("--version", action="version", version=f"nndl {__version__}")
    _add_global_options(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubcommandParser)
    for name in COMMANDS:
        importlib.import_module(f"nndl.commands.{name}").add_parser(sub)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("nndl")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C (KeyboardInterrupt): the writers' ``finally`` blocks remove
    their temporary files. Only in the main thread; commands may install their own handler."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone (``nndl ... | head -1``). If so, stdout is pointed at
    /dev/null so that Python's flush at exit does not fail again: the recipe of the Python
    documentation (``signal`` module, "Note on SIGPIPE"), which also exits with status 1."""
    import os
    import select

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # no file descriptor behind stdout: not the broken pipe
        return False
    try:  # the write end of a pipe without a reader polls as an error (Linux, macOS)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poller.poll(0)):
            return False  # stdout is fine: the broken pipe was another one
    except (AttributeError, OSError, ValueError):  # no poll() (Windows): assume it was stdout
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    except OSError:
        pass
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    traceback = "--traceback" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return ExitStatus.USAGE
        _configure_logging(args.verbose, args.quiet)
        _terminate_cleanly()
        status = int(args.func(args))
        sys.stdout.flush()  # here, where a closed stdout is caught, not at exit
        return status
    except KeyboardInterrupt:
        if traceback:
            raise
        print("nndl: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except UsageError as exc:
        if traceback:
            raise
        print(f"nndl: error: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    except NndlError as exc:
        if traceback:
            raise
        if not isinstance(exc, NndlError) and exc.filename is not None:  # name the path
            exc = f"{exc.filename}: {exc.strerror or exc}"
        print(f"nndl: error: {exc}", file=sys.stderr)
        return ExitStatus.ERROR
    except MemoryError:  # e.g. a mini-batch too large for the memory left (a command that can resume says so itself)
        if traceback:
            raise
        print("nndl: error: out of memory; try smaller sizes (e.g. --mini-batch-size, --training-size)", file=sys.stderr)
        return ExitStatus.ERROR
    except OSError as exc:  # a path the OS refused: name it in plain words, not "[Errno 2] ..."
        if isinstance(exc, BrokenPipeError) and _stdout_closed():  # `nndl ... | head -1`: stop quietly
            return ExitStatus.ERROR
        if traceback:
            raise
        from nndl.paths import os_error_message

        print(f"nndl: error: {os_error_message(exc)}", file=sys.stderr)
        return ExitStatus.ERROR
