"""The lectures' techniques that live outside the kernels: noise and reversal of the inputs,
many-to-many targets, the seed's streams, and a reversed model reloaded."""

import dataclasses

import numpy as np
import pytest

import rnnbatch
from rnnbatch import data, report, results
from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import FAMILIES
from rnnbatch.settings import TrainConfig
from rnnbatch.train import streams, train

from .conftest import TINY_DATA, run_grid_in

RNN = FAMILIES["rnn"]


@pytest.fixture(scope="module")
def small():
    return make_dataset(DataParams(seed=4, train=80, test=30, steps=21))


def _by_hand(config, ds, inputs_of_epoch, targets, lrs=None):
    """train() redone from the family's public calls: the init stream, then one epoch per
    call of ``inputs_of_epoch(epoch)`` at ``lrs[epoch]`` (else config.lr); returns the test
    MSE of each epoch."""
    params = RNN.init(config.layers, config.init, streams(config.seed)[0])
    state = RNN.new_state(config.layers)
    order = np.arange(len(ds.train), dtype=np.int64)
    test_inputs = ds.test[:, :-1][:, ::-1] if config.reverse else ds.test[:, :-1]
    curve = []
    for epoch in range(config.epochs):
        RNN.train_epoch(params, config.layers, inputs_of_epoch(epoch), targets, order, state,
                        lr=lrs[epoch] if lrs else config.lr)
        curve.append(float(np.mean((ds.test[:, -1] - RNN.predict(params, config.layers, test_inputs)) ** 2)))
    return curve


def test_adding_the_noise_stream_left_init_and_shuffle_as_they_were():
    for seed in (0, 7, 2**32 - 1):
        before = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
        now = streams(seed)
        for old, new in zip(before, now[:2]):
            assert np.array_equal(old.random(5), new.random(5))


def test_a_cosine_schedule_trains_each_epoch_at_its_annealed_lr(small):
    config = TrainConfig("rnn", (1, 4, 1), lr=0.08, epochs=4, schedule="cosine")
    lrs = [0.08, 0.08 * (1 + np.cos(np.pi / 4)) / 2, 0.04, 0.08 * (1 + np.cos(3 * np.pi / 4)) / 2]
    expected = _by_hand(config, small, lambda e: small.train[:, :-1], small.train[:, -1:], lrs)
    assert train(config, small).test_mse == expected
    assert train(dataclasses.replace(config, schedule="constant"), small).test_mse != expected


def test_noise_is_fresh_each_epoch_from_its_own_stream_and_training_inputs_only(small):
    config = TrainConfig("rnn", (1, 4, 1), lr=0.05, epochs=3, noise=0.1, seed=3)
    noise_rng = streams(3)[2]
    inputs = small.train[:, :-1]
    draws = [0.1 * noise_rng.standard_normal(inputs.shape) for _ in range(3)]
    expected = _by_hand(config, small, lambda e: inputs + draws[e], small.train[:, -1:])
    result = train(config, small)
    assert result.test_mse == expected  # the test set is clean: predicted as given
    assert not np.array_equal(draws[0], draws[1])
    plain = train(dataclasses.replace(config, noise=0.0), small)
    assert np.array_equal(plain.initial, result.initial) and plain.test_mse != result.test_mse


def test_reverse_feeds_last_value_first_in_training_and_test(small):
    config = TrainConfig("rnn", (1, 4, 1), lr=0.05, epochs=2, reverse=True)
    expected = _by_hand(config, small, lambda e: small.train[:, -2::-1].copy(), small.train[:, -1:])
    assert train(config, small).test_mse == expected


def test_many_to_many_learns_every_next_value_and_reports_the_last(small):
    config = TrainConfig("rnn", (1, 4, 1), lr=0.01, epochs=2, loss="every")
    expected = _by_hand(config, small, lambda e: small.train[:, :-1], small.train[:, 1:])
    assert train(config, small).test_mse == expected
    assert expected != train(dataclasses.replace(config, loss="last"), small).test_mse


def test_a_run_with_techniques_reloads_and_reproduces_its_test_mse(tmp_path):
    text = TINY_DATA + """
[[experiment]]
name = "lectures"
model = "rnn"
layers = [1, 3, 1]
epochs = 2
reverse = true
noise = 0.05
l2 = 1e-3
optimizer = "adam"
batch = 5
activation = "relu"
init = "identity"
"""
    res = run_grid_in(tmp_path, text, 1)
    [row] = report.aggregate(results.read(res))
    assert (row["reverse"], row["noise"], row["optimizer"], row["batch"]) == (True, 0.05, "adam", 5)
    [path] = (res / "model=rnn").iterdir()
    dataset = data.load(next((tmp_path / "data").iterdir()))
    model = rnnbatch.load_model(path)
    assert model.reverse and model.net == {"activation": "relu", "readout": "tanh", "bidirectional": False}
    predicted = model.predict(dataset.test[:, :-1])
    assert float(np.mean((dataset.test[:, -1] - predicted) ** 2)) == row["test_mse_mean"]
