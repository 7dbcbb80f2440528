"""The model families, registered in :data:`FAMILIES`: objects with one interface, so that
nothing outside this package names a family. ``naive`` and ``ar`` are :class:`Baseline`
objects (fitted in one pass, or not at all); ``dense``, ``rnn``, ``jordan``, ``gru`` and
``lstm`` are trainable :class:`Family` objects.

A trainable family's module provides ``RECURRENT`` (whether it runs through time),
``BIDIRECTIONAL_NETS`` (whether its nets can read the series both ways), ``INITS`` (its init
schemes), ``input_size(steps)`` (its first layer's size), ``n_params(layers)``,
``init(layers, scheme, rng)``, ``named(params, layers)`` / ``flat(arrays, layers)`` (the flat
vector as named arrays and back; the four take ``bidirectional`` last when the family has
such nets), ``is_weight(name)`` (which arrays L1/L2 regularise: weights, not biases) and
three numba kernels over the flat vector, with inputs and targets apart:

* ``_train_epoch(params, sizes, X, Y, order, decay, opts, moments, steps)``: an epoch, each
  batch's summed update terms taken by the shared step (``_update.step``);
* ``_predict(params, sizes, X, opts)``: the final prediction for each row of inputs;
* ``_terms(params, sizes, x, y, opts)``: one series' update terms, minus its gradient.

``opts`` is the options vector of ``_update.options``: every setting a kernel reads, as values
(one compiled kernel serves them all).

Callers use the registered objects, never the kernels.
"""

import functools
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from . import ar, dense, gru, jordan, lstm, naive, rnn
from ._update import ACTIVATIONS, OPTIMIZERS, READOUTS, new_state, options


@dataclass(frozen=True)
class Baseline:
    """A family fitted in one pass, in closed form (no epochs, no init): its module's
    ``fit(inputs, last, **settings)`` gives the parameters, ``predict(params, inputs)`` the
    predictions, ``named`` / ``flat`` name them; ``SETTINGS`` are the run settings it takes."""

    name: str
    module: ModuleType
    trainable = False
    recurrent = bidirectional = False
    inits = activations = readouts = ()

    def takes(self, setting: str) -> bool:
        """Whether the setting means anything to it (else it is stored as null)."""
        return setting in ("layers", "seed", *self.module.SETTINGS)

    def input_size(self, steps: int) -> None:
        return None  # it has no layers

    def fit(self, inputs: np.ndarray, last: np.ndarray, **settings) -> np.ndarray:
        """Its parameters for series whose inputs and last values these are."""
        return self.module.fit(_floats(inputs), _floats(last), **settings)

    def named(self, params: np.ndarray, layers, bidirectional: bool = False) -> dict[str, np.ndarray]:
        return self.module.named(params)

    def flat(self, arrays: dict, layers, bidirectional: bool = False) -> np.ndarray:
        return self.module.flat(arrays)

    def predict(self, params: np.ndarray, layers, inputs: np.ndarray, **net) -> np.ndarray:
        """The prediction for each row of ``inputs`` (n_series, steps - 1)."""
        return self.module.predict(params, _floats(inputs))


@dataclass(frozen=True)
class Family:
    """A trainable family: its module's kernels behind checked, public calls."""

    name: str
    module: ModuleType
    trainable = True

    def takes(self, setting: str) -> bool:
        return True

    @property
    def recurrent(self) -> bool:
        """Whether it runs through time (has steps to backpropagate through, an output a step)."""
        return self.module.RECURRENT

    @property
    def bidirectional(self) -> bool:
        """Whether its nets can read the series both ways (``bidirectional`` below)."""
        return self.module.BIDIRECTIONAL_NETS

    def input_size(self, steps: int) -> int:
        """The size of the first of its layers for series of ``steps`` values."""
        return self.module.input_size(steps)

    def _net(self, layers, bidirectional: bool) -> tuple:
        """The net's shape as the module's n_params, init, named and flat take it."""
        if bidirectional and not self.bidirectional:
            raise ValueError(f"a {self.name} net reads a series one way only")
        return (layers, bidirectional) if self.bidirectional else (layers,)

    def n_params(self, layers, bidirectional: bool = False) -> int:
        return self.module.n_params(*self._net(layers, bidirectional))

    def init(self, layers, scheme: str, rng: np.random.Generator,
             bidirectional: bool = False) -> np.ndarray:
        layers, *two_way = self._net(layers, bidirectional)
        return self.module.init(layers, scheme, rng, *two_way)

    @property
    def inits(self) -> tuple:
        return self.module.INITS

    @property
    def activations(self) -> tuple:
        """Its hidden units' activations (the first is the default)."""
        return self.module.ACTIVATIONS

    @property
    def readouts(self) -> tuple:
        """Its output unit's activations (the first is the default)."""
        return self.module.READOUTS

    def named(self, params: np.ndarray, layers, bidirectional: bool = False) -> dict[str, np.ndarray]:
        """The parameters by name, as the module names and shapes them."""
        return self.module.named(params, *self._net(layers, bidirectional))

    def flat(self, arrays: dict, layers, bidirectional: bool = False) -> np.ndarray:
        return self.module.flat(arrays, *self._net(layers, bidirectional))

    @functools.lru_cache(maxsize=64)  # once per net, not once per epoch
    def decay(self, layers, bidirectional: bool = False) -> np.ndarray:
        """1.0 at the weights (which L1/L2 regularise), 0.0 at the biases, in the flat layout
        (shared: not to be written)."""
        named = self.named(np.ones(self.n_params(layers, bidirectional)), layers, bidirectional)
        return self.flat({name: a * self.module.is_weight(name) for name, a in named.items()},
                         layers, bidirectional)

    def new_state(self, layers, bidirectional: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """A fresh optimizer state for :meth:`train_epoch` (see ``_update.new_state``)."""
        return new_state(self.n_params(layers, bidirectional))

    def train_epoch(self, params: np.ndarray, layers, inputs: np.ndarray, targets: np.ndarray,
                    order: np.ndarray, state, lr: float, clip: float = 0.0, bptt: int = 0,
                    batch: int = 1, clip_norm: float = 0.0, l1: float = 0.0, l2: float = 0.0,
                    optimizer: str = "sgd", activation: str = "tanh", readout: str = "tanh",
                    bidirectional: bool = False) -> tuple[float, bool]:
        """One epoch over the series ``order`` picks, updating ``params`` and ``state`` (from
        :meth:`new_state`) in place; ``targets`` (n_series, k) are the values the last k steps
        predict. Returns (mean squared error of the final prediction before each update, ok)."""
        inputs, targets = self._arrays(params, layers, bidirectional, inputs, targets, bptt)
        order = np.asarray(order)
        if order.dtype != np.int64 or order.ndim != 1 or (
                order.size and not 0 <= order.min() <= order.max() < len(inputs)):
            raise ValueError(f"order must be int64 indices of the {len(inputs)} series")
        if not (params.flags.c_contiguous and params.flags.writeable and params.dtype == np.float64):
            raise ValueError("params are updated in place: a writable, contiguous float64 array")
        return self.module._train_epoch(
            params, _sizes(layers), inputs, targets, order, self.decay(tuple(layers), bidirectional),
            options(lr, clip, bptt, batch, clip_norm, l1, l2, optimizer, activation, readout,
                    bidirectional),
            *state)

    def predict(self, params: np.ndarray, layers, inputs: np.ndarray, activation: str = "tanh",
                readout: str = "tanh", bidirectional: bool = False) -> np.ndarray:
        """The prediction for each row of ``inputs`` (n_series, steps - 1)."""
        inputs, _ = self._arrays(params, layers, bidirectional, inputs)
        return self.module._predict(_floats(params), _sizes(layers), inputs,
                                    options(1.0, activation=activation, readout=readout,
                                            bidirectional=bidirectional))

    def gradient(self, params: np.ndarray, layers, inputs: np.ndarray, targets: np.ndarray,
                 clip: float = 0.0, bptt: int = 0, activation: str = "tanh",
                 readout: str = "tanh", bidirectional: bool = False) -> np.ndarray:
        """dL/dθ of L = ½ Σ (y - ŷ)² over the series in the rows of ``inputs`` and ``targets``
        (BPTT shaped by ``clip`` and ``bptt`` as in training)."""
        inputs, targets = self._arrays(params, layers, bidirectional, inputs, targets, bptt)
        sizes, params = _sizes(layers), _floats(params)
        opts = options(1.0, clip, bptt, activation=activation, readout=readout,
                       bidirectional=bidirectional)
        return -sum(self.module._terms(params, sizes, x, y, opts) for x, y in zip(inputs, targets))

    def _arrays(self, params, layers, bidirectional, inputs, targets=None, bptt=0):
        """``inputs`` and ``targets`` as the kernels read them, once checked against the net
        (and ``bptt``): the kernels index without bounds checks."""
        inputs = _floats(inputs)
        n = self.n_params(layers, bidirectional)
        if np.shape(params) != (n,):
            raise ValueError(f"a {self.name} net {list(layers)} has {n} parameters, "
                             f"not {np.shape(params)}")
        if inputs.ndim != 2 or inputs.shape[1] < 1 or layers[0] != self.input_size(inputs.shape[1] + 1):
            raise ValueError(f"inputs of shape {inputs.shape} do not fit a {self.name} net "
                             f"{list(layers)}: rows of steps - 1 values")
        if targets is None:
            return inputs, None
        targets = _floats(targets)
        # a target per step at most; a net reading both ways predicts after the last only
        most = inputs.shape[1] if self.recurrent and not bidirectional else 1
        if bidirectional and bptt:
            raise ValueError("a net reading both ways backpropagates through every step: bptt 0")
        if targets.ndim != 2 or len(targets) != len(inputs) or not 1 <= targets.shape[1] <= most:
            raise ValueError(f"targets of shape {targets.shape} for inputs of shape "
                             f"{inputs.shape}: a row per series of 1 to {most} values")
        return inputs, targets


def _sizes(layers) -> np.ndarray:
    return np.asarray(layers, dtype=np.int64)


def _floats(array) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


FAMILIES = {"naive": Baseline("naive", naive), "ar": Baseline("ar", ar),
            "dense": Family("dense", dense), "rnn": Family("rnn", rnn),
            "jordan": Family("jordan", jordan), "gru": Family("gru", gru),
            "lstm": Family("lstm", lstm)}
TRAINABLE = {name: family for name, family in FAMILIES.items() if family.trainable}
MODELS = tuple(FAMILIES)
INITS = tuple(dict.fromkeys(scheme for family in TRAINABLE.values() for scheme in family.inits))

__all__ = ["Baseline", "Family", "FAMILIES", "TRAINABLE", "MODELS", "INITS", "OPTIMIZERS",
           "ACTIVATIONS", "READOUTS"]
