"""Aggregate result files into one row per configuration (its settings across seeds).

Per configuration: its settings away from their defaults, seeds, epochs, final test MSE mean ± std (sample std over seeds) with min and
max, the best mean test MSE and its epoch, seconds per epoch, and how many runs diverged.
Where a configuration is one the course states a figure for, the figure stands beside the
measurement with whether it was met, and if not, the first epoch where the seed-mean curve
reaches it. Aggregation is pyarrow compute; pandas is not needed.
"""

import csv
import io
import json
import math
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from . import results
from .errors import InputError
from .settings import TUNABLE

# a configuration: an experiment's settings (all but the seed) on one dataset
SETTING_KEYS = [s.name for s in TUNABLE if s.name != "layers"]  # layers are grouped as layers_key
CONFIG_KEYS = ["experiment", "model", "layers_key", *SETTING_KEYS, "dataset_id", "n_train",
               "n_test", "steps"]
COURSE_DATA = (7000, 2000, 51)  # the course's figures are for its own data sizes
FORMATS = ("table", "markdown", "csv", "json")
APPROX_TOLERANCE = 0.10  # "about x" is met at most 10 % above x (a lower error is better)


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


COURSE_FIGURES = [
    CourseFigure("naive", "", None, "≈", 0.02, None, "Part 1: naive guess"),
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


def _with_keys(table: pa.Table) -> pa.Table:
    layers = [("-".join(map(str, v)) if v else "") for v in table.column("layers").to_pylist()]
    table = table.append_column("layers_key", pa.array(layers, pa.string())).drop_columns("layers")
    return table.set_column(table.schema.get_field_index("model"), "model",
                            pc.cast(table.column("model"), pa.string()))


def aggregate(table: pa.Table, epoch: int | None = None) -> list[dict]:
    """One dict per configuration, sorted by experiment name."""
    # a fixed row order and single-threaded grouping: float sums, so the same results give
    # the same report to the last bit whatever order the files were read in
    table = _with_keys(table).sort_by([("run_id", "ascending"), ("epoch", "ascending")])
    last = table.group_by("run_id", use_threads=False).aggregate([("epoch", "max")])
    target = table.join(last, "run_id", use_threads=False).sort_by(
        [("run_id", "ascending"), ("epoch", "ascending")])
    mask = pc.equal(target["epoch"], epoch if epoch is not None else target["epoch_max"])
    final = target.filter(mask)
    if epoch is not None and final.num_rows == 0:
        raise InputError(f"No run reached epoch {epoch}. Choose an --epoch within the runs' epochs.")

    per_config = final.group_by(CONFIG_KEYS, use_threads=False).aggregate([
        ("seed", "count_distinct"), ("test_mse", "mean"),
        ("test_mse", "stddev", pc.VarianceOptions(ddof=1)), ("test_mse", "min"),
        ("test_mse", "max"), ("epoch", "max"), ("n_params", "max"),
    ])
    diverged = table.filter(pc.equal(table["status"], "diverged")).group_by(
        CONFIG_KEYS + ["run_id"], use_threads=False).aggregate([]).group_by(
        CONFIG_KEYS, use_threads=False).aggregate(
        [("run_id", "count")])
    timing = table.group_by(CONFIG_KEYS, use_threads=False).aggregate([("epoch_seconds", "mean")])
    curves = table.group_by(CONFIG_KEYS + ["epoch"], use_threads=False).aggregate([("test_mse", "mean")])

    def key(row):
        return tuple(row[k] for k in CONFIG_KEYS)

    n_diverged = {key(r): r["run_id_count"] for r in diverged.to_pylist()}
    seconds = {key(r): r["epoch_seconds_mean"] for r in timing.to_pylist()}
    curve: dict = {}
    for r in curves.to_pylist():
        curve.setdefault(key(r), []).append((r["epoch"], r["test_mse_mean"]))

    rows = []
    for r in per_config.to_pylist():
        k = key(r)
        points = sorted(p for p in curve[k] if p[1] is not None and not math.isnan(p[1]))
        best = min(points, key=lambda p: p[1]) if points else (None, None)
        row = {
            "experiment": r["experiment"], "model": r["model"], "layers": r["layers_key"],
            "params": r["n_params_max"], **{key: r[key] for key in SETTING_KEYS},
            "dataset": r["dataset_id"],
            "seeds": r["seed_count_distinct"], "epoch": r["epoch_max"],
            "test_mse_mean": r["test_mse_mean"], "test_mse_std": r["test_mse_stddev"],
            "test_mse_min": r["test_mse_min"], "test_mse_max": r["test_mse_max"],
            "best_mse": best[1], "best_epoch": best[0],
            "seconds_per_epoch": seconds[k], "diverged": n_diverged.get(k, 0),
            "course": None, "course_met": None, "course_reached_at": None,
        }
        fig = course_figure(r["model"], r["layers_key"], r["lr"], r["init"])
        if fig is not None and (r["n_train"], r["n_test"], r["steps"]) == COURSE_DATA:
            at = fig.epoch if fig.epoch is not None and epoch is None else row["epoch"]
            measured = dict(points).get(at)
            row["course"] = f"{fig.op} {fig.value:g}" + (f" @ {fig.epoch}" if fig.epoch else "")
            row["course_met"] = measured is not None and fig.met(measured)
            reached = [e for e, m in points if fig.met(m)]
            row["course_reached_at"] = reached[0] if reached else None
        rows.append(row)
    # the baseline has no lr (None), and may share an experiment and layers with a trained model
    return sorted(rows, key=lambda row: (row["experiment"], row["layers"], row["lr"] is not None,
                                         row["lr"] or 0.0, row["model"]))


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def _changed(row: dict) -> str:
    """The row's settings away from their defaults, but those with columns of their own, as
    the ``--dry-run`` line writes them (``loss=every optimizer=adam``)."""
    return " ".join(s.describe(row[s.name]) for s in TUNABLE
                    if s.name not in ("layers", "lr", "epochs", "init")
                    and row[s.name] not in (None, s.default)) or "–"


def _display(row: dict) -> dict:
    """The human table's columns."""
    course = "–"
    if row["course"]:
        course = f"{row['course']}: " + ("met" if row["course_met"] else "not met")
        if not row["course_met"]:
            course += (f", reached at epoch {row['course_reached_at']}" if row["course_reached_at"]
                       else ", not reached")
    return {
        "experiment": row["experiment"], "model": row["model"], "layers": row["layers"] or "–",
        "lr": _fmt(row["lr"]), "settings": _changed(row), "seeds": str(row["seeds"]),
        "epoch": str(row["epoch"]),
        "test MSE": f"{row['test_mse_mean']:.5f} ± {_fmt(row['test_mse_std'] or 0.0)}"
        if row["test_mse_mean"] is not None else "–",
        "min–max": f"{_fmt(row['test_mse_min'])}–{_fmt(row['test_mse_max'])}",
        "best (epoch)": f"{_fmt(row['best_mse'])} ({_fmt(row['best_epoch'])})",
        "s/epoch": f"{row['seconds_per_epoch']:.3g}", "diverged": str(row["diverged"]),
        "course figure": course,
    }


def render(rows: list[dict], fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}. Got {fmt!r}.")
    if fmt == "json":
        return json.dumps(_nan_to_none(rows), indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    shown = [_display(r) for r in rows]
    headers = list(shown[0]) if shown else []
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r[h] for h in headers) + " |" for r in shown]
        return "\n".join(lines) + "\n"
    widths = {h: max(len(h), *(len(r[h]) for r in shown)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers)]
    lines.append("  ".join("-" * widths[h] for h in headers))
    lines += ["  ".join(r[h].ljust(widths[h]) for h in headers) for r in shown]
    return "\n".join(lines) + "\n"


def _nan_to_none(rows):
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows]


def course_table(table: pa.Table) -> str:
    """Markdown: each course figure beside the measured mean ± std at the figure's epoch (its
    stated one, else the run's last), whether it was met, and where the seed mean reaches it."""
    lines = ["| configuration | course states | measured (mean ± std, seeds) | met | first reached "
             "(seed mean) | best seed mean (epoch) |", "|---|---|---|---|---|---|"]
    for row in aggregate(table):
        if row["course"] is None:
            continue
        fig = course_figure(row["model"], row["layers"], row["lr"], row["init"])
        at = fig.epoch or row["epoch"]
        same = [r for r in aggregate(table, at) if all(r[k] == row[k] for k in
                                                        ("experiment", "layers", "lr", "dataset"))]
        measured = f"{same[0]['test_mse_mean']:.5f} ± {same[0]['test_mse_std'] or 0:.5f} " \
                   f"({same[0]['seeds']}) @ {at}" if same else f"not run to epoch {at}"
        reached = row["course_reached_at"]
        where = f"epoch {reached}" if reached else f"not within {row['epoch']} epochs"
        lines.append(f"| {row['experiment']} {row['model']} {row['layers']} lr {_fmt(row['lr'])} "
                     f"| {row['course']} | {measured} | {'yes' if row['course_met'] else 'no'} "
                     f"| {where} | {_fmt(row['best_mse'])} ({row['best_epoch']}) |")
    return "\n".join(lines) + "\n"


def report(out: str = "results", fmt: str = "table", epoch: int | None = None) -> str:
    """Read every result under ``out`` and render the aggregated table."""
    if epoch is not None and epoch < 1:
        raise InputError(f"--epoch must be an int >= 1. Got {epoch}.")
    return render(aggregate(results.read(out), epoch), fmt)
