"""Exceptions that the command line turns into one-line messages.

Every error a user can cause by bad input (a malformed file, a bad option) is an
``NndlError``; ``nndl.cli.main`` prints ``nndl: error: <message>`` and exits 1
(or 2 for a ``UsageError``) instead of showing a traceback.
"""

from __future__ import annotations


class NndlError(Exception):
    """Base class of the errors nndl reports to users as one line."""


class UsageError(NndlError, ValueError):
    """A bad option or argument (command line exit status 2)."""


class DataError(NndlError, ValueError):
    """A data file or data set that cannot be used; the message names the file."""


class ModelFileError(NndlError, ValueError):
    """A model file (.npz or network2 JSON) that is malformed or unsafe."""


class DivergenceError(NndlError, FloatingPointError):
    """Training produced a NaN or infinite cost (eta too large?)."""


class FileWriteError(NndlError, OSError):
    """A file or folder nndl could not write (full disk, no permission); the message names it."""


class BusyError(NndlError):
    """A run folder or result file another nndl process is using (it holds the folder's lock)."""


class HelperProcessError(NndlError, RuntimeError):
    """The helper process of chapter 6's ``processes=2`` failed, ended or stopped answering during
    a training step (raised after this process finished that step alone: the step is whole), or
    could not be started (no memory for the fork; another chapter-6 training in this process)."""
