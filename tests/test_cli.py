"""The command line end to end on a tiny grid: help, version, results layout, resume, --force,
and the same numbers whatever the number of worker processes."""

import json
import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from rnnbatch import __version__, data, results
from rnnbatch.cli import main

from .conftest import TINY_GRID, TINY_GRID_RUNS, assert_one_error_line

DONE = re.compile(r"Done: (\d+) ran, (\d+) skipped \(complete\), (\d+) diverged, (\d+) failed "
                  r"in \d+\.\ds\. Results in (\S+)")


@pytest.mark.parametrize("command,example", [
    ([], "rnnbatch run jobs/grid.toml"),
    (["generate"], "rnnbatch generate --out data --seed 0"),
    (["run"], "rnnbatch run jobs/grid.toml --jobs 2"),
    (["report"], "rnnbatch report results --format markdown"),
    (["plot"], "rnnbatch plot results --out grid.png"),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(cli_runner, command, example, flag):
    result = cli_runner.invoke(main, [*command, flag])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {' '.join(command)}".rstrip() + " [OPTIONS]")
    assert "Example:" in result.output
    assert f"    {example}\n" in result.output


def test_help_lists_every_command(cli_runner):
    result = cli_runner.invoke(main, ["--help"])
    commands = result.output.split("Commands:")[1].split()
    assert [c for c in commands if c in ("generate", "run", "report", "plot")] == [
        "generate", "plot", "report", "run"]


def test_version(cli_runner):
    result = cli_runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"rnnbatch, version {__version__}\n"


def test_unknown_command(cli_runner):
    result = cli_runner.invoke(main, ["train"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: No such command 'train'."


# -- run ---------------------------------------------------------------------------------------

def _run(cli_runner, path, *extra, out="res"):
    result = cli_runner.invoke(main, ["run", path, "--out", out, *extra])
    assert result.exit_code == 0, result.output
    done = DONE.fullmatch(result.stdout.splitlines()[-1])
    assert done, result.stdout
    assert done.group(5) == out
    return result, tuple(int(done.group(i)) for i in range(1, 5))


def _planned(cli_runner, path):
    result = cli_runner.invoke(main, ["run", path, "--dry-run"])
    assert result.exit_code == 0
    return {line.split()[0]: line.split()[2] for line in result.output.splitlines()[:-1]}


def _canonical(out) -> pa.Table:
    """All results without wall-clock columns or metadata, in a fixed order."""
    table = pads.dataset(out, format="parquet", partitioning="hive").to_table()
    table = table.drop_columns(["epoch_seconds"]).replace_schema_metadata(None)
    return table.sort_by([("run_id", "ascending"), ("epoch", "ascending")])


def test_run_end_to_end(cli_runner, fs, write_grid):
    path = write_grid(TINY_GRID)
    planned = _planned(cli_runner, path)
    assert len(planned) == TINY_GRID_RUNS

    result, counts = _run(cli_runner, path, "--jobs", "1")
    assert counts == (TINY_GRID_RUNS, 0, 0, 0)
    assert result.stderr == ""
    progress = result.stdout.splitlines()[:-1]
    assert len(progress) == TINY_GRID_RUNS and all(line.startswith("ok ") for line in progress)

    # one file per run, under model=<model>
    files = sorted(str(p) for p in fs.joinpath("res").glob("model=*/*.parquet"))
    assert files == sorted(os.path.join(str(fs), "res", f"model={model}", f"{run_id}.parquet")
                           for run_id, model in planned.items())
    assert os.listdir("data") == ["seed0-train60-test20-steps51"]
    ds = data.load("data/seed0-train60-test20-steps51")

    for path_ in files:
        table = pq.read_table(path_)
        assert table.schema.remove_metadata().equals(results.SCHEMA)
        record = json.loads(table.schema.metadata[results.RUN_KEY])
        run_id = os.path.basename(path_)[:-len(".parquet")]
        assert record["run_id"] == run_id and record["rows"] == table.num_rows
        assert record["status"] == "ok"
        rows = table.to_pylist()
        naive = "model=naive" in path_
        assert [r["epoch"] for r in rows] == ([1] if naive else [1, 2])
        for r in rows:
            assert r["run_id"] == run_id and r["status"] == "ok"
            assert (r["n_train"], r["n_test"], r["steps"]) == (60, 20, 51)
            assert r["dataset_id"] == ds.dataset_id and r["data_seed"] == 0
            assert np.isfinite(r["test_mse"]) and np.isfinite(r["train_mse"])
            assert r["epoch_seconds"] >= 0
            if naive:
                assert (r["lr"], r["init"], r["shuffle"], r["clip"], r["n_params"]) == (
                    None, None, None, None, 0)
            else:
                assert r["init"] == "scaled" and r["shuffle"] is False and r["clip"] == 0.0
    naive_row = pq.read_table(next(f for f in files if "model=naive" in f)).to_pylist()[0]
    assert naive_row["test_mse"] == np.mean((ds.test[:, -1] - ds.test[:, -2]) ** 2)

    # the directory reads as one table, model from the directory names
    table = pads.dataset("res", partitioning="hive").to_table()
    assert table.num_rows == 1 + 6 * 2
    assert set(table.schema.names) == set(results.SCHEMA.names) | {"model"}
    assert sorted(set(table.column("model").to_pylist())) == ["dense", "naive", "rnn"]
    assert set(table.column("run_id").to_pylist()) == set(planned)

    # a second run finds everything complete and writes nothing
    mtimes = {f: os.stat(f).st_mtime_ns for f in files}
    result, counts = _run(cli_runner, path, "--jobs", "1")
    assert counts == (0, TINY_GRID_RUNS, 0, 0)
    assert result.stdout.splitlines()[-1].startswith(
        f"Done: 0 ran, {TINY_GRID_RUNS} skipped (complete), 0 diverged, 0 failed in ")
    assert {f: os.stat(f).st_mtime_ns for f in files} == mtimes

    # --force reruns everything, to the same numbers
    before = _canonical("res")
    result, counts = _run(cli_runner, path, "--jobs", "1", "--force")
    assert counts == (TINY_GRID_RUNS, 0, 0, 0)
    assert _canonical("res").equals(before)

    # a new setting runs only the new runs
    write_grid(TINY_GRID.replace("lr = 0.1", "lr = [0.1, 0.05]"))
    result, counts = _run(cli_runner, path, "--jobs", "1")
    assert counts == (2, TINY_GRID_RUNS, 0, 0)


TECHNIQUES = """
[[experiment]]
name = "techniques"
model = "rnn"
layers = [1, 3, 1]
shuffle = true
noise = 0.05
clip_norm = 0.5
l1 = 1e-4
l2 = 1e-3
batch = [1, 4]
optimizer = ["momentum", "adam"]
loss = "every"
bptt = 5
"""


@pytest.mark.parametrize("grid,runs", [(TINY_GRID.replace("seeds = 2", "seeds = 3"), 1 + 3 + 3 * 2),
                                       (TINY_GRID + TECHNIQUES, TINY_GRID_RUNS + 4 * 2)],
                         ids=["course", "techniques"])
def test_results_identical_with_one_and_two_jobs(cli_runner, fs, write_grid, grid, runs):
    """Each run's random streams (init, shuffle, noise) come from its seed, not from the worker."""
    path = write_grid(grid)
    _, one = _run(cli_runner, path, "--jobs", "1", out="one")
    _, two = _run(cli_runner, path, "--jobs", "2", out="two")
    assert one == two == (runs, 0, 0, 0)
    a, b = _canonical("one"), _canonical("two")
    assert a.equals(b)
    # bit for bit, not just equal as floats
    for column in ("train_mse", "test_mse"):
        assert (np.asarray(a.column(column)).view(np.uint64)
                == np.asarray(b.column(column)).view(np.uint64)).all()


def test_run_on_a_generated_dataset_path(cli_runner, fs, write_grid):
    assert cli_runner.invoke(main, ["generate", "--out", "mine", "--train", "60", "--test", "20",
                                    "--seed", "5"]).exit_code == 0
    path = write_grid('[data]\npath = "mine"\n[[experiment]]\nname = "n"\nmodel = "naive"\n')
    _, counts = _run(cli_runner, path, "--jobs", "1")
    assert counts == (1, 0, 0, 0)
    [row] = pads.dataset("res", partitioning="hive").to_table().to_pylist()
    assert row["dataset_id"] == data.load("mine").dataset_id
    assert row["data_seed"] == 5  # as the dataset records it
    assert row["data_source"] is None and row["series_unit"] is None  # generated: no real source
    assert not os.path.exists("data")


@pytest.mark.parametrize("reader", ["pandas", "polars", "duckdb"])
def test_results_read_by_other_tools(cli_runner, fs, write_grid, reader):
    path = write_grid(TINY_GRID)
    _run(cli_runner, path, "--jobs", "1")
    n_rows = 1 + 6 * 2
    if reader == "pandas":
        pd = pytest.importorskip("pandas")
        frame = pd.read_parquet("res")
        assert len(frame) == n_rows and set(frame["model"].astype(str)) == {"naive", "dense", "rnn"}
    elif reader == "polars":
        pl = pytest.importorskip("polars")
        frame = pl.read_parquet("res/**/*.parquet", hive_partitioning=True)
        assert frame.height == n_rows and set(frame["model"].to_list()) == {"naive", "dense", "rnn"}
    else:
        duckdb = pytest.importorskip("duckdb")
        got = duckdb.sql("select model, count(*) from read_parquet('res/**/*.parquet', "
                         "hive_partitioning = true) group by model order by model").fetchall()
        assert got == [("dense", 4), ("naive", 1), ("rnn", 8)]


def test_rerun_moves_a_corrupt_result_aside(cli_runner, fs, write_grid):
    path = write_grid(TINY_GRID)
    _run(cli_runner, path, "--jobs", "1")
    victim = sorted(fs.joinpath("res").glob("model=rnn/*.parquet"))[0]
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])  # a torn write
    result, counts = _run(cli_runner, path, "--jobs", "1")
    assert counts == (1, TINY_GRID_RUNS - 1, 0, 0)
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"Warning: {os.path.join('res', 'model=rnn', victim.name)} was unreadable (")
    assert "; moved it to res/.corrupt/" in warning and warning.endswith(" and will rerun it.")
    [moved] = list(fs.joinpath("res", ".corrupt").iterdir())
    assert moved.read_bytes() == good[: len(good) // 2]
    assert results.is_complete(victim, victim.stem)


def test_generate_into_an_unwritable_place(cli_runner, fs):
    open("afile", "w").close()
    result = cli_runner.invoke(main, ["generate", "--out", "afile/d", "--train", "5", "--test", "3"])
    assert_one_error_line(result, "Cannot write to afile/d: Not a directory. "
                                  "Choose a writable output directory.")


def test_run_into_an_unwritable_place_writes_nothing(cli_runner, fs, write_grid):
    path = write_grid(TINY_GRID)
    open("afile", "w").close()
    result = cli_runner.invoke(main, ["run", path, "--out", "afile/res"])
    assert_one_error_line(result, "Cannot write results to afile/res: Not a directory. "
                                  "Choose a writable --out.")
    assert sorted(os.listdir(".")) == ["afile", "grid.toml"]


def test_report_out_makes_its_directory(cli_runner, fs, write_grid):
    """Cron writes each night's report into a directory of its own."""
    _run(cli_runner, write_grid(TINY_GRID), "--jobs", "1")
    result = cli_runner.invoke(main, ["report", "res", "--out", "reports/report.md"])
    assert result.exit_code == 0 and result.output == ""
    assert os.listdir("reports") == ["report.md"]


def test_report_out_where_no_file_can_be(cli_runner, fs, write_grid):
    _run(cli_runner, write_grid(TINY_GRID), "--jobs", "1")
    open("afile", "w").close()
    result = cli_runner.invoke(main, ["report", "res", "--out", "afile/report.md"])
    assert_one_error_line(result, "Cannot write to afile: Not a directory. "
                                  "Choose a writable output directory.")
