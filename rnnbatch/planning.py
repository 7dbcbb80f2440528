"""Planning: a grid file becomes its datasets and its list of runs, validated before anything
is written; a shard of a plan is a deterministic slice of its runs."""

from dataclasses import dataclass, field
from pathlib import Path

from . import data as datamod
from . import grid as gridmod
from .errors import InputError
from .grid import DataSource, Run


@dataclass
class Plan:
    runs: list[Run]
    datasets: dict  # DataSource -> Dataset
    unsaved: set = field(default_factory=set)  # generated sources made in memory only


def _dataset(source: DataSource, materialise: bool):
    """The source's dataset and whether it is on disk."""
    if source.path is not None:
        return datamod.load(source.path), True
    if materialise:
        return datamod.generate(source.location, source.params)[0], True
    return datamod.load_or_make(source.location, source.params)


def materialise(plan_: Plan) -> None:
    """Write the plan's datasets that exist only in memory, as ``rnnbatch generate`` would."""
    for source in sorted(plan_.unsaved, key=lambda s: str(s.location)):
        datamod.generate(source.location, source.params, made=plan_.datasets[source])
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
        if source.path is not None:  # generated data has the steps the grid was checked for
            gridmod.check_fits(configs, dataset.train.shape[1], str(grid_path))
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
