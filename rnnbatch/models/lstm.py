"""Stacked LSTM cells with a one-unit readout: ``layers = [1, h1, ..., hM, 1]``, PyTorch's
nn.LSTM (zero initial h and c) under nn.Linear (+ tanh unless the readout is linear).

A cell of p inputs and h units, σ the logistic, for step S with input x (the series' value,
or the state of the cell below) and its own state h = h_{S-1}, c = c_{S-1}::

    i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
    c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')

and ŷ_S = tanh(w · h^M_S + b). Backward (ascent deltas, -dL/d of each pre-activation; δh the
state's, from the cell above or the readout plus from step S+1; δc from step S+1)::

    δa_o = δh tanh(c') o (1 - o),   δc' = δc + δh o (1 - tanh²(c'))
    δa_i = δc' g i (1 - i),   δa_f = δc' c f (1 - f),   δa_g = δc' i (1 - g²)
    δc_{S-1} = δc' f,   δh_{S-1} = W_h.T δa,   δx = W_i.T δa,   δa = [δa_i; δa_f; δa_g; δa_o]

the weights' terms being δa x.T (weight_ih) and δa h.T (weight_hh), summed over the steps.
Arrays ``weight_ih_l{l}`` (4h, p), ``weight_hh_l{l}`` (4h, h), ``bias_ih_l{l}``,
``bias_hh_l{l}`` (4h,), rows in gate order i, f, g, o; ``readout.weight`` (1, hM),
``readout.bias`` (1,). Losses, BPTT, clipping, layout, inits and kernels: ``_gated``.
"""

from . import _gated
from ._gated import (ACTIVATIONS, BIDIRECTIONAL_NETS, INITS, READOUTS, RECURRENT, input_size,
                     is_weight)

n_params, init, named, flat, _train_epoch, _predict, _terms = _gated.functions(_gated.LSTM)

__all__ = ["ACTIVATIONS", "BIDIRECTIONAL_NETS", "INITS", "READOUTS", "RECURRENT", "input_size", "is_weight",
           "n_params", "init", "named", "flat"]
