"""How planning, dispatch and report time grow with the number of runs.

1. Planning: ``rnnbatch run GRID --dry-run`` (a fresh process, imports included) on an
   lr x layers x seed sweep of rnn nets plus the naive baseline, written compactly with lists:
   1k, 10k and 100k runs; wall time and peak memory (RSS). Target at 100k: 10 s and 1 GB.
2. Dispatch: what the service adds to a run, before and after a worker computes (claim,
   submit, land: write the result atomically, release the claim), through ``run_grid`` on
   runs that cost next to nothing to train (one epoch of 20 series): wall time per run, with
   the worker pool already running.
3. Report: ``rnnbatch report`` (a fresh process) over 1k and 10k result files of 100 epochs,
   each a real result table of the sweep (fake curves) written by the same encoder rnnbatch
   writes with: the first report (no read cache: every file opened), then again twice (from
   the cache), then after 1 % of the files were rewritten (those read afresh, the cache
   rewritten). Target at 10k: 10 s.

Everything is made under a temporary folder and removed. Prints a table with the machine.

    python benchmarks/bench_scale.py [--plan 1000,10000,100000] [--dispatch 1000,10000]
                                     [--report 1000,10000]
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnbatch import planning, results, runner
from rnnbatch.backends import usable_cpus
from rnnbatch.models import FAMILIES
from rnnbatch.train import TrainResult

LAYERS = "[[1, 6, 1], [1, 8, 1], [1, 10, 1], [1, 20, 1], [1, 20, 20, 1]]"
RATES = "[0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2]"  # 5 x 10 = 50 configs

GRID = """
[data]
train = {train}
test = {test}
dir = "{data}"

[[experiment]]
name = "naive"
model = "naive"

[[experiment]]
name = "sweep"
model = "rnn"
layers = {layers}
lr = {rates}
epochs = {epochs}
seeds = {seeds}
"""

# the CLI in a fresh process, reporting its peak memory as it exits
MEASURED = """
import resource, sys
from rnnbatch.cli import main
try:
    main()
finally:
    sys.stderr.write(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def grid(work: Path, runs: int, epochs: int, train: int = 7000, test: int = 2000) -> Path:
    """A grid of 1 naive run and ``runs`` - 1 rnn runs (50 configurations, seeds rounded up)."""
    path = work / f"grid-{runs}-{epochs}.toml"
    path.write_text(GRID.format(train=train, test=test, data=work / "data", layers=LAYERS,
                                rates=RATES, epochs=epochs, seeds=-(-(runs - 1) // 50)))
    return path


def cli(*args) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and standard output of ``rnnbatch ARGS`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True,
                          check=True)
    seconds = time.perf_counter() - start
    rss = next(int(line.split("=")[1]) for line in done.stderr.splitlines()
               if line.startswith("maxrss_kb="))
    return seconds, rss / 1024, done.stdout


def fake_result(run, dataset, epochs: int, rng) -> TrainResult:
    """What training ``run`` could have given: decreasing curves, random parameters."""
    c = run.config
    family = FAMILIES[c.model]
    n = family.n_params(c.layers) if family.trainable else 0
    curve = 0.02 * np.exp(-np.arange(epochs) / 30) + 0.003 + rng.random(epochs) * 1e-4
    params = (rng.random(n), rng.random(n)) if family.trainable else (None, None)
    return TrainResult(n, list(curve * 1.1), list(curve), list(0.1 + rng.random(epochs) * 0.02),
                       "ok", *params)


def planning_row(work: Path, runs: int) -> tuple:
    seconds, rss, out = cli("run", str(grid(work, runs, 24)), "--dry-run")
    return seconds, rss, int(out.splitlines()[-1].split()[0])


def dispatch_row(work: Path, runs: int) -> tuple:
    plan = planning.plan(grid(work, runs, 1, train=20, test=10))
    out = work / f"dispatch-{runs}"
    runner.run_grid(planning.Plan(plan.runs[:20], plan.datasets), out)  # starts the pool: not timed
    shutil.rmtree(out)
    start = time.perf_counter()
    summary = runner.run_grid(plan, out)
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds, summary.done


REPORTS = ("first, no cache", "again", "again", "1 % rewritten")


def report_row(work: Path, files: int) -> list[tuple]:
    """Write ``files`` results of 100 epochs (without fsync: only reading is timed) and report
    on them as :data:`REPORTS` says."""
    plan = planning.plan(grid(work, files, 100, train=20, test=10))
    out = work / f"report-{files}"
    rng = np.random.default_rng(0)
    for run in plan.runs:
        result = fake_result(run, plan.datasets[run.source], run.config.epochs, rng)
        path = results.path_for(out, run)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(results.encode(results.to_table(run, plan.datasets[run.source], result,
                                                         0.0, 0.0)))
    rows = []
    for when in REPORTS:
        if when == REPORTS[-1]:
            for run in plan.runs[::100]:  # as a rerun replaces them: new files, same content
                path = results.path_for(out, run)
                path.with_suffix(".new").write_bytes(path.read_bytes())
                path.with_suffix(".new").replace(path)
        seconds, rss, text = cli("report", str(out))
        rows.append((when, seconds, rss, len(plan.runs), len(text.splitlines()) - 2))
    shutil.rmtree(out)
    return rows


def sizes(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=sizes, default=sizes("1000,10000,100000"))
    parser.add_argument("--dispatch", type=sizes, default=sizes("1000,10000"))
    parser.add_argument("--report", type=sizes, default=sizes("1000,10000"))
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    print(f"{usable_cpus()} cores usable ({os.cpu_count()} in all), {cpu}; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{'what':<44} {'runs':>7} {'seconds':>8} {'per run':>9} {'peak RSS':>9}")
    work = Path(tempfile.mkdtemp(prefix="rnnbatch-scale-"))
    try:
        for n in args.plan:
            seconds, rss, runs = planning_row(work, n)
            print(f"{'plan: run --dry-run (fresh process)':<44} {runs:>7} {seconds:>8.2f} "
                  f"{seconds / runs * 1e6:>7.0f}µs {rss:>6.0f} MB", flush=True)
        for n in args.dispatch:
            seconds, runs = dispatch_row(work, n)
            print(f"{'dispatch: claim, submit, land':<44} {runs:>7} {seconds:>8.2f} "
                  f"{seconds / runs * 1e3:>7.2f}ms", flush=True)
        for n in args.report:
            for when, seconds, rss, runs, rows in report_row(work, n):
                print(f"{f'report ({when}): {rows} rows':<44} {runs:>7} {seconds:>8.2f} "
                      f"{seconds / runs * 1e3:>7.2f}ms {rss:>6.0f} MB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("load average after: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
