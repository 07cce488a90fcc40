"""The configuration of one classifier training run (a recipe row, a CLI call)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from textsmooth.errors import ConfigError
from textsmooth.training.objectives import KWLS_VARIANTS, METHODS

__all__ = ["MODELS", "SELECTION_METRICS", "TrainConfig"]

MODELS = ("textcnn", "bilstm", "minilm")
SELECTION_METRICS = ("macro_f1", "accuracy", "balanced_accuracy", "nll")


@dataclass
class TrainConfig:
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
    ``num_threads`` (torch CPU threads for the run, restored afterwards; ``None`` keeps the process's).

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
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ConfigError(f"patience must be an integer >= 1, got {self.patience!r}", column="patience")
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

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> TrainConfig:
        """Build from a mapping (a recipe); unknown keys raise :class:`ConfigError` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown field(s) {', '.join(unknown)} in {where}",
                hint=f"known fields: {', '.join(sorted(known))}",
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """Short hash of the fields that change what a run computes: a checkpoint is resumed only by the
        same configuration.

        ``num_threads`` is left out (an execution setting), and so is ``min_delta`` at its default ``0.0``,
        so configurations written before that field existed keep their fingerprint.
        """
        values = self.to_dict()
        values.pop("num_threads")
        if values["min_delta"] == 0:
            values.pop("min_delta")
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
