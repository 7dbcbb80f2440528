"""Result files: one Parquet file per run, long format, in a hive-style directory.

Layout ``RESULTS/model=<model>/<run_id>.parquet`` (``model`` comes from the directory name, as
hive partitioning expects). One row per run x epoch; the run's settings repeat on every row and
``status`` is the run's final status. Provenance and the run's own record live in the schema
metadata, so a file can be checked for completeness on its own.
"""

import json
import platform
import shutil
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from . import __version__
from ._io import parquet_bytes, write_atomic
from .errors import InputError
from .grid import Run

RUN_KEY = b"rnnbatch.run"
SCHEMA = pa.schema([
    ("run_id", pa.string()), ("experiment", pa.string()), ("layers", pa.list_(pa.int64())),
    ("n_params", pa.int64()), ("lr", pa.float64()), ("init", pa.string()), ("shuffle", pa.bool_()),
    ("clip", pa.float64()), ("seed", pa.int64()), ("data_seed", pa.int64()),
    ("dataset_id", pa.string()), ("n_train", pa.int64()), ("n_test", pa.int64()),
    ("steps", pa.int64()), ("epoch", pa.int64()), ("train_mse", pa.float64()),
    ("test_mse", pa.float64()), ("epoch_seconds", pa.float64()), ("status", pa.string()),
])


def path_for(out: Path, run: Run) -> Path:
    return Path(out) / f"model={run.config.model}" / f"{run.run_id}.parquet"


def to_table(run: Run, dataset, result, started: float, ended: float) -> pa.Table:
    """The rows of one finished run, with provenance in the schema metadata."""
    c, n = run.config, len(result.test_mse)
    n_train, steps = dataset.train.shape
    tuned = c.model != "naive"  # the baseline has no settings: store nulls, not defaults
    columns = {
        "run_id": [run.run_id] * n, "experiment": [run.experiment] * n,
        "layers": [list(c.layers)] * n, "n_params": [result.n_params] * n,
        "lr": [c.lr if tuned else None] * n, "init": [c.init if tuned else None] * n,
        "shuffle": [c.shuffle if tuned else None] * n, "clip": [c.clip if tuned else None] * n,
        "seed": [c.seed] * n, "data_seed": [run.source.params.seed if run.source.params else -1] * n,
        "dataset_id": [run.dataset_id] * n, "n_train": [n_train] * n,
        "n_test": [len(dataset.test)] * n, "steps": [steps] * n, "epoch": list(range(1, n + 1)),
        "train_mse": result.train_mse, "test_mse": result.test_mse,
        "epoch_seconds": result.seconds, "status": [result.status] * n,
    }
    record = {"run_id": run.run_id, "rows": n, "status": result.status,
              "rnnbatch": __version__, "numpy": np.__version__, "numba": numba.__version__,
              "python": platform.python_version(), "host": platform.node(),
              "started": _iso(started), "ended": _iso(ended)}
    return pa.table(columns, schema=SCHEMA).replace_schema_metadata(
        {RUN_KEY: json.dumps(record, sort_keys=True)})


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
    """True when ``path`` holds the whole result of ``run_id``; raises ValueError when corrupt."""
    if not path.exists():
        return False
    try:
        meta = pq.read_metadata(path)
        record = json.loads(meta.schema.to_arrow_schema().metadata[RUN_KEY])
        rows = pq.read_table(path, columns=["run_id"]).num_rows
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    if record.get("run_id") != run_id or rows != record.get("rows") or rows != meta.num_rows:
        raise ValueError("incomplete or not this run's file")
    return True


def quarantine(out: Path, path: Path, reason: str) -> Path:
    """Move a corrupt result to ``out/.corrupt/<run_id>.<time>.parquet.corrupt`` (never delete
    it) and warn."""
    target_dir = Path(out) / ".corrupt"
    target_dir.mkdir(parents=True, exist_ok=True)
    # not ending in .parquet: globs such as results/*/*.parquet would read it as a result
    target = target_dir / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}{path.suffix}.corrupt"
    shutil.move(path, target)
    warnings.warn(f"{path} was {reason}; moved it to {target} and will rerun it.", stacklevel=2)
    return target


def read(out: str | Path) -> pa.Table:
    """All result files under ``out`` as one table (hidden files and folders are skipped)."""
    out = Path(out)
    if not out.is_dir() or not any(out.glob("model=*/*.parquet")):
        raise InputError(f"No results under {out}. Make some with: rnnbatch run GRID --out {out}")
    try:
        return pads.dataset(out, format="parquet", partitioning="hive").to_table()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"Cannot read the results under {out}: {str(exc).rstrip('.')}. Rerunning the grid with "
                         f"rnnbatch run GRID --out {out} moves a corrupt file aside and redoes "
                         "its run.") from None
