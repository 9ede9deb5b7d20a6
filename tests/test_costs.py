"""Costs: saturation at |z| up to 1e3 with floating-point errors raised, and properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nndl
from nndl.activations import HIDDEN_ACTIVATIONS, log_softmax, output_fn, sigmoid, softmax

COSTS = [nndl.QuadraticCost, nndl.CrossEntropyCost, nndl.LogLikelihoodCost]
OUTPUTS = ["sigmoid", "softmax"]
RAISE = dict(over="raise", divide="raise", invalid="raise")  # underflow is legitimate (sigma(-800) = 0)
EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("z0", [40.0, 300.0, 1000.0])
def test_saturated_costs_and_deltas_raise_nothing(cost, output, z0):
    z = np.array([[z0, -z0, 0.0], [-z0, z0, z0], [z0, z0, -z0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # each row badly wrong
    with np.errstate(**RAISE):
        a = output_fn(output, z)
        c = cost.fn(a, y, z, output=output)
        d = cost.delta(z, a, y, output=output)
    assert np.isfinite(c) and c >= 0
    assert np.all(np.isfinite(d))
    assert np.all(np.abs(d) <= 2.0 + 1e-12)  # |dC/dz| is bounded for every one of these pairs


@pytest.mark.parametrize("z0", [40.0, 300.0, 1000.0])
def test_cross_entropy_is_exact_where_sigma_rounds_to_one(z0):
    """y = 0, z large: C = -ln(1 - sigma(z)) = ln(1 + e^z) ~ z; network2's nan_to_num gives 1.8e308."""
    z = np.array([[z0]])
    with np.errstate(**RAISE):
        c = nndl.CrossEntropyCost.fn(sigmoid(z), np.zeros((1, 1)), z)
    assert c == pytest.approx(z0 + np.log1p(np.exp(-z0)), rel=1e-15)


@pytest.mark.parametrize("z0", [40.0, 300.0, 1000.0])
def test_log_likelihood_is_exact_far_from_the_target(z0):
    """softmax(z0, -z0), target class 1: C = -ln a_1 = 2 z0 + ln(1 + e^{-2 z0})."""
    z = np.array([[z0, -z0]])
    with np.errstate(**RAISE):
        c = nndl.LogLikelihoodCost.fn(softmax(z), np.array([[0.0, 1.0]]), z)
    assert c == pytest.approx(2 * z0, rel=1e-15)


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_hidden_activations_saturate_quietly(name):
    act = HIDDEN_ACTIVATIONS[name]
    z = np.array([-1000.0, -300.0, -40.0, 0.0, 40.0, 300.0, 1000.0])
    with np.errstate(**RAISE):
        a = act.fn(z)
        p = act.prime_from_a(a)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(p)) and np.all(p >= 0)


finite_z = st.floats(-1e3, 1e3, allow_nan=False)


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 8)), elements=finite_z))
def test_softmax_rows_sum_to_one(z):
    with np.errstate(**RAISE):
        a = softmax(z)
        la = log_softmax(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=8 * EPS * z.shape[1])  # eq. (79)
    assert np.all(a >= 0) and np.all(la <= 1e-12)


@given(arrays(np.float64, st.integers(1, 20), elements=finite_z),
       arrays(np.float64, st.integers(1, 20), elements=st.sampled_from([0.0, 1.0])))
def test_stable_cross_entropy_equals_naive_where_naive_is_finite(z, y):
    n = min(len(z), len(y))
    z, y = z[:n], y[:n]
    with np.errstate(all="ignore"):
        a = 1.0 / (1.0 + np.exp(-z))
        naive = -(y * np.log(a) + (1 - y) * np.log(1 - a))  # the book's eq. (57) term by term
        naive = np.where((y == 1) & (a == 1), 0.0, np.where((y == 0) & (a == 0), 0.0, naive))
    stable = np.array([nndl.CrossEntropyCost.fn(None, y[i : i + 1], z[i : i + 1]) for i in range(n)])
    finite = np.isfinite(naive)
    # Computing 1 - a in float64 loses ~eps / min(a, 1 - a) of ln(1 - a) (conditioning of the
    # naive form, not an error of the stable one): that is the tolerance, plus 1e-12 relative.
    with np.errstate(all="ignore"):
        slack = 4 * EPS / np.minimum(a, 1 - a) + 1e-12 * np.abs(stable)
    assert np.all(np.abs(stable[finite] - naive[finite]) <= slack[finite])


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("output", OUTPUTS)
@given(data=st.data())
def test_delta_equals_numerical_dC_dz(cost, output, data):
    K = data.draw(st.integers(2, 6))
    z = data.draw(arrays(np.float64, (1, K), elements=st.floats(-20, 20)))
    y = np.zeros((1, K))
    y[0, data.draw(st.integers(0, K - 1))] = 1.0
    delta = cost.delta(z, output_fn(output, z), y, output=output)
    h = 1e-6
    num = np.zeros_like(z)
    for j in range(K):
        e = np.zeros_like(z)
        e[0, j] = h
        num[0, j] = (cost.fn(output_fn(output, z + e), y, z + e, output=output)
                     - cost.fn(output_fn(output, z - e), y, z - e, output=output)) / (2 * h)
    np.testing.assert_allclose(delta, num, rtol=1e-5, atol=1e-7)


def test_cost_registry_names_and_errors():
    assert nndl.COSTS["cross-entropy"] is nndl.CrossEntropyCost
    from nndl.costs import get_cost

    assert get_cost("CrossEntropyCost") is nndl.CrossEntropyCost  # network2's JSON name
    with pytest.raises(ValueError, match="unknown cost 'os.system'; choose from"):
        get_cost("os.system")


@pytest.mark.parametrize("form", ["class", "instance", "name", "network2 name"])
@pytest.mark.parametrize("cls", [nndl.QuadraticCost, nndl.CrossEntropyCost, nndl.LogLikelihoodCost])
def test_a_cost_as_class_instance_or_name_behaves_the_same_everywhere(tmp_path, cls, form):
    """Issue 12, item 2: Network([1, 1], cost=CrossEntropyCost()).save(...) raised AttributeError."""
    from nndl.costs import cost_name, get_cost
    from nndl.training import Trainer

    given = {"class": cls, "instance": cls(), "name": cls.name, "network2 name": cls.__name__}[form]
    assert get_cost(given) is cls and cost_name(given) == cls.name
    net = nndl.Network([2, 3, 2], cost=given, rng=np.random.default_rng(0))
    assert net.cost is cls
    assert repr(net) == repr(nndl.Network([2, 3, 2], cost=cls, rng=np.random.default_rng(0)))
    X, y = np.eye(2), np.array([0, 1])
    assert Trainer(net, (X, y), 1, 1, 0.5)._fast_ok()  # the instance gets the fast step too
    for name in ("m.npz", "m.json"):
        net.save(tmp_path / name)
        back = nndl.load(tmp_path / name)
        assert back.cost is cls
        np.testing.assert_allclose(back.feedforward(X), net.feedforward(X))
    net.cost = given  # reassigning normalises as well
    assert net.cost is cls


def test_a_users_own_cost_is_passed_through_and_refused_by_save(tmp_path):
    class MyCost(nndl.CrossEntropyCost):  # a subclass may change the maths: not the book's cost
        @staticmethod
        def fn(a, y, z=None, output=None):
            return 0.0

    from nndl.costs import cost_name, get_cost

    for given in (MyCost, MyCost()):
        assert get_cost(given) is given and cost_name(given) == "MyCost"
        net = nndl.Network([2, 2], cost=given, rng=np.random.default_rng(0))
        with pytest.raises(ValueError, match="user-defined cost 'MyCost'"):
            net.save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="fn"):
        get_cost(3)
