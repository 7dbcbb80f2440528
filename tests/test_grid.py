"""Grid files: every mistake is one `Error: ` line, exit 2, and nothing written; lists expand
as Cartesian products; run ids are stable under renames and reordering."""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnbatch import data, grid, planning
from rnnbatch.cli import main
from rnnbatch.errors import InputError
from rnnbatch.models import FAMILIES
from rnnbatch.settings import TrainConfig

from .conftest import TINY_DATA, TINY_GRID, TINY_GRID_RUNS, assert_one_error_line

SEEDS = "an int from 1 to 1000000 (that many seeds from 0) or a list of 1 to 1000000 ints from 0 to 4294967295"
MODELS = "one of " + ", ".join(repr(name) for name in FAMILIES)  # every registered family
DATA_SEEDS = "an int from 1 to 1000 (that many seeds from 0) or a list of 1 to 1000 ints from 0 to 4294967295"

EXPERIMENT = """
[[experiment]]
name = "x"
model = "rnn"
layers = [1, 2, 1]
"""


def _exp(**settings) -> str:
    lines = ['[[experiment]]', 'name = "x"']
    settings = {"model": '"rnn"', "layers": "[1, 2, 1]", **settings}
    lines += [f"{k} = {v}" for k, v in settings.items() if v is not None]
    return TINY_DATA + "\n" + "\n".join(lines) + "\n"


INVALID = {
    "malformed-toml": (
        TINY_DATA + '\n[[experiment]]\nname = "x"\nmodel "rnn"\n',
        "grid.toml is not valid TOML: Expected '=' after a key in a key/value pair "
        "(at line 7, column 7)."),
    "unknown-key": (_exp(lrr="0.1"),
                    "Unknown key 'lrr' in experiment 1. Did you mean 'lr'?"),
    "unknown-default-key": (TINY_DATA + "[defaults]\nepoch = 3\n" + EXPERIMENT,
                            "Unknown key 'epoch' in [defaults]. Did you mean 'epochs'?"),
    "unknown-data-key": ("[data]\ntrian = 60\n" + EXPERIMENT,
                         "Unknown key 'trian' in [data]. Did you mean 'train'?"),
    "unknown-top-key": ("[experiments]\nname = 'x'\n" + EXPERIMENT,
                        "Unknown key 'experiments' in grid.toml. Did you mean 'experiment'?"),
    "wrong-type": (_exp(epochs='"ten"'),
                   "The 'epochs' of experiment 'x' must be an int from 1 to 100000. Got 'ten'."),
    "wrong-type-bool-as-int": (_exp(epochs="true"), "The 'epochs' of experiment 'x' must be an int "
                                                    "from 1 to 100000. Got True."),
    "wrong-type-shuffle": (_exp(shuffle="1"),
                           "The 'shuffle' of experiment 'x' must be true or false. Got 1."),
    "lr-negative": (_exp(lr="-1"), "The 'lr' of experiment 'x' must be a float > 0. Got -1."),
    "lr-zero-in-list": (_exp(lr="[0.1, 0.0]"),
                        "The 'lr' of experiment 'x' must be a float > 0. Got 0.0."),
    "lr-inf": (_exp(lr="inf"), "The 'lr' of experiment 'x' must be a float > 0. Got inf."),
    "clip-negative": (_exp(clip="-0.5"), "The 'clip' of experiment 'x' must be a float >= 0 "
                                         "(0 turns clipping off). Got -0.5."),
    "epochs-zero": (_exp(epochs="0"),
                    "The 'epochs' of experiment 'x' must be an int from 1 to 100000. Got 0."),
    "seeds-zero": (_exp(seeds="0"), f"The 'seeds' of experiment 'x' must be {SEEDS}. Got 0."),
    "seeds-negative-in-list": (_exp(seeds="[0, -2]"),
                               f"The 'seeds' of experiment 'x' must be {SEEDS}. Got [0, -2]."),
    "empty-lr-list": (_exp(lr="[]"), "The 'lr' of experiment 'x' must be a float > 0, or a non-empty "
                                     "list of those. Got []."),
    "empty-model-list": (_exp(model="[]"), f"The 'model' of experiment 'x' must be {MODELS}, or a "
                                           "non-empty list of those. Got []."),
    "unknown-model": (_exp(model='"transformer"'), f"The 'model' of experiment 'x' must be {MODELS}. "
                                                   "Got 'transformer'."),
    "unknown-init": (_exp(init='"xavier"'), "The 'init' of experiment 'x' must be one of 'scaled', "
                                            "'uniform', 'identity', 'torch'. Got 'xavier'."),
    "init-the-family-lacks": (_exp(model='"dense"', layers="[50, 1]", init='"identity"'),
                              "The 'init' of experiment 'x' cannot be \"identity\" when its "
                              "'model' is \"dense\": the dense family's inits are \"scaled\", "
                              "\"uniform\"."),
    "relu-on-dense": (_exp(model='"dense"', layers="[50, 1]", activation='"relu"'),
                      "The 'activation' of experiment 'x' cannot be \"relu\" when its 'model' "
                      "is \"dense\": the dense family's hidden units take \"tanh\"."),
    "linear-readout-on-rnn": (_exp(readout='"linear"'),
                              "The 'readout' of experiment 'x' cannot be \"linear\" when its "
                              "'model' is \"rnn\": the rnn family's output unit takes \"tanh\"."),
    "no-model": (TINY_DATA + '[[experiment]]\nname = "x"\n',
                 f"experiment 'x' has no 'model'. Add model = one of {', '.join(FAMILIES)}."),
    "no-name": (TINY_DATA + '[[experiment]]\nmodel = "naive"\n',
                "experiment 1 in grid.toml has no 'name'. Add name = \"...\"."),
    "layers-too-short": (_exp(layers="[1]"), "The 'layers' of experiment 'x' must be a list of at "
                                             "least two ints from 1 to 10000. Got [1]."),
    "layers-missing": (_exp(layers=None), "The 'layers' of experiment 'x' must be given for a rnn "
                                          "model. Got nothing."),
    "dense-wrong-inputs": (_exp(model='"dense"', layers="[10, 1]"),
                           "The 'layers' of experiment 'x' do not fit: a dense net on 51-step "
                           "series starts with 50. Got [10, 1]."),
    "dense-wrong-inputs-small-steps": (
        "[data]\ntrain = 60\ntest = 20\nsteps = 11\n" + _exp(model='"dense"', layers="[50, 1]")[len(TINY_DATA):],
        "The 'layers' of experiment 'x' do not fit: a dense net on 11-step series starts with 10. "
        "Got [50, 1]."),
    "rnn-wrong-start": (_exp(layers="[2, 1]"), "The 'layers' of experiment 'x' do not fit: a rnn net "
                                               "on 51-step series starts with 1. Got [2, 1]."),
    "rnn-wrong-end": (_exp(layers="[1, 6, 2]"), "The 'layers' of experiment 'x' do not fit: layers "
                      "[1, 6, 2] must be at least two sizes >= 1, ending in 1. Got [1, 6, 2]."),
    "empty-grid": (TINY_DATA, "grid.toml has no experiments. Add at least one [[experiment]] table."),
    "empty-file": ("", "grid.toml has no experiments. Add at least one [[experiment]] table."),
    "experiment-not-array": (TINY_DATA + '[experiment]\nname = "x"\n',
                             "'experiment' in grid.toml must be tables: write each as [[experiment]]."),
    "duplicate-names": (TINY_DATA + EXPERIMENT + EXPERIMENT,
                        "Experiment name 'x' appears twice in grid.toml. Names must be unique."),
    "data-train-zero": ("[data]\ntrain = 0\n" + EXPERIMENT,
                        "The 'train' of [data] must be an int from 1 to 1000000. Got 0."),
    "data-path-and-sizes": ('[data]\npath = "d"\ntrain = 5\n' + EXPERIMENT,
                            "[data] gives 'path' and 'train': a path names a dataset made by "
                            "rnnbatch generate, so drop the generator settings or the path."),
    # bounded input: a typo must not exhaust memory or time before this line, nor pass and fail later
    "seeds-count-too-large": (_exp(seeds="100000000"),
                              f"The 'seeds' of experiment 'x' must be {SEEDS}. Got 100000000."),
    "seeds-count-int64-max": (_exp(seeds=str(2**63 - 1)), f"The 'seeds' of experiment 'x' must be "
                              f"{SEEDS}. Got 9223372036854775807."),
    "seed-int64-max-in-list": (_exp(seeds=f"[0, {2**63 - 1}]"), f"The 'seeds' of experiment 'x' "
                               f"must be {SEEDS}. Got [0, 9223372036854775807]."),
    "seed-uint64-max-in-list": (_exp(seeds=f"[0, {2**64 - 1}]"), f"The 'seeds' of experiment 'x' "
                                f"must be {SEEDS}. Got [0, 18446744073709551615]."),
    "seed-2**32": (_exp(seeds="[4294967296]"),
                   f"The 'seeds' of experiment 'x' must be {SEEDS}. Got [4294967296]."),
    "seeds-in-defaults-too-large": (TINY_DATA + "[defaults]\nseeds = 2000000\n" + EXPERIMENT,
                                    f"The 'seeds' of experiment 'x' must be {SEEDS}. Got 2000000."),
    "data-seed-too-large": ("[data]\nseeds = [1, 4294967296]\n" + EXPERIMENT,
                            f"The 'seeds' of [data] must be {DATA_SEEDS}. Got [1, 4294967296]."),
    "data-seeds-count-too-large": ("[data]\nseeds = 1001\n" + EXPERIMENT,
                                   f"The 'seeds' of [data] must be {DATA_SEEDS}. Got 1001."),
    "data-train-too-large": ("[data]\ntrain = 70000000\n" + EXPERIMENT,
                             "The 'train' of [data] must be an int from 1 to 1000000. Got 70000000."),
    "data-test-too-large": ("[data]\ntest = 1000001\n" + EXPERIMENT,
                            "The 'test' of [data] must be an int from 1 to 1000000. Got 1000001."),
    "data-steps-too-large": ("[data]\nsteps = 51000\n" + EXPERIMENT,
                             "The 'steps' of [data] must be an int from 2 to 10000. Got 51000."),
    "epochs-too-large": (_exp(epochs="2400000"), "The 'epochs' of experiment 'x' must be an int from "
                                                 "1 to 100000. Got 2400000."),
    "layer-too-wide": (_exp(layers="[[1, 6, 1], [1, 60000, 1]]"), "The 'layers' of experiment 'x' "
                       "must be a list of at least two ints from 1 to 10000. Got [1, 60000, 1]."),
    "too-many-runs": (_exp(seeds="1000000", lr="[0.1, 0.01, 0.001]"),
                      "The grid grid.toml expands into 3000000 runs; at most 1000000 are allowed. "
                      "Split it into several grids or use fewer seeds."),
    "too-many-runs-over-data-seeds": (
        "[data]\nseeds = 100\ntrain = 60\ntest = 20\n" + _exp(seeds="1000000", lr="[0.1, 0.01]",
                                                              layers="[[1, 1], [1, 2, 1]]")[len(TINY_DATA):],
        "The grid grid.toml expands into 400000000 runs; at most 1000000 are allowed. "
        "Split it into several grids or use fewer seeds."),
    # the lectures' techniques: each value checked, and settings that clash named together
    "clip-norm-negative": (_exp(clip_norm="-1"), "The 'clip_norm' of experiment 'x' must be a "
                                                 "float >= 0 (0 turns it off). Got -1."),
    "noise-nan": (_exp(noise="nan"), "The 'noise' of experiment 'x' must be a float >= 0 "
                                     "(0 turns it off). Got nan."),
    "l2-in-list": (_exp(l2="[0.0, -1e-4]"), "The 'l2' of experiment 'x' must be a float >= 0 "
                                            "(0 turns it off). Got -0.0001."),
    "reverse-not-bool": (_exp(reverse='"yes"'),
                         "The 'reverse' of experiment 'x' must be true or false. Got 'yes'."),
    "bptt-negative": (_exp(bptt="-1"),
                      "The 'bptt' of experiment 'x' must be an int from 0 to 10000. Got -1."),
    "batch-zero": (_exp(batch="0"),
                   "The 'batch' of experiment 'x' must be an int from 1 to 1000000. Got 0."),
    "loss-unknown": (_exp(loss='"all"'), "The 'loss' of experiment 'x' must be one of 'last', "
                                         "'every'. Got 'all'."),
    "optimizer-unknown": (_exp(optimizer='"adamw"'), "The 'optimizer' of experiment 'x' must be "
                                                     "one of 'sgd', 'momentum', 'adam'. Got 'adamw'."),
    "every-on-dense": (_exp(model='"dense"', layers="[50, 1]", loss='["last", "every"]'),
                       "The 'loss' of experiment 'x' cannot be \"every\" when its 'model' is "
                       "\"dense\": a prediction after every step needs a recurrent model."),
    "bptt-on-dense": (_exp(model='"dense"', layers="[50, 1]", bptt="5"),
                      "The 'bptt' of experiment 'x' cannot be 5 when its 'model' is \"dense\": "
                      "only a recurrent model backpropagates through time."),
    "reverse-with-every": (TINY_DATA + '[defaults]\nloss = "every"\n' + _exp(reverse="true")[len(TINY_DATA):],
                           "The 'reverse' of experiment 'x' cannot be true when its 'loss' is "
                           "\"every\": fed last value first, a series has no next value to "
                           "predict after each step."),
    "jordan-two-hidden-layers": (_exp(model='"jordan"', layers="[1, 3, 3, 1]"),
                                 "The 'layers' of experiment 'x' do not fit: a jordan net has one "
                                 "hidden layer, [1, h, 1], not [1, 3, 3, 1]. Got [1, 3, 3, 1]."),
    "missing-dataset-path": ('[data]\npath = "nope"\n' + EXPERIMENT,
                             "Dataset file nope/train.parquet does not exist. "
                             "Make it with: rnnbatch generate --out nope"),
}


@pytest.mark.parametrize("text,message", INVALID.values(), ids=INVALID.keys())
def test_invalid_grid(cli_runner, fs, write_grid, text, message):
    path = write_grid(text)
    result = cli_runner.invoke(main, ["run", path, "--out", "res"])
    assert_one_error_line(result, message)
    assert result.stdout == ""
    assert sorted(os.listdir(".")) == ["grid.toml"]  # no res, no data directory


DRY_RUN_CASES = ["unknown-key", "rnn-wrong-start", "seeds-count-too-large", "too-many-runs"]


@pytest.mark.parametrize("text,message", [INVALID[case] for case in DRY_RUN_CASES], ids=DRY_RUN_CASES)
def test_invalid_grid_dry_run(cli_runner, fs, write_grid, text, message):
    result = cli_runner.invoke(main, ["run", write_grid(text), "--dry-run"])
    assert_one_error_line(result, message)
    assert sorted(os.listdir(".")) == ["grid.toml"]


def test_missing_grid_file(cli_runner, fs):
    result = cli_runner.invoke(main, ["run", "nope.toml", "--out", "res"])
    assert_one_error_line(result, "Grid file nope.toml does not exist.")
    assert os.listdir(".") == []


def test_jobs_zero(cli_runner, fs, write_grid):
    result = cli_runner.invoke(main, ["run", write_grid(TINY_GRID), "--out", "res", "--jobs", "0"])
    assert_one_error_line(result, "--jobs must be an int >= 1. Got 0.")
    assert sorted(os.listdir(".")) == ["grid.toml"]


@pytest.mark.parametrize("args,message", [
    (["--retries", "-1"], "--retries must be an int >= 0. Got -1."),
    (["--shard", "3/2"], "--shard must be I/N with 0 <= I < N. Got 3/2."),
    (["--shard", "x"], "--shard must be I/N (such as 0/4) or 'slurm'. Got 'x'."),
    (["--backend", "dask"], "--backend dask needs --scheduler tcp://HOST:PORT "
                            "(start one with: dask scheduler)."),
])
def test_bad_run_options(cli_runner, fs, write_grid, args, message):
    result = cli_runner.invoke(main, ["run", write_grid(TINY_GRID), "--out", "res", *args])
    assert_one_error_line(result, message)
    assert sorted(os.listdir(".")) == ["grid.toml"]


# -- bad datasets named by [data] path ---------------------------------------------------------

def _bad_dataset(cli_runner, kind):
    assert cli_runner.invoke(main, ["generate", "--out", "d", "--train", "60", "--test", "20"]).exit_code == 0
    rows = [[0.1] * 51 for _ in range(10)]
    if kind == "schema":
        table = pa.table({"x": [1, 2, 3]})
    elif kind == "nan":
        rows[3][0] = float("nan")
        table = pa.table({"values": pa.array(rows, pa.list_(pa.float64()))})
    else:
        rows[8] = [0.1] * 49
        table = pa.table({"values": pa.array(rows, pa.list_(pa.float64()))})
    pq.write_table(table, "d/train.parquet")


@pytest.mark.parametrize("kind,message", [
    ("schema", "d/train.parquet has the wrong schema: expected a 'values' column of float lists, "
               "got 'x: int64'."),
    ("nan", "d/train.parquet row 3: series contains NaN or infinity."),
    ("length", "d/train.parquet row 8: series has 49 values, expected 51."),
])
def test_bad_dataset_path(cli_runner, fs, write_grid, kind, message):
    _bad_dataset(cli_runner, kind)
    path = write_grid('[data]\npath = "d"\n' + EXPERIMENT)
    result = cli_runner.invoke(main, ["run", path, "--out", "res"])
    assert_one_error_line(result, message)
    assert sorted(os.listdir(".")) == ["d", "grid.toml"]
    assert sorted(os.listdir("d")) == ["test.parquet", "train.parquet"]


# -- expansion ---------------------------------------------------------------------------------

def _configs(text):
    sources, configs = grid.parse(text, "grid.toml")
    return sources, configs


def test_lists_expand_as_cartesian_products():
    _, configs = _configs(TINY_DATA + """
        [defaults]
        seeds = 3
        [[experiment]]
        name = "r"
        model = "rnn"
        layers = [[1, 1], [1, 6, 1]]
        lr = [0.01, 0.1]
        shuffle = [false, true]
        """.replace("        ", ""))
    got = [(c.layers, c.lr, c.shuffle, c.seed) for _, c in configs]
    assert got == [(layers, lr, shuffle, seed) for layers in [(1, 1), (1, 6, 1)]
                   for lr in [0.01, 0.1] for shuffle in [False, True] for seed in [0, 1, 2]]
    assert {name for name, _ in configs} == {"r"}


def test_single_layers_list_does_not_expand():
    _, configs = _configs(_exp(layers="[1, 6, 1]"))
    assert [c.layers for _, c in configs] == [(1, 6, 1)]


def test_seed_list_and_defaults():
    _, configs = _configs(TINY_DATA + """
[defaults]
lr = 0.05
epochs = 3
seeds = [4, 7]
[[experiment]]
name = "a"
model = "rnn"
layers = [1, 1]
[[experiment]]
name = "b"
model = "rnn"
layers = [1, 1]
seeds = 1
lr = 0.2
""")
    assert [(n, c.seed, c.lr, c.epochs) for n, c in configs] == [
        ("a", 4, 0.05, 3), ("a", 7, 0.05, 3), ("b", 0, 0.2, 3)]
    c = configs[0][1]
    assert (c.init, c.shuffle, c.clip) == ("scaled", False, 0.0)  # built-in defaults


def test_data_seeds_and_sizes():
    sources, _ = _configs("[data]\nseeds = 2\ntrain = 5\ntest = 3\nsteps = 9\n" + EXPERIMENT)
    assert [(s.params.seed, s.params.train, s.params.test, s.params.steps) for s in sources] == [
        (0, 5, 3, 9), (1, 5, 3, 9)]
    assert str(sources[1].location) == os.path.join("data", "seed1-train5-test3-steps9")


def _dry_run(cli_runner, path, *extra):
    result = cli_runner.invoke(main, ["run", path, "--out", "res", "--dry-run", *extra])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    return lines, {line.split()[1]: line.split()[0] for line in lines[:-1]}


def test_dry_run_lists_runs_and_writes_nothing(cli_runner, fs, write_grid):
    path = write_grid(TINY_GRID)
    lines, _ = _dry_run(cli_runner, path)
    assert lines[-1] == f"{TINY_GRID_RUNS} runs"
    assert len(lines) == TINY_GRID_RUNS + 1
    for line in lines[:-1]:
        run_id = line.split()[0]
        assert len(run_id) == 16 and int(run_id, 16) >= 0
    assert "rnn" in lines[3] and "layers=[1, 1] lr=0.01 epochs=2 init=scaled seed=0" in lines[3]
    assert lines[0].split()[1:] == ["naive", "naive", "seed=0"]
    assert sorted(os.listdir(".")) == ["grid.toml"]


def test_dry_run_shard(cli_runner, fs, write_grid):
    path = write_grid(TINY_GRID)
    all_lines, _ = _dry_run(cli_runner, path)
    ids = set()
    for i in range(3):
        lines, _ = _dry_run(cli_runner, path, "--shard", f"{i}/3")
        ids |= {line.split()[0] for line in lines[:-1]}
    assert ids == {line.split()[0] for line in all_lines[:-1]}


def _ids(cli_runner, path):
    lines, _ = _dry_run(cli_runner, path)
    return sorted(line.split()[0] for line in lines[:-1])


def test_run_ids_stable_under_rename_and_reorder(cli_runner, fs, write_grid):
    a = """
[[experiment]]
name = "first"
model = "rnn"
layers = [1, 3, 1]
lr = 0.01
seeds = 2
"""
    b = """
[[experiment]]
name = "second"
model = "dense"
layers = [50, 1]
lr = 0.1
"""
    original = _ids(cli_runner, write_grid(TINY_DATA + a + b, "one.toml"))
    renamed = _ids(cli_runner, write_grid(TINY_DATA + b + a.replace('"first"', '"renamed"'), "two.toml"))
    assert original == renamed
    changed = _ids(cli_runner, write_grid(TINY_DATA + a.replace("lr = 0.01", "lr = 0.02") + b,
                                          "three.toml"))
    assert len(set(changed) & set(original)) == 1  # only the dense run keeps its id
    other_data = _ids(cli_runner, write_grid("[data]\ntrain = 61\ntest = 20\n" + a + b, "four.toml"))
    assert not set(other_data) & set(original)  # the dataset is part of a run's identity


def test_same_settings_under_two_names_run_once(cli_runner, fs, write_grid):
    path = write_grid(TINY_DATA + EXPERIMENT + EXPERIMENT.replace('"x"', '"y"'))
    lines, _ = _dry_run(cli_runner, path)
    assert lines[-1] == "1 runs"


# -- limits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,highest,beyond", [
    ("seeds", 1_000_000, 1_000_001), ("seeds", [0, 2**32 - 1], [0, 2**32]),
    ("data.seeds", 1000, 1001), ("data.seeds", [2**32 - 1], [2**32]),
    ("data.seeds", list(range(1000)), list(range(1001))), ("epochs", 100_000, 100_001),
    ("layers", [1, 10_000, 1], [1, 10_001, 1]), ("data.train", 1_000_000, 1_000_001),
    ("data.test", 1_000_000, 1_000_001), ("data.steps", 10_000, 10_001),
])
def test_limits_are_inclusive(rule, highest, beyond):
    test, _ = grid.CHECKS[rule]
    assert test(highest) and not test(beyond)


def test_a_grid_at_every_limit_validates():
    sources, configs = _configs(f"""
[data]
seeds = [0, {2**32 - 1}]
train = 1000000
test = 1000000
steps = 10000

[[experiment]]
name = "wide"
model = "rnn"
layers = [1, 10000, 1]
epochs = 100000
seeds = [0, {2**32 - 1}]

[[experiment]]
name = "dense"
model = "dense"
layers = [9999, 10000, 1]
""")
    assert [(s.params.seed, s.params.train, s.params.test, s.params.steps) for s in sources] == [
        (0, 10**6, 10**6, 10_000), (2**32 - 1, 10**6, 10**6, 10_000)]
    assert [(n, c.layers, c.epochs, c.seed) for n, c in configs] == [
        ("wide", (1, 10_000, 1), 100_000, 0), ("wide", (1, 10_000, 1), 100_000, 2**32 - 1),
        ("dense", (9999, 10_000, 1), 1, 0)]
    assert len(_configs("[data]\nseeds = 1000\n" + EXPERIMENT)[0]) == 1000


def test_the_run_limit_is_inclusive(monkeypatch):
    text = "[data]\nseeds = 2\n" + _exp(lr="[0.1, 0.01]", seeds="3")[len(TINY_DATA):]  # 2 x 2 x 3
    monkeypatch.setattr(grid, "MAX_RUNS", 12)
    assert len(_configs(text)[1]) * 2 == 12  # configs per dataset, times two datasets
    monkeypatch.setattr(grid, "MAX_RUNS", 11)
    with pytest.raises(InputError, match=r"^The grid grid.toml expands into 12 runs; at most 11 "):
        _configs(text)


def test_a_large_grid_lists_each_run_as_made_one_by_one(cli_runner, fs, write_grid):
    """Lists expand into 3 layers x 4 rates x 250 seeds (more lines than --dry-run writes at
    once) plus the baseline: each run is the config TrainConfig makes whole, under its id."""
    write_grid(TINY_DATA + '[[experiment]]\nname = "naive"\nmodel = "naive"\n'
               '[[experiment]]\nname = "sweep"\nmodel = "rnn"\n'
               'layers = [[1, 2, 1], [1, 3, 1], [1, 2, 2, 1]]\nlr = [0.1, 0.01, 0.003, 1]\n'
               'epochs = 2\nseeds = 250\n')
    result = cli_runner.invoke(main, ["run", "grid.toml", "--dry-run"])
    assert result.exit_code == 0 and result.stderr == ""
    *lines, total = result.stdout.splitlines()
    assert total == "3001 runs" and len(lines) == 3001
    runs = planning.plan("grid.toml", materialise=False).runs
    dataset_id = runs[0].dataset_id
    made = [TrainConfig("rnn", layers, lr=lr, epochs=2, seed=seed)
            for layers in [(1, 2, 1), (1, 3, 1), (1, 2, 2, 1)] for lr in [0.1, 0.01, 0.003, 1.0]
            for seed in range(250)]
    assert [r.config for r in runs] == [TrainConfig("naive")] + made
    ids = [grid.run_id(config, dataset_id) for config in [TrainConfig("naive")] + made]
    assert [line.split()[0] for line in lines] == [r.run_id for r in runs] == ids
    assert len(set(ids)) == 3001
    assert lines[-1] == f"{ids[-1]}  sweep          rnn    layers=[1, 2, 2, 1] lr=1 epochs=2 " \
                        "init=scaled seed=249"


def test_generate_refuses_a_seed_numpy_cannot_take(fs):
    with pytest.raises(InputError, match=r"^The data 'seed' must be an int from 0 to 4294967295\. "
                                         r"Got 4294967296\.$"):
        data.generate("data", data.DataParams(seed=2**32, train=5, test=3))
    assert os.listdir(".") == []


def test_a_baseline_takes_no_settings_to_clash():
    """[defaults] that clash for a dense net leave the naive baseline valid: it has no settings."""
    _, configs = grid.parse(TINY_DATA + '[defaults]\nloss = "every"\nbptt = 3\n'
                            '[[experiment]]\nname = "n"\nmodel = "naive"\n')
    assert [c.model for _, c in configs] == ["naive"]


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "jobs").glob("*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_grid_validates(path):
    from rnnbatch import planning

    assert planning.plan(path, materialise=False).runs
