"""Worker functions that die like a process killed by the OS, for the fault tests.

They live in an importable module so loky and dask workers can unpickle them by reference.
"""

import dataclasses
import hashlib
import os
import signal
import tempfile
from pathlib import Path

from rnnbatch.checkpoints import Checkpoint
from rnnbatch.runner import execute


def dies_on_seed_1(run, dataset, checkpoint=None):
    if run.config.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset, checkpoint)


def died_marker(run, test_process: int) -> Path:
    """Where :func:`dies_once_on_seed_1` notes that it died: unique to the test process (the
    workers' parent) and the run, so workers started before the test find it too."""
    return Path(tempfile.gettempdir()) / f"rnnbatch-test-died-{test_process}-{run.run_id}"


def dies_once_on_seed_1(run, dataset, checkpoint=None):
    """Dies the first time it meets seed 1."""
    marker = died_marker(run, os.getppid())
    if run.config.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset, checkpoint)


KILLED_AFTER_EPOCH = 9  # of 10: killed at 90 %


def checkpoint_marker(path: Path) -> Path:
    """Where the workers below note that they killed the run checkpointed at ``path`` (unique
    to it, so to the test's results directory: the parent may be killed too)."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"rnnbatch-test-checkpointed-{digest}"


@dataclasses.dataclass
class _KilledAfterSaving(Checkpoint):
    """The run's checkpoint, but once the epoch ``KILLED_AFTER_EPOCH`` save is on disk the
    first time, SIGKILL the ``victims`` (pids, this process last)."""

    victims: tuple = ()

    def epoch_done(self, progress):
        super().epoch_done(progress)
        marker = checkpoint_marker(self.path)
        if progress.epoch == KILLED_AFTER_EPOCH and self.path.exists() and not marker.exists():
            marker.write_text("killed once")
            for pid in self.victims:
                os.kill(pid, signal.SIGKILL)


def _killing(checkpoint, victims):
    return checkpoint and _KilledAfterSaving(**vars(checkpoint), victims=victims)


def worker_dies_after_checkpoint(run, dataset, checkpoint):
    """A worker killed (once) right after its run saved the checkpoint of epoch 9."""
    return execute(run, dataset, _killing(checkpoint, (os.getpid(),)))


def everything_dies_after_checkpoint(run, dataset, checkpoint):
    """The rnnbatch process and its worker killed (once) right after the run saved the
    checkpoint of epoch 9, as when the node goes down."""
    return execute(run, dataset, _killing(checkpoint, (os.getppid(), os.getpid())))
