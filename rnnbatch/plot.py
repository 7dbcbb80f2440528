"""Learning curves of a report (matplotlib, optional: ``pip install 'rnnbatch[plot]'``).

A metric per epoch on a log scale: a line per trained configuration (its seed mean) with a band
from the seeds' min to max, named by what differs between the configurations; the course's
stated figure as a star at the epoch it is judged at (filled when met); the baselines of the
same datasets and, for the course generator's data, its noise floor as reference lines. Many
configurations of several families get a panel per family.
"""

import io
import math
import re
import warnings
from pathlib import Path

from . import display, results
from ._io import write_atomic
from .errors import InputError
from .models import FAMILIES
from .report import NOISE_FLOOR, Report, parse_where, select, summarise

SUFFIXES = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
METRICS = {"test_mse": "test MSE", "train_mse": "train MSE"}
PANELS = ("auto", "single", "model")
AUTO_PANEL_LINES = 8  # "auto" splits by family beyond this many lines, when there are several
LEGIBLE_LINES = 20  # beyond this many lines in a panel, colours repeat and the legend overflows
INSTALL = "pip install 'rnnbatch[plot]'"
# no creation date: the same results give the same file
NO_DATE = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def _figure_class():
    """matplotlib's Figure on the Agg canvas (no pyplot, no global backend), or one line
    saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(f"Plotting needs matplotlib, an optional dependency: {INSTALL} "
                         "(in a clone: pip install -e '.[plot]').") from None
    return lambda **kw: FigureCanvasAgg(Figure(**kw)).figure


def _panels(rows: list[dict], panels: str) -> list[tuple[str | None, list[dict]]]:
    families = [family for family in FAMILIES if any(r["model"] == family for r in rows)]
    if panels == "model" or (panels == "auto" and len(families) > 1
                             and len(rows) > AUTO_PANEL_LINES):
        return [(family, [r for r in rows if r["model"] == family]) for family in families]
    return [(None, rows)]


def _colors(n: int):
    from matplotlib import colormaps
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["viridis"](i / (n - 1)) for i in range(n)]


def figure(report: Report, metric: str = "test_mse", panels: str = "auto"):
    """The matplotlib Figure of ``report``'s curves of ``metric``."""
    if metric not in METRICS:
        raise InputError(f"--metric must be one of {', '.join(METRICS)}. Got {metric!r}.")
    if panels not in PANELS:
        raise InputError(f"--panels must be one of {', '.join(PANELS)}. Got {panels!r}.")
    make = _figure_class()
    rows = report.rows()
    trained = [r for r in rows if FAMILIES[r["model"]].trainable]
    groups = _panels(trained, panels)
    ncols = 1 if len(groups) == 1 else 2
    nrows = math.ceil(len(groups) / ncols)
    fig = make(figsize=(10.0 if ncols == 1 else 15.0, 4.6 * nrows), layout="constrained", dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    crowded = max(len(group) for _, group in groups)
    if crowded > LEGIBLE_LINES:
        warnings.warn(f"{crowded} configurations in one panel are hard to tell apart; choose "
                      f"at most {LEGIBLE_LINES} with --where (e.g. --where lr=0.01).", stacklevel=2)
    for ax, (family, group) in zip(axes, groups):
        _draw(ax, report, group or rows, group, metric)
        ax.set_title(f"{family}" if family else
                     f"{METRICS[metric]} per epoch: seed mean, band from the seeds' min to max",
                     fontsize=11)
    return fig


def _draw(ax, report: Report, context: list[dict], group: list[dict], metric: str) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    curves = {row["config"]: report.curve(row["config"], metric) for row in group}
    # the legend lists the lines top to bottom as they end
    group = sorted(group, key=lambda row: -_last(curves[row["config"]]))
    for row, name, color in zip(group, display.names(group), _colors(len(group))):
        curve = curves[row["config"]]
        epochs, mean = curve["epoch"].to_numpy(), curve["mean"].to_numpy()
        ax.plot(epochs, mean, color=color, lw=1.6, label=name,
                marker="o" if len(epochs) == 1 else None)
        ax.fill_between(epochs, curve["min"].to_numpy(), curve["max"].to_numpy(), color=color,
                        alpha=0.18 if len(group) <= 6 else 0.08, lw=0)  # many bands: fainter
        if metric == "test_mse" and row["course"]:
            ax.plot([row["course_epoch"]], [row["course_value"]], marker="*", ms=15, mew=1.2,
                    color=color, mec="black", mfc=color if row["course_met"] else "white",
                    zorder=5)
    handles = []
    if metric == "test_mse" and any(r["course"] for r in group):
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mec="black", mfc="0.6",
                              label="course's figure (filled: met)"))
    datasets = list(dict.fromkeys(r["dataset"] for r in context))
    for base in report.baselines.to_pylist():
        if base["dataset"] in datasets and base[metric] is not None:
            of = f", data {base['dataset'][:8]}" if len(datasets) > 1 else ""
            ax.axhline(base[metric], ls="--", lw=1.1, color="0.35",
                       label=f"{base['model']} baseline{of}: {display.number(base[metric])}")
    if any(r["generated"] for r in context):
        ax.axhline(NOISE_FLOOR, ls=":", lw=1.3, color="0.2",
                   label=f"noise floor 0.1²/12 = {display.number(NOISE_FLOOR)}")
    ax.set_yscale("log")
    # labels at 1, 2 and 5 of each decade, written plainly (0.002, not 2×10⁻³)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(labelleft=True)  # sharey hides them beside a legend that separates panels
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{METRICS[metric]} (log scale)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    # beside the axes: inside, it would hide the curves or the reference lines
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize=8,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)


def _last(curve) -> float:
    """The curve's last seed mean that is a number (-inf for none)."""
    finite = [m for m in curve["mean"].to_pylist() if m is not None and math.isfinite(m)]
    return finite[-1] if finite else -math.inf


def image(report: Report, fmt: str, metric: str = "test_mse", panels: str = "auto") -> bytes:
    """The figure encoded as ``fmt`` (png, svg or pdf)."""
    fig = figure(report, metric, panels)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata=NO_DATE[fmt])
    return buffer.getvalue()


def inline_svg(report: Report) -> str:
    """The test-MSE curves as an ``<svg>`` element to put in an html page: text as text (the
    page's fonts), no XML prolog, sized by the page."""
    _figure_class()  # or say what to install
    from matplotlib import rc_context

    with rc_context({"svg.fonttype": "none"}):
        svg = image(report, "svg").decode("utf-8")
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg"):], flags=re.DOTALL)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', svg, count=1)


def plot_format(out: str | Path) -> str:
    fmt = SUFFIXES.get(Path(out).suffix.lower())
    if fmt is None:
        raise InputError("--out must end in .png, .svg or .pdf (the plot's format). "
                         f"Got {str(out)!r}.")
    return fmt


def plot(results_dir: str | Path, out: str | Path, metric: str = "test_mse",
         where: tuple[str, ...] = (), panels: str = "auto") -> None:
    """Plot the curves of every result under ``results_dir`` that ``where`` chooses into ``out``."""
    fmt = plot_format(out)
    _figure_class()  # before reading anything: say what to install at once
    chosen = parse_where(where)
    report = select(summarise(results.read(results_dir)), chosen)
    write_atomic(image(report, fmt, metric, panels), Path(out))
