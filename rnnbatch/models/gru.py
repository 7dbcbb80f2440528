"""Stacked GRU cells with a one-unit readout: ``layers = [1, h1, ..., hM, 1]``, PyTorch's
nn.GRU (zero initial state) under nn.Linear (+ tanh unless the readout is linear).

A cell of p inputs and h units, σ the logistic, for step S with input x (the series' value,
or the state of the cell below) and its own state h = h_{S-1}::

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 - z) ⊙ n + z ⊙ h

and ŷ_S = tanh(w · h^M_S + b). Backward (ascent deltas, -dL/d of each pre-activation; δh the
state's, from the cell above or the readout plus from step S+1)::

    δa_n = δh (1 - z)(1 - n²),   δa_z = δh (h - n) z (1 - z),   δa_r = δa_n (W_hn h + b_hn) r (1 - r)
    δh_{S-1} = δh z + W_hr.T δa_r + W_hz.T δa_z + W_hn.T (r δa_n),   δx = W_i.T [δa_r; δa_z; δa_n]

the weights' terms being the deltas times x.T ([δa_r; δa_z; δa_n], into weight_ih) or h.T
([δa_r; δa_z; r δa_n], into weight_hh), summed over the steps. Arrays ``weight_ih_l{l}``
(3h, p), ``weight_hh_l{l}`` (3h, h), ``bias_ih_l{l}``, ``bias_hh_l{l}`` (3h,), rows in gate
order r, z, n; ``readout.weight`` (1, hM), ``readout.bias`` (1,). Losses, BPTT, clipping,
layout, inits and kernels: ``_gated``.
"""

from . import _gated
from ._gated import (ACTIVATIONS, BIDIRECTIONAL_NETS, INITS, READOUTS, RECURRENT, input_size,
                     is_weight)

n_params, init, named, flat, _train_epoch, _predict, _terms = _gated.functions(_gated.GRU)

__all__ = ["ACTIVATIONS", "BIDIRECTIONAL_NETS", "INITS", "READOUTS", "RECURRENT", "input_size", "is_weight",
           "n_params", "init", "named", "flat"]
