"""How a summary row reads to a person: one rule for numbers, the human table's columns, and
names for configurations that say what differs between them (legends, headings).

The rule: a number shows :data:`SIGNIFICANT` significant figures; a spread (± std) is rounded to
the same decimal place as the number it qualifies, so a mean and its std end at the same digit
(``0.00509 ± 0.00000``, ``0.00448 ± 0.00062``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from .report import SETTING_KEYS, Report
from .settings import TUNABLE

SIGNIFICANT = 3
DASH = "–"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _decimals(value: float) -> int | None:
    """Decimals that show ``value`` to SIGNIFICANT figures; None where fixed point reads badly."""
    if value == 0 or math.isinf(value):
        return 0
    exponent = math.floor(math.log10(abs(value)))
    return max(0, SIGNIFICANT - 1 - exponent) if -6 <= exponent < 6 else None


def number(value) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, int):
        return str(value)
    decimals = _decimals(value)
    return f"{value:.{SIGNIFICANT - 1}e}" if decimals is None else f"{value:.{decimals}f}"


def plus_minus(value, spread) -> str:
    """``value ± spread``, the spread to the value's decimal place (no spread: one seed)."""
    if _missing(value):
        return DASH
    if spread is None:
        return number(value)
    decimals = _decimals(value)
    if decimals is None:
        return f"{value:.{SIGNIFICANT - 1}e} ± {spread:.{SIGNIFICANT - 1}e}"
    return f"{value:.{decimals}f} ± {spread:.{decimals}f}"


def changed(row: dict) -> str:
    """The row's settings away from their defaults, but those with columns of their own, as
    the ``--dry-run`` line writes them (``loss=every optimizer=adam``)."""
    return " ".join(s.describe(row[s.name]) for s in TUNABLE
                    if s.name not in ("layers", "lr", "epochs", "init")
                    and row[s.name] not in (None, s.default)) or DASH


def setup(row: dict) -> str:
    """A configuration in one phrase: ``rnn [1, 6, 1] lr=0.01 loss=every``."""
    parts = [_part(k, row[k]) for k in ("model", "layers", "lr") if row[k] not in (None, "")]
    return " ".join(parts + ([changed(row)] if changed(row) != DASH else []))


def course(row: dict) -> str:
    if not row["course"]:
        return DASH
    if row["course_met"]:
        return f"{row['course']}: met"
    reached = row["course_reached_at"]
    where = f"reached at epoch {reached}" if reached else "not reached"
    return f"{row['course']}: not met, {where}"


@dataclass(frozen=True)
class Shown:
    """A column of the human table: its heading, its cell from a summary row, whether it is a
    number (right-aligned), and whether the report shows it (``when``)."""

    heading: str
    cell: Callable[[dict], str]
    numeric: bool = False
    when: Callable[[Report], bool] = staticmethod(lambda report: True)


def _target(report: Report) -> bool:
    return report.target is not None


def _real(report: Report) -> bool:
    """Whether some configuration is on an ingested series."""
    return any(source is not None for source in report.summary["source"].to_pylist())


SHOWN = [
    Shown("experiment", lambda r: r["experiment"]),
    Shown("model", lambda r: r["model"]),
    Shown("layers", lambda r: r["layers"] or DASH),
    Shown("lr", lambda r: DASH if r["lr"] is None else f"{r['lr']:g}", True),  # as set
    Shown("settings", changed),
    Shown("source", lambda r: r["source"] or DASH, when=_real),
    Shown("params", lambda r: number(r["params"]), True),
    Shown("seeds", lambda r: number(r["seeds"]), True),
    Shown("epoch", lambda r: number(r["epoch"]), True),
    Shown("test MSE", lambda r: plus_minus(r["test_mse_mean"], r["test_mse_std"]), True),
    Shown("RMSE (own units)", lambda r: number(r["test_rmse"]), True, _real),
    Shown("min–max", lambda r: f"{number(r['test_mse_min'])}–{number(r['test_mse_max'])}", True),
    Shown("best (epoch)", lambda r: f"{number(r['best_mse'])} ({number(r['best_epoch'])})", True),
    Shown("skill", lambda r: number(r["skill"]), True),
    Shown("s/epoch", lambda r: number(r["seconds_per_epoch"]), True),
    Shown("train s", lambda r: number(r["train_seconds"]), True),
    Shown("target at epoch", lambda r: number(r["target_epoch"]), True, _target),
    Shown("target at s", lambda r: number(r["target_seconds"]), True, _target),
    Shown("diverged", lambda r: number(r["diverged"]), True),
    Shown("course figure", course),
]


def shown(report: Report) -> list[Shown]:
    return [s for s in SHOWN if s.when(report)]


def heading(column: Shown, report: Report) -> str:
    if column.when is _target:
        return column.heading.replace("target", f"≤ {report.target:g}")
    return column.heading


# -- naming configurations ----------------------------------------------------------------------

NAMED_BY = ["model", "layers", *SETTING_KEYS, "dataset"]  # in the order a name lists them
QUIET = ("epochs",)  # the curve's length shows it: named only when nothing else tells apart


def _part(key: str, value) -> str:
    if key == "model":
        return value
    if key == "layers":
        return "[" + ", ".join(value.split("-")) + "]"
    if key == "dataset":
        return f"data {value[:8]}"
    if isinstance(value, bool):
        return key if value else f"no {key}"
    return f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"


def names(rows: list[dict]) -> list[str]:
    """A name per row from only what differs between the rows (``rnn [1, 6, 1] lr=0.01``); the
    experiment's name when nothing does."""
    varying = [k for k in NAMED_BY if len({r[k] for r in rows}) > 1]

    def name(row, keys):
        return " ".join(_part(k, row[k]) for k in keys if row[k] not in (None, ""))

    quiet = [k for k in varying if k not in QUIET]
    for keys in (quiet, varying):
        named = [name(row, keys) for row in rows]
        if all(named) and len(set(named)) == len(rows):
            return named
    return [" ".join(filter(None, (row["experiment"], name(row, varying)))) for row in rows]
