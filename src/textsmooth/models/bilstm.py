"""Bidirectional LSTM classifier on packed sequences, with mean, max or last-state pooling."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textsmooth._params import check_int
from textsmooth.errors import ConfigError
from textsmooth.models._common import (
    ClassifierOutput,
    OutputHeads,
    check_padding_idx,
    check_probability,
    make_embedding,
    resolve_mask,
)

__all__ = ["BiLSTM", "Pooling"]

Pooling = Literal["mean", "max", "last"]


class BiLSTM(nn.Module):
    """Embeddings, a bidirectional LSTM, pooling over time, dropout and a linear classifier.

    With forward and backward hidden states ``→h_t`` and ``←h_t`` over the ``L`` real tokens and
    ``h_t = [→h_t; ←h_t]`` (size ``2 * hidden_size``), the text vector is

    * ``"mean"`` (default): ``(1/L) sum_{t<=L} h_t``;
    * ``"max"``: element-wise ``max_{t<=L} h_t``;
    * ``"last"``: ``[→h_L; ←h_1]``, the final state of each direction (each has read the whole text).

    Sequences are packed (``pack_padded_sequence``), so the LSTM never reads padding and padding never
    changes the output. A row with no real token (all-zero mask) gets a zero text vector, so its logits are
    the output bias.

    Args:
        vocab_size: number of token ids (``len(vocab)``).
        n_classes: number of output classes.
        padding_idx: id of the padding token (required, e.g. ``vocab.pad_id``).
        embedding_dim: word vector size.
        hidden_size: LSTM state size per direction.
        num_layers: stacked LSTM layers (dropout between them when more than one).
        pooling: ``"mean"``, ``"max"`` or ``"last"``.
        dropout: dropout rate on the embeddings, between LSTM layers and on the pooled vector.
        aux_head: add a second linear head; :meth:`forward` then returns ``(logits, aux_logits)``.
        n_aux_classes: output size of the second head (default ``n_classes``).
        embeddings: optional ``(vocab_size, embedding_dim)`` pretrained vectors.
        freeze_embeddings: keep ``embeddings`` fixed.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = BiLSTM(50, 2, padding_idx=0, embedding_dim=8, hidden_size=6).eval()
        >>> ids = torch.tensor([[5, 6, 0], [7, 8, 9]])
        >>> model(ids, ids != 0).shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        padding_idx: int,
        embedding_dim: int = 300,
        hidden_size: int = 150,
        num_layers: int = 1,
        pooling: Pooling = "mean",
        dropout: float = 0.5,
        aux_head: bool = False,
        n_aux_classes: int | None = None,
        embeddings: Tensor | Any | None = None,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        vocab_size = check_int("vocab_size", vocab_size)
        n_classes = check_int("n_classes", n_classes)
        padding_idx = check_padding_idx(padding_idx, vocab_size)
        embedding_dim = check_int("embedding_dim", embedding_dim)
        hidden_size = check_int("hidden_size", hidden_size)
        num_layers = check_int("num_layers", num_layers)
        dropout = check_probability(dropout, "dropout")
        if pooling not in ("mean", "max", "last"):
            raise ConfigError(f"pooling must be 'mean', 'max' or 'last', got {pooling!r}", column="pooling")
        if n_aux_classes is not None:
            n_aux_classes = check_int("n_aux_classes", n_aux_classes)
        self._config = {
            "vocab_size": vocab_size,
            "n_classes": n_classes,
            "padding_idx": padding_idx,
            "embedding_dim": embedding_dim,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "pooling": pooling,
            "dropout": dropout,
            "aux_head": bool(aux_head),
            "n_aux_classes": n_aux_classes,
            "freeze_embeddings": bool(freeze_embeddings),
        }
        self.padding_idx = padding_idx
        self.pooling = pooling
        self.embedding = make_embedding(vocab_size, embedding_dim, padding_idx, embeddings, freeze_embeddings)
        self.embedding_dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.n_features = 2 * hidden_size
        self.heads = OutputHeads(self.n_features, n_classes, dropout, bool(aux_head), n_aux_classes)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready) to rebuild the model with ``BiLSTM(**config)``."""
        return dict(self._config)

    def features(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Pooled text vectors ``(batch, 2 * hidden_size)`` before dropout and the heads."""
        mask = resolve_mask(input_ids, attention_mask, self.padding_idx)
        lengths = mask.sum(dim=1)
        embedded = self.embedding_dropout(self.embedding(input_ids))
        # pack_padded_sequence needs lengths >= 1 on the CPU; empty rows are zeroed below.
        packed = pack_padded_sequence(
            embedded, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        output, (h_n, _) = self.lstm(packed)
        if self.pooling == "last":
            pooled = torch.cat([h_n[-2], h_n[-1]], dim=1)  # last layer: forward, backward
        else:
            hidden, _ = pad_packed_sequence(output, batch_first=True, total_length=input_ids.shape[1])
            keep = mask.unsqueeze(-1)
            if self.pooling == "mean":
                summed = (hidden * keep.to(hidden.dtype)).sum(dim=1)
                pooled = summed / lengths.clamp(min=1).unsqueeze(-1).to(hidden.dtype)
            else:
                pooled = hidden.masked_fill(~keep, float("-inf")).amax(dim=1)
        return torch.where((lengths > 0).unsqueeze(-1), pooled, torch.zeros_like(pooled))

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> ClassifierOutput:
        """Logits ``(batch, n_classes)`` (and the second head's logits with ``aux_head=True``).

        Args:
            input_ids: ``(batch, length)`` token ids, right-padded.
            attention_mask: ``(batch, length)``, 1/True for real tokens; ``None`` means every id that is not
                ``padding_idx``.
        """
        return self.heads(self.features(input_ids, attention_mask))
