"""Probabilistic and calibration metrics: NLL, Brier score, ECE, MCE, reliability diagrams.

All take ``probs``, an ``(n, C)`` matrix whose rows are probability distributions (checked: values in
``[0, 1]`` and rows summing to 1 within :data:`~textsmooth.metrics._inputs.PROB_ATOL`), and ``labels``,
1-D gold class indices. Pass ``softmax(logits)``, not logits (:func:`nll` also takes logits directly).

Calibration is measured on the **top label**: for example ``i`` the confidence is
``conf_i = max_c p_ic`` and the prediction ``argmax_c p_ic`` (ties to the lowest index) is correct or not.
Examples are grouped into ``B`` bins by confidence; bin ``b`` holds ``n_b`` examples with mean confidence
``conf_b`` and accuracy ``acc_b``.

Bins (``binning=``):

``"width"`` (equal-width, the default)
    Edges ``e_k = k / B``, computed as ``np.arange(B + 1) / B`` (the float64 nearest to ``k / B``, so a
    confidence written as the decimal ``0.3`` sits exactly on the edge ``3/10``; ``np.linspace`` would put
    that edge at ``0.30000000000000004``). Bin ``b`` is ``[e_b, e_{b+1})``, closed on the
    left, except the last bin ``[e_{B-1}, 1]`` which is closed on both sides, so **a confidence of exactly
    1.0 lands in the last bin**. An example goes to the bin ``searchsorted(e, conf, "right") - 1``, clipped
    to ``B - 1``: a confidence equal to an inner edge goes to the bin that starts there.
``"mass"`` (equal-mass, also called adaptive)
    Confidences are sorted and split into ``B`` consecutive groups whose sizes differ by at most one (the
    first ``n mod B`` groups have one more, as ``np.array_split``). Bin ``b``'s lower edge is the smallest
    confidence of group ``b`` (``e_0 = 0``, ``e_B = 1``) and examples are then assigned by value with the
    same rule as above, so examples with *equal* confidence always share a bin (the larger one): bins
    differ in size only where there are ties, and the result does not depend on the order of examples.
    With ``n < B`` only ``n`` bins are non-empty.

Empty bins have no confidence or accuracy (``NaN`` in the table) and contribute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.io.atomic import atomic_path
from textsmooth.metrics._inputs import ArrayLike, as_labels, as_numpy, as_probs, check_same_length

__all__ = [
    "Binning",
    "CalibrationBins",
    "brier_score",
    "calibration_bins",
    "expected_calibration_error",
    "maximum_calibration_error",
    "nll",
    "reliability_diagram",
]

Binning = Literal["width", "mass"]


def _probs_and_labels(probs: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = as_probs(probs)
    y = as_labels(labels, n_classes=p.shape[1])
    check_same_length(p, y, "probs", "labels")
    return p, y


def nll(probs: ArrayLike, labels: ArrayLike, *, from_logits: bool = False, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the gold labels (natural log): ``NLL = -(1/n) sum_i log p_{i, y_i}``.

    Args:
        probs: ``(n, C)`` probabilities; with ``from_logits=True``, unnormalised logits instead, and
            ``log p`` is computed exactly with a log-softmax (no clipping).
        labels: ``(n,)`` gold class indices.
        from_logits: read ``probs`` as logits.
        eps: probabilities are clipped to ``[eps, 1]`` before the log, so one gold probability of exactly 0
            costs ``-log(eps)`` (27.6 for the default) instead of infinity. Ignored with logits.

    This is scikit-learn's ``log_loss`` for probabilities that are not clipped, and PyTorch's
    ``cross_entropy`` for logits.

    Example:
        >>> round(nll([[0.5, 0.5], [0.9, 0.1]], [0, 0]), 6)   # (log 2 + log(1/0.9)) / 2
        0.399254
        >>> round(nll([[0.0, 0.0], [3.0, 0.0]], [1, 0], from_logits=True), 6)
        0.370867
    """
    if from_logits:
        logits = as_numpy(probs, "logits")
        if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
            raise InputError(
                f"logits must be (n_examples >= 1, n_classes >= 2), got {logits.shape}", column="logits"
            )
        logits = logits.astype(np.float64)
        if not np.all(np.isfinite(logits)):
            raise InputError("logits hold NaN or infinity", column="logits")
        y = as_labels(labels, n_classes=logits.shape[1])
        check_same_length(logits, y, "logits", "labels")
        from scipy.special import logsumexp

        gold = logits[np.arange(len(y)), y]
        return float(np.mean(logsumexp(logits, axis=1) - gold))
    if not 0 < eps < 1:
        raise ConfigError(f"eps must be in (0, 1), got {eps}", column="eps")
    p, y = _probs_and_labels(probs, labels)
    return _nll(p, y, eps)


def _nll(p: np.ndarray, y: np.ndarray, eps: float = 1e-12) -> float:
    """:func:`nll` of checked float64 probabilities."""
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], eps, 1.0))))


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """Multi-class Brier score: squared error to the one-hot label, **summed over classes, averaged over
    examples**: ``BS = (1/n) sum_i sum_c (p_ic - [y_i = c])^2``, in ``[0, 2]``.

    This is Brier's (1950) original definition and scikit-learn's multi-class ``brier_score_loss`` with
    ``scale_by_half=False``. Note that for two classes scikit-learn's default scores only the positive
    class, which is half of this value.

    Example:
        >>> round(brier_score([[0.8, 0.2], [0.5, 0.5]], [0, 1]), 6)   # (0.04 + 0.04 + 0.25 + 0.25) / 2
        0.29
    """
    p, y = _probs_and_labels(probs, labels)
    return _brier(p, y)


def _brier(p: np.ndarray, y: np.ndarray) -> float:
    """:func:`brier_score` of checked float64 probabilities."""
    # sum_c (p_c - onehot_c)^2 = sum_c p_c^2 - 2 p_y + 1, without building the one-hot matrix.
    per_row = np.einsum("ij,ij->i", p, p) - 2.0 * p[np.arange(len(y)), y] + 1.0
    return float(np.mean(per_row))


@dataclass(frozen=True)
class CalibrationBins:
    """The per-bin table behind ECE, MCE and the reliability diagram.

    Attributes:
        lower, upper: ``(B,)`` bin edges (see the module docstring for which side is closed).
        count: ``(B,)`` examples per bin.
        confidence: ``(B,)`` mean top-label confidence per bin, ``NaN`` for empty bins.
        accuracy: ``(B,)`` accuracy per bin, ``NaN`` for empty bins.
        binning: ``"width"`` or ``"mass"``.
        n: total number of examples.
    """

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    binning: str
    n: int

    @property
    def gap(self) -> np.ndarray:
        """``|acc_b - conf_b|`` per bin (``NaN`` for empty bins)."""
        return np.abs(self.accuracy - self.confidence)

    @property
    def ece(self) -> float:
        """``sum_b (n_b / n) |acc_b - conf_b|``."""
        nonempty = self.count > 0
        return float(np.sum(self.count[nonempty] / self.n * self.gap[nonempty]))

    @property
    def mce(self) -> float:
        """``max_b |acc_b - conf_b|`` over non-empty bins."""
        return float(np.max(self.gap[self.count > 0]))

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per bin (``None`` for the confidence, accuracy and gap of empty bins)."""
        rows = []
        for b in range(len(self.count)):
            empty = self.count[b] == 0
            rows.append(
                {
                    "bin": b,
                    "lower": float(self.lower[b]),
                    "upper": float(self.upper[b]),
                    "count": int(self.count[b]),
                    "confidence": None if empty else float(self.confidence[b]),
                    "accuracy": None if empty else float(self.accuracy[b]),
                    "gap": None if empty else float(self.gap[b]),
                }
            )
        return rows


def _check_bins(n_bins: int, binning: str) -> int:
    if isinstance(n_bins, bool) or int(n_bins) != n_bins or int(n_bins) < 1:
        raise ConfigError(f"n_bins must be a whole number >= 1, got {n_bins!r}", column="n_bins")
    if binning not in ("width", "mass"):
        raise ConfigError(f"binning must be 'width' or 'mass', got {binning!r}", column="binning")
    return int(n_bins)


def _edges(conf: np.ndarray, n_bins: int, binning: str) -> np.ndarray:
    """``B + 1`` bin edges from 0 to 1 (inner edges may repeat for equal-mass bins with ties)."""
    if binning == "width":
        return np.arange(n_bins + 1, dtype=np.float64) / n_bins
    n = conf.shape[0]
    k = np.arange(1, n_bins)
    starts = k * (n // n_bins) + np.minimum(k, n % n_bins)  # first sorted position of group k
    inner = np.full(n_bins - 1, np.inf)
    filled = starts < n
    if filled.any():
        ordered = np.sort(conf)
        inner[filled] = ordered[starts[filled]]
    return np.concatenate(([0.0], inner, [1.0]))


def calibration_bins(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, binning: Binning = "width"
) -> CalibrationBins:
    """Bin examples by top-label confidence and return counts, mean confidence and accuracy per bin.

    See the module docstring for the bin edges. Vectorised: one ``searchsorted`` and three ``bincount``.

    Example:
        >>> t = calibration_bins([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.0, 1.0]], [0, 1, 1, 0], n_bins=2)
        >>> t.count.tolist(), t.accuracy.tolist()
        ([0, 4], [nan, 0.5])
    """
    n_bins = _check_bins(n_bins, binning)
    p, y = _probs_and_labels(probs, labels)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = _edges(conf, n_bins, binning)
    index = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, np.bincount(index, conf, n_bins) / count, np.nan)
        acc = np.where(count > 0, np.bincount(index, correct, n_bins) / count, np.nan)
    shown = np.minimum(edges, 1.0)
    return CalibrationBins(
        lower=shown[:-1],
        upper=shown[1:],
        count=count,
        confidence=mean_conf,
        accuracy=acc,
        binning=binning,
        n=int(p.shape[0]),
    )


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, binning: Binning = "width"
) -> float:
    """Expected calibration error: ``ECE = sum_b (n_b / n) |acc_b - conf_b|`` over top-label confidence bins.

    Args:
        probs: ``(n, C)`` probabilities.
        labels: ``(n,)`` gold class indices.
        n_bins: number of bins ``B`` (15 as in Guo et al. 2017).
        binning: ``"width"`` (equal-width edges ``k/B``) or ``"mass"`` (equal-mass); see the module docstring.

    References: Naeini et al. 2015 (ECE, MCE); Guo et al. 2017; Nixon et al. 2019 (equal-mass bins).
    Related: :func:`maximum_calibration_error`, :func:`calibration_bins`, :func:`reliability_diagram`.

    Example:
        >>> probs = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]]
        >>> # two bins: confidence 0.9 with accuracy 0.5, confidence 0.6 with accuracy 1
        >>> round(expected_calibration_error(probs, [0, 1, 0, 1], n_bins=10), 6)
        0.4
    """
    return calibration_bins(probs, labels, n_bins=n_bins, binning=binning).ece


def maximum_calibration_error(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, binning: Binning = "width"
) -> float:
    """Maximum calibration error: ``MCE = max_b |acc_b - conf_b|`` over the non-empty bins.

    Same bins as :func:`expected_calibration_error`. MCE is noisy for bins with few examples; report it next
    to ECE and the bin counts.

    Example:
        >>> probs = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]]
        >>> round(maximum_calibration_error(probs, [0, 1, 0, 1], n_bins=10), 6)
        0.4
    """
    return calibration_bins(probs, labels, n_bins=n_bins, binning=binning).mce


def reliability_diagram(
    probs: ArrayLike,
    labels: ArrayLike,
    path: str | Path,
    n_bins: int = 15,
    *,
    binning: Binning = "width",
    title: str | None = None,
    dpi: int = 100,
) -> CalibrationBins:
    """Draw a reliability diagram (accuracy per confidence bin against the diagonal) to a PNG file.

    The upper panel shows each bin's accuracy as a bar spanning the bin, the gap to its mean confidence
    shaded, and the diagonal of perfect calibration; the title carries ECE and MCE. The lower panel shows
    how many examples fall in each bin. The file is written atomically with matplotlib's Agg backend (no
    display needed, pyplot's global state untouched); matplotlib is imported only here.

    Args:
        probs, labels, n_bins, binning: as in :func:`calibration_bins`.
        path: the PNG file to write (parent folders are created).
        title: text before the ECE/MCE line.
        dpi: resolution.

    Returns:
        The per-bin table that was drawn.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "rel.png"
        >>> table = reliability_diagram([[0.9, 0.1], [0.2, 0.8]], [0, 0], out, n_bins=5)
        >>> out.read_bytes()[:4] == b"\\x89PNG", table.count.tolist()
        (True, [0, 0, 0, 0, 2])
    """
    table = calibration_bins(probs, labels, n_bins=n_bins, binning=binning)
    from textsmooth._extras import require

    require("matplotlib", extra="report", feature="reliability_diagram")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 5.6), dpi=dpi)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    nonempty = table.count > 0
    left = table.lower[nonempty]
    width = table.upper[nonempty] - left
    acc = table.accuracy[nonempty]
    conf = table.confidence[nonempty]
    top.bar(
        left,
        acc,
        width=width,
        align="edge",
        color="#4c72b0",
        edgecolor="black",
        linewidth=0.6,
        label="accuracy",
    )
    top.bar(
        left,
        conf - acc,
        bottom=acc,
        width=width,
        align="edge",
        color="#dd8452",
        alpha=0.45,
        edgecolor="#dd8452",
        hatch="//",
        label="gap to confidence",
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="gray", linewidth=1, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=8)
    head = f"{title}\n" if title else ""
    top.set_title(
        f"{head}ECE {100 * table.ece:.2f}%  MCE {100 * table.mce:.2f}%  ({binning}, {n_bins} bins)",
        fontsize=9,
    )
    bottom.bar(
        table.lower,
        table.count,
        width=table.upper - table.lower,
        align="edge",
        color="gray",
        edgecolor="black",
        linewidth=0.4,
    )
    bottom.set_xlabel("confidence (top label)")
    bottom.set_ylabel("examples")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return table
