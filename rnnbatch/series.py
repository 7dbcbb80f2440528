"""Reading one real series out of a CSV or Parquet file, checked value by value.

Every problem is one :class:`InputError` line naming the file, the row (data rows counted from
1, the header not counted) and how to fix it: a missing file, an unknown column (the closest
name suggested), a value that is not a number, a missing value (interpolated with
``fill="linear"``), times out of order or repeated. Values are parsed here, not by a reader's
type inference, so a bad value on row 100 000 is reported as surely as one on row 2.
"""

import difflib
import hashlib
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ._io import one_line
from .errors import InputError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSED = (".gz", ".bz2", ".zst")  # a CSV file may be compressed: data.csv.gz
FILLS = ("none", "linear")
GAP = 1.5  # a step this many times the usual spacing suggests missing rows


@dataclass(frozen=True)
class Series:
    """A column's values in file order (missing ones interpolated if asked), and where from."""

    values: np.ndarray
    file: str
    sha256: str
    column: str
    rows: int
    times: list | None  # the time column's values as text (ISO 8601 for times), if given
    filled: int  # values interpolated


def read(path: str | Path, column: str | None = None, time: str | None = None,
         fill: str = "none") -> Series:
    """The series in ``column`` of the CSV or Parquet file at ``path``; ``column`` may be left
    out when the file has one column besides ``time``. With ``time``, rows must be in strictly
    increasing time order; a gap in their spacing is warned about."""
    path = Path(path)
    content = _content(path)
    table = _table(path, content)
    column = _column(path, table, column, time, "--column")
    if time is not None:
        _column(path, table, time, None, "--time")
    values = _numbers(path, column, table.column(column).combine_chunks())
    times = _times(path, time, table.column(time).combine_chunks()) if time is not None else None
    values, filled = _filled(path, column, values, fill)
    return Series(values, str(path), hashlib.sha256(content).hexdigest(), column, len(values),
                  times, filled)


def _format(path: Path) -> str | None:
    """"csv" or "parquet" by the file's name; None for anything else."""
    suffix = path.suffix.lower()
    if suffix in COMPRESSED:
        return "csv" if Path(path.stem).suffix.lower() == ".csv" else None
    return FORMATS.get(suffix)


def _content(path: Path) -> bytes:
    if _format(path) is None:
        raise InputError(f"{path} is not a .csv or .parquet file. Give the series as CSV (a header "
                         "line, then a row per time; .csv.gz too) or Parquet.")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"Series file {path} does not exist. Check the path.") from None
    except PermissionError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}. Ask its owner to make it readable "
                         "(chmod g+r), or copy it.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}. Give the path of a file.") from None


def _table(path: Path, content: bytes) -> pa.Table:
    """Every column, as text for CSV (parsed below, row by row)."""
    kind = _format(path)
    try:
        if kind == "parquet":
            return pq.read_table(pa.BufferReader(content))
        stream = pa.BufferReader(content)
        if path.suffix.lower() in COMPRESSED:
            stream = pa.CompressedInputStream(stream, pa.Codec.detect(str(path)).name)
        # an empty line is a row: in a one-column file, a missing value, not nothing
        return pcsv.read_csv(stream, parse_options=pcsv.ParseOptions(ignore_empty_lines=False),
                             convert_options=pcsv.ConvertOptions(default_column_type=pa.string(),
                                                                 strings_can_be_null=True))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable {kind.upper() if kind == 'csv' else 'Parquet'} "
                         f"file ({one_line(exc)}). Fix the file, or export it again.") from None


def _column(path: Path, table: pa.Table, name: str | None, other: str | None, option: str) -> str:
    """``name`` checked against the file's columns; when None, the one column besides ``other``."""
    names = table.column_names
    if name is None:
        rest = [n for n in names if n != other]
        if len(rest) == 1:
            return rest[0]
        raise InputError(f"{path} has the columns {', '.join(names)}: choose the series with "
                         f"{option}.")
    if name in names:
        return name
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"Did you mean '{close[0]}'?" if close else f"Its columns: {', '.join(names)}."
    raise InputError(f"{path} has no column '{name}'. {hint}")


def _numbers(path: Path, column: str, cells: pa.Array) -> np.ndarray:
    """A column as float64, missing cells NaN; anything else that is not a finite number fails."""
    if pa.types.is_integer(cells.type) or pa.types.is_floating(cells.type) \
            or pa.types.is_decimal(cells.type):
        values = pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_string(cells.type) or pa.types.is_large_string(cells.type):
        values = _parsed(path, column, cells.to_pylist())
    else:
        raise InputError(f"{path} column '{column}' holds {cells.type} values, not numbers. Choose "
                         "the column of the series' values with --column.")
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        raise InputError(f"{path} column '{column}' row {infinite[0] + 1}: {values[infinite[0]]} is "
                         "not a finite number. Replace it, or leave the cell empty and use --fill "
                         "linear.")
    return values


def _parsed(path: Path, column: str, texts: list) -> np.ndarray:
    values = np.empty(len(texts))
    for row, text in enumerate(texts):
        try:
            values[row] = np.nan if text is None else float(text)
        except ValueError:
            raise InputError(f"{path} column '{column}' row {row + 1}: {text!r} is not a number. "
                             "Correct it (a plain number such as 316.1), or leave the cell empty "
                             "and use --fill linear.") from None
    return values


def _filled(path: Path, column: str, values: np.ndarray, fill: str) -> tuple[np.ndarray, int]:
    """``values`` with the missing ones interpolated linearly (``fill="linear"``), and how many."""
    missing = np.isnan(values)
    if not missing.any():
        return values, 0
    first = int(np.flatnonzero(missing)[0])
    count = int(missing.sum())
    if fill != "linear":
        raise InputError(f"{path} column '{column}' row {first + 1}: missing value ({count} in all). "
                         "Interpolate them with --fill linear, or remove those rows.")
    present = np.flatnonzero(~missing)
    if not present.size:
        raise InputError(f"{path} column '{column}' has no values. Choose the column of the "
                         "series' values with --column.")
    ends = [row for row in (first, int(np.flatnonzero(missing)[-1]))
            if row < present[0] or row > present[-1]]
    if ends:
        side = "before the first value" if ends[0] < present[0] else "after the last value"
        raise InputError(f"{path} column '{column}' row {ends[0] + 1}: missing value {side}, with "
                         f"nothing on that side to interpolate from. Remove the rows {side}.")
    filled = values.copy()
    filled[missing] = np.interp(np.flatnonzero(missing), present, values[present])
    return filled, count


def _times(path: Path, column: str, cells: pa.Array) -> list[str]:
    """The time column as text, after checking it is strictly increasing (and warning about a
    gap in its spacing)."""
    keys = _time_keys(path, column, cells)
    steps = np.diff(keys)
    texts = [str(v) for v in cells.to_pylist()]
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        row = int(bad[0]) + 1
        if steps[bad[0]] == 0:
            raise InputError(f"{path} column '{column}' row {row + 1}: time {texts[row]} repeats the "
                             "previous row's. Each time must appear once: remove or merge the "
                             "duplicate rows.")
        raise InputError(f"{path} column '{column}' row {row + 1}: time {texts[row]} comes before the "
                         f"previous row's ({texts[row - 1]}). The rows must be in time order: "
                         f"sort the file by '{column}'.")
    if steps.size:
        usual = float(np.median(steps))
        gaps = np.flatnonzero(steps > GAP * usual)
        if gaps.size:
            row = int(gaps[0]) + 1
            show = _span if pa.types.is_timestamp(_as_time(cells).type) else (lambda x: f"{x:g}")
            warnings.warn(f"{path} column '{column}' row {row + 1}: {show(steps[gaps[0]])} after "
                          f"the previous row, where the usual spacing is {show(usual)} "
                          f"({gaps.size} such gaps): rows may be missing, and the windows take "
                          "the values as evenly spaced.", stacklevel=3)
    return texts


def _as_time(cells: pa.Array) -> pa.Array:
    """Times and dates as timestamps; numbers as float64; text as timestamps if its first row is
    ISO 8601, else as numbers (ArrowInvalid when a row is not of that kind)."""
    if pa.types.is_timestamp(cells.type) or pa.types.is_date(cells.type):
        return pc.cast(cells, pa.timestamp("us"))
    if pa.types.is_integer(cells.type) or pa.types.is_floating(cells.type):
        return pc.cast(cells, pa.float64())
    return pc.cast(cells, _time_kind(cells[:1]))


def _time_kind(text: pa.Array) -> pa.DataType:
    """Timestamp if ``text`` parses as times, else float64."""
    try:
        pc.cast(text, pa.timestamp("us"))
        return pa.timestamp("us")
    except pa.ArrowException:
        return pa.float64()


def _time_keys(path: Path, column: str, cells: pa.Array) -> np.ndarray:
    missing = np.flatnonzero(cells.is_null().to_numpy(zero_copy_only=False))
    if missing.size:
        raise InputError(f"{path} column '{column}' row {missing[0] + 1}: missing time. Give every "
                         "row its time, or remove the row.")
    try:
        parsed = _as_time(cells)
    except pa.ArrowException:
        kind = _time_kind(cells[:1])
        row = next(i for i in range(len(cells)) if not _parses(cells[i:i + 1], kind))
        shape = ("neither a time (ISO 8601, such as 2001-12-29) nor a number" if row == 0 else
                 "not a time (ISO 8601) as the first row is" if pa.types.is_timestamp(kind) else
                 "not a number as the first row is")
        raise InputError(f"{path} column '{column}' row {row + 1}: {cells[row].as_py()!r} is "
                         f"{shape}. Correct it, or leave out --time.") from None
    if pa.types.is_timestamp(parsed.type):
        return parsed.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return parsed.to_numpy(zero_copy_only=False)


def _parses(text: pa.Array, kind: pa.DataType) -> bool:
    try:
        pc.cast(text, kind)
        return True
    except pa.ArrowException:
        return False


def _span(microseconds: float) -> str:
    return str(timedelta(microseconds=microseconds)).removesuffix(", 0:00:00")
