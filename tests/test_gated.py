"""The gru and lstm families: their arrays and inits, gradients against central differences,
kernels against tests/oracle_gated.py through the registered families' public calls."""

import numpy as np
import pytest

import rnnbatch
from rnnbatch import data, report, results
from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import FAMILIES
from rnnbatch.models._common import sigmoid
from rnnbatch.settings import TrainConfig
from rnnbatch.train import streams, train

from . import oracle_gated
from .conftest import (TINY_DATA, central_differences, elementwise, run_grid_in, split_series,
                       train_epochs)

KINDS = ("gru", "lstm")
NETS = [(1, 3, 1), (1, 4, 3, 1)]


@pytest.fixture(scope="module")
def small():
    return make_dataset(DataParams(seed=3, train=300, test=50, steps=51))


_split = split_series


@pytest.mark.parametrize("kind", KINDS)
def test_arrays_are_pytorchs(kind):
    family, G = FAMILIES[kind], {"gru": 3, "lstm": 4}[kind]
    layers = (1, 4, 3, 1)
    params = np.arange(family.n_params(layers), dtype=float)
    named = family.named(params, layers)
    assert [(name, a.shape) for name, a in named.items()] == [
        ("weight_ih_l0", (4 * G, 1)), ("weight_hh_l0", (4 * G, 4)), ("bias_ih_l0", (4 * G,)),
        ("bias_hh_l0", (4 * G,)), ("weight_ih_l1", (3 * G, 4)), ("weight_hh_l1", (3 * G, 3)),
        ("bias_ih_l1", (3 * G,)), ("bias_hh_l1", (3 * G,)), ("readout.weight", (1, 3)),
        ("readout.bias", (1,))]
    # the flat vector is the arrays raveled in order
    np.testing.assert_array_equal(np.concatenate([a.ravel() for a in named.values()]), params)
    np.testing.assert_array_equal(family.flat(named, layers), params)
    np.testing.assert_array_equal(family.decay(layers), oracle_gated.decay_mask(kind, layers))
    with pytest.raises(ValueError, match="needs a hidden layer"):
        family.n_params((1, 1))


@pytest.mark.parametrize("kind", KINDS)
def test_inits_draw_each_array_in_order(kind):
    family, layers = FAMILIES[kind], (1, 4, 3, 1)
    shapes = [a.shape for a in family.named(np.zeros(family.n_params(layers)), layers).values()]
    course = [np.sqrt(3 / ((1 + 8) / 2)), np.sqrt(3 / ((4 + 6) / 2)), np.sqrt(3 / ((3 + 1) / 2))]
    radii = {"scaled": course, "uniform": [1.0] * 3, "torch": [1 / 2, 1 / np.sqrt(3), 1 / np.sqrt(3)]}
    for scheme, (r0, r1, r_out) in radii.items():
        rng = np.random.default_rng(5)
        expected = [rng.uniform(-r, r, int(np.prod(shape)))
                    for r, shape in zip([r0] * 4 + [r1] * 4 + [r_out] * 2, shapes)]
        np.testing.assert_array_equal(family.init(layers, scheme, np.random.default_rng(5)),
                                      np.concatenate(expected))


_sigmoids = elementwise(sigmoid)


def test_kernel_sigmoid_is_within_a_few_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-40, 40, 200_000), rng.normal(0, 2, 200_000),
                        np.linspace(-60, 60, 10_001)])
    got, want = _sigmoids(x), 1 / (1 + np.exp(-x))
    inside = np.abs(x) <= 40
    assert np.all(np.abs(got - want)[inside] <= 4 * np.spacing(want[inside]))
    assert np.all(np.abs(got - want) <= 4.3e-18 + 4 * np.spacing(want))  # |x| capped at 40
    assert np.isnan(_sigmoids(np.array([np.nan]))[0])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", NETS)
@pytest.mark.parametrize("loss", ["last", "every"])
@pytest.mark.parametrize("bptt", [0, 1, 3])
@pytest.mark.parametrize("readout", ["tanh", "linear"])
def test_gradient_matches_central_differences(small, kind, layers, loss, bptt, readout):
    """The gradient of ½ Σ e² over the predictions; with bptt = k, of the loss in which each
    prediction reads its states of k steps before from the unperturbed parameters."""
    family = FAMILIES[kind]
    params = family.init(layers, "uniform", streams(1)[0])
    X, Y = _split(small.train[7:8, :13], loss)  # 12 steps: a fast oracle
    grad = family.gradient(params, layers, X, Y, bptt=bptt, readout=readout)
    extra = {"bptt": bptt, "frozen": params} if bptt else {}

    def loss_at(p):
        return oracle_gated.loss(p, kind, layers, X[0], Y[0], readout=readout, **extra)

    picked = np.random.default_rng(0).choice(len(params), size=12, replace=False)
    numeric = central_differences(loss_at, params, picked)
    assert grad[picked] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [{}, {"clip": 0.02}, {"loss": "every", "bptt": 3, "clip": 0.02},
                                     {"loss": "every", "readout": "linear", "clip": 0.05}])
def test_kernel_gradient_equals_oracle(small, kind, options):
    options = dict(options)
    family, layers = FAMILIES[kind], (1, 4, 3, 1)
    params = family.init(layers, "uniform", streams(2)[0])
    X, Y = _split(small.train[:3], options.pop("loss", "last"))
    expected = sum(oracle_gated.gradient(params, kind, layers, x, y, **options) for x, y in zip(X, Y))
    np.testing.assert_allclose(-family.gradient(params, layers, X, Y, **options), expected,
                               rtol=0, atol=1e-13)


def _epochs(kind, layers, series, n_epochs, options, *, kernel):
    return train_epochs(kind, layers, series, n_epochs, options,
                        None if kernel else oracle_gated.train)


# (layers, series, epochs, options): the course's per-series SGD for hundreds of updates, then
# the options on fewer; a loss over every step sums 50 errors, so its lr is smaller
RUNS = [
    ((1, 3, 1), 300, 1, {}),
    ((1, 4, 3, 1), 150, 1, {}),
    ((1, 3, 1), 120, 2, {"batch": 8, "optimizer": "adam", "lr": 0.005}),
    ((1, 3, 1), 120, 1, {"clip": 0.01, "readout": "linear"}),
    ((1, 3, 1), 100, 1, {"bptt": 4, "optimizer": "momentum", "lr": 0.01}),
    ((1, 3, 1), 60, 1, {"loss": "every", "lr": 0.005, "l2": 1e-3}),
    ((1, 4, 3, 1), 15, 2, {"loss": "every", "bptt": 3, "clip": 0.01, "batch": 4, "clip_norm": 0.1,
                           "l1": 1e-4, "l2": 1e-3, "optimizer": "adam", "lr": 0.002,
                           "readout": "linear"}),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers,n,epochs,options", RUNS,
                         ids=[",".join(f"{k}={v}" for k, v in r[3].items()) or "course" for r in RUNS])
def test_kernel_equals_oracle_after_training(small, kind, layers, n, epochs, options):
    series = small.train[:n]
    got = _epochs(kind, layers, series, epochs, options, kernel=True)
    expected = _epochs(kind, layers, series, epochs, options, kernel=False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    readout = options.get("readout", "tanh")
    inputs = small.test[:10, :-1]
    np.testing.assert_allclose(FAMILIES[kind].predict(got, layers, inputs, readout=readout),
                               oracle_gated.predict(expected, kind, layers, inputs, readout),
                               rtol=0, atol=1e-12)


def test_a_linear_readout_is_kept_for_test_error_and_saved_model(tmp_path):
    """The readout reaches every prediction: the run's test MSE and its saved model's."""
    text = TINY_DATA + ('[[experiment]]\nname = "g"\nmodel = "gru"\nlayers = [1, 3, 1]\n'
                        'readout = "linear"\ninit = "torch"\nepochs = 2\n')
    res = run_grid_in(tmp_path, text, 1)
    [row] = report.aggregate(results.read(res))
    [path] = (res / "model=gru").iterdir()
    model = rnnbatch.load_model(path)
    dataset = data.load(next((tmp_path / "data").iterdir()))
    inputs = dataset.test[:, :-1]
    expected = oracle_gated.predict(FAMILIES["gru"].flat(model.arrays, (1, 3, 1)), "gru",
                                    (1, 3, 1), inputs, "linear")
    np.testing.assert_allclose(model.predict(inputs), expected, rtol=0, atol=1e-12)
    assert float(np.mean((dataset.test[:, -1] - model.predict(inputs)) ** 2)) == row["test_mse_mean"]


def test_a_net_without_cells_is_refused():
    with pytest.raises(ValueError, match="needs a hidden layer"):
        train(TrainConfig("lstm", (1, 1)), make_dataset(DataParams(train=4, test=2)))


@pytest.mark.parametrize("kind", KINDS)
def test_diverging_run_is_reported_not_raised(small, kind, recwarn):
    result = train(TrainConfig(kind, (1, 5, 1), lr=1.7e308, epochs=3, init="uniform",
                               readout="linear"), small)
    assert result.status == "diverged" and np.isnan(result.test_mse[-1])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
