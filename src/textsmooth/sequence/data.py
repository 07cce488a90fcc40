"""Reading target files and the Multi30k corpus (one sentence per line, UTF-8, optionally gzipped)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textsmooth.errors import DataError, InputError
from textsmooth.io.checks import check_texts as _check_texts
from textsmooth.io.corpora import find_data_dir
from textsmooth.io.readers import read_text_file, split_lines

__all__ = [
    "MULTI30K_LANGS",
    "check_texts",
    "load_multi30k",
    "load_multi30k_captions",
    "multi30k_root",
    "read_lines",
]

MULTI30K_LANGS = ("en", "de", "fr", "cs")
_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr", "test_2016_flickr": "test_2016_flickr"}


def read_lines(path: str | Path, *, allow_empty: bool = False) -> list[str]:
    """The lines of a UTF-8 text file (``.gz``, ``.xz``, ``.bz2`` read transparently), without line ends.

    Decoding is the classification readers' (:mod:`textsmooth.io.readers`): a UTF-8 byte-order mark at
    the start is dropped, lines are split on ``\\n`` only (a final ``\\r`` is dropped), so U+2028 and
    similar characters stay inside their line.

    Raises:
        DataError: the path is missing or a folder; the file is empty (no target at all); a byte is
            not UTF-8 (names the line); or a line is empty or white space only (names the row; each
            line is one target, so an empty one is a mistake) unless ``allow_empty``.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError("is a folder, not a text file", path=path, hint="give the file of target sentences")
    if not path.is_file():
        raise DataError("file does not exist", path=path)
    try:
        text = read_text_file(path)  # refuses an empty file, names the row of a non-UTF-8 byte, drops a BOM
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    lines = split_lines(text)
    if not allow_empty:
        check_texts(lines, name="targets", path=path)
    return lines


def check_texts(texts: Sequence[str], *, name: str = "targets", path: str | Path | None = None) -> list[str]:
    """``texts`` as a list, refusing no texts at all, non-strings and empty / white-space-only entries.

    The shared rule (:func:`textsmooth.io.checks.check_texts`) with the sequence settings: every entry
    is one target sentence, so an empty one is a mistake. Errors name ``path`` (when given), the
    1-based row and ``name``.
    """
    return _check_texts(
        texts,
        name=name,
        path=path,
        allow_no_texts=False,
        allow_blank=False,
        blank_hint="every line (or row of a folder's column) is one target sentence; "
        "remove empty ones, keeping sources aligned",
    )


def multi30k_root(root: str | Path | None = None) -> Path:
    """The Multi30k folder (the one holding ``task1/`` and ``task2/``).

    Found by :func:`textsmooth.io.corpora.find_data_dir`, the rule every loader uses: ``root`` (the
    Multi30k folder or a data folder holding ``multi30k/``), else ``$TEXTSMOOTH_DATA/multi30k``, else the
    known places (``../shared/data/multi30k`` beside the checkout, the package data, the current
    directory). Raises :class:`~textsmooth.errors.DataError` listing every place searched.
    """
    return find_data_dir("multi30k", root, marker="task1")


def load_multi30k(
    split: str = "train", langs: Sequence[str] = ("de", "en"), *, root: str | Path | None = None
) -> dict[str, list[str]]:
    """Aligned task 1 sentences: ``{lang: lines}`` for ``split`` in ``train``, ``val``, ``test``."""
    base = multi30k_root(root) / "task1" / "raw"
    if split not in _SPLITS:
        raise InputError(f"unknown Multi30k split {split!r}", column="split", hint="train, val or test")
    out: dict[str, list[str]] = {}
    for lang in langs:
        if lang not in MULTI30K_LANGS:
            raise InputError(f"unknown Multi30k language {lang!r}", column="langs", hint="en, de, fr, cs")
        out[lang] = [line.rstrip() for line in read_lines(base / f"{_SPLITS[split]}.{lang}.gz")]
    sizes = {lang: len(v) for lang, v in out.items()}
    if len(set(sizes.values())) > 1:
        raise DataError(f"Multi30k files are not aligned: {sizes}", path=base)
    return out


def load_multi30k_captions(split: str = "train", *, root: str | Path | None = None) -> list[list[str]]:
    """The five independent English captions of task 2: a list of 5 aligned lists.

    One of the five is the task 1 English sentence of the same image (ignoring case and a final
    period), so retrieval over them must exclude duplicates of the target (see ``SOURCE.md``).
    """
    name = {"train": "train", "val": "val", "test": "test_2016"}.get(split)
    if name is None:
        raise InputError(f"unknown Multi30k split {split!r}", column="split", hint="train, val or test")
    base = multi30k_root(root) / "task2" / "raw"
    return [read_lines(base / f"{name}.{k}.en.gz") for k in range(1, 6)]
