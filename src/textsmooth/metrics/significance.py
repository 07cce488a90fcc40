"""Comparing runs: a paired bootstrap test between two systems, and mean ± std over seeds.

Paired bootstrap (Efron & Tibshirani 1993; for NLP: Koehn 2004, Berg-Kirkpatrick et al. 2012)
    Both systems are scored on the same ``n`` test examples. A resample draws ``n`` example indices with
    replacement (the *same* indices for both systems, which is what makes it paired) and recomputes
    ``delta* = metric(a) - metric(b)`` on them. The observed difference is ``delta``. The p-value tests
    ``H0: no difference`` by centring the bootstrap distribution on the null (``delta* - delta`` estimates
    the sampling noise of ``delta`` around 0):

    * ``"two-sided"`` (default, H1: they differ): ``p = (1 + #{|delta* - delta| >= |delta|}) / (1 + R)``
    * ``"greater"`` (H1: ``a`` is better, ``delta > 0``): ``p = (1 + #{delta* - delta >= delta}) / (1 + R)``
    * ``"less"`` (H1: ``a`` is worse): ``p = (1 + #{delta* - delta <= delta}) / (1 + R)``

    with ``R`` resamples (the ``+1`` keeps ``p > 0``: the smallest reachable p-value is ``1 / (R + 1)``).

    Resampling is exact and fast: a resample's statistic depends only on how often each distinct
    per-example value is drawn (a 0/1 correctness difference, or a (gold, prediction a, prediction b)
    triple for the label metrics), and those counts follow ``Multinomial(n, shares)``; with few distinct
    values they are drawn directly, so 10 000 resamples cost milliseconds whatever ``n``. Otherwise
    (continuous scores, many classes) example indices are drawn. Metric functions always draw indices.
    Identical systems give ``delta* = delta = 0`` in every resample, hence ``p = 1``. The confidence interval
    is always the **two-sided** percentile interval of ``delta*`` (``(1 - confidence)/2`` and
    ``(1 + confidence)/2`` quantiles), whatever the ``alternative``.

Seeds
    :func:`summarize_seeds` gives the mean and the *sample* standard deviation (``ddof=1``) over runs that
    differ only in their seed, the "mean ± std" of the paper's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, overload

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.metrics._inputs import ArrayLike, as_labels, as_numpy, as_predictions, check_same_length
from textsmooth.metrics.classification import (
    accuracy_from_confusion,
    balanced_accuracy_from_confusion,
    macro_f1_from_confusion,
)

__all__ = ["Alternative", "BootstrapResult", "SeedSummary", "paired_bootstrap", "summarize_seeds"]

Alternative = Literal["two-sided", "greater", "less"]
_CONFUSION_METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "accuracy": accuracy_from_confusion,
    "macro_f1": macro_f1_from_confusion,
    "balanced_accuracy": balanced_accuracy_from_confusion,
}
# Resampled indices held at once (chunk rows x n); the chunking depends on n only, so results depend on the
# seed and the data, never on memory settings.
_BLOCK_ELEMENTS = 1 << 22
# Up to this many distinct per-example values, resampled counts are drawn from a multinomial directly.
_MAX_CATEGORIES = 4096
# Resampled differences this close to the threshold count as reaching it (float noise on exact ties).
_TIE_TOL = 1e-12
_MISSING = object()


@dataclass(frozen=True)
class BootstrapResult:
    """Result of :func:`paired_bootstrap`.

    Attributes:
        score_a, score_b: the metric of each system on the full data.
        delta: ``score_a - score_b``.
        p_value: p-value of ``alternative`` (see the module docstring).
        ci_low, ci_high: two-sided percentile confidence interval of the difference.
        confidence: level of that interval.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        n_resamples: number of bootstrap resamples ``R``.
        metric: the metric's name.
        seed: seed of the resampling.
    """

    score_a: float
    score_b: float
    delta: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float
    alternative: str
    n_resamples: int
    metric: str
    seed: int | None

    def significant(self, level: float = 0.05) -> bool:
        """``p_value < level``."""
        return self.p_value < level

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def _resample_blocks(n: int, n_resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Blocks of resampled example indices, ``(rows, n)`` each, ``n_resamples`` rows in all."""
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n_resamples, rows):
        yield rng.integers(0, n, size=(min(rows, n_resamples - start), n))


def _few_categories(n_categories: int, n: int) -> bool:
    """Whether drawing multinomial category counts beats drawing ``n`` indices per resample."""
    return n_categories <= min(_MAX_CATEGORIES, max(n // 16, 1))


def _multinomial_counts(
    inverse: np.ndarray, n_categories: int, n_resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Blocks ``(rows, K)`` of how often each of the ``K`` categories is drawn in each resample.

    ``inverse[i]`` is the category of example ``i``. Drawing ``n`` examples with replacement draws the
    category counts from ``Multinomial(n, share of each category)``, sampled here directly.
    """
    n = inverse.shape[0]
    shares = np.bincount(inverse, minlength=n_categories) / n
    rows = max(1, _BLOCK_ELEMENTS // n_categories)
    for start in range(0, n_resamples, rows):
        yield rng.multinomial(n, shares, size=min(rows, n_resamples - start)).astype(np.float64)


def _sum_by_cell(counts: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """``out[r, c] = sum of counts[r, k] over the categories k with cell[k] == c``: ``(rows, n_cells)``."""
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_cells[1:] != sorted_cells[:-1])))
    out = np.zeros((counts.shape[0], n_cells))
    out[:, sorted_cells[starts]] = np.add.reduceat(counts[:, order], starts, axis=1)
    return out


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "mean",
    n_resamples: int = 10_000,
    seed: int | None = 0,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
) -> BootstrapResult:
    """Paired bootstrap test of ``metric(a) - metric(b)`` on the same examples.

    Args:
        a, b: the two systems' per-example outputs, aligned on the same examples:

            * ``metric="mean"``: per-example scores (0/1 correctness, per-sentence BLEU, log-likelihoods,
              ...); the statistic is their mean and ``labels`` must be ``None``.
            * ``metric="accuracy" | "macro_f1" | "balanced_accuracy"``: predictions (1-D class indices or
              2-D probabilities/logits, arg-maxed), scored against ``labels``. Resamples are scored from
              stacked confusion matrices, all at once.
            * a callable ``metric(preds, labels) -> float``: ``a`` and ``b`` are anything indexable along
              the first axis; called twice per resample (a Python loop over resamples, so slower).
        labels: gold class indices, for the label metrics and callables.
        metric: see above.
        n_resamples: ``R``, number of resamples (10 000 gives p-values down to about 1e-4).
        seed: seed of ``numpy.random.default_rng``; the same seed and data give the same result.
        alternative: ``"two-sided"``, ``"greater"`` (H1: ``a`` better) or ``"less"`` (module docstring).
        confidence: level of the (two-sided, percentile) confidence interval of the difference.

    Raises:
        InputError: lengths differ, empty input, or ``labels`` missing/unexpected.
        ConfigError: unknown ``metric`` or ``alternative``, ``n_resamples < 1``, ``confidence`` not in (0, 1).

    Example:
        >>> a = [1] * 90 + [0] * 10          # run A right on 90 of 100 examples
        >>> b = [1] * 60 + [0] * 40          # run B right on 60
        >>> r = paired_bootstrap(a, b, n_resamples=2000, seed=0)
        >>> round(r.delta, 2), r.p_value < 0.01, r.ci_low > 0
        (0.3, True, True)
        >>> paired_bootstrap(a, a, n_resamples=100).p_value
        1.0
    """
    n_resamples = _check_options(alternative, n_resamples, confidence)
    rng = np.random.default_rng(seed)
    if callable(metric):
        name = getattr(metric, "__name__", "custom")
        score_a, score_b, deltas = _callable_deltas(metric, a, b, labels, n_resamples, rng)
    elif metric == "mean":
        name = "mean"
        score_a, score_b, deltas = _mean_deltas(a, b, labels, n_resamples, rng)
    elif metric in _CONFUSION_METRICS:
        name = metric
        score_a, score_b, deltas = _confusion_deltas(metric, a, b, labels, n_resamples, rng)
    else:
        raise ConfigError(
            f"unknown metric {metric!r}",
            column="metric",
            hint="use 'mean', 'accuracy', 'macro_f1', 'balanced_accuracy' or a function (preds, labels)",
        )
    delta = score_a - score_b
    low, high = np.quantile(deltas, [(1 - confidence) / 2, (1 + confidence) / 2])
    return BootstrapResult(
        score_a=score_a,
        score_b=score_b,
        delta=float(delta),
        p_value=_p_value(deltas, delta, alternative),
        ci_low=float(low),
        ci_high=float(high),
        confidence=float(confidence),
        alternative=alternative,
        n_resamples=n_resamples,
        metric=name,
        seed=seed,
    )


# Each strategy returns (score_a, score_b, deltas): the metric of each system on the full data and the
# R resampled differences delta* (module docstring), drawn from ``rng`` in a fixed order.
_Deltas = tuple[float, float, np.ndarray]


def _check_options(alternative: str, n_resamples: int, confidence: float) -> int:
    """Validate the options of :func:`paired_bootstrap`; return ``n_resamples`` as an ``int``."""
    if alternative not in ("two-sided", "greater", "less"):
        raise ConfigError(
            f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}", column="alternative"
        )
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or n_resamples < 1:
        raise ConfigError(
            f"n_resamples must be a whole number >= 1, got {n_resamples!r}", column="n_resamples"
        )
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}", column="confidence")
    return int(n_resamples)


def _callable_deltas(
    metric: Callable[[np.ndarray, np.ndarray], float],
    a: ArrayLike,
    b: ArrayLike,
    labels: ArrayLike | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> _Deltas:
    """A metric function: called on both systems for every resample of example indices."""
    if labels is None:
        raise InputError("labels are required with a metric function", column="labels")
    gold = as_numpy(labels, "labels")
    xa, xb = as_numpy(a, "a"), as_numpy(b, "b")
    n = _common_length(xa, xb, gold)
    score_a, score_b = float(metric(xa, gold)), float(metric(xb, gold))
    deltas = np.empty(n_resamples)
    i = 0
    for block in _resample_blocks(n, n_resamples, rng):
        for idx in block:
            deltas[i] = float(metric(xa[idx], gold[idx])) - float(metric(xb[idx], gold[idx]))
            i += 1
    return score_a, score_b, deltas


def _mean_deltas(
    a: ArrayLike, b: ArrayLike, labels: ArrayLike | None, n_resamples: int, rng: np.random.Generator
) -> _Deltas:
    """``metric="mean"``: the mean of per-example differences, from multinomial counts of the distinct
    differences when they are few, else from resampled indices."""
    if labels is not None:
        raise InputError("metric='mean' compares per-example scores and takes no labels", column="labels")
    xa, xb = _scores(a, "a"), _scores(b, "b")
    n = _common_length(xa, xb)
    diff = xa - xb
    values, inverse = np.unique(diff, return_inverse=True)
    if _few_categories(len(values), n):
        blocks = _multinomial_counts(inverse, len(values), n_resamples, rng)
        deltas = np.concatenate([counts @ values / n for counts in blocks])
    else:
        deltas = np.concatenate([diff[idx].mean(axis=1) for idx in _resample_blocks(n, n_resamples, rng)])
    return float(xa.mean()), float(xb.mean()), deltas


def _confusion_deltas(
    metric: str,
    a: ArrayLike,
    b: ArrayLike,
    labels: ArrayLike | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> _Deltas:
    """A label metric (``_CONFUSION_METRICS``): every resample scored from its two confusion matrices."""
    if labels is None:
        raise InputError(f"metric={metric!r} needs labels", column="labels")
    from_confusion = _CONFUSION_METRICS[metric]
    pa_, width_a = as_predictions(a, "a")
    pb_, width_b = as_predictions(b, "b")
    gold = as_labels(labels)
    n = _common_length(pa_, pb_, gold)
    n_classes = max(width_a or 0, width_b or 0, int(max(pa_.max(), pb_.max(), gold.max())) + 1)
    codes_a, codes_b = gold * n_classes + pa_, gold * n_classes + pb_
    cells = n_classes * n_classes
    score_a = float(from_confusion(np.bincount(codes_a, minlength=cells).reshape(n_classes, n_classes)))
    score_b = float(from_confusion(np.bincount(codes_b, minlength=cells).reshape(n_classes, n_classes)))
    # One category per distinct (gold, pred_a, pred_b): a resample is a vector of category counts.
    joint, inverse = np.unique(codes_a * cells + codes_b, return_inverse=True)
    if _few_categories(len(joint), n):
        parts = _confusion_deltas_by_counts(from_confusion, joint, inverse, n_classes, n_resamples, rng)
    else:
        parts = _confusion_deltas_by_indices(from_confusion, codes_a, codes_b, n_classes, n_resamples, rng)
    return score_a, score_b, np.concatenate(parts)


def _confusion_deltas_by_counts(
    from_confusion: Callable[[np.ndarray], np.ndarray],
    joint: np.ndarray,
    inverse: np.ndarray,
    n_classes: int,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Few distinct (gold, pred_a, pred_b) categories: confusion matrices summed from multinomial counts."""
    cells = n_classes * n_classes
    shape = (-1, n_classes, n_classes)
    cell_a, cell_b = joint // cells, joint % cells
    parts = []
    for counts in _multinomial_counts(inverse, len(joint), n_resamples, rng):
        cm_a = _sum_by_cell(counts, cell_a, cells).reshape(shape)
        cm_b = _sum_by_cell(counts, cell_b, cells).reshape(shape)
        parts.append(from_confusion(cm_a) - from_confusion(cm_b))
    return parts


def _confusion_deltas_by_indices(
    from_confusion: Callable[[np.ndarray], np.ndarray],
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    n_classes: int,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Many categories: confusion matrices counted from resampled example indices, a block at a time."""
    cells = n_classes * n_classes
    shape = (-1, n_classes, n_classes)
    parts = []
    for idx in _resample_blocks(codes_a.shape[0], n_resamples, rng):
        offset = np.arange(idx.shape[0], dtype=np.int64)[:, None] * cells
        size = idx.shape[0] * cells
        cm_a = np.bincount((codes_a[idx] + offset).ravel(), minlength=size).reshape(shape)
        cm_b = np.bincount((codes_b[idx] + offset).ravel(), minlength=size).reshape(shape)
        parts.append(from_confusion(cm_a) - from_confusion(cm_b))
    return parts


def _p_value(deltas: np.ndarray, delta: float, alternative: str) -> float:
    """``(1 + #{centred resamples at least as extreme as delta}) / (1 + R)`` (module docstring)."""
    centred = deltas - delta
    if alternative == "two-sided":
        extreme = np.abs(centred) >= abs(delta) - _TIE_TOL
    elif alternative == "greater":
        extreme = centred >= delta - _TIE_TOL
    else:
        extreme = centred <= delta + _TIE_TOL
    p_value = (1.0 + float(np.count_nonzero(extreme))) / (1.0 + deltas.shape[0])
    return float(min(p_value, 1.0))


def _scores(x: ArrayLike, name: str) -> np.ndarray:
    array = as_numpy(x, name)
    if array.ndim != 1:
        raise InputError(f"{name} must be 1-D per-example scores, got shape {array.shape}", column=name)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numbers, got dtype {array.dtype}", column=name)
    out = array.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{name} holds NaN or infinity", column=name)
    return out


def _common_length(*arrays: np.ndarray) -> int:
    names = ("a", "b", "labels")
    for name, array in zip(names, arrays, strict=False):
        if array.ndim == 0 or array.shape[0] == 0:
            raise InputError(f"{name} is empty", column=name)
    for name, array in zip(names[1:], arrays[1:], strict=False):
        check_same_length(arrays[0], array, "a", name)
    return int(arrays[0].shape[0])


# ---------------------------------------------------------------------------- seeds
@dataclass(frozen=True)
class SeedSummary:
    """Mean and sample standard deviation of one metric over seeds.

    Attributes:
        mean: ``(1/s) sum_j x_j``.
        std: ``sqrt(sum_j (x_j - mean)^2 / (s - 1))`` (``ddof=1``); ``NaN`` when ``s = 1`` (undefined).
        n: number of runs ``s`` that had the metric.
        min, max: range over the runs.
    """

    mean: float
    std: float
    n: int
    min: float
    max: float

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        """``"mean ± std"`` after multiplying by ``scale`` (e.g. 100 for percent); just the mean for one run.

        Example:
            >>> summarize_seeds([0.8812, 0.8824, 0.8836]).format(scale=100)
            '88.24 ± 0.12'
        """
        if self.n < 2:
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``std`` is ``None`` for a single run)."""
        out = asdict(self)
        if self.n < 2:
            out["std"] = None
        return out


def _summary(values: np.ndarray, ddof: int) -> SeedSummary:
    n = int(values.size)
    std = float(np.std(values, ddof=ddof)) if n > ddof else float("nan")
    return SeedSummary(float(np.mean(values)), std, n, float(values.min()), float(values.max()))


def _flatten(run: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in run.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


@overload
def summarize_seeds(runs: Sequence[Mapping[str, Any]], *, ddof: int = ...) -> dict[str, SeedSummary]: ...
@overload
def summarize_seeds(runs: ArrayLike, *, ddof: int = ...) -> SeedSummary: ...
def summarize_seeds(runs: Any, *, ddof: int = 1) -> SeedSummary | dict[str, SeedSummary]:
    """Mean and standard deviation over seeds, of one metric or of every metric of a list of reports.

    Args:
        runs: either one value per seed (a list or 1-D array), or one mapping per seed such as
            :func:`~textsmooth.metrics.classification_report` outputs. Mappings are flattened with dotted
            keys (``"per_class.neg.recall"``); entries that are numbers are summarised, others (strings,
            lists, booleans) skipped. A ``None`` entry (an undefined metric, e.g. the precision of a class
            that one seed never predicted) is left out, and the summary's ``n`` tells over how many runs
            it was taken.
        ddof: delta degrees of freedom of the standard deviation (1: sample std, as in the paper tables).

    Raises:
        InputError: no runs, NaN values, or a metric that is a number in some runs and absent in others.

    Example:
        >>> s = summarize_seeds([0.80, 0.82, 0.84])
        >>> round(s.mean, 4), round(s.std, 4), s.n
        (0.82, 0.02, 3)
        >>> out = summarize_seeds([{"acc": 0.8, "ece": 0.1}, {"acc": 0.9, "ece": 0.3}])
        >>> out["acc"].format(), out["ece"].format()
        ('0.85 ± 0.07', '0.20 ± 0.14')
    """
    if isinstance(runs, Mapping):
        raise InputError("runs must be a list (one value or one report per seed), got a single mapping")
    if isinstance(runs, Sequence) and runs and all(isinstance(r, Mapping) for r in runs):
        flat = [_flatten(r) for r in runs]
        keys: list[str] = []
        for run in flat:
            keys.extend(k for k in run if k not in keys)
        out: dict[str, SeedSummary] = {}
        for key in keys:
            present = [run.get(key, _MISSING) for run in flat]
            numbers = [v for v in present if _is_number(v)]
            if not numbers:
                continue
            if any(v is _MISSING for v in present):
                raise InputError(f"metric {key!r} is missing from some runs", column=key)
            values = np.asarray(numbers, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise InputError(f"metric {key!r} holds NaN or infinity", column=key)
            out[key] = _summary(values, ddof)
        return out
    values = as_numpy(runs, "runs")
    if values.ndim != 1 or values.size == 0:
        raise InputError(
            f"runs must be a non-empty 1-D list of values, got shape {values.shape}", column="runs"
        )
    if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values.astype(np.float64))):
        raise InputError("runs must be finite numbers", column="runs")
    return _summary(values.astype(np.float64), ddof)
