"""Dense tanh network (the course's perceptron, RNNs Part 1), layers such as [50, 1] or [50, 10, 1].

The input is a series' first ``steps - 1`` values, the target its last (given apart). Every
layer is tanh::

    a^0 = x,   a^L = tanh(W^L a^{L-1} + b^L),   prediction a^N
    D^N = A' * (y - a^N),   D^L = A' * W^{L+1}.T D^{L+1}        (A' = 1 - a^2, loss (y - a^N)^2 / 2)
    W^L += lr D^L a^{L-1}.T,   b^L += lr D^L                   after every series (the course)

``clip > 0`` clips every delta elementwise as it is computed. Parameter layout, one flat vector,
per layer: W^L of shape (n, p) row-major, then b^L (n,). The scaled init uses temp = (p + n) / 2.

Kernels: each unit's dot product runs in four interleaved partial sums (``_common.dot``); all
deltas are computed first, then every layer is updated in one pass, W^L[i] += lr (D_i a^{L-1}),
a contiguous axpy per row (the same rounding as forming the gradient, then adding lr times it).
Other update rules (``_update``) sum these terms over a batch and take the shared step.
The per-series helpers are inlined into the epoch loop: for [50, 1] a numba call per series,
with its reference counting, cost more than the arithmetic. No fastmath flags.
"""

import numpy as np

from ._common import clipped, dot, init_uniform, layer_offsets, layered_names, tanh
from ._jit import njit
from ._update import CLIP, LR, is_plain, take

INITS = ("scaled", "uniform")
ACTIVATIONS = READOUTS = ("tanh",)
RECURRENT = BIDIRECTIONAL_NETS = False


def layer_shapes(layers):
    return [(n, p) for p, n in zip(layers[:-1], layers[1:])]


def input_size(steps: int) -> int:
    """The first layer's size: all the inputs at once."""
    return steps - 1


def n_params(layers) -> int:
    return sum(rows * cols + rows for rows, cols in layer_shapes(layers))


def init(layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    radii = [float(np.sqrt(3.0 / ((p + n) / 2.0))) for p, n in zip(layers[:-1], layers[1:])]
    return init_uniform(layer_shapes(layers), radii if scheme == "scaled" else None, rng)


def columns(p: int, n: int):
    """Layer L's named blocks, side by side in its rows: W_L (n, p)."""
    return [("W", p)]


named, flat, is_weight = layered_names(columns)


@njit(forceinline=True)
def _forward(params, sizes, x, w_off, b_off, u_off, act):
    """act holds every layer's activations end to end, the input first."""
    for j in range(sizes[0]):
        act[j] = x[j]
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        a_in = act[u_off[L - 1]:u_off[L]]
        for i in range(n):
            row = w_off[L] + i * p
            act[u_off[L] + i] = tanh(dot(params[row:row + p], a_in) + params[b_off[L] + i])
    return act[u_off[sizes.shape[0] - 1]]


@njit(forceinline=True)
def _backward(params, sizes, y, clip, w_off, u_off, act, delta):
    """All deltas D^L, output layer first, into delta (laid out like act); returns y - a^N."""
    N = sizes.shape[0] - 1
    err = y - act[u_off[N]]
    for L in range(N, 0, -1):
        n = sizes[L]
        for i in range(n):
            if L == N:
                acc = err
            else:
                acc = 0.0
                n_up = sizes[L + 1]
                for k in range(n_up):
                    acc += params[w_off[L + 1] + k * n + i] * delta[u_off[L + 1] + k]
            a = act[u_off[L] + i]
            delta[u_off[L] + i] = clipped((1.0 - a * a) * acc, clip)
    return err


@njit(forceinline=True)
def _add_update(target, scale, sizes, w_off, b_off, u_off, act, delta):
    """target += scale * (update terms): W^L[i] += scale (D_i a^{L-1}), b^L[i] += scale D_i."""
    for L in range(1, sizes.shape[0]):
        p, n = sizes[L - 1], sizes[L]
        a_in = act[u_off[L - 1]:u_off[L]]
        for i in range(n):
            d = delta[u_off[L] + i]
            row = target[w_off[L] + i * p:w_off[L] + (i + 1) * p]
            for j in range(p):
                row[j] += scale * (d * a_in[j])
            target[b_off[L] + i] += scale * d


@njit(error_model="numpy")
def _train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over inputs ``X[order]`` and targets ``Y[order]`` (one each), an update per
    batch; returns (mean squared error before each update, ok). The course's per-series SGD
    adds lr times each term straight into the weights; every other rule sums the terms and
    takes the shared step."""
    w_off, b_off, u_off = layer_offsets(sizes, False)
    act = np.zeros(u_off[-1])
    delta = np.zeros(u_off[-1])
    plain, clip, lr = is_plain(opts), opts[CLIP], opts[LR]
    mask, grad, total = np.ones(params.shape[0]), np.zeros(params.shape[0]), np.zeros(params.shape[0])
    sse = 0.0
    count = np.int64(0)  # not the literal 0, for which numba would compile take once more
    for r in range(order.shape[0]):
        x = X[order[r]]
        _forward(params, sizes, x, w_off, b_off, u_off, act)
        err = _backward(params, sizes, Y[order[r], 0], clip, w_off, u_off, act, delta)
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        if not plain:
            grad[:] = 0.0
        _add_update(params if plain else grad, lr if plain else 1.0, sizes, w_off, b_off, u_off,
                    act, delta)
        if not plain:
            count = take(params, grad, total, count, r == order.shape[0] - 1, mask, decay, opts,
                         moments, steps)
    return sse / order.shape[0], True


@njit(error_model="numpy")
def _predict(params, sizes, X, opts):
    """a^N for each row of the inputs X (n, p)."""
    w_off, b_off, u_off = layer_offsets(sizes, False)
    act = np.zeros(u_off[-1])
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        out[r] = _forward(params, sizes, X[r], w_off, b_off, u_off, act)
    return out


@njit(error_model="numpy")
def _terms(params, sizes, x, y, opts):
    """The update terms of one series (inputs x, target y[0]); a dense net has no BPTT."""
    w_off, b_off, u_off = layer_offsets(sizes, False)
    act = np.zeros(u_off[-1])
    delta = np.zeros(u_off[-1])
    grad = np.zeros(params.shape[0])
    _forward(params, sizes, x, w_off, b_off, u_off, act)
    _backward(params, sizes, y[0], opts[CLIP], w_off, u_off, act, delta)
    _add_update(grad, 1.0, sizes, w_off, b_off, u_off, act, delta)
    return grad
