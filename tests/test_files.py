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

from .conftest import TINY_DATA, TINY_GRID, TINY_GRID_RUNS, assert_one_error_line, run_grid_in

NAIVE_GRID = TINY_DATA + '[[experiment]]\nname = "n"\nmodel = "naive"\n'
GENERATE = ["generate", "--out", "data", "--seed", "3", "--train", "60", "--test", "20"]
RESULTS_ELSEWHERE = "Rerun its grid (rnnbatch run GRID --out res) to redo it, or move it out of res."


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One real run of the tiny grid: its grid file and results, copied by ``res``."""
    base = tmp_path_factory.mktemp("made")
    run_grid_in(base, TINY_GRID, TINY_GRID_RUNS)
    return base


@pytest.fixture
def res(made, fs):
    """A fresh copy of the tiny grid's results at ./res, and its grid at ./grid.toml."""
    shutil.copytree(made / "res", "res")
    shutil.copy(made / "grid.toml", "grid.toml")
    return fs / "res"


def _report(cli_runner):
    return cli_runner.invoke(main, ["report", "res", "--format", "json"])


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


def test_unreadable_result_is_a_permission_error_and_stays_in_place(cli_runner, res, monkeypatch):
    victim = _rnn_results(res)[0]
    _deny_reading(monkeypatch, victim)
    denied = (f"Cannot read res/model=rnn/{victim.name}: Permission denied. Ask its owner to make "
              "it readable (chmod g+r), or run the grid into a results directory of your own "
              "(rnnbatch run GRID --out DIR).")
    assert_one_error_line(cli_runner.invoke(main, ["run", "grid.toml", "--out", "res"]), denied)
    assert_one_error_line(cli_runner.invoke(main, ["report", "res"]), denied)
    assert victim.exists() and not (res / ".corrupt").exists()


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


# -- 9, 10: the results directory is read only through files rnnbatch wrote --------------------

def _stray(path):
    return (f"Ignored {path}: not a result file (rnnbatch reads only res/model=<model>/<run id>"
            ".parquet). Move it out of res to silence this warning.")


@pytest.mark.parametrize("where,named", [  # a stray folder is named once, not file by file
    ("res/README.txt", "res/README.txt"),
    ("res/model=rnn/README.txt", "res/model=rnn/README.txt"),
    ("res/0123456789abcdef.parquet", "res/0123456789abcdef.parquet"),
    ("res/notes/a.parquet", "res/notes"),
    ("res/model=mlp/0123456789abcdef.parquet", "res/model=mlp"),
    ("res/model=rnn/old/0123456789abcdef.parquet", "res/model=rnn/old"),
])
def test_stray_files_are_skipped_with_a_warning(cli_runner, res, clean_report, where, named):
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_rnn_results(res)[0], where)
    result = _report(cli_runner)
    assert result.exit_code == 0
    assert _warnings(result) == [_stray(named)]
    assert result.stdout == clean_report


def test_report_written_into_the_results_directory(cli_runner, res, clean_report):
    assert cli_runner.invoke(main, ["report", "res", "--out", "res/report.txt"]).exit_code == 0
    result = _report(cli_runner)
    assert result.exit_code == 0 and _warnings(result) == [_stray("res/report.txt")]
    assert result.stdout == clean_report


@pytest.mark.parametrize("copy_name", ["{}.parquet.bak", "copy.parquet", "{}.parquet~"])
def test_a_stray_copy_does_not_enter_the_means(cli_runner, res, clean_report, copy_name):
    original = _rnn_results(res)[0]
    copy = original.parent / copy_name.format(original.stem)
    shutil.copy(original, copy)
    result = _report(cli_runner)
    assert _warnings(result) == [_stray(f"res/model=rnn/{copy.name}")]
    assert result.stdout == clean_report


def test_a_copy_under_another_run_id_is_not_that_run(cli_runner, res):
    original, other = _rnn_results(res)[:2]
    shutil.copy(original, other)
    result = _report(cli_runner)
    assert _warnings(result) == [f"Ignored res/model=rnn/{other.name}: not run {other.stem}'s result "
                                 f"(it names {original.stem}). {RESULTS_ELSEWHERE}"]
    run_ids = results.read("res")["run_id"].to_pylist()
    assert run_ids.count(original.stem) == 2 and other.stem not in run_ids  # counted once, 2 epochs
    with pytest.raises(ValueError):
        results.is_complete(other, other.stem)


def test_a_copy_under_another_model_is_skipped_with_its_original(cli_runner, res):
    original = _rnn_results(res)[0]
    shutil.copy(original, res / "model=dense" / original.name)
    result = _report(cli_runner)
    why = (f"run {original.stem} is under more than one model= folder, so all but one are copies. "
           "Move the copies out of res.")
    assert _warnings(result) == [f"Ignored res/model=dense/{original.name}: {why}",
                                 f"Ignored res/model=rnn/{original.name}: {why}"]
    assert original.stem not in results.read("res")["run_id"].to_pylist()


def test_an_unlistable_results_folder_is_a_permission_error(cli_runner, res, monkeypatch):
    listing = Path.iterdir

    def denied(self):
        if self.name == "model=rnn":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", denied)
    assert_one_error_line(_report(cli_runner), "Cannot read res/model=rnn: Permission denied. Ask "
                          "its owner to make it readable (chmod g+rx), or run the grid into a "
                          "results directory of your own (rnnbatch run GRID --out DIR).")


def _damage_a_data_page(path: Path, where: str) -> None:
    """Flip bytes of the test_mse column's pages, leaving the footer whole: the data page's
    header, or the last MSE value stored in its dictionary page (still decodes, to other numbers)."""
    meta = pq.read_metadata(path)
    column = meta.row_group(0).column(meta.schema.names.index("test_mse"))
    assert column.has_dictionary_page
    offset = column.data_page_offset - (4 if where == "page values" else 0)
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 4] = bytes(b ^ 0xFF for b in raw[offset:offset + 4])
    path.write_bytes(bytes(raw))
    assert pq.read_metadata(path).num_rows == meta.num_rows


@pytest.mark.parametrize("where", ["page header", "page values"])
def test_a_damaged_data_page_is_not_complete(cli_runner, res, clean_report, where):
    victim = _rnn_results(res)[0]
    _damage_a_data_page(victim, where)
    with pytest.raises(ValueError) as info:
        results.is_complete(victim, victim.stem)
    assert str(info.value).startswith("unreadable (") and "\n" not in str(info.value)

    result = _report(cli_runner)
    assert result.exit_code == 0
    [warning] = _warnings(result)
    assert warning.startswith(f"Ignored res/model=rnn/{victim.name}: unreadable (")
    assert warning.endswith(RESULTS_ELSEWHERE)
    assert _figures(result.stdout) != _figures(clean_report)

    rerun = cli_runner.invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1"])
    assert "Done: 1 ran, 6 skipped (complete)" in rerun.output
    assert _figures(_report(cli_runner).stdout) == _figures(clean_report)


def _figures(report_json):
    """A report without its wall-clock columns (a redone run takes its own time)."""
    return [{k: v for k, v in row.items() if k not in ("seconds_per_epoch", "train_seconds")}
            for row in json.loads(report_json)]


@pytest.mark.parametrize("change,reason", [  # each change keeps the file's run record but one
    (lambda t: t.drop_columns(["seed", "status"]), "missing the columns seed, status"),
    (lambda t: t.slice(0, 1), "incomplete (1 of the 2 rows its record states)"),
    (lambda t: t.replace_schema_metadata({}), "missing its run record"),
    (lambda t: t.set_column(t.schema.get_field_index("epoch"), "epoch", pa.array(["x", "x"])),
     "with columns of the wrong type (Failed to parse string: 'x' as a scalar of type int64)"),
])
def test_an_incomplete_result_is_skipped_and_redone(cli_runner, res, change, reason):
    victim = _rnn_results(res)[0]
    pq.write_table(change(pq.read_table(victim)), victim)
    with pytest.raises(ValueError) as info:
        results.is_complete(victim, victim.stem)
    assert str(info.value) == reason

    result = _report(cli_runner)
    assert result.exit_code == 0, result.output
    assert _warnings(result) == [f"Ignored res/model=rnn/{victim.name}: {reason}. {RESULTS_ELSEWHERE}"]

    rerun = cli_runner.invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1"])
    assert f"Warning: res/model=rnn/{victim.name} was {reason}; moved it to res/.corrupt/" in rerun.output
    assert "Done: 1 ran, 6 skipped (complete)" in rerun.output
    assert results.is_complete(victim, victim.stem)


def test_nothing_valid_left_is_no_results(cli_runner, fs):
    os.makedirs("res/model=rnn")
    Path("res/model=rnn/0123456789abcdef.parquet").write_bytes(b"not parquet")
    Path("res/README.txt").write_text("notes")
    result = cli_runner.invoke(main, ["report", "res"])
    assert result.exit_code == 2
    stray, corrupt, error = result.stderr.splitlines()
    assert stray == f"Warning: {_stray('res/README.txt')}"
    assert corrupt.startswith("Warning: Ignored res/model=rnn/0123456789abcdef.parquet: unreadable (")
    assert corrupt.endswith(RESULTS_ELSEWHERE)
    assert error == "Error: No results under res. Make some with: rnnbatch run GRID --out res"
    assert "Traceback" not in result.output


def test_corrupt_file_beside_good_ones_names_the_file(cli_runner, res):
    victim = _rnn_results(res)[0]
    victim.write_bytes(b"not parquet")
    result = _report(cli_runner)
    assert result.exit_code == 0
    [warning] = _warnings(result)
    assert warning.startswith(f"Ignored res/model=rnn/{victim.name}: unreadable (")
    assert len(json.loads(result.stdout)) == 4


def test_read_gives_one_table_of_the_declared_schema(res):
    table = results.read(res)
    assert table.schema.equals(results.SCHEMA.append(pa.field("model", pa.string())))
    assert table.num_rows == 1 + 6 * 2
    assert sorted(set(table["model"].to_pylist())) == ["dense", "naive", "rnn"]


def test_read_in_chunks_is_one_table_in_file_order(res, monkeypatch):
    """Files are read side by side and joined a few at a time: the same table, records and
    warnings, in the same order, as read whole."""
    _rnn_results(res)[1].write_bytes(b"not parquet")
    with pytest.warns(UserWarning) as whole_warnings:
        whole = results.read(res)
    monkeypatch.setattr(results, "CONCAT_FILES", 2)
    with pytest.warns(UserWarning) as chunked_warnings:
        chunked = results.read(res)
    assert chunked.equals(whole, check_metadata=True) and chunked.column("run_id").num_chunks > 1
    assert [str(w.message) for w in chunked_warnings] == [str(w.message) for w in whole_warnings]
    assert chunked.num_rows == 1 + 5 * 2
    records = json.loads(chunked.schema.metadata[results.RUNS_KEY])
    assert [r["run_id"] for r in records] == list(dict.fromkeys(chunked["run_id"].to_pylist()))
    assert chunked.group_by(["run_id", "model"]).aggregate([]).num_rows == 6


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

    # either side's parameters: the other side's file is refused without --force ...
    for seed, other_side in (("3", "data/train.parquet"), ("4", "data/test.parquet")):
        result = cli_runner.invoke(main, GENERATE[:4] + [seed] + GENERATE[5:])
        assert_one_error_line(result, f"{other_side} holds a different dataset. Replace it with "
                                      "rnnbatch generate --force, or choose another directory.")
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
