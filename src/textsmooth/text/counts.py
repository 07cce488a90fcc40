"""Sparse document-term count matrices built without a Python object per token.

``count_texts`` (and ``count_matrix`` for already tokenised texts) return a ``scipy.sparse.csr_matrix``
``X`` of shape ``(n_texts, n_words)`` with ``X[i, j]`` = how often word ``j`` occurs in text ``i``, the
vocabulary in order of first appearance in the corpus, and the token count of each text.

How words are numbered, exactly (no hashing, so no collision is possible):

1. Texts are tokenised into byte spans (:mod:`textsmooth.text.spans`), chunk by chunk.
2. A token of at most 8 bytes without a NUL byte is its own key: its bytes, zero-padded, read as one
   little-endian ``uint64`` (one unaligned 8-byte load per token, then a mask). Two such tokens are
   equal exactly when their keys are. The keys are numbered in order of first appearance by Arrow's
   hash-based dictionary encoding of the ``uint64`` array.
3. A token of 9-16 bytes without a NUL byte (9% of IMDb's split-on-space tokens) is keyed the same
   way by its 16 zero-padded bytes (two loads, one mask), an Arrow ``binary(16)`` array.
4. Longer tokens, and tokens with a NUL byte, are gathered into an Arrow binary array and dictionary
   encoded as byte strings.
5. The per-chunk dictionaries of each kind are encoded once more (the three kinds in parallel); words
   are ordered by their first token position in the corpus, so the vocabulary does not depend on the
   chunks or the number of threads.
6. Per-text counts come from sorting ``text * V + word`` keys (int32 when they fit: numpy's SIMD sort)
   for blocks of texts, so every row has sorted column indices.

Chunks run on ``n_jobs`` threads (default ``os.cpu_count()``; numpy and Arrow release the GIL); the
work is linear in the number of tokens up to the log factor of the sort, and temporary memory is
bounded by the chunk size.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from textsmooth._params import check_int
from textsmooth.text.spans import (
    PAD,
    TokenSpans,
    space_spans,
    spans_from_lists,
    spans_from_strings,
    word_spans,
)
from textsmooth.text.tokenize import Tokenizer, resolve_tokenizer, to_arrow_strings, tokenize_many

__all__ = [
    "CountMatrix",
    "count_matrix",
    "count_spans",
    "count_texts",
    "map_threads",
    "number_tokens",
    "resolve_jobs",
]

#: Bytes of text tokenised per chunk (bounds temporary memory; chunks run in parallel threads).
CHUNK_BYTES = 1 << 23
#: At most this many texts per block when counting (text, word) pairs.
_PAIR_ROWS = 4096

_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
#: The short-key mask by token length: its bytes for 1-8 bytes; 0 (not a short key) for 0 or 9+ bytes.
_KEY_MASKS = np.array([0, *_MASKS[1:], 0], dtype=np.uint64)
_NO_TOKENS = np.zeros(0, dtype=np.int64)
_T = TypeVar("_T")
_R = TypeVar("_R")


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


def count_texts(
    texts: Sequence[str] | pa.Array,
    tokenizer: Tokenizer | None = None,
    vocabulary: pa.Array | None = None,
    *,
    n_jobs: int | None = None,
) -> CountMatrix:
    """Tokenise and count every text: the same result as ``count_matrix(tokenize_many(texts, tokenizer))``.

    ``"space"`` and ``"words"`` tokenise on the texts' bytes (:mod:`textsmooth.text.spans`); other
    tokenisers go through :func:`~textsmooth.text.tokenize.tokenize_many`.

    Args:
        texts: the texts (a sequence of str or an Arrow string array).
        tokenizer: a tokeniser name or callable (see :mod:`textsmooth.text.tokenize`).
        vocabulary: fixed word list to count against (unknown words are ignored, but counted in
            ``lengths``); ``None`` learns the vocabulary in order of first appearance.
        n_jobs: threads that tokenise and count chunks of texts at once (``None``: ``os.cpu_count()``).
            Only the speed depends on it: the result is the same for any value.

    Raises:
        ConfigError: ``n_jobs`` is not an integer >= 1.
        DataError: a text is missing or not a string (the row is named, 1-based).
    """
    n_jobs = resolve_jobs(n_jobs)
    tokenizer = resolve_tokenizer(tokenizer)
    if tokenizer not in ("space", "words"):
        return count_matrix(tokenize_many(texts, tokenizer), vocabulary, n_jobs=n_jobs)
    array = texts if isinstance(texts, pa.Array) else to_arrow_strings(texts)
    if array.null_count:
        return count_matrix(tokenize_many(array, tokenizer), vocabulary)  # raises the DataError
    split = space_spans if tokenizer == "space" else word_spans
    return _count_chunks([lambda c=c: split(c) for c in _byte_chunks(array)], vocabulary, n_jobs)


def count_matrix(
    tokens: pa.ChunkedArray | pa.Array, vocabulary: pa.Array | None = None, *, n_jobs: int | None = None
) -> CountMatrix:
    """Count every word of every tokenised text.

    Args:
        tokens: (chunked) list array, one list of token strings per text, e.g. from
            :func:`textsmooth.text.tokenize.tokenize_many`.
        vocabulary: fixed word list to count against; tokens not in it are ignored (but still
            counted in ``lengths``). ``None`` learns the vocabulary, in order of first appearance.
        n_jobs: threads (``None``: ``os.cpu_count()``); the result does not depend on it.

    Returns:
        The :class:`CountMatrix` (sorted column indices in every row).
    """
    chunks = tokens.chunks if isinstance(tokens, pa.ChunkedArray) else [tokens]
    chunks = [c for c in chunks if len(c)] or chunks[:1]
    return _count_chunks([lambda c=c: spans_from_lists(c) for c in chunks], vocabulary, resolve_jobs(n_jobs))


def count_spans(spans: TokenSpans, vocabulary: pa.Array | None = None) -> CountMatrix:
    """Count the tokens of a :class:`~textsmooth.text.spans.TokenSpans` (arguments: :func:`count_matrix`)."""
    return _count_chunks([lambda: spans], vocabulary, 1)


def number_tokens(spans: TokenSpans) -> tuple[np.ndarray, int]:
    """An exact integer id for every token of ``spans``: equal tokens (byte strings) get equal ids.

    Ids are dense, ``0 .. n_words - 1`` (short words in order of first appearance, then longer ones),
    computed like the words of :func:`count_spans` (exact keys, no hashing collision is possible).

    Returns:
        ``(ids, n_words)``: one int32/int64 id per token (in token order) and the number of distinct
        tokens.
    """
    chunk = _local_chunk(spans)
    return chunk.local, len(chunk.short_words) + len(chunk.mid_words) + len(chunk.long_words)


# -- chunking ----------------------------------------------------------------------------------------
def _byte_chunks(array: pa.Array) -> list[pa.Array]:
    """Slices of consecutive texts holding about :data:`CHUNK_BYTES` bytes each."""
    n = len(array)
    if n == 0:
        return [array]
    buffers = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width)[array.offset : array.offset + n + 1]
    targets = np.arange(int(offsets[0]), int(offsets[-1]), CHUNK_BYTES)
    cuts = np.unique(np.concatenate(([0], np.searchsorted(offsets, targets[1:]), [n])))
    return [array.slice(int(a), int(b - a)) for a, b in itertools.pairwise(cuts)]


def resolve_jobs(n_jobs: int | None) -> int:
    """The number of threads for ``n_jobs`` (``None``: ``os.cpu_count()``); raises ``ConfigError`` if < 1."""
    if n_jobs is None:
        return os.cpu_count() or 1
    return check_int("n_jobs", n_jobs)


def map_threads(fn: Callable[[_T], _R], items: Sequence[_T], n_jobs: int) -> list[_R]:
    """``[fn(x) for x in items]`` on up to ``n_jobs`` threads (results in the order of ``items``)."""
    if len(items) <= 1 or n_jobs <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(len(items), n_jobs)) as pool:
        return list(pool.map(fn, items))


# -- exact word keys ------------------------------------------------------------------------------
def _short_keys(spans: TokenSpans) -> tuple[np.ndarray, np.ndarray]:
    """Which tokens are short (<= 8 bytes, no NUL byte) and their exact ``uint64`` keys."""
    lengths = spans.lengths
    short = lengths <= 8
    keys = _loads(spans.data)[spans.starts[short]] & _MASKS[lengths[short]]
    if _has_nul(spans.data):  # some NUL byte: such tokens go the long way
        nonzero = (keys.view(np.uint8).reshape(-1, 8) != 0).sum(axis=1)
        has_nul = nonzero < lengths[short]
        if has_nul.any():
            short[np.flatnonzero(short)[has_nul]] = False
            keys = keys[~has_nul]
    return short, keys


def _loads(data: np.ndarray) -> np.ndarray:
    """Every unaligned little-endian 8-byte load of ``data``: ``_loads(data)[i]`` holds bytes ``i..i+7``."""
    return np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))


def _has_nul(data: np.ndarray) -> bool:
    """Whether a token byte of ``data`` may be NUL (the :data:`PAD` bytes at the end are not token bytes)."""
    return data.size > PAD and not data[: data.size - PAD].all()


def _token_keys(spans: TokenSpans) -> tuple[np.ndarray, np.ndarray]:
    """The first 8 bytes of every token (one load each), and the short keys after a leading 0.

    ``keys[1 + t]`` is token ``t``'s exact key when it has 1-8 bytes and no NUL byte: its bytes,
    zero-padded, as one little-endian ``uint64``, which is nonzero, and equal keys are equal tokens.
    It is 0 for every other token (empty, longer than 8 bytes, or with a NUL byte).
    """
    first = _loads(spans.data)[spans.starts]
    keys = np.empty(first.size + 1, dtype=np.uint64)
    keys[0] = 0
    np.take(_KEY_MASKS, spans.lengths, mode="clip", out=keys[1:])  # index 9 and above: mask 0
    np.bitwise_and(keys[1:], first, out=keys[1:])
    if _has_nul(spans.data):  # a key with fewer nonzero bytes than its token's length is not exact
        nonzero = (keys[1:].view(np.uint8).reshape(-1, 8) != 0).sum(axis=1)
        keys[1:][nonzero < spans.lengths] = 0  # (longer tokens have key 0 already)
    return first, keys


def _fixed_binary(keys: np.ndarray) -> pa.Array:
    """``(n, 2)`` uint64 keys as an Arrow ``binary(16)`` array (no copy)."""
    keys = np.ascontiguousarray(keys, dtype="<u8")
    return pa.Array.from_buffers(pa.binary(16), len(keys), [None, pa.py_buffer(keys)])


def _gather(spans: TokenSpans, which: np.ndarray) -> pa.Array:
    """The tokens ``which`` (indices) as an Arrow binary array (exact bytes)."""
    starts, lengths = spans.starts[which], spans.lengths[which]
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    values = spans.data[index]
    large = offsets[-1] >= np.iinfo(np.int32).max
    return pa.Array.from_buffers(
        pa.large_binary() if large else pa.binary(),
        lengths.size,
        [None, pa.py_buffer(offsets if large else offsets.astype(np.int32)), pa.py_buffer(values)],
    )


def _keys_to_strings(keys: np.ndarray) -> pa.Array:
    """Short-token keys back to their strings (the key's nonzero bytes, which are a prefix)."""
    return _table_to_strings(np.ascontiguousarray(keys, dtype="<u8").view(np.uint8).reshape(-1, 8))


def _fixed_to_strings(keys: pa.Array) -> pa.Array:
    """16-byte keys (an Arrow ``binary(16)`` array) back to their strings (their nonzero bytes)."""
    raw = np.frombuffer(keys.buffers()[1], dtype=np.uint8)
    return _table_to_strings(raw[keys.offset * 16 : (keys.offset + len(keys)) * 16].reshape(-1, 16))


def _table_to_strings(table: np.ndarray) -> pa.Array:
    """Rows of zero-padded bytes (``(n, width)`` uint8) as Arrow strings of their nonzero bytes."""
    nonzero = table != 0
    offsets = np.zeros(table.shape[0] + 1, dtype=np.int32)
    np.cumsum(nonzero.sum(axis=1), out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), table.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(table[nonzero])]
    )


def _first_occurrences(ids: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each id, for ids numbered in order of first appearance."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    running = np.maximum.accumulate(ids)
    return np.flatnonzero(np.concatenate(([True], running[1:] != running[:-1])))


def _encode(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(), encoded.dictionary


@dataclass
class _Chunk:
    """One chunk's tokens: per-text token offsets and the chunk-local numbering of its words.

    Local ids: short words ``0..len(short_words)-1``, then mid words (9-16 bytes), then long words.
    """

    offsets: np.ndarray
    local: np.ndarray  # local id of each token (int32/int64)
    short_words: pa.Array  # uint64 keys, first-appearance order
    short_first: np.ndarray  # token index (in the chunk) of each key's first occurrence
    mid_words: pa.Array  # binary(16) keys, first-appearance order
    mid_first: np.ndarray
    long_words: pa.Array  # binary, first-appearance order
    long_first: np.ndarray


def _local_chunk(spans: TokenSpans) -> _Chunk:
    """Number the words of one chunk: every token keyed once, one dictionary encoding per kind."""
    first, keys = _token_keys(spans)
    # keys[0] is a leading 0, the key of every token that is not short: dictionary id 0 is that
    # marker, so short words are ids 1.. (in order of first appearance) and need no compaction
    indices, dictionary = _encode(pa.array(keys))
    short_words = dictionary.slice(1)
    short_first = _first_occurrences(indices)[1:] - 1
    local = indices[1:] - indices.dtype.type(1)
    other = np.flatnonzero(local < 0)  # tokens that are not short: empty, 9+ bytes, or a NUL byte
    if other.size == 0:
        return _Chunk(
            offsets=spans.offsets,
            local=local,
            short_words=short_words,
            short_first=short_first,
            mid_words=_fixed_binary(np.zeros((0, 2), np.uint64)),
            mid_first=_NO_TOKENS,
            long_words=pa.array([], pa.binary()),
            long_first=_NO_TOKENS,
        )
    lengths = spans.lengths[other]
    is_mid = (lengths > 8) & (lengths <= 16)
    mid_keys = np.empty((int(is_mid.sum()), 2), dtype="<u8")
    mid_pos = other[is_mid]
    mid_keys[:, 0] = first[mid_pos]
    mid_keys[:, 1] = _loads(spans.data)[spans.starts[mid_pos] + 8] & _MASKS[lengths[is_mid] - 8]
    if _has_nul(spans.data):  # a NUL byte: such tokens go the long way (their key is not exact)
        has_nul = (mid_keys.view(np.uint8) != 0).sum(axis=1) < lengths[is_mid]
        if has_nul.any():
            is_mid[np.flatnonzero(is_mid)[has_nul]] = False
            mid_pos, mid_keys = mid_pos[~has_nul], mid_keys[~has_nul]
    long_pos = other[~is_mid]
    mid_ids, mid_words = _encode(_fixed_binary(mid_keys))
    long_ids, long_words = _encode(_gather(spans, long_pos))
    n_short = len(short_words)
    local[mid_pos] = mid_ids + n_short
    local[long_pos] = long_ids + (n_short + len(mid_words))
    return _Chunk(
        offsets=spans.offsets,
        local=local,
        short_words=short_words,
        short_first=short_first,
        mid_words=mid_words,
        mid_first=mid_pos[_first_occurrences(mid_ids)],
        long_words=long_words,
        long_first=long_pos[_first_occurrences(long_ids)],
    )


@dataclass(frozen=True)
class _VocabularyIndex:
    """A fixed vocabulary split like the tokens: short keys and long byte strings, with their ids."""

    short_keys: pa.Array
    short_ids: np.ndarray
    long_words: pa.Array
    long_ids: np.ndarray

    @classmethod
    def build(cls, vocabulary: pa.Array) -> _VocabularyIndex:
        spans = spans_from_strings(vocabulary)
        short, keys = _short_keys(spans)
        long_pos = np.flatnonzero(~short)
        return cls(pa.array(keys), np.flatnonzero(short), _gather(spans, long_pos), long_pos)

    def lookup(self, spans: TokenSpans) -> np.ndarray:
        """Vocabulary id of every token, -1 for unknown tokens."""
        short, keys = _short_keys(spans)
        ids = np.full(spans.starts.size, -1, dtype=np.int64)
        for where, values, value_set, value_ids in (
            (np.flatnonzero(short), pa.array(keys), self.short_keys, self.short_ids),
            (np.flatnonzero(~short), None, self.long_words, self.long_ids),
        ):
            if where.size == 0 or len(value_set) == 0:
                continue
            if values is None:
                values = _gather(spans, where)
                if values.type != value_set.type:
                    values = values.cast(value_set.type)
            found = pc.index_in(values, value_set=value_set)
            valid = found.is_valid().to_numpy(zero_copy_only=False)
            ids[where[valid]] = value_ids[found.fill_null(0).to_numpy()[valid]]
        return ids


def _count_chunks(
    make_spans: Sequence[Callable[[], TokenSpans]], vocabulary: pa.Array | None, n_jobs: int
) -> CountMatrix:
    """Tokenise the chunks, number their words, count (text, word) pairs: two parallel passes."""
    if vocabulary is not None:
        index = _VocabularyIndex.build(vocabulary)

        def lookup(make: Callable[[], TokenSpans]) -> tuple[np.ndarray, np.ndarray]:
            spans = make()
            return spans.offsets, index.lookup(spans)

        looked = map_threads(lookup, make_spans, n_jobs)
        width = max(len(vocabulary), 1)
        parts = map_threads(lambda item: _count_rows(item[0], item[1], width), looked, n_jobs)
        return _assemble(parts, len(vocabulary), vocabulary)

    chunks = map_threads(lambda make: _local_chunk(make()), make_spans, n_jobs)
    token_base = np.cumsum([0] + [int(c.offsets[-1]) for c in chunks])[:-1]
    # one numbering of the chunk dictionaries, per kind (short keys, 16-byte keys, long words), in parallel
    large = any(pa.types.is_large_binary(c.long_words.type) for c in chunks)
    long_type = pa.large_binary() if large else pa.binary()
    kinds = [
        ([c.short_words for c in chunks], [c.short_first for c in chunks], pa.uint64()),
        ([c.mid_words for c in chunks], [c.mid_first for c in chunks], pa.binary(16)),
        ([c.long_words.cast(long_type) for c in chunks], [c.long_first for c in chunks], long_type),
    ]
    unified = map_threads(lambda kind: _unify(kind[0], kind[1], token_base, kind[2]), kinds, n_jobs)
    short_gid, short_words, short_first = unified[0]
    mid_gid, mid_words, mid_first = unified[1]
    long_gid, long_words, long_first = unified[2]
    # words in order of their first token in the corpus (the kinds of word never share a token)
    order = np.argsort(np.concatenate((short_first, mid_first, long_first)), kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    n_short, n_mid = len(short_words), len(mid_words)
    string_type = pa.large_string() if large else pa.string()
    words = pa.concat_arrays(
        [
            _keys_to_strings(short_words.to_numpy()).cast(string_type),
            _fixed_to_strings(mid_words).cast(string_type),
            long_words.cast(string_type),
        ]
    )
    vocabulary = words.take(pa.array(order))
    id_type = np.int32 if order.size < np.iinfo(np.int32).max else np.int64
    maps = [
        np.concatenate((rank[sg], rank[n_short + mg], rank[n_short + n_mid + lg])).astype(id_type)
        for sg, mg, lg in zip(short_gid, mid_gid, long_gid, strict=True)
    ]
    width = max(len(vocabulary), 1)
    parts = map_threads(
        lambda cm: _count_rows(cm[0].offsets, cm[1][cm[0].local], width),
        list(zip(chunks, maps, strict=True)),
        n_jobs,
    )
    return _assemble(parts, len(vocabulary), vocabulary)


def _unify(
    dictionaries: list[pa.Array], firsts: list[np.ndarray], token_base: np.ndarray, value_type: pa.DataType
) -> tuple[list[np.ndarray], pa.Array, np.ndarray]:
    """One numbering of per-chunk dictionaries: each chunk's local->global map, the words, first tokens."""
    if sum(len(d) for d in dictionaries) == 0:
        empty = pa.array([], value_type)
        return [np.zeros(len(d), np.int64) for d in dictionaries], empty, np.zeros(0, np.int64)
    gids, words = _encode(pa.concat_arrays(dictionaries))
    gids = gids.astype(np.int64)
    first_tokens = np.concatenate([f + b for f, b in zip(firsts, token_base, strict=True)])
    first = first_tokens[_first_occurrences(gids)]
    return np.split(gids, np.cumsum([len(d) for d in dictionaries])[:-1]), words, first


#: A run of texts counted: their lengths, and per block the sorted word ids, counts, distinct words per text.
_Rows = tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]


def _count_rows(offsets: np.ndarray, ids: np.ndarray, width: int) -> _Rows:
    """Count the (text, word) pairs of consecutive texts, in blocks whose keys fit int32.

    Returns the texts' lengths, and per block the sorted word ids, counts and number of distinct words
    per text (concatenated once, by :func:`_assemble`).
    """
    n_texts = len(offsets) - 1
    keep_all = ids.size == 0 or ids.min() >= 0
    rows_per_block = max(1, min(_PAIR_ROWS, (np.iinfo(np.int32).max - 1) // width))
    cols, tallies, per_row = [], [], []
    for a in range(0, n_texts, rows_per_block):
        b = min(a + rows_per_block, n_texts)
        block = ids[offsets[a] : offsets[b]]
        c, t, r = _count_pairs(
            offsets[a : b + 1] - offsets[a], block, None if keep_all else block >= 0, width
        )
        cols.append(c)
        tallies.append(t)
        per_row.append(r)
    return np.diff(offsets), cols, tallies, per_row


def _assemble(parts: list[_Rows], n_words: int, vocabulary: pa.Array) -> CountMatrix:
    lengths = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    n_texts = lengths.size
    nnz = sum(len(c) for p in parts for c in p[1])
    index_dtype = np.int32 if max(n_words, nnz) < np.iinfo(np.int32).max else np.int64
    cols = np.concatenate(
        [c.astype(index_dtype, copy=False) for p in parts for c in p[1]] or [np.zeros(0, index_dtype)]
    )
    data = np.concatenate([t for p in parts for t in p[2]] or [np.zeros(0)])
    indptr = np.zeros(n_texts + 1, dtype=index_dtype)
    per_row = [r for p in parts for r in p[3]]
    if per_row:
        np.cumsum(np.concatenate(per_row), out=indptr[1:])
    matrix = sp.csr_matrix((data, cols, indptr), shape=(n_texts, n_words))
    matrix.has_sorted_indices = True
    return CountMatrix(counts=matrix, vocabulary=vocabulary, lengths=lengths.astype(np.int64, copy=False))


def _count_pairs(
    offsets: np.ndarray, ids: np.ndarray, keep: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (text, word) pairs of one block: their word ids, counts, and pairs per text."""
    n = len(offsets) - 1
    # int32 keys when they fit: numpy's SIMD sort is several times faster on them than on int64.
    key_type = np.int32 if n * max(width, 1) < np.iinfo(np.int32).max else np.int64
    row_keys = np.arange(n + 1, dtype=np.int64) * width
    keys = np.repeat(row_keys[:-1].astype(key_type), np.diff(offsets))
    keys += ids.astype(key_type, copy=False)
    if keep is not None:
        keys = keys[keep]
    if keys.size == 0:
        return np.zeros(0, key_type), np.zeros(0), np.zeros(n, np.int64)
    keys.sort()
    new = np.empty(keys.size, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    tallies = np.empty(starts.size, dtype=np.float64)
    tallies[:-1] = np.diff(starts)
    tallies[-1] = keys.size - starts[-1]
    unique = keys[starts]
    row_counts = np.diff(np.searchsorted(unique, row_keys))
    unique -= np.repeat(row_keys[:-1].astype(key_type), row_counts)
    return unique, tallies, row_counts
