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
from rnnbatch.errors import DataError

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

