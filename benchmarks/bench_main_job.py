"""The README's main job, as a new user runs it: wall time from a fresh clone (kernels compiled
cold, the dataset made), then compiled, and ``--jobs 2`` against ``--jobs 1``.

    python benchmarks/bench_main_job.py [--repeats 2]

1. cold: ``git clone`` of this repository's HEAD into a temporary folder, then ``rnnbatch run
   jobs/grid.toml`` there, in a fresh process with an empty numba cache (NUMBA_CACHE_DIR).
2. compiled: the same command with ``--force`` (every run again, kernels from the cache).
3. ``--force --jobs 1`` and ``--force --jobs 2``, alternating, ``--repeats`` times each.
Then the training seconds of each experiment's runs (from the results), which bound the wall
time from below: on 2 cores, the longest runs cannot finish sooner than their own sum over
the cores allows. The issue's targets: cold at most 60 s, compiled at most 35 s, jobs 2 at least
1.8x jobs 1. Uses the interpreter it runs with (rnnbatch and its dependencies installed).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]


def timed(args, cwd, env) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rnnbatch", "run", "jobs/grid.toml", *args], cwd=cwd,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    repeats = parser.parse_args().repeats
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"{os.cpu_count()} cores, {cpu}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "rnnbatch"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = dict(os.environ, PYTHONPATH=str(clone), NUMBA_CACHE_DIR=str(Path(tmp) / "numba"))
        print(f"cold (fresh clone, empty numba cache): {timed([], clone, env):.1f} s")
        print(f"compiled (--force): {timed(['--force'], clone, env):.1f} s")
        seconds = {1: [], 2: []}
        for _ in range(repeats):
            for jobs in seconds:
                seconds[jobs].append(timed(["--force", "--jobs", str(jobs)], clone, env))
        one, two = (statistics.median(seconds[jobs]) for jobs in (1, 2))
        print(f"--jobs 1: {', '.join(f'{s:.1f}' for s in seconds[1])} s; "
              f"--jobs 2: {', '.join(f'{s:.1f}' for s in seconds[2])} s; "
              f"ratio of medians {one / two:.2f}x")
        sys.path.insert(0, str(clone))
        from rnnbatch import results
        table = results.read(clone / "results")
        print("training seconds of the last --jobs 2 run, by experiment:")
        for name in sorted(set(table["experiment"].to_pylist())):
            rows = table.filter(pc.equal(table["experiment"], name))
            by_run = {}
            for run_id, s in zip(rows["run_id"].to_pylist(), rows["epoch_seconds"].to_pylist()):
                by_run[run_id] = by_run.get(run_id, 0.0) + s
            print(f"  {name:12} " + ", ".join(f"{s:.1f}" for s in by_run.values()))


if __name__ == "__main__":
    main()
