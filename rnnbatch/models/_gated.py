"""What the gated families (``gru``, ``lstm``) share: their parameters and one set of kernels,
the cell type (:data:`GRU`, :data:`LSTM`) an argument.

A net ``[1, h1, ..., hM, 1]`` is M stacked cells (cell m reads cell m-1's state h, the first
the series' value) and a readout on the top cell's state after step S,
ŷ_S = tanh(w · h^M_S + b) ("tanh") or w · h^M_S + b ("linear"). The cells are PyTorch's; each
family's module gives its equations and backward pass. Losses, BPTT and clipping follow the
rnn family (see ``rnn``): L = ½ Σ_t e_t², e_t = y_t - ŷ_t over the prediction steps t (the
last step, or every step); with ``bptt = k`` prediction t's error flows back through steps
t..t-k+1 only (the states of step t-k are constants), one backward pass per prediction when
there are several (deltas summed); with ``clip > 0`` every delta of a pre-activation (the
readout's, and each gate's) is clipped elementwise to [-clip, clip] as it is computed, before
it propagates (the state gradients δh, δc are not clipped: they are sums of clipped terms).

Parameters, PyTorch's names, shapes and gate order (G gates: 3 for GRU, 4 for LSTM), for cell
l = 0..M-1 of p inputs and h units: ``weight_ih_l{l}`` (G h, p), ``weight_hh_l{l}`` (G h, h),
``bias_ih_l{l}`` (G h,), ``bias_hh_l{l}`` (G h,); then ``readout.weight`` (1, hM) and
``readout.bias`` (1,). The flat vector is these arrays raveled in this order, which is also
the kernels' layout (row-major blocks).

Inits, drawn array by array in that order (one ``rng.uniform`` each): "scaled", the course's
U(±r), r = sqrt(3 / temp), a cell's temp = (p + 2h) / 2 (its inputs counting its own state,
as the rnn's) and the readout's (hM + 1) / 2; "uniform", U(±1); "torch", PyTorch's defaults,
U(±1/sqrt(h)) for a cell of h units and U(±1/sqrt(hM)) for the readout (nn.Linear).

Kernels (single-threaded, no fastmath flags, error_model="numpy"): a cell at a time over all
steps, forward from the bottom cell up and backward from the top down. Every step's input
part W_ih x_S + b_ih (+ b_hh) is taken for all steps before the recurrence; the recurrent
product W_hh h_{S-1} runs as sums of contiguous rows of W_hh.T (``wt``, a transposed copy
refreshed after every update) and the backward product W_hh.T δ as sums of rows of W_hh,
both through ``_common.add_rows``, four rows a pass; the weight terms are summed over the
steps four at a time along a cell's gates, transposed, then copied into place. Per-step
values live in (steps, width) blocks of flat buffers, one block per cell. ``tanh`` and
``sigmoid`` are ``_common``'s (vectorisable, a few ulp from libm). The cell type is a
runtime argument: both families run the same compiled kernels.
"""

from functools import partial

import numpy as np

from . import _update
from ._common import add_outer, add_rows, clipped, sigmoid, tanh
from ._jit import njit
from ._update import BPTT, CLIP, READOUT, take
from .rnn import init_radius

GRU, LSTM = 0, 1  # the cell types
GATES = (3, 4)  # by cell type
INITS = ("scaled", "uniform", "torch")
ACTIVATIONS = ("tanh",)
READOUTS = ("tanh", "linear")
LINEAR = _update.READOUTS.index("linear")  # opts[READOUT] of a linear readout
RECURRENT = True


# --- the flat vector ------------------------------------------------------------------------

def shapes(kind: int, layers):
    """[(name, shape), ...] of the parameters, in flat order."""
    if len(layers) < 3:
        raise ValueError(f"a gated net needs a cell: layers [1, h1, ..., hM, 1], not {list(layers)}")
    G = GATES[kind]
    out = []
    for l, (p, h) in enumerate(zip(layers[:-2], layers[1:-1])):
        out += [(f"weight_ih_l{l}", (G * h, p)), (f"weight_hh_l{l}", (G * h, h)),
                (f"bias_ih_l{l}", (G * h,)), (f"bias_hh_l{l}", (G * h,))]
    return out + [("readout.weight", (1, layers[-2])), ("readout.bias", (1,))]


def input_size(steps: int) -> int:
    """The first cell's input: one value a step."""
    return 1


def n_params(kind: int, layers) -> int:
    return sum(int(np.prod(shape)) for _, shape in shapes(kind, layers))


def init(kind: int, layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
    radii = {"scaled": [init_radius(p, h) for p, h in zip(layers[:-2], layers[1:-1])]
             + [float(np.sqrt(3.0 / ((layers[-2] + 1) / 2.0)))],
             "uniform": [1.0] * (len(layers) - 1),
             "torch": [1.0 / np.sqrt(h) for h in layers[1:-1]] + [1.0 / np.sqrt(layers[-2])]}[scheme]
    # four arrays a cell, two for the readout
    return np.concatenate([rng.uniform(-radii[k // 4], radii[k // 4], int(np.prod(shape)))
                           for k, (_, shape) in enumerate(shapes(kind, layers))])


def named(kind: int, params: np.ndarray, layers) -> dict[str, np.ndarray]:
    arrays, pos = {}, 0
    for name, shape in shapes(kind, layers):
        size = int(np.prod(shape))
        arrays[name] = params[pos:pos + size].reshape(shape).copy()
        pos += size
    return arrays


def flat(kind: int, arrays: dict, layers) -> np.ndarray:
    return np.concatenate([np.asarray(arrays[name], dtype=np.float64).reshape(shape).ravel()
                           for name, shape in shapes(kind, layers)])


def is_weight(name: str) -> bool:
    return name.startswith("weight_") or name == "readout.weight"


def functions(kind: int):
    """A family module's n_params, init, named, flat and kernels _train_epoch, _predict, _terms
    (see ``models``), for cells of type ``kind``."""
    return tuple(partial(f, kind) for f in (n_params, init, named, flat, train_epoch, predict, terms))


# --- kernels --------------------------------------------------------------------------------

@njit
def _offsets(sizes, G):
    """Where cell m's weight_ih, weight_hh, bias_ih, bias_hh start in the flat vector (index m =
    1..M), where the readout's weight starts, and u[m] = sizes[0] + ... + sizes[m-1], which
    places cell m's (steps, width * sizes[m]) block in a per-step buffer."""
    M = sizes.shape[0] - 2
    wih, whh = np.zeros(M + 1, np.int64), np.zeros(M + 1, np.int64)
    bih, bhh = np.zeros(M + 1, np.int64), np.zeros(M + 1, np.int64)
    u = np.zeros(M + 2, np.int64)
    pos = 0
    for m in range(1, M + 1):
        p, gh = sizes[m - 1], G * sizes[m]
        wih[m] = pos
        whh[m] = pos + gh * p
        bih[m] = whh[m] + gh * sizes[m]
        bhh[m] = bih[m] + gh
        pos = bhh[m] + gh
    for m in range(M + 1):
        u[m + 1] = u[m] + sizes[m]
    return wih, whh, bih, bhh, u, pos


@njit
def _block(buf, u, m, rows, width):
    """Cell m's (rows, width * sizes[m]) block of a per-step buffer."""
    return buf[rows * width * u[m]:rows * width * u[m + 1]].reshape((rows, width * (u[m + 1] - u[m])))


@njit
def _deltas(delta, u, m, F, G):
    """Cell m's Di and Dh, two (F + 2, G h) blocks of the delta buffer."""
    block = delta[(F + 2) * 2 * G * u[m]:(F + 2) * 2 * G * u[m + 1]]
    half, shape = block.shape[0] // 2, (F + 2, G * (u[m + 1] - u[m]))
    return block[:half].reshape(shape), block[half:].reshape(shape)


@njit
def _transpose(params, sizes, G, wih, wt):
    """wt[wih[m]:] = [weight_ih | weight_hh].T, (p + h, G h): rows the forward pass sums."""
    for m in range(1, sizes.shape[0] - 1):
        p, h = sizes[m - 1], sizes[m]
        W = params[wih[m]:wih[m] + G * h * (p + h)]
        T = wt[wih[m]:wih[m] + G * h * (p + h)].reshape((p + h, G * h))
        for j in range(G * h):
            for k in range(p):
                T[k, j] = W[j * p + k]
            for k in range(h):
                T[p + k, j] = W[G * h * p + j * h + k]


@njit(error_model="numpy")
def _gru_step(Gt, R, H, S, h, b_hh):
    """r, z, n and h' of step S from the input part Gt[S] (with r's and z's b_hh) and the
    recurrent product R[S], to which n's b_hh is added here (n needs W_hn h + b_hn apart)."""
    for i in range(h):
        r = sigmoid(Gt[S, i] + R[S, i])
        z = sigmoid(Gt[S, h + i] + R[S, h + i])
        R[S, 2 * h + i] += b_hh[2 * h + i]
        n = tanh(Gt[S, 2 * h + i] + r * R[S, 2 * h + i])
        H[S, i] = (1.0 - z) * n + z * H[S - 1, i]
        Gt[S, i], Gt[S, h + i], Gt[S, 2 * h + i] = r, z, n


@njit(error_model="numpy")
def _lstm_step(Gt, R, H, C, S, h):
    """i, f, g, o, c' and h' of step S; C[S] holds c' then tanh(c')."""
    for k in range(h):
        i = sigmoid(Gt[S, k] + R[S, k])
        f = sigmoid(Gt[S, h + k] + R[S, h + k])
        g = tanh(Gt[S, 2 * h + k] + R[S, 2 * h + k])
        o = sigmoid(Gt[S, 3 * h + k] + R[S, 3 * h + k])
        c = f * C[S - 1, k] + i * g
        tc = tanh(c)
        H[S, k] = o * tc
        C[S, k], C[S, h + k] = c, tc
        Gt[S, k], Gt[S, h + k], Gt[S, 2 * h + k], Gt[S, 3 * h + k] = i, f, g, o


@njit(error_model="numpy")
def _forward(kind, params, wt, sizes, offs, x, first, readout, bufs):
    """Run the inputs ``x`` (F,) through the cells; yhat[S] = ŷ_S for S = first..F.

    Per cell, over S = 0..F (row 0 the zero state): hs the states h, gt the gates' activations,
    rec the recurrent product W_hh h_{S-1} (+ b_hn for GRU's n, which needs it apart), cell
    LSTM's c and tanh(c). The input part W_ih x_S + b_ih + b_hh (but b_hn) is summed into gt
    for every step first: off the recurrence's critical path.
    """
    hs, gt, rec, cell, yhat = bufs[0], bufs[1], bufs[2], bufs[3], bufs[4]
    wih, bih, bhh, u, ro = offs[0], offs[2], offs[3], offs[4], offs[5]
    G = GATES[kind]
    F = x.shape[0]
    M = sizes.shape[0] - 2
    X = _block(hs, u, 0, F + 1, 1)
    X[0, 0] = 0.0
    for S in range(1, F + 1):
        X[S, 0] = x[S - 1]
    for m in range(1, M + 1):
        p, h = sizes[m - 1], sizes[m]
        below, H = _block(hs, u, m - 1, F + 1, 1), _block(hs, u, m, F + 1, 1)
        Gt, R = _block(gt, u, m, F + 1, G), _block(rec, u, m, F + 1, G)
        C = _block(cell, u, m, F + 1, 2)
        T = wt[wih[m]:wih[m] + G * h * (p + h)].reshape((p + h, G * h))
        b_ih, b_hh = params[bih[m]:bih[m] + G * h], params[bhh[m]:bhh[m] + G * h]
        for i in range(h):
            H[0, i] = 0.0
            C[0, i] = 0.0
        both = 2 * h if kind == GRU else G * h  # the rows whose b_hh joins the input part
        for S in range(1, F + 1):
            add_rows(Gt, S, T, 0, below, S, True)
            for j in range(both):
                Gt[S, j] += b_ih[j] + b_hh[j]
            for j in range(both, G * h):
                Gt[S, j] += b_ih[j]
        for S in range(1, F + 1):
            add_rows(R, S, T, p, H, S - 1, True)
            if kind == GRU:
                _gru_step(Gt, R, H, S, h, b_hh)
            else:
                _lstm_step(Gt, R, H, C, S, h)
    top = _block(hs, u, M, F + 1, 1)
    for S in range(first, F + 1):
        acc = params[ro + sizes[M]]
        for j in range(sizes[M]):
            acc += params[ro + j] * top[S, j]
        yhat[S] = acc if readout == LINEAR else tanh(acc)


@njit(error_model="numpy")
def _gru_back(Gt, R, H, Up, Back, Di, Dh, S, h, clip):
    """Step S of a GRU cell's backward pass, δh = Up[S] + Back[S+1] (from above, from S+1)::

        δa_n = δh (1 - z)(1 - n²),  δa_z = δh (h_{S-1} - n) z (1 - z),
        δa_r = δa_n (W_hn h_{S-1} + b_hn) r (1 - r),   each clipped as computed;
        Di = [δa_r, δa_z, δa_n] (the input side's deltas), Dh = [δa_r, δa_z, r δa_n];
        Back[S] = δh z  (the direct path to h_{S-1}; W_hh.T Dh is added by the caller)
    """
    for i in range(h):
        r, z, n = Gt[S, i], Gt[S, h + i], Gt[S, 2 * h + i]
        dh = Up[S, i] + Back[S + 1, i]
        dn = clipped(dh * (1.0 - z) * (1.0 - n * n), clip)
        dz = clipped(dh * (H[S - 1, i] - n) * z * (1.0 - z), clip)
        dr = clipped(dn * R[S, 2 * h + i] * r * (1.0 - r), clip)
        Di[S, i], Di[S, h + i], Di[S, 2 * h + i] = dr, dz, dn
        Dh[S, i], Dh[S, h + i], Dh[S, 2 * h + i] = dr, dz, r * dn
        Back[S, i] = dh * z


@njit(error_model="numpy")
def _lstm_back(Gt, C, Up, Back, CBack, Di, Dh, S, h, clip):
    """Step S of an LSTM cell's backward pass, δh = Up[S] + Back[S+1], δc from S+1 in CBack::

        δa_o = δh tanh(c) o (1 - o),   δc = CBack[S+1] + δh o (1 - tanh²(c)),
        δa_i = δc g i (1 - i),  δa_g = δc i (1 - g²),  δa_f = δc c_{S-1} f (1 - f),
        each δa clipped as computed; Di = Dh = [δa_i, δa_f, δa_g, δa_o]; CBack[S] = δc f
    """
    for k in range(h):
        i, f, g, o = Gt[S, k], Gt[S, h + k], Gt[S, 2 * h + k], Gt[S, 3 * h + k]
        tc = C[S, h + k]
        dh = Up[S, k] + Back[S + 1, k]
        do = clipped(dh * tc * o * (1.0 - o), clip)
        dc = CBack[S + 1, k] + dh * o * (1.0 - tc * tc)
        di = clipped(dc * g * i * (1.0 - i), clip)
        df = clipped(dc * C[S - 1, k] * f * (1.0 - f), clip)
        dg = clipped(dc * i * (1.0 - g * g), clip)
        CBack[S, k] = dc * f
        Di[S, k], Di[S, h + k], Di[S, 2 * h + k], Di[S, 3 * h + k] = di, df, dg, do
        Dh[S, k], Dh[S, h + k], Dh[S, 2 * h + k], Dh[S, 3 * h + k] = di, df, dg, do


@njit(error_model="numpy")
def _backward(kind, params, sizes, offs, y, top, lo, errs_from, clip, readout, bufs):
    """One BPTT pass after :func:`_forward`: deltas of steps S = top..lo, started from zero
    state gradients at top + 1, with the errors of the prediction steps errs_from..top (y the
    targets of the last y.shape[0] steps). Writes dout[S] (the readout's delta) and, per cell,
    Di[S] and Dh[S] (the gate deltas that weight_ih / bias_ih and weight_hh / bias_hh take)."""
    hs, gt, rec, cell, yhat, delta, dout, up, back, cback = bufs[:10]
    wih, whh, ro, u = offs[0], offs[1], offs[5], offs[4]
    G = GATES[kind]
    F = yhat.shape[0] - 1
    M = sizes.shape[0] - 2
    first = F - y.shape[0] + 1  # the step of y[0]
    for S in range(lo, top + 1):
        d = 0.0
        if S >= errs_from:
            d = y[S - first] - yhat[S]
            if readout != LINEAR:
                d *= 1.0 - yhat[S] * yhat[S]
        dout[S] = clipped(d, clip)
    Up = _block(up, u, M, F + 2, 1)
    for S in range(lo, top + 1):
        for i in range(sizes[M]):
            Up[S, i] = params[ro + i] * dout[S]
    for m in range(M, 0, -1):
        p, h = sizes[m - 1], sizes[m]
        H, Gt = _block(hs, u, m, F + 1, 1), _block(gt, u, m, F + 1, G)
        R, C = _block(rec, u, m, F + 1, G), _block(cell, u, m, F + 1, 2)
        Di, Dh = _deltas(delta, u, m, F, G)
        Up, Back = _block(up, u, m, F + 2, 1), _block(back, u, m, F + 2, 1)
        CBack = _block(cback, u, m, F + 2, 1)
        W_hh = params[whh[m]:whh[m] + G * h * h].reshape((G * h, h))
        for i in range(h):
            Back[top + 1, i] = 0.0
            CBack[top + 1, i] = 0.0
        for S in range(top, lo - 1, -1):
            if kind == GRU:
                _gru_back(Gt, R, H, Up, Back, Di, Dh, S, h, clip)
            else:
                _lstm_back(Gt, C, Up, Back, CBack, Di, Dh, S, h, clip)
            if S > lo:  # δh of step S-1; the pass stops at lo
                add_rows(Back, S, W_hh, 0, Dh, S, kind == LSTM)
        if m > 1:  # the cell below's δh from above: weight_ih.T Di
            W_ih = params[wih[m]:wih[m] + G * h * p].reshape((G * h, p))
            below = _block(up, u, m - 1, F + 2, 1)
            for S in range(lo, top + 1):
                add_rows(below, S, W_ih, 0, Di, S, True)


@njit(inline="always")
def _add_steps(T, k, D, Z, col, shift):
    """T[k, :] = sum_{S=1..F} Z[S + shift, col] D[S, :] (D is (F + 2, n)), steps four at a time:
    ``_common.add_outer``'s sum with the roles of the rows turned, so that its inner loop runs
    along D's long rows (all of a cell's gates) rather than along the short rows of Z."""
    last = D.shape[0] - 2
    for i in range(T.shape[1]):
        T[k, i] = 0.0
    S = 1
    while S + 3 <= last:
        r = S + shift
        z0, z1, z2, z3 = Z[r, col], Z[r + 1, col], Z[r + 2, col], Z[r + 3, col]
        for i in range(T.shape[1]):
            T[k, i] += (z0 * D[S, i] + z1 * D[S + 1, i]) + (z2 * D[S + 2, i] + z3 * D[S + 3, i])
        S += 4
    while S <= last:
        z = Z[S + shift, col]
        for i in range(T.shape[1]):
            T[k, i] += z * D[S, i]
        S += 1


@njit(error_model="numpy")
def _terms(kind, sizes, offs, hs, delta, dout, tt, grad):
    """grad = the update terms of the deltas of steps 1..F, in the flat layout: per cell
    Σ_S Di[S] x_S.T, Σ_S Dh[S] h_{S-1}.T, Σ_S Di[S], Σ_S Dh[S]; the readout's Σ_S dout[S] h^M_S.T
    and Σ_S dout[S] (the deltas of steps a truncated pass did not reach are zero; a constant
    start is the faster loop). The weights' terms are summed transposed, into ``tt`` (laid out
    as ``wt``), then copied over."""
    wih, whh, bih, bhh, u, ro = offs
    G = GATES[kind]
    F = dout.shape[0] - 2
    M = sizes.shape[0] - 2
    for m in range(1, M + 1):
        p, h = sizes[m - 1], sizes[m]
        below, H = _block(hs, u, m - 1, F + 1, 1), _block(hs, u, m, F + 1, 1)
        Di, Dh = _deltas(delta, u, m, F, G)
        T = tt[wih[m]:wih[m] + G * h * (p + h)].reshape((p + h, G * h))
        for k in range(p):
            _add_steps(T, k, Di, below, k, 0)
        for k in range(h):
            _add_steps(T, p + k, Dh, H, k, -1)  # H[0] is the zero state: S = 1 adds nothing
        G_ih = grad[wih[m]:wih[m] + G * h * p].reshape((G * h, p))
        G_hh = grad[whh[m]:whh[m] + G * h * h].reshape((G * h, h))
        for j in range(G * h):
            for k in range(p):
                G_ih[j, k] = T[k, j]
            for k in range(h):
                G_hh[j, k] = T[p + k, j]
        gb_ih, gb_hh = grad[bih[m]:bih[m] + G * h], grad[bhh[m]:bhh[m] + G * h]
        for j in range(G * h):
            gb_ih[j] = gb_hh[j] = 0.0
        for S in range(1, F + 1):
            for j in range(G * h):
                gb_ih[j] += Di[S, j]
                gb_hh[j] += Dh[S, j]
    hM = sizes[M]
    add_outer(grad[ro:ro + hM].reshape((1, hM)), 0, dout.reshape((F + 2, 1)),
              _block(hs, u, M, F + 1, 1), 0)
    total = 0.0
    for S in range(1, F + 1):
        total += dout[S]
    grad[ro + hM] = total


@njit(error_model="numpy")
def _series_terms(kind, params, sizes, offs, y, clip, bptt, readout, bufs, summed, grad):
    """grad = the update terms of one series after :func:`_forward`, for targets y of its
    last y.shape[0] steps, BPTT truncated to ``bptt`` steps (0: every step)."""
    hs, yhat, delta, dout = bufs[0], bufs[4], bufs[5], bufs[6]
    sum_delta, sum_out = summed
    u = offs[4]
    G = GATES[kind]
    F = yhat.shape[0] - 1
    first = F - y.shape[0] + 1
    if y.shape[0] == 1 or bptt == 0 or bptt >= F:  # one pass carries every error
        lo = max(1, F - bptt + 1) if bptt > 0 else 1
        _backward(kind, params, sizes, offs, y, F, lo, first, clip, readout, bufs)
        for S in range(1, lo):  # the steps the pass does not reach: the sums run from step 1
            dout[S] = 0.0
            for m in range(1, sizes.shape[0] - 1):
                Di, Dh = _deltas(delta, u, m, F, G)
                for j in range(Di.shape[1]):
                    Di[S, j] = Dh[S, j] = 0.0
        _terms(kind, sizes, offs, hs, delta, dout, bufs[10], grad)
        return
    sum_delta[:] = 0.0
    sum_out[:] = 0.0
    for t in range(first, F + 1):  # prediction t's error, back through steps t..t-bptt+1
        lo = max(1, t - bptt + 1)
        _backward(kind, params, sizes, offs, y, t, lo, t, clip, readout, bufs)
        sum_out[t] += dout[t]  # the other steps' readout deltas are zero in this pass
        for m in range(1, sizes.shape[0] - 1):
            Di, Dh = _deltas(delta, u, m, F, G)
            Si, Sh = _deltas(sum_delta, u, m, F, G)
            for S in range(lo, t + 1):
                for j in range(Di.shape[1]):
                    Si[S, j] += Di[S, j]
                    Sh[S, j] += Dh[S, j]
    _terms(kind, sizes, offs, hs, sum_delta, sum_out, bufs[10], grad)


@njit
def _buffers(params, sizes, kind, F):
    """Offsets, the transposed weights and the buffers: per step and cell hs, gt, rec, cell
    (:func:`_forward`), yhat; delta (Di and Dh, :func:`_backward`), dout, up (δh from above),
    back (δh from the next step), cback (LSTM's δc from the next step); and tt, the transposed
    weight terms (:func:`_terms`)."""
    G = GATES[kind]
    offs = _offsets(sizes, G)
    wt = np.zeros(params.shape[0])
    _transpose(params, sizes, G, offs[0], wt)
    units = offs[4][-1]
    bufs = (np.zeros((F + 1) * units), np.zeros((F + 1) * G * units),
            np.zeros((F + 1) * G * units), np.zeros((F + 1) * 2 * units), np.zeros(F + 1),
            np.zeros((F + 2) * 2 * G * units), np.zeros(F + 2), np.zeros((F + 2) * units),
            np.zeros((F + 2) * units), np.zeros((F + 2) * units), np.zeros(params.shape[0]))
    return offs, wt, bufs


@njit(error_model="numpy")
def train_epoch(kind, params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over inputs ``X[order]`` and targets ``Y[order]``, an update per batch through
    the shared step; returns (mean squared final-step error before each update, ok)."""
    F = X.shape[1]
    offs, wt, bufs = _buffers(params, sizes, kind, F)
    yhat = bufs[4]
    summed = (np.zeros(bufs[5].shape[0]), np.zeros(F + 2))
    n = params.shape[0]
    mask, grad, total = np.ones(n), np.zeros(n), np.zeros(n)
    clip, bptt, readout = opts[CLIP], int(opts[BPTT]), int(opts[READOUT])
    first = F - Y.shape[1] + 1
    sse = 0.0
    count = 0
    for r in range(order.shape[0]):
        y = Y[order[r]]
        _forward(kind, params, wt, sizes, offs, X[order[r]], first, readout, bufs)
        err = y[y.shape[0] - 1] - yhat[F]
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        _series_terms(kind, params, sizes, offs, y, clip, bptt, readout, bufs, summed, grad)
        count = take(params, grad, total, count, r == order.shape[0] - 1, mask, decay, opts,
                     moments, steps)
        if count == 0:
            _transpose(params, sizes, GATES[kind], offs[0], wt)
    return sse / order.shape[0], True


@njit(error_model="numpy")
def predict(kind, params, sizes, X, opts):
    """ŷ_F for each row of the inputs X (n, F)."""
    F = X.shape[1]
    readout = int(opts[READOUT])
    offs, wt, bufs = _buffers(params, sizes, kind, F)
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        _forward(kind, params, wt, sizes, offs, X[r], F, readout, bufs)
        out[r] = bufs[4][F]
    return out


@njit(error_model="numpy")
def terms(kind, params, sizes, x, y, opts):
    """One series' update terms (-dL/dθ), in the flat layout."""
    F = x.shape[0]
    clip, bptt, readout = opts[CLIP], int(opts[BPTT]), int(opts[READOUT])
    offs, wt, bufs = _buffers(params, sizes, kind, F)
    grad = np.zeros(params.shape[0])
    _forward(kind, params, wt, sizes, offs, x, F - y.shape[0] + 1, readout, bufs)
    _series_terms(kind, params, sizes, offs, y, clip, bptt, readout, bufs,
                  (np.zeros(bufs[5].shape[0]), np.zeros(F + 2)), grad)
    return grad
