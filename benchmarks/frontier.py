"""The accuracy frontier on the course data: run jobs/frontier.toml, print its table.

Per experiment (in the grid's order): the final test MSE, mean ± std over its seeds; the best
seed-mean test MSE and its epoch; and when the seed-mean curve first reaches THRESHOLD, in
epochs and in seconds of training (the seeds' mean cumulative epoch time, one run per core).

    python benchmarks/frontier.py [--grid jobs/frontier.toml] [--out results-frontier] [--jobs N]

Resumable like any ``rnnbatch run``: rerunning only fills the gaps. Not part of CI.
"""

import numpy as np

from rnnbatch import grid, results

import _grid  # benchmarks/_grid.py, beside this script

THRESHOLD = 0.0015


def curves(table, experiment: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(seed-mean test MSE by epoch, seed-mean cumulative seconds by epoch, seeds) of the runs
    of ``experiment`` that reached the same epochs."""
    rows = [r for r in table.to_pylist() if r["experiment"] == experiment]
    runs: dict = {}
    for r in sorted(rows, key=lambda r: r["epoch"]):
        runs.setdefault(r["run_id"], []).append((r["test_mse"], r["epoch_seconds"]))
    epochs = min(len(run) for run in runs.values())
    mse = np.array([[m for m, _ in run[:epochs]] for run in runs.values()])
    seconds = np.array([np.cumsum([s for _, s in run[:epochs]]) for run in runs.values()])
    return mse, seconds, len(runs)


def table(out: str, names: list[str]) -> str:
    data = results.read(out)
    lines = [f"| experiment | seeds | final test MSE | best seed mean (epoch) | reaches {THRESHOLD} |",
             "|---|---|---|---|---|"]
    for name in names:
        mse, seconds, seeds = curves(data, name)
        mean = mse.mean(axis=0)
        best = int(np.nanargmin(mean))
        reached = np.flatnonzero(mean <= THRESHOLD)
        when = (f"epoch {reached[0] + 1}, {seconds[:, reached[0]].mean():.1f} s"
                if reached.size else "not reached")
        std = mse[:, -1].std(ddof=1) if seeds > 1 else 0.0
        lines.append(f"| {name} | {seeds} | {mse[:, -1].mean():.5f} ± {std:.5f} | "
                     f"{mean[best]:.5f} ({best + 1}) | {when} |")
    return "\n".join(lines)


def main() -> None:
    args = _grid.run(__doc__.splitlines()[0], "jobs/frontier.toml", "results-frontier")
    names = list(dict.fromkeys(name for name, _ in grid.read(args.grid)[1]))
    print(table(args.out, names))


if __name__ == "__main__":
    main()
