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

import itertools
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nndl import __version__, _validate
from nndl.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from nndl.costs import COSTS, cost_class_name, cost_name, get_cost
from nndl.errors import BusyError, FileWriteError, ModelFileError
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
    """Open a temporary file beside ``path``; on success rename it to ``path``, else delete it.

    The data are fsynced before the rename. Any ``OSError`` (a full disk, no permission)
    becomes a ``FileWriteError`` naming ``path``; the temporary file is removed. A ``path``
    that exists and is not a regular file (a folder, a device, a FIFO) is refused with a
    ``FileWriteError`` before anything is written (``nndl.paths.refuse_non_regular``).
    """
    from nndl.paths import refuse_non_regular

    path = Path(path)
    refuse_non_regular(path, FileWriteError, f"cannot write {path}")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                   prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise FileWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


LOCK = ".nndl.lock"  # the lock file of a locked folder (left in place; harmless)


@contextmanager
def folder_lock(folder: str | Path, what: str = "folder", timeout: float = 0):
    """Hold ``folder``'s lock (``filelock``) for the block, or raise ``BusyError``.

    ``timeout``: seconds to wait for another process to release it (default: not at all).

    Two nndl processes never write one run folder (or one experiment's result) together:
    the second is refused with a message instead of waiting or overwriting.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    lock = FileLock(str(folder / LOCK), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise BusyError(f"{folder}: this {what} is in use by another nndl process (it holds "
                        f"{folder / LOCK}); wait until it has finished") from None
    except OSError as exc:
        raise FileWriteError(f"cannot lock {folder / LOCK}: {exc.strerror or exc}") from None
    try:
        yield folder
    finally:
        lock.release()


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
        "cost": cost_class_name(net.cost),
    }
    with atomic_write(path, "w") as f:
        json.dump(data, f)


MAX_NEURONS = 1_000_000  # neurons in one layer of a model file
MAX_PARAMETERS = 100_000_000  # weights and biases of a model file (800 MB as float64)
MAX_JSON_BYTES = 64 << 20  # a network2 JSON file ([784, 1000, 1000, 10] is ~40 MB)


def _check_sizes(sizes: Any, where: str) -> list[int]:
    """Layer sizes from a file: 2..MAX_LAYERS positive ints, at most MAX_PARAMETERS in all.

    Checked before anything is allocated, so that a file of 86 bytes declaring a layer of
    a billion neurons is refused instead of asking for gigabytes.
    """
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS
            or not all(_validate.plain_int(s, 1, MAX_NEURONS) for s in sizes)):
        raise ModelFileError(f"{where}: 'sizes' must be a list of 2 to {MAX_LAYERS} positive integers "
                             f"of at most {MAX_NEURONS:,}")
    n_params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    if n_params > MAX_PARAMETERS:
        raise ModelFileError(f"{where}: sizes {sizes} mean {n_params:,} parameters; nndl reads "
                             f"model files of at most {MAX_PARAMETERS:,}")
    return sizes


def _param_shapes(sizes: list[int], l: int) -> tuple[tuple[int, int], tuple[tuple[int, ...], ...]]:
    """The shape weights[l] must have, and the shapes biases[l] may have (vector or column)."""
    return (sizes[l + 1], sizes[l]), ((sizes[l + 1],), (sizes[l + 1], 1))


def _check_params(net: Network, weights: list, biases: list, where: str) -> None:
    """Check every array (real floats, shape from ``net.sizes``, finite) and store it in ``net``."""
    sizes = net.sizes
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        raise ModelFileError(f"{where}: expected {len(sizes) - 1} weight matrices and bias vectors "
                             f"for sizes {sizes}; found {len(weights)} and {len(biases)}")
    for l, (W, b) in enumerate(zip(weights, biases)):
        w_shape, b_shapes = _param_shapes(sizes, l)
        W = _validate.float_array(W, f"{where}: weights[{l}]", ModelFileError, shape=w_shape)
        b = _validate.float_array(b, f"{where}: biases[{l}]", ModelFileError, shapes=b_shapes)
        net.weights[l] = np.ascontiguousarray(W, dtype=net.dtype)
        net.biases[l] = np.ascontiguousarray(b.reshape(-1), dtype=net.dtype)


def _new_network(sizes, cost, where: str, **kw) -> Network:
    try:
        return Network(sizes, cost, rng=np.random.default_rng(0), **kw)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None


def _choice(meta: dict, key: str, choices, where: str) -> str:
    value = meta.get(key)
    if not isinstance(value, str) or value not in choices:
        raise ModelFileError(f"{where}: '{key}' is {value!r}; expected one of {', '.join(choices)}")
    return value


def read_npz_json(path: str | Path, error=ModelFileError) -> dict[str, Any]:
    """The ``meta`` JSON object of an ``.npz`` model file, read alone (nothing else is loaded
    yet) through ``nndl._validate``; any format. Raises ``error`` naming the file."""
    where = str(path)

    def small(name: str, shape: tuple[int, ...], dt) -> None:
        if name == "meta" and dt.itemsize > _validate.MAX_TEXT_BYTES * 4:
            raise error(f"{where}: its metadata take {dt.itemsize:,} bytes; not an nndl model")

    files = _validate.read_npz(path, error, only={"meta"}, kinds="U", what=".npz model file",
                               max_array_bytes=8 * MAX_PARAMETERS, check=small)
    meta_array = files.get("meta")
    if meta_array is None:
        raise error(f"{where}: no nndl metadata ('meta'); not an nndl model file")
    if meta_array.shape != ():
        raise error(f"{where}: 'meta' is not a JSON string")
    meta = _validate.loads_json(str(meta_array), f"{where}: metadata", error)
    if not isinstance(meta, dict):
        raise error(f"{where}: 'meta' is not a JSON object")
    return meta


def read_npz_meta(path: str | Path, error=ModelFileError) -> dict[str, Any]:
    """The ``meta`` JSON of an nndl (chapter-3) ``.npz``, its format and version checked."""
    where = str(path)
    meta = read_npz_json(path, error)
    if meta.get("format") != FORMAT:
        from nndl.network3 import FORMAT as LAYERED

        if meta.get("format") == LAYERED:  # the other chapter's network: said as such
            raise error(f"{where}: a chapter-6 (layered) nndl network, where a chapter-3 one was expected")
        raise error(f"{where}: not an nndl model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise error(f"{where}: unsupported format version {version!r}")
    return meta


def load_npz(path: str | Path) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """Load an nndl ``.npz``: the network, the extra metadata and the extra arrays.

    Every check happens before the arrays are read (``nndl._validate.read_npz``): the
    metadata first (format, sizes within ``MAX_PARAMETERS``, names from the registries),
    then each member's header (dtype, shape from the sizes); then the values (finite).

    Raises
    ------
    ModelFileError
        naming the file and the problem (and what the file is, if not an ``.npz``).
    """
    path = Path(path)
    where = str(path)
    meta = read_npz_meta(path)
    sizes = _check_sizes(meta.get("sizes"), where)
    cost = _choice(meta, "cost", COSTS, where)
    hidden = _choice(meta, "hidden", HIDDEN_ACTIVATIONS, where)
    output = _choice(meta, "output", OUTPUT_ACTIVATIONS, where)
    init = _choice(meta, "init", INITS, where)
    dtype = _choice(meta, "dtype", ("float32", "float64"), where)
    dropout = meta.get("dropout", 0.0)
    if not _validate.plain_number(dropout) or not 0 <= dropout < 1:
        raise ModelFileError(f"{where}: 'dropout' must be a number in [0, 1); got {dropout!r}")
    n = len(sizes) - 1

    def check(name: str, shape: tuple[int, ...], dt: np.dtype) -> None:
        if name[:1] in "wb" and name[1:].isdigit() and int(name[1:]) >= n:
            # a layer's parameters beyond what the metadata describe: the two contradict
            raise ModelFileError(f"{where}: holds the array {name} but its metadata's sizes {sizes} "
                                 f"have {n} layers of weights")
        if name[:1] in "wb" and name[1:].isdigit() and str(int(name[1:])) == name[1:] and int(name[1:]) < n:
            w_shape, b_shapes = _param_shapes(sizes, int(name[1:]))
            allowed = (w_shape,) if name[0] == "w" else b_shapes
            what = "weights" if name[0] == "w" else "biases"
            if dt.kind != "f":
                raise ModelFileError(f"{where}: {what}[{name[1:]}] has dtype {dt}; "
                                     "expected floats")
            if shape not in allowed:
                raise ModelFileError(f"{where}: {what}[{name[1:]}] has shape {shape}; "
                                     f"sizes {sizes} need {allowed[0]}")

    files = _validate.read_npz(path, ModelFileError, what=".npz model file", check=check,
                               max_array_bytes=8 * MAX_PARAMETERS)
    missing = [k for l in range(n) for k in (f"w{l}", f"b{l}") if k not in files]
    if missing:
        raise ModelFileError(f"{where}: missing arrays {', '.join(missing)} for sizes {sizes}")
    net = _new_network(sizes, cost, where, init=init, hidden=hidden, output=output, dtype=dtype,
                       dropout=float(dropout))
    _check_params(net, [files[f"w{l}"] for l in range(n)], [files[f"b{l}"] for l in range(n)], where)
    extras = {k: v for k, v in files.items()
              if k != "meta" and not (k[:1] in "wb" and k[1:].isdigit() and int(k[1:]) < n)}
    extra = meta.get("extra", {})
    return net, extra if isinstance(extra, dict) else {}, extras


def load_network2_json(path: str | Path, dtype=np.float64) -> Network:
    """Load a network saved by the book's ``network2.Network.save``.

    Raises ``ModelFileError`` naming the file and the problem: more than ``MAX_JSON_BYTES``,
    not JSON, nesting or integers beyond bounds, sizes beyond ``MAX_PARAMETERS``, weights
    or biases that are not real numbers (strings, booleans) of the shapes the sizes say.
    """
    path = Path(path)
    where = str(path)
    data = _validate.read_json(path, ModelFileError, MAX_JSON_BYTES, "network2 JSON file")
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
    for key in ("weights", "biases"):
        if not isinstance(data[key], list) or len(data[key]) != len(sizes) - 1:
            found = len(data[key]) if isinstance(data[key], list) else type(data[key]).__name__
            raise ModelFileError(f"{where}: expected {len(sizes) - 1} weight matrices and bias "
                                 f"vectors for sizes {sizes}; '{key}' has {found}")
    weights, biases = [], []
    for l in range(len(sizes) - 1):  # checked against the sizes before the network exists
        w_shape, b_shapes = _param_shapes(sizes, l)
        weights.append(_validate.float_array(data["weights"][l], f"{where}: weights[{l}]",
                                             ModelFileError, shape=w_shape))
        biases.append(_validate.float_array(data["biases"][l], f"{where}: biases[{l}]",
                                            ModelFileError, shapes=b_shapes))
    net = _new_network(sizes, cost, where, dtype=dtype)
    _check_params(net, weights, biases, where)
    return net


def load(path: str | Path) -> Network:
    """Load a network from nndl ``.npz`` or the book's network2 JSON (detected from the content).

    Raises ``ModelFileError`` naming the file, the problem and, for anything else, what the
    file is (``nndl._validate.describe``).
    """
    path = Path(path)
    with _validate.open_regular(path, ModelFileError, "model file") as f:
        try:
            head = f.read(64)
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if head.startswith(b"PK"):
        from nndl.network3 import is_layered_file, load as load_layered  # chapter 6's networks

        return load_layered(path) if is_layered_file(path) else load_npz(path)[0]
    if head.lstrip().startswith(b"{"):
        return load_network2_json(path)
    what = _validate.describe(head)
    if head.startswith(b"\x80"):
        raise ModelFileError(f"{path}: {what}; nndl never loads pickles (save the network "
                             "with network2's save() as JSON, or with nndl as .npz)")
    raise ModelFileError(f"{path}: neither an nndl .npz nor a network2 JSON file; it is {what}")
