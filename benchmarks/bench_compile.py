"""Cold compile: what one run needs compiled, per family and path, and all kernels at once.

Run as ``python benchmarks/bench_compile.py [--repeats N]``. Each case is a fresh interpreter
with a fresh numba cache that imports rnnbatch and does what a run does first: one training
epoch and one prediction on a small net of the case's shape and options (the path a run of
that kind takes). Reported: seconds from the import to the first results, as CPU time of the
process (what it costs on an idle core: on a shared machine wall time mostly measures the
other work) and as wall time, the median of the repeats; then "everything", every case in one
interpreter (all the kernels a grid of every family and path compiles, shared kernels once),
and "main job", what ``jobs/grid.toml``'s runs take in one interpreter (dense [50, 1], rnn
[1, 1] and [1, 20, 20, 1] on the general path, [1, 6, 1] on the packed one). The issue's
targets: at most 15 s for what one run needs, 10 s for the main job. Not part of CI.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET, MAIN_TARGET = 15.0, 10.0

# label, model, layers, options: each path a run can take
CASES = [
    ("rnn [1, 6, 1] (packed)", "rnn", (1, 6, 1), {}),
    ("rnn [1, 20, 20, 1] (general)", "rnn", (1, 20, 20, 1), {}),
    ("rnn [1, 20, 1] bidirectional", "rnn", (1, 20, 1), {"bidirectional": True}),
    ("dense [50, 1]", "dense", (50, 1), {}),
    ("jordan [1, 6, 1]", "jordan", (1, 6, 1), {}),
    ("gru [1, 20, 1]", "gru", (1, 20, 1), {}),
    ("lstm [1, 20, 1] adam", "lstm", (1, 20, 1), {"optimizer": "adam"}),
    ("gru [1, 20, 1] bidirectional", "gru", (1, 20, 1), {"bidirectional": True}),
]
MAIN_JOB = [("dense [50, 1]", "dense", (50, 1), {}), ("rnn [1, 1]", "rnn", (1, 1), {}),
            ("rnn [1, 6, 1]", "rnn", (1, 6, 1), {}), ("rnn [1, 20, 20, 1]", "rnn", (1, 20, 20, 1), {})]

SCRIPT = """
import time
start, cpu = time.perf_counter(), time.process_time()
import numpy as np
from rnnbatch.models import FAMILIES
X = np.linspace(-1, 1, 4 * 51).reshape(4, 51)
for model, layers, options in {cases!r}:
    family = FAMILIES[model]
    two_way = options.get("bidirectional", False)
    inputs = X[:, -layers[0] - 1:-1].copy() if model == "dense" else X[:, :-1].copy()
    params = family.init(layers, "scaled", np.random.default_rng(0), two_way)
    family.train_epoch(params, layers, inputs, X[:, -1:].copy(), np.arange(4, dtype=np.int64),
                       family.new_state(layers, two_way), lr=0.01, **options)
    family.predict(params, layers, inputs, bidirectional=two_way)
print(time.process_time() - cpu, time.perf_counter() - start)
"""


def cold(cases) -> tuple[float, float]:
    """(CPU, wall) seconds to the first results of ``cases`` in a fresh interpreter and numba
    cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
        script = SCRIPT.format(cases=[case[1:] for case in cases])
        cpu, wall = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                   capture_output=True, text=True).stdout.split()
        return float(cpu), float(wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    print(f"cores (os.cpu_count): {os.cpu_count()}; {platform.processor() or platform.machine()}; "
          f"load average {os.getloadavg()[0]:.1f}; median of {repeats} cold starts; "
          f"target <= {TARGET:g} s a run")
    print(f"{'':32} {'CPU s':>6} {'wall s':>7}")
    for case in CASES:
        cpu, wall = np.median([cold([case]) for _ in range(repeats)], axis=0)
        print(f"{case[0]:32} {cpu:6.1f} {wall:7.1f}  {'met' if cpu <= TARGET else 'NOT met'}")
    cpu, wall = np.median([cold(MAIN_JOB) for _ in range(repeats)], axis=0)
    print(f"{'main job (jobs/grid.toml)':32} {cpu:6.1f} {wall:7.1f}  "
          f"{'met' if cpu <= MAIN_TARGET else 'NOT met'} (<= {MAIN_TARGET:g} s)")
    cpu, wall = cold(CASES)
    print(f"{'everything, one interpreter':32} {cpu:6.1f} {wall:7.1f}")


if __name__ == "__main__":
    main()
