"""Semantic related targets on Ray: the table of :class:`~textsmooth.sequence.SemanticNeighbors`, with its
embedding, kNN and BLEU re-ranking spread over a Ray cluster.

Lukasik et al., *Semantic label smoothing for sequence to sequence problems* (EMNLP 2020), Algorithm 1:
embed every target, take its ``k`` nearest targets by cosine, re-rank them by sentence BLEU-n against the
target, keep ``k'``. :meth:`SemanticNeighbors.fit <textsmooth.sequence.SemanticNeighbors.fit>` plans the
work exactly as on one machine (duplicate groups, the embedding cache, the index, the resumable shards
and their files, the table) and :class:`RayStages` runs its per-shard stages on Ray:

1. **embed** (an actor pool, one encoder load per actor): parts of ``embed_block_size`` distinct texts
   (default 4,096, the local cache's parts), each embedded by
   :meth:`SentenceEncoder.encode <textsmooth.sequence.SentenceEncoder.encode>`, the local path's function;
   with ``gpus_per_actor`` the actors hold GPUs and encode with ``device="cuda"`` (the other stages stay
   on CPUs);
2. **index** (driver): the same ``KnnIndex`` as the local path (for HNSW saved in the work folder), put
   once in the object store, as is the BLEU corpus of the distinct targets;
3. **kNN + re-rank** (one task per shard of ``shard_size`` distinct targets):
   :func:`~textsmooth.sequence.neighbors.neighbor_shard`, the local path's function, against the
   broadcast index; each finished shard is saved in the work folder by the driver, so a rerun (on Ray
   or locally) skips it;
4. **assemble** (driver): the table, as locally.

With the exact indexes (``flat``, ``brute``) and the default ``fp32`` encoder, the table is the local
path's, row for row and bit for bit: fp32 vectors do not depend on the batch (see
:mod:`textsmooth.sequence.encoder`), and a shard is the same block of queries on both paths. ``hnsw`` is
approximate (its graph depends on the build's threads); its recall@k against exhaustive search of the
same vectors is measured on ``recall_queries`` sampled targets (``knn_recall_``, also in the manifest).

The targets (and sources) may be a list, a folder of Parquet / JSON-lines files or a Hugging Face
dataset (one column each); the driver reads a folder's column itself, files in name order, rows in file
order, with the soft labels' readers and checks (:func:`textsmooth.distributed._shards.read_text_column`):
it needs every target for the BLEU corpus and the table anyway. A worker that dies mid-run is replaced:
a kNN task is run again (``max_retries``), an encoder actor restarted and its part embedded again
(``max_restarts``, ``max_task_retries``); the stages are pure, so the table is unchanged.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textsmooth._params import check_int
from textsmooth.distributed import _ray
from textsmooth.distributed._shards import is_folder, is_text_source, read_text_column
from textsmooth.errors import ConfigError
from textsmooth.sequence.data import check_texts
from textsmooth.sequence.encoder import EncodeParts, SentenceEncoder
from textsmooth.sequence.knn import KnnIndex
from textsmooth.sequence.neighbors import (
    NeighborParams,
    SemanticNeighbors,
    Shard,
    Stages,
    knn_recall,
    neighbor_shard,
)
from textsmooth.sequence.table import NeighborTable
from textsmooth.text.bleu import BleuCorpus

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["RayStages", "read_text_source", "semantic_neighbors"]

_FEATURE = "textsmooth.distributed.semantic_neighbors"
#: Distinct texts per embedding part by default: the local path's cache parts, so either path resumes
#: the other's interrupted embedding.
EMBED_BLOCK = 4096
_OPTIONS = tuple(p for p in inspect.signature(SemanticNeighbors).parameters)


def semantic_neighbors(
    targets: Sequence[str] | str | PathLike[str] | datasets.Dataset,
    *,
    sources: Sequence[str] | str | PathLike[str] | datasets.Dataset | None = None,
    target_column: str = "target",
    source_column: str = "source",
    embeddings: np.ndarray | None = None,
    work_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    on_shard: Callable[[int, int], None] | None = None,
    return_fitted: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    embed_actors: int | None = None,
    embed_block_size: int | None = None,
    cpus_per_task: int = 1,
    gpus_per_actor: float = 0,
    max_retries: int = 3,
    recall_queries: int = 1000,
    **options: Any,
) -> NeighborTable | tuple[NeighborTable, SemanticNeighbors]:
    """The related targets of every target, computed on Ray: ``SemanticNeighbors(**options).fit(...)``'s
    table (see the module docstring for what runs where).

    Args:
        targets: the target sequences (also the retrieval pool): a sequence of str, or a folder
            (``str``/path) of ``.parquet`` / ``.jsonl`` files (read in name order, rows in file order) or a
            Hugging Face ``datasets.Dataset``, whose ``target_column`` holds them. The driver reads a
            folder itself (the workers need not see it); a file without the column, a column that is
            not text, and a missing or empty target are errors naming the file and row.
        sources: aligned source sentences (for ``embed_side="source"``), in any form ``targets`` takes
            (``source_column``); with another ``embed_side`` ignored, as by ``fit``.
        target_column, source_column: the columns of a folder's files or a dataset.
        embeddings, work_dir, cache_dir, progress, on_shard: as for
            :meth:`SemanticNeighbors.fit <textsmooth.sequence.SemanticNeighbors.fit>`. ``work_dir`` and
            ``cache_dir`` are written by the driver (a work folder of the local path is resumed, and
            vice versa).
        return_fitted: also return the fitted :class:`~textsmooth.sequence.SemanticNeighbors`
            (``write``, ``timings_``, ``short_rows_``, ``knn_recall_``).
        address, num_cpus: the Ray instance, see :func:`textsmooth.distributed.connect` (the current one
            is used when Ray is initialised).
        embed_actors: encoder actors (default: the cluster's CPUs / ``cpus_per_task``, or with
            ``gpus_per_actor`` its GPUs / ``gpus_per_actor``; at most one per part); each loads the model
            once.
        embed_block_size: distinct texts per embedding part (default 4,096). In ``fp32`` the vectors do
            not depend on it; ``bf16`` and GPU vectors may, and their cache key holds it.
        cpus_per_task: CPUs (and torch/faiss threads) of each actor and task.
        gpus_per_actor: GPUs of each encoder actor (0, the default: none, the encoder runs on CPUs; a
            fraction such as 0.5 shares a GPU between actors; above 1 a whole number). With it the actors
            encode with ``device="cuda"`` (Ray shows each its GPU as ``cuda:0``) and the embedding cache
            key and the manifest record a CUDA encoder (GPU vectors are not bit-identical to CPU ones);
            the driver loads the model on its CPU for the key only. A cluster with fewer GPUs than this
            is refused when the actors would be created (Ray would wait for a GPU for ever). The kNN and
            BLEU tasks stay on CPUs. The device of an ``encoder`` passed in ``options`` is not used on
            Ray: a CUDA one without ``gpus_per_actor`` is refused.
        max_retries: how often Ray runs again a task (or restarts an actor) whose worker died.
        recall_queries: for ``index="hnsw"``, targets sampled (seed 0) to measure the recall@k of the kNN
            stage against exhaustive search; 0: not measured.
        **options: :class:`~textsmooth.sequence.SemanticNeighbors`'s parameters (``k``, ``keep``,
            ``bleu_order``, ``encoder``, ``index``, ``embed_side``, ``duplicates``, ``smooth_method``,
            ``tokenize``, ``lowercase``, ``shard_size`` (targets per task), ``block_size``, ``hnsw_m``,
            ``ef_search``, ``num_threads`` (the driver's index build), ``with_text``, ``min_cosine``).

    Returns:
        The :class:`~textsmooth.sequence.NeighborTable`; with ``return_fitted``, ``(table, fitted)``.

    Raises:
        ConfigError: an unknown option or a bad value (before Ray starts); the encoder actors load
            another model than the driver (a node with other model files); ``gpus_per_actor`` (or
            ``embed_actors`` of them) more GPUs than the cluster has.
        InputError, DataError: as :meth:`SemanticNeighbors.fit`; a folder without data files, a file
            (dataset) without the column or with a column that is not text, a missing or empty target
            (naming the file and row); a path that is not a folder; a ``DatasetDict``.
        MissingDependencyError: ray is not installed (``pip install 'textsmooth[ray]'``).

    Example:
        >>> from textsmooth.distributed import semantic_neighbors
        >>> table = semantic_neighbors(targets, k=100, keep=5, bleu_order=4)  # doctest: +SKIP
        >>> table = semantic_neighbors("corpus/", target_column="en", k=100)  # doctest: +SKIP
        >>> table = semantic_neighbors(targets, gpus_per_actor=1, k=100)  # doctest: +SKIP
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ConfigError(
            f"SemanticNeighbors has no parameter {', '.join(unknown)}",
            column="options",
            hint=f"its parameters: {', '.join(_OPTIONS)}",
        )
    check_int("embed_actors", embed_actors, allow_none=True)
    check_int("embed_block_size", embed_block_size, allow_none=True)
    check_int("cpus_per_task", cpus_per_task)
    _check_gpus(gpus_per_actor)
    check_int("max_retries", max_retries, low=0)
    check_int("recall_queries", recall_queries, low=0)
    _ray.require_ray(_FEATURE)
    sn = SemanticNeighbors(**options)
    sn._validate()  # before a folder is read
    given_encoder = sn.encoder
    if isinstance(given_encoder, SentenceEncoder):
        given_encoder._validate_params()
        if given_encoder.device != "cpu" and not gpus_per_actor:
            raise ConfigError(
                f"the encoder's device {given_encoder.device!r} is not used on Ray: the encoder actors run "
                "on CPUs unless gpus_per_actor is set",
                column="gpus_per_actor",
                hint="pass gpus_per_actor=1 (GPUs per encoder actor) to embed on the cluster's GPUs",
            )
    targets = read_text_source(targets, target_column, option="target_column")
    if sources is not None and sn.embed_side == "source":
        sources = read_text_source(sources, source_column, option="source_column")
    stages = RayStages(
        lambda: _ray.connect(address, num_cpus=num_cpus, feature=_FEATURE),
        embed_actors=embed_actors,
        embed_block_size=embed_block_size,
        cpus_per_task=cpus_per_task,
        gpus_per_actor=gpus_per_actor,
        max_retries=max_retries,
        recall_queries=recall_queries,
        progress=progress,
    )
    if gpus_per_actor:  # the driver keys the cache as the actors' CUDA encoder, loading on its CPU
        sn.encoder = sn._encoder()._keyed_copy("cuda")
    try:
        sn._fit(
            targets,
            sources=sources,
            embeddings=embeddings,
            work_dir=work_dir,
            cache_dir=cache_dir,
            progress=progress,
            on_shard=on_shard,
            stages=stages,
        )
    finally:
        sn.encoder = given_encoder
    return (sn.table_, sn) if return_fitted else sn.table_


class RayStages(Stages):
    """The stages of :class:`~textsmooth.sequence.SemanticNeighbors` on Ray (the module docstring).

    Args:
        connect: returns the connected ``ray`` module (called once, when Ray is first needed: inputs
            and parameters are checked before).
        embed_actors, embed_block_size, cpus_per_task, gpus_per_actor, max_retries, recall_queries,
            progress: as :func:`semantic_neighbors`.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        embed_actors: int | None = None,
        embed_block_size: int | None = None,
        cpus_per_task: int = 1,
        gpus_per_actor: float = 0,
        max_retries: int = 3,
        recall_queries: int = 1000,
        progress: bool = False,
    ) -> None:
        self._connect = connect
        self._ray: Any = None
        self.embed_actors = embed_actors
        self.embed_block_size = embed_block_size
        self.cpus_per_task = int(cpus_per_task)
        self.gpus_per_actor = float(gpus_per_actor)
        self.max_retries = int(max_retries)
        self.recall_queries = int(recall_queries)
        self.progress = progress

    @property
    def ray(self) -> Any:
        if self._ray is None:
            self._ray = self._connect()
        return self._ray

    # -- 1. embed ------------------------------------------------------------------------------------
    def embed_shard_size(self, n_texts: int, encoder: SentenceEncoder) -> int:
        return int(self.embed_block_size or EMBED_BLOCK)

    def encode_parts(self, encoder: SentenceEncoder) -> EncodeParts:
        def encode(parts: list[tuple[int, list[str]]]) -> Iterator[tuple[int, np.ndarray]]:
            if parts:
                yield from self._encode(encoder, parts)

        return encode

    def _encode(
        self, encoder: SentenceEncoder, parts: list[tuple[int, list[str]]]
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Parts embedded by a pool of actors, each with its own copy of ``encoder`` (loaded once)."""
        from ray.util import ActorPool

        ray = self.ray
        n_actors = self.embed_actors or max(1, _ray.cluster_cpus(ray) // self.cpus_per_task)
        if self.gpus_per_actor:
            n_actors = self._gpu_actors(ray, n_actors)
        n_actors = max(1, min(n_actors, len(parts)))
        actor = ray.remote(_EmbedActor).options(
            num_cpus=self.cpus_per_task,
            num_gpus=self.gpus_per_actor,
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )
        actors = [actor.remote(_encoder_args(encoder), self.cpus_per_task) for _ in range(n_actors)]
        try:
            fingerprints = set(_ray.get(ray, [a.fingerprint.remote() for a in actors]))
            if fingerprints != {encoder.fingerprint}:
                raise ConfigError(
                    "the encoder actors load another model (or settings) than this process: "
                    f"{encoder.path} differs between the nodes",
                    column="encoder",
                    hint="install the same model files (the same textsmooth and model package versions) "
                    "on every node",
                )
            pool = ActorPool(actors)
            for part in parts:
                pool.submit(lambda a, p: a.encode.remote(*p), part)
            while pool.has_next():
                try:
                    yield pool.get_next_unordered()
                except ray.exceptions.RayTaskError as exc:
                    _reraise_library_error(exc)
        finally:
            for a in actors:
                ray.kill(a)

    def _gpu_actors(self, ray: Any, cpu_actors: int) -> int:
        """Encoder actors the cluster's GPUs hold (``embed_actors``, or its GPUs / ``gpus_per_actor``, at
        most its CPUs / ``cpus_per_task``); a ConfigError when the GPUs are too few (Ray would wait)."""
        gpus = float(ray.cluster_resources().get("GPU", 0))
        fits = math.floor(gpus / self.gpus_per_actor + 1e-9)
        if fits < 1:
            raise ConfigError(
                f"gpus_per_actor={self.gpus_per_actor:g}, but the Ray cluster has {gpus:g} GPUs",
                column="gpus_per_actor",
                hint="connect to a cluster with GPUs (ray.init(address=...), or ray.init(num_gpus=1) on a "
                "machine with one), or leave gpus_per_actor at 0 to embed on CPUs",
            )
        if self.embed_actors is None:
            return min(fits, cpu_actors)
        if self.embed_actors > fits:
            raise ConfigError(
                f"{self.embed_actors} encoder actors of {self.gpus_per_actor:g} GPUs need "
                f"{self.embed_actors * self.gpus_per_actor:g} GPUs; the Ray cluster has {gpus:g}",
                column="embed_actors",
                hint=f"use at most {fits} actors, or leave embed_actors unset",
            )
        return self.embed_actors

    # -- 3. kNN + re-rank ----------------------------------------------------------------------------
    def shards(
        self,
        sn: SemanticNeighbors,
        knn: KnnIndex,
        bleu: BleuCorpus | None,
        todo: list[tuple[int, int, int]],
        timings: dict[str, float],
    ) -> Iterator[tuple[int, Shard]]:
        """One Ray task per shard to do, against the index and BLEU corpus put once in the object store;
        ``(s, shard)`` as each finishes. For an ``hnsw`` index, also the recall tasks (``knn_recall_``)."""
        measure = knn.backend == "hnsw" and self.recall_queries > 0 and sn.k_ > 0
        if not todo and not measure:
            return
        ray = self.ray
        knn_ref, bleu_ref = ray.put(knn), ray.put(bleu)
        options = {"num_cpus": self.cpus_per_task, "max_retries": self.max_retries}
        recall_refs = self._submit_recall(sn, knn_ref, options) if measure else []
        task = _ray.remote(_shard_task, **options)
        params = sn._neighbor_params()
        refs = [task.remote(knn_ref, bleu_ref, lo, hi, params, self.cpus_per_task) for _, lo, hi in todo]
        done = set()
        try:
            for i, (shard, (knn_s, rerank_s)) in _ray.completed(ray, refs, desc="kNN + BLEU tasks"):
                done.add(i)
                timings["knn"] += knn_s
                timings["rerank"] += rerank_s
                yield todo[i][0], shard
            if recall_refs:
                counts = np.array(_ray.get(ray, recall_refs), dtype=np.int64).sum(axis=0)
                sn.knn_recall_ = {
                    "k": int(sn.k_),
                    "queries": int(self._n_recall(sn)),
                    "recall": float(counts[0] / counts[1]) if counts[1] else None,
                }
        finally:  # an error (or an interruption by on_shard) stops the tasks still running
            for ref in [r for i, r in enumerate(refs) if i not in done] + list(recall_refs):
                ray.cancel(ref)

    def _n_recall(self, sn: SemanticNeighbors) -> int:
        return min(self.recall_queries, sn.first_rows_.shape[0])

    def _submit_recall(self, sn: SemanticNeighbors, knn_ref: Any, options: dict[str, Any]) -> list[Any]:
        """Tasks measuring recall@k of the index on a seeded sample of distinct targets."""
        n_groups = sn.first_rows_.shape[0]
        rows = np.sort(np.random.default_rng(0).choice(n_groups, size=self._n_recall(sn), replace=False))
        size = int(sn.shard_size)
        task = _ray.remote(_recall_task, **options)
        return [
            task.remote(knn_ref, rows[i : i + size], int(sn.k_), self.cpus_per_task)
            for i in range(0, len(rows), size)
        ]


# -- the driver's helpers ----------------------------------------------------------------------------
def read_text_source(value: Any, column: str, *, option: str) -> Any:
    """The texts of a folder's (a dataset's) ``column``, read here and checked file by file with the
    rules of targets (an empty one names its file and row); anything else as given (``fit`` checks it)."""
    if not is_text_source(value):
        return value

    def check(texts: list[str], where: str) -> None:
        check_texts(texts, name=column, path=where)

    texts = read_text_column(value, column, option=option, check=check)
    if not texts:  # every file empty: the error of no targets, naming the folder
        check_texts(texts, name=column, path=str(value) if is_folder(value) else "<datasets.Dataset>")
    return texts


def _check_gpus(value: Any) -> None:
    """``gpus_per_actor``: a number >= 0, a whole number above 1 (what Ray accepts as ``num_gpus``)."""
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0 or (value > 1 and value != int(value)):
        raise ConfigError(
            f"gpus_per_actor must be a number >= 0 (a fraction up to 1, or a whole number), got {value!r}",
            column="gpus_per_actor",
        )


def _encoder_args(encoder: SentenceEncoder) -> dict[str, Any]:
    """The constructor arguments of ``encoder`` (an actor builds its own copy and loads it); its device
    is ``cuda`` when the actors hold GPUs (Ray shows an actor its GPU as ``cuda:0``)."""
    return {
        "model": None if encoder.model is None else str(encoder.model),
        "pooling": encoder.pooling,
        "batch_size": encoder.batch_size,
        "max_length": encoder.max_length,
        "normalize": encoder.normalize,
        "precision": encoder.precision,
        "device": encoder.device,
    }


def _reraise_library_error(exc: Any) -> None:
    from textsmooth.errors import TextsmoothError

    cause = getattr(exc, "cause", None)
    if isinstance(cause, TextsmoothError):
        raise cause from None
    raise exc


# -- the actors and tasks (module level, so the workers import them by name) --------------------------
class _EmbedActor:
    """One encoder, loaded once, embedding the parts it is given (on the CPU ``threads`` passes side by
    side; on its GPU one after the other)."""

    def __init__(self, args: dict[str, Any], threads: int) -> None:
        self.encoder = SentenceEncoder(**args, num_threads=threads).load()

    def fingerprint(self) -> str:
        return self.encoder.fingerprint

    def encode(self, i: int, texts: list[str]) -> tuple[int, np.ndarray]:
        return i, self.encoder.encode(texts)


def _shard_task(
    knn: KnnIndex, bleu: BleuCorpus | None, lo: int, hi: int, params: NeighborParams, threads: int
) -> tuple[Shard, tuple[float, float]]:
    """kNN + re-rank of distinct targets ``lo..hi-1`` with the task's threads (the local stage function)."""
    knn.num_threads = threads
    with warnings.catch_warnings():  # the broadcast vectors are read-only; torch only reads them
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return neighbor_shard(knn, bleu, lo, hi, params)


def _recall_task(knn: KnnIndex, rows: np.ndarray, k: int, threads: int) -> tuple[int, int]:
    """``(found, total)`` of the exact ``k`` nearest rows of ``rows`` that ``knn`` finds."""
    knn.num_threads = threads
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return knn_recall(knn, rows, k)
