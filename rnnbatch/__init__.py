"""rnnbatch: reproducible batch evaluation of the RNN course's models on its time-series task."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rnnbatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


def load_model(path):
    """The final model of the run whose result file is ``path`` (see :mod:`rnnbatch.saved`)."""
    from .saved import load_model as load  # kernels load on first use, not on import

    return load(path)
