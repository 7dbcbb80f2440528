"""Where runs execute: local worker processes (loky, through joblib's memory-mapping executor)
or a dask.distributed cluster. Workers only compute; the parent claims, writes and releases.

The runner submits one run at a time and keeps at most :meth:`Pool.slots` in flight, so it
claims a run only when the run is about to start (joblib's ``Parallel`` dispatches ahead, and
every task dispatched ahead would hold a claim it is not using).

- **Local workers** exit when the ``rnnbatch`` process that started them dies, however it dies
  (each watches its parent), so no orphan keeps computing, holding memory or the caller's
  pipes. Datasets over ``SHARE_BYTES`` reach them as read-only memory maps of one temporary
  copy, ``$TMPDIR/rnnbatch-<pid>-<start>-*``, removed when the run ends, or by the next run
  when its process was killed.
- **A dask scheduler** must answer as one within ``CONNECT_SECONDS``; when it goes away
  mid-grid, :class:`BackendLost` is raised: nothing falls back to computing in this process.
"""

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import cpu_count
from joblib.executor import get_memmapping_executor
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool

from . import _process
from .errors import InputError

SHARE_BYTES = 1 << 20  # larger arrays reach local workers as memory maps
CONNECT_SECONDS = 5.0
IDLE_WORKER_SECONDS = 60  # idle local workers exit after this long
QUIET_LOGS = ("distributed", "distributed.client")  # their levels are set apart in dask's config


class BackendLost(Exception):
    """The cluster went away mid-grid."""


def usable_cpus(environ=os.environ) -> int:
    """CPUs this process may use: its affinity, its cgroup's quota (both via loky) and, in a
    SLURM job, ``SLURM_CPUS_PER_TASK``."""
    n = cpu_count()
    try:
        n = min(n, int(environ["SLURM_CPUS_PER_TASK"]))
    except (KeyError, ValueError):
        pass
    return max(n, 1)


@dataclass(frozen=True)
class Backend:
    """Which pool to run on: ``loky`` with ``n_jobs`` workers (default: :func:`usable_cpus`),
    or ``dask`` at ``scheduler`` (``n_jobs`` caps the runs in flight)."""

    name: str = "loky"
    n_jobs: int | None = None
    scheduler: str | None = None

    def validate(self) -> None:
        if self.name not in ("loky", "dask"):
            raise InputError(f"--backend must be 'loky' or 'dask'. Got {self.name!r}.")
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or self.n_jobs < 1):
            raise InputError(f"--jobs must be an int >= 1. Got {self.n_jobs}.")
        if self.name == "dask" and not self.scheduler:
            raise InputError("--backend dask needs --scheduler tcp://HOST:PORT "
                             "(start one with: dask scheduler).")

    @contextmanager
    def open(self):
        """The pool for the block; its workers are stopped at once if the block fails."""
        if self.name == "dask":
            pool = DaskPool(connect(self.scheduler), self.n_jobs)
        else:
            pool = LocalPool(self.n_jobs or usable_cpus())
        try:
            yield pool
        except BaseException:
            pool.close(kill=True)  # interrupted or failed: stop the workers now
            raise
        pool.close()


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: end this process as soon as ``parent`` is gone (it is then
    re-parented), so a SIGKILLed ``rnnbatch`` leaves no worker behind."""
    def watch():
        while os.getppid() == parent:
            threading.Event().wait(0.5)
        os._exit(0)
    threading.Thread(target=watch, name="rnnbatch-exit-with-parent", daemon=True).start()


class LocalPool:
    """Worker processes on this machine."""

    died = (BrokenProcessPool,)
    _largest = 0  # workers of this process's pool

    def __init__(self, n_jobs: int):
        self.n_jobs = n_jobs
        self._executor = None

    def slots(self) -> int:
        return self.n_jobs

    def cap(self, runs: int) -> None:
        """No more workers than runs to do."""
        self.n_jobs = max(1, min(self.n_jobs, runs))

    def submit(self, fn, *args):
        if self._executor is None:  # a fresh one after a worker died
            # the process's pool only grows: shrinking it would kill warm workers that a later
            # pool of this process then starts again (slots() keeps the runs in flight to n_jobs)
            LocalPool._largest = max(LocalPool._largest, self.n_jobs)
            self._executor = get_memmapping_executor(
                LocalPool._largest, timeout=IDLE_WORKER_SECONDS, initializer=_exit_with_parent,
                initargs=(os.getpid(),), max_nbytes=None)  # memmaps go by name; nothing else is dumped
        return self._executor.submit(fn, *args)

    def broken(self) -> bool:
        """A worker died: every run in flight went with the executor."""
        self._executor = None
        return True

    @staticmethod
    def wait(futures, timeout: float) -> set:
        return concurrent.futures.wait(futures, timeout, concurrent.futures.FIRST_COMPLETED)[0]

    def isolated(self, fn, *args):
        """Run one call alone in a fresh process, so a crash names the run that caused it."""
        with ProcessPoolExecutor(max_workers=1, initializer=_exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            return pool.submit(fn, *args).result()

    def check(self) -> None:
        pass

    def failure(self, exc: Exception) -> None:
        pass  # a local future fails only with its run

    def close(self, kill: bool = False) -> None:
        if self._executor is not None and kill:
            self._executor.shutdown(wait=True, kill_workers=True)

    @contextmanager
    def shared(self, datasets: dict):
        """The datasets as tasks carry them: arrays over SHARE_BYTES as read-only memory maps
        of a temporary copy, so a task carries a file name (given arrays, joblib hashes each
        one for every task: measured 14 ms a task for the course's data). If the copy cannot
        be written the arrays go as they are."""
        remove_dead_copies()
        me = _process.identity()
        try:
            tmp = tempfile.TemporaryDirectory(prefix=f"rnnbatch-{me['pid']}-{me['pid_start']}-",
                                              ignore_cleanup_errors=True)
        except OSError:
            yield datasets
            return
        with tmp:
            try:
                shared = {source: _memory_mapped(dataset, Path(tmp.name) / str(k))
                          for k, (source, dataset) in enumerate(datasets.items())}
            except OSError:
                shared = datasets
            yield shared


def remove_dead_copies() -> None:
    """Remove the dataset copies that killed ``rnnbatch`` processes of this host left."""
    for path in Path(tempfile.gettempdir()).glob("rnnbatch-*-*-*"):
        _, pid, started, _ = path.name.split("-", 3)
        owner = {**_process.identity(), "pid": int(pid) if pid.isdigit() else -1,
                 "pid_start": started}
        if path.is_dir() and _process.is_dead(owner):
            shutil.rmtree(path, ignore_errors=True)


def _memory_mapped(dataset, prefix: Path):
    """``dataset`` with its large arrays replaced by read-only memory maps of copies at
    ``prefix``-train.npy and ``prefix``-test.npy."""
    arrays = {}
    for name in ("train", "test"):
        array = getattr(dataset, name)
        if array.nbytes > SHARE_BYTES:
            path = Path(f"{prefix}-{name}.npy")
            np.save(path, array)
            arrays[name] = np.load(path, mmap_mode="r")
    return dataclasses.replace(dataset, **arrays)


class DaskPool:
    """A dask.distributed cluster; ``n_jobs`` caps the runs in flight (default: its threads).

    Every call to the cluster goes through :meth:`_reaching`: a connection that breaks, or a
    future cancelled with it, is :class:`BackendLost`, reported by the runner in one line;
    distributed's own log of the breakage (tracebacks) is silenced while the pool is open.
    """

    def __init__(self, client, n_jobs: int | None):
        from distributed import KilledWorker
        from distributed.comm import CommClosedError
        self.client, self.n_jobs, self.address = client, n_jobs, client.scheduler.address
        self.died = (KilledWorker,)
        self._lost = (OSError, CommClosedError, concurrent.futures.CancelledError)
        self._logs = {log: log.level for log in map(logging.getLogger, QUIET_LOGS)}
        for log in self._logs:
            log.setLevel(logging.CRITICAL)

    @contextmanager
    def _reaching(self):
        try:
            yield
        except self._lost as exc:
            raise BackendLost(self.address) from exc
        self.check()

    def check(self) -> None:
        """Raise BackendLost unless the client is still connected to its scheduler."""
        if self.client.status != "running":
            raise BackendLost(self.address)

    def failure(self, exc: Exception) -> None:
        """Raise BackendLost when a future failed because the cluster went away (cancelled or
        disconnected: the client may not know yet)."""
        if isinstance(exc, self._lost):
            raise BackendLost(self.address) from exc
        self.check()

    def slots(self) -> int:
        with self._reaching():
            threads = sum(self.client.nthreads().values()) or 1  # tasks wait for a worker to join
        return min(threads, self.n_jobs) if self.n_jobs else threads

    def submit(self, fn, *args):
        with self._reaching():
            return self.client.submit(fn, *args, pure=False)

    def cap(self, runs: int) -> None:
        pass  # the cluster's size is its own

    def broken(self) -> bool:
        return False  # the scheduler moves a dead worker's other tasks elsewhere

    def wait(self, futures, timeout: float) -> set:
        from distributed import wait
        with self._reaching():
            try:
                with self.client.as_current():
                    return wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                return set()

    def isolated(self, fn, *args):
        with self._reaching():
            return self.submit(fn, *args).result()

    def close(self, kill: bool = False) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - a cluster already gone has nothing to close
            pass
        finally:
            for log, level in self._logs.items():
                log.setLevel(level)

    @contextmanager
    def shared(self, datasets: dict):
        """Each dataset sent to the cluster once; tasks carry a reference."""
        with self._reaching():
            scattered = {source: self.client.scatter(dataset, hash=False)
                         for source, dataset in datasets.items()}
        yield scattered


def connect(address: str, timeout: float = CONNECT_SECONDS):
    """A dask.distributed client, once a dask scheduler has answered at ``address`` within
    ``timeout`` seconds (a port that accepts connections but is not one, such as the
    dashboard's, would otherwise hang the client)."""
    try:
        from distributed import Client
        from distributed.core import rpc
    except ImportError:
        raise InputError("--backend dask needs dask.distributed: pip install 'rnnbatch[dask]'.") from None

    async def identity():
        async with rpc(address, timeout=timeout) as scheduler:
            return await scheduler.identity()

    try:
        kind = asyncio.run(asyncio.wait_for(identity(), timeout)).get("type")
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc) or "nothing answered as a dask scheduler"
        raise InputError(f"Cannot reach the dask scheduler at {address} within {timeout:g}s ({reason}). "
                         "Check the address, or start one with: dask scheduler.") from None
    if kind != "Scheduler":
        raise InputError(f"{address} answered, but not as a dask scheduler (it is a {kind}). "
                         "Give the scheduler's address (tcp://HOST:8786 by default).")
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"Cannot reach the dask scheduler at {address} within {timeout:g}s ({exc}). "
                         "Check the address, or start one with: dask scheduler.") from None
