"""Runs in lockstep (issue 13, item 1): what computing runs side by side in SIMD lanes buys.

Run as ``python benchmarks/bench_lockstep.py [--repeats N]``. One core. Two measurements, each
against today's single-run kernel in the same process (ratios in one run, medians):

1. [1, 6, 1], a whole training epoch on the course data (7000 series x 50 steps, per-series
   SGD): today's packed kernel, one run at a time, against ``lockstep_prototype.py``, the same
   wavefront with a last axis of 8 run lanes (the lane loops vectorised by LLVM), for 1, 4 and
   8 runs in the group. Both are also set against the numpy oracle (tests/oracle.py) on a
   subset, scaled to an epoch. Before timing, the script checks that every lane of the
   prototype ends bit for bit where that run ends alone (two epochs, three option sets).
2. [1, 6, 1]'s forward pass the other way round: runs interleaved step by step, each run's 8
   units vectorised as alone (act[tau, run, unit]), so one run is today's kernel; for 1, 2, 4
   and 8 runs, against today's ``_packed._forward``.
3. [1, 20, 20, 1]'s inner loop, a 20-unit layer's step (a^S = tanh(W a^{S-1} + b), 20 x 20,
   rows four at a time as ``_common.add_rows`` takes them) for 2000 series x 50 steps: today's
   (vectorised along the layer's 20 units) against the same sums for R runs side by side
   (vectorised along the runs, R = 4, 8, 16).

The issue's targets for 4 or more runs in lockstep: [1, 6, 1] at least 1000x the oracle,
[1, 20, 20, 1] at least 120x (today about 375x and 52x, README "Speed").
"""

import argparse
import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]

import lockstep_prototype as lockstep  # noqa: E402
from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.models import FAMILIES  # noqa: E402
from rnnbatch.models._common import add_rows, layer_offsets, tanh  # noqa: E402
from rnnbatch.models.rnn import _packed  # noqa: E402
from rnnbatch.models._update import options  # noqa: E402
from tests import oracle  # noqa: E402

RNN = FAMILIES["rnn"]
LAYERS = (1, 6, 1)
SIZES = np.array(LAYERS, dtype=np.int64)
LR = 0.01


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn, repeats):
    return float(np.median([seconds(fn) for _ in range(repeats)]))


def per_run_against(single, fn, runs, repeats):
    """Median seconds per run of ``fn`` and median ratio single / per-run, timed in
    alternation (on a shared machine the load drifts between two separate medians)."""
    pairs = [(seconds(single), seconds(fn) / runs) for _ in range(repeats)]
    return (float(np.median([t for _, t in pairs])),
            float(np.median([s / t for s, t in pairs])))


def group(runs, inputs, targets, orders, settings):
    """The prototype's arrays for ``runs`` fresh runs (seeds 0..runs-1, lr LR * (1 + seed))."""
    params = np.stack([RNN.init(LAYERS, "scaled", np.random.default_rng(s)) for s in range(runs)])
    opts = np.stack([options(LR * (1 + s), **settings) for s in range(runs)])
    return (params, SIZES, inputs[None], np.zeros(runs, np.int64), targets, orders[:runs],
            RNN.decay(LAYERS), opts, np.zeros((runs, 2, params.shape[1])), np.zeros((runs, 1)))


def check_bits(inputs, targets):
    """Every lane of the prototype ends where its run ends alone (else the timing is moot)."""
    n = 500
    inputs, targets = inputs[:n], targets[:n]
    orders = np.stack([np.random.default_rng(9 + s).permutation(n) for s in range(3)]).astype(np.int64)
    for settings in ({}, {"optimizer": "adam", "batch": 10, "clip_norm": 0.5, "l2": 1e-3},
                     {"clip": 0.1, "bptt": 5}):
        args = group(3, inputs, targets, orders, settings)
        for _ in range(2):
            lockstep.train_epochs(*args)
        params, moments = args[0], args[8]
        for s in range(3):
            alone = RNN.init(LAYERS, "scaled", np.random.default_rng(s))
            state = RNN.new_state(LAYERS)
            for _ in range(2):
                RNN.train_epoch(alone, LAYERS, inputs, targets, orders[s], state, lr=LR * (1 + s),
                                **settings)
            assert np.array_equal(alone, params[s]) and np.array_equal(state[0], moments[s]), settings
    print("bits: every lane equals its run alone (3 runs x 3 option sets x 2 epochs)")


@njit(error_model="numpy")
def _forward_interleaved(P, u_off, x, act):
    """``_packed._forward`` of [1, 6, 1] (N = 2) for runs k = 0.. in turn at every step."""
    F, lanes = x.shape[1], act.shape[2]
    for tau in range(1, F + 2):
        start = u_off[tau + 1] - 1 if tau < 2 else lanes
        for k in range(act.shape[1]):
            xin = x[k, tau - 1] if tau <= F else 0.0
            v = act[tau - 1, k]
            v0, v1, v2, v3, v4, v5, v6, v7 = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
            Q = P[k]
            for i in range(lanes):
                a = tanh((Q[9, i] + Q[8, i] * xin)
                         + (((Q[0, i] * v0 + Q[1, i] * v1) + (Q[2, i] * v2 + Q[3, i] * v3))
                            + ((Q[4, i] * v4 + Q[5, i] * v5) + (Q[6, i] * v6 + Q[7, i] * v7))))
                act[tau, k, i] = 0.0 if i >= start else a


@njit(error_model="numpy")
def _forwards_interleaved(P, u_off, X, act):
    total = 0.0
    for r in range(X.shape[0]):
        _forward_interleaved(P, u_off, X[r], act)
        total += act[-1, 0, 6]
    return total


@njit(error_model="numpy")
def _forwards_single(P, sizes, u_off, X, act):
    total = 0.0
    for r in range(X.shape[0]):
        total += _packed._forward(P, sizes, u_off, X[r], act)
    return total


@njit(error_model="numpy")
def _layer_single(T, A, n_series):
    total = 0.0
    for _ in range(n_series):
        for S in range(1, A.shape[0]):
            add_rows(A, S, T, 0, A, S - 1, True)
            for i in range(A.shape[1]):
                A[S, i] = tanh(A[S, i] + 0.01)
        total += A[-1, 0]
    return total


@njit(error_model="numpy")
def _layer_step_lanes(T, before, after):
    """after[i, k] = tanh(sum_j T[j, i, k] before[j, k] + 0.01), rows four at a time."""
    m, n, runs = T.shape
    for i in range(n):
        for k in range(runs):
            after[i, k] = 0.0
    j = 0
    while j + 4 <= m:
        for i in range(n):
            for k in range(runs):
                after[i, k] += ((before[j, k] * T[j, i, k] + before[j + 1, k] * T[j + 1, i, k])
                                + (before[j + 2, k] * T[j + 2, i, k] + before[j + 3, k] * T[j + 3, i, k]))
        j += 4
    for i in range(n):
        for k in range(runs):
            after[i, k] = tanh(after[i, k] + 0.01)


@njit(error_model="numpy")
def _layer_lanes(T, A, n_series):
    total = 0.0
    for _ in range(n_series):
        for S in range(1, A.shape[0]):
            _layer_step_lanes(T, A[S - 1], A[S])
        total += A[-1, 0, 0]
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    print(f"cores (os.cpu_count): {os.cpu_count()}, one used; {platform.processor() or platform.machine()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    data = make_dataset(DataParams())
    inputs, targets = data.train[:, :-1].copy(), data.train[:, -1:].copy()
    n_series = len(inputs)
    check_bits(inputs, targets)

    order = np.arange(n_series, dtype=np.int64)
    orders = np.stack([order] * lockstep.RUNS)
    start = RNN.init(LAYERS, "scaled", np.random.default_rng(0))
    n_oracle = 300
    t_oracle = median_time(lambda: oracle.rnn_train(start.copy(), LAYERS, inputs[:n_oracle],
                                                    targets[:n_oracle], LR), 3) * n_series / n_oracle

    def single():
        RNN.train_epoch(start.copy(), LAYERS, inputs, targets, order, RNN.new_state(LAYERS), lr=LR)

    single()
    print(f"\n1. [1, 6, 1] epoch, per run (oracle {t_oracle:.2f} s an epoch)")
    print(f"{'kernel':34} {'s/epoch/run':>11} {'vs single':>9} {'vs oracle':>9}")
    timings = {}
    for runs in (1, 4, 8):
        args = group(runs, inputs, targets, orders, {})
        lockstep.train_epochs(*args)  # compile
        timings[runs] = args
    t = median_time(single, repeats)
    print(f"{'the packed kernel, alone':34} {t:11.4f} {1:8.2f}x {t_oracle / t:8.0f}x")
    for runs in (1, 4, 8):
        t, ratio = per_run_against(single, lambda a=timings[runs]: lockstep.train_epochs(*a),
                                   runs, repeats)
        print(f"{f'prototype, {runs} run(s) in the group':34} {t:11.4f} {ratio:8.2f}x "
              f"{t_oracle / t:8.0f}x")

    print("\n2. [1, 6, 1] forward passes, runs interleaved step by step, per run")
    u_off = layer_offsets(SIZES, True)[2]
    rng = np.random.default_rng(0)
    P1, act1 = rng.uniform(-0.5, 0.5, (10, 8)), np.zeros((52, 8))
    _forwards_single(P1, SIZES, u_off, inputs[:2], act1)
    for runs in (1, 2, 4, 8):
        P, act = rng.uniform(-0.5, 0.5, (runs, 10, 8)), np.zeros((52, runs, 8))
        X = np.ascontiguousarray(np.broadcast_to(inputs[:, None, :], (n_series, runs, 50)))
        _forwards_interleaved(P, u_off, X[:2], act)
        _, ratio = per_run_against(lambda: _forwards_single(P1, SIZES, u_off, inputs, act1),
                                   lambda: _forwards_interleaved(P, u_off, X, act), runs, repeats)
        print(f"{runs:2} run(s): {ratio:.2f}x today's speed per run")

    print("\n3. a 20-unit layer's step (the inner loop of [1, 20, 20, 1]), per run")
    T1, A1 = rng.uniform(-0.05, 0.05, (20, 20)), rng.uniform(-1, 1, (51, 20))
    _layer_single(T1, A1, 1)
    for runs in (4, 8, 16):
        T, A = rng.uniform(-0.05, 0.05, (20, 20, runs)), rng.uniform(-1, 1, (51, 20, runs))
        _layer_lanes(T, A, 1)
        _, ratio = per_run_against(lambda: _layer_single(T1, A1, 2000),
                                   lambda: _layer_lanes(T, A, 2000), runs, repeats)
        print(f"{runs:2} runs side by side: {ratio:.2f}x today's speed per run")


if __name__ == "__main__":
    main()
