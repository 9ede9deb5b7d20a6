"""Save/load round trips (nndl .npz, network2 JSON) and the rejection of bad or hostile files."""

import json
import pickle

import numpy as np
import pytest

import nndl
from nndl.errors import ModelFileError
from nndl.io import load_npz, save


def same_network(a, b):
    assert a.sizes == b.sizes and a.cost is b.cost and a.hidden == b.hidden and a.output == b.output
    assert a.dtype == b.dtype and a.dropout == b.dropout
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(cost=nndl.QuadraticCost, init="large", dtype=np.float32),
    dict(cost=nndl.LogLikelihoodCost, hidden="relu", dropout=0.5),
    dict(cost=nndl.CrossEntropyCost, hidden="tanh", output="softmax"),
])
def test_npz_round_trip(tmp_path, kw):
    net = nndl.Network([5, 4, 3, 2], rng=np.random.default_rng(0), **kw)
    path = tmp_path / "model.npz"
    net.save(path)
    same_network(net, nndl.load(path))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind
    import os

    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_npz_keeps_extra_metadata_and_arrays(tmp_path):
    net = nndl.Network([3, 2], rng=np.random.default_rng(0))
    save(net, tmp_path / "m.npz", metadata={"epoch": 3}, arrays={"perm": np.arange(5)})
    loaded, meta, arrays = load_npz(tmp_path / "m.npz")
    same_network(net, loaded)
    assert meta == {"epoch": 3} and np.array_equal(arrays["perm"], np.arange(5))


@pytest.mark.parametrize("cost", [nndl.QuadraticCost, nndl.CrossEntropyCost])
def test_network2_json_round_trip(tmp_path, cost):
    net = nndl.Network([6, 4, 3], cost, rng=np.random.default_rng(1))
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text())
    assert data["cost"] == cost.__name__ and data["sizes"] == [6, 4, 3]
    assert np.shape(data["biases"][0]) == (4, 1) and np.shape(data["weights"][0]) == (4, 6)  # network2's layout
    same_network(net, nndl.load(path))


def test_reads_a_file_written_the_way_network2_writes_it(tmp_path):
    """network2.Network.save: json.dump of sizes, weights (lists), biases (column vectors), cost.__name__."""
    rng = np.random.default_rng(2)
    sizes = [4, 3, 2]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    data = {"sizes": sizes, "weights": [w.tolist() for w in weights], "biases": [b.tolist() for b in biases],
            "cost": str(nndl.CrossEntropyCost.__name__)}
    (tmp_path / "n2.json").write_text(json.dumps(data))
    net = nndl.load(tmp_path / "n2.json")
    x = rng.random(4)
    a = x.reshape(-1, 1)
    for w, b in zip(weights, biases):  # network2.feedforward
        a = 1 / (1 + np.exp(-(w @ a + b)))
    np.testing.assert_allclose(net.feedforward(x[None, :]), a.T, rtol=1e-14)


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    return p


def good_json():
    return {"sizes": [2, 2], "weights": [[[1.0, 2.0], [3.0, 4.0]]], "biases": [[[0.0], [1.0]]],
            "cost": "QuadraticCost"}


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.update(cost="os.system"), "unknown cost 'os.system'"),
    (lambda d: d.update(cost=["x"]), "'cost' must be a name"),
    (lambda d: d.pop("weights"), "missing weights"),
    (lambda d: d.update(sizes=[2, -1]), "positive integers"),
    (lambda d: d.update(sizes="2,2"), "positive integers"),
    (lambda d: d.update(weights=[[[1.0, 2.0]]]), r"weights\[0\] has shape \(1, 2\)"),
    (lambda d: d.update(biases=[[[0.0], [1.0]], [[1.0]]]), "expected 1 weight matrices"),
    (lambda d: d.update(weights=[[[1.0, "a"], [3.0, 4.0]]]), "other than rectangular lists of numbers"),
    (lambda d: d.update(weights=[[[1.0, 2.0], [3.0]]]), "other than rectangular lists of numbers"),
])
def test_bad_network2_json_is_named(tmp_path, mutate, match):
    d = good_json()
    mutate(d)
    with pytest.raises(ModelFileError, match=match):
        nndl.load(write(tmp_path, "bad.json", json.dumps(d)))


def test_non_finite_weights_are_refused(tmp_path):
    d = good_json()
    text = json.dumps(d).replace("4.0", "NaN")
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        nndl.load(write(tmp_path, "nan.json", text))


def test_hostile_and_broken_files(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(ModelFileError, match="pickle"):
        nndl.load(write(tmp_path, "evil.pkl", pickle.dumps(Evil())))
    obj = tmp_path / "obj.npz"
    np.savez(obj, meta=np.array(json.dumps({"format": "nndl-network"})), w0=np.array([Evil()], dtype=object))
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        nndl.load(obj)
    good = tmp_path / "good.npz"
    nndl.Network([3, 2], rng=np.random.default_rng(0)).save(good)
    with pytest.raises(ModelFileError, match="not a (valid|readable) .npz"):
        nndl.load(write(tmp_path, "trunc.npz", good.read_bytes()[:200]))
    with pytest.raises(ModelFileError, match="no such file"):
        nndl.load(tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="neither"):
        nndl.load(write(tmp_path, "junk.bin", b"hello world"))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        nndl.load(write(tmp_path, "broken.json", "{\"sizes\": [1,"))
    with pytest.raises(ModelFileError, match="is a folder"):
        nndl.load(tmp_path)


@pytest.mark.parametrize("edit,match", [
    (lambda f: f.pop("w0"), "missing arrays w0"),
    (lambda f: f.update(w0=np.zeros((3, 3))), r"weights\[0\] has shape \(3, 3\)"),
    (lambda f: f.update(meta=np.array("not json")), "not valid JSON"),
    (lambda f: f.update(meta=np.array(json.dumps({"format": "other"}))), "not an nndl model file"),
    (lambda f: f.pop("meta"), "no nndl metadata"),
    (lambda f: f.update(w0=np.array([["a", "b", "c"]] * 2)), "expected floats"),
])
def test_bad_npz_is_named(tmp_path, edit, match):
    net = nndl.Network([3, 2], rng=np.random.default_rng(0))
    good = tmp_path / "good.npz"
    net.save(good)
    with np.load(good) as z:
        files = {k: z[k] for k in z.files}
    edit(files)
    np.savez(tmp_path / "bad.npz", **files)
    with pytest.raises(ModelFileError, match=match):
        nndl.load(tmp_path / "bad.npz")


def test_bad_metadata_values_are_named(tmp_path):
    net = nndl.Network([3, 2], rng=np.random.default_rng(0))
    good = tmp_path / "good.npz"
    net.save(good)
    with np.load(good) as z:
        files = {k: z[k] for k in z.files}
    meta = json.loads(str(files["meta"]))
    meta["hidden"] = "__import__('os')"
    files["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **files)
    with pytest.raises(ModelFileError, match="'hidden' is"):
        nndl.load(tmp_path / "bad.npz")
