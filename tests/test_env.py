"""Hostile environments a cron job, a container or a cluster gives: a read-only install with an
unwritable HOME (numba's kernel cache), and standard output that fails (a closed pipe, a full
disk). The runs finish whatever happens to the logging, and the exit code tells the truth."""

import errno
import fcntl
import os
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import rnnbatch
from rnnbatch import planning, runner
from rnnbatch.cli import main

# Runs that take milliseconds, on the dense kernels (their cold compile is the shortest).
DENSE_GRID = """
[data]
train = 60
test = 20

[[experiment]]
name = "quick"
model = "dense"
layers = [50, 1]
epochs = 2
seeds = 4
"""

PACKAGE_ROOT = str(Path(rnnbatch.__file__).resolve().parents[1])

# Loaded by every Python process of the test (the CLI and its workers), before rnnbatch: makes
# the package's own directory unusable for numba's cache, as a read-only install's is (tests run
# as root, who may write anywhere), and takes TMPDIR as the only temp dir, usable or not.
READ_ONLY_INSTALL = """
import os
import tempfile

from numba.core import caching

for name in ("InTreeCacheLocator", "_InTreeCacheLocator"):  # numba >= 0.61, older
    if hasattr(caching, name):
        getattr(caching, name).from_function = classmethod(lambda cls, py_func, py_file: None)
tempfile.tempdir = os.environ["TMPDIR"]
"""


@pytest.fixture
def read_only_install(tmp_path):
    """run(*args, tmpdir=..., **env) -> CompletedProcess: ``python -m rnnbatch *args`` in tmp_path,
    on a read-only install with HOME under a regular file (so it cannot be created)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(READ_ONLY_INSTALL)
    (tmp_path / "a-file").write_text("")

    def run(*args, tmpdir, **extra_env):
        env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR")}
        env.update(HOME=str(tmp_path / "a-file" / "home"), TMPDIR=str(tmpdir),
                   PYTHONPATH=os.pathsep.join([str(site), PACKAGE_ROOT]), **extra_env)
        return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
    return run


def _decision(run, tmpdir, **env):
    """(kernels cached?, numba's CACHE_DIR) as a fresh rnnbatch process decides them."""
    probe = run("-c", "import numba; from rnnbatch.models import _jit; "
                      "print(_jit.CACHING, numba.config.CACHE_DIR)", tmpdir=tmpdir, **env)
    assert probe.returncode == 0, probe.stderr
    caching, _, cache_dir = probe.stdout.strip().partition(" ")
    return caching == "True", cache_dir


def test_read_only_install_caches_kernels_in_a_private_temp_dir(read_only_install, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    fallback = tmpdir / f"rnnbatch-numba-{os.getuid()}"
    helped = read_only_install("-m", "rnnbatch", "--help", tmpdir=tmpdir)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: ")
    assert _decision(read_only_install, tmpdir) == (True, str(fallback))
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700

    _runs_the_dense_grid(read_only_install, tmp_path, tmpdir)
    assert list(fallback.rglob("*.nbi")) and list(fallback.rglob("*.nbc"))


def _runs_the_dense_grid(read_only_install, tmp_path, tmpdir):
    (tmp_path / "grid.toml").write_text(DENSE_GRID)
    ran = read_only_install("-m", "rnnbatch", "run", "grid.toml", "--out", "res", "--jobs", "2",
                            tmpdir=tmpdir)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert len(list((tmp_path / "res").glob("model=dense/*.parquet"))) == 4


def test_nothing_writable_still_runs_uncached(read_only_install, tmp_path):
    tmpdir = tmp_path / "a-file" / "tmp"  # under a regular file: no temp dir either
    assert _decision(read_only_install, tmpdir) == (False, "")
    _runs_the_dense_grid(read_only_install, tmp_path, tmpdir)


def test_a_numba_cache_dir_the_user_set_is_respected(read_only_install, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    mine = tmp_path / "my-cache"
    assert _decision(read_only_install, tmpdir, NUMBA_CACHE_DIR=str(mine)) == (True, str(mine))
    # unwritable: numba's to report, not ours to replace with the temp dir
    unwritable = str(tmp_path / "a-file" / "cache")
    assert _decision(read_only_install, tmpdir, NUMBA_CACHE_DIR=unwritable) == (False, unwritable)
    assert not (tmpdir / f"rnnbatch-numba-{os.getuid()}").exists()


def test_a_fallback_dir_others_can_write_is_not_used(read_only_install, tmp_path):
    tmpdir = tmp_path / "tmp"
    fallback = tmpdir / f"rnnbatch-numba-{os.getuid()}"
    fallback.mkdir(parents=True)
    fallback.chmod(0o777)  # anyone could plant cache files, which numba would unpickle
    assert _decision(read_only_install, tmpdir) == (False, "")


def test_numba_is_left_alone_where_it_can_cache():
    probe = subprocess.run([sys.executable, "-c", "import numba; from rnnbatch.models import _jit; "
                            "print(_jit.CACHING, repr(numba.config.CACHE_DIR))"],
                           env={**os.environ, "PYTHONPATH": PACKAGE_ROOT}, capture_output=True,
                           text=True, timeout=120)
    assert probe.stdout.split() == ["True", repr(os.environ.get("NUMBA_CACHE_DIR", ""))]


# -- logging never stops the work ---------------------------------------------------------------

def _start(tmp_path, grid: str, stdout, stderr=subprocess.PIPE) -> subprocess.Popen:
    (tmp_path / "grid.toml").write_text(grid)
    return subprocess.Popen([sys.executable, "-m", "rnnbatch", "run", "grid.toml", "--out", "res",
                             "--jobs", "2"], cwd=tmp_path, stdout=stdout, stderr=stderr, text=True,
                            env={**os.environ, "PYTHONPATH": PACKAGE_ROOT})


def _results(tmp_path) -> int:
    return len(list((tmp_path / "res").glob("model=dense/*.parquet")))


def test_a_pipe_closed_after_the_first_line_drops_progress_and_every_run_finishes(tmp_path):
    """As `rnnbatch run grid.toml | head -1`."""
    read_end, write_end = os.pipe()
    # A pipe of one page, and more progress than fits in it after the first line: the CLI must
    # write into the closed pipe, whatever the timing.
    capacity = fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, 4096)
    runs = capacity // 40  # progress lines are longer than 80 bytes
    proc = _start(tmp_path, DENSE_GRID.replace("seeds = 4", f"seeds = {runs}"), stdout=write_end)
    os.close(write_end)
    first = b""
    while not first.endswith(b"\n"):
        first += os.read(read_end, 1)  # one line only: the rest stays in the pipe, unread
    os.close(read_end)
    _, err = proc.communicate(timeout=300)

    assert first.startswith(b"ok ")
    assert proc.returncode == 0, err
    assert err == "Warning: cannot write to standard output (Broken pipe); progress is dropped " \
                  "from here on. The runs go on.\n"
    assert _results(tmp_path) == runs


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_stdout_drops_progress_and_every_run_finishes(tmp_path):
    with open("/dev/full", "w") as full:
        proc = _start(tmp_path, DENSE_GRID, stdout=full)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert err == "Warning: cannot write to standard output (No space left on device); progress " \
                  "is dropped from here on. The runs go on.\n"
    assert _results(tmp_path) == 4


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_no_writable_output_at_all_still_finishes_with_the_runs_exit_code(tmp_path):
    with open("/dev/full", "w") as full:
        proc = _start(tmp_path, DENSE_GRID, stdout=full, stderr=full)
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert _results(tmp_path) == 4


def test_failed_runs_exit_1_even_when_nothing_can_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grid.toml").write_text(DENSE_GRID)
    plan = planning.plan("grid.toml")
    monkeypatch.setattr(runner, "run_grid", lambda *a, **k: runner.Summary(
        done=3, failed=[(plan.runs[0], "worker process died (boom)")]))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(click, "echo", disk_full)
    result = CliRunner(catch_exceptions=False).invoke(main, ["run", "grid.toml", "--out", "res"])
    assert result.exit_code == 1


@pytest.mark.parametrize("command", [["run", "grid.toml", "--dry-run"], ["report", "res"]])
def test_listings_into_a_pipe_closed_early_end_quietly(tmp_path, command):
    """As `rnnbatch run grid.toml --dry-run | head -1` and `rnnbatch report | head -1`."""
    (tmp_path / "grid.toml").write_text(DENSE_GRID.replace("seeds = 4", "seeds = 400"))
    if command[0] == "report":
        assert subprocess.run([sys.executable, "-m", "rnnbatch", "run", "grid.toml", "--out", "res"],
                              cwd=tmp_path, capture_output=True,
                              env={**os.environ, "PYTHONPATH": PACKAGE_ROOT}).returncode == 0
    read_end, write_end = os.pipe()
    fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, 4096)
    os.close(read_end)  # the reader is gone before the first line
    proc = subprocess.run([sys.executable, "-m", "rnnbatch", *command], cwd=tmp_path,
                          stdout=write_end, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": PACKAGE_ROOT})
    os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")
