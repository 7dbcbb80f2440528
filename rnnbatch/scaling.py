"""Scaling a real series into a tanh output's range, and reading errors back in its own units.

A model's output unit is the course's tanh, so it cannot reach beyond (-1, 1). An ingested
series is mapped linearly, y = slope * x + offset, so that its training part's range lands on
[-bound, bound] (0.8 by default): test values a little beyond the training range stay reachable.
With ``difference`` the mapped values are the series' first differences.

Either way an error of e in scaled units is e / slope in the series' own units (a forecast of
the next difference is a forecast of the next value, the last value added), so one number, the
dataset's ``unit`` (1 / slope, series units per scaled unit), turns a test MSE into an RMSE in
the series' units: :func:`rmse`.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Scaling:
    """y = slope * x + offset, fitted so that [low, high] of the training part maps onto
    [-bound, bound]; ``difference``: x is the series' first differences."""

    bound: float
    low: float
    high: float
    difference: bool = False

    @classmethod
    def fit(cls, training: np.ndarray, bound: float, difference: bool = False) -> "Scaling":
        """The scaling of ``training`` (values that vary) into [-bound, bound]."""
        return cls(float(bound), float(np.min(training)), float(np.max(training)), difference)

    @property
    def slope(self) -> float:
        return 2 * self.bound / (self.high - self.low)

    @property
    def offset(self) -> float:
        return -self.bound - self.slope * self.low

    @property
    def unit(self) -> float:
        """Series units per scaled unit: an error of e scaled is e * unit in the series' units."""
        return (self.high - self.low) / (2 * self.bound)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(x, dtype=np.float64) + self.offset

    def invert(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) - self.offset) / self.slope

    def to_metadata(self) -> dict:
        """What a dataset records: the fit, and the derived numbers for readers without rnnbatch."""
        return {**asdict(self), "slope": self.slope, "offset": self.offset, "unit": self.unit}

    @classmethod
    def from_metadata(cls, recorded: dict) -> "Scaling":
        return cls(recorded["bound"], recorded["low"], recorded["high"], recorded["difference"])


def rmse(mse: float | None, unit: float | None) -> float | None:
    """The root mean squared error in the series' own units of an MSE in scaled units, given the
    dataset's ``unit`` (the result column ``series_unit``); None for data with no units of its
    own (the course's generated series: ``unit`` is null) or no MSE (a diverged run)."""
    if unit is None or mse is None or not math.isfinite(mse):
        return None
    return math.sqrt(mse) * unit
