"""Plain numpy transcriptions of the course's algorithms: the oracles the kernels must equal.

Written as the course writes them (column vectors, one matrix per layer, Python loops over
series and steps), not for speed. ``to_matrices`` / ``from_matrices`` map rnnbatch's flat
parameter vector to and from these matrices.
"""

import numpy as np

from rnnbatch.models import dense, rnn


def A(x):
    return np.tanh(x)


def A_prime_from_a(a):
    # 1 / cosh(dot)^2 == 1 - tanh(dot)^2; the kernels use the same form
    return 1.0 - a * a


def _split(flat, shapes):
    mats, pos = [], 0
    for rows, cols in shapes:
        mats.append(flat[pos:pos + rows * cols].reshape(rows, cols).copy())
        pos += rows * cols
        mats.append(flat[pos:pos + rows].reshape(rows, 1).copy())
        pos += rows
    return mats


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


def rnn_train(flat, layers, X, lr, clip=0.0):
    """Course file 000, line by line, over the series of X in order; returns the new flat vector."""
    w1, ws, b = rnn_to_matrices(flat, layers)
    N = len(layers) - 1
    clipf = (lambda d: np.clip(d, -clip, clip)) if clip > 0 else (lambda d: d)
    for series in X:
        x_sequence, y = series[:-1], series[-1]
        F = len(x_sequence)
        a = {(L, 0): np.zeros((layers[L], 1)) for L in range(N + 1)}
        for S in range(1, F + 1):
            a[0, S] = np.array([[x_sequence[S - 1]]])
            for L in range(1, N + 1):
                dot = w1[L] @ a[L - 1, S] + ws[L] @ a[L, S - 1] + b[L]
                a[L, S] = A(dot)
        D = {}
        D[N, F] = clipf(A_prime_from_a(a[N, F]) * (y - a[N, F]))
        for S in range(F - 1, 0, -1):
            D[N, S] = clipf(A_prime_from_a(a[N, S]) * (ws[N].T @ D[N, S + 1]))
        for L in range(N - 1, 0, -1):
            D[L, F] = clipf(A_prime_from_a(a[L, F]) * (w1[L + 1].T @ D[L + 1, F]))
        for S in range(F - 1, 0, -1):
            for L in range(N - 1, 0, -1):
                D[L, S] = clipf(A_prime_from_a(a[L, S]) * (ws[L].T @ D[L, S + 1])
                                + A_prime_from_a(a[L, S]) * (w1[L + 1].T @ D[L + 1, S]))
        for L in range(1, N + 1):
            b[L] = b[L] + lr * sum(D[L, S] for S in range(1, F + 1))
            w1[L] = w1[L] + lr * sum(D[L, S] @ a[L - 1, S].T for S in range(1, F + 1))
            ws[L] = ws[L] + lr * sum(D[L, S] @ a[L, S - 1].T for S in range(2, F + 1))
    return rnn_from_matrices(w1, ws, b)


def rnn_predict(flat, layers, X):
    w1, ws, b = rnn_to_matrices(flat, layers)
    out = []
    for series in X:
        h = [np.zeros((n, 1)) for n in layers]
        for value in series[:-1]:
            h[0] = np.array([[value]])
            for L in range(1, len(layers)):
                h[L] = A(w1[L] @ h[L - 1] + ws[L] @ h[L] + b[L])
        out.append(h[-1][0, 0])
    return np.array(out)


def rnn_loss(flat, layers, series):
    return 0.5 * (series[-1] - rnn_predict(flat, layers, series[None, :])[0]) ** 2


def dense_train(flat, layers, X, lr, clip=0.0):
    """The course's back propagation for a tanh DNN, one update per series."""
    mats = _split(flat, dense.layer_shapes(layers))
    W, b = mats[0::2], mats[1::2]
    clipf = (lambda d: np.clip(d, -clip, clip)) if clip > 0 else (lambda d: d)
    for series in X:
        a = [series[:-1].reshape(-1, 1)]
        for L in range(len(W)):
            a.append(A(W[L] @ a[L] + b[L]))
        y = np.array([[series[-1]]])
        D = [None] * len(W)
        D[-1] = clipf(A_prime_from_a(a[-1]) * (y - a[-1]))
        for L in range(len(W) - 2, -1, -1):
            D[L] = clipf(A_prime_from_a(a[L + 1]) * (W[L + 1].T @ D[L + 1]))
        for L in range(len(W)):
            b[L] = b[L] + lr * D[L]
            W[L] = W[L] + lr * D[L] @ a[L].T
    return np.concatenate([np.concatenate([w.ravel(), bias.ravel()]) for w, bias in zip(W, b)])


def dense_predict(flat, layers, X):
    mats = _split(flat, dense.layer_shapes(layers))
    a = X[:, :-1].T
    for W, b in zip(mats[0::2], mats[1::2]):
        a = A(W @ a + b)
    return a[0]


def dense_loss(flat, layers, series):
    return 0.5 * (series[-1] - dense_predict(flat, layers, series[None, :])[0]) ** 2
