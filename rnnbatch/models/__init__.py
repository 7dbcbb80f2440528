"""The model families. ``dense`` and ``rnn`` share one interface; ``naive`` has no parameters.

Each trainable family module provides ``n_params(layers)``, ``init(layers, scheme, rng)`` and the
numba kernels ``_train_epoch``, ``_predict`` and ``_gradient`` over a flat parameter vector.
"""

from . import dense, naive, rnn

TRAINABLE = {"dense": dense, "rnn": rnn}
MODELS = ("naive", *TRAINABLE)
INITS = ("scaled", "uniform")

__all__ = ["dense", "naive", "rnn", "TRAINABLE", "MODELS", "INITS"]
