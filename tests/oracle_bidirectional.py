"""Plain numpy transcription of bidirectional nets (lecture 004) of the rnn, gru and lstm
families: the oracle their kernels must equal. Column vectors, a layer at a time, one step
at a time, the cells of tests/oracle_gated.py and the rnn's Elman layer.

A net ``[1, h1, ..., hM, 1]`` has, per hidden layer m, a forward direction reading times
1..F and a reverse one reading F..1, each with its own parameters; layer m > 1 reads at time t
both directions' states of layer m - 1 at t, [h→_t; h←_t]; the prediction is
ŷ = out(w [h→_F; h←_1] + b) (h←_1: the reverse direction after reading the whole series).
An Elman layer (rnn) is h' = act(w1 x + ws h + b); its delta, clipped as computed, is
act'(a) (δh from above + ws.T δ of the next step), as in tests/oracle.py's rnn.
"""

import numpy as np

from . import oracle, oracle_gated
from .oracle_gated import out

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def arrays(kind, layers):
    """(name, shape) in flat order: per layer and direction its arrays, then the readout."""
    G, result = GATES[kind], []
    for l, (p, h) in enumerate(zip(layers[:-2], layers[1:-1])):
        p = p if l == 0 else 2 * p
        for end in ("", "_reverse"):
            if kind == "rnn":
                result += [(f"w1_{l + 1}{end}", (h, p)), (f"ws_{l + 1}{end}", (h, h)),
                           (f"b_{l + 1}{end}", (h, 1))]
            else:
                result += [(f"weight_ih_l{l}{end}", (G * h, p)), (f"weight_hh_l{l}{end}", (G * h, h)),
                           (f"bias_ih_l{l}{end}", (G * h, 1)), (f"bias_hh_l{l}{end}", (G * h, 1))]
    N = len(layers) - 1
    names = (f"w1_{N}", f"b_{N}") if kind == "rnn" else ("readout.weight", "readout.bias")
    return result + [(names[0], (1, 2 * layers[-2])), (names[1], (1, 1))]


def to_matrices(flat, kind, layers):
    """Flat vector -> (cells, w, b): cells[m - 1] = (forward arrays, reverse arrays)."""
    mats, pos = [], 0
    for _, (rows, cols) in arrays(kind, layers):
        mats.append(np.array(flat[pos:pos + rows * cols], dtype=float).reshape(rows, cols))
        pos += rows * cols
    k = 3 if kind == "rnn" else 4
    directions = [tuple(mats[i:i + k]) for i in range(0, len(mats) - 2, k)]
    return [(directions[i], directions[i + 1]) for i in range(0, len(directions), 2)], mats[-2], mats[-1]


def decay_mask(kind, layers):
    """1.0 at the weights, 0.0 at the biases."""
    return np.concatenate([np.full(rows * cols, float("bias" not in name and not name.startswith("b_")))
                           for name, (rows, cols) in arrays(kind, layers)])


def _act(a, activation):
    return np.maximum(a, 0.0) if activation == "relu" else np.tanh(a)


def _slope(h, activation):
    return (h > 0).astype(float) if activation == "relu" else 1 - h ** 2


def _run(kind, cell, inputs, activation):
    """One direction over its inputs (in its reading order): states after each step, caches."""
    n_h = cell[1].shape[1]
    h, c = np.zeros((n_h, 1)), np.zeros((n_h, 1))
    states, caches = [], []
    for x in inputs:
        if kind == "rnn":
            w1, ws, b = cell
            h_new = _act(w1 @ x + ws @ h + b, activation)
            cache = dict(x=x, h=h, a=h_new)
        elif kind == "gru":
            h_new, cache = oracle_gated.gru_cell(cell, x, h)
        else:
            h_new, c, cache = oracle_gated.lstm_cell(cell, x, h, c)
        h = h_new
        states.append(h)
        caches.append(cache)
    return states, caches


def forward(kind, cells, x, activation="tanh"):
    """Layer by layer: per layer (states, caches) of each direction, the reverse one's in its
    reading order; returns them and the readout's input [h→_F; h←_1]."""
    F = len(x)
    seq = [np.array([[v]]) for v in x]  # each time's input, in time order
    runs = []
    for fwd, rev in cells:
        (hf, cf), (hr, cr) = _run(kind, fwd, seq, activation), _run(kind, rev, seq[::-1], activation)
        runs.append(((hf, cf), (hr, cr)))
        seq = [np.vstack([hf[t], hr[F - 1 - t]]) for t in range(F)]
    (hf, _), (hr, _) = runs[-1]
    return runs, np.vstack([hf[-1], hr[-1]])


def predict(flat, kind, layers, X, readout="tanh", activation="tanh"):
    cells, w, b = to_matrices(flat, kind, layers)
    return np.array([out(w @ forward(kind, cells, x, activation)[1] + b, readout)[0, 0] for x in X])


def loss(flat, kind, layers, x, target, readout="tanh", activation="tanh"):
    return 0.5 * (target - predict(flat, kind, layers, [x], readout, activation)[0]) ** 2


def _direction_backward(kind, cell, caches, up, clipf, activation):
    """BPTT through one direction, from its last step down: ``up[s]`` the gradient of its state
    after step s from above. Returns its parameters' terms and each step's input gradient."""
    grads = [np.zeros_like(a) for a in cell]
    n_h = cell[1].shape[1]
    dh_next, dc_next = np.zeros((n_h, 1)), np.zeros((n_h, 1))
    d_inputs = [None] * len(caches)
    for s in range(len(caches) - 1, -1, -1):
        cache, dh = caches[s], up[s] + dh_next
        if kind == "rnn":
            D = clipf(_slope(cache["a"], activation) * dh)
            Di, Dh, dh_prev = D, D, np.zeros_like(dh)
        else:
            Di, Dh, dh_prev, dc_next = oracle_gated._cell_backward(kind, cache, dh, dc_next, clipf)
        dh_next = dh_prev + cell[1].T @ Dh
        grads[0] += Di @ cache["x"].T
        grads[1] += Dh @ cache["h"].T
        grads[2] += Di
        if kind != "rnn":
            grads[3] += Dh
        d_inputs[s] = cell[0].T @ Di
    return grads, d_inputs


def gradient(flat, kind, layers, x, targets, clip=0.0, bptt=0, readout="tanh", activation="tanh"):
    """The update terms (ascent, -dL/dθ when clip = 0) of one series, its one target after
    the last step, as a flat vector: the readout's delta dout = A'(ŷ) e, clipped; w.T dout
    reaches the top layer's forward direction at its last step and its reverse direction at
    its last (time 1); each direction's input gradients go back to the layer below at the
    times they were read."""
    assert bptt == 0 and len(targets) == 1  # a bidirectional net's one loss
    cells, w, b = to_matrices(flat, kind, layers)
    F = len(x)
    clipf = oracle._clipper(clip)
    runs, top = forward(kind, cells, x, activation)
    y_hat = out(w @ top + b, readout)
    dout = clipf((1.0 if readout == "linear" else 1 - y_hat ** 2) * (targets[0] - y_hat))
    n_h = cells[-1][0][1].shape[1]
    d_top = w.T @ dout
    up_f = [np.zeros((n_h, 1)) for _ in range(F)]
    up_r = [np.zeros((n_h, 1)) for _ in range(F)]
    up_f[-1], up_r[-1] = d_top[:n_h], d_top[n_h:]
    grads = []
    for m in range(len(cells) - 1, -1, -1):
        (_, cf), (_, cr) = runs[m]
        gf, din_f = _direction_backward(kind, cells[m][0], cf, up_f, clipf, activation)
        gr, din_r = _direction_backward(kind, cells[m][1], cr, up_r, clipf, activation)
        grads = [gf, gr] + grads
        if m:
            hb = cells[m - 1][0][1].shape[1]
            up_f = [din_f[t][:hb] + din_r[F - 1 - t][:hb] for t in range(F)]
            up_r = [din_f[F - 1 - s][hb:] + din_r[s][hb:] for s in range(F)]
    return np.concatenate([g.ravel() for direction in grads for g in direction]
                          + [(dout @ top.T).ravel(), dout.ravel()])


def train(kind, flat, layers, X, Y, order, *, clip=0.0, readout="tanh", activation="tanh",
          bidirectional=True, **update):
    """One epoch (tests/oracle.py's train_with) -> (new flat vector, optimizer state)."""
    def terms(params, x, y):
        return gradient(params, kind, layers, x, y, clip, 0, readout, activation)
    return oracle.train_with(terms, decay_mask(kind, layers), flat, X, Y, order, **update)
