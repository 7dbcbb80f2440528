"""The layer-major cell engine: the gated families (``gru``, ``lstm``) and bidirectional ``rnn``
nets share its parameters' layout and one set of kernels, the cell type an argument
(:data:`GRU`, :data:`LSTM`, :data:`ELMAN`, :data:`ELMAN_RELU`).

A net ``[1, h1, ..., hM, 1]`` is M stacked cells (cell m reads cell m-1's state h, the first
the series' value) and a readout on the top cell's state after step S,
ŷ_S = tanh(w · h^M_S + b) ("tanh") or w · h^M_S + b ("linear"). GRU and LSTM cells are
PyTorch's (each family's module gives its equations and backward pass); an Elman cell is the
rnn family's hidden layer, h' = act(W_ih x + W_hh h + b) (tanh, or ReLU), one bias.

**Bidirectional** (lecture 004; ``bidirectional = true``, D = 2 directions): each cell gets a
second direction with its own parameters, reading the series from its end; cell m > 1 reads,
at each time t, both directions' states of cell m - 1 at t, [h→_t ; h←_t] (2 h_{m-1} inputs,
PyTorch's stacking), and the readout reads both top directions' final states,
ŷ = w · [h→_F ; h←_1] + b (one prediction, after the last step: every step's output would see
the values it predicts, and a truncated pass is defined for one direction only, so
bidirectional nets refuse ``loss = "every"`` and ``bptt``). The kernels keep a reverse
direction's states in its own processing order (row s: after reading x_F .. x_{F+1-s}), so
each direction is the one-way cell on its own input sequence, gathered from the cell below
before it runs; in the backward pass the gradients of those inputs are scattered back to the
two directions below.

Losses, BPTT and clipping follow the rnn family (see ``rnn``): L = ½ Σ_t e_t²,
e_t = y_t - ŷ_t over the prediction steps t (the last step, or every step); with ``bptt = k``
prediction t's error flows back through steps t..t-k+1 only (the states of step t-k are
constants), one backward pass per prediction when there are several (deltas summed); with
``clip > 0`` every delta of a pre-activation (the readout's, and each gate's) is clipped
elementwise to [-clip, clip] as it is computed, before it propagates (the state gradients δh,
δc are not clipped: they are sums of clipped terms).

Parameters, PyTorch's names, shapes and gate order (G gates: 3 for GRU, 4 for LSTM, 1 for an
Elman cell), for cell l = 0..M-1 of p inputs and h units: ``weight_ih_l{l}`` (G h, p),
``weight_hh_l{l}`` (G h, h), ``bias_ih_l{l}`` (G h,), ``bias_hh_l{l}`` (G h,), then, when
bidirectional, the same four with the suffix ``_reverse``; then ``readout.weight`` (1, D hM)
and ``readout.bias`` (1,). An Elman cell's arrays are the rnn family's, layer L = l + 1:
``w1_L`` (h, p), ``ws_L`` (h, h), ``b_L`` (h,) (and ``..._reverse``), its readout ``w1_N``,
``b_N`` (N = M + 1). The flat vector is these arrays raveled in this order, which is also the
kernels' layout (row-major blocks); kernels index cell m's direction d as c = (m-1) D + d + 1.

Inits, drawn array by array in that order (one draw each): "scaled", the course's U(±r),
r = sqrt(3 / temp), a cell's temp = (p + 2h) / 2 (its inputs counting its own state, as the
rnn's) and the readout's (D hM + 1) / 2; "uniform", U(±1); "torch", PyTorch's defaults,
U(±1/sqrt(h)) for a cell of h units and U(±1/sqrt(D hM)) for the readout (nn.Linear);
"identity" (Elman cells; lecture 003, Le et al.): W_ih ~ N(0, 0.001²), W_hh = I, b = 0, the
readout scaled.

Kernels (single-threaded, no fastmath flags, error_model="numpy"): a cell at a time over all
steps, forward from the bottom cell up and backward from the top down. Every step's input
part W_ih x_S + b_ih (+ b_hh) is taken for all steps before the recurrence; the recurrent
product W_hh h_{S-1} runs as sums of contiguous rows of W_hh.T (``wt``, a transposed copy
refreshed after every update) and the backward product W_hh.T δ as sums of rows of W_hh,
both through ``_common.add_rows``, four rows a pass; the weight terms are summed over the
steps four at a time along a cell's gates, transposed, then copied into place. Per-step
values live in (steps, width) blocks of flat buffers, one block per cell. ``tanh`` and
``sigmoid`` are ``_common``'s (vectorisable, a few ulp from libm). The cell type and the
directions are runtime arguments: every family runs the same compiled kernels.
"""

from functools import partial

import numpy as np

from . import _update
from ._common import activate, add_outer, add_rows, clipped, init_radius, sigmoid, slope, tanh
from ._jit import njit
from ._update import ACTIVATION, BIDIRECTIONAL, BPTT, CLIP, READOUT, RELU, take

GRU, LSTM, ELMAN, ELMAN_RELU = range(4)  # the cell types
GATES = (3, 4, 1, 1)  # by cell type
INITS = ("scaled", "uniform", "torch")
ACTIVATIONS = ("tanh",)
READOUTS = ("tanh", "linear")
LINEAR = _update.READOUTS.index("linear")  # opts[READOUT] of a linear readout
RECURRENT = BIDIRECTIONAL_NETS = True


# --- the flat vector ------------------------------------------------------------------------

def _cell_arrays(kind: int, l: int, p: int, h: int, end: str):
    """[(name, shape), ...] of cell l's direction named with the suffix ``end``."""
    if kind >= ELMAN:
        return [(f"w1_{l + 1}{end}", (h, p)), (f"ws_{l + 1}{end}", (h, h)), (f"b_{l + 1}{end}", (h,))]
    G = GATES[kind]
    return [(f"weight_ih_l{l}{end}", (G * h, p)), (f"weight_hh_l{l}{end}", (G * h, h)),
            (f"bias_ih_l{l}{end}", (G * h,)), (f"bias_hh_l{l}{end}", (G * h,))]


def arrays(kind: int, layers, bidirectional: bool = False):
    """[(name, shape, (p, h)), ...] in flat order, (p, h) the inputs and units of the cell the
    array belongs to (h = 0: the readout's, of p inputs)."""
    if len(layers) < 3:
        raise ValueError(f"a net of cells needs a hidden layer: [1, h1, ..., hM, 1], "
                         f"not {list(layers)}")
    D = 2 if bidirectional else 1
    out = []
    for l, (p, h) in enumerate(zip(layers[:-2], layers[1:-1])):
        p = p if l == 0 else D * p
        for end in ("", "_reverse")[:D]:
            out += [(name, shape, (p, h)) for name, shape in _cell_arrays(kind, l, p, h, end)]
    top, N = D * layers[-2], len(layers) - 1
    weight, bias = (f"w1_{N}", f"b_{N}") if kind >= ELMAN else ("readout.weight", "readout.bias")
    return out + [(weight, (1, top), (top, 0)), (bias, (1,), (top, 0))]


def input_size(steps: int) -> int:
    """The first cell's input: one value a step."""
    return 1


def n_params(kind: int, layers, bidirectional: bool = False) -> int:
    return sum(int(np.prod(shape)) for _, shape, _ in arrays(kind, layers, bidirectional))


def _radius(scheme: str, p: int, h: int) -> float:
    """The half-width of a uniform init of an array of a cell of p inputs and h units (h = 0:
    the readout's)."""
    if scheme == "uniform":
        return 1.0
    if scheme == "torch":
        return 1.0 / np.sqrt(h if h else p)
    return init_radius(p, h) if h else float(np.sqrt(3.0 / ((p + 1) / 2.0)))


def init(kind: int, layers, scheme: str, rng: np.random.Generator,
         bidirectional: bool = False) -> np.ndarray:
    parts = []
    for name, shape, (p, h) in arrays(kind, layers, bidirectional):
        if scheme == "identity" and h:  # an Elman cell's, Le et al.
            parts.append(rng.normal(0.0, 0.001, shape) if name.startswith("w1") else
                         np.eye(h) if name.startswith("ws") else np.zeros(shape))
        else:
            r = _radius("scaled" if scheme == "identity" else scheme, p, h)
            parts.append(rng.uniform(-r, r, int(np.prod(shape))))
    return np.concatenate([part.ravel() for part in parts])


def named(kind: int, params: np.ndarray, layers, bidirectional: bool = False) -> dict[str, np.ndarray]:
    out, pos = {}, 0
    for name, shape, _ in arrays(kind, layers, bidirectional):
        size = int(np.prod(shape))
        out[name] = params[pos:pos + size].reshape(shape).copy()
        pos += size
    return out


def flat(kind: int, named_arrays: dict, layers, bidirectional: bool = False) -> np.ndarray:
    return np.concatenate([np.asarray(named_arrays[name], dtype=np.float64).reshape(shape).ravel()
                           for name, shape, _ in arrays(kind, layers, bidirectional)])


def is_weight(name: str) -> bool:
    return name.startswith("weight_") or name == "readout.weight"


def functions(kind: int):
    """A family module's n_params, init, named, flat and kernels _train_epoch, _predict, _terms
    (see ``models``), for cells of type ``kind``."""
    return tuple(partial(f, kind) for f in (n_params, init, named, flat, train_epoch, predict, terms))


# --- kernels --------------------------------------------------------------------------------

@njit
def _cell(sizes, D, c):
    """Cell-direction c's cell m, direction d, inputs p and units h."""
    m, d = (c - 1) // D + 1, (c - 1) % D
    return m, d, sizes[m - 1] * (D if m > 1 else 1), sizes[m]


@njit
def _offsets(sizes, kind, D):
    """Where cell-direction c's weight_ih, weight_hh, bias_ih, bias_hh start in the flat vector
    (index c = 1..M D; an Elman cell's one bias at both), where the readout's weight starts,
    u[c] = the widths of blocks 0..c-1 (block 0 the series, c a cell-direction's h), which places
    block c's (steps, width * h) rows in a per-step buffer, and v, the same for the gathered
    inputs of a bidirectional net (widths p)."""
    G = GATES[kind]
    C = (sizes.shape[0] - 2) * D
    wih, whh = np.zeros(C + 1, np.int64), np.zeros(C + 1, np.int64)
    bih, bhh = np.zeros(C + 1, np.int64), np.zeros(C + 1, np.int64)
    u, v = np.zeros(C + 2, np.int64), np.zeros(C + 2, np.int64)
    u[1] = sizes[0]
    pos = 0
    for c in range(1, C + 1):
        _, _, p, h = _cell(sizes, D, c)
        wih[c] = pos
        whh[c] = pos + G * h * p
        bih[c] = whh[c] + G * h * h
        bhh[c] = bih[c] + G * h if kind < ELMAN else bih[c]
        pos = bhh[c] + G * h
        u[c + 1] = u[c] + h
        v[c + 1] = v[c] + p
    return wih, whh, bih, bhh, u, pos, v


@njit
def _block(buf, u, c, rows, width):
    """Block c's (rows, width * (u[c + 1] - u[c])) rows of a per-step buffer."""
    return buf[rows * width * u[c]:rows * width * u[c + 1]].reshape((rows, width * (u[c + 1] - u[c])))


@njit
def _deltas(delta, u, c, F, G):
    """Cell-direction c's Di and Dh, two (F + 2, G h) blocks of the delta buffer."""
    block = delta[(F + 2) * 2 * G * u[c]:(F + 2) * 2 * G * u[c + 1]]
    half, shape = block.shape[0] // 2, (F + 2, G * (u[c + 1] - u[c]))
    return block[:half].reshape(shape), block[half:].reshape(shape)


@njit
def _input_block(hs, ins, offs, D, c, F):
    """Cell-direction c's inputs, an (F + 1, p) block, row S its input at its step S: the block
    below (one direction), or its own block of ``ins`` (two, filled by :func:`_gather`)."""
    if D == 1:
        return _block(hs, offs[4], c - 1, F + 1, 1)
    return _block(ins, offs[6], c, F + 1, 1)


@njit
def _gather(In, hs, u, sizes, c, F):
    """A bidirectional net's cell-direction c's inputs: at its step S it reads time t = S
    (forward) or F + 1 - S (reverse), the series' value there, or both directions' states of
    the cell below at t (the reverse one's at its own step F + 1 - t)."""
    m, d, _, _ = _cell(sizes, 2, c)
    for S in range(1, F + 1):
        t = S if d == 0 else F + 1 - S
        if m == 1:
            In[S, 0] = hs[t]
            continue
        h = sizes[m - 1]
        fwd, rev = _block(hs, u, c - d - 2, F + 1, 1), _block(hs, u, c - d - 1, F + 1, 1)
        for j in range(h):
            In[S, j] = fwd[t, j]
            In[S, h + j] = rev[F + 1 - t, j]


@njit
def _transpose(params, sizes, G, D, wih, wt):
    """wt[wih[c]:] = [weight_ih | weight_hh].T, (p + h, G h): rows the forward pass sums."""
    for c in range(1, (sizes.shape[0] - 2) * D + 1):
        _, _, p, h = _cell(sizes, D, c)
        W = params[wih[c]:wih[c] + G * h * (p + h)]
        T = wt[wih[c]:wih[c] + G * h * (p + h)].reshape((p + h, G * h))
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
def _elman_step(Gt, R, H, S, h, relu):
    """h' = act(W_ih x + b + W_hh h) of step S, kept in H[S] and Gt[S]."""
    for i in range(h):
        a = activate(Gt[S, i] + R[S, i], relu)
        H[S, i] = a
        Gt[S, i] = a


@njit(error_model="numpy")
def _forward(kind, params, wt, sizes, offs, D, x, first, readout, bufs):
    """Run the inputs ``x`` (F,) through the cells; yhat[S] = ŷ_S for S = first..F.

    Per cell-direction, over its steps S = 0..F (row 0 the zero state): hs the states h, gt
    the gates' activations, rec the recurrent product W_hh h_{S-1} (+ b_hn for GRU's n, which
    needs it apart), cell LSTM's c and tanh(c). The input part W_ih x_S + b_ih + b_hh (but
    b_hn) is summed into gt for every step first: off the recurrence's critical path.
    """
    hs, gt, rec, cell, yhat, ins = bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[11]
    wih, bih, bhh, u, ro = offs[0], offs[2], offs[3], offs[4], offs[5]
    G = GATES[kind]
    F = x.shape[0]
    M = sizes.shape[0] - 2
    hs[0] = 0.0
    for S in range(1, F + 1):
        hs[S] = x[S - 1]
    for c in range(1, M * D + 1):
        _, _, p, h = _cell(sizes, D, c)
        below, H = _input_block(hs, ins, offs, D, c, F), _block(hs, u, c, F + 1, 1)
        if D == 2:
            _gather(below, hs, u, sizes, c, F)
        Gt, R = _block(gt, u, c, F + 1, G), _block(rec, u, c, F + 1, G)
        Cs = _block(cell, u, c, F + 1, 2)
        T = wt[wih[c]:wih[c] + G * h * (p + h)].reshape((p + h, G * h))
        b_ih, b_hh = params[bih[c]:bih[c] + G * h], params[bhh[c]:bhh[c] + G * h]
        for i in range(h):
            H[0, i] = 0.0
            Cs[0, i] = 0.0
        # the rows whose b_hh joins the input part (an Elman cell has one bias)
        both = 2 * h if kind == GRU else G * h if kind == LSTM else 0
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
            elif kind == LSTM:
                _lstm_step(Gt, R, H, Cs, S, h)
            else:
                _elman_step(Gt, R, H, S, h, kind == ELMAN_RELU)
    hM = sizes[M]
    for S in range(first, F + 1):
        acc = params[ro + D * hM]
        for d in range(D):  # each top direction's state after its last step
            top = _block(hs, u, (M - 1) * D + d + 1, F + 1, 1)
            for j in range(hM):
                acc += params[ro + d * hM + j] * top[S, j]
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
def _elman_back(Gt, Up, Back, Di, Dh, S, h, clip, relu):
    """Step S of an Elman cell's backward pass (the course's D): δa = act'(a) (Up[S] + Back[S+1]),
    clipped; Di = Dh = δa (W_hh.T Dh, into Back[S], is the caller's)."""
    for i in range(h):
        d = clipped(slope(Gt[S, i], relu) * (Up[S, i] + Back[S + 1, i]), clip)
        Di[S, i] = d
        Dh[S, i] = d


@njit(error_model="numpy")
def _backward(kind, params, sizes, offs, D, y, top, lo, errs_from, clip, readout, bufs):
    """One BPTT pass after :func:`_forward`: deltas of steps S = top..lo, started from zero
    state gradients at top + 1, with the errors of the prediction steps errs_from..top (y the
    targets of the last y.shape[0] steps). Writes dout[S] (the readout's delta) and, per
    cell-direction, Di[S] and Dh[S] (the gate deltas that weight_ih / bias_ih and weight_hh /
    bias_hh take). Two directions run whole passes only (top = F, lo = 1)."""
    hs, gt, rec, cell, yhat, delta, dout, up, back, cback = bufs[:10]
    whh, ro, u = offs[1], offs[5], offs[4]
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
    for d in range(D):
        Up = _block(up, u, (M - 1) * D + d + 1, F + 2, 1)
        for S in range(lo, top + 1):
            for i in range(sizes[M]):
                Up[S, i] = params[ro + d * sizes[M] + i] * dout[S]
    for c in range(M * D, 0, -1):
        m, _, p, h = _cell(sizes, D, c)
        H, Gt = _block(hs, u, c, F + 1, 1), _block(gt, u, c, F + 1, G)
        R, Cs = _block(rec, u, c, F + 1, G), _block(cell, u, c, F + 1, 2)
        Di, Dh = _deltas(delta, u, c, F, G)
        Up, Back = _block(up, u, c, F + 2, 1), _block(back, u, c, F + 2, 1)
        CBack = _block(cback, u, c, F + 2, 1)
        W_hh = params[whh[c]:whh[c] + G * h * h].reshape((G * h, h))
        for i in range(h):
            Back[top + 1, i] = 0.0
            CBack[top + 1, i] = 0.0
        for S in range(top, lo - 1, -1):
            if kind == GRU:
                _gru_back(Gt, R, H, Up, Back, Di, Dh, S, h, clip)
            elif kind == LSTM:
                _lstm_back(Gt, Cs, Up, Back, CBack, Di, Dh, S, h, clip)
            else:
                _elman_back(Gt, Up, Back, Di, Dh, S, h, clip, kind == ELMAN_RELU)
            if S > lo:  # δh of step S-1; the pass stops at lo
                add_rows(Back, S, W_hh, 0, Dh, S, kind != GRU)
        if m > 1 and (c - 1) % D == 0:  # the cell below's δh from above: weight_ih.T Di
            _to_below(kind, params, sizes, offs, D, c, top, lo, bufs)




@njit(error_model="numpy")
def _to_below(kind, params, sizes, offs, D, c, top, lo, bufs):
    """δh from above for the cell-directions of the cell below cell-direction c's (c its
    cell's first): weight_ih.T Di. Two directions: each direction's input gradients (into
    ``din``) go back to the times it read, both directions' summed in a fixed order."""
    delta, up, din = bufs[5], bufs[7], bufs[12]
    wih, u = offs[0], offs[4]
    G = GATES[kind]
    F = bufs[4].shape[0] - 1
    m, _, p, h = _cell(sizes, D, c)
    if D == 1:
        W_ih = params[wih[c]:wih[c] + G * h * p].reshape((G * h, p))
        Di, _ = _deltas(delta, u, c, F, G)
        below = _block(up, u, c - 1, F + 2, 1)
        for S in range(lo, top + 1):
            add_rows(below, S, W_ih, 0, Di, S, True)
        return
    fwd_in = din[:(F + 2) * p].reshape((F + 2, p))
    rev_in = din[(F + 2) * p:2 * (F + 2) * p].reshape((F + 2, p))
    for d in range(2):
        W_ih = params[wih[c + d]:wih[c + d] + G * h * p].reshape((G * h, p))
        Di, _ = _deltas(delta, u, c + d, F, G)
        for S in range(1, F + 1):
            add_rows(fwd_in if d == 0 else rev_in, S, W_ih, 0, Di, S, True)
    hb = sizes[m - 1]
    fwd, rev = _block(up, u, c - 2, F + 2, 1), _block(up, u, c - 1, F + 2, 1)
    for t in range(1, F + 1):
        for j in range(hb):
            fwd[t, j] = fwd_in[t, j] + rev_in[F + 1 - t, j]
            rev[F + 1 - t, j] = fwd_in[t, hb + j] + rev_in[F + 1 - t, hb + j]


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
def _terms(kind, sizes, offs, D, bufs, delta, dout, grad):
    """grad = the update terms of the deltas of steps 1..F, in the flat layout: per
    cell-direction Σ_S Di[S] x_S.T, Σ_S Dh[S] h_{S-1}.T, Σ_S Di[S], Σ_S Dh[S] (an Elman cell:
    its one bias Σ_S Di[S]); the readout's Σ_S dout[S] h^M_S.T, a block per top direction, and
    Σ_S dout[S] (the deltas of steps a truncated pass did not reach are zero; a constant start
    is the faster loop). The weights' terms are summed transposed, into ``tt`` (laid out as
    ``wt``), then copied over."""
    hs, ins, tt = bufs[0], bufs[11], bufs[10]
    wih, whh, bih, bhh, u, ro = offs[0], offs[1], offs[2], offs[3], offs[4], offs[5]
    G = GATES[kind]
    F = dout.shape[0] - 2
    M = sizes.shape[0] - 2
    for c in range(1, M * D + 1):
        _, _, p, h = _cell(sizes, D, c)
        below, H = _input_block(hs, ins, offs, D, c, F), _block(hs, u, c, F + 1, 1)
        Di, Dh = _deltas(delta, u, c, F, G)
        T = tt[wih[c]:wih[c] + G * h * (p + h)].reshape((p + h, G * h))
        for k in range(p):
            _add_steps(T, k, Di, below, k, 0)
        for k in range(h):
            _add_steps(T, p + k, Dh, H, k, -1)  # H[0] is the zero state: S = 1 adds nothing
        G_ih = grad[wih[c]:wih[c] + G * h * p].reshape((G * h, p))
        G_hh = grad[whh[c]:whh[c] + G * h * h].reshape((G * h, h))
        for j in range(G * h):
            for k in range(p):
                G_ih[j, k] = T[k, j]
            for k in range(h):
                G_hh[j, k] = T[p + k, j]
        two = kind < ELMAN  # biases
        gb_ih, gb_hh = grad[bih[c]:bih[c] + G * h], grad[bhh[c]:bhh[c] + G * h]
        for j in range(G * h):
            gb_ih[j] = 0.0
            if two:
                gb_hh[j] = 0.0
        for S in range(1, F + 1):
            for j in range(G * h):
                gb_ih[j] += Di[S, j]
                if two:
                    gb_hh[j] += Dh[S, j]
    hM = sizes[M]
    for d in range(D):
        add_outer(grad[ro + d * hM:ro + (d + 1) * hM].reshape((1, hM)), 0,
                  dout.reshape((F + 2, 1)), _block(hs, u, (M - 1) * D + d + 1, F + 1, 1), 0)
    total = 0.0
    for S in range(1, F + 1):
        total += dout[S]
    grad[ro + D * hM] = total


@njit(error_model="numpy")
def _series_terms(kind, params, sizes, offs, D, y, clip, bptt, readout, bufs, summed, grad):
    """grad = the update terms of one series after :func:`_forward`, for targets y of its
    last y.shape[0] steps, BPTT truncated to ``bptt`` steps (0: every step)."""
    yhat, delta, dout = bufs[4], bufs[5], bufs[6]
    sum_delta, sum_out = summed
    u = offs[4]
    G = GATES[kind]
    F = yhat.shape[0] - 1
    C = (sizes.shape[0] - 2) * D
    first = F - y.shape[0] + 1
    if y.shape[0] == 1 or bptt == 0 or bptt >= F:  # one pass carries every error
        lo = max(1, F - bptt + 1) if bptt > 0 else 1
        _backward(kind, params, sizes, offs, D, y, F, lo, first, clip, readout, bufs)
        for S in range(1, lo):  # the steps the pass does not reach: the sums run from step 1
            dout[S] = 0.0
            for c in range(1, C + 1):
                Di, Dh = _deltas(delta, u, c, F, G)
                for j in range(Di.shape[1]):
                    Di[S, j] = Dh[S, j] = 0.0
        _terms(kind, sizes, offs, D, bufs, delta, dout, grad)
        return
    sum_delta[:] = 0.0
    sum_out[:] = 0.0
    for t in range(first, F + 1):  # prediction t's error, back through steps t..t-bptt+1
        lo = max(1, t - bptt + 1)
        _backward(kind, params, sizes, offs, D, y, t, lo, t, clip, readout, bufs)
        sum_out[t] += dout[t]  # the other steps' readout deltas are zero in this pass
        for c in range(1, C + 1):
            Di, Dh = _deltas(delta, u, c, F, G)
            Si, Sh = _deltas(sum_delta, u, c, F, G)
            for S in range(lo, t + 1):
                for j in range(Di.shape[1]):
                    Si[S, j] += Di[S, j]
                    Sh[S, j] += Dh[S, j]
    _terms(kind, sizes, offs, D, bufs, sum_delta, sum_out, grad)


@njit
def _buffers(params, sizes, kind, D, F):
    """Offsets, the transposed weights and the buffers: per step and cell-direction hs, gt,
    rec, cell (:func:`_forward`), yhat; delta (Di and Dh, :func:`_backward`), dout, up (δh from
    above), back (δh from the next step), cback (LSTM's δc from the next step); tt, the
    transposed weight terms (:func:`_terms`); and, for two directions, ins (the gathered
    inputs) and din (their gradients, :func:`_to_below`)."""
    G = GATES[kind]
    offs = _offsets(sizes, kind, D)
    wt = np.zeros(params.shape[0])
    _transpose(params, sizes, G, D, offs[0], wt)
    units, inputs = offs[4][-1], offs[6][-1] if D == 2 else 0
    widest = 2 * sizes[:-2].max() if D == 2 else 0
    bufs = (np.zeros((F + 1) * units), np.zeros((F + 1) * G * units),
            np.zeros((F + 1) * G * units), np.zeros((F + 1) * 2 * units), np.zeros(F + 1),
            np.zeros((F + 2) * 2 * G * units), np.zeros(F + 2), np.zeros((F + 2) * units),
            np.zeros((F + 2) * units), np.zeros((F + 2) * units), np.zeros(params.shape[0]),
            np.zeros((F + 1) * inputs), np.zeros(2 * (F + 2) * widest))
    return offs, wt, bufs


@njit
def _net(kind, opts):
    """The cell type (an Elman cell's activation is an option) and the directions."""
    if kind == ELMAN and opts[ACTIVATION] == RELU:
        kind = ELMAN_RELU
    return kind, 2 if opts[BIDIRECTIONAL] else 1


@njit(error_model="numpy")
def train_epoch(kind, params, sizes, X, Y, order, decay, opts, moments, steps):
    """One epoch over inputs ``X[order]`` and targets ``Y[order]``, an update per batch through
    the shared step; returns (mean squared final-step error before each update, ok)."""
    kind, D = _net(kind, opts)
    F = X.shape[1]
    offs, wt, bufs = _buffers(params, sizes, kind, D, F)
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
        _forward(kind, params, wt, sizes, offs, D, X[order[r]], first, readout, bufs)
        err = y[y.shape[0] - 1] - yhat[F]
        if not np.isfinite(err):
            return np.nan, False
        sse += err * err
        _series_terms(kind, params, sizes, offs, D, y, clip, bptt, readout, bufs, summed, grad)
        count = take(params, grad, total, count, r == order.shape[0] - 1, mask, decay, opts,
                     moments, steps)
        if count == 0:
            _transpose(params, sizes, GATES[kind], D, offs[0], wt)
    return sse / order.shape[0], True


@njit(error_model="numpy")
def predict(kind, params, sizes, X, opts):
    """ŷ_F for each row of the inputs X (n, F)."""
    kind, D = _net(kind, opts)
    F = X.shape[1]
    readout = int(opts[READOUT])
    offs, wt, bufs = _buffers(params, sizes, kind, D, F)
    out = np.empty(X.shape[0])
    for r in range(X.shape[0]):
        _forward(kind, params, wt, sizes, offs, D, X[r], F, readout, bufs)
        out[r] = bufs[4][F]
    return out


@njit(error_model="numpy")
def terms(kind, params, sizes, x, y, opts):
    """One series' update terms (-dL/dθ), in the flat layout."""
    kind, D = _net(kind, opts)
    F = x.shape[0]
    clip, bptt, readout = opts[CLIP], int(opts[BPTT]), int(opts[READOUT])
    offs, wt, bufs = _buffers(params, sizes, kind, D, F)
    grad = np.zeros(params.shape[0])
    _forward(kind, params, wt, sizes, offs, D, x, F - y.shape[0] + 1, readout, bufs)
    _series_terms(kind, params, sizes, offs, D, y, clip, bptt, readout, bufs,
                  (np.zeros(bufs[5].shape[0]), np.zeros(F + 2)), grad)
    return grad
