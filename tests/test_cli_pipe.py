"""`nndl ... | head -1`: a reader that goes away early ends the command quietly (status 1, no
"Broken pipe" message), as the Python documentation's recipe for SIGPIPE does."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("argv", [["info"], ["exercise", "--list"]])
def test_a_closed_stdout_ends_the_command_quietly(argv):
    proc = subprocess.Popen([sys.executable, "-m", "nndl", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert err == ""


def test_a_broken_pipe_that_is_not_stdout_is_still_an_error(monkeypatch, capsys):
    from nndl import cli
    from nndl.commands import info

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a worker's pipe; stdout is fine

    monkeypatch.setattr(info, "run", broken)
    assert cli.main(["info"]) == 1
    assert capsys.readouterr().err.startswith("nndl: error: ")
