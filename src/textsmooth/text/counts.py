"""Sparse document-term count matrices built without Python loops over tokens.

``count_matrix`` turns tokenised texts (an Arrow list array from
:func:`textsmooth.text.tokenize.tokenize_many`) into a ``scipy.sparse.csr_matrix`` ``X`` of shape
``(n_texts, n_words)`` with ``X[i, j]`` = how often word ``j`` occurs in text ``i``. Words are numbered
by a hash-based dictionary encoding in Arrow; per-text counts come from sorting ``row * V + word`` keys
chunk by chunk (numpy's SIMD sort), so the cost is linear in the number of tokens up to a log factor,
memory stays bounded by the chunk size, and the chunks run on all cores.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

__all__ = ["CountMatrix", "count_matrix"]


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


def count_matrix(tokens: pa.ChunkedArray | pa.Array, vocabulary: pa.Array | None = None) -> CountMatrix:
    """Count every word of every tokenised text.

    Each chunk of texts is handled by one thread: its tokens are numbered by a hash-based dictionary
    encoding local to the chunk (or looked up in ``vocabulary``), and its (text, word) pairs are counted
    by sorting ``text * V + word`` keys. Local numbers are then mapped to one vocabulary by encoding the
    (much smaller) chunk dictionaries once more.

    Args:
        tokens: (chunked) list array, one list of token strings per text, e.g. from
            :func:`textsmooth.text.tokenize.tokenize_many`.
        vocabulary: fixed word list to count against; tokens not in it are ignored (but still
            counted in ``lengths``). ``None`` learns the vocabulary, in order of first appearance.

    Returns:
        The :class:`CountMatrix` (column indices are sorted within each row only with a fixed
        ``vocabulary``; scipy sorts lazily where an operation needs it).
    """
    chunks = tokens.chunks if isinstance(tokens, pa.ChunkedArray) else [tokens]
    chunks = [c for c in chunks if len(c)] or chunks[:1]
    fixed = vocabulary is not None

    def count_chunk(
        chunk: pa.Array,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array | None]:
        offsets = _relative_offsets(chunk)
        values = chunk.flatten()
        keep = None
        if fixed:
            looked_up = pc.index_in(values, value_set=vocabulary)
            if looked_up.null_count:
                keep = looked_up.is_valid().to_numpy(zero_copy_only=False)
            ids = looked_up.fill_null(0).to_numpy()
            local_vocabulary, width = None, len(vocabulary)
        else:
            encoded = values.dictionary_encode()
            ids, local_vocabulary = encoded.indices.to_numpy(), encoded.dictionary
            width = len(local_vocabulary)
        cols, tallies, row_counts = _count_pairs(offsets, ids, keep, width)
        return np.diff(offsets), cols, tallies, row_counts, local_vocabulary

    if len(chunks) > 1:
        with ThreadPoolExecutor() as pool:
            parts = list(pool.map(count_chunk, chunks))
    else:
        parts = [count_chunk(c) for c in chunks]
    if not fixed:
        vocabulary, to_global = _unify([p[4] for p in parts])
        parts = [(p[0], to_global[i][p[1]], p[2], p[3], None) for i, p in enumerate(parts)]
    lengths = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    n_texts, n_words = len(lengths), len(vocabulary)
    nnz = sum(len(p[1]) for p in parts)
    index_dtype = np.int32 if max(n_words, nnz) < np.iinfo(np.int32).max else np.int64
    cols = np.concatenate([p[1].astype(index_dtype) for p in parts]) if parts else np.zeros(0, index_dtype)
    data = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    indptr = np.zeros(n_texts + 1, dtype=index_dtype)
    if parts:
        np.cumsum(np.concatenate([p[3] for p in parts]), out=indptr[1:])
    matrix = sp.csr_matrix((data, cols, indptr), shape=(n_texts, n_words))
    matrix.has_sorted_indices = fixed
    return CountMatrix(counts=matrix, vocabulary=vocabulary, lengths=lengths)


def _count_pairs(
    offsets: np.ndarray, ids: np.ndarray, keep: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (text, word) pairs of one chunk: their word ids, counts, and pairs per text."""
    n = len(offsets) - 1
    # int32 keys when they fit: numpy's SIMD sort is several times faster on them than on int64.
    key_type = np.int32 if n * max(width, 1) < np.iinfo(np.int32).max else np.int64
    keys = np.repeat(np.arange(n, dtype=key_type) * key_type(width), np.diff(offsets))
    keys += ids.astype(key_type, copy=False)
    if keep is not None:
        keys = keys[keep]
    if keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(n, np.int64)
    keys.sort()
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    tallies = np.diff(np.append(starts, keys.size)).astype(np.float64)
    unique = keys[starts]
    del keys, starts
    rows = unique // width
    return (unique - rows * width).astype(np.int64), tallies, np.bincount(rows, minlength=n)


def _unify(dictionaries: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray]]:
    """One vocabulary (first-appearance order) for per-chunk dictionaries, and each chunk's id map."""
    if not dictionaries:
        return pa.array([], pa.string()), []
    value_type = dictionaries[0].type
    encoded = pc.dictionary_encode(pa.chunked_array(dictionaries, type=value_type))
    vocabulary = encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], value_type)
    # All output chunks share one dictionary; Arrow may drop empty chunks, so re-split by length.
    ids = np.concatenate([c.indices.to_numpy() for c in encoded.chunks] or [np.zeros(0, np.int32)])
    return vocabulary, np.split(ids.astype(np.int64), np.cumsum([len(d) for d in dictionaries])[:-1])


def _relative_offsets(chunk: pa.Array) -> np.ndarray:
    offsets = chunk.offsets.to_numpy().astype(np.int64)
    return offsets - offsets[0]
