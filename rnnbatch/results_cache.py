"""A cache of the checked result files, so that reading thousands of them again opens none.

``RESULTS/.cache/read.arrow`` (hidden: out of every reader's glob) holds the rows
:func:`rnnbatch.results.read` took from the whole result files it read, in its order, and for
each file its name, the size, mtime, ctime and inode it had when it was listed, its row count
and its run record. A file's rows come from the cache only while all of these still match, so
a new, replaced (a new inode), rewritten (a new ctime), removed or quarantined file is read
afresh. A file changed within :data:`RACY_NS` of its listing may change again within one tick
of its timestamps without showing it (git's "racily clean" files): it is kept but not trusted,
and read afresh until it has been still for that long. Damaged or foreign files are never
cached: they are checked, and warned about, every time.

The cache is a copy, never the truth: one that cannot be read (damaged, another version's) is
ignored and rewritten, one that cannot be written (a read-only results directory, a full disk)
is not written, and deleting it costs only time. It is written atomically; two readers at once
each write a whole cache of what they read, and the last one stays.
"""

import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from . import __version__
from ._io import write_atomic
from .errors import OutputError

FOLDER, NAME = ".cache", "read.arrow"
FORMAT = 1  # of the file, and of what results.read makes of a result file: bump it when that
# changes (a cache of another format, rnnbatch version or schema is rebuilt)
META_KEY = b"rnnbatch.cache"
RACY_NS = 2_000_000_000  # coarser than any file system's timestamps (FAT's are 2 s)
CRC_BYTES = 4  # the file ends in the CRC-32 of what precedes it: Arrow checks no data
LEFTOVER_S = 600  # a writer's temp file this old is one a killed process left


@dataclass(frozen=True)
class Entry:
    """A file as cached: ``name`` relative to the results directory, ``key`` its stat when read
    (None: changed too recently to trust), its ``rows`` and run ``record``."""

    name: str
    key: tuple | None
    rows: int
    record: dict


def read(out: Path, files: list[tuple[Path, str]], read_fresh, schema: pa.Schema
         ) -> tuple[pa.Table, list[dict]]:
    """The rows (of ``schema``) of ``files`` ((path, model) of the result files under ``out``,
    in order) and the run records of those that are whole, as ``read_fresh(files)`` gives them:
    ``(table, got)``, ``got`` a ``(record, rows)`` per file or None for one it skipped. Files
    the cache holds unchanged are taken from it, the others read with ``read_fresh``; the cache
    is rewritten when what it should hold changed."""
    listed = time.time_ns()
    cached_table, cached = _load(out, schema)
    names = [f"{path.parent.name}/{path.name}" for path, _ in files]  # out/model=<model>/<name>
    keys = [_key(path) for path, _ in files]
    hits = [_hit(cached.get(name), key, path) for name, key, (path, _) in zip(names, keys, files)]
    fresh_table, got = read_fresh([file for file, hit in zip(files, hits) if hit is None])
    fresh = iter(got)

    entries, pieces, read_afresh, offset = [], [], 0, 0
    for name, key, hit in zip(names, keys, hits):
        if hit is not None:
            pieces.append((cached_table, hit.offset, hit.entry.rows))
            entries.append(hit.entry)
            continue
        done = next(fresh)
        if done is None:
            continue
        record, rows = done
        trusted = key is not None and max(key[1], key[2]) < listed - RACY_NS
        entries.append(Entry(name, key if trusted else None, rows, record))
        pieces.append((fresh_table, offset, rows))
        offset += rows
        read_afresh += 1

    table = _joined(pieces, fresh_table)
    if read_afresh or len(entries) != len(cached):
        _save(out, table, entries)
    return table, [e.record for e in entries]


def _key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:  # gone since it was listed: reading it says so
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


@dataclass(frozen=True)
class _Cached:
    entry: Entry
    offset: int  # of its rows in the cached table


def _hit(cached: _Cached | None, key: tuple | None, path: Path) -> _Cached | None:
    """A file's cache entry when the file is still as it was then and this user may read it
    (else it is read afresh, and a permission problem said as such)."""
    if cached is not None and key is not None and cached.entry.key == key \
            and os.access(path, os.R_OK):
        return cached
    return None


def _joined(pieces: list[tuple[pa.Table, int, int]], empty: pa.Table) -> pa.Table:
    """The slices ``(table, offset, rows)`` in order as one table, neighbouring ones of one
    table sliced as one."""
    runs: list[list] = []
    for table, offset, rows in pieces:
        if runs and runs[-1][0] is table and runs[-1][1] + runs[-1][2] == offset:
            runs[-1][2] += rows
        else:
            runs.append([table, offset, rows])
    if len(runs) == 1 and runs[0][1] == 0 and runs[0][2] == runs[0][0].num_rows:
        return runs[0][0]
    return pa.concat_tables([t.slice(o, n) for t, o, n in runs] or [empty.slice(0, 0)])


def _load(out: Path, schema: pa.Schema) -> tuple[pa.Table | None, dict[str, _Cached]]:
    """The cached table and its entries by name; nothing when there is no usable cache."""
    path = Path(out) / FOLDER / NAME
    try:
        raw = path.read_bytes()
        body = memoryview(raw)[:-CRC_BYTES]
        if zlib.crc32(body).to_bytes(CRC_BYTES, "big") != raw[-CRC_BYTES:]:
            return None, {}
        table = ipc.open_file(pa.py_buffer(body)).read_all()
        meta = json.loads(table.schema.metadata[META_KEY])
        table = table.replace_schema_metadata(None)
        if meta["format"] != FORMAT or meta["rnnbatch"] != __version__ \
                or not table.schema.equals(schema):
            return None, {}
        cached, offset = {}, 0
        for name, key, rows, record in meta["files"]:
            entry = Entry(name, tuple(key) if key is not None else None, rows, record)
            cached[name] = _Cached(entry, offset)
            offset += rows
        if offset != table.num_rows:
            return None, {}
        return table, cached
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None, {}


def _save(out: Path, table: pa.Table, entries: list[Entry]) -> None:
    """Write the cache of ``entries`` (their rows in order: ``table``), or nothing if it
    cannot be written."""
    meta = {"format": FORMAT, "rnnbatch": __version__,
            "files": [[e.name, e.key, e.rows, e.record] for e in entries]}
    sink = pa.BufferOutputStream()
    # lz4: a tenth the size of the rows in memory, and faster to read than Parquet
    with ipc.new_file(sink, table.schema.with_metadata({META_KEY: json.dumps(meta)}),
                      options=ipc.IpcWriteOptions(compression="lz4")) as writer:
        writer.write_table(table)
    body = sink.getvalue()
    folder = Path(out) / FOLDER
    _remove_leftovers(folder)
    try:
        write_atomic(b"".join([body, zlib.crc32(body).to_bytes(CRC_BYTES, "big")]), folder / NAME)
    except OutputError:
        pass


def _remove_leftovers(folder: Path) -> None:
    """Remove temp files that writers killed mid-write left (a live one is seconds old)."""
    try:
        for leftover in folder.glob(f".{NAME}.*.tmp"):
            if leftover.stat().st_mtime < time.time() - LEFTOVER_S:
                leftover.unlink()
    except OSError:
        pass
