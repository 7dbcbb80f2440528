"""Worker functions that die like a process killed by the OS, for the fault tests.

They live in an importable module so loky and dask workers can unpickle them by reference.
"""

import os
import signal
from pathlib import Path

from rnnbatch.runner import execute


def dies_on_seed_1(run, dataset):
    if run.config.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset)


def dies_once_on_seed_1(run, dataset):
    """Dies the first time it meets seed 1 (a marker file in the data directory remembers)."""
    marker = Path(os.environ["RNNBATCH_TEST_MARKER"])
    if run.config.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(run, dataset)
