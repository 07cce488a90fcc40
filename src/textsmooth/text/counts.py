"""Sparse document-term count matrices built without Python loops over tokens.

``count_matrix`` turns tokenised texts (an Arrow list array from
:func:`textsmooth.text.tokenize.tokenize_many`) into a ``scipy.sparse.csr_matrix`` ``X`` of shape
``(n_texts, n_words)`` with ``X[i, j]`` = how often word ``j`` occurs in text ``i``. Words are numbered
by a hash-based dictionary encoding in Arrow; per-text counts come from sorting ``row * V + word`` keys
block by block (numpy's SIMD sort), so the cost is linear in the number of tokens up to a log factor
and the blocks run on all cores.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

__all__ = ["CountMatrix", "count_matrix"]

# Tokens per block when counting: bounds the temporary key arrays (8 bytes per token).
_BLOCK_TOKENS = 1 << 21


@dataclass(frozen=True)
class CountMatrix:
    """Term counts of a corpus.

    Attributes:
        counts: ``(n_texts, n_words)`` CSR matrix of term counts (float64), sorted column indices.
        vocabulary: Arrow string array; ``vocabulary[j]`` is the word of column ``j``.
        lengths: ``(n_texts,)`` int64 number of tokens of each text, counting words outside the
            vocabulary too.
    """

    counts: sp.csr_matrix
    vocabulary: pa.Array
    lengths: np.ndarray


def count_matrix(tokens: pa.Array, vocabulary: pa.Array | None = None) -> CountMatrix:
    """Count every word of every tokenised text.

    Args:
        tokens: list array, one list of token strings per text.
        vocabulary: fixed word list to count against; tokens not in it are ignored (but still
            counted in ``lengths``). ``None`` learns the vocabulary, in order of first appearance.

    Returns:
        The :class:`CountMatrix`.
    """
    offsets = tokens.offsets.to_numpy().astype(np.int64, copy=False)
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    flat = tokens.flatten()
    if vocabulary is None:
        encoded = flat.dictionary_encode()
        vocabulary = encoded.dictionary
        word_ids = encoded.indices.to_numpy().astype(np.int64, copy=False)
        present = None
    else:
        looked_up = pc.index_in(flat, value_set=vocabulary)
        present = looked_up.is_valid().to_numpy(zero_copy_only=False)
        word_ids = looked_up.fill_null(0).to_numpy().astype(np.int64, copy=False)
    n_texts, n_words = len(lengths), len(vocabulary)
    counts = _count_blocks(offsets, word_ids, present, n_texts, n_words)
    return CountMatrix(counts=counts, vocabulary=vocabulary, lengths=lengths)


def _count_blocks(
    offsets: np.ndarray,
    word_ids: np.ndarray,
    present: np.ndarray | None,
    n_texts: int,
    n_words: int,
) -> sp.csr_matrix:
    """Per-text word counts as CSR, computed over blocks of whole texts in parallel threads."""
    bounds = _block_bounds(offsets, _BLOCK_TOKENS)
    blocks = list(itertools.pairwise(bounds))

    def count(block: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first, last = block  # texts [first, last)
        lo, hi = offsets[first], offsets[last]
        rows = np.repeat(np.arange(first, last, dtype=np.int64), np.diff(offsets[first : last + 1]))
        keys = rows * n_words + word_ids[lo:hi]
        if present is not None:
            keys = keys[present[lo:hi]]
        keys.sort()
        if keys.size == 0:
            return keys, keys, keys
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        tallies = np.diff(np.append(starts, keys.size))
        unique = keys[starts]
        return unique // n_words, unique % n_words, tallies

    if len(blocks) > 1:
        with ThreadPoolExecutor() as pool:
            parts = list(pool.map(count, blocks))
    else:
        parts = [count(block) for block in blocks]
    rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    data = np.concatenate([p[2] for p in parts]).astype(np.float64) if parts else np.zeros(0)
    indptr = np.zeros(n_texts + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_texts), out=indptr[1:])
    index_dtype = np.int32 if max(n_words, data.size) < np.iinfo(np.int32).max else np.int64
    matrix = sp.csr_matrix(
        (data, cols.astype(index_dtype), indptr.astype(index_dtype)), shape=(n_texts, n_words)
    )
    matrix.has_sorted_indices = True
    return matrix


def _block_bounds(offsets: np.ndarray, block_tokens: int) -> list[int]:
    """Text indices that cut the corpus into blocks of about ``block_tokens`` tokens each."""
    n_texts = len(offsets) - 1
    if n_texts <= 0:
        return [0, 0]
    targets = np.arange(block_tokens, offsets[-1], block_tokens)
    cuts = np.searchsorted(offsets, targets, side="left")
    return sorted({0, *cuts.tolist(), n_texts})
