"""Results written by an earlier release are found complete and read beside new ones; the run
ids of today's grids never change (a changed id would silently rerun finished work)."""

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rnnbatch import planning, report, results, runner

RELEASE_0_1_0 = Path(__file__).parent / "data" / "release-0.1.0"

# `rnnbatch run jobs/grid.toml --dry-run` with release 0.1.0
GRID_IDS = {
    "a419db807ce57363", "2e4bea4301167fac", "187e202992233374", "4e63159edbabd40b",
    "6bbfe3f7234aa9c7", "c84e225471d791c8", "280aec8fda3cf7d3", "534beedbca6b3869",
    "9b1feed126074307", "fa01128113e121ea", "58bcb880a3b749b7", "92fed809dc7b09b6",
    "8b096063e1ec833e",
}


def test_the_course_grid_keeps_its_run_ids():
    grid = Path(__file__).parents[1] / "jobs" / "grid.toml"
    assert {run.run_id for run in planning.plan(grid, materialise=False).runs} == GRID_IDS


def test_results_of_release_0_1_0_are_complete_and_reported(tmp_path):
    out = tmp_path / "res"
    shutil.copytree(RELEASE_0_1_0 / "results", out)
    grid = tmp_path / "grid.toml"
    grid.write_text((RELEASE_0_1_0 / "grid.toml").read_text().replace(
        "[data]\n", f"[data]\ndir = \"{tmp_path / 'data'}\"\n"))
    summary = runner.run_grid(grid, out, n_jobs=1)
    assert (summary.done, summary.skipped, summary.complete) == (0, 11, True)
    table = results.read(out)
    assert table.num_rows == 1 + 10 * 2
    rows = report.aggregate(table)
    assert {(row["experiment"], row["layers"], row["clip"], row["epochs"]) for row in rows} == {
        ("naive", "", None, None), ("perceptron", "50-1", 0.0, 2), ("rnn", "1-1", 0.0, 2),
        ("rnn", "1-1", 0.5, 2), ("rnn", "1-3-1", 0.0, 2), ("rnn", "1-3-1", 0.5, 2)}


def test_old_and_new_results_of_one_configuration_are_one_row(tmp_path):
    """Columns added since release 0.1.0 are filled with the values its runs had."""
    out = tmp_path / "res"
    shutil.copytree(RELEASE_0_1_0 / "results", out)
    grid = tmp_path / "grid.toml"
    grid.write_text((RELEASE_0_1_0 / "grid.toml").read_text().replace(
        "[data]\n", f"[data]\ndir = \"{tmp_path / 'data'}\"\n").replace("seeds = 2", "seeds = 3"))
    summary = runner.run_grid(grid, out, n_jobs=1)
    assert (summary.done, summary.skipped) == (5, 11)  # seed 2 of each trained configuration
    rows = report.aggregate(results.read(out))
    assert sorted(row["seeds"] for row in rows) == [1, 3, 3, 3, 3, 3]


def test_an_unknown_data_seed_of_old_files_reads_as_null(tmp_path):
    """Before real series, results marked data of unknown origin with data_seed -1."""
    out = tmp_path / "res"
    shutil.copytree(RELEASE_0_1_0 / "results", out)
    path = next((out / "model=rnn").glob("*.parquet"))
    table = pq.read_table(path)
    old = table.set_column(table.schema.get_field_index("data_seed"), "data_seed",
                           pa.array([-1] * table.num_rows, pa.int64()))
    pq.write_table(old, path)
    rows = results.read(out).to_pylist()
    mine = [row for row in rows if row["run_id"] == path.stem]
    assert mine and all(row["data_seed"] is None for row in mine)
    assert {row["data_seed"] for row in rows if row["run_id"] != path.stem} == {0}
    assert {(row["data_source"], row["series_unit"]) for row in rows} == {(None, None)}
