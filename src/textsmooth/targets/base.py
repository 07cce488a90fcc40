"""What every soft-label generator shares: scikit-learn parameter handling and input checks.

Generators follow scikit-learn's estimator contract without importing scikit-learn (it is slow to
import): ``__init__`` stores its arguments verbatim, ``fit`` validates and learns and returns ``self``,
learned state ends in ``_``, and ``get_params``/``set_params`` make ``sklearn.base.clone`` and grid
searches work.
"""

from __future__ import annotations

import abc
import inspect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ConfigError, InputError, LabelError, NotFittedError

__all__ = ["SoftLabelGenerator", "check_labels", "check_texts", "one_hot"]


class SoftLabelGenerator(abc.ABC):
    """Base class: ``fit(texts, labels)``, ``transform(texts, labels=None)``, ``fit_transform``.

    ``transform`` returns an ``(n, n_classes)`` array (``dtype`` of the generator, float32 by default)
    whose rows sum to 1, columns in the order of ``classes_``.
    """

    #: whether ``transform`` needs the hard labels (LS-Classic does, KWLS does not)
    needs_labels: bool = False

    # -- scikit-learn parameter protocol -------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> SoftLabelGenerator:
        """Set constructor parameters (scikit-learn protocol); returns ``self``."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}",
                    hint=f"valid parameters: {', '.join(sorted(valid))}",
                )
            setattr(self, name, value)
        return self

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
    """Return ``texts`` as a list of str; a missing or non-string entry raises naming its row."""
    if isinstance(texts, str):
        raise InputError("texts must be a sequence of strings, not one string", hint="wrap it in a list")
    out = list(texts)
    for row, text in enumerate(out):
        if not isinstance(text, str):
            what = "missing (NaN)" if isinstance(text, float) and math.isnan(text) else type(text).__name__
            raise InputError(f"text is {what}, not a string", row=row + 1, column="text")
    return out


def check_labels(
    labels: Sequence[Any],
    *,
    n_rows: int | None = None,
    n_classes: int | None = None,
    classes: np.ndarray | None = None,
    require_all_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate hard labels; return ``(ids, classes)`` with ``ids`` in ``0..len(classes)-1``.

    Labels are either integer ids ``0..C-1`` (``C`` = ``n_classes`` or, if not given, max + 1) or any
    sortable names (strings), mapped to ids in sorted order. With ``classes`` given (a fitted
    generator), labels must be among them. Missing or NaN labels, ids outside ``0..C-1`` and (with
    ``require_all_classes``) classes without any instance raise :class:`LabelError` naming the row
    or class.
    """
    values = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if values.ndim != 1:
        raise LabelError(f"labels must be one-dimensional, got shape {values.shape}", column="label")
    if n_rows is not None and len(values) != n_rows:
        raise InputError(
            f"{n_rows} texts but {len(values)} labels",
            hint="give exactly one label per text",
        )
    _check_missing(values)
    if classes is not None:
        return _ids_against(values, np.asarray(classes)), np.asarray(classes)
    if _all_integral(values):
        ids = values.astype(np.int64)
        if ids.size and ids.min() < 0:
            row = int(np.argmax(ids < 0))
            raise LabelError(f"label id {ids[row]} is negative", row=row + 1, column="label")
        n = int(n_classes) if n_classes is not None else (int(ids.max()) + 1 if ids.size else 0)
        if ids.size and ids.max() >= n:
            row = int(np.argmax(ids >= n))
            raise LabelError(
                f"label id {ids[row]} is outside 0..{n - 1}",
                row=row + 1,
                column="label",
                hint="pass n_classes or relabel to consecutive ids",
            )
        classes_ = np.arange(n, dtype=np.int64)
    else:
        try:
            classes_ = np.array(sorted(set(values.tolist())), dtype=object)
        except TypeError as exc:
            raise LabelError(f"labels cannot be sorted: {exc}", column="label") from exc
        if n_classes is not None and len(classes_) != n_classes:
            raise LabelError(f"{len(classes_)} distinct label names but n_classes={n_classes}")
        ids = _ids_against(values, classes_)
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


def _check_missing(values: np.ndarray) -> None:
    """Missing labels are None, NaN, and (as in every file reader) empty or ``"NaN"`` strings."""
    if values.dtype.kind in "iub":
        return
    for row, value in enumerate(values.tolist()):
        if (
            value is None
            or (isinstance(value, float) and math.isnan(value))
            or (isinstance(value, str) and value.strip().lower() in ("", "nan"))
        ):
            raise LabelError("label is missing (None, NaN or empty)", row=row + 1, column="label")


def _all_integral(values: np.ndarray) -> bool:
    if values.dtype.kind in "iu":
        return True
    if values.dtype.kind == "b":
        return False
    items = values.tolist()
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        return True
    return bool(items) and all(isinstance(v, float) and float(v).is_integer() for v in items)


def _ids_against(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if classes.dtype.kind in "iu" and _all_integral(values):
        ids = values.astype(np.int64)
        bad = (ids < 0) | (ids >= len(classes))
        if bad.any():
            row = int(np.argmax(bad))
            raise LabelError(
                f"label id {ids[row]} is outside 0..{len(classes) - 1}", row=row + 1, column="label"
            )
        return ids
    index = {c: i for i, c in enumerate(classes.tolist())}
    ids = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values.tolist()):
        try:
            ids[row] = index[value]
        except (KeyError, TypeError):
            raise LabelError(
                f"label {value!r} is not one of the fitted classes", row=row + 1, column="label"
            ) from None
    return ids
