"""`rnnbatch report`: formats, --epoch, --out, mean ± std over seeds against numpy, and the
course-figure column, checked on synthetic result tables (no big training needed)."""

import csv
import io
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from rnnbatch import display, render, report, results
from rnnbatch.cli import main

from .conftest import TINY_DATA, TINY_GRID, assert_one_error_line, run_grid_in

REPORT_GRID = TINY_GRID.replace("epochs = 2", "epochs = 3").replace("seeds = 2", "seeds = 3")


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """A results directory from one real tiny grid, shared by the module's tests."""
    return str(run_grid_in(tmp_path_factory.mktemp("report"), REPORT_GRID, 1 + 3 + 2 * 3))


def _raw(res):
    return pads.dataset(res, partitioning="hive").to_table().to_pylist()


def test_report_table(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split("  ")[0] == "experiment"
    for header in ("model", "layers", "lr", "settings", "seeds", "epoch", "test MSE", "min–max",
                   "best (epoch)", "s/epoch", "diverged", "course figure"):
        assert header in lines[0]
    assert set(lines[1]) == {"-", " "}
    body = [line.split() for line in lines[2:]]
    assert [(b[0], b[1], b[2]) for b in body] == [
        ("naive", "naive", "–"), ("perceptron", "dense", "50-1"), ("rnn", "rnn", "1-1"),
        ("rnn", "rnn", "1-3-1")]
    assert all(b[-1] == "–" for b in body)  # tiny data: no course figure


def test_report_mean_and_std_match_numpy(cli_runner, res):
    rows = json.loads(cli_runner.invoke(main, ["report", res, "--format", "json"]).output)
    raw = _raw(res)
    for row in rows:
        final = [r["test_mse"] for r in raw if r["experiment"] == row["experiment"]
                 and "-".join(map(str, r["layers"])) == row["layers"] and r["epoch"] == row["epoch"]]
        assert len(final) == row["seeds"]
        assert row["test_mse_mean"] == pytest.approx(np.mean(final), rel=1e-12)
        assert row["test_mse_min"] == min(final) and row["test_mse_max"] == max(final)
        if len(final) > 1:
            assert row["test_mse_std"] == pytest.approx(np.std(final, ddof=1), rel=1e-9)
        else:
            assert row["test_mse_std"] is None
    by_name = {(r["experiment"], r["layers"]): r for r in rows}
    assert by_name[("rnn", "1-3-1")]["seeds"] == 3 and by_name[("rnn", "1-3-1")]["epoch"] == 3
    assert by_name[("naive", "")]["seeds"] == 1 and by_name[("naive", "")]["lr"] is None
    assert by_name[("perceptron", "50-1")]["params"] == 51


def test_report_formats(cli_runner, res):
    table = cli_runner.invoke(main, ["report", res]).output
    markdown = cli_runner.invoke(main, ["report", res, "--format", "markdown"]).output
    as_csv = cli_runner.invoke(main, ["report", res, "--format", "csv"]).output
    as_json = cli_runner.invoke(main, ["report", res, "--format", "json"]).output

    md = markdown.splitlines()
    assert md[0].startswith("| experiment | model | layers | lr |") and md[0].endswith("| course figure |")
    # numbers right-aligned: lr, params, seeds, epoch, test MSE ... diverged
    assert md[1] == "|---|---|---|---:|---|" + "---:|" * 10 + "---|"
    assert len(md) == 2 + 4 and all(line.startswith("| ") for line in md[2:])
    assert len(table.splitlines()) == 2 + 4

    parsed = list(csv.DictReader(io.StringIO(as_csv)))
    rows = json.loads(as_json)
    assert len(parsed) == len(rows) == 4
    assert list(parsed[0]) == list(rows[0])
    for p, r in zip(parsed, rows):
        assert p["experiment"] == r["experiment"]
        assert float(p["test_mse_mean"]) == r["test_mse_mean"]  # repr round-trips


def test_report_epoch(cli_runner, res):
    rows = json.loads(cli_runner.invoke(main, ["report", res, "--format", "json", "--epoch", "1"]).output)
    raw = _raw(res)
    assert {r["epoch"] for r in rows} == {1}
    rnn = next(r for r in rows if r["layers"] == "1-1")
    first = [r["test_mse"] for r in raw if r["layers"] == [1, 1] and r["epoch"] == 1]
    assert rnn["test_mse_mean"] == pytest.approx(np.mean(first), rel=1e-12)

    # only the trained models reached epoch 3; the naive baseline has one epoch
    rows = json.loads(cli_runner.invoke(main, ["report", res, "--format", "json", "--epoch", "3"]).output)
    assert [r["experiment"] for r in rows] == ["perceptron", "rnn", "rnn"]


def test_report_epoch_nobody_reached(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res, "--epoch", "9"])
    assert_one_error_line(result, "No run reached epoch 9. Choose an --epoch within the runs' epochs.")


def test_report_epoch_zero(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res, "--epoch", "0"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for '--epoch': 0 is not in the range x>=1."


def test_report_out_file(cli_runner, fs, res):
    result = cli_runner.invoke(main, ["report", res, "--format", "markdown", "--out", "report.md"])
    assert result.exit_code == 0
    assert result.output == ""
    assert open("report.md", encoding="utf-8").read() == cli_runner.invoke(
        main, ["report", res, "--format", "markdown"]).output


def test_report_missing_results(cli_runner, fs):
    result = cli_runner.invoke(main, ["report", "res"])
    assert_one_error_line(result, "No results under res. Make some with: rnnbatch run GRID --out res")
    assert not os.path.exists("res")


def test_report_default_results_dir(cli_runner, fs):
    result = cli_runner.invoke(main, ["report"])
    assert_one_error_line(result, "No results under results. Make some with: "
                                  "rnnbatch run GRID --out results")


def test_report_empty_results_dir(cli_runner, fs):
    os.makedirs("res/model=rnn")
    result = cli_runner.invoke(main, ["report", "res"])
    assert_one_error_line(result, "No results under res. Make some with: rnnbatch run GRID --out res")


def test_report_bad_format(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res, "--format", "xml"])
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


def test_naive_and_trained_model_in_one_experiment(cli_runner, fs, write_grid):
    """A baseline (lr None) beside a trained model with the same layers must sort, not crash."""
    path = write_grid(TINY_DATA + '[[experiment]]\nname = "x"\nmodel = ["naive", "rnn"]\nlayers = [1, 1]\n')
    assert cli_runner.invoke(main, ["run", path, "--out", "res", "--jobs", "1"]).exit_code == 0
    result = cli_runner.invoke(main, ["report", "res", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(r["model"], r["lr"]) for r in json.loads(result.output)] == [("naive", None), ("rnn", 0.01)]


# -- aggregate on synthetic tables -------------------------------------------------------------

COURSE = (7000, 2000, 51)


def synthetic(runs) -> pa.Table:
    """Result rows as results.read returns them; each run: dict of settings and a test-MSE curve."""
    rows = []
    for i, run in enumerate(runs):
        n_train, n_test, steps = run.get("data", COURSE)
        curve = run["curve"]
        naive = run["model"] == "naive"
        for epoch, mse in enumerate(curve, start=1):
            rows.append({
                "run_id": f"{i:016x}", "experiment": run.get("experiment", run["model"]),
                "layers": run.get("layers", []), "n_params": 0, "lr": None if naive else run.get("lr", 0.01),
                "init": None if naive else run.get("init", "scaled"),
                "shuffle": None if naive else False, "clip": None if naive else 0.0,
                "seed": run.get("seed", 0), "data_seed": 0, "dataset_id": "d" * 16,
                "n_train": n_train, "n_test": n_test, "steps": steps, "epoch": epoch,
                "train_mse": mse, "test_mse": mse, "epoch_seconds": 0.5,
                "status": run.get("status", "ok"), "model": run["model"],
            })
    schema = results.SCHEMA.append(pa.field("model", pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)


def rnn6(curve, seed=0, **extra):
    return {"model": "rnn", "layers": [1, 6, 1], "lr": 0.01, "curve": curve, "seed": seed, **extra}


def _course_cell(rows):
    [row] = rows
    return display.course(row)


def test_course_figure_met_at_its_epoch():
    curve = [0.01] * 23 + [0.0035] + [0.0034] * 6
    rows = report.aggregate(synthetic([rnn6(curve, 0), rnn6(curve, 1)]))
    assert rows[0]["course"] == "≤ 0.0036 @ 24"
    assert rows[0]["course_met"] is True and rows[0]["course_reached_at"] == 24
    assert _course_cell(rows) == "≤ 0.0036 @ 24: met"


def test_course_figure_uses_the_seed_mean_curve():
    # one seed under the figure at epoch 24, the other above: the mean (0.0037) is not
    a = [0.01] * 23 + [0.0030] + [0.0030] * 4 + [0.0020]
    b = [0.01] * 23 + [0.0044] + [0.0044] * 4 + [0.0020]
    rows = report.aggregate(synthetic([rnn6(a, 0), rnn6(b, 1)]))
    assert rows[0]["course_met"] is False and rows[0]["course_reached_at"] == 29
    assert _course_cell(rows) == "≤ 0.0036 @ 24: not met, reached at epoch 29"


def test_course_figure_not_reached():
    rows = report.aggregate(synthetic([rnn6([0.02, 0.01, 0.005] * 10)]))
    assert rows[0]["course_met"] is False and rows[0]["course_reached_at"] is None
    assert _course_cell(rows) == "≤ 0.0036 @ 24: not met, not reached"


def test_course_figure_with_explicit_epoch():
    curve = [0.005] * 10 + [0.003] * 20
    rows = report.aggregate(synthetic([rnn6(curve)]), epoch=12)
    assert rows[0]["epoch"] == 12 and rows[0]["course_met"] is True
    rows = report.aggregate(synthetic([rnn6(curve)]), epoch=5)
    assert rows[0]["course_met"] is False and rows[0]["course_reached_at"] == 11
    assert _course_cell(rows) == "≤ 0.0036 @ 24: not met, reached at epoch 11"


@pytest.mark.parametrize("mse,met", [(0.0215, True), (0.022, True), (0.0221, False)])
def test_about_figures_allow_ten_percent(mse, met):
    rows = report.aggregate(synthetic([{"model": "naive", "curve": [mse]}]))
    assert rows[0]["course"] == "≈ 0.02"
    assert rows[0]["course_met"] is met
    assert _course_cell(rows) == ("≈ 0.02: met" if met else "≈ 0.02: not met, not reached")


def test_about_figure_without_epoch_is_judged_at_the_last_epoch():
    run = {"model": "rnn", "layers": [1, 1], "lr": 0.01, "curve": [0.05, 0.0115, 0.013]}
    rows = report.aggregate(synthetic([run]))
    assert rows[0]["course"] == "≈ 0.011"
    assert rows[0]["course_met"] is False and rows[0]["course_reached_at"] == 2


@pytest.mark.parametrize("change", [
    {"data": (60, 20, 51)}, {"data": (7000, 2000, 41)}, {"lr": 0.1}, {"init": "uniform"},
    {"layers": [1, 7, 1]},
])
def test_no_course_figure_off_the_course_settings(change):
    rows = report.aggregate(synthetic([rnn6([0.003] * 30, **change)]))
    assert rows[0]["course"] is None and rows[0]["course_met"] is None
    assert _course_cell(rows) == "–"


def test_aggregate_statistics():
    runs = [rnn6([0.5, 0.4, 0.3], 0), rnn6([0.5, 0.2, 0.1], 1), rnn6([0.5, 0.3, 0.2], 2)]
    [row] = report.aggregate(synthetic(runs))
    assert row["seeds"] == 3 and row["epoch"] == 3 and row["diverged"] == 0
    assert row["test_mse_mean"] == pytest.approx(0.2)
    assert row["test_mse_std"] == pytest.approx(np.std([0.3, 0.1, 0.2], ddof=1))
    assert (row["test_mse_min"], row["test_mse_max"]) == (0.1, 0.3)
    assert (row["best_mse"], row["best_epoch"]) == (pytest.approx(0.2), 3)
    assert row["seconds_per_epoch"] == 0.5
    table = render.text_table(report.summarise(synthetic(runs)))
    assert "  0.200 ± 0.100  " in table


def test_aggregate_counts_diverged_runs():
    runs = [rnn6([0.5, 0.4, 0.3], 0), rnn6([0.5, float("nan")], 1, status="diverged"),
            {"model": "rnn", "layers": [1, 1], "curve": [0.2], "experiment": "other"}]
    rows = report.aggregate(synthetic(runs))
    assert [(r["layers"], r["diverged"]) for r in rows] == [("1-1", 0), ("1-6-1", 1)]
    row = rows[1]
    # a diverged seed is a result: it counts, and its NaN makes the mean NaN
    assert row["seeds"] == 2 and math.isnan(row["test_mse_mean"])
    as_json = json.loads(render.as_json(report.summarise(synthetic(runs))))  # NaN is not JSON
    assert as_json[1]["test_mse_mean"] is None and as_json[1]["diverged"] == 1


def test_render_rejects_unknown_format():
    with pytest.raises(Exception) as info:
        render.render(report.summarise(synthetic([rnn6([0.1])])), "xml")
    assert str(info.value) == "--format must be one of table, markdown, csv, json, html. Got 'xml'."


def test_report_is_deterministic_to_the_last_bit(cli_runner, res):
    outputs = {cli_runner.invoke(main, ["report", res, "--format", "json"]).output for _ in range(5)}
    assert len(outputs) == 1
    table = results.read(res)
    order = np.random.default_rng(0).permutation(table.num_rows)
    assert report.aggregate(table.take(order)) == report.aggregate(table)


def test_report_ignores_hidden_leftovers(cli_runner, res, tmp_path):
    import shutil
    copy = tmp_path / "res"
    shutil.copytree(res, copy)
    (copy / "model=rnn" / ".0123456789abcdef.parquet.1.tmp").write_bytes(b"half a file")
    (copy / ".corrupt").mkdir()
    (copy / ".corrupt" / "x.parquet").write_bytes(b"junk")
    assert cli_runner.invoke(main, ["report", str(copy), "--format", "json"]).output == \
        cli_runner.invoke(main, ["report", res, "--format", "json"]).output
