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

from ._common import init_uniform


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


@njit(cache=True)
def _forward(params, sizes, x, w_off, b_off, u_off, act):
    """Run the series ``x[:F]`` through the net; act[S, u] holds a^{L,S} (row 0 is the zero state)."""
    n_steps = act.shape[0] - 1
    n_layers = sizes.shape[0]
    act[0, :] = 0.0
    for S in range(1, n_steps + 1):
        act[S, 0] = x[S - 1]
        for L in range(1, n_layers):
            p, n = sizes[L - 1], sizes[L]
            wo, bo, up, ul = w_off[L], b_off[L], u_off[L - 1], u_off[L]
            for i in range(n):
                row = wo + i * (p + n)
                acc = 0.0
                for j in range(p):
                    acc += params[row + j] * act[S, up + j]
                for j in range(n):
                    acc += params[row + p + j] * act[S - 1, ul + j]
                act[S, ul + i] = np.tanh(acc + params[bo + i])
    return act[n_steps, u_off[n_layers - 1]]


@njit(cache=True)
def _clipped(value, clip):
    if clip > 0.0:
        if value > clip:
            return clip
        if value < -clip:
            return -clip
    return value


@njit(cache=True)
def _backward(params, sizes, y, clip, w_off, b_off, u_off, act, delta, grad):
    """BPTT for one series after :func:`_forward`; grad = sum of the course's update terms."""
    n_steps = act.shape[0] - 1
    N = sizes.shape[0] - 1
    F = n_steps
    err = y - act[F, u_off[N]]
    delta[:, :] = 0.0
    # output layer: error at the last step only, then back through its own recurrence
    for i in range(sizes[N]):
        a = act[F, u_off[N] + i]
        delta[F, u_off[N] + i] = _clipped((1.0 - a * a) * err, clip)
    for S in range(F, 0, -1):
        for L in range(N, 0, -1):
            if S == F and L == N:
                continue
            p, n, ul = sizes[L - 1], sizes[L], u_off[L]
            for i in range(n):
                acc = 0.0
                if S < F:  # ws^L.T D^{L,S+1}
                    for k in range(n):
                        acc += params[w_off[L] + k * (p + n) + p + i] * delta[S + 1, ul + k]
                if L < N:  # w1^{L+1}.T D^{L+1,S}
                    n_up = sizes[L + 1]
                    for k in range(n_up):
                        acc += params[w_off[L + 1] + k * (n + n_up) + i] * delta[S, u_off[L + 1] + k]
                a = act[S, ul + i]
                delta[S, ul + i] = _clipped((1.0 - a * a) * acc, clip)
    grad[:] = 0.0
    for L in range(1, N + 1):
        p, n = sizes[L - 1], sizes[L]
        wo, bo, up, ul = w_off[L], b_off[L], u_off[L - 1], u_off[L]
        for S in range(1, F + 1):
            for i in range(n):
                d = delta[S, ul + i]
                row = wo + i * (p + n)
                grad[bo + i] += d
                for j in range(p):
                    grad[row + j] += d * act[S, up + j]
                for j in range(n):  # act[0] is the zero state, so S = 1 adds nothing
                    grad[row + p + j] += d * act[S - 1, ul + j]
    return err


@njit(cache=True)
def _train_epoch(params, sizes, X, order, lr, clip):
    """One epoch of per-series SGD; returns (mean squared error before each update, ok)."""
    w_off, b_off, u_off = _offsets(sizes)
    n_steps = X.shape[1] - 1
    act = np.zeros((n_steps + 1, u_off[-1]))
    delta = np.zeros((n_steps + 1, u_off[-1]))
    grad = np.zeros(params.shape[0])
    sse = 0.0
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward(params, sizes, x, w_off, b_off, u_off, act)
        err = _backward(params, sizes, x[n_steps], clip, w_off, b_off, u_off, act, delta, grad)
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        for k in range(params.shape[0]):
            params[k] += lr * grad[k]
    return sse / order.shape[0], True


@njit(cache=True)
def _predict(params, sizes, X):
    w_off, b_off, u_off = _offsets(sizes)
    n_steps = X.shape[1] - 1
    act = np.zeros((n_steps + 1, u_off[-1]))
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(params, sizes, X[r], w_off, b_off, u_off, act)
    return out


@njit(cache=True)
def _gradient(params, sizes, x, clip):
    w_off, b_off, u_off = _offsets(sizes)
    n_steps = x.shape[0] - 1
    act = np.zeros((n_steps + 1, u_off[-1]))
    delta = np.zeros((n_steps + 1, u_off[-1]))
    grad = np.zeros(params.shape[0])
    _forward(params, sizes, x, w_off, b_off, u_off, act)
    _backward(params, sizes, x[n_steps], clip, w_off, b_off, u_off, act, delta, grad)
    return grad
