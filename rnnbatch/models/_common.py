"""What the model families share: the flat parameter vector, its initialisation, ``tanh`` and
``sigmoid``.

``tanh`` is the activation of every kernel. libm's ``tanh`` is an opaque call (about 30 ns,
and it stops LLVM from vectorising a layer's loop), so the kernels use their own, built from
plain arithmetic that vectorises across a layer::

    tanh(x) = sign(x) e / (e + 2),   e = expm1(2|x|) = 2^k q + (2^k - 1),   q = expm1(r)
    k = round(2|x| / ln 2),  r = 2|x| - k ln 2  (|r| <= ln2 / 2, ln 2 split in two parts)

with q the degree-13 Taylor polynomial of expm1 (truncation < 5e-18 relative), evaluated in
Estrin form to keep its latency short, and 2^k built exactly from k's bits. Against np.tanh
it is within 5 ulp (absolute error <= 2.3e-16) on 2.2 million points over [-400, 400]; the
kernels equal the libm-based oracle to 1e-12 after hundreds of updates. |x| >= 20 gives +-1
(tanh(20) rounds to 1), NaN stays NaN. The same IEEE operations run in a vector lane or a
scalar remainder, so a value does not depend on where in a layer it falls. ``sigmoid`` (the
gated families' gates) is built on the same expm1.

Kernels calling ``tanh`` use ``error_model="numpy"``: Python's error model checks the division
for zero, and that branch stops LLVM from vectorising. No kernel uses fastmath flags.
"""

import numpy as np

from ._jit import njit

NARROW = 8  # rows shorter than this take the scalar paths (too short to vectorise)


def init_radius(p: int, n: int) -> float:
    """Course file 000: r = sqrt(3 / temp), a recurrent layer's inputs counting itself:
    temp = (p + 2n) / 2."""
    return float(np.sqrt(3.0 / ((p + 2 * n) / 2.0)))


def init_uniform(shapes, radii, rng: np.random.Generator) -> np.ndarray:
    """Per layer, in layout order, the weights then the bias, uniform in [-r, r).

    ``radii`` gives each layer's r (the course's scaled init); ``None`` means r = 1 (``uniform``).
    """
    parts = []
    for k, (rows, cols) in enumerate(shapes):
        r = 1.0 if radii is None else radii[k]
        parts.append(rng.uniform(-r, r, rows * cols))
        parts.append(rng.uniform(-r, r, rows))
    return np.concatenate(parts)


def layered_names(columns):
    """A layered family's ``named``, ``flat`` and ``is_weight`` (the module interface) from its
    ``columns(p, n)``: layer L's block as ``<name>_L`` arrays, then its bias ``b_L``."""
    return (lambda params, layers: named_arrays(params, layers, columns),
            lambda arrays, layers: flat_params(arrays, layers, columns),
            lambda name: not name.startswith("b_"))


def named_arrays(params: np.ndarray, layers, columns) -> dict[str, np.ndarray]:
    """The flat vector as named arrays: per layer L its (n, cols) block split by columns into
    ``columns(p, n)``'s [(name, width), ...] as ``<name>_L``, then its bias ``b_L`` (n,)."""
    arrays, pos = {}, 0
    for L, (p, n) in enumerate(zip(layers[:-1], layers[1:]), start=1):
        parts = columns(p, n)
        cols = sum(width for _, width in parts)
        block = params[pos:pos + n * cols].reshape(n, cols)
        start = 0
        for name, width in parts:
            arrays[f"{name}_{L}"] = block[:, start:start + width].copy()
            start += width
        pos += n * cols
        arrays[f"b_{L}"] = params[pos:pos + n].copy()
        pos += n
    return arrays


def flat_params(arrays: dict, layers, columns) -> np.ndarray:
    """The inverse of :func:`named_arrays`."""
    parts = []
    for L, (p, n) in enumerate(zip(layers[:-1], layers[1:]), start=1):
        block = np.hstack([np.asarray(arrays[f"{name}_{L}"], dtype=np.float64).reshape(n, width)
                           for name, width in columns(p, n)])
        parts += [block.ravel(), np.asarray(arrays[f"b_{L}"], dtype=np.float64).reshape(n)]
    return np.concatenate(parts)


_LN2_HI = 6.93147180369123816490e-01  # ln 2 with its low 32 bits zero, so k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_C = 1.0 / np.cumprod(np.arange(1.0, 14.0))  # 1/1!, ..., 1/13!
C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = (float(c) for c in _C)


@njit(forceinline=True, error_model="numpy")
def _expm1(y):
    """expm1(y) for 0 <= y <= 40 (or NaN), by the scheme of the module docstring."""
    kf = np.floor(y * _INV_LN2 + 0.5)
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    # q = sum_{m=1..13} r^m / m!  (Estrin: pairs, then quads, then the r^8 half)
    q = (((C1 + C2 * r) + (C3 + C4 * r) * r2) + ((C5 + C6 * r) + (C7 + C8 * r) * r2) * r4
         + (((C9 + C10 * r) + (C11 + C12 * r) * r2) + C13 * r4) * r8) * r
    # 2^k exactly, 0 <= k <= 58, as a product over k's binary digits (independent selects)
    k = int(kf)
    s = (((2.0 if k & 1 else 1.0) * (4.0 if k & 2 else 1.0))
         * ((16.0 if k & 4 else 1.0) * (256.0 if k & 8 else 1.0))
         * ((65536.0 if k & 16 else 1.0) * (4294967296.0 if k & 32 else 1.0)))
    return s * q + (s - 1.0)


@njit(forceinline=True, error_model="numpy")
def tanh(x):
    y = 2.0 * abs(x)
    if y > 40.0:  # NaN > 40 is False: NaN flows through r and q below
        y = 40.0
    e = _expm1(y)
    t = e / (e + 2.0)
    return t if x >= 0.0 else -t


@njit(forceinline=True, error_model="numpy")
def sigmoid(x):
    """The logistic 1 / (1 + exp(-x)) as (e + 1) / (e + 2) for x >= 0 and 1 / (e + 2) below,
    e = expm1(|x|): no cancellation on either side, the same vectorisable arithmetic as
    :func:`tanh`. |x| is capped at 40 (sigmoid(-40) = 4.2e-18: below it the result is off by
    less than that, absolutely)."""
    y = abs(x)
    if y > 40.0:
        y = 40.0
    e = _expm1(y)
    return (e + 1.0 if x >= 0.0 else 1.0) / (e + 2.0)


@njit(forceinline=True)
def activate(v, relu):
    """A hidden unit's activation: tanh, or max(v, 0) with ``relu`` (lecture 003)."""
    if relu:
        return v if v > 0.0 else 0.0
    return tanh(v)


@njit(forceinline=True)
def slope(a, relu):
    """The activation's derivative from its output a: 1 - a² (tanh: the course's 1/cosh² of
    the dot), or [a > 0] (ReLU)."""
    if relu:
        return 1.0 if a > 0.0 else 0.0
    return 1.0 - a * a


@njit(forceinline=True)
def clipped(value, clip):
    """The course's delta clipping: ``value`` limited to [-clip, clip] when clip > 0."""
    if clip > 0.0:  # selects, not branches: they vectorise (and NaN passes through)
        value = clip if value > clip else value
        value = -clip if value < -clip else value
    return value


@njit(forceinline=True)
def dot(x, y):
    """sum_j x[j] y[j] as ((s0 + s1) + (s2 + s3)) + tail, s_m summing the terms j = m (mod 4):
    four independent dependency chains instead of one, in an order fixed whatever the SIMD width."""
    s0 = s1 = s2 = s3 = 0.0
    m = x.shape[0] - x.shape[0] % 4
    for j in range(0, m, 4):
        s0 += x[j] * y[j]
        s1 += x[j + 1] * y[j + 1]
        s2 += x[j + 2] * y[j + 2]
        s3 += x[j + 3] * y[j + 3]
    s = (s0 + s1) + (s2 + s3)
    for j in range(m, x.shape[0]):
        s += x[j] * y[j]
    return s


@njit(forceinline=True)
def add_rows(Y, s, M, m0, Z, z, fresh):
    """Y[s, :] (+)= sum_k Z[z, k] M[m0 + k, :], rows of M taken four at a time; with ``fresh``
    the first group sets the row of Y instead of adding to it.

    Each group adds (z0 M0 + z1 M1) + (z2 M2 + z3 M3) to the row of Y: the chain of dependent
    additions through Y, which lives in memory and is what bounds a matrix-vector product this
    small, is one per four rows instead of one per row. The inner loop runs along contiguous
    rows (LLVM vectorises it); the order of the sums is fixed whatever the SIMD width.
    """
    n = Y.shape[1]
    K = Z.shape[1]
    k = 0
    while k + 4 <= K:
        z0, z1, z2, z3 = Z[z, k], Z[z, k + 1], Z[z, k + 2], Z[z, k + 3]
        r = m0 + k
        first = fresh and k == 0
        for i in range(n):
            t = (z0 * M[r, i] + z1 * M[r + 1, i]) + (z2 * M[r + 2, i] + z3 * M[r + 3, i])
            Y[s, i] = t if first else Y[s, i] + t
        k += 4
    while k < K:
        zk = Z[z, k]
        r = m0 + k
        first = fresh and k == 0
        for i in range(n):
            Y[s, i] = zk * M[r, i] if first else Y[s, i] + zk * M[r, i]
        k += 1


@njit(forceinline=True)
def add_outer(G, i, D, Z, shift):
    """G[i, :] = sum_{S=1..F} D[S, i] Z[S + shift, :] (D is (F + 2, n)), steps four at a time.

    The grouping is :func:`add_rows`'s, for the same reason: one dependent addition into the
    row of G per four steps. Rows shorter than NARROW are summed step by step in registers.
    The sums start at step 1, a constant: from a run-time start they measured 7 % slower.
    """
    last = D.shape[0] - 2
    if G.shape[1] < NARROW:  # short rows: scalar sums over the steps, in registers
        for j in range(G.shape[1]):
            total = 0.0
            for S in range(1, last + 1):
                total += D[S, i] * Z[S + shift, j]
            G[i, j] = total
        return
    for j in range(G.shape[1]):
        G[i, j] = 0.0
    S = 1
    while S + 3 <= last:
        d0, d1, d2, d3 = D[S, i], D[S + 1, i], D[S + 2, i], D[S + 3, i]
        r = S + shift
        for j in range(G.shape[1]):
            G[i, j] += (d0 * Z[r, j] + d1 * Z[r + 1, j]) + (d2 * Z[r + 2, j] + d3 * Z[r + 3, j])
        S += 4
    while S <= last:
        d, r = D[S, i], S + shift
        for j in range(G.shape[1]):
            G[i, j] += d * Z[r, j]
        S += 1


@njit
def layer_offsets(sizes, recurrent):
    """Start of layer L's weight block and bias in the flat vector, and of its units among all
    layers' units. A layer's block is (n, p) for a dense layer, (n, p + n) for a recurrent one."""
    n_layers = sizes.shape[0]
    w_off = np.zeros(n_layers, np.int64)
    b_off = np.zeros(n_layers, np.int64)
    u_off = np.zeros(n_layers + 1, np.int64)
    pos = 0
    for L in range(1, n_layers):
        p, n = sizes[L - 1], sizes[L]
        w_off[L] = pos
        pos += n * (p + n) if recurrent else n * p
        b_off[L] = pos
        pos += n
    for L in range(n_layers):
        u_off[L + 1] = u_off[L] + sizes[L]
    return w_off, b_off, u_off
