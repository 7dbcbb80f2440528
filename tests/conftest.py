"""Shared fixtures for the fast CLI / grid / data / report tests: tiny data, tiny grids."""

import json
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numba import njit

# Small enough that a run takes milliseconds once the kernels are compiled.
TINY_DATA = "[data]\ntrain = 60\ntest = 20\n"

TINY_GRID = TINY_DATA + """
[defaults]
epochs = 2
seeds = 2

[[experiment]]
name = "naive"
model = "naive"

[[experiment]]
name = "perceptron"
model = "dense"
layers = [50, 1]
lr = 0.1

[[experiment]]
name = "rnn"
model = "rnn"
layers = [[1, 1], [1, 3, 1]]
"""
TINY_GRID_RUNS = 1 + 2 + 2 * 2  # naive runs once: it has no seed


REPORT_GRID = TINY_GRID.replace("epochs = 2", "epochs = 3").replace("seeds = 2", "seeds = 3")


@pytest.fixture(scope="session")
def res(tmp_path_factory):
    """A results directory from one real tiny grid, shared by the report and plot tests."""
    return str(run_grid_in(tmp_path_factory.mktemp("report"), REPORT_GRID, 1 + 3 + 2 * 3))


@pytest.fixture
def cli_runner():
    return CliRunner(catch_exceptions=False)


@pytest.fixture
def fs(cli_runner, tmp_path):
    """An isolated working directory (the sqlite-utils way); yields its Path."""
    with warnings.catch_warnings():  # deprecated in click 8.5, still the documented idiom
        warnings.simplefilter("ignore", DeprecationWarning)
        context = cli_runner.isolated_filesystem(temp_dir=tmp_path)
        directory = context.__enter__()
    try:
        yield Path(directory)
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def write_grid():
    """write_grid(text, name="grid.toml") -> the file name, in the current directory."""
    def write(text: str, name: str = "grid.toml") -> str:
        Path(name).write_text(textwrap.dedent(text), encoding="utf-8")
        return name
    return write


def run_grid_in(base: Path, text: str, runs: int) -> Path:
    """Run the grid ``text`` (its data made under ``base``) into ``base/res``; expects ``runs``
    runs, all finished."""
    from rnnbatch import runner

    grid = base / "grid.toml"
    grid.write_text(text.replace("[data]\n", f"[data]\ndir = {json.dumps(str(base / 'data'))}\n"))
    summary = runner.run_grid(grid, base / "res", n_jobs=1)
    assert summary.done == runs and summary.complete
    return base / "res"


def assert_one_error_line(result, message: str | None = None, starts: str | None = None,
                          exit_code: int = 2) -> str:
    """Exit ``exit_code``, exactly one line on stderr starting ``Error: ``, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("Error: "), line
    if message is not None:
        assert line == f"Error: {message}"
    if starts is not None:
        assert line.startswith(f"Error: {starts}"), line
    return line


def elementwise(scalar):
    """A numba loop applying the kernels' inline ``scalar`` function (tanh, sigmoid) to each
    element of a 1-D array, as the kernels call it."""
    @njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = scalar(x[i])
        return out
    return apply


def central_differences(loss, params, indices, eps=1e-6):
    """(loss(θ + eps e_k) - loss(θ - eps e_k)) / (2 eps) for each k of ``indices``."""
    numeric = []
    for k in indices:
        up, down = params.copy(), params.copy()
        up[k] += eps
        down[k] -= eps
        numeric.append((loss(up) - loss(down)) / (2 * eps))
    return np.array(numeric)


def split_series(series, loss="last"):
    """Inputs and targets of series rows: the last value, or every next value (many-to-many)."""
    return series[:, :-1], (series[:, -1:] if loss == "last" else series[:, 1:])


def train_epochs(model, layers, series, n_epochs, options, oracle_train=None):
    """Train from the scaled init (the course's regime, where training is stable and rounding
    does not amplify) for ``n_epochs``, the series in a fixed shuffled order, through the
    family's public call or, given ``oracle_train``, the oracle's; returns the parameters."""
    from rnnbatch.models import FAMILIES
    from rnnbatch.train import streams

    options = {"lr": 0.05, **options}
    X, Y = split_series(series, options.pop("loss", "last"))
    order = np.random.default_rng(1).permutation(len(series)).astype(np.int64)
    family, bidirectional = FAMILIES[model], options.get("bidirectional", False)
    params = family.init(layers, "scaled", streams(0)[0], bidirectional)
    state = None if oracle_train else family.new_state(layers, bidirectional)
    for _ in range(n_epochs):
        if oracle_train:
            params, state = oracle_train(model, params, layers, X, Y, order, **options, state=state)
        else:
            assert family.train_epoch(params, layers, X, Y, order, state, **options)[1]
    return params
