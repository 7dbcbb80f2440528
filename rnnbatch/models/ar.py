"""Linear autoregression, fitted by least squares: the baseline a statistician checks first.

The prediction is linear in a series' steps - 1 inputs x, ŷ = W x + b, with W (1, p) and b
minimising, over the training series,

    ½ Σ (y - W x - b)² + (l2 / 2) |W|²         (l2 = 0: ordinary least squares; b not penalised)

solved in closed form as the least-squares problem [X 1; √l2 I 0] [W b]ᵀ ≈ [y; 0] (LAPACK's
SVD-based ``lstsq``, stable however collinear the lags). One pass, no epochs, no seed.
"""

import numpy as np

SETTINGS = ("l2",)  # ridge: the lecture's L2 term (004), on the weights only


def fit(inputs: np.ndarray, last: np.ndarray, l2: float = 0.0) -> np.ndarray:
    """[W, b] (p + 1,) for the rows of ``inputs`` (n, p) and their next values ``last``."""
    n, p = inputs.shape
    design = np.hstack([inputs, np.ones((n, 1))])
    wanted = last
    if l2 > 0:
        design = np.vstack([design, np.hstack([np.sqrt(l2) * np.eye(p), np.zeros((p, 1))])])
        wanted = np.concatenate([last, np.zeros(p)])
    return np.linalg.lstsq(design, wanted, rcond=None)[0]


def named(params: np.ndarray) -> dict[str, np.ndarray]:
    """``W`` (1, p) and ``b`` (1,)."""
    return {"W": params[None, :-1].copy(), "b": params[-1:].copy()}


def flat(arrays: dict) -> np.ndarray:
    return np.concatenate([np.asarray(arrays["W"], dtype=np.float64).ravel(),
                           np.asarray(arrays["b"], dtype=np.float64).ravel()])


def predict(params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    return inputs @ params[:-1] + params[-1]
