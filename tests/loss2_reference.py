"""Test helper: loss (2) of the semantic label smoothing paper computed the plain way, sequence by sequence.

Every sequence (gold or related) is scored by its own ``model(input_ids=..., labels=...)`` call, one pair
at a time: no batching, no reuse of encoder states, the model's own decoder-input shift. The trainer's
batched :func:`~textsmooth.seq2seq.objective.seq2seq_loss` must equal it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F


def sequence_loss(model: Any, source: Sequence[int], target: Sequence[int], eps: float = 0.0) -> torch.Tensor:
    """``sum_t CE(logits_t, y_t)`` (token label smoothing ``eps``) of ``target`` given ``source`` alone."""
    ids, labels = torch.tensor([list(source)]), torch.tensor([list(target)])
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).logits
    return F.cross_entropy(logits[0], labels[0], reduction="sum", label_smoothing=eps)


def loss2_of_batch(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    *,
    alpha: float,
    eps: float = 0.0,
) -> torch.Tensor:
    """Mean over the batch of ``loss(y_b) + alpha / |R_b| * sum_{y' in R_b} loss(y')``, the related targets
    ``R_b`` read from the collated ``related_labels`` / ``related_mask`` (row ``b`` is example ``b``)."""
    expected = []
    for b in range(len(sources)):
        related = [
            [t for t in row.tolist() if t != -100]
            for row, real in zip(batch["related_labels"][b], batch["related_mask"][b], strict=True)
            if real
        ]
        loss = sequence_loss(model, sources[b], targets[b], eps)
        if related:
            scores = [sequence_loss(model, sources[b], r, eps) for r in related]
            loss = loss + alpha / len(related) * sum(scores)
        expected.append(loss)
    return torch.stack(expected).mean()
