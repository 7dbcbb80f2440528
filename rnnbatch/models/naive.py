"""The course's naive baseline (RNNs Part 1): predict the last input value (index steps - 2)."""

import numpy as np


def predict(X: np.ndarray) -> np.ndarray:
    return X[:, -2]


def mse(X: np.ndarray) -> float:
    return float(np.mean((X[:, -1] - predict(X)) ** 2))
