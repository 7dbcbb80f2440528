"""The rnn family's packed path: nets of 2..8 units in all ([1, 6, 1], [1, 3, 3, 1], ...).

All units sit in one vector of LANES = 8 lanes, run on a wavefront. Step tau computes
a^{L, tau-L+1} for every layer L at once from the vector of step tau - 1, so a step is one
8 x 8 matrix-vector product and one 8-lane tanh for the whole net, and the layers' chains of
dependent steps overlap (F + N - 1 steps instead of N F); BPTT runs the same wavefront
backwards. Padding lanes have zero weights, hence a = tanh(0) = 0 and D = 0; the entries of
the 8 x 8 matrix that are not parameters are masked out of the update.

It takes a one-value target (``loss = "last"``, truncated or not) and untruncated many-to-many
targets; truncated many-to-many BPTT runs on the general path.
"""

import numpy as np

from .._common import clipped, layer_offsets, tanh
from .._jit import njit
from .._update import ACTIVATION, BPTT, CLIP, TANH, take

LANES = 8  # width of the packed vector


def packs(sizes, n_targets, F, opts) -> bool:
    """Take the packed path: one input, and 2..LANES units in layers 1..N together (e.g.
    [1, 6, 1], [1, 3, 3, 1]). Measured on the course data: about 21 ms an epoch for every such
    net, against 32 ms ([1, 2, 1]) to 76 ms ([1, 2, 3, 2, 1]) on the general path; the one-node
    net [1, 1] runs faster there (15 ms against 21 ms). Truncated many-to-many BPTT and ReLU
    hidden layers run on the general path."""
    truncated_every = n_targets > 1 and 0 < opts[BPTT] < F
    return bool(sizes[0] == 1 and 1 < sizes[1:].sum() <= LANES and not truncated_every
                and opts[ACTIVATION] == TANH)


@njit
def _pack(flat, sizes, P, to_packed):
    """params layout <-> packed layout P (LANES + 2, LANES), the transposed [M | w_in | b].

    Unit i of layer L is lane l = u_off[L] - 1 + i of the packed vector. Column l of P holds
    w1^L[i] in the rows of layer L-1's lanes (layer 0, the input, in row LANES), ws^L[i] in the
    rows of layer L's own lanes and b^L[i] in row LANES + 1; every other entry is zero. Packing
    a vector of ones gives the mask of the entries that are parameters.
    """
    w_off, b_off, u_off = layer_offsets(sizes, True)
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        block = flat[w_off[L]:b_off[L]].reshape((n, p + n))
        below = u_off[L - 1] - 1 if L > 1 else LANES
        for i in range(n):
            lane = u_off[L] - 1 + i
            for j in range(p + n):
                c = below + j if j < p else u_off[L] - 1 + j - p
                if to_packed:
                    P[c, lane] = block[i, j]
                else:
                    block[i, j] = P[c, lane]
            if to_packed:
                P[LANES + 1, lane] = flat[b_off[L] + i]
            else:
                flat[b_off[L] + i] = P[LANES + 1, lane]


@njit
def _rows(P, M):
    """M = P[:LANES].T, the matrix M row by row, for the backward pass."""
    for r in range(LANES):
        for c in range(LANES):
            M[r, c] = P[c, r]


@njit(error_model="numpy")
def _forward(P, sizes, u_off, x, act):
    """Run the inputs x (F,) through the whole net at once, on a wavefront; returns a^{N,F}.

    act (F + N, LANES): row tau is the packed vector v_tau, holding a^{L, tau-L+1} in layer L's
    lanes (row 0 the zero state). Step S of layer L needs a^{L-1,S} and a^{L,S-1}, which are both
    in v_{tau-1}, so v_tau = tanh(M v_{tau-1} + w_in x[tau-1] + b): one matrix-vector product
    and one LANES-wide tanh per step for all layers, whose chains of dependent steps then run
    side by side instead of one after the other (F + N - 1 steps instead of N F). Lanes of a
    layer that has not started (tau < L) are held at zero, the zero initial state; a layer that
    has finished (tau - L + 1 > F) runs on with input 0 and is never read.

    M v is summed as a tree over the columns of M (rows of P), those of padding lanes adding
    exact zeros. The loops run over ``lanes``, LANES at run time: LLVM then vectorises them
    (one iteration of LANES lanes) instead of unrolling them into scalar code.
    """
    F = x.shape[0]
    N = sizes.shape[0] - 1
    units = u_off[N + 1] - 1
    lanes = act.shape[1]
    for tau in range(1, F + N):
        xin = x[tau - 1] if tau <= F else 0.0
        v0, v1, v2, v3 = act[tau - 1, 0], act[tau - 1, 1], act[tau - 1, 2], act[tau - 1, 3]
        v4, v5, v6, v7 = act[tau - 1, 4], act[tau - 1, 5], act[tau - 1, 6], act[tau - 1, 7]
        start = u_off[tau + 1] - 1 if tau < N else lanes  # first lane of a layer not started
        for i in range(lanes):
            a = tanh((P[LANES + 1, i] + P[LANES, i] * xin)
                     + (((P[0, i] * v0 + P[1, i] * v1) + (P[2, i] * v2 + P[3, i] * v3))
                        + ((P[4, i] * v4 + P[5, i] * v5) + (P[6, i] * v6 + P[7, i] * v7))))
            act[tau, i] = 0.0 if i >= start else a
    return act[F + N - 1, units - 1]


@njit(error_model="numpy")
def _backward(M, sizes, u_off, steps, x, y, lo, clip, act, delta, G):
    """BPTT on the wavefront after :func:`_forward`; G gets the update terms in the packed
    layout.

    Step tau makes delta_tau (LANES,), holding D^{L, tau-L+1} in layer L's lanes, beside act's
    row tau, for the taus of ``steps`` (F + N - 1 down to lo). D^{L,S} needs D^{L,S+1} and
    D^{L+1,S}, both in delta_{tau+1}: delta_tau = A'(act_tau) * (M.T delta_{tau+1}), plus the
    error e_S = y_S - a^{N,S} in the output lane at the steps S that have a target (y: targets
    of the last y.shape[0] steps), M.T delta summed as a tree over the rows of M. Lanes of steps
    S > F come out zero by themselves; those of S < lo (truncated BPTT, or S < 1) are set to
    zero. Then the step's update terms are added, G[:, l] += delta_tau[l] [v_{tau-1} | x[tau-1]
    | 1]: v_{tau-1} holds a^{L-1,S} and a^{L,S-1}, so the entries that are parameters get the
    course's sums over S (taken S = F..lo); the others get products that the update masks
    out. These sums run in a loop of their own, reading v_{tau-1} only then: with fewer values
    live in each loop nothing spills to the stack, whose reloads made the time vary by a
    third from one process to the next.
    """
    F = x.shape[0]
    N = sizes.shape[0] - 1
    units = u_off[N + 1] - 1
    lanes = act.shape[1]  # LANES, as in _forward
    first = F - y.shape[0] + 1  # the step of y[0]
    g = G.reshape(-1)  # flat: the rows' offsets are constants to LLVM, which can then vectorise
    g[:] = 0.0
    delta[:] = 0.0
    errs = np.zeros(LANES)  # the step's output error, in the output lane: no branch per lane
    for tau in steps:
        S_out = tau - N + 1  # the output layer's step
        if S_out >= first:  # the output lane's error enters at this step
            errs[units - 1] = y[S_out - first] - act[tau, units - 1]
        d0, d1, d2, d3 = delta[0], delta[1], delta[2], delta[3]
        d4, d5, d6, d7 = delta[4], delta[5], delta[6], delta[7]
        started = tau - lo + 1  # layers 1..started are at steps S >= lo
        start = u_off[started + 1] - 1 if started < N else lanes  # first lane of a step S < lo
        for i in range(lanes):
            a = act[tau, i]
            u = (((M[0, i] * d0 + M[1, i] * d1) + (M[2, i] * d2 + M[3, i] * d3))
                 + ((M[4, i] * d4 + M[5, i] * d5) + (M[6, i] * d6 + M[7, i] * d7))) + errs[i]
            delta[i] = 0.0 if i >= start else clipped((1.0 - a * a) * u, clip)
        errs[units - 1] = 0.0
        v0, v1, v2, v3 = act[tau - 1, 0], act[tau - 1, 1], act[tau - 1, 2], act[tau - 1, 3]
        v4, v5, v6, v7 = act[tau - 1, 4], act[tau - 1, 5], act[tau - 1, 6], act[tau - 1, 7]
        xin = x[tau - 1] if tau <= F else 0.0
        for i in range(lanes):
            d = delta[i]
            g[0 * LANES + i] += v0 * d
            g[1 * LANES + i] += v1 * d
            g[2 * LANES + i] += v2 * d
            g[3 * LANES + i] += v3 * d
            g[4 * LANES + i] += v4 * d
            g[5 * LANES + i] += v5 * d
            g[6 * LANES + i] += v6 * d
            g[7 * LANES + i] += v7 * d
            g[LANES * LANES + i] += xin * d
            g[LANES * LANES + LANES + i] += d


@njit
def _state(params, sizes, F, bptt, n_targets):
    """Packed-path arrays for inputs of F steps: P (from params), M, the parameter mask, act,
    delta, G, the units' offsets, the backward pass's taus (descending) and its lowest step.

    The taus are read from an array rather than counted down by ``range``: with addresses that
    decrease from one step to the next, LLVM's overlap check for the vectorised loop (hoisted
    out of the step loop) gives up and runs the scalar loop, measured twice as slow.
    """
    N = sizes.shape[0] - 1
    P, mask, G = np.zeros((LANES + 2, LANES)), np.zeros((LANES + 2, LANES)), np.zeros((LANES + 2, LANES))
    M, delta, act = np.zeros((LANES, LANES)), np.zeros(LANES), np.zeros((F + N, LANES))
    _pack(params, sizes, P, True)
    _rows(P, M)
    _pack(np.ones(params.shape[0]), sizes, mask, True)
    lo = max(1, F - bptt + 1) if bptt > 0 and n_targets == 1 else 1
    steps = np.arange(F + N - 1, lo - 1, -1)
    return P, M, mask, act, delta, G, layer_offsets(sizes, True)[2], steps, lo


@njit(error_model="numpy")
def train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps_taken):
    """The general path's ``train_epoch`` on the packed layout (nets that :func:`packs`)."""
    F, N = X.shape[1], sizes.shape[0] - 1
    clip = opts[CLIP]
    P, M, mask, act, delta, G, u_off, steps, lo = _state(params, sizes, F, int(opts[BPTT]),
                                                         Y.shape[1])
    packed = np.zeros((3, LANES + 2, LANES))  # decay and the two moments, packed
    _pack(decay, sizes, packed[0], True)
    for row in range(2):
        _pack(moments[row], sizes, packed[row + 1], True)
    p, g, m = P.reshape(-1), G.reshape(-1), mask.reshape(-1)
    d, mom = packed[0].reshape(-1), packed[1:].reshape((2, -1))
    total = np.zeros(g.shape[0])
    sse = 0.0
    ok = True
    count = np.int64(0)  # not the literal 0, for which numba would compile take once more
    for r in range(order.shape[0]):
        x, y = X[order[r]], Y[order[r]]
        _forward(P, sizes, u_off, x, act)
        _backward(M, sizes, u_off, steps, x, y, lo, clip, act, delta, G)
        err = y[y.shape[0] - 1] - act[F + N - 1, u_off[N + 1] - 2]  # a^{N,F}: the last lane
        if not np.isfinite(err):
            ok = False
            break
        sse += err * err
        count = take(p, g, total, count, r == order.shape[0] - 1, m, d, opts, mom, steps_taken)
        if count == 0:
            _rows(P, M)
    _pack(params, sizes, P, False)
    for row in range(2):
        _pack(moments[row], sizes, packed[row + 1], False)
    return (sse / order.shape[0], True) if ok else (np.nan, False)


@njit(error_model="numpy")
def predict(params, sizes, X, opts):
    P, _, _, act, _, _, u_off, _, _ = _state(params, sizes, X.shape[1], 0, 1)
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(P, sizes, u_off, X[r], act)
    return out


@njit(error_model="numpy")
def terms(params, sizes, x, y, opts):
    """One series' update terms, in the params layout."""
    P, M, _, act, delta, G, u_off, steps, lo = _state(params, sizes, x.shape[0], int(opts[BPTT]),
                                                      y.shape[0])
    _forward(P, sizes, u_off, x, act)
    _backward(M, sizes, u_off, steps, x, y, lo, opts[CLIP], act, delta, G)
    out = np.empty(params.shape[0])
    _pack(out, sizes, G, False)
    return out
