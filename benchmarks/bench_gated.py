"""The gated families' kernels against the numpy oracle and PyTorch, one core (not part of CI).

Run as ``python benchmarks/bench_gated.py`` (needs torch). On the course's seed-0 data (7000
series x 50 steps), for gru and lstm [1, 20, 1] from the "torch" init, lr 0.01:

* per-series SGD epoch: the kernel on full epochs; the oracle (tests/oracle_gated.py) and
  PyTorch (nn.GRU / nn.LSTM + nn.Linear, float64, one thread, an optimizer step per series;
  benchmarks/check_torch.py's net) on a subset, scaled to the epoch;
* batches of 32 with Adam: the kernel's epoch and PyTorch's (a (32, 50) batch per step);
* compile: time to the first results of both families (train, predict, gradient) with a
  fresh numba cache, in a fresh interpreter.

Medians of a few repeats. Targets: >= 40x the oracle; per series >= 50x PyTorch for gru,
>= 10x for lstm; the batch-32 Adam epoch at most half of PyTorch's.
"""

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numba  # noqa: E402

from bench_kernels import compile_cost, median_time  # noqa: E402  (benchmarks/, beside this script)
from check_torch import torch_train  # noqa: E402  (benchmarks/check_torch.py, beside this script)
from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.models import FAMILIES  # noqa: E402
from tests import oracle_gated  # noqa: E402

LR = 0.01
LAYERS = (1, 20, 1)
# model, series the oracle runs, series torch runs per series, per-series target over torch
CASES = [("gru", 30, 300, 50.0), ("lstm", 30, 300, 10.0)]
ORACLE_TARGET, ADAM_TARGET = 40.0, 2.0

COLD_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
from rnnbatch.models import FAMILIES
X = np.linspace(-1, 1, 4 * 51).reshape(4, 51)
inputs, target = X[:, :-1].copy(), X[:, -1:].copy()
order = np.arange(4, dtype=np.int64)
for name in ("gru", "lstm"):
    family, layers = FAMILIES[name], (1, 20, 1)
    params = family.init(layers, "torch", np.random.default_rng(0))
    family.train_epoch(params, layers, inputs, target, order, family.new_state(layers), lr=0.01)
    family.predict(params, layers, inputs)
    family.gradient(params, layers, inputs[:1], target[:1])
print(time.perf_counter() - start)
"""


def cold_compile():
    return compile_cost(COLD_SCRIPT, runs=1)[0]


def main():
    torch.set_num_threads(1)
    print(f"cores (os.cpu_count): {os.cpu_count()}, one thread used; {platform.processor() or platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"torch {torch.__version__}")
    data = make_dataset(DataParams())
    X, Y = data.train[:, :-1].copy(), data.train[:, -1:].copy()
    n = len(X)
    print(f"epoch: {n} series x {X.shape[1]} steps, lr {LR}, seed-0 course data, {list(LAYERS)}\n")
    header = (f"{'model':5} {'kernel s/ep':>11} {'oracle s/ep':>11} {'x oracle':>9} "
              f"{'torch s/ep':>10} {'x torch':>8} {'adam32 s/ep':>11} {'torch adam32':>12} "
              f"{'ratio':>6}")
    print(header)
    print("-" * len(header))
    met = True
    for model, n_oracle, n_torch, torch_target in CASES:
        family = FAMILIES[model]
        start = family.init(LAYERS, "torch", np.random.default_rng(0))
        order = np.arange(n, dtype=np.int64)

        def epoch(series=order, **options):
            family.train_epoch(start.copy(), LAYERS, X, Y, series, family.new_state(LAYERS),
                               lr=LR, **options)

        epoch(order[:2])  # compile / load
        t_kernel = median_time(epoch, 5)
        t_oracle = median_time(lambda: oracle_gated.train(model, start, LAYERS, X[:n_oracle],
                                                          Y[:n_oracle], order[:n_oracle], lr=LR),
                               3) * n / n_oracle
        t_torch = median_time(lambda: torch_train(model, LAYERS, start, X[:n_torch], Y[:n_torch],
                                                  LR), 3) * n / n_torch
        t_adam = median_time(lambda: epoch(batch=32, optimizer="adam"), 5)
        t_torch_adam = median_time(lambda: torch_train(model, LAYERS, start, X, Y, LR, batch=32,
                                                       optimizer="adam"), 3)
        ok = (t_oracle / t_kernel >= ORACLE_TARGET and t_torch / t_kernel >= torch_target
              and t_torch_adam / t_adam >= ADAM_TARGET)
        met = met and ok
        print(f"{model:5} {t_kernel:11.3f} {t_oracle:11.1f} {t_oracle / t_kernel:8.0f}x "
              f"{t_torch:10.1f} {t_torch / t_kernel:7.0f}x {t_adam:11.3f} {t_torch_adam:12.3f} "
              f"{t_torch_adam / t_adam:5.1f}x  (targets {ORACLE_TARGET:.0f}x, {torch_target:.0f}x, "
              f"{ADAM_TARGET:.0f}x: {'met' if ok else 'NOT met'})")
    print(f"\ncompile, time to first result (gru + lstm: train, predict, gradient), fresh cache: "
          f"{cold_compile():.1f} s")
    print("all targets met" if met else "some targets NOT met")


if __name__ == "__main__":
    main()
