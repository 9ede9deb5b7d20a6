"""Every code block of README.md and docs/*.md runs (issue 12, item 14).

The convention (BRIEF.md, "Code blocks in README.md and docs/*.md are run in CI"):

- ```python blocks run in order, one namespace per file, in a temporary folder, with
  NNDL_DATA set (MNIST available) and NNDL_CACHE a temporary folder.
- ```sh blocks: each non-comment line runs as a shell command in that same temporary
  folder (a line ending in ``\\`` continues); it must exit 0. A plain ``nndl ...`` line
  (no shell syntax) runs in-process through ``nndl.cli.main``, which is what the
  ``nndl`` script calls, to keep this test fast; any other line runs in bash with the
  virtual environment's ``bin`` first on PATH.
- ```text blocks and blocks of any other language are not run, with two markers on the
  line just before the opening fence:
  ``<!-- doc: file NAME -->`` writes the block to NAME in the temporary folder (a config
  file the next command reads), and ``<!-- doc: stdout -->`` checks the block against
  the standard output of the block just before it: each of its lines must appear there,
  in order (a line ``...`` stands for any lines).
- ``<!-- doc: skip REASON -->`` before a fence skips the block; blocks after
  ``<!-- ci:install -->`` / ``<!-- ci:test -->`` are run by .ci/run itself and skipped here.

Blocks of one file run in document order in one folder, so a later block may use what an
earlier one wrote (a run folder, a model). The folder starts with a copy of the
repository's ``docs/examples/`` at the same place, so a command written to run from a
clone's root (``nndl predict runs/first docs/examples/five.png``) runs as written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^<!--\s*(doc|ci):\s*(\w+)\s*(.*?)\s*-->\s*$")
SHELL_SYNTAX = set("|&;<>()$`*?[]{}~\"'")


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence
    marker: tuple[str, str, str] | None  # (kind, word, rest) of the comment just before the fence


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the marker comment before each."""
    out, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        prev = lines[start - 1] if start else ""
        mm = MARKER.match(prev)
        out.append(Block(lang, "\n".join(lines[start + 1 : j]) + "\n", start + 1,
                         mm.groups() if mm else None))
        i = j + 1
    return out


def sh_commands(text: str) -> list[str]:
    """The commands of a sh block: non-comment lines, continued by a trailing backslash."""
    cmds, cur = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cmds.append(cur + line)
        cur = ""
    if cur:
        cmds.append(cur)
    return cmds


def _plain_nndl(cmd: str) -> list[str] | None:
    """argv of a line that is just ``nndl ARGS  # comment``, else None (run it in bash)."""
    try:
        words = shlex.split(cmd, comments=True)
    except ValueError:
        return None
    if not words or words[0] != "nndl":
        return None
    body = cmd.split("#", 1)[0]
    if any(c in SHELL_SYNTAX for c in body):
        return None
    return words[1:]


def run_sh(cmd: str, cwd: Path) -> tuple[int, str, str]:
    argv = _plain_nndl(cmd)
    if argv is not None:
        from nndl.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def check_stdout(expected: str, got: str, where: str) -> None:
    """Every line of ``expected`` appears in ``got`` in order; ``...`` skips any lines."""
    got_lines = [g.rstrip() for g in got.splitlines()]
    k = 0
    for want in (w.rstrip() for w in expected.splitlines()):
        if want == "...":
            continue
        while k < len(got_lines) and got_lines[k] != want:
            k += 1
        assert k < len(got_lines), f"{where}: output line {want!r} not found in order in:\n{got}"
        k += 1


def run_file(path: Path, tmp: Path) -> None:
    namespace: dict = {"__name__": "__doc__"}
    last_stdout = ""
    for b in blocks(path):
        where = f"{path.relative_to(ROOT)}:{b.line}"
        kind, word, rest = b.marker or ("", "", "")
        if kind == "ci" or (kind == "doc" and word == "skip"):
            assert kind == "ci" or rest, f"{where}: doc: skip needs a reason"
            continue
        if kind == "doc" and word == "file":
            assert rest, f"{where}: doc: file needs a name"
            (tmp / rest).write_text(b.text)
            continue
        if kind == "doc" and word == "stdout":
            check_stdout(b.text, last_stdout, where)
            continue
        assert not kind, f"{where}: unknown marker {kind}: {word}"
        if b.lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(b.text, where, "exec"), namespace)  # noqa: S102 (our own docs)
            last_stdout = out.getvalue()
        elif b.lang == "sh":
            last_stdout = ""
            for cmd in sh_commands(b.text):
                code, out, err = run_sh(cmd, tmp)
                assert code == 0, f"{where}: `{cmd}` exited {code}:\n{err[-2000:]}"
                last_stdout += out


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One temporary NNDL_CACHE for all the files: MNIST is decoded once, not once a file."""
    return tmp_path_factory.mktemp("doc-cache")


# A document runs many commands (docs/sweep.md: several sweeps, about 20 s on an idle machine);
# on a loaded machine one took over the default 300 s per test (pyproject.toml), which is meant
# to catch a hang, not a slow machine.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_code_block_runs(path, tmp_path, monkeypatch, cache):
    if not os.environ.get("NNDL_DATA"):
        pytest.fail("the doc test needs NNDL_DATA (MNIST), as CI sets it")
    monkeypatch.setenv("NNDL_CACHE", str(cache))
    work = tmp_path / "work"
    shutil.copytree(ROOT / "docs" / "examples", work / "docs" / "examples")
    monkeypatch.chdir(work)
    run_file(path, work)


def test_the_harness_reads_markers_and_continuations(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("a\n<!-- doc: skip needs a GPU -->\n```sh\nfalse\n```\n<!-- doc: file c.toml -->\n"
                  "```toml\neta = 1\n```\n```sh\n# a comment\necho one \\\n  two\ncat c.toml\n```\n"
                  "<!-- doc: stdout -->\n```text\none two\n...\neta = 1\n```\n")
    bs = blocks(md)
    assert [b.lang for b in bs] == ["sh", "toml", "sh", "text"]
    assert bs[0].marker == ("doc", "skip", "needs a GPU") and bs[3].marker == ("doc", "stdout", "")
    assert sh_commands(bs[2].text) == ["echo one    two", "cat c.toml"]
    assert _plain_nndl("nndl train --epochs 1   # quick") == ["train", "--epochs", "1"]
    assert _plain_nndl("nndl evaluate x --json > r.json") is None
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        work = tmp_path / "w"
        work.mkdir()
        with pytest.raises(AssertionError, match="not found in order"):
            check_stdout("two\none", "one\ntwo\n", "here")
        run_file(md, work)  # the skipped `false` is not run; the rest passes
        md.write_text(md.read_text().replace("eta = 1\n```\n", "eta = 2\n```\n", 2).replace(
            "...\neta = 2", "...\neta = 1"))
        with pytest.raises(AssertionError, match="eta = 1"):
            run_file(md, work)
    finally:
        ROOT = old
