"""Fully recurrent tanh network, exactly the N-layer algorithm of RNNs Part 2 (course file 000).

Layers ``[1, h1, ..., 1]``; every layer L = 1..N is recurrent, the output layer included.
For step S = 1..F (F inputs), with a^{L,0} = 0 and a^{0,S} = x[S-1]::

    dot^{L,S} = w1^L a^{L-1,S} + ws^L a^{L,S-1} + b^L,    a^{L,S} = tanh(dot^{L,S})

The course's prediction is a^{N,F}, after the last step (``loss = "last"``); with
``loss = "every"`` (many-to-many, lecture 002) the output a^{N,S} after every step S predicts
the next value y_S and the loss sums over the steps. BPTT as written in the course
(A' = 1 - a^2, equal to 1/cosh^2 of the dot), e_S = y_S - a^{N,S} where step S has a target
(else 0), D^{L,F+1} = 0::

    D^{N,S} = A' * (ws^N.T D^{N,S+1} + e_S)                     S = F .. 1
    D^{L,S} = A' * (ws^L.T D^{L,S+1} + w1^{L+1}.T D^{L+1,S})    S = F .. 1, L = N-1 .. 1

then b += lr sum_S D, w1 += lr sum_S D a^{L-1,S}.T, ws += lr sum_{S>=2} D a^{L,S-1}.T (the
course's update terms: minus the gradient of ½ sum e², taken by the shared step). With
``clip > 0`` every delta is clipped elementwise to [-clip, clip] as it is computed (the course's
"Clipping"), before it propagates further. With ``bptt = k`` each prediction's error flows back
through its last k steps only (truncated BPTT; k = 1 is the Elman copy of lecture 002): for a
single prediction the deltas of steps S <= F - k are zero; for many, each prediction's pass
runs on its own and their deltas are summed.

Parameter layout, one flat float64 vector, per layer L (p = size of L-1, n = size of L):
``W^L`` of shape (n, p + n) row-major, the columns being [w1^L | ws^L], then ``b^L`` (n,).

The kernels (the same arithmetic, other loop orders; single-threaded, no fastmath flags, so
LLVM neither reassociates nor contracts, and every sum is taken in an order fixed by the code
alone, the same whatever the CPU's SIMD width) are in ``_general.py`` (any sizes) and
``_packed.py`` (nets of 2..8 units, on one 8-lane wavefront); this module dispatches. tanh is
``_common.tanh`` (a few ulp from libm's, vectorisable).
"""

import numpy as np

from .. import _gated
from .._common import init_radius, init_uniform, layered_names
from .._update import BIDIRECTIONAL
from . import _general, _packed

INITS = ("scaled", "uniform", "identity")
ACTIVATIONS = ("tanh", "relu")
READOUTS = ("tanh",)
RECURRENT = BIDIRECTIONAL_NETS = True


def layer_shapes(layers):
    """(rows, cols) of each layer's [w1 | ws] block; a bias of ``rows`` follows each."""
    return [(n, p + n) for p, n in zip(layers[:-1], layers[1:])]


def input_size(steps: int) -> int:
    """The first layer's size: one value a step."""
    return 1


def n_params(layers, bidirectional: bool = False) -> int:
    if bidirectional:
        return _gated.n_params(_gated.ELMAN, layers, True)
    return sum(rows * cols + rows for rows, cols in layer_shapes(layers))


def init(layers, scheme: str, rng: np.random.Generator, bidirectional: bool = False) -> np.ndarray:
    """``scaled`` (the course) or ``uniform`` (±1): every array uniform, layer by layer.
    ``identity`` (lecture 003, Le et al. 2015): below the output layer, w1 ~ N(0, 0.001²),
    ws = I and b = 0, so a ReLU layer starts by carrying its state forward; the output layer
    is the course's (scaled). A bidirectional net's: see ``_gated``."""
    if bidirectional:
        return _gated.init(_gated.ELMAN, layers, scheme, rng, True)
    radii = [init_radius(p, n) for p, n in zip(layers[:-1], layers[1:])]
    if scheme != "identity":
        return init_uniform(layer_shapes(layers), radii if scheme == "scaled" else None, rng)
    parts = []
    for p, n in zip(layers[:-2], layers[1:-1]):
        parts += [np.hstack([rng.normal(0.0, 0.001, (n, p)), np.eye(n)]).ravel(), np.zeros(n)]
    p, n = layers[-2], layers[-1]
    return np.concatenate(parts + [init_uniform([(n, p + n)], [radii[-1]], rng)])


def columns(p: int, n: int):
    """Layer L's named blocks, side by side in its rows: w1_L (n, p), ws_L (n, n)."""
    return [("w1", p), ("ws", n)]


_named, _flat, is_weight = layered_names(columns)


def named(params: np.ndarray, layers, bidirectional: bool = False) -> dict[str, np.ndarray]:
    if bidirectional:
        return _gated.named(_gated.ELMAN, params, layers, True)
    return _named(params, layers)


def flat(arrays: dict, layers, bidirectional: bool = False) -> np.ndarray:
    if bidirectional:
        return _gated.flat(_gated.ELMAN, arrays, layers, True)
    return _flat(arrays, layers)


# The dispatch runs in Python, so that a run compiles only the path it takes.

def _train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over inputs ``X[order]`` and targets ``Y[order]`` (module docstring), an update
    per batch through the shared step; returns (mean squared final-step error, ok)."""
    if opts[BIDIRECTIONAL]:
        return _gated.train_epoch(_gated.ELMAN, params, sizes, X, Y, order, decay, opts, moments,
                                  steps)
    path = _packed if _packed.packs(sizes, Y.shape[1], X.shape[1], opts) else _general
    return path.train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps)


def _predict(params, sizes, X, opts):
    """a^{N,F} for each row of the inputs X (n, F)."""
    if opts[BIDIRECTIONAL]:
        return _gated.predict(_gated.ELMAN, params, sizes, X, opts)
    path = _packed if _packed.packs(sizes, 1, X.shape[1], opts) else _general
    return path.predict(params, sizes, X, opts)


def _terms(params, sizes, x, y, opts):
    """The update terms of one series (inputs x, targets y), in the params layout."""
    if opts[BIDIRECTIONAL]:
        return _gated.terms(_gated.ELMAN, params, sizes, x, y, opts)
    path = _packed if _packed.packs(sizes, y.shape[0], x.shape[0], opts) else _general
    return path.terms(params, sizes, x, y, opts)
