"""Bidirectional nets (lecture 004) of the rnn, gru and lstm families: their arrays,
gradients against central differences, kernels against tests/oracle_bidirectional.py through
the registered families' public calls, and the settings that cannot go with them."""

import numpy as np
import pytest

import rnnbatch
from rnnbatch import data, report, results
from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import FAMILIES
from rnnbatch.train import streams

from . import oracle_bidirectional as oracle
from .conftest import TINY_DATA, central_differences, run_grid_in, split_series, train_epochs

KINDS = ("rnn", "gru", "lstm")
NET = (1, 4, 3, 1)


@pytest.fixture(scope="module")
def small():
    return make_dataset(DataParams(seed=4, train=200, test=30, steps=51))


def test_arrays_are_named_and_ordered_as_pytorch_stacks_directions():
    named = FAMILIES["gru"].named(np.zeros(FAMILIES["gru"].n_params(NET, True)), NET, True)
    assert [(name, a.shape) for name, a in named.items()] == [
        ("weight_ih_l0", (12, 1)), ("weight_hh_l0", (12, 4)), ("bias_ih_l0", (12,)),
        ("bias_hh_l0", (12,)), ("weight_ih_l0_reverse", (12, 1)),
        ("weight_hh_l0_reverse", (12, 4)), ("bias_ih_l0_reverse", (12,)),
        ("bias_hh_l0_reverse", (12,)), ("weight_ih_l1", (9, 8)), ("weight_hh_l1", (9, 3)),
        ("bias_ih_l1", (9,)), ("bias_hh_l1", (9,)), ("weight_ih_l1_reverse", (9, 8)),
        ("weight_hh_l1_reverse", (9, 3)), ("bias_ih_l1_reverse", (9,)),
        ("bias_hh_l1_reverse", (9,)), ("readout.weight", (1, 6)), ("readout.bias", (1,))]
    rnn = FAMILIES["rnn"].named(np.zeros(FAMILIES["rnn"].n_params(NET, True)), NET, True)
    assert [(name, a.shape) for name, a in rnn.items()] == [
        ("w1_1", (4, 1)), ("ws_1", (4, 4)), ("b_1", (4,)), ("w1_1_reverse", (4, 1)),
        ("ws_1_reverse", (4, 4)), ("b_1_reverse", (4,)), ("w1_2", (3, 8)), ("ws_2", (3, 3)),
        ("b_2", (3,)), ("w1_2_reverse", (3, 8)), ("ws_2_reverse", (3, 3)), ("b_2_reverse", (3,)),
        ("w1_3", (1, 6)), ("b_3", (1,))]


@pytest.mark.parametrize("kind", KINDS)
def test_flat_layout_and_weight_mask(kind):
    family = FAMILIES[kind]
    params = np.arange(family.n_params(NET, True), dtype=float)
    named = family.named(params, NET, True)
    np.testing.assert_array_equal(np.concatenate([a.ravel() for a in named.values()]), params)
    np.testing.assert_array_equal(family.flat(named, NET, True), params)
    np.testing.assert_array_equal(family.decay(NET, True), oracle.decay_mask(kind, NET))


def test_identity_init_of_a_bidirectional_rnn():
    arrays = FAMILIES["rnn"].named(FAMILIES["rnn"].init(NET, "identity", np.random.default_rng(0), True),
                                   NET, True)
    for name in ("ws_1", "ws_1_reverse", "ws_2", "ws_2_reverse"):
        np.testing.assert_array_equal(arrays[name], np.eye(len(arrays[name])))
    assert not arrays["b_2_reverse"].any() and np.abs(arrays["w1_2"]).max() < 0.01
    assert 0.1 < np.abs(arrays["w1_3"]).max() <= np.sqrt(3 / ((6 + 1) / 2))


# (kind, options): every cell, ReLU, a linear readout, the course's delta clipping
CASES = [("rnn", {}), ("rnn", {"activation": "relu"}), ("gru", {}), ("lstm", {}),
         ("gru", {"readout": "linear"}), ("lstm", {"clip": 0.01}), ("rnn", {"clip": 0.01})]


@pytest.mark.parametrize("kind,options", CASES)
def test_gradient_matches_central_differences_and_the_oracle(small, kind, options):
    family = FAMILIES[kind]
    params = family.init(NET, "uniform", streams(1)[0], True)
    X, Y = split_series(small.train[5:7, :13])  # 12 steps: a fast oracle
    net = {k: v for k, v in options.items() if k != "clip"}
    grad = family.gradient(params, NET, X, Y, bidirectional=True, **options)
    expected = sum(oracle.gradient(params, kind, NET, x, y, **options) for x, y in zip(X, Y))
    np.testing.assert_allclose(-grad, expected, rtol=0, atol=1e-13)
    if "clip" in options:  # clipping shapes the terms: they are no loss's gradient
        return
    picked = np.random.default_rng(0).choice(len(params), size=16, replace=False)
    numeric = central_differences(
        lambda p: sum(oracle.loss(p, kind, NET, x, y[0], **net) for x, y in zip(X, Y)), params, picked)
    assert grad[picked] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


# (layers, series, epochs, options): per-series SGD for hundreds of updates, then options
RUNS = [((1, 3, 1), 200, 1, {}),
        (NET, 100, 1, {"clip": 0.02}),
        ((1, 3, 1), 60, 2, {"batch": 6, "optimizer": "adam", "lr": 0.005, "l2": 1e-3,
                            "clip_norm": 0.1, "readout": "linear"})]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers,n,epochs,options", RUNS,
                         ids=[",".join(f"{k}={v}" for k, v in r[3].items()) or "sgd" for r in RUNS])
def test_kernel_equals_oracle_after_training(small, kind, layers, n, epochs, options):
    if kind != "gru" and options.get("readout") == "linear":
        options = {k: v for k, v in options.items() if k != "readout"}  # rnn: a tanh output
    options = {**options, "bidirectional": True}
    series = small.train[:n]
    got = train_epochs(kind, layers, series, epochs, options)
    expected = train_epochs(kind, layers, series, epochs, options,
                            oracle.train)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    readout = options.get("readout", "tanh")
    inputs = small.test[:10, :-1]
    np.testing.assert_allclose(
        FAMILIES[kind].predict(got, layers, inputs, readout=readout, bidirectional=True),
        oracle.predict(expected, kind, layers, inputs, readout), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_reading_backwards_mirrors_reading_forwards(small, kind):
    """A one-layer net with its directions' parameters swapped, and the readout's halves,
    predicts from the reversed series what the net predicts from the series."""
    family, layers = FAMILIES[kind], (1, 3, 1)
    named = family.named(family.init(layers, "uniform", streams(3)[0], True), layers, True)
    swapped = {}
    for name, array in named.items():
        if name.endswith("_reverse"):
            swapped[name], swapped[name[:-len("_reverse")]] = named[name[:-len("_reverse")]], array
        elif name in ("readout.weight", "w1_2"):
            swapped[name] = np.hstack([array[:, 3:], array[:, :3]])
        elif name not in swapped:
            swapped[name] = array
    X = small.test[:20, :-1]
    np.testing.assert_allclose(
        family.predict(family.flat(swapped, layers, True), layers, X[:, ::-1].copy(), bidirectional=True),
        family.predict(family.flat(named, layers, True), layers, X, bidirectional=True),
        rtol=0, atol=1e-15)


@pytest.mark.parametrize("setting,message", [
    ('model = "dense"\nlayers = [50, 2, 1]',
     "The 'bidirectional' of experiment 'b' cannot be true when its 'model' is \"dense\": "
     "a dense net reads a series one way only."),
    ('model = "jordan"\nlayers = [1, 2, 1]',
     "The 'bidirectional' of experiment 'b' cannot be true when its 'model' is \"jordan\": "
     "a jordan net reads a series one way only."),
    ('model = "gru"\nlayers = [1, 2, 1]\nloss = "every"',
     "The 'bidirectional' of experiment 'b' cannot be true when its 'loss' is \"every\": reading "
     "the series from its end too, each step's output would see the value it predicts."),
    ('model = "rnn"\nlayers = [1, 2, 1]\nbptt = 5',
     "The 'bidirectional' of experiment 'b' cannot be true when its 'bptt' is 5: truncated BPTT "
     "is defined for one direction; a net reading both ways backpropagates through every step."),
    ('model = "rnn"\nlayers = [1, 1]', "a net of cells needs a hidden layer"),
])
def test_what_cannot_read_both_ways_is_refused_in_one_line(tmp_path, setting, message):
    from click.testing import CliRunner

    from rnnbatch.cli import main

    grid = tmp_path / "grid.toml"
    grid.write_text(TINY_DATA + f'[[experiment]]\nname = "b"\n{setting}\nbidirectional = true\n')
    outcome = CliRunner().invoke(main, ["run", str(grid), "--out", str(tmp_path / "res"), "--dry-run"])
    assert outcome.exit_code == 2 and message in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1 and "Traceback" not in outcome.output


@pytest.mark.parametrize("kind", KINDS)
def test_a_bidirectional_run_is_kept_and_reloads(tmp_path, kind):
    init = "torch" if kind != "rnn" else "scaled"
    text = TINY_DATA + (f'[[experiment]]\nname = "b"\nmodel = "{kind}"\nlayers = [1, 3, 2, 1]\n'
                        f'bidirectional = true\ninit = "{init}"\nepochs = 2\n')
    res = run_grid_in(tmp_path, text, 1)
    [row] = report.aggregate(results.read(res))
    assert row["bidirectional"] is True and row["diverged"] == 0
    [path] = (res / f"model={kind}").iterdir()
    model = rnnbatch.load_model(path)
    assert model.net["bidirectional"] is True
    assert any(name.endswith("_reverse") for name in model.arrays)
    dataset = data.load(next((tmp_path / "data").iterdir()))
    predicted = model.predict(dataset.test[:, :-1])
    assert float(np.mean((dataset.test[:, -1] - predicted) ** 2)) == row["test_mse_mean"]
