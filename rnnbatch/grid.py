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
import functools
import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import ingest as ingestmod
from . import settings as settingsmod
from .data import SEED_MAX, SERIES_MAX, STEPS_MAX, DataParams
from .errors import InputError
from .models import FAMILIES, MODELS
from .settings import TrainConfig, fail as _fail, int_in as _int_in, is_int as _is_int

# an experiment's keys: every setting but the per-run seed, which `seeds` expands into
SETTINGS = (*(name for name in settingsmod.SETTINGS if name != "seed"), "seeds")
EXPERIMENT_KEYS = ("name", *SETTINGS)
GENERATOR_KEYS = ("seeds", "train", "test", "steps", "dir")
SERIES_KEYS = ("series", *ingestmod.OPTIONS, "dir", "path")  # ingest on the fly
DATA_KEYS = tuple(dict.fromkeys((*GENERATOR_KEYS, "path", *SERIES_KEYS)))
TOP_KEYS = ("data", "defaults", "experiment")
DEFAULTS = {**{s.name: s.default for s in settingsmod.TUNABLE if s.name != "layers"}, "seeds": 1}
# Every run is planned in memory before the first one starts (at this limit: about a minute and
# 1 GB), so a typo such as seeds = 100000000 is refused before anything is expanded.
MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class DataSource:
    """Where a run's dataset comes from: generator parameters or a series to ingest,
    materialised under ``dir`` (a series: at ``path``, if given), or an existing dataset
    directory ``path`` made by ``rnnbatch generate`` or ``rnnbatch ingest``."""

    params: DataParams | ingestmod.IngestParams | None = None
    dir: str = "data"
    path: str | None = None

    @property
    def location(self) -> Path:
        if self.path is not None:
            return Path(self.path)
        p = self.params
        if isinstance(p, ingestmod.IngestParams):
            return ingestmod.location(p, self.dir)
        return Path(self.dir) / f"seed{p.seed}-train{p.train}-test{p.test}-steps{p.steps}"


@dataclass(frozen=True)
class Run:
    """One training run: an experiment's settings at one seed, on one dataset."""

    experiment: str
    config: TrainConfig
    source: DataSource
    dataset_id: str

    @functools.cached_property  # hashed once: planning, claims and files all ask for it
    def run_id(self) -> str:
        return run_id(self.config, self.dataset_id)


def run_id(config: TrainConfig, dataset_id: str) -> str:
    text = json.dumps({"settings": settingsmod.run_id_settings(config), "dataset": dataset_id},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- validation: one message template, declarative checks ------------------------------------

def _check_keys(table: dict, allowed, owner: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(allowed)}."
            raise InputError(f"Unknown key '{key}' in {owner}.{hint}")


def _seeds(most: int) -> tuple:
    """``seeds``: a count (seeds 0 to count - 1) or a list of seeds, at most ``most`` either way."""
    is_count, _ = _int_in(1, most)
    is_seed, _ = _int_in(0, SEED_MAX)

    def test(v) -> bool:
        return is_count(v) or (isinstance(v, list) and 1 <= len(v) <= most and all(map(is_seed, v)))
    return (test,
            f"an int from 1 to {most} (that many seeds from 0) or a list of 1 to {most} ints "
            f"from 0 to {SEED_MAX}")


def _non_empty_string(v) -> bool:
    return isinstance(v, str) and v.strip() != ""


# rule -> (test, what the message says it must be): the settings' own (see settings.py), then
# the grid's; a "data." rule is for that key of [data]. Upper bounds keep a typo from exhausting
# memory or time before anything could check it.
CHECKS = {
    **{s.name: (s.test, s.expected) for s in settingsmod.SETTINGS.values()},
    "seeds": _seeds(MAX_RUNS),
    "name": (_non_empty_string, "a non-empty string"),
    "data.seeds": _seeds(1000),  # every dataset is held in memory (3.7 MB at the course's sizes)
    "data.train": _int_in(1, SERIES_MAX),
    "data.test": _int_in(1, SERIES_MAX),
    "data.steps": _int_in(2, STEPS_MAX),
    "data.dir": (_non_empty_string, "a non-empty string"),
    "data.path": (_non_empty_string, "a non-empty string"),
    "data.series": (_non_empty_string, "a non-empty string"),
}


def _check(rule: str, value, owner: str) -> None:
    test, expected = CHECKS[rule]
    if not test(value):
        raise _fail(rule.removeprefix("data."), owner, expected, value)


def _seed_list(seeds) -> list[int]:
    """A checked ``seeds`` value as the list of seeds it means."""
    return list(range(seeds)) if _is_int(seeds) else seeds


def _choices(key: str, value) -> list:
    """The values a setting takes: a list expands, except ``layers``' own list of sizes."""
    if key == "layers":
        return value if isinstance(value, list) and value and all(isinstance(v, list) for v in value) \
            else [value]
    return value if isinstance(value, list) else [value]


def _data_sources(table: dict) -> list[DataSource]:
    owner = "[data]"
    _check_keys(table, DATA_KEYS, owner)
    if "series" in table:
        return [_series_source(table)]
    stray = [key for key in table if key not in (*GENERATOR_KEYS, "path")]
    if stray:
        raise InputError(f"[data] gives '{stray[0]}' without 'series': it is a setting of a series "
                         "to ingest, so add series = \"FILE.csv\" or drop it.")
    if "path" in table and len(table) > 1:
        extra = sorted(set(table) - {"path"})
        raise InputError(f"[data] gives 'path' and '{extra[0]}': a path names a dataset made by "
                         "rnnbatch generate, so drop the generator settings or the path.")
    for key, value in table.items():
        _check(f"data.{key}", value, owner)
    if "path" in table:
        return [DataSource(path=table["path"])]
    sizes = {key: table.get(key, getattr(DataParams(), key)) for key in ("train", "test", "steps")}
    return [DataSource(DataParams(seed=s, **sizes), dir=table.get("dir", "data"))
            for s in _seed_list(table.get("seeds", [0]))]


def _series_source(table: dict) -> DataSource:
    """``[data] series = "FILE"``: ingested on the fly, with ingest's options as keys."""
    owner = "[data]"
    extra = [key for key in table if key not in SERIES_KEYS]
    if extra:
        raise InputError(f"[data] gives 'series' and '{extra[0]}': a series is cut into windows, "
                         f"not generated, so drop '{extra[0]}'. Its keys: {', '.join(SERIES_KEYS)}.")
    for key in ("series", "dir", "path"):
        if key in table:
            _check(f"data.{key}", table[key], owner)
    options = {key: table[key] for key in ingestmod.OPTIONS if key in table}
    for key, value in options.items():
        ingestmod.OPTIONS[key].check(value, owner)
    return DataSource(ingestmod.IngestParams(table["series"], **options),
                      dir=table.get("dir", "data"), path=table.get("path"))


@dataclass(frozen=True)
class _Experiment:
    """One experiment, checked and not yet expanded: each setting's values, and its seeds."""

    name: str
    choices: dict
    seeds: int | list

    @property
    def n_runs(self) -> int:
        n_seeds = self.seeds if _is_int(self.seeds) else len(self.seeds)
        return math.prod(len(values) for values in self.choices.values()) * n_seeds

    def configs(self):
        """Its configurations (at seed 0): the Cartesian product of the settings, in file order."""
        for combo in itertools.product(*self.choices.values()):
            settings = dict(zip(self.choices, combo))
            settingsmod.check_conflicts(settings, f"experiment '{self.name}'")
            yield TrainConfig(**settings)


def _experiment(name: str, experiment: dict, defaults: dict, owner: str) -> _Experiment:
    merged = {**DEFAULTS, **defaults, **experiment}
    if "model" not in merged:
        raise InputError(f"{owner} has no 'model'. Add model = one of {', '.join(MODELS)}.")
    choices = {}
    for key in SETTINGS:
        if key not in merged or key == "seeds":
            continue
        if merged[key] == []:  # an empty list would silently expand into no runs at all
            raise _fail(key, owner, f"{CHECKS[key][1]}, or a non-empty list of those", [])
        choices[key] = _choices(key, merged[key])
        for value in choices[key]:
            _check(key, value, owner)
    _check("seeds", merged["seeds"], owner)
    return _Experiment(name, choices, merged["seeds"])


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

    checked, names = [], set()
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
        checked.append(_experiment(name, experiment, defaults, owner))
    n_runs = len(sources) * sum(e.n_runs for e in checked)
    if n_runs > MAX_RUNS:  # before anything is expanded
        raise InputError(f"The grid {source} expands into {n_runs} runs; at most {MAX_RUNS} are "
                         "allowed. Split it into several grids or use fewer seeds.")
    # each configuration is checked once; its seeds share its settings
    configs = [(e, config) for e in checked for config in e.configs()]
    if sources[0].params is not None:  # the steps are known: check before any data is made
        check_fits([(e.name, config) for e, config in configs], sources[0].params.steps, source)
    return sources, [(e.name, config.with_seed(seed))
                     for e, config in configs for seed in _seed_list(e.seeds)]


def check_fits(configs, steps: int, source: str = "grid") -> None:
    """Layers must fit the model and the data: dense takes steps - 1 inputs, rnn starts with 1."""
    for name, config in configs:
        if not FAMILIES[config.model].trainable:
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
