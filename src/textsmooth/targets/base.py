"""What every soft-label generator shares: scikit-learn parameter handling and input checks.

Generators follow scikit-learn's estimator contract without importing scikit-learn (it is slow to
import): ``__init__`` stores its arguments verbatim, ``fit`` validates and learns and returns ``self``,
learned state ends in ``_``, and ``get_params``/``set_params`` make ``sklearn.base.clone`` and grid
searches work.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth._params import ParamsMixin
from textsmooth.errors import InputError, LabelError, NotFittedError
from textsmooth.io.checks import as_label_array, encode_labels, lookup_labels
from textsmooth.io.checks import check_texts as _check_texts

__all__ = ["SoftLabelGenerator", "check_labels", "check_texts", "one_hot"]


class SoftLabelGenerator(ParamsMixin, abc.ABC):
    """Base class: ``fit(texts, labels)``, ``transform(texts, labels=None)``, ``fit_transform``.

    ``transform`` returns an ``(n, n_classes)`` array (``dtype`` of the generator, float32 by default)
    whose rows sum to 1, columns in the order of ``classes_``. ``get_params``/``set_params`` come from
    :class:`textsmooth._params.ParamsMixin` (the constructor's signature).
    """

    #: whether ``transform`` needs the hard labels (LS-Classic does, KWLS does not)
    needs_labels: bool = False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- estimator API ---------------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, texts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> SoftLabelGenerator:
        """Learn what the generator needs from the training texts and hard labels."""

    @abc.abstractmethod
    def transform(self, texts: Sequence[str], labels: Sequence[Any] | None = None) -> np.ndarray:
        """Soft labels for ``texts``: ``(n, n_classes)``, rows summing to 1."""

    def fit_transform(self, texts: Sequence[str], labels: Sequence[Any], **fit_params: Any) -> np.ndarray:
        """``fit(texts, labels, **fit_params)`` then ``transform(texts, labels)``."""
        return self.fit(texts, labels, **fit_params).transform(texts, labels)

    def save(self, path: str | Path) -> Path:
        """Write the fitted generator to ``path`` as NPZ (no pickles) plus a JSON manifest, atomically.

        Read it back with :func:`textsmooth.targets.saved.load_generator`.
        """
        from textsmooth.targets.saved import save_generator

        return save_generator(self, path)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet", hint="call fit(texts, labels) first"
            )

    def _label_ids(self, labels: Sequence[Any] | None, n_rows: int) -> np.ndarray:
        """Map hard labels given to ``transform`` onto fitted class indices."""
        if labels is None:
            raise InputError(
                f"{type(self).__name__}.transform needs the hard labels",
                hint="call transform(texts, labels)",
            )
        ids, _ = check_labels(labels, n_rows=n_rows, classes=self.classes_)
        return ids


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list of str; a missing or non-string entry raises naming its row.

    The shared rule (:func:`textsmooth.io.checks.check_texts`) with the generators' settings: no
    texts at all and empty strings are accepted (a generator decides what it can fit on).
    """
    return _check_texts(texts, name="texts")


def check_labels(
    labels: Sequence[Any],
    *,
    n_rows: int | None = None,
    n_classes: int | None = None,
    classes: np.ndarray | None = None,
    require_all_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate hard labels; return ``(ids, classes)`` with ``ids`` in ``0..len(classes)-1``.

    Labels are either integer ids ``0..C-1`` (``C`` = ``n_classes`` or, if not given, max + 1) or label
    names, mapped to ids by :func:`textsmooth.io.checks.encode_labels`: sorted numerically when every
    name is integer-like (``"2" < "10"``), otherwise as strings, the order a data file's labels get
    from :func:`textsmooth.io.readers.read_dataset` too; ``classes`` are then the names (str). With
    ``classes`` given (a fitted generator), labels must be among them. Missing or NaN labels, ids
    outside ``0..C-1`` and (with ``require_all_classes``) classes without any instance raise
    :class:`LabelError` naming the row or class.
    """
    values = labels if isinstance(labels, np.ndarray) else as_label_array(labels)
    if values.ndim != 1:
        raise LabelError(f"labels must be one-dimensional, got shape {values.shape}", column="label")
    if n_rows is not None and len(values) != n_rows:
        raise InputError(
            f"{n_rows} texts but {len(values)} labels",
            hint="give exactly one label per text",
        )
    if classes is not None:
        classes = np.asarray(classes)
        if classes.dtype.kind in "iu" and _all_integral(values):
            return _ids_in_range(values, len(classes)), classes
        return lookup_labels(values, classes.tolist()), classes
    if _all_integral(values):
        n = int(n_classes) if n_classes is not None else (int(values.max()) + 1 if values.size else 0)
        ids = _ids_in_range(values, n, hint="pass n_classes or relabel to consecutive ids")
        classes_ = np.arange(n, dtype=np.int64)
    else:
        ids, names = encode_labels(values)
        classes_ = np.array(names, dtype=object)
        if n_classes is not None and len(classes_) != n_classes:
            raise LabelError(f"{len(classes_)} distinct label names but n_classes={n_classes}")
    if require_all_classes:
        counts = np.bincount(ids, minlength=len(classes_))
        if counts.size and counts.min() == 0:
            empty = [str(classes_[i]) for i in np.flatnonzero(counts == 0)]
            raise LabelError(
                f"class(es) {', '.join(empty)} have no instance",
                column="label",
                hint="remove the class or add examples of it",
            )
    return ids, classes_


def one_hot(ids: np.ndarray, n_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """``(n, n_classes)`` one-hot rows for integer ids."""
    out = np.zeros((len(ids), n_classes), dtype=dtype)
    out[np.arange(len(ids)), ids] = 1
    return out


def _all_integral(values: np.ndarray) -> bool:
    """Whether ``values`` are integer ids (ints, or floats that are all whole numbers; not bools)."""
    kind = values.dtype.kind
    if kind in "iu" or values.size == 0:
        return True
    if kind == "f":
        return bool(np.all(np.isfinite(values) & (values == np.floor(values))))
    if kind != "O":
        return False
    items = values.tolist()
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        return True
    return all(isinstance(v, float) and float(v).is_integer() for v in items)


def _ids_in_range(values: np.ndarray, n: int, hint: str | None = None) -> np.ndarray:
    """Integer ids as int64, refusing one outside ``0..n-1`` (naming its row)."""
    ids = values.astype(np.int64)
    if ids.size and ids.min() < 0:
        row = int(np.argmax(ids < 0))
        raise LabelError(f"label id {ids[row]} is negative", row=row + 1, column="label")
    bad = ids >= n
    if bad.any():
        row = int(np.argmax(bad))
        raise LabelError(f"label id {ids[row]} is outside 0..{n - 1}", row=row + 1, column="label", hint=hint)
    return ids
