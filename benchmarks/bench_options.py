"""Per-epoch cost of each training option against the course's defaults, one core.

Run as ``python benchmarks/bench_options.py [--layers 1 20 20 1] [--rounds 5]``. Each option
trains through :func:`rnnbatch.train.train` (so noise's draws and reversal's copy count) on
the seed-0 course data, two epochs a round; the configurations take turns, round after round,
so that a slow spell of a shared machine falls on all of them. Reported: the median epoch time
over rounds and its ratio to the course defaults' median in the same run. The issue's target:
at most 1.15 for clip_norm, l1, l2, noise, reverse and bptt; loss = "every", batch and the
optimizers are reported as measured.
"""

import argparse
import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.settings import TrainConfig  # noqa: E402
from rnnbatch.train import train  # noqa: E402

TARGET = 1.15
BOUND = {"clip_norm", "l1", "l2", "noise", "reverse", "bptt"}  # held to TARGET
OPTIONS = [
    {}, {"clip_norm": 1.0}, {"l1": 1e-5}, {"l2": 1e-4}, {"noise": 0.02}, {"reverse": True},
    {"bptt": 10}, {"bptt": 1}, {"loss": "every"}, {"loss": "every", "bptt": 10},
    {"batch": 10}, {"optimizer": "momentum"}, {"optimizer": "adam", "lr": 0.001},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 20, 20, 1])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    layers = tuple(args.layers)
    data = make_dataset(DataParams())
    print(f"cores (os.cpu_count): {os.cpu_count()}, one thread used; {platform.processor() or platform.machine()}")
    print(f"rnn {list(layers)}, seed-0 course data, {args.rounds} rounds of 2 epochs\n")
    configs = [TrainConfig("rnn", layers, epochs=2, **options) for options in OPTIONS]
    train(TrainConfig("rnn", layers, epochs=1), make_dataset(DataParams(train=2, test=2)))  # compile
    seconds = {i: [] for i in range(len(configs))}
    for _ in range(args.rounds):
        for i, config in enumerate(configs):
            seconds[i] += train(config, data).seconds
    base = float(np.median(seconds[0]))
    print(f"{'option':32} {'s/epoch':>8} {'ratio':>6}  target")
    met = True
    for i, options in enumerate(OPTIONS):
        median = float(np.median(seconds[i]))
        bound = bool(BOUND & set(options)) and "loss" not in options
        ok = median / base <= TARGET
        met = met and (ok or not bound)
        label = " ".join(f"{k}={v}" for k, v in options.items()) or "course defaults"
        verdict = ("yes" if ok else "NO") if bound else "reported" if options else "baseline"
        print(f"{label:32} {median:8.4f} {median / base:6.2f}  {verdict}")
    print("\nall bound options within target" if met else "\nsome bound options OVER target")


if __name__ == "__main__":
    main()
