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
"""

import numpy as np
from numba import njit

from ._common import init_uniform, tanh


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


@njit(cache=True)
def _offsets(sizes):
    """Start of W^L and b^L in the flat vector, and of layer L's units in a step's activations."""
    n_layers = sizes.shape[0]
    w_off = np.zeros(n_layers, np.int64)
    b_off = np.zeros(n_layers, np.int64)
    u_off = np.zeros(n_layers + 1, np.int64)
    pos = 0
    for L in range(1, n_layers):
        p, n = sizes[L - 1], sizes[L]
        w_off[L] = pos
        pos += n * (p + n)
        b_off[L] = pos
        pos += n
    for L in range(n_layers):
        u_off[L + 1] = u_off[L] + sizes[L]
    return w_off, b_off, u_off


@njit(cache=True, inline="always")
def _axpy(y, x, a):
    """y += a x over contiguous vectors: the one inner loop of every kernel, vectorised by LLVM."""
    for i in range(y.shape[0]):
        y[i] += a * x[i]


@njit(cache=True)
def _transpose(params, sizes, w_off, b_off, wt):
    """wt[w_off[L]:b_off[L]] = (W^L).T, shape (p + n, n): the forward pass's axpy-form copy."""
    for L in range(1, sizes.shape[0]):
        n = sizes[L]
        cols = sizes[L - 1] + n
        W, T = params[w_off[L]:b_off[L]], wt[w_off[L]:b_off[L]]
        for i in range(n):
            for j in range(cols):
                T[j * n + i] = W[i * cols + j]


@njit(cache=True, error_model="numpy")
def _forward(params, sizes, x, w_off, b_off, u_off, wt, act):
    """Run the series ``x[:F]`` through the net; act[S, u] holds a^{L,S} (row 0 is the zero state).

    dot^{L,S} = sum_j w1[:, j] a^{L-1,S}_j + sum_j ws[:, j] a^{L,S-1}_j (+ b), in that order, as
    axpys over the rows of the transposed block (contiguous across the layer's units). A
    one-unit layer takes the same sum as a dot product with its row of W.
    """
    F = act.shape[0] - 1
    act[0, :] = 0.0
    for S in range(1, F + 1):
        act[S, 0] = x[S - 1]
        for L in range(1, sizes.shape[0]):
            p, n = sizes[L - 1], sizes[L]
            below = act[S, u_off[L - 1]:u_off[L]]  # a^{L-1,S} (p,)
            prev = act[S - 1, u_off[L]:u_off[L + 1]]  # a^{L,S-1} (n,)
            out = act[S, u_off[L]:u_off[L + 1]]  # a^{L,S} (n,)
            b = params[b_off[L]:b_off[L] + n]
            if n == 1:
                w = params[w_off[L]:b_off[L]]  # [w1 | ws] (p + 1,)
                acc = 0.0
                for j in range(p):
                    acc += w[j] * below[j]
                out[0] = tanh(acc + w[p] * prev[0] + b[0])
            else:
                T = wt[w_off[L]:b_off[L]]  # (p + n, n)
                out[:] = 0.0
                for j in range(p):
                    _axpy(out, T[j * n:(j + 1) * n], below[j])
                for j in range(n):
                    _axpy(out, T[(p + j) * n:(p + j + 1) * n], prev[j])
                for i in range(n):
                    out[i] = tanh(out[i] + b[i])
    return act[F, u_off[-2]]


@njit(cache=True, inline="always")
def _clipped(value, clip):
    if clip > 0.0:
        if value > clip:
            return clip
        if value < -clip:
            return -clip
    return value


@njit(cache=True, error_model="numpy")
def _backward(params, sizes, y, clip, w_off, b_off, u_off, act, delta, grad):
    """BPTT for one series after :func:`_forward`; grad = sum of the course's update terms.

    delta[S] holds D^{L,S} like act; row F + 1 stays zero, so every delta takes one form,
    D^{L,S} = A' * (ws^L.T D^{L,S+1} + u), with u = w1^{L+1}.T D^{L+1,S} below the output
    layer and u = (y - a^{N,F}) [S = F] at it; both products are axpys over rows of W.
    """
    F = act.shape[0] - 1
    N = sizes.shape[0] - 1
    err = y - act[F, u_off[N]]
    delta[F + 1, :] = 0.0
    for S in range(F, 0, -1):
        for L in range(N, 0, -1):
            p, n = sizes[L - 1], sizes[L]
            cols = p + n
            W = params[w_off[L]:b_off[L]]  # (n, p + n)
            d = delta[S, u_off[L]:u_off[L + 1]]  # D^{L,S} (n,)
            later = delta[S + 1, u_off[L]:u_off[L + 1]]  # D^{L,S+1} (n,)
            d[:] = 0.0
            for k in range(n):
                _axpy(d, W[k * cols + p:(k + 1) * cols], later[k])
            if L < N:
                n_up = sizes[L + 1]
                W_up = params[w_off[L + 1]:b_off[L + 1]]  # (n_up, n + n_up)
                above = delta[S, u_off[L + 1]:u_off[L + 2]]  # D^{L+1,S} (n_up,)
                for k in range(n_up):
                    _axpy(d, W_up[k * (n + n_up):k * (n + n_up) + n], above[k])
            elif S == F:
                d[0] += err
            a = act[S, u_off[L]:u_off[L + 1]]
            for i in range(n):
                d[i] = _clipped((1.0 - a[i] * a[i]) * d[i], clip)
    # grad^L = sum_S D^{L,S} [a^{L-1,S}; a^{L,S-1}].T, row i an axpy per step; b^L: sum_S D^{L,S}
    grad[:] = 0.0
    for L in range(1, N + 1):
        p, n = sizes[L - 1], sizes[L]
        cols = p + n
        G = grad[w_off[L]:b_off[L]]  # (n, p + n)
        g_b = grad[b_off[L]:b_off[L] + n]
        for S in range(1, F + 1):
            below = act[S, u_off[L - 1]:u_off[L]]
            prev = act[S - 1, u_off[L]:u_off[L + 1]]  # zero at S = 1: the ws sum starts at S = 2
            d = delta[S, u_off[L]:u_off[L + 1]]
            for i in range(n):
                _axpy(G[i * cols:i * cols + p], below, d[i])
                _axpy(G[i * cols + p:(i + 1) * cols], prev, d[i])
                g_b[i] += d[i]
    return err


@njit(cache=True, error_model="numpy")
def _train_epoch(params, sizes, X, order, lr, clip):
    """One epoch of per-series SGD; returns (mean squared error before each update, ok)."""
    w_off, b_off, u_off = _offsets(sizes)
    n_steps = X.shape[1] - 1
    act = np.zeros((n_steps + 1, u_off[-1]))
    delta = np.zeros((n_steps + 2, u_off[-1]))
    grad = np.zeros(params.shape[0])
    wt = np.zeros(params.shape[0])
    _transpose(params, sizes, w_off, b_off, wt)
    sse = 0.0
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward(params, sizes, x, w_off, b_off, u_off, wt, act)
        err = _backward(params, sizes, x[n_steps], clip, w_off, b_off, u_off, act, delta, grad)
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        _axpy(params, grad, lr)
        _transpose(params, sizes, w_off, b_off, wt)
    return sse / order.shape[0], True


@njit(cache=True, error_model="numpy")
def _predict(params, sizes, X):
    w_off, b_off, u_off = _offsets(sizes)
    act = np.zeros((X.shape[1], u_off[-1]))
    wt = np.zeros(params.shape[0])
    _transpose(params, sizes, w_off, b_off, wt)
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(params, sizes, X[r], w_off, b_off, u_off, wt, act)
    return out


@njit(cache=True, error_model="numpy")
def _gradient(params, sizes, x, clip):
    w_off, b_off, u_off = _offsets(sizes)
    n_steps = x.shape[0] - 1
    act = np.zeros((n_steps + 1, u_off[-1]))
    delta = np.zeros((n_steps + 2, u_off[-1]))
    grad = np.zeros(params.shape[0])
    wt = np.zeros(params.shape[0])
    _transpose(params, sizes, w_off, b_off, wt)
    _forward(params, sizes, x, w_off, b_off, u_off, wt, act)
    _backward(params, sizes, x[n_steps], clip, w_off, b_off, u_off, act, delta, grad)
    return grad
