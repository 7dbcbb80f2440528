"""`rnnbatch plot` and `rnnbatch report --format html`: valid files of each format, the page's
parts, panels and legends, and one-line errors (matplotlib missing included)."""

import os
import sys
from html.parser import HTMLParser

import pytest

from rnnbatch import __version__, plot, report
from rnnbatch.cli import main

from .conftest import assert_one_error_line
from .test_report import rnn6, synthetic

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf", "PNG"])
def test_plot_writes_each_format(cli_runner, fs, res, suffix):
    result = cli_runner.invoke(main, ["plot", res, "--out", f"plots/curves.{suffix}"])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    data = open(f"plots/curves.{suffix}", "rb").read()
    assert data.startswith(MAGIC[suffix.lower()])
    if suffix == "svg":
        assert b"<svg" in data and data.rstrip().endswith(b"</svg>")
    assert os.listdir("plots") == [f"curves.{suffix}"]  # no temp file left


def test_plot_options(cli_runner, fs, res):
    for options in (["--metric", "train_mse"], ["--panels", "model"], ["--where", "model=rnn"]):
        result = cli_runner.invoke(main, ["plot", res, "--out", "p.svg", *options])
        assert result.exit_code == 0, (options, result.output)


@pytest.mark.parametrize("options,message", [
    (["--out", "p.jpg"], "--out must end in .png, .svg or .pdf (the plot's format). Got 'p.jpg'."),
    (["--out", "p"], "--out must end in .png, .svg or .pdf (the plot's format). Got 'p'."),
    (["--out", "p.png", "--where", "lrr=0.1"],
     "Unknown setting 'lrr' in --where lrr=0.1. Did you mean 'lr'? It takes "
     + ", ".join(report.WHERE_KEYS) + "."),
    (["--out", "p.png", "--where", "lr=0.5"],
     "--where lr=0.5 matches no configuration; the results hold lr 0.01, 0.1."),
])
def test_plot_bad_options(cli_runner, fs, res, options, message):
    result = cli_runner.invoke(main, ["plot", res, *options])
    assert_one_error_line(result, message)
    assert not os.listdir(".")


@pytest.mark.parametrize("options,message", [
    ([], "Missing option '--out'."),
    (["--out", "p.png", "--metric", "mse"],
     "Invalid value for '--metric': 'mse' is not one of 'test_mse', 'train_mse'."),
    (["--out", "p.png", "--panels", "x"],
     "Invalid value for '--panels': 'x' is not one of 'auto', 'single', 'model'."),
])
def test_plot_usage_errors(cli_runner, fs, res, options, message):
    result = cli_runner.invoke(main, ["plot", res, *options])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


def test_plot_without_results(cli_runner, fs):
    result = cli_runner.invoke(main, ["plot", "res", "--out", "p.png"])
    assert_one_error_line(result, "No results under res. Make some with: rnnbatch run GRID --out res")


def test_plot_where_no_file_can_be(cli_runner, fs, res):
    open("afile", "w").close()
    result = cli_runner.invoke(main, ["plot", res, "--out", "afile/p.png"])
    assert_one_error_line(result, "Cannot write to afile: Not a directory. "
                                  "Choose a writable output directory.")


@pytest.mark.parametrize("command", [["plot", "--out", "p.png"], ["report", "--format", "html"]])
def test_without_matplotlib(cli_runner, fs, res, monkeypatch, command):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    result = cli_runner.invoke(main, [command[0], res, *command[1:]])
    assert_one_error_line(result, "Plotting needs matplotlib, an optional dependency: pip install "
                                  "'rnnbatch[plot]' (in a clone: pip install -e '.[plot]').")
    assert not os.listdir(".")


# -- the figure --------------------------------------------------------------------------------

def _many():
    """Ten rnn and two dense configurations with the naive baseline."""
    runs = [{"model": "naive", "curve": [0.02]}]
    runs += [rnn6([0.01, 0.005], lr=0.001 * (i + 1)) for i in range(10)]
    runs += [{"model": "dense", "layers": [50, 1], "lr": lr, "curve": [0.01, 0.006]}
             for lr in (0.1, 0.05)]
    return report.summarise(synthetic(runs))


@pytest.mark.parametrize("panels,titles", [("auto", ["dense", "rnn"]), ("model", ["dense", "rnn"]),
                                           ("single", [None])])
def test_panels(panels, titles):
    fig = plot.figure(_many(), panels=panels)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    if titles == [None]:
        assert len(shown) == 1 and shown[0].get_title().startswith("test MSE per epoch")
    else:
        assert [ax.get_title() for ax in shown] == titles
    assert all(ax.get_yscale() == "log" for ax in shown)


def test_a_crowded_panel_is_drawn_with_a_warning():
    runs = [rnn6([0.01, 0.005], lr=0.001 * (i + 1)) for i in range(plot.LEGIBLE_LINES + 1)]
    with pytest.warns(UserWarning, match=r"^21 configurations in one panel are hard to tell "
                                         r"apart; choose at most 20 with --where"):
        [ax] = plot.figure(report.summarise(synthetic(runs))).axes
    assert len(ax.get_legend().get_texts()) == 21 + 2  # the noise floor, the course (lr 0.01)


def test_few_configurations_share_one_panel():
    rep = report.select(_many(), report.parse_where(["lr=0.1", "lr=0.001"]))
    assert len([ax for ax in plot.figure(rep).axes if ax.get_visible()]) == 1


def test_legend_names_what_differs_and_the_references():
    runs = [{"model": "naive", "curve": [0.02]}, rnn6([0.01, 0.004], 0), rnn6([0.01, 0.003], 1),
            rnn6([0.01, 0.005], 0, lr=0.1)]
    [ax] = plot.figure(report.summarise(synthetic(runs))).axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # top to bottom as the lines end; the course's figure: rnn [1, 6, 1] at lr 0.01
    assert labels == ["lr=0.1", "lr=0.01", "naive baseline: 0.0200",
                      "noise floor 0.1²/12 = 0.000833", "course's figure (filled: met)"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["lr=0.01"].get_ydata()) == [0.01, pytest.approx(0.0035)]  # the seed mean


def test_no_noise_floor_off_the_course_generator():
    [ax] = plot.figure(report.summarise(synthetic([rnn6([0.01], data_seed=-1)]))).axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rnn"]


def test_train_mse_curves():
    runs = [rnn6([0.01, 0.004], train=[0.3, 0.2])]
    [ax] = plot.figure(report.summarise(synthetic(runs)), metric="train_mse").axes
    [line] = [line for line in ax.get_lines() if line.get_label() == "rnn"]
    assert list(line.get_ydata()) == [0.3, 0.2]
    assert ax.get_ylabel() == "train MSE (log scale)"


# -- the html report ---------------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href", "xlink:href")]

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_one_self_contained_page(cli_runner, fs, res):
    result = cli_runner.invoke(main, ["report", res, "--format", "html", "--out", "out/report.html"])
    assert result.exit_code == 0 and result.output == ""
    page = open("out/report.html", encoding="utf-8").read()
    parser = _Page()
    parser.feed(page)
    parser.close()
    text = " ".join(parser.text)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert {"table", "th", "td", "svg", "path", "h2"} <= set(parser.tags)
    assert parser.tags.count("table") == 2  # summary, provenance (tiny data: no course figures)
    assert "None of these configurations is one the course states a figure for" in text
    for heading in ("Summary", "Learning curves", "The course's figures", "Provenance"):
        assert heading in text
    assert "test MSE" in text and "perceptron" in text and "1-3-1" in text
    assert f"rnnbatch {__version__}" in text
    # nothing to fetch: no scripts, stylesheets or images from elsewhere, links only within
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    assert all(link.startswith("#") for link in parser.links), parser.links
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_html_report_provenance_and_course_figures():
    runs = [{"model": "naive", "curve": [0.021]}, rnn6([0.01] * 23 + [0.0035], 0),
            rnn6([0.01] * 23 + [0.0045], 1)]
    page = report.summarise(synthetic(runs))
    from rnnbatch import html_report
    html = html_report.page(page)
    assert '<td class="met">✓ met</td>' in html and '<td class="unmet">✗ not met</td>' in html
    assert "≤ 0.0036 @ 24" in html and "0.00400 ± 0.00071 @ 24" in html
    assert "dddddddddddddddd: 7000 train / 2000 test series of 51, the course&#x27;s generator" in html


def test_html_report_to_standard_output(cli_runner, res):
    result = cli_runner.invoke(main, ["report", res, "--format", "html", "--where", "model=rnn"])
    assert result.exit_code == 0
    assert result.output.startswith("<!DOCTYPE html>") and "<svg" in result.output
    assert "perceptron" not in result.output
