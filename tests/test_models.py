"""Kernels against the numpy oracle with every option, gradients against finite differences,
determinism, divergence. Kernels are reached through the registered families' public calls."""

import numpy as np
import pytest

from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import FAMILIES as REGISTERED
from rnnbatch.models import dense, rnn
from rnnbatch.models._common import tanh
from rnnbatch.train import TrainConfig, streams, train

from . import oracle
from .conftest import central_differences, elementwise, split_series, train_epochs

LOSSES = {"rnn": oracle.rnn_loss, "dense": oracle.dense_loss, "jordan": oracle.jordan_loss}
PREDICT = {"rnn": oracle.rnn_predict, "dense": oracle.dense_predict,
           "jordan": oracle.jordan_predict}
# rnn: scalar path (1, 1); packed path (1, 6, 1), (1, 3, 3, 1), (1, 2, 3, 2, 1) (all 8 lanes);
# general path with narrow (1, 5, 4, 1) and wide (1, 20, 20, 1) layers
CASES = [("rnn", (1, 1)), ("rnn", (1, 6, 1)), ("rnn", (1, 3, 3, 1)), ("rnn", (1, 2, 3, 2, 1)),
         ("rnn", (1, 5, 4, 1)), ("rnn", (1, 20, 20, 1)),
         ("dense", (50, 1)), ("dense", (50, 10, 1)), ("dense", (50, 7, 3, 1)),
         ("jordan", (1, 1, 1)), ("jordan", (1, 6, 1))]
# each option alone, then together; the rnn's loss and bptt only where they apply. A loss over
# every step sums 50 errors: its lr is smaller, to stay in the stable regime
OPTIONS = [
    {"clip_norm": 0.05}, {"l2": 1e-2}, {"l1": 1e-3}, {"batch": 7},
    {"optimizer": "momentum"}, {"optimizer": "adam", "lr": 0.002},
    {"bptt": 1}, {"bptt": 6}, {"loss": "every", "lr": 0.005},
    {"loss": "every", "bptt": 4, "lr": 0.005}, {"activation": "relu"},
    {"loss": "every", "bptt": 4, "clip": 0.01, "batch": 5, "clip_norm": 0.1, "l1": 1e-4,
     "l2": 1e-3, "optimizer": "adam", "lr": 0.002},
]
RECURRENT_ONLY = {"bptt", "loss"}
RNN_ONLY = {"activation"}


@pytest.fixture(scope="module")
def small():
    return make_dataset(DataParams(seed=3, train=300, test=50, steps=51))


def _init(family, layers, seed=0, scheme="scaled"):
    return family.init(layers, scheme, streams(seed)[0])


_split = split_series


def _epochs(model, layers, series, n_epochs, options, *, kernel):
    return train_epochs(model, layers, series, n_epochs, options, None if kernel else oracle.train)


@pytest.mark.parametrize("model,layers", CASES)
@pytest.mark.parametrize("clip", [0.0, 0.01])
def test_kernel_equals_oracle_after_hundreds_of_updates(small, model, layers, clip):
    n = 60 if layers == (1, 20, 20, 1) else 300  # the oracle is slow on the widest net
    series = small.train[:n]
    got = _epochs(model, layers, series, 1, {"clip": clip}, kernel=True)
    expected = _epochs(model, layers, series, 1, {"clip": clip}, kernel=False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    inputs = small.test[:, :-1]
    np.testing.assert_allclose(REGISTERED[model].predict(got, layers, inputs),
                               PREDICT[model](expected, layers, inputs), rtol=0, atol=1e-12)


def _named(options):
    return ",".join(f"{k}={v}" for k, v in options.items()) or "course"


def _applicable(cases, options_list):
    """(model, layers, options) for every case, but no BPTT options on a dense net."""
    return [pytest.param(model, layers, options, id=f"{model}{list(layers)}-{_named(options)}")
            for model, layers in cases for options in options_list
            if model == "rnn" or not set(options) & (RNN_ONLY if REGISTERED[model].recurrent
                                                      else RECURRENT_ONLY | RNN_ONLY)]


@pytest.mark.parametrize("model,layers,options",
                         _applicable([c for c in CASES if c[1] != (1, 2, 3, 2, 1)], OPTIONS))
def test_kernel_equals_oracle_with_each_option(small, model, layers, options):
    many_passes = options.get("loss") == "every" and "bptt" in options  # a pass a prediction
    n = 20 if many_passes or layers == (1, 20, 20, 1) else 120
    series = small.train[:n]
    # two epochs: the optimizer's state carries over, through each kernel's layout
    got = _epochs(model, layers, series, 2, options, kernel=True)
    expected = _epochs(model, layers, series, 2, options, kernel=False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


GRADIENT_OPTIONS = [{}, {"bptt": 1}, {"bptt": 5}, {"loss": "every"}, {"loss": "every", "bptt": 3},
                    {"activation": "relu", "loss": "every"}]


@pytest.mark.parametrize("model,layers,options", _applicable(CASES, GRADIENT_OPTIONS))
def test_gradient_matches_central_differences(small, model, layers, options):
    """The gradient is that of ½ Σ e² over the predictions; with bptt = k, of the loss in which
    each prediction reads its state of k steps before from the unperturbed parameters."""
    family = REGISTERED[model]
    params = _init(family, layers, seed=1, scheme="uniform")
    series = small.train[7:8, :21] if family.recurrent else small.train[7:8]  # 20 steps: fast oracle
    X, Y = _split(series, options.get("loss", "last"))
    bptt, activation = options.get("bptt", 0), options.get("activation", "tanh")
    grad = family.gradient(params, layers, X, Y, bptt=bptt, activation=activation)
    extra = {"bptt": bptt, "frozen": params} if bptt else {}
    tolerance = {"rel": 1e-5, "abs": 1e-9}
    if activation != "tanh":
        extra["activation"] = activation
        tolerance = {"rel": 1e-4, "abs": 1e-8}  # a unit near ReLU's kink bends the differences

    def loss(p):
        return LOSSES[model](p, layers, X[0], Y[0], **extra)

    picked = np.random.default_rng(0).choice(len(params), size=min(30, len(params)), replace=False)
    assert grad[picked] == pytest.approx(central_differences(loss, params, picked), **tolerance)


@pytest.mark.parametrize("model,layers", [("rnn", (1, 3, 3, 1)), ("rnn", (1, 5, 4, 1)), ("dense", (50, 7, 3, 1))])
def test_regularised_step_follows_the_penalised_loss(small, model, layers):
    """One sgd step with l1 and l2 moves by -lr times the central-difference gradient of
    L + l2/2 |W|² + l1 |W|₁, the penalties on weights only."""
    family = REGISTERED[model]
    params = _init(family, layers, seed=2, scheme="uniform")
    X, Y = _split(small.train[3:4])
    lr, l1, l2 = 1e-3, 0.02, 0.3
    decay = family.decay(layers)
    stepped = params.copy()
    family.train_epoch(stepped, layers, X, Y, np.zeros(1, np.int64), family.new_state(layers),
                       lr=lr, l1=l1, l2=l2)

    def penalised(p):
        weights = p[decay == 1]
        return LOSSES[model](p, layers, X[0], Y[0]) + l2 / 2 * weights @ weights + l1 * np.abs(weights).sum()

    picked = np.random.default_rng(0).choice(len(params), size=20, replace=False)
    numeric = central_differences(penalised, params, picked)
    assert (params[picked] - stepped[picked]) / lr == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    assert set(np.unique(decay)) == {0.0, 1.0}
    assert np.array_equal(decay == 0, np.isin(np.arange(len(params)), _bias_positions(family, layers)))


def _bias_positions(family, layers):
    named = family.named(np.arange(family.n_params(layers), dtype=float), layers)
    return np.concatenate([a.ravel() for name, a in named.items() if name.startswith("b_")])


def test_norm_clipping_keeps_the_direction_and_sets_the_norm(small):
    family, layers = REGISTERED["rnn"], (1, 5, 4, 1)
    params = _init(family, layers, scheme="uniform")
    X, Y = _split(small.train[:1])
    grad = family.gradient(params, layers, X, Y)
    c = np.linalg.norm(grad) / 10
    stepped = params.copy()
    family.train_epoch(stepped, layers, X, Y, np.zeros(1, np.int64), family.new_state(layers),
                       lr=1.0, clip_norm=c)
    # (the difference of two parameters loses a few digits to cancellation)
    np.testing.assert_allclose(params - stepped, grad * c / np.linalg.norm(grad), rtol=1e-9, atol=1e-15)
    assert np.linalg.norm(params - stepped) == pytest.approx(c, rel=1e-9)


def test_identity_init_is_le_et_al_below_the_course_output_layer():
    params = rnn.init((1, 4, 3, 1), "identity", np.random.default_rng(0))
    named = REGISTERED["rnn"].named(params, (1, 4, 3, 1))
    for L, n in ((1, 4), (2, 3)):
        assert np.array_equal(named[f"ws_{L}"], np.eye(n)) and not named[f"b_{L}"].any()
        assert 0 < np.abs(named[f"w1_{L}"]).max() < 0.01
    assert 0.1 < np.abs(named["w1_3"]).max() <= np.sqrt(3 / 2.5)  # the course's scaled output


def test_init_radius_is_the_course_formula():
    # [1, 6, 1]: layer 1 temp = (1 + 12) / 2, layer 2 temp = (6 + 2) / 2
    params = _init(rnn, (1, 6, 1))
    assert np.abs(params[:6 * 7 + 6]).max() <= np.sqrt(3 / 6.5)
    assert np.abs(params[6 * 7 + 6:]).max() <= np.sqrt(3 / 4)
    assert rnn.n_params((1, 6, 1)) == 56 and dense.n_params((50, 1)) == 51
    assert rnn.n_params((1, 1)) == 3


def test_same_seed_same_curves(small):
    config = TrainConfig("rnn", (1, 6, 1), lr=0.01, epochs=3, shuffle=True, seed=5)
    first, second = train(config, small), train(config, small)
    assert first.test_mse == second.test_mse and first.train_mse == second.train_mse
    other = train(TrainConfig("rnn", (1, 6, 1), lr=0.01, epochs=3, shuffle=True, seed=6), small)
    assert other.test_mse != first.test_mse


def test_shuffle_changes_order_but_not_the_init(small):
    plain = train(TrainConfig("dense", (50, 1), lr=0.1, epochs=2), small)
    shuffled = train(TrainConfig("dense", (50, 1), lr=0.1, epochs=2, shuffle=True), small)
    assert plain.test_mse != shuffled.test_mse


def test_diverging_run_is_reported_not_raised(small, recwarn):
    # tanh saturates (A' = 1 - a^2 reaches 0) long before values overflow, so only an lr
    # near the float maximum drives this algorithm to non-finite numbers
    result = train(TrainConfig("rnn", (1, 20, 1), lr=1.7e308, epochs=5, init="uniform"), small)
    assert result.status == "diverged"
    assert len(result.test_mse) < 5 and np.isnan(result.test_mse[-1])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_naive_and_ar_are_the_baselines_on_the_course_data():
    ds = make_dataset(DataParams(seed=0))
    assert train(TrainConfig("naive"), ds).test_mse == [pytest.approx(0.0209, abs=5e-4)]
    ar = train(TrainConfig("ar"), ds)
    assert ar.test_mse == [pytest.approx(0.00292, abs=5e-6)] and ar.n_params == 51


def test_ar_with_l2_solves_the_ridge_normal_equations(small):
    X, y, l2 = small.train[:, :-1], small.train[:, -1], 0.5
    params = REGISTERED["ar"].fit(X, y, l2=l2)
    design = np.hstack([X, np.ones((len(X), 1))])
    penalty = np.diag([l2] * X.shape[1] + [0.0])  # the intercept is not penalised
    expected = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    np.testing.assert_allclose(params, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(REGISTERED["ar"].predict(params, (), X), design @ expected, atol=1e-12)


_kernel_tanh = elementwise(tanh)


def test_kernel_tanh_is_within_a_few_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-25, 25, 500_000), rng.normal(0, 1, 500_000),
                        rng.uniform(-1e-6, 1e-6, 10_000), np.linspace(-400, 400, 100_001)])
    got, want = _kernel_tanh(x), np.tanh(x)
    assert np.all(np.abs(got - want) <= 6 * np.spacing(np.abs(want)))
    assert np.isnan(_kernel_tanh(np.array([np.nan]))[0])
