"""Checkpoints: a run killed mid-way (its worker, or the rnnbatch process with it) resumes from
its last checkpoint and ends bit for bit as a run that never stopped; a bad checkpoint is set
aside with a warning and the run starts again from epoch 1; nothing that reads results sees
them."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rnnbatch import checkpoints, planning, render, results, runner
from rnnbatch.cli import main
from rnnbatch.models import FAMILIES
from rnnbatch.saved import PARAMS_KEY, RUN_KEY
from rnnbatch.train import fresh, train

from . import faulty

EVERY_EPOCH = 1e-9  # seconds: a checkpoint after every epoch

# every piece of state a run carries between epochs: parameters, Adam's moments and steps,
# the shuffle and noise streams, the epoch (cosine lr); and a gated family
GRID = """
[data]
train = 60
test = 20

[[experiment]]
name = "plain"
model = "rnn"
layers = [1, 3, 1]
epochs = 10

[[experiment]]
name = "everything"
model = "rnn"
layers = [1, 3, 1]
epochs = 10
shuffle = true
noise = 0.05
optimizer = "adam"
lr = 0.005
schedule = "cosine"

[[experiment]]
name = "gru"
model = "gru"
layers = [1, 2, 1]
epochs = 10
optimizer = "momentum"
batch = 4

[[experiment]]
name = "naive"
model = "naive"
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grid.toml").write_text(GRID)
    return tmp_path


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """GRID in a directory of its own, its data made there: for the tests in this process."""
    base = tmp_path_factory.mktemp("checkpoints")
    (base / "grid.toml").write_text(GRID.replace("[data]\n", f'[data]\ndir = "{base / "data"}"\n'))
    return base / "grid.toml"


@pytest.fixture(scope="module")
def clean(grid):
    """The grid run without checkpoints."""
    assert runner.run_grid(grid, grid.parent / "clean", n_jobs=1, checkpoint_every=0).complete
    return grid.parent / "clean"


def run_of(grid, experiment: str):
    [run] = [r for r in planning.plan(grid).runs if r.experiment == experiment]
    return run


class _Killed(Exception):
    pass


@dataclasses.dataclass
class _StopsAfter(checkpoints.Checkpoint):
    """A checkpoint whose run stops (raises) after epoch ``stop``."""

    stop: int = 0

    def epoch_done(self, progress):
        super().epoch_done(progress)
        if progress.epoch == self.stop:
            raise _Killed


def saved_at(grid, run, epoch: int, path: Path, identity=None) -> Path:
    """``run`` of ``grid``: its checkpoint at ``path`` after ``epoch`` epochs (with a made-up
    ``identity``)."""
    data = planning.plan(grid).datasets[run.source]
    path.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(_Killed):
        train(run.config, data, _StopsAfter(path, EVERY_EPOCH, identity or checkpoints.identity(run),
                                            stop=epoch))
    return path


def numbers(out):
    """Every result's rows minus wall-clock seconds, and its initial and final parameters."""
    table = pads.dataset(out, format="parquet", partitioning="hive").to_table()
    rows = table.drop_columns(["epoch_seconds"]).sort_by([("run_id", "ascending"),
                                                          ("epoch", "ascending")])
    params = {p.stem: pq.read_schema(p).metadata.get(PARAMS_KEY) for p in Path(out).glob("model=*/*")}
    return rows, params


def resumed(out) -> dict:
    """Run id -> the epochs it was resumed after, from each result's run record."""
    return {p.stem: json.loads(pq.read_schema(p).metadata[RUN_KEY])["resumed"]
            for p in Path(out).glob("model=*/*.parquet")}


def assert_equal_numbers(out, clean):
    (rows, params), (clean_rows, clean_params) = numbers(out), numbers(clean)
    assert rows.equals(clean_rows)
    assert params == clean_params and len(params) == 4


def trainable_runs(grid="grid.toml"):
    return [run for run in planning.plan(grid).runs if run.config.model != "naive"]


# -- killed mid-way, resumed bit for bit ---------------------------------------------------------

def test_a_worker_killed_at_90_percent_resumes_at_epoch_10_bit_for_bit(workdir, clean):
    markers = [faulty.checkpoint_marker(checkpoints.Checkpoints("res").path(run).absolute())
               for run in trainable_runs()]
    try:
        summary = runner.run_grid("grid.toml", "res", n_jobs=1, retries=1,
                                  worker=faulty.worker_dies_after_checkpoint,
                                  checkpoint_every=EVERY_EPOCH)
        assert all(marker.exists() for marker in markers)  # each run was killed once
    finally:
        for marker in markers:
            marker.unlink(missing_ok=True)
    assert summary.done == 4 and summary.complete
    assert_equal_numbers("res", clean)
    assert sorted(resumed("res").values()) == [[], [9], [9], [9]]  # naive: fitted in one pass
    assert not list((workdir / "res" / checkpoints.DIR).iterdir())  # removed as results landed


def test_the_rnnbatch_process_killed_with_its_worker_resumes_on_rerun(workdir, clean):
    markers = {run.run_id: faulty.checkpoint_marker(checkpoints.Checkpoints("res").path(run).absolute())
               for run in trainable_runs()}
    script = ("from rnnbatch import runner; from tests import faulty; "
              "runner.run_grid('grid.toml', 'res', n_jobs=1, checkpoint_every=1e-9, "
              "worker=faulty.everything_dies_after_checkpoint)")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    try:
        killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, timeout=300)
        assert killed.returncode == -9, killed.stderr
        [victim] = [run_id for run_id, marker in markers.items() if marker.exists()]
    finally:
        for marker in markers.values():
            marker.unlink(missing_ok=True)
    saved = workdir / "res" / checkpoints.DIR / f"{victim}.npz"
    assert saved.exists() and not (workdir / "res" / "model=rnn" / f"{victim}.parquet").exists()

    summary = runner.run_grid("grid.toml", "res", n_jobs=1)  # its claim's holder is dead: taken
    assert summary.complete
    assert_equal_numbers("res", clean)
    assert resumed("res")[victim] == [9]
    assert not saved.exists()


def test_resuming_twice_gives_the_same_numbers(grid):
    run = run_of(grid, "everything")
    data = planning.plan(grid).datasets[run.source]
    whole = train(run.config, data)
    path = grid.parent / "twice.npz"
    saved_at(grid, run, 3, path)
    with pytest.raises(_Killed):
        train(run.config, data, _StopsAfter(path, EVERY_EPOCH, checkpoints.identity(run),
                                            checkpoints.decode(path, run), stop=7))
    again = train(run.config, data, checkpoints.Checkpoint(
        path, EVERY_EPOCH, checkpoints.identity(run), checkpoints.decode(path, run)))
    assert again.resumed == [3, 7]
    assert (again.train_mse, again.test_mse) == (whole.train_mse, whole.test_mse)
    assert np.array_equal(again.params, whole.params) and np.array_equal(again.initial, whole.initial)


# -- the cadence --------------------------------------------------------------------------------

def test_a_checkpoint_is_saved_once_every_seconds_of_training_have_passed(grid, tmp_path):
    run = run_of(grid, "plain")
    progress = fresh(run.config, FAMILIES[run.config.model])
    checkpoint = checkpoints.Checkpoint(tmp_path / "c.npz", 1.0, checkpoints.identity(run))
    saved = []
    for epoch in range(1, 8):
        progress.result.train_mse.append(0.1)
        progress.result.test_mse.append(0.1)
        progress.result.seconds.append(0.4)
        checkpoint.epoch_done(progress)
        if checkpoint.path.exists():
            saved.append(checkpoints.decode(checkpoint.path, run).result.resumed[-1])
            checkpoint.path.unlink()
    assert saved == [3, 6]  # 1.2 s, then 1.2 s more


def test_no_checkpoint_with_every_0_nor_where_the_worker_does_not_see_the_results(grid, tmp_path):
    run = run_of(grid, "plain")
    data = planning.plan(grid).datasets[run.source]
    for every, folder in ((0, tmp_path), (EVERY_EPOCH, tmp_path / "elsewhere")):
        train(run.config, data, _StopsAfter(folder / "c.npz", every, checkpoints.identity(run),
                                            stop=99))
        assert not (folder / "c.npz").exists()


def test_checkpoint_every_0_makes_no_folder_and_a_bad_value_is_one_line(workdir):
    cli = CliRunner()
    result = cli.invoke(main, ["run", "grid.toml", "--out", "res", "--checkpoint-every", "-1"])
    assert (result.exit_code, result.output) == (
        2, "Error: --checkpoint-every must be a number of seconds from 0 (no checkpoints) to "
           "86400. Got -1.0.\n")
    result = cli.invoke(main, ["run", "grid.toml", "--out", "res", "--checkpoint-every", "0"])
    assert result.exit_code == 0, result.output
    assert not (workdir / "res" / checkpoints.DIR).exists()


# -- bad checkpoints are set aside ----------------------------------------------------------------

@pytest.mark.parametrize("spoil,reason", [
    (lambda b, other: b[: len(b) // 2], "unreadable (File is not a zip file)"),
    (lambda b, other: b"not a checkpoint", "unreadable (File is not a zip file)"),
    (lambda b, other: b[:200] + bytes([b[200] ^ 1]) + b[201:], "unreadable (Bad CRC-32 for file"),
    (lambda b, other: other, "not run {run}'s checkpoint (it names {other})"),
])
def test_a_bad_checkpoint_is_refused_with_its_reason(grid, tmp_path, spoil, reason):
    run, other = run_of(grid, "plain"), run_of(grid, "everything")
    mine = saved_at(grid, run, 4, tmp_path / "mine.npz").read_bytes()
    theirs = saved_at(grid, other, 4, tmp_path / "theirs.npz").read_bytes()
    bad = tmp_path / f"{run.run_id}.npz"
    bad.write_bytes(spoil(mine, theirs))
    with pytest.raises(ValueError) as refused:
        checkpoints.decode(bad, run)
    assert str(refused.value).startswith(reason.format(run=run.run_id, other=other.run_id))


def test_a_checkpoint_made_with_other_settings_or_another_version_is_refused(grid, tmp_path):
    run = run_of(grid, "plain")
    for key, value, says in (
            ("settings", {"model": "rnn", "layers": [1, 3, 1], "epochs": 11},
             'not made with run {run}\'s settings ({{"model": "rnn", "layers": [1, 3, 1], '
             '"epochs": 11}}, not '),
            ("rnnbatch", "0.0.1", 'not made with run {run}\'s rnnbatch version ("0.0.1", not ')):
        identity = {**checkpoints.identity(run), key: value}
        path = saved_at(grid, run, 4, tmp_path / f"{key}.npz", identity)
        with pytest.raises(ValueError, match="^" + re.escape(says.format(run=run.run_id))):
            checkpoints.decode(path, run)


def test_a_corrupt_checkpoint_is_moved_aside_with_one_warning_and_the_run_starts_over(
        workdir, clean):
    run = run_of("grid.toml", "plain")
    path = workdir / "res" / checkpoints.DIR / f"{run.run_id}.npz"
    saved_at("grid.toml", run, 6, path)
    path.write_bytes(path.read_bytes()[:-10])
    result = CliRunner().invoke(main, ["run", "grid.toml", "--out", "res", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    [moved] = (workdir / "res" / ".corrupt").iterdir()
    assert warning == (f"Warning: res/.checkpoints/{run.run_id}.npz was unreadable (File is not a "
                       f"zip file); moved it to res/.corrupt/{moved.name} and will run it from "
                       "epoch 1.")
    assert moved.name.startswith(run.run_id) and moved.name.endswith(".npz.corrupt")
    assert_equal_numbers("res", clean)
    assert resumed("res")[run.run_id] == []


# -- nothing that reads results sees them; they go when the result lands -------------------------

def test_a_checkpoint_left_beside_a_finished_run_is_removed_on_rerun(workdir):
    assert runner.run_grid("grid.toml", "res", n_jobs=1).complete
    run = trainable_runs()[0]
    left = checkpoints.Checkpoints("res").path(run)
    saved_at("grid.toml", run, 4, left)
    assert runner.run_grid("grid.toml", "res", n_jobs=1).skipped == 4
    assert not left.exists()


def test_results_and_report_do_not_see_checkpoints(workdir):
    assert runner.run_grid("grid.toml", "res", n_jobs=1).complete
    for run in trainable_runs():
        saved_at("grid.toml", run, 4, checkpoints.Checkpoints("res").path(run))
        checkpoints.Checkpoints("res").path(run).with_name(f".{run.run_id}.npz.x.tmp").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert results.read("res").num_rows == 3 * 10 + 1
        assert "naive" in render.report("res", "table")


def test_baselines_have_no_checkpoint(workdir):
    [naive] = [run for run in planning.plan("grid.toml").runs if run.config.model == "naive"]
    assert checkpoints.Checkpoints("res").for_run(naive) is None
