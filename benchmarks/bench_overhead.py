"""Batch-service overhead and scaling, measured as ratios within one run (quote the medians).

1. Overhead: 200 ``naive`` runs (200 data seeds, 1000 train / 500 test series each) through
   ``rnnbatch run`` machinery (claims, joblib fan-out, atomic Parquet per run) against the same
   runs in one plain loop that trains and writes the same tables with plain ``pq.write_table``.
   Target: under 2x.
2. Scaling: 8 runs of [1, 6, 1] x 5 epochs on the course's data, ``--jobs 2`` against
   ``--jobs 1``. Target: at least 1.8x on 2 cores.

Datasets are made once before timing; both sides read the same ones.

    python benchmarks/bench_overhead.py [--repeats 3]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from rnnbatch import planning, results, runner
from rnnbatch.train import train

NAIVE_GRID = """
[data]
seeds = 200
train = 1000
test = 500
dir = "{data}"

[[experiment]]
name = "naive"
model = "naive"
"""

SCALING_GRID = """
[data]
dir = "{data}"

[[experiment]]
name = "rnn-6"
model = "rnn"
layers = [1, 6, 1]
epochs = 5
seeds = 8
"""


def plain_loop(plan, out: Path) -> None:
    """The same runs and the same output, with none of the service around them."""
    for run in plan.runs:
        dataset = plan.datasets[run.source]
        started = time.time()
        result = train(run.config, dataset)
        table = results.to_table(run, dataset, result, started, time.time())
        path = results.path_for(out, run)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rnnbatch-bench-"))
    try:
        naive_grid = work / "naive.toml"
        naive_grid.write_text(NAIVE_GRID.format(data=work / "data"))
        scaling_grid = work / "scaling.toml"
        scaling_grid.write_text(SCALING_GRID.format(data=work / "data"))
        naive_plan, scaling_plan = planning.plan(naive_grid), planning.plan(scaling_grid)
        runner.warm_up()

        # the first call pays for starting the worker pool (fresh processes importing numpy,
        # numba, pyarrow); later calls reuse it, as a long grid does after its first runs
        cold = timed(lambda: runner.run_grid(naive_plan, work / "cold"))
        service, loop, ratios = [], [], []
        for i in range(args.repeats):
            out_s, out_l = work / f"service{i}", work / f"loop{i}"
            service.append(timed(lambda: runner.run_grid(naive_plan, out_s)))
            loop.append(timed(lambda: plain_loop(naive_plan, out_l)))
            ratios.append(service[-1] / loop[-1])

        one, two, speedups = [], [], []
        for i in range(args.repeats):
            one.append(timed(lambda: runner.run_grid(scaling_plan, work / f"j1-{i}", n_jobs=1)))
            two.append(timed(lambda: runner.run_grid(scaling_plan, work / f"j2-{i}", n_jobs=2)))
            speedups.append(one[-1] / two[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = statistics.median
    print(f"cores: {os.cpu_count()}, repeats: {args.repeats} (medians)")
    print(f"overhead  200 naive runs: rnnbatch {med(service):.2f}s (--jobs {os.cpu_count()}, worker "
          f"pool running), plain loop {med(loop):.2f}s, ratio {med(ratios):.2f}x "
          f"(target < 2x: {'met' if med(ratios) < 2 else 'NOT met'})")
    print(f"          with a fresh worker pool: rnnbatch {cold:.2f}s, ratio {cold / med(loop):.2f}x "
          f"(pool start-up {cold - med(service):.2f}s, paid once per invocation)")
    print(f"scaling   8 x [1,6,1] x 5 epochs: --jobs 1 {med(one):.2f}s, --jobs 2 {med(two):.2f}s, "
          f"speed-up {med(speedups):.2f}x (target >= 1.8x: {'met' if med(speedups) >= 1.8 else 'NOT met'})")


if __name__ == "__main__":
    main()
