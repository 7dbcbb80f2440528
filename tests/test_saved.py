"""Models kept: a result file carries its run's initial and final parameters by name, readable
with pyarrow alone, and load_model reproduces the run's final test MSE exactly."""


import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rnnbatch
from rnnbatch import data, results
from rnnbatch.errors import InputError
from rnnbatch.models import TRAINABLE
from rnnbatch.train import streams

from .conftest import TINY_GRID, TINY_GRID_RUNS, run_grid_in
from .test_compat import RELEASE_0_1_0


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return run_grid_in(tmp_path_factory.mktemp("saved"), TINY_GRID, TINY_GRID_RUNS)


def _runs(res):
    table = results.read(res)
    last = {}
    for row in table.to_pylist():
        if row["epoch"] == max(r["epoch"] for r in table.to_pylist() if r["run_id"] == row["run_id"]):
            last[row["run_id"]] = row
    return last


def test_a_reloaded_model_reproduces_the_final_test_mse_exactly(res):
    dataset = data.load(next((res.parent / "data").iterdir()))
    inputs, targets = dataset.test[:, :-1], dataset.test[:, -1]
    for run_id, row in _runs(res).items():
        model = rnnbatch.load_model(res / f"model={row['model']}" / f"{run_id}.parquet")
        assert (model.model, list(model.layers)) == (row["model"], row["layers"])
        assert float(np.mean((targets - model.predict(inputs)) ** 2)) == row["test_mse"]


def test_parameters_are_named_arrays_read_with_pyarrow_and_json(res):
    for run_id, row in _runs(res).items():
        if row["model"] == "naive":
            continue
        meta = pq.read_schema(res / f"model={row['model']}" / f"{run_id}.parquet").metadata
        params = json.loads(meta[b"rnnbatch.params"])
        initial, final = params["initial"], params["final"]
        layers = row["layers"]
        names = {"rnn": ["w1", "ws", "b"], "dense": ["W", "b"]}[row["model"]]
        assert list(initial) == [f"{n}_{L}" for L in range(1, len(layers)) for n in names]
        for L, (p, n) in enumerate(zip(layers[:-1], layers[1:]), start=1):
            assert np.shape(final[f"b_{L}"]) == (n,)
            assert np.shape(final[f"{names[0]}_{L}"]) == (n, p)
            if row["model"] == "rnn":
                assert np.shape(final[f"ws_{L}"]) == (n, n)
        family = TRAINABLE[row["model"]]
        drawn = family.init(tuple(layers), row["init"], streams(row["seed"])[0])
        assert np.array_equal(family.flat(initial, layers), drawn)


def test_the_baseline_reloads_without_parameters(res):
    [path] = (res / "model=naive").iterdir()
    model = rnnbatch.load_model(path)
    assert (model.arrays, model.initial) == ({}, {})
    assert np.array_equal(model.predict(np.array([[0.1, 0.2], [0.3, 0.4]])), [0.2, 0.4])


def test_results_of_release_0_1_0_have_no_model_to_load():
    path = next((RELEASE_0_1_0 / "results" / "model=rnn").iterdir())
    with pytest.raises(InputError, match=r"was written before rnnbatch kept models \(release 0\.1\.0\)\. "
                                         r"Rerun its grid with --force to keep them\.$"):
        rnnbatch.load_model(path)


def test_a_file_that_is_no_result_is_one_error(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(InputError, match=r"x\.parquet is not an rnnbatch result file\.$"):
        rnnbatch.load_model(path)
