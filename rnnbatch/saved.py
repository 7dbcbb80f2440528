"""Models kept: each result file carries its run's initial and final parameters, by name.

They live in the file's schema metadata under ``rnnbatch.params``: JSON of
``{"initial": {name: array}, "final": {name: array}}``, arrays as nested lists (rnn: ``w1_L``
(n, p), ``ws_L`` (n, n), ``b_L`` (n,); dense: ``W_L`` (n, p), ``b_L``, for layer L = 1..N;
gru, lstm: PyTorch's names, ``weight_ih_l0``, ..., ``readout.weight``, ``readout.bias``, which
load into torch.nn.GRU / LSTM and an nn.Linear as they are).
JSON writes each float64 in the shortest form that reads back to the same bits, and keeps the
metadata text that every Parquet reader accepts. With pyarrow alone::

    import json, pyarrow.parquet as pq
    meta = pq.read_schema("results/model=rnn/<run_id>.parquet").metadata
    params = json.loads(meta[b"rnnbatch.params"])     # params["final"]["w1_1"]: 6 x 1 lists

:func:`load_model` gives the final model, whose ``predict`` reproduces the run's predictions.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .models import FAMILIES
from .train import NET_SETTINGS, model_inputs

PARAMS_KEY = b"rnnbatch.params"
RUN_KEY = b"rnnbatch.run"


def params_bytes(model: str, layers, initial: np.ndarray | None, final: np.ndarray,
                 bidirectional: bool = False) -> bytes:
    """The named initial (if trained) and final parameters of a ``model`` net, as metadata JSON."""
    family = FAMILIES[model]
    named = {which: {name: array.tolist()
                     for name, array in family.named(params, layers, bidirectional).items()}
             for which, params in (("initial", initial), ("final", final)) if params is not None}
    return json.dumps(named).encode()


@dataclass(frozen=True)
class Model:
    """A trained model as a result file keeps it: ``arrays`` the final parameters by name,
    ``initial`` the ones it started from (empty for a baseline, fitted in one pass)."""

    model: str
    layers: tuple
    arrays: dict
    initial: dict
    reverse: bool = False  # trained on inputs fed last value first
    net: dict = field(default_factory=dict)  # the settings of NET_SETTINGS, when not defaults

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """The prediction for each row of ``inputs`` (n_series, steps - 1), in series order."""
        family = FAMILIES[self.model]
        params = family.flat(self.arrays, self.layers, self.net.get("bidirectional", False))
        return family.predict(params, self.layers, model_inputs(np.asarray(inputs), self.reverse),
                              **self.net)


def load_model(path: str | Path) -> Model:
    """The final model of the run whose result file is ``path``."""
    try:
        meta = pq.read_schema(path).metadata or {}
        record = json.loads(meta[RUN_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        raise InputError(f"{path} is not an rnnbatch result file.") from None
    if "model" not in record:
        raise InputError(f"{path} was written before rnnbatch kept models (release 0.1.0). "
                         "Rerun its grid with --force to keep them.")
    arrays = {"initial": {}, "final": {}}
    for which, named in json.loads(meta.get(PARAMS_KEY, b"{}")).items():
        arrays[which] = {name: np.asarray(value, dtype=np.float64) for name, value in named.items()}
    return Model(record["model"], tuple(record["layers"]), arrays["final"], arrays["initial"],
                 record.get("reverse", False),
                 {name: record[name] for name in NET_SETTINGS if name in record})
