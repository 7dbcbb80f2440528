"""The batch: expand a grid into runs, fan them out with joblib, write each result as it lands.

Workers only compute; the parent claims each run before dispatching it, writes its Parquet
file atomically when it comes back, and releases the claim. A rerun skips runs whose result
file is complete, so a cron job rerun after a crash only fills the gaps.
"""

import dataclasses
import os
import signal
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool

from . import data as datamod
from . import grid as gridmod
from . import results
from .errors import InputError, OutputError
from .grid import DataSource, Run
from .models import TRAINABLE
from .train import train

CLAIMS = ".claims"
STALE_CLAIM_SECONDS = 24 * 3600
SHARE_BYTES = 1 << 20  # joblib's max_nbytes: larger arrays it would memory-map for workers


@dataclass
class Plan:
    runs: list[Run]
    datasets: dict  # DataSource -> Dataset
    unsaved: set = field(default_factory=set)  # generated sources made in memory only


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    diverged: int = 0
    failed: list = field(default_factory=list)  # (run, reason)
    busy: int = 0  # claimed by another live rnnbatch process
    seconds: float = 0.0


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: finished runs were kept and claims released."""

    def __init__(self, signum: int, summary: Summary):
        self.signum, self.summary = signum, summary
        super().__init__(f"interrupted by signal {signum}")


# -- planning ----------------------------------------------------------------------------------

def _dataset(source: DataSource, materialise: bool):
    """The source's dataset and whether it is on disk."""
    if source.path is not None:
        return datamod.load(source.path), True
    if materialise:
        return datamod.generate(source.location, source.params)[0], True
    return datamod.load_or_make(source.location, source.params)


def materialise(plan_: Plan) -> None:
    """Write the plan's datasets that exist only in memory, as ``rnnbatch generate`` would."""
    for source in sorted(plan_.unsaved, key=lambda s: str(s.location)):
        datamod.generate(source.location, source.params, made=plan_.datasets[source])
    plan_.unsaved.clear()


def plan(grid_path: str | Path, materialise: bool = True) -> Plan:
    """Validate the grid, get its datasets (writing missing ones unless ``materialise`` is
    False: then they are made in memory, and :func:`materialise` writes them) and list runs."""
    sources, configs = gridmod.read(grid_path)
    datasets, unsaved = {}, set()
    for source in sources:
        datasets[source], on_disk = _dataset(source, materialise)
        if not on_disk:
            unsaved.add(source)
    runs, seen = [], set()
    for source, dataset in datasets.items():
        gridmod.check_fits(configs, dataset.train.shape[1], str(grid_path))
        for experiment, config in configs:
            run = Run(experiment, config, source, dataset.dataset_id)
            if run.run_id not in seen:  # the same settings under two names run once
                seen.add(run.run_id)
                runs.append(run)
    return Plan(runs, datasets, unsaved)


# -- claims: one live process computes a run -------------------------------------------------

def _claim_path(out: Path, run: Run) -> Path:
    return out / CLAIMS / f"{run.run_id}.lock"


def _holder_alive(text: str) -> bool:
    try:
        host, pid, started = text.split()
        pid, started = int(pid), float(started)
    except ValueError:
        return False  # unreadable claim: its writer died mid-write
    if time.time() - started > STALE_CLAIM_SECONDS:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's process
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def claim(out: Path, run: Run) -> bool:
    """Take the run's lock file (host, pid, start time); a dead or stale holder's is taken over."""
    path = _claim_path(out, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n".encode()
    took_over = False
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = path.read_text()
            except FileNotFoundError:
                continue
            if _holder_alive(holder):
                return False
            # take over a dead holder's claim: rename is atomic, so only one taker wins
            stale = path.with_suffix(f".stale.{os.getpid()}")
            try:
                os.rename(path, stale)
                stale.unlink()
                took_over = True
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        if took_over:  # the dead holder may have left a half-written temp file
            results.clear_partial(out, run)
        return True
    return False


def release(out: Path, run: Run) -> None:
    _claim_path(out, run).unlink(missing_ok=True)


# -- execution ---------------------------------------------------------------------------------

def execute(run: Run, dataset) -> tuple:
    """Worker side: train one run and encode its table; returns (run, status, Parquet bytes,
    failure reason). Encoding here keeps the parent's share to writing bytes."""
    warm_up([run.config.model], like=dataset.train)  # loaded here, outside the timed epochs
    started = time.time()
    try:
        result = train(run.config, dataset)
    except Exception as exc:  # a failing run is reported, it does not stop the batch
        return run, "failed", None, f"{type(exc).__name__}: {exc}"
    table = results.to_table(run, dataset, result, started, time.time())
    return run, result.status, results.encode(table), None


_WARM: set = set()
_WARM_UP_LAYERS = {"rnn": (1, 1), "dense": (2, 1)}


def warm_up(models=tuple(TRAINABLE), like: np.ndarray | None = None) -> None:
    """Compile (or load from numba's cache) the kernels of ``models`` once per process.

    Called in the parent before fan-out for both kinds of data array a worker may get
    (joblib hands workers read-only memmaps of large arrays), so workers load compiled code
    instead of racing to compile and write the same cache files. A worker passes its data
    as ``like`` and loads only that specialisation; a naive-only grid loads no kernels.
    """
    if like is None:
        writable, readonly = np.zeros((2, 3)), np.zeros((2, 3))
        readonly.flags.writeable = False
        samples = (writable, readonly)
    else:
        samples = (like[:2],)
    order = np.arange(2, dtype=np.int64)
    for model in sorted(set(models) & set(TRAINABLE)):
        family, layers = TRAINABLE[model], _WARM_UP_LAYERS[model]
        sizes = np.asarray(layers, dtype=np.int64)
        for X in samples:
            key = (model, X.flags.writeable)
            if key in _WARM:
                continue
            params = np.zeros(family.n_params(layers))
            family._train_epoch(params, sizes, X, order, 0.1, 0.0)
            family._predict(params, sizes, X)
            _WARM.add(key)


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (cluster preemption, kill) unwinds like Ctrl-C so claims are released."""
    def handler(signum, frame):
        raise KeyboardInterrupt(signum)
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def pending(runs: list[Run], out: Path, force: bool) -> tuple[list[Run], int]:
    """Runs still to do, and how many were skipped as complete. Corrupt files are moved aside."""
    todo, skipped = [], 0
    for run in runs:
        path = results.path_for(out, run)
        if not force:
            try:
                if results.is_complete(path, run.run_id):
                    skipped += 1
                    continue
            except ValueError as exc:
                results.quarantine(out, path, str(exc))
        todo.append(run)
    return todo, skipped


@dataclass(frozen=True)
class Backend:
    """Where runs execute: local worker processes (``loky``) or a dask.distributed cluster
    (``dask``, at ``scheduler``) through joblib's dask backend. Workers only compute."""

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
    def active(self):
        """Make this backend joblib's for the block; yields the dask client, if any."""
        if self.name == "loky":
            n_jobs = self.n_jobs or os.cpu_count() or 1
            with parallel_config(backend="loky", n_jobs=n_jobs, inner_max_num_threads=1):
                yield None
            return
        client = connect(self.scheduler)
        try:
            with parallel_config(backend="dask", n_jobs=self.n_jobs or -1, client=client):
                yield client
        finally:
            client.close()

    @contextmanager
    def shared(self, datasets: dict):
        """The datasets as tasks carry them. Local workers get arrays over SHARE_BYTES as
        read-only memory maps of a temporary copy, so a task carries a file name: given the
        arrays, joblib would hash each one for every task before memory-mapping it (measured:
        14 ms a task for the course's data, a tenth of a 5-epoch [1, 6, 1] run, spent in the
        parent one task after another). If the copy cannot be written the arrays go as they
        are. A dask cluster gets the arrays."""
        if self.name != "loky":
            yield datasets
            return
        try:
            tmp = tempfile.TemporaryDirectory(prefix="rnnbatch-", ignore_cleanup_errors=True)
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

    def died(self) -> tuple:
        """Exceptions that mean a worker process died under a run (killed, out of memory)."""
        if self.name == "dask":
            from distributed import KilledWorker
            return (BrokenProcessPool, KilledWorker)
        return (BrokenProcessPool,)

    def isolated(self, client, worker, run: Run, dataset):
        """Run one suspect alone in a process of its own, so a crash names the run that caused it."""
        if client is not None:
            return client.submit(worker, run, dataset, pure=False).result()
        with ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(worker, run, dataset).result()


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


def connect(address: str, timeout: float = 5.0):
    """A dask.distributed client, failing within ``timeout`` seconds when nobody answers."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--backend dask needs dask.distributed: pip install 'rnnbatch[dask]'.") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"Cannot reach the dask scheduler at {address} within {timeout:g}s ({exc}). "
                         "Check the address, or start one with: dask scheduler.") from None


def _check_shard(shard: tuple[int, int] | None) -> None:
    if shard is None:
        return
    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and count >= 1 and 0 <= index < count):
        raise InputError(f"--shard must be I/N with 0 <= I < N. Got {index}/{count}.")


def shard_of(runs: list[Run], shard: tuple[int, int] | None) -> list[Run]:
    """Shard I of N (I from 0) takes every N-th run in run-id order: N shards cover each run once."""
    if shard is None:
        return runs
    _check_shard(shard)
    index, count = shard
    chosen = {r.run_id for r in sorted(runs, key=lambda r: r.run_id)[index::count]}
    return [r for r in runs if r.run_id in chosen]


def parse_shard(text: str | None, environ=os.environ) -> tuple[int, int] | None:
    """``"I/N"`` (I from 0), or ``"slurm"`` for this SLURM array task's place in its array."""
    if text is None:
        return None
    if text == "slurm":
        try:
            task = int(environ["SLURM_ARRAY_TASK_ID"]) - int(environ.get("SLURM_ARRAY_TASK_MIN", 0))
            return task, int(environ["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise InputError("--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT: "
                             "run it as a SLURM array task (sbatch --array=0-3).") from None
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit()):
        raise InputError(f"--shard must be I/N (such as 0/4) or 'slurm'. Got {text!r}.")
    return int(index), int(count)


def _prepare_output(out: Path) -> None:
    """Fail early, with one clear line, when results cannot be written under ``out``."""
    try:
        (out / CLAIMS).mkdir(parents=True, exist_ok=True)
        probe = out / CLAIMS / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"Cannot write results to {out}: {exc.strerror or exc}. "
                          "Choose a writable --out.") from None


def _finished_meanwhile(out: Path, run: Run) -> bool:
    try:
        return results.is_complete(results.path_for(out, run), run.run_id)
    except ValueError:
        return False


def run_grid(grid: "str | Path | Plan", out: str | Path = "results", n_jobs: int | None = None,
             force: bool = False, on_result=None, backend: Backend | None = None,
             shard: tuple[int, int] | None = None, retries: int = 0, worker=execute,
             on_start=None) -> Summary:
    """Run every pending run of ``grid`` (a grid file or its :func:`plan`) into ``out``.

    The backend is reached first, so an unreachable scheduler writes nothing. ``on_start(n)``
    is called with the number of runs in this shard, ``on_result(run, status, summary)`` in
    the parent as each run lands. A worker process that dies takes no other run with it: the
    runs it may have held are rerun one by one in fresh processes, the culprit up to
    ``retries`` more times, then reported failed. ``worker(run, dataset)`` is what each run
    executes (:func:`execute`; tests wrap it). Raises :class:`Interrupted` on Ctrl-C /
    SIGTERM, after releasing this process's claims.
    """
    backend = backend or Backend(n_jobs=n_jobs)
    backend.validate()
    _check_shard(shard)
    if retries < 0:
        raise InputError(f"--retries must be an int >= 0. Got {retries}.")
    out = Path(out)
    start = time.perf_counter()
    summary = Summary()
    claimed: dict = {}  # run_id -> Run, claims this process holds
    in_flight: dict = {}  # run_id -> Run, dispatched and not yet back

    def land(run, status, encoded, reason):
        if encoded is None:
            summary.failed.append((run, reason))
        else:
            results.write(out, run, encoded)
            summary.done += 1
            summary.diverged += status == "diverged"
        release(out, run)
        claimed.pop(run.run_id, None)
        in_flight.pop(run.run_id, None)
        if on_result:
            on_result(run, status, summary)

    def tasks(queue, datasets):
        for run in queue:
            if not claim(out, run):
                summary.busy += 1
                continue
            if not force and _finished_meanwhile(out, run):  # by another process, since we planned
                release(out, run)
                summary.skipped += 1
                continue
            claimed[run.run_id] = run
            in_flight[run.run_id] = run
            yield delayed(worker)(run, datasets[run.source])

    signum = None
    with _sigterm_as_interrupt():
        try:
            with backend.active() as client:
                # everything is validated before the first byte is written
                plan_ = grid if isinstance(grid, Plan) else plan(grid, materialise=False)
                runs = shard_of(plan_.runs, shard)
                _prepare_output(out)
                materialise(plan_)
                if on_start:
                    on_start(len(runs))
                todo, summary.skipped = pending(runs, out, force)
                warm_up({run.config.model for run in todo})
                queue = iter(todo)
                with backend.shared({run.source: plan_.datasets[run.source] for run in todo}) as datasets:
                    while True:
                        try:
                            for landed in Parallel(return_as="generator_unordered")(
                                    tasks(queue, datasets)):
                                land(*landed)
                            break
                        except backend.died() as exc:
                            suspects = list(in_flight.values())
                            in_flight.clear()
                            for run in suspects:
                                land(*_retry_alone(backend, client, worker, run,
                                                   datasets[run.source], retries, exc))
        except KeyboardInterrupt as exc:
            signum = exc.args[0] if exc.args else signal.SIGINT
        finally:
            for run in claimed.values():
                release(out, run)
    summary.seconds = time.perf_counter() - start
    if signum is not None:
        raise Interrupted(signum, summary)
    return summary


def _retry_alone(backend, client, worker, run, dataset, retries, first_exc):
    """Rerun a run that was in flight when a worker died, alone; (run, table, reason)."""
    exc = first_exc
    for _ in range(retries + 1):
        try:
            return backend.isolated(client, worker, run, dataset)
        except backend.died() as died:
            exc = died
    return run, "failed", None, \
        f"worker process died ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
