"""The course's synthetic series (RNNs Part 1), materialised as Parquet.

Each series is the course's ``generate_time_series`` verbatim::

    freq1, freq2, offsets1, offsets2 = rand(4)
    time = linspace(0, 1, n_steps)
    series = 0.5 * sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rand(n_steps) - 0.5)

drawn from one ``numpy.random.RandomState(seed)``: all train series first, then all test series,
so for the same seed the arrays equal, bit for bit, what the course's function returns after
``np.random.seed(seed)``. The first ``n_steps - 1`` values are a model's input, the last its target.

A dataset is a directory holding ``train.parquet`` and ``test.parquet``: one row per series
(``id``, ``values``), with its provenance (here the generator and its parameters; for a real
series, see :mod:`rnnbatch.ingest`) and its fingerprint (the dataset id results cite) in the
schema metadata.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._io import one_line, open_parquet, write_parquet_atomic
from .errors import DataError, InputError

GENERATOR = "rnn-course-part1/generate_time_series"
METADATA_KEY = b"rnnbatch.dataset"
SPLITS = ("train", "test")
PARAMS = ("seed", "train", "test", "steps")  # DataParams' fields, named as generate's options
OWN_DATASET = "use a dataset of your own (rnnbatch generate --out DIR)"
SEED_MAX = 2**32 - 1  # numpy's legacy RandomState, which draws the series, takes no larger seed
SERIES_MAX = 1_000_000  # train or test series in a dataset
STEPS_MAX = 10_000  # values a series (a dense net's first layer takes steps - 1 inputs)


@dataclass(frozen=True)
class DataParams:
    """What determines a dataset: the generator's seed and sizes."""

    seed: int = 0
    train: int = 7000
    test: int = 2000
    steps: int = 51

    def validate(self) -> None:
        for name, low in (("seed", 0), ("train", 1), ("test", 1), ("steps", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"The data '{name}' must be an int >= {low}. Got {value!r}.")
        if self.seed > SEED_MAX:
            raise InputError(f"The data 'seed' must be an int from 0 to {SEED_MAX}. Got {self.seed!r}.")


@dataclass(frozen=True)
class Dataset:
    """Train and test series, shape (n_series, steps), float64, C-contiguous. ``params``: the
    generator's, for the course's series (else None); ``provenance``: what made it, as its files
    record it ({} when they record nothing)."""

    params: DataParams | None
    train: np.ndarray
    test: np.ndarray
    fingerprint: str
    provenance: dict = field(default_factory=dict)

    @property
    def dataset_id(self) -> str:
        return self.fingerprint

    @property
    def source(self) -> str | None:
        """The real series it was cut from, as ``file:column`` (None for generated data)."""
        if "ingest" not in self.provenance:
            return None
        return f"{Path(self.provenance['source']['file']).name}:{self.provenance['ingest']['column']}"

    @property
    def unit(self) -> float | None:
        """Series units per unit of its values (see :mod:`rnnbatch.scaling`); None when its values
        are in no other units (generated data)."""
        return self.provenance["scaling"]["unit"] if "scaling" in self.provenance else None


def generate_time_series(n_steps: int, rng: np.random.RandomState) -> np.ndarray:
    """The course's function, drawing from ``rng`` instead of numpy's global state."""
    freq1, freq2, offsets1, offsets2 = rng.rand(4)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.rand(n_steps) - 0.5)
    return series


def fingerprint(train: np.ndarray, test: np.ndarray) -> str:
    """Content hash of both splits: equal arrays, equal id, whatever produced them."""
    digest = hashlib.sha256()
    for arr in (train, test):
        digest.update(np.asarray(arr.shape, dtype="<i8").tobytes())
        digest.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
    return digest.hexdigest()[:16]


def dataset_id(content: str, provenance: dict) -> str:
    """The id of a dataset of ``content`` (its :func:`fingerprint`): that fingerprint, or for an
    ingested series a hash of it with the source file's bytes and the ingest settings."""
    if "ingest" not in provenance:
        return content
    text = json.dumps({"source": provenance["source"]["sha256"], "ingest": provenance["ingest"],
                       "content": content}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_dataset(params: DataParams) -> Dataset:
    """Generate a dataset in memory."""
    params.validate()
    rng = np.random.RandomState(params.seed)
    train = np.stack([generate_time_series(params.steps, rng) for _ in range(params.train)])
    test = np.stack([generate_time_series(params.steps, rng) for _ in range(params.test)])
    provenance = {"generator": GENERATOR, "params": vars(params)}
    return Dataset(params, train, test, fingerprint(train, test), provenance)


def _split_table(ds: Dataset, split: str) -> pa.Table:
    values = getattr(ds, split)
    flat = pa.array(values.ravel(), type=pa.float64())
    table = pa.table({
        "id": pa.array(np.arange(len(values), dtype=np.int64)),
        "values": pa.FixedSizeListArray.from_arrays(flat, values.shape[1]),
    })
    meta = {**ds.provenance, "split": split, "fingerprint": ds.fingerprint}
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True)})


def _metadata(schema: pa.Schema) -> dict:
    """What a dataset file's schema records; {} when nothing readable (provenance only)."""
    try:
        meta = json.loads((schema.metadata or {}).get(METADATA_KEY, b"{}"))
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _stored_metadata(path: Path) -> dict:
    """What the dataset file at ``path`` records; {} when it is absent or damaged."""
    try:
        with open_parquet(path, OWN_DATASET) as parquet:
            return _metadata(parquet.schema_arrow)
    except (OSError, pa.ArrowException):
        return {}


def _holding(out: Path, recorded) -> list[bool]:
    """Per split, whether the file at ``out`` records what ``recorded(metadata)`` accepts."""
    return [recorded(_stored_metadata(Path(out) / f"{split}.parquet")) for split in SPLITS]


def holds(out: str | Path, recorded) -> bool:
    """Whether both files at ``out`` record what ``recorded(metadata)`` accepts."""
    return all(_holding(Path(out), recorded))


def _generated_by(params: DataParams):
    return lambda meta: meta.get("params") == vars(params)


def load_or_make(out: str | Path, params: DataParams) -> tuple[Dataset, bool]:
    """The dataset for ``params`` and whether it is on disk: read from ``out`` if it is there,
    else made in memory only (:func:`save` or :func:`generate` writes it)."""
    if holds(out, _generated_by(params)):
        return load(out), True
    return make_dataset(params), False


def generate(out: str | Path = "data", params: DataParams = DataParams(), force: bool = False,
             made: Dataset | None = None) -> tuple[Dataset, bool]:
    """Make the dataset for ``params`` under ``out``; return it and whether anything was written.

    The same parameters at an existing path are a no-op when its two files are one whole dataset.
    Different data there is refused unless ``force``. Each file is written atomically. ``made``
    is the same dataset already generated in memory (by :func:`load_or_make`), to write instead
    of drawing it again.
    """
    params.validate()
    return keep_or_write(out, _generated_by(params),
                         lambda: made if made is not None and made.params == params
                         else make_dataset(params), force, "rnnbatch generate --force")


def keep_or_write(out: str | Path, recorded, make, force: bool, remedy: str) -> tuple[Dataset, bool]:
    """The dataset at ``out`` when both its files record what ``recorded(metadata)`` accepts and
    it loads whole (nothing written); else ``make()``'s, written there, unless a file there holds
    another dataset and not ``force`` (then an InputError saying to run ``remedy``)."""
    out = Path(out)
    paths = [out / f"{split}.parquet" for split in SPLITS]
    same = _holding(out, recorded)
    if all(same):
        try:
            return load(out), False
        except DataError:
            if not force:  # its message says to make it again with --force
                raise
    # a file of the same dataset may be another process's half-finished write: complete it
    different = [p for p, ok in zip(paths, same) if p.exists() and not ok]
    if different and not force:
        raise InputError(f"{different[0]} holds a different dataset. Replace it with {remedy}, "
                         "or choose another directory.")
    ds = make()
    save(ds, out)
    return ds, True


def save(ds: Dataset, out: str | Path) -> None:
    """Write both splits of ``ds`` under ``out``, each atomically."""
    for split in SPLITS:
        write_parquet_atomic(_split_table(ds, split), Path(out) / f"{split}.parquet")


def _is_series_schema(schema: pa.Schema) -> bool:
    if "values" not in schema.names:
        return False
    kind = schema.field("values").type
    is_list = pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind)
    return is_list and pa.types.is_floating(kind.value_type)


def _read_split(path: Path, steps: int | None) -> tuple[np.ndarray, dict]:
    if not path.exists():
        raise DataError(f"Dataset file {path} does not exist. "
                        f"Make it with: rnnbatch generate --out {path.parent}")
    try:
        with open_parquet(path, OWN_DATASET) as parquet:
            table = parquet.read()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path} is not a readable Parquet file ({one_line(exc)}). "
                        "Regenerate it with rnnbatch generate --force.") from exc
    if not _is_series_schema(table.schema):
        raise DataError(f"{path} has the wrong schema: expected a 'values' column of float lists, "
                        f"got {table.schema.to_string(show_schema_metadata=False)!r}.")
    column = table.column("values").combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    expected = steps if steps is not None else (int(lengths[0]) if len(lengths) else 0)
    if len(lengths) == 0:
        raise DataError(f"{path} holds no series. Regenerate it with rnnbatch generate --force.")
    bad = np.flatnonzero(lengths != expected)
    if bad.size:
        raise DataError(f"{path} row {bad[0]}: series has {lengths[bad[0]]} values, "
                        f"expected {expected}.")
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    values = np.ascontiguousarray(values.reshape(len(lengths), expected))
    nonfinite = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if nonfinite.size:
        raise DataError(f"{path} row {nonfinite[0]}: series contains NaN or infinity.")
    return values, _metadata(table.schema)


def load(path: str | Path = "data") -> Dataset:
    """Read and validate the dataset directory ``path`` that :func:`generate` wrote."""
    path = Path(path)
    train, train_meta = _read_split(path / "train.parquet", None)
    test, test_meta = _read_split(path / "test.parquet", train.shape[1])
    provenance = {k: v for k, v in train_meta.items() if k not in ("split", "fingerprint")}
    try:
        own = dataset_id(fingerprint(train, test), provenance)
    except (KeyError, TypeError):  # provenance garbled: the values are fine, their origin unknown
        provenance, own = {}, fingerprint(train, test)
    _check_one_dataset(path, own, train_meta, test_meta)
    stored = provenance.get("params")
    params = DataParams(**{k: stored[k] for k in PARAMS if k in stored}) \
        if isinstance(stored, dict) else None
    return Dataset(params, train, test, own, provenance)


def _check_one_dataset(path: Path, own: str, train_meta: dict, test_meta: dict) -> None:
    """Every fingerprint the split files record must be the id their content and provenance
    give: a generate killed between its two files, or a file changed by hand, leaves a pair that
    is no one dataset."""
    train, test = train_meta.get("fingerprint"), test_meta.get("fingerprint")
    if all(recorded in (None, own) for recorded in (train, test)):
        return
    raise DataError(f"The dataset at {path} is torn or altered (as an interrupted generate leaves "
                    f"it): train.parquet records dataset {train or 'none'}, test.parquet "
                    f"{test or 'none'}, but together they hold {own}. Regenerate it with: "
                    f"{_remedy(path, train_meta if _made_by(train_meta) else test_meta)}")


def _made_by(meta: dict) -> bool:
    return "params" in meta or "ingest" in meta


def _remedy(path: Path, meta: dict) -> str:
    """The command that writes the dataset ``meta`` records at ``path`` again."""
    if "ingest" in meta:
        flags = "".join(f" --{k}" if v is True else f" --{k} {v}"
                        for k, v in meta["ingest"].items() if v not in (None, False))
        source = (meta.get("source") or {}).get("file", "SERIES")
        return f"rnnbatch ingest {source} --force --out {path}{flags}"
    params = meta.get("params") or {}
    return f"rnnbatch generate --force --out {path}" + "".join(
        f" --{k} {params[k]}" for k in PARAMS if k in params)
