"""Hyper-parameter sweeps (chapter 3's "broad strategy"): many training runs, one table.

A sweep is a set of *cells*: training settings (``nndl.runs.TrainSettings``) times seeds.
The settings come from a grid (every combination of the values given per setting) or
from random samples (``samples`` draws; a setting is a list of choices or a uniform /
log-uniform range). Every cell is one ``nndl train`` run, built the same way (the same
network, generators and data), evaluated on the validation data unless asked otherwise,
so the command printed for the best cell reproduces its numbers exactly.

Cells run in this process (``jobs=1``), in ``jobs`` worker processes through joblib
(one BLAS thread each), or on a Dask distributed cluster (``scheduler="tcp://host:port"``).
The data are shipped once per worker, never once per cell: joblib workers memory-map
one copy of the arrays written to the sweep folder; on Dask the data are one task's
result (``PackedSplits``: MNIST's pixels as uint8) that every cell on a worker reuses.

The output folder::

    <out>/results.jsonl     one JSON line per finished cell, appended as it finishes
    <out>/sweep.json        the sweep's definition (base settings, axes, seeds)
    <out>/summary.json      the settings ranked by mean best accuracy over seeds
    <out>/best.toml         the best settings, for ``nndl train --config``
    <out>/accuracy-<setting>.png, heatmap-<a>-<b>.png

Running the same sweep again into the same folder computes only the cells that have no
row yet (an interrupted sweep resumes; a cell lost with a worker is recomputed). A cell
that fails (diverges, NaN, out of memory, any exception) becomes a row with its error.
One sweep at a time may write a folder (a ``filelock`` lock file, ``.sweep.lock``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nndl._cores import usable_cores
from nndl._words import count
from nndl.errors import NndlError, UsageError
from nndl.runs import TrainSettings, split_list

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
DEFINITION = "sweep.json"
SUMMARY = "summary.json"
BEST = "best.toml"
LOCK = ".sweep.lock"
SHARED_DATA = ".data"  # memory-mapped arrays for joblib workers (removed after the sweep)
STARTED = "started"  # in SHARED_DATA: one empty file per cell a joblib worker has started
READY = "ready"  # in SHARED_DATA: written once every array is there
WATCH_SECONDS = 0.5  # how often a joblib worker checks that the sweep's process is still there
WARM_UP_WAIT = 300  # seconds a joblib worker's warm-up waits for the data (then the first cell opens them)
# Settings that are the sweep's frame, not one cell's: one value for the whole sweep.
FIXED = ("data", "data_dir", "evaluate_on")
DISTRIBUTIONS = ("uniform", "loguniform")
MAX_CELLS = 10_000  # cells of one sweep: each trains a network; more is a mistake, not a plan
LOCAL_RETRIES = 3  # times a joblib pool whose worker died is restarted for the missing cells
CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler
CONNECT_GRACE = 10  # more seconds for the handshake after that, then an error
WORKER_WAIT = 120  # seconds a sweep waits for a Dask cluster without workers before it gives up
POLL_SECONDS = 5  # how often a Dask sweep waiting for cells checks that the cluster still has workers
# A cell's results: numbers in an "ok" row, null in an "error" row (every row has every field)
RESULT_FIELDS = ("best_accuracy", "best_epoch", "final_accuracy", "training_cost", "training_accuracy",
                 "evaluation_cost", "epochs", "stopped", "accuracy_curve")
TIMING_FIELDS = ("seconds", "cpu_seconds", "finished", "host", "pid")  # what differs between two runs of a cell


@dataclass(frozen=True)
class Distribution:
    """A range to sample: ``uniform`` or ``loguniform`` (log of the value uniform) on [low, high]."""

    kind: str
    low: float
    high: float

    def sample(self, rng, integer: bool) -> float | int:
        if self.kind == "loguniform":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return int(round(value)) if integer else float(value)

    def text(self) -> str:
        return f"{self.kind}:{self.low:g}:{self.high:g}"


Axis = list | Distribution


# ---------------------------------------------------------------------- definition
def _kind(name: str) -> type:
    default = getattr(TrainSettings, name)
    if name in ("eta", "lmbda", "momentum", "dropout"):
        return float
    if name in ("mini_batch_size", "epochs", "expand", "seed", "training_size", "early_stopping",
                "eta_schedule"):
        return int
    return type(default) if default is not None and name != "sizes" else str


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_value(name: str, text: str, option: str | None = None) -> Any:
    """One value of setting ``name`` from command-line text (checked by ``TrainSettings``);
    ``option`` names the option in errors (default ``--name``)."""
    text = text.strip()
    option = option or _flag(name)
    if name == "sizes":
        return text
    kind = _kind(name)
    if text.lower() in ("none", "off") and getattr(TrainSettings, name) is None:
        return None
    if kind in (int, float):
        if kind is int and len(text) <= 100:
            try:
                return int(text)  # exactly as typed: "99999999999999999999999" stays that number
            except ValueError:
                pass
        try:
            number = float(text)
        except ValueError:
            raise UsageError(f"{option}: {text!r} is not a number") from None
        if kind is int:
            if not number.is_integer() or abs(number) > 2**53:  # 1e3 is 1000; 1e30 is not exact
                raise UsageError(f"{option}: {text!r} is not a whole number (write it with digits)")
            return int(number)
        return number
    return text


def parse_axis(name: str, text: str, option: str | None = None) -> Axis:
    """``"0.1,1.0"`` -> [0.1, 1.0]; ``"loguniform:0.01:10"`` -> a Distribution.

    ``--sizes`` separates its alternatives by ``/`` (``784,30,10/784,100,10``), since
    one value already holds commas.
    """
    option = option or _flag(name)
    head = text.split(":", 1)[0].strip().lower()
    if head in DISTRIBUTIONS:
        parts = text.split(":")
        if len(parts) != 3 or _kind(name) not in (int, float):
            raise UsageError(f"{option} {text}: a range is {head}:LOW:HIGH, for a numeric setting")
        low, high = parse_value(name, parts[1], option), parse_value(name, parts[2], option)
        return distribution(name, head, low, high)
    return [parse_value(name, p, option) for p in split_list(text, option, "/" if name == "sizes" else ",")]


def distribution(name: str, kind: str, low: float, high: float) -> Distribution:
    if kind not in DISTRIBUTIONS:
        raise UsageError(f"{_flag(name)}: unknown distribution {kind!r}; choose from {', '.join(DISTRIBUTIONS)}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UsageError(f"{_flag(name)}: a range needs finite LOW and HIGH; got {low:g}, {high:g}")
    if not low < high:
        raise UsageError(f"{_flag(name)}: a range needs LOW < HIGH; got {low:g}, {high:g}")
    if kind == "loguniform" and low <= 0:
        raise UsageError(f"{_flag(name)}: a log-uniform range needs LOW > 0; got {low:g}")
    return Distribution(kind, float(low), float(high))


@dataclass(frozen=True)
class Cell:
    """One training run of the sweep: its full settings (with the seed) and the swept values."""

    settings: TrainSettings
    varied: dict[str, Any]
    key: str

    def task(self) -> dict[str, Any]:
        """What a worker needs (plain data, cheap to send)."""
        return {"key": self.key, "settings": self.settings.to_dict(), "varied": self.varied}


@dataclass
class SweepSpec:
    """A sweep: base settings, the swept settings (axes), seeds, and grid or random sampling.

    ``axes`` maps a ``TrainSettings`` name to a list of values (a grid axis, or choices
    when sampling) or a ``Distribution`` (sampling only). ``samples=None`` is a grid.
    """

    base: TrainSettings = field(default_factory=lambda: TrainSettings(evaluate_on="validation"))
    axes: dict[str, Axis] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    samples: int | None = None
    sample_seed: int | None = None  # None: 0 (a seed given without ``samples`` is an error)

    def check(self) -> None:
        """Raise ``UsageError`` naming the first bad part (checks every cell's settings)."""
        from nndl.runs import MAX_SETTING

        for name, axis in self.axes.items():
            if name not in TrainSettings.names() or name == "seed":
                raise UsageError(f"cannot sweep {name!r}: sweep training settings, and seeds with --seeds")
            if name in FIXED:
                raise UsageError(f"{_flag(name)} is one value for the whole sweep, not a list")
            if isinstance(axis, list) and not axis:
                raise UsageError(f"{_flag(name)}: an empty list of values (a sweep of no cells)")
        # the seed rule of nndl train (--seed), for each seed and for the draws' seed
        for option, values in (("--seeds", list(self.seeds)), ("--sample-seed", [self.sample_seed or 0])):
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise UsageError(f"{option} needs whole numbers >= 0; got {values}")
            if min(values) < 0:
                raise UsageError(f"{option} must be at least 0; got {min(values)}")
            if max(values) > MAX_SETTING["seed"]:
                raise UsageError(f"{option} must be at most {MAX_SETTING['seed']:,}; got {max(values)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise UsageError(f"--seeds lists a seed twice: {list(self.seeds)}")
        if self.samples is None:
            if self.sample_seed is not None:
                raise UsageError("--sample-seed is the seed of random search's draws: it needs --samples N")
            for name, axis in self.axes.items():
                if isinstance(axis, Distribution):
                    raise UsageError(f"{_flag(name)} {axis.text()}: a range needs --samples N (random search)")
        elif self.samples < 1:
            raise UsageError(f"--samples must be at least 1; got {self.samples}")
        n_points = self.samples if self.samples is not None else math.prod(len(a) for a in self.axes.values())
        if n_points * len(self.seeds) > MAX_CELLS:
            raise UsageError(f"the sweep has {n_points * len(self.seeds):,} cells; more than the {MAX_CELLS:,} "
                             "nndl runs in one sweep (each cell trains a network): sweep fewer values")
        self.base.check()
        for cell in self.cells():
            cell.settings.check()
            if cell.settings.epochs < 1:  # a cell of 0 epochs has no validation accuracy to rank
                raise UsageError(f"--epochs must be at least 1 in a sweep; got {cell.settings.epochs}")

    def points(self) -> list[dict[str, Any]]:
        """The swept values of each distinct setting, in a stable order."""
        names = list(self.axes)
        if self.samples is None:
            return [dict(zip(names, combo)) for combo in itertools.product(*(self.axes[n] for n in names))]
        import numpy as np

        rng = np.random.default_rng(self.sample_seed or 0)
        points = []
        for _ in range(self.samples):
            point = {}
            for n in names:
                axis = self.axes[n]
                if isinstance(axis, Distribution):
                    point[n] = axis.sample(rng, _kind(n) is int)
                else:
                    point[n] = axis[int(rng.integers(len(axis)))]
            points.append(point)
        return points

    def cells(self, data_id: str = "") -> list[Cell]:
        """Every cell: each point times each seed, each once; ``data_id`` enters the keys."""
        out: dict[str, Cell] = {}
        for point in self.points():
            settings = self.base.updated(point, "sweep")
            for seed in self.seeds:
                s = replace(settings, seed=int(seed))
                varied = {k: (list(v) if isinstance(v, tuple) else v) for k, v in
                          ((n, getattr(s, n)) for n in self.axes)}
                key = cell_key(s, data_id)
                out.setdefault(key, Cell(s, varied, key))  # a value given twice, or drawn twice: one cell
        return list(out.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "axes": {n: (a.text() if isinstance(a, Distribution) else [list(v) if isinstance(v, tuple) else v
                                                                         for v in a])
                     for n, a in self.axes.items()},
            "seeds": list(self.seeds),
            "samples": self.samples,
            "sample_seed": self.sample_seed,
        }


def cell_key(settings: TrainSettings, data_id: str) -> str:
    """A stable name for a cell: a hash of its settings (not where the data live) and the data."""
    d = settings.to_dict()
    d.pop("data_dir")
    text = json.dumps({"settings": d, "data": data_id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spec_from_toml(config: dict[str, Any], where: str) -> SweepSpec:
    """A sweep from a TOML mapping: a list is an axis (a list of lists for ``sizes``), a table
    ``{loguniform = [LOW, HIGH]}`` a range, a scalar a base setting; plus ``seeds``,
    ``samples`` and ``sample_seed``."""
    base: dict[str, Any] = {}
    axes: dict[str, Axis] = {}
    seeds, samples, sample_seed = (0,), None, None
    for key, value in config.items():
        name = key.replace("-", "_")
        if name == "seeds":
            seeds = tuple(_ints(value, where, "seeds"))
        elif name == "samples":
            samples = _int(value, where, key)
        elif name == "sample_seed":
            sample_seed = _int(value, where, key)
        elif name not in TrainSettings.names():
            raise UsageError(f"{where}: unknown setting {key!r}")
        elif isinstance(value, dict):
            if len(value) != 1:
                raise UsageError(f"{where}: {key} = a table with one range, e.g. {{loguniform = [0.01, 10]}}")
            (kind, bounds), = value.items()
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise UsageError(f"{where}: {key}.{kind} must be [LOW, HIGH]")
            axes[name] = distribution(name, kind, float(bounds[0]), float(bounds[1]))
        elif isinstance(value, list) and (name != "sizes" or (value and isinstance(value[0], list))):
            axes[name] = value
        else:
            base[name] = value
    spec = SweepSpec(TrainSettings(evaluate_on="validation").updated(base, where), {}, seeds, samples, sample_seed)
    for name, axis in axes.items():
        if isinstance(axis, list):  # convert each value as TrainSettings would
            axis = [getattr(spec.base.updated({name: v}, where), name) for v in axis]
        spec.axes[name] = axis
    return spec


def _int(value, where: str, name: str) -> int:
    """One whole number of a TOML file (``samples = 4``)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{where}: {name} must be a whole number; got {value!r}")
    return value


def _ints(values, where: str, name: str) -> list[int]:
    if not isinstance(values, list):
        raise UsageError(f"{where}: {name} must be a list of whole numbers, e.g. {name} = [0, 1]; got {values!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise UsageError(f"{where}: {name} must be whole numbers; got {values!r}")
    return values


# ---------------------------------------------------------------------- one cell
_SHARED: dict[str, Any] = {}  # per worker process: data opened once, reused by every cell


@dataclass(frozen=True)
class SharedData:
    """Where a joblib worker finds the data: .npy files it memory-maps once per process."""

    folder: str
    name: str
    description: str

    @classmethod
    def of(cls, splits, folder: Path) -> SharedData:
        """Where ``splits`` will be (``write`` puts them there)."""
        return cls(str(folder), splits.name, splits.description)

    def write(self, splits, threads: int = 1) -> None:
        """Write the arrays as .npy files for the workers to memory-map, ``threads`` writing at once
        (a slice of every array each); ``READY`` last.

        The copy into the files is the cost, not the disk (the files are read while still in the
        page cache): every page is new memory, and on the VMs measured here memory left unused
        for some seconds costs ~1.7 ms per MB to touch first (the guest gives free memory back to
        its host): MNIST's 376 MB took 0.4-0.7 s of CPU. A file's write runs without the GIL (measured,
        busy machine, 16 s idle before each: np.save 0.11-1.59 s, median 1.11; 2 threads 0.20-1.34 s,
        median 0.54).
        """
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np
        from numpy.lib import format as npy

        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max(1, threads)) as pool:
            writes = []
            for part in ("training", "validation", "test"):
                for name, array in zip(("X", "y"), getattr(splits, part)):
                    array = np.ascontiguousarray(array)
                    path = folder / f"{part}.{name}.npy"
                    with open(path, "wb") as f:
                        npy.write_array_header_1_0(f, npy.header_data_from_array_1_0(array))
                        start = f.tell()
                    data = memoryview(array.reshape(-1)).cast("B")
                    step = max(1, -(-len(data) // max(1, threads)))
                    writes += [pool.submit(_write_at, path, data[i:i + step], start + i)
                               for i in range(0, len(data), step)]
            for w in writes:
                w.result()
        (folder / READY).touch()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``write`` to finish; True if it has."""
        ready = Path(self.folder) / READY
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def open(self, touch: bool = False):
        """The ``DataSplits`` (mapped once per process, reused by every cell); ``touch``: map every
        page of the arrays into this process now (else the first cell does, as it reads them)."""
        splits = _SHARED.get(self.folder)
        if splits is None:
            import numpy as np

            from nndl.data import Dataset, DataSplits

            parts = {}
            for part in ("training", "validation", "test"):
                parts[part] = Dataset(np.load(Path(self.folder) / f"{part}.X.npy", mmap_mode="r"),
                                      np.load(Path(self.folder) / f"{part}.y.npy", mmap_mode="r"))
            splits = DataSplits(self.name, parts["training"], parts["validation"], parts["test"],
                                self.folder, {}, self.description)
            _SHARED.clear()
            _SHARED[self.folder] = splits
        if touch:
            import mmap

            import numpy as np

            for part in ("training", "validation", "test"):
                for a in getattr(splits, part):
                    if a.size:  # one byte of every page (the arrays are C-contiguous .npy data)
                        np.asarray(a).reshape(-1).view(np.uint8)[::mmap.PAGESIZE].max()
        return splits


def _write_at(path: Path, data: memoryview, offset: int) -> None:
    """All of ``data`` at ``offset`` of the existing file ``path`` (a raw write may write less at once)."""
    with open(path, "r+b", buffering=0) as f:
        f.seek(offset)
        while data:
            data = data[f.write(data):]


def _aligned(splits):
    """``splits`` with every array aligned to its item size: one copy per worker process, if needed.

    Dask can hand a worker arrays that start at any byte of a received message (pickle-5
    buffers); NumPy's gather and BLAS on such unaligned arrays made a cell 10x slower
    (measured: 3.0 s vs 0.3 s for one epoch of 5,000 MNIST images).
    """
    parts = ("training", "validation", "test")
    if all(a.flags.aligned for p in parts for a in getattr(splits, p)):
        return splits
    cached = _SHARED.get("aligned")
    if cached is not None and cached[0] is splits:
        return cached[1]
    from nndl.data import Dataset

    fixed = replace(splits, **{p: Dataset(*(a if a.flags.aligned else a.copy() for a in getattr(splits, p)))
                               for p in parts})
    _SHARED["aligned"] = (splits, fixed)
    return fixed


PACK_CHUNK = 1_000  # rows checked at once when packing (temporaries that stay in the CPU's cache)


def _pixels(X):
    """The uint8 pixels k of ``X`` if every entry of ``X`` is exactly k/255 as ``nndl.data`` computes
    it (bit for bit, in X's dtype), else ``None``. Proved by rebuilding, ``PACK_CHUNK`` rows at once."""
    import numpy as np

    from nndl.data import _features

    if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        return None
    bits = np.uint64 if X.dtype == np.float64 else np.uint32
    out = np.empty(X.shape, np.uint8)
    k = np.empty((min(PACK_CHUNK, len(X)), X.shape[1]), X.dtype)
    for i in range(0, len(X), PACK_CHUNK):
        chunk = X[i:i + PACK_CHUNK]
        ki = k[:len(chunk)]
        np.multiply(chunk, 255, out=ki)
        np.rint(ki, out=ki)
        with np.errstate(invalid="ignore"):  # NaN, or out of 0..255: the comparison below fails
            np.copyto(out[i:i + len(chunk)], ki, casting="unsafe")
        rebuilt = _features(out[i:i + len(chunk)], X.dtype, "sweep data")
        if not np.array_equal(rebuilt.view(bits), np.ascontiguousarray(chunk).view(bits)):  # -0.0 is not 0.0
            return None
    return out


@dataclass(frozen=True)
class PackedSplits:
    """``DataSplits`` as sent to Dask workers: images that are exactly k/255 of uint8 pixels k
    (MNIST's) travel as those pixels, 8x fewer bytes than float64, and are rebuilt bit for bit
    once per worker process (``open``); other arrays travel as they are."""

    splits: Any  # DataSplits whose X are uint8 pixels for the parts in ``packed``
    packed: tuple[str, ...]
    dtype: str  # the float dtype the pixels are rebuilt in

    @classmethod
    def pack(cls, splits) -> PackedSplits:
        from nndl.data import Dataset

        packed, parts = [], {}
        for part in ("training", "validation", "test"):
            data = getattr(splits, part)
            pixels = _pixels(data.X)
            if pixels is not None:
                parts[part] = Dataset(pixels, data.y)
                packed.append(part)
        log.info("sweep data: %s sent as uint8 pixels", ", ".join(packed) or "nothing")
        return cls(replace(splits, **parts), tuple(packed), str(splits.training.X.dtype))

    def open(self):
        """The ``DataSplits`` (built once per process, reused by every cell)."""
        cached = _SHARED.get("packed")
        if cached is not None and cached[0] is self:
            return cached[1]
        from nndl.data import Dataset, _features

        splits = _aligned(self.splits)
        splits = replace(splits, **{p: Dataset(_features(getattr(splits, p).X, self.dtype, "sweep data"),
                                               getattr(splits, p).y) for p in self.packed})
        _SHARED["packed"] = (self, splits)
        return splits


def run_cell(task: dict[str, Any], data) -> dict[str, Any]:
    """Train one cell; return its results row. Never raises for a failure of the cell itself:
    any exception (divergence, NaN, MemoryError, bad settings) becomes ``status="error"``.

    ``data`` is a ``DataSplits``, a ``SharedData`` (joblib workers) or a ``PackedSplits``
    (Dask workers). Training runs on one BLAS thread (``Trainer.run``); the evaluation of the
    whole training set afterwards uses the threads BLAS has: one in a joblib worker (loky
    limits it), the default in this process (``jobs=1``), as ``nndl train`` does.
    """
    import numpy as np

    from nndl import runs
    from nndl.training import Trainer

    started, cpu_started = time.perf_counter(), time.process_time()
    settings = TrainSettings.from_dict(task["settings"], "sweep cell")
    row: dict[str, Any] = {"key": task["key"], "varied": task["varied"], "seed": settings.seed,
                           "status": "ok", "error": None, **dict.fromkeys(RESULT_FIELDS)}
    try:
        splits = data.open() if isinstance(data, (SharedData, PackedSplits)) else _aligned(data)
        training, evaluation = runs.prepare_data(settings, splits)
        net = runs.build_network(settings, splits.name, training, evaluation)
        start_cost = runs.initial_cost(net, training, settings)
        trainer = Trainer(net, training, settings.epochs, settings.mini_batch_size, settings.eta,
                          settings.lmbda, evaluation, regularization=settings.regularization,
                          momentum=settings.momentum, monitor_evaluation_cost=True,
                          monitor_evaluation_accuracy=True, early_stopping=settings.early_stopping,
                          # the training cost after every epoch, as nndl train monitors it: its
                          # divergence rule (runs.check_divergence) then stops a cell in the same
                          # epoch, with the same message, as the printed `nndl train` command
                          monitor_training_cost=True, monitor_training_accuracy=True,
                          eta_schedule=settings.eta_schedule, rng=runs.seed_generators(settings.seed)[1],
                          on_epoch=lambda e, h, n: runs.check_divergence(e, h, start_cost, trainer.eta))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported
            h = trainer.run()
        accuracies = [c / h.n_evaluation for c in h.evaluation_accuracy]
        if not accuracies:  # SweepSpec.check asks for epochs >= 1: cannot happen; never an "ok" row
            raise RuntimeError("the cell trained no epoch: no accuracy")
        best = int(np.argmax(accuracies))
        row.update({
            "best_accuracy": accuracies[best],
            "best_epoch": best,
            "final_accuracy": accuracies[-1],
            "training_cost": h.training_cost[-1],
            "training_accuracy": h.training_accuracy[-1] / len(training.y),
            "evaluation_cost": h.evaluation_cost[-1] if h.evaluation_cost else None,
            "epochs": h.epochs,
            "stopped": h.stopped,
            "accuracy_curve": accuracies,
        })
    except Exception as exc:  # noqa: BLE001 - a failing cell is a result, not a crash of the sweep
        row.update({"status": "error", "error": f"{type(exc).__name__}: {exc}", **dict.fromkeys(RESULT_FIELDS)})
    row.update({
        "evaluate_on": settings.evaluate_on,
        "settings": {k: v for k, v in settings.to_dict().items() if k != "data_dir"},
        "seconds": round(time.perf_counter() - started, 4),
        "cpu_seconds": round(time.process_time() - cpu_started, 4),  # < seconds: the cell waited for a core
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    })
    return row


def error_row(cell: Cell, exc: BaseException) -> dict[str, Any]:
    """The row of a cell that the cluster gave up on (it killed its workers: out of memory?)."""
    return {"key": cell.key, "varied": cell.varied, "seed": cell.settings.seed, "status": "error",
            "error": " ".join(f"{type(exc).__name__}: {exc}".split()), **dict.fromkeys(RESULT_FIELDS),
            "evaluate_on": cell.settings.evaluate_on,
            "settings": {k: v for k, v in cell.settings.to_dict().items() if k != "data_dir"},
            "seconds": None, "cpu_seconds": None, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": None,
            "pid": None}


# ---------------------------------------------------------------------- executors
_WATCHED: list[int] = []  # per worker process: the sweep's pid its watchdog watches (one watchdog)


def _watch_sweep(sweep_pid: int | None) -> None:
    """In a joblib worker: a daemon thread that ends this process (``os._exit``) within
    ``WATCH_SECONDS`` of the sweep's process ``sweep_pid`` being gone. A sweep killed with
    SIGKILL tells its workers nothing: loky's workers then waited, idle, for its idle timeout
    (minutes, ~180 MB each). Idempotent: started by the warm-up and by every cell (a worker
    that loky started to replace another one runs no warm-up)."""
    if sweep_pid is None or _WATCHED or sweep_pid == os.getpid():
        return
    _WATCHED.append(sweep_pid)
    parent = os.getppid()

    def alive() -> bool:
        if os.getppid() != parent:  # the parent died: this process was handed to init (or a subreaper)
            return False
        try:
            os.kill(sweep_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # there, another user's (cannot be ours, but is not gone)
            return True
        return True

    def watch() -> None:
        while alive():
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="nndl-sweep-watchdog").start()


def _warm_up(shared: SharedData | None = None, sweep_pid: int | None = None) -> None:
    """A joblib worker's first task: import what a cell needs, then open the data once this
    process has written them (``shared``; their pages mapped into the worker).

    Opening the data here keeps the worker: loky measures a worker's memory after its first
    task and replaces a worker that has grown by more than 300 MB since then (its leak check,
    with psutil). MNIST's arrays in float64 are 376 MB: a worker that mapped them in its first
    cell was replaced after it, by a new process that started, imported and mapped the data
    again (measured: 4 cells of 5 epochs on MNIST with --jobs 2 ran in 4 worker processes, now
    in 2; 16.4 s before, 11.9 s now, minima of 4 sweeps each on a busy machine).

    ``sweep_pid``: the sweep's process; this worker exits soon after it is gone (``_watch_sweep``)."""
    import gc

    _watch_sweep(sweep_pid)

    import nndl.network  # noqa: F401
    import nndl.runs  # noqa: F401
    import nndl.training  # noqa: F401

    # A previous sweep's data (this worker kept them mapped) are dropped first: their memory is then
    # free, and used, as this process writes this sweep's (measured, writes of MNIST with 16 s idle
    # before each sweep, busy machine: 0.20-0.86 s, median 0.32, instead of 0.82-1.80 s, median 1.18)
    if _SHARED:
        _SHARED.clear()
        gc.collect()  # a cell's objects that held the arrays can be in reference cycles
    if shared is not None and shared.wait(WARM_UP_WAIT):
        shared.open(touch=True)


def _run_here(cells: Sequence[Cell], splits, on_row) -> None:
    for cell in cells:
        on_row(run_cell(cell.task(), splits))


def _started(cell_fn, task: dict[str, Any], shared: SharedData, sweep_pid: int | None = None) -> dict[str, Any]:
    """In a joblib worker: mark the cell as started (a file named by its key), then run it.
    ``cell_fn`` is ``run_cell``, sent as this process sees it (tests replace it); ``sweep_pid``
    as for ``_warm_up``."""
    _watch_sweep(sweep_pid)
    (Path(shared.folder) / STARTED / task["key"]).touch()
    return cell_fn(task, shared)


def _run_joblib(cells: Sequence[Cell], splits, jobs: int, on_row, folder: Path) -> None:
    """``jobs`` (>= 2) loky processes; a pool whose worker died is restarted for the cells still missing.

    The cells that had started when a worker died run again one at a time (one worker busy):
    a cell that kills its worker then (out of memory, a crash in native code) becomes a row
    with the error (``TerminatedWorkerError``); the others finish. ``NndlError`` when workers
    die ``LOCAL_RETRIES`` + 1 times outside any cell.
    """
    from joblib import Parallel, delayed, parallel_config
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    shared: list[SharedData] = []
    started = folder / SHARED_DATA / STARTED

    def tasks(todo):
        """First one warm-up per worker, then the cells: joblib starts the workers and hands them
        the warm-up before it asks for the first cell, so the workers start and import nndl while
        this process writes the data for them (measured on a busy machine: writing MNIST took
        0.2-0.7 s, a worker's start and imports 0.5-0.9 s, one after the other before); each
        warm-up then waits for the data and maps them (``_warm_up``)."""
        if not shared:
            shared.append(SharedData.of(splits, folder / SHARED_DATA))
            yield from (delayed(_warm_up)(shared[0], os.getpid()) for _ in range(jobs))
            shared[0].write(splits, threads=min(jobs, usable_cores()))  # the workers wait for it
            started.mkdir(exist_ok=True)
        yield from (delayed(_started)(run_cell, c.task(), shared[0], os.getpid()) for c in todo)

    def run(todo, done: set[str]) -> None:
        with parallel_config(backend="loky", inner_max_num_threads=1):
            # pre_dispatch: more tasks than warm-ups, so that joblib asks for the first cell (and this
            # process writes the data) before any warm-up, which waits for the data, has finished
            results = Parallel(n_jobs=jobs, return_as="generator_unordered", max_nbytes=None, batch_size=1,
                               pre_dispatch="2*n_jobs")(tasks(todo))
            for row in results:
                if row is not None:  # a warm-up's
                    done.add(row["key"])
                    on_row(row)

    try:
        todo, deaths = list(cells), 0
        while todo:
            done: set[str] = set()
            try:
                run(todo, done)
                return
            except TerminatedWorkerError as exc:
                todo = [c for c in todo if c.key not in done]
                suspects = [c for c in todo if (started / c.key).exists()]
                for path in started.iterdir() if started.exists() else ():
                    path.unlink()
                if not suspects:
                    deaths += 1
                    if deaths > LOCAL_RETRIES:
                        raise NndlError(f"worker processes kept dying ({exc.__class__.__name__}); "
                                        f"{count(len(todo), 'cell')} missing; rerun the same command to resume"
                                        ) from None
                log.warning("a worker process died; restarting the pool for the missing %s "
                            "(the %d that had started first, one at a time)", count(len(todo), "cell"), len(suspects))
                for cell in suspects:
                    try:
                        run([cell], done)
                    except TerminatedWorkerError as alone:  # it killed its worker again, alone this time
                        log.warning("a cell killed its worker process twice (%s); recorded as failed", cell.varied)
                        on_row(error_row(cell, alone))
                todo = [c for c in todo if c not in suspects]
    finally:
        import shutil

        shutil.rmtree(folder / SHARED_DATA, ignore_errors=True)


def _identity(x):
    return x


def _connect(scheduler: str):
    """A ``distributed.Client`` for ``scheduler``; ``NndlError`` at once if nothing listens there."""
    from distributed import Client

    if scheduler.startswith("tcp://"):  # refused at once, where Client would retry for its timeout
        host, _, port = scheduler[len("tcp://"):].rstrip("/").rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
        except ValueError:
            raise UsageError(f"--scheduler {scheduler}: an address is tcp://HOST:PORT") from None
        except OSError as exc:
            raise NndlError(f"--scheduler {scheduler}: cannot connect ({exc.strerror or exc}); "
                            "is `dask scheduler` running there?") from None
    # On a thread, with a deadline: Client's timeout does not bound the handshake with a server
    # that accepts and then says nothing (an HTTP server), and a server that answers with
    # something else (an SSH banner) fails inside distributed's message parsing, with any error.
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except BaseException as exc:  # noqa: BLE001 - reported by the calling thread
            box["error"] = exc

    thread = threading.Thread(target=connect, daemon=True, name="nndl-dask-connect")
    thread.start()
    thread.join(CONNECT_TIMEOUT + CONNECT_GRACE)
    if thread.is_alive():
        raise NndlError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                        f"{CONNECT_TIMEOUT + CONNECT_GRACE:g} s; is `dask scheduler` running there?")
    exc = box.get("error")
    if exc is None:
        return box["client"]
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
        raise exc
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    raise NndlError(f"--scheduler {scheduler}: cannot connect ({reason}); is a Dask scheduler "
                    "listening there?") from None


def _run_dask(cells: Sequence[Cell], splits, scheduler: str, on_row) -> None:
    """On the Dask cluster at ``scheduler``: the data sent once to every worker that runs a cell.

    The data are the result of a task (not scattered): scattered data are lost for good once
    every worker holding them has died (a cell that kills its worker kills one after another),
    while a task's result is recomputed. A cell whose workers keep dying becomes a row with
    Dask's ``KilledWorker`` (after ``distributed.scheduler.allowed-failures`` deaths).
    ``NndlError`` if no worker is there for ``WORKER_WAIT`` seconds.
    """
    try:
        import dask
        from distributed import TimeoutError as DaskTimeout
    except ImportError:
        raise NndlError("--scheduler needs Dask distributed: pip install 'nndl[sweep]'") from None
    with _connect(scheduler) as client:
        if not client.nthreads():
            log.warning("the cluster at %s has no workers; waiting up to %g s for one to join", scheduler, WORKER_WAIT)
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except (TimeoutError, DaskTimeout):
                raise _no_workers(scheduler) from None
        log.info("cluster %s: %d workers", scheduler, len(client.nthreads()))
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "64 GiB"}):  # the data: sent once
            data = client.submit(_identity, PackedSplits.pack(splits), key=f"nndl-data-{os.urandom(8).hex()}",
                                 pure=False)
        killed = _dask_cells(client, scheduler, cells, data, on_row)
        # A worker holds the cell it runs and the next one queued for it, and Dask counts both
        # when the worker dies: a cell queued behind one that kills its workers can be given up
        # on too. Each given-up cell runs again alone: then its own workers' deaths are its own.
        for cell in killed:
            _dask_cells(client, scheduler, [cell], data, on_row, alone=True)


class _ClusterGone(NndlError):
    """The cluster has had no workers for ``WORKER_WAIT`` (not a cell's own error: the sweep stops)."""


def _no_workers(scheduler: str) -> NndlError:
    return _ClusterGone(f"the cluster at {scheduler} has had no workers for {WORKER_WAIT:g} s; start some "
                     f"(`dask worker {scheduler}`), then run the same command again to resume")


class _Idle:
    """How long a cluster has had no workers: ``check`` raises ``_ClusterGone`` once it passes ``WORKER_WAIT``."""

    def __init__(self, client, scheduler: str):
        self.client, self.scheduler, self.since = client, scheduler, None

    def check(self) -> None:
        if self.client.nthreads():
            self.since = None
        elif self.since is None:
            self.since = time.monotonic()
            log.warning("the cluster at %s has lost all its workers; waiting up to %g s for one to join",
                        self.scheduler, WORKER_WAIT)
        elif time.monotonic() - self.since > WORKER_WAIT:
            raise _no_workers(self.scheduler)


def _result(future, idle: _Idle):
    """``future.result()``, watching the cluster meanwhile: a finished cell's result lives on the worker
    that ran it, and if that worker dies Dask recomputes it, which waits forever on a cluster with no
    workers left."""
    from distributed import TimeoutError as DaskTimeout

    while True:
        try:
            return future.result(timeout=POLL_SECONDS)
        except (TimeoutError, DaskTimeout):
            idle.check()


def _dask_cells(client, scheduler: str, cells: Sequence[Cell], data, on_row, alone: bool = False) -> list[Cell]:
    """Run ``cells`` on the cluster; record their rows; return those Dask gave up on (``KilledWorker``),
    unrecorded, unless ``alone``."""
    from distributed import KilledWorker, wait
    from distributed import TimeoutError as DaskTimeout

    suffix = "-alone" if alone else ""
    by_future = {client.submit(run_cell, c.task(), data, key=f"nndl-cell-{c.key}{suffix}", pure=False): c
                 for c in cells}
    pending, idle, killed = set(by_future), _Idle(client, scheduler), []
    while pending:
        try:
            done, pending = wait(pending, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
        except (TimeoutError, DaskTimeout):  # nothing finished meanwhile: are there still workers?
            idle.check()
            continue
        for future in done:
            cell = by_future.pop(future)
            try:
                row = _result(future, idle)
            except _ClusterGone:  # (not a row: the sweep stops)
                raise
            except KilledWorker as exc:
                if not alone:
                    killed.append(cell)
                    log.warning("a cell's workers died while running it (%s); it runs again alone at the end",
                                cell.varied)
                    continue
                row = error_row(cell, exc)
            except Exception as exc:  # noqa: BLE001 - the cluster lost it: a row with its error
                row = error_row(cell, exc)
            finally:
                future.release()  # forgotten by the cluster: not recomputed if its worker dies later
            on_row(row)
    return killed


# ---------------------------------------------------------------------- results file
STATUSES = ("ok", "error")


def succeeded(row: dict[str, Any]) -> bool:
    """The one definition of a successful cell: status "ok" with a best accuracy (every other row failed)."""
    return row.get("status") == "ok" and _number(row.get("best_accuracy"))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def row_problem(row: Any) -> str | None:
    """Why ``row`` is not a results row this module wrote (``None`` if it is one)."""
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("key"), str):
        return "no cell key"
    if row.get("status") not in STATUSES:
        return f"status {row.get('status')!r} is neither 'ok' nor 'error'"
    if not isinstance(row.get("varied"), dict) or not isinstance(row.get("settings"), dict):
        return "no settings"
    if not isinstance(row.get("seed"), int) or isinstance(row.get("seed"), bool):
        return "no seed"
    try:
        TrainSettings.from_dict(row["settings"], "its settings")
    except UsageError as exc:
        return str(exc)
    if row["status"] == "ok" and not (_number(row.get("best_accuracy"))
                                      and isinstance(row.get("best_epoch"), int)
                                      and not isinstance(row.get("best_epoch"), bool)):
        return "status 'ok' without a best accuracy and epoch"
    if row["status"] == "error" and not isinstance(row.get("error"), str):
        return "status 'error' without its error"
    return None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file. A line that is not a row (cut short by a killed sweep, not
    UTF-8, not JSON, not a row of this module: an unknown status, an "ok" without accuracy)
    is skipped with a warning: its cell is recomputed."""
    from nndl._validate import loads_json
    from nndl.errors import DataError

    if not path.exists():
        return []
    rows = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = loads_json(line, "")
                problem = row_problem(row)
            except DataError as exc:
                problem = str(exc).removeprefix(": ")
            if problem is not None:
                log.warning("%s: line %d is not a results row (%s; a sweep killed while writing it?); "
                            "its cell will be recomputed", path, number, problem[:200])
                continue
            rows.append(row)
    return rows


class _Appender:
    """Appends rows to the results file, one JSON line each, flushed and synced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a line cut short: start on a fresh one
                    with open(path, "a", encoding="utf-8") as g:
                        g.write("\n")

    def __call__(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, allow_nan=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


# ---------------------------------------------------------------------- running a sweep
@dataclass
class SweepResult:
    spec: SweepSpec
    cells: list[Cell]
    rows: list[dict[str, Any]]  # the latest row of every cell of this sweep, in cell order
    computed: int  # cells computed by this call (the others were in the file already)
    folder: Path


def data_id(splits) -> str:
    """Names the data for the cell keys: the data set and its files' checksums."""
    return json.dumps({"name": splits.name, "checksums": dict(sorted(splits.checksums.items()))}, sort_keys=True)


def _needed(splits, evaluate_on: str, cells: Sequence[Cell] = ()):
    """The data the cells use (less to ship to workers): the unused evaluation set left out, and
    the training set cut to the largest ``training_size`` of ``cells`` if every cell has one."""
    from nndl.data import Dataset

    unused = "test" if evaluate_on == "validation" else "validation"
    data = getattr(splits, unused)
    parts = {unused: Dataset(data.X[:0], data.y[:0])}
    sizes = [c.settings.training_size for c in cells]
    if sizes and None not in sizes and max(sizes) < len(splits.training.y):
        parts["training"] = splits.training.head(max(sizes))
    return replace(splits, **parts)


SCHEDULER_SCHEMES = ("tcp", "tls")


def check_scheduler(address: str) -> None:
    """``UsageError`` unless ``address`` is a Dask scheduler address ``tcp://HOST:PORT`` (or ``tls://``)
    with a port in 1..65535: checked before any work, where Dask would fail after the data are read."""
    scheme, sep, rest = address.partition("://")
    rest = rest.rstrip("/")
    host, colon, port = rest.rpartition(":")
    example = "an address is tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
    if not sep or scheme.lower() not in SCHEDULER_SCHEMES:
        raise UsageError(f"--scheduler {address}: {example}")
    if not colon or not host.strip("[]") or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"--scheduler {address}: {example} (a port from 1 to 65535)")


def _log_training_size(cells: Sequence[Cell], splits) -> None:
    """With --training-size, a line after the data's own (which counts the whole training split)
    that says how many training examples the cells train on."""
    sizes = sorted({c.settings.training_size for c in cells if c.settings.training_size is not None})
    if not sizes:
        return
    n = len(splits.training.y)
    used = [f"{x:,}" for x in sizes] + (["all"] if any(c.settings.training_size is None for c in cells) else [])
    log.info("data: the cells train on the first %s of these %s training examples (--training-size %s)",
             " or ".join(used), f"{n:,}", ",".join(str(x) for x in sizes))


def _fits_the_data(cells: Sequence[Cell], splits, evaluate_on: str) -> None:
    """``UsageError`` for the first cell whose settings do not fit the data (layer sizes, labels,
    --training-size): the checks ``nndl train`` makes before training, made for every cell first."""
    import numpy as np

    from nndl.runs import check_expand

    n_training, n_inputs = splits.training.X.shape
    n_classes = int(max(splits.training.y.max(), getattr(splits, evaluate_on).y.max())) + 1  # as build_network
    for cell in cells:
        s = cell.settings
        s.check_data(n_inputs, n_classes, splits.name)
        if s.training_size is not None and s.training_size > n_training:
            raise UsageError(f"--training-size {s.training_size}: {splits.name} has only "
                             f"{n_training:,} training examples")
        if s.expand:
            check_expand(s, (s.training_size or n_training) * n_inputs * np.dtype(s.dtype).itemsize)


def run_sweep(spec: SweepSpec, folder: str | os.PathLike[str], *, jobs: int | None = None,
              scheduler: str | None = None,
              splits=None, retry_failed: bool = False,
              on_start: Callable[[int, int], None] | None = None,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run the cells of ``spec`` that ``folder`` has no row for; return every cell's row.

    Parameters
    ----------
    jobs : int, optional
        Worker processes on this machine (joblib, loky); 1 (the default) runs the cells in this process;
        -1: as many as the cores this process may use (``usable_cores``).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); not with ``jobs`` (the cluster's workers
        are the jobs).
    splits : nndl.data.DataSplits, optional
        The data; default: loaded as the base settings say.
    retry_failed : bool
        Also recompute cells whose row records an error.
    on_start(todo, total), on_row(row) : callables, optional
        Called before the first cell and as each cell finishes (after its row is written).

    Raises
    ------
    UsageError
        Bad settings (of any cell, or for the data), ``jobs`` < 1 other than -1, ``jobs`` with ``scheduler``,
        a scheduler address that is not ``tcp://HOST:PORT``; all before any cell runs.
    NndlError
        Another sweep holds the folder's lock; the cluster is unreachable.
    """
    from filelock import FileLock, Timeout

    from nndl import runs

    spec.check()
    if scheduler is not None:
        check_scheduler(scheduler)
        if jobs is not None:
            raise UsageError(f"--jobs {jobs} with --scheduler: the cluster's workers run the cells; "
                             "give one of the two")
    jobs = 1 if jobs is None else jobs
    cores = usable_cores()
    if jobs == -1:  # as joblib's and scikit-learn's n_jobs=-1
        jobs = cores
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, or -1 for every core this process may use; got {jobs}")
    if jobs > cores:
        log.warning("--jobs %d is more than the %s this process may use: the cells will share them",
                    jobs, count(cores, "core"))
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise NndlError(f"{folder} is being written by another nndl sweep (lock {folder / LOCK}); "
                        "wait for it to finish or choose another --out") from None
    try:
        import shutil

        # what a killed --jobs sweep left (the workers' copy of the data): ours now, under the lock
        shutil.rmtree(folder / SHARED_DATA, ignore_errors=True)
        if splits is None:  # float64 when dtype is swept: a float32 cell casts it, and k/255 rounded
            # from float64 to float32 equals k/255 computed in float32 for every k in 0..255
            splits = runs.load_data(replace(spec.base, dtype="float64") if "dtype" in spec.axes else spec.base)
        cells = spec.cells(data_id(splits))
        _fits_the_data(cells, splits, spec.base.evaluate_on)
        _log_training_size(cells, splits)
        path = folder / RESULTS
        runs.write_json(folder / DEFINITION, {"format": "nndl-sweep", "version": 1, **spec.to_dict(),
                                              "data": splits.description, "cells": len(cells)})
        keys = {c.key for c in cells}
        latest = {r["key"]: r for r in read_rows(path) if r["key"] in keys}
        todo = [c for c in cells if c.key not in latest or (retry_failed and not succeeded(latest[c.key]))]
        if spec.samples is not None:  # draws that coincide (a few choices, a range of few whole numbers): one cell
            distinct = len({json.dumps(c.varied, sort_keys=True) for c in cells})
            if distinct < spec.samples:
                log.warning("random search: %s gave %s (the same values drawn again): %s", count(spec.samples, "draw"),
                            count(distinct, "distinct setting"), count(len(cells), "cell"))
        log.info("sweep: %s, %d already in %s, %d to run", count(len(cells), "cell"), len(cells) - len(todo), path,
                 len(todo))
        if on_start is not None:
            on_start(len(todo), len(cells))
        append = _Appender(path)

        def record(row: dict[str, Any]) -> None:
            append(row)
            latest[row["key"]] = row
            if on_row is not None:
                on_row(row)

        if todo:
            splits = _needed(splits, spec.base.evaluate_on, todo)
            if scheduler:
                _run_dask(todo, splits, scheduler, record)
            elif jobs == 1:
                _run_here(todo, splits, record)
            else:  # even one cell runs in a worker: one that kills its process (out of memory) must not
                # kill the sweep; and 2 at least, since joblib runs n_jobs=1 in this process
                _run_joblib(todo, splits, max(2, min(jobs, len(todo))), record, folder)
        rows = [latest[c.key] for c in cells if c.key in latest]
        return SweepResult(spec, cells, rows, len(todo), folder)
    finally:
        lock.release()


# ---------------------------------------------------------------------- summary
@dataclass
class Group:
    """The cells of one setting (all seeds): best accuracies and failures."""

    varied: dict[str, Any]
    settings: TrainSettings  # with the first seed
    accuracies: list[float]
    epochs: list[int]
    errors: list[str]

    @property
    def mean(self) -> float:
        return sum(self.accuracies) / len(self.accuracies) if self.accuracies else float("nan")


def groups(result: SweepResult) -> list[Group]:
    """One group per setting, best first (mean best accuracy over seeds; failures last)."""
    by_point: dict[str, Group] = {}
    for row in result.rows:
        point = json.dumps(row["varied"], sort_keys=True)
        g = by_point.get(point)
        if g is None:
            settings = TrainSettings.from_dict(row["settings"], "results")
            g = by_point[point] = Group(row["varied"], settings, [], [], [])
        if succeeded(row):
            g.accuracies.append(row["best_accuracy"])
            g.epochs.append(row["best_epoch"])
        else:
            g.errors.append(row.get("error") or "no accuracy")
    return sorted(by_point.values(), key=lambda g: (bool(g.errors) or not g.accuracies, -g.mean
                                                     if g.accuracies else 0.0))


def _value_text(v: Any, exact: bool = False) -> str:
    """A value as short text; ``exact``: text that reads back as the same value (for commands)."""
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}" if not exact or float(f"{v:g}") == v else repr(v)
    return str(v)


def train_command(settings: TrainSettings) -> str:
    """The ``nndl train`` command line for ``settings`` (options that differ from the defaults)."""
    import shlex

    default = TrainSettings()
    parts = ["nndl", "train"]
    for name in TrainSettings.names():
        value = getattr(settings, name)
        if value != getattr(default, name) and value is not None:
            parts += [_flag(name), _value_text(value, exact=True)]
    return " ".join(shlex.quote(p) for p in parts)


def best_toml(settings: TrainSettings) -> str:
    """The settings as a ``nndl train --config`` file (those that differ from the defaults)."""
    default = TrainSettings()
    lines = ["# the best cell of an nndl sweep: nndl train --config best.toml"]
    for name in TrainSettings.names():
        value = getattr(settings, name)
        if value == getattr(default, name) or value is None:
            continue
        if isinstance(value, tuple):
            text = "[" + ", ".join(str(v) for v in value) + "]"
        elif isinstance(value, str):
            text = json.dumps(value)
        else:
            text = repr(value)
        lines.append(f"{name} = {text}")
    return "\n".join(lines) + "\n"


def point_text(varied: dict[str, Any]) -> str:
    """A cell's swept values as ``eta=0.5 lmbda=0``: one text for the log lines and the summary."""
    return " ".join(f"{k}={_value_text(v)}" for k, v in varied.items())


def summary_lines(result: SweepResult, top: int = 5) -> list[str]:
    """The ranking table and the best settings as a command, for stdout."""
    gs = groups(result)
    n_err = failed(result)
    which = result.spec.base.evaluate_on
    lines = [f"{len(result.rows)} of {count(len(result.cells), 'cell')} done ({result.computed} computed now, "
             f"{n_err} failed); best {which} accuracy over {count(len(result.spec.seeds), 'seed')}:"]
    for g in gs[:top]:
        point = point_text(g.varied) or "(base settings)"
        if g.accuracies:
            spread = f" [{min(g.accuracies):.4f}, {max(g.accuracies):.4f}]" if len(g.accuracies) > 1 else ""
            # the upper median of the best epochs: an epoch that occurred ([4, 7] -> 7), as docs/sweep.md says
            text = f"{g.mean:.4f}{spread}, best epoch {sorted(g.epochs)[len(g.epochs) // 2]}"
        else:
            text = "failed"
        if g.errors:
            text += f"; {len(g.errors)} failed: {g.errors[0]}"
        lines.append(f"  {point}: {text}")
    if len(gs) > top:
        lines.append(f"  ... {len(gs) - top} more in {result.folder / SUMMARY}")
    if gs and gs[0].accuracies:
        best = gs[0]
        lines.append("best settings, as a command:")
        lines.append("  " + train_command(best.settings))
    else:
        lines.append("no cell finished without an error")
    return lines


def failed(result: SweepResult) -> int:
    """Cells whose row is not a success (``succeeded``): the count every summary line shows."""
    return sum(not succeeded(r) for r in result.rows)


def exit_status(result: SweepResult) -> int:
    """The command's exit status: 0 if some cell succeeded (or none was to run), else 1."""
    return 1 if result.rows and not any(succeeded(r) for r in result.rows) else 0


def write_summary(result: SweepResult) -> None:
    """summary.json and best.toml in the sweep folder."""
    from nndl import runs

    gs = groups(result)
    runs.write_json(result.folder / SUMMARY, [
        {"varied": g.varied, "mean_best_accuracy": g.mean if g.accuracies else None,
         "best_accuracies": g.accuracies, "best_epochs": g.epochs, "errors": g.errors,
         "command": train_command(g.settings)} for g in gs])
    if gs and gs[0].accuracies:
        from nndl.io import atomic_write

        with atomic_write(result.folder / BEST, "w") as f:
            f.write(best_toml(gs[0].settings))


def plot(result: SweepResult) -> list[Path]:
    """accuracy-<setting>.png for each swept setting, heatmap-<a>-<b>.png for the first two."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ok = [r for r in result.rows if succeeded(r)]
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    swept = [n for n in result.spec.axes if len({_value_text(r["varied"].get(n)) for r in ok}) > 1]
    numeric = [n for n in swept if all(number(r["varied"].get(n)) for r in ok)]
    files = []
    which = result.spec.base.evaluate_on
    for name in swept:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ys = np.array([r["best_accuracy"] for r in ok])
        if name in numeric:
            xs = np.array([r["varied"][name] for r in ok], dtype=float)
            values = np.unique(xs)
        else:  # a categorical setting (--hidden sigmoid,relu; --sizes): a strip plot, one column a value
            labels = sorted({_value_text(r["varied"].get(name)) for r in ok})
            xs = np.array([labels.index(_value_text(r["varied"].get(name))) for r in ok], dtype=float)
            values = np.arange(len(labels), dtype=float)
            ax.set_xticks(values, labels)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.scatter(xs, ys, s=14, alpha=0.6, label="a cell (one seed)")
        ax.plot(values, [ys[xs == v].max() for v in values], "-" if name in numeric else "_", ms=20, lw=1,
                label="best at this value")
        if name in numeric and values.min() > 0 and values.max() / values.min() >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(f"best {which} accuracy")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = result.folder / f"accuracy-{name}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        files.append(path)
    if len(numeric) >= 2 and result.spec.samples is None:
        a, b = numeric[:2]
        va = sorted({r["varied"][a] for r in result.rows})  # failed cells too: they show as "failed"
        vb = sorted({r["varied"][b] for r in result.rows})
        grid = np.full((len(vb), len(va)), np.nan)
        for i, y in enumerate(vb):
            for j, x in enumerate(va):
                accs = [r["best_accuracy"] for r in ok if r["varied"][a] == x and r["varied"][b] == y]
                if accs:
                    grid[i, j] = np.mean(accs)
        fig, ax = plt.subplots(figsize=(1.2 * len(va) + 2.5, 0.8 * len(vb) + 2))
        im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(va)), [_value_text(v) for v in va])
        ax.set_yticks(range(len(vb)), [_value_text(v) for v in vb])
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        for i in range(len(vb)):
            for j in range(len(va)):
                text = f"{grid[i, j]:.3f}" if np.isfinite(grid[i, j]) else "failed"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="w" if np.isfinite(grid[i, j]) else "k")
        fig.colorbar(im, ax=ax, label=f"mean best {which} accuracy")
        fig.tight_layout()
        path = result.folder / f"heatmap-{a}-{b}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        files.append(path)
    return files


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row without what legitimately differs between two runs of a cell (timings, host)."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}


def spec_from_options(values: dict[str, str], seeds: str | None, samples: int | None, sample_seed: int | None,
                      config: dict[str, Any] | None = None, where: str = "") -> SweepSpec:
    """A sweep from command-line texts (``{"eta": "0.1,1"}``), over an optional TOML mapping."""
    spec = spec_from_toml(config or {}, where)
    base_values: dict[str, Any] = {}
    for name, text in values.items():
        if name in FIXED:
            base_values[name] = parse_value(name, text)
            spec.axes.pop(name, None)
            continue
        axis = parse_axis(name, text)
        if isinstance(axis, list) and len(axis) == 1:
            base_values[name] = axis[0]
            spec.axes.pop(name, None)
        else:
            spec.axes[name] = axis if isinstance(axis, Distribution) else [
                getattr(spec.base.updated({name: v}, _flag(name)), name) for v in axis]
    spec.base = spec.base.updated(base_values, "options")
    if seeds is not None:
        axis = parse_axis("seed", seeds, "--seeds")
        if isinstance(axis, Distribution):
            raise UsageError(f"--seeds {seeds}: seeds are a list (0,1,2), not a range")
        spec.seeds = tuple(axis)
    if samples is not None:
        spec.samples = samples
    if sample_seed is not None:
        spec.sample_seed = sample_seed
    return spec
