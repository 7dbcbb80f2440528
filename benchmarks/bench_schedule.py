"""Dispatch order: a grid's wall time with its runs started longest expected work first (what
``rnnbatch run`` does) against the order of the grid file, alternating, on a fresh results
directory each time. Default: the README's main job, ``jobs/grid.toml``, with ``--jobs 2``.

    python benchmarks/bench_schedule.py [--grid jobs/grid.toml] [--jobs 2] [--repeats 2]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rnnbatch import planning, runner

ORDERS = {"longest first": planning.longest_first, "grid file": lambda runs, datasets: runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default=str(Path(__file__).parents[1] / "jobs" / "grid.toml"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    plan = planning.plan(args.grid)  # datasets made before timing
    runner.warm_up({run.config.model for run in plan.runs})
    for name, order in ORDERS.items():
        print(f"{name}: " + ", ".join(f"{run.experiment}/{run.config.seed}"
                                      for run in order(plan.runs, plan.datasets)))
    seconds = {name: [] for name in ORDERS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name, order in ORDERS.items():
                runner.longest_first = order  # what run_grid calls
                began = time.perf_counter()
                summary = runner.run_grid(plan, Path(tmp) / f"{repeat}-{name}", n_jobs=args.jobs)
                seconds[name].append(time.perf_counter() - began)
                assert summary.complete and summary.done == len(plan.runs)
                print(f"  {name}: {seconds[name][-1]:.1f} s", flush=True)
    for name, times in seconds.items():
        print(f"{name}: median {statistics.median(times):.1f} s of {', '.join(f'{t:.1f}' for t in times)}")


if __name__ == "__main__":
    main()
