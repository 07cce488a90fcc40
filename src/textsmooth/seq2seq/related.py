"""Related target sequences as token ids, ready for the collator: ``R(y)`` of loss (2) per training row.

:func:`related_ids_from_table` turns a :class:`~textsmooth.sequence.NeighborTable` built for the training
targets (semantic neighbours, token swaps) into :class:`RelatedIds`: for every target, the token ids of
its related sequences, best first. The table is checked against the targets first (row count, the
targets' hash in its manifest, neighbour ids in range), so a table built for another corpus is refused
before anything trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from textsmooth.errors import InputError, StaleArtifactError
from textsmooth.io.manifest import hash_texts

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.vocab import SubwordVocab
    from textsmooth.sequence.table import NeighborTable

__all__ = ["RelatedIds", "related_ids_from_table"]


@dataclass(frozen=True)
class RelatedIds:
    """Token ids of the related sequences of each target, best first.

    Attributes:
        starts: ``(n_targets + 1,)`` offsets: the related sequences of target ``i`` are
            ``sequences[starts[i]:starts[i + 1]]``.
        sequences: token ids of every related sequence (each ends in ``</s>``).
    """

    starts: np.ndarray
    sequences: list[list[int]]

    @property
    def n_targets(self) -> int:
        return int(self.starts.shape[0] - 1)

    def of(self, target: int) -> list[list[int]]:
        """The related sequences of one target (an empty list when it has none)."""
        return self.sequences[int(self.starts[target]) : int(self.starts[target + 1])]

    def counts(self) -> np.ndarray:
        """Related sequences per target."""
        return np.diff(self.starts)


def related_ids_from_table(
    table: NeighborTable,
    targets: Sequence[str],
    vocab: SubwordVocab,
    max_length: int,
    *,
    max_related: int | None = None,
) -> RelatedIds:
    """Encode the related sequences of every target of ``table`` with the target vocabulary.

    Args:
        table: related targets of ``targets`` (rows sorted by target then rank, as tables are written).
        targets: the training targets the table was built for.
        vocab: the model's vocabulary; ``max_length``: ids per sequence (``</s>`` included).
        max_related: keep the best ``max_related`` of each target (``None``: all the table has).

    Raises:
        StaleArtifactError: the table was built for other targets (other count, or its manifest's hash
            of the targets differs).
        InputError: a neighbour id out of range, a synthetic row without text, or ``max_related < 1``.
    """
    n = len(targets)
    where = table.meta.get("path") if isinstance(table.meta, dict) else None
    if table.n_targets != n:
        raise StaleArtifactError(
            f"the neighbour table was built for {table.n_targets} targets, the training data has {n}",
            path=where,
            hint="build the table for these training targets (textsmooth neighbors ... on the same file)",
        )
    recorded = (
        (table.meta.get("inputs") or {}).get("targets_sha256") if isinstance(table.meta, dict) else None
    )
    if recorded is not None and recorded != hash_texts(list(targets)):
        raise StaleArtifactError(
            "the neighbour table was built for other targets (its manifest's targets_sha256 differs)",
            path=where,
            hint="build the table for these training targets",
        )
    if max_related is not None and (isinstance(max_related, bool) or int(max_related) < 1):
        raise InputError(f"max_related must be >= 1 or None, got {max_related!r}", column="max_related")
    if len(table) and (table.target_id.min() < 0 or table.target_id.max() >= n):
        raise InputError(f"neighbour table has target ids outside 0..{n - 1}", column="target_id")
    synthetic = table.neighbor_id < 0
    if bool((table.neighbor_id >= n).any()):
        bad = int(np.flatnonzero(table.neighbor_id >= n)[0])
        raise InputError(
            f"neighbour table row {bad}: neighbor_id {int(table.neighbor_id[bad])} is outside 0..{n - 1}",
            column="neighbor_id",
        )
    if bool(synthetic.any()) and table.neighbor_text is None:
        raise InputError("neighbour table has synthetic rows (neighbor_id -1) but stores no text")
    # rows in (target, rank) order, cut to the best max_related of each target
    order = np.lexsort((table.rank, table.target_id))
    tid = table.target_id[order]
    first = np.searchsorted(tid, tid, side="left")
    position = np.arange(len(tid)) - first
    keep = order if max_related is None else order[position < int(max_related)]
    counts = np.bincount(table.target_id[keep], minlength=n)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    ids = table.neighbor_id[keep]
    texts = [
        table.neighbor_text[r]
        if (table.neighbor_text is not None and table.neighbor_text[r] is not None)
        else targets[int(i)]
        for r, i in zip(keep.tolist(), ids.tolist(), strict=True)
    ]
    # encode each distinct text once (semantic neighbours repeat targets many times)
    distinct = list(dict.fromkeys(texts))
    encoded = dict(zip(distinct, vocab.encode_targets(distinct, max_length), strict=True))
    return RelatedIds(starts=starts, sequences=[encoded[t] for t in texts])
