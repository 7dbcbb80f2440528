"""Result files: one Parquet file per run, long format, in a hive-style directory.

Layout ``RESULTS/model=<model>/<run_id>.parquet`` (``model`` comes from the directory name, as
hive partitioning expects). One row per run x epoch; the run's settings repeat on every row and
``status`` is the run's final status. Provenance and the run's own record live in the schema
metadata, so a file can be checked for completeness on its own.

A results directory is read only through the files rnnbatch wrote, each checked whole: copies,
notes, reports or damaged files beside them must not change the numbers.
"""

import functools
import json
import platform
import re
import shutil
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__, results_cache
from .backends import usable_cpus
from ._io import one_line, open_parquet, parquet_bytes, permission_denied, write_atomic
from .errors import InputError
from .grid import Run
from .saved import PARAMS_KEY, RUN_KEY, params_bytes
from .settings import SETTINGS
from .train import NET_SETTINGS
from .models import FAMILIES, MODELS

SCHEMA = pa.schema([
    ("run_id", pa.string()), ("experiment", pa.string()),
    *((s.name, s.column) for s in SETTINGS.values() if s.name != "model"),  # model: the folder
    ("n_params", pa.int64()), ("data_seed", pa.int64()), ("dataset_id", pa.string()),
    ("n_train", pa.int64()), ("n_test", pa.int64()), ("steps", pa.int64()),
    ("data_source", pa.string()), ("series_unit", pa.float64()),
    ("epoch", pa.int64()), ("train_mse", pa.float64()), ("test_mse", pa.float64()),
    ("epoch_seconds", pa.float64()), ("status", pa.string()),
])
# every file holds these (release 0.1.0's columns); a column added since is null in the files
# written before it (a setting's: the value those runs had)
REQUIRED = ("run_id", "experiment", "layers", "n_params", "lr", "init", "shuffle", "clip", "seed",
            "data_seed", "dataset_id", "n_train", "n_test", "steps", "epoch", "train_mse",
            "test_mse", "epoch_seconds", "status")
DATA_COLUMNS = ("data_source", "series_unit")  # added with real series: null in older files
DATASET_KEY = b"rnnbatch.dataset"  # the dataset's provenance, as its own files record it
READ_SCHEMA = SCHEMA.append(pa.field("model", pa.string()))  # what read returns: + the hive column
RUNS_KEY = b"rnnbatch.runs"  # read's table: every file's run record, a JSON list (provenance)
RESULT_NAME = re.compile(r"[0-9a-f]{16}\.parquet")
CONCAT_FILES = 500  # files' tables joined into a chunk at a time: thousands of small ones cost
# memory, and computing over a column of thousands of chunks is slow
OWN_RESULTS = "run the grid into a results directory of your own (rnnbatch run GRID --out DIR)"


def path_for(out: Path, run: Run) -> Path:
    return Path(out) / f"model={run.config.model}" / f"{run.run_id}.parquet"


def to_table(run: Run, dataset, result, started: float, ended: float) -> pa.Table:
    """The rows of one finished run, with provenance in the schema metadata."""
    c, n = run.config, len(result.test_mse)
    n_train, steps = dataset.train.shape
    columns = {"run_id": [run.run_id] * n, "experiment": [run.experiment] * n}
    for setting in SETTINGS.values():
        if setting.name != "model":
            columns[setting.name] = [_stored(c, setting)] * n
    columns |= {
        "n_params": [result.n_params] * n,
        "data_seed": [dataset.params.seed if dataset.params else None] * n,
        "dataset_id": [run.dataset_id] * n, "n_train": [n_train] * n,
        "n_test": [len(dataset.test)] * n, "steps": [steps] * n,
        "data_source": [dataset.source] * n, "series_unit": [dataset.unit] * n,
        "epoch": list(range(1, n + 1)),
        "train_mse": result.train_mse, "test_mse": result.test_mse,
        "epoch_seconds": result.seconds, "status": [result.status] * n,
    }
    record = {"run_id": run.run_id, "rows": n, "status": result.status, "model": c.model,
              "layers": list(c.layers), "reverse": c.reverse,
              **{name: getattr(c, name) for name in NET_SETTINGS},
              "rnnbatch": __version__, "numpy": np.__version__, "numba": numba.__version__,
              "python": platform.python_version(), "host": platform.node(),
              "started": _iso(started), "ended": _iso(ended), "resumed": result.resumed}
    metadata = {RUN_KEY: json.dumps(record, sort_keys=True),
                DATASET_KEY: json.dumps(dataset.provenance, sort_keys=True)}
    if result.params is not None:
        metadata[PARAMS_KEY] = params_bytes(c.model, c.layers, result.initial, result.params,
                                            c.bidirectional)
    return pa.table(columns, schema=SCHEMA).replace_schema_metadata(metadata)


def _stored(config, setting):
    """A setting as its column stores it: a baseline has no settings, so nulls, not defaults
    (but its layers are empty and its seed is its seed)."""
    value = getattr(config, setting.name)
    if not FAMILIES[config.model].takes(setting.name):
        return None
    return list(value) if isinstance(value, tuple) else value


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


encode = parquet_bytes  # a run's table as Parquet bytes: workers encode, the parent writes


def write(out: Path, run: Run, encoded: bytes) -> Path:
    """Write a run's Parquet bytes (from :func:`encode`) into place atomically."""
    path = path_for(out, run)
    write_atomic(encoded, path)
    return path


def clear_partial(out: Path, run: Run) -> None:
    """Remove temp files a killed writer left for ``run``; call only while holding its claim."""
    path = path_for(out, run)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def is_complete(path: Path, run_id: str) -> bool:
    """True when ``path`` holds the whole result of ``run_id``, False when there is no file;
    ValueError saying what is wrong otherwise (the runner then moves it aside and reruns it)."""
    if not path.exists():
        return False
    _checked(path, run_id)
    return True


def _checked(path: Path, run_id: str) -> tuple[pa.Table, dict]:
    """The rows of ``path`` as :data:`SCHEMA` and its run record, when the file is whole (every
    column and page read back), its run record and rows name ``run_id`` and their count is the
    record's; else ValueError with the reason, worded to follow "<path> was"."""
    try:
        with open_parquet(path, OWN_RESULTS) as parquet:
            table = parquet.read(use_threads=False)  # tiny files: read many at once instead
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"unreadable ({one_line(exc)})") from None
    record = _run_record(table.schema)
    names = table.schema.names
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ValueError(f"missing the columns {', '.join(missing)}")
    table = _with_newer_columns(table, names)
    if table.num_rows != record.get("rows"):
        raise ValueError(f"incomplete ({table.num_rows} of the {record.get('rows')} rows its "
                         "record states)")
    others = {record.get("run_id"), *pc.unique(table["run_id"]).to_pylist()} - {run_id}
    if others:
        named = ", ".join(sorted(map(str, others)))
        raise ValueError(f"not run {run_id}'s result (it names {named})")
    if table.schema.names != SCHEMA.names:
        table = table.select(SCHEMA.names)
    if not table.schema.equals(SCHEMA):  # as rnnbatch writes them, the columns need no cast
        try:
            table = table.cast(SCHEMA)
        except pa.ArrowException as exc:
            raise ValueError(f"with columns of the wrong type ({one_line(exc)})") from None
    return table, record


def _with_newer_columns(table: pa.Table, names: list[str]) -> pa.Table:
    """``table`` (whose columns are ``names``) with a column for each setting newer than its
    file: the value the run had (a baseline's settings are null, its ``lr`` among them); and
    the data columns newer than it null."""
    newer = [name for name in (*SETTINGS, *DATA_COLUMNS) if name not in names and name != "model"]
    trained = bool(newer) and table.num_rows > 0 and table["lr"][0].is_valid
    for name in newer:
        value = SETTINGS[name].value_before(table.num_rows) if trained and name in SETTINGS \
            else None
        field = SCHEMA.field(name)
        table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), table.num_rows))
    return table


def _unknown_data_null(table: pa.Table) -> pa.Table:
    """``table`` with the ``data_seed`` of -1 that older releases wrote for unknown data null."""
    seeds = table["data_seed"]
    return table.set_column(table.schema.get_field_index("data_seed"), "data_seed",
                            pc.if_else(pc.equal(seeds, -1), pa.scalar(None, seeds.type), seeds))


def _run_record(schema: pa.Schema) -> dict:
    try:
        record = json.loads((schema.metadata or {})[RUN_KEY])
    except (KeyError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise ValueError("missing its run record")
    return record


def quarantine(out: Path, path: Path, reason: str, then: str = "will rerun it") -> Path:
    """Move a corrupt result (or checkpoint) to ``out/.corrupt/<run_id>.<time>.parquet.corrupt``
    (``.npz.corrupt``; never delete it) and warn, saying what happens ``then``."""
    target_dir = Path(out) / ".corrupt"
    target_dir.mkdir(parents=True, exist_ok=True)
    # not ending in .parquet: globs such as results/*/*.parquet would read it as a result
    target = target_dir / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}{path.suffix}.corrupt"
    shutil.move(path, target)
    warnings.warn(f"{path} was {reason}; moved it to {target} and {then}.", stacklevel=2)
    return target


def read(out: str | Path) -> pa.Table:
    """Every result under ``out`` as one table of :data:`READ_SCHEMA`, its files' run records
    (their provenance) in its schema metadata under :data:`RUNS_KEY`. Only whole files at
    ``out/model=<model>/<run_id>.parquet`` of their own run are read; every other visible file or
    folder is skipped with a warning naming it, and hidden ones (claims, checkpoints,
    quarantined files, writers' temp files, the read cache) silently. Files unchanged since a
    read cached them come from ``out/.cache`` (see :mod:`rnnbatch.results_cache`)."""
    out = Path(out)
    table, records = results_cache.read(out, _result_files(out), functools.partial(_read_all, out),
                                        READ_SCHEMA)
    if not records:
        raise InputError(f"No results under {out}. Make some with: rnnbatch run GRID --out {out}")
    return table.replace_schema_metadata({RUNS_KEY: json.dumps(records)})


def _read_all(out: Path, files: list[tuple[Path, str]]) -> tuple[pa.Table, list]:
    """The rows of the whole ones of ``files`` ((path, model) in order) as one table of
    :data:`READ_SCHEMA`, and a (run record, rows) per file, or None for a file skipped with a
    warning saying why."""
    parts, tables, models, got = [], [], [], []
    for (path, model), checked in zip(files, _each_checked(files)):
        if isinstance(checked, ValueError):
            _ignore(path, f"{checked}. Rerun its grid (rnnbatch run GRID --out {out}) to redo it, "
                          f"or move it out of {out}")
            got.append(None)
            continue
        table, record = checked
        tables.append(table)
        got.append((record, table.num_rows))
        models += [model] * table.num_rows
        if len(tables) == CONCAT_FILES:
            parts.append(pa.concat_tables(tables).combine_chunks())
            tables.clear()
    if tables:
        parts.append(pa.concat_tables(tables).combine_chunks())
    table = _unknown_data_null(pa.concat_tables(parts) if parts else SCHEMA.empty_table())
    table = table.append_column(READ_SCHEMA.field("model"), pa.array(models, pa.string()))
    # the schema's own names too (a list's item: files name it "element")
    return table.cast(READ_SCHEMA), got


def _each_checked(files: list[tuple[Path, str]]):
    """Each file's :func:`_checked` table and record, or the ValueError saying what is wrong,
    in order. pyarrow reads without holding the GIL, so threads read files side by side."""
    def check(path_model):
        path, _ = path_model
        try:
            return _checked(path, path.stem)
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(usable_cpus()) as pool:
        yield from pool.map(check, files)


def _result_files(out: Path) -> list[tuple[Path, str]]:
    """(path, model) of each file under ``out`` named as a result of one model."""
    named = list(_named_as_results(out))
    # a run id hashes its model too: the same name under two model= folders is a copy
    folders = Counter(path.name for path, _ in named)
    for path, _ in named:
        if folders[path.name] > 1:
            _ignore(path, f"run {path.stem} is under more than one model= folder, so all but one "
                          f"are copies. Move the copies out of {out}")
    return [(path, model) for path, model in named if folders[path.name] == 1]


def _named_as_results(out: Path):
    """(path, model) of each visible file at ``out/model=<model>/<run_id>.parquet``; warns about
    every other visible file or folder."""
    stray = (f"not a result file (rnnbatch reads only {out}/model=<model>/<run id>.parquet). "
             f"Move it out of {out} to silence this warning")
    for entry in _visible(out) if out.is_dir() else []:
        model = entry.name.removeprefix("model=")
        if not (entry.name.startswith("model=") and model in MODELS and entry.is_dir()):
            _ignore(entry, stray)
            continue
        for path in _visible(entry):
            if RESULT_NAME.fullmatch(path.name) and path.is_file():
                yield path, model
            else:
                _ignore(path, stray)


def _visible(directory: Path) -> list[Path]:
    try:
        # by name: the same order as by path within one folder, and far quicker for thousands
        return sorted((p for p in directory.iterdir() if not p.name.startswith(".")),
                      key=lambda p: p.name)
    except PermissionError as exc:
        raise permission_denied(directory, exc, OWN_RESULTS) from None


def _ignore(path: Path, why: str) -> None:
    warnings.warn(f"Ignored {path}: {why}.")
