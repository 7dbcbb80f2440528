"""Fully recurrent tanh network, exactly the N-layer algorithm of RNNs Part 2 (course file 000).

Layers ``[1, h1, ..., 1]``; every layer L = 1..N is recurrent, the output layer included.
For step S = 1..F (F = steps - 1), with a^{L,0} = 0 and a^{0,S} = x[S-1]::

    dot^{L,S} = w1^L a^{L-1,S} + ws^L a^{L,S-1} + b^L,    a^{L,S} = tanh(dot^{L,S})

The prediction is a^{N,F}, read after the last step only. BPTT as written in the course
(A' = 1 - a^2, equal to 1/cosh^2 of the dot)::

    D^{N,F} = A' * (y - a^{N,F})
    D^{N,S} = A' * ws^N.T D^{N,S+1}                          S = F-1 .. 1
    D^{L,F} = A' * w1^{L+1}.T D^{L+1,F}                      L = N-1 .. 1
    D^{L,S} = A' * (ws^L.T D^{L,S+1} + w1^{L+1}.T D^{L+1,S})  S = F-1 .. 1, L = N-1 .. 1

then, once per series, b += lr sum_S D, w1 += lr sum_S D a^{L-1,S}.T,
ws += lr sum_{S>=2} D a^{L,S-1}.T. With ``clip > 0`` every delta is clipped elementwise to
[-clip, clip] as it is computed (the course's "Clipping"), before it propagates further.

Parameter layout, one flat float64 vector, per layer L (p = size of L-1, n = size of L):
``W^L`` of shape (n, p + n) row-major, the columns being [w1^L | ws^L], then ``b^L`` (n,).

How the kernels compute it (the same arithmetic, other loop orders; single-threaded, no
fastmath flags, so LLVM neither reassociates nor contracts, and every sum below is taken in
an order fixed by the code alone, the same whatever the CPU's SIMD width):

* A training epoch works on a *working layout* of the weights, w1^L (n, p) and ws^L (n, n)
  apart, row-major (``_convert``; written back to ``params`` when the epoch ends), plus
  ``wt``, the transposed blocks [w1 | ws].T (p + n, n), refreshed once per series.
* Passes go a layer at a time over all steps (forward L = 1..N, backward L = N..1), since
  a^{L,S} needs only a^{L-1,S} and a^{L,S-1}, and D^{L,S} only D^{L,S+1} and D^{L+1,S};
  activations and deltas are per-layer (steps, n) blocks indexed by loop variables only
  (2D views made once per layer and series: no slicing, no reference counting in the loops).
* Layers of 8 units or more compute a matrix-vector product as sums of contiguous rows
  (``_add_rows``: y += z_k M_k, four rows per pass, vectorised along the layer), narrower
  layers as one scalar dot product per unit. The update terms are summed over the steps, four
  steps per pass along rows of the gradient (``_add_outer``), rows shorter than 8 in registers.
* Nets whose widest layer has 5..7 units (``_fits_lanes``, e.g. [1, 6, 1]) take the *lane
  path* instead: every layer zero-padded to LANES = 8 units (weights, activations, deltas),
  so each step is a few fixed-width vector operations and one 8-lane tanh instead of n scalar
  tanh. Padding units have zero weights, hence a = tanh(0) = 0 and D = 0, and add exact zeros
  to the real units' sums; their gradient is zero, so they stay zero. The update terms are
  summed while the deltas are made (steps F..1).
* tanh is ``_common.tanh`` (a few ulp from libm's, vectorisable).
"""

import numpy as np
from numba import njit

from ._common import init_uniform, layer_offsets, tanh


def layer_shapes(layers):
    """(rows, cols) of each layer's [w1 | ws] block; a bias of ``rows`` follows each."""
    return [(n, p + n) for p, n in zip(layers[:-1], layers[1:])]


def init_radius(p: int, n: int) -> float:
    """Course file 000: r = sqrt(3 / temp), an RNN layer's inputs counting itself: temp = (p + 2n) / 2."""
    return float(np.sqrt(3.0 / ((p + 2 * n) / 2.0)))


def n_params(layers) -> int:
    return sum(rows * cols + rows for rows, cols in layer_shapes(layers))


def init(layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    radii = [init_radius(p, n) for p, n in zip(layers[:-1], layers[1:])]
    return init_uniform(layer_shapes(layers), radii if scheme == "scaled" else None, rng)


NARROW = 8  # layers narrower than this take the scalar paths (too short to vectorise)


@njit(cache=True)
def _weights(work, sizes, w_off, L):
    """Views of layer L's w1 (n, p) and ws (n, n) in a working-layout vector."""
    p, n = sizes[L - 1], sizes[L]
    return (work[w_off[L]:w_off[L] + n * p].reshape((n, p)),
            work[w_off[L] + n * p:w_off[L] + n * (p + n)].reshape((n, n)))


@njit(cache=True)
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
        dst[b_off[L]:b_off[L] + n] = src[b_off[L]:b_off[L] + n]


@njit(cache=True)
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


@njit(cache=True, inline="always")
def _add_rows(Y, s, M, m0, Z, z, fresh):
    """Y[s, :] (+)= sum_k Z[z, k] M[m0 + k, :], rows of M taken four at a time; with ``fresh``
    the first group sets the row of Y instead of adding to it.

    Each group adds (z0 M0 + z1 M1) + (z2 M2 + z3 M3) to the row of Y: the chain of dependent
    additions through Y, which lives in memory and is what bounds a matrix-vector product this
    small, is one per four rows instead of one per row. The inner loop runs along contiguous
    rows (LLVM vectorises it); the order of the sums is fixed whatever the SIMD width.
    """
    n = Y.shape[1]
    K = Z.shape[1]
    k = 0
    while k + 4 <= K:
        z0, z1, z2, z3 = Z[z, k], Z[z, k + 1], Z[z, k + 2], Z[z, k + 3]
        r = m0 + k
        first = fresh and k == 0
        for i in range(n):
            t = (z0 * M[r, i] + z1 * M[r + 1, i]) + (z2 * M[r + 2, i] + z3 * M[r + 3, i])
            Y[s, i] = t if first else Y[s, i] + t
        k += 4
    while k < K:
        zk = Z[z, k]
        r = m0 + k
        first = fresh and k == 0
        for i in range(n):
            Y[s, i] = zk * M[r, i] if first else Y[s, i] + zk * M[r, i]
        k += 1


@njit(cache=True, inline="always")
def _add_outer(G, i, D, Z, shift):
    """G[i, :] = sum_{S=1..F} D[S, i] Z[S + shift, :] (D is (F + 2, n)), steps four at a time.

    The grouping is :func:`_add_rows`'s, for the same reason: one dependent addition into the
    row of G per four steps. Rows shorter than NARROW are summed step by step in registers.
    """
    last = D.shape[0] - 2
    if G.shape[1] < NARROW:  # short rows: scalar sums over the steps, in registers
        for j in range(G.shape[1]):
            total = 0.0
            for S in range(1, last + 1):
                total += D[S, i] * Z[S + shift, j]
            G[i, j] = total
        return
    for j in range(G.shape[1]):
        G[i, j] = 0.0
    S = 1
    while S + 3 <= last:
        d0, d1, d2, d3 = D[S, i], D[S + 1, i], D[S + 2, i], D[S + 3, i]
        r = S + shift
        for j in range(G.shape[1]):
            G[i, j] += (d0 * Z[r, j] + d1 * Z[r + 1, j]) + (d2 * Z[r + 2, j] + d3 * Z[r + 3, j])
        S += 4
    while S <= last:
        d, r = D[S, i], S + shift
        for j in range(G.shape[1]):
            G[i, j] += d * Z[r, j]
        S += 1


@njit(cache=True, error_model="numpy")
def _forward(work, sizes, x, w_off, b_off, u_off, wt, act):
    """Run the series ``x[:F]`` through the net, a layer over all steps at a time.

    act holds, per layer L, a^{L,S} for S = 0..F as an (F + 1, n) block (row 0 the zero
    state; layer 0 is the input). dot^{L,S} = a^{L-1,S} . [w1 rows of wt] + a^{L,S-1} . [ws rows]
    (+ b), i.e. the course's products taken column by column. Returns a^{N,F}.
    """
    F = x.shape[0] - 1
    N = sizes.shape[0] - 1
    act[0] = 0.0
    for S in range(1, F + 1):
        act[S] = x[S - 1]
    for L in range(1, N + 1):
        p, n = sizes[L - 1], sizes[L]
        below = act[(F + 1) * u_off[L - 1]:(F + 1) * u_off[L]].reshape((F + 1, p))
        A = act[(F + 1) * u_off[L]:(F + 1) * u_off[L + 1]].reshape((F + 1, n))
        b = work[b_off[L]:b_off[L] + n]
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
                    A[S, i] = tanh(acc + b[i])
            continue
        T = wt[w_off[L]:w_off[L] + (p + n) * n].reshape((p + n, n))
        for S in range(1, F + 1):
            _add_rows(A, S, T, 0, below, S, True)
            _add_rows(A, S, T, p, A, S - 1, False)
            for i in range(n):
                A[S, i] = tanh(A[S, i] + b[i])
    return act[(F + 1) * u_off[N] + F]


@njit(cache=True, inline="always")
def _clipped(value, clip):
    if clip > 0.0:
        if value > clip:
            return clip
        if value < -clip:
            return -clip
    return value


@njit(cache=True, error_model="numpy")
def _backward(work, sizes, y, clip, w_off, b_off, u_off, act, delta, grad):
    """BPTT for one series after :func:`_forward`; grad = sum of the course's update terms.

    A layer at a time from the output down, each over S = F..1 (D^{L,S} needs D^{L,S+1} and
    D^{L+1,S} only). delta holds, per layer, D^{L,S} as an (F + 2, n) block whose row F + 1
    stays zero, so every delta takes one form: D^{L,S} = A' * (ws^L.T D^{L,S+1} + u) with
    u = w1^{L+1}.T D^{L+1,S} below the output layer and u = (y - a^{N,F}) [S = F] at it.
    grad is in the working layout.
    """
    F = act.shape[0] // u_off[-1] - 1
    N = sizes.shape[0] - 1
    err = y - act[(F + 1) * u_off[N] + F]
    for L in range(N, 0, -1):
        p, n = sizes[L - 1], sizes[L]
        below = act[(F + 1) * u_off[L - 1]:(F + 1) * u_off[L]].reshape((F + 1, p))
        A = act[(F + 1) * u_off[L]:(F + 1) * u_off[L + 1]].reshape((F + 1, n))
        D = delta[(F + 2) * u_off[L]:(F + 2) * u_off[L + 1]].reshape((F + 2, n))
        Ws = _weights(work, sizes, w_off, L)[1]
        if L < N:  # the layer above: w1^{L+1} (n_up, n) and D^{L+1} (F + 2, n_up)
            W1_up = _weights(work, sizes, w_off, L + 1)[0]
            above = delta[(F + 2) * u_off[L + 1]:(F + 2) * u_off[L + 2]].reshape((F + 2, sizes[L + 1]))
        for i in range(n):
            D[F + 1, i] = 0.0
        for S in range(F, 0, -1):
            if n < NARROW:  # one scalar dot product per unit, down the columns
                for i in range(n):
                    acc = 0.0
                    for k in range(n):
                        acc += Ws[k, i] * D[S + 1, k]
                    if L < N:
                        for k in range(sizes[L + 1]):
                            acc += W1_up[k, i] * above[S, k]
                    elif S == F:
                        acc += err
                    D[S, i] = _clipped((1.0 - A[S, i] * A[S, i]) * acc, clip)
                continue
            _add_rows(D, S, Ws, 0, D, S + 1, True)
            if L < N:
                _add_rows(D, S, W1_up, 0, above, S, False)
            elif S == F:
                D[S, 0] += err
            for i in range(n):
                D[S, i] = _clipped((1.0 - A[S, i] * A[S, i]) * D[S, i], clip)
        # update terms: sum_S D^{L,S} a^{L-1,S}.T, sum_{S>=2} D^{L,S} a^{L,S-1}.T, sum_S D^{L,S}
        G1, Gs = _weights(grad, sizes, w_off, L)
        gb = grad[b_off[L]:b_off[L] + n]
        for i in range(n):
            _add_outer(G1, i, D, below, 0)
            _add_outer(Gs, i, D, A, -1)  # A[0] is the zero state: S = 1 adds nothing
            total = 0.0
            for S in range(1, F + 1):
                total += D[S, i]
            gb[i] = total
    return err


LANES = NARROW  # width of the lane path's vectors


@njit(cache=True)
def _fits_lanes(sizes):
    """Take the lane path: the widest layer has LANES/2 < n < LANES units (5..7). Measured on
    the course data: [1, 6, 1] and [1, 5, 4, 1] gain 15-25%; nets of width 1..4 run faster on
    the scalar path (less padding), width 8 on the row-sum path."""
    widest = 0
    for L in range(sizes.shape[0]):
        widest = max(widest, sizes[L])
    return LANES // 2 < widest < LANES


@njit(cache=True)
def _lanes(flat, sizes, W8, to_lanes):
    """params layout <-> lane layout W8 (N + 1, LANES, 2 LANES + 1): row i of layer L holds
    w1^L[i] in columns 0..p-1, ws^L[i] in LANES..LANES+n-1 and b^L[i] in column 2 LANES;
    every other entry stays zero."""
    w_off, b_off, _ = layer_offsets(sizes, True)
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        block = flat[w_off[L]:b_off[L]].reshape((n, p + n))
        for i in range(n):
            for j in range(p + n):
                c = j if j < p else LANES + j - p
                if to_lanes:
                    W8[L, i, c] = block[i, j]
                else:
                    block[i, j] = W8[L, i, c]
            if to_lanes:
                W8[L, i, 2 * LANES] = flat[b_off[L] + i]
            else:
                flat[b_off[L] + i] = W8[L, i, 2 * LANES]


@njit(cache=True)
def _transpose_lanes(W8, WT8):
    """WT8[L] = W8[L].T, shape (2 LANES + 1, LANES): columns of [w1 | ws | b] as lane vectors."""
    for L in range(W8.shape[0]):
        for i in range(LANES):
            for c in range(2 * LANES + 1):
                WT8[L, c, i] = W8[L, i, c]


@njit(cache=True, error_model="numpy")
def _forward_lanes(WT8, sizes, x, act8):
    """:func:`_forward` with every layer held in LANES lanes; act8 (N + 1, F + 1, LANES),
    a^{L,S} in lanes 0..n-1 of act8[L, S] (row 0 and the other lanes zero). Returns a^{N,F}.

    dot = b + sum_{j<p} w1[:, j] a^{L-1,S}_j + sum_{j<n} ws[:, j] a^{L,S-1}_j, summed in
    this order, then tanh, over all LANES lanes: loops of fixed width that LLVM turns into
    vector code, whose padding lanes (zero weights) hold tanh(0) = 0.
    """
    F = x.shape[0] - 1
    N = sizes.shape[0] - 1
    for S in range(1, F + 1):
        act8[0, S, 0] = x[S - 1]
    for L in range(1, N + 1):
        p, n = sizes[L - 1], sizes[L]
        for S in range(1, F + 1):
            for i in range(LANES):
                act8[L, S, i] = WT8[L, 2 * LANES, i]
            for j in range(p):
                z = act8[L - 1, S, j]
                for i in range(LANES):
                    act8[L, S, i] += WT8[L, j, i] * z
            for j in range(n):
                z = act8[L, S - 1, j]
                for i in range(LANES):
                    act8[L, S, i] += WT8[L, LANES + j, i] * z
            for i in range(LANES):
                act8[L, S, i] = tanh(act8[L, S, i])
    return act8[N, F, 0]


@njit(cache=True, error_model="numpy")
def _backward_lanes(W8, sizes, y, clip, act8, delta8, G8):
    """:func:`_backward` in lanes: delta8 (N + 1, F + 2, LANES), row F + 1 zero; G8 gets the
    update terms in W8's layout (bias column included).

    D^{L,S} = A' * (sum_k D^{L,S+1}_k ws^L[k] + sum_{k<n_up} D^{L+1,S}_k w1^{L+1}[k])
    lane-wise (rows of the weights are lane vectors); the first sum, which carries the step-to-
    step chain, runs over all LANES rows (padding rows zero), four per pass as in
    :func:`_add_rows`. As each D^{L,S} is made its update terms are added:
    G[i] += D^{L,S}_i [a^{L-1,S} | a^{L,S-1} | 1], so the sums over the steps run S = F..1.
    (The same four-row grouping in the forward pass measured slower, so it sums j < n singly.)
    """
    F = act8.shape[1] - 1
    N = sizes.shape[0] - 1
    err = y - act8[N, F, 0]
    for L in range(N, 0, -1):
        n = sizes[L]
        n_up = sizes[L + 1] if L < N else 0
        for i in range(n):
            for c in range(2 * LANES + 1):
                G8[L, i, c] = 0.0
        for S in range(F, 0, -1):
            for i in range(LANES):
                delta8[L, S, i] = 0.0
            for k in range(0, LANES, 4):  # ws^L.T D^{L,S+1}, four rows per pass (the chain)
                d0, d1 = delta8[L, S + 1, k], delta8[L, S + 1, k + 1]
                d2, d3 = delta8[L, S + 1, k + 2], delta8[L, S + 1, k + 3]
                for i in range(LANES):
                    c = LANES + i
                    delta8[L, S, i] += ((W8[L, k, c] * d0 + W8[L, k + 1, c] * d1)
                                        + (W8[L, k + 2, c] * d2 + W8[L, k + 3, c] * d3))
            for k in range(n_up):
                d = delta8[L + 1, S, k]
                for i in range(LANES):
                    delta8[L, S, i] += W8[L + 1, k, i] * d
            if L == N and S == F:
                delta8[L, S, 0] += err
            for i in range(LANES):
                a = act8[L, S, i]
                delta8[L, S, i] = _clipped((1.0 - a * a) * delta8[L, S, i], clip)
            for i in range(n):
                d = delta8[L, S, i]
                for j in range(LANES):
                    G8[L, i, j] += d * act8[L - 1, S, j]
                    G8[L, i, LANES + j] += d * act8[L, S - 1, j]
                G8[L, i, 2 * LANES] += d
    return err


@njit(cache=True)
def _lane_state(params, sizes, F):
    """Zeroed lane-path arrays for series of F steps: W8 (from params), WT8, act8, delta8, G8."""
    N = sizes.shape[0] - 1
    W8 = np.zeros((N + 1, LANES, 2 * LANES + 1))
    _lanes(params, sizes, W8, True)
    WT8 = np.zeros((N + 1, 2 * LANES + 1, LANES))
    _transpose_lanes(W8, WT8)
    act8 = np.zeros((N + 1, F + 1, LANES))
    delta8 = np.zeros((N + 1, F + 2, LANES))
    return W8, WT8, act8, delta8, np.zeros_like(W8)


@njit(cache=True, error_model="numpy")
def _train_epoch_lanes(params, sizes, X, order, lr, clip):
    """:func:`_train_epoch` on the lane layout (nets that :func:`_fits_lanes`)."""
    F = X.shape[1] - 1
    W8, WT8, act8, delta8, G8 = _lane_state(params, sizes, F)
    w, g = W8.reshape(-1), G8.reshape(-1)
    sse = 0.0
    ok = True
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward_lanes(WT8, sizes, x, act8)
        err = _backward_lanes(W8, sizes, x[F], clip, act8, delta8, G8)
        if not np.isfinite(err):
            ok = False
            break
        sse += err * err
        for k in range(w.shape[0]):
            w[k] += lr * g[k]
        _transpose_lanes(W8, WT8)
    _lanes(params, sizes, W8, False)
    return (sse / order.shape[0], True) if ok else (np.nan, False)


@njit(cache=True, error_model="numpy")
def _train_epoch(params, sizes, X, order, lr, clip):
    """One epoch of per-series SGD; returns (mean squared error before each update, ok).

    The weights are worked on in their working layout (w1 and ws apart) and written back to
    ``params`` at the end (or when the error stops being finite).
    """
    if _fits_lanes(sizes):
        return _train_epoch_lanes(params, sizes, X, order, lr, clip)
    w_off, b_off, u_off = layer_offsets(sizes, True)
    F = X.shape[1] - 1
    work = np.empty(params.shape[0])
    _convert(params, sizes, w_off, b_off, work, True)
    act = np.zeros((F + 1) * u_off[-1])
    delta = np.zeros((F + 2) * u_off[-1])
    grad = np.zeros(params.shape[0])
    wt = np.zeros(params.shape[0])
    _transpose(work, sizes, w_off, wt)
    sse = 0.0
    ok = True
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward(work, sizes, x, w_off, b_off, u_off, wt, act)
        err = _backward(work, sizes, x[F], clip, w_off, b_off, u_off, act, delta, grad)
        if not np.isfinite(err):
            ok = False
            break
        sse += err * err
        for k in range(work.shape[0]):
            work[k] += lr * grad[k]
        _transpose(work, sizes, w_off, wt)
    _convert(work, sizes, w_off, b_off, params, False)
    return (sse / order.shape[0], True) if ok else (np.nan, False)


@njit(cache=True, error_model="numpy")
def _predict(params, sizes, X):
    out = np.empty(X.shape[0])
    if _fits_lanes(sizes):
        W8, WT8, act8, _, _ = _lane_state(params, sizes, X.shape[1] - 1)
        for r in range(X.shape[0]):
            out[r] = _forward_lanes(WT8, sizes, X[r], act8)
        return out
    w_off, b_off, u_off = layer_offsets(sizes, True)
    work = np.empty(params.shape[0])
    _convert(params, sizes, w_off, b_off, work, True)
    wt = np.zeros(params.shape[0])
    _transpose(work, sizes, w_off, wt)
    act = np.zeros(X.shape[1] * u_off[-1])
    for r in range(X.shape[0]):
        out[r] = _forward(work, sizes, X[r], w_off, b_off, u_off, wt, act)
    return out


@njit(cache=True, error_model="numpy")
def _gradient(params, sizes, x, clip):
    F = x.shape[0] - 1
    out = np.empty(params.shape[0])
    if _fits_lanes(sizes):
        W8, WT8, act8, delta8, G8 = _lane_state(params, sizes, F)
        _forward_lanes(WT8, sizes, x, act8)
        _backward_lanes(W8, sizes, x[F], clip, act8, delta8, G8)
        _lanes(out, sizes, G8, False)
        return out
    w_off, b_off, u_off = layer_offsets(sizes, True)
    work = np.empty(params.shape[0])
    _convert(params, sizes, w_off, b_off, work, True)
    wt = np.zeros(params.shape[0])
    _transpose(work, sizes, w_off, wt)
    act = np.zeros((F + 1) * u_off[-1])
    delta = np.zeros((F + 2) * u_off[-1])
    grad = np.zeros(params.shape[0])
    _forward(work, sizes, x, w_off, b_off, u_off, wt, act)
    _backward(work, sizes, x[F], clip, w_off, b_off, u_off, act, delta, grad)
    _convert(grad, sizes, w_off, b_off, out, False)
    return out
