"""Fuzz tests of every file reader (issue 13): only nndl's errors, bounded memory, no hang,
no silent accept. The engine and the readers' contracts are in tests/fuzz_readers.py.

The default run tries a few hundred to two thousand seeded cases per reader (about half
a minute in all); ``NNDL_FUZZ_CASES=10000 python -m pytest -m slow tests/test_fuzz.py`` (or
``python tests/fuzz_readers.py --cases 10000``, which prints the table) is the thorough pass.
"""

from __future__ import annotations

import os

import fuzz_readers as fz
import pytest

# cases per reader in the default run: more for the fast readers
DEFAULT_CASES = {
    fz.IdxReader: 1500,
    fz.MnistCacheReader: 400,
    fz.ModelNpzReader: 500,
    fz.LayeredModelNpzReader: 500,
    fz.Network2JsonReader: 1500,
    fz.UserNpzReader: 400,
    fz.ImageFolderReader: 250,
    fz.PredictImageReader: 2000,
    fz.TomlReader: 1500,
    fz.CheckpointReader: 250,
    fz.SweepResultsReader: 300,
}


def _assert_clean(row: dict) -> None:
    bad = {k: row[k] for k in ("other", "memory", "hang", "invalid") if row[k]}
    assert not bad, f"{row['reader']}: {bad}; examples: {row['examples']}"
    assert row["clean"] + row["accepted"] == row["tried"]
    # the mutator must reach both sides of the reader, or the test proves little
    assert row["clean"] > row["tried"] // 10, row


@pytest.mark.parametrize("reader", fz.READERS, ids=lambda r: r.__name__)
def test_fuzz_reader(reader, tmp_path):
    _assert_clean(fz.fuzz(reader, DEFAULT_CASES[reader], seed=0))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("NNDL_FUZZ_CASES"),
                    reason="the thorough pass: set NNDL_FUZZ_CASES (e.g. 10000)")
@pytest.mark.parametrize("reader", fz.READERS, ids=lambda r: r.__name__)
def test_fuzz_reader_thorough(reader):
    _assert_clean(fz.fuzz(reader, int(os.environ["NNDL_FUZZ_CASES"]), seed=1))
