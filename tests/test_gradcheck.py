"""nndl.gradcheck: passes on every correct cost, catches the classic mistakes."""

import itertools
import json
import re
import textwrap

import numpy as np
import pytest

import nndl
from nndl import gradcheck
from nndl.cli import main
from nndl.network import as_targets

COSTS = [nndl.QuadraticCost, nndl.CrossEntropyCost, nndl.LogLikelihoodCost]


def batch(net, m=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, net.sizes[0]))
    return X, as_targets(rng.integers(0, net.sizes[-1], m), net.sizes[-1])


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize(
    "cost,output,hidden",
    list(itertools.product(COSTS, ["sigmoid", "softmax"], ["sigmoid", "tanh", "relu"])),
)
def test_passes_on_every_correct_cost(cost, output, hidden, depth):
    net = nndl.Network([4] + [5] * depth + [3], cost, output=output, hidden=hidden,
                       rng=np.random.default_rng(depth))
    result = gradcheck.check_gradients(net, *batch(net))
    assert result.passed, gradcheck.to_text(result)
    assert len(result.layers) == depth + 1
    assert result.max_error <= gradcheck.TOLERANCE


def test_passes_on_a_deep_sigmoid_net_whose_first_layer_learns_slowly():
    net = nndl.Network([10, 8, 8, 8, 8, 8, 3], nndl.CrossEntropyCost, rng=np.random.default_rng(1))
    result = gradcheck.check_gradients(net, *batch(net, m=10))
    assert result.layers[0].biases_norm < 1e-2 * result.layers[-1].biases_norm  # vanishing
    assert result.passed, gradcheck.to_text(result)


def test_a_tiny_failing_layer_gets_a_note_about_rounding():
    """8 hidden sigmoid layers: the first layer's gradient is ~1e-6 of the last one's, too
    small for h = 1e-4 to resolve; the failure comes with advice, and h = 1e-2 passes."""
    net = nndl.Network([10] + [8] * 8 + [3], nndl.CrossEntropyCost, rng=np.random.default_rng(1))
    X, Y = batch(net, m=10)
    coarse = gradcheck.check_gradients(net, X, Y, eps=1e-4)
    assert not coarse.passed and coarse.notes() and "2" in coarse.notes()[0]
    assert "Note: layer(s) 2" in gradcheck.to_text(coarse)
    assert gradcheck.check_gradients(net, X, Y, eps=1e-2).passed
    # a wrong delta in a shallow net fails with no such excuse
    wrong = gradcheck.custom_cost("cross-entropy", delta=ce_sign_error)
    shallow = nndl.Network([4, 5, 3], wrong, rng=np.random.default_rng(0))
    assert gradcheck.check_gradients(shallow, *batch(shallow)).notes() == []


def ce_times_sigma_prime(z, a, y):
    return (a - y) * a * (1 - a)  # the classic mistake: sigma'(z^L) multiplied in again


def ce_sign_error(z, a, y):
    return y - a


def test_catches_cross_entropy_delta_multiplied_by_sigma_prime():
    cost = gradcheck.custom_cost("cross-entropy", delta=ce_times_sigma_prime)
    net = nndl.Network([4, 5, 5, 3], cost, rng=np.random.default_rng(0))
    result = gradcheck.check_gradients(net, *batch(net))
    assert not result.passed
    # every layer is wrong, not only the output layer: BP2 carries the error back
    assert all(c.weights > 0.1 and c.biases > 0.1 for c in result.layers)


def test_catches_a_sign_error():
    cost = gradcheck.custom_cost(nndl.CrossEntropyCost, delta=ce_sign_error)
    net = nndl.Network([4, 5, 3], cost, rng=np.random.default_rng(0))
    result = gradcheck.check_gradients(net, *batch(net))
    # backprop gives exactly minus the true gradient: ||g + g|| / (||g|| + ||g||) = 1
    for c in result.layers:
        assert c.weights == pytest.approx(1.0, abs=1e-6) and c.biases == pytest.approx(1.0, abs=1e-6)
    assert not result.passed


def test_relative_error():
    assert gradcheck.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert gradcheck.relative_error([3.0, 4.0], [-3.0, -4.0]) == 1.0  # 10 / (5 + 5)
    assert gradcheck.relative_error([3.0, 4.0], [0.0, 0.0]) == 1.0
    assert gradcheck.relative_error([3.0, 4.0], [3.0, 3.0]) == pytest.approx(1 / (5 + 18**0.5))
    assert gradcheck.relative_error([np.nan, 1.0], [5.0, 1.0]) == 0.0  # unsampled entry skipped
    assert gradcheck.relative_error([0.0], [0.0]) == 0.0


def test_leaves_the_network_untouched_and_checks_float32_in_float64():
    net = nndl.Network([4, 5, 3], rng=np.random.default_rng(0), dtype=np.float32)
    before = [p.copy() for p in net.weights + net.biases]
    result = gradcheck.check_gradients(net, *batch(net))
    assert result.passed
    for p, q in zip(before, net.weights + net.biases):
        assert p.dtype == q.dtype == np.float32 and np.array_equal(p, q)


def test_samples_entries_of_large_layers():
    net = nndl.Network([30, 20, 5], rng=np.random.default_rng(0))
    result = gradcheck.check_gradients(net, *batch(net), max_entries=10)
    assert [(c.n_weights, c.n_biases) for c in result.layers] == [(10, 10), (10, 5)]
    assert result.passed


def test_fixed_dropout_masks():
    net = nndl.Network([4, 6, 5, 3], dropout=0.5, rng=np.random.default_rng(8))
    X, Y = batch(net, m=5)
    masks = net.dropout_masks(5, np.random.default_rng(1))
    assert gradcheck.check_gradients(net, X, Y, masks=masks).passed


def test_numerical_gradients_match_backprop_shapes():
    net = nndl.Network([3, 4, 2], rng=np.random.default_rng(0))
    X, Y = batch(net, m=3)
    num_b, num_w = gradcheck.numerical_gradients(net, X, Y)
    nabla_b, nabla_w = net.backprop(X, Y)
    for n, a in zip(num_b + num_w, nabla_b + nabla_w):
        assert n.shape == a.shape
        np.testing.assert_allclose(n, a, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's module in the current folder, as `nndl gradcheck --delta mycosts:...` finds it."""
    (tmp_path / "mycosts.py").write_text(textwrap.dedent("""
        import numpy as np

        def good_delta(z, a, y):
            return a - y

        def wrong_delta(z, a, y):
            return (a - y) * a * (1 - a)

        def ce_fn(a, y):  # the book's a-only cross-entropy, summed over the batch
            return float(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)))

        class MyQuadratic:
            @staticmethod
            def fn(a, y):
                return 0.5 * float(np.sum((a - y) ** 2))

            @staticmethod
            def delta(z, a, y):
                return (a - y) * a * (1 - a)
    """))
    monkeypatch.chdir(tmp_path)
    yield "mycosts"


def test_cli_passes_and_prints_a_table(capsys):
    assert main(["gradcheck", "--sizes", "4,5,3", "--cost", "quadratic"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and f"<= {gradcheck.TOLERANCE:g}" in out
    assert out.count(" ok") == 2  # one row per layer: the book's layers 2 and 3


@pytest.mark.parametrize(
    "args,status",
    [
        (["--delta", "mycosts:good_delta"], 0),
        (["--delta", "mycosts:wrong_delta"], 1),
        (["--cost", "mycosts:MyQuadratic"], 0),
        (["--fn", "mycosts:ce_fn"], 0),
        (["--fn", "mycosts:ce_fn", "--delta", "mycosts:wrong_delta"], 1),
        (["--cost", "quadratic", "--delta", "mycosts:good_delta"], 1),  # CE's delta, quadratic cost
    ],
)
def test_cli_users_own_cost_or_delta(user_module, capsys, args, status):
    assert main(["gradcheck", *args]) == status
    out = capsys.readouterr().out
    assert ("PASSED" if status == 0 else "FAILED") in out


def test_cli_ships_the_classic_mistake(capsys):
    assert main(["gradcheck", "--delta", "nndl.gradcheck:wrong_delta_sigma_prime"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_json_and_markdown(capsys):
    assert main(["gradcheck", "--sizes", "3,4,4,2", "--hidden", "tanh", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and [c["book_layer"] for c in data["layers"]] == [2, 3, 4]
    assert data["tolerance"] == gradcheck.TOLERANCE and data["eps"] == gradcheck.EPS
    assert main(["gradcheck", "--hidden", "relu", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("**Gradient check**") and "| 2 |" in out
    assert f"$h = {gradcheck.EPS_RELU:g}$" in out


def test_cli_checks_a_saved_model(tmp_path, capsys):
    path = tmp_path / "net.npz"
    nndl.Network([6, 4, 3], nndl.LogLikelihoodCost, rng=np.random.default_rng(0)).save(path)
    assert main(["gradcheck", "--model", str(path)]) == 0
    assert "cost log-likelihood" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--delta", "no_such_module:f"], "cannot import 'no_such_module'"),
        (["--delta", "nndl.gradcheck:no_such_function"], "has no attribute"),
        (["--delta", "missing-colon"], "expected module:function"),
        (["--cost", "hinge"], "unknown cost 'hinge'"),
        (["--sizes", "4,x"], "--sizes must be whole numbers"),
        (["--hidden", "softplus"], "unknown hidden activation"),
    ],
)
def test_cli_usage_errors_are_one_line(capsys, args, message):
    assert main(["gradcheck", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_help_states_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    eps, eps_relu = re.search(r"\(default (\S+); (\S+) for relu\)", out).groups()
    tolerance = re.search(r"passes \(default (\S+)\)", out).group(1)
    assert (float(eps), float(eps_relu)) == (gradcheck.EPS, gradcheck.EPS_RELU)
    assert float(tolerance) == gradcheck.TOLERANCE


def test_the_cached_signature_check_gives_the_same_numerical_gradients(monkeypatch):
    """``_takes`` is cached (it was more than half of ``nndl explain shapes``, which the report
    page runs): the numerical gradients, and so every page and answer built from them, are the
    same bits with the uncached check; and the cache answers as inspect does, for a user's
    ``fn(a, y)`` and for unhashable callables."""
    rng = np.random.default_rng(3)
    X, y = rng.random((3, 5)), [0, 2, 1]
    for cost in ("quadratic", "cross-entropy", "log-likelihood"):
        net = nndl.Network([5, 4, 3], cost, rng=np.random.default_rng(1))
        cached = gradcheck.numerical_gradients(net, X, y)
        with monkeypatch.context() as m:
            m.setattr(gradcheck, "_takes", gradcheck._signature_has)
            uncached = gradcheck.numerical_gradients(net, X, y)
        for a, b in zip(cached[0] + cached[1], uncached[0] + uncached[1], strict=True):
            assert np.array_equal(a, b)

    class Unhashable:
        __hash__ = None

        def __call__(self, a, y, z=None):
            return 0.0

    assert gradcheck._takes(lambda a, y: 0.0, "z") is False
    assert gradcheck._takes(lambda a, y, z=None: 0.0, "z") is True
    assert gradcheck._takes(Unhashable(), "z") is True and gradcheck._takes(Unhashable(), "output") is False
