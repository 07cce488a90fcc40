"""Conversion and validation shared by every metric (staged like torchmetrics: convert, check, compute).

Metrics accept numpy arrays, torch tensors (any device or dtype, detached here) and nested lists. Torch
is never imported: a tensor is recognised by its ``detach``/``cpu``/``numpy`` methods.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from textsmooth.errors import InputError

__all__ = ["PROB_ATOL", "ArrayLike", "as_labels", "as_numpy", "as_predictions", "as_probs"]

#: Tolerance on ``|sum_c p_ic - 1|`` (and on probabilities below 0 or above 1) when checking that the
#: rows of a probability matrix are distributions. Loose enough for float16/bfloat16 softmax outputs.
PROB_ATOL = 1e-3

ArrayLike: TypeAlias = Any
"""A numpy array, a torch tensor or a (nested) list of numbers."""


def as_numpy(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a numpy array; torch tensors are detached and moved to the CPU (half types to float32)."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        tensor = x.detach().cpu()
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:
            tensor = tensor.float()
        return tensor.numpy()
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} cannot be read as an array: {exc}", column=name) from exc
    if array.dtype == object:
        raise InputError(
            f"{name} must be numbers of one shape (got a ragged or non-numeric array)", column=name
        )
    return array


def as_labels(labels: ArrayLike, name: str = "labels", n_classes: int | None = None) -> np.ndarray:
    """1-D int64 class indices; integer-valued floats are accepted, anything else raises ``InputError``."""
    array = as_numpy(labels, name)
    if array.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {array.shape}", column=name)
    if array.size == 0:
        raise InputError(f"{name} is empty", column=name)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise InputError(f"{name} must be integer class indices, got dtype {array.dtype}", column=name)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise InputError(f"{name} must be whole numbers (class indices)", column=name)
    out = array.astype(np.int64, copy=False)
    low = int(out.min())
    if low < 0:
        raise InputError(f"{name} holds a negative class index ({low})", column=name)
    if n_classes is not None:
        high = int(out.max())
        if high >= n_classes:
            raise InputError(
                f"{name} holds class {high}, out of range for {n_classes} classes",
                column=name,
                hint="class indices must be 0 .. n_classes - 1",
            )
    return out


def as_probs(probs: ArrayLike, name: str = "probs") -> np.ndarray:
    """A float64 ``(n, n_classes)`` matrix whose rows are probability distributions (see ``PROB_ATOL``)."""
    array = as_numpy(probs, name)
    if array.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_examples, n_classes), got shape {array.shape}", column=name)
    if array.shape[0] == 0:
        raise InputError(f"{name} is empty", column=name)
    if array.shape[1] < 2:
        raise InputError(f"{name} needs at least 2 classes (columns), got {array.shape[1]}", column=name)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{name} must be numbers, got dtype {array.dtype}", column=name)
    out = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(out)):
        row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        raise InputError(f"{name} holds NaN or infinity (row {row})", column=name)
    if out.min() < -PROB_ATOL or out.max() > 1 + PROB_ATOL:
        raise InputError(
            f"{name} must lie in [0, 1] (found {out.min():.4g} .. {out.max():.4g})",
            column=name,
            hint="pass probabilities, e.g. softmax(logits), not logits",
        )
    sums = out.sum(axis=1)
    bad = np.abs(sums - 1.0) > PROB_ATOL
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"rows of {name} must sum to 1 (row {row} sums to {sums[row]:.6g})",
            column=name,
            hint="pass probabilities, e.g. softmax(logits), not logits or scores",
        )
    return out


def as_predictions(preds: ArrayLike, name: str = "preds") -> tuple[np.ndarray, int | None]:
    """Predicted class indices from labels (1-D) or scores (2-D, arg-max; ties to the lowest index).

    Returns the indices and the number of classes implied by the scores' width (``None`` for 1-D input).
    """
    array = as_numpy(preds, name)
    if array.ndim == 2:
        if array.shape[0] == 0:
            raise InputError(f"{name} is empty", column=name)
        if array.shape[1] < 1 or array.dtype.kind not in "iuf":
            raise InputError(f"{name} must be a numeric (n_examples, n_classes) matrix", column=name)
        if not np.all(np.isfinite(array)):
            raise InputError(f"{name} holds NaN or infinity", column=name)
        return np.argmax(array, axis=1).astype(np.int64), int(array.shape[1])
    return as_labels(array, name), None


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``InputError`` unless ``a`` and ``b`` have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise InputError(f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}")
