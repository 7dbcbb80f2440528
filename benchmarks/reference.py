"""Reproduce the course's stated figures: run jobs/reference.toml and print the comparison table.

The grid is the course's five models on its seed-0 data with 3 init seeds each, the Part 2
nets run past their stated epochs. The report puts each stated figure beside the measured
mean ± std, says whether it was met at the stated epoch, and if not, the first epoch where
the seed-mean curve reaches it.

    python benchmarks/reference.py [--grid jobs/reference.toml] [--out results] [--jobs N]

Resumable like any ``rnnbatch run``: rerunning only fills the gaps. Not part of CI.
"""

import argparse
import os

from rnnbatch import report, results, runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="jobs/reference.toml")
    parser.add_argument("--out", default="results")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    summary = runner.run_grid(args.grid, args.out, n_jobs=args.jobs,
                              on_result=lambda run, status, s: print(
                                  f"{status:<8} {run.experiment} seed {run.config.seed}", flush=True))
    print(f"{summary.done} ran, {summary.skipped} already done, {summary.seconds:.0f}s "
          f"on {args.jobs or os.cpu_count()} worker(s)\n")
    print(report.course_table(results.read(args.out)))
    print(report.report(args.out, "markdown"))


if __name__ == "__main__":
    main()
