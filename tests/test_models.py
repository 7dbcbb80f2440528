"""Kernels against the numpy oracle, gradients against finite differences, determinism, divergence."""

import numpy as np
import pytest
from numba import njit

from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import dense, rnn
from rnnbatch.models._common import tanh
from rnnbatch.train import TrainConfig, streams, train

from . import oracle

FAMILIES = {
    "rnn": (rnn, oracle.rnn_train, oracle.rnn_predict, oracle.rnn_loss),
    "dense": (dense, oracle.dense_train, oracle.dense_predict, oracle.dense_loss),
}
# rnn: scalar path (1, 1); packed path (1, 6, 1), (1, 3, 3, 1), (1, 2, 3, 2, 1) (all 8 lanes);
# general path with narrow (1, 5, 4, 1) and wide (1, 20, 20, 1) layers
CASES = [("rnn", (1, 1)), ("rnn", (1, 6, 1)), ("rnn", (1, 3, 3, 1)), ("rnn", (1, 2, 3, 2, 1)),
         ("rnn", (1, 5, 4, 1)), ("rnn", (1, 20, 20, 1)),
         ("dense", (50, 1)), ("dense", (50, 10, 1)), ("dense", (50, 7, 3, 1))]


@pytest.fixture(scope="module")
def small():
    return make_dataset(DataParams(seed=3, train=300, test=50, steps=51))


def _init(family, layers, seed=0, scheme="scaled"):
    return family.init(layers, scheme, streams(seed)[0])


@pytest.mark.parametrize("model,layers", CASES)
@pytest.mark.parametrize("clip", [0.0, 0.01])
def test_kernel_equals_oracle_after_hundreds_of_updates(small, model, layers, clip):
    family, oracle_train, oracle_predict, _ = FAMILIES[model]
    n = 60 if layers == (1, 20, 20, 1) else 300  # the oracle is slow on the widest net
    X = small.train[:n]
    # the course's regime: scaled init, where training is stable and rounding does not amplify
    start = _init(family, layers)
    expected = oracle_train(start.copy(), layers, X[:, :-1], X[:, -1:], lr=0.05, clip=clip)
    got = start.copy()
    sizes = np.asarray(layers, dtype=np.int64)
    mse, ok = family._train_epoch(got, sizes, X, np.arange(n, dtype=np.int64), 0.05, clip)
    assert ok
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(family._predict(got, sizes, small.test),
                               oracle_predict(expected, layers, small.test[:, :-1]),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("model,layers", CASES)
def test_gradient_matches_central_differences(small, model, layers):
    family, _, _, loss = FAMILIES[model]
    params = _init(family, layers, seed=1, scheme="uniform")
    series = small.train[7]
    grad = family._gradient(params, np.asarray(layers, dtype=np.int64), series, 0.0)
    eps = 1e-6
    for k in np.random.default_rng(0).choice(len(params), size=min(40, len(params)), replace=False):
        up, down = params.copy(), params.copy()
        up[k] += eps
        down[k] -= eps
        x, y = series[:-1], series[-1:]
        numeric = -(loss(up, layers, x, y) - loss(down, layers, x, y)) / (2 * eps)
        assert grad[k] == pytest.approx(numeric, rel=1e-5, abs=1e-9), k


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


def test_naive_is_the_course_baseline():
    ds = make_dataset(DataParams(seed=0))
    result = train(TrainConfig("naive"), ds)
    assert result.test_mse == [pytest.approx(0.0209, abs=5e-4)]


@njit
def _kernel_tanh(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = tanh(x[i])
    return out


def test_kernel_tanh_is_within_a_few_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-25, 25, 500_000), rng.normal(0, 1, 500_000),
                        rng.uniform(-1e-6, 1e-6, 10_000), np.linspace(-400, 400, 100_001)])
    got, want = _kernel_tanh(x), np.tanh(x)
    assert np.all(np.abs(got - want) <= 6 * np.spacing(np.abs(want)))
    assert np.isnan(_kernel_tanh(np.array([np.nan]))[0])
