"""Train one model on one dataset: the unit of work the batch service fans out.

The course's per-series SGD by default: one update per training series, in the stored order
unless ``shuffle`` (then a fresh permutation each epoch, drawn from the run's own seed). The
family's kernel takes inputs and targets apart; this module makes them from the series:

* inputs: each series' first steps - 1 values, last value first with ``reverse``, plus fresh
  Gaussian noise of s.d. ``noise`` each epoch (training inputs only, from the run's own noise
  stream);
* targets: its last value (``loss = "last"``), or with ``loss = "every"`` each step's next
  value, the last included.

After every epoch: the test MSE (plain mean of (y - y_hat)^2 over the test set's last values)
and the training MSE (mean of (y - y_hat)^2 of the last value over the epoch, each taken just
before the update of that series' batch).

A run whose loss or parameters stop being finite stops there with status ``diverged``.

Between epochs a run is its :class:`Progress`; given a :class:`rnnbatch.checkpoints.Checkpoint`,
:func:`train` continues from the progress it was saved with and saves its own when due, and
ends bit for bit as a run that never stopped.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .data import Dataset
from .models import FAMILIES
from .settings import TrainConfig


@dataclass
class TrainResult:
    """Per-epoch curves; a diverged run's last entry is the epoch it diverged in (MSE NaN)."""

    n_params: int
    train_mse: list = field(default_factory=list)
    test_mse: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    status: str = "ok"
    initial: np.ndarray | None = None  # the parameters before the first update (if trained)
    params: np.ndarray | None = None  # and after the last
    resumed: list = field(default_factory=list)  # the epochs it was resumed after (checkpoints)


@dataclass
class Progress:
    """A trainable run between epochs: everything its next epoch reads or changes."""

    result: TrainResult  # parameters (initial and current) and the curves so far
    state: tuple  # the optimizer's (moments, steps), updated in place by train_epoch
    rngs: tuple  # the run's init, shuffle and noise generators (streams)

    @property
    def epoch(self) -> int:
        """Epochs done."""
        return len(self.result.test_mse)


def streams(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent init, shuffle and noise generators derived from the run's seed only (a
    SeedSequence's n-th child is the same however many are spawned: adding the noise stream
    left the first two, and every earlier result, as they were)."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))


def model_inputs(series_inputs: np.ndarray, reverse: bool) -> np.ndarray:
    """What a model is fed for series whose inputs are the rows of ``series_inputs``."""
    return np.ascontiguousarray(series_inputs[:, ::-1] if reverse else series_inputs,
                                dtype=np.float64)


def targets(series: np.ndarray, loss: str) -> np.ndarray:
    """The values a model learns to predict, a row per series: its last value, or each step's
    next value (many-to-many)."""
    return np.ascontiguousarray(series[:, -1:] if loss == "last" else series[:, 1:])


def fresh(config: TrainConfig, family) -> Progress:
    """A trainable run before its first epoch: its streams from its own seed, its init drawn."""
    rngs = streams(config.seed)
    params = family.init(config.layers, config.init, rngs[0], config.bidirectional)
    return Progress(TrainResult(len(params), initial=params.copy(), params=params),
                    family.new_state(config.layers, config.bidirectional), rngs)


def train(config: TrainConfig, data: Dataset, checkpoint=None) -> TrainResult:
    """Train ``config`` on ``data`` and return its per-epoch curves; with a ``checkpoint``
    (:class:`rnnbatch.checkpoints.Checkpoint`), from its saved progress if it has one, saving
    progress when due."""
    config.check(data.train.shape[1])
    family = FAMILIES[config.model]
    if not family.trainable:  # one "epoch": fitted, then its error on each split
        start = time.perf_counter()
        params = family.fit(data.train[:, :-1], data.train[:, -1],
                            **{name: getattr(config, name) for name in family.module.SETTINGS})
        result = TrainResult(len(params), *([_mse(family, params, config, split[:, :-1], split[:, -1])]
                                            for split in (data.train, data.test)), params=params)
        result.seconds.append(time.perf_counter() - start)
        return result

    progress = (checkpoint and checkpoint.saved) or fresh(config, family)
    result, params, state = progress.result, progress.result.params, progress.state
    _, shuffle_rng, noise_rng = progress.rngs
    inputs = model_inputs(data.train[:, :-1], config.reverse)
    wanted = targets(data.train, config.loss)
    test_inputs = model_inputs(data.test[:, :-1], config.reverse)
    kernel = {name: getattr(config, name) for name in KERNEL_SETTINGS}
    order = np.arange(len(data.train), dtype=np.int64)
    fed = np.empty_like(inputs) if config.noise else inputs
    for epoch in range(progress.epoch, config.epochs):
        start = time.perf_counter()
        if config.shuffle:
            order = shuffle_rng.permutation(len(data.train)).astype(np.int64)
        if config.noise:  # inputs + noise z, in place: no new arrays each epoch
            noise_rng.standard_normal(out=fed)
            fed *= config.noise
            fed += inputs
        kernel["lr"] = learning_rate(config, epoch)
        train_mse, ok = family.train_epoch(params, config.layers, fed, wanted, order, state, **kernel)
        ok = ok and bool(np.isfinite(params).all())
        test_mse = (_mse(family, params, config, test_inputs, data.test[:, -1]) if ok
                    else float("nan"))
        ok = ok and np.isfinite(test_mse)
        result.train_mse.append(float(train_mse) if ok else float("nan"))
        result.test_mse.append(test_mse if ok else float("nan"))
        result.seconds.append(time.perf_counter() - start)
        if not ok:
            result.status = "diverged"
            break
        if checkpoint and epoch + 1 < config.epochs:  # the last epoch's state is the result
            checkpoint.epoch_done(progress)
    return result


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The lr of epoch ``epoch`` (from 0) under the run's schedule."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    return config.lr


# the settings that make a net's function from its parameters (predicting takes them too), and
# all a family's training kernel takes (the others shape its data, or the run)
NET_SETTINGS = ("activation", "readout", "bidirectional")
KERNEL_SETTINGS = ("lr", "clip", "bptt", "batch", "clip_norm", "l1", "l2", "optimizer",
                   *NET_SETTINGS)


def _mse(family, params, config, inputs: np.ndarray, last: np.ndarray) -> float:
    """Mean of (y - y_hat)^2 over series whose inputs and last values these are."""
    net = {name: getattr(config, name) for name in NET_SETTINGS}
    return float(np.mean((last - family.predict(params, config.layers, inputs, **net)) ** 2))
