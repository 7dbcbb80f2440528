"""Kernels compile once per machine: the parent warms exactly the paths its pending runs take,
and two rnnbatch processes never compile at once (an inter-process lock in numba's cache)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import filelock
import pytest

import rnnbatch
from rnnbatch import runner
from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import _jit
from rnnbatch.settings import TrainConfig

PACKAGE_ROOT = str(Path(rnnbatch.__file__).resolve().parents[1])


@pytest.fixture
def warmed(monkeypatch):
    """warmed(runs) -> the (config, dataset) of each training warm_up does for ``runs``, in a
    process where nothing is warm yet; nothing is trained for real."""
    monkeypatch.setattr(runner, "_WARM", set())
    trained = []
    monkeypatch.setattr(runner, "train", lambda config, dataset: trained.append((config, dataset)))

    def warm(runs):
        trained.clear()
        runner.warm_up(runs)
        return list(trained)
    return warm


def test_warm_up_trains_one_epoch_on_two_series_of_each_path_once(warmed):
    data = make_dataset(DataParams(train=5, test=3))
    runs = [(TrainConfig("naive"), data)]
    runs += [(TrainConfig("dense", layers=(50, 1), lr=lr, seed=seed, epochs=9), data)
             for lr in (0.1, 0.01) for seed in (0, 1)]
    runs += [(TrainConfig("rnn", layers=(1, 6, 1), optimizer=optimizer, batch=batch), data)
             for optimizer in ("sgd", "adam") for batch in (1, 10)]
    runs += [(TrainConfig("rnn", layers=(1, 20, 20, 1), loss=loss), data)
             for loss in ("last", "every")]
    trained = warmed(runs)
    assert [(config.model, config.layers, config.loss) for config, _ in trained] == [
        ("dense", (50, 1), "last"), ("rnn", (1, 6, 1), "last"),
        ("rnn", (1, 20, 20, 1), "last"), ("rnn", (1, 20, 20, 1), "every")]
    assert all(config.epochs == 1 for config, _ in trained)
    assert all(dataset.train.shape == (2, 51) and dataset.test.shape == (1, 51)
               for _, dataset in trained)
    assert warmed(runs) == []  # once per process


def test_warm_up_takes_each_setting_that_can_choose_another_path(warmed):
    data, longer = make_dataset(DataParams(train=5, test=3)), make_dataset(
        DataParams(train=5, test=3, steps=61))
    base = TrainConfig("rnn", layers=(1, 6, 1), loss="every")
    others = [TrainConfig("rnn", layers=(1, 6, 1), loss="every", bptt=5),  # general path
              TrainConfig("rnn", layers=(1, 6, 1), loss="every", activation="relu"),
              TrainConfig("rnn", layers=(1, 6, 1), bidirectional=True),
              TrainConfig("rnn", layers=(1, 9, 1), loss="every")]
    trained = warmed([(base, data), (base, longer)] + [(config, data) for config in others])
    assert len(trained) == 2 + len(others)


def test_a_run_that_cannot_train_does_not_stop_the_warm_up(monkeypatch):
    monkeypatch.setattr(runner, "_WARM", set())
    data = make_dataset(DataParams(train=5, test=3))
    bad = TrainConfig("dense", layers=(10, 1))  # not 50 inputs: the run reports it when it runs
    runner.warm_up([(bad, data)])
    with pytest.raises(ValueError):
        runner.train(bad, data)


# -- two processes --------------------------------------------------------------------------

# A process that warms up a dense run whose "compile" (train) logs its start and end and waits
# for the file GO (when given) in between.
WARMER = """
import os, sys, time
from pathlib import Path
from rnnbatch import runner
from rnnbatch.data import DataParams, make_dataset
from rnnbatch.models import _jit
from rnnbatch.settings import TrainConfig

log, go = Path(sys.argv[1]), sys.argv[2]
print(_jit.CACHE_DIR, flush=True)

def slow_compile(config, dataset):
    with log.open("a") as f:
        f.write(f"start {os.getpid()}\\n")
    while go and not Path(go).exists():
        time.sleep(0.01)
    with log.open("a") as f:
        f.write(f"end {os.getpid()}\\n")

runner.train = slow_compile
runner.warm_up([(TrainConfig("dense", layers=(50, 1)), make_dataset(DataParams(train=5, test=3)))])
"""


def _warmer(tmp_path, go: str = "") -> subprocess.Popen:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": PACKAGE_ROOT}
    return subprocess.Popen([sys.executable, "-c", WARMER, str(tmp_path / "log"), go], env=env,
                            stdout=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    while not path.exists():
        assert process.poll() is None, "the warming process ended"
        time.sleep(0.01)


def test_the_compile_lock_is_held_in_numbas_cache_while_kernels_compile(tmp_path):
    go = tmp_path / "go"
    warming = _warmer(tmp_path, str(go))
    cache_dir = Path(warming.stdout.readline().strip())
    assert cache_dir.is_relative_to(tmp_path / "cache")
    _wait_for(tmp_path / "log", warming)
    lock = filelock.FileLock(cache_dir / "rnnbatch-compile.lock")
    with pytest.raises(filelock.Timeout):
        lock.acquire(timeout=0)
    go.touch()
    assert warming.wait(timeout=120) == 0
    with lock.acquire(timeout=0):  # released
        pass


def test_two_processes_warming_up_together_compile_one_after_the_other(tmp_path):
    go = tmp_path / "go"
    first, second = _warmer(tmp_path, str(go)), _warmer(tmp_path, str(go))
    for process in (first, second):  # both about to warm up
        process.stdout.readline()
    _wait_for(tmp_path / "log", first)  # one compiles; the other waits for the lock
    time.sleep(0.5)  # time for a broken lock to let the other start too (no assertion on it)
    go.touch()
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    (start, a), (end, b), (start2, c), (end2, d) = (
        line.split() for line in (tmp_path / "log").read_text().splitlines())
    assert (start, end, start2, end2) == ("start", "end", "start", "end")
    assert a == b != c == d


def test_without_a_cache_there_is_no_lock(monkeypatch, tmp_path):
    monkeypatch.setattr(_jit, "CACHE_DIR", None)
    with _jit.compile_lock():
        assert not list(tmp_path.rglob("*.lock"))
