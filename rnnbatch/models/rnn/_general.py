"""The rnn family's general path: any layer sizes, a layer over all steps at a time.

An epoch works on a *working layout* of the weights, w1^L (n, p) and ws^L (n, n) apart,
row-major (``_convert``; written back to ``params`` when the epoch ends), plus ``wt``, the
transposed blocks [w1 | ws].T (p + n, n), refreshed after every update.

* Passes go a layer at a time over all steps (forward L = 1..N, backward L = N..1), since
  a^{L,S} needs only a^{L-1,S} and a^{L,S-1}, and D^{L,S} only D^{L,S+1} and D^{L+1,S};
  activations and deltas are per-layer (steps, n) blocks indexed by loop variables only
  (2D views made once per layer and series: no slicing, no reference counting in the loops).
* Layers of 8 units or more compute a matrix-vector product as sums of contiguous rows
  (``add_rows``: y += z_k M_k, four rows per pass, vectorised along the layer), narrower
  layers as one scalar dot product per unit. The update terms are summed over the steps, four
  steps per pass along rows of the gradient (``add_outer``), rows shorter than 8 in registers.
* Truncated BPTT of a many-to-many loss (each prediction's error back through its own last k
  steps) runs one backward pass per prediction and sums their deltas: the update terms are
  linear in the deltas, so they are then taken once.
"""

import numpy as np

from .._common import NARROW, activate, add_outer, add_rows, clipped, layer_offsets, slope, tanh
from .._jit import njit
from .._update import ACTIVATION, BPTT, CLIP, RELU, take


@njit
def _weights(work, sizes, w_off, L):
    """Views of layer L's w1 (n, p) and ws (n, n) in a working-layout vector."""
    p, n = sizes[L - 1], sizes[L]
    return (work[w_off[L]:w_off[L] + n * p].reshape((n, p)),
            work[w_off[L] + n * p:w_off[L] + n * (p + n)].reshape((n, n)))


@njit
def _convert(src, sizes, w_off, b_off, dst, to_work):
    """params layout (rows of [w1 | ws]) <-> working layout (w1, then ws, each row-major)."""
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        flat = (src if to_work else dst)[w_off[L]:b_off[L]].reshape((n, p + n))
        W1, Ws = _weights(dst if to_work else src, sizes, w_off, L)
        for i in range(n):
            for j in range(p):
                if to_work:
                    W1[i, j] = flat[i, j]
                else:
                    flat[i, j] = W1[i, j]
            for j in range(n):
                if to_work:
                    Ws[i, j] = flat[i, p + j]
                else:
                    flat[i, p + j] = Ws[i, j]
        for i in range(n):  # not a slice assignment: its error message alone took seconds to compile
            dst[b_off[L] + i] = src[b_off[L] + i]


@njit
def _transpose(work, sizes, w_off, wt):
    """wt[w_off[L]:] = [w1 | ws].T, shape (p + n, n): the forward pass's row-sum copy (wide layers)."""
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        if n < NARROW:
            continue
        W1, Ws = _weights(work, sizes, w_off, L)
        T = wt[w_off[L]:w_off[L] + (p + n) * n].reshape((p + n, n))
        for i in range(n):
            for j in range(p):
                T[j, i] = W1[i, j]
            for j in range(n):
                T[p + j, i] = Ws[i, j]


@njit(error_model="numpy")
def _forward(work, sizes, x, relu, w_off, b_off, u_off, wt, act):
    """Run the inputs ``x`` (F,) through the net, a layer over all steps at a time.

    act holds, per layer L, a^{L,S} for S = 0..F as an (F + 1, n) block (row 0 the zero
    state; layer 0 is the input). dot^{L,S} = a^{L-1,S} . [w1 rows of wt] + a^{L,S-1} . [ws rows]
    (+ b), i.e. the course's products taken column by column; a = tanh(dot), or max(dot, 0)
    below the output layer with ``relu``. Returns a^{N,F}.
    """
    F = x.shape[0]
    N = sizes.shape[0] - 1
    act[0] = 0.0
    for S in range(1, F + 1):
        act[S] = x[S - 1]
    for L in range(1, N + 1):
        p, n = sizes[L - 1], sizes[L]
        below = act[(F + 1) * u_off[L - 1]:(F + 1) * u_off[L]].reshape((F + 1, p))
        A = act[(F + 1) * u_off[L]:(F + 1) * u_off[L + 1]].reshape((F + 1, n))
        b = work[b_off[L]:b_off[L] + n]
        rectified = relu and L < N
        for i in range(n):
            A[0, i] = 0.0
        if n < NARROW:  # one scalar dot product per unit, in registers
            W1, Ws = _weights(work, sizes, w_off, L)
            for S in range(1, F + 1):
                for i in range(n):
                    acc = 0.0
                    for j in range(p):
                        acc += W1[i, j] * below[S, j]
                    for j in range(n):
                        acc += Ws[i, j] * A[S - 1, j]
                    A[S, i] = activate(acc + b[i], rectified)
            continue
        T = wt[w_off[L]:w_off[L] + (p + n) * n].reshape((p + n, n))
        for S in range(1, F + 1):
            add_rows(A, S, T, 0, below, S, True)
            add_rows(A, S, T, p, A, S - 1, False)
            if rectified:  # unswitched by hand: a branch in the loop stops it vectorising
                for i in range(n):
                    A[S, i] = activate(A[S, i] + b[i], True)
            else:
                for i in range(n):
                    A[S, i] = tanh(A[S, i] + b[i])
    return act[(F + 1) * u_off[N] + F]


@njit(error_model="numpy")
def _backward(work, sizes, y, top, lo, errs_from, clip, relu, w_off, b_off, u_off, act, delta,
              grad):
    """One BPTT pass after :func:`_forward`: the deltas D^{L,S} for S = top..lo.

    Output errors e_S = y_S - a^{N,S} enter at the steps S = errs_from..top (y holds the
    targets of the last y.shape[0] steps); the pass starts from D^{·,top+1} = 0 and stops at
    lo (the deltas below are not computed). A layer at a time from the output down, each over
    S = top..lo (D^{L,S} needs D^{L,S+1} and D^{L+1,S} only). delta holds, per layer, D^{L,S}
    as an (F + 2, n) block, so every delta takes one form: D^{L,S} = A' * (ws^L.T D^{L,S+1} + u)
    with u = w1^{L+1}.T D^{L+1,S} below the output layer and u = e_S at it. A non-empty ``grad``
    gets each layer's update terms as soon as its deltas are done, while they are in cache.
    """
    F = act.shape[0] // u_off[-1] - 1
    N = sizes.shape[0] - 1
    first = F - y.shape[0] + 1  # the step of y[0]
    for L in range(N, 0, -1):
        n = sizes[L]
        A = act[(F + 1) * u_off[L]:(F + 1) * u_off[L + 1]].reshape((F + 1, n))
        D = delta[(F + 2) * u_off[L]:(F + 2) * u_off[L + 1]].reshape((F + 2, n))
        Ws = _weights(work, sizes, w_off, L)[1]
        rectified = relu and L < N
        if L < N:  # the layer above: w1^{L+1} (n_up, n) and D^{L+1} (F + 2, n_up)
            W1_up = _weights(work, sizes, w_off, L + 1)[0]
            above = delta[(F + 2) * u_off[L + 1]:(F + 2) * u_off[L + 2]].reshape((F + 2, sizes[L + 1]))
        for i in range(n):
            D[top + 1, i] = 0.0
        for S in range(top, lo - 1, -1):
            if n < NARROW:  # one scalar dot product per unit, down the columns
                for i in range(n):
                    acc = 0.0
                    for k in range(n):
                        acc += Ws[k, i] * D[S + 1, k]
                    if L < N:
                        for k in range(sizes[L + 1]):
                            acc += W1_up[k, i] * above[S, k]
                    elif S >= errs_from:  # the output layer: one unit, its error e_S
                        acc += y[S - first] - A[S, 0]
                    D[S, i] = clipped(slope(A[S, i], rectified) * acc, clip)
                continue
            add_rows(D, S, Ws, 0, D, S + 1, True)  # a wide layer is never the output layer
            add_rows(D, S, W1_up, 0, above, S, False)
            if rectified:
                for i in range(n):
                    D[S, i] = clipped(slope(A[S, i], True) * D[S, i], clip)
            else:
                for i in range(n):
                    D[S, i] = clipped((1.0 - A[S, i] * A[S, i]) * D[S, i], clip)
        if grad.shape[0]:  # (a pass per prediction sums only the steps it reached instead)
            for S in range(1, lo):  # steps the pass does not reach add nothing to the terms
                for i in range(n):
                    D[S, i] = 0.0
            _layer_terms(grad, sizes, w_off, b_off, u_off, act, delta, L)


@njit(forceinline=True)
def _layer_terms(grad, sizes, w_off, b_off, u_off, act, delta, L):
    """Layer L's update terms into grad (working layout): sum_S D^{L,S} a^{L-1,S}.T,
    sum_{S>=2} D^{L,S} a^{L,S-1}.T and sum_S D^{L,S}, over S = 1..F (the deltas of steps a
    truncated pass did not reach are zero)."""
    F = act.shape[0] // u_off[-1] - 1
    p, n = sizes[L - 1], sizes[L]
    below = act[(F + 1) * u_off[L - 1]:(F + 1) * u_off[L]].reshape((F + 1, p))
    A = act[(F + 1) * u_off[L]:(F + 1) * u_off[L + 1]].reshape((F + 1, n))
    D = delta[(F + 2) * u_off[L]:(F + 2) * u_off[L + 1]].reshape((F + 2, n))
    G1, Gs = _weights(grad, sizes, w_off, L)
    gb = grad[b_off[L]:b_off[L] + n]
    for i in range(n):
        add_outer(G1, i, D, below, 0)
        add_outer(Gs, i, D, A, -1)  # A[0] is the zero state: S = 1 adds nothing
        total = 0.0
        for S in range(1, F + 1):
            total += D[S, i]
        gb[i] = total


@njit(error_model="numpy")
def _series_terms(work, sizes, y, opts, w_off, b_off, u_off, act, delta, summed, grad):
    """grad = the update terms of one series after :func:`_forward`, for targets y of its
    last y.shape[0] steps, with BPTT truncated to opts[BPTT] steps (0: every step)."""
    F = act.shape[0] // u_off[-1] - 1
    clip, bptt, relu = opts[CLIP], int(opts[BPTT]), opts[ACTIVATION] == RELU
    first = F - y.shape[0] + 1
    if y.shape[0] == 1 or bptt == 0 or bptt >= F:  # one pass carries every error
        lo = max(1, F - bptt + 1) if bptt > 0 else 1
        _backward(work, sizes, y, F, lo, first, clip, relu, w_off, b_off, u_off, act, delta, grad)
        return
    summed[:] = 0.0
    for t in range(first, F + 1):  # prediction t's error, back through steps t..t-bptt+1
        lo = max(1, t - bptt + 1)
        _backward(work, sizes, y, t, lo, t, clip, relu, w_off, b_off, u_off, act, delta, grad[:0])
        for L in range(1, sizes.shape[0]):
            n = sizes[L]
            D = delta[(F + 2) * u_off[L]:(F + 2) * u_off[L + 1]].reshape((F + 2, n))
            Dsum = summed[(F + 2) * u_off[L]:(F + 2) * u_off[L + 1]].reshape((F + 2, n))
            for S in range(lo, t + 1):
                for i in range(n):
                    Dsum[S, i] += D[S, i]
    for L in range(1, sizes.shape[0]):
        _layer_terms(grad, sizes, w_off, b_off, u_off, act, summed, L)


@njit
def _buffers(params, sizes, F):
    """The working layout of ``params`` and the general path's scratch arrays."""
    w_off, b_off, u_off = layer_offsets(sizes, True)
    work = np.empty(params.shape[0])
    _convert(params, sizes, w_off, b_off, work, True)
    wt = np.zeros(params.shape[0])
    _transpose(work, sizes, w_off, wt)
    act = np.zeros((F + 1) * u_off[-1])
    delta = np.zeros((F + 2) * u_off[-1])
    return w_off, b_off, u_off, work, wt, act, delta


@njit(error_model="numpy")
def train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over ``X[order]`` (inputs) and ``Y[order]`` (targets), an update per batch
    through the shared step; returns (mean squared final-step error before each update, ok).

    The weights, decay mask and optimizer moments are worked on in the working layout and
    written back when the epoch ends (or when the error stops being finite).
    """
    F = X.shape[1]
    w_off, b_off, u_off, work, wt, act, delta = _buffers(params, sizes, F)
    n = params.shape[0]
    mask = np.ones(n)
    decay_w, moments_w = np.empty(n), np.empty((2, n))
    _convert(decay, sizes, w_off, b_off, decay_w, True)
    for row in range(2):
        _convert(moments[row], sizes, w_off, b_off, moments_w[row], True)
    summed = np.zeros(delta.shape[0])
    grad, total = np.zeros(n), np.zeros(n)
    relu = opts[ACTIVATION] == RELU
    sse = 0.0
    ok = True
    count = np.int64(0)  # not the literal 0, for which numba would compile take once more
    for r in range(order.shape[0]):
        _forward(work, sizes, X[order[r]], relu, w_off, b_off, u_off, wt, act)
        y = Y[order[r]]
        _series_terms(work, sizes, y, opts, w_off, b_off, u_off, act, delta, summed, grad)
        err = y[y.shape[0] - 1] - act[(F + 1) * u_off[-2] + F]
        if not np.isfinite(err):
            ok = False
            break
        sse += err * err
        count = take(work, grad, total, count, r == order.shape[0] - 1, mask, decay_w, opts,
                     moments_w, steps)
        if count == 0:
            _transpose(work, sizes, w_off, wt)
    _convert(work, sizes, w_off, b_off, params, False)
    for row in range(2):
        _convert(moments_w[row], sizes, w_off, b_off, moments[row], False)
    return (sse / order.shape[0], True) if ok else (np.nan, False)


@njit(error_model="numpy")
def predict(params, sizes, X, opts):
    w_off, b_off, u_off, work, wt, act, _ = _buffers(params, sizes, X.shape[1])
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(work, sizes, X[r], opts[ACTIVATION] == RELU, w_off, b_off, u_off, wt,
                          act)
    return out


@njit(error_model="numpy")
def terms(params, sizes, x, y, opts):
    """One series' update terms, in the params layout."""
    w_off, b_off, u_off, work, wt, act, delta = _buffers(params, sizes, x.shape[0])
    grad = np.zeros(params.shape[0])
    _forward(work, sizes, x, opts[ACTIVATION] == RELU, w_off, b_off, u_off, wt, act)
    _series_terms(work, sizes, y, opts, w_off, b_off, u_off, act, delta,
                  np.zeros(delta.shape[0]), grad)
    out = np.empty(params.shape[0])
    _convert(grad, sizes, w_off, b_off, out, False)
    return out
