"""Training runs on disk: settings, the run folder, checkpoints and ``history.json``.

A run folder holds everything one ``nndl train`` produced::

    runs/20250101-120000/
        model.npz        the trained network (nndl .npz; ``nndl.load`` reads it)
        checkpoint.npz   the network plus the trainer's exact position (for --resume)
        history.json     every setting, the seed, versions, the data set and its
                         checksums, per-epoch histories and timings, the run's status
        cost.png  accuracy.png  speed.png   (``nndl.plots.plot_run``)

Every file is written to a temporary file in the folder and then renamed
(``nndl.io.atomic_write``), so a killed process leaves the previous complete version
or nothing, never half a file. A checkpoint is written before the first epoch, after
every epoch and when a run is interrupted; a run that diverges keeps the last good one.

``checkpoint.npz`` is an ordinary nndl model file (``nndl.load`` reads its weights)
whose metadata holds the settings and ``Trainer.state()`` without its arrays; the
arrays (the epoch's permutation, momentum velocities) are stored beside the weights
as ``perm`` and ``v0, v1, ...``. Resuming restores both random generators, the
position inside the epoch and the schedule counters, so a resumed run ends with the
same weights, bit for bit, as a run that was never interrupted.

This module imports only the standard library at the top (the ``nndl`` command
imports it to build its options); NumPy and the engine are imported where used.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nndl.errors import ModelFileError, UsageError
from nndl.plots import RUN_PLOTS
from nndl import _words

log = logging.getLogger(__name__)

MODEL = "model.npz"
CHECKPOINT = "checkpoint.npz"
HISTORY = "history.json"
RUN_FORMAT = "nndl-run"
RUN_FORMAT_VERSION = 1
MAX_HISTORY_BYTES = 64 << 20  # history.json (a 1,000-epoch run is ~1 MB)
STATUSES = ("running", "finished", "interrupted", "diverged", "early-stopping", "eta-schedule")
CHECKPOINT_KIND = "nndl-checkpoint"
N_CLASSES = 10  # digits 0-9: the output layer of the default sizes
DIVERGENCE_FACTOR = 10.0  # a training cost this many times that of the untrained network = diverged
COST_SAMPLE = 1000  # training examples the untrained network's cost is measured on
DEFAULT_HIDDEN = 30  # chapter 1's 784-30-10
# Upper bounds of the settings, checked before anything is allocated (a config file's
# ``expand = 2147483648`` or a mini-batch of 2**32+1 would ask for terabytes).
MAX_SETTING = {
    "mini_batch_size": 1_000_000,
    "epochs": 1_000_000,
    "expand": 100,
    "seed": 2**63 - 1,
    "training_size": 1_000_000_000,
    "early_stopping": 1_000_000,
    "eta_schedule": 1_000_000,
}
MAX_NEURONS = 1_000_000  # in one layer (as nndl.io's model files)
MAX_PARAMETERS = 100_000_000  # weights and biases of a network (800 MB as float64)
MAX_EXPANDED_BYTES = 8 << 30  # the expanded training data (--expand)


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides what ``nndl train`` computes (the book's defaults).

    Field names are the command's options with ``_`` for ``-`` (``mini_batch_size`` is
    ``--mini-batch-size``) and the keys of a ``--config`` TOML file (either spelling).
    """

    data: str = "auto"  # MNIST if found here, else the bundled digits; "mnist", "digits", a path
    data_dir: str | None = None  # folder holding MNIST; else $NNDL_DATA, then the cache
    training_size: int | None = None  # train on the first N training examples only (ch3 uses 1,000)
    evaluate_on: str = "test"  # the book's ch1/ch3 runs report test accuracy; "validation" to tune
    sizes: tuple[int, ...] | None = None  # default [n_in, 30, 10]: ch1's 784-30-10 on MNIST
    cost: str = "cross-entropy"  # ch3; "quadratic" (ch1), "log-likelihood" (softmax output)
    output: str | None = None  # output layer; None = the cost's partner (sigmoid, or softmax)
    hidden: str = "sigmoid"  # hidden neurons: sigmoid, tanh (eq. 109) or relu (eq. 112)
    init: str = "default"  # weights N(0, 1/n_in) as network2; "large" = N(0, 1) (ch1)
    eta: float = 0.5  # learning rate, ch3's cross-entropy runs
    lmbda: float = 0.0  # regularization parameter lambda (eq. 93 / eq. 97)
    regularization: str = "l2"  # "l2" (eq. 93) or "l1" (eq. 97)
    mini_batch_size: int = 10  # m
    epochs: int = 30  # passes over the training data
    momentum: float = 0.0  # mu of eqs. (107)-(108); 0 = plain SGD
    dropout: float = 0.0  # probability of dropping a hidden neuron (ch3 uses 0.5)
    early_stopping: int | None = None  # stop after N epochs without better evaluation accuracy
    eta_schedule: int | None = None  # halve eta after N epochs without improvement; stop at eta/128
    expand: int = 0  # add N rotated and shifted copies of every training image (ch3)
    dtype: str = "float64"  # or "float32"
    seed: int = 0  # the one seed of the run: initial weights, shuffling, dropout, expansion

    # ------------------------------------------------------------------ conversion
    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sizes"] = None if self.sizes is None else list(self.sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> TrainSettings:
        """Settings from a mapping (a config file, a checkpoint); unknown keys are errors."""
        known = set(cls.names())
        values, spelled = {}, {}
        if not isinstance(d, dict):
            raise UsageError(f"{where}: the settings must be a table of names and values")
        for key, value in d.items():
            name = key.replace("-", "_")
            if name not in known:
                raise UsageError(
                    f"{where}: unknown setting {key!r}; known settings: "
                    f"{', '.join(n.replace('_', '-') for n in cls.names())}"
                )
            if name in values:
                raise UsageError(f"{where}: {spelled[name]!r} and {key!r} are the same setting; "
                                 "give it once")
            values[name], spelled[name] = value, key
        return cls().updated(values, where)

    def updated(self, values: dict[str, Any], where: str) -> TrainSettings:
        """A copy with ``values`` (names as fields) converted to each field's type."""
        out = {}
        for f in fields(self):
            if f.name in values:
                out[f.name] = _convert(
                    f.name, values[f.name], getattr(TrainSettings, f.name), where
                )
        return replace(self, **out)

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Raise ``UsageError`` naming the option of the first bad setting."""
        from nndl.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
        from nndl.costs import COSTS
        from nndl.network import INITS, REGULARIZATIONS

        choices = {
            "cost": COSTS,
            "output": (None, *OUTPUT_ACTIVATIONS),
            "hidden": HIDDEN_ACTIVATIONS,
            "init": INITS,
            "regularization": REGULARIZATIONS,
            "dtype": ("float32", "float64"),
            "evaluate_on": ("test", "validation"),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                shown = ", ".join(str(a) for a in allowed if a is not None)
                raise UsageError(
                    f"{_flag(name)}: unknown {name.replace('_', ' ')} {value!r}; "
                    f"choose from {shown}"
                )
        if not self.eta > 0 or self.eta == float("inf"):
            raise UsageError(f"--eta must be a positive number; got {self.eta:g}")
        if not 0 <= self.lmbda < float("inf"):
            raise UsageError(f"--lmbda must be a number >= 0; got {self.lmbda:g}")
        if not 0 <= self.momentum < 1:
            raise UsageError(f"--momentum must be in [0, 1); got {self.momentum:g}")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1); got {self.dropout:g}")
        for name, low in (
            ("mini_batch_size", 1),
            ("epochs", 0),
            ("expand", 0),
            ("seed", 0),
            ("training_size", 1),
            ("early_stopping", 1),
            ("eta_schedule", 1),
        ):
            value = getattr(self, name)
            if value is not None and value < low:
                raise UsageError(f"{_flag(name)} must be at least {low}; got {value}")
            if value is not None and value > MAX_SETTING[name]:
                raise UsageError(f"{_flag(name)} must be at most {MAX_SETTING[name]:,}; got {value:,}")
        from nndl.paths import check_data_options

        check_data_options(self.data, self.data_dir)
        if self.data_dir is not None and self.data in (None, "auto", "mnist"):
            from nndl.data import check_mnist_dir

            check_mnist_dir(self.data_dir)
        if self.sizes is not None and (len(self.sizes) < 2 or min(self.sizes) < 1):
            raise UsageError(
                "--sizes needs at least two layers of at least one neuron; "
                f"got {_sizes_text(self.sizes)}"
            )
        if self.sizes is not None:
            n_params = sum(a * b + b for a, b in zip(self.sizes, self.sizes[1:]))
            if max(self.sizes) > MAX_NEURONS or n_params > MAX_PARAMETERS or len(self.sizes) > 1000:
                raise UsageError(
                    f"--sizes {_sizes_text(self.sizes)}: {n_params:,} parameters; nndl trains "
                    f"networks of at most {MAX_PARAMETERS:,} (and {MAX_NEURONS:,} neurons a layer)"
                )
        for name in ("data", "data_dir"):
            value = getattr(self, name)
            if value is not None and ("\0" in value or len(value) > 4096):
                raise UsageError(f"{_flag(name)}: not a usable path")

    def check_data(self, n_inputs: int, n_classes: int, data_name: str) -> tuple[int, ...]:
        """Layer sizes for data with ``n_inputs`` per example; ``UsageError`` if they don't fit."""
        sizes = self.sizes or (n_inputs, DEFAULT_HIDDEN, max(N_CLASSES, n_classes))
        if sizes[0] != n_inputs:
            fixed = (n_inputs, *sizes[1:])
            raise UsageError(
                f"--sizes {_sizes_text(sizes)} does not fit the data: {data_name} has {n_inputs} "
                f"inputs per example, not {sizes[0]}; try --sizes {_sizes_text(fixed)}"
            )
        if sizes[-1] < n_classes:
            raise UsageError(
                f"--sizes {_sizes_text(sizes)}: the output layer has {sizes[-1]} neurons but "
                f"{data_name} has labels up to {n_classes - 1}"
            )
        return tuple(sizes)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _sizes_text(sizes) -> str:
    return ",".join(str(s) for s in sizes)


def split_list(text: str, option: str, sep: str = ",") -> list[str]:
    """The items of a ``sep``-separated option value, stripped; ``UsageError`` for an empty
    item (``0.1,,1``, a trailing comma) or no item at all: an item the user typed is never
    silently dropped."""
    items = [item.strip() for item in str(text).split(sep)]
    if not any(items):
        raise UsageError(f"{option}: no values in {text!r}")
    if "" in items:
        raise UsageError(f"{option}: an empty item in {text!r} (two {sep!r} in a row, or one at an end)")
    return items


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"784,30,10"`` (or with spaces or x) -> (784, 30, 10)."""
    import re

    parts = re.split(r"\s*[,x]\s*|\s+", text.strip())
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        empty = " (an empty entry)" if "" in parts else ""
        raise UsageError(
            f"--sizes must be whole numbers separated by commas, e.g. 784,30,10; got {text!r}{empty}"
        ) from None
    if min(sizes) < 1:
        raise UsageError(f"--sizes: every layer needs at least one neuron; got {text!r}")
    return sizes


def _convert(name: str, value: Any, default: Any, where: str) -> Any:
    """``value`` as the type of setting ``name`` (whose default is ``default``)."""
    kind = {
        "sizes": "sizes",
        "eta": float,
        "lmbda": float,
        "momentum": float,
        "dropout": float,
        "mini_batch_size": int,
        "epochs": int,
        "expand": int,
        "seed": int,
        "training_size": int,
        "early_stopping": int,
        "eta_schedule": int,
    }.get(name, str)
    if value is None:
        if default is None:
            return None
        raise UsageError(f"{where}: {name.replace('_', '-')} cannot be empty")
    if kind == "sizes":
        if isinstance(value, str):
            return parse_sizes(value)
        if isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return tuple(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
    elif isinstance(value, str):
        if name == "cost":  # one cost, however it is named: "CrossEntropyCost" is "cross-entropy"
            from nndl.costs import cost_name, get_cost

            try:
                return cost_name(get_cost(value))
            except ValueError:
                return value  # check() names the choices
        return value
    wanted = {
        "sizes": "a list of whole numbers",
        float: "a number",
        int: "a whole number",
        str: "a string",
    }[kind]
    raise UsageError(f"{where}: {name.replace('_', '-')} must be {wanted}; got {value!r}")


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a TOML file (flat keys, or under a ``[train]`` table)."""
    from nndl import _validate

    where = f"--config {path}"
    try:
        config = _validate.read_toml(path, UsageError, where)
    except UsageError as exc:  # name the option once, not the path twice
        message = str(exc)
        raise UsageError(message if message.startswith(where) else f"--config {message}") from None
    if isinstance(config.get("train"), dict):
        if set(config) != {"train"}:
            others = ", ".join(sorted(k for k in config if k != "train"))
            raise UsageError(f"{where}: settings both at the top ({others}) and in a [train] table; "
                             "put them all in one place")
        config = config["train"]
    return config


# ---------------------------------------------------------------------- the run folder


def new_run_folder(out: str | os.PathLike[str] | None) -> Path:
    """Create the run folder: ``out``, or ``runs/<date>-<time>`` in the current folder.

    An existing ``out`` is accepted only if it does not already hold a run. Call
    ``check_new_run_folder`` again once the folder's lock is held (``nndl.io.folder_lock``):
    two processes given one ``-o`` at once cannot both start a run there.
    """
    from nndl.errors import FileWriteError

    if out is None:
        base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        folder, k = base, 1
        while True:
            try:
                folder.mkdir(parents=True)  # claimed atomically: no two runs share it
                return folder
            except FileExistsError:
                k += 1
                folder = base.with_name(f"{base.name}-{k}")
            except OSError as exc:
                raise FileWriteError(f"cannot create the run folder {folder}: "
                                     f"{exc.strerror or exc}") from None
    check_out_option(out)
    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot create the run folder {folder}: {exc.strerror or exc}") from None
    return folder


# every file a run may write into its folder (chapter 3's and chapter 6's plots, the report)
RUN_FILES = (MODEL, CHECKPOINT, HISTORY, *RUN_PLOTS, "filters.png", "report.html")


def check_out_option(out: str | os.PathLike[str] | None) -> None:
    """Check ``--out`` before any work starts: not empty, a folder nndl can write, no run in it.

    ``UsageError``: an empty path (it would mean the current folder), a path that cannot be
    a folder, or a folder that holds a run or files a run would overwrite.
    """
    if out is None:
        return
    if not str(out).strip():
        raise UsageError("--out: an empty path; name the run folder (or leave --out out for "
                         "runs/<date>-<time>)")
    from nndl.paths import check_output_dir

    folder = check_output_dir(Path(out).expanduser(), "--out")
    check_new_run_folder(folder)


def check_new_run_folder(folder: Path) -> None:
    """``UsageError`` if ``folder`` is not a folder, already holds a run (or its start), or
    holds files a run would overwrite (``RUN_FILES``: a foreign model.npz, a cost.png)."""
    if (folder / HISTORY).exists() or (folder / CHECKPOINT).exists():
        raise UsageError(
            f"{folder} already holds a run; continue it with --resume {folder}, "
            "or choose another --out"
        )
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: exists and is not a folder")
    clash = [name for name in RUN_FILES if os.path.lexists(folder / name)]
    if clash:
        raise UsageError(f"--out {folder}: holds {', '.join(clash)}, which a run would overwrite; "
                         "choose a new or empty folder")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files a killed process left behind (``.name.XXXX.tmp``).

    Call it only while holding the folder's lock: then no other process is writing them.
    """
    for tmp in folder.glob(".*.tmp"):
        try:
            tmp.unlink()
        except OSError as exc:
            log.debug("cannot remove %s: %s", tmp, exc)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (temporary file, then rename)."""
    from nndl.io import atomic_write

    text = json.dumps(obj, indent=1, allow_nan=True)
    with atomic_write(path, "w") as f:
        f.write(text + "\n")


def read_history(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``history.json`` of a run folder (``ModelFileError`` if missing or corrupt)."""
    from nndl import _validate

    path = Path(folder) / HISTORY
    if not path.exists() and not path.is_symlink():
        raise ModelFileError(f"{path}: no such file; is {folder} a run folder?")
    record = _validate.read_json(path, ModelFileError, MAX_HISTORY_BYTES, "run history")
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise ModelFileError(f"{path}: not an nndl run history")
    return record


def environment() -> dict[str, Any]:
    """Versions of nndl, Python, NumPy and SciPy, and the machine, for ``history.json``."""
    import numpy as np
    import scipy

    from nndl import __version__

    return {
        "nndl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


# ---------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, net, state: dict[str, Any], settings: TrainSettings) -> None:
    """Save ``net`` with ``Trainer.state()`` and the settings (atomically) to ``path``."""
    scalars = {k: v for k, v in state.items() if k not in ("perm", "velocities")}
    arrays = {}
    if state.get("perm") is not None:
        arrays["perm"] = state["perm"]
    velocities = state.get("velocities")
    for l, v in enumerate(velocities or []):
        arrays[f"v{l}"] = v
    scalars["n_velocities"] = None if velocities is None else len(velocities)
    metadata = {"kind": CHECKPOINT_KIND, "settings": settings.to_dict(), "state": scalars}
    from nndl.io import save

    save(net, path, metadata=metadata, arrays=arrays)


def load_checkpoint(path: Path):
    """``(net, settings, state)`` from a checkpoint written by ``save_checkpoint``.

    Everything is checked before use (``check_state`` checks what depends on the data):
    the types and ranges of the trainer's scalars, both random generators' states, the
    velocities' shapes, the history's lists, and that the settings describe the stored
    network. Raises ``ModelFileError`` naming the file and the field.
    """
    import numpy as np

    from nndl import _validate
    from nndl.io import load_npz, network_description

    net, extra, arrays = load_npz(path)
    if not isinstance(extra, dict) or extra.get("kind") != CHECKPOINT_KIND:
        raise ModelFileError(f"{path}: a model file, but not an nndl training checkpoint")
    if not isinstance(extra.get("settings"), dict) or not isinstance(extra.get("state"), dict):
        raise ModelFileError(f"{path}: incomplete checkpoint (no settings or state)")
    try:
        settings = TrainSettings.from_dict(extra["settings"], str(path))
        settings.check()
    except UsageError as exc:
        raise ModelFileError(f"{path}: bad settings in the checkpoint ({exc})") from None
    _check_settings_match(settings, network_description(net), path)
    state = dict(extra["state"])

    def bad(key: str, wanted: str):
        return ModelFileError(f"{path}: checkpoint field {key!r} must be {wanted}; "
                              f"got {_short(state.get(key))}")

    expected = {"epoch", "batch", "eta", "best_accuracy", "epochs_without_improvement",
                "epoch_elapsed", "rng_state", "net_rng_state", "history", "n_velocities"}
    missing = sorted(expected - set(state))
    if missing:
        raise ModelFileError(f"{path}: incomplete checkpoint (missing {', '.join(missing)})")
    for key, low, high in (("epoch", 0, MAX_SETTING["epochs"]), ("batch", 0, 2**40),
                           ("best_accuracy", -1, 2**40),
                           ("epochs_without_improvement", 0, MAX_SETTING["epochs"])):
        if not _validate.plain_int(state[key], low, high):
            raise bad(key, f"a whole number from {low} to {high:,}")
    for key in ("eta", "epoch_elapsed"):
        if not _validate.plain_number(state[key]) or state[key] < 0 or (
                key == "eta" and state[key] == 0):
            raise bad(key, "a finite number " + (">" if key == "eta" else ">=") + " 0")
    for key in ("rng_state", "net_rng_state"):
        if key == "net_rng_state" and state[key] is None:
            continue
        probe = np.random.default_rng(0).bit_generator
        if not isinstance(state[key], dict) or state[key].get("bit_generator") != type(probe).__name__:
            raise bad(key, f"{_words.a(type(probe).__name__)} state")
        try:
            probe.state = state[key]
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ModelFileError(f"{path}: checkpoint field {key!r} is not a valid random "
                                 f"generator state ({exc})") from None
    n_vel = state.pop("n_velocities")
    params = [*net.weights, *net.biases]
    if n_vel is not None and n_vel != len(params):
        raise bad("n_velocities", f"null or {len(params)} (one per weight matrix and bias vector)")
    velocities = None
    if n_vel is not None:
        velocities = []
        for l, p in enumerate(params):
            if f"v{l}" not in arrays:
                raise ModelFileError(f"{path}: checkpoint lacks the momentum velocity v{l}")
            velocities.append(_validate.float_array(arrays[f"v{l}"], f"{path}: velocity v{l}",
                                                    ModelFileError, shape=p.shape))
    state["velocities"] = velocities
    perm = arrays.get("perm")
    if perm is not None and (perm.dtype.kind not in "iu" or perm.ndim != 1):
        raise ModelFileError(f"{path}: checkpoint array 'perm' must be a vector of indices; got "
                             f"{perm.dtype} {perm.shape}")
    state["perm"] = perm
    state["history"] = _check_history(state["history"], state["epoch"], path)
    return net, settings, state


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_settings_match(settings: TrainSettings, network: dict[str, Any], path) -> None:
    """The settings stored with a network must describe that network."""
    want = {"cost": settings.cost, "hidden": settings.hidden, "init": settings.init,
            "dtype": settings.dtype, "dropout": settings.dropout}
    if settings.output is not None:
        want["output"] = settings.output
    if settings.sizes is not None:
        want["sizes"] = list(settings.sizes)
    for key, value in want.items():
        if network.get(key) != value:
            raise ModelFileError(f"{path}: the checkpoint's settings say {key} {value!r} but its "
                                 f"network has {network.get(key)!r}")


_HISTORY_LISTS = ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy",
                  "epoch_seconds", "eta")


def _check_history(history: Any, epochs: int, path) -> dict[str, Any]:
    """A checkpoint's ``TrainingHistory.to_dict()``: lists of numbers, one per epoch at most."""
    from nndl import _validate

    if not isinstance(history, dict):
        raise ModelFileError(f"{path}: checkpoint field 'history' must be an object")
    for key in _HISTORY_LISTS:
        values = history.get(key, [])
        if not isinstance(values, list) or len(values) > epochs or not all(
                _validate.plain_number(v) for v in values):
            raise ModelFileError(f"{path}: history field {key!r} must be a list of at most {epochs} "
                                 f"finite numbers")
    if len(history.get("epoch_seconds", [])) != epochs:
        raise ModelFileError(f"{path}: the history records {len(history.get('epoch_seconds', []))} "
                             f"epochs but the checkpoint is after {epochs}")
    norms = history.get("gradient_norms", [])
    if not isinstance(norms, list) or len(norms) > epochs + 1 or not all(
            isinstance(row, list) and all(_validate.plain_number(v) for v in row) for row in norms):
        raise ModelFileError(f"{path}: history field 'gradient_norms' must be lists of numbers")
    for key in ("n_training", "n_evaluation"):
        if not _validate.plain_int(history.get(key, 0), 0, 2**40):
            raise ModelFileError(f"{path}: history field {key!r} must be a whole number")
    warnings = history.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise ModelFileError(f"{path}: history field 'warnings' must be a list of texts")
    if history.get("stopped") not in (None, "early-stopping", "eta-schedule", "interrupted"):
        raise ModelFileError(f"{path}: history field 'stopped' is {_short(history.get('stopped'))}")
    return history


def check_state(state: dict[str, Any], n: int, mini_batch_size: int, path) -> None:
    """What a checkpoint's state must satisfy for training data of ``n`` examples.

    ``perm`` must be a permutation of 0..n-1 (never clipped into other data), and present
    whenever the checkpoint is inside an epoch; ``batch`` within the epoch's mini-batches.
    """
    import numpy as np

    n_batches = -(-n // mini_batch_size)
    perm = state.get("perm")
    if state["batch"] > n_batches:
        raise ModelFileError(f"{path}: the checkpoint is at mini-batch {state['batch']} of an "
                             f"epoch of {n_batches}")
    if state["batch"] > 0 and perm is None:
        raise ModelFileError(f"{path}: the checkpoint is inside an epoch (mini-batch "
                             f"{state['batch']}) but holds no permutation 'perm'")
    if perm is not None:
        if perm.shape != (n,) or not np.array_equal(np.bincount(
                np.clip(perm, 0, n), minlength=n + 1)[:n], np.ones(n, np.int64)) or (
                perm.min(initial=0) < 0 or perm.max(initial=0) >= n):
            raise ModelFileError(f"{path}: the checkpoint's 'perm' is not a permutation of the "
                                 f"{n:,} training examples")
        state["perm"] = perm.astype(np.int64)


def _check_record_fields(data: dict[str, Any], network: dict[str, Any], where: Path) -> None:
    """The ``data`` and ``network`` fields of history.json that ``--resume`` reads: their types."""
    from nndl import _validate

    def bad(field_name: str, wanted: str, value: Any):
        return ModelFileError(f"{where}: '{field_name}' must be {wanted}; got {_short(value)}")

    checksums = data.get("checksums", {})
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        raise bad("data.checksums", "an object of texts", checksums)
    for key, optional in (("name", True), ("description", False)):
        value = data.get(key)
        if not (isinstance(value, str) or (optional and value is None)):
            raise bad(f"data.{key}", "text", value)
    if not _validate.plain_int(data.get("n_inputs"), 1, 10**9):
        raise bad("data.n_inputs", "a whole number", data.get("n_inputs"))
    sizes = network.get("sizes")
    if not isinstance(sizes, list) or not 2 <= len(sizes) <= 1000 or not all(
            _validate.plain_int(v, 1, 10**9) for v in sizes):
        raise bad("network.sizes", "a list of whole numbers", sizes)
    for key in ("cost", "hidden", "output", "init", "dtype"):
        if not isinstance(network.get(key), str):
            raise bad(f"network.{key}", "a name", network.get(key))
    if not _validate.plain_number(network.get("dropout", 0.0)):
        raise bad("network.dropout", "a number", network.get("dropout"))


@dataclass
class RunRecord:
    """What ``history.json`` says about a run; ``write`` saves it atomically."""

    folder: Path
    settings: TrainSettings
    data: dict[str, Any]  # name, description, source, checksums, sizes of the sets
    network: dict[str, Any]  # sizes, cost, output, hidden, init, dtype, dropout
    environment: dict[str, Any] = field(default_factory=environment)
    status: str = (
        "running"  # running, finished, interrupted, diverged, early-stopping, eta-schedule
    )
    message: str | None = None
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    sessions: list[dict[str, Any]] = field(default_factory=list)  # one per start or resume
    initial_cost: float | None = None  # training cost of the untrained network (divergence test)

    def to_dict(self, history: dict[str, Any]) -> dict[str, Any]:
        epochs = len(history.get("epoch_seconds", []))
        acc = history.get("evaluation_accuracy") or []
        n_eval = history.get("n_evaluation") or 0
        best = max(range(len(acc)), key=acc.__getitem__) if acc else None
        return {
            "format": RUN_FORMAT,
            "format_version": RUN_FORMAT_VERSION,
            "status": self.status,
            "message": self.message,
            "started": self.started,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "epochs_completed": epochs,
            "seconds_training": sum(history.get("epoch_seconds", [])),
            "best_evaluation_accuracy": None if best is None else acc[best] / n_eval,
            "best_epoch": best,
            "initial_training_cost": self.initial_cost,
            "settings": self.settings.to_dict(),
            "seed": self.settings.seed,
            "data": self.data,
            "network": self.network,
            "environment": self.environment,
            "sessions": self.sessions,
            "files": {  # what is in the folder now, not what a finished run would hold
                "model": MODEL if (self.folder / MODEL).is_file() else None,
                "checkpoint": CHECKPOINT if (self.folder / CHECKPOINT).is_file() else None,
                "plots": [name for name in RUN_PLOTS if (self.folder / name).exists()],
            },
            "history": history,
        }

    def write(self, history: dict[str, Any]) -> None:
        write_json(self.folder / HISTORY, self.to_dict(history))

    @classmethod
    def from_file(cls, folder: Path) -> RunRecord:
        from nndl import _validate

        d = read_history(folder)
        where = folder / HISTORY
        for key, kind in (("settings", dict), ("data", dict), ("network", dict),
                          ("environment", dict), ("status", str), ("started", str),
                          ("sessions", list)):
            if not isinstance(d.get(key), kind):
                raise ModelFileError(f"{where}: incomplete run history ('{key}' must be a "
                                     f"{kind.__name__})")
        if d["status"] not in STATUSES:
            raise ModelFileError(f"{where}: unknown status {_short(d['status'])}")
        _check_record_fields(d["data"], d["network"], where)
        cost = d.get("initial_training_cost")
        if cost is not None and not _validate.plain_number(cost):
            raise ModelFileError(f"{where}: 'initial_training_cost' must be a number")
        if d.get("message") is not None and not isinstance(d.get("message"), str):
            raise ModelFileError(f"{where}: 'message' must be text")
        try:
            return cls(
                folder=folder,
                settings=TrainSettings.from_dict(d["settings"], str(folder / HISTORY)),
                data=d["data"],
                network=d["network"],
                environment=d["environment"],
                status=d["status"],
                message=d.get("message"),
                started=d["started"],
                sessions=list(d.get("sessions", [])),
                initial_cost=d.get("initial_training_cost"),
            )
        except (KeyError, TypeError, UsageError) as exc:
            raise ModelFileError(f"{folder / HISTORY}: incomplete run history ({exc})") from None


# ---------------------------------------------------------------------- a training session


def load_data(settings: TrainSettings, name: str | None = None):
    """The ``DataSplits`` the settings name; ``name`` pins "auto" to what a run used before."""
    import numpy as np

    from nndl.data import load_dataset

    which = settings.data
    if which == "auto" and name in ("mnist", "digits"):
        which = name  # a resumed run keeps its data even if MNIST has appeared since
    return load_dataset(which, data_dir=settings.data_dir, dtype=np.dtype(settings.dtype))


def seed_generators(seed: int):
    """Three independent generators from one seed: [0] the initial weights, [1] the shuffling
    and dropout masks, [2] the data expansion (``numpy.random.SeedSequence.spawn``)."""
    import numpy as np

    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


def _seeds(settings: TrainSettings):
    return seed_generators(settings.seed)


def check_training_size(training_size: int | None, splits) -> None:
    """``UsageError`` if --training-size asks for more examples than the data's training split
    holds (never a silent cut to what there is); chapters 3 and 6 alike."""
    if training_size is not None and training_size > len(splits.training.y):
        raise UsageError(
            f"--training-size {training_size}: {splits.name} has only "
            f"{len(splits.training.y):,} training examples"
        )


def check_expand(settings: TrainSettings, nbytes: int) -> None:
    """``UsageError`` if ``--expand`` would make training data of ``nbytes`` too large."""
    expanded = (1 + settings.expand) * nbytes
    if expanded > MAX_EXPANDED_BYTES:
        raise UsageError(
            f"--expand {settings.expand}: the expanded training data would take "
            f"{expanded / 2**30:.1f} GiB (at most {MAX_EXPANDED_BYTES / 2**30:.0f}); use fewer "
            "copies, --training-size or --dtype float32"
        )


def prepare_data(settings: TrainSettings, splits):
    """``(training, evaluation)``: the training head, expansion and evaluation set asked for."""
    from nndl.data import expand

    training = splits.training
    if settings.training_size is not None:
        check_training_size(settings.training_size, splits)
        training = training.head(settings.training_size)
    if settings.expand:
        check_expand(settings, training.X.nbytes)
        log.info(
            "expanding the training data: %d rotated and shifted copies of %s images",
            settings.expand,
            f"{len(training.y):,}",
        )
        try:
            training = expand(training, _seeds(settings)[2], copies=settings.expand)
        except ValueError as exc:
            raise UsageError(f"--expand: {exc}") from None
    evaluation = splits.test if settings.evaluate_on == "test" else splits.validation
    return training, evaluation


def data_info(settings: TrainSettings, splits, training, evaluation) -> dict[str, Any]:
    return {
        "name": splits.name,
        "description": splits.description,
        "source": splits.source,
        "checksums": dict(splits.checksums),
        "n_inputs": int(training.X.shape[1]),
        "n_training": len(training.y),
        "n_evaluation": len(evaluation.y),
        "evaluate_on": settings.evaluate_on,
    }


def _session_entry(state_epoch: int, state_batch: int) -> dict[str, Any]:
    from nndl import __version__

    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epoch": state_epoch,
        "batch": state_batch,
        "nndl": __version__,
    }


def build_network(settings: TrainSettings, data_name: str, training, evaluation):
    """The untrained network the settings describe, for this data (``UsageError`` if unfit)."""
    from nndl.network import Network

    n_classes = int(max(training.y.max(), evaluation.y.max())) + 1
    sizes = settings.check_data(training.X.shape[1], n_classes, data_name)
    try:
        return Network(
            sizes,
            settings.cost,
            init=settings.init,
            hidden=settings.hidden,
            output=settings.output,
            dtype=settings.dtype,
            dropout=settings.dropout,
            rng=_seeds(settings)[0],
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def initial_cost(net, training, settings: TrainSettings) -> float:
    """The untrained network's training cost on the first ``COST_SAMPLE`` examples."""
    k = min(COST_SAMPLE, len(training.y))
    return net.total_cost(
        training.X[:k], training.y[:k], settings.lmbda, len(training.y), settings.regularization
    )


def check_divergence(epoch: int, history, start_cost: float | None, eta: float) -> None:
    """Raise ``DivergenceError`` if the last epoch's costs are not finite, or the training
    cost rose above ``DIVERGENCE_FACTOR`` times the untrained network's ``start_cost``."""
    import math

    from nndl.errors import DivergenceError

    for key in ("training_cost", "evaluation_cost"):
        values = getattr(history, key)
        if values and not math.isfinite(values[-1]):
            raise DivergenceError(
                f"training diverged in epoch {epoch}: the {key.replace('_', ' ')} is "
                f"{values[-1]}; try a smaller eta than {eta:g}"
            )
    if history.training_cost and start_cost and history.training_cost[-1] > DIVERGENCE_FACTOR * start_cost:
        raise DivergenceError(
            f"training diverged in epoch {epoch}: the training cost rose from {start_cost:.3g} "
            f"(untrained) to {history.training_cost[-1]:.3g}; try a smaller eta than {eta:g}"
        )


class Session:
    """One training session of a run: a new run (``start``) or a continued one (``resume``).

    It owns the run's ``Trainer`` and writes the folder: a checkpoint and ``history.json``
    before the first epoch and after every epoch, and the model and plots at the end.
    """

    def __init__(
        self, record: RunRecord, net, training, evaluation, state: dict | None = None
    ) -> None:
        from nndl.training import Trainer

        s = record.settings
        self.record = record
        self.folder = record.folder
        self.net = net
        self.draw_plots = True
        try:
            self.trainer = Trainer(
                net,
                training,
                s.epochs,
                s.mini_batch_size,
                s.eta,
                s.lmbda,
                evaluation,
                regularization=s.regularization,
                momentum=s.momentum,
                monitor_evaluation_cost=True,
                monitor_evaluation_accuracy=True,
                monitor_training_cost=True,
                monitor_training_accuracy=True,
                monitor_gradient_norms=True,
                early_stopping=s.early_stopping,
                eta_schedule=s.eta_schedule,
                rng=_seeds(s)[1],
                on_epoch=self._on_epoch,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if state is not None:
            self.trainer.restore(state)
        elif record.initial_cost is None:
            record.initial_cost = initial_cost(net, training, s)
        self.last_good = (
            self.trainer.history.to_dict()
        )  # the history saved with the last checkpoint
        self.record.sessions.append(_session_entry(self.trainer.epoch, self.trainer.batch))

    @classmethod
    def start(cls, settings: TrainSettings, splits, folder: Path) -> Session:
        """A new run in ``folder`` (which ``new_run_folder`` made)."""
        from nndl.io import network_description

        training, evaluation = prepare_data(settings, splits)
        net = build_network(settings, splits.name, training, evaluation)
        record = RunRecord(
            folder, settings, data_info(settings, splits, training, evaluation), network_description(net)
        )
        session = cls(record, net, training, evaluation)
        log.info("run folder: %s", folder)
        record.write(session.last_good)  # first: a folder with a checkpoint always has a history
        session.checkpoint()
        return session

    @classmethod
    def resume(
        cls, record: RunRecord, settings: TrainSettings, splits, net, state: dict
    ) -> Session:
        """Continue the run of ``record`` from a checkpoint's ``net`` and ``state``."""
        from nndl.errors import DataError

        if record.data is None:  # history.json was never written: killed after the checkpoint
            training, evaluation = prepare_data(settings, splits)
            record.data = data_info(settings, splits, training, evaluation)
        if dict(splits.checksums) != record.data.get("checksums") or splits.name != record.data.get(
            "name"
        ):
            raise DataError(
                f"--resume {record.folder}: the data found now ({splits.description}) "
                "differ from the "
                f"run's ({record.data.get('description')}); continuing needs the same data"
            )
        from nndl.io import network_description

        remove_stale_temporaries(record.folder)
        record.settings = settings
        record.network = network_description(net)  # the checkpoint's network is the truth
        record.status, record.message = "running", None
        training, evaluation = prepare_data(settings, splits)
        check_state(state, len(training.y), settings.mini_batch_size, record.folder / CHECKPOINT)
        session = cls(record, net, training, evaluation, state)
        log.info(
            "resuming %s at epoch %d, mini-batch %d", record.folder, state["epoch"], state["batch"]
        )
        record.write(session.last_good)
        return session

    # ------------------------------------------------------------------ writing
    def checkpoint(self) -> None:
        """Save the checkpoint and history.json (in that order: the history never runs ahead)."""
        history = self.trainer.history.to_dict()
        save_checkpoint(
            self.folder / CHECKPOINT, self.net, self.trainer.state(), self.record.settings
        )
        self.last_good = history
        self.record.write(history)

    def _on_epoch(self, epoch: int, history, net) -> None:
        check_divergence(epoch, history, self.record.initial_cost, self.trainer.eta)
        self.checkpoint()

    def plots(self, history: dict[str, Any]) -> None:
        from nndl.plots import plot_run

        if not self.draw_plots:
            return
        try:
            plot_run(self.folder, history, self.record.settings.evaluate_on)
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            log.warning("could not draw the plots: %s", exc)

    def interrupted(self) -> None:
        self.record.status = "interrupted"
        self.plots(self.trainer.history.to_dict())  # before history.json, which lists them
        self.checkpoint()

    def diverged(self, exc: Exception) -> str:
        """Record a divergence (keeping the last good checkpoint); return the user's message."""
        epochs = len(self.last_good["epoch_seconds"])
        where = f"after epoch {epochs - 1}" if epochs else "before the first epoch"
        message = f"{exc}; the last good checkpoint ({where}) is in {self.folder / CHECKPOINT}"
        self.record.status, self.record.message = "diverged", str(exc)
        self.plots(self.last_good)
        self.record.write(self.last_good)  # its "files" say: no model.npz
        return message

    def finished(self) -> None:
        from nndl.io import save

        history = self.trainer.history
        self.record.status = history.stopped or "finished"
        save(
            self.net,
            self.folder / MODEL,
            metadata={
                "kind": "nndl-model",
                "data": {k: self.record.data[k] for k in ("name", "description", "n_inputs")},
                "settings": self.record.settings.to_dict(),
                "run": str(self.folder),
            },
        )
        self.plots(history.to_dict())
        self.checkpoint()  # last: history.json lists the model and plots now present

    def summary(self) -> str:
        """What the run did, for stdout."""
        record, h = self.record, self.trainer.history
        s = record.settings
        net = record.network
        t = self.trainer
        seconds = sum(h.epoch_seconds) + (t.epoch_elapsed if t.batch else 0.0)
        if record.status == "interrupted" and t.batch:
            n_batches = -(-len(t.X) // t.mini_batch_size)
            progress = (f"{h.epochs} of {s.epochs} epochs complete, interrupted in epoch {t.epoch} "
                        f"after mini-batch {t.batch} of {n_batches}, in {seconds:.1f} s")
        else:
            progress = f"{h.epochs} of {s.epochs} epochs ({record.status}) in {seconds:.1f} s"
        lines = [
            f"run folder:  {self.folder}",
            f"data:        {record.data['description']}",
            (
                f"network:     {net['sizes']}, {net['cost']} cost, "
                f"{net['hidden'] + ' hidden' if len(net['sizes']) > 2 else 'no hidden layer'}, "
                f"{net['output']} output, "
                f"{net['init']} init"
            ),
            (
                f"training:    eta {s.eta:g}, lmbda {s.lmbda:g}, mini-batch {s.mini_batch_size}, "
                f"seed {s.seed}; {progress}"
            ),
        ]
        if h.evaluation_accuracy:
            acc, n = h.evaluation_accuracy, h.n_evaluation
            best = max(range(len(acc)), key=acc.__getitem__)
            lines.append(
                f"{s.evaluate_on} accuracy: {100 * acc[-1] / n:.2f} % ({acc[-1]:,} / {n:,}) "
                "after epoch "
                f"{len(acc) - 1}; best {100 * acc[best] / n:.2f} % after epoch {best}"
            )
        if record.status == "interrupted" or not (self.folder / MODEL).is_file():
            lines.append(
                f"checkpoint:  {self.folder / CHECKPOINT}  (nndl train --resume {self.folder})"
            )
        else:
            lines.append(f"model:       {self.folder / MODEL}")
        for warning in h.warnings:  # e.g. stuck at chance: said on stderr too, and in history.json
            lines.append(f"warning:     {warning.split(':', 1)[0]} (see the log above and history.json)")
        return "\n".join(lines)


# ---------------------------------------------------------------- models for evaluate / predict


def load_model(path: str | os.PathLike[str]):
    """``(net, metadata, file)`` from a model file (.npz or network2 .json) or a run folder.

    A run folder gives its ``model.npz``; if it has none (the run was interrupted, diverged
    or killed), its ``checkpoint.npz`` with a warning saying how far it was trained, and
    a ``ModelFileError`` if that checkpoint is the untrained network. ``metadata`` is what
    ``nndl train`` stored with the model ({} for JSON).
    """
    from nndl.io import load, load_npz

    path = Path(path).expanduser()
    if path.is_dir():
        if (path / MODEL).is_file():
            path = path / MODEL
        elif (path / CHECKPOINT).is_file():
            from nndl.network3 import is_layered_file, load_npz as load_layered

            if is_layered_file(path / CHECKPOINT):  # a chapter-6 run: Trainer3's state, whole epochs
                net, metadata, _ = load_layered(path / CHECKPOINT)
                trainer = metadata.get("trainer") if isinstance(metadata.get("trainer"), dict) else {}
                state = {"epoch": trainer.get("epoch"), "batch": 0}
            else:
                net, metadata, _ = load_npz(path / CHECKPOINT)
                state = metadata.get("state") if isinstance(metadata.get("state"), dict) else {}
            epoch, batch = state.get("epoch"), state.get("batch")
            try:
                status = read_history(path).get("status")
            except ModelFileError:
                status = None
            why = f"the run is {status}" if isinstance(status, str) else "the run did not finish"
            if epoch == 0 and batch == 0:
                raise ModelFileError(
                    f"{path}: no {MODEL} ({why}) and its {CHECKPOINT} is the untrained network "
                    "(saved before the first mini-batch); there is no trained model to use"
                )
            log.warning("%s: no %s (%s); using %s, the network after %s%s", path, MODEL,
                        why, CHECKPOINT, _words.count(epoch, "epoch"), f" and {_words.count(batch, 'mini-batch', 'mini-batches')}" if batch else "")
            return net, metadata, path / CHECKPOINT
        else:
            raise ModelFileError(
                f"{path}: a folder without {MODEL} or {CHECKPOINT}; not a run folder"
            )
    if path.suffix.lower() == ".npz":
        from nndl.network3 import is_layered_file, load_npz as load_layered  # chapter 6's networks

        net, metadata, _ = (load_layered if is_layered_file(path) else load_npz)(path)
        return net, metadata if isinstance(metadata, dict) else {}, path
    return load(path), {}, path


def model_data(metadata: dict[str, Any], n_inputs: int) -> str | None:
    """The built-in data set a model is for: its metadata's name, else a guess from its inputs.

    Only the names "mnist" and "digits" are ever returned: a model file never chooses a
    path for nndl to read (a model trained on a user's .npz needs ``--data``).
    """
    data = metadata.get("data") if isinstance(metadata.get("data"), dict) else {}
    name = data.get("name")
    if name in ("mnist", "digits"):
        expected = {"mnist": 784, "digits": 64}[name]
        return name if expected == n_inputs else None
    return {784: "mnist", 64: "digits"}.get(n_inputs)
