"""KWLS and LS-TFIDF soft labels of a whole corpus on Ray: per-shard counts, summed, finished once.

Liu, Xi, Ye & Zhang, *Label Smoothing for Text Mining* (COLING 2022), eqs. (1)-(8); the formulas are
in :mod:`textsmooth.targets.keyword`. Every corpus statistic the fit needs is a sum over texts:

* label-term counts ``F[m, w] = f(w, X_m)`` (eq. 1);
* document frequencies, the number of texts containing ``w`` (eq. 5);
* label lengths ``S_m`` (eq. 1), the total number of tokens (``X_avg``, eq. 7) and ``N`` (eq. 5);
* (eq. 2's count of labels containing ``w`` is read off the summed ``F``.)

So the work splits in three stages:

1. **map** (one Ray task per shard of consecutive texts): tokenise and count the shard
   (:class:`~textsmooth.targets.keyword.TermStatistics`); the shard's count matrix stays in the object
   store for stage 3;
2. **reduce by addition** (Ray tasks, groups of :data:`MERGE_FAN_IN`): sum the statistics
   (:meth:`TermStatistics.merge <textsmooth.targets.keyword.TermStatistics.merge>`: the vocabulary in
   order of first appearance, counts moved to its word ids and added; integer sums, exact in any
   order); the driver then finishes the fit with the same
   :meth:`~textsmooth.targets.keyword.KeywordSmoother.fit_statistics` as ``KeywordSmoother.fit``;
3. **transform** (one task per shard): the shard's counts moved to the fitted word ids, and the soft
   labels of eqs. (4)-(8) computed by the smoother's own code; each row depends only on its text.

The fitted smoother is the same as ``KeywordSmoother().fit`` on the whole corpus, and the soft labels
are the same bits (tests check ``max |difference| == 0`` in float64). A worker lost mid-run is
replaced and its task run again by Ray (``max_retries``); tasks are pure, so the result is unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from textsmooth._params import check_int
from textsmooth.distributed import _ray
from textsmooth.distributed._shards import Shards, shard_input
from textsmooth.errors import ConfigError, TextsmoothError
from textsmooth.targets.base import check_labels
from textsmooth.targets.keyword import (
    KeywordSmoother,
    TermStatistics,
    TfidfSmoother,
    rows_without_words,
    warn_no_known_word,
)
from textsmooth.text.counts import CountMatrix

__all__ = ["MERGE_FAN_IN", "fit_keyword_smoother", "keyword_soft_labels", "transform_soft_labels"]

#: Statistics of this many shards (or groups) are summed by one reduce task.
MERGE_FAN_IN = 8
#: Threads a task uses (its CPU reservation): tasks, not threads, are what Ray spreads over cores.
_TASK_THREADS = 1

_METHODS = {"kwls": KeywordSmoother, "tfidf": TfidfSmoother}
_Smoother = KeywordSmoother | TfidfSmoother


# -- public API ------------------------------------------------------------------------------------
def keyword_soft_labels(
    texts: Any,
    labels: Sequence[Any] | None = None,
    *,
    method: str | _Smoother = "kwls",
    dtype: Any = None,
    num_shards: int | None = None,
    text_column: str = "text",
    label_column: str = "label",
    n_classes: int | None = None,
    label_names: Sequence[str] | None = None,
    return_smoother: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 3,
    progress: bool = False,
    **params: Any,
) -> np.ndarray | tuple[np.ndarray, _Smoother]:
    """KWLS (or LS-TFIDF) soft labels of a corpus, fitted on the same corpus, computed on Ray.

    The same array as ``KeywordSmoother(**params).fit_transform(texts, labels)``: the fit sums per-shard
    counts (label-term counts ``F[m, w] = f(w, X_m)``, document frequencies, ``S_m``, total length,
    ``N``) and finishes with :meth:`~textsmooth.targets.keyword.KeywordSmoother.fit_statistics`, eqs.
    (1)-(3) and (5), e.g. eq. (1) ``WLC[w,m] = f(w, X_m) * k1 / (f(w, X_m) + K_m)``; the transform
    applies eqs. (4)-(8) shard by shard (see the module docstring).

    Args:
        texts: the training texts: a sequence of str, a Ray Dataset, a Hugging Face
            ``datasets.Dataset``, or a folder (``str``/path) of ``.parquet`` / ``.jsonl`` files read in
            name order, rows in file order (then the texts are ``text_column`` and the labels
            ``label_column``).
        labels: one hard label per text (ids ``0..C-1`` or names); ``None`` for a dataset or folder.
        method: ``"kwls"`` (:class:`~textsmooth.targets.keyword.KeywordSmoother`), ``"tfidf"``
            (:class:`~textsmooth.targets.keyword.TfidfSmoother`), or an unfitted smoother whose
            parameters are used (then no ``params``).
        dtype: dtype of the soft labels (default float32, or the given smoother's).
        num_shards: shards of consecutive texts, one map and one transform task each. Default: for
            lists and Hugging Face datasets, twice the cluster's CPUs (more when a shard would exceed
            50,000 texts); for a Ray Dataset, its blocks, for a folder, its files (with ``num_shards``,
            they are repartitioned without shuffling). The result does not depend on it.
        text_column, label_column: the columns of a dataset.
        n_classes, label_names: as for ``fit``; a Hugging Face ``ClassLabel`` column gives both.
        return_smoother: also return the fitted smoother.
        address, num_cpus: the Ray instance, see :func:`textsmooth.distributed.connect` (the current
            one is used when Ray is initialised).
        max_retries: how often Ray runs a task again whose worker died.
        progress: show a progress bar per stage.
        **params: the smoother's parameters (``k1``, ``b``, ``k2``, ``tokenizer``, ``temperature``,
            ``ilr_sum``, ``max_memory_gib``; ``tf`` for LS-TFIDF). A callable tokenizer must be
            picklable by cloudpickle.

    Returns:
        ``(n, n_classes)`` soft labels, rows in the order of ``texts``; with ``return_smoother``,
        ``(soft_labels, smoother)``.

    Raises:
        ConfigError: unknown method or parameter, bad ``num_shards``/``max_retries``/``num_cpus``.
        InputError: texts and labels differ in length, no texts, no token in any text; DataError /
            LabelError: a text or label is missing (row named, 1-based) or a class has no instance.
        MissingDependencyError: ray is not installed (``pip install 'textsmooth[ray]'``).

    Example:
        >>> from textsmooth.distributed import keyword_soft_labels
        >>> soft = keyword_soft_labels(["good fun", "dull plot", "fun plot"], [1, 0, 1])  # doctest: +SKIP
    """
    smoother, shards, ray = _fit(
        texts,
        labels,
        method=method,
        dtype=dtype,
        num_shards=num_shards,
        text_column=text_column,
        label_column=label_column,
        n_classes=n_classes,
        label_names=label_names,
        address=address,
        num_cpus=num_cpus,
        max_retries=max_retries,
        progress=progress,
        params=params,
    )
    smoother._check_memory(shards.n_rows, 0, smoother.dtype, "soft labels")  # the driver's array
    task = _ray.remote(_soft_labels_of_counts, max_retries=max_retries)
    smoother_ref = ray.put(smoother)
    refs = [task.remote(smoother_ref, counts) for counts in shards.counts]
    soft = _assemble(ray, smoother, shards, refs, progress)
    return (soft, smoother) if return_smoother else soft


def fit_keyword_smoother(
    texts: Any,
    labels: Sequence[Any] | None = None,
    *,
    method: str | _Smoother = "kwls",
    dtype: Any = None,
    num_shards: int | None = None,
    text_column: str = "text",
    label_column: str = "label",
    n_classes: int | None = None,
    label_names: Sequence[str] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 3,
    progress: bool = False,
    **params: Any,
) -> _Smoother:
    """The fit of :func:`keyword_soft_labels` alone: a smoother identical to ``fit`` on the whole corpus.

    Arguments as :func:`keyword_soft_labels`. The smoother works locally (``transform``, ``explain``,
    ``save``) or on Ray (:func:`transform_soft_labels`).
    """
    smoother, _, _ = _fit(
        texts,
        labels,
        method=method,
        dtype=dtype,
        num_shards=num_shards,
        text_column=text_column,
        label_column=label_column,
        n_classes=n_classes,
        label_names=label_names,
        address=address,
        num_cpus=num_cpus,
        max_retries=max_retries,
        progress=progress,
        params=params,
        keep_counts=False,
    )
    return smoother


def transform_soft_labels(
    smoother: _Smoother,
    texts: Any,
    *,
    num_shards: int | None = None,
    text_column: str = "text",
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 3,
    progress: bool = False,
) -> np.ndarray:
    """``smoother.transform(texts)`` on Ray, shard by shard: the same array (eqs. 4-8 per text).

    Args:
        smoother: a fitted :class:`~textsmooth.targets.keyword.KeywordSmoother` or
            :class:`~textsmooth.targets.keyword.TfidfSmoother` (fitted anywhere).
        texts: a sequence of str, a Ray Dataset, a Hugging Face dataset or a folder of ``.parquet`` /
            ``.jsonl`` files (``text_column``).
        Other arguments as :func:`keyword_soft_labels`.

    Words the smoother never saw contribute nothing; texts without a known word get the uniform soft
    label (one warning, naming their rows).
    """
    if not isinstance(smoother, KeywordSmoother | TfidfSmoother):
        raise ConfigError(
            f"transform_soft_labels takes a KeywordSmoother or TfidfSmoother, not {type(smoother).__name__}"
        )
    smoother._check_fitted()
    check_int("num_shards", num_shards, allow_none=True)
    check_int("max_retries", max_retries, low=0)
    smoother._check_params()
    shards = shard_input(
        texts,
        None,
        text_column=text_column,
        label_column=None,
        num_shards=num_shards,
        connect=lambda: _ray.connect(address, num_cpus=num_cpus, feature=_FEATURE),
    )
    ray = shards.connect()
    smoother._check_memory(shards.n_rows, 0, smoother.dtype, "soft labels")  # the driver's array
    task = _ray.remote(soft_labels_of_texts, max_retries=max_retries)
    smoother_ref = ray.put(smoother)
    refs = [
        task.remote(smoother_ref, ref, shards.column, start)
        for ref, (start, _) in zip(shards.refs, shards.bounds, strict=True)
    ]
    return _assemble(ray, smoother, shards, refs, progress)


# -- the driver's side -----------------------------------------------------------------------------
_FEATURE = "textsmooth.distributed.keyword_soft_labels"


def _fit(
    texts: Any,
    labels: Sequence[Any] | None,
    *,
    method: str | _Smoother,
    dtype: Any,
    num_shards: int | None,
    text_column: str,
    label_column: str,
    n_classes: int | None,
    label_names: Sequence[str] | None,
    address: str | None,
    num_cpus: int | None,
    max_retries: int,
    progress: bool,
    params: dict[str, Any],
    keep_counts: bool = True,
) -> tuple[_Smoother, Shards, Any]:
    """Check everything, shard, count (map), sum (reduce), finish; ``Shards.counts``: the map's counts."""
    smoother = _build_smoother(method, dtype, params)
    check_int("num_shards", num_shards, allow_none=True)
    check_int("max_retries", max_retries, low=0)
    shards = shard_input(
        texts,
        labels,
        text_column=text_column,
        label_column=label_column,
        num_shards=num_shards,
        connect=lambda: _ray.connect(address, num_cpus=num_cpus, feature=_FEATURE),
    )
    if shards.label_names is not None:  # a ClassLabel column
        n_classes = len(shards.label_names) if n_classes is None else n_classes
        label_names = shards.label_names if label_names is None else label_names
    ids, classes = check_labels(
        shards.labels, n_rows=shards.n_rows, n_classes=n_classes, require_all_classes=True
    )
    if shards.n_rows == 0:  # the error of fit_statistics, without starting Ray
        empty = TermStatistics.from_counts(smoother._count([], None, n_jobs=1), ids, len(classes))
        smoother.fit_statistics(empty, classes, label_names=label_names)
    ray = shards.connect()
    count = _ray.remote(_count_shard, num_returns=2, max_retries=max_retries)
    smoother_ref = ray.put(smoother)
    statistics, counts = [], []
    for ref, (start, stop) in zip(shards.refs, shards.bounds, strict=True):
        stats_ref, counts_ref = count.remote(
            smoother_ref, ref, shards.column, start, ids[start:stop], len(classes)
        )
        statistics.append(stats_ref)
        counts.append(counts_ref)
    map_refs = tuple(statistics)
    if not keep_counts:
        counts.clear()  # dropping the references frees the counts once the map tasks are done
    merge = _ray.remote(_merge, max_retries=max_retries)
    while len(statistics) > 1:  # reduce by addition, consecutive groups: the order of the corpus
        groups = [statistics[i : i + MERGE_FAN_IN] for i in range(0, len(statistics), MERGE_FAN_IN)]
        statistics = [group[0] if len(group) == 1 else merge.remote(*group) for group in groups]
    if progress:  # the map tasks, as they finish (the reduce tasks follow within seconds)
        for _ in _ray.completed(ray, list(map_refs), desc="count", progress=True, fetch=False):
            pass
    total = _ray.get(ray, statistics[0])
    smoother.fit_statistics(total, classes, label_names=label_names)
    shards.counts = counts
    return smoother, shards, ray


def _assemble(ray: Any, smoother: _Smoother, shards: Shards, refs: list[Any], progress: bool) -> np.ndarray:
    """The shards' soft labels in one array; one warning naming the corpus rows of texts without words."""
    n_classes = len(smoother.classes_)
    out = np.empty((shards.n_rows, n_classes), dtype=smoother.dtype)
    empty = []
    for i, (soft, rows) in _ray.completed(ray, refs, desc="soft labels", progress=progress):
        start, stop = shards.bounds[i]
        out[start:stop] = soft
        empty.append(rows + start)
    warn_no_known_word(np.sort(np.concatenate(empty or [np.zeros(0, np.int64)])), stacklevel=3)
    return out


def _build_smoother(method: str | _Smoother, dtype: Any, params: dict[str, Any]) -> _Smoother:
    """A fresh, unfitted smoother from a method name and parameters, or from a smoother's parameters."""
    if isinstance(method, KeywordSmoother | TfidfSmoother):
        if params:
            raise ConfigError(
                f"parameters {', '.join(sorted(params))} given with a smoother",
                column="method",
                hint="set them on the smoother, or pass the method's name",
            )
        smoother = type(method)(**method.get_params())
    elif isinstance(method, str) and method in _METHODS:
        cls = _METHODS[method]
        accepted = set(inspect.signature(cls).parameters) - {"dtype"}
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no parameter {', '.join(unknown)}",
                column="params",
                hint=f"its parameters: {', '.join(sorted(accepted))}",
            )
        smoother = cls(**params)
    else:
        raise ConfigError(
            f"method must be 'kwls', 'tfidf' or a KeywordSmoother/TfidfSmoother, got {method!r}",
            column="method",
        )
    if dtype is not None:
        smoother.set_params(dtype=dtype)
    smoother._check_params()
    try:
        np.dtype(smoother.dtype)  # an unknown dtype fails here, before Ray starts
    except TypeError as exc:
        raise ConfigError(f"dtype {smoother.dtype!r} is not a numpy dtype", column="dtype") from exc
    return smoother


# -- the tasks (module level, so the workers import them by name) ----------------------------------
@contextlib.contextmanager
def _rows_from(start: int) -> Iterator[None]:
    """An error naming a row of the shard (e.g. a tokenizer's bad output) names it in the corpus."""
    try:
        yield
    except TextsmoothError as exc:
        if exc.row is None or start == 0:
            raise
        shifted = copy.copy(exc)
        shifted.row = exc.row + start
        shifted.args = (shifted._render(),)
        raise shifted from None


def _shard_texts(shard: Any, column: str | None) -> list[str] | pa.Array:
    """A shard's texts: the list itself, or the text column of an Arrow table (one array)."""
    if column is None:
        return shard
    array = shard.column(column)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _count_shard(
    smoother: _Smoother, shard: Any, column: str | None, start: int, ids: np.ndarray, n_labels: int
) -> tuple[TermStatistics, CountMatrix]:
    """Map: the shard's statistics (summed later) and its count matrix (kept for the transform)."""
    with _rows_from(start):
        counts = smoother._count(_shard_texts(shard, column), None, n_jobs=_TASK_THREADS)
    return TermStatistics.from_counts(counts, ids, n_labels, n_jobs=_TASK_THREADS), counts


def _merge(*parts: TermStatistics) -> TermStatistics:
    """Reduce: the sum of consecutive shards' statistics."""
    return TermStatistics.merge(parts)


def _soft_labels_of_counts(smoother: _Smoother, counts: CountMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Transform a training shard: its counts moved to the fitted word ids, then eqs. (4)-(8).

    The shard's words are all in the fitted vocabulary, and each row's columns are sorted again, so
    the counts are those of counting the shard against the fitted vocabulary.
    """
    vocabulary = smoother.vocabulary_
    to_fitted = pc.index_in(counts.vocabulary.cast(vocabulary.type), value_set=vocabulary)
    to_fitted = to_fitted.to_numpy(zero_copy_only=False).astype(np.int64)
    x = counts.counts
    moved = sp.csr_matrix(  # copies: arrays from the object store are read-only, the sort is in place
        (x.data.copy(), to_fitted[x.indices], x.indptr.copy()), shape=(x.shape[0], len(vocabulary))
    )
    moved.sort_indices()
    fitted = CountMatrix(counts=moved, vocabulary=vocabulary, lengths=counts.lengths)
    return smoother._soft_labels(fitted, n_jobs=_TASK_THREADS, warn=False), rows_without_words(fitted)


def soft_labels_of_texts(
    smoother: _Smoother, shard: Any, column: str | None, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """Transform any shard: count it against the fitted vocabulary, then eqs. (4)-(8)."""
    with _rows_from(start):
        counts = smoother._count(_shard_texts(shard, column), smoother.vocabulary_, n_jobs=_TASK_THREADS)
    return smoother._soft_labels(counts, n_jobs=_TASK_THREADS, warn=False), rows_without_words(counts)
