"""Shared fixtures for the fast CLI / grid / data / report tests: tiny data, tiny grids."""

import json
import textwrap
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

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
