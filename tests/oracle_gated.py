"""Plain numpy transcription of the gated families (``gru``, ``lstm``): the oracle their kernels
must equal. PyTorch's cell equations written literally, column vectors, one step at a time.

A net ``[1, h1, ..., hM, 1]``: cells m = 1..M (cell m's input is cell m-1's state, cell 1's
the series' value), then ŷ_S = tanh(w h^M_S + b), or w h^M_S + b with ``readout="linear"``.
Targets, BPTT windows and the ascent convention are tests/oracle.py's (its rnn); with
clip > 0 each pre-activation delta (the readout's, each gate's) is clipped as it is computed.
"""

import numpy as np

from . import oracle

GATES = {"gru": 3, "lstm": 4}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def out(a, readout):
    return a if readout == "linear" else np.tanh(a)


def _arrays(kind, layers):
    """(name, shape) in flat order: per cell weight_ih, weight_hh, bias_ih, bias_hh; readout."""
    G, arrays = GATES[kind], []
    for l, (p, h) in enumerate(zip(layers[:-2], layers[1:-1])):
        arrays += [(f"weight_ih_l{l}", (G * h, p)), (f"weight_hh_l{l}", (G * h, h)),
                   (f"bias_ih_l{l}", (G * h, 1)), (f"bias_hh_l{l}", (G * h, 1))]
    return arrays + [("readout.weight", (1, layers[-2])), ("readout.bias", (1, 1))]


def to_matrices(flat, kind, layers):
    """Flat vector -> (cells, w, b): cells[m - 1] = (W_ih, W_hh, b_ih, b_hh), biases columns."""
    mats, pos = [], 0
    for _, (rows, cols) in _arrays(kind, layers):
        mats.append(np.array(flat[pos:pos + rows * cols], dtype=float).reshape(rows, cols))
        pos += rows * cols
    return [tuple(mats[k:k + 4]) for k in range(0, len(mats) - 2, 4)], mats[-2], mats[-1]


def from_matrices(cells, w, b):
    return np.concatenate([m.ravel() for cell in cells for m in cell] + [w.ravel(), b.ravel()])


def decay_mask(kind, layers):
    """1.0 at the weights (weight_ih, weight_hh, readout.weight), 0.0 at the biases."""
    return np.concatenate([np.full(rows * cols, float(name.startswith(("weight", "readout.w"))))
                           for name, (rows, cols) in _arrays(kind, layers)])


def gru_cell(cell, x, h):
    """PyTorch's GRU cell: returns h' and what its backward pass reads."""
    W_ih, W_hh, b_ih, b_hh = cell
    n_h = len(h)
    W_ir, W_iz, W_in = W_ih[:n_h], W_ih[n_h:2 * n_h], W_ih[2 * n_h:]
    W_hr, W_hz, W_hn = W_hh[:n_h], W_hh[n_h:2 * n_h], W_hh[2 * n_h:]
    b_ir, b_iz, b_in = b_ih[:n_h], b_ih[n_h:2 * n_h], b_ih[2 * n_h:]
    b_hr, b_hz, b_hn = b_hh[:n_h], b_hh[n_h:2 * n_h], b_hh[2 * n_h:]
    r = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
    z = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
    n = np.tanh(W_in @ x + b_in + r * (W_hn @ h + b_hn))
    h_new = (1 - z) * n + z * h
    return h_new, dict(x=x, h=h, r=r, z=z, n=n, ghn=W_hn @ h + b_hn)


def lstm_cell(cell, x, h, c):
    """PyTorch's LSTM cell: returns h', c' and what its backward pass reads."""
    W_ih, W_hh, b_ih, b_hh = cell
    n_h = len(h)
    pre = [W_ih[k * n_h:(k + 1) * n_h] @ x + b_ih[k * n_h:(k + 1) * n_h]
           + W_hh[k * n_h:(k + 1) * n_h] @ h + b_hh[k * n_h:(k + 1) * n_h] for k in range(4)]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, c_new, dict(x=x, h=h, c=c, i=i, f=f, g=g, o=o, c_new=c_new)


def forward(kind, cells, x, states=None, first=1):
    """Steps S = first..len(x) from ``states`` (default zero): returns (states, caches), where
    states[m, S] = (h, c) of cell m after step S (c None for a GRU) and caches[m, S] what the
    backward pass reads."""
    if states is None:
        states = {(m, 0): (np.zeros((cell[1].shape[1], 1)), np.zeros((cell[1].shape[1], 1)))
                  for m, cell in enumerate(cells, start=1)}
    caches = {}
    for S in range(first, len(x) + 1):
        below = np.array([[x[S - 1]]])
        for m, cell in enumerate(cells, start=1):
            h, c = states[m, S - 1]
            if kind == "gru":
                h_new, cache = gru_cell(cell, below, h)
                states[m, S] = (h_new, None)
            else:
                h_new, c_new, cache = lstm_cell(cell, below, h, c)
                states[m, S] = (h_new, c_new)
            caches[m, S] = cache
            below = h_new
    return states, caches


def _cell_backward(kind, cache, dh, dc, clipf):
    """One step of one cell: (Di, Dh, dh_prev without W_hh.T Dh, dc_prev), Di the deltas of the
    input-side pre-activations, Dh those of the hidden side."""
    if kind == "gru":
        r, z, n = cache["r"], cache["z"], cache["n"]
        dn = clipf(dh * (1 - z) * (1 - n ** 2))
        dz = clipf(dh * (cache["h"] - n) * z * (1 - z))
        dr = clipf(dn * cache["ghn"] * r * (1 - r))
        return np.vstack([dr, dz, dn]), np.vstack([dr, dz, r * dn]), dh * z, None
    i, f, g, o, c_new = cache["i"], cache["f"], cache["g"], cache["o"], cache["c_new"]
    do = clipf(dh * np.tanh(c_new) * o * (1 - o))
    dc = dc + dh * o * (1 - np.tanh(c_new) ** 2)
    di = clipf(dc * g * i * (1 - i))
    df = clipf(dc * cache["c"] * f * (1 - f))
    dg = clipf(dc * i * (1 - g ** 2))
    D = np.vstack([di, df, dg, do])
    return D, D, np.zeros_like(dh), dc * f


def gradient(flat, kind, layers, x, targets, clip=0.0, bptt=0, readout="tanh"):
    """The update terms (ascent, -dL/dθ when clip = 0) of one series, as a flat vector.

    Per BPTT window (tests/oracle.py's rnn_gradient: one over S = F..1 carrying every error,
    or one per prediction t over S = t..max(1, t - bptt + 1)), from S = top down, the top
    cell first: the readout delta dout = A'(ŷ) e_S (A' = 1 - ŷ², or 1 when linear), the top
    cell's δh = w.T dout + δh_{S+1}, a lower cell's δh = W_ih(above).T Di(above) + δh_{S+1};
    then W_ih += Di x.T, W_hh += Dh h_{S-1}.T, b_ih += Di, b_hh += Dh, w += dout h^M.T, b += dout.
    """
    cells, w, b = to_matrices(flat, kind, layers)
    M, F = len(cells), len(x)
    states, caches = forward(kind, cells, x)
    clipf = oracle._clipper(clip)
    errors = {t: y - out(w @ states[M, t][0] + b, readout)
              for t, y in zip(oracle._prediction_steps(F, len(targets)), targets)}
    if bptt == 0 or bptt >= F:
        windows = [(F, 1, errors)]
    else:
        windows = [(t, max(1, t - bptt + 1), {t: e}) for t, e in errors.items()]
    grads = [[np.zeros_like(a) for a in cell] for cell in cells]
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    for top, bottom, errs in windows:
        dh_next = {m: np.zeros((cells[m - 1][1].shape[1], 1)) for m in range(1, M + 1)}
        dc_next = dict(dh_next)
        for S in range(top, bottom - 1, -1):
            y_hat = out(w @ states[M, S][0] + b, readout)
            slope = 1.0 if readout == "linear" else 1 - y_hat ** 2
            dout = clipf(slope * errs[S]) if S in errs else np.zeros((1, 1))
            gw += dout @ states[M, S][0].T
            gb += dout
            from_above = w.T @ dout
            for m in range(M, 0, -1):
                W_ih, W_hh = cells[m - 1][0], cells[m - 1][1]
                cache = caches[m, S]
                Di, Dh, dh_prev, dc_next[m] = _cell_backward(kind, cache, from_above + dh_next[m],
                                                             dc_next[m], clipf)
                dh_next[m] = dh_prev + W_hh.T @ Dh
                grads[m - 1][0] += Di @ cache["x"].T
                grads[m - 1][1] += Dh @ cache["h"].T
                grads[m - 1][2] += Di
                grads[m - 1][3] += Dh
                from_above = W_ih.T @ Di
    return from_matrices(grads, gw, gb)


def loss(flat, kind, layers, x, targets, bptt=0, frozen=None, readout="tanh"):
    """½ Σ_t (target_t - ŷ_t)²; with bptt = k > 0 and ``frozen`` params, prediction t starts
    from the states of step t - k that ``frozen`` gives (tests/oracle.py's rnn_loss)."""
    cells, w, b = to_matrices(flat, kind, layers)
    frozen_cells = cells if bptt == 0 or frozen is None else to_matrices(frozen, kind, layers)[0]
    M, F = len(cells), len(x)
    total = 0.0
    for t, y in zip(oracle._prediction_steps(F, len(targets)), targets):
        cut = max(0, t - bptt) if bptt > 0 else 0
        states, _ = forward(kind, frozen_cells, x[:cut])
        states, _ = forward(kind, cells, x[:t], states, first=cut + 1)
        total += 0.5 * (y - out(w @ states[M, t][0] + b, readout)[0, 0]) ** 2
    return total


def predict(flat, kind, layers, X, readout="tanh"):
    """ŷ after the last step, for each row of X (n, F)."""
    cells, w, b = to_matrices(flat, kind, layers)
    M = len(cells)
    return np.array([out(w @ forward(kind, cells, x)[0][M, len(x)][0] + b, readout)[0, 0]
                     for x in X])


def train(kind, flat, layers, X, Y, order, *, clip=0.0, bptt=0, readout="tanh", **update):
    """One epoch (tests/oracle.py's train_with) -> (new flat vector, optimizer state)."""
    def terms(params, x, y):
        return gradient(params, kind, layers, x, y, clip, bptt, readout)
    return oracle.train_with(terms, decay_mask(kind, layers), flat, X, Y, order, **update)
