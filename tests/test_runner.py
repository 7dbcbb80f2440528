"""How the runner hands datasets to workers: large arrays as read-only memory maps."""

import os
import tempfile

import numpy as np
import pyarrow.dataset as pads

from rnnbatch import backends, runner
from rnnbatch.data import DataParams, make_dataset

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
