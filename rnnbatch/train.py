"""Train one model on one dataset: the unit of work the batch service fans out.

Per-series SGD, one update per training series, in the stored order unless ``shuffle``
(then a fresh permutation each epoch, drawn from the run's own seed). After every epoch:
the test MSE (plain mean of (y - y_hat)^2 over the test set) and the training MSE (mean of
(y - y_hat)^2 over the epoch, each taken just before that series' update).

A run whose loss or parameters stop being finite stops there with status ``diverged``.
"""

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
    initial: np.ndarray | None = None  # the parameters before the first update
    params: np.ndarray | None = None  # and after the last


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent init and shuffle generators derived from the run's seed only."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))


def train(config: TrainConfig, data: Dataset) -> TrainResult:
    """Train ``config`` on ``data`` and return its per-epoch curves."""
    config.check(data.train.shape[1])
    family = FAMILIES[config.model]
    if not family.trainable:  # one "epoch": its error on each split
        start = time.perf_counter()
        result = TrainResult(0, *([_mse(family, None, config.layers, split)]
                                  for split in (data.train, data.test)))
        result.seconds.append(time.perf_counter() - start)
        return result

    init_rng, shuffle_rng = streams(config.seed)
    params = family.init(config.layers, config.init, init_rng)
    result = TrainResult(family.n_params(config.layers), initial=params.copy(), params=params)
    order = np.arange(len(data.train), dtype=np.int64)
    for _ in range(config.epochs):
        start = time.perf_counter()
        if config.shuffle:
            order = shuffle_rng.permutation(len(data.train)).astype(np.int64)
        train_mse, ok = family.train_epoch(params, config.layers, data.train, order, config.lr,
                                           config.clip)
        ok = ok and bool(np.isfinite(params).all())
        test_mse = _mse(family, params, config.layers, data.test) if ok else float("nan")
        ok = ok and np.isfinite(test_mse)
        result.train_mse.append(float(train_mse) if ok else float("nan"))
        result.test_mse.append(test_mse if ok else float("nan"))
        result.seconds.append(time.perf_counter() - start)
        if not ok:
            result.status = "diverged"
            break
    return result


def _mse(family, params, layers, series: np.ndarray) -> float:
    """Mean of (y - y_hat)^2 over ``series`` (rows: inputs, then the target)."""
    return float(np.mean((series[:, -1] - family.predict(params, layers, series[:, :-1])) ** 2))
