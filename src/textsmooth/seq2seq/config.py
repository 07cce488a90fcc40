"""``Seq2SeqConfig``: every hyper-parameter of one sequence-to-sequence training run.

Methods (:data:`METHODS`; the semantic label smoothing paper's Table 2 rows and ablations):

* ``none``: maximum likelihood, ``-log p(y | x)``;
* ``token-ls``: uniform token label smoothing with ``label_smoothing`` (default 0.1 for this method);
* ``within-batch``: loss (2) with ``R(y)`` = the other targets of the minibatch (Guo et al. 2018);
* ``token-swap``: loss (2) over sampled token-swap copies of ``y`` (Elbayad et al. 2018), from a table;
* ``semantic``: loss (2) over semantic neighbours re-ranked by BLEU (the paper's method), from a table;
* ``semantic-no-rerank``: the same neighbours ordered by cosine only (the "no BLEU pruning" ablation).

Word-similarity token targets (the similarity-based reconstruction loss poster) replace the token
cross-entropy: ``similarity-soft`` (cross-entropy to the normalised top-N similar tokens of the gold token),
``weighted-similarity`` and ``weighted-ce`` (raw cosines), over a
:class:`~textsmooth.similarity.SimilarityTable` of the target vocabulary with ``similarity_top_n`` tokens per
row (built from the training targets when none is given: :mod:`textsmooth.seq2seq.similarity`).

Every sequence-level method combines with token label smoothing (``label_smoothing > 0``).
``related_k`` is ``k'`` (related targets kept per target, best first); ``related_per_step`` is ``m``
(related targets sampled per example and step; ``None``: all ``k'``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, get_args

from textsmooth._params import ConfigMixin, check_int
from textsmooth.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "METHODS",
    "RUNTIME_FIELDS",
    "TABLE_METHODS",
    "Architecture",
    "Method",
    "Seq2SeqConfig",
]

Architecture = Literal["transformer", "lstm"]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
"""``transformer``: a Marian model (:func:`~textsmooth.seq2seq.model.build_seq2seq_model`); ``lstm``: an
LSTM encoder-decoder with a sentence-vector bottleneck (:mod:`textsmooth.seq2seq.lstm`)."""

Method = Literal[
    "none",
    "token-ls",
    "within-batch",
    "token-swap",
    "semantic",
    "semantic-no-rerank",
    "similarity-soft",
    "weighted-similarity",
    "weighted-ce",
]
METHODS: tuple[str, ...] = get_args(Method)
TABLE_METHODS: tuple[str, ...] = ("token-swap", "semantic", "semantic-no-rerank")
"""Methods whose related targets come from a :class:`~textsmooth.sequence.NeighborTable`."""

_INTS = (
    "d_model",
    "encoder_layers",
    "decoder_layers",
    "heads",
    "ffn_dim",
    "vocab_size",
    "min_frequency",
    "max_length",
    "epochs",
    "batch_size",
    "warmup_steps",
    "patience",
    "beam_size",
    "val_beam_size",
    "eval_batch_size",
    "related_k",
    "seed",
    "similarity_top_n",
)
# name: (low, high, low is open)
_NUMBERS: dict[str, tuple[float, float | None, bool]] = {
    "alpha": (0.0, None, False),
    "label_smoothing": (0.0, 1.0, False),
    "dropout": (0.0, 1.0, False),
    "lr": (0.0, None, True),
    "weight_decay": (0.0, None, False),
    "clip_norm": (0.0, None, False),
    "length_penalty": (-10.0, 10.0, False),
    "min_delta": (0.0, None, False),
}
_HIGH_OPEN = ("label_smoothing", "dropout")
_ADDED_LATER: dict[str, object] = {
    "architecture": "transformer",
    "length_buckets": False,
    "precision": "fp32",
    "source_lang": None,
    "target_lang": None,
}
"""Fields added after runs were checkpointed: left out of the fingerprint at these (default) values, so
the checkpoints of older runs still resume."""
_BEFORE_TOP_N = {"similarity_top_n": 5}
"""Checkpoints written before ``similarity_top_n`` existed hashed without it; at its default they still
resume (:meth:`Seq2SeqConfig.accepted_fingerprints`)."""
RUNTIME_FIELDS = ("num_threads", "device", "checkpoint_every", "output_chunk_size")
"""Fields that change how a run executes, not what it computes (up to floating-point rounding, as the
thread count): a checkpoint resumes under other values, and a recipe's finished result stays valid
(``experiment run``)."""


@dataclass
class Seq2SeqConfig(ConfigMixin):
    """Hyper-parameters of one seq2seq training run; unknown fields and bad values are :class:`ConfigError`.

    Method: ``method`` (module docstring), ``alpha`` (weight of the related targets in loss (2); the
    paper's grid is 0.1 / 0.01 / 0.001), ``label_smoothing`` (token LS epsilon; ``None``: 0.1 for
    ``token-ls``, else 0), ``related_k`` (k'), ``related_per_step`` (m),
    ``similarity_top_n`` (N of the word-similarity methods, the token itself included; >= 2).

    Model: ``model_path`` (a local Hugging Face seq2seq checkpoint and its tokenizer; ``None``: a new
    model of ``architecture``: ``transformer``, a Marian model of ``d_model``, ``encoder_layers``,
    ``decoder_layers``, ``heads``, ``ffn_dim``, ``dropout``; ``lstm``, LSTMs of ``d_model`` units and
    ``encoder_layers`` layers per side, ``heads`` and ``ffn_dim`` unused), vocabulary ``vocab_kind``
    (bpe, unigram, word), ``vocab_size``, ``joint_vocab``,
    ``min_frequency``; ``max_length`` (subword tokens per sentence, longer ones are truncated);
    ``source_lang`` / ``target_lang``: the language codes of a multilingual ``model_path`` checkpoint
    (mBART-50, M2M100, NLLB: e.g. ``deu_Latn`` / ``eng_Latn``; ``None``: its tokenizer's saved ones;
    :mod:`textsmooth.seq2seq.pretrained`).

    Optimisation: ``epochs``, ``batch_size`` (sentence pairs; ``length_buckets``: batches of similar
    lengths, less padding: :func:`~textsmooth.seq2seq.trainer.epoch_batches`), ``lr`` (peak, AdamW,
    linear warm-up over ``warmup_steps`` then inverse square root), ``weight_decay``, ``clip_norm``
    (0: none), early stopping on validation BLEU (``patience`` epochs, ``min_delta`` BLEU points), ``seed``.

    Decoding: ``beam_size`` and ``length_penalty`` for the test set, ``val_beam_size`` for model
    selection (greedy by default: cheaper, and it ranks epochs alike), ``eval_batch_size``.

    Precision: ``precision`` (:data:`textsmooth.training.config.PRECISIONS`): ``bf16`` runs the training
    forward passes under ``torch.autocast`` to bfloat16 on the run's device (faster on GPUs and CPUs with
    bfloat16 units; the logits are cast to float32 before the loss). It changes what a run computes, so it
    is part of the fingerprint (``fp32``, the default, is left out: runs from before the field resume).

    Execution: ``device``, ``num_threads`` (torch CPU threads), ``checkpoint_every`` (also checkpoint every
    N optimiser steps inside an epoch; ``None``: at the end of each epoch only), ``output_chunk_size``
    (fuse the output projection with the loss, this many decoder positions at a time, so the
    ``(sequences, T, V)`` logits are never held: less memory with a large vocabulary or ``m``;
    transformer models only, not the word-similarity methods; ``None``: the model's logits;
    :mod:`textsmooth.seq2seq.objective`).
    """

    method: str = "none"
    alpha: float = 0.1
    label_smoothing: float | None = None
    related_k: int = 5
    related_per_step: int | None = None
    similarity_top_n: int = 5
    model_path: str | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    architecture: str = "transformer"
    d_model: int = 256
    encoder_layers: int = 3
    decoder_layers: int = 3
    heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    vocab_kind: str = "bpe"
    vocab_size: int = 8000
    joint_vocab: bool = True
    min_frequency: int = 2
    max_length: int = 64
    epochs: int = 10
    batch_size: int = 64
    length_buckets: bool = False
    lr: float = 5e-4
    warmup_steps: int = 1000
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    patience: int = 3
    min_delta: float = 0.0
    beam_size: int = 5
    val_beam_size: int = 1
    length_penalty: float = 1.0
    eval_batch_size: int = 128
    seed: int = 0
    precision: str = "fp32"
    device: str = "cpu"
    num_threads: int | None = None
    checkpoint_every: int | None = None
    output_chunk_size: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"unknown method {self.method!r}", column="method", hint=f"use one of {', '.join(METHODS)}"
            )
        for name in _INTS:
            low = {"warmup_steps": 0, "seed": 0, "similarity_top_n": 2}.get(name, 1)
            setattr(self, name, check_int(name, getattr(self, name), low=low))
        for name in ("related_per_step", "num_threads", "checkpoint_every", "output_chunk_size"):
            setattr(self, name, check_int(name, getattr(self, name), allow_none=True))
        if self.label_smoothing is None:
            self.label_smoothing = 0.1 if self.method == "token-ls" else 0.0
        for name, (low, high, low_open) in _NUMBERS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, got {value!r}", column=name)
            too_low = value <= low if low_open else value < low
            too_high = high is not None and (value >= high if name in _HIGH_OPEN else value > high)
            if too_low or too_high:
                bounds = f"{'(' if low_open else '['}{low:g}, {'inf' if high is None else f'{high:g}'}"
                bounds += ")" if high is None or name in _HIGH_OPEN else "]"
                raise ConfigError(f"{name} must be in {bounds}, got {value!r}", column=name)
            setattr(self, name, float(value))
        if self.uses_similarity and self.label_smoothing > 0:
            raise ConfigError(
                f"method {self.method} replaces the token cross-entropy; it does not combine with "
                "label_smoothing",
                column="label_smoothing",
            )
        if self.method == "token-ls" and self.label_smoothing == 0:
            raise ConfigError("method token-ls needs label_smoothing > 0", column="label_smoothing")
        if self.d_model % self.heads:
            raise ConfigError(f"heads ({self.heads}) must divide d_model ({self.d_model})", column="heads")
        if self.vocab_kind not in ("bpe", "unigram", "word"):
            raise ConfigError(
                f"unknown vocab_kind {self.vocab_kind!r}", column="vocab_kind", hint="bpe, unigram or word"
            )
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {self.architecture!r}",
                column="architecture",
                hint=f"use one of {', '.join(ARCHITECTURES)}",
            )
        if self.architecture == "lstm" and self.encoder_layers != self.decoder_layers:
            raise ConfigError(
                f"an lstm model has as many decoder as encoder layers, got {self.encoder_layers} and "
                f"{self.decoder_layers}",
                column="decoder_layers",
            )
        if self.architecture == "lstm" and self.model_path is not None:
            raise ConfigError(
                "model_path loads a checkpoint with its own architecture; leave architecture at transformer",
                column="architecture",
            )
        if self.output_chunk_size is not None and (self.architecture == "lstm" or self.uses_similarity):
            what = "an lstm model" if self.architecture == "lstm" else f"method {self.method}"
            raise ConfigError(
                f"the fused output projection does not apply to {what} (it needs a Transformer's "
                "lm_head and the cross-entropy token loss)",
                column="output_chunk_size",
            )
        if not isinstance(self.length_buckets, bool):
            raise ConfigError(
                f"length_buckets must be true or false, got {self.length_buckets!r}", column="length_buckets"
            )
        if not isinstance(self.joint_vocab, bool):
            raise ConfigError(
                f"joint_vocab must be true or false, got {self.joint_vocab!r}", column="joint_vocab"
            )
        if self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2, got {self.max_length}", column="max_length")
        if self.model_path is not None and not isinstance(self.model_path, str):
            self.model_path = str(self.model_path)
        for name in ("source_lang", "target_lang"):
            code = getattr(self, name)
            if code is not None and (not isinstance(code, str) or not code.strip()):
                raise ConfigError(f"{name} must be a language code, got {code!r}", column=name)
            if code is not None and self.model_path is None:
                raise ConfigError(
                    f"{name} selects a language of a multilingual checkpoint; it needs model_path",
                    column=name,
                    hint="a new model's vocabulary has no language codes: leave it unset",
                )
        from textsmooth.training.config import check_device_name, check_precision

        check_device_name(self.device)
        check_precision(self.precision)

    @property
    def uses_table(self) -> bool:
        return self.method in TABLE_METHODS

    @property
    def uses_similarity(self) -> bool:
        return self.method in ("similarity-soft", "weighted-similarity", "weighted-ce")

    @property
    def uses_related(self) -> bool:
        return self.uses_table or self.method == "within-batch"

    def fingerprint(self) -> str:
        """Short hash of the fields that change what a run computes (a checkpoint resumes only under the
        same one; :data:`RUNTIME_FIELDS` are left out)."""
        values = {
            k: v
            for k, v in self.to_dict().items()
            if k not in RUNTIME_FIELDS and not (k in _ADDED_LATER and v == _ADDED_LATER[k])
        }
        return self.hash_values(values)

    def accepted_fingerprints(self) -> set[str]:
        """The fingerprints a checkpoint of this configuration may carry: :meth:`fingerprint`, and the one
        written before ``similarity_top_n`` existed when it is at its default."""
        accepted = {self.fingerprint()}
        if all(getattr(self, k) == v for k, v in _BEFORE_TOP_N.items()):
            values = {
                k: v
                for k, v in self.to_dict().items()
                if k not in RUNTIME_FIELDS
                and k not in _BEFORE_TOP_N
                and not (k in _ADDED_LATER and v == _ADDED_LATER[k])
            }
            accepted.add(self.hash_values(values))
        return accepted
