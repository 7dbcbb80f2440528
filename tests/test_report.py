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
from rnnbatch.errors import InputError
from rnnbatch.settings import SETTINGS

from .conftest import TINY_DATA, assert_one_error_line

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
                "layers": run.get("layers", []), "n_params": run.get("params", 0), "lr": None if naive else run.get("lr", 0.01),
                "init": None if naive else run.get("init", "scaled"),
                "shuffle": None if naive else False, "clip": None if naive else 0.0,
                "seed": run.get("seed", 0), "data_seed": run.get("data_seed", 0),
                "dataset_id": run.get("dataset", "d" * 16),
                "n_train": n_train, "n_test": n_test, "steps": steps, "epoch": epoch,
                "train_mse": run.get("train", curve)[epoch - 1], "test_mse": mse,
                "epoch_seconds": run.get("seconds", [0.5] * len(curve))[epoch - 1],
                "status": run.get("status", "ok"), "model": run["model"],
                **{name: None if naive else run.get(name, SETTINGS[name].default)
                   for name in NEWER},
            })
    schema = results.SCHEMA.append(pa.field("model", pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)


NEWER = [name for name in report.SETTING_KEYS if name not in results.REQUIRED]  # defaults here


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


# -- the tidy tables ---------------------------------------------------------------------------

def _curve(rep, config, metric="test_mse"):
    return rep.curve(config, metric).to_pylist()


def test_curves_hold_the_seeds_mean_std_min_max_and_count():
    curves = [[0.5, 0.4, 0.3], [0.5, 0.2, 0.1], [0.7, 0.3, 0.2]]
    runs = [rnn6(c, seed, seconds=[1.0, 2.0, 3.0], train=[0.9, 0.8, 0.7])
            for seed, c in enumerate(curves)]
    rep = report.summarise(synthetic(runs))
    assert rep.curves.column_names == ["config", "metric", "epoch", "mean", "std", "min", "max",
                                       "count"]
    assert sorted(set(rep.curves["metric"].to_pylist())) == ["epoch_seconds", "test_mse", "train_mse"]
    points = _curve(rep, 0)
    assert [p["epoch"] for p in points] == [1, 2, 3]
    by_epoch = np.array(curves).T
    for p, values in zip(points, by_epoch):
        assert p["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert p["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert (p["min"], p["max"], p["count"]) == (values.min(), values.max(), 3)
    assert [p["mean"] for p in _curve(rep, 0, "train_mse")] == pytest.approx([0.9, 0.8, 0.7])
    assert [p["mean"] for p in _curve(rep, 0, "epoch_seconds")] == [1.0, 2.0, 3.0]


def test_a_diverged_seed_leaves_the_band_to_the_others():
    runs = [rnn6([0.5, 0.4, 0.3], 0), rnn6([0.6, float("nan")], 1, status="diverged")]
    rep = report.summarise(synthetic(runs))
    first, second, third = _curve(rep, 0)
    assert (first["mean"], first["count"]) == (pytest.approx(0.55), 2)
    assert math.isnan(second["mean"]) and (second["min"], second["max"]) == (0.4, 0.4)
    assert (third["mean"], third["count"]) == (0.3, 1)


def test_summary_columns():
    runs = [{"model": "naive", "curve": [0.02]},
            rnn6([0.5, 0.01, 0.004], 0, params=56), rnn6([0.5, 0.01, 0.006], 1, params=56)]
    rep = report.summarise(synthetic(runs))
    assert rep.summary.column_names == ["config"] + [c.name for c in report.SUMMARY
                                                     if not c.with_target]
    naive, rnn = rep.rows()
    assert (naive["config"], rnn["config"]) == (0, 1)
    assert rnn["params"] == 56 and rnn["naive_mse"] == naive["test_mse_mean"] == 0.02
    assert rnn["skill"] == pytest.approx(1 - 0.005 / 0.02) and naive["skill"] == 0
    assert rnn["train_seconds"] == 0.5 * 3 * 2 and rnn["seconds_per_epoch"] == 0.5
    assert rnn["generated"] is True and rnn["dataset"] == "d" * 16
    assert rnn["layers"] == "1-6-1" and rnn["lr"] == 0.01 and rnn["optimizer"] == "sgd"
    assert naive["lr"] is None and naive["layers"] == ""


def test_skill_needs_the_naive_baseline_of_the_same_dataset():
    runs = [{"model": "naive", "curve": [0.02], "dataset": "e" * 16}, rnn6([0.01])]
    assert report.aggregate(synthetic(runs))[1]["skill"] is None
    runs = [{"model": "naive", "curve": [0.02]}, rnn6([0.03, 0.01])]
    # the baseline stands at its own epoch when the others are compared at another
    [row] = report.aggregate(synthetic(runs), epoch=2)
    assert row["skill"] == pytest.approx(0.5)


def test_target_gives_the_first_epoch_and_the_seconds_to_it():
    runs = [rnn6([0.5, 0.01, 0.004, 0.002], 0, seconds=[1.0, 2.0, 3.0, 4.0]),
            rnn6([0.5, 0.01, 0.006, 0.002], 1, seconds=[3.0, 4.0, 5.0, 6.0])]
    [row] = report.summarise(synthetic(runs), target=0.005).rows()
    # the seed mean: 0.5, 0.01, 0.005, 0.002; epoch seconds 2, 3, 4, 5
    assert (row["target"], row["target_epoch"], row["target_seconds"]) == (0.005, 3, 9.0)
    [row] = report.summarise(synthetic(runs), target=0.001).rows()
    assert (row["target_epoch"], row["target_seconds"]) == (None, None)
    assert "target_epoch" not in report.aggregate(synthetic(runs))[0]


def test_target_columns_in_the_human_table():
    runs = [rnn6([0.5, 0.01, 0.004], 0, lr=0.1)]
    lines = render.text_table(report.summarise(synthetic(runs), target=0.005)).splitlines()
    assert "  ≤ 0.005 at epoch  ≤ 0.005 at s  " in lines[0]
    assert lines[2].split()[-4:-2] == ["3", "1.50"]


def test_baselines_stay_whatever_is_chosen():
    runs = [{"model": "naive", "curve": [0.02]}, rnn6([0.01]), rnn6([0.01], lr=0.1)]
    full = report.summarise(synthetic(runs))
    chosen = report.select(full, report.parse_where(["lr=0.1"]))
    assert [r["lr"] for r in chosen.rows()] == [0.1]
    assert set(chosen.curves["config"].to_pylist()) == {chosen.rows()[0]["config"]}
    assert chosen.baselines.to_pylist() == full.baselines.to_pylist() == [
        {"dataset": "d" * 16, "model": "naive", "test_mse": 0.02, "train_mse": 0.02}]


def test_provenance_of_every_run(res):
    import platform
    from rnnbatch import __version__
    rep = report.summarise(results.read(res))
    p = rep.provenance.to_pylist()
    assert len(p) == 1 + 3 + 2 * 3 and list(p[0]) == list(report.PROVENANCE)
    assert {(r["rnnbatch"], r["host"]) for r in p} == {(__version__, platform.node())}
    assert all(r["started"] <= r["ended"] for r in p)
    assert report.summarise(synthetic([rnn6([0.1])])).provenance.num_rows == 0  # none recorded


def test_a_dataset_not_generated_has_no_course_figure():
    rows = report.aggregate(synthetic([rnn6([0.003] * 30, data_seed=-1)]))
    assert rows[0]["generated"] is False and rows[0]["course"] is None


# -- --where -----------------------------------------------------------------------------------

def _choose(*clauses):
    runs = [{"model": "naive", "curve": [0.02]}, rnn6([0.01]), rnn6([0.01], lr=0.1),
            rnn6([0.01], layers=[1, 3, 1], experiment="small"),
            {"model": "dense", "layers": [50, 1], "lr": 0.1, "curve": [0.01]}]
    rep = report.select(report.summarise(synthetic(runs)), report.parse_where(clauses))
    return sorted((r["model"], r["layers"], r["lr"] or 0) for r in rep.rows())


@pytest.mark.parametrize("clauses,chosen", [
    (["model=rnn"], [("rnn", "1-3-1", 0.01), ("rnn", "1-6-1", 0.01), ("rnn", "1-6-1", 0.1)]),
    (["lr=0.1"], [("dense", "50-1", 0.1), ("rnn", "1-6-1", 0.1)]),
    (["lr=0.1", "model=rnn"], [("rnn", "1-6-1", 0.1)]),  # every setting holds
    (["model=naive", "model=dense"], [("dense", "50-1", 0.1), ("naive", "", 0)]),  # either
    (["layers=1-6-1", "lr=1e-2"], [("rnn", "1-6-1", 0.01)]),
    (["layers=[1, 3, 1]"], [("rnn", "1-3-1", 0.01)]),
    (["experiment=small"], [("rnn", "1-3-1", 0.01)]),
    (["dataset=ddd"], [("dense", "50-1", 0.1), ("naive", "", 0), ("rnn", "1-3-1", 0.01),
                       ("rnn", "1-6-1", 0.01), ("rnn", "1-6-1", 0.1)]),  # an id's beginning
    (["shuffle=false", "optimizer=sgd", "epochs=1"], [("dense", "50-1", 0.1), ("rnn", "1-3-1", 0.01),
                                                     ("rnn", "1-6-1", 0.01), ("rnn", "1-6-1", 0.1)]),
])
def test_where_chooses_configurations(clauses, chosen):
    assert _choose(*clauses) == chosen


@pytest.mark.parametrize("clauses,message", [
    (["lrr=0.1"], "Unknown setting 'lrr' in --where lrr=0.1. Did you mean 'lr'? It takes "
                  + ", ".join(report.WHERE_KEYS) + "."),
    (["lr"], "--where takes SETTING=VALUE, such as lr=0.01 or model=rnn. Got 'lr'."),
    (["lr="], "--where takes SETTING=VALUE, such as lr=0.01 or model=rnn. Got 'lr='."),
    (["lr=-1"], "The 'lr' of --where lr=-1 must be a float > 0. Got -1."),
    (["model=rn"], "The 'model' of --where model=rn must be one of 'naive', 'ar', 'dense', "
                   "'rnn', 'jordan', 'gru', 'lstm'. Got 'rn'."),
    (["layers=1-x"], "The 'layers' of --where layers=1-x must be a list of at least two ints "
                     "from 1 to 10000. Got '1-x'."),
    (["shuffle=maybe"], "The 'shuffle' of --where shuffle=maybe must be true or false. Got 'maybe'."),
    (["lr=0.5"], "--where lr=0.5 matches no configuration; the results hold lr 0.01, 0.1."),
    (["optimizer=adam"], "--where optimizer=adam matches no configuration; the results hold "
                         "optimizer sgd."),
    (["model=naive", "lr=0.1"], "No configuration matches all of --where model=naive "
                                "--where lr=0.1. Drop one of them."),
])
def test_where_errors(clauses, message):
    with pytest.raises(InputError) as info:
        _choose(*clauses)
    assert str(info.value) == message


def test_where_on_the_command_line(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res, "--format", "json", "--where", "model=rnn",
                                      "--where", "layers=1-3-1"])
    assert [(r["model"], r["layers"]) for r in json.loads(result.output)] == [("rnn", "1-3-1")]
    result = cli_runner.invoke(main, ["report", res, "--where", "lrr=0.1"])
    assert_one_error_line(result, starts="Unknown setting 'lrr' in --where lrr=0.1. Did you mean 'lr'?")


@pytest.mark.parametrize("option,message", [
    (["--target", "0"], "Invalid value for '--target': 0.0 is not in the range x>0."),
    (["--target", "x"], "Invalid value for '--target': 'x' is not a valid float range."),
    (["--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table', "
                          "'markdown', 'csv', 'json', 'html'."),
])
def test_bad_report_options(cli_runner, res, option, message):
    result = cli_runner.invoke(main, ["report", res, *option])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


# -- how numbers read --------------------------------------------------------------------------

@pytest.mark.parametrize("value,text", [
    (0.00509, "0.00509"), (0.02, "0.0200"), (0.0113, "0.0113"), (1282, "1282"), (188.2, "188"),
    (0.0, "0"), (3.5232e-18, "3.52e-18"), (2.5e7, "2.50e+07"), (None, "–"), (float("nan"), "–"),
])
def test_numbers_show_three_significant_figures(value, text):
    assert display.number(value) == text


@pytest.mark.parametrize("mean,std,text", [
    (0.00509, 3.5232e-18, "0.00509 ± 0.00000"),  # the spread ends at the mean's last digit
    (0.00448, 0.00062389, "0.00448 ± 0.00062"),
    (0.0113, 1e-9, "0.0113 ± 0.0000"), (0.2, 0.1, "0.200 ± 0.100"), (0.02, None, "0.0200"),
    (float("nan"), 0.1, "–"),
])
def test_a_spread_to_its_mean_s_decimal_place(mean, std, text):
    assert display.plus_minus(mean, std) == text


def test_text_table_right_aligns_numbers(cli_runner, res):
    lines = cli_runner.invoke(main, ["report", res]).output.splitlines()
    for column in ("lr", "params", "test MSE", "min–max", "skill", "train s", "diverged"):
        end = lines[0].index(f" {column}") + 1 + len(column)  # headings align as their cells
        for line in lines[2:]:
            assert line[end - 1] != " " and line[end:end + 1] in ("", " "), (column, line)
    start = lines[0].index("experiment")
    assert all(line[start] != " " for line in lines)  # text stays left-aligned


@pytest.mark.parametrize("rows,names", [
    ([{"lr": 0.01}, {"lr": 0.1}], ["lr=0.01", "lr=0.1"]),
    ([{"layers": "1-6-1"}, {"layers": "1-3-1", "epochs": 5}], ["[1, 6, 1]", "[1, 3, 1]"]),
    ([{"epochs": 3}, {"epochs": 5}], ["epochs=3", "epochs=5"]),  # only the length differs
    ([{"model": "gru"}, {"optimizer": "adam", "shuffle": True}],
     ["gru no shuffle optimizer=sgd", "rnn shuffle optimizer=adam"]),
    ([{"shuffle": True}, {}], ["shuffle", "no shuffle"]),
    ([{}], ["x"]),  # nothing differs: the experiment
])
def test_names_say_what_differs(rows, names):
    base = report.aggregate(synthetic([rnn6([0.1], experiment="x")]))[0]
    assert display.names([base | row for row in rows]) == names
