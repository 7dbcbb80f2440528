"""Atomic Parquet writes: readers see the old file or the new one, never half of one."""

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import OutputError


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a temp file in the same directory and ``os.replace``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"Cannot write to {path.parent}: {exc.strerror}. "
                          "Choose a writable output directory.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"Cannot write {path}: {exc.strerror}. Nothing was left half-written.") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
