"""`rnnbatch ingest`: a real series cut into windows with no leakage between training and test,
scaled on the training part, recorded with its provenance; one clear line for each bad input."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnbatch import data, ingest, render, report, results, runner
from rnnbatch.cli import main
from rnnbatch.errors import DataError
from rnnbatch.scaling import Scaling, rmse

from .conftest import assert_one_error_line

SHIPPED = Path(__file__).parents[1] / "data" / "real" / "co2.csv"
CO2 = ["--column", "co2", "--time", "date", "--fill", "linear"]


def _csv(name: str, values, times=None, header="value") -> str:
    lines = [header if times is None else f"t,{header}"]
    for i, v in enumerate(values):
        cell = "" if v is None else str(v)
        lines.append(cell if times is None else f"{times[i]},{cell}")
    Path(name).write_text("\n".join(lines) + "\n")
    return name


def _wave(n: int = 200) -> list:
    return [round(math.sin(i / 5) + 0.01 * i, 6) for i in range(n)]


def _ingest(cli_runner, *args):
    return cli_runner.invoke(main, ["ingest", *args])


# -- windows and the split ---------------------------------------------------------------------

@pytest.mark.parametrize("n,steps,stride,test", [
    (200, 51, 1, 0.2), (200, 51, 3, 0.2), (200, 10, 10, 0.5), (1000, 7, 2, 0.05), (75, 5, 1, 0.9),
    (61, 11, 1, 0.1),
])
def test_windows_never_overlap_the_test_part(n, steps, stride, test):
    train, tests = ingest.windows(n, steps, stride, test)
    assert train and tests
    assert train[-1] + steps <= tests[0]  # every training window ends before the first test one
    assert tests[-1] + steps <= n
    count = (n - steps) // stride + 1
    assert len(tests) == math.ceil(count * test)
    left_out = [s for s in range(0, count * stride, stride) if train[-1] < s < tests[0]]
    assert all(s + steps > tests[0] for s in left_out)  # only the windows that straddle
    assert len(train) + len(left_out) + len(tests) == count


@pytest.mark.parametrize("steps,stride,test", [(51, 1, 0.2), (5, 3, 0.5), (10, 10, 0.9)])
def test_shortest_series_is_the_least_that_gives_both_windows(steps, stride, test):
    least = ingest.shortest(steps, stride, test)
    assert all(ingest.windows(least, steps, stride, test))
    assert not all(ingest.windows(least - 1, steps, stride, test))


@pytest.mark.parametrize("extra", [[], ["--stride", "3"], ["--difference"]])
def test_no_test_value_is_inside_a_training_window(cli_runner, fs, extra):
    """The explicit check: a series of its row numbers (squared, so its differences are its row
    numbers too), scaled back, names the rows each window holds."""
    _csv("rows.csv", [i * i for i in range(300)])
    assert _ingest(cli_runner, "rows.csv", "--out", "d", "--steps", "11", *extra).exit_code == 0
    ds = data.load("d")
    scaling = Scaling.from_metadata(ds.provenance["scaling"])
    rows = [np.rint(scaling.invert(split)).astype(int) for split in (ds.train, ds.test)]
    if "--difference" in extra:  # the difference x[i + 1] - x[i] = 2i + 1 belongs to row i + 1
        rows = [(r - 1) // 2 + 1 for r in rows]
    else:
        rows = [np.rint(np.sqrt(r)).astype(int) for r in rows]
    train_rows, test_rows = (set(r.ravel()) for r in rows)
    assert max(train_rows) < min(test_rows)
    assert ds.provenance["windows"]["test_from_row"] == min(test_rows) + 1  # rows counted from 1
    windows = ds.provenance["windows"]
    assert (windows["train"], windows["test"]) == ds.train.shape[:1] + ds.test.shape[:1]


# -- scaling -----------------------------------------------------------------------------------

def test_scaling_round_trip_and_range():
    training = np.array([3.0, -2.0, 7.5, 1.0])
    scaling = Scaling.fit(training, 0.8)
    assert scaling.apply(training).min() == pytest.approx(-0.8)
    assert scaling.apply(training).max() == pytest.approx(0.8)
    x = np.linspace(-10, 20, 7)
    np.testing.assert_allclose(scaling.invert(scaling.apply(x)), x, rtol=0, atol=1e-12)
    assert Scaling.from_metadata(json.loads(json.dumps(scaling.to_metadata()))) == scaling
    assert scaling.unit == pytest.approx(9.5 / 1.6)
    assert rmse(0.04, scaling.unit) == pytest.approx(0.2 * 9.5 / 1.6)
    assert rmse(0.04, None) is None and rmse(float("nan"), 2.0) is None


def test_scaled_on_the_training_part_only(cli_runner, fs):
    values = list(range(100)) + [1000.0] * 30  # the jump is in the test part only
    _csv("s.csv", values)
    result = _ingest(cli_runner, "s.csv", "--out", "d", "--steps", "5", "--test", "0.2")
    assert result.exit_code == 0, result.output
    ds = data.load("d")
    assert ds.train.min() == pytest.approx(-0.8) and ds.train.max() == pytest.approx(0.8)
    assert ds.provenance["scaling"]["high"] < 100
    assert result.stderr.startswith("Warning: 100% of the test targets fall outside [-1, 1]")
    assert result.stderr.rstrip().endswith("Try --difference (a trending series leaves the range "
                                           "of its past).")


def test_rmse_in_the_series_units_from_a_result(cli_runner, fs, tmp_path):
    """A naive forecast of the next difference is the last difference again: its RMSE in the
    series' units, computed from the CSV by hand, is what the result file's unit gives."""
    values = np.array(_wave(300))
    _csv("w.csv", values)
    grid = Path("g.toml")
    grid.write_text('[data]\nseries = "w.csv"\ndifference = true\nsteps = 11\n'
                    '[[experiment]]\nname = "naive"\nmodel = "naive"\n')
    assert runner.run_grid(grid, "res", n_jobs=1).complete
    [row] = results.read("res").to_pylist()
    diffs = np.diff(values)
    starts = ingest.windows(len(diffs), 11, 1, 0.2)[1]
    errors = [diffs[s + 10] - diffs[s + 9] for s in starts]
    assert rmse(row["test_mse"], row["series_unit"]) == pytest.approx(np.sqrt(np.mean(np.square(errors))))
    [summary] = report.summarise(results.read("res")).rows()
    assert summary["source"] == "w.csv:value" and summary["test_rmse"] == pytest.approx(
        np.sqrt(np.mean(np.square(errors))))
    table = render.render(report.summarise(results.read("res")), "table")
    assert "RMSE (own units)" in table and "w.csv:value" in table


# -- the command -------------------------------------------------------------------------------

def test_ingest_the_shipped_series(cli_runner, fs):
    result = _ingest(cli_runner, str(SHIPPED), *CO2, "--difference", "--out", "data/co2")
    assert result.exit_code == 0, result.output
    ds = data.load("data/co2")
    assert result.stdout == (
        f"Wrote data/co2/train.parquet and test.parquet (1736 + 447 windows of 51 from {SHIPPED} "
        "column 'co2', 2284 rows, 1958-03-29 to 2001-12-29, 59 filled; first differences scaled "
        "onto [-0.8, 0.8], 1 scaled = 2.375 in the series' units); "
        f"dataset id {ds.dataset_id}\n")
    assert result.stderr == ""  # differenced, the test targets stay within reach
    p = ds.provenance
    assert p["ingest"] == {"column": "co2", "time": "date", "steps": 51, "stride": 1, "test": 0.2,
                           "scale": 0.8, "difference": True, "fill": "linear"}
    assert p["source"] | {"sha256": None} == {"file": str(SHIPPED), "sha256": None, "rows": 2284,
                                              "first": "1958-03-29", "last": "2001-12-29",
                                              "filled": 59}
    assert p["windows"] == {"train": 1736, "test": 447, "left_out": 50, "test_from_row": 1788,
                            "test_from": "1992-06-27"}
    assert ds.params is None and ds.source == "co2.csv:co2" and ds.unit == p["scaling"]["unit"]
    for split in ("train", "test"):
        meta = json.loads(pq.read_schema(f"data/co2/{split}.parquet").metadata[b"rnnbatch.dataset"])
        assert meta == {**p, "split": split, "fingerprint": ds.dataset_id}


def test_ingest_again_is_a_no_op_and_other_settings_are_refused(cli_runner, fs):
    _csv("s.csv", _wave())
    args = ["s.csv", "--out", "d", "--steps", "11"]
    assert _ingest(cli_runner, *args).exit_code == 0
    files = [Path("d/train.parquet"), Path("d/test.parquet")]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    again = _ingest(cli_runner, *args)
    assert again.exit_code == 0 and again.stdout.startswith("Up to date: d/train.parquet")
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == before

    other = _ingest(cli_runner, *args, "--stride", "2")
    assert_one_error_line(other, "d/train.parquet holds a different dataset. Replace it with "
                                 "rnnbatch ingest --force, or choose another directory.")
    assert [p.read_bytes() for p in files] == [b for b, _ in before]
    _csv("s.csv", _wave(201))  # the same settings on changed content: another dataset too
    assert _ingest(cli_runner, *args).exit_code == 2
    forced = _ingest(cli_runner, *args, "--force")
    assert forced.exit_code == 0 and forced.stdout.startswith("Wrote d/train.parquet")
    assert data.load("d").provenance["source"]["rows"] == 201


def test_the_id_is_the_source_content_and_the_settings(cli_runner, fs):
    _csv("a.csv", _wave())
    _csv("b.csv", _wave())  # the same bytes under another name: the same dataset
    ids = {}
    for name, args in {"a": ["a.csv"], "b": ["b.csv"], "steps": ["a.csv", "--steps", "21"],
                       "scale": ["a.csv", "--scale", "0.5"]}.items():
        assert _ingest(cli_runner, *args, "--out", name).exit_code == 0
        ids[name] = data.load(name).dataset_id
    assert ids["a"] == ids["b"] and len(set(ids.values())) == 3


def test_parquet_gives_the_windows_csv_gives(cli_runner, fs):
    values = _wave()
    days = np.arange(np.datetime64("2001-01-01"), np.datetime64("2001-01-01") + len(values))
    _csv("s.csv", values, [str(d) for d in days])
    pq.write_table(pa.table({"t": pa.array(days, pa.date32()), "value": values}), "s.parquet")
    for name in ("s.csv", "s.parquet"):
        result = _ingest(cli_runner, name, "--time", "t", "--out", name.replace(".", "-"))
        assert result.exit_code == 0, result.output
    a, b = data.load("s-csv"), data.load("s-parquet")
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert a.provenance["windows"] == b.provenance["windows"]
    assert (b.provenance["source"]["first"], b.provenance["source"]["last"]) == ("2001-01-01",
                                                                                 "2001-07-19")


def test_a_compressed_csv_reads_as_the_csv(cli_runner, fs):
    _csv("s.csv", _wave())
    with pa.CompressedOutputStream("s.csv.gz", "gzip") as out:
        out.write(Path("s.csv").read_bytes())
    for name in ("s.csv", "s.csv.gz"):
        assert _ingest(cli_runner, name, "--out", name.replace(".", "-")).exit_code == 0
    assert np.array_equal(data.load("s-csv").train, data.load("s-csv-gz").train)


def test_fill_linear_interpolates_between_neighbours(cli_runner, fs):
    values = [float(i % 17) for i in range(120)]
    gappy = list(values)
    gappy[16], gappy[17], gappy[60] = None, None, None  # rows 16, 17 between 15 and 1
    values[16], values[17] = 15 + (1 - 15) / 3, 15 + 2 * (1 - 15) / 3
    _csv("s.csv", gappy)
    assert _ingest(cli_runner, "s.csv", "--out", "d", "--steps", "5", "--fill", "linear").exit_code == 0
    ds = data.load("d")
    scaling = Scaling.from_metadata(ds.provenance["scaling"])
    np.testing.assert_allclose(scaling.invert(ds.train[:, 0])[:60], values[:60], atol=1e-9)
    assert ds.provenance["source"]["filled"] == 3


def test_a_gap_in_the_times_is_warned_about(cli_runner, fs):
    days = [f"2001-01-{d:02d}" for d in range(1, 32) if d != 9] + \
           [f"2001-02-{d:02d}" for d in range(1, 29)]
    _csv("s.csv", _wave(len(days)), days)
    result = _ingest(cli_runner, "s.csv", "--time", "t", "--out", "d", "--steps", "5")
    assert result.exit_code == 0
    assert result.stderr == ("Warning: s.csv column 't' row 9: 2 days after the previous row, where "
                             "the usual spacing is 1 day (1 such gaps): rows may be missing, and "
                             "the windows take the values as evenly spaced.\n")


def test_a_torn_ingested_dataset_names_the_ingest_that_repairs_it(cli_runner, fs):
    _csv("s.csv", _wave())
    assert _ingest(cli_runner, "s.csv", "--out", "d", "--steps", "11").exit_code == 0
    keep = Path("d/test.parquet").read_bytes()
    assert _ingest(cli_runner, "s.csv", "--out", "d", "--steps", "11", "--difference",
                   "--force").exit_code == 0
    Path("d/test.parquet").write_bytes(keep)
    with pytest.raises(DataError) as info:
        data.load("d")
    assert str(info.value).endswith("Regenerate it with: rnnbatch ingest s.csv --force --out d "
                                    "--column value --difference --fill none --scale 0.8 --steps "
                                    "11 --stride 1 --test 0.2")


# -- bad input: one line, exit 2, nothing written ----------------------------------------------

def _bad_series():
    return {
        "missing file": (["nope.csv"], "Series file nope.csv does not exist. Check the path."),
        "not csv": (["s.txt"], "s.txt is not a .csv or .parquet file. Give the series as CSV (a "
                               "header line, then a row per time; .csv.gz too) or Parquet."),
        "a directory": (["dir.csv"], "Cannot read dir.csv: Is a directory. Give the path of a file."),
        "unknown column": (["s.csv", "--column", "vlaue"],
                           "s.csv has no column 'vlaue'. Did you mean 'value'?"),
        "no close column": (["s.csv", "--column", "zzz"], "s.csv has no column 'zzz'. Its columns: "
                                                          "t, value."),
        "which column": (["s.csv"], "s.csv has the columns t, value: choose the series with "
                                    "--column."),
        "unknown time": (["s.csv", "--column", "value", "--time", "tt"],
                         "s.csv has no column 'tt'. Did you mean 't'?"),
        "non-numeric": (["bad.csv"], "bad.csv column 'value' row 4: '1.5x' is not a number. Correct "
                                     "it (a plain number such as 316.1), or leave the cell empty "
                                     "and use --fill linear."),
        "infinite": (["inf.csv"], "inf.csv column 'value' row 2: inf is not a finite number. Replace "
                                  "it, or leave the cell empty and use --fill linear."),
        "missing": (["gap.csv"], "gap.csv column 'value' row 3: missing value (2 in all). "
                                 "Interpolate them with --fill linear, or remove those rows."),
        "missing first": (["first.csv", "--fill", "linear"],
                          "first.csv column 'value' row 1: missing value before the first value, "
                          "with nothing on that side to interpolate from. Remove the rows before "
                          "the first value."),
        "unsorted": (["s.csv", "--column", "value", "--time", "t", "--steps", "5"],
                     "s.csv column 't' row 3: time 2001-01-02 comes before the previous row's "
                     "(2001-01-03). The rows must be in time order: sort the file by 't'."),
        "duplicate": (["dup.csv", "--column", "value", "--time", "t"],
                      "dup.csv column 't' row 2: time 2001-01-01 repeats the previous row's. Each "
                      "time must appear once: remove or merge the duplicate rows."),
        "bad time": (["badtime.csv", "--column", "value", "--time", "t"],
                     "badtime.csv column 't' row 2: 'soon' is not a time (ISO 8601) as the first "
                     "row is. Correct it, or leave out --time."),
        "too short": (["short.csv"], "short.csv column 'value' has 60 values: too few for one "
                                     "training and one test window of 51 (these options need at "
                                     "least 114). Use a smaller --steps, --stride or --test, or a "
                                     "longer series."),
        "constant": (["flat.csv"], "flat.csv column 'value' is constant: its training part is 2.5 "
                                   "throughout, so there is nothing to learn and no range to "
                                   "scale. Choose a column that varies."),
        "constant differences": (["line.csv", "--difference"],
                                 "line.csv column 'value' is constant: its differences are 3 "
                                 "throughout, so there is nothing to learn and no range to scale. "
                                 "Leave out --difference: a straight line's differences are "
                                 "constant."),
        "malformed csv": (["ragged.csv"], None),
    }


BAD = _bad_series()


@pytest.mark.parametrize("case", BAD)
def test_bad_series(cli_runner, fs, case):
    Path("s.txt").write_text("value\n1\n")
    _csv("s.csv", _wave(8), ["2001-01-01", "2001-01-03", "2001-01-02", "2001-01-04",
                            "2001-01-05", "2001-01-06", "2001-01-07", "2001-01-08"])
    _csv("bad.csv", [1, 2, 3, "1.5x", 5])
    _csv("inf.csv", [1, "inf", 3])
    _csv("gap.csv", [1, 2, None, 4, None])
    _csv("first.csv", [None, 2, 3, 4])
    _csv("dup.csv", [1, 2, 3], ["2001-01-01", "2001-01-01", "2001-01-02"])
    _csv("badtime.csv", [1, 2, 3], ["2001-01-01", "soon", "2001-01-02"])
    _csv("short.csv", _wave(60))
    _csv("flat.csv", [2.5] * 200)
    _csv("line.csv", [3 * i for i in range(200)])
    Path("ragged.csv").write_text("value\n1\n2,3\n")
    Path("dir.csv").mkdir()
    args, message = BAD[case]
    result = _ingest(cli_runner, *args, "--out", "d")
    line = assert_one_error_line(result, message)
    if message is None:
        assert line.startswith("Error: ragged.csv is not a readable CSV file (")
        assert line.endswith("). Fix the file, or export it again.")
    assert not os.path.exists("d")


@pytest.mark.parametrize("args,message", [
    (["--stride", "0"], "Invalid value for '--stride': 0 is not an int from 1 to 10000."),
    (["--steps", "1"], "Invalid value for '--steps': 1 is not an int from 2 to 10000."),
    (["--test", "1"], "Invalid value for '--test': 1 is not a float between 0 and 1 (both "
                      "excluded)."),
    (["--scale", "two"], "Invalid value for '--scale': two is not a float > 0 and <= 1."),
    (["--fill", "cubic"], "Invalid value for '--fill': cubic is not one of 'none', 'linear'."),
])
def test_bad_options(cli_runner, fs, args, message):
    _csv("s.csv", _wave())
    result = _ingest(cli_runner, "s.csv", "--out", "d", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert not os.path.exists("d")


def test_ingest_from_python_checks_its_settings():
    with pytest.raises(Exception) as info:
        ingest.IngestParams("s.csv", stride=0)
    assert str(info.value) == "The 'stride' of ingest must be an int from 1 to 10000. Got 0."


# -- grids ---------------------------------------------------------------------------------------

REAL_GRID = f"""
[data]
series = {json.dumps(str(SHIPPED))}
column = "co2"
time = "date"
fill = "linear"
difference = true

[defaults]
epochs = 1

[[experiment]]
name = "naive"
model = "naive"

[[experiment]]
name = "ar"
model = "ar"

[[experiment]]
name = "perceptron"
model = "dense"
layers = [50, 1]
lr = 0.1

[[experiment]]
name = "one-node"
model = "rnn"
layers = [1, 1]
seeds = 2
"""


def test_a_grid_ingests_the_shipped_series_on_the_fly(cli_runner, fs, write_grid):
    grid = write_grid(REAL_GRID)
    dry = cli_runner.invoke(main, ["run", grid, "--dry-run"])
    assert dry.exit_code == 0 and dry.stdout.endswith("5 runs\n") and not os.path.exists("data")
    result = cli_runner.invoke(main, ["run", grid, "--out", "res", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    [made] = Path("data").iterdir()
    assert made.name.startswith("co2-")
    ds = data.load(made)
    table = results.read("res")
    assert table.num_rows == 5
    assert set(table["dataset_id"].to_pylist()) == {ds.dataset_id}
    assert set(table["data_source"].to_pylist()) == {"co2.csv:co2"}
    assert set(table["series_unit"].to_pylist()) == {ds.unit}
    assert set(table["data_seed"].to_pylist()) == {None}
    assert set(table["n_train"].to_pylist()) == {1736} and set(table["n_test"].to_pylist()) == {447}
    some = next(Path("res/model=rnn").glob("*.parquet"))
    assert json.loads(pq.read_schema(some).metadata[results.DATASET_KEY]) == ds.provenance

    again = cli_runner.invoke(main, ["run", grid, "--out", "res", "--jobs", "1"])
    assert "0 ran, 5 skipped" in again.stdout
    # the same dataset named by its path: the same runs, already done
    named = write_grid(f'[data]\npath = "{made}"\n[defaults]' + REAL_GRID.split("[defaults]")[1],
                       "named.toml")
    named_run = cli_runner.invoke(main, ["run", named, "--out", "res", "--jobs", "1"])
    assert "0 ran, 5 skipped" in named_run.stdout, named_run.output


def test_a_grid_refuses_a_different_dataset_at_its_path(cli_runner, fs, write_grid):
    _csv("s.csv", _wave())
    assert _ingest(cli_runner, "s.csv", "--out", "d", "--steps", "11").exit_code == 0
    before = Path("d/train.parquet").read_bytes()
    grid = write_grid('[data]\nseries = "s.csv"\npath = "d"\nsteps = 21\n'
                      '[[experiment]]\nname = "naive"\nmodel = "naive"\n')
    result = cli_runner.invoke(main, ["run", grid, "--out", "res"])
    assert_one_error_line(result, "d/train.parquet holds a different dataset. Replace it with "
                                  "rnnbatch ingest --force, or choose another directory.")
    assert Path("d/train.parquet").read_bytes() == before


@pytest.mark.parametrize("data_table,message", [
    ('column = "x"', "[data] gives 'column' without 'series': it is a setting of a series to "
                     "ingest, so add series = \"FILE.csv\" or drop it."),
    ('series = "s.csv"\ntrain = 5', "[data] gives 'series' and 'train': a series is cut into "
                                    "windows, not generated, so drop 'train'. Its keys: series, "
                                    "column, time, steps, stride, test, scale, difference, fill, "
                                    "dir, path."),
    ('series = "s.csv"\nstride = 0', "The 'stride' of [data] must be an int from 1 to 10000. Got 0."),
    ('series = "s.csv"\ntest = 2000', "The 'test' of [data] must be a float between 0 and 1 (both "
                                      "excluded). Got 2000."),
    ('series = "s.csv"\ndifference = "yes"', "The 'difference' of [data] must be true or false. "
                                             "Got 'yes'."),
    ('series = "s.csv"\ncolum = "x"', "Unknown key 'colum' in [data]. Did you mean 'column'?"),
    ('series = ""', "The 'series' of [data] must be a non-empty string. Got ''."),
    ('series = "nope.csv"', "Series file nope.csv does not exist. Check the path."),
    ('series = "s.csv"\nsteps = 11\n[defaults]\nseeds = 1', None),
])
def test_grid_data_keys_of_a_series(cli_runner, fs, write_grid, data_table, message):
    _csv("s.csv", _wave())
    text = f"[data]\n{data_table}\n[[experiment]]\nname = \"p\"\nmodel = \"dense\"\nlayers = [50, 1]\n"
    result = cli_runner.invoke(main, ["run", write_grid(text), "--dry-run"])
    if message is None:  # the layers are checked against the series' steps
        message = "The 'layers' of experiment 'p' do not fit: a dense net on 11-step series starts " \
                  "with 10. Got [50, 1]."
    assert_one_error_line(result, message)
    assert not os.path.exists("data")
