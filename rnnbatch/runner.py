"""The batch: expand a grid into runs, fan them out to a pool of workers, write each result as
it lands.

Workers only compute (and save long runs' checkpoints, :mod:`rnnbatch.checkpoints`). The
parent claims each run (:mod:`rnnbatch.claims`) just before it submits it, longest expected
work first (:func:`rnnbatch.planning.longest_first`), with its checkpoint if it has one, writes
its Parquet file atomically when it comes back, removes its checkpoint and releases the claim.
A rerun skips runs whose result file is complete, so a cron job rerun after a crash only fills
the gaps, and resumes the others from their checkpoints. Runs another live process holds are
waited for (their claims may lapse, and are then taken over) unless ``wait=False``; either way
the summary says what is left.
"""

import os
import signal
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path


from . import claims as claimsmod
from . import results
from .backends import Backend, BackendLost
from .checkpoints import EVERY_SECONDS, Checkpoint, Checkpoints
from .errors import InputError, OutputError
from .grid import Run
from .planning import Plan, check_shard, longest_first, materialise, plan, shard_of
from .models import TRAINABLE
from .models._jit import compile_lock
from .train import NET_SETTINGS, train

CLAIMS = ".claims"


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    diverged: int = 0
    failed: list = field(default_factory=list)  # (run, reason)
    left: list = field(default_factory=list)  # runs another live rnnbatch process holds
    lost: list = field(default_factory=list)  # runs not done because the cluster went away
    lost_backend: str | None = None  # the address of the cluster that went away
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every run of the grid (or shard) has a result."""
        return not (self.failed or self.left or self.lost)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: finished runs were kept and claims released."""

    def __init__(self, signum: int, summary: Summary):
        self.signum, self.summary = signum, summary
        super().__init__(f"interrupted by signal {signum}")


# -- execution ---------------------------------------------------------------------------------

def execute(run: Run, dataset, checkpoint: Checkpoint | None = None) -> tuple:
    """Worker side: train one run (from its ``checkpoint``'s saved progress, if any, saving its
    own when due) and encode its table; returns (run, status, Parquet bytes, failure reason).
    Encoding here keeps the parent's share to writing bytes."""
    warm_up([(run.config, dataset)])  # loaded here, outside the timed epochs
    started = time.time()
    try:
        result = train(run.config, dataset, checkpoint)
    except Exception as exc:  # a failing run is reported, it does not stop the batch
        return run, "failed", None, f"{type(exc).__name__}: {exc}"
    table = results.to_table(run, dataset, result, started, time.time())
    return run, result.status, results.encode(table), None


_WARM: set = set()

# What chooses the kernels a run takes, with its series' length: its family, its net, and the
# settings a family dispatches on (rnn: the packed path, the general one or the two-way engine).
# The other settings are values the same kernels take (lr, optimizer, ...) or shape the data.
_PATH = ("model", "layers", "loss", "bptt", *NET_SETTINGS)


def warm_up(runs) -> None:
    """Compile, or load from numba's cache, the kernels that ``runs``, (config, dataset) pairs,
    take: once per process and path, one epoch and the test prediction of a run on two series
    of its dataset, which take the run's own path (the family chooses it from the net, the
    settings and the series' length, all the run's).

    Called in the parent before fan-out, so that workers load compiled code instead of each
    compiling it, and in a worker before its first run, to keep the loading out of the timed
    epochs. Under the compile lock: another process compiling the same kernels finishes first,
    then these load from the cache. A naive-only grid loads no kernels. :func:`train` hands the
    kernels fresh C-contiguous arrays (never joblib's read-only memmaps), so one specialisation
    serves every run and setting.
    """
    todo = {}
    for config, dataset in runs:
        path = (*(getattr(config, name) for name in _PATH), dataset.train.shape[1])
        if config.model in TRAINABLE and path not in _WARM:
            todo.setdefault(path, (config, dataset))
    if not todo:
        return
    with compile_lock():
        for path, (config, dataset) in todo.items():
            two = replace(dataset, train=dataset.train[:2], test=dataset.test[:1])
            try:
                train(replace(config, epochs=1), two)
            except Exception:  # noqa: BLE001 - the run itself reports what stops it
                pass
            _WARM.add(path)


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


def pending(runs: list[Run], out: Path, force: bool) -> tuple[list[Run], list[Run]]:
    """Runs still to do, and those skipped as complete. Corrupt files are moved aside."""
    todo, skipped = [], []
    for run in runs:
        path = results.path_for(out, run)
        if not force:
            try:
                if results.is_complete(path, run.run_id):
                    skipped.append(run)
                    continue
            except ValueError as exc:
                results.quarantine(out, path, str(exc))
        todo.append(run)
    return todo, skipped


def _prepare_output(out: Path, checkpoints: Checkpoints) -> None:
    """Fail early, with one clear line, when results cannot be written under ``out``."""
    try:
        (out / CLAIMS).mkdir(parents=True, exist_ok=True)
        probe = out / CLAIMS / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        checkpoints.prepare()
    except OSError as exc:
        raise OutputError(f"Cannot write results to {out}: {exc.strerror or exc}. "
                          "Choose a writable --out.") from None


def _finished_meanwhile(out: Path, run: Run) -> bool:
    try:
        return results.is_complete(results.path_for(out, run), run.run_id)
    except ValueError:
        return False


class _Batch:
    """The parent's side of one ``run_grid``: claim, submit, land, retry the dead."""

    def __init__(self, out: Path, pool, claims, datasets: dict, summary: Summary, *, worker,
                 retries: int, force: bool, on_result, checkpoints: Checkpoints):
        self.out, self.pool, self.claims, self.datasets = out, pool, claims, datasets
        self.checkpoints = checkpoints
        self.summary, self.worker, self.retries = summary, worker, retries
        self.force, self.on_result = force, on_result
        self.in_flight: dict = {}  # future -> Run

    def start(self, run: Run) -> bool:
        """Claim and submit ``run``; False when another live process holds it."""
        if not self.claims.take(run.run_id):
            return False
        if not self.force and _finished_meanwhile(self.out, run):  # by another process
            self.claims.release(run.run_id)
            self.summary.skipped += 1
            return True
        self.in_flight[self.pool.submit(self.worker, *self._task(run))] = run
        return True

    def _task(self, run: Run) -> tuple:
        """What the worker gets: the run, its dataset and its checkpoint, read now (a worker
        that died under it may have saved a later one)."""
        return run, self.datasets[run.source], self.checkpoints.for_run(run)

    def land(self, run: Run, status: str, encoded: bytes | None, reason: str | None) -> None:
        if encoded is None:
            self.summary.failed.append((run, reason))
        else:
            results.write(self.out, run, encoded)
            self.checkpoints.remove(run)
            self.summary.done += 1
            self.summary.diverged += status == "diverged"
        self.claims.release(run.run_id)
        if self.on_result:
            self.on_result(run, status, self.summary)

    def collect(self, timeout: float) -> list[tuple]:
        """The runs that finish within ``timeout`` seconds, to :meth:`land` (a dead worker's
        are rerun alone and landed here)."""
        finished = []
        for future in self.pool.wait(self.in_flight, timeout):
            if future not in self.in_flight:  # landed with a dead worker's other runs
                continue
            run = self.in_flight.pop(future)
            try:
                landed = future.result()
            except self.pool.died as exc:
                self._after_death(run, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - the cluster may be gone; else the run failed
                self.pool.failure(exc)
                landed = (run, "failed", None, f"{type(exc).__name__}: {exc}")
            finished.append(landed)
        self.pool.check()
        return finished

    def _after_death(self, run: Run, exc: BaseException) -> None:
        """A worker died under ``run`` or beside it: rerun each suspect alone in a fresh
        process, up to ``retries`` more times, so the culprit is named and the rest finish."""
        suspects = [run]
        if self.pool.broken():  # local workers: every run in flight went with the pool
            for future, other in list(self.in_flight.items()):
                self.pool.wait([future], None)
                del self.in_flight[future]
                if future.exception() is None:
                    self.land(*future.result())
                else:
                    suspects.append(other)
        for suspect in suspects:
            self.land(*self._alone(suspect, exc))

    def _alone(self, run: Run, exc: BaseException) -> tuple:
        for _ in range(self.retries + 1):
            try:
                return self.pool.isolated(self.worker, *self._task(run))
            except self.pool.died as died:
                exc = died
        return run, "failed", None, \
            f"worker process died ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"

    def run(self, todo: list[Run], wait: bool, poll: float) -> None:
        """Run ``todo``; runs another process holds are retried every ``poll`` seconds (their
        result may land, or their claim lapse) while ``wait``, else left in the summary."""
        queue, held, recheck = deque(todo), [], time.monotonic() + poll

        def fill():
            slots = self.pool.slots()  # once a fill: for dask it asks the scheduler
            while queue and len(self.in_flight) < slots:
                run = queue.popleft()
                if not self.start(run):
                    held.append(run)

        while queue or self.in_flight or (held and wait):
            fill()
            if self.in_flight:
                finished = self.collect(timeout=poll)
                fill()  # the freed workers start their next runs while this process writes
                for landed in finished:
                    self.land(*landed)
            elif held and not queue and wait:
                time.sleep(max(0.0, recheck - time.monotonic()))
            if held and time.monotonic() >= recheck and (wait or self.in_flight):
                queue.extend(held)
                held.clear()
                recheck = time.monotonic() + poll
        self.summary.left = held

    def unfinished(self, todo: list[Run]) -> list[Run]:
        landed = {run.run_id for run, _ in self.summary.failed}
        return [run for run in todo if run.run_id not in landed
                and not _finished_meanwhile(self.out, run)]


def run_grid(grid: "str | Path | Plan", out: str | Path = "results", n_jobs: int | None = None,
             force: bool = False, on_result=None, backend: Backend | None = None,
             shard: tuple[int, int] | None = None, retries: int = 0, worker=execute,
             on_start=None, lease: float = claimsmod.LEASE_SECONDS, wait: bool = True,
             checkpoint_every: float = EVERY_SECONDS) -> Summary:
    """Run every pending run of ``grid`` (a grid file or its :func:`plan`) into ``out``.

    Everything is validated and the backend reached before the first byte is written.
    ``on_start(n)`` is called with the number of runs in this shard, ``on_result(run, status,
    summary)`` in the parent as each run lands. A worker process that dies takes no other run
    with it: the runs it may have held are rerun one by one in fresh processes, the culprit up
    to ``retries`` more times, then reported failed. ``worker(run, dataset)`` is what each run
    executes (:func:`execute`; tests wrap it). Claims are leases of ``lease`` seconds; runs
    other live processes hold are waited for unless ``wait`` is False. A trainable run saves a
    checkpoint every ``checkpoint_every`` seconds of training (0: never) and resumes from it
    when rerun. Runs start longest expected work first. The summary's
    ``complete`` says whether every run has a result. Raises :class:`Interrupted` on Ctrl-C /
    SIGTERM, after releasing this process's claims and stopping its workers.
    """
    backend = backend or Backend(n_jobs=n_jobs)
    backend.validate()
    check_shard(shard)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"--retries must be an int >= 0. Got {retries}.")
    if not (isinstance(lease, (int, float)) and 1 <= lease <= 86400):
        raise InputError(f"--lease must be a number of seconds from 1 to 86400. Got {lease}.")
    if not (isinstance(checkpoint_every, (int, float)) and 0 <= checkpoint_every <= 86400):
        raise InputError("--checkpoint-every must be a number of seconds from 0 (no checkpoints) "
                         f"to 86400. Got {checkpoint_every}.")
    out = Path(out)
    start = time.perf_counter()
    summary = Summary()
    plan_ = grid if isinstance(grid, Plan) else plan(grid, materialise=False)
    runs = shard_of(plan_.runs, shard)
    by_id = {run.run_id: run for run in runs}
    checkpoints = Checkpoints(out, checkpoint_every)
    claims = claimsmod.Claims(out / CLAIMS, lease,
                              on_takeover=lambda run_id: results.clear_partial(out, by_id[run_id]))
    signum = None
    with _sigterm_as_interrupt():
        try:
            with backend.open() as pool:
                _prepare_output(out, checkpoints)
                materialise(plan_)
                if on_start:
                    on_start(len(runs))
                todo, skipped = pending(runs, out, force)
                summary.skipped = len(skipped)
                checkpoints.remove_finished(skipped)
                todo = longest_first(todo, plan_.datasets)
                pool.cap(len(todo))
                warm_up((run.config, plan_.datasets[run.source]) for run in todo)
                with pool.shared({run.source: plan_.datasets[run.source] for run in todo}) as datasets, \
                        claims.heartbeat():
                    batch = _Batch(out, pool, claims, datasets, summary, worker=worker,
                                   retries=retries, force=force, on_result=on_result,
                                   checkpoints=checkpoints)
                    try:
                        batch.run(todo, wait, poll=min(lease / 4, 5.0))
                    except BackendLost as exc:
                        summary.lost, summary.lost_backend = batch.unfinished(todo), str(exc)
        except KeyboardInterrupt as exc:
            signum = exc.args[0] if exc.args else signal.SIGINT
        finally:
            claims.release_all()
    summary.seconds = time.perf_counter() - start
    if signum is not None:
        raise Interrupted(signum, summary)
    return summary
