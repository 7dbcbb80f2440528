"""Run settings, each declared once.

A :class:`Setting` holds a setting's name, default, constraint (a test and what the message says
it must be), result column type, help text and the course or lecture part it comes from.
Everything else derives from :data:`SETTINGS`: :class:`TrainConfig`'s fields and their
validation from Python, the grid's keys, defaults and messages, the run id, the result columns,
the report's grouping, the ``--dry-run`` line and the README's table of settings.

A run id hashes the settings that decide a run's numbers. Those of release 0.1.0 (``legacy``)
always enter it, as they did; a setting added since enters it only away from its default, so
every run id of an older grid stays what it was and its results stay complete.
"""

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from .data import SEED_MAX, SERIES_MAX, STEPS_MAX
from .errors import InputError
from .models import ACTIVATIONS, FAMILIES, INITS, MODELS, OPTIMIZERS, READOUTS

EPOCHS_MAX = 100_000
UNITS_MAX = 10_000  # a layer's width; an rnn layer this wide has 2e8 weights (1.6 GB)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_real(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def int_in(low: int, high: int) -> tuple[Callable, str]:
    return (lambda v: is_int(v) and low <= v <= high), f"an int from {low} to {high}"


def fail(key: str, owner: str, expected: str, got) -> InputError:
    """The one message template: "The 'lr' of experiment 'rnn6' must be a float > 0. Got -1." """
    return InputError(f"The '{key}' of {owner} must be {expected}. Got {got!r}.")


@dataclass(frozen=True)
class Setting:
    """One run setting. ``shown``: always on the ``--dry-run`` line (else only away from its
    default); ``legacy``: in every run id (see the module docstring); ``backfill(n_rows)``: its
    value for a trained run whose result file predates its column (else its default, which is
    how such a run ran)."""

    name: str
    default: object
    test: Callable
    expected: str
    column: pa.DataType
    help: str
    source: str
    legacy: bool = False
    shown: bool = False
    normalise: Callable = staticmethod(lambda v: v)
    backfill: Callable | None = None

    def value_before(self, n_rows: int):
        return self.backfill(n_rows) if self.backfill else self.default

    def check(self, value, owner: str) -> None:
        if not self.test(value):
            raise fail(self.name, owner, self.expected, value)

    def describe(self, value) -> str:
        """The setting on a ``--dry-run`` line: ``name=value``, a flag's name, or nothing."""
        if not self.shown and value == self.default:
            return ""
        if isinstance(value, bool):
            return self.name
        shown = list(value) if isinstance(value, tuple) else value
        return f"{self.name}={shown:g}" if isinstance(value, float) else f"{self.name}={shown}"


def _layers(v) -> bool:
    sizes = list(v) if isinstance(v, (list, tuple)) else None
    return sizes is not None and len(sizes) >= 2 and all(is_int(n) and 1 <= n <= UNITS_MAX
                                                         for n in sizes)


def _non_negative(v) -> bool:
    return is_real(v) and v >= 0


_NON_NEGATIVE_OFF = "a float >= 0 (0 turns it off)"
LOSSES = ("last", "every")
SCHEDULES = ("constant", "cosine")

SETTINGS = {s.name: s for s in (
    Setting("model", None, lambda v: v in MODELS, "one of " + ", ".join(map(repr, MODELS)),
            pa.string(), "the model family", "Part 1 (001), Part 2 (000)", legacy=True),
    Setting("layers", (), lambda v: v == () or _layers(v),
            f"a list of at least two ints from 1 to {UNITS_MAX}", pa.list_(pa.int64()),
            "layer sizes: dense [steps - 1, ..., 1], rnn [1, ..., 1]", "Part 1 (001), Part 2 (000)",
            legacy=True, shown=True, normalise=tuple),
    Setting("lr", 0.01, lambda v: is_real(v) and v > 0, "a float > 0", pa.float64(),
            "learning rate λ", "Part 1 (001)", legacy=True, shown=True, normalise=float),
    Setting("epochs", 1, *int_in(1, EPOCHS_MAX), pa.int64(), "passes over the training series",
            "Part 1 (001)", legacy=True, shown=True,
            backfill=lambda n_rows: n_rows),  # a row an epoch (fewer if the run diverged)
    Setting("init", "scaled", lambda v: v in INITS, "one of " + ", ".join(map(repr, INITS)),
            pa.string(), "\"scaled\": r = sqrt(3 / temp); \"uniform\": ±1; \"identity\" (rnn): "
            "Le et al.; \"torch\" (gru, lstm): PyTorch's default", "Part 2 (000); lecture 003",
            legacy=True, shown=True),
    Setting("shuffle", False, lambda v: isinstance(v, bool), "true or false", pa.bool_(),
            "a fresh order of the training series each epoch, from the run's seed",
            "beyond the course", legacy=True),
    Setting("clip", 0.0, lambda v: is_real(v) and v >= 0, "a float >= 0 (0 turns clipping off)",
            pa.float64(), "clip every BPTT delta to [-clip, clip] as it is computed",
            "Part 2 (000): Clipping", legacy=True, normalise=float),
    Setting("seed", 0, *int_in(0, SEED_MAX), pa.int64(),
            "the run's seed: its init, shuffles and noise (a grid gives `seeds`)", "",
            legacy=True),
    # the lectures' techniques, off by default (not in the run id unless set)
    Setting("clip_norm", 0.0, _non_negative, _NON_NEGATIVE_OFF, pa.float64(),
            "when the update's gradient has L2 norm above this, scale it to this norm",
            "lectures 002, 003: gradient clipping", normalise=float),
    Setting("l2", 0.0, _non_negative, _NON_NEGATIVE_OFF, pa.float64(),
            "weight decay: W ← W(1 − lr·l2) plus the usual update, on weights only, not biases",
            "lecture 004: L2 regularisation", normalise=float),
    Setting("l1", 0.0, _non_negative, _NON_NEGATIVE_OFF, pa.float64(),
            "adds l1·sign(W) to the weights' gradient (not the biases')",
            "lecture 004: L1 regularisation", normalise=float),
    Setting("noise", 0.0, _non_negative, _NON_NEGATIVE_OFF, pa.float64(),
            "Gaussian noise of this standard deviation on the training inputs, fresh every epoch "
            "(targets and test set clean)", "lecture 004: noise augmentation", normalise=float),
    Setting("reverse", False, lambda v: isinstance(v, bool), "true or false", pa.bool_(),
            "feed each series' inputs last value first (training, test and saved model)",
            "lecture 003: reverse the input sequence"),
    Setting("bptt", 0, *int_in(0, STEPS_MAX), pa.int64(),
            "each prediction's error flows back through at most its last k steps "
            "(0: every step; 1: the Elman copy, no backpropagation through time)",
            "lecture 002: BPTT, Elman networks"),
    Setting("loss", "last", lambda v: v in LOSSES, "one of " + ", ".join(map(repr, LOSSES)),
            pa.string(), "\"last\": one prediction after the last step; \"every\": after each "
            "step S the output predicts value S + 1, the loss sums over steps (test MSE: last "
            "value)", "Part 2 (000); lecture 002: many-to-many"),
    Setting("batch", 1, *int_in(1, SERIES_MAX), pa.int64(),
            "series per update, their gradients averaged", "beyond the course"),
    Setting("optimizer", "sgd", lambda v: v in OPTIMIZERS,
            "one of " + ", ".join(map(repr, OPTIMIZERS)), pa.string(),
            "PyTorch's definitions: momentum 0.9; Adam β 0.9/0.999, ε 1e-8, bias-corrected",
            "beyond the course"),
    Setting("schedule", "constant", lambda v: v in SCHEDULES,
            "one of " + ", ".join(map(repr, SCHEDULES)), pa.string(),
            "\"cosine\": epoch e (from 0) trains at lr·½(1 + cos(π e / epochs)), PyTorch's "
            "CosineAnnealingLR stepped each epoch", "beyond the course"),
    Setting("activation", "tanh", lambda v: v in ACTIVATIONS,
            "one of " + ", ".join(map(repr, ACTIVATIONS)), pa.string(),
            "the hidden units' activation (the output unit stays the course's tanh)",
            "lecture 003: identity-initialised ReLU nets"),
    Setting("readout", "tanh", lambda v: v in READOUTS, "one of " + ", ".join(map(repr, READOUTS)),
            pa.string(), "the output unit's activation", "the course's tanh; linear beyond it"),
    Setting("bidirectional", False, lambda v: isinstance(v, bool), "true or false", pa.bool_(),
            "each hidden layer gets a second direction reading the series from its end; the "
            "output unit reads both directions' final states (rnn, gru, lstm)",
            "lecture 004: bidirectional RNNs"),
)}
TUNABLE = [s for s in SETTINGS.values() if s.name not in ("model", "seed")]  # none for naive


@dataclass(frozen=True)
class Conflict:
    """Values of two settings that make no sense together: ``clash(mine, other)`` says when,
    ``why(mine, other)`` why."""

    setting: str
    other: str
    clash: Callable
    why: Callable


def _not_recurrent(_, model) -> bool:
    return not FAMILIES[model].recurrent


CONFLICTS = (
    Conflict("init", "model", lambda init, model: init not in FAMILIES[model].inits,
             lambda _, model: f"the {model} family's inits are "
                              + ", ".join(map(json.dumps, FAMILIES[model].inits))),
    Conflict("activation", "model", lambda a, model: a not in FAMILIES[model].activations,
             lambda _, model: f"the {model} family's hidden units take "
                              + ", ".join(map(json.dumps, FAMILIES[model].activations))),
    Conflict("readout", "model", lambda r, model: r not in FAMILIES[model].readouts,
             lambda _, model: f"the {model} family's output unit takes "
                              + ", ".join(map(json.dumps, FAMILIES[model].readouts))),
    Conflict("loss", "model", lambda loss, model: loss == "every" and _not_recurrent(loss, model),
             lambda *_: "a prediction after every step needs a recurrent model"),
    Conflict("bptt", "model", lambda bptt, model: bptt > 0 and _not_recurrent(bptt, model),
             lambda *_: "only a recurrent model backpropagates through time"),
    Conflict("reverse", "loss", lambda reverse, loss: reverse and loss == "every",
             lambda *_: "fed last value first, a series has no next value to predict after "
                        "each step"),
    Conflict("bidirectional", "model",
             lambda both, model: both and not FAMILIES[model].bidirectional,
             lambda _, model: f"a {model} net reads a series one way only"),
    Conflict("bidirectional", "loss", lambda both, loss: both and loss == "every",
             lambda *_: "reading the series from its end too, each step's output would see the "
                        "value it predicts"),
    Conflict("bidirectional", "bptt", lambda both, bptt: both and bptt > 0,
             lambda *_: "truncated BPTT is defined for one direction; a net reading both ways "
                        "backpropagates through every step"),
)


def check_conflicts(values: dict, owner: str) -> None:
    """Raise the one-line InputError naming both settings of the first conflict in ``values``
    (settings by name; missing ones at their defaults). A baseline has no settings to clash."""
    values = {s.name: s.default for s in SETTINGS.values()} | values
    if not FAMILIES[values["model"]].trainable:
        return
    for c in CONFLICTS:
        mine, other = values[c.setting], values[c.other]
        if c.clash(mine, other):
            raise InputError(f"The '{c.setting}' of {owner} cannot be {json.dumps(mine)} when its "
                             f"'{c.other}' is {json.dumps(other)}: {c.why(mine, other)}.")


def _validate(config) -> None:
    """Check and normalise every field of ``config`` (a TrainConfig being made)."""
    for setting in SETTINGS.values():
        value = getattr(config, setting.name)
        setting.check(value, "TrainConfig")
        object.__setattr__(config, setting.name, setting.normalise(value))
    check_conflicts({name: getattr(config, name) for name in SETTINGS}, "TrainConfig")


def _with_seed(config, seed):
    """``config`` at ``seed``: only the seed is checked, the other settings were when
    ``config`` was made (a grid's seeds share their settings; checking each anew costs more
    than the rest of planning)."""
    SETTINGS["seed"].check(seed, "TrainConfig")
    seeded = object.__new__(type(config))  # a copy, bypassing the frozen __setattr__
    vars(seeded).update(vars(config), seed=seed)
    return seeded


def _check_fits(config, steps: int) -> None:
    """Raise ValueError when the settings cannot run on series of ``steps`` values."""
    family = FAMILIES[config.model]
    if not family.trainable:
        return
    layers = config.layers
    if len(layers) < 2:
        raise ValueError(f"a {config.model} model needs its layers")
    if layers[-1] != 1:
        raise ValueError(f"layers {list(layers)} must be at least two sizes >= 1, ending in 1")
    first = family.input_size(steps)
    if layers[0] != first:
        raise ValueError(f"a {config.model} net on {steps}-step series starts with {first}")
    family.n_params(layers, config.bidirectional)  # a family refuses shapes it cannot take


TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [("model", str)] + [(s.name, type(s.default), dataclasses.field(default=s.default))
                        for s in SETTINGS.values() if s.name != "model"],
    frozen=True,
    namespace={"__post_init__": _validate, "check": _check_fits, "with_seed": _with_seed,
               "__doc__": "One run's settings (see SETTINGS). ``seed`` alone decides its random "
                          "draws. Invalid values raise the grid's one-line InputError."},
)
TrainConfig.__module__ = __name__  # pickled by reference, for worker processes


def run_id_settings(config) -> dict:
    """The settings that decide a run's numbers, as its run id hashes them."""
    family = FAMILIES[config.model]
    if not family.trainable:  # fitted in one pass: its own settings, away from their defaults
        return {"model": config.model} | {
            name: getattr(config, name) for name in family.module.SETTINGS
            if getattr(config, name) != SETTINGS[name].default}
    chosen = {}
    for s in SETTINGS.values():
        value = getattr(config, s.name)
        if s.legacy or value != s.default:
            chosen[s.name] = list(value) if isinstance(value, tuple) else value
    return chosen


def describe(config) -> str:
    """The tuned settings of a ``--dry-run`` line (a baseline's own settings only)."""
    family = FAMILIES[config.model]
    shown = TUNABLE if family.trainable else [SETTINGS[name] for name in family.module.SETTINGS]
    return " ".join(filter(None, (s.describe(getattr(config, s.name)) for s in shown)))


def markdown_table() -> str:
    """The README's table of settings."""
    rows = ["| setting | default | must be | what it does | from |", "|---|---|---|---|---|"]
    for s in SETTINGS.values():
        default = ("required" if s.default is None else "–" if s.default == () else
                   json.dumps(s.default))  # json: true/false, "text", numbers
        rows.append(f"| `{s.name}` | {default} | {s.expected} | {s.help} | {s.source or '–'} |")
    return "\n".join(rows) + "\n"
