"""Worker functions that die like a process killed by the OS, for the fault tests.

They live in an importable module so loky and dask workers can unpickle them by reference.
"""

import os
import signal
import tempfile
from pathlib import Path

from rnnbatch.runner import execute


def dies_on_seed_1(run, dataset):
    if run.config.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset)


def died_marker(run, test_process: int) -> Path:
    """Where :func:`dies_once_on_seed_1` notes that it died: unique to the test process (the
    workers' parent) and the run, so workers started before the test find it too."""
    return Path(tempfile.gettempdir()) / f"rnnbatch-test-died-{test_process}-{run.run_id}"


def dies_once_on_seed_1(run, dataset):
    """Dies the first time it meets seed 1."""
    marker = died_marker(run, os.getppid())
    if run.config.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset)

