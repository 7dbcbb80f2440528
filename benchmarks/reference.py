"""Reproduce the course's stated figures: run jobs/reference.toml and print the comparison table.

The grid is the course's five models on its seed-0 data with 3 init seeds each, the Part 2
nets run past their stated epochs. The report puts each stated figure beside the measured
mean ± std, says whether it was met at the stated epoch, and if not, the first epoch where
the seed-mean curve reaches it.

    python benchmarks/reference.py [--grid jobs/reference.toml] [--out results] [--jobs N]

Resumable like any ``rnnbatch run``: rerunning only fills the gaps. Not part of CI.
"""

from rnnbatch import render, report, results

import _grid  # benchmarks/_grid.py, beside this script


def main() -> None:
    args = _grid.run(__doc__.splitlines()[0], "jobs/reference.toml", "results")
    print(render.course_table(report.summarise(results.read(args.out))))
    print(render.report(args.out, "markdown"))


if __name__ == "__main__":
    main()
