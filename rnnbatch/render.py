"""The report in a format: a text table, markdown, csv or json of the summary, or a
self-contained html page (html_report.py). Reading and aggregating is report.py's."""

import io
import json
import math

import pyarrow.csv as pacsv

from . import display, html_report, results
from .errors import InputError
from .report import Report, parse_where, select, summarise

FORMATS = ("table", "markdown", "csv", "json", "html")


def text_table(report: Report) -> str:
    """Columns padded to their widest cell, numbers right-aligned."""
    columns = display.shown(report)
    rows = report.rows()
    cells = [[display.heading(c, report) for c in columns]]
    cells += [[c.cell(r) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if c.numeric else v.ljust(w)
                         for v, w, c in zip(values, widths, columns)).rstrip()

    lines = [line(cells[0]), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + [line(values) for values in cells[1:]]) + "\n"


def markdown(report: Report) -> str:
    columns = display.shown(report)
    lines = ["| " + " | ".join(display.heading(c, report) for c in columns) + " |",
             "|" + "".join("---:|" if c.numeric else "---|" for c in columns)]
    lines += ["| " + " | ".join(c.cell(r) for c in columns) + " |" for r in report.rows()]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in report.rows()]  # NaN is not JSON
    return json.dumps(rows, indent=2) + "\n"


def as_csv(report: Report) -> str:
    sink = io.BytesIO()
    pacsv.write_csv(report.summary, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().decode("utf-8")


RENDERERS = {"table": text_table, "markdown": markdown, "csv": as_csv, "json": as_json,
             "html": html_report.page}


def render(report: Report, fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}. Got {fmt!r}.")
    return RENDERERS[fmt](report)


def report(out: str = "results", fmt: str = "table", epoch: int | None = None,
           target: float | None = None, where: tuple[str, ...] = ()) -> str:
    """Read every result under ``out``, aggregate, keep the configurations ``where`` chooses
    (``"lr=0.01"``, ...) and render the report in ``fmt``."""
    if epoch is not None and epoch < 1:
        raise InputError(f"--epoch must be an int >= 1. Got {epoch}.")
    if target is not None and not target > 0:
        raise InputError(f"--target must be a test MSE > 0. Got {target}.")
    chosen = parse_where(where)  # before reading: a typo fails at once
    return render(select(summarise(results.read(out), epoch, target), chosen), fmt)


def course_table(report: Report) -> str:
    """Markdown: each course figure beside the measured mean ± std at the figure's epoch (its
    stated one, else the run's last), whether it was met, and where the seed mean reaches it."""
    lines = ["| configuration | course states | measured (mean ± std, seeds) | met | first reached "
             "(seed mean) | best seed mean (epoch) |", "|---|---|---|---|---|---|"]
    for row in report.rows():
        if row["course"] is None:
            continue
        at = row["course_epoch"]
        measured = (f"{display.plus_minus(row['course_mean'], row['course_std'])} "
                    f"({row['seeds']}) @ {at}" if row["course_mean"] is not None
                    else f"not run to epoch {at}")
        reached = row["course_reached_at"]
        where = f"epoch {reached}" if reached else f"not within {row['epoch']} epochs"
        lines.append(f"| {row['experiment']}: {display.setup(row)} | {row['course']} | {measured} | "
                     f"{'yes' if row['course_met'] else 'no'} | {where} | "
                     f"{display.number(row['best_mse'])} ({row['best_epoch']}) |")
    return "\n".join(lines) + "\n"
