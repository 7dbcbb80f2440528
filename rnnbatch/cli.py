"""Command line: parse, call one library function, turn typed errors into one line and an exit code.

Exit codes: 0 every run of the grid (or shard) has a result (a diverged run is a result),
1 some runs failed, 2 usage or input error, 3 some runs have no result yet (another live
rnnbatch holds them, or the dask cluster went away): rerun the same command to finish,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

import os
import sys
import warnings
from pathlib import Path

import click

from . import (__version__, checkpoints, claims, data, ingest as ingestmod, planning,
               plot as plotmod, render, runner, settings)
from ._io import write_atomic
from .backends import Backend
from .errors import InputError, RnnbatchError

EXIT_FAILED_RUNS = 1
EXIT_UNFINISHED = 3
DRY_RUN_CHUNK = 1000  # --dry-run lines written at once: one write (and flush) a line is slow


def _fail(exc: RnnbatchError):
    error = click.ClickException(str(exc))
    error.exit_code = exc.exit_code
    return error


def _warn_plainly(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnnbatch")
def main():
    """Batch evaluation of the RNN course's models on its time-series task.

    \b
    Example:
        rnnbatch generate
        rnnbatch ingest data/real/co2.csv --column co2 --out data/co2
        rnnbatch run jobs/grid.toml
        rnnbatch report results
        rnnbatch plot results --out grid.png
    """
    warnings.showwarning = _warn_plainly


@main.command()
@click.option("--out", default="data", show_default=True, type=click.Path(file_okay=False),
              help="Directory for train.parquet and test.parquet.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, data.SEED_MAX))
@click.option("--train", "n_train", default=7000, show_default=True,
              type=click.IntRange(1, data.SERIES_MAX))
@click.option("--test", "n_test", default=2000, show_default=True,
              type=click.IntRange(1, data.SERIES_MAX))
@click.option("--steps", default=51, show_default=True, type=click.IntRange(2, data.STEPS_MAX),
              help="Values per series: steps - 1 inputs and one target.")
@click.option("--force", is_flag=True, help="Replace a different dataset already at --out.")
def generate(out, seed, n_train, n_test, steps, force):
    """Write the course's synthetic train/test series as Parquet.

    \b
    Example:
        rnnbatch generate --out data --seed 0
    """
    params = data.DataParams(seed=seed, train=n_train, test=n_test, steps=steps)
    try:
        dataset, written = data.generate(out, params, force=force)
    except RnnbatchError as exc:
        raise _fail(exc) from None
    _dataset_line(out, dataset, written, f"{params.train} + {params.test} series of "
                                         f"{params.steps}, seed {params.seed}")


class _Checked(click.ParamType):
    """A value parsed as its ingest option's kind and checked by its test (ingest.OPTIONS)."""

    def __init__(self, option):
        self.option, self.name = option, option.kind.__name__

    def convert(self, value, param, ctx):
        try:
            parsed = self.option.kind(value) if isinstance(value, str) else value
        except ValueError:
            parsed = value
        if not self.option.test(parsed):
            self.fail(f"{value} is not {self.option.expected}.", param, ctx)
        return parsed


def _ingest_options(command):
    for option in reversed(ingestmod.OPTIONS.values()):
        if option.kind is bool:
            command = click.option(f"--{option.name}", is_flag=True, help=option.help)(command)
        else:
            command = click.option(f"--{option.name}", type=_Checked(option), default=option.default,
                                   metavar=option.metavar, show_default=option.default is not None,
                                   help=option.help)(command)
    return command


@main.command()
@click.argument("series")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Directory for train.parquet and test.parquet.")
@_ingest_options
@click.option("--force", is_flag=True, help="Replace a different dataset already at --out.")
def ingest(series, out, force, **options):
    """Cut a real series, a column of a CSV or Parquet file, into train/test windows as Parquet.

    The latest --test share of the windows is the test set; windows overlapping it are left
    out. The values are scaled onto [-scale, scale] by a fit on the training part only.

    \b
    Example:
        rnnbatch ingest data/real/co2.csv --column co2 --time date --fill linear \\
            --difference --out data/co2
    """
    try:
        params = ingestmod.IngestParams(series, **options)
        dataset, written = ingestmod.ingest(out, params, force=force)
    except RnnbatchError as exc:
        raise _fail(exc) from None
    _dataset_line(out, dataset, written, ingestmod.describe(dataset))


def _dataset_line(out, dataset, written: bool, what: str) -> None:
    """The line generate and ingest end with: whether they wrote the dataset, what it is."""
    verb = "Wrote" if written else "Up to date:"
    click.echo(f"{verb} {out}/train.parquet and test.parquet ({what}); dataset id {dataset.dataset_id}")


def _describe(run) -> str:
    c = run.config
    return f"{run.run_id}  {run.experiment:<14} {c.model:<6} {settings.describe(c)} seed={c.seed}"


@main.command()
@click.argument("grid", type=click.Path(dir_okay=False))
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Results directory (one Parquet file per run).")
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--dry-run", is_flag=True, help="List the expanded runs and write nothing.")
@click.option("--force", is_flag=True, help="Rerun runs that already have a complete result.")
@click.option("--backend", type=click.Choice(["loky", "dask"]), default="loky", show_default=True,
              help="Local worker processes, or a dask.distributed cluster.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="The dask scheduler (--backend dask).")
@click.option("--shard", metavar="I/N|slurm",
              help="Run only shard I of N (I from 0), or this SLURM array task's shard.")
@click.option("--retries", type=int, default=0, show_default=True,
              help="Times to rerun a run whose worker process died.")
@click.option("--lease", type=float, default=claims.LEASE_SECONDS, show_default=True,
              help="Seconds a claim on a run lasts unless its holder renews it.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for runs another running rnnbatch holds, or leave them to it (exit 3).")
@click.option("--checkpoint-every", type=float, default=checkpoints.EVERY_SECONDS,
              show_default=True, metavar="SECONDS",
              help="Save a long run's progress after the epoch that ends this many seconds of "
                   "training after its last save, so a killed run resumes there (0: never).")
def run(grid, out, jobs, dry_run, force, backend, scheduler, shard, retries, lease, wait,
        checkpoint_every):
    """Run every experiment x setting x seed of a TOML grid, resuming where it left off.

    \b
    Example:
        rnnbatch run jobs/grid.toml --jobs 2
        rnnbatch run jobs/grid.toml --dry-run
        rnnbatch run jobs/grid.toml --backend dask --scheduler tcp://10.0.0.5:8786
        rnnbatch run jobs/grid.toml --shard slurm     # in a SLURM array job
    """
    try:
        engine = Backend(backend, jobs, scheduler)
        engine.validate()
        part = _parse_shard(shard)
        if dry_run:  # a reader that stops early (`| head`) ends the listing quietly
            listing = _Log()
            runs = planning.shard_of(planning.plan(grid, materialise=False).runs, part)
            for start in range(0, len(runs), DRY_RUN_CHUNK):
                listing.echo("\n".join(map(_describe, runs[start:start + DRY_RUN_CHUNK])))
            listing.echo(f"{len(runs)} runs")
            return
        log = _Log("progress is dropped from here on. The runs go on.")
        warnings.showwarning = log.warn
        progress = _Progress(log)
        try:
            summary = runner.run_grid(grid, out, force=force, backend=engine, shard=part,
                                      retries=retries, on_start=progress.start,
                                      on_result=progress.update, lease=lease, wait=wait,
                                      checkpoint_every=checkpoint_every)
        finally:
            progress.close()
    except RnnbatchError as exc:
        raise _fail(exc) from None
    except runner.Interrupted as exc:
        s = exc.summary
        log.echo(f"Interrupted: {s.done} runs finished and kept. Resume with the same command: "
                 f"rnnbatch run {grid} --out {out}", err=True)
        sys.exit(128 + int(exc.signum))
    log.echo(f"Done: {summary.done} ran, {summary.skipped} skipped (complete), "
             f"{summary.diverged} diverged, {len(summary.failed)} failed"
             + (f", {len(summary.left)} left to another running rnnbatch" if summary.left else "")
             + (f", {len(summary.lost)} not run" if summary.lost else "")
             + f" in {summary.seconds:.1f}s. Results in {out}")
    for failed_run, reason in summary.failed:
        log.echo(f"Failed: {failed_run.run_id} ({failed_run.experiment} seed {failed_run.config.seed}): "
                 f"{reason}", err=True)
    resume = f"rnnbatch run {grid} --out {out}"
    if summary.lost:
        log.echo(f"Unfinished: the dask scheduler at {summary.lost_backend} went away; "
                 f"{len(summary.lost)} runs have no result. Finish them with: {resume}", err=True)
    if summary.left:
        log.echo(f"Unfinished: {len(summary.left)} runs are held by another running rnnbatch "
                 f"({_holders(out, summary.left)}). Wait for it, then check with: {resume}",
                 err=True)
    if summary.failed:
        sys.exit(EXIT_FAILED_RUNS)
    if not summary.complete:
        sys.exit(EXIT_UNFINISHED)


def _holders(out, runs) -> str:
    """Who holds ``runs``' claims, as "host pid N" (for the unfinished line)."""
    held = {f"{h.get('host')} pid {h.get('pid')}"
            for run in runs if (h := claims.read_holder(Path(out) / runner.CLAIMS / f"{run.run_id}.lock"))}
    return ", ".join(sorted(held)) or "their claims are gone now"


def _parse_shard(text: str | None, environ=os.environ) -> tuple[int, int] | None:
    """``"I/N"`` (I from 0), or ``"slurm"`` for this SLURM array task's place in its array."""
    if text is None:
        return None
    if text == "slurm":
        try:
            task = int(environ["SLURM_ARRAY_TASK_ID"]) - int(environ.get("SLURM_ARRAY_TASK_MIN", 0))
            return task, int(environ["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise InputError("--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT: "
                             "run it as a SLURM array task (sbatch --array=0-3).") from None
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit()):
        raise InputError(f"--shard must be I/N (such as 0/4) or 'slurm'. Got {text!r}.")
    return int(index), int(count)


class _Log:
    """A command's output. Logging never stops the work: once a stream fails (a closed pipe, a
    full disk) what would go to it is dropped, with ``warning`` on stderr (if given and possible)
    when it is standard output."""

    def __init__(self, warning: str | None = None):
        self.dropped = set()  # "stdout", "stderr"
        self.warning = warning

    def attempt(self, write, stream="stdout"):
        """Call ``write()``, which writes to ``stream``, unless that stream was dropped."""
        if stream in self.dropped:
            return
        try:
            write()
        except OSError as exc:
            self.dropped.add(stream)
            _to_devnull(getattr(sys, stream))
            if stream == "stdout" and self.warning:
                self.echo(f"Warning: cannot write to standard output ({exc.strerror or exc}); "
                          f"{self.warning}", err=True)

    def echo(self, message, err=False):
        self.attempt(lambda: click.echo(message, err=err), "stderr" if err else "stdout")

    def warn(self, message, category, filename, lineno, file=None, line=None):
        self.echo(f"Warning: {message}", err=True)


def _to_devnull(stream):
    """Point a failed stream's file at os.devnull (Python's documented recipe), so that the
    flush at exit neither prints "Exception ignored ... BrokenPipeError" nor exits with 120."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # no file descriptor (an in-memory stream): nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class _Progress:
    """A progress bar on a terminal; one plain line per finished run otherwise (cron, logs)."""

    def __init__(self, log):
        self.log, self.bar = log, None

    def start(self, total):
        if sys.stdout.isatty():
            self.bar = click.progressbar(length=total, label="runs", show_eta=True, show_pos=True)
            self.log.attempt(self.bar.__enter__)

    def update(self, run, status, summary):
        if self.bar is None:
            self.log.echo(f"{status:<8} {_describe(run)}")
        else:
            done = summary.skipped + summary.done + len(summary.failed)
            self.log.attempt(lambda: self.bar.update(done - self.bar.pos))

    def close(self):
        if self.bar is not None:
            self.log.attempt(lambda: self.bar.__exit__(None, None, None))


def _where_option(command):
    return click.option("--where", "where", metavar="SETTING=VALUE", multiple=True,
                        help="Only configurations with this value (experiment, model, layers, "
                             "dataset or any setting, e.g. lr=0.01, layers=1-6-1); repeat a "
                             "setting for either value, others for both.")(command)


@main.command()
@click.argument("results", default="results", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default="table",
              show_default=True, help="html: one self-contained page with the curves.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of standard output.")
@click.option("--epoch", type=click.IntRange(min=1), default=None,
              help="Compare configurations at this epoch instead of their last.")
@click.option("--target", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="MSE", help="Also give the first epoch and the training seconds at which "
                                  "each seed-mean test MSE reaches this.")
@_where_option
def report(results, fmt, out_file, epoch, target, where):
    """Aggregate results into one row per configuration (mean ± std over seeds).

    \b
    Example:
        rnnbatch report results --format markdown
        rnnbatch report results --target 0.0036 --where model=rnn
        rnnbatch report results --format html --out report.html
    """
    try:
        text = render.report(results, fmt, epoch, target, where)
        if out_file:
            write_atomic(text.encode("utf-8"), Path(out_file))
    except RnnbatchError as exc:
        raise _fail(exc) from None
    if not out_file:
        _Log().echo(text.removesuffix("\n"))  # a reader that stops early (`| head`) ends it quietly


@main.command()
@click.argument("results", default="results", type=click.Path(file_okay=False))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="The image: .png, .svg or .pdf.")
@click.option("--metric", type=click.Choice(list(plotmod.METRICS)), default="test_mse",
              show_default=True)
@click.option("--panels", type=click.Choice(plotmod.PANELS), default="auto", show_default=True,
              help="One panel per model family (model), one for all (single), or per family "
                   f"beyond {plotmod.AUTO_PANEL_LINES} configurations of several (auto).")
@_where_option
def plot(results, out_file, metric, panels, where):
    """Plot each configuration's learning curve: the seed mean per epoch, a band from the
    seeds' min to max, the course's figures, the baselines and the noise floor.

    \b
    Example:
        rnnbatch plot results --out grid.png
        rnnbatch plot results --out rnn.svg --where model=rnn --metric train_mse
    """
    try:
        plotmod.plot(results, out_file, metric, where, panels)
    except RnnbatchError as exc:
        raise _fail(exc) from None
