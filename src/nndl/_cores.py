"""The cores this process may use, and the threads of the BLAS library that NumPy calls.

Cheap to import (``os`` and ``pathlib`` only); threadpoolctl is imported when a function needs it.
"""

from __future__ import annotations

import os
from pathlib import Path


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one, else all."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


def blas_controllers() -> tuple[list, list]:
    """(NumPy's BLAS libraries, the other BLAS libraries loaded) as threadpoolctl LibControllers.

    NumPy's are those inside NumPy's package (``numpy.libs`` or ``numpy/.dylibs`` of the
    wheels, which bring their own OpenBLAS, as SciPy's wheels bring another); where only one
    BLAS library is loaded (e.g. conda, whose NumPy and SciPy share one), that one. Empty
    lists where threadpoolctl sees no BLAS (e.g. Apple's Accelerate) or cannot tell which is
    NumPy's.
    """
    import numpy
    from threadpoolctl import ThreadpoolController

    libs = [lc for lc in ThreadpoolController().lib_controllers if lc.user_api == "blas"]
    if len(libs) <= 1:
        return libs, []
    here = Path(numpy.__file__).resolve().parent
    roots = (here, here.parent / "numpy.libs")
    mine, others = [], []
    for lc in libs:
        path = Path(lc.filepath).resolve()
        (mine if any(root == p for root in roots for p in path.parents) else others).append(lc)
    return (mine, others) if mine else ([], libs)
