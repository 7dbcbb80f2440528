"""What the grid-reproducing scripts share: their options, and running the grid aloud."""

import argparse
import os

from rnnbatch import runner


def run(description: str, grid: str, out: str) -> argparse.Namespace:
    """Parse ``--grid``, ``--out`` and ``--jobs`` (defaults ``grid`` and ``out``), run the grid
    (resumable: only the gaps) printing each run as it lands; return the options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--grid", default=grid)
    parser.add_argument("--out", default=out)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    summary = runner.run_grid(args.grid, args.out, n_jobs=args.jobs,
                              on_result=lambda run, status, s: print(
                                  f"{status:<8} {run.experiment} seed {run.config.seed}", flush=True))
    print(f"{summary.done} ran, {summary.skipped} already done, {summary.seconds:.0f}s "
          f"on {args.jobs or os.cpu_count()} worker(s)\n")
    return args
