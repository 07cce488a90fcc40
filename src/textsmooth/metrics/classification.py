"""Label metrics: accuracy, balanced accuracy, macro-F1, per-class recall and precision, confusion matrix.

Argument order is ``(preds, labels)`` everywhere in :mod:`textsmooth.metrics` (as in torchmetrics; the
reverse of scikit-learn's ``(y_true, y_pred)``). ``preds`` is either 1-D predicted class indices or a 2-D
``(n, n_classes)`` matrix of probabilities, logits or any scores, reduced by arg-max (ties go to the lowest
class index). ``labels`` are 1-D gold class indices ``0 .. n_classes - 1``.

The number of classes ``C`` is the width of 2-D ``preds``, else ``n_classes`` when given, else one more
than the largest index seen in ``preds`` or ``labels``.

All metrics are computed from the confusion matrix ``M`` (``M[t, p]`` = examples of gold class ``t``
predicted as ``p``), built with one ``np.bincount``; the ``*_from_confusion`` helpers also take a stack
``(..., C, C)`` of matrices (the paired bootstrap uses that to score thousands of resamples at once).
"""

from __future__ import annotations

import numpy as np

from textsmooth.errors import InputError
from textsmooth.metrics._inputs import ArrayLike, as_labels, as_predictions, check_same_length

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "confusion_matrix",
    "macro_f1",
    "minority_recall",
    "per_class_f1",
    "per_class_precision",
    "per_class_recall",
]


def _resolve(
    preds: ArrayLike, labels: ArrayLike, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Predicted indices, gold indices and the number of classes, all checked."""
    pred, width = as_predictions(preds)
    gold = as_labels(labels)
    check_same_length(pred, gold, "preds", "labels")
    if n_classes is not None:
        n_classes = int(n_classes)
        if n_classes < 1:
            raise InputError(f"n_classes must be >= 1, got {n_classes}", column="n_classes")
        if width is not None and width != n_classes:
            raise InputError(f"preds has {width} columns but n_classes is {n_classes}", column="n_classes")
    n = width or n_classes or int(max(pred.max(), gold.max())) + 1
    for name, values in (("preds", pred), ("labels", gold)):
        high = int(values.max())
        if high >= n:
            raise InputError(f"{name} holds class {high}, out of range for {n} classes", column=name)
    return pred, gold, n


def _confusion(pred: np.ndarray, gold: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(gold * n + pred, minlength=n * n).reshape(n, n)


def confusion_matrix(preds: ArrayLike, labels: ArrayLike, *, n_classes: int | None = None) -> np.ndarray:
    """Confusion matrix ``M[t, p]`` = number of examples of gold class ``t`` predicted as class ``p``.

    Rows are gold classes and columns predictions, as in ``sklearn.metrics.confusion_matrix``.

    Returns:
        ``(C, C)`` int64 array.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
        array([[1, 0, 0],
               [0, 1, 0],
               [0, 1, 1]])
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    return _confusion(pred, gold, n)


def accuracy(preds: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of examples predicted correctly: ``acc = (1/n) sum_i [pred_i == y_i]``.

    Example:
        >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
        0.75
        >>> accuracy([[0.9, 0.1], [0.2, 0.8]], [0, 0])   # probabilities: arg-max first
        0.5
    """
    pred, gold, _ = _resolve(preds, labels, None)
    return float(np.mean(pred == gold))


# ---------------------------------------------------------------------------- from confusion matrices
def recall_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class recall ``M[c, c] / sum_p M[c, p]`` of ``(..., C, C)`` matrices; NaN for classes without gold
    examples."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=-1)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, tp / support, np.nan)


def precision_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class precision ``M[c, c] / sum_t M[t, c]``; NaN for classes never predicted."""
    cm = np.asarray(cm, dtype=np.float64)
    predicted = cm.sum(axis=-2)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(predicted > 0, tp / predicted, np.nan)


def f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 ``2 TP / (2 TP + FP + FN)``; NaN for classes absent from both gold and predictions."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    denom = cm.sum(axis=-1) + cm.sum(axis=-2)  # = 2 TP + FN + FP
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2.0 * tp / denom, np.nan)


def balanced_accuracy_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes that have gold examples, for ``(..., C, C)`` matrices."""
    recall = recall_from_confusion(cm)
    present = ~np.isnan(recall)
    return np.where(present, recall, 0.0).sum(axis=-1) / present.sum(axis=-1)


def macro_f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in gold labels or predictions, for ``(..., C, C)`` matrices."""
    f1 = f1_from_confusion(cm)
    present = ~np.isnan(f1)
    return np.where(present, f1, 0.0).sum(axis=-1) / present.sum(axis=-1)


def accuracy_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Trace over total, for ``(..., C, C)`` matrices."""
    cm = np.asarray(cm, dtype=np.float64)
    return np.trace(cm, axis1=-2, axis2=-1) / cm.sum(axis=(-2, -1))


# ---------------------------------------------------------------------------- public metrics
def per_class_recall(preds: ArrayLike, labels: ArrayLike, *, n_classes: int | None = None) -> np.ndarray:
    """Recall of every class: ``recall_c = TP_c / (TP_c + FN_c)`` = share of class ``c``'s examples found.

    A class with no gold example has an undefined recall, returned as ``NaN`` (on purpose, so that it is
    not mistaken for 0 or 1); pass ``n_classes`` to get an entry for classes beyond the largest index seen.

    Returns:
        ``(C,)`` float64 array.

    Example:
        >>> per_class_recall([0, 0, 1, 0], [0, 1, 1, 1], n_classes=3)
        array([1.        , 0.33333333,        nan])
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    return recall_from_confusion(_confusion(pred, gold, n))


def per_class_precision(preds: ArrayLike, labels: ArrayLike, *, n_classes: int | None = None) -> np.ndarray:
    """Precision of every class: ``precision_c = TP_c / (TP_c + FP_c)``; ``NaN`` for a class never predicted.

    Example:
        >>> per_class_precision([0, 0, 1, 0], [0, 1, 1, 1])
        array([0.33333333, 1.        ])
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    return precision_from_confusion(_confusion(pred, gold, n))


def per_class_f1(preds: ArrayLike, labels: ArrayLike, *, n_classes: int | None = None) -> np.ndarray:
    """F1 of every class: ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` (the harmonic mean of precision and
    recall, written so that it is defined whenever class ``c`` occurs in ``labels`` or ``preds``).

    A class absent from both has an undefined F1, returned as ``NaN``; a class in only one of them has
    ``F1 = 0``.

    Example:
        >>> per_class_f1([0, 0, 1, 0], [0, 1, 1, 1], n_classes=3)
        array([0.5, 0.5, nan])
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    return f1_from_confusion(_confusion(pred, gold, n))


def balanced_accuracy(preds: ArrayLike, labels: ArrayLike) -> float:
    """Mean per-class recall over the classes present in ``labels``: ``(1/|K|) sum_{c in K} recall_c``.

    ``K`` is the set of classes with at least one gold example, so a class missing from the evaluation data
    neither counts as 0 nor as 1 (scikit-learn's ``balanced_accuracy_score`` with ``adjusted=False``).
    On data with one class at 1:100, always predicting the majority class scores 0.5 here but 0.99 in
    accuracy.

    Example:
        >>> balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1])
        0.5
    """
    pred, gold, n = _resolve(preds, labels, None)
    return float(balanced_accuracy_from_confusion(_confusion(pred, gold, n)))


def macro_f1(preds: ArrayLike, labels: ArrayLike, *, n_classes: int | None = None) -> float:
    """Unweighted mean of the per-class F1 over the classes present in ``labels`` or ``preds``.

    ``macro_F1 = (1/|K|) sum_{c in K} 2 TP_c / (2 TP_c + FP_c + FN_c)`` with ``K`` the classes that occur in
    the gold labels or in the predictions. **Classes absent from both are left out of the mean** (their F1
    is 0/0): passing a larger ``n_classes`` does not change the score. A class that is gold but never
    predicted (or predicted but never gold) counts with ``F1 = 0``. This equals scikit-learn's
    ``f1_score(labels, preds, average="macro")`` with its default ``labels=None``.

    Example:
        >>> macro_f1([0, 0, 0, 0], [0, 0, 0, 1])   # minority class never found: (0.857 + 0) / 2
        0.42857142857142855
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    return float(macro_f1_from_confusion(_confusion(pred, gold, n)))


def minority_recall(
    preds: ArrayLike, labels: ArrayLike, *, minority: int | None = None, n_classes: int | None = None
) -> tuple[int, float]:
    """Recall of the minority class: the class with the fewest gold examples (or the class ``minority``).

    Among classes with at least one gold example, the one with the smallest support is chosen; ties go to
    the lowest class index.

    Returns:
        ``(class index, recall)``.

    Raises:
        InputError: ``minority`` has no gold example (its recall is undefined).

    Example:
        >>> minority_recall([0, 0, 0, 1, 0], [0, 0, 0, 1, 1])
        (1, 0.5)
    """
    pred, gold, n = _resolve(preds, labels, n_classes)
    cm = _confusion(pred, gold, n)
    support = cm.sum(axis=1)
    if minority is None:
        minority = int(np.argmin(np.where(support > 0, support, np.iinfo(np.int64).max)))
    elif not 0 <= int(minority) < n or support[int(minority)] == 0:
        raise InputError(
            f"class {minority} has no gold example, so its recall is undefined", column="minority"
        )
    minority = int(minority)
    return minority, float(cm[minority, minority] / support[minority])
