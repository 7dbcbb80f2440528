"""`rnnbatch generate` and dataset loading: the course's series bit for bit, idempotent writes,
and one clear line for every kind of bad dataset file."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnbatch import data
from rnnbatch.cli import main
from rnnbatch.errors import DataError

from .conftest import assert_one_error_line


# The course's function, verbatim (RNNs Part 1): one series from numpy's global state.
def generate_time_series(n_steps):
    freq1, freq2, offsets1, offsets2 = np.random.rand(4)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (np.random.rand(n_steps) - 0.5)
    return series


def course_data(seed, n_train, n_test, n_steps):
    np.random.seed(seed)
    train = np.stack([generate_time_series(n_steps) for _ in range(n_train)])
    test = np.stack([generate_time_series(n_steps) for _ in range(n_test)])
    return train, test


ARGS = ["generate", "--out", "data", "--seed", "3", "--train", "60", "--test", "20"]


def _values(path):
    table = pq.read_table(path)
    return np.array(table.column("values").to_pylist(), dtype=np.float64)


def test_generate_writes_the_course_series_bit_for_bit(cli_runner, fs):
    result = cli_runner.invoke(main, ARGS)
    assert result.exit_code == 0, result.output
    ds = data.load("data")
    assert result.output == ("Wrote data/train.parquet and test.parquet (60 + 20 series of 51, "
                             f"seed 3); dataset id {ds.dataset_id}\n")
    train, test = course_data(3, 60, 20, 51)
    assert np.array_equal(_values("data/train.parquet"), train)
    assert np.array_equal(_values("data/test.parquet"), test)
    assert np.array_equal(ds.train, train) and np.array_equal(ds.test, test)
    assert ds.train.dtype == np.float64 and ds.train.flags.c_contiguous
    assert pq.read_table("data/train.parquet").column("id").to_pylist() == list(range(60))


def test_generate_default_steps_and_other_sizes(cli_runner, fs):
    result = cli_runner.invoke(main, ["generate", "--out", "d", "--train", "5", "--test", "3",
                                      "--steps", "7", "--seed", "11"])
    assert result.exit_code == 0, result.output
    train, test = course_data(11, 5, 3, 7)
    ds = data.load("d")
    assert np.array_equal(ds.train, train) and np.array_equal(ds.test, test)


def test_generate_schema_metadata(cli_runner, fs):
    assert cli_runner.invoke(main, ARGS).exit_code == 0
    ds = data.load("data")
    for split in ("train", "test"):
        meta = json.loads(pq.read_schema(f"data/{split}.parquet").metadata[b"rnnbatch.dataset"])
        assert meta["generator"] == "rnn-course-part1/generate_time_series"
        assert meta["params"] == {"seed": 3, "train": 60, "test": 20, "steps": 51}
        assert meta["split"] == split
        assert meta["fingerprint"] == ds.fingerprint == data.fingerprint(ds.train, ds.test)


def test_generate_again_is_a_no_op(cli_runner, fs):
    assert cli_runner.invoke(main, ARGS).exit_code == 0
    before = {p: os.stat(p).st_mtime_ns for p in ("data/train.parquet", "data/test.parquet")}
    result = cli_runner.invoke(main, ARGS)
    assert result.exit_code == 0
    assert result.output.startswith("Up to date: data/train.parquet and test.parquet (60 + 20 ")
    assert {p: os.stat(p).st_mtime_ns for p in before} == before
    assert sorted(os.listdir("data")) == ["test.parquet", "train.parquet"]  # no temp files left


def test_generate_different_params_refused_unless_force(cli_runner, fs):
    assert cli_runner.invoke(main, ARGS).exit_code == 0
    before = pq.read_table("data/train.parquet")
    other = ARGS[:4] + ["4"] + ARGS[5:]
    result = cli_runner.invoke(main, other)
    assert_one_error_line(result, "data/train.parquet holds a different dataset. Replace it with "
                                  "rnnbatch generate --force, or choose another directory.")
    assert pq.read_table("data/train.parquet").equals(before)

    result = cli_runner.invoke(main, other + ["--force"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote data/train.parquet")
    train, _ = course_data(4, 60, 20, 51)
    assert np.array_equal(data.load("data").train, train)


@pytest.mark.parametrize("args,message", [
    (["--train", "0"], "Invalid value for '--train': 0 is not in the range 1<=x<=1000000."),
    (["--test", "1000001"], "Invalid value for '--test': 1000001 is not in the range 1<=x<=1000000."),
    (["--steps", "1"], "Invalid value for '--steps': 1 is not in the range 2<=x<=10000."),
    (["--steps", "10001"], "Invalid value for '--steps': 10001 is not in the range 2<=x<=10000."),
    (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295."),
    (["--seed", str(2**64 - 1)], "Invalid value for '--seed': 18446744073709551615 is not in the "
                                 "range 0<=x<=4294967295."),
])
def test_generate_bad_options(cli_runner, fs, args, message):
    result = cli_runner.invoke(main, ["generate", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert not os.path.exists("data")


# -- load: bad files ---------------------------------------------------------------------------

def _good(fs_dir, cli_runner):
    assert cli_runner.invoke(main, ARGS).exit_code == 0


def _series_table(rows, list_type=pa.list_(pa.float64())):
    return pa.table({"id": pa.array(range(len(rows)), pa.int64()),
                     "values": pa.array(rows, type=list_type)})


def test_load_missing_file(fs):
    with pytest.raises(DataError) as info:
        data.load("nope")
    assert str(info.value) == ("Dataset file nope/train.parquet does not exist. "
                               "Make it with: rnnbatch generate --out nope")


def test_load_wrong_schema(fs, cli_runner):
    _good(fs, cli_runner)
    pq.write_table(pa.table({"x": [1, 2]}), "data/test.parquet")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value).startswith("data/test.parquet has the wrong schema: expected a 'values' "
                                      "column of float lists, got 'x: int64'")


def test_load_wrong_length(fs, cli_runner):
    _good(fs, cli_runner)
    rows = [[0.1] * 51 for _ in range(10)]
    rows[6] = [0.1] * 50
    pq.write_table(_series_table(rows), "data/train.parquet")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value) == "data/train.parquet row 6: series has 50 values, expected 51."


def test_load_test_split_shorter_than_train(fs, cli_runner):
    _good(fs, cli_runner)
    pq.write_table(_series_table([[0.1] * 40] * 3), "data/test.parquet")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value) == "data/test.parquet row 0: series has 40 values, expected 51."


def test_load_nan(fs, cli_runner):
    _good(fs, cli_runner)
    rows = [[0.1] * 51 for _ in range(10)]
    rows[4][17] = float("nan")
    pq.write_table(_series_table(rows, pa.list_(pa.float64(), 51)), "data/test.parquet")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value) == "data/test.parquet row 4: series contains NaN or infinity."


def test_load_not_parquet(fs, cli_runner):
    _good(fs, cli_runner)
    with open("data/train.parquet", "wb") as fh:
        fh.write(b"not parquet at all")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value).startswith("data/train.parquet is not a readable Parquet file (")


def test_load_empty(fs, cli_runner):
    _good(fs, cli_runner)
    pq.write_table(_series_table([]), "data/train.parquet")
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value) == "data/train.parquet holds no series. Regenerate it with rnnbatch generate --force."


def test_load_garbled_metadata(fs, cli_runner):
    _good(fs, cli_runner)
    table = pq.read_table("data/train.parquet")
    garbled = table.replace_schema_metadata({b"rnnbatch.dataset": b"{oops"})
    pq.write_table(garbled, "data/train.parquet")
    ds = data.load("data")  # the values are fine; the provenance is unknown
    assert ds.train.shape == (60, 51) and ds.params is None and ds.provenance == {}


def test_load_float32_values_are_accepted(fs, cli_runner):
    _good(fs, cli_runner)
    for split in ("train", "test"):  # made by hand: no fingerprint recorded to check
        table = _series_table([[0.5] * 51] * 3, pa.list_(pa.float32()))
        pq.write_table(table, f"data/{split}.parquet")
    ds = data.load("data")
    assert ds.train.dtype == np.float64 and ds.train.shape == (3, 51)


def test_fingerprint_depends_only_on_content():
    a = data.make_dataset(data.DataParams(seed=1, train=4, test=2, steps=5))
    b = data.make_dataset(data.DataParams(seed=1, train=4, test=2, steps=5))
    c = data.make_dataset(data.DataParams(seed=2, train=4, test=2, steps=5))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16


def test_generate_force_repairs_a_broken_file_with_intact_metadata(cli_runner, fs):
    assert cli_runner.invoke(main, ARGS).exit_code == 0
    table = pq.read_table("data/train.parquet")
    pq.write_table(table.slice(0, 0), "data/train.parquet")  # metadata kept, rows gone
    result = cli_runner.invoke(main, ARGS)
    assert_one_error_line(result, "data/train.parquet holds no series. "
                                  "Regenerate it with rnnbatch generate --force.")
    result = cli_runner.invoke(main, ARGS + ["--force"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote data/train.parquet")
    assert pq.read_table("data/train.parquet").equals(table)
