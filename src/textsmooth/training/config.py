"""The configuration of one classifier training run (a recipe row, a CLI call)."""

from __future__ import annotations

import math
import numbers
import os
import re
from dataclasses import dataclass, field
from typing import Any

from textsmooth._params import ConfigMixin, check_int
from textsmooth.errors import ConfigError
from textsmooth.training.objectives import KWLS_VARIANTS, METHODS

__all__ = ["MODELS", "PRECISIONS", "SELECTION_METRICS", "TrainConfig", "check_device_name", "check_precision"]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
"""Training precision of ``TrainConfig`` and ``Seq2SeqConfig``: ``fp32`` (everything in float32) or
``bf16`` (the training forward passes under ``torch.autocast`` to bfloat16 on the run's device; weights,
optimiser and losses in float32, evaluation in float32)."""

MODELS = ("textcnn", "bilstm", "minilm")
_INT_FIELDS = (
    "embed_dim",
    "hidden_dim",
    "n_filters",
    "max_length",
    "min_freq",
    "max_vocab",
    "epochs",
    "batch_size",
    "patience",
    "seed",
)
# name: (lower bound, upper bound or None, lower bound excluded)
_NUMBER_FIELDS: dict[str, tuple[float, float | None, bool]] = {
    "epsilon": (0.0, 1.0, False),
    "alpha": (0.0, None, False),
    "beta": (0.0, None, False),
    "flip_rate": (0.0, 1.0, False),
    "soft_temperature": (0.0, None, True),
    "k1": (0.0, None, True),
    "b": (0.0, 1.0, False),
    "k2": (0.0, None, True),
    "lr": (0.0, None, True),
    "weight_decay": (0.0, None, False),
}
_DEVICE = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_precision(precision: Any) -> None:
    """Raise :class:`ConfigError` (column ``precision``) unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown precision {precision!r}", column="precision", hint=f"use one of {', '.join(PRECISIONS)}"
        )


def check_device_name(device: str, *, option: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``device`` is written like a torch device (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``); whether it is present on this machine is checked where a model is placed."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(
            f"unknown device {device!r}",
            column=None if option else "device",
            option=option,
            hint="use cpu, cuda, cuda:N or mps",
        )


SELECTION_METRICS = ("macro_f1", "accuracy", "balanced_accuracy", "nll")


@dataclass
class TrainConfig(ConfigMixin):
    """Hyper-parameters of one training run. Every field has a default; unknown fields are errors.

    Model: ``model`` (``textcnn``, ``bilstm`` or ``minilm``: the offline all-MiniLM-L6-v2 encoder fine-tuned),
    ``model_path`` (a local Hugging Face encoder for ``minilm``), ``embed_dim``, ``hidden_dim``,
    ``max_length`` (tokens per text), ``min_freq`` and ``max_vocab`` (word vocabulary of TextCNN/BiLSTM),
    ``n_filters`` (TextCNN feature maps per filter size; Kim 2014 uses 100), ``hidden_dim`` (BiLSTM).

    Method: ``method`` (see :data:`textsmooth.training.objectives.METHODS`), ``epsilon`` (classic, prior),
    ``alpha`` and ``kwls_variant`` (tfidf, kwls, distill), ``beta`` (confidence-penalty), ``flip_rate`` and
    ``flip_kind`` (flip), ``soft_temperature`` (temperature of the KWLS/TF-IDF softmax or of the teacher),
    ``k1``, ``b``, ``k2`` (KWLS), ``tokenizer`` (of the soft-label generator).

    Optimisation: ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``patience`` (early stopping, in
    epochs without improvement of ``select_by`` on the dev split), ``min_delta`` (an epoch improves only if
    its dev ``select_by`` beats the best so far by *more than* ``min_delta``, in the metric's own units:
    ``0.001`` is 0.1 point of macro-F1; ``0.0``, the default, counts any gain), ``select_by`` (``macro_f1`` by
    default: accuracy is useless for early stopping on unbalanced dev splits), ``seed``, ``device``,
    ``num_threads`` (torch CPU threads for the run, restored afterwards; ``None`` keeps the process's),
    ``precision`` (:data:`PRECISIONS`; ``bf16``: the training forward passes under bfloat16 autocast, the
    logits cast to float32 before the objective).

    :meth:`fingerprint` ignores ``num_threads`` (how a run is executed, not what it computes), so a run
    checkpointed with one thread count resumes with another.
    """

    model: str = "textcnn"
    model_path: str | None = None
    embed_dim: int = 128
    hidden_dim: int = 128
    n_filters: int = 100
    max_length: int = 256
    min_freq: int = 2
    max_vocab: int = 50_000
    method: str = "none"
    epsilon: float = 0.1
    alpha: float = 1.0
    kwls_variant: str = "eq9"
    beta: float = 0.1
    flip_rate: float = 0.0
    flip_kind: str = "symmetric"
    soft_temperature: float = 1.0
    k1: float = 2.0
    b: float = 0.75
    k2: float = 2.0
    tokenizer: str = "words"
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 2
    min_delta: float = 0.0
    select_by: str = "macro_f1"
    seed: int = 0
    device: str = "cpu"
    num_threads: int | None = None
    precision: str = "fp32"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_types()
        if self.model not in MODELS:
            raise ConfigError(
                f"unknown model {self.model!r}", column="model", hint=f"use one of {', '.join(MODELS)}"
            )
        if self.method not in METHODS:
            raise ConfigError(
                f"unknown method {self.method!r}", column="method", hint=f"use one of {', '.join(METHODS)}"
            )
        if self.kwls_variant not in KWLS_VARIANTS:
            raise ConfigError(f"unknown kwls_variant {self.kwls_variant!r}", column="kwls_variant")
        if self.select_by not in SELECTION_METRICS:
            raise ConfigError(
                f"unknown select_by {self.select_by!r}", hint=f"use one of {', '.join(SELECTION_METRICS)}"
            )
        for name in ("epochs", "batch_size", "max_length", "embed_dim", "hidden_dim", "n_filters"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", column=name)
        check_int("patience", self.patience)
        if (
            isinstance(self.min_delta, bool)
            or not isinstance(self.min_delta, int | float)
            or not math.isfinite(self.min_delta)
            or self.min_delta < 0
        ):
            raise ConfigError(
                f"min_delta must be a number >= 0, got {self.min_delta!r}",
                column="min_delta",
                hint="it is in the units of select_by, e.g. 0.001 for 0.1 point of macro-F1",
            )
        if not 0 <= self.flip_rate <= 1:
            raise ConfigError(f"flip_rate must be in [0, 1], got {self.flip_rate}", column="flip_rate")
        if self.method == "flip" and self.flip_rate == 0:
            raise ConfigError("method 'flip' needs flip_rate > 0", column="flip_rate")

    def _check_types(self) -> None:
        """Every field has the type and range it is used with, so that a recipe typo (``epochs: 1.5``,
        ``lr: fast``, ``lr: 1e-3``, which YAML reads as a string) is a ``ConfigError`` naming the field
        before anything trains, not a traceback in the middle of a run."""
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ConfigError(f"{name} must be an integer, got {value!r}", column=name)
            if type(value) is not int:  # a numpy integer: JSON-ready, same fingerprint as the int
                setattr(self, name, int(value))
        self.num_threads = check_int("num_threads", self.num_threads, allow_none=True)
        for name, (low, high, low_open) in _NUMBER_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                hint = None
                if isinstance(value, str) and _looks_numeric(value):
                    hint = f"YAML reads {value} as text: write it with a dot and a signed exponent (1.0e-3)"
                raise ConfigError(f"{name} must be a number, got {value!r}", column=name, hint=hint)
            if type(value) not in (int, float):  # a numpy number (Python ints stay ints: same fingerprint)
                value = float(value)
                setattr(self, name, value)
            too_low = value <= low if low_open else value < low
            if too_low or (high is not None and value > high):
                bounds = f"{'(' if low_open else '['}{low:g}, {'inf)' if high is None else f'{high:g}]'}"
                raise ConfigError(f"{name} must be in {bounds}, got {value!r}", column=name)
        for name in ("min_freq", "max_vocab"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", column=name)
        for name in ("model", "method", "kwls_variant", "select_by", "tokenizer", "device"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a string, got {getattr(self, name)!r}", column=name)
        if isinstance(self.model_path, os.PathLike):
            self.model_path = os.fspath(self.model_path)
        if self.model_path is not None and not isinstance(self.model_path, str):
            raise ConfigError(f"model_path must be a path, got {self.model_path!r}", column="model_path")
        if not isinstance(self.extra, dict):
            raise ConfigError(f"extra must be a mapping, got {self.extra!r}", column="extra")
        check_device_name(self.device)
        check_precision(self.precision)

    def fingerprint(self) -> str:
        """Short hash of the fields that change what a run computes: a checkpoint is resumed only by the
        same configuration.

        ``num_threads`` is left out (an execution setting), and so are ``min_delta`` at its default ``0.0``
        and ``precision`` at ``fp32``, so configurations written before those fields existed keep their
        fingerprint.
        """
        values = self.to_dict()
        values.pop("num_threads")
        if values["min_delta"] == 0:
            values.pop("min_delta")
        if values["precision"] == "fp32":
            values.pop("precision")
        return self.hash_values(values)
