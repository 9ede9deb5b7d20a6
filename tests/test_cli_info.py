"""``nndl info`` and the top-level command line (usage, help, exit statuses)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import nndl
from nndl.cli import main
from nndl.data import MNIST_FILES


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    monkeypatch.delenv("NNDL_DATA", raising=False)
    monkeypatch.setenv("NNDL_CACHE", str(tmp_path / "cache"))


def test_info_says_where_mnist_is_not_and_what_auto_uses(capsys, no_mnist, tmp_path):
    code, out, err = cli(capsys, "info")
    assert code == 0, err
    assert f"nndl {nndl.__version__} on Python" in out and f"numpy {np.__version__}" in out
    assert f"no MNIST {tmp_path / 'cache' / 'mnist'}  (cache)" in out
    assert "--data auto uses: mnist, downloaded first into" in out and "offline: scikit" in out
    assert "BLAS:" in out and "CPUs" in out


def test_info_json_finds_mnist_in_nndl_data(capsys, no_mnist, tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in MNIST_FILES:  # info only looks for the files; it does not read them
        (folder / f.name).write_bytes(b"")
    monkeypatch.setenv("NNDL_DATA", str(folder))
    code, out, err = cli(capsys, "info", "--json")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["data"]["mnist_found"] == str(folder) and facts["data"]["auto_uses"] == "mnist"
    assert [f["how"] for f in facts["data"]["mnist_search_path"]] == ["NNDL_DATA", "cache"]
    assert facts["versions"]["nndl"] == nndl.__version__
    blas = facts["blas"]
    assert blas["cpus"] == os.cpu_count() and blas["numpy_built_with"]["name"]
    for lib in blas["loaded"]:
        assert lib["num_threads"] >= 1


def test_info_with_a_data_dir_looks_there_first(capsys, no_mnist, tmp_path):
    code, out, _ = cli(capsys, "info", "--data-dir", tmp_path, "--json")
    assert code == 0
    assert json.loads(out)["data"]["mnist_search_path"][0] == {
        "how": "data_dir",
        "folder": str(tmp_path),
        "has_mnist": False,
    }


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = cli(capsys)
    assert code == 2 and "train" in err and out == ""


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for command in ("train", "evaluate", "predict", "info"):
        assert command in out


def test_global_options_work_after_the_command_too(capsys, tmp_path):
    code, out, err = cli(
        capsys,
        "train",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--no-plots",
        "-q",
        "-o",
        tmp_path / "r",
    )
    assert code == 0 and "run folder:" in out
    assert "epoch 0" not in err  # -q after the command silenced the progress lines
    code, _, err = cli(capsys, "-q", "info", "--bogus")
    assert code == 2 and err.strip() == "nndl: error: unrecognized arguments: --bogus"
