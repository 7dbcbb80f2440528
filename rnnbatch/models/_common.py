"""What the model families share: the flat parameter vector and its initialisation."""

import numpy as np


def init_uniform(shapes, radii, rng: np.random.Generator) -> np.ndarray:
    """Per layer, in layout order, the weights then the bias, uniform in [-r, r).

    ``radii`` gives each layer's r (the course's scaled init); ``None`` means r = 1 (``uniform``).
    """
    parts = []
    for k, (rows, cols) in enumerate(shapes):
        r = 1.0 if radii is None else radii[k]
        parts.append(rng.uniform(-r, r, rows * cols))
        parts.append(rng.uniform(-r, r, rows))
    return np.concatenate(parts)
