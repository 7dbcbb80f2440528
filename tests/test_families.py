"""Every registered family runs through grid -> run -> report -> load_model, named nowhere
outside rnnbatch/models (adding one is its module, a registry line, its oracle and its tests)."""

from pathlib import Path

import numpy as np
import pytest

import rnnbatch
from rnnbatch import data, report, results
from rnnbatch.models import FAMILIES

from .conftest import TINY_DATA, run_grid_in

STEPS = 51  # the tiny grid's data: DataParams' default steps


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_runs_end_to_end(tmp_path, name):
    family = FAMILIES[name]
    layers = f"layers = [{family.input_size(STEPS)}, 2, 1]\n" if family.trainable else ""
    text = TINY_DATA + f'[[experiment]]\nname = "{name}"\nmodel = "{name}"\n{layers}epochs = 2\n'
    res = run_grid_in(tmp_path, text, 1)
    [row] = report.aggregate(results.read(res))
    assert (row["model"], row["seeds"], row["diverged"]) == (name, 1, 0)
    [path] = (res / f"model={name}").iterdir()
    dataset = data.load(next((tmp_path / "data").iterdir()))
    predicted = rnnbatch.load_model(path).predict(dataset.test[:, :-1])
    assert float(np.mean((dataset.test[:, -1] - predicted) ** 2)) == row["test_mse_mean"]


def test_only_the_models_package_names_a_family():
    package = Path(rnnbatch.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in FAMILIES:
            assert f'== "{name}"' not in text and f"== '{name}'" not in text, (path.name, name)


@pytest.mark.parametrize("call,message", [
    (lambda f, p, X, Y, o: f.train_epoch(p, (1, 2, 1), X, Y, o + 1, f.new_state((1, 2, 1)), lr=0.1),
     "order must be int64 indices of the 4 series"),
    (lambda f, p, X, Y, o: f.train_epoch(p[:-1], (1, 2, 1), X, Y, o, f.new_state((1, 2, 1)), lr=0.1),
     r"a rnn net \[1, 2, 1\] has 12 parameters, not \(11,\)"),
    (lambda f, p, X, Y, o: f.predict(p, (1, 2, 1), X[0]),
     r"inputs of shape \(5,\) do not fit a rnn net \[1, 2, 1\]"),
    (lambda f, p, X, Y, o: f.gradient(p, (1, 2, 1), X, np.zeros((4, 6))),
     r"targets of shape \(4, 6\) for inputs of shape \(4, 5\): a row per series of 1 to 5 values"),
])
def test_the_public_calls_check_what_the_kernels_would_read_unchecked(call, message):
    family = FAMILIES["rnn"]
    params = family.init((1, 2, 1), "scaled", np.random.default_rng(0))
    X, Y = np.zeros((4, 5)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=message):
        call(family, params, X, Y, np.arange(4, dtype=np.int64))
