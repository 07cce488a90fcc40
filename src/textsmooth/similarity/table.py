"""``SimilarityTable``: every vocabulary word's top-N most similar words, the input of the word-similarity
losses (:mod:`textsmooth.losses.similarity`, the similarity-based reconstruction loss poster).

Row ``w`` holds ``indices[w]`` (vocabulary ids, ``-1`` for padding) and ``weights[w]``: the word itself
first with similarity 1, then its ``N - 1`` nearest vocabulary words by cosine of their vectors, most
similar first. Words in the stop-word list, words without a vector and words whose neighbours all fall
below ``min_similarity`` keep a one-hot row (themselves, weight 1), as the poster keeps plain
cross-entropy for them. ``normalize=True`` divides each row by its sum (the soft-label loss's target);
``False`` keeps the raw cosines in [-1, 1] (weighted similarity, weighted cross-entropy). Never a
vocabulary x vocabulary matrix: the search runs in row blocks (a block of ``block_size`` rows of cosines
at a time).

Saved as NPZ (``allow_pickle=False``) with a JSON manifest (the vocabulary's hash, N, the options, the
counts of one-hot rows); :meth:`SimilarityTable.read` with ``vocab`` refuses a table of another vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from textsmooth.errors import ArtifactError, ConfigError, InputError, StaleArtifactError
from textsmooth.io.manifest import hash_texts, read_manifest, write_manifest
from textsmooth.similarity.vectors import WordVectors

__all__ = ["SIMILARITY_TABLE_KIND", "SimilarityTable", "build_similarity_table", "top_similar"]

SIMILARITY_TABLE_KIND = "similarity-table"


@dataclass
class SimilarityTable:
    """Top-N similar words per vocabulary word (module docstring).

    Attributes:
        vocab: the vocabulary (row ``i`` belongs to ``vocab[i]``).
        indices: ``(V, N)`` int64 vocabulary ids, ``-1`` for padding; ``weights``: ``(V, N)`` float32.
        normalized: rows sum to 1. info: counts and options (the manifest's ``extra``).
    """

    vocab: list[str]
    indices: np.ndarray
    weights: np.ndarray
    normalized: bool
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        V = len(self.vocab)
        if self.indices.ndim != 2 or self.indices.shape[0] != V or self.weights.shape != self.indices.shape:
            raise InputError(
                f"indices {tuple(self.indices.shape)} and weights {tuple(self.weights.shape)} must both be "
                f"({V}, N) for a vocabulary of {V}",
                column="indices",
            )
        if self.indices.size and (self.indices.max() >= V or self.indices.min() < -1):
            raise InputError(f"indices must be vocabulary ids in [0, {V}) or -1", column="indices")

    @property
    def top_n(self) -> int:
        return int(self.indices.shape[1])

    def neighbors_of(self, word: str) -> list[tuple[str, float]]:
        """``[(word, weight), ...]`` of one word's row, the word itself first.

        Raises:
            InputError: the word is not in the vocabulary.
        """
        try:
            row = self.vocab.index(word)
        except ValueError as exc:
            raise InputError(f"{word!r} is not in the table's vocabulary", column="word") from exc
        return [
            (self.vocab[int(i)], float(w))
            for i, w in zip(self.indices[row], self.weights[row], strict=True)
            if i >= 0
        ]

    def as_tensors(self, device: Any = None) -> tuple[Any, Any]:
        """``(neighbors, similarities)`` torch tensors for :mod:`textsmooth.losses.similarity`."""
        import torch

        return (
            torch.as_tensor(self.indices, device=device),
            torch.as_tensor(self.weights, device=device),
        )

    # ------------------------------------------------------------------ persistence
    def write(self, path: str | Path, *, parameters: dict[str, Any] | None = None) -> Path:
        """Write NPZ atomically, then the manifest (the commit mark). Returns the path."""
        from textsmooth.io.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                indices=self.indices.astype(np.int64),
                weights=self.weights.astype(np.float32),
                vocab=np.array(self.vocab, dtype=np.str_),
            )
        write_manifest(
            path,
            kind=SIMILARITY_TABLE_KIND,
            parameters={"top_n": self.top_n, "normalized": self.normalized, **(parameters or {})},
            inputs={"vocab_sha256": hash_texts(self.vocab), "vocab_size": len(self.vocab)},
            extra={"counts": self.info},
        )
        return path

    @classmethod
    def read(cls, path: str | Path, *, vocab: Sequence[str] | None = None) -> SimilarityTable:
        """Read a table written by :meth:`write`; with ``vocab``, refuse a table of another vocabulary.

        Raises:
            ArtifactError: no manifest (unfinished), a damaged file. StaleArtifactError: another vocabulary.
        """
        path = Path(path)
        manifest = read_manifest(path, kind=SIMILARITY_TABLE_KIND)
        inputs = manifest.get("inputs", {})
        if vocab is not None and inputs.get("vocab_sha256") != hash_texts(list(vocab)):
            raise StaleArtifactError(
                "similarity table was built for another vocabulary",
                path=path,
                hint="rebuild it for this model's vocabulary (textsmooth similarity build)",
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                words = [str(w) for w in data["vocab"].tolist()]
                table = cls(
                    words,
                    data["indices"].astype(np.int64),
                    data["weights"].astype(np.float32),
                    bool(manifest.get("parameters", {}).get("normalized")),
                    dict(manifest.get("counts") or {}),
                )
        except (KeyError, ValueError, OSError, InputError) as exc:
            raise ArtifactError(f"not a readable similarity table ({exc})", path=path) from exc
        if inputs.get("vocab_sha256") != hash_texts(table.vocab):
            raise ArtifactError("the table's vocabulary differs from its manifest", path=path)
        return table


def top_similar(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    *,
    exclude_self: bool = True,
    block_size: int = 2048,
    backend: Literal["auto", "torch", "numpy"] = "auto",
    symmetric: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of ``keys`` for every row of ``queries``, in row blocks.

    ``queries`` and ``keys`` are L2-normalised here (a zero row has cosine 0 with everything). With
    ``exclude_self``, query ``i`` never gets key ``i`` (its own row when the queries are the keys). Returns
    ``(ids, cosines)``, each ``(len(queries), k)`` (``k`` capped at the number of keys, less one with
    ``exclude_self``), in a fixed order: the higher cosine first and, between equal cosines, the lower
    index, so the result does not depend on the backend. The block size and the path below change which
    products the BLAS kernel computes together, so cosines equal in exact arithmetic (two keys that are
    the same vector, near-ties) can differ in the last bit and swap places (OpenBLAS's AVX2 kernel does
    this, its AVX-512 kernel did not on the machines tried); where the cosines are exact in float32 the
    result is the same for every block size and path (tested).

    Two paths give the same result:

    * general: ``block_size`` rows of cosines against every key at a time, top-k per row;
    * symmetric (the queries are the keys: ``symmetric=None`` detects ``keys is queries``, ``True`` asserts
      it): only the blocks on and right of the diagonal of the cosine matrix, half the products. The
      panel of rows ``[lo, hi)`` gives its own rows their candidates among the keys from ``lo`` on, and the
      later rows, down its columns, their candidates among its rows; both are merged into running top-k
      lists. Once a row's list is full, only a cosine above its last entry can enter, so most of a panel is
      dismissed by one comparison.

    Each block product is written into one preallocated ``(block_size, len(keys))`` float32 buffer, the
    peak memory. ``backend``: ``torch`` (``topk``, threaded), ``numpy`` (``argpartition``), or ``auto``
    (torch when installed); the products are numpy's (``matmul``) in both.

    Raises:
        InputError: ``symmetric=True`` with keys that differ from the queries.
    """
    if symmetric is None:
        symmetric = keys is queries
    elif symmetric and keys is not queries and not np.array_equal(keys, queries):
        raise InputError("symmetric=True needs the keys to be the queries", column="keys")
    q = _unit(queries)
    x = q if symmetric else _unit(keys)
    n, m = q.shape[0], x.shape[0]
    k = min(k, m - 1 if exclude_self else m)
    if k <= 0 or n == 0:
        return np.full((n, max(k, 0)), -1, dtype=np.int64), np.zeros((n, max(k, 0)), dtype=np.float32)
    if m >= _PAD:
        raise InputError(f"top_similar takes fewer than {_PAD} keys, got {m}", column="keys")
    torch: Any = None
    if backend in ("auto", "torch"):
        try:
            import torch
        except ImportError:  # the numpy path (tests force it with backend="numpy")
            if backend == "torch":
                raise
    block_size = max(1, int(block_size))
    if symmetric:
        return _symmetric_top(q, k, exclude_self, block_size, torch)
    ids = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    buffer = np.empty(min(block_size, n) * m, dtype=np.float32)
    for lo in range(0, n, block_size):
        hi = min(lo + block_size, n)
        scores = buffer[: (hi - lo) * m].reshape(hi - lo, m)
        np.matmul(q[lo:hi], x.T, out=scores)
        if exclude_self and lo < m:
            own = np.arange(lo, min(hi, m))
            scores[own - lo, own] = -np.inf
        sims[lo:hi], ids[lo:hi] = _row_topk(scores, k, torch)
    return ids, sims


# The search's order: a higher cosine first, then a lower index. _order_keys turns (cosine, index) into one
# int64 whose integer order is that order: the float32's bits made monotone in the high half, the index
# reversed in the low half. _PAD is the index of an empty slot of a running list (with cosine -inf): after
# every real index.
_PAD = 2**31 - 1
# Elements per chunk of a temporary (a few MB at a time).
_CHUNK = 1 << 22


def _order_keys(vals: np.ndarray, ids: np.ndarray) -> np.ndarray:
    bits = (np.asarray(vals, dtype=np.float32) + np.float32(0.0)).view(np.int32)  # -0.0 + 0.0 is +0.0
    bits = np.where(bits < 0, bits ^ np.int32(0x7FFFFFFF), bits)
    return (bits.astype(np.int64) << 32) | (np.int64(0xFFFFFFFF) - ids)


def _best(vals: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` of each row's ``(vals, ids)`` in the search's order (ids distinct within a row).

    numpy, whatever the backend: the rows are short, and on a busy CPU a threaded torch call on them can
    wait longer for a core than numpy takes."""
    order = np.argsort(-_order_keys(vals, ids), axis=1, kind="stable")[:, :k]
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(ids, order, axis=1)


def _row_topk(scores: np.ndarray, k: int, torch: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(cosines, column ids)`` of each row's ``k`` largest entries in the search's order (``k`` at most
    the number of columns; ``scores`` may be a strided view). A top-(k + 1) finds the candidates; where the
    k-th and (k + 1)-th cosines are equal, which of the equal entries are kept is decided exactly."""
    rows, cols = scores.shape
    kk = min(k + 1, cols)
    if torch is not None:
        top = torch.from_numpy(scores).topk(kk, dim=1, sorted=False)
        vals, ids = top.values.numpy(), top.indices.numpy()
    else:
        vals = np.empty((rows, kk), dtype=np.float32)
        ids = np.empty((rows, kk), dtype=np.int64)
        step = max(1, _CHUNK // cols)  # argpartition returns an int64 per element: a chunk at a time
        for a in range(0, rows, step):
            part = np.argpartition(scores[a : a + step], cols - kk, axis=1)[:, cols - kk :]
            ids[a : a + step] = part
            vals[a : a + step] = np.take_along_axis(scores[a : a + step], part, axis=1)
    vals, ids = _best(vals, ids, kk)
    if kk > k:
        tied = np.flatnonzero(vals[:, k - 1] == vals[:, k])
        step = max(1, (_CHUNK // 8) // cols)
        for a in range(0, tied.size, step):
            part = tied[a : a + step]
            vals[part, :k], ids[part, :k] = _tied_topk(scores[part], vals[part, k - 1], k)
    return vals[:, :k], ids[:, :k]


def _tied_topk(scores: np.ndarray, last: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact top-k of rows whose k-th largest cosine ``last`` is shared by more entries than fit: every
    entry above it, then the lowest-index entries equal to it."""
    above = scores > last[:, None]
    equal = scores == last[:, None]
    room = k - above.sum(axis=1)
    keep = above | (equal & (np.cumsum(equal, axis=1) <= room[:, None]))
    ids = np.nonzero(keep)[1].reshape(len(scores), k)
    return _best(np.take_along_axis(scores, ids, axis=1), ids, k)


def _symmetric_top(
    q: np.ndarray, k: int, exclude_self: bool, block_size: int, torch: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``top_similar`` with the keys equal to the queries: the blocks on and right of the diagonal."""
    n = q.shape[0]
    best_vals = np.full((n, k), -np.inf, dtype=np.float32)
    best_ids = np.full((n, k), _PAD, dtype=np.int64)
    buffer = np.empty(min(block_size, n) * n, dtype=np.float32)
    for lo in range(0, n, block_size):
        hi = min(lo + block_size, n)
        h = hi - lo
        panel = buffer[: h * (n - lo)].reshape(h, n - lo)
        np.matmul(q[lo:hi], q[lo:].T, out=panel)  # rows [lo, hi) x columns [lo, n)
        if exclude_self:
            panel[np.arange(h), np.arange(h)] = -np.inf
        _merge_panel(panel, best_vals, best_ids, lo, k, torch)
    best_ids[best_ids == _PAD] = -1
    return best_ids, best_vals


# A panel's cosines enter the running lists only above the lists' last cosines (their thresholds): its own
# rows' lists hold ids below the panel's first row and every later row's list ids below the panel's rows, so
# a cosine equal to a full list's last one loses the tie. The screening works on maxima, of segments of
# _SEGMENT columns along a row and of _TILE rows down a column, taken in one pass over chunks of _TILE rows
# while a chunk is in cache; only segments whose maximum passes are compared element by element, _CHUNK
# elements at a time. The screening is numpy: on a busy CPU each threaded torch call can wait for a core
# longer than it takes. Where more than 1/_DENSE of a panel's cosines pass (the first panel, whose lists
# start empty), every row or column takes its top-k instead: sorting so many candidates would cost more.
_SEGMENT = 256
_TILE = 16
_DENSE = 16


def _merge_panel(
    panel: np.ndarray, best_vals: np.ndarray, best_ids: np.ndarray, lo: int, k: int, torch: Any
) -> None:
    """Merge the panel of rows ``lo, lo + 1, ...`` x columns ``lo..`` into the running lists: of its rows
    (their candidates among the columns) and of the later rows (candidates among the panel's rows)."""
    h, width = panel.shape
    n_later = width - h
    dense_rows = not np.isfinite(best_vals[lo : lo + h, -1]).any()  # the first panel: empty lists
    dense_cols = n_later > 0 and not np.isfinite(best_vals[lo + h :, -1]).any()
    full_w = width - width % _SEGMENT
    full_h = h - h % _TILE
    seg_max = np.empty((h, full_w // _SEGMENT), dtype=np.float32)
    tile_max = np.empty((full_h // _TILE, n_later), dtype=np.float32)
    for a in range(0, full_h if not (dense_rows and dense_cols) else 0, _TILE):
        chunk = panel[a : a + _TILE]
        if not dense_rows:
            chunk[:, :full_w].reshape(_TILE, -1, _SEGMENT).max(axis=2, out=seg_max[a : a + _TILE])
        if n_later and not dense_cols:
            chunk[:, h:].max(axis=0, out=tile_max[a // _TILE])
    if not dense_rows and full_h < h:
        panel[full_h:, :full_w].reshape(h - full_h, -1, _SEGMENT).max(axis=2, out=seg_max[full_h:])
    if dense_rows or not _merge_rows(panel, seg_max, best_vals, best_ids, lo, k):
        vals, ids = _row_topk(panel, min(k, width), torch)  # the top-k of every row
        _merge_dense(best_vals, best_ids, lo + np.arange(h), vals, ids + lo, k)
    if n_later and (dense_cols or not _merge_columns(panel[:, h:], tile_max, best_vals, best_ids, lo, k)):
        step = max(1, _CHUNK // h)  # the top-k of every column, from transposed copies of a few columns
        for c0 in range(0, n_later, step):
            c1 = min(c0 + step, n_later)
            vals, ids = _row_topk(np.ascontiguousarray(panel[:, h + c0 : h + c1].T), min(k, h), torch)
            _merge_dense(best_vals, best_ids, lo + h + np.arange(c0, c1), vals, ids + lo, k)


def _merge_rows(
    block: np.ndarray, seg_max: np.ndarray, best_vals: np.ndarray, best_ids: np.ndarray, first: int, k: int
) -> bool:
    """Merge ``block[r, c]``, a candidate ``first + c`` of row ``first + r``, into the running lists, from
    the segments whose maximum ``seg_max[r, s]`` passes; ``False`` (nothing merged) where too many do."""
    rows, cols = block.shape
    last = best_vals[first : first + rows, -1]
    pair_r, pair_s = np.nonzero(seg_max > last[:, None])
    full = cols - cols % _SEGMENT
    segments = block[:, :full].reshape(rows, -1, _SEGMENT)
    found_r, found_c = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    count, step = 0, max(1, _CHUNK // _SEGMENT)
    for a in range(0, pair_r.size, step):
        r, s = pair_r[a : a + step], pair_s[a : a + step]
        i, j = np.nonzero(segments[r, s] > last[r][:, None])  # (pairs, _SEGMENT)
        found_r.append(r[i])
        found_c.append(s[i] * _SEGMENT + j)
        count += i.size
        if count * _DENSE > block.size:
            return False
    if full < cols:  # the last, partial segment of every row, compared element by element
        i, j = np.nonzero(block[:, full:] > last[:, None])
        found_r.append(i)
        found_c.append(j + full)
    r, c = np.concatenate(found_r), np.concatenate(found_c)
    _merge_sparse(best_vals, best_ids, first + r, block[r, c], c + first, k)
    return True


def _merge_columns(
    block: np.ndarray,
    tile_max: np.ndarray,
    best_vals: np.ndarray,
    best_ids: np.ndarray,
    first_id: int,
    k: int,
) -> bool:
    """Merge ``block[i, c]``, a candidate ``first_id + i`` of row ``first_id + rows + c`` (the rows after the
    panel's), into the running lists, from the tiles whose maximum ``tile_max[t, c]`` passes; ``False``
    (nothing merged) where too many do."""
    rows, cols = block.shape
    first = first_id + rows
    last = best_vals[first : first + cols, -1]
    pair_t, pair_c = np.nonzero(tile_max > last[None, :])
    full = rows - rows % _TILE
    tiles = block[:full].reshape(-1, _TILE, cols)
    found_r, found_c = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    count, step = 0, max(1, _CHUNK // _TILE)
    for a in range(0, pair_t.size, step):
        t, c = pair_t[a : a + step], pair_c[a : a + step]
        i, j = np.nonzero(tiles[t, :, c] > last[c][:, None])  # (pairs, _TILE)
        found_r.append(t[i] * _TILE + j)
        found_c.append(c[i])
        count += i.size
        if count * _DENSE > block.size:
            return False
    if full < rows:  # the last, partial tile of every column, compared element by element
        i, j = np.nonzero(block[full:] > last[None, :])
        found_r.append(i + full)
        found_c.append(j)
    r, c = np.concatenate(found_r), np.concatenate(found_c)
    _merge_sparse(best_vals, best_ids, first + c, block[r, c], r + first_id, k)
    return True


def _merge_sparse(
    best_vals: np.ndarray, best_ids: np.ndarray, rows: np.ndarray, vals: np.ndarray, ids: np.ndarray, k: int
) -> None:
    """Merge candidates ``(vals[e], ids[e])`` of rows ``rows[e]``: each row's first ``k`` of them in the
    search's order, padded to ``(rows, k)``, then :func:`_merge_dense`."""
    if rows.size == 0:
        return
    order = np.lexsort((-_order_keys(vals, ids), rows))
    rows, vals, ids = rows[order], vals[order], ids[order]
    start = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    per_row = np.diff(np.r_[start, rows.size])
    rank = np.arange(rows.size) - np.repeat(start, per_row)
    slot = np.repeat(np.arange(start.size), per_row)
    keep = rank < k
    cand_vals = np.full((start.size, k), -np.inf, dtype=np.float32)
    cand_ids = np.full((start.size, k), _PAD, dtype=np.int64)
    cand_vals[slot[keep], rank[keep]] = vals[keep]
    cand_ids[slot[keep], rank[keep]] = ids[keep]
    _merge_dense(best_vals, best_ids, rows[start], cand_vals, cand_ids, k)


def _merge_dense(
    best_vals: np.ndarray, best_ids: np.ndarray, rows: np.ndarray, vals: np.ndarray, ids: np.ndarray, k: int
) -> None:
    """Merge ``(vals[r], ids[r])`` (distinct ids, none in the list already) into the list of ``rows[r]``."""
    ids[np.isneginf(vals)] = _PAD  # an excluded own row is never a neighbour
    best_vals[rows], best_ids[rows] = _best(
        np.concatenate([best_vals[rows], vals], axis=1), np.concatenate([best_ids[rows], ids], axis=1), k
    )


def _unit(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def build_similarity_table(
    vocab: Sequence[str],
    vectors: WordVectors,
    *,
    top_n: int = 5,
    stopwords: Iterable[str] | None = None,
    normalize: bool = True,
    min_similarity: float | None = None,
    block_size: int = 2048,
) -> SimilarityTable:
    """The top-N table of ``vocab`` from ``vectors`` (module docstring: the rows).

    Neighbours are searched among the vocabulary words that have a vector and are not stop words.

    Args:
        vocab: the model vocabulary, in id order (distinct words).
        vectors: word vectors (words outside ``vocab`` are ignored).
        top_n: N, the row length, the word itself included (the poster uses 3, 5 and 10).
        stopwords: words that keep a one-hot row (and are never a neighbour).
        normalize: divide each row by its sum (soft-label loss); else raw cosines.
        min_similarity: drop neighbours below this cosine.

    Raises:
        ConfigError: ``top_n`` below 2 or above the vocabulary size, ``min_similarity`` outside [-1, 1],
            ``normalize`` with ``min_similarity`` below 0 (a row could sum to 0).
        InputError: duplicate words in ``vocab``, or no vocabulary word has a vector.
    """
    vocab = list(vocab)
    V = len(vocab)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 2:
        raise ConfigError(
            f"top_n must be an integer >= 2 (the word and a neighbour), got {top_n!r}", column="top_n"
        )
    if top_n > V:
        raise ConfigError(f"top_n {top_n} is larger than the vocabulary ({V} words)", column="top_n")
    if min_similarity is not None and not -1 <= float(min_similarity) <= 1:
        raise ConfigError(
            f"min_similarity must be in [-1, 1], got {min_similarity!r}", column="min_similarity"
        )
    if normalize and min_similarity is not None and min_similarity < 0:
        raise ConfigError(
            "normalize needs min_similarity >= 0 (a row could sum to 0)", column="min_similarity"
        )
    first: dict[str, int] = {}
    for i, word in enumerate(vocab):
        if word in first:
            raise InputError(
                f"the vocabulary lists {word!r} twice (ids {first[word]} and {i})", column="vocab"
            )
        first[word] = i
    stop = set(stopwords or ())
    row_of = vectors.index()
    has_vector = np.array([w in row_of for w in vocab])
    if not has_vector.any():
        raise InputError(
            "no vocabulary word has a vector",
            column="vectors",
            hint="check the vector file's language and case",
        )
    candidates = np.flatnonzero(has_vector & np.array([w not in stop for w in vocab]))
    indices = np.full((V, top_n), -1, dtype=np.int64)
    weights = np.zeros((V, top_n), dtype=np.float32)
    indices[:, 0] = np.arange(V)
    weights[:, 0] = 1.0
    if len(candidates) > 1:
        matrix = vectors.vectors[[row_of[vocab[i]] for i in candidates]]
        ids, sims = top_similar(matrix, matrix, top_n - 1, exclude_self=True, block_size=block_size)
        keep = ids >= 0
        if min_similarity is not None:
            keep &= sims >= float(min_similarity)
        width = ids.shape[1]
        indices[candidates, 1 : 1 + width] = np.where(keep, candidates[np.maximum(ids, 0)], -1)
        weights[candidates, 1 : 1 + width] = np.where(keep, sims, 0.0)
    one_hot = (indices[:, 1:] < 0).all(axis=1)
    if normalize:
        weights /= weights.sum(axis=1, keepdims=True)
    info = {
        "n_words": V,
        "without_vector": int((~has_vector).sum()),
        "stopwords": int(sum(w in stop for w in vocab)),
        "one_hot_rows": int(one_hot.sum()),
        "min_similarity": min_similarity,
    }
    return SimilarityTable(vocab, indices, weights.astype(np.float32), bool(normalize), info)
