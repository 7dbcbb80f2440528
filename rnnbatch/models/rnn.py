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
* Nets of 2..8 units in all (``_packs``: [1, 6, 1], [1, 3, 3, 1], ...) take the *packed
  path* instead: all units in one vector of LANES = 8 lanes, run on a wavefront. Step tau
  computes a^{L, tau-L+1} for every layer L at once from the vector of step tau - 1, so a
  step is one 8 x 8 matrix-vector product and one 8-lane tanh for the whole net, and the
  layers' chains of dependent steps overlap (F + N - 1 steps instead of N F); BPTT runs the
  same wavefront backwards. Padding lanes have zero weights, hence a = tanh(0) = 0 and D = 0;
  the entries of the 8 x 8 matrix that are not parameters are masked out of the update.
* tanh is ``_common.tanh`` (a few ulp from libm's, vectorisable).
"""

import numpy as np

from ._common import init_uniform, layer_offsets, tanh
from ._jit import njit


def layer_shapes(layers):
    """(rows, cols) of each layer's [w1 | ws] block; a bias of ``rows`` follows each."""
    return [(n, p + n) for p, n in zip(layers[:-1], layers[1:])]


def init_radius(p: int, n: int) -> float:
    """Course file 000: r = sqrt(3 / temp), an RNN layer's inputs counting itself: temp = (p + 2n) / 2."""
    return float(np.sqrt(3.0 / ((p + 2 * n) / 2.0)))


def input_size(steps: int) -> int:
    """The first layer's size: one value a step."""
    return 1


def n_params(layers) -> int:
    return sum(rows * cols + rows for rows, cols in layer_shapes(layers))


def init(layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    radii = [init_radius(p, n) for p, n in zip(layers[:-1], layers[1:])]
    return init_uniform(layer_shapes(layers), radii if scheme == "scaled" else None, rng)


def columns(p: int, n: int):
    """Layer L's named blocks, side by side in its rows: w1_L (n, p), ws_L (n, n)."""
    return [("w1", p), ("ws", n)]


NARROW = 8  # layers narrower than this take the scalar paths (too short to vectorise)


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
        dst[b_off[L]:b_off[L] + n] = src[b_off[L]:b_off[L] + n]


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


@njit(inline="always")
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


@njit(inline="always")
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


@njit(error_model="numpy")
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


@njit(inline="always")
def _clipped(value, clip):
    if clip > 0.0:  # selects, not branches: they vectorise (and NaN passes through)
        value = clip if value > clip else value
        value = -clip if value < -clip else value
    return value


@njit(error_model="numpy")
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


LANES = NARROW  # width of the packed path's vector


@njit
def _packs(sizes):
    """Take the packed path: one input, and 2..LANES units in layers 1..N together (e.g.
    [1, 6, 1], [1, 3, 3, 1]). Measured on the course data: about 21 ms an epoch for every such
    net, against 32 ms ([1, 2, 1]) to 76 ms ([1, 2, 3, 2, 1]) on the general path; the one-node
    net [1, 1] runs faster there (15 ms against 21 ms)."""
    return sizes[0] == 1 and 1 < sizes[1:].sum() <= LANES


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
def _forward_packed(P, sizes, u_off, x, act):
    """Run the series through the whole net at once, on a wavefront; returns a^{N,F}.

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
    F = x.shape[0] - 1
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
def _backward_packed(M, sizes, u_off, steps, x, clip, act, delta, G):
    """BPTT on the wavefront after :func:`_forward_packed`; G gets the update terms in the
    packed layout.

    Step tau makes delta_tau (LANES,), holding D^{L, tau-L+1} in layer L's lanes, beside act's
    row tau, for tau = F + N - 1 .. 1 (``steps``). D^{L,S} needs D^{L,S+1} and D^{L+1,S}, both
    in delta_{tau+1}: delta_tau = A'(act_tau) * (M.T delta_{tau+1}), plus (y - a^{N,F}) in the
    output lane at the first of these steps, M.T delta summed as a tree over the rows of M.
    Lanes of steps S > F come out zero by themselves; those of S < 1 are set to zero. Then the
    step's update terms are added, G[:, l] += delta_tau[l] [v_{tau-1} | x[tau-1] | 1]:
    v_{tau-1} holds a^{L-1,S} and a^{L,S-1}, so the entries that are parameters get the
    course's sums over S (taken S = F..1); the others get products that the update masks
    out. These sums run in a loop of their own, reading v_{tau-1} only then: with fewer values
    live in each loop nothing spills to the stack, whose reloads made the time vary by a
    third from one process to the next.
    """
    F = x.shape[0] - 1
    N = sizes.shape[0] - 1
    units = u_off[N + 1] - 1
    lanes = act.shape[1]  # LANES, as in _forward_packed
    last = F + N - 1
    err = x[F] - act[last, units - 1]
    g = G.reshape(-1)  # flat: the rows' offsets are constants to LLVM, which can then vectorise
    g[:] = 0.0
    delta[:] = 0.0
    for tau in steps:
        d0, d1, d2, d3 = delta[0], delta[1], delta[2], delta[3]
        d4, d5, d6, d7 = delta[4], delta[5], delta[6], delta[7]
        start = u_off[tau + 1] - 1 if tau < N else lanes  # first lane of a step S < 1
        for i in range(lanes):
            a = act[tau, i]
            u = (((M[0, i] * d0 + M[1, i] * d1) + (M[2, i] * d2 + M[3, i] * d3))
                 + ((M[4, i] * d4 + M[5, i] * d5) + (M[6, i] * d6 + M[7, i] * d7)))
            if tau == last and i == units - 1:
                u += err
            delta[i] = 0.0 if i >= start else _clipped((1.0 - a * a) * u, clip)
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
    return err


@njit
def _packed_state(params, sizes, F):
    """Packed-path arrays for series of F steps: P (from params), M, the parameter mask, act,
    delta, G, the units' offsets and the backward pass's steps (descending).

    The steps are read from an array rather than counted down by ``range``: with addresses that
    decrease from one step to the next, LLVM's overlap check for the vectorised loop (hoisted
    out of the step loop) gives up and runs the scalar loop, measured twice as slow.
    """
    N = sizes.shape[0] - 1
    P, mask, G = np.zeros((LANES + 2, LANES)), np.zeros((LANES + 2, LANES)), np.zeros((LANES + 2, LANES))
    M, delta, act = np.zeros((LANES, LANES)), np.zeros(LANES), np.zeros((F + N, LANES))
    _pack(params, sizes, P, True)
    _rows(P, M)
    _pack(np.ones(params.shape[0]), sizes, mask, True)
    return P, M, mask, act, delta, G, layer_offsets(sizes, True)[2], np.arange(F + N - 1, 0, -1)


@njit(error_model="numpy")
def _train_epoch_packed(params, sizes, X, order, lr, clip):
    """:func:`_train_epoch` on the packed layout (nets that :func:`_packs`)."""
    F = X.shape[1] - 1
    P, M, mask, act, delta, G, u_off, steps = _packed_state(params, sizes, F)
    p, g, m = P.reshape(-1), G.reshape(-1), mask.reshape(-1)
    sse = 0.0
    ok = True
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward_packed(P, sizes, u_off, x, act)
        err = _backward_packed(M, sizes, u_off, steps, x, clip, act, delta, G)
        if not np.isfinite(err):
            ok = False
            break
        sse += err * err
        for k in range(p.shape[0]):
            p[k] += lr * g[k] * m[k]
        _rows(P, M)
    _pack(params, sizes, P, False)
    return (sse / order.shape[0], True) if ok else (np.nan, False)


@njit(error_model="numpy")
def _train_epoch(params, sizes, X, order, lr, clip):
    """One epoch of per-series SGD; returns (mean squared error before each update, ok).

    The weights are worked on in their working layout (w1 and ws apart) and written back to
    ``params`` at the end (or when the error stops being finite).
    """
    if _packs(sizes):
        return _train_epoch_packed(params, sizes, X, order, lr, clip)
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


@njit(error_model="numpy")
def _predict(params, sizes, X):
    out = np.empty(X.shape[0])
    if _packs(sizes):
        P, _, _, act, _, _, u_off, _ = _packed_state(params, sizes, X.shape[1] - 1)
        for r in range(X.shape[0]):
            out[r] = _forward_packed(P, sizes, u_off, X[r], act)
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


@njit(error_model="numpy")
def _gradient(params, sizes, x, clip):
    F = x.shape[0] - 1
    out = np.empty(params.shape[0])
    if _packs(sizes):
        P, M, _, act, delta, G, u_off, steps = _packed_state(params, sizes, F)
        _forward_packed(P, sizes, u_off, x, act)
        _backward_packed(M, sizes, u_off, steps, x, clip, act, delta, G)
        _pack(out, sizes, G, False)
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
