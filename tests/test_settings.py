"""Settings are declared once (rnnbatch/settings.py); these check what derives from them."""

from pathlib import Path

import pytest

from rnnbatch import grid, report, results, settings
from rnnbatch.errors import InputError
from rnnbatch.settings import TrainConfig

from .conftest import TINY_DATA, run_grid_in

README = Path(__file__).parents[1] / "README.md"


def test_validation_from_python_gives_the_grids_message():
    with pytest.raises(InputError, match=r"^The 'lr' of TrainConfig must be a float > 0\. Got -1\.$"):
        TrainConfig(model="rnn", layers=(1, 6, 1), lr=-1)
    with pytest.raises(InputError, match=r"^The 'init' of TrainConfig must be one of 'scaled', "):
        TrainConfig(model="rnn", layers=(1, 6, 1), init="he")


def test_values_are_normalised_as_the_grid_gives_them():
    config = TrainConfig(model="rnn", layers=[1, 6, 1], lr=1, clip=1)
    assert (config.layers, config.lr, config.clip) == ((1, 6, 1), 1.0, 1.0)
    assert config == TrainConfig(model="rnn", layers=(1, 6, 1), lr=1.0, clip=1.0)


def test_every_setting_is_a_field_a_grid_key_a_column_and_a_readme_row():
    names = set(settings.SETTINGS)
    assert {f for f in TrainConfig.__dataclass_fields__} == names
    assert set(grid.SETTINGS) == names - {"seed"} | {"seeds"}
    assert names - {"model"} <= set(results.SCHEMA.names)
    assert settings.markdown_table() in README.read_text(encoding="utf-8"), \
        "README's table of settings differs: paste settings.markdown_table() into it"


def test_configurations_that_differ_in_any_setting_are_reported_apart(tmp_path):
    """Two experiments the same but for their epochs are two rows, not one average."""
    text = TINY_DATA + """
[[experiment]]
name = "x"
model = "rnn"
layers = [1, 1]
epochs = [1, 2]
seeds = 2
"""
    rows = report.aggregate(results.read(run_grid_in(tmp_path, text, 4)))
    assert [(row["epochs"], row["seeds"], row["epoch"]) for row in rows] == [(1, 2, 1), (2, 2, 2)]
