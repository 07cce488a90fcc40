"""Semantic related targets: embed -> k nearest neighbours -> BLEU re-rank -> keep k' (Algorithm 1).

For each target ``y`` of a training corpus (Lukasik et al., "Semantic label smoothing for sequence to
sequence problems", Algorithm 1):

1. embed every target with a sentence encoder (unit vectors, so cosine = inner product);
2. ``N(y)``: the ``k`` targets with the highest cosine to ``y`` (``k = 100`` in the paper), never ``y``
   itself nor a duplicate of it;
   With ``min_cosine``, candidates whose cosine to ``y`` is below it are dropped from ``N(y)`` here,
   before re-ranking (off by default, as in the paper);
3. sort ``N(y)`` by sentence BLEU-n of the neighbour (hypothesis) against ``y`` (reference), ties by
   cosine then by row (``n = 4`` in the paper, 3 and 5 in its Table 4; ``bleu_order=None`` keeps the
   cosine order: the "without BLEU pruning" ablation);
4. ``R(y)``: the first ``k'`` (``keep = 5`` in the paper), used by the loss (2)
   ``-log p(y|x) + alpha / |R(y)| * sum_{y' in R(y)} -log p(y'|x)``.

Duplicates. Targets are grouped by a duplicate key (``duplicates="exact"``: identical strings;
``"normalized"``, the default: also ignoring case, repeated white space and a final period, the
Multi30k task 2 caveat). Each group is embedded and searched once, by its first row; the neighbours of
a group are other groups, returned as their first row, so neither a target nor any duplicate of it is
ever its own neighbour and a neighbour list holds distinct sentences. All rows of a group get the
same neighbours.

Embedding side. ``embed_side="target"`` embeds the targets (for English targets with the default
English MiniLM). ``embed_side="source"`` embeds the aligned ``sources`` instead (e.g. English sources
of an EN->DE corpus): neighbours are found through the sources and their *targets* are returned and
BLEU-scored against the target. Any local multilingual model also works on the target side.

Weak candidates (``min_cosine``). On a small corpus the ``k`` nearest targets of many targets include
weakly related ones, and BLEU re-ranking promotes them: on 2,000 Multi30k targets (k=100, k'=5) 20.8%
of the kept targets had cosine < 0.3 (0.3% without re-ranking; docs/sequence.md). ``min_cosine``
removes them from the candidates before re-ranking. A target left with fewer than ``k'`` candidates
keeps those it has, best first (maybe none): its table rows are ranks ``1..m`` with ``m < k'``, and
in loss (2) the mean over ``R(y)`` is over those ``m`` (with ``m = 0`` only the NLL term remains).
``short_rows_`` and the manifest (``targets_below_keep``, ``targets_without_related``) count them.

Size. With fewer distinct targets than ``k + 1``, ``k`` is reduced to the number of other distinct
targets (``k_`` records it, with a warning); ``keep > k`` is a :class:`~textsmooth.errors.ConfigError`.

Stages. The work is done by module-level stage functions, :func:`search_block` (step 2),
:func:`rerank_block` (steps 3-4) and :func:`neighbor_shard` (both, for one shard of distinct targets),
with :meth:`SentenceEncoder.encode <textsmooth.sequence.encoder.SentenceEncoder.encode>` as the embedding
stage. :class:`Stages` runs them in this process; :func:`textsmooth.distributed.semantic_neighbors`
runs the same functions on Ray (an actor pool for the encoder, one task per shard), through the same
:meth:`SemanticNeighbors.fit` sequence, so both give the same table.

Resumable. With a ``work_dir``, embeddings and every shard of ``shard_size`` targets are saved
atomically there as they finish; running ``fit`` again with the same inputs and parameters skips
finished shards and gives the same table as an uninterrupted run (shard boundaries are fixed, so each
shard is computed from the same inputs; an HNSW index is saved once and reloaded). A work folder left
by other inputs or parameters is detected through its ``run.json`` and its shards are discarded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from textsmooth._params import ParamsMixin, check_int
from textsmooth.errors import ConfigError, InputError, NotFittedError
from textsmooth.io.atomic import atomic_path, atomic_write_text
from textsmooth.io.manifest import hash_texts
from textsmooth.sequence.choices import Backend, Duplicates, EmbedSide, one_of
from textsmooth.sequence.data import check_texts
from textsmooth.sequence.encoder import EncodeParts, SentenceEncoder, embed_texts
from textsmooth.sequence.knn import KnnIndex
from textsmooth.sequence.table import NeighborTable, fitted_meta
from textsmooth.text.bleu import SMOOTH_METHODS, BleuCorpus

__all__ = [
    "NeighborParams",
    "SemanticNeighbors",
    "Stages",
    "assemble_table",
    "duplicate_groups",
    "knn_recall",
    "neighbor_shard",
    "rerank_block",
    "search_block",
]

#: One shard's result per distinct target: neighbour group ids (-1: padding), cosines, BLEU scores.
Shard = tuple[np.ndarray, np.ndarray, np.ndarray]


def _normalize(text: str) -> str:
    out = " ".join(text.split()).lower()
    if out.endswith("."):
        out = out[:-1].rstrip()
    return out


def duplicate_groups(
    texts: Sequence[str], duplicates: Duplicates = "normalized"
) -> tuple[np.ndarray, np.ndarray]:
    """Group identical texts: ``(group, first)`` with ``group[i]`` the group of row ``i`` (numbered in
    order of first appearance) and ``first[g]`` the first row of group ``g``.

    ``duplicates="exact"`` compares strings; ``"normalized"`` also ignores case, repeated white space
    and a final period.
    """
    if duplicates not in get_args(Duplicates):
        raise ConfigError(f"duplicates must be {one_of(Duplicates)}, got {duplicates!r}", column="duplicates")
    keys = texts if duplicates == "exact" else [_normalize(t) for t in texts]
    index: dict[str, int] = {}
    group = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    first = np.full(len(index), -1, dtype=np.int64)
    rows = np.arange(len(keys), dtype=np.int64)
    first[group[::-1]] = rows[::-1]  # the last write wins: the smallest row of each group
    return group, first


# -- the stages: pure functions of their inputs, called by the local path and by the Ray path ----------
@dataclass(frozen=True)
class NeighborParams:
    """What a kNN + re-rank shard needs besides the index and the BLEU corpus.

    Attributes:
        k: candidates retrieved per target (the fitted ``k_``).
        keep: candidates kept, ``k'`` (the fitted ``keep_``).
        bleu_order: BLEU-n of the re-rank; ``None``: keep the cosine order.
        smooth_method: sentence BLEU smoothing.
        min_cosine: candidates below this cosine become padding before re-ranking (``None``: none).
    """

    k: int
    keep: int
    bleu_order: int | None
    smooth_method: str = "exp"
    min_cosine: float | None = None


def search_block(
    knn: KnnIndex, queries: np.ndarray, k: int, min_cosine: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Step 2 for indexed rows ``queries``: their ``k`` nearest other rows ``(ids, cos)``, both ``(q, k)``.

    Ordered by cosine, ties by row (:meth:`~textsmooth.sequence.knn.KnnIndex.search_rows`); with
    ``min_cosine``, the candidates below it become padding (id -1, cosine NaN), which sorts last.
    """
    ids, cos = knn.search_rows(queries, k)
    if min_cosine is not None:  # weak candidates become padding (id -1, NaN), sorted last
        weak = (ids >= 0) & ~(cos >= np.float32(min_cosine))
        ids = np.where(weak, -1, ids)
        cos = np.where(weak, np.float32(np.nan), cos)
    return ids, cos


def rerank_block(
    bleu: BleuCorpus | None,
    queries: np.ndarray,
    ids: np.ndarray,
    cos: np.ndarray,
    *,
    keep: int,
    bleu_order: int | None,
    smooth_method: str = "exp",
) -> Shard:
    """Steps 3-4: the ``keep`` best candidates of each query by sentence BLEU-n of the candidate
    (hypothesis) against the query (reference), ties by cosine then by row; padding last.

    Without ``bleu`` (``bleu_order=None``) the first ``keep`` in cosine order, BLEU NaN. Returns
    ``(ids int64, cos float32, bleu float64)``, each ``(q, keep)``.
    """
    if bleu is not None and bleu_order and ids.shape[1] > 0:
        scores = bleu.score_candidates(queries, ids, max_order=int(bleu_order), smooth_method=smooth_method)
        # best BLEU first, then higher cosine, then smaller id; padding (-1, NaN) last
        key_b = np.where(ids >= 0, -scores, np.inf)
        key_c = np.where(ids >= 0, -cos, np.inf)
        key_i = np.where(ids >= 0, ids, np.iinfo(np.int64).max)
        order = np.lexsort((key_i, key_c, key_b), axis=1)[:, :keep]
        ids = np.take_along_axis(ids, order, 1)
        cos = np.take_along_axis(cos, order, 1)
        scores = np.take_along_axis(scores, order, 1)
    else:
        ids, cos = ids[:, :keep], cos[:, :keep]
        scores = np.full(ids.shape, np.nan, dtype=np.float64)
    return ids, cos.astype(np.float32), scores.astype(np.float64)


def neighbor_shard(
    knn: KnnIndex, bleu: BleuCorpus | None, lo: int, hi: int, params: NeighborParams
) -> tuple[Shard, tuple[float, float]]:
    """Steps 2-4 for the distinct targets ``lo..hi-1`` (one shard): ``(shard, (knn_s, rerank_s))``.

    The queries are searched in the index's blocks of ``block_size`` from ``lo``, so a shard gives the
    same rows wherever it runs (faiss may compute a block of fewer than 20 queries another way).
    """
    t0 = time.perf_counter()
    queries = np.arange(lo, hi, dtype=np.int64)
    ids, cos = search_block(knn, queries, params.k, params.min_cosine)
    t1 = time.perf_counter()
    shard = rerank_block(
        bleu,
        queries,
        ids,
        cos,
        keep=params.keep,
        bleu_order=params.bleu_order,
        smooth_method=params.smooth_method,
    )
    return shard, (t1 - t0, time.perf_counter() - t1)


def knn_recall(knn: KnnIndex, queries: np.ndarray, k: int) -> tuple[int, int]:
    """``(found, total)``: of the exact ``k`` nearest other rows of ``queries`` (exhaustive search of the
    same vectors), how many ``knn`` finds; ``found / total`` is the recall@k of an approximate index."""
    if k <= 0 or len(queries) == 0:
        return 0, 0
    approx, _ = knn.search_rows(queries, k)
    brute = KnnIndex(knn.vectors, backend="brute", block_size=knn.block_size, num_threads=knn.num_threads)
    exact, _ = brute.search_rows(queries, k)
    found = sum(
        len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) for a, e in zip(approx, exact, strict=True)
    )
    return int(found), int((exact >= 0).sum())


def assemble_table(
    targets: list[str],
    groups: np.ndarray,
    first: np.ndarray,
    shards: list[Shard],
    *,
    keep: int,
    with_text: bool = False,
) -> tuple[NeighborTable, tuple[int, int]]:
    """The last stage, on the driver: the shards' per-group neighbours spread back to every row.

    ``groups``/``first`` are :func:`duplicate_groups`'s; the shards hold, in group order, each distinct
    target's ``keep`` neighbour groups (-1: padding). Each row gets its group's neighbours, named by
    their groups' first rows. Returns the table (one row per target and related target, padding left
    out) and ``(rows with fewer than keep related targets, rows with none)``.
    """
    width, n = keep, len(targets)
    g_ids = np.concatenate([s[0] for s in shards]) if shards else np.zeros((0, width), dtype=np.int64)
    g_cos = np.concatenate([s[1] for s in shards]) if shards else np.zeros((0, width), dtype=np.float32)
    g_bleu = np.concatenate([s[2] for s in shards]) if shards else np.zeros((0, width), dtype=np.float64)
    row_ids = g_ids[groups]  # (n, keep) group ids of each row's neighbours
    valid = row_ids >= 0
    counts = valid.sum(axis=1)
    short_rows = (int((counts < width).sum()), int((counts == 0).sum()))
    target_id = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], row_ids.shape)[valid]
    rank = np.broadcast_to(np.arange(1, width + 1, dtype=np.int32)[None, :], row_ids.shape)[valid]
    neighbor_id = first[row_ids[valid]]
    text = [targets[i] for i in neighbor_id.tolist()] if with_text else None
    table = NeighborTable(
        target_id=target_id,
        rank=rank,
        neighbor_id=neighbor_id,
        cosine=g_cos[groups][valid],
        bleu=g_bleu[groups][valid],
        n_targets=n,
        neighbor_text=text,
        meta=fitted_meta(targets),
    )
    return table, short_rows


class Stages:
    """Where the per-shard stages run: here, in this process, one after the other (the default).

    :meth:`SemanticNeighbors.fit` plans the work (duplicate groups, the embedding cache, the index, the
    resumable shards and their files) and hands the shards still to do to these two methods; the Ray
    backend (:mod:`textsmooth.distributed.neighbors`) overrides them to run the same stage functions
    elsewhere. Results may come back in any order: each is saved and placed by its index.
    """

    def embed_shard_size(self, n_texts: int, encoder: SentenceEncoder) -> int:
        """Texts per embedding part (of the cache, and of ``encode_parts``): ``embed_texts``'s default."""
        return 4096

    def encode_parts(self, encoder: SentenceEncoder) -> EncodeParts | None:
        """How :func:`~textsmooth.sequence.encoder.embed_texts` embeds its parts (``None``: here)."""
        return None

    def shards(
        self,
        sn: SemanticNeighbors,
        knn: KnnIndex,
        bleu: BleuCorpus | None,
        todo: list[tuple[int, int, int]],
        timings: dict[str, float],
    ) -> Iterator[tuple[int, Shard]]:
        """``(s, shard)`` for each ``(s, lo, hi)`` of ``todo`` (adding the seconds to ``timings``)."""
        for s, lo, hi in todo:
            yield s, sn._compute_shard(knn, bleu, lo, hi, timings)


class SemanticNeighbors(ParamsMixin):
    """Related targets by embedding similarity and BLEU re-ranking (see the module docstring).

    Args:
        k: neighbours retrieved by cosine (the paper: 100).
        keep: neighbours kept after re-ranking, ``k'`` (the paper: 5); at most ``k``.
        bleu_order: BLEU-n used to re-rank (3, 4, 5 in the paper's Table 4); ``None`` or 0: no re-ranking.
        encoder: a :class:`~textsmooth.sequence.SentenceEncoder`, a local model path, or ``None`` for the
            default offline MiniLM.
        index: ``flat`` (exact faiss), ``hnsw`` (approximate faiss) or ``brute`` (exact torch/numpy).
        embed_side: ``target`` or ``source`` (then ``fit`` needs ``sources``).
        duplicates: ``normalized`` or ``exact`` (what counts as a duplicate of a target).
        smooth_method, tokenize, lowercase: sentence BLEU settings (sacrebleu's names and defaults).
        shard_size: targets per resumable shard.
        block_size: queries per kNN block.
        hnsw_m, ef_search: HNSW parameters.
        num_threads: faiss/torch threads for the kNN search (``None``: cores - 1, at least 1; the encoder
            has its own setting).
        with_text: store the neighbour texts in the table too.
        min_cosine: drop kNN candidates whose cosine to the target is below this value, before
            re-ranking (``None``, the default: keep all ``k``); in [-1, 1]. See the module docstring
            for targets left with fewer than ``k'``.

    Attributes (after ``fit``):
        table_: the :class:`~textsmooth.sequence.NeighborTable`.
        k_, keep_: the ``k`` and ``k'`` actually used (smaller when the corpus is).
        groups_, first_rows_: duplicate groups of the rows and each group's first row.
        timings_: seconds per stage: ``duplicates`` (grouping equal targets), ``embed``, ``index``
            (the kNN index), ``bleu_corpus`` (the n-gram counts of the re-ranking), ``knn``, ``rerank``,
            ``assemble``; on Ray ``knn`` and ``rerank`` sum the tasks' seconds.
        short_rows_: ``(below_keep, without_related)``: targets with fewer than ``keep_`` related
            targets, and with none (``min_cosine``, or a corpus of one distinct target).
        knn_recall_: only when fitted on Ray with ``index="hnsw"``
            (:func:`textsmooth.distributed.semantic_neighbors`): ``{"k", "queries", "recall"}``, the
            recall@k of the index on sampled targets against exhaustive search (also in the manifest).

    Example:
        >>> sn = SemanticNeighbors(k=100, keep=5, bleu_order=4)  # doctest: +SKIP
        >>> table = sn.fit(targets, work_dir="run.work").table_  # doctest: +SKIP
        >>> table.related_texts(targets)[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        k: int = 100,
        keep: int = 5,
        bleu_order: int | None = 4,
        encoder: SentenceEncoder | str | Path | None = None,
        index: Backend = "flat",
        *,
        embed_side: EmbedSide = "target",
        duplicates: Duplicates = "normalized",
        smooth_method: str = "exp",
        tokenize: str = "13a",
        lowercase: bool = False,
        shard_size: int = 8192,
        block_size: int = 2048,
        hnsw_m: int = 32,
        ef_search: int = 256,
        num_threads: int | None = None,
        with_text: bool = False,
        min_cosine: float | None = None,
    ) -> None:
        self.k = k
        self.keep = keep
        self.bleu_order = bleu_order
        self.encoder = encoder
        self.index = index
        self.embed_side = embed_side
        self.duplicates = duplicates
        self.smooth_method = smooth_method
        self.tokenize = tokenize
        self.lowercase = lowercase
        self.shard_size = shard_size
        self.block_size = block_size
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.num_threads = num_threads
        self.with_text = with_text
        self.min_cosine = min_cosine

    def _validate(self) -> None:
        for name in ("k", "keep", "shard_size", "block_size", "hnsw_m", "ef_search"):
            check_int(name, getattr(self, name))
        if self.keep > self.k:
            raise ConfigError(
                f"keep (k' = {self.keep}) is larger than k = {self.k}",
                column="keep",
                hint="k' neighbours are kept out of the k retrieved: use keep <= k",
            )
        if self.bleu_order not in (None, 0) and (
            isinstance(self.bleu_order, bool) or not isinstance(self.bleu_order, int) or self.bleu_order < 1
        ):
            raise ConfigError(
                f"bleu_order must be None or >= 1, got {self.bleu_order!r}", column="bleu_order"
            )
        if self.embed_side not in get_args(EmbedSide):
            raise ConfigError(
                f"embed_side must be {one_of(EmbedSide)}, got {self.embed_side!r}", column="embed_side"
            )
        if self.smooth_method not in SMOOTH_METHODS:
            raise ConfigError(f"unknown smooth_method {self.smooth_method!r}", column="smooth_method")
        if self.index not in get_args(Backend):
            raise ConfigError(f"unknown index {self.index!r}", column="index", hint=one_of(Backend))
        if self.min_cosine is not None and (
            isinstance(self.min_cosine, bool)
            or not isinstance(self.min_cosine, int | float | np.floating | np.integer)
            or not -1.0 <= float(self.min_cosine) <= 1.0
        ):
            raise ConfigError(
                f"min_cosine must be None or a number in [-1, 1], got {self.min_cosine!r}",
                column="min_cosine",
            )

    def _encoder(self) -> SentenceEncoder:
        if isinstance(self.encoder, SentenceEncoder):
            return self.encoder
        return SentenceEncoder(self.encoder)

    def describe(self) -> dict[str, Any]:
        """Parameters for the manifest (the encoder as its settings and fingerprint)."""
        params = {name: value for name, value in self.get_params().items() if name != "encoder"}
        params["bleu_order"] = self.bleu_order or None
        params["k_effective"] = getattr(self, "k_", None)
        params["keep_effective"] = getattr(self, "keep_", None)
        params["encoder"] = getattr(self, "encoder_info_", None)
        params["min_cosine"] = None if self.min_cosine is None else float(self.min_cosine)
        below, without = getattr(self, "short_rows_", (None, None))
        params["targets_below_keep"] = below
        params["targets_without_related"] = without
        recall = getattr(self, "knn_recall_", None)
        if recall is not None:  # measured by the Ray backend for an approximate (hnsw) index
            params["knn_recall"] = recall
        return params

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        targets: Sequence[str],
        *,
        sources: Sequence[str] | None = None,
        embeddings: np.ndarray | None = None,
        work_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        progress: bool = False,
        on_shard: Callable[[int, int], None] | None = None,
    ) -> SemanticNeighbors:
        """Find the related targets of every target; the result is ``self.table_``.

        Steps: check the inputs, merge duplicate targets, embed (step 1 of Algorithm 1), build the
        index and the BLEU corpus, run the shards (kNN, step 2; BLEU re-rank and keep ``k'``, steps
        3-4), assemble the table. ``timings_`` has the seconds of each stage.

        Args:
            targets: the target sequences (also the retrieval pool, ``Y_ref`` in the paper).
            sources: aligned source sentences; needed for ``embed_side="source"``.
            embeddings: precomputed unit vectors, one row per target (skips the encoder).
            work_dir: folder for resumable shards (kept; remove it with :meth:`clean_work` when done).
            cache_dir: embedding cache folder (reused across runs); defaults to ``work_dir``.
            progress: show progress bars.
            on_shard: called as ``on_shard(i, n_shards)`` after each finished shard.
        """
        return self._fit(
            targets,
            sources=sources,
            embeddings=embeddings,
            work_dir=work_dir,
            cache_dir=cache_dir,
            progress=progress,
            on_shard=on_shard,
            stages=Stages(),
        )

    def _fit(
        self,
        targets: Sequence[str],
        *,
        sources: Sequence[str] | None,
        embeddings: np.ndarray | None,
        work_dir: str | Path | None,
        cache_dir: str | Path | None,
        progress: bool,
        on_shard: Callable[[int, int], None] | None,
        stages: Stages,
    ) -> SemanticNeighbors:
        """:meth:`fit` with its stages run by ``stages`` (here, or on Ray): one sequence for both."""
        self._validate()
        targets, side = self._check_inputs(targets, sources)
        t0 = time.perf_counter()
        self._group_targets(targets)
        timings: dict[str, float] = {"duplicates": time.perf_counter() - t0}
        work = Path(work_dir) if work_dir is not None else None
        t0 = time.perf_counter()
        cache = cache_dir if cache_dir is not None else work
        vectors = self._embed(side, embeddings, cache, progress, stages)
        timings["embed"] = time.perf_counter() - t0
        if work is not None:
            self._prepare_work(work, self._run_key(targets, side))
        t0 = time.perf_counter()
        knn = self._build_index(vectors, work)
        timings["index"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        bleu = self._bleu_corpus(targets)
        timings["bleu_corpus"] = time.perf_counter() - t0
        shards = self._run_shards(knn, bleu, work, timings, stages, progress=progress, on_shard=on_shard)
        t0 = time.perf_counter()
        self._assemble(targets, shards)
        timings["assemble"] = time.perf_counter() - t0
        self.timings_ = timings
        self._targets_sha = hash_texts(targets)
        self._side_sha = hash_texts(side) if side is not targets else None
        return self

    def _check_inputs(
        self, targets: Sequence[str], sources: Sequence[str] | None
    ) -> tuple[list[str], list[str]]:
        """The targets and the side to embed (the targets themselves, or the aligned sources)."""
        targets = check_texts(targets, name="targets")
        if self.embed_side != "source":
            return targets, targets
        if sources is None:
            raise ConfigError(
                "embed_side='source' needs sources (aligned source sentences)", column="sources"
            )
        side = check_texts(sources, name="sources")
        if len(side) != len(targets):
            raise InputError(f"sources has {len(side)} rows, targets {len(targets)}", column="sources")
        return targets, side

    def _group_targets(self, targets: list[str]) -> None:
        """Merge duplicate targets (``groups_``, ``first_rows_``) and set ``k_``/``keep_`` for them."""
        groups, first = duplicate_groups(targets, self.duplicates)
        self.groups_, self.first_rows_ = groups, first
        n_groups = first.shape[0]
        self.k_ = min(int(self.k), n_groups - 1)
        self.keep_ = min(int(self.keep), self.k_)
        if self.k_ < int(self.k):
            warnings.warn(
                f"only {n_groups} distinct targets: k reduced from {self.k} to {self.k_}"
                + (f" and keep from {self.keep} to {self.keep_}" if self.keep_ < int(self.keep) else ""),
                stacklevel=3,
            )

    def _embed(
        self,
        side: list[str],
        embeddings: np.ndarray | None,
        cache_dir: str | Path | None,
        progress: bool,
        stages: Stages,
    ) -> np.ndarray:
        """Unit vectors of the distinct targets (``first_rows_``): the rows of the given ``embeddings``
        (one per target, normalised here) or the encoder's vectors of ``side``, through the embedding
        cache (parts embedded by ``stages``). Sets ``encoder_info_``."""
        first, n = self.first_rows_, len(side)
        if embeddings is None:
            encoder = self._encoder()
            encoder.load()
            self.encoder_info_ = encoder.describe()
            texts = [side[i] for i in first.tolist()]
            return embed_texts(
                texts,
                encoder,
                cache_dir=cache_dir,
                shard_size=stages.embed_shard_size(len(texts), encoder),
                progress=progress,
                encode_parts=stages.encode_parts(encoder),
            )
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != n:
            raise InputError(f"embeddings must have shape ({n}, d), got {vectors.shape}", column="embeddings")
        if not np.isfinite(vectors).all():
            raise InputError("embeddings contain NaN or infinite values", column="embeddings")
        vectors = vectors[first]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
        self.encoder_info_ = {"precomputed_sha256": hashlib.sha256(vectors.tobytes()).hexdigest()}
        return vectors

    def _bleu_corpus(self, targets: list[str]) -> BleuCorpus | None:
        """The distinct targets as a BLEU corpus for the re-rank (``None`` without re-ranking)."""
        if not self.bleu_order:
            return None
        group_texts = [targets[i] for i in self.first_rows_.tolist()]
        return BleuCorpus(
            group_texts, max_order=int(self.bleu_order), tokenize=self.tokenize, lowercase=self.lowercase
        )

    def _run_shards(
        self,
        knn: KnnIndex,
        bleu: BleuCorpus | None,
        work: Path | None,
        timings: dict[str, float],
        stages: Stages,
        *,
        progress: bool,
        on_shard: Callable[[int, int], None] | None,
    ) -> list[Shard]:
        """Every shard's ``(ids, cos, bleu)`` per distinct target: reloaded from ``work`` when finished
        there, else computed by ``stages`` (and saved there atomically as each one finishes)."""
        n_groups, size = self.first_rows_.shape[0], int(self.shard_size)
        n_shards = (n_groups + size - 1) // size
        timings["knn"] = timings["rerank"] = 0.0
        shards: list[Shard | None] = [None] * n_shards
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_groups, desc="kNN + BLEU", unit="target")

        def finished(s: int, shard: Shard) -> None:
            shards[s] = shard
            if bar is not None:
                bar.update(shard[0].shape[0])
            if on_shard is not None:
                on_shard(s, n_shards)

        try:
            todo = []
            for s in range(n_shards):
                lo, hi = s * size, min((s + 1) * size, n_groups)
                shard = self._load_shard(work, s, hi - lo) if work is not None else None
                if shard is None:
                    todo.append((s, lo, hi))
                else:
                    finished(s, shard)
            computed = stages.shards(self, knn, bleu, todo, timings)
            try:
                for s, shard in computed:
                    if work is not None:
                        with atomic_path(work / f"shard-{s:05d}.npz") as tmp, open(tmp, "wb") as handle:
                            np.savez(handle, ids=shard[0], cos=shard[1], bleu=shard[2])
                    finished(s, shard)
            finally:  # an interruption stops the shards still running elsewhere now
                getattr(computed, "close", lambda: None)()
        finally:
            if bar is not None:
                bar.close()
        return shards  # type: ignore[return-value]  # every shard is set here

    def _assemble(self, targets: list[str], shards: list[Shard]) -> None:
        """``table_`` and ``short_rows_`` from the shards (:func:`assemble_table`)."""
        self.table_, self.short_rows_ = assemble_table(
            targets, self.groups_, self.first_rows_, shards, keep=self.keep_, with_text=self.with_text
        )

    def _run_key(self, targets: list[str], side: list[str]) -> str:
        info = {
            "params": {
                n: getattr(self, n) for n in self._param_names() if n not in ("encoder", "num_threads")
            },
            "encoder": self.encoder_info_,
            "targets": hash_texts(targets),
            "side": hash_texts(side) if side is not targets else None,
        }
        return hashlib.sha256(json.dumps(info, sort_keys=True, default=str).encode()).hexdigest()

    @staticmethod
    def _prepare_work(work: Path, run_key: str) -> None:
        work.mkdir(parents=True, exist_ok=True)
        run_file = work / "run.json"
        old = None
        if run_file.exists():
            try:
                old = json.loads(run_file.read_text(encoding="utf-8")).get("run_key")
            except (json.JSONDecodeError, AttributeError):
                old = None
        if old == run_key:
            return
        stale = [*work.glob("shard-*.npz"), *work.glob("index-*.faiss")]
        if stale:  # shards of another run, or of a run we cannot identify: never reused
            warnings.warn(f"{work}: work folder belongs to another run; discarding its shards", stacklevel=3)
            for path in stale:
                path.unlink()
        atomic_write_text(run_file, json.dumps({"run_key": run_key}))

    def _build_index(self, vectors: np.ndarray, work: Path | None) -> KnnIndex:
        if self.index != "hnsw" or work is None:
            return KnnIndex(
                vectors, backend=self.index, block_size=int(self.block_size), hnsw_m=int(self.hnsw_m),
                ef_search=int(self.ef_search), num_threads=self.num_threads,
            )  # fmt: skip
        from textsmooth._extras import require

        faiss = require("faiss", extra="sequence", feature="the hnsw kNN index")
        path = work / "index-hnsw.faiss"
        if path.exists():
            try:
                index = faiss.read_index(str(path))
            except RuntimeError:
                index = None
            if index is not None and index.ntotal == vectors.shape[0]:
                return KnnIndex.from_faiss(
                    index,
                    vectors,
                    backend="hnsw",
                    block_size=int(self.block_size),
                    ef_search=int(self.ef_search),
                )
        knn = KnnIndex(
            vectors, backend="hnsw", block_size=int(self.block_size), hnsw_m=int(self.hnsw_m),
            ef_search=int(self.ef_search), num_threads=self.num_threads,
        )  # fmt: skip
        with atomic_path(path) as tmp:
            faiss.write_index(knn.faiss_index, str(tmp))
        return knn

    def _load_shard(self, work: Path, s: int, rows: int) -> Shard | None:
        path = work / f"shard-{s:05d}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                shard = (data["ids"], data["cos"], data["bleu"])
        except (OSError, ValueError, KeyError):
            return None
        if any(a.shape != (rows, self.keep_) for a in shard):
            return None
        return shard

    def _neighbor_params(self) -> NeighborParams:
        """The fitted parameters of a shard (``k_``, ``keep_``, BLEU settings, ``min_cosine``)."""
        return NeighborParams(
            k=int(self.k_),
            keep=int(self.keep_),
            bleu_order=int(self.bleu_order) if self.bleu_order else None,
            smooth_method=self.smooth_method,
            min_cosine=None if self.min_cosine is None else float(self.min_cosine),
        )

    def _compute_shard(
        self, knn: KnnIndex, bleu: BleuCorpus | None, lo: int, hi: int, timings: dict[str, float]
    ) -> Shard:
        """:func:`neighbor_shard` of distinct targets ``lo..hi-1``, here; its seconds go to ``timings``."""
        shard, (knn_s, rerank_s) = neighbor_shard(knn, bleu, lo, hi, self._neighbor_params())
        timings["knn"] += knn_s
        timings["rerank"] += rerank_s
        return shard

    # ------------------------------------------------------------------ output
    def write(
        self, path: str | Path, targets: Sequence[str], *, inputs: dict[str, Any] | None = None
    ) -> Path:
        """Write ``table_`` as Parquet + manifest (parameters, encoder fingerprint, targets hash)."""
        if not hasattr(self, "table_"):
            raise NotFittedError("call fit before write")
        extra_inputs = dict(inputs or {})
        if self._side_sha is not None:
            extra_inputs["sources_sha256"] = self._side_sha
        return self.table_.write(
            path, kind_detail="semantic", parameters=self.describe(), texts=targets, inputs=extra_inputs
        )

    @staticmethod
    def clean_work(work_dir: str | Path) -> None:
        """Remove a finished run's work folder (only the files a run writes there)."""
        work = Path(work_dir)
        if not work.is_dir():
            return
        leftovers = work.glob(".*.tmp")  # temporary files of a killed run (atomic writes never finished)
        for item in [*work.glob("shard-*.npz"), *work.glob("index-*.faiss"), work / "run.json", *leftovers]:
            item.unlink(missing_ok=True)
        for parts in work.glob("embeddings-*.parts*"):
            shutil.rmtree(parts, ignore_errors=True)
        for emb in work.glob("embeddings-*.npy*"):
            emb.unlink(missing_ok=True)
        try:
            work.rmdir()
        except OSError:
            pass
