"""The model families, registered in :data:`FAMILIES`: objects with one interface, so that
nothing outside this package names a family. ``naive`` is a :class:`Baseline` (no parameters,
nothing to train); ``dense`` and ``rnn`` are trainable :class:`Family` objects.

A trainable family's module provides ``input_size(steps)`` (its first layer's size),
``n_params(layers)``, ``init(layers, scheme, rng)``, ``columns(p, n)`` (its named weight
blocks) and the numba kernels ``_train_epoch``, ``_predict`` and ``_gradient`` over a flat
parameter vector. Callers use the registered objects, never the kernels.
"""

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from . import dense, naive, rnn
from ._common import flat_params, named_arrays, predict_with


@dataclass(frozen=True)
class Baseline:
    """A family without parameters: its module's ``predict_next`` predicts from the inputs."""

    name: str
    module: ModuleType
    trainable = False

    def input_size(self, steps: int) -> None:
        return None  # it has no layers

    def n_params(self, layers) -> int:
        return 0

    def named(self, params: np.ndarray, layers) -> dict[str, np.ndarray]:
        return {}

    def flat(self, arrays: dict, layers) -> np.ndarray:
        return np.empty(0)

    def predict(self, params: np.ndarray, layers, inputs: np.ndarray) -> np.ndarray:
        """The prediction for each row of ``inputs`` (n_series, steps - 1)."""
        return self.module.predict_next(np.asarray(inputs, dtype=np.float64))


@dataclass(frozen=True)
class Family:
    """A trainable family: its module's kernels behind checked, public calls."""

    name: str
    module: ModuleType
    trainable = True

    def input_size(self, steps: int) -> int:
        """The size of the first of its layers for series of ``steps`` values."""
        return self.module.input_size(steps)

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


FAMILIES = {"naive": Baseline("naive", naive), "dense": Family("dense", dense),
            "rnn": Family("rnn", rnn)}
TRAINABLE = {name: family for name, family in FAMILIES.items() if family.trainable}
MODELS = tuple(FAMILIES)
INITS = ("scaled", "uniform")

__all__ = ["Baseline", "Family", "FAMILIES", "TRAINABLE", "MODELS", "INITS"]
