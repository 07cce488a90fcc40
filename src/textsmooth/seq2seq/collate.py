"""Batching for seq2seq training: pad sources and targets, attach the related targets of each example.

A feature is a mapping with ``input_ids`` (source ids), ``labels`` (target ids) and, for related targets
from a table, ``index`` (the example's row in the training corpus). :class:`Seq2SeqCollator` returns

* ``input_ids`` ``(B, S)`` padded with the pad id, ``attention_mask`` ``(B, S)``;
* ``labels`` ``(B, T)`` padded with ``-100`` (ignored by every loss);
* with related targets: ``related_labels`` ``(B, K, T')`` padded with ``-100`` and ``related_mask``
  ``(B, K)`` (True where a related sequence is real); ``K`` is the most related sequences of any example
  of the batch, so examples with fewer (or none) are padded.

Related targets come from :class:`~textsmooth.seq2seq.related.RelatedIds` (a neighbour table) or, with
``within_batch=True``, are the other targets of the batch (Guo et al. 2018). ``related_per_step = m``
samples ``m`` of an example's related targets without replacement at each step, an unbiased estimate of
the mean over ``R(y)`` in loss (2). The sample depends only on ``(seed, epoch, index)`` (within-batch:
``(seed, epoch, batch contents)``), never on the order of earlier calls, so a resumed run draws what an
uninterrupted one draws; the trainer sets ``epoch`` (:meth:`Seq2SeqCollator.set_epoch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.related import RelatedIds

__all__ = ["LABEL_PAD", "Seq2SeqCollator", "pad_sequences"]

LABEL_PAD = -100
"""Padding of ``labels`` and ``related_labels``: the ``ignore_index`` of every loss here."""


def pad_sequences(rows: Sequence[Sequence[int]], value: int, length: int | None = None) -> torch.Tensor:
    """``(len(rows), length or longest)`` int64 tensor of ``rows`` right-padded with ``value``."""
    width = max((len(r) for r in rows), default=0) if length is None else length
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


class Seq2SeqCollator:
    """Pads a list of features into a batch and attaches related targets (module docstring).

    Args:
        pad_id: the source padding id (the model's ``pad_token_id``).
        related: related token ids per training row (needs ``index`` in every feature).
        related_per_step: sample this many related targets per example and step (``None``: all).
        within_batch: related targets = the other targets of the batch.
        seed: seed of the sampling.

    Raises:
        ConfigError: both ``related`` and ``within_batch``, or ``related_per_step < 1``.
    """

    def __init__(
        self,
        pad_id: int,
        *,
        related: RelatedIds | None = None,
        related_per_step: int | None = None,
        within_batch: bool = False,
        seed: int = 0,
    ) -> None:
        if related is not None and within_batch:
            raise ConfigError("pass related ids or within_batch=True, not both", column="within_batch")
        check_int("related_per_step", related_per_step, allow_none=True)
        self.pad_id = int(pad_id)
        self.related = related
        self.related_per_step = related_per_step
        self.within_batch = bool(within_batch)
        self.seed = int(seed)
        self.epoch = 0

    @property
    def has_related(self) -> bool:
        return self.related is not None or self.within_batch

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next batches belong to (part of the sampling seed)."""
        self.epoch = int(epoch)

    def _sample(self, candidates: list[list[int]], key: Sequence[int]) -> list[list[int]]:
        m = self.related_per_step
        if m is None or len(candidates) <= m:
            return candidates
        rng = np.random.default_rng([self.seed, self.epoch, *key])
        chosen = np.sort(rng.choice(len(candidates), size=m, replace=False))
        return [candidates[i] for i in chosen.tolist()]

    def _related_of(
        self, features: Sequence[Mapping[str, Any]], labels: list[list[int]]
    ) -> list[list[list[int]]]:
        if self.within_batch:
            # the key is the batch's example indices when known, else its size and position
            keys = [int(f.get("index", b)) for b, f in enumerate(features)]
            return [
                self._sample([labels[j] for j in range(len(labels)) if j != b], (keys[b], *keys))
                for b in range(len(labels))
            ]
        assert self.related is not None
        out = []
        for b, feature in enumerate(features):
            if "index" not in feature:
                raise InputError(
                    f"batch example {b} has no 'index' (its row in the training corpus)",
                    column="index",
                    hint="build it with textsmooth.seq2seq.hf.seq2seq_dataset, or add an index column",
                )
            index = int(feature["index"])
            if not 0 <= index < self.related.n_targets:
                raise InputError(
                    f"batch example {b} has index {index}, outside the {self.related.n_targets} rows of the "
                    "related targets",
                    column="index",
                )
            out.append(self._sample(self.related.of(index), (index,)))
        return out

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise InputError("cannot collate an empty batch")
        sources = [list(f["input_ids"]) for f in features]
        batch = {"input_ids": pad_sequences(sources, self.pad_id)}
        batch["attention_mask"] = pad_sequences([[1] * len(s) for s in sources], 0)
        if "labels" not in features[0]:
            return batch
        labels = [list(f["labels"]) for f in features]
        batch["labels"] = pad_sequences(labels, LABEL_PAD)
        if self.has_related:
            related = self._related_of(features, labels)
            k = max((len(r) for r in related), default=0)
            width = max((len(s) for r in related for s in r), default=1)
            related_labels = torch.full((len(features), k, width), LABEL_PAD, dtype=torch.long)
            related_mask = torch.zeros((len(features), k), dtype=torch.bool)
            for b, seqs in enumerate(related):
                for j, seq in enumerate(seqs):
                    related_labels[b, j, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
                    related_mask[b, j] = True
            batch["related_labels"] = related_labels
            batch["related_mask"] = related_mask
        return batch
