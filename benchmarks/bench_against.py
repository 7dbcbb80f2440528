"""Course-default epochs of this tree's kernels against another tree's, in one process.

Run as ``python benchmarks/bench_against.py OLD_PACKAGE_DIR [MODEL ...]`` where OLD_PACKAGE_DIR holds a copy
of an earlier ``rnnbatch`` package renamed ``rnnbatch_old`` (its imports are relative, so the
copy imports as itself):

    git worktree add /tmp/base <commit> && mkdir /tmp/old
    cp -r /tmp/base/rnnbatch /tmp/old/rnnbatch_old
    python benchmarks/bench_against.py /tmp/old

The two trees' epochs alternate, so a slow spell of a shared machine falls on both; reported:
the minimum epoch time of each (the least disturbed) and the median of the per-round ratios.
The issue's target: the course defaults no slower, within 5 %.
"""

import importlib
import os
import sys
import time

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.models import FAMILIES  # noqa: E402
from rnnbatch.train import streams  # noqa: E402

CASES = [("rnn", (1, 20, 20, 1), 9), ("rnn", (1, 6, 1), 31), ("dense", (50, 1), 101)]


def old_epoch(old, model, layers, X, order, start):
    """One epoch through the old tree's public call: 0.1.x's train_epoch(params, layers,
    series, order, lr, clip), series rows inputs then target."""
    family = old.models.FAMILIES[model]
    return lambda: family.train_epoch(start.copy(), layers, X, order, 0.01, 0.0)


def new_epoch(model, layers, X, order, start):
    family = FAMILIES[model]
    inputs, targets = X[:, :-1].copy(), X[:, -1:].copy()
    return lambda: family.train_epoch(start.copy(), layers, inputs, targets, order,
                                      family.new_state(layers), lr=0.01)


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    old = importlib.import_module("rnnbatch_old")
    importlib.import_module("rnnbatch_old.models")
    X = make_dataset(DataParams()).train
    order = np.arange(len(X), dtype=np.int64)
    print(f"cores (os.cpu_count): {os.cpu_count()}, one thread used; course data, lr 0.01\n")
    print(f"{'model':6} {'layers':14} {'old s/ep':>9} {'new s/ep':>9} {'median ratio':>13}")
    for model, layers, rounds in CASES:
        if sys.argv[2:] and model not in sys.argv[2:]:
            continue
        start = FAMILIES[model].init(layers, "scaled", streams(0)[0])
        runs = (old_epoch(old, model, layers, X, order, start), new_epoch(model, layers, X, order, start))
        for run in runs:
            run()  # compile or load
        times = np.empty((rounds, 2))
        for r in range(rounds):
            for k, run in enumerate(runs):
                begin = time.process_time()
                run()
                times[r, k] = time.process_time() - begin
        ratio = float(np.median(times[:, 1] / times[:, 0]))
        print(f"{model:6} {str(list(layers)):14} {times[:, 0].min():9.5f} {times[:, 1].min():9.5f} "
              f"{ratio:13.3f}")


if __name__ == "__main__":
    main()
