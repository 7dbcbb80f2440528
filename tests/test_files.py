"""Files on disk as a shared, long-lived place: modes that follow the umask, permission problems
named as such, results read only through the files rnnbatch wrote, quarantined files out of the
readers' globs, and datasets whose two files must be one dataset."""

import errno
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnbatch import _io, data, results
from rnnbatch.cli import main
from rnnbatch.errors import DataError, InputError

from .conftest import TINY_DATA, TINY_GRID, assert_one_error_line

NAIVE_GRID = TINY_DATA + '[[experiment]]\nname = "n"\nmodel = "naive"\n'
GENERATE = ["generate", "--out", "data", "--seed", "3", "--train", "60", "--test", "20"]
RESULTS_ELSEWHERE = "Rerun its grid (rnnbatch run GRID --out res) to redo it, or move it out of res."


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One real run of the tiny grid: its grid file and results, copied by ``res``."""
    base = tmp_path_factory.mktemp("made")
    grid = base / "grid.toml"
    grid.write_text(TINY_GRID.replace("[data]\n", f"[data]\ndir = {json.dumps(str(base / 'data'))}\n"))
    assert main.main(["run", str(grid), "--out", str(base / "res"), "--jobs", "1"],
                     standalone_mode=False) is None
    return base


@pytest.fixture
def res(made, fs):
    """A fresh copy of the tiny grid's results at ./res, and its grid at ./grid.toml."""
    shutil.copytree(made / "res", "res")
    shutil.copy(made / "grid.toml", "grid.toml")
    return fs / "res"


def _report(cli_runner, *extra):
    return cli_runner.invoke(main, ["report", "res", "--format", "json", *extra])


@pytest.fixture
def clean_report(cli_runner, res):
    result = _report(cli_runner)
    assert result.exit_code == 0 and result.stderr == ""
    return result.stdout


def _rnn_results(res):
    return sorted(res.glob("model=rnn/*.parquet"))


def _warnings(result):
    lines = result.stderr.splitlines()
    assert all(line.startswith("Warning: ") for line in lines), lines
    return [line[len("Warning: "):] for line in lines]


# -- 5: modes follow the umask; permission problems say so -------------------------------------

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        _io.write_atomic(b"bytes", tmp_path / "d" / "f.parquet")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "d" / "f.parquet") == 0o666 & ~umask


def test_datasets_and_results_are_group_readable_under_a_group_umask(cli_runner, fs, write_grid):
    grid = write_grid(NAIVE_GRID)
    previous = os.umask(0o002)
    try:
        assert cli_runner.invoke(main, GENERATE).exit_code == 0
        assert cli_runner.invoke(main, ["run", grid, "--out", "res", "--jobs", "1"]).exit_code == 0
    finally:
        os.umask(previous)
    written = [*Path("data").rglob("*.parquet"), *Path("res").rglob("*.parquet")]
    assert len(written) == 2 + 2 + 1  # generate's dataset, the grid's dataset, one result
    assert {_mode(p) for p in written} == {0o664}


def _deny_reading(monkeypatch, path):
    """Make every pyarrow read of ``path`` fail as it does for a file of another user's mode 0600
    (tests run as root, which reads anything)."""
    denied = os.path.abspath(path)

    def guard(read):
        def guarded(source, *args, **kwargs):
            if isinstance(source, (str, os.PathLike)) and os.path.abspath(source) == denied:
                raise PermissionError(errno.EACCES, f"Failed to open local file '{source}'. "
                                                    "Detail: [errno 13] Permission denied")
            return read(source, *args, **kwargs)
        return guarded

    for name in ("ParquetFile", "read_table", "read_schema", "read_metadata"):
        monkeypatch.setattr(pq, name, guard(getattr(pq, name)))


DATA_DENIED = ("Cannot read data/train.parquet: Permission denied. Ask its owner to make it "
               "readable (chmod g+r), or use a dataset of your own (rnnbatch generate --out DIR).")


def test_unreadable_dataset_is_a_permission_error_not_a_different_dataset(cli_runner, fs,
                                                                         monkeypatch, write_grid):
    assert cli_runner.invoke(main, GENERATE).exit_code == 0
    _deny_reading(monkeypatch, "data/train.parquet")
    assert_one_error_line(cli_runner.invoke(main, GENERATE), DATA_DENIED)
    assert_one_error_line(cli_runner.invoke(main, GENERATE + ["--force"]), DATA_DENIED)
    grid = write_grid('[data]\npath = "data"\n[[experiment]]\nname = "n"\nmodel = "naive"\n')
    assert_one_error_line(cli_runner.invoke(main, ["run", grid, "--out", "res"]), DATA_DENIED)
    with pytest.raises(InputError) as info:  # not a DataError: generate --force cannot repair it
        data.load("data")
    assert str(info.value) == DATA_DENIED


def test_unreadable_dataset_made_by_a_grid(cli_runner, fs, monkeypatch, write_grid):
    grid = write_grid(NAIVE_GRID)
    assert cli_runner.invoke(main, ["run", grid, "--out", "res", "--jobs", "1"]).exit_code == 0
    test_split = "data/seed0-train60-test20-steps51/test.parquet"
    _deny_reading(monkeypatch, test_split)
    result = cli_runner.invoke(main, ["run", grid, "--out", "res"])
    assert_one_error_line(result, DATA_DENIED.replace("data/train.parquet", test_split))


# -- 8: quarantined files are out of the readers' globs ----------------------------------------

def test_quarantined_files_stay_out_of_the_readme_readers(cli_runner, res):
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    victim = _rnn_results(res)[0]
    victim.write_bytes(victim.read_bytes()[:300])
    assert cli_runner.invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1"]).exit_code == 0
    [moved] = (res / ".corrupt").iterdir()
    assert moved.name.startswith(f"{victim.stem}.") and moved.name.endswith(".parquet.corrupt")

    expected = sorted(results.read("res").select(["run_id", "epoch"]).to_pylist(),
                      key=lambda r: (r["run_id"], r["epoch"]))
    assert len(expected) == 1 + 6 * 2
    for pattern in ("res/*/*.parquet", "res/model=*/*.parquet"):
        frame = pl.read_parquet(pattern, hive_partitioning=True).sort(["run_id", "epoch"])
        assert frame.select(["run_id", "epoch"]).to_dicts() == expected
        rows = duckdb.sql(f"select run_id, epoch from read_parquet('{pattern}', "
                          "hive_partitioning=true) order by run_id, epoch").fetchall()
        assert [{"run_id": r, "epoch": e} for r, e in rows] == expected


# -- 13: a dataset's two files must be one dataset ---------------------------------------------

def _torn(monkeypatch, force_seed: int) -> None:
    """``generate --force --seed force_seed`` over the seed-3 dataset, killed between its files."""
    write = data.write_parquet_atomic

    def killed_at_the_test_split(table, path):
        if Path(path).name == "test.parquet":
            raise KeyboardInterrupt
        write(table, path)

    with monkeypatch.context() as patch:
        patch.setattr(data, "write_parquet_atomic", killed_at_the_test_split)
        with pytest.raises(KeyboardInterrupt):
            data.generate("data", data.DataParams(seed=force_seed, train=60, test=20), force=True)


def _torn_message(recorded_train, recorded_test, content, seed):
    return (f"The dataset at data is torn or altered (as an interrupted generate leaves it): "
            f"train.parquet records dataset {recorded_train}, test.parquet {recorded_test}, but "
            f"together they hold {content}. Regenerate it with: rnnbatch generate --force "
            f"--out data --seed {seed} --train 60 --test 20 --steps 51")


def _made(seed):
    return data.make_dataset(data.DataParams(seed=seed, train=60, test=20))


def test_a_generate_killed_between_its_files_leaves_a_dataset_nobody_uses(cli_runner, fs,
                                                                         monkeypatch, write_grid):
    assert cli_runner.invoke(main, GENERATE).exit_code == 0
    _torn(monkeypatch, force_seed=4)
    old, new = _made(3), _made(4)
    message = _torn_message(new.fingerprint, old.fingerprint,
                            data.fingerprint(new.train, old.test), seed=4)
    with pytest.raises(DataError) as info:
        data.load("data")
    assert str(info.value) == message

    grid = write_grid('[data]\npath = "data"\n[[experiment]]\nname = "n"\nmodel = "naive"\n')
    assert_one_error_line(cli_runner.invoke(main, ["run", grid, "--out", "res"]), message)
    assert not os.path.exists("res")

    for seed in ("3", "4"):  # either side's parameters: refused without --force ...
        args = GENERATE[:4] + [seed] + GENERATE[5:]
        assert_one_error_line(cli_runner.invoke(main, args),
                              "data/" + ("train" if seed == "3" else "test") + ".parquet holds a "
                              "different dataset. Replace it with rnnbatch generate --force, or "
                              "choose another directory.")
    repaired = cli_runner.invoke(main, GENERATE[:4] + ["4"] + GENERATE[5:] + ["--force"])
    assert repaired.output.startswith("Wrote data/train.parquet")  # ... and repaired with it
    loaded = data.load("data")
    assert loaded.fingerprint == new.fingerprint and np.array_equal(loaded.test, new.test)


def _alter_test_values(path="data/test.parquet") -> np.ndarray:
    """Change one value, keep the file's metadata (parameters and fingerprint) as it was; return
    the values now stored."""
    table = pq.read_table(path)
    values = np.array(table.column("values").to_pylist())
    values[0, 0] += 1.0
    flat = pa.array(values.ravel())
    changed = table.set_column(1, "values", pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), path)
    return values


def test_an_altered_dataset_with_its_parameters_intact_is_not_up_to_date(cli_runner, fs):
    assert cli_runner.invoke(main, GENERATE).exit_code == 0
    good = data.load("data")
    altered = data.fingerprint(good.train, _alter_test_values())
    message = _torn_message(good.fingerprint, good.fingerprint, altered, seed=3)
    assert_one_error_line(cli_runner.invoke(main, GENERATE), message)
    result = cli_runner.invoke(main, GENERATE + ["--force"])
    assert result.output.startswith("Wrote data/train.parquet"), result.output
    assert data.load("data").fingerprint == good.fingerprint


def test_grid_datasets_are_checked_too(cli_runner, fs, write_grid):
    grid = write_grid(NAIVE_GRID)
    assert cli_runner.invoke(main, ["run", grid, "--out", "res", "--jobs", "1"]).exit_code == 0
    _alter_test_values("data/seed0-train60-test20-steps51/test.parquet")
    result = cli_runner.invoke(main, ["run", grid, "--out", "res"])
    assert_one_error_line(result, starts="The dataset at data/seed0-train60-test20-steps51 is torn "
                                         "or altered (as an interrupted generate leaves it): ")


def test_a_dataset_recording_no_fingerprint_is_taken_as_it_is(fs):
    os.makedirs("mine")
    for split, rows in (("train", 5), ("test", 3)):
        values = pa.array([[0.25] * 7] * rows, pa.list_(pa.float64()))
        pq.write_table(pa.table({"id": list(range(rows)), "values": values}), f"mine/{split}.parquet")
    assert data.load("mine").train.shape == (5, 7)
