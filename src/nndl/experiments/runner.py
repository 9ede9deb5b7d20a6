"""Run experiments by id: seeds, incremental results JSON, figures (PNG and SVG).

Layout of an output folder::

    <out>/<id>/result.json        configuration, seeds, versions, histories, timings
    <out>/<id>/<figure>.png|.svg  the book's figures for that id
    <out>/cache/svc-<N>.json      SVC(gamma='auto') fits, shared between ids
    <out>/quick/<id>/...          the same for --quick runs: a quick run never replaces
                                  (or mixes with) a full result

``result.json`` is rewritten after every seed, so an interrupted run loses at most the
seed in progress; a second run with the same configuration resumes: it skips the seeds
(and the deterministic part) already there, unless ``force``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nndl.experiments import common
from nndl.experiments.registry import get
from nndl.experiments.spec import Experiment, Result

log = logging.getLogger(__name__)

DEFAULT_SEEDS = (0, 1, 2)
SAVE_LOCK_TIMEOUT = 120.0  # seconds to wait for another process's write of result.json


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load(path: Path, exp: Experiment, cfg_dict: dict, quick: bool) -> Result | None:
    from nndl import _validate
    from nndl.errors import NndlError

    if not path.exists():
        return None
    try:
        old = _validate.read_json(path, NndlError, 256 << 20, "result file")
    except NndlError as exc:
        log.warning("%s: ignoring it (%s)", path, exc)
        return None
    if not isinstance(old, dict) or not isinstance(old.get("seeds"), dict):
        log.warning("%s: not an experiment result; ignoring it", path)
        return None
    if old.get("config") == cfg_dict and old.get("quick") == quick:
        return old
    log.info("%s: configuration changed; starting afresh", exp.id)
    return None


def result_folder(out_dir: str | Path, id_: str, quick: bool) -> Path:
    """Where ``id_``'s results go: ``out_dir/id_``, or ``out_dir/quick/id_`` for a quick run."""
    return Path(out_dir) / "quick" / id_ if quick else Path(out_dir) / id_


def run_experiment(id_: str, seeds: Sequence[int] = DEFAULT_SEEDS, *, quick: bool = False,
                   out_dir: str | Path = "results", force: bool = False, figures: bool = True) -> Result:
    """Run experiment ``id_`` for ``seeds`` (ignored by deterministic ids); return its result.

    NumPy's BLAS is limited to one thread meanwhile (see ``_limit_threads``).
    """
    with _limit_threads():
        return _run_experiment(id_, seeds, quick, out_dir, force, figures)


def _run_experiment(id_, seeds, quick, out_dir, force, figures) -> Result:
    exp = get(id_)
    cfg = exp.quick(exp.config) if quick else exp.config
    cfg_dict = json.loads(json.dumps(common.config_dict(cfg)))  # tuples as lists, as read back
    folder = result_folder(out_dir, exp.id, quick)
    path = folder / "result.json"
    result = None if force else _load(path, exp, cfg_dict, quick)
    if result is None:
        result = {"id": exp.id, "title": exp.title, "quick": quick, "config": cfg_dict,
                  "deterministic": not exp.seeded, "seeds": {}, "once": None,
                  "timings": {"seeds": {}, "once": None}, "started": _now()}
    if exp.uses_mnist:
        result["data"] = common.data_info()
    if exp.run_once is not None and result["once"] is None:
        log.info("%s: deterministic part", exp.id)
        start = time.perf_counter()
        result["once"] = exp.run_once(cfg, Path(out_dir) / "cache")
        result["timings"]["once"] = time.perf_counter() - start
        _save(path, result, exp, cfg_dict, quick, merge=not force)
    if exp.seeded:
        for seed in seeds:
            if str(seed) in result["seeds"]:
                log.info("%s: seed %d already done", exp.id, seed)
                continue
            log.info("%s: seed %d", exp.id, seed)
            start = time.perf_counter()
            kw = {"checkpoint_dir": folder} if exp.checkpoints else {}  # epoch-level resume (chapter 6)
            out = result["seeds"][str(seed)] = exp.run(cfg, int(seed), **kw)
            elapsed = time.perf_counter() - start
            if exp.checkpoints:  # a resumed run's wall time leaves out the sessions before it
                elapsed = max(elapsed, trained_seconds(out))
            result["timings"]["seeds"][str(seed)] = elapsed
            _save(path, result, exp, cfg_dict, quick, merge=not force)
    if figures:
        result["figures"] = save_figures(exp, result, folder)
    _save(path, result, exp, cfg_dict, quick, merge=not force)
    return result


def trained_seconds(seed_result: dict) -> float:
    """Seconds of training and evaluation recorded in a checkpointed seed's histories (its
    ``history``, or an ensemble's ``nets``): every session's epochs, across resumes."""
    histories = seed_result.get("nets") or [seed_result.get("history", {})]
    return float(sum(h.get("seconds", 0.0) for h in histories))


def _save(path: Path, result: Result, exp: Experiment, cfg_dict: dict, quick: bool,
          merge: bool = True) -> None:
    """Write ``result``, merged with what another process wrote meanwhile, under a lock.

    Two ``nndl experiment ID --seeds 0`` and ``--seeds 1`` into one folder each add their
    seed: the file is re-read and merged while the folder's lock is held (``filelock``), so
    neither overwrites the other's seeds (read-modify-write is never interleaved).
    ``merge=False`` (``force``): the file is replaced, not merged.
    """
    from nndl.io import folder_lock

    path.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(path.parent, "experiment folder", timeout=SAVE_LOCK_TIMEOUT):
        old = _load(path, exp, cfg_dict, quick) if merge and path.exists() else None
        if old is not None:
            for key in ("seeds",):
                for seed, value in old.get(key, {}).items():
                    result[key].setdefault(seed, value)
            old_timings = old.get("timings", {}).get("seeds", {})
            if isinstance(old_timings, dict):
                for seed, value in old_timings.items():
                    result["timings"]["seeds"].setdefault(seed, value)
            if result.get("once") is None and old.get("once") is not None:
                result["once"] = old["once"]
        result["seeds"] = dict(sorted(result["seeds"].items(), key=lambda kv: int(kv[0])))
        result["versions"] = common.versions(*exp.extra_versions)
        result["updated"] = _now()
        common.write_json(path, result)


def save_figures(exp: Experiment, result: Result, folder: Path) -> list[str]:
    """Draw ``exp``'s figures for ``result``; write each as PNG and SVG; return the file names."""
    names = []
    for name, fig in exp.plot(result).items():
        for ext, kw in (("png", {"dpi": 110, "metadata": {"Software": None}}), ("svg", {"metadata": {"Date": None}})):
            fig.savefig(folder / f"{name}.{ext}", **kw)
            names.append(f"{name}.{ext}")
    return names


# ---------------------------------------------------------------------------------- summary
def _per_seed(items, result: Result, apply) -> list[tuple[Any, list]]:
    """Each metric or claim with its values: one per seed, or one if it is deterministic."""
    out = []
    for item in items:
        try:
            if item.once:
                values = [] if result.get("once") is None else [apply(item, result["once"])]
            else:
                values = [apply(item, r) for r in result["seeds"].values()]
        except (KeyError, IndexError, ValueError):
            values = []  # not measured in this run (e.g. a size that --quick leaves out)
        out.append((item, values))
    return out


def metric_values(exp: Experiment, result: Result) -> list[tuple[Any, list[float]]]:
    return _per_seed(exp.metrics, result, lambda m, r: float(m.extract(r)))


def claim_values(exp: Experiment, result: Result) -> list[tuple[Any, list[bool]]]:
    return _per_seed(exp.claims, result, lambda c, r: bool(c.check(r)))


def summary_lines(exp: Experiment, result: Result) -> list[str]:
    lines = [f"{exp.id}: {exp.title}" + ("  [quick]" if result.get("quick") else "")]
    for metric, values in metric_values(exp, result):
        if not values:
            continue
        med = float(np.median(values))
        spread = f" [{min(values):.4g}, {max(values):.4g}] over {len(values)} seeds" if len(values) > 1 else ""
        book = f"  (book: {metric.book_text or metric.book})" if metric.book is not None else ""
        lines.append(f"  {metric.name}: {med:.4g}{spread}{book}")
    has_book = any(m.book is not None for m in exp.metrics)
    if not has_book:
        lines.append("  (the book publishes no number for this experiment: its claims are checked below)")
    if result.get("quick"):
        lines.append("  (--quick: less data and fewer epochs than the book, so the numbers differ"
                     + ("; the book's are beside them for reference)" if has_book else ")"))
        if exp.quick_note:
            lines.append(f"  (--quick: {exp.quick_note})")
    for claim, values in claim_values(exp, result):
        if values and claim.full_size_only and result.get("quick"):  # cannot pass on quick data
            lines.append(f"  not checked on --quick data: {claim.text}")
        elif values:
            lines.append(f"  {'PASS' if all(values) else 'FAIL'} ({sum(values)}/{len(values)}): {claim.text}")
    return lines


# ---------------------------------------------------------------------------------- several
def _limit_threads():
    """One BLAS thread. Measured here, on 2 shared cores: 1.6 s per 50,000-image epoch of
    [784,30,10] with one OpenBLAS thread, 2.9 s with two (busy-waiting threads fight the
    other processes); a full-batch step of 1,000 images 10x faster with one."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)
    except ImportError:
        import contextlib

        return contextlib.nullcontext()


def _job(args: tuple) -> tuple[str, float, list[str]]:
    id_, seeds, quick, out_dir, force = args
    start = time.perf_counter()
    result = run_experiment(id_, seeds, quick=quick, out_dir=out_dir, force=force)
    return id_, time.perf_counter() - start, summary_lines(get(id_), result)


def run_many(ids: Iterable[str], seeds: Sequence[int] = DEFAULT_SEEDS, *, quick: bool = False,
             out_dir: str | Path = "results", force: bool = False, jobs: int = 1, on_done=None,
             on_error=None) -> dict[str, float]:
    """Run several ids (in order, or ``jobs`` processes, longest first); return seconds per id.

    ``on_done(id, seconds, summary_lines)`` is called as each id finishes. An id that fails
    with one of nndl's errors (``NndlError``: data missing, a diverged run...) does not stop
    the others: ``on_error(id, exc)`` is called and the id is left out of the result; with
    no ``on_error`` the first such error is raised once the other ids are done.
    """
    ids = list(ids)
    tasks = [(i, tuple(seeds), quick, str(out_dir), force) for i in ids]
    failed: list[tuple[str, Exception]] = []

    def error(id_: str, exc: Exception) -> None:
        failed.append((id_, exc))
        if on_error:
            on_error(id_, exc)

    if jobs <= 1:
        seconds = _run_in_order(tasks, on_done, error)
    else:
        seconds = _run_parallel(tasks, jobs, on_done, ids, error)
    if failed and on_error is None:
        raise failed[0][1]
    return seconds


def _run_in_order(tasks, on_done, on_error) -> dict[str, float]:
    from nndl.errors import NndlError

    seconds = {}
    for task in tasks:
        try:
            id_, s, lines = _job(task)
        except NndlError as exc:
            on_error(task[0], exc)
            continue
        seconds[id_] = s
        if on_done:
            on_done(id_, s, lines)
    return seconds


def _run_parallel(tasks, jobs, on_done, ids, on_error) -> dict[str, float]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from nndl.errors import NndlError

    seconds = {}
    tasks.sort(key=lambda t: -get(t[0]).cost)  # longest first: the shared SVM fits start early
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_job, t): t[0] for t in tasks}
        for fut in as_completed(futures):
            try:
                id_, s, lines = fut.result()
            except NndlError as exc:
                on_error(futures[fut], exc)
                continue
            seconds[id_] = s
            if on_done:
                on_done(id_, s, lines)
    return {i: seconds[i] for i in ids if i in seconds}
