"""The report as one self-contained html page (no network, no other files): the summary table,
the curves as inline SVG, the course's figures met or not, and provenance."""

import time
from collections import Counter
from html import escape

import pyarrow.compute as pc

from . import __version__, display, plot
from .report import Report

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left;
         white-space: nowrap; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #176b2c; } .unmet { color: #a3241b; }
.scroll { overflow-x: auto; }
figure { margin: 0; } figure svg { max-width: 100%; height: auto; }
.meta { color: #555; }
"""


def _table(headings: list[str] | None, rows: list[list[str]], numeric: list[bool]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headings or [])
    head = f"<tr>{head}</tr>\n" if head else ""
    body = "".join("<tr>" + "".join(f'<td class="num">{escape(v)}</td>' if n
                                    else f"<td>{escape(v)}</td>" for v, n in zip(row, numeric))
                   + "</tr>\n" for row in rows)
    return f'<div class="scroll"><table>\n{head}{body}</table></div>'


def _summary(report: Report) -> str:
    columns = display.shown(report)
    return _table([display.heading(c, report) for c in columns],
                  [[c.cell(r) for c in columns] for r in report.rows()],
                  [c.numeric for c in columns])


def _course(report: Report) -> str:
    rows = [r for r in report.rows() if r["course"]]
    if not rows:
        return ("<p>None of these configurations is one the course states a figure for (its "
                "models and rates on the course generator's data, 7000 / 2000 series of 51).</p>")
    cells = []
    for r in rows:
        verdict = "met" if r["course_met"] else "not met"
        reached = r["course_reached_at"]
        cells.append([f"{r['experiment']}: {display.setup(r)}",
                      r["course"], f"{display.plus_minus(r['course_mean'], r['course_std'])} "
                      f"@ {r['course_epoch']}", verdict,
                      f"epoch {reached}" if reached else f"not within {r['epoch']} epochs"])
    html = _table(["configuration", "course states", "measured (seed mean ± std)", "met",
                   "seed mean first reaches it"], cells, [False, False, True, False, False])
    # colour the verdicts: the cells are escaped text, so the only match is the cell itself
    return html.replace("<td>met</td>", '<td class="met">✓ met</td>').replace(
        "<td>not met</td>", '<td class="unmet">✗ not met</td>')


def _counted(values) -> str:
    counts = Counter(v or "unrecorded" for v in values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} ({n} runs)" for v, n in sorted(counts.items()))


def _provenance(report: Report) -> str:
    p = report.provenance
    rows = [[name, _counted(p[name].to_pylist())]
            for name in ("rnnbatch", "numpy", "numba", "python", "host")]
    started = [s for s in p["started"].to_pylist() if s]
    ended = [e for e in p["ended"].to_pylist() if e]
    rows.append(["runs", f"{p.num_rows}, started {min(started, default='–')}, "
                         f"ended {max(ended, default='–')}"])
    datasets = report.summary.group_by(["dataset", "n_train", "n_test", "steps", "generated"],
                                       use_threads=False).aggregate([]).to_pylist()
    for d in datasets:
        source = "the course's generator" if d["generated"] else "not generated"
        rows.append(["dataset", f"{d['dataset']}: {d['n_train']} train / {d['n_test']} test "
                                f"series of {d['steps']}, {source}"])
    return _table(None, rows, [False, False])


def page(report: Report) -> str:
    made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    at = f"epoch {report.epoch}" if report.epoch else "each run's last epoch"
    runs = report.provenance.num_rows or int(pc.sum(report.summary["seeds"]).as_py() or 0)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rnnbatch report</title>
<style>{STYLE}</style>
</head>
<body>
<h1>rnnbatch report</h1>
<p class="meta">{report.summary.num_rows} configurations, {runs} runs, compared at {at}.
Made {made} by rnnbatch {escape(__version__)}.</p>
<h2>Summary</h2>
<p class="meta">Test MSE: mean ± sample std over seeds. Skill: 1 − test MSE / the naive
baseline's on the same dataset. train s: wall time of every epoch of every seed.</p>
{_summary(report)}
<h2>Learning curves</h2>
<figure>
{plot.inline_svg(report)}
</figure>
<h2>The course's figures</h2>
{_course(report)}
<h2>Provenance</h2>
{_provenance(report)}
</body>
</html>
"""
