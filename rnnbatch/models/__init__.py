"""The model families. ``dense`` and ``rnn`` are trainable, behind one interface
(:class:`Family`); ``naive`` has no parameters.

A trainable family's module provides ``n_params(layers)``, ``init(layers, scheme, rng)``,
``columns(p, n)`` (its named weight blocks) and the numba kernels ``_train_epoch``, ``_predict``
and ``_gradient`` over a flat parameter vector. Callers use the :class:`Family` in
:data:`TRAINABLE`, never the kernels.
"""

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from . import dense, naive, rnn
from ._common import flat_params, named_arrays, predict_with


@dataclass(frozen=True)
class Family:
    """A trainable family: its module's kernels behind checked, public calls."""

    name: str
    module: ModuleType

    def n_params(self, layers) -> int:
        return self.module.n_params(layers)

    def init(self, layers, scheme: str, rng: np.random.Generator) -> np.ndarray:
        return self.module.init(layers, scheme, rng)

    def named(self, params: np.ndarray, layers) -> dict[str, np.ndarray]:
        """The parameters by name: the module's ``columns`` of layer L as ``<name>_L``, then
        ``b_L``; weights are every array but the biases."""
        return named_arrays(params, layers, self.module.columns)

    def flat(self, arrays: dict, layers) -> np.ndarray:
        return flat_params(arrays, layers, self.module.columns)

    def train_epoch(self, params: np.ndarray, layers, series: np.ndarray, order: np.ndarray,
                    lr: float, clip: float) -> tuple[float, bool]:
        """One epoch of per-series SGD over ``series[order]`` (each row its inputs, then its
        target), updating ``params`` in place; (mean squared error before each update, ok)."""
        return self.module._train_epoch(params, np.asarray(layers, dtype=np.int64), series, order,
                                        float(lr), float(clip))

    def predict(self, params: np.ndarray, layers, inputs: np.ndarray) -> np.ndarray:
        """The prediction for each row of ``inputs`` (n_series, steps - 1)."""
        return predict_with(self.module._predict, params, layers, inputs)


TRAINABLE = {"dense": Family("dense", dense), "rnn": Family("rnn", rnn)}
MODELS = ("naive", *TRAINABLE)
INITS = ("scaled", "uniform")

__all__ = ["dense", "naive", "rnn", "Family", "TRAINABLE", "MODELS", "INITS"]
