"""Grid files: TOML that expands into a list of runs, validated before anything runs.

A grid has a ``[data]`` table, a ``[defaults]`` table and ``[[experiment]]`` tables. Any
experiment setting given as a list expands as a Cartesian product (``layers`` is a list of
sizes, so a list of those expands); ``seeds = 5`` means seeds 0-4, or give a list::

    [data]
    seeds = [0]                  # data seeds; train/test/steps default to the course's

    [defaults]
    lr = 0.01
    seeds = 3

    [[experiment]]
    name = "rnn6"
    model = "rnn"
    layers = [1, 6, 1]
    epochs = 24

Every run gets a stable id: a hash of its normalised settings and its dataset's fingerprint,
so renaming an experiment or reordering the file keeps ids, and changing a setting does not.
"""

import difflib
import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .data import DataParams
from .errors import InputError
from .models import INITS, MODELS
from .train import TrainConfig

SETTINGS = ("model", "layers", "lr", "epochs", "init", "shuffle", "clip", "seeds")
EXPERIMENT_KEYS = ("name", *SETTINGS)
DATA_KEYS = ("seeds", "train", "test", "steps", "dir", "path")
TOP_KEYS = ("data", "defaults", "experiment")
DEFAULTS = {"lr": 0.01, "epochs": 1, "init": "scaled", "shuffle": False, "clip": 0.0, "seeds": 1}


@dataclass(frozen=True)
class DataSource:
    """Where a run's dataset comes from: generator parameters materialised under ``dir``,
    or an existing dataset directory ``path`` made by ``rnnbatch generate``."""

    params: DataParams | None = None
    dir: str = "data"
    path: str | None = None

    @property
    def location(self) -> Path:
        if self.path is not None:
            return Path(self.path)
        p = self.params
        return Path(self.dir) / f"seed{p.seed}-train{p.train}-test{p.test}-steps{p.steps}"


@dataclass(frozen=True)
class Run:
    """One training run: an experiment's settings at one seed, on one dataset."""

    experiment: str
    config: TrainConfig
    source: DataSource
    dataset_id: str

    @property
    def run_id(self) -> str:
        return run_id(self.config, self.dataset_id)


def normalised(config: TrainConfig) -> dict:
    """The settings that decide a run's numbers; a naive run has nothing to tune."""
    if config.model == "naive":
        return {"model": "naive"}
    return {"model": config.model, "layers": list(config.layers), "lr": config.lr,
            "epochs": config.epochs, "init": config.init, "shuffle": config.shuffle,
            "clip": config.clip, "seed": config.seed}


def run_id(config: TrainConfig, dataset_id: str) -> str:
    text = json.dumps({"settings": normalised(config), "dataset": dataset_id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- validation: one message template, declarative checks ------------------------------------

def _fail(key: str, owner: str, expected: str, got) -> InputError:
    return InputError(f"The '{key}' of {owner} must be {expected}. Got {got!r}.")


def _check_keys(table: dict, allowed, owner: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(allowed)}."
            raise InputError(f"Unknown key '{key}' in {owner}.{hint}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


# key -> (test, what the message says it must be)
CHECKS = {
    "model": (lambda v: v in MODELS, "one of " + ", ".join(repr(m) for m in MODELS)),
    "lr": (lambda v: _is_real(v) and v > 0, "a float > 0"),
    "epochs": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "init": (lambda v: v in INITS, "one of " + ", ".join(repr(i) for i in INITS)),
    "shuffle": (lambda v: isinstance(v, bool), "true or false"),
    "clip": (lambda v: _is_real(v) and v >= 0, "a float >= 0 (0 turns clipping off)"),
    "layers": (lambda v: isinstance(v, list) and len(v) >= 2 and all(_is_int(n) and n >= 1 for n in v),
               "a list of at least two ints >= 1"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an int >= 0"),
    "name": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
}


def _check(key: str, value, owner: str) -> None:
    test, expected = CHECKS[key]
    if not test(value):
        raise _fail(key, owner, expected, value)


def _seed_list(value, key: str, owner: str) -> list[int]:
    if _is_int(value) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(_is_int(s) and s >= 0 for s in value):
        return list(value)
    raise _fail(key, owner, "an int >= 1 (that many seeds from 0) or a list of ints >= 0", value)


def _choices(key: str, value) -> list:
    """The values a setting takes: a list expands, except ``layers``' own list of sizes."""
    if key == "layers":
        return value if isinstance(value, list) and value and all(isinstance(v, list) for v in value) \
            else [value]
    return value if isinstance(value, list) else [value]


def _data_sources(table: dict) -> list[DataSource]:
    owner = "[data]"
    _check_keys(table, DATA_KEYS, owner)
    if "path" in table:
        extra = sorted(set(table) - {"path"})
        if extra:
            raise InputError(f"[data] gives 'path' and '{extra[0]}': a path names a dataset made by "
                             "rnnbatch generate, so drop the generator settings or the path.")
        if not isinstance(table["path"], str) or not table["path"]:
            raise _fail("path", owner, "a non-empty string", table["path"])
        return [DataSource(path=table["path"])]
    base = DataParams()
    sizes = {}
    for key in ("train", "test", "steps"):
        value = table.get(key, getattr(base, key))
        low = 2 if key == "steps" else 1
        if not _is_int(value) or value < low:
            raise _fail(key, owner, f"an int >= {low}", value)
        sizes[key] = value
    directory = table.get("dir", "data")
    if not isinstance(directory, str) or not directory:
        raise _fail("dir", owner, "a non-empty string", directory)
    seeds = _seed_list(table.get("seeds", [0]), "seeds", owner)
    return [DataSource(DataParams(seed=s, **sizes), dir=directory) for s in seeds]


def _expand(experiment: dict, defaults: dict, owner: str) -> list[tuple[dict, int]]:
    """Settings dicts of one experiment, in file order, each with its seed list expanded."""
    merged = {**DEFAULTS, **defaults, **experiment}
    if "model" not in merged:
        raise InputError(f"{owner} has no 'model'. Add model = one of {', '.join(MODELS)}.")
    keys = [k for k in SETTINGS if k in merged and k != "seeds"]
    for key in keys:
        if merged[key] == []:  # an empty list would silently expand into no runs at all
            raise _fail(key, owner, f"{CHECKS[key][1]}, or a non-empty list of those", [])
    out = []
    for combo in itertools.product(*(_choices(k, merged[k]) for k in keys)):
        settings = dict(zip(keys, combo))
        for key, value in settings.items():
            _check(key, value, owner)
        for seed in _seed_list(merged["seeds"], "seeds", owner):
            out.append((settings, seed))
    return out


def parse(text: str, source: str = "grid") -> tuple[list[DataSource], list[tuple[str, TrainConfig]]]:
    """Validate a grid's text; return its data sources and its (experiment, config) pairs."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source} is not valid TOML: {exc}.") from None
    _check_keys(doc, TOP_KEYS, source)
    for key in ("data", "defaults"):
        if not isinstance(doc.get(key, {}), dict):
            raise InputError(f"'{key}' in {source} must be a table: write it as [{key}].")
    experiments = doc.get("experiment", [])
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise InputError(f"'experiment' in {source} must be tables: write each as [[experiment]].")
    if not experiments:
        raise InputError(f"{source} has no experiments. Add at least one [[experiment]] table.")
    sources = _data_sources(doc.get("data", {}))
    defaults = doc.get("defaults", {})
    _check_keys(defaults, SETTINGS, "[defaults]")

    configs, names = [], set()
    for index, experiment in enumerate(experiments, start=1):
        owner = f"experiment {index}"
        _check_keys(experiment, EXPERIMENT_KEYS, owner)
        if "name" not in experiment:
            raise InputError(f"{owner} in {source} has no 'name'. Add name = \"...\".")
        _check("name", experiment["name"], owner)
        name = experiment["name"]
        owner = f"experiment '{name}'"
        if name in names:
            raise InputError(f"Experiment name '{name}' appears twice in {source}. Names must be unique.")
        names.add(name)
        for settings, seed in _expand(experiment, defaults, owner):
            configs.append((name, TrainConfig(
                model=settings["model"], layers=tuple(settings.get("layers", ())),
                lr=float(settings["lr"]), epochs=settings["epochs"], init=settings["init"],
                shuffle=settings["shuffle"], clip=float(settings["clip"]), seed=seed)))
    if sources[0].params is not None:  # the steps are known: check before any data is made
        check_fits(configs, sources[0].params.steps, source)
    return sources, configs


def check_fits(configs, steps: int, source: str = "grid") -> None:
    """Layers must fit the model and the data: dense takes steps - 1 inputs, rnn starts with 1."""
    for name, config in configs:
        if config.model == "naive":
            continue
        if not config.layers:
            raise InputError(f"The 'layers' of experiment '{name}' must be given for a {config.model} "
                             "model. Got nothing.")
        try:
            config.check(steps)
        except ValueError as exc:
            raise InputError(f"The 'layers' of experiment '{name}' do not fit: {exc}. "
                             f"Got {list(config.layers)}.") from None


def read(path: str | Path) -> tuple[list[DataSource], list[tuple[str, TrainConfig]]]:
    """Read and validate the grid file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"Grid file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read grid file {path}: {exc}.") from None
    return parse(text, str(path))
