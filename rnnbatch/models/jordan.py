"""Jordan network (lecture 002): the hidden layer's recurrent input is the previous step's
*output*, copied back, instead of its own state.

Layers ``[1, h, 1]``. For S = 1..F, with y_0 = 0::

    a_S = tanh(w1 x_S + wj y_{S-1} + b1)        (h,)   the hidden layer
    y_S = tanh(w2 · a_S + b2)                          the output after step S

The course's loss reads y_F (``loss = "last"``); with ``"every"`` y_S predicts value S + 1.
BPTT, with e_S = target_S - y_S where step S has a target (else 0) and Da_{F+1} = 0::

    Dy_S = (1 - y_S²) (e_S + wj · Da_{S+1})
    Da_S = (1 - a_S²) ⊙ w2 Dy_S

and the update terms (minus the gradient of ½ Σ e²): b2 Σ Dy_S, w2 Σ Dy_S a_S, b1 Σ Da_S,
w1 Σ Da_S x_S, wj Σ Da_S y_{S-1}. ``clip`` clips every delta as it is computed; ``bptt = k``
and many-to-many targets work as in the rnn family (a pass per prediction when both are set).

Parameters, one flat vector: [w1 | wj] (h, 2) row-major, b1 (h,), w2 (h,), b2 (1,); named
``w1_1`` (h, 1), ``wj_1`` (h, 1), ``b_1`` (h,), ``w1_2`` (1, h), ``b_2`` (1,). The scaled init
counts the hidden layer's inputs as x and y: temp = (2 + h) / 2, and (h + 1) / 2 for the output.
"""

import numpy as np

from ._common import clipped, init_uniform, tanh
from ._jit import njit
from ._update import BPTT, CLIP, take

INITS = ("scaled", "uniform")
ACTIVATIONS = READOUTS = ("tanh",)
RECURRENT = True
BIDIRECTIONAL_NETS = False  # its output feeds back: one way only


def input_size(steps: int) -> int:
    """One value a step."""
    return 1


def _hidden(layers) -> int:
    if len(layers) != 3:
        raise ValueError(f"a jordan net has one hidden layer, [1, h, 1], not {list(layers)}")
    return layers[1]


def n_params(layers) -> int:
    return 4 * _hidden(layers) + 1


def init(layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    h = _hidden(layers)
    radii = [float(np.sqrt(3.0 / ((2 + h) / 2.0))), float(np.sqrt(3.0 / ((h + 1) / 2.0)))]
    return init_uniform([(h, 2), (1, h)], radii if scheme == "scaled" else None, rng)


def named(params: np.ndarray, layers) -> dict[str, np.ndarray]:
    h = _hidden(layers)
    W = params[:2 * h].reshape(h, 2)
    return {"w1_1": W[:, :1].copy(), "wj_1": W[:, 1:].copy(), "b_1": params[2 * h:3 * h].copy(),
            "w1_2": params[None, 3 * h:4 * h].copy(), "b_2": params[4 * h:].copy()}


def flat(arrays: dict, layers) -> np.ndarray:
    h = _hidden(layers)
    parts = [np.hstack([np.reshape(arrays["w1_1"], (h, 1)), np.reshape(arrays["wj_1"], (h, 1))]),
             arrays["b_1"], arrays["w1_2"], arrays["b_2"]]
    return np.concatenate([np.asarray(part, dtype=np.float64).ravel() for part in parts])


def is_weight(name: str) -> bool:
    return not name.startswith("b_")


@njit(error_model="numpy")
def _forward(params, x, act, out):
    """a_S into act (F + 1, h) and y_S into out (F + 2,), row 0 the zero state; returns y_F."""
    h = act.shape[1]
    F = x.shape[0]
    W, b1, w2, b2 = params[:2 * h].reshape((h, 2)), params[2 * h:3 * h], params[3 * h:4 * h], params[4 * h]
    out[0] = 0.0
    for S in range(1, F + 1):
        total = 0.0
        for i in range(h):
            a = tanh(W[i, 0] * x[S - 1] + W[i, 1] * out[S - 1] + b1[i])
            act[S, i] = a
            total += w2[i] * a
        out[S] = tanh(total + b2)
    return out[F]


@njit(error_model="numpy")
def _backward(params, y, top, lo, errs_from, clip, act, out, dy, da):
    """Deltas Dy_S, Da_S for S = top..lo from Da_{top+1} = 0; errors enter at the steps
    errs_from..top (y: targets of the last y.shape[0] steps)."""
    h = act.shape[1]
    F = act.shape[0] - 1
    first = F - y.shape[0] + 1
    W, w2 = params[:2 * h].reshape((h, 2)), params[3 * h:4 * h]
    for i in range(h):
        da[top + 1, i] = 0.0
    for S in range(top, lo - 1, -1):
        back = 0.0
        for i in range(h):
            back += W[i, 1] * da[S + 1, i]
        if S >= errs_from:
            back += y[S - first] - out[S]
        d = clipped((1.0 - out[S] * out[S]) * back, clip)
        dy[S] = d
        for i in range(h):
            da[S, i] = clipped((1.0 - act[S, i] * act[S, i]) * (w2[i] * d), clip)


@njit(error_model="numpy")
def _series_terms(params, x, y, opts, act, out, dy, da, dy_sum, da_sum, grad):
    """grad = one series' update terms after :func:`_forward`."""
    h = act.shape[1]
    F = x.shape[0]
    first = F - y.shape[0] + 1
    clip, bptt = opts[CLIP], int(opts[BPTT])
    if y.shape[0] == 1 or bptt == 0 or bptt >= F:  # one pass carries every error
        lo = max(1, F - bptt + 1) if bptt > 0 else 1
        _backward(params, y, F, lo, first, clip, act, out, dy, da)
        dy_sum[:] = dy
        da_sum[:] = da
    else:  # a pass per prediction, its deltas summed
        lo = max(1, first - bptt + 1)
        dy_sum[:] = 0.0
        da_sum[:] = 0.0
        for t in range(first, F + 1):
            start = max(1, t - bptt + 1)
            _backward(params, y, t, start, t, clip, act, out, dy, da)
            for S in range(start, t + 1):
                dy_sum[S] += dy[S]
                for i in range(h):
                    da_sum[S, i] += da[S, i]
    grad[:] = 0.0
    G = grad[:2 * h].reshape((h, 2))
    for S in range(lo, F + 1):
        for i in range(h):
            d = da_sum[S, i]
            G[i, 0] += d * x[S - 1]
            G[i, 1] += d * out[S - 1]
            grad[2 * h + i] += d
            grad[3 * h + i] += dy_sum[S] * act[S, i]
        grad[4 * h] += dy_sum[S]


@njit
def _buffers(h, F):
    """act, out, and the deltas (a pass's and their sums)."""
    return (np.zeros((F + 1, h)), np.zeros(F + 2), np.zeros(F + 2), np.zeros((F + 2, h)),
            np.zeros(F + 2), np.zeros((F + 2, h)))


@njit(error_model="numpy")
def _train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over inputs ``X[order]`` and targets ``Y[order]``, an update per batch through
    the shared step; returns (mean squared final-step error before each update, ok)."""
    h, F = sizes[1], X.shape[1]
    act, out, dy, da, dy_sum, da_sum = _buffers(h, F)
    mask, grad, total = np.ones(params.shape[0]), np.zeros(params.shape[0]), np.zeros(params.shape[0])
    sse = 0.0
    count = 0
    for r in range(order.shape[0]):
        y = Y[order[r]]
        err = y[y.shape[0] - 1] - _forward(params, X[order[r]], act, out)
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        _series_terms(params, X[order[r]], y, opts, act, out, dy, da, dy_sum, da_sum, grad)
        count = take(params, grad, total, count, r == order.shape[0] - 1, mask, decay, opts,
                     moments, steps)
    return sse / order.shape[0], True


@njit(error_model="numpy")
def _predict(params, sizes, X, opts):
    act, out, _, _, _, _ = _buffers(sizes[1], X.shape[1])
    result = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        result[r] = _forward(params, X[r], act, out)
    return result


@njit(error_model="numpy")
def _terms(params, sizes, x, y, opts):
    act, out, dy, da, dy_sum, da_sum = _buffers(sizes[1], x.shape[0])
    grad = np.zeros(params.shape[0])
    _forward(params, x, act, out)
    _series_terms(params, x, y, opts, act, out, dy, da, dy_sum, da_sum, grad)
    return grad
