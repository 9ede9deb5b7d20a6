"""Saving and loading networks: nndl's ``.npz`` and the book's network2 JSON.

Native format: a NumPy ``.npz`` (zip) holding ``w0, w1, ...`` (weights, (n_out, n_in)),
``b0, b1, ...`` (biases, (n_out,)) and ``meta``, a JSON string with the architecture
(sizes, cost name, hidden and output activations, init, dtype, dropout). It is read
with ``allow_pickle=False``: a file holding pickled objects is refused, never executed.

network2 JSON (``network2.Network.save``): ``{"sizes", "weights", "biases", "cost"}``
with weights as nested lists (n_out, n_in) and biases as column vectors (n_out, 1).
The cost name is looked up in an explicit registry (``nndl.costs.COSTS``), never with
``getattr`` on file data as network2's ``load`` does.

Writes go to a temporary file in the same folder which is then renamed, so a crash
never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nndl import __version__
from nndl.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from nndl.costs import COSTS, cost_name, get_cost
from nndl.errors import ModelFileError
from nndl.network import INITS, Network

FORMAT = "nndl-network"
FORMAT_VERSION = 1
MAX_LAYERS = 1000


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def network_description(net: Network) -> dict[str, Any]:
    """What defines ``net`` apart from its parameters, JSON-ready (npz metadata, run folders)."""
    return {
        "sizes": list(net.sizes),
        "cost": cost_name(net.cost),
        "hidden": net.hidden,
        "output": net.output,
        "init": net.init,
        "dtype": net.dtype.name,
        "dropout": net.dropout,
    }


def _meta(net: Network) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "nndl_version": __version__,
            **network_description(net)}


def save(net: Network, path: str | Path, *, metadata: dict | None = None,
         arrays: dict[str, np.ndarray] | None = None) -> None:
    """Save ``net`` to ``path``: network2 JSON if it ends in ``.json``, else nndl ``.npz``.

    ``metadata`` (JSON-serialisable) and ``arrays`` (extra named arrays, e.g. a training
    checkpoint's state) are stored alongside in ``.npz`` files and returned by ``load_npz``.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        if metadata or arrays:
            raise ValueError("network2 JSON holds only sizes, weights, biases and cost")
        save_network2_json(net, path)
        return
    if cost_name(net.cost) not in COSTS:
        raise ValueError(f"cannot save a network with a user-defined cost {cost_name(net.cost)!r}")
    meta = _meta(net)
    if metadata:
        meta["extra"] = metadata
    payload: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        payload[f"w{l}"] = W
        payload[f"b{l}"] = b
    for k, v in (arrays or {}).items():
        if k in payload or k.startswith(("w", "b")) and k[1:].isdigit():
            raise ValueError(f"extra array name {k!r} clashes with the network's own")
        payload[k] = np.asarray(v)
    with atomic_write(path) as f:
        np.savez(f, **payload)


def save_network2_json(net: Network, path: str | Path) -> None:
    """Write the book's network2 JSON (biases as column vectors; dropout folded into weights)."""
    if cost_name(net.cost) not in COSTS:
        raise ValueError(f"network2 JSON cannot name a user-defined cost {cost_name(net.cost)!r}")
    if net.hidden != "sigmoid" or net.output != "sigmoid" and cost_name(net.cost) != "log-likelihood":
        raise ValueError("network2 JSON describes sigmoid networks only; save as .npz instead")
    weights = [W.astype(np.float64) for W in net.weights]
    if net.dropout:  # the book's test-time rule: scale the weights outgoing from hidden neurons
        weights = [weights[0]] + [W * (1.0 - net.dropout) for W in weights[1:]]
    data = {
        "sizes": list(net.sizes),
        "weights": [W.tolist() for W in weights],
        "biases": [b.astype(np.float64).reshape(-1, 1).tolist() for b in net.biases],
        "cost": get_cost(net.cost).__name__,
    }
    with atomic_write(path, "w") as f:
        json.dump(data, f)


def _check_sizes(sizes: Any, where: str) -> list[int]:
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        raise ModelFileError(f"{where}: 'sizes' must be a list of at least two positive integers")
    return sizes


def _check_params(net: Network, weights: list, biases: list, where: str) -> None:
    sizes = net.sizes
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        raise ModelFileError(f"{where}: expected {len(sizes) - 1} weight matrices and bias vectors "
                             f"for sizes {sizes}; found {len(weights)} and {len(biases)}")
    for l, (W, b) in enumerate(zip(weights, biases)):
        shape = (sizes[l + 1], sizes[l])
        if W.shape != shape:
            raise ModelFileError(f"{where}: weights[{l}] has shape {W.shape}; sizes {sizes} need {shape}")
        if b.shape not in ((sizes[l + 1],), (sizes[l + 1], 1)):
            raise ModelFileError(f"{where}: biases[{l}] has shape {b.shape}; sizes {sizes} need ({sizes[l + 1]},)")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ModelFileError(f"{where}: weights[{l}] or biases[{l}] hold NaN or infinite values")
        net.weights[l] = np.ascontiguousarray(W, dtype=net.dtype)
        net.biases[l] = np.ascontiguousarray(b.reshape(-1), dtype=net.dtype)


def _new_network(sizes, cost, where: str, **kw) -> Network:
    try:
        return Network(sizes, cost, rng=np.random.default_rng(0), **kw)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None


def load_npz(path: str | Path) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """Load an nndl ``.npz``: the network, the extra metadata and the extra arrays."""
    path = Path(path)
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            files = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ModelFileError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{where}: is a folder, not a model file") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ModelFileError(f"{where}: holds pickled Python objects; refusing to load it") from None
        raise ModelFileError(f"{where}: not a valid .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{where}: not a readable .npz file ({exc})") from None
    if "meta" not in files or files["meta"].dtype.kind != "U" or files["meta"].shape != ():
        raise ModelFileError(f"{where}: no nndl metadata ('meta'); not an nndl model file")
    try:
        meta = json.loads(str(files["meta"]))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{where}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{where}: not an nndl model file (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{where}: unsupported format version {meta.get('format_version')!r}")
    sizes = _check_sizes(meta.get("sizes"), where)
    for key, choices in (("cost", COSTS), ("hidden", HIDDEN_ACTIVATIONS), ("output", OUTPUT_ACTIVATIONS),
                         ("init", INITS), ("dtype", ("float32", "float64"))):
        if meta.get(key) not in choices:
            raise ModelFileError(f"{where}: '{key}' is {meta.get(key)!r}; expected one of {', '.join(choices)}")
    dropout = meta.get("dropout", 0.0)
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ModelFileError(f"{where}: 'dropout' must be a number in [0, 1)")
    net = _new_network(sizes, meta["cost"], where, init=meta["init"], hidden=meta["hidden"],
                       output=meta["output"], dtype=meta["dtype"], dropout=float(dropout))
    n = len(sizes) - 1
    missing = [k for l in range(n) for k in (f"w{l}", f"b{l}") if k not in files]
    if missing:
        raise ModelFileError(f"{where}: missing arrays {', '.join(missing)} for sizes {sizes}")
    for k in (f"w{l}" for l in range(n)):
        if files[k].dtype.kind != "f":
            raise ModelFileError(f"{where}: array {k} has dtype {files[k].dtype}; expected floats")
    _check_params(net, [files[f"w{l}"] for l in range(n)], [files[f"b{l}"] for l in range(n)], where)
    extras = {k: v for k, v in files.items() if k != "meta" and not (k[:1] in "wb" and k[1:].isdigit() and int(k[1:]) < n)}
    return net, meta.get("extra", {}), extras


def load_network2_json(path: str | Path, dtype=np.float64) -> Network:
    """Load a network saved by the book's ``network2.Network.save``."""
    path = Path(path)
    where = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ModelFileError(f"{where}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{where}: expected a JSON object with sizes, weights, biases, cost")
    missing = [k for k in ("sizes", "weights", "biases", "cost") if k not in data]
    if missing:
        raise ModelFileError(f"{where}: missing {', '.join(missing)} (not a network2 JSON file?)")
    sizes = _check_sizes(data["sizes"], where)
    if not isinstance(data["cost"], str):
        raise ModelFileError(f"{where}: 'cost' must be a name such as 'CrossEntropyCost'")
    try:
        cost = get_cost(data["cost"])
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    net = _new_network(sizes, cost, where, dtype=dtype)
    arrays = []
    for key in ("weights", "biases"):
        if not isinstance(data[key], list):
            raise ModelFileError(f"{where}: '{key}' must be a list of matrices")
        try:
            arrays.append([np.array(v, dtype=np.float64) for v in data[key]])
        except (ValueError, TypeError):
            raise ModelFileError(f"{where}: '{key}' holds something other than rectangular lists of numbers") from None
    _check_params(net, arrays[0], arrays[1], where)
    return net


def load(path: str | Path) -> Network:
    """Load a network from nndl ``.npz`` or the book's network2 JSON (detected from the content)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    if head.startswith(b"PK"):
        from nndl.network3 import is_layered_file, load as load_layered  # chapter 6's networks

        return load_layered(path) if is_layered_file(path) else load_npz(path)[0]
    if head.startswith(b"{"):
        return load_network2_json(path)
    if head.startswith(b"\x80") or path.suffix.lower() in (".pkl", ".pickle"):
        raise ModelFileError(f"{path}: looks like a Python pickle; nndl never loads pickles")
    raise ModelFileError(f"{path}: neither an nndl .npz nor a network2 JSON file")
