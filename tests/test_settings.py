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


def test_settings_that_clash_are_named_together_from_python():
    with pytest.raises(InputError, match=r"^The 'loss' of TrainConfig cannot be \"every\" when its "
                                         r"'model' is \"dense\": .*\.$"):
        TrainConfig(model="dense", layers=(50, 1), loss="every")
    with pytest.raises(InputError, match=r"^The 'reverse' of TrainConfig cannot be true when its "
                                         r"'loss' is \"every\""):
        TrainConfig(model="rnn", layers=(1, 1), reverse=True, loss="every")
    TrainConfig(model="rnn", layers=(1, 1), reverse=True, bptt=3)  # no clash


def test_with_seed_is_the_config_at_that_seed_and_checks_the_seed():
    config = TrainConfig(model="rnn", layers=[1, 6, 1], lr=1, loss="every")
    seeded = config.with_seed(7)
    made = TrainConfig(model="rnn", layers=(1, 6, 1), lr=1.0, loss="every", seed=7)
    assert (seeded, hash(seeded), type(seeded.lr)) == (made, hash(made), float)
    assert grid.run_id(seeded, "d") == grid.run_id(made, "d") and config.seed == 0
    with pytest.raises(InputError, match=r"^The 'seed' of TrainConfig must be an int from 0 to "
                                         r"4294967295\. Got -1\.$"):
        config.with_seed(-1)
    with pytest.raises(AttributeError):  # frozen, as a config made whole is
        seeded.seed = 3


def test_new_settings_enter_the_run_id_only_away_from_their_default():
    course = TrainConfig(model="rnn", layers=(1, 6, 1))
    assert settings.run_id_settings(course) == settings.run_id_settings(
        TrainConfig(model="rnn", layers=(1, 6, 1), optimizer="sgd", bptt=0, noise=0.0))
    assert settings.run_id_settings(TrainConfig(model="rnn", layers=(1, 6, 1), noise=0.02)) == {
        **settings.run_id_settings(course), "noise": 0.02}


def test_a_baseline_takes_only_its_own_settings():
    """ar takes l2 (ridge): in its run id and dry-run line when set; other settings mean
    nothing to it, so they leave its id alone and are stored as null."""
    assert settings.run_id_settings(TrainConfig(model="ar", lr=0.5)) == {"model": "ar"}
    ridge = TrainConfig(model="ar", l2=0.1)
    assert settings.run_id_settings(ridge) == {"model": "ar", "l2": 0.1}
    assert settings.describe(ridge) == "l2=0.1"
    assert settings.describe(TrainConfig(model="naive", l2=0.1)) == ""


def test_dry_run_names_the_techniques_in_use():
    config = TrainConfig(model="rnn", layers=(1, 6, 1), clip_norm=1, reverse=True, optimizer="adam")
    assert settings.describe(config) == ("layers=[1, 6, 1] lr=0.01 epochs=1 init=scaled "
                                         "clip_norm=1 reverse optimizer=adam")


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
