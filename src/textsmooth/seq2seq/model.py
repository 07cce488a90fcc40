"""Sequence-to-sequence models: a compact Marian Transformer built from a config, or a local checkpoint.

No pretrained translation weights exist offline, so :func:`build_seq2seq_model` initialises a
``transformers.MarianMTModel`` at random from a :class:`ModelShape` (default: d_model 256, 3 + 3 layers,
4 heads, FFN 1024, about 7.6M parameters with an 8k joint vocabulary, embeddings shared by encoder,
decoder and output layer). :func:`load_seq2seq_model` loads any local Hugging Face encoder-decoder
checkpoint (Marian, T5, BART ...) so a user can fine-tune a real pretrained model the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textsmooth._params import check_int
from textsmooth.errors import ArtifactError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.vocab import SubwordVocab

__all__ = [
    "ModelShape",
    "build_seq2seq_model",
    "count_parameters",
    "load_seq2seq_model",
    "position_limit",
    "quiet_transformers",
]


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' own progress bars (weights loading, shard writing) inside the block."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


@dataclass(frozen=True)
class ModelShape:
    """Size of a Marian Transformer (:func:`build_seq2seq_model`).

    Attributes:
        d_model: hidden size. encoder_layers, decoder_layers: layers per side. heads: attention heads
        (must divide ``d_model``). ffn_dim: feed-forward size. dropout: dropout of every sub-layer
        (attention and activations too). max_positions: the longest sequence the model can take.
    """

    d_model: int = 256
    encoder_layers: int = 3
    decoder_layers: int = 3
    heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_positions: int = 256

    def __post_init__(self) -> None:
        for name in ("d_model", "encoder_layers", "decoder_layers", "heads", "ffn_dim", "max_positions"):
            check_int(name, getattr(self, name))
        if self.d_model % self.heads:
            raise ConfigError(f"heads ({self.heads}) must divide d_model ({self.d_model})", column="heads")
        if not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}", column="dropout")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_seq2seq_model(vocab: SubwordVocab, shape: ModelShape | None = None, *, seed: int = 0) -> Any:
    """A randomly initialised ``MarianMTModel`` for ``vocab`` (seeded: the same seed, the same weights).

    A joint vocabulary shares one embedding matrix between encoder, decoder and output layer; per-side
    vocabularies get separate encoder and decoder embeddings (the output layer tied to the decoder's).
    """
    import torch

    from textsmooth._extras import require

    require("transformers", extra="seq2seq", feature="build_seq2seq_model")
    from transformers import MarianConfig, MarianMTModel

    shape = shape or ModelShape()
    config = MarianConfig(
        vocab_size=vocab.source_vocab_size,
        decoder_vocab_size=vocab.target_vocab_size,
        share_encoder_decoder_embeddings=vocab.joint,
        d_model=shape.d_model,
        encoder_layers=shape.encoder_layers,
        decoder_layers=shape.decoder_layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn_dim,
        decoder_ffn_dim=shape.ffn_dim,
        dropout=shape.dropout,
        attention_dropout=shape.dropout,
        activation_dropout=shape.dropout,
        max_position_embeddings=shape.max_positions,
        pad_token_id=vocab.pad_id,
        eos_token_id=vocab.eos_id,
        decoder_start_token_id=vocab.pad_id,
        forced_eos_token_id=vocab.eos_id,
        scale_embedding=True,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(
        devices=[]
    ):  # the model's initialisation does not move the caller's random stream
        torch.manual_seed(seed)
        model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[vocab.pad_id]]  # never generate padding mid-sentence
    return model


def count_parameters(model: Any) -> int:
    """Distinct trainable parameters (a tied embedding counts once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


_POSITION_FIELDS = (
    "max_position_embeddings",  # Marian, BART, mBART, Pegasus, ProphetNet, ours
    "max_encoder_position_embeddings",  # LED: long sources ...
    "max_decoder_position_embeddings",  # ... short targets
    "n_positions",  # GPT-2-style configurations
)


def position_limit(config: Any) -> tuple[int, str] | None:
    """The fewest token positions a model configuration takes, and the field that says so.

    The smallest positive integer among ``max_position_embeddings``, ``max_encoder_position_embeddings``,
    ``max_decoder_position_embeddings`` and ``n_positions``; ``None`` where the model has no learned or
    fixed positions (T5's relative attention). ``max_length`` (source tokens kept and the longest target)
    must not exceed it: one number bounds both sides here.
    """
    limits = [
        (value, name)
        for name in _POSITION_FIELDS
        if isinstance(value := getattr(config, name, None), int) and not isinstance(value, bool) and value > 0
    ]
    return min(limits) if limits else None


def load_seq2seq_model(path: str | Path) -> Any:
    """A local Hugging Face encoder-decoder checkpoint (``AutoModelForSeq2SeqLM``), loaded offline.

    Raises:
        ArtifactError: the folder is missing, holds no ``config.json``, or is not an encoder-decoder
            model (an encoder-only or decoder-only checkpoint).
    """
    from textsmooth._extras import require

    require("transformers", extra="seq2seq", feature="load_seq2seq_model")
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    import textsmooth.seq2seq.lstm  # noqa: F401  (registers the LSTM model type with the Auto classes)

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ArtifactError(
            "not a Hugging Face model folder (no config.json)", path=path, hint="pass a local seq2seq model"
        )
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read the model configuration ({exc})", path=path) from exc
    if not getattr(config, "is_encoder_decoder", False):
        raise ArtifactError(
            f"not a sequence-to-sequence model (model type {config.model_type!r} is not an encoder-decoder)",
            path=path,
            hint="use a Marian, T5, BART or other encoder-decoder checkpoint",
        )
    try:
        with quiet_transformers():
            return AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot load the model weights ({exc})", path=path) from exc
