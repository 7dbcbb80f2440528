"""Aggregate result files into tidy tables (pyarrow): one summary row per configuration, its
curves and the runs' provenance. Nothing here renders; render.py (text, markdown, csv, json),
html_report.py and plot.py read these tables.

A configuration is an experiment's settings (all but the seed, as declared in settings.py) on
one dataset. Its summary columns are declared once, in :data:`SUMMARY`: name, type and how the
value follows from the configuration's measurements (a :class:`Config`), so a new column is one
declaration. Its curves hold, per epoch and metric, the seeds' mean, std, min, max and count.
Where a configuration is one the course states a figure for, the figure stands beside the
measurement with whether it was met, and if not, the first epoch where the seed-mean curve
reaches it. Aggregation is pyarrow compute; pandas is not needed.
"""

import difflib
import functools
import json
import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from . import scaling
from .errors import InputError
from .models import FAMILIES
from .results import RUNS_KEY
from .settings import SETTINGS, TUNABLE

SETTING_KEYS = [s.name for s in TUNABLE if s.name != "layers"]  # layers are grouped as layers_key
DATA_KEYS = ["dataset_id", "n_train", "n_test", "steps"]
SOURCE_KEYS = ["data_source", "series_unit"]  # an ingested series' (null for generated data)
CONFIG_KEYS = ["experiment", "model", "layers_key", *SETTING_KEYS, *DATA_KEYS, *SOURCE_KEYS]
METRICS = ("test_mse", "train_mse", "epoch_seconds")  # each has a curve
COURSE_DATA = (7000, 2000, 51)  # the course's figures are for its own data sizes
APPROX_TOLERANCE = 0.10  # "about x" is met at most 10 % above x (a lower error is better)
NAIVE = "naive"  # the course's baseline: skill is measured against it, on the same dataset
BASELINES = [name for name, family in FAMILIES.items() if not family.trainable]
NOISE_FLOOR = 0.1 ** 2 / 12  # the course generator's jitter, 0.1 * U(-0.5, 0.5): unpredictable
PROVENANCE = ("run_id", "host", "rnnbatch", "numpy", "numba", "python", "started", "ended")


@dataclass(frozen=True)
class CourseFigure:
    """A figure the course states: ``op`` is "≈" (about) or "≤" (at most), at ``epoch`` if said."""

    model: str
    layers: str
    lr: float | None
    op: str
    value: float
    epoch: int | None
    source: str

    def met(self, mse: float) -> bool:
        bound = self.value * (1 + APPROX_TOLERANCE) if self.op == "≈" else self.value
        return mse <= bound

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}" + (f" @ {self.epoch}" if self.epoch else "")


COURSE_FIGURES = [
    CourseFigure(NAIVE, "", None, "≈", 0.02, None, "Part 1: naive guess"),
    CourseFigure("dense", "50-1", 0.1, "≈", 0.005, None, "Part 1: perceptron, many epochs"),
    CourseFigure("rnn", "1-1", 0.01, "≈", 0.011, None, "Part 1: one node, a few epochs"),
    CourseFigure("rnn", "1-6-1", 0.01, "≤", 0.0036, 24, "Part 2: a couple dozen epochs"),
    CourseFigure("rnn", "1-20-20-1", 0.01, "≤", 0.0026, 100, "Part 2: about 100 epochs"),
]


def course_figure(model: str, layers_key: str, lr: float, init: str) -> CourseFigure | None:
    for fig in COURSE_FIGURES:
        if fig.model == model and fig.layers == layers_key and (fig.lr is None or (
                fig.lr == lr and init == "scaled")):
            return fig
    return None


@dataclass(frozen=True)
class Config:
    """One configuration's measurements, from which its summary columns follow: ``keys`` its
    CONFIG_KEYS; ``final`` over its seeds at the compared epoch (seeds, mean, std, min, max,
    epoch); ``runs`` over all its rows (n_params, seconds, seconds_per_epoch, diverged,
    data_seed); ``curves`` each metric's (epoch, seed mean, seed std) by epoch; ``naive`` the
    naive baseline's test MSE on its dataset; ``epoch`` and ``target`` the report's options."""

    keys: dict
    final: dict
    runs: dict
    curves: dict
    naive: float | None
    epoch: int | None
    target: float | None

    @functools.cached_property
    def points(self) -> list[tuple[int, float]]:
        """The seed-mean test MSE by epoch, where it is a number."""
        return [(e, m) for e, m, _ in self.curves["test_mse"] if not math.isnan(m)]

    @functools.cached_property
    def best(self) -> tuple[int | None, float | None]:
        return min(self.points, key=lambda p: p[1]) if self.points else (None, None)

    @property
    def generated(self) -> bool:
        """Whether its dataset is the course generator's (an ingested one records no data
        seed)."""
        return self.runs["data_seed"] is not None and self.runs["data_seed"] >= 0

    @functools.cached_property
    def figure(self) -> CourseFigure | None:
        k = self.keys
        if not self.generated or (k["n_train"], k["n_test"], k["steps"]) != COURSE_DATA:
            return None
        return course_figure(k["model"], k["layers_key"], k["lr"], k["init"])

    @property
    def course_epoch(self) -> int | None:
        """The epoch a course figure is judged at: its stated one, unless --epoch says."""
        if self.figure is None:
            return None
        stated = self.figure.epoch is not None and self.epoch is None
        return self.figure.epoch if stated else self.final["epoch"]

    def curve_at(self, metric: str, epoch: int | None, part: int = 1) -> float | None:
        return next((point[part] for point in self.curves[metric] if point[0] == epoch), None)

    @property
    def course_met(self) -> bool | None:
        if self.figure is None:
            return None
        measured = self.curve_at("test_mse", self.course_epoch)
        return measured is not None and self.figure.met(measured)

    def first_epoch(self, reached: Callable[[float], bool]) -> int | None:
        return next((e for e, m in self.points if reached(m)), None)

    @property
    def target_epoch(self) -> int | None:
        return self.first_epoch(lambda m: m <= self.target)

    @property
    def target_seconds(self) -> float | None:
        """Training seconds until the target: the seed-mean epoch times, summed up to it."""
        until = self.target_epoch
        return None if until is None else sum(
            m for e, m, _ in self.curves["epoch_seconds"] if e <= until)

    @property
    def skill(self) -> float | None:
        mean = self.final["mean"]
        if not self.naive or mean is None or math.isnan(mean):
            return None
        return 1 - mean / self.naive


@dataclass(frozen=True)
class Column:
    """A summary column: ``value(config)`` gives a configuration's value; ``with_target``: only
    when a target MSE is given."""

    name: str
    type: pa.DataType
    value: Callable[[Config], object]
    doc: str
    with_target: bool = False


def _key(name: str) -> Callable[[Config], object]:
    return lambda c: c.keys[name]


SUMMARY = [
    Column("experiment", pa.string(), _key("experiment"), "the experiment it first ran under"),
    Column("model", pa.string(), _key("model"), "the model family"),
    Column("layers", pa.string(), _key("layers_key"), "layer sizes, 1-6-1 ('' for a baseline)"),
    Column("params", pa.int64(), lambda c: c.runs["n_params"], "weights and biases"),
    *(Column(name, SETTINGS[name].column, _key(name), SETTINGS[name].help)
      for name in SETTING_KEYS),
    Column("dataset", pa.string(), _key("dataset_id"), "the dataset id"),
    Column("source", pa.string(), _key("data_source"),
           "an ingested series' file and column (null: generated)"),
    *(Column(name, pa.int64(), _key(name), "the dataset's size") for name in DATA_KEYS[1:]),
    Column("generated", pa.bool_(), lambda c: c.generated,
           "the dataset is the course generator's (rnnbatch generate)"),
    Column("seeds", pa.int64(), lambda c: c.final["seeds"], "init seeds"),
    Column("epoch", pa.int64(), lambda c: c.final["epoch"],
           "the epoch compared (the last, or --epoch)"),
    *(Column(f"test_mse_{stat}", pa.float64(), (lambda c, stat=stat: c.final[stat]),
             f"test MSE at the compared epoch: {doc} over seeds")
      for stat, doc in (("mean", "mean"), ("std", "sample std"), ("min", "min"), ("max", "max"))),
    Column("test_rmse", pa.float64(),
           lambda c: scaling.rmse(c.final["mean"], c.keys["series_unit"]),
           "an ingested series': √(test MSE mean) in the series' own units"),
    Column("best_mse", pa.float64(), lambda c: c.best[1], "the lowest seed-mean test MSE"),
    Column("best_epoch", pa.int64(), lambda c: c.best[0], "its epoch"),
    Column("skill", pa.float64(), lambda c: c.skill,
           "1 - test MSE mean / the naive baseline's on the same dataset"),
    Column("naive_mse", pa.float64(), lambda c: c.naive,
           "the naive baseline's test MSE on the same dataset"),
    Column("seconds_per_epoch", pa.float64(), lambda c: c.runs["seconds_per_epoch"],
           "mean wall time of an epoch"),
    Column("train_seconds", pa.float64(), lambda c: c.runs["seconds"],
           "wall time of every epoch of every seed"),
    Column("diverged", pa.int64(), lambda c: c.runs["diverged"], "runs that diverged"),
    Column("target", pa.float64(), lambda c: c.target, "the target test MSE (--target)", True),
    Column("target_epoch", pa.int64(), lambda c: c.target_epoch,
           "the first epoch whose seed-mean test MSE is at most the target", True),
    Column("target_seconds", pa.float64(), lambda c: c.target_seconds,
           "the seed-mean training seconds up to that epoch", True),
    Column("course", pa.string(), lambda c: str(c.figure) if c.figure else None,
           "the figure the course states for this configuration"),
    Column("course_value", pa.float64(), lambda c: c.figure.value if c.figure else None,
           "its value"),
    Column("course_epoch", pa.int64(), lambda c: c.course_epoch, "the epoch it is judged at"),
    Column("course_mean", pa.float64(), lambda c: c.curve_at("test_mse", c.course_epoch),
           "the seed-mean test MSE there"),
    Column("course_std", pa.float64(), lambda c: c.curve_at("test_mse", c.course_epoch, 2),
           "the seeds' sample std there"),
    Column("course_met", pa.bool_(), lambda c: c.course_met, "whether the figure was met"),
    Column("course_reached_at", pa.int64(),
           lambda c: c.first_epoch(c.figure.met) if c.figure else None,
           "the first epoch whose seed-mean test MSE meets the figure"),
]


@dataclass(frozen=True)
class Report:
    """``summary``: a row per configuration (``config``, then :data:`SUMMARY`'s columns);
    ``curves``: a row per configuration, metric and epoch (the seeds' mean, std, min, max and
    count); ``baselines``: a row per dataset and baseline family (its test and train MSE),
    kept whatever :func:`select` chooses, as a reference; ``provenance``: a row per run
    (:data:`PROVENANCE`); the options it was made with."""

    summary: pa.Table
    curves: pa.Table
    baselines: pa.Table
    provenance: pa.Table
    epoch: int | None = None
    target: float | None = None

    def rows(self) -> list[dict]:
        return self.summary.to_pylist()

    def curve(self, config: int, metric: str) -> pa.Table:
        """One configuration's curve of ``metric``, by epoch."""
        mask = pc.and_(pc.equal(self.curves["config"], config), pc.equal(self.curves["metric"], metric))
        return self.curves.filter(mask)


def _with_keys(table: pa.Table) -> pa.Table:
    # "1-6-1", "" for a baseline's empty (or null) layers
    layers = pc.fill_null(pc.binary_join(pc.cast(table["layers"], pa.list_(pa.string())), "-"), "")
    table = table.append_column("layers_key", layers).drop_columns("layers")
    return table.set_column(table.schema.get_field_index("model"), "model",
                            pc.cast(table.column("model"), pa.string()))


def _order(keys: dict) -> tuple:
    """Configurations sort by experiment, layers, lr (the baseline's, None, first), model, then
    every other setting and the dataset."""
    layers = [int(n) for n in keys["layers_key"].split("-")] if keys["layers_key"] else []
    rest = tuple((keys[k] is not None, keys[k] if keys[k] is not None else 0)
                 for k in SETTING_KEYS + DATA_KEYS)
    return (keys["experiment"], layers, keys["lr"] is not None, keys["lr"] or 0.0, keys["model"],
            rest)


def _by_config(table: pa.Table, aggregations: list) -> dict[int, dict]:
    grouped = table.group_by("config", use_threads=False).aggregate(aggregations)
    return {row.pop("config"): row for row in grouped.to_pylist()}


def summarise(table: pa.Table, epoch: int | None = None, target: float | None = None) -> Report:
    """The report of result rows (as :func:`rnnbatch.results.read` returns them), comparing
    configurations at ``epoch`` (default: each run's last) and, given ``target``, when their
    seed mean reaches that test MSE."""
    records = json.loads((table.schema.metadata or {}).get(RUNS_KEY, b"[]"))
    # a fixed row order and single-threaded grouping: float sums, so the same results give
    # the same report to the last bit whatever order the files were read in
    table = _with_keys(table).sort_by([("run_id", "ascending"), ("epoch", "ascending")])
    last = table.group_by("run_id", use_threads=False).aggregate([("epoch", "max")])
    table = table.append_column("epoch_max", pc.take(
        last["epoch_max"], pc.index_in(table["run_id"], value_set=last["run_id"])))
    final = table.filter(pc.equal(table["epoch"], epoch if epoch is not None else table["epoch_max"]))
    if epoch is not None and final.num_rows == 0:
        raise InputError(f"No run reached epoch {epoch}. Choose an --epoch within the runs' epochs.")

    # number the configurations that have a final row, in their order; their rows get the number
    runs = final.group_by(["run_id", *CONFIG_KEYS], use_threads=False).aggregate([]).to_pylist()
    keys = sorted({tuple(r[k] for k in CONFIG_KEYS) for r in runs},
                  key=lambda t: _order(dict(zip(CONFIG_KEYS, t))))
    number = {k: i for i, k in enumerate(keys)}
    run_ids = pa.array([r["run_id"] for r in runs])
    config_of_run = pa.array([number[tuple(r[k] for k in CONFIG_KEYS)] for r in runs], pa.int64())

    def numbered(t: pa.Table) -> pa.Table:
        config = pc.take(config_of_run, pc.index_in(t["run_id"], value_set=run_ids))
        t = t.append_column("config", config)
        return t.filter(pc.is_valid(t["config"]))

    baselines = _baselines(table)
    naive = {r["dataset"]: r["test_mse"] for r in baselines.to_pylist() if r["model"] == NAIVE}
    table, final = numbered(table), numbered(final)
    stats = _by_config(final, [
        ("seed", "count_distinct"), ("test_mse", "mean"),
        ("test_mse", "stddev", pc.VarianceOptions(ddof=1)), ("test_mse", "min"),
        ("test_mse", "max"), ("epoch", "max")])
    totals = _by_config(table, [("n_params", "max"), ("epoch_seconds", "sum"),
                                ("epoch_seconds", "mean"), ("data_seed", "max")])
    diverged = _by_config(table.filter(pc.equal(table["status"], "diverged")).group_by(
        ["config", "run_id"], use_threads=False).aggregate([]), [("run_id", "count")])
    curves = _curves(table)
    points: dict = {}
    for r in curves.to_pylist():
        points.setdefault((r["config"], r["metric"]), []).append((r["epoch"], r["mean"], r["std"]))

    configs = []
    for i, k in enumerate(keys):
        s, t = stats[i], totals[i]
        configs.append(Config(
            keys=dict(zip(CONFIG_KEYS, k)),
            final={"seeds": s["seed_count_distinct"], "mean": s["test_mse_mean"],
                   "std": s["test_mse_stddev"], "min": s["test_mse_min"],
                   "max": s["test_mse_max"], "epoch": s["epoch_max"]},
            runs={"n_params": t["n_params_max"], "seconds": t["epoch_seconds_sum"],
                  "seconds_per_epoch": t["epoch_seconds_mean"], "data_seed": t["data_seed_max"],
                  "diverged": diverged.get(i, {}).get("run_id_count", 0)},
            curves={m: points.get((i, m), []) for m in METRICS},
            naive=naive.get(k[CONFIG_KEYS.index("dataset_id")]), epoch=epoch, target=target))
    columns = [c for c in SUMMARY if target is not None or not c.with_target]
    summary = pa.table({"config": pa.array(range(len(configs)), pa.int64()),
                        **{c.name: pa.array([c.value(x) for x in configs], c.type) for c in columns}})
    return Report(summary, curves, baselines, _provenance(records, table), epoch, target)


def _baselines(table: pa.Table) -> pa.Table:
    """Each dataset's baselines (the families fitted, not trained) at their own last epoch,
    whatever --epoch says: a row per dataset and baseline, its test and train MSE."""
    rows = table.filter(pc.and_(pc.is_in(table["model"], pa.array(BASELINES)),
                                pc.equal(table["epoch"], table["epoch_max"])))
    grouped = rows.group_by(["dataset_id", "model"], use_threads=False).aggregate(
        [("test_mse", "mean"), ("train_mse", "mean")])
    return pa.table({"dataset": grouped["dataset_id"], "model": grouped["model"],
                     "test_mse": grouped["test_mse_mean"], "train_mse": grouped["train_mse_mean"]}
                    ).sort_by([("dataset", "ascending"), ("model", "ascending")])


def _curves(table: pa.Table) -> pa.Table:
    """Per configuration, metric and epoch: the seeds' mean, std, min, max and count."""
    parts = []
    for metric in METRICS:
        grouped = table.group_by(["config", "epoch"], use_threads=False).aggregate([
            (metric, "mean"), (metric, "stddev", pc.VarianceOptions(ddof=1)), (metric, "min"),
            (metric, "max"), (metric, "count")])
        parts.append(pa.table({
            "config": grouped["config"], "metric": pa.array([metric] * grouped.num_rows),
            "epoch": grouped["epoch"],
            **{stat: grouped[f"{metric}_{agg}"] for stat, agg in (
                ("mean", "mean"), ("std", "stddev"), ("min", "min"), ("max", "max"),
                ("count", "count"))}}))
    return pa.concat_tables(parts).sort_by(
        [("config", "ascending"), ("metric", "ascending"), ("epoch", "ascending")])


def _provenance(records: list[dict], table: pa.Table) -> pa.Table:
    """A row per run of ``table`` from its run ``records`` (those :func:`rnnbatch.results.read`
    keeps; none for a table made otherwise); a field an older file lacks is null."""
    wanted = set(pc.unique(table["run_id"]).to_pylist())
    records = sorted((r for r in records if r.get("run_id") in wanted), key=lambda r: r["run_id"])
    return pa.table({name: pa.array([r.get(name) for r in records], pa.string())
                     for name in PROVENANCE})


def aggregate(table: pa.Table, epoch: int | None = None) -> list[dict]:
    """The summary's rows as dicts (see :func:`summarise`)."""
    return summarise(table, epoch).rows()


# -- choosing configurations: --where SETTING=VALUE ---------------------------------------------

# what a --where can name: summary columns, with how a value is read
WHERE_KEYS = ["experiment", "model", "layers", "dataset", *SETTING_KEYS]
HELD_SHOWN = 12  # values an error lists of those the results hold


def _literal(text: str):
    """A --where value as TOML reads it (0.01, true, "adam"), else the text itself (adam, 1-6-1)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _where_value(key: str, text: str, clause: str):
    """The value ``text`` of ``key`` as the summary stores it; InputError if no valid one."""
    if key in ("experiment", "dataset"):
        return text
    value = _literal(text)
    if key == "layers":
        if isinstance(value, str):
            parts = value.replace(",", "-").strip("[]").split("-")
            value = [int(p) for p in parts] if all(p.strip().isdigit() for p in parts) else value
        SETTINGS[key].check(value, f"--where {clause}")
        return "-".join(map(str, value))
    if key == "model" and not isinstance(value, str):
        value = text
    SETTINGS[key].check(value, f"--where {clause}")
    return SETTINGS[key].normalise(value)


def parse_where(clauses: Iterable[str]) -> dict[str, list]:
    """``["lr=0.01", "model=rnn", "model=gru"]`` -> ``{"lr": [0.01], "model": ["rnn", "gru"]}``:
    values of one key are alternatives, keys must all hold."""
    where: dict[str, list] = {}
    for clause in clauses:
        key, sep, text = clause.partition("=")
        key, text = key.strip(), text.strip()
        if not (sep and key and text):
            raise InputError(f"--where takes SETTING=VALUE, such as lr=0.01 or model=rnn. "
                             f"Got {clause!r}.")
        if key not in WHERE_KEYS:
            close = difflib.get_close_matches(key, WHERE_KEYS, n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            raise InputError(f"Unknown setting '{key}' in --where {clause}. {hint}"
                             f"It takes {', '.join(WHERE_KEYS)}.")
        where.setdefault(key, []).append(_where_value(key, text, clause))
    return where


def _matches(key: str, stored, wanted) -> bool:
    if key == "dataset":  # an id's first characters name it, as with git
        return stored.startswith(wanted)
    return stored == wanted


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else json.dumps(value) if (
        value is None or isinstance(value, bool)) else str(value)


def select(report: Report, where: dict[str, list]) -> Report:
    """The configurations of ``report`` that ``where`` (from :func:`parse_where`) chooses;
    InputError naming what the results hold when a value matches no configuration."""
    rows = report.rows()
    for key, values in where.items():
        for value in values:
            if not any(_matches(key, row[key], value) for row in rows):
                held = sorted({_shown(row[key]) for row in rows if row[key] is not None})
                listed = ", ".join(held[:HELD_SHOWN]) + (", ..." if len(held) > HELD_SHOWN else "")
                raise InputError(f"--where {key}={_shown(value)} matches no configuration; the "
                                 f"results hold {key} {listed or 'none'}.")
    keep = [row["config"] for row in rows
            if all(any(_matches(key, row[key], v) for v in values) for key, values in where.items())]
    if not keep:
        clauses = " ".join(f"--where {k}={_shown(v)}" for k, values in where.items() for v in values)
        raise InputError(f"No configuration matches all of {clauses}. Drop one of them.")
    chosen = pa.array(keep, pa.int64())
    return replace(report, summary=report.summary.filter(pc.is_in(report.summary["config"], chosen)),
                   curves=report.curves.filter(pc.is_in(report.curves["config"], chosen)))
