"""Plain numpy transcriptions of the course's algorithms: the oracles the kernels must equal.

Written as the course writes them (column vectors, one matrix per layer, Python loops over
series and steps), not for speed. ``*_to_matrices`` / ``*_from_matrices`` map rnnbatch's flat
parameter vector to and from these matrices.

A series comes as its inputs ``x`` and its ``targets`` (K values) apart. For the rnn, x has
one value a step (S = 1..F) and target k (0-based) is predicted by the output after step
t = F - K + 1 + k: K = 1 is the course (one prediction, after step F), K = F predicts after
every step. The dense net reads all of x at once and has K = 1.

The course's "update terms" (b += lr sum D, w += lr sum D a.T) are the *ascent* direction:
they equal -dL/dθ for L = ½ Σ_t e_t², e_t = target_t - prediction_t. ``*_gradient`` returns
them as a flat vector in the parameters' layout; ``step`` turns a batch of them into an
update by one of the optimizers; ``train`` runs an epoch.
"""

import numpy as np

from rnnbatch.models import dense, rnn


def A(x):
    return np.tanh(x)


def A_prime_from_a(a):
    # 1 / cosh(dot)^2 == 1 - tanh(dot)^2; the kernels use the same form
    return 1.0 - a * a


def relu(x):
    return np.maximum(x, 0.0)


def relu_prime_from_a(a):
    return (a > 0.0).astype(float)


def _hidden(activation):
    """The hidden layers' activation and its derivative from the output (lecture 003's ReLU
    nets; the output layer stays tanh)."""
    return (A, A_prime_from_a) if activation == "tanh" else (relu, relu_prime_from_a)


def _clipper(clip):
    return (lambda d: np.clip(d, -clip, clip)) if clip > 0 else (lambda d: d)


def _split(flat, shapes):
    mats, pos = [], 0
    for rows, cols in shapes:
        mats.append(flat[pos:pos + rows * cols].reshape(rows, cols).copy())
        pos += rows * cols
        mats.append(flat[pos:pos + rows].reshape(rows, 1).copy())
        pos += rows
    return mats


# --- rnn ------------------------------------------------------------------------------------

def rnn_to_matrices(flat, layers):
    """Flat vector -> lists w1, ws, b (index L = 1..N; index 0 unused)."""
    mats = _split(flat, rnn.layer_shapes(layers))
    w1, ws, b = [None], [None], [None]
    for L, p in enumerate(layers[:-1], start=1):
        W, bias = mats[2 * (L - 1)], mats[2 * (L - 1) + 1]
        w1.append(W[:, :p])
        ws.append(W[:, p:])
        b.append(bias)
    return w1, ws, b


def rnn_from_matrices(w1, ws, b):
    return np.concatenate([np.concatenate([np.hstack([w1[L], ws[L]]).ravel(), b[L].ravel()])
                           for L in range(1, len(w1))])


def _rnn_forward(w1, ws, b, layers, x, a=None, first=1, activation="tanh"):
    """a^{L,S} for S = first..len(x), continuing the states ``a`` (default: a^{L,0} = 0)::

        a^{0,S} = x[S-1],   a^{L,S} = f_L(w1^L a^{L-1,S} + ws^L a^{L,S-1} + b^L)

    f_N = tanh; f_L = ``activation`` below it.
    """
    N = len(layers) - 1
    f = _hidden(activation)[0]
    if a is None:
        a = {(L, 0): np.zeros((layers[L], 1)) for L in range(N + 1)}
    for S in range(first, len(x) + 1):
        a[0, S] = np.array([[x[S - 1]]])
        for L in range(1, N + 1):
            a[L, S] = (A if L == N else f)(w1[L] @ a[L - 1, S] + ws[L] @ a[L, S - 1] + b[L])
    return a


def _prediction_steps(F, K):
    """The step t whose output a^{N,t} predicts target k, for k = 0..K-1."""
    return [F - K + 1 + k for k in range(K)]


def _rnn_backward(w1, ws, a, errors, top, bottom, clip, activation="tanh"):
    """Deltas D^{L,S} for S = top down to bottom, started from D^{·,top+1} = 0::

        D^{N,S} = A'(a^{N,S}) * (ws^N.T D^{N,S+1} + e_S)                  (e_S if S has one)
        D^{L,S} = A'(a^{L,S}) * (ws^L.T D^{L,S+1} + w1^{L+1}.T D^{L+1,S})   L = N-1 .. 1

    each clipped to [-clip, clip] as it is computed (clip > 0), before it propagates.
    ``errors`` maps a step to its error e_S (a 1 x 1 column).
    """
    N = len(w1) - 1
    clipf = _clipper(clip)
    f_prime = _hidden(activation)[1]
    D = {(L, top + 1): np.zeros_like(a[L, top]) for L in range(1, N + 1)}
    for S in range(top, bottom - 1, -1):
        back = ws[N].T @ D[N, S + 1]
        if S in errors:
            back = back + errors[S]
        D[N, S] = clipf(A_prime_from_a(a[N, S]) * back)
        for L in range(N - 1, 0, -1):
            D[L, S] = clipf(f_prime(a[L, S])
                            * (ws[L].T @ D[L, S + 1] + w1[L + 1].T @ D[L + 1, S]))
    return D


def rnn_gradient(flat, layers, x, targets, clip=0.0, bptt=0, activation="tanh"):
    """The course's update terms (ascent, -dL/dθ when clip = 0) of one series, as a flat vector.

    bptt = 0 (or >= F, which truncates nothing): one backward recursion over S = F..1 that
    takes every prediction's error in at its step (the course). bptt = k > 0 (truncated BPTT): one recursion per prediction t,
    started with e_t alone at D^{N,t} and run over S = t..max(1, t-k+1) only (k = 1: no
    backprop through time); the passes' terms are summed. From the deltas of a pass::

        b^L: Σ_S D^{L,S},   w1^L: Σ_S D^{L,S} a^{L-1,S}.T,   ws^L: Σ_{S>=2} D^{L,S} a^{L,S-1}.T
    """
    w1, ws, b = rnn_to_matrices(flat, layers)
    N, F = len(layers) - 1, len(x)
    a = _rnn_forward(w1, ws, b, layers, x, activation=activation)
    errors = {t: np.array([[y]]) - a[N, t]
              for t, y in zip(_prediction_steps(F, len(targets)), targets)}
    if bptt == 0 or bptt >= F:  # no truncation: the course's one recursion
        windows = [(F, 1, errors)]
    else:
        windows = [(t, max(1, t - bptt + 1), {t: e}) for t, e in errors.items()]
    gw1 = [None] + [np.zeros_like(w1[L]) for L in range(1, N + 1)]
    gws = [None] + [np.zeros_like(ws[L]) for L in range(1, N + 1)]
    gb = [None] + [np.zeros_like(b[L]) for L in range(1, N + 1)]
    for top, bottom, errs in windows:
        D = _rnn_backward(w1, ws, a, errs, top, bottom, clip, activation)
        for L in range(1, N + 1):
            gb[L] = gb[L] + sum(D[L, S] for S in range(bottom, top + 1))
            gw1[L] = gw1[L] + sum(D[L, S] @ a[L - 1, S].T for S in range(bottom, top + 1))
            gws[L] = gws[L] + sum(D[L, S] @ a[L, S - 1].T for S in range(max(2, bottom), top + 1))
    return rnn_from_matrices(gw1, gws, gb)


def rnn_loss(flat, layers, x, targets, bptt=0, frozen=None, activation="tanh"):
    """½ Σ_t (target_t - a^{N,t})².

    With bptt = k > 0 and ``frozen`` params, prediction t reads the states a^{L,t-k} that
    ``frozen`` gives (constants) and runs steps t-k+1..t with ``flat``: the loss whose
    derivative in ``flat`` (at flat = frozen) truncated BPTT computes.
    """
    N, F = len(layers) - 1, len(x)
    mats = rnn_to_matrices(flat, layers)
    frozen_mats = mats if bptt == 0 or frozen is None else rnn_to_matrices(frozen, layers)
    loss = 0.0
    for t, y in zip(_prediction_steps(F, len(targets)), targets):
        cut = max(0, t - bptt) if bptt > 0 else 0  # steps 1..cut run with frozen params
        a = _rnn_forward(*frozen_mats, layers, x[:cut], activation=activation)
        a = _rnn_forward(*mats, layers, x[:t], a, first=cut + 1, activation=activation)
        loss += 0.5 * (y - a[N, t][0, 0]) ** 2
    return loss


def rnn_predict(flat, layers, X, activation="tanh"):
    """a^{N,F} for each row of X (n, F), the series' inputs."""
    w1, ws, b = rnn_to_matrices(flat, layers)
    N = len(layers) - 1
    return np.array([_rnn_forward(w1, ws, b, layers, x, activation=activation)[N, len(x)][0, 0]
                     for x in X])


# --- jordan ---------------------------------------------------------------------------------

def jordan_to_matrices(flat, layers):
    """Flat vector -> w1 (h, 1), wj (h, 1), b1 (h, 1), w2 (1, h), b2 (1, 1)."""
    h = layers[1]
    W = flat[:2 * h].reshape(h, 2)
    return (W[:, :1].copy(), W[:, 1:].copy(), flat[2 * h:3 * h].reshape(h, 1).copy(),
            flat[3 * h:4 * h].reshape(1, h).copy(), flat[4 * h:].reshape(1, 1).copy())


def _jordan_forward(mats, x, state=None, first=1):
    """a_S = tanh(w1 x_S + wj y_{S-1} + b1), y_S = tanh(w2 a_S + b2) for S = first..len(x),
    continuing ``state`` = (a, y) dicts (default: y_0 = 0)."""
    w1, wj, b1, w2, b2 = mats
    a, y = state if state is not None else ({}, {0: np.zeros((1, 1))})
    for S in range(first, len(x) + 1):
        a[S] = A(w1 * x[S - 1] + wj @ y[S - 1] + b1)
        y[S] = A(w2 @ a[S] + b2)
    return a, y


def jordan_gradient(flat, layers, x, targets, clip=0.0, bptt=0):
    """Update terms (ascent) of one series: the windows of rnn_gradient, with

        Dy_S = A'(y_S) (e_S + wj.T Da_{S+1}),   Da_S = A'(a_S) * (w2.T Dy_S)
    """
    w1, wj, b1, w2, b2 = mats = jordan_to_matrices(flat, layers)
    F = len(x)
    a, y = _jordan_forward(mats, x)
    clipf = _clipper(clip)
    errors = {t: np.array([[target]]) - y[t]
              for t, target in zip(_prediction_steps(F, len(targets)), targets)}
    if bptt == 0 or bptt >= F:
        windows = [(F, 1, errors)]
    else:
        windows = [(t, max(1, t - bptt + 1), {t: e}) for t, e in errors.items()]
    g = [np.zeros_like(m) for m in mats]
    for top, bottom, errs in windows:
        Da = {top + 1: np.zeros_like(b1)}
        for S in range(top, bottom - 1, -1):
            back = wj.T @ Da[S + 1] + errs.get(S, 0.0)
            Dy = clipf(A_prime_from_a(y[S]) * back)
            Da[S] = clipf(A_prime_from_a(a[S]) * (w2.T @ Dy))
            g[0] += Da[S] * x[S - 1]
            g[1] += Da[S] @ y[S - 1]
            g[2] += Da[S]
            g[3] += Dy @ a[S].T
            g[4] += Dy
    return np.concatenate([np.hstack([g[0], g[1]]).ravel(), g[2].ravel(), g[3].ravel(), g[4].ravel()])


def jordan_loss(flat, layers, x, targets, bptt=0, frozen=None):
    """½ Σ_t (target_t - y_t)², steps up to t - bptt read from ``frozen`` (see rnn_loss)."""
    mats = jordan_to_matrices(flat, layers)
    frozen_mats = mats if bptt == 0 or frozen is None else jordan_to_matrices(frozen, layers)
    loss = 0.0
    for t, target in zip(_prediction_steps(len(x), len(targets)), targets):
        cut = max(0, t - bptt) if bptt > 0 else 0
        state = _jordan_forward(frozen_mats, x[:cut])
        y = _jordan_forward(mats, x[:t], state, first=cut + 1)[1]
        loss += 0.5 * (target - y[t][0, 0]) ** 2
    return loss


def jordan_predict(flat, layers, X):
    mats = jordan_to_matrices(flat, layers)
    return np.array([_jordan_forward(mats, x)[1][len(x)][0, 0] for x in X])


# --- dense ----------------------------------------------------------------------------------

def dense_to_matrices(flat, layers):
    """Flat vector -> lists W, b (index L = 1..N; index 0 unused)."""
    mats = _split(flat, dense.layer_shapes(layers))
    return [None] + mats[0::2], [None] + mats[1::2]


def dense_from_matrices(W, b):
    return np.concatenate([np.concatenate([W[L].ravel(), b[L].ravel()]) for L in range(1, len(W))])


def _dense_forward(W, b, x):
    """a^0 = x, a^L = tanh(W^L a^{L-1} + b^L)."""
    a = [np.asarray(x, dtype=float).reshape(-1, 1)]
    for L in range(1, len(W)):
        a.append(A(W[L] @ a[L - 1] + b[L]))
    return a


def dense_gradient(flat, layers, x, targets, clip=0.0):
    """The course's update terms (ascent) of one series::

        D^N = A' * (y - a^N),   D^L = A' * W^{L+1}.T D^{L+1},   W^L: D^L a^{L-1}.T,   b^L: D^L
    """
    W, b = dense_to_matrices(flat, layers)
    N = len(W) - 1
    clipf = _clipper(clip)
    a = _dense_forward(W, b, x)
    D = [None] * (N + 1)
    D[N] = clipf(A_prime_from_a(a[N]) * (np.array([[targets[0]]]) - a[N]))
    for L in range(N - 1, 0, -1):
        D[L] = clipf(A_prime_from_a(a[L]) * (W[L + 1].T @ D[L + 1]))
    return dense_from_matrices([None] + [D[L] @ a[L - 1].T for L in range(1, N + 1)],
                               [None] + D[1:])


def dense_loss(flat, layers, x, targets):
    """½ (y - a^N)²."""
    W, b = dense_to_matrices(flat, layers)
    return 0.5 * (targets[0] - _dense_forward(W, b, x)[-1][0, 0]) ** 2


def dense_predict(flat, layers, X):
    """a^N for each row of X (n, n_in), the series' inputs."""
    W, b = dense_to_matrices(flat, layers)
    return np.array([_dense_forward(W, b, x)[-1][0, 0] for x in X])


# --- optimizers and the epoch ---------------------------------------------------------------

def decay_mask(model, layers):
    """1.0 at the weights (rnn w1, ws; dense W; jordan w1, wj, w2), 0.0 at the biases, in the
    flat layout."""
    if model == "jordan":
        h = layers[1]
        return np.concatenate([np.ones(2 * h), np.zeros(h), np.ones(h), np.zeros(1)])
    family = {"rnn": rnn, "dense": dense}[model]
    return np.concatenate([np.concatenate([np.ones(rows * cols), np.zeros(rows)])
                           for rows, cols in family.layer_shapes(layers)])


class Optimizer:
    """What persists across steps (and epochs): momentum buffer b, Adam's moments m and v,
    and t, the number of steps taken."""

    def __init__(self, n):
        self.b = np.zeros(n)
        self.m = np.zeros(n)
        self.v = np.zeros(n)
        self.t = 0


def step(params, grad_sum, count, decay, state, *, lr, clip_norm=0.0, l1=0.0, l2=0.0,
         optimizer="sgd"):
    """One update of ``params`` (in place) from ``grad_sum``, the ascent terms of ``count`` series.

    g = grad_sum / count, rescaled to norm clip_norm if longer (all params); the descent
    gradient d = -g + decay * (l2 θ + l1 sign θ) (penalties on weights only); then, as
    torch.optim defines them (t = steps so far, this one included):

        sgd       θ -= lr d
        momentum  b = 0.9 b + d;  θ -= lr b                          (SGD, momentum=0.9)
        adam      m = 0.9 m + 0.1 d;  v = 0.999 v + 0.001 d²;
                  θ -= lr / (1 - 0.9^t) * m / (sqrt(v) / sqrt(1 - 0.999^t) + 1e-8)
    """
    g = grad_sum / count
    norm = np.sqrt(np.sum(g * g))
    if clip_norm > 0 and norm > clip_norm:
        g = g * (clip_norm / norm)
    d = -g + decay * (l2 * params + l1 * np.sign(params))
    state.t += 1
    if optimizer == "sgd":
        params -= lr * d
    elif optimizer == "momentum":
        state.b = 0.9 * state.b + d
        params -= lr * state.b
    elif optimizer == "adam":
        state.m = 0.9 * state.m + 0.1 * d
        state.v = 0.999 * state.v + 0.001 * d * d
        bias1, bias2 = 1 - 0.9 ** state.t, 1 - 0.999 ** state.t
        params -= (lr / bias1) * (state.m / (np.sqrt(state.v) / np.sqrt(bias2) + 1e-8))
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")


def train_with(gradient, decay, flat, X, Y, order, *, lr, batch=1, clip_norm=0.0, l1=0.0, l2=0.0,
               optimizer="sgd", state=None):
    """One epoch of any model -> (new flat vector, optimizer state).

    The series X[i] (inputs), Y[i] (targets) are taken in ``order``, ``batch`` at a time (the
    last group may be smaller); each group's terms ``gradient(params, x, targets)`` are
    computed with the params at the group's start and summed into one ``step``; ``decay``
    marks the weights.
    """
    params = np.array(flat, dtype=float)
    state = Optimizer(len(params)) if state is None else state
    for start in range(0, len(order), batch):
        group = order[start:start + batch]
        grads = [gradient(params, X[i], Y[i]) for i in group]
        step(params, sum(grads), len(group), decay, state, lr=lr, clip_norm=clip_norm,
             l1=l1, l2=l2, optimizer=optimizer)
    return params, state


def train(model, flat, layers, X, Y, order, *, clip=0.0, bptt=0, activation="tanh", **update):
    """One epoch of an rnn, jordan or dense net (:func:`train_with`); ``bptt`` and
    ``activation`` apply to the rnn only (``bptt`` to the jordan net too)."""
    if model == "rnn":
        def gradient(params, x, y):
            return rnn_gradient(params, layers, x, y, clip, bptt, activation)
    elif model == "jordan":
        def gradient(params, x, y):
            return jordan_gradient(params, layers, x, y, clip, bptt)
    else:
        def gradient(params, x, y):
            return dense_gradient(params, layers, x, y, clip)
    return train_with(gradient, decay_mask(model, layers), flat, X, Y, order, **update)


def rnn_train(flat, layers, X, Y, lr, clip=0.0):
    """The course's epoch (file 000): plain SGD, one update per series, in order."""
    return train("rnn", flat, layers, X, Y, np.arange(len(X)), lr=lr, clip=clip)[0]


def dense_train(flat, layers, X, Y, lr, clip=0.0):
    """The course's perceptron epoch: plain SGD, one update per series, in order."""
    return train("dense", flat, layers, X, Y, np.arange(len(X)), lr=lr, clip=clip)[0]
