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
