"""The one update step every family's epoch kernel takes (after nanoGPT's split: a family says
which parameters are weights, this step clips and steps).

A kernel sums the course's update terms g = -dL/dθ (L = ½ Σ err²) over a batch of ``count``
series, then calls :func:`step`, which applies in this order:

1. the batch mean, g / count;
2. gradient-norm clipping (lectures 002, 003): when ||g||₂ > clip_norm, g ← g clip_norm / ||g||,
   the norm taken over every parameter;
3. L1/L2 on weights only, never biases (lecture 004): the descent direction is
   d = -g + decay (l2 θ + l1 sign θ), ``decay`` being 1 at weights and 0 elsewhere;
4. the optimizer, as PyTorch defines it (t counts the steps taken, this one included):

   * sgd:      θ ← θ - lr d                  (with l2: θ(1 - lr l2) + lr g, weight decay)
   * momentum: b ← 0.9 b + d,  θ ← θ - lr b  (torch.optim.SGD, momentum 0.9, no dampening)
   * adam:     m ← β₁ m + (1 - β₁) d,  v ← β₂ v + (1 - β₂) d²,
               θ ← θ - (lr / (1 - β₁ᵗ)) m / (√v / √(1 - β₂ᵗ) + ε),   β 0.9/0.999, ε 1e-8.

The course's per-series SGD (count 1, nothing else on) is θ ← θ + lr g, taken as that one
fused multiply per parameter, so its bits are the course path's. ``mask`` is 1 at the entries
of a kernel's layout that are parameters and 0 at padding (which then stays zero).

Every option is a value in one float vector (:data:`OPTIONS`, built by :func:`options`), so the
kernels compile once whatever the settings.
"""

import numpy as np

from ._jit import njit

OPTIMIZERS = ("sgd", "momentum", "adam")
SGD, MOMENTUM, ADAM = range(3)
MOMENTUM_COEF = 0.9
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8

ACTIVATIONS = ("tanh", "relu")  # of hidden units (index: the kernels' code)
TANH, RELU = range(2)
READOUTS = ("tanh", "linear")  # of the output unit

# the options vector's entries (ints and choices stored as exact floats)
OPTIONS = ("lr", "clip", "bptt", "batch", "clip_norm", "l1", "l2", "optimizer", "activation",
           "readout", "bidirectional")
(LR, CLIP, BPTT, BATCH, CLIP_NORM, L1, L2, OPTIMIZER, ACTIVATION, READOUT,
 BIDIRECTIONAL) = range(len(OPTIONS))


def options(lr: float, clip: float = 0.0, bptt: int = 0, batch: int = 1, clip_norm: float = 0.0,
            l1: float = 0.0, l2: float = 0.0, optimizer: str = "sgd", activation: str = "tanh",
            readout: str = "tanh", bidirectional: bool = False) -> np.ndarray:
    """The kernels' options vector: ``clip`` and ``bptt`` shape BPTT, ``activation``,
    ``readout`` and ``bidirectional`` the net, the rest the update."""
    return np.array([lr, clip, bptt, batch, clip_norm, l1, l2, OPTIMIZERS.index(optimizer),
                     ACTIVATIONS.index(activation), READOUTS.index(readout), bidirectional],
                    dtype=np.float64)


def new_state(n_params: int) -> tuple[np.ndarray, np.ndarray]:
    """The optimizer's state: its moments in the flat layout, rows b (or m) and v; the steps
    taken, t."""
    return np.zeros((2, n_params)), np.zeros(1)


@njit(forceinline=True)
def is_plain(opts):
    """The course's per-series SGD: nothing but lr."""
    return (opts[BATCH] == 1.0 and opts[CLIP_NORM] == 0.0 and opts[L1] == 0.0
            and opts[L2] == 0.0 and opts[OPTIMIZER] == SGD)


@njit(forceinline=True, error_model="numpy")
def step(params, grad, count, mask, decay, opts, moments, steps):
    """One update of ``params`` from ``grad``, the sum of ``count`` series' terms g (module
    docstring). ``moments`` (2, n) are laid out like params; ``grad`` is used as scratch."""
    lr = opts[LR]
    if count == 1 and is_plain(opts):
        for k in range(params.shape[0]):
            params[k] += lr * grad[k] * mask[k]
        return
    total = 0.0
    for k in range(params.shape[0]):
        grad[k] = grad[k] * mask[k] / count
        total += grad[k] * grad[k]
    norm = np.sqrt(total)
    if opts[CLIP_NORM] > 0.0 and norm > opts[CLIP_NORM]:
        scale = opts[CLIP_NORM] / norm
        for k in range(params.shape[0]):
            grad[k] *= scale
    l1, l2, kind = opts[L1], opts[L2], opts[OPTIMIZER]
    first, second = moments[0], moments[1]
    steps[0] += 1.0
    t = steps[0]
    bias1, bias2 = 1.0 - BETA1 ** t, 1.0 - BETA2 ** t
    for k in range(params.shape[0]):
        theta = params[k]
        d = -grad[k] + decay[k] * (l2 * theta + l1 * np.sign(theta))
        if kind == SGD:
            params[k] = theta - lr * d
        elif kind == MOMENTUM:
            first[k] = MOMENTUM_COEF * first[k] + d
            params[k] = theta - lr * first[k]
        else:
            first[k] = BETA1 * first[k] + (1.0 - BETA1) * d
            second[k] = BETA2 * second[k] + (1.0 - BETA2) * d * d
            params[k] = theta - (lr / bias1) * first[k] / (np.sqrt(second[k]) / np.sqrt(bias2) + EPS)


@njit(forceinline=True)
def take(params, grad, total, count, last, mask, decay, opts, moments, steps):
    """Add one series' terms ``grad`` to its batch (``total``, ``count`` series so far) and take
    the step once the batch is full or the epoch ends (``last``). Returns the series left in
    the batch: 0 when the step was taken (the parameters changed)."""
    if opts[BATCH] == 1.0:  # a batch of one: this series' terms
        summed, count = grad, 1
    else:
        for k in range(total.shape[0]):
            total[k] += grad[k]
        count += 1
        if count < opts[BATCH] and not last:
            return count
        summed = total
    step(params, summed, count, mask, decay, opts, moments, steps)  # one call site: one copy
    if opts[BATCH] != 1.0:
        total[:] = 0.0
    return 0
