"""One call for every classification metric of a run: :func:`classification_report`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textsmooth.errors import InputError
from textsmooth.metrics._inputs import ArrayLike, as_labels, as_probs, check_same_length
from textsmooth.metrics.calibration import _brier, _nll, calibration_bins
from textsmooth.metrics.classification import (
    accuracy_from_confusion,
    balanced_accuracy_from_confusion,
    f1_from_confusion,
    macro_f1_from_confusion,
    precision_from_confusion,
    recall_from_confusion,
)

__all__ = ["classification_report"]


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def classification_report(
    probs: ArrayLike,
    labels: ArrayLike,
    label_names: Sequence[str] | None = None,
    *,
    n_bins: int = 15,
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1, NLL, Brier, ECE (both binnings), MCE, mean confidence,
    minority and per-class recall of one set of predicted probabilities, as a JSON-ready dict.

    Predictions are the arg-max of ``probs``. Every entry follows the function of the same name in
    :mod:`textsmooth.metrics` (same formulas and conventions); values are plain Python floats, and
    undefined per-class values (precision of a class never predicted, recall of a class with no example)
    are ``None``.

    Args:
        probs: ``(n, C)`` predicted probabilities (rows sum to 1).
        labels: ``(n,)`` gold class indices ``0 .. C - 1``.
        label_names: ``C`` class names for ``per_class`` and ``minority_class``; default ``"0" .. "C-1"``.
        n_bins: bins for ECE and MCE.

    Returns:
        ``{"n", "n_classes", "accuracy", "balanced_accuracy", "macro_f1", "nll", "brier", "ece"``
        (equal-width), ``"ece_mass"`` (equal-mass), ``"mce"`` (equal-width), ``"confidence"`` (mean of the
        largest probability: above ``accuracy`` means over-confident, below under-confident; ECE alone
        does not say which), ``"minority_class"`` (name of
        the gold class with the fewest examples, ties to the lowest index), ``"minority_recall",
        "per_class": {name: {"support", "precision", "recall", "f1"}}}``. A list of such dicts (one per
        seed) goes straight into :func:`~textsmooth.metrics.summarize_seeds`.

    Example:
        >>> r = classification_report([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]], [0, 0, 1], ["neg", "pos"])
        >>> r["accuracy"], r["minority_class"], r["per_class"]["pos"]["recall"]
        (1.0, 'pos', 1.0)
    """
    p = as_probs(probs)
    n, n_classes = p.shape
    y = as_labels(labels, n_classes=n_classes)
    check_same_length(p, y, "probs", "labels")
    if label_names is None:
        names = [str(c) for c in range(n_classes)]
    else:
        names = [str(name) for name in label_names]
        if len(names) != n_classes:
            raise InputError(
                f"label_names has {len(names)} names but probs has {n_classes} classes", column="label_names"
            )
        if len(set(names)) != len(names):
            raise InputError("label_names repeats a name", column="label_names")
    pred = p.argmax(axis=1)
    cm = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    support = cm.sum(axis=1)
    recall = recall_from_confusion(cm)
    precision = precision_from_confusion(cm)
    f1 = f1_from_confusion(cm)
    minority = int(np.argmin(np.where(support > 0, support, np.iinfo(np.int64).max)))
    width_bins = calibration_bins(p, y, n_bins=n_bins, binning="width")
    mass_bins = calibration_bins(p, y, n_bins=n_bins, binning="mass")
    return {
        "n": int(n),
        "n_classes": int(n_classes),
        "accuracy": float(accuracy_from_confusion(cm)),
        "balanced_accuracy": float(balanced_accuracy_from_confusion(cm)),
        "macro_f1": float(macro_f1_from_confusion(cm)),
        "nll": _nll(p, y),
        "brier": _brier(p, y),
        "ece": width_bins.ece,
        "ece_mass": mass_bins.ece,
        "mce": width_bins.mce,
        "confidence": float(p.max(axis=1).mean()),
        "minority_class": names[minority],
        "minority_recall": float(recall[minority]),
        "per_class": {
            names[c]: {
                "support": int(support[c]),
                "precision": _number(precision[c]),
                "recall": _number(recall[c]),
                "f1": _number(f1[c]),
            }
            for c in range(n_classes)
        },
    }
