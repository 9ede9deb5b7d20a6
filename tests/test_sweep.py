"""nndl sweep: local processes and a Dask LocalCluster give the same rows; a killed worker,
an interrupted sweep and a failing cell; the summary's command reproduces the best cell."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import tomllib

import pytest
from filelock import FileLock

from nndl import sweep
from nndl.cli import main
from nndl.data import load_digits
from nndl.errors import NndlError, UsageError
from nndl.runs import TrainSettings, read_history

distributed = pytest.importorskip("distributed")  # in the test extra: CI runs these

# 3 etas x 2 seeds on the bundled digits; eta 1000 diverges (a failing cell).
SPEC = dict(axes={"eta": [0.5, 3.0, 1000.0]}, seeds=(0, 1))
BASE = TrainSettings(data="digits", evaluate_on="validation", epochs=3)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def _spec(**kw) -> sweep.SweepSpec:
    d = {**SPEC, **kw}
    return sweep.SweepSpec(d.pop("base", BASE), **d)


def _comparable(result):
    return sorted((json.dumps(sweep.comparable(r), sort_keys=True) for r in result.rows))


def test_local_processes_and_dask_cluster_give_identical_rows(tmp_path, digits, cluster):
    here = sweep.run_sweep(_spec(), tmp_path / "here", splits=digits)
    local = sweep.run_sweep(_spec(), tmp_path / "local", jobs=2, splits=digits)
    dask = sweep.run_sweep(_spec(), tmp_path / "dask", scheduler=cluster.scheduler_address, splits=digits)
    assert len(local.rows) == len(dask.rows) == 6
    pids = {r["pid"] for r in local.rows}  # worker processes did the work (one of them may do every
    assert os.getpid() not in pids and len(pids) <= 2  # quick cell while the other still starts)
    assert _comparable(here) == _comparable(local) == _comparable(dask)
    failed = [r for r in local.rows if r["status"] == "error"]
    assert [r["varied"]["eta"] for r in failed] == [1000.0, 1000.0]
    assert all(r["error"].startswith("DivergenceError: training diverged") for r in failed)
    ok = [r for r in local.rows if r["status"] == "ok"]
    assert all(0.5 < r["best_accuracy"] <= 1 and r["epochs"] == 3 for r in ok)
    # the file holds exactly the rows, one JSON line each
    lines = (tmp_path / "dask" / sweep.RESULTS).read_text().splitlines()
    assert sorted(json.dumps(sweep.comparable(json.loads(x)), sort_keys=True) for x in lines) == _comparable(dask)


def test_a_worker_killed_mid_sweep_and_the_sweep_completes(tmp_path, digits, cluster):
    spec = _spec(axes={"eta": [0.5, 1.0, 2.0, 3.0]}, base=TrainSettings(data="digits", evaluate_on="validation",
                                                                          epochs=40))
    with distributed.Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    killed = []

    def kill_one(row):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)  # the nanny restarts it; its cell goes elsewhere
            killed.append(pids[0])

    result = sweep.run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address, splits=digits,
                             on_row=kill_one)
    assert killed and len(result.rows) == 8
    with distributed.Client(cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=30)
        assert killed[0] not in client.run(os.getpid).values()  # it was really killed (and restarted)
    assert all(r["status"] == "ok" for r in result.rows), [r["error"] for r in result.rows]
    reference = sweep.run_sweep(spec, tmp_path / "here", splits=digits)
    assert _comparable(result) == _comparable(reference)


def test_an_interrupted_sweep_resumes_with_the_missing_cells_only(tmp_path, digits):
    spec = _spec(axes={"eta": [0.5, 1.0, 3.0]})
    seen = []

    def interrupt(row):
        seen.append(row["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(spec, tmp_path, splits=digits, on_row=interrupt)
    path = tmp_path / sweep.RESULTS
    before = path.read_text()
    assert len(before.splitlines()) == 2
    with open(path, "a") as f:  # a line cut short by a killed sweep: skipped and recomputed
        f.write('{"key": "abc", "varied": {"eta"')
    computed = []
    result = sweep.run_sweep(spec, tmp_path, splits=digits, on_row=lambda r: computed.append(r["key"]))
    assert result.computed == 4 and len(result.rows) == 6
    assert not set(computed) & set(seen)  # nothing finished was recomputed
    assert path.read_text().startswith(before)  # finished rows untouched
    again = sweep.run_sweep(spec, tmp_path, splits=digits)
    assert again.computed == 0 and _comparable(again) == _comparable(result)


def test_failing_cells_become_rows(tmp_path, digits, monkeypatch):
    from nndl import runs

    build = runs.build_network

    def out_of_memory_at_77(settings, *args):  # a cell that runs out of memory while it builds
        if settings.sizes and settings.sizes[1] == 77:
            raise MemoryError("Unable to allocate 7.45 GiB")
        return build(settings, *args)

    monkeypatch.setattr(runs, "build_network", out_of_memory_at_77)
    spec = _spec(axes={"sizes": [(64, 77, 10), (64, 20, 10)]}, seeds=(0,))
    result = sweep.run_sweep(spec, tmp_path, splits=digits)
    rows = {tuple(r["varied"]["sizes"]): r for r in result.rows}
    assert rows[(64, 77, 10)]["status"] == "error"
    assert rows[(64, 77, 10)]["error"].startswith("MemoryError")
    assert rows[(64, 20, 10)]["status"] == "ok"
    # every row has every field of docs/sweep.md: an error row's results are null, not missing
    assert list(rows[(64, 77, 10)]) == list(rows[(64, 20, 10)])
    assert all(rows[(64, 77, 10)][k] is None for k in sweep.RESULT_FIELDS)
    assert all(rows[(64, 20, 10)][k] is not None for k in ("best_accuracy", "accuracy_curve", "training_cost"))


def test_sizes_beyond_the_bounds_are_a_usage_error_before_any_cell(tmp_path, digits):
    spec = _spec(axes={"sizes": [(64, 10**11, 10), (64, 20, 10)]}, seeds=(0,))
    with pytest.raises(UsageError, match="parameters"):
        sweep.run_sweep(spec, tmp_path, splits=digits)
    assert not (tmp_path / sweep.RESULTS).exists() or not (tmp_path / sweep.RESULTS).read_text()


def test_the_printed_command_reproduces_the_best_cell(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--data", "digits", "--epochs", "2", "--eta", "0.5,3", "--lmbda", "0,2", "--seeds",
                 "3", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    command = printed.splitlines()[printed.splitlines().index("best settings, as a command:") + 1].strip()
    argv = shlex.split(command)
    assert argv[:2] == ["nndl", "train"] and "--seed" in argv
    assert main([*argv[1:], "--out", str(tmp_path / "run"), "--no-plots", "--quiet"]) == 0
    history = read_history(tmp_path / "run")["history"]
    best = max((json.loads(x) for x in (out / sweep.RESULTS).read_text().splitlines()),
               key=lambda r: r["best_accuracy"])
    n = history["n_evaluation"]
    assert [c / n for c in history["evaluation_accuracy"]] == best["accuracy_curve"]
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "summary.json", "best.toml", "sweep.json",
                                               "accuracy-eta.png", "accuracy-lmbda.png", "heatmap-eta-lmbda.png"}
    toml = tomllib.loads((out / "best.toml").read_text())
    assert TrainSettings.from_dict(toml, "best.toml").to_dict() == best["settings"] | {"data_dir": None}


def test_one_sweep_at_a_time(tmp_path, digits):
    with FileLock(tmp_path / sweep.LOCK):
        with pytest.raises(NndlError, match="another nndl sweep"):
            sweep.run_sweep(_spec(), tmp_path, splits=digits)


def test_random_search_and_toml(tmp_path):
    spec = sweep.spec_from_options({"eta": "loguniform:0.01:10", "mini_batch_size": "5,10,20"}, "0,1", 4, None)
    cells = spec.cells()
    assert len(cells) == 8 and len({c.settings.eta for c in cells}) == 4
    assert all(0.01 <= c.settings.eta <= 10 and c.settings.mini_batch_size in (5, 10, 20) for c in cells)
    assert [c.key for c in spec.cells()] == [c.key for c in cells]  # the same draws again (resume)
    toml = {"data": "digits", "epochs": 2, "eta": [0.1, 1.0], "lmbda": {"uniform": [0, 5]}, "seeds": [0, 1, 2],
            "samples": 2}
    spec = sweep.spec_from_options({"epochs": "3"}, None, None, None, toml, "t.toml")
    assert spec.base.epochs == 3 and spec.base.evaluate_on == "validation" and spec.seeds == (0, 1, 2)
    assert len(spec.cells()) == 6
    assert len(sweep.spec_from_options({"eta": "0.5,0.5,1"}, "0,1", None, None).cells()) == 4  # one cell each
    command = sweep.train_command(TrainSettings(lmbda=0.2048677123456789, eta=0.25))
    assert command == "nndl train --eta 0.25 --lmbda 0.2048677123456789"  # reads back exactly


@pytest.mark.parametrize("argv, message", [
    (["--eta", "abc"], "--eta: 'abc' is not a number"),
    (["--eta", "loguniform:0.1:1"], "needs --samples"),
    (["--eta", "loguniform:0:1", "--samples", "2"], "LOW > 0"),
    (["--lmbda=-1,1"], "--lmbda must be a number >= 0"),
    (["--seeds", "0,0"], "lists a seed twice"),
    (["--jobs", "0"], "--jobs must be at least 1, or -1"),
])
def test_usage_errors(tmp_path, capsys, argv, message):
    assert main(["sweep", "--data", "digits", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nndl: error: ") and message in err
    with pytest.raises(UsageError):
        sweep.spec_from_options({"data": "digits", "eta": "x"}, None, None, None)


def test_a_local_worker_process_killed_and_the_sweep_completes(tmp_path, digits, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("nndl"), "propagate", True)  # the CLI's tests turn it off
    spec = _spec(axes={"eta": [0.5, 3.0]}, base=TrainSettings(data="digits", evaluate_on="validation", epochs=20))
    killed = []

    def kill_worker(row):
        if not killed:
            os.kill(row["pid"], signal.SIGKILL)  # the worker that has just finished a cell
            killed.append(row["pid"])

    result = sweep.run_sweep(spec, tmp_path / "local", jobs=2, splits=digits, on_row=kill_worker)
    assert killed and len(result.rows) == 4 and all(r["status"] == "ok" for r in result.rows)
    assert "a worker process died; restarting the pool" in caplog.text
    assert _comparable(result) == _comparable(sweep.run_sweep(spec, tmp_path / "here", splits=digits))


def test_progress_bar_on_a_terminal():
    import io

    from nndl.commands.sweep import _Bar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    bar = _Bar(Tty())
    bar.start(3, 5)
    bar.row({"status": "ok", "varied": {}, "seed": 0, "best_accuracy": 0.9, "best_epoch": 1, "seconds": 1.0})
    bar.row({"status": "error", "varied": {}, "seed": 1, "error": "x", "seconds": 1.0})
    assert "sweep [####################..........] 2/3 cells, 1 failed" in bar.stream.getvalue()
    bar.clear()
    assert bar.stream.getvalue().endswith("\r\x1b[K")


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted)
    assert main(["sweep", "--data", "digits", "--eta", "0.5,1", "--out", str(tmp_path)]) == 130
    assert "the same command resumes the sweep" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pixels_travel_as_uint8_only_when_that_is_exact(dtype):
    import numpy as np

    from nndl.data import _features

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(2500, 20), dtype=np.uint8)  # more rows than one PACK_CHUNK
    X = _features(pixels, np.dtype(dtype), "test")
    assert np.array_equal(sweep._pixels(X), pixels)
    assert np.array_equal(sweep._pixels(X[:, ::3]), pixels[:, ::3])  # a strided view too
    for bad in (-0.0, np.nan, 2.0, np.nextafter(X[2100, 5], 2, dtype=X.dtype)):
        Y = X.copy()
        Y[2100, 5] = bad  # in the third chunk
        assert sweep._pixels(Y) is None, bad


def test_uint8_pixels_on_a_dask_cluster_give_the_rows_of_this_process(tmp_path, digits, cluster):
    import numpy as np

    from nndl.data import Dataset, _features

    def as_pixels(d):  # the digits' images as MNIST-like k/255 values
        return Dataset(_features(np.rint(d.X * 255).astype(np.uint8), d.X.dtype, "test"), d.y)

    data = sweep.replace(digits, **{p: as_pixels(getattr(digits, p)) for p in ("training", "validation", "test")})
    assert sweep.PackedSplits.pack(data).packed == ("training", "validation", "test")
    assert sweep.PackedSplits.pack(digits).packed == ()  # digits' k/16 are no k/255: sent as they are
    spec = _spec(axes={"eta": [0.5]}, base=TrainSettings(data="digits", evaluate_on="validation", epochs=2))
    here = sweep.run_sweep(spec, tmp_path / "here", splits=data)
    dask = sweep.run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address, splits=data)
    assert all(r["status"] == "ok" for r in dask.rows) and _comparable(here) == _comparable(dask)


def _killer(eta):
    """A ``run_cell`` whose cell with this ``eta`` kills its process, as the kernel's OOM killer would
    (a local function: pickled by value, so the workers run it)."""
    real = sweep.run_cell

    def cell(task, data):
        if task["varied"]["eta"] == eta:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(task, data)

    return cell


def _killed_row(result, message):
    rows = {r["varied"]["eta"]: r for r in result.rows}
    assert len(rows) == 3 and all(rows[e]["status"] == "ok" for e in (0.5, 3.0)), rows
    assert rows[2.0]["status"] == "error" and rows[2.0]["error"].startswith(message)
    assert "\n" not in rows[2.0]["error"]
    assert set(rows[2.0]) == set(rows[0.5]) and all(rows[2.0][k] is None for k in sweep.RESULT_FIELDS)


def test_a_cell_that_kills_its_worker_process_becomes_a_row(tmp_path, digits, monkeypatch):
    monkeypatch.setattr(sweep, "run_cell", _killer(2.0))  # (never with jobs=1: it would kill pytest)
    spec = _spec(axes={"eta": [0.5, 2.0, 3.0]}, seeds=(0,))
    result = sweep.run_sweep(spec, tmp_path, jobs=2, splits=digits)
    _killed_row(result, "TerminatedWorkerError: A worker process managed by the executor was unexpectedly terminated")
    assert sweep.run_sweep(spec, tmp_path, jobs=2, splits=digits).computed == 0  # a row like any other
    alone = sweep.run_sweep(_spec(axes={"eta": [2.0]}, seeds=(1,)), tmp_path / "alone", jobs=2, splits=digits)
    assert [r["status"] for r in alone.rows] == ["error"]  # the last cell left: still in a worker process


def test_a_cell_that_kills_its_dask_workers_becomes_a_row(tmp_path, digits, monkeypatch):
    import dask

    monkeypatch.setattr(sweep, "run_cell", _killer(2.0))
    spec = _spec(axes={"eta": [0.5, 2.0, 3.0]}, seeds=(0,))
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c:
        result = sweep.run_sweep(spec, tmp_path, scheduler=c.scheduler_address, splits=digits)
    _killed_row(result, "KilledWorker: Attempted to run task 'nndl-cell-")


def test_a_scheduler_that_is_not_there_is_a_one_line_error_at_once(tmp_path, capsys):
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on (once closed)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.monotonic()
    assert main(["sweep", "--data", "digits", "--eta", "0.5,1", "--out", str(tmp_path / "s"), "--quiet",
                 "--scheduler", f"tcp://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert time.monotonic() - began < 5
    assert err.startswith(f"nndl: error: --scheduler tcp://127.0.0.1:{port}: cannot connect") and err.count("\n") == 1


@pytest.mark.parametrize("banner", [b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(range(256)) * 64, None])
def test_a_server_that_is_not_a_dask_scheduler_is_a_one_line_error(tmp_path, capsys, monkeypatch, banner):
    """Something else listens at the address: a server that answers with other bytes (the
    reader once tried to allocate exabytes from them: a traceback), or one that accepts and
    says nothing (the handshake waited for ever)."""
    import socket
    import threading

    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", 1)
    monkeypatch.setattr(sweep, "CONNECT_GRACE", 2)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if banner is not None:
                conn.sendall(banner)

    threading.Thread(target=serve, daemon=True).start()
    try:
        assert main(["sweep", "--data", "digits", "--eta", "0.5,1", "--out", str(tmp_path / "s"), "--quiet",
                     "--scheduler", f"tcp://127.0.0.1:{port}"]) == 1
    finally:
        server.close()
        for conn in held:
            conn.close()
    err = capsys.readouterr().err
    assert err.startswith(f"nndl: error: --scheduler tcp://127.0.0.1:{port}: ") and err.count("\n") == 1, err
    assert ("no Dask scheduler answered within 3 s" if banner is None else "cannot connect (") in err


def test_a_cluster_without_workers_is_an_error_after_a_wait(tmp_path, digits, monkeypatch):
    monkeypatch.setattr(sweep, "WORKER_WAIT", 1)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as c:
        with pytest.raises(NndlError, match="has had no workers for 1 s; start some"):
            sweep.run_sweep(_spec(), tmp_path, scheduler=c.scheduler_address, splits=digits)


def test_fetching_a_finished_cell_whose_worker_died_is_an_error_after_a_wait_not_a_hang(monkeypatch):
    """A finished cell's result lives on its worker: when that worker dies, Dask recomputes it and
    ``result()`` would wait forever on a cluster with no workers (seen once: the whole-cluster test
    hung 300 s when two cells finished together and the first one's row killed the worker)."""
    import time

    monkeypatch.setattr(sweep, "WORKER_WAIT", 0.3)
    monkeypatch.setattr(sweep, "POLL_SECONDS", 0.05)

    class NoWorkers:
        def nthreads(self):
            return {}

    class Recomputing:  # what Dask's future does then: its result never comes
        def result(self, timeout=None):
            time.sleep(timeout)
            raise TimeoutError

    start = time.monotonic()
    with pytest.raises(sweep._ClusterGone, match="has had no workers for 0.3 s"):
        sweep._result(Recomputing(), sweep._Idle(NoWorkers(), "tcp://there:8786"))
    assert time.monotonic() - start < 5


def test_a_cluster_that_loses_all_its_workers_mid_sweep_is_an_error_after_a_wait(tmp_path, digits, monkeypatch):
    """Its one worker (a separate `dask worker` process, as on another machine) is killed
    outright after the first row: the scheduler notices at once (the connection drops)."""
    import subprocess
    import sys

    monkeypatch.setattr(sweep, "WORKER_WAIT", 1)
    monkeypatch.setattr(sweep, "POLL_SECONDS", 0.2)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as c, \
            distributed.Client(c.scheduler_address, set_as_default=False) as client:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", c.scheduler_address,
                                   "--no-nanny", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=60)

            def kill_the_worker(row):
                worker.kill()

            spec = _spec(base=TrainSettings(data="digits", evaluate_on="validation", epochs=30))  # cells outlast
            with pytest.raises(NndlError, match="has had no workers for 1 s"):
                sweep.run_sweep(spec, tmp_path, scheduler=c.scheduler_address, splits=digits, on_row=kill_the_worker)
        finally:
            worker.kill()
            worker.wait(timeout=30)
    assert 1 <= len(sweep.read_rows(tmp_path / sweep.RESULTS)) < 6  # the rows before: a rerun resumes


@pytest.mark.parametrize("threads", [1, 3])
def test_the_data_written_for_joblib_workers_read_back_bit_for_bit(tmp_path, digits, threads):
    import numpy as np

    from nndl.data import Dataset

    data = sweep.replace(digits, validation=Dataset(digits.validation.X.astype(np.float32), digits.validation.y),
                         test=digits.test.head(0))  # another dtype, and an empty part
    shared = sweep.SharedData.of(data, tmp_path / "data")
    assert not shared.wait(0.01)
    shared.write(data, threads=threads)  # 3 threads: slices that end inside a row, or inside a number
    assert shared.wait(0)
    opened = shared.open(touch=True)
    for part in ("training", "validation", "test"):
        for a, b in zip(getattr(data, part), getattr(opened, part)):
            assert (b.dtype, b.shape) == (a.dtype, a.shape) and np.asarray(b).tobytes() == a.tobytes()


def test_a_warm_up_first_drops_the_data_of_a_previous_sweep(tmp_path, digits, monkeypatch):
    """Freed before this sweep's data are written: the write then reuses that memory."""
    import weakref

    import numpy as np

    class Holder:  # a cell's object in a reference cycle, still holding the old arrays
        pass

    old = Holder()
    old.me, old.X = old, np.ones(1000)
    gone = weakref.ref(old.X)
    monkeypatch.setitem(sweep._SHARED, "previous", old)
    del old
    monkeypatch.setattr(sweep, "WARM_UP_WAIT", 0.01)
    shared = sweep.SharedData.of(digits, tmp_path / "data")
    sweep._warm_up(shared)  # nothing written yet: it gives up waiting, the cells will open the data
    assert not sweep._SHARED and gone() is None
    shared.write(digits)
    sweep._warm_up(shared)
    assert list(sweep._SHARED) == [shared.folder]


def test_joblib_workers_open_the_data_in_their_warm_up_and_are_kept(tmp_path):
    """loky replaces a worker whose memory grew past a limit since its first task (300 MB; MNIST
    in float64 is 376 MB). The warm-up (each worker's first task) maps the data, so a cell adds
    nothing: with loky's limit lowered below the data's size, every cell still runs in one of
    the two first workers (with the data mapped by the first cell, each worker was replaced)."""
    import numpy as np
    from joblib.externals.loky import reusable_executor

    from nndl.data import Dataset, DataSplits, _features

    rng = np.random.default_rng(0)

    def part(n):
        return Dataset(_features(rng.integers(0, 256, (n, 784), dtype=np.uint8), np.float64, "test"),
                       rng.integers(0, 10, n))

    data = DataSplits("test", part(8000), part(500), part(0), "test", {}, "random pixels")  # 50 MB
    real = sweep.run_cell

    def cell(task, shared):
        import time

        from joblib.externals.loky import process_executor

        process_executor._MAX_MEMORY_LEAK_SIZE = 20 * 2**20  # in this worker: below the data's 50 MB
        if not getattr(process_executor, "_nndl_slept", False):  # loky checks at most once a second
            time.sleep(1.1)
            process_executor._nndl_slept = True
        return real(task, shared)

    if reusable_executor._executor is not None:  # fresh workers: their first task is this sweep's warm-up
        reusable_executor._executor.shutdown(wait=True, kill_workers=True)
    spec = sweep.SweepSpec(TrainSettings(data="digits", evaluate_on="validation", epochs=1, sizes=(784, 30, 10)),
                           {"eta": [0.5, 1.0]}, (0, 1))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sweep, "run_cell", cell)
        result = sweep.run_sweep(spec, tmp_path, jobs=2, splits=data)
    assert len(result.rows) == 4 and all(r["status"] == "ok" for r in result.rows), result.rows
    assert len({r["pid"] for r in result.rows}) <= 2


def test_the_workers_exit_soon_after_the_sweep_is_killed(tmp_path):
    """SIGKILL tells loky's workers nothing: they waited, idle, for loky's idle timeout (minutes);
    each watches the sweep's process and exits within a second or two of it (and so does loky's
    resource tracker, once they have)."""
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    out = tmp_path / "s"
    sweep_process = subprocess.Popen(
        [sys.executable, "-m", "nndl", "sweep", "--data", "digits", "--epochs", "40", "--eta", "0.5,1,2,3",
         "--seeds", "0,1", "--jobs", "2", "--no-plots", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        started = out / sweep.SHARED_DATA / sweep.STARTED
        deadline = time.monotonic() + 120
        while not (started.is_dir() and any(started.iterdir())):  # a cell has started: mid-sweep
            assert sweep_process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        children = psutil.Process(sweep_process.pid).children(recursive=True)
        assert len([c for c in children if "popen_loky" in " ".join(c.cmdline())]) == 2
    finally:
        sweep_process.kill()
        sweep_process.wait()
    _, alive = psutil.wait_procs(children, timeout=5)
    for process in alive:
        process.kill()
    assert not alive, [" ".join(p.cmdline())[:100] for p in alive]
