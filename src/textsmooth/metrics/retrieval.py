"""Recall@k for retrieval: how many of each query's relevant candidates are ranked in its top ``k``.

``Recall@k = (1/Q) sum_q |R_q ∩ top_k(q)| / |R_q|`` over the ``Q`` queries, with ``R_q`` the set of
relevant candidate ids of query ``q``. With exactly one relevant candidate per query this is also the hit
rate (success@k). The same definition as sentence-transformers' ``InformationRetrievalEvaluator``.

The ranking is given either as ``scores`` (``(Q, M)``, higher is better; the top ``k`` are taken with a
stable sort, so **ties go to the lower candidate id**) or as ``ranked_ids`` (``(Q, K)`` candidate ids best
first, e.g. the ``I`` matrix of a faiss search; negative ids such as faiss's ``-1`` mean "no result" and
never match).

``relevant`` can be

* 1-D integers ``(Q,)``: one relevant id per query;
* a 2-D **boolean** mask ``(Q, M)``: ``relevant[q, j]`` says whether candidate ``j`` is relevant to ``q``;
* a 2-D integer array ``(Q, r)`` or a list of ``Q`` lists of ids (lengths may differ): the relevant ids of
  each query (negative entries are padding and ignored; repeated ids count once).

Every query must have at least one relevant id (its recall is undefined otherwise): filter such queries out
first. Computation is vectorised: candidate ids are encoded as ``q * M + id`` and matched with ``np.isin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, InputError
from textsmooth.metrics._inputs import ArrayLike, as_numpy

__all__ = ["recall_at_k", "recall_at_k_per_query"]

# Rows of ``scores`` sorted at once (bounds the int64 argsort buffer to about _SORT_BLOCK x M).
_SORT_BLOCK = 1024


def _ks(k: int | Sequence[int]) -> list[int]:
    values = [k] if isinstance(k, int | np.integer) else list(k)
    if not values:
        raise ConfigError("k must be a positive integer or a non-empty list of them", column="k")
    return [check_int("k", v) for v in values]


def _top_ids(scores: ArrayLike | None, ranked_ids: ArrayLike | None, depth: int) -> tuple[np.ndarray, int]:
    """``(Q, depth)`` candidate ids best first, and the number of candidates (``None`` if unknown -> -1)."""
    if (scores is None) == (ranked_ids is None):
        raise InputError("pass exactly one of scores= or ranked_ids=")
    if scores is not None:
        s = as_numpy(scores, "scores")
        if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
            raise InputError(
                f"scores must be a non-empty (n_queries, n_candidates) matrix, got {s.shape}", column="scores"
            )
        if s.dtype.kind not in "iuf" or not np.all(np.isfinite(s)):
            raise InputError("scores must be finite numbers", column="scores")
        if depth > s.shape[1]:
            raise InputError(f"k={depth} is larger than the {s.shape[1]} candidates", column="k")
        top = np.empty((s.shape[0], depth), dtype=np.int64)
        for start in range(0, s.shape[0], _SORT_BLOCK):
            block = s[start : start + _SORT_BLOCK]
            top[start : start + _SORT_BLOCK] = np.argsort(-block, axis=1, kind="stable")[:, :depth]
        return top, int(s.shape[1])
    ids = as_numpy(ranked_ids, "ranked_ids")
    if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
        raise InputError(
            f"ranked_ids must be a non-empty (n_queries, depth) matrix, got {ids.shape}", column="ranked_ids"
        )
    if ids.dtype.kind not in "iu":
        raise InputError(
            f"ranked_ids must be integer candidate ids, got dtype {ids.dtype}", column="ranked_ids"
        )
    if depth > ids.shape[1]:
        raise InputError(f"k={depth} is larger than the ranking depth {ids.shape[1]}", column="k")
    ids = ids[:, :depth].astype(np.int64)
    ordered = np.sort(ids, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        row = int(np.flatnonzero(repeated.any(axis=1))[0])
        raise InputError(f"ranked_ids repeats a candidate id in query {row}", column="ranked_ids")
    return ids, -1


def _relevant_pairs(relevant: ArrayLike, n_queries: int, n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """(query index, candidate id) of every relevant pair, ids >= 0, unsorted, possibly repeated."""
    if isinstance(relevant, list | tuple) and relevant and not np.isscalar(relevant[0]):
        lengths = np.array([len(r) for r in relevant], dtype=np.int64)
        flat = [np.asarray(list(r)).reshape(-1) for r in relevant]
        flat = [a if a.size else a.astype(np.int64) for a in flat]
        ids = np.concatenate(flat)
        if ids.dtype.kind not in "iu":
            raise InputError("relevant ids must be integers", column="relevant")
        queries = np.repeat(np.arange(len(relevant)), lengths)
        array_len = len(relevant)
    else:
        array = as_numpy(relevant, "relevant")
        array_len = array.shape[0] if array.ndim else 0
        if array.ndim == 1:
            if array.dtype.kind not in "iu":
                raise InputError(f"relevant must be integer ids, got dtype {array.dtype}", column="relevant")
            queries, ids = np.arange(array.shape[0]), array
        elif array.ndim == 2 and array.dtype.kind == "b":
            if n_candidates >= 0 and array.shape[1] != n_candidates:
                raise InputError(
                    f"relevant mask has {array.shape[1]} columns but scores has {n_candidates}",
                    column="relevant",
                )
            queries, ids = np.nonzero(array)
        elif array.ndim == 2 and array.dtype.kind in "iu":
            queries, ids = np.nonzero(np.ones(array.shape, dtype=bool))[0], array.reshape(-1)
        else:
            raise InputError(
                "relevant must be 1-D ids, a 2-D boolean mask, a 2-D id matrix or a list of id lists",
                column="relevant",
            )
    if array_len != n_queries:
        raise InputError(
            f"relevant has {array_len} queries but the ranking has {n_queries}", column="relevant"
        )
    ids = ids.astype(np.int64, copy=False)
    keep = ids >= 0
    if n_candidates >= 0 and ids.size and int(ids.max()) >= n_candidates:
        raise InputError(
            f"relevant id {int(ids.max())} is out of range for {n_candidates} candidates", column="relevant"
        )
    return queries[keep].astype(np.int64), ids[keep]


def _cumulative_hits(
    relevant: ArrayLike, ks: list[int], scores: ArrayLike | None, ranked_ids: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    top, n_candidates = _top_ids(scores, ranked_ids, max(ks))
    n_queries = top.shape[0]
    queries, ids = _relevant_pairs(relevant, n_queries, n_candidates)
    width = int(max(ids.max(initial=-1), top.max(initial=-1))) + 1
    rel_codes = np.unique(queries * width + ids)
    n_relevant = np.bincount(rel_codes // width, minlength=n_queries)
    if (n_relevant == 0).any():
        row = int(np.flatnonzero(n_relevant == 0)[0])
        raise InputError(
            f"query {row} has no relevant id, so its recall is undefined",
            column="relevant",
            hint="drop queries without relevant candidates before scoring",
        )
    codes = np.arange(n_queries, dtype=np.int64)[:, None] * width + top
    hit = np.isin(codes, rel_codes) & (top >= 0)
    return np.cumsum(hit, axis=1), n_relevant


@overload
def recall_at_k_per_query(
    relevant: ArrayLike, k: int, *, scores: ArrayLike | None = ..., ranked_ids: ArrayLike | None = ...
) -> np.ndarray: ...
@overload
def recall_at_k_per_query(
    relevant: ArrayLike,
    k: Sequence[int],
    *,
    scores: ArrayLike | None = ...,
    ranked_ids: ArrayLike | None = ...,
) -> dict[int, np.ndarray]: ...
def recall_at_k_per_query(
    relevant: ArrayLike,
    k: int | Sequence[int],
    *,
    scores: ArrayLike | None = None,
    ranked_ids: ArrayLike | None = None,
) -> np.ndarray | dict[int, np.ndarray]:
    """Recall@k of every query, ``|R_q ∩ top_k(q)| / |R_q|``: a ``(Q,)`` float64 array (a dict per ``k``
    when ``k`` is a list). Arguments as in :func:`recall_at_k`.

    Example:
        >>> recall_at_k_per_query([[0, 2], [1]], 2, ranked_ids=[[2, 1, 0], [0, 1, 2]])
        array([0.5, 1. ])
    """
    ks = _ks(k)
    cumulative, n_relevant = _cumulative_hits(relevant, ks, scores, ranked_ids)
    per_k = {value: cumulative[:, value - 1] / n_relevant for value in ks}
    return per_k[ks[0]] if isinstance(k, int | np.integer) else per_k


@overload
def recall_at_k(
    relevant: ArrayLike, k: int, *, scores: ArrayLike | None = ..., ranked_ids: ArrayLike | None = ...
) -> float: ...
@overload
def recall_at_k(
    relevant: ArrayLike,
    k: Sequence[int],
    *,
    scores: ArrayLike | None = ...,
    ranked_ids: ArrayLike | None = ...,
) -> dict[int, float]: ...
def recall_at_k(
    relevant: ArrayLike,
    k: int | Sequence[int],
    *,
    scores: ArrayLike | None = None,
    ranked_ids: ArrayLike | None = None,
) -> float | dict[int, float]:
    """Mean Recall@k over queries: ``(1/Q) sum_q |R_q ∩ top_k(q)| / |R_q|``.

    Args:
        relevant: the relevant candidate ids of each query (see the module docstring for the accepted forms).
        k: cut-off, or a list of cut-offs (the ranking is computed once; returns ``{k: recall}``).
        scores: ``(Q, M)`` query-candidate scores, higher is better (ties go to the lower candidate id).
        ranked_ids: ``(Q, K)`` candidate ids, best first (pass exactly one of ``scores`` and ``ranked_ids``).

    Raises:
        InputError: shapes disagree, ``k`` exceeds the candidates or the ranking depth, a query has no
            relevant id, or a ranking repeats an id.

    Example:
        >>> scores = [[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]]
        >>> recall_at_k([2, 0], 1, scores=scores), recall_at_k([2, 0], [2, 3], scores=scores)
        (0.0, {2: 0.5, 3: 1.0})
    """
    per_query = recall_at_k_per_query(relevant, _ks(k), scores=scores, ranked_ids=ranked_ids)
    means = {value: float(np.mean(v)) for value, v in per_query.items()}
    return means[int(k)] if isinstance(k, int | np.integer) else means
