"""TextCNN (Kim 2014): word embeddings, parallel 1-D convolutions, max-over-time pooling, dropout, linear."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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

__all__ = ["TextCNN"]


class TextCNN(nn.Module):
    """Convolutional sentence classifier of Kim (2014), padding-invariant.

    For token embeddings ``x_1 .. x_L`` (``L`` real tokens) and each filter size ``h``, ``n_filters`` feature
    maps ``c_t = ReLU(W_h · [x_t; ...; x_{t+h-1}] + b_h)`` are computed over the windows ``t``; each map is
    reduced by max-over-time, ``ĉ = max_t c_t``; the ``len(filter_sizes) * n_filters`` features are
    concatenated, passed through dropout and a linear layer to ``n_classes`` logits.

    Padding never changes the output: embeddings of padded positions are zeroed and only windows that lie
    entirely inside the text are pooled (0-based starts ``t <= L - h``), except for texts shorter than ``h``,
    whose single window is the text followed by zero vectors (Kim's zero padding); a row with no real token
    at all gets zero features, so its logits are the output bias. Inputs shorter than the
    largest filter are right-padded inside :meth:`forward`. Because ``ReLU >= 0``, setting invalid windows to
    0 before the max is exact.

    Args:
        vocab_size: number of token ids (``len(vocab)``).
        n_classes: number of output classes.
        padding_idx: id of the padding token (required, e.g. ``vocab.pad_id``; its embedding stays 0).
        embedding_dim: word vector size (300 as Kim's word2vec vectors).
        filter_sizes: window sizes ``h`` of the parallel convolutions (Kim: 3, 4, 5).
        n_filters: feature maps per window size (Kim: 100).
        dropout: dropout rate on the pooled features (Kim: 0.5).
        aux_head: add a second linear head on the same features; :meth:`forward` then returns
            ``(logits, aux_logits)``.
        n_aux_classes: output size of the second head (default ``n_classes``).
        embeddings: optional ``(vocab_size, embedding_dim)`` pretrained vectors to start from.
        freeze_embeddings: keep ``embeddings`` fixed (Kim's CNN-static); ignored without ``embeddings``.

    Kim's l2-norm constraint on the output weights (``||w||_2 <= s = 3``, re-applied after every optimiser
    step) is :meth:`apply_max_norm`, for the training loop to call.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = TextCNN(50, 3, padding_idx=0, embedding_dim=16, n_filters=4).eval()
        >>> ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
        >>> model(ids, ids != 0).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        padding_idx: int,
        embedding_dim: int = 300,
        filter_sizes: Sequence[int] = (3, 4, 5),
        n_filters: int = 100,
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
        sizes = tuple(filter_sizes)
        if not sizes:
            raise ConfigError("filter_sizes must not be empty", column="filter_sizes")
        sizes = tuple(check_int("filter_sizes", h) for h in sizes)
        n_filters = check_int("n_filters", n_filters)
        dropout = check_probability(dropout, "dropout")
        if n_aux_classes is not None:
            n_aux_classes = check_int("n_aux_classes", n_aux_classes)
        self._config = {
            "vocab_size": vocab_size,
            "n_classes": n_classes,
            "padding_idx": padding_idx,
            "embedding_dim": embedding_dim,
            "filter_sizes": list(sizes),
            "n_filters": n_filters,
            "dropout": dropout,
            "aux_head": bool(aux_head),
            "n_aux_classes": n_aux_classes,
            "freeze_embeddings": bool(freeze_embeddings),
        }
        self.padding_idx = padding_idx
        self.filter_sizes = sizes
        self.embedding = make_embedding(vocab_size, embedding_dim, padding_idx, embeddings, freeze_embeddings)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, n_filters, kernel_size=h) for h in sizes)
        self.n_features = n_filters * len(sizes)
        self.heads = OutputHeads(self.n_features, n_classes, dropout, bool(aux_head), n_aux_classes)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready) to rebuild the model with ``TextCNN(**config)`` before loading a
        state dict (pretrained ``embeddings`` live in the state dict)."""
        return dict(self._config)

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float = 3.0) -> None:
        """Rescale each class's output weight vector to l2 norm at most ``max_norm`` (Kim's ``s = 3``), in
        place, for every output head. Call it after ``optimizer.step()``."""
        if isinstance(max_norm, bool) or not isinstance(max_norm, int | float) or not max_norm > 0:
            raise ConfigError(f"max_norm must be a positive number, got {max_norm!r}", column="max_norm")
        for head in (self.heads.classifier, self.heads.aux_classifier):
            if head is not None:
                head.weight.copy_(torch.renorm(head.weight, p=2, dim=0, maxnorm=float(max_norm)))

    def features(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Pooled features ``(batch, len(filter_sizes) * n_filters)`` before dropout and the heads."""
        mask = resolve_mask(input_ids, attention_mask, self.padding_idx)
        widest = max(self.filter_sizes)
        if input_ids.shape[1] < widest:
            extra = widest - input_ids.shape[1]
            input_ids = F.pad(input_ids, (0, extra), value=self.padding_idx)
            mask = F.pad(mask, (0, extra), value=False)
        embedded = self.embedding(input_ids) * mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        embedded = embedded.transpose(1, 2)  # (batch, embedding_dim, length)
        lengths = mask.sum(dim=1, keepdim=True)  # (batch, 1)
        pooled = []
        for h, conv in zip(self.filter_sizes, self.convs, strict=True):
            maps = F.relu(conv(embedded))  # (batch, n_filters, length - h + 1)
            starts = torch.arange(maps.shape[-1], device=maps.device)
            valid = starts.unsqueeze(0) <= torch.clamp(lengths - h, min=0)  # (batch, windows)
            pooled.append((maps * valid.unsqueeze(1).to(maps.dtype)).amax(dim=-1))
        features = torch.cat(pooled, dim=1)
        return features * (lengths > 0).to(features.dtype)  # a row with no token: zero features

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> ClassifierOutput:
        """Logits ``(batch, n_classes)`` (and the second head's logits with ``aux_head=True``).

        Args:
            input_ids: ``(batch, length)`` token ids, right-padded.
            attention_mask: ``(batch, length)``, 1/True for real tokens; ``None`` means every id that is not
                ``padding_idx``.
        """
        return self.heads(self.features(input_ids, attention_mask))
