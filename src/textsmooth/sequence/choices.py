"""The named choices of the sequence generators, written once.

The library's parameters are typed with these ``Literal`` types and checked against
``typing.get_args`` of them; the command line builds its option enums from the same ``get_args``
(:func:`textsmooth.cli._common.literal_enum`), so adding a value here adds it everywhere. This module
imports nothing heavy (no numpy), so the CLI can read it at start-up.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = ["Backend", "Duplicates", "EmbedSide", "NeighborMethod", "Pooling", "Precision", "one_of"]

#: how related targets are found: the paper's method, or one of its two baselines
NeighborMethod = Literal["semantic", "within-batch", "token-swap"]
#: sentence-vector pooling of the encoder (MiniLM is trained with mean pooling; the paper uses CLS)
Pooling = Literal["mean", "cls"]
#: encoder precision (fp32: vectors independent of batch and CPU; bf16: opt-in, faster on some CPUs)
Precision = Literal["fp32", "bf16"]
#: kNN backend (see :mod:`textsmooth.sequence.knn`)
Backend = Literal["flat", "hnsw", "brute"]
#: which side is embedded: the targets, or their aligned sources
EmbedSide = Literal["target", "source"]
#: what counts as a duplicate target (see :func:`textsmooth.sequence.duplicate_groups`)
Duplicates = Literal["normalized", "exact"]


def one_of(choices: Any) -> str:
    """The values of a ``Literal`` for a message: ``'flat', 'hnsw' or 'brute'``."""
    quoted = [repr(v) for v in get_args(choices)]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
