"""Planning: a grid file becomes its datasets and its list of runs, validated before anything
is written; a shard of a plan is a deterministic slice of its runs; runs start longest
expected work first."""

from dataclasses import dataclass, field
from pathlib import Path

from . import data as datamod
from . import grid as gridmod
from . import ingest as ingestmod
from .errors import InputError
from .grid import DataSource, Run
from .models import FAMILIES


@dataclass
class Plan:
    runs: list[Run]
    datasets: dict  # DataSource -> Dataset
    unsaved: set = field(default_factory=set)  # sources made in memory only


def _makers(source: DataSource):
    """``write(out, params, made=)`` and ``load_or_make(out, params)`` for the source's kind."""
    if isinstance(source.params, ingestmod.IngestParams):
        return ingestmod.ingest, ingestmod.load_or_make
    return datamod.generate, datamod.load_or_make


def _dataset(source: DataSource, materialise: bool):
    """The source's dataset and whether it is on disk."""
    if source.params is None:
        return datamod.load(source.path), True
    write, load_or_make = _makers(source)
    if materialise:
        return write(source.location, source.params)[0], True
    return load_or_make(source.location, source.params)


def materialise(plan_: Plan) -> None:
    """Write the plan's datasets that exist only in memory, as ``rnnbatch generate`` or
    ``rnnbatch ingest`` would."""
    for source in sorted(plan_.unsaved, key=lambda s: str(s.location)):
        write, _ = _makers(source)
        write(source.location, source.params, made=plan_.datasets[source])
    plan_.unsaved.clear()


def plan(grid_path: str | Path, materialise: bool = True) -> Plan:
    """Validate the grid, get its datasets (writing missing ones unless ``materialise`` is
    False: then they are made in memory, and :func:`materialise` writes them) and list runs."""
    sources, configs = gridmod.read(grid_path)
    datasets, unsaved = {}, set()
    for source in sources:
        datasets[source], on_disk = _dataset(source, materialise)
        if not on_disk:
            unsaved.add(source)
    runs, seen = [], set()
    for source, dataset in datasets.items():
        steps = dataset.train.shape[1]
        if source.params is None or source.params.steps != steps:  # else the grid checked them
            gridmod.check_fits(configs, steps, str(grid_path))
        for experiment, config in configs:
            run = Run(experiment, config, source, dataset.dataset_id)
            if run.run_id not in seen:  # the same settings under two names run once
                seen.add(run.run_id)
                runs.append(run)
    return Plan(runs, datasets, unsaved)


def check_shard(shard: tuple[int, int] | None) -> None:
    if shard is None:
        return
    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and count >= 1 and 0 <= index < count):
        raise InputError(f"--shard must be I/N with 0 <= I < N. Got {index}/{count}.")


def shard_of(runs: list[Run], shard: tuple[int, int] | None) -> list[Run]:
    """Shard I of N (I from 0) takes every N-th run in run-id order: N shards cover each run once."""
    if shard is None:
        return runs
    check_shard(shard)
    index, count = shard
    chosen = {r.run_id for r in sorted(runs, key=lambda r: r.run_id)[index::count]}
    return [r for r in runs if r.run_id in chosen]


def expected_work(run: Run, dataset) -> int:
    """A run's work in multiply-adds, roughly: each epoch runs every training series through
    the net once forward and once back, each step touching every parameter (a dense net takes
    a series in one step). Baselines, fitted in one pass, count as none. Loss, bptt, batch and
    the optimizer change the constant, not the order of magnitude."""
    config, family = run.config, FAMILIES[run.config.model]
    if not family.trainable:
        return 0
    n_train, values = dataset.train.shape
    steps = values - 1 if family.recurrent else 1
    return config.epochs * n_train * steps * family.n_params(config.layers, config.bidirectional)


def longest_first(runs: list[Run], datasets: dict) -> list[Run]:
    """``runs`` in the order to start them: longest :func:`expected_work` first, so that the
    longest runs do not start last and leave cores idle at the end; equal work in plan order."""
    return sorted(runs, key=lambda run: -expected_work(run, datasets[run.source]))
