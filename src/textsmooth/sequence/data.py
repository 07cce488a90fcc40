"""Reading target files and the Multi30k corpus (one sentence per line, UTF-8, optionally gzipped)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

from textsmooth.errors import DataError, InputError

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
    """The lines of a text file (``.gz`` read transparently), without their line ends.

    Raises:
        DataError: the file is missing, is not UTF-8 (names the line), or has an empty line (names
            the row; each line is one target, so an empty one is a mistake) unless ``allow_empty``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file does not exist", path=path)
    opener = gzip.open if path.suffix == ".gz" else open
    lines: list[str] = []
    try:
        with opener(path, "rb") as handle:
            for row, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"line is not valid UTF-8 ({exc.reason})", path=path, row=row) from exc
                lines.append(line.rstrip("\r\n"))
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read file: {exc}", path=path) from exc
    if not allow_empty:
        check_texts(lines, name="targets", path=path)
    return lines


def check_texts(texts: Sequence[str], *, name: str = "targets", path: str | Path | None = None) -> list[str]:
    """``texts`` as a list, refusing non-strings and empty / white-space-only entries (named by row)."""
    if isinstance(texts, str):
        raise InputError(f"{name} must be a sequence of strings, not one string", column=name)
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise DataError(
                f"{name} entry is a {type(text).__name__}, expected a string",
                path=path,
                row=i + 1,
                column=name,
            )
        if not text.strip():
            raise DataError(
                f"{name} entry is empty",
                path=path,
                row=i + 1,
                column=name,
                hint="every line is one target sentence; remove empty lines (keep sources aligned)",
            )
    return out


def multi30k_root(root: str | Path | None = None) -> Path:
    """The Multi30k folder: ``root``, else ``$TEXTSMOOTH_MULTI30K``, else ``../shared/data/multi30k``
    beside the current folder or one of its parents."""
    candidates: list[Path] = []
    if root is not None:
        candidates.append(Path(root))
    elif os.environ.get("TEXTSMOOTH_MULTI30K"):
        candidates.append(Path(os.environ["TEXTSMOOTH_MULTI30K"]))
    else:
        here = Path.cwd().resolve()
        candidates += [p / "shared" / "data" / "multi30k" for p in [here, *here.parents]]
    for cand in candidates:
        if (cand / "task1").is_dir():
            return cand
    raise DataError(
        "Multi30k folder not found",
        path=candidates[0] if candidates else None,
        hint="pass root=, or set TEXTSMOOTH_MULTI30K to the folder holding task1/ and task2/",
    )


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
