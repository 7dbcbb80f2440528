"""The gated families against PyTorch: the same nets trained side by side (not part of CI).

Run as ``python benchmarks/check_torch.py`` (needs torch). For gru and lstm nets [1, 20, 1]
and [1, 10, 10, 1], rnnbatch's initial parameters (its "torch" init) are loaded by name into
nn.GRU / nn.LSTM (batch_first, float64, two stacked cells as num_layers=2) under an nn.Linear
readout, and both train on the first series of the course's seed-0 data, in order: per-series
SGD (the course's update, torch.optim.SGD on L = ½ Σ e²) and batches of 32 with Adam (the
batch's mean loss); then a many-to-many loss with a linear readout; then bidirectional nets
(bidirectional=True, the readout on the top layer's two final states h_n[-2], h_n[-1]).
Prints the largest difference between the final parameters (target: 1e-10).
"""

import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from rnnbatch.data import DataParams, make_dataset  # noqa: E402
from rnnbatch.models import FAMILIES  # noqa: E402

TARGET = 1e-10
NETS = [(1, 20, 1), (1, 10, 10, 1)]
# (label, series, kernel options); lr 0.01 as the course's
RUNS = [("sgd, per series", 300, dict(lr=0.01)),
        ("adam, batch 32", 320, dict(lr=0.002, batch=32, optimizer="adam")),
        ("adam 32, every, linear", 128, dict(lr=0.002, batch=32, optimizer="adam", loss="every",
                                            readout="linear")),
        ("sgd, bidirectional", 300, dict(lr=0.01, bidirectional=True)),
        ("adam 32, bidirectional", 320, dict(lr=0.002, batch=32, optimizer="adam",
                                             bidirectional=True))]


class Net(torch.nn.Module):
    def __init__(self, model, layers, readout, bidirectional):
        super().__init__()
        cell = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[model]
        self.rnn = cell(1, layers[1], num_layers=len(layers) - 2, batch_first=True,
                        bidirectional=bidirectional)
        self.readout = torch.nn.Linear((1 + bidirectional) * layers[-2], 1)
        self.linear, self.bidirectional = readout == "linear", bidirectional

    def forward(self, x):
        """ŷ after every step, (batch, steps); bidirectional: after the last, (batch, 1)."""
        out, h_n = self.rnn(x.unsqueeze(-1))
        if self.bidirectional:
            h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM's (h_n, c_n)
            out = torch.cat([h_n[-2], h_n[-1]], dim=-1).unsqueeze(1)
        out = self.readout(out).squeeze(-1)
        return out if self.linear else torch.tanh(out)


def torch_train(model, layers, initial, X, Y, lr, batch=1, optimizer="sgd", readout="tanh",
                loss="last", bidirectional=False):
    net = Net(model, layers, readout, bidirectional).double()
    named = FAMILIES[model].named(initial, layers, bidirectional)
    net.load_state_dict({(name if name.startswith("readout") else "rnn." + name): torch.tensor(a)
                         for name, a in named.items()})
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(net.parameters(), lr=lr)
    X, Y = torch.tensor(X), torch.tensor(Y)
    for start in range(0, len(X), batch):
        x, y = X[start:start + batch], Y[start:start + batch]
        predicted = net(x)[:, -y.shape[1]:]
        opt.zero_grad()
        (0.5 * ((y - predicted) ** 2).sum() / len(x)).backward()
        opt.step()
    state = net.state_dict()
    return np.concatenate([state[name if name.startswith("readout") else "rnn." + name].numpy().ravel()
                           for name in named])


def main():
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, float64, one thread; target max |Δθ| <= {TARGET:g}")
    data = make_dataset(DataParams())
    worst = 0.0
    for model in ("gru", "lstm"):
        family = FAMILIES[model]
        for layers in NETS:
            for label, n, options in RUNS:
                options = dict(options)
                loss = options.pop("loss", "last")
                bidirectional = options.get("bidirectional", False)
                initial = family.init(layers, "torch", np.random.default_rng(0), bidirectional)
                series = data.train[:n]
                X = series[:, :-1].copy()
                Y = series[:, -1:].copy() if loss == "last" else series[:, 1:].copy()
                params = initial.copy()
                state = family.new_state(layers, bidirectional)
                _, ok = family.train_epoch(params, layers, X, Y, np.arange(n, dtype=np.int64),
                                           state, **options)
                theirs = torch_train(model, layers, initial, X, Y, loss=loss, **options)
                diff = float(np.abs(params - theirs).max())
                moved = float(np.abs(params - initial).max())
                worst = max(worst, diff)
                print(f"{model:4} {str(list(layers)):14} {label:24} {n:4} series: "
                      f"max |Δθ| {diff:.2e} (params moved up to {moved:.3f}){'' if ok else ' DIVERGED'}")
    print(f"worst {worst:.2e}: {'within' if worst <= TARGET else 'ABOVE'} the target {TARGET:g}")


if __name__ == "__main__":
    main()
