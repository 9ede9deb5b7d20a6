"""``nndl info``: versions, where the data are found, the BLAS in use and its threads."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="versions, where the data are found, BLAS and threads",
        description="Show the versions of nndl and its dependencies, where MNIST is looked for and "
        "found, which data `nndl train` would use, and the BLAS libraries with their threads.",
    )
    p.add_argument("--data-dir", metavar="DIR", help="also look for MNIST in this folder")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.set_defaults(func=run)


def _versions() -> dict[str, str | None]:
    import platform
    from importlib import metadata

    from nndl import __version__

    out: dict[str, str | None] = {"nndl": __version__, "python": platform.python_version()}
    for dist in ("numpy", "scipy", "scikit-learn", "matplotlib", "pillow", "sympy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _blas() -> dict:
    """The BLAS NumPy was built with, and the BLAS libraries loaded now with their threads."""
    import os

    import numpy as np
    import scipy.linalg  # noqa: F401  (loads SciPy's own BLAS, which the fused SGD step calls)

    build = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    loaded = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # scikit-learn brings threadpoolctl; without it we only know the build
        threadpool_info = None
    if threadpool_info is not None:
        for lib in threadpool_info():
            loaded.append(
                {
                    k: lib.get(k)
                    for k in (
                        "user_api",
                        "internal_api",
                        "version",
                        "num_threads",
                        "threading_layer",
                        "architecture",
                        "filepath",
                    )
                }
            )
    env = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    return {
        "numpy_built_with": {"name": build.get("name"), "version": build.get("version")},
        "loaded": loaded,
        "cpus": os.cpu_count(),
        "thread_variables": env,
    }


def _data(data_dir) -> dict:
    from nndl import data

    cache = data.cache_dir()
    # The order load_dataset searches in (data.py's own search path).
    folders = [
        {"how": how, "folder": str(folder), "has_mnist": data._has_mnist(folder)}
        for how, folder in data._search_path(data_dir, cache)
    ]
    found = next((f["folder"] for f in folders if f["has_mnist"]), None)
    return {
        "mnist_search_path": folders,
        "mnist_found": found,
        "cache": str(cache),
        "auto_uses": "mnist" if found else (
            f"mnist, downloaded first into {cache / 'mnist'} (offline: scikit-learn's bundled "
            "8x8 digits)"),
    }


def run(args: argparse.Namespace) -> int:
    from nndl.paths import check_data_options

    check_data_options(None, args.data_dir)
    facts = {"versions": _versions(), "data": _data(args.data_dir), "blas": _blas()}
    if args.json:
        print(json.dumps(facts, indent=1))
        return 0
    v = facts["versions"]
    print(f"nndl {v['nndl']} on Python {v['python']}")
    print(
        "  "
        + ", ".join(
            f"{k} {val or 'not installed'}" for k, val in v.items() if k not in ("nndl", "python")
        )
    )
    d = facts["data"]
    print("data:")
    for f in d["mnist_search_path"]:
        print(f"  {'found  ' if f['has_mnist'] else 'no MNIST'} {f['folder']}  ({f['how']})")
    print(f"  --data auto uses: {d['auto_uses']}")
    b = facts["blas"]
    built = b["numpy_built_with"]
    print(f"BLAS: NumPy built with {built['name']} {built['version']}; {b['cpus']} CPUs")
    for lib in b["loaded"]:
        print(
            f"  {lib['internal_api']} {lib['version']}: {lib['num_threads']} threads "
            f"({lib['threading_layer']}, {lib['architecture']})  {lib['filepath']}"
        )
    for k, val in b["thread_variables"].items():
        print(f"  {k}={val}")
    return 0
