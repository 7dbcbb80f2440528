"""Atomic Parquet writes: readers see the old file or the new one, never half of one."""

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import OutputError


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet encoding of ``table`` (workers encode, the parent only writes bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    write_atomic(parquet_bytes(table), path)


def write_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` through a synced temp file in the same directory and
    ``os.replace``: after a crash or power loss the file is whole or absent."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"Cannot write to {path.parent}: {exc.strerror}. "
                          "Choose a writable output directory.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"Cannot write {path}: {exc.strerror}. Nothing was left half-written.") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
