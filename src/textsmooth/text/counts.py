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

    Args:
        tokens: (chunked) list array, one list of token strings per text, e.g. from
            :func:`textsmooth.text.tokenize.tokenize_many`.
        vocabulary: fixed word list to count against; tokens not in it are ignored (but still
            counted in ``lengths``). ``None`` learns the vocabulary, in order of first appearance.

    Returns:
        The :class:`CountMatrix`.
    """
    chunks = tokens.chunks if isinstance(tokens, pa.ChunkedArray) else [tokens]
    chunks = [c for c in chunks if len(c)] or chunks[:1]
    chunk_offsets = [_relative_offsets(c) for c in chunks]
    lengths = np.concatenate([np.diff(o) for o in chunk_offsets]) if chunks else np.zeros(0, np.int64)
    values = [c.flatten() for c in chunks]
    if vocabulary is None:
        value_type = values[0].type if values else pa.string()
        encoded = pc.dictionary_encode(pa.chunked_array(values, type=value_type))
        # All output chunks share one dictionary; Arrow may drop empty chunks, so re-split by length.
        vocabulary = encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], value_type)
        all_ids = np.concatenate([c.indices.to_numpy() for c in encoded.chunks] or [np.zeros(0, np.int32)])
        word_ids = np.split(all_ids, np.cumsum([len(v) for v in values])[:-1])
        present: list[np.ndarray | None] = [None] * len(word_ids)
    else:
        looked_up = [pc.index_in(v, value_set=vocabulary) for v in values]
        present = [x.is_valid().to_numpy(zero_copy_only=False) for x in looked_up]
        word_ids = [x.fill_null(0).to_numpy() for x in looked_up]
    n_texts, n_words = len(lengths), len(vocabulary)
    firsts = np.concatenate(([0], np.cumsum([len(o) - 1 for o in chunk_offsets]))).astype(np.int64)
    jobs = list(zip(firsts[:-1].tolist(), chunk_offsets, word_ids, present, strict=True))

    def count(job: tuple[int, np.ndarray, np.ndarray, np.ndarray | None]) -> tuple[np.ndarray, ...]:
        first, offsets, ids, keep = job
        n = len(offsets) - 1
        # key = text * V + word, with texts numbered globally; sorting groups (text, word) pairs.
        keys = np.repeat(np.arange(first, first + n, dtype=np.int64) * n_words, np.diff(offsets))
        keys += ids
        if keep is not None:
            keys = keys[keep]
        keys.sort()
        if keys.size == 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(n, np.int64)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        tallies = np.diff(np.append(starts, keys.size)).astype(np.float64)
        unique = keys[starts]
        del keys, starts
        rows = unique // n_words
        cols = unique - rows * n_words
        return cols, tallies, np.bincount(rows - first, minlength=n)

    if len(jobs) > 1:
        with ThreadPoolExecutor() as pool:
            parts = list(pool.map(count, jobs))
    else:
        parts = [count(job) for job in jobs]
    nnz = sum(len(p[0]) for p in parts)
    index_dtype = np.int32 if max(n_words, nnz) < np.iinfo(np.int32).max else np.int64
    cols = np.concatenate([p[0].astype(index_dtype) for p in parts]) if parts else np.zeros(0, index_dtype)
    data = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    indptr = np.zeros(n_texts + 1, dtype=index_dtype)
    if parts:
        np.cumsum(np.concatenate([p[2] for p in parts]), out=indptr[1:])
    matrix = sp.csr_matrix((data, cols, indptr), shape=(n_texts, n_words))
    matrix.has_sorted_indices = True
    return CountMatrix(counts=matrix, vocabulary=vocabulary, lengths=lengths)


def _relative_offsets(chunk: pa.Array) -> np.ndarray:
    offsets = chunk.offsets.to_numpy().astype(np.int64)
    return offsets - offsets[0]
