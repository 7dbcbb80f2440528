"""Dense tanh network (the course's perceptron, RNNs Part 1), layers such as [50, 1] or [50, 10, 1].

The input is a series' first ``steps - 1`` values, the target its last. Every layer is tanh::

    a^0 = x,   a^L = tanh(W^L a^{L-1} + b^L),   prediction a^N
    D^N = A' * (y - a^N),   D^L = A' * W^{L+1}.T D^{L+1}        (A' = 1 - a^2, loss (y - a^N)^2 / 2)
    W^L += lr D^L a^{L-1}.T,   b^L += lr D^L                   after every series

``clip > 0`` clips every delta elementwise as it is computed. Parameter layout, one flat vector,
per layer: W^L of shape (n, p) row-major, then b^L (n,). The scaled init uses temp = (p + n) / 2.
"""

import numpy as np
from numba import njit

from ._common import init_uniform


def layer_shapes(layers):
    return [(n, p) for p, n in zip(layers[:-1], layers[1:])]


def n_params(layers) -> int:
    return sum(rows * cols + rows for rows, cols in layer_shapes(layers))


def init(layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    radii = [float(np.sqrt(3.0 / ((p + n) / 2.0))) for p, n in zip(layers[:-1], layers[1:])]
    return init_uniform(layer_shapes(layers), radii if scheme == "scaled" else None, rng)


@njit(cache=True)
def _offsets(sizes):
    n_layers = sizes.shape[0]
    w_off = np.zeros(n_layers, np.int64)
    b_off = np.zeros(n_layers, np.int64)
    u_off = np.zeros(n_layers + 1, np.int64)
    pos = 0
    for L in range(1, n_layers):
        w_off[L] = pos
        pos += sizes[L] * sizes[L - 1]
        b_off[L] = pos
        pos += sizes[L]
    for L in range(n_layers):
        u_off[L + 1] = u_off[L] + sizes[L]
    return w_off, b_off, u_off


@njit(cache=True)
def _forward(params, sizes, x, w_off, b_off, u_off, act):
    """act holds every layer's activations end to end, the input first."""
    act[: sizes[0]] = x[: sizes[0]]
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        for i in range(n):
            row = w_off[L] + i * p
            acc = 0.0
            for j in range(p):
                acc += params[row + j] * act[u_off[L - 1] + j]
            act[u_off[L] + i] = np.tanh(acc + params[b_off[L] + i])
    return act[u_off[sizes.shape[0] - 1]]


@njit(cache=True)
def _backward(params, sizes, y, clip, w_off, b_off, u_off, act, delta, grad):
    N = sizes.shape[0] - 1
    err = y - act[u_off[N]]
    for L in range(N, 0, -1):
        p, n = sizes[L - 1], sizes[L]
        for i in range(n):
            if L == N:
                acc = err
            else:
                acc = 0.0
                n_up = sizes[L + 1]
                for k in range(n_up):
                    acc += params[w_off[L + 1] + k * n + i] * delta[u_off[L + 1] + k]
            a = act[u_off[L] + i]
            d = (1.0 - a * a) * acc
            if clip > 0.0:
                d = min(max(d, -clip), clip)
            delta[u_off[L] + i] = d
        for i in range(n):
            d = delta[u_off[L] + i]
            row = w_off[L] + i * p
            for j in range(p):
                grad[row + j] = d * act[u_off[L - 1] + j]
            grad[b_off[L] + i] = d
    return err


@njit(cache=True)
def _train_epoch(params, sizes, X, order, lr, clip):
    w_off, b_off, u_off = _offsets(sizes)
    act = np.zeros(u_off[-1])
    delta = np.zeros(u_off[-1])
    grad = np.zeros(params.shape[0])
    n_in = sizes[0]
    sse = 0.0
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward(params, sizes, x, w_off, b_off, u_off, act)
        err = _backward(params, sizes, x[n_in], clip, w_off, b_off, u_off, act, delta, grad)
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        for k in range(params.shape[0]):
            params[k] += lr * grad[k]
    return sse / order.shape[0], True


@njit(cache=True)
def _predict(params, sizes, X):
    w_off, b_off, u_off = _offsets(sizes)
    act = np.zeros(u_off[-1])
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(params, sizes, X[r], w_off, b_off, u_off, act)
    return out


@njit(cache=True)
def _gradient(params, sizes, x, clip):
    w_off, b_off, u_off = _offsets(sizes)
    act = np.zeros(u_off[-1])
    delta = np.zeros(u_off[-1])
    grad = np.zeros(params.shape[0])
    _forward(params, sizes, x, w_off, b_off, u_off, act)
    _backward(params, sizes, x[sizes[0]], clip, w_off, b_off, u_off, act, delta, grad)
    return grad
