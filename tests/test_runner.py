"""How the runner hands runs to workers: longest expected work first; large arrays as
read-only memory maps."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads

from rnnbatch import backends, planning, runner
from rnnbatch.data import DataParams, make_dataset

from .conftest import TINY_GRID

COURSE_GRID = Path(__file__).resolve().parents[1] / "jobs" / "grid.toml"

# train is over backends.SHARE_BYTES (2700 x 51 doubles, 1.1 MB), test under it
LARGE = DataParams(seed=0, train=2700, test=20, steps=51)

GRID = """
[data]
train = 2700
test = 20

[[experiment]]
name = "rnn"
model = "rnn"
layers = [1, 3, 1]
epochs = 1
seeds = 3
"""


def test_large_arrays_go_as_read_only_memory_maps_of_a_temporary_copy():
    dataset = make_dataset(LARGE)
    with backends.LocalPool(1).shared({"source": dataset}) as shared:
        got = shared["source"]
        assert isinstance(got.train, np.memmap) and not got.train.flags.writeable
        assert np.array_equal(got.train, dataset.train)
        assert got.test is dataset.test  # small: joblib pickles it as it is
        assert got.fingerprint == dataset.fingerprint
        copy = got.train.filename
    assert not os.path.exists(copy)


def test_without_a_temporary_directory_the_arrays_go_as_they_are(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    dataset = make_dataset(LARGE)
    with backends.LocalPool(1).shared({"source": dataset}) as shared:
        assert shared["source"] is dataset


def test_memory_mapped_data_gives_the_same_tables_with_one_and_two_jobs(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace("[data]", f'[data]\ndir = "{tmp_path / "data"}"'))

    def table(out):
        t = pads.dataset(out, format="parquet", partitioning="hive").to_table()
        return t.drop_columns(["epoch_seconds"]).sort_by("run_id")

    for jobs in (1, 2):
        assert runner.run_grid(str(grid), tmp_path / f"jobs{jobs}", n_jobs=jobs).done == 3
    assert table(tmp_path / "jobs1").equals(table(tmp_path / "jobs2"))


def test_the_course_grid_starts_its_longest_runs_first_and_keeps_its_ids():
    plan = planning.plan(COURSE_GRID, materialise=False)
    ordered = planning.longest_first(plan.runs, plan.datasets)
    assert [(run.experiment, run.config.seed) for run in ordered] == [
        *((experiment, seed) for experiment in ("rnn-20-20", "rnn-6", "perceptron", "one-node")
          for seed in (0, 1, 2)),  # equal work in plan order
        ("naive", 0)]
    assert sorted(run.run_id for run in ordered) == sorted(run.run_id for run in plan.runs)


def test_expected_work_counts_epochs_series_steps_and_parameters():
    plan = planning.plan(COURSE_GRID, materialise=False)
    work = {run.experiment: planning.expected_work(run, plan.datasets[run.source])
            for run in plan.runs}
    assert work == {"rnn-20-20": 100 * 7000 * 50 * 1282, "rnn-6": 24 * 7000 * 50 * 56,
                    "perceptron": 100 * 7000 * 1 * 51, "one-node": 10 * 7000 * 50 * 3, "naive": 0}


def test_workers_get_runs_longest_first(tmp_path, monkeypatch):
    grid = tmp_path / "grid.toml"
    grid.write_text(TINY_GRID.replace("[data]", f'[data]\ndir = "{tmp_path / "data"}"'))
    started = []
    start = runner._Batch.start

    def recording(batch, run):
        started.append(run)
        return start(batch, run)

    monkeypatch.setattr(runner._Batch, "start", recording)
    assert runner.run_grid(grid, tmp_path / "res", n_jobs=2).complete
    plan = planning.plan(grid)
    assert started == planning.longest_first(plan.runs, plan.datasets) != plan.runs
