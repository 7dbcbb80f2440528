"""Faults a cron job or a cluster job meets: kills, signals, dead workers, corrupt files, full
disks, overlapping runs, shards and a real dask cluster. Nothing finished may be lost,
duplicated or corrupted."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from click.testing import CliRunner

from rnnbatch import backends, planning, runner
from rnnbatch.cli import main

from . import faulty

# Runs long enough (about a second each) to be caught mid-grid.
SLOW_GRID = """
[data]
train = 1500
test = 50

[[experiment]]
name = "wide"
model = "rnn"
layers = [1, 20, 20, 1]
epochs = 4
seeds = 6
"""

QUICK_GRID = """
[data]
train = 60
test = 20

[[experiment]]
name = "quick"
model = "rnn"
layers = [1, 3, 1]
epochs = 2
seeds = 4
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_grid(directory: Path, text: str, name: str = "grid.toml") -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def table(out):
    """Results, minus wall-clock columns, in a canonical order."""
    t = pads.dataset(out, format="parquet", partitioning="hive").to_table()
    return t.drop_columns(["epoch_seconds"]).sort_by([("run_id", "ascending"), ("epoch", "ascending")])


def start(grid: str, out: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnbatch", "run", grid, "--out", out, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_results(out: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list(out.glob("model=*/*.parquet"))) < count:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no results appeared"
        time.sleep(0.05)


def cli(*args):
    return CliRunner().invoke(main, list(args))


def test_sigkill_mid_grid_then_rerun_equals_an_uninterrupted_run(workdir):
    grid = write_grid(workdir, SLOW_GRID)
    proc = start(grid, "killed", "--jobs", "2")
    wait_for_results(workdir / "killed", 1, proc)
    proc.kill()
    proc.wait()
    assert len(list((workdir / "killed").glob("model=*/*.parquet"))) < 6

    rerun = start(grid, "killed", "--jobs", "2")
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    assert "skipped (complete)" in rerun.stdout.read()
    assert cli("run", grid, "--out", "clean", "--jobs", "2").exit_code == 0

    killed, clean = table(workdir / "killed"), table(workdir / "clean")
    assert killed.equals(clean)
    keys = list(zip(killed["run_id"].to_pylist(), killed["epoch"].to_pylist()))
    assert len(keys) == len(set(keys)) == 6 * 4
    assert not list((workdir / "killed" / ".claims").glob("*.lock"))


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_keeps_finished_runs_releases_claims_and_says_how_to_resume(workdir, signum, code):
    grid = write_grid(workdir, SLOW_GRID)
    proc = start(grid, "res", "--jobs", "1")
    wait_for_results(workdir / "res", 1, proc)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == code
    err = proc.stderr.read()
    assert f"Resume with the same command: rnnbatch run {grid} --out res" in err
    assert "Traceback" not in err
    assert not list((workdir / "res" / ".claims").glob("*.lock"))
    kept = list((workdir / "res").glob("model=*/*.parquet"))
    assert kept and all(runner.results.is_complete(p, p.stem) for p in kept)


def test_dead_worker_fails_only_its_run_and_the_others_finish(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    summary = runner.run_grid(grid, "res", n_jobs=2, worker=faulty.dies_on_seed_1, retries=1)
    assert summary.done == 3
    [(run, reason)] = summary.failed
    assert run.config.seed == 1 and reason.startswith("worker process died (")
    assert not list((workdir / "res" / ".claims").glob("*.lock"))


def test_retries_rerun_a_run_whose_worker_died(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    [victim] = [run for run in planning.plan(grid).runs if run.config.seed == 1]
    marker = faulty.died_marker(victim, os.getpid())
    summary = runner.run_grid(grid, "res", n_jobs=2, worker=faulty.dies_once_on_seed_1, retries=1)
    assert marker.exists()
    marker.unlink()
    assert summary.done == 4 and not summary.failed
    assert table(workdir / "res").equals(table(_clean_run(grid, workdir)))


def _clean_run(grid, workdir):
    runner.run_grid(grid, workdir / "clean", n_jobs=1)
    return workdir / "clean"


def test_failed_runs_exit_1(workdir, monkeypatch):
    grid = write_grid(workdir, QUICK_GRID)
    plan = planning.plan(grid)
    failed = runner.Summary(done=3, failed=[(plan.runs[0], "worker process died (boom)")])
    monkeypatch.setattr(runner, "run_grid", lambda *a, **k: failed)
    result = cli("run", grid, "--out", "res")
    assert result.exit_code == 1
    assert f"Failed: {plan.runs[0].run_id} (quick seed 0): worker process died (boom)" in result.output


def test_corrupt_result_is_moved_aside_and_rerun(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    assert cli("run", grid, "--out", "res", "--jobs", "1").exit_code == 0
    victim = sorted((workdir / "res").glob("model=*/*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])

    result = cli("run", grid, "--out", "res", "--jobs", "1")
    assert result.exit_code == 0
    assert f"Warning: {victim.relative_to(workdir)} was unreadable" in result.output
    assert "Done: 1 ran, 3 skipped (complete)" in result.output
    assert [p.name.split(".")[0] for p in (workdir / "res" / ".corrupt").iterdir()] == [victim.stem]
    assert runner.results.is_complete(victim, victim.stem)


def test_full_disk_is_one_clear_error_and_nothing_half_written(workdir, monkeypatch):
    grid = write_grid(workdir, QUICK_GRID)
    planning.plan(grid)  # the dataset is on disk; the disk fills up at the first result

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rnnbatch._io.os.fsync", full)
    result = cli("run", grid, "--out", "res", "--jobs", "1")
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot write res/model=rnn/")
    assert "No space left on device. Nothing was left half-written." in result.output
    assert not [p for p in (workdir / "res").rglob("*") if p.is_file()]


def test_unwritable_output_is_refused_before_anything_runs(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    (workdir / "a-file").write_text("")
    result = cli("run", grid, "--out", "a-file/res")
    assert result.exit_code == 2
    assert result.output == "Error: Cannot write results to a-file/res: Not a directory. " \
                            "Choose a writable --out.\n"


def test_overlapping_runs_share_the_grid_without_computing_a_run_twice(workdir):
    grid = write_grid(workdir, SLOW_GRID)
    first, second = start(grid, "res", "--jobs", "1"), start(grid, "res", "--jobs", "1")
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    computed = [line.split()[1] for out, _ in outputs for line in out.splitlines()
                if line.startswith("ok ")]
    assert sorted(computed) == sorted(set(computed)) and len(computed) == 6
    assert table(workdir / "res").num_rows == 6 * 4


def test_shards_cover_the_grid_exactly_once(workdir, monkeypatch):
    grid = write_grid(workdir, QUICK_GRID)
    ids = []
    for index in range(3):
        result = cli("run", grid, "--dry-run", "--shard", f"{index}/3")
        ids += [line.split()[0] for line in result.output.splitlines()[:-1]]
    everything = cli("run", grid, "--dry-run").output.splitlines()[:-1]
    assert sorted(ids) == sorted(line.split()[0] for line in everything)
    assert len(set(ids)) == len(ids) == 4

    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    slurm = cli("run", grid, "--dry-run", "--shard", "slurm").output.splitlines()[:-1]
    assert slurm == cli("run", grid, "--dry-run", "--shard", "1/3").output.splitlines()[:-1]
    for index in range(3):
        assert cli("run", grid, "--out", "res", "--shard", f"{index}/3", "--jobs", "1").exit_code == 0
    assert table(workdir / "res").equals(table(_clean_run(grid, workdir)))


@pytest.mark.parametrize("shard,message", [
    ("3/2", "Error: --shard must be I/N with 0 <= I < N. Got 3/2.\n"),
    ("two", "Error: --shard must be I/N (such as 0/4) or 'slurm'. Got 'two'.\n"),
    ("slurm", "Error: --shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT: "
              "run it as a SLURM array task (sbatch --array=0-3).\n"),
])
def test_bad_shard(workdir, monkeypatch, shard, message):
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    grid = write_grid(workdir, QUICK_GRID)
    result = cli("run", grid, "--out", "res", "--shard", shard)
    assert (result.exit_code, result.output) == (2, message)
    assert not (workdir / "res").exists()


def test_unreachable_scheduler_fails_within_seconds(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    began = time.monotonic()
    result = cli("run", grid, "--out", "res", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert time.monotonic() - began < 30
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot reach the dask scheduler at tcp://127.0.0.1:9 ")
    assert not (workdir / "res").exists()


def test_dask_cluster_gives_the_same_tables_as_a_local_run(workdir):
    distributed = pytest.importorskip("distributed")
    grid = write_grid(workdir, QUICK_GRID)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        result = cli("run", grid, "--out", "dask", "--backend", "dask",
                     "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert table(workdir / "dask").equals(table(_clean_run(grid, workdir)))


# -- exit codes tell the truth; claims are leases --------------------------------------------

def _claim_every_run(workdir, grid, host):
    """Claims on every run of ``grid``, as a process of ``host`` left them just now."""
    root = workdir / "res" / runner.CLAIMS
    root.mkdir(parents=True)
    record = {"host": host, "boot": "", "pid": 4242, "pid_start": "1", "token": "dead", "lease": 1}
    for run in planning.plan(grid).runs:
        (root / f"{run.run_id}.lock").write_text(json.dumps(record))


def test_claims_of_a_killed_host_lapse_and_the_rerun_finishes_the_grid(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    _claim_every_run(workdir, grid, "node-that-was-killed")
    result = cli("run", grid, "--out", "res", "--jobs", "1", "--lease", "1")
    assert result.exit_code == 0, result.output
    assert "Done: 4 ran, 0 skipped (complete), 0 diverged, 0 failed in " in result.output
    assert table(workdir / "res").equals(table(_clean_run(grid, workdir)))
    assert not list((workdir / "res" / ".claims").iterdir())


def test_runs_left_to_another_process_exit_3_and_say_how_to_finish(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    _claim_every_run(workdir, grid, "node-7")
    result = cli("run", grid, "--out", "res", "--no-wait")
    assert result.exit_code == 3, result.output
    assert "Done: 0 ran, 0 skipped (complete), 0 diverged, 0 failed, 4 left to another running " \
           "rnnbatch in " in result.stdout
    assert result.stderr == ("Unfinished: 4 runs are held by another running rnnbatch (node-7 pid "
                             f"4242). Wait for it, then check with: rnnbatch run {grid} --out res\n")


def test_claims_are_taken_only_for_runs_about_to_start(workdir, monkeypatch):
    """A run is claimed only when a worker is free to start it: never queued behind busy
    workers, where a kill would strand it. Claims are held while a run computes and while its
    result is written."""
    grid = write_grid(workdir, QUICK_GRID.replace("seeds = 4", "seeds = 8"))
    busy_at_claim = []
    start = runner._Batch.start

    def recording(batch, run):
        busy_at_claim.append((len(batch.in_flight), batch.pool.slots()))
        return start(batch, run)

    monkeypatch.setattr(runner._Batch, "start", recording)
    assert runner.run_grid(grid, "res", n_jobs=2).complete
    assert len(busy_at_claim) == 8 and all(busy < slots for busy, slots in busy_at_claim)
    assert not list((workdir / "res" / ".claims").iterdir())


def test_a_full_disk_while_claiming_is_one_clear_error_and_leaves_nothing(workdir, monkeypatch):
    grid = write_grid(workdir, QUICK_GRID)
    planning.plan(grid)

    def full(fd, mode):
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rnnbatch.claims.os.fdopen", full)
    result = cli("run", grid, "--out", "res", "--jobs", "1")
    assert (result.exit_code, result.output) == (
        2, "Error: Cannot write a claim in res/.claims: No space left on device. Free some space "
           "or choose a writable --out.\n")
    assert not [p for p in (workdir / "res").rglob("*") if p.is_file()]


# -- resources from the environment; nothing outlives its parent ------------------------------

def test_workers_default_to_the_cpus_this_process_may_use(monkeypatch):
    one_cpu = subprocess.run(["taskset", "-c", "0", sys.executable, "-c",
                              "from rnnbatch.backends import usable_cpus; print(usable_cpus())"],
                             capture_output=True, text=True, check=True)
    assert one_cpu.stdout == "1\n"
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert backends.usable_cpus() == 1
    with backends.Backend().open() as pool:
        assert pool.slots() == 1
    with backends.Backend(n_jobs=3).open() as pool:
        pool.cap(2)  # never more workers than runs to do
        assert pool.slots() == 2


MEMMAP_GRID = SLOW_GRID.replace("train = 1500", "train = 2700")  # over SHARE_BYTES: memory-mapped


def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigkill_of_the_parent_stops_its_workers_and_the_rerun_cleans_up(workdir, monkeypatch):
    tmp = workdir / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    grid = write_grid(workdir, MEMMAP_GRID)
    proc = start(grid, "res", "--jobs", "2")
    wait_for_results(workdir / "res", 1, proc)
    workers = _children(proc.pid)
    assert workers
    [copy] = tmp.glob(f"rnnbatch-{proc.pid}-*")
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))
    proc.stdout.read()  # the workers held the pipe: it ends now
    assert copy.exists()

    rerun = start(grid, "res", "--jobs", "2")
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    assert not copy.exists()
    assert table(workdir / "res").num_rows == 6 * 4


# -- dask: a scheduler or nothing ---------------------------------------------------------------

def test_an_address_that_is_not_a_dask_scheduler_fails_within_seconds(workdir):
    grid = write_grid(workdir, QUICK_GRID)
    with socket.socket() as silent:  # accepts connections, never answers (like a dashboard)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        result = cli("run", grid, "--out", "res", "--backend", "dask", "--scheduler", address)
    assert (result.exit_code, result.output) == (
        2, f"Error: Cannot reach the dask scheduler at {address} within 5s (nothing answered as a "
           "dask scheduler). Check the address, or start one with: dask scheduler.\n")
    assert not (workdir / "res").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_dies_mid_grid_exits_3_and_computes_nothing_here(workdir):
    pytest.importorskip("distributed")
    grid = write_grid(workdir, SLOW_GRID)
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = Path(sys.executable).parent / "dask"
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--dashboard-address", ":0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc = start(grid, "res", "--backend", "dask", "--scheduler", address)
        wait_for_results(workdir / "res", 1, proc)
        scheduler.kill()
        out, err = proc.communicate(timeout=120)
    finally:
        for p in (scheduler, worker):
            p.kill()
            p.wait()
    assert proc.returncode == 3, (out, err)
    done = len(list((workdir / "res").glob("model=*/*.parquet")))
    assert done < 6
    assert f"Unfinished: the dask scheduler at {address} went away; {6 - done} runs have no " \
           f"result. Finish them with: rnnbatch run {grid} --out res\n" in err
