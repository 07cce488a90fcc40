"""The input rules every layer shares: texts, missing labels, label names to ids.

One definition each, used by the readers (:mod:`textsmooth.io.readers`), the soft-label generators
(:mod:`textsmooth.targets`), the sequence generators (:mod:`textsmooth.sequence`) and sentence BLEU
(:mod:`textsmooth.text.bleu`), so that a text or a label is accepted, refused and ordered the same way
everywhere.

Label order: label *names* get ids in sorted order, **numerically when every label is integer-like**
(an int, an integral float, or a string of digits with an optional sign, e.g. ``"2" < "10"``),
otherwise as strings. ``encode_labels(["10", "2"])`` gives the names ``["2", "10"]`` whichever entry
point (a data file, or ``fit`` of a generator) the labels came through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import DataError, InputError, LabelError

__all__ = ["as_label_array", "check_texts", "encode_labels", "is_missing_label", "lookup_labels"]


def check_texts(
    texts: Sequence[str],
    *,
    name: str = "texts",
    path: str | Path | None = None,
    allow_no_texts: bool = True,
    allow_blank: bool = True,
    missing_hint: str | None = None,
    blank_hint: str | None = None,
) -> list[str]:
    """``texts`` as a list of ``str``; the first entry that breaks a rule raises, naming its row.

    Rules: one string instead of a sequence raises :class:`~textsmooth.errors.InputError`; a
    non-string entry (``None``, NaN, a number) raises :class:`~textsmooth.errors.DataError`; so do,
    when refused, no texts at all (``allow_no_texts=False``) and an empty or white-space-only entry
    (``allow_blank=False``).

    Args:
        texts: the texts.
        name: what they are, as messages name them (``"targets"``, ``"references"``); also the column.
        path: the file they came from, named by every error.
        allow_no_texts: whether an empty sequence is fine.
        allow_blank: whether an empty or white-space-only entry is fine.
        missing_hint, blank_hint: what the user can do about a non-string or a blank entry.

    Errors give the 1-based ``row`` and the 0-based position (``texts[1]``) of the entry.
    """
    if isinstance(texts, str):
        raise InputError(
            f"{name} must be a sequence of strings, not one string", column=name, hint="wrap it in a list"
        )
    out = list(texts)
    if not out and not allow_no_texts:
        raise DataError(f"{name} is empty (no sentences)", path=path, column=name)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            what = "missing (NaN)" if isinstance(text, float) and math.isnan(text) else type(text).__name__
            raise DataError(
                f"{name}[{i}] is {what}, not a string", path=path, row=i + 1, column=name, hint=missing_hint
            )
    if not allow_blank:
        for i, text in enumerate(out):
            if not text.strip():
                raise DataError(f"{name}[{i}] is empty", path=path, row=i + 1, column=name, hint=blank_hint)
    return out


def is_missing_label(value: Any) -> bool:
    """A label is missing when ``None``, NaN, empty, or the text ``NaN`` (any case), whatever the format.

    A CSV cell cannot hold a null, so ``NaN`` there (as pandas writes a missing value) means missing
    just as a JSON ``NaN`` or a Parquet null does.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "nan")


def encode_labels(labels: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Map label names to ids: ``(ids, names)`` with ``names[ids[i]]`` the name of label ``i``.

    Names are sorted numerically when every label is integer-like (``"2" < "10"``; names are then
    written as plain integers, ``"+2"`` and ``2.0`` become ``"2"``), otherwise as strings (a string
    label stripped of surrounding white space, any other value as ``str``).

    Vectorised: the rows are factorised once (``np.unique``) and the rules run on the distinct values
    only. A missing label (:func:`is_missing_label`) raises :class:`~textsmooth.errors.LabelError`
    naming its 1-based row.
    """
    uniques, inverse = _factorize(labels)
    _refuse_missing(uniques, inverse)
    as_ints = [_as_int(u) for u in uniques]
    if all(v is not None for v in as_ints):
        keys: list[Any] = as_ints
    else:
        keys = [_as_name(u) for u in uniques]
    distinct = sorted(set(keys))
    position = {key: i for i, key in enumerate(distinct)}
    remap = np.fromiter((position[key] for key in keys), dtype=np.int64, count=len(keys))
    return remap[inverse], [str(key) for key in distinct]


def lookup_labels(labels: Sequence[Any] | np.ndarray, names: Sequence[Any]) -> np.ndarray:
    """Ids of ``labels`` among known label ``names`` (as :func:`encode_labels` wrote them).

    A label matches a name as :func:`encode_labels` would have written it (``"+2"`` matches ``"2"``) or
    as its own stripped string. A missing label or one that is not among ``names`` raises
    :class:`~textsmooth.errors.LabelError` naming its 1-based row.
    """
    uniques, inverse = _factorize(labels)
    _refuse_missing(uniques, inverse)
    index = {_as_name(n): i for i, n in enumerate(names)}
    remap = np.empty(len(uniques), dtype=np.int64)
    for u, value in enumerate(uniques):
        number = _as_int(value)
        found = index.get(str(number)) if number is not None else None
        if found is None:
            found = index.get(_as_name(value))
        if found is None:
            row = int(np.argmax(inverse == u)) + 1
            raise LabelError(f"label {value!r} is not one of the fitted classes", row=row, column="label")
        remap[u] = found
    return remap[inverse]


def _factorize(labels: Sequence[Any] | np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Distinct values (as Python objects) and, per row, the position of its value among them."""
    values = labels if isinstance(labels, np.ndarray) else as_label_array(labels)
    if values.ndim != 1:
        raise LabelError(f"labels must be one-dimensional, got shape {values.shape}", column="label")
    if values.dtype.kind in "iufbUS":
        uniques, inverse = np.unique(values, return_inverse=True)
        return uniques.tolist(), inverse.reshape(-1).astype(np.int64, copy=False)
    index: dict[tuple[type, Any], int] = {}
    items = values.tolist()
    # keyed by type too, so that True, 1 and 1.0 stay apart; NaN != NaN gives every NaN its own key
    inverse = np.fromiter(
        (index.setdefault((type(v), v), len(index)) for v in items), dtype=np.int64, count=len(items)
    )
    return [v for _, v in index], inverse


def as_label_array(labels: Sequence[Any]) -> np.ndarray:
    """``labels`` as an array; numpy's own dtype when it keeps every value, else ``object``."""
    items = list(labels)
    types = set(map(type, items))  # one pass in C, not a Python loop per row
    # numpy would turn [0, "a"] into strings and [True, 2] into ints: keep such mixtures as objects
    if not (len(types) > 1 and types & {str, bool, np.bool_}):
        try:
            return np.asarray(items)
        except (ValueError, TypeError):
            pass
    return np.fromiter(items, dtype=object, count=len(items))


def _refuse_missing(uniques: list[Any], inverse: np.ndarray) -> None:
    missing = [u for u, value in enumerate(uniques) if is_missing_label(value)]
    if missing:
        row = int(np.flatnonzero(np.isin(inverse, missing))[0]) + 1
        raise LabelError("label is missing (None, NaN or empty)", row=row, column="label")


def _as_int(value: Any) -> int | None:
    """The integer an integer-like label stands for (``2``, ``2.0``, ``" +2 "``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if digits.isdecimal():
            return int(text)
    return None


def _as_name(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)
