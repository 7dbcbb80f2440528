"""Parquet files shared between users and runs: atomic writes whose mode follows the umask, and
reads that tell a permission problem from a damaged file."""

import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError, OutputError


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet encoding of ``table`` (workers encode, the parent only writes bytes).
    Every page carries a checksum, so a damaged page fails to read instead of reading wrong."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, write_page_checksum=True)
    return sink.getvalue().to_pybytes()


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    write_atomic(parquet_bytes(table), path)


def write_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` through a synced temp file in the same directory and
    ``os.replace``: after a crash or power loss the file is whole or absent."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mode 0o666 as open() gives: the kernel applies the umask (or the directory's default
        # ACL), so a group-shared results or data directory stays readable by the group, where
        # tempfile.mkstemp would make every file 0o600
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        # mkdir(exist_ok=True) raises FileExistsError only where a file stands in for the folder
        reason = os.strerror(errno.ENOTDIR) if isinstance(exc, FileExistsError) else exc.strerror
        raise OutputError(f"Cannot write to {path.parent}: {reason}. "
                          "Choose a writable output directory.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"Cannot write {path}: {exc.strerror}. Nothing was left half-written.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def open_parquet(path: Path, otherwise: str):
    """``path`` as a ``pyarrow.parquet.ParquetFile`` whose reads verify page checksums. Lacking
    permission is an InputError saying so (``otherwise``: what to do besides asking the file's
    owner), since regenerating or rerunning cannot help; other failures propagate."""
    try:  # read in one go: pre-buffering (a background I/O thread) costs more than it saves
        parquet = pq.ParquetFile(path, page_checksum_verification=True, pre_buffer=False)
    except PermissionError as exc:
        raise permission_denied(path, exc, otherwise) from None
    with parquet:
        yield parquet


def permission_denied(path: Path, exc: PermissionError, otherwise: str) -> InputError:
    readable = "g+rx" if Path(path).is_dir() else "g+r"  # a folder is listed through its x bit
    return InputError(f"Cannot read {path}: {os.strerror(exc.errno)}. Ask its owner to make it "
                      f"readable (chmod {readable}), or {otherwise}.")


def one_line(exc: Exception) -> str:
    """An exception's message on one line (pyarrow's span several), to end a sentence in."""
    return " ".join(str(exc).split()).rstrip(".")
