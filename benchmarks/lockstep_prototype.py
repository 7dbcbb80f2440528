"""A measured prototype, not shipped: the rnn family's packed path in lockstep, up to RUNS
nets of one shape trained side by side (``benchmarks/bench_lockstep.py`` times it).

Run k of a group is :mod:`rnnbatch.models.rnn._packed`'s wavefront with one more index: every array of the
single-run kernel gets a last axis of RUNS lanes (act[tau, unit, k], the packed matrices
P[c, unit, k] and M[r, unit, k]), and every operation runs over it innermost. Each lane does
exactly the single-run kernel's IEEE operations in its order (the same tree sums, the same
tanh) and nothing crosses lanes, so a run's numbers are bit for bit those it gets alone,
whatever it is grouped with. What changes is the machine's work: a step of a single run is a
chain of dependent 8-lane operations; here RUNS such chains advance together as RUNS-wide
vector operations (the lane loops run to RUNS at run time, so LLVM vectorises them instead of
unrolling them; at 4 lanes its vector body, 4 x 2 interleaved, never ran).

Updates stay per run: each lane's terms are copied out to that run's own packed arrays and
taken there by the shared step (``_update.take``, as alone), then copied back in. Runs that
differ in lr (or any option of the step) therefore group too. A run whose error stops being
finite stops updating there, as alone; the others go on.
"""

import numpy as np

from numba import njit

from rnnbatch.models._common import clipped, layer_offsets, tanh
from rnnbatch.models._update import BPTT, CLIP, take
from rnnbatch.models.rnn._packed import LANES, _pack

RUNS = 8  # lanes a group computes at once: its runs, padded with idle lanes


@njit(error_model="numpy")
def _forward(P, N, u_off, x, act):
    """:func:`rnnbatch.models.rnn._packed._forward` on every lane; x (F, RUNS) the lanes' inputs."""
    F = x.shape[0]
    lanes, runs = act.shape[1], act.shape[2]  # at run time: LLVM vectorises, not unrolls
    for tau in range(1, F + N):
        start = u_off[tau + 1] - 1 if tau < N else lanes  # first lane of a layer not started
        for i in range(lanes):
            for k in range(runs):
                xin = x[tau - 1, k] if tau <= F else 0.0
                v = tau - 1
                a = tanh((P[LANES + 1, i, k] + P[LANES, i, k] * xin)
                         + (((P[0, i, k] * act[v, 0, k] + P[1, i, k] * act[v, 1, k])
                             + (P[2, i, k] * act[v, 2, k] + P[3, i, k] * act[v, 3, k]))
                            + ((P[4, i, k] * act[v, 4, k] + P[5, i, k] * act[v, 5, k])
                               + (P[6, i, k] * act[v, 6, k] + P[7, i, k] * act[v, 7, k]))))
                act[tau, i, k] = 0.0 if i >= start else a


@njit(error_model="numpy")
def _backward(M, N, u_off, steps, x, y, lo, clip, act, delta, before, errs, G):
    """:func:`rnnbatch.models.rnn._packed._backward` on every lane; x (F, RUNS) and y (targets, RUNS)."""
    F = x.shape[0]
    units = u_off[N + 1] - 1
    lanes, runs = act.shape[1], act.shape[2]
    first = F - y.shape[0] + 1
    G[:] = 0.0
    delta[:] = 0.0
    errs[:] = 0.0
    for tau in steps:
        S_out = tau - N + 1
        if S_out >= first:
            for k in range(RUNS):
                errs[units - 1, k] = y[S_out - first, k] - act[tau, units - 1, k]
        before[:] = delta  # delta_{tau+1}, read while delta_tau is written
        started = tau - lo + 1
        start = u_off[started + 1] - 1 if started < N else lanes
        for i in range(lanes):
            for k in range(runs):
                a = act[tau, i, k]
                d = before
                u = (((M[0, i, k] * d[0, k] + M[1, i, k] * d[1, k])
                      + (M[2, i, k] * d[2, k] + M[3, i, k] * d[3, k]))
                     + ((M[4, i, k] * d[4, k] + M[5, i, k] * d[5, k])
                        + (M[6, i, k] * d[6, k] + M[7, i, k] * d[7, k]))) + errs[i, k]
                delta[i, k] = 0.0 if i >= start else clipped((1.0 - a * a) * u, clip)
        for k in range(RUNS):
            errs[units - 1, k] = 0.0
        for i in range(lanes):
            for k in range(runs):
                xin = x[tau - 1, k] if tau <= F else 0.0
                d = delta[i, k]
                for c in range(LANES):
                    G[c, i, k] += act[tau - 1, c, k] * d
                G[LANES, i, k] += xin * d
                G[LANES + 1, i, k] += d


@njit
def _lane_in(own, P, M, k):
    """Lane k of the group's P and M from a run's own packed P."""
    for c in range(LANES + 2):
        for i in range(LANES):
            P[c, i, k] = own[c, i]
    for r in range(LANES):
        for c in range(LANES):
            M[r, c, k] = own[c, r]


@njit(error_model="numpy")
def train_epochs(params, sizes, X, which, Y, orders, decay, opts, moments, steps_taken):
    """:func:`rnnbatch.models.rnn._packed.train_epoch` for K <= RUNS runs in lockstep.

    Run k has parameters params[k], options opts[k] (its lr; BPTT's shape, clip and bptt, from
    opts[0], shared by the group), optimizer state moments[k] and steps_taken[k], and reads
    the inputs X[which[k]] in the order orders[k] (its own shuffle and noise); the targets Y
    are shared. Returns each run's (mean squared final-step error, ok).
    """
    K, n = params.shape
    F, N, T = X.shape[2], sizes.shape[0] - 1, Y.shape[1]
    clip, bptt = opts[0, CLIP], int(opts[0, BPTT])
    u_off = layer_offsets(sizes, True)[2]
    units = u_off[N + 1] - 1
    lo = max(1, F - bptt + 1) if bptt > 0 and T == 1 else 1
    steps = np.arange(F + N - 1, lo - 1, -1)  # as in _packed._state, for the same reason
    mask = np.zeros((LANES + 2, LANES))
    _pack(np.ones(n), sizes, mask, True)
    own = np.zeros((K, 4, LANES + 2, LANES))  # per run: P, decay and the two moments, packed
    P, M = np.zeros((LANES + 2, LANES, RUNS)), np.zeros((LANES, LANES, RUNS))
    for k in range(K):
        _pack(params[k], sizes, own[k, 0], True)
        _pack(decay, sizes, own[k, 1], True)
        for row in range(2):
            _pack(moments[k, row], sizes, own[k, 2 + row], True)
        _lane_in(own[k, 0], P, M, k)
    act = np.zeros((F + N, LANES, RUNS))
    delta, before, errs = np.zeros((LANES, RUNS)), np.zeros((LANES, RUNS)), np.zeros((LANES, RUNS))
    G = np.zeros((LANES + 2, LANES, RUNS))
    x, y = np.zeros((F, RUNS)), np.zeros((T, RUNS))
    g = np.empty((LANES + 2) * LANES)
    total = np.zeros((K, (LANES + 2) * LANES))
    count = np.zeros(K, np.int64)
    sse = np.zeros(K)
    alive = np.ones(K, np.bool_)
    rows = orders.shape[1]
    for r in range(rows):
        for k in range(RUNS):
            run = k if k < K else 0  # idle lanes (zero weights) read run 0's series
            src = X[which[run], orders[run, r]]
            for t in range(F):
                x[t, k] = src[t]
            for t in range(T):
                y[t, k] = Y[orders[run, r], t]
        _forward(P, N, u_off, x, act)
        _backward(M, N, u_off, steps, x, y, lo, clip, act, delta, before, errs, G)
        for k in range(K):
            if not alive[k]:
                continue
            err = y[T - 1, k] - act[F + N - 1, units - 1, k]
            if not np.isfinite(err):
                alive[k] = False
                continue
            sse[k] += err * err
            for c in range(LANES + 2):
                for i in range(LANES):
                    g[c * LANES + i] = G[c, i, k]
            mine = own[k].reshape((4, -1))
            count[k] = take(mine[0], g, total[k], count[k], r == rows - 1, mask.reshape(-1),
                            mine[1], opts[k], mine[2:], steps_taken[k])
            if count[k] == 0:
                _lane_in(own[k, 0], P, M, k)
        if not alive.any():
            break
    for k in range(K):
        _pack(params[k], sizes, own[k, 0], False)
        for row in range(2):
            _pack(moments[k, row], sizes, own[k, 2 + row], False)
    return np.where(alive, sse / rows, np.nan), alive
