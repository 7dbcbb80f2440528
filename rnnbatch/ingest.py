"""A real series cut into the train/test dataset that ``generate`` writes, so every model, grid
and report runs on it unchanged.

The series (one column of a CSV or Parquet file, read and checked by :mod:`rnnbatch.series`),
or its first differences, is cut into windows of ``steps`` values, ``stride`` values apart. The
latest ``test`` share of the windows are the test set; the windows before them that overlap the
first test window are left out, so no value of a test window, input or target, is inside any
training window. The scaling (:mod:`rnnbatch.scaling`) is fitted on the values the training
windows cover and applied to both.

The dataset id is a hash of the source file's bytes, the settings and the windows' content; the
source, its rows and time range, the scaling and the split are in the files' metadata. Each
setting is declared once, in :data:`OPTIONS`: the command's options, the grid's ``[data]`` keys,
their checks and messages derive from it.
"""

import dataclasses
import hashlib
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data, series as seriesmod
from .errors import InputError
from .scaling import Scaling
from .settings import fail, int_in, is_real

REACH = 0.05  # warn when more test targets than this share fall outside a tanh's (-1, 1)


def _name(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() != "")


@dataclass(frozen=True)
class Option:
    """One ingest setting: ``kind`` is what a command-line value is parsed as, ``metavar`` how
    the command's help shows it."""

    name: str
    default: object
    kind: type
    test: Callable
    expected: str
    help: str
    metavar: str | None = None

    def check(self, value, owner: str) -> None:
        if not self.test(value):
            raise fail(self.name, owner, self.expected, value)


OPTIONS = {o.name: o for o in (
    Option("column", None, str, _name, "a column name",
           "The series' column [default: the only one besides --time].", "NAME"),
    Option("time", None, str, _name, "a column name",
           "The time column: rows must be in strictly increasing time; gaps are warned about.",
           "NAME"),
    Option("steps", 51, int, *int_in(2, data.STEPS_MAX),
           "Values per window: steps - 1 inputs and one target."),
    Option("stride", 1, int, *int_in(1, data.STEPS_MAX),
           "Values from one window's start to the next's."),
    Option("test", 0.2, float, lambda v: is_real(v) and 0 < v < 1,
           "a float between 0 and 1 (both excluded)",
           "The share of windows, the latest, held out for testing."),
    Option("scale", 0.8, float, lambda v: is_real(v) and 0 < v <= 1, "a float > 0 and <= 1",
           "Scale the training part linearly onto [-scale, scale]."),
    Option("difference", False, bool, lambda v: isinstance(v, bool), "true or false",
           "Model the series' first differences (for a trending series)."),
    Option("fill", "none", str, lambda v: v in seriesmod.FILLS,
           "one of " + ", ".join(map(repr, seriesmod.FILLS)),
           "Missing values: refuse them, or interpolate them linearly.", "|".join(seriesmod.FILLS)),
)}


def _validate(params) -> None:
    if not (isinstance(params.series, str) and params.series.strip()):
        raise fail("series", "ingest", "a file name", params.series)
    for option in OPTIONS.values():
        value = getattr(params, option.name)
        option.check(value, "ingest")
        if option.kind is float:
            object.__setattr__(params, option.name, float(value))


IngestParams = dataclasses.make_dataclass(
    "IngestParams",
    [("series", str)] + [(o.name, o.kind, dataclasses.field(default=o.default))
                         for o in OPTIONS.values()],
    frozen=True,
    namespace={"__post_init__": _validate,
               "__doc__": "What ingest makes a dataset from: the series' file and the OPTIONS. "
                          "Invalid values raise the grid's one-line InputError."},
)
IngestParams.__module__ = __name__  # pickled by reference, for worker processes


def windows(n: int, steps: int, stride: int, test: float) -> tuple[range, range]:
    """The start of every training and every test window in a series of ``n`` values. Windows
    start every ``stride`` values; the last ``ceil(test * count)`` are the test windows; a
    training window ends before the first test window starts (those between are left out)."""
    count = (n - steps) // stride + 1 if n >= steps else 0
    first_test = (count - math.ceil(count * test)) * stride
    n_train = (first_test - steps) // stride + 1 if first_test >= steps else 0
    return range(0, n_train * stride, stride), range(first_test, count * stride, stride)


def shortest(steps: int, stride: int, test: float) -> int:
    """The fewest values that give a training and a test window (both counts grow with n)."""
    def enough(n):
        train, test_ = windows(n, steps, stride, test)
        return len(train) > 0 and len(test_) > 0
    high = 2 * steps
    while not enough(high):
        high *= 2
    low = high // 2  # not enough (or below 2 * steps, which never is)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def make(params: IngestParams) -> data.Dataset:
    """Read, check, cut and scale the series in memory."""
    source = seriesmod.read(params.series, params.column, params.time, params.fill)
    modelled = np.diff(source.values) if params.difference else source.values
    train_starts, test_starts = windows(len(modelled), params.steps, params.stride, params.test)
    what = f"{source.file} column '{source.column}'"
    if not (train_starts and test_starts):
        need = shortest(params.steps, params.stride, params.test) + params.difference
        raise InputError(f"{what} has {source.rows} values: too few for one training and one test "
                         f"window of {params.steps} (these options need at least {need}). Use a "
                         "smaller --steps, --stride or --test, or a longer series.")
    covered = modelled[:train_starts[-1] + params.steps]  # the values the training windows hold
    if covered.min() == covered.max():
        kind = "differences are" if params.difference else "training part is"
        fix = ("Leave out --difference: a straight line's differences are constant." if
               params.difference else "Choose a column that varies.")
        raise InputError(f"{what} is constant: its {kind} {covered[0]:g} throughout, so there is "
                         f"nothing to learn and no range to scale. {fix}")
    scaling = Scaling.fit(covered, params.scale, params.difference)
    cut = np.lib.stride_tricks.sliding_window_view(scaling.apply(modelled), params.steps)
    train = np.ascontiguousarray(cut[list(train_starts)])
    test = np.ascontiguousarray(cut[list(test_starts)])
    test_row = test_starts[0] + params.difference  # a difference belongs to its later row
    settings = {name: getattr(params, name) for name in OPTIONS} | {"column": source.column}
    provenance = {
        "ingest": settings,
        "source": {"file": source.file, "sha256": source.sha256, "rows": source.rows,
                   "first": source.times[0] if source.times else None,
                   "last": source.times[-1] if source.times else None, "filled": source.filled},
        "scaling": scaling.to_metadata(),
        "windows": {"train": len(train), "test": len(test),
                    "left_out": (test_starts[0] - train_starts[-1]) // params.stride - 1,
                    "test_from_row": test_row + 1,
                    "test_from": source.times[test_row] if source.times else None},
    }
    content = data.fingerprint(train, test)
    return data.Dataset(None, train, test, data.dataset_id(content, provenance), provenance)


def check_reach(ds: data.Dataset) -> None:
    """Warn when more than REACH of the test targets lie outside [-1, 1], beyond a tanh output."""
    beyond = float(np.mean(np.abs(ds.test[:, -1]) > 1))
    if beyond > REACH:
        fix = ("a smaller --scale, or readout = \"linear\"" if ds.provenance["ingest"]["difference"]
               else "--difference (a trending series leaves the range of its past)")
        warnings.warn(f"{beyond:.0%} of the test targets fall outside [-1, 1], beyond a tanh "
                      f"output's reach (the scaling is fitted on the training part). Try {fix}.",
                      stacklevel=2)


def ingest(out: str | Path, params: IngestParams, force: bool = False,
           made: data.Dataset | None = None) -> tuple[data.Dataset, bool]:
    """Make the dataset of ``params`` under ``out``; return it and whether anything was written.
    As :func:`rnnbatch.data.generate`: the same dataset again is a no-op, a different one there
    is refused unless ``force``. ``made``: the same dataset already made in memory."""
    ds = made if made is not None else make(params)
    kept, written = data.keep_or_write(out, lambda meta: meta.get("fingerprint") == ds.fingerprint,
                                       lambda: ds, force, "rnnbatch ingest --force")
    if written:
        check_reach(kept)
    return kept, written


def load_or_make(out: str | Path, params: IngestParams) -> tuple[data.Dataset, bool]:
    """The dataset of ``params`` and whether it is on disk: read from ``out`` if it holds it,
    else made in memory only (:func:`ingest` writes it)."""
    ds = make(params)
    if data.holds(out, lambda meta: meta.get("fingerprint") == ds.fingerprint):
        return data.load(out), True
    return ds, False


def location(params: IngestParams, directory: str | Path) -> Path:
    """Where a grid's ``[data] series`` lands without a ``path``: the file's stem and a hash of
    the file's name and the settings, so other settings never meet an existing dataset."""
    settings = json.dumps(dataclasses.asdict(params), sort_keys=True)
    return Path(directory) / f"{Path(params.series).name.split('.')[0]}-" \
                             f"{hashlib.sha256(settings.encode()).hexdigest()[:8]}"


def describe(ds: data.Dataset) -> str:
    """An ingested dataset in a few words: its windows, source and scaling."""
    p = ds.provenance
    source, scaling = p["source"], p["scaling"]
    span = f", {source['first']} to {source['last']}" if source["first"] is not None else ""
    filled = f", {source['filled']} filled" if source["filled"] else ""
    kind = "first differences" if scaling["difference"] else "values"
    return (f"{len(ds.train)} + {len(ds.test)} windows of {ds.train.shape[1]} from {source['file']} "
            f"column '{p['ingest']['column']}', {source['rows']} rows{span}{filled}; {kind} scaled "
            f"onto [-{scaling['bound']:g}, {scaling['bound']:g}], 1 scaled = "
            f"{scaling['unit']:.4g} in the series' units")
