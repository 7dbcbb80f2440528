"""The read cache (``RESULTS/.cache``): a report reflects exactly the whole result files on disk
however they changed since the cache was written, and a cache that cannot be read or written
costs only time."""

import errno
import os
import shutil
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rnnbatch import _io, results, results_cache
from rnnbatch.cli import main

from .conftest import TINY_GRID, TINY_GRID_RUNS, run_grid_in
from .test_files import RESULTS_ELSEWHERE, _damage_a_data_page, _deny_reading, _rnn_results

CACHE = os.path.join(".cache", results_cache.NAME)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("made")
    run_grid_in(base, TINY_GRID, TINY_GRID_RUNS)
    return base / "res"


@pytest.fixture
def res(made, fs):
    shutil.copytree(made, "res")
    return Path("res")


@pytest.fixture
def settled(monkeypatch):
    """Files count as changed long enough ago to trust (the tests' were written just now)."""
    monkeypatch.setattr(results_cache, "RACY_NS", 0)


@pytest.fixture
def opened(monkeypatch):
    """The result files read afresh, by name, as reads happen."""
    names = []
    checked = results._checked

    def counting(path, run_id):
        names.append(path.name)
        return checked(path, run_id)

    monkeypatch.setattr(results, "_checked", counting)
    return names


def _read(res):
    """``results.read`` and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = results.read(res)
    return table, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _no_warnings_read(res):
    table, warned = _read(res)
    assert warned == []
    return table


def _read_without_cache(res):
    shutil.rmtree(res / ".cache")
    return _no_warnings_read(res)


def test_a_second_read_opens_no_result_file(res, settled, opened):
    first = _no_warnings_read(res)
    assert len(opened) == TINY_GRID_RUNS and (res / CACHE).is_file()
    opened.clear()
    again = _no_warnings_read(res)
    assert opened == [] and again.equals(first, check_metadata=True)


def test_the_report_is_the_same_from_the_cache(cli_runner, res, settled):
    reports = [cli_runner.invoke(main, ["report", "res", "--format", "csv"]) for _ in range(2)]
    assert reports[0].stdout == reports[1].stdout and reports[1].stderr == ""


def test_a_new_file_shows_up(res, settled, opened):
    added = _rnn_results(res)[0]
    shutil.move(added, "aside")
    before = _no_warnings_read(res)
    shutil.move("aside", added)
    opened.clear()
    after = _no_warnings_read(res)
    assert opened == [added.name] and after.num_rows == before.num_rows + 2
    assert after.equals(_read_without_cache(res), check_metadata=True)


def test_a_removed_file_leaves_the_report(res, settled, opened):
    _no_warnings_read(res)
    removed = _rnn_results(res)[0]
    removed.unlink()
    opened.clear()
    after = _no_warnings_read(res)
    assert opened == [] and removed.stem not in after["run_id"].to_pylist()
    assert after.equals(_read_without_cache(res), check_metadata=True)


def test_a_force_rerun_shows_its_own_numbers(cli_runner, res, settled, made):
    before = _no_warnings_read(res)
    shutil.copy(made.parent / "grid.toml", "grid.toml")
    rerun = cli_runner.invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1", "--force"])
    assert rerun.exit_code == 0, rerun.output
    after = _no_warnings_read(res)
    assert after["epoch_seconds"] != before["epoch_seconds"]  # measured anew
    assert after.equals(_read_without_cache(res), check_metadata=True)


def test_a_file_replaced_by_one_of_the_same_size_is_read_afresh(res, settled):
    clean = _no_warnings_read(res)
    victim = _rnn_results(res)[0]
    shutil.copy(victim, "damaged")
    _damage_a_data_page(Path("damaged"), "page values")
    assert os.path.getsize("damaged") == victim.stat().st_size
    os.replace("damaged", victim)  # as a rerun writes it: a new file renamed over the old
    table, warned = _read(res)
    assert len(warned) == 1 and warned[0].startswith(f"Ignored res/model=rnn/{victim.name}: "
                                                     "unreadable (")
    assert warned[0].endswith(RESULTS_ELSEWHERE)
    assert table.num_rows == clean.num_rows - 2


def test_a_file_rewritten_in_place_just_after_it_was_cached_is_read_afresh(res, monkeypatch):
    """Changed within one tick of its timestamps, a file can look unchanged: one changed that
    recently is not trusted (here timestamps of 10 s ticks, and RACY_NS above one)."""
    stat_key, tick = results_cache._key, 10 * 10**9

    def coarse(path):
        size, mtime, ctime, inode = stat_key(path)
        return size, mtime - mtime % tick, ctime - ctime % tick, inode

    monkeypatch.setattr(results_cache, "_key", coarse)
    monkeypatch.setattr(results_cache, "RACY_NS", 2 * tick)
    clean = _no_warnings_read(res)
    victim = _rnn_results(res)[0]
    _damage_a_data_page(victim, "page values")  # same size, same inode, at once
    table, warned = _read(res)
    assert [w.split(":")[0] for w in warned] == [f"Ignored res/model=rnn/{victim.name}"]
    assert table.num_rows == clean.num_rows - 2


def test_a_quarantined_and_redone_run_is_reported_once(cli_runner, res, settled, made):
    clean = _no_warnings_read(res)
    victim = _rnn_results(res)[0]
    shutil.copy(victim, "truncated")
    with open("truncated", "r+b") as fh:
        fh.truncate(300)
    os.replace("truncated", victim)
    table, warned = _read(res)
    assert table.num_rows == clean.num_rows - 2 and len(warned) == 1
    shutil.copy(made.parent / "grid.toml", "grid.toml")
    rerun = cli_runner.invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1"])
    assert "Done: 1 ran, 6 skipped (complete)" in rerun.output
    assert len(list((res / ".corrupt").iterdir())) == 1
    after = _no_warnings_read(res)
    assert after.num_rows == clean.num_rows
    assert after.equals(_read_without_cache(res), check_metadata=True)


@pytest.mark.parametrize("damage", [
    lambda raw: b"not a cache",
    lambda raw: raw[: len(raw) // 2],
    lambda raw: raw[:100] + bytes([raw[100] ^ 1]) + raw[101:],  # one bit: the checksum's
    lambda raw: b"",
])
def test_an_unreadable_cache_is_rebuilt(res, settled, opened, damage):
    clean = _no_warnings_read(res)
    cache = res / CACHE
    cache.write_bytes(damage(cache.read_bytes()))
    opened.clear()
    assert _no_warnings_read(res).equals(clean, check_metadata=True)
    assert len(opened) == TINY_GRID_RUNS
    opened.clear()
    assert _no_warnings_read(res).equals(clean, check_metadata=True) and opened == []


def _older_cache(res):
    """The cache as a build of the same version without the ``status`` column would write it."""
    table, cached = results_cache._load(res, results.READ_SCHEMA)
    results_cache._save(res, table.drop_columns("status"), [c.entry for c in cached.values()])


@pytest.mark.parametrize("change", [
    lambda patch, res: patch.setattr(results_cache, "__version__", "9.9.9"),
    lambda patch, res: _older_cache(res),
])
def test_a_cache_of_another_version_or_schema_is_rebuilt(res, settled, opened, monkeypatch, change):
    clean = _no_warnings_read(res)
    change(monkeypatch, res)
    opened.clear()
    assert _no_warnings_read(res).equals(clean, check_metadata=True)
    assert len(opened) == TINY_GRID_RUNS


@pytest.mark.parametrize("blocked", ["read-only", "a file in the way"])
def test_a_cache_that_cannot_be_written_is_not_written(cli_runner, res, monkeypatch, blocked):
    if blocked == "read-only":
        def read_only(path, *args):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        monkeypatch.setattr(_io.os, "open", read_only)
    else:
        (res / ".cache").write_text("someone's notes")
    result = cli_runner.invoke(main, ["report", "res"])
    assert result.exit_code == 0 and result.stderr == "" and "perceptron" in result.stdout
    assert not (res / CACHE).exists()


def test_a_cached_file_this_user_may_not_read_is_a_permission_error(cli_runner, res, settled,
                                                                    monkeypatch):
    assert cli_runner.invoke(main, ["report", "res"]).exit_code == 0
    victim = _rnn_results(res)[0]
    _deny_reading(monkeypatch, victim)
    access = os.access
    monkeypatch.setattr(results_cache.os, "access",
                        lambda path, mode: path != victim and access(path, mode))
    result = cli_runner.invoke(main, ["report", "res"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: Cannot read res/model=rnn/{victim.name}: Permission")


def test_a_killed_writer_s_temp_file_is_removed_later(res, settled):
    _no_warnings_read(res)
    old, live = (res / ".cache" / f".{results_cache.NAME}.{name}.tmp" for name in ("old", "live"))
    old.write_bytes(b"half a cache")
    live.write_bytes(b"being written")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    _rnn_results(res)[0].unlink()  # so that the cache is written again
    _no_warnings_read(res)
    assert not old.exists() and live.exists()


def test_two_readers_at_once_each_get_every_result_and_leave_a_whole_cache(res, settled, opened):
    clean = _no_warnings_read(res)
    shutil.rmtree(res / ".cache")
    with ThreadPoolExecutor(2) as pool:
        tables = list(pool.map(lambda _: results.read(res), range(2)))
    assert all(table.equals(clean, check_metadata=True) for table in tables)
    opened.clear()
    assert _no_warnings_read(res).equals(clean, check_metadata=True) and opened == []
