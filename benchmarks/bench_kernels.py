"""Training-kernel benchmark: the numba kernels against the numpy oracle, one core.

Run as ``python benchmarks/bench_kernels.py``. Per model: the oracle (tests/oracle.py, the
course's algorithm as plain numpy) on a subset of the seed-0 course data, scaled to a full
epoch (7000 series x 50 steps), and the kernel on full epochs; medians of a few repeats. Then
the compile cost: time to first result with a fresh numba cache (cold) and with that cache
filled (warm), each in a fresh interpreter.

Effective GFLOP/s of an RNN epoch counts the multiply-adds (2 FLOP each) that the algorithm
needs, per series and step, for layers L = 1..N of sizes p = n_{L-1}, n = n_L:
    forward  sum_L n (p + n)            w1 a^{L-1,S} + ws a^{L,S-1}
    backward sum_L n^2 + sum_{L<N} n_L n_{L+1}   ws^T D^{L,S+1} and w1^{L+1}T D^{L+1,S}
    update   sum_L n (p + n)            D a^{L-1,S}T and D a^{L,S-1}T
so FLOP/epoch = 2 x n_series x F x (2 sum_L n (p + n) + sum_L n^2 + sum_{L<N} n_L n_{L+1});
3703 multiply-adds per step for [1, 20, 20, 1], 2.59 GFLOP an epoch (bias sums, tanh and A'
not counted).
"""

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import llvmlite  # noqa: E402
from llvmlite.binding import get_host_cpu_name as host_cpu_name  # noqa: E402
import numba  # noqa: E402

from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.models import FAMILIES  # noqa: E402
from rnnbatch.train import streams  # noqa: E402
from tests import oracle  # noqa: E402

LR = 0.01
# model, layers, oracle, series the oracle runs, oracle repeats, kernel repeats, target speed-up
CASES = [
    ("rnn", (1, 20, 20, 1), oracle.rnn_train, 100, 3, 9, 40.0),
    ("rnn", (1, 6, 1), oracle.rnn_train, 300, 3, 15, 300.0),
    ("dense", (50, 1), oracle.dense_train, 2000, 3, 51, 100.0),
]
GFLOPS_TARGET = 8.0


def rnn_flop_per_epoch(layers, n_series, steps):
    pairs = list(zip(layers[:-1], layers[1:]))
    macs = (2 * sum(n * (p + n) for p, n in pairs) + sum(n * n for _, n in pairs)
            + sum(a * b for a, b in zip(layers[1:-1], layers[2:])))
    return 2.0 * n_series * steps * macs


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


COLD_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
from rnnbatch.models import FAMILIES
X = np.linspace(-1, 1, 4 * 51).reshape(4, 51)
inputs, target = X[:, :-1].copy(), X[:, -1:].copy()
order = np.arange(4, dtype=np.int64)
for family, layers in ((FAMILIES["rnn"], (1, 6, 1)), (FAMILIES["dense"], (50, 1))):
    params = family.init(layers, "scaled", np.random.default_rng(0))
    family.train_epoch(params, layers, inputs, target, order, family.new_state(layers), lr=0.01)
    family.predict(params, layers, inputs)
    family.gradient(params, layers, inputs[:1], target[:1])
print(time.perf_counter() - start)
"""


def compile_cost(script=COLD_SCRIPT, runs=2):
    """Seconds from import to the first results of ``script``'s families in fresh interpreters
    sharing a fresh numba cache: the first run cold, the next ones warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
        return [float(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                     capture_output=True, text=True).stdout) for _ in range(runs)]


def main():
    print(f"cores (os.cpu_count): {os.cpu_count()}, one thread used; {platform.processor() or platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"llvmlite {llvmlite.__version__}, LLVM target {numba.config.CPU_NAME or host_cpu_name()}")
    data = make_dataset(DataParams())
    X = data.train
    inputs, targets = X[:, :-1].copy(), X[:, -1:].copy()
    n_series, steps = X.shape[0], X.shape[1] - 1
    print(f"epoch: {n_series} series x {steps} steps, lr {LR}, seed-0 course data\n")
    header = (f"{'model':6} {'layers':14} {'oracle s/ep':>11} {'kernel s/ep':>11} {'speed-up':>9} "
              f"{'target':>7} {'met?':>5} {'GFLOP/s':>8}")
    print(header)
    print("-" * len(header))
    all_met = True
    for model, layers, oracle_train, n_oracle, o_reps, k_reps, target in CASES:
        family = FAMILIES[model]
        start = family.init(layers, "scaled", streams(0)[0])
        order = np.arange(n_series, dtype=np.int64)

        def epoch(series=order):
            family.train_epoch(start.copy(), layers, inputs, targets, series,
                               family.new_state(layers), lr=LR)

        epoch(order[:2])  # compile / load
        t_oracle = median_time(lambda: oracle_train(start.copy(), layers, X[:n_oracle, :-1],
                                                    X[:n_oracle, -1:], LR),
                               o_reps) * n_series / n_oracle
        t_kernel = median_time(epoch, k_reps)
        speedup = t_oracle / t_kernel
        met = speedup >= target
        gflops = ""
        if model == "rnn" and layers == (1, 20, 20, 1):
            rate = rnn_flop_per_epoch(layers, n_series, steps) / t_kernel / 1e9
            gflops = f"{rate:.2f}"
            met = met and rate >= GFLOPS_TARGET
        all_met = all_met and met
        print(f"{model:6} {str(list(layers)):14} {t_oracle:11.3f} {t_kernel:11.5f} {speedup:8.0f}x "
              f"{target:6.0f}x {'yes' if met else 'NO':>5} {gflops:>8}")
    flop = rnn_flop_per_epoch((1, 20, 20, 1), n_series, steps)
    print(f"\n[1, 20, 20, 1]: {flop / 1e9:.3f} GFLOP an epoch (formula in this file's docstring); "
          f"GFLOP/s target {GFLOPS_TARGET:.0f}")
    cold, warm = compile_cost()
    print(f"compile, time to first result (rnn + dense: train, predict, gradient): "
          f"cold cache {cold:.1f} s, warm cache {warm:.2f} s")
    print("all targets met" if all_met else "some targets NOT met")


if __name__ == "__main__":
    main()
