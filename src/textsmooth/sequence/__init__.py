"""Related targets for sequence-to-sequence label smoothing (Lukasik et al., Algorithm 1) and baselines.

- :class:`SemanticNeighbors`: embed targets, k nearest neighbours by cosine, re-rank by sentence BLEU,
  keep k' (the paper's method).
- :class:`WithinBatchTargets` (Guo et al. 2018) and :class:`TokenSwapTargets` (Elbayad et al. 2018):
  the paper's baselines, in the same output form.
- :class:`NeighborTable`: the Parquet + manifest artifact all of them produce.
- :class:`SentenceEncoder`, :func:`embed_texts`: sentence vectors with an on-disk cache.
- :class:`KnnIndex`: exact (faiss flat, torch/numpy) or HNSW inner-product search.

Names are imported lazily, so ``import textsmooth.sequence`` does not import torch or faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "SemanticNeighbors": "textsmooth.sequence.neighbors",
    "duplicate_groups": "textsmooth.sequence.neighbors",
    "WithinBatchTargets": "textsmooth.sequence.baselines",
    "TokenSwapTargets": "textsmooth.sequence.baselines",
    "within_batch_related": "textsmooth.sequence.baselines",
    "NeighborTable": "textsmooth.sequence.table",
    "SentenceEncoder": "textsmooth.sequence.encoder",
    "embed_texts": "textsmooth.sequence.encoder",
    "load_embeddings": "textsmooth.sequence.encoder",
    "default_model_path": "textsmooth.sequence.encoder",
    "KnnIndex": "textsmooth.sequence.knn",
    "read_lines": "textsmooth.sequence.data",
    "load_multi30k": "textsmooth.sequence.data",
    "load_multi30k_captions": "textsmooth.sequence.data",
    "multi30k_root": "textsmooth.sequence.data",
}

__all__ = [
    "KnnIndex",
    "NeighborTable",
    "SemanticNeighbors",
    "SentenceEncoder",
    "TokenSwapTargets",
    "WithinBatchTargets",
    "default_model_path",
    "duplicate_groups",
    "embed_texts",
    "load_embeddings",
    "load_multi30k",
    "load_multi30k_captions",
    "multi30k_root",
    "read_lines",
    "within_batch_related",
]

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.sequence.baselines import TokenSwapTargets, WithinBatchTargets, within_batch_related
    from textsmooth.sequence.data import load_multi30k, load_multi30k_captions, multi30k_root, read_lines
    from textsmooth.sequence.encoder import SentenceEncoder, default_model_path, embed_texts, load_embeddings
    from textsmooth.sequence.knn import KnnIndex
    from textsmooth.sequence.neighbors import SemanticNeighbors, duplicate_groups
    from textsmooth.sequence.table import NeighborTable


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textsmooth.sequence' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
