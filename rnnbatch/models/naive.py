"""The course's naive baseline (RNNs Part 1): predict the last input value (index steps - 2)."""

import numpy as np

SETTINGS = ()  # it takes none


def fit(inputs: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Nothing to fit: no parameters."""
    return np.empty(0)


def named(params: np.ndarray) -> dict[str, np.ndarray]:
    return {}


def flat(arrays: dict) -> np.ndarray:
    return np.empty(0)


def predict(params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """The last input of each row of ``inputs`` (n_series, steps - 1)."""
    return inputs[:, -1]
