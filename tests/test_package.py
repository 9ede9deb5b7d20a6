"""The package's surface: lazy top-level names, and a command line that starts cheaply."""

import subprocess
import sys

import nndl


def test_public_names_resolve():
    for name in nndl.__all__:
        assert getattr(nndl, name) is not None
    assert nndl.Network.__module__ == "nndl.network"
    assert "Network" in dir(nndl)


def test_help_does_not_import_the_heavy_libraries():
    """`nndl --help` must answer fast: building the parser imports no NumPy, SciPy or matplotlib."""
    code = ("import sys; from nndl.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'sympy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
