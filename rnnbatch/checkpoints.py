"""Checkpoints: a long run's progress saved between epochs, so that a run killed mid-way (its
worker, the ``rnnbatch`` process, the node) resumes where it was and ends bit for bit as a run
that never stopped.

A checkpoint is ``RESULTS/.checkpoints/<run_id>.npz`` (hidden: nothing that reads results sees
it), an ``.npz`` of the run's parameters (initial and current), optimizer state and curves so
far, with a JSON record of its identity (run id, dataset, settings, rnnbatch version), the
epoch reached and the states of the run's random streams. Its life:

- **saved** by the worker, atomically, at the end of an epoch once ``every`` seconds of training
  have passed since the run (re)started or last saved; never after the last epoch (the result
  is the state), and only where the worker sees the results directory's ``.checkpoints`` (a dask
  worker without the shared file system saves none). One that cannot be written is skipped;
- **read** by the parent, which holds the run's claim, just before it submits the run: a whole
  one of this run goes to the worker, which continues from it; any other (unreadable, another
  run's, other settings) is moved to ``RESULTS/.corrupt`` with a warning and the run starts
  from epoch 1;
- **removed** by the parent once the run's result is written.

The random streams are restored from the run's own saved states: where a run resumes, or in
which process, never changes its numbers.
"""

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import read_array

from . import __version__, results
from ._io import one_line, write_atomic
from .errors import OutputError
from .grid import Run
from .models import FAMILIES
from .settings import run_id_settings
from .train import Progress, fresh

DIR = ".checkpoints"
EVERY_SECONDS = 120.0  # the default cadence: at most about two minutes of a run's work is lost
FORMAT = 1
CURVES = ("train_mse", "test_mse", "seconds")


# what a checkpoint's identity keys are called in a message (the run id has a message of its own)
IDENTITY = {"format": "checkpoint format", "dataset_id": "dataset", "settings": "settings",
            "rnnbatch": "rnnbatch version"}


def identity(run: Run) -> dict:
    """What a checkpoint must record to be ``run``'s (as JSON gives it back)."""
    return json.loads(json.dumps({
        "format": FORMAT, "run_id": run.run_id, "dataset_id": run.dataset_id,
        "settings": run_id_settings(run.config), "rnnbatch": __version__}))


@dataclass
class Checkpoint:
    """One run's checkpoint as its worker gets it: where to save, how often (seconds of
    training; 0: never), and the progress to continue from (None: epoch 1)."""

    path: Path
    every: float
    identity: dict
    saved: Progress | None = None
    unsaved: float = 0.0  # seconds trained since the last save (or the start)

    def epoch_done(self, progress: Progress) -> None:
        """Called after each epoch but the last: save ``progress`` when due."""
        self.unsaved += progress.result.seconds[-1]
        if not self.every or self.unsaved < self.every or not self.path.parent.is_dir():
            return
        try:
            write_atomic(encode(self.identity, progress), self.path)
        except OutputError:
            return  # a full disk: the run goes on, and its result's write will say so
        self.unsaved = 0.0


def encode(identity: dict, progress: Progress) -> bytes:
    """``progress`` as the bytes of a checkpoint file."""
    result = progress.result
    record = {**identity, "epoch": progress.epoch, "resumed": result.resumed,
              "rngs": [rng.bit_generator.state for rng in progress.rngs]}
    moments, steps = progress.state
    buffer = io.BytesIO()
    np.savez(buffer, record=np.array(json.dumps(record)), params=result.params,
             initial=result.initial, moments=moments, steps=steps,
             **{name: np.array(getattr(result, name), dtype=np.float64) for name in CURVES})
    return buffer.getvalue()


def decode(path: Path, run: Run) -> Progress:
    """The progress saved at ``path`` for ``run``, marked as resumed there; ValueError with the
    reason, worded to follow "<path> was", when it is not whole or not this run's."""
    try:
        with zipfile.ZipFile(path) as archive:  # read whole: each member's CRC is checked
            arrays = {name.removesuffix(".npy"): read_array(io.BytesIO(archive.read(name)),
                                                            allow_pickle=False)
                      for name in archive.namelist()}
        record = json.loads(str(arrays.pop("record")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"unreadable ({one_line(exc)})") from None
    if not isinstance(record, dict):
        raise ValueError("missing its record")
    wanted = identity(run)
    if record.get("run_id") != run.run_id:
        raise ValueError(f"not run {run.run_id}'s checkpoint (it names {record.get('run_id')})")
    for key, value in wanted.items():
        if record.get(key) != value:
            raise ValueError(f"not made with run {run.run_id}'s {IDENTITY[key]} "
                             f"({json.dumps(record.get(key))}, not {json.dumps(value)})")
    config, family = run.config, FAMILIES[run.config.model]
    progress = fresh(config, family)  # the streams of the run's own seed, then their states
    epoch = record.get("epoch")
    if not (isinstance(epoch, int) and 1 <= epoch < config.epochs):
        raise ValueError(f"at epoch {epoch}, not one from 1 to {config.epochs - 1} "
                         f"of run {run.run_id}'s {config.epochs}")
    n = progress.result.n_params
    shapes = {"params": (n,), "initial": (n,), "moments": (2, n), "steps": (1,),
              **{name: (epoch,) for name in CURVES}}
    if {name: (a.shape, a.dtype) for name, a in arrays.items()} != \
            {name: (shape, np.dtype(np.float64)) for name, shape in shapes.items()}:
        raise ValueError("holding arrays other than a run of these settings has")
    try:
        for rng, state in zip(progress.rngs, record["rngs"], strict=True):
            rng.bit_generator.state = state
    except (KeyError, TypeError, ValueError):
        raise ValueError("holding random streams that are not the run's") from None
    result = progress.result
    result.params[:], result.initial[:] = arrays["params"], arrays["initial"]
    for mine, saved in zip(progress.state, (arrays["moments"], arrays["steps"])):
        mine[:] = saved
    for name in CURVES:
        setattr(result, name, arrays[name].tolist())
    resumed = record.get("resumed")
    if not (isinstance(resumed, list) and all(isinstance(e, int) for e in resumed)):
        raise ValueError("missing the epochs it was resumed after")
    result.resumed = [*resumed, epoch]
    return progress


class Checkpoints:
    """The parent's side: the checkpoints of runs computed into ``out``, saved every ``every``
    seconds of training (0: none saved; ones already there are still resumed)."""

    def __init__(self, out: Path, every: float = EVERY_SECONDS):
        self.out, self.every = Path(out), every
        self.root = self.out / DIR

    def prepare(self) -> None:
        """Make the folder where workers save (they save only where they see it)."""
        if self.every:
            self.root.mkdir(exist_ok=True)

    def path(self, run: Run) -> Path:
        return self.root / f"{run.run_id}.npz"

    def for_run(self, run: Run) -> Checkpoint | None:
        """``run``'s checkpoint for its worker, its saved progress read and checked (a bad one
        is moved aside with a warning); None for a baseline, fitted in one pass."""
        if not FAMILIES[run.config.model].trainable:
            return None
        path, saved = self.path(run), None
        if path.exists():
            try:
                saved = decode(path, run)
            except ValueError as exc:
                results.quarantine(self.out, path, str(exc), then="will run it from epoch 1")
        # workers may run in other directories (dask): they get an absolute path
        return Checkpoint(path.absolute(), self.every, identity(run), saved)

    def remove(self, run: Run) -> None:
        """Remove ``run``'s checkpoint and any a killed worker left half-written."""
        if not FAMILIES[run.config.model].trainable:
            return  # fitted in one pass: it has none
        path = self.path(run)
        for leftover in (path, *self.root.glob(f".{path.name}.*.tmp")):
            leftover.unlink(missing_ok=True)

    def remove_finished(self, finished: list[Run]) -> None:
        """Remove the checkpoints of ``finished`` runs (a process killed between writing a
        result and removing its checkpoint leaves one)."""
        try:
            names = {entry.name for entry in self.root.iterdir()}
        except OSError:
            return
        for run in finished:
            if self.path(run).name in names:
                self.remove(run)
