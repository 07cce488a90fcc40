"""Text processing: tokenisers, sparse count matrices, exact fast sentence BLEU.

``sentence_bleu``, ``sentence_bleu_many`` and ``BleuCorpus`` are re-exported lazily from
:mod:`textsmooth.text.bleu` (it imports sacrebleu's tokenisers), so ``from textsmooth.text import
sentence_bleu`` works without slowing down imports of the tokenisers.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "sentence_bleu": "textsmooth.text.bleu",
    "sentence_bleu_many": "textsmooth.text.bleu",
    "BleuCorpus": "textsmooth.text.bleu",
    "tokenize_many": "textsmooth.text.tokenize",
    "count_matrix": "textsmooth.text.counts",
    "count_texts": "textsmooth.text.counts",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textsmooth.text' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
