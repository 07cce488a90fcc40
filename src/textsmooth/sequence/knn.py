"""k nearest neighbours by cosine among unit-length sentence vectors (step 2 of Algorithm 1).

Backends:

- ``flat``: faiss ``IndexFlatIP``, exact; queries are searched in blocks of ``block_size`` rows.
- ``hnsw``: faiss ``IndexHNSWFlat`` (inner product), approximate, for large corpora; ``hnsw_m`` links
  per node, ``ef_construction`` and ``ef_search`` trade speed for recall.
- ``brute``: exact blocked matrix products with torch (``torch.topk``) or, without torch, numpy
  (``argpartition``); also the fallback for ``flat`` when faiss is not installed.

With unit-length vectors the inner product is the cosine. The exact backends re-score the candidates
they return with one fixed-order dot product per pair (:func:`exact_cosines`): a BLAS matrix product sums in
an order that depends on its thread count and blocking (faiss ``flat`` gave cosines up to 1e-7 apart with 1
and 2 threads), so without it a table would depend on the machine's cores; with it the cosines, and so the
order, are the same for any thread count, block size or Ray task layout. They fetch ``RESCORE_MARGIN`` more
candidates than asked, so a near-tie at the k-th place is settled by the exact cosines too.

Each query is a row of the indexed matrix and is never its own neighbour: the search asks for ``k + 1``
and removes the query's own row. Rows
with identical text should be merged before indexing (:class:`~textsmooth.sequence.SemanticNeighbors`
does), so that a duplicate of the query can never come back either. Results are ordered by
decreasing cosine, ties by increasing row id.
"""

from __future__ import annotations

import warnings
from typing import Any, get_args

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.sequence._threads import thread_limit
from textsmooth.sequence.choices import Backend, one_of

__all__ = ["BRUTE_MAX_CELLS", "RESCORE_MARGIN", "Backend", "KnnIndex", "exact_cosines", "faiss_available"]

#: Extra candidates the exact backends fetch before re-scoring (module docstring).
RESCORE_MARGIN = 4
#: Query rows re-scored at once (bounds the gathered ``rows x k x dim`` block to ~25 MiB at k = 100).
_RESCORE_ROWS = 160

BRUTE_MAX_CELLS = 1 << 28
"""Most float32 similarities in one ``brute`` block (2^28 = 1 GiB): ``block_size`` is lowered to
``BRUTE_MAX_CELLS // n`` rows for a corpus of ``n`` rows, so a block's ``(block, n)`` similarity matrix
stays at or under 1 GiB whatever ``block_size`` asks for. A memory bound, not a speed setting:
``block_size`` trades memory for fewer blocks below it."""


def faiss_available() -> bool:
    """Whether faiss can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class KnnIndex:
    """Exact or approximate inner-product search over the rows of ``vectors``.

    Args:
        vectors: (n, d) float32, unit-length rows.
        backend: ``flat``, ``hnsw`` or ``brute`` (see the module docstring).
        block_size: queries per block (``brute`` also caps ``block x n`` at 2^28 floats, 1 GiB).
        hnsw_m, ef_construction, ef_search: HNSW parameters.
        num_threads: faiss/torch threads while building and searching (``None``: cores - 1, at least 1).

    Example:
        >>> v = np.eye(3, dtype=np.float32)[[0, 0, 1]] + np.float32(0.1)
        >>> v /= np.linalg.norm(v, axis=1, keepdims=True)
        >>> ids, sims = KnnIndex(v, backend="brute").search_rows(np.arange(3), k=1)
        >>> ids.ravel().tolist()
        [1, 0, 0]
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        backend: Backend = "flat",
        block_size: int = 4096,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
        num_threads: int | None = None,
    ) -> None:
        if backend not in get_args(Backend):
            raise ConfigError(
                f"unknown kNN backend {backend!r}", column="index", hint=f"choose {one_of(Backend)}"
            )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] < 1:
            raise InputError(f"vectors must be a (n, d) array, got shape {vectors.shape}", column="vectors")
        if not np.isfinite(vectors).all():
            raise InputError("vectors contain NaN or infinite values", column="vectors")
        if int(block_size) < 1:
            raise ConfigError(f"block_size must be >= 1, got {block_size}", column="block_size")
        if backend in ("flat", "hnsw") and not faiss_available():
            if backend == "hnsw":
                raise ConfigError(
                    "the hnsw backend needs faiss", column="index", hint="pip install faiss-cpu"
                )
            warnings.warn("faiss is not installed; using the exact torch/numpy backend", stacklevel=2)
            backend = "brute"
        self.backend = backend
        self.vectors = vectors
        self.block_size = int(block_size)
        self.ef_search = int(ef_search)
        self.num_threads = num_threads
        self._index: Any = None
        with thread_limit(num_threads, torch_=False, faiss_=backend != "brute"):
            self._build(vectors, backend, int(hnsw_m), int(ef_construction))

    def _build(self, vectors: np.ndarray, backend: str, hnsw_m: int, ef_construction: int) -> None:
        if backend == "flat":
            import faiss

            self._index = faiss.IndexFlatIP(vectors.shape[1])
            self._index.add(vectors)
        elif backend == "hnsw":
            import faiss

            index = faiss.IndexHNSWFlat(vectors.shape[1], int(hnsw_m), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(ef_construction)
            index.add(vectors)
            self._index = index

    @classmethod
    def from_faiss(
        cls,
        index: Any,
        vectors: np.ndarray,
        *,
        backend: Backend,
        block_size: int = 4096,
        ef_search: int = 256,
        num_threads: int | None = None,
    ) -> KnnIndex:
        """Wrap an already built faiss index (e.g. one read back with ``faiss.read_index``) of ``vectors``."""
        self = cls.__new__(cls)
        self.backend = backend
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.block_size = int(block_size)
        self.ef_search = int(ef_search)
        self.num_threads = num_threads
        self._index = index
        return self

    @property
    def faiss_index(self) -> Any:
        """The underlying faiss index (``None`` for ``brute``)."""
        return self._index

    @property
    def n(self) -> int:
        """Number of indexed rows."""
        return int(self.vectors.shape[0])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows for each query vector: ``(ids, sims)``, both (q, k); -1/NaN pad."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k_eff = min(int(k), self.n)
        q = queries.shape[0]
        ids = np.full((q, int(k)), -1, dtype=np.int64)
        sims = np.full((q, int(k)), np.nan, dtype=np.float32)
        if k_eff <= 0 or q == 0:
            return ids, sims
        brute = self.backend == "brute"
        block = self.block_size
        if brute:  # the (block x n) similarity matrix stays under ~1 GiB
            block = max(1, min(block, BRUTE_MAX_CELLS // max(self.n, 1)))
        with thread_limit(self.num_threads, torch_=brute, faiss_=not brute):
            for lo in range(0, q, block):
                hi = min(lo + block, q)
                bi, bs = self._search_block(queries[lo:hi], k_eff)
                ids[lo:hi, :k_eff] = bi
                sims[lo:hi, :k_eff] = bs
        return ids, sims

    def _search_block(self, block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        exact = self.backend != "hnsw"
        fetch = min(k + RESCORE_MARGIN, self.n) if exact else k
        if self.backend == "flat":
            sims, ids = self._index.search(block, fetch)
        elif self.backend == "hnsw":
            import faiss

            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.ef_search, k)
            sims, ids = self._index.search(block, k, params=params)
        else:
            ids, sims = _brute_topk(block, self.vectors, fetch)
        ids = ids.astype(np.int64, copy=False)
        # hnsw scores come from faiss's per-pair kernel, which does not depend on threads
        sims = exact_cosines(block, self.vectors, ids) if exact else sims.astype(np.float32, copy=False)
        # deterministic order: decreasing similarity, then increasing id (missing ids last)
        key_ids = np.where(ids < 0, np.iinfo(np.int64).max, ids)
        key_sims = np.where(ids < 0, np.inf, -sims)
        order = np.lexsort((key_ids, key_sims), axis=1)[:, :k]
        return np.take_along_axis(ids, order, 1), np.take_along_axis(sims, order, 1)

    def search_rows(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of indexed rows ``rows``, each row excluded from its own result: ``(ids, sims)`` (q, k).

        When fewer than ``k`` other rows exist the result is padded with id -1 and cosine NaN.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise InputError("rows must index the indexed vectors", column="rows")
        ids, sims = self.search(self.vectors[rows], int(k) + 1)
        own = ids == rows[:, None]
        # drop the query's own row; where it is absent (ties beyond k + 1), drop the last column
        drop = np.where(own.any(axis=1), own.argmax(axis=1), ids.shape[1] - 1)
        keep = np.ones(ids.shape, dtype=bool)
        keep[np.arange(ids.shape[0]), drop] = False
        out_ids = ids[keep].reshape(ids.shape[0], -1)
        out_sims = sims[keep].reshape(ids.shape[0], -1)
        # another row can still be the query's own id in a degenerate index (never for distinct rows)
        return out_ids, out_sims


def exact_cosines(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``out[i, j] = queries[i] . vectors[ids[i, j]]`` (NaN where ``ids`` is -1), float32, each a
    single-threaded numpy dot product in a fixed order: the same value for any thread count or blocking
    (``queries`` (q, d), ``vectors`` (n, d), ``ids`` (q, m))."""
    out = np.full(ids.shape, np.nan, dtype=np.float32)
    for lo in range(0, ids.shape[0], _RESCORE_ROWS):
        part = ids[lo : lo + _RESCORE_ROWS]
        gathered = vectors[np.maximum(part, 0)]  # (rows, m, d)
        dots = np.einsum("rd,rmd->rm", queries[lo : lo + _RESCORE_ROWS], gathered, dtype=np.float32)
        out[lo : lo + _RESCORE_ROWS] = np.where(part >= 0, dots, np.nan)
    return out


def _brute_topk(block: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        sims = block @ base.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return part, np.take_along_axis(sims, part, 1)
    with torch.inference_mode():
        sims = torch.from_numpy(block) @ torch.from_numpy(base).T
        top = torch.topk(sims, k, dim=1)
    return top.indices.numpy(), top.values.numpy()
