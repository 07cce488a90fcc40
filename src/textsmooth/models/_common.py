"""Pieces shared by the reference classifiers: argument checks, padding masks, embeddings, output heads."""

from __future__ import annotations

from typing import Any, TypeAlias

import torch
from torch import Tensor, nn

from textsmooth.errors import ConfigError, InputError

__all__ = [
    "ClassifierOutput",
    "OutputHeads",
    "check_probability",
    "resolve_mask",
    "split_logits",
]

ClassifierOutput: TypeAlias = Tensor | tuple[Tensor, Tensor]
"""``logits`` of shape ``(batch, n_classes)``, or ``(logits, aux_logits)`` for a model built with
``aux_head=True``."""


def split_logits(output: ClassifierOutput) -> tuple[Tensor, Tensor | None]:
    """``(logits, aux_logits)`` of a classifier's output; ``aux_logits`` is ``None`` without a second head.

    Lets a training loop handle models built with and without ``aux_head`` the same way.

    Example:
        >>> import torch
        >>> logits, aux = split_logits(torch.zeros(2, 3))
        >>> logits.shape, aux
        (torch.Size([2, 3]), None)
    """
    if isinstance(output, tuple):
        logits, aux = output
        return logits, aux
    return output, None


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float in ``[0, 1)``, else ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}", column=name)
    return float(value)


def check_padding_idx(padding_idx: Any, vocab_size: int) -> int:
    """An explicit padding id inside the vocabulary (never a silent default)."""
    if padding_idx is None:
        raise ConfigError(
            "padding_idx is required",
            column="padding_idx",
            hint="pass the vocabulary's pad id, e.g. vocab.pad_id",
        )
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab_size:
        raise ConfigError(
            f"padding_idx must be an id in [0, {vocab_size}), got {padding_idx!r}", column="padding_idx"
        )
    return int(padding_idx)


def make_embedding(
    vocab_size: int,
    embedding_dim: int,
    padding_idx: int,
    embeddings: Tensor | Any | None,
    freeze: bool,
) -> nn.Embedding:
    """An ``nn.Embedding``, randomly initialised (N(0, 1), padding row 0) or copied from ``embeddings``."""
    if embeddings is None:
        return nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
    weight = torch.as_tensor(embeddings, dtype=torch.float32)
    if weight.shape != (vocab_size, embedding_dim):
        raise InputError(
            f"embeddings has shape {tuple(weight.shape)}, expected ({vocab_size}, {embedding_dim})",
            column="embeddings",
        )
    return nn.Embedding.from_pretrained(weight.clone(), freeze=freeze, padding_idx=padding_idx)


def resolve_mask(input_ids: Tensor, attention_mask: Tensor | None, padding_idx: int | None) -> Tensor:
    """A boolean ``(batch, length)`` mask of real tokens, checked to be right-padded.

    ``attention_mask=None`` means "every id that is not ``padding_idx`` is a token" (all tokens when
    ``padding_idx`` is ``None``).
    """
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, Tensor) else type(input_ids).__name__
        raise InputError(f"input_ids must be a 2-D (batch, length) tensor, got {shape}", column="input_ids")
    if input_ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise InputError(f"input_ids must be integer token ids, got {input_ids.dtype}", column="input_ids")
    if attention_mask is None:
        if padding_idx is None:
            return torch.ones_like(input_ids, dtype=torch.bool)
        mask = input_ids != padding_idx
    else:
        if attention_mask.shape != input_ids.shape:
            raise InputError(
                f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                f"{tuple(input_ids.shape)}",
                column="attention_mask",
            )
        mask = attention_mask.bool()
    if mask.shape[1] > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise InputError(
            "attention_mask must be right-padded (ones, then zeros, in every row)", column="attention_mask"
        )
    return mask


class OutputHeads(nn.Module):
    """Dropout, then a linear classifier; optionally a second linear head on the same features.

    The second head serves losses that need a separate output, such as the KWLS authors' code, which puts
    its soft-label loss on a second head (``textsmooth.losses.kwls_loss(..., aux_logits=...)``).
    """

    def __init__(
        self, in_features: int, n_classes: int, dropout: float, aux_head: bool, n_aux_classes: int | None
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.n_aux_classes = (n_aux_classes or n_classes) if aux_head else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_features, n_classes)
        self.aux_classifier = nn.Linear(in_features, n_aux_classes or n_classes) if aux_head else None

    def forward(self, features: Tensor) -> ClassifierOutput:
        hidden = self.dropout(features)
        logits = self.classifier(hidden)
        if self.aux_classifier is None:
            return logits
        return logits, self.aux_classifier(hidden)
