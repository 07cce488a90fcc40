"""Parallel corpora: aligned source and target sentences, one pair per line number.

:func:`read_parallel` reads two UTF-8 text files (``.gz``/``.xz``/``.bz2`` read transparently, the
rules of :func:`textsmooth.sequence.read_lines`) where line ``i`` of the source file translates to line
``i`` of the target file. :func:`load_multi30k_pair` does the same for a Multi30k split and language
pair. Both give a :class:`ParallelCorpus`; every problem is a :class:`~textsmooth.errors.DataError`
naming the file (and the 1-based line where one is at fault) before anything is trained.

This module needs no optional dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textsmooth.errors import DataError, InputError
from textsmooth.io.manifest import hash_texts
from textsmooth.sequence.data import (
    _SPLITS,
    MULTI30K_LANGS,
    check_texts,
    load_multi30k,
    multi30k_root,
    read_lines,
)

__all__ = ["ParallelCorpus", "load_multi30k_pair", "read_parallel"]


@dataclass
class ParallelCorpus:
    """Aligned sentence pairs: ``targets[i]`` is the translation of ``sources[i]``.

    Attributes:
        sources: the source sentences.
        targets: the target sentences, as many as sources.
        source_path, target_path: the files they were read from (``None`` for in-memory data).

    Raises:
        InputError: at construction, when ``sources`` and ``targets`` differ in length.
    """

    sources: list[str]
    targets: list[str]
    source_path: Path | None = None
    target_path: Path | None = None

    def __post_init__(self) -> None:
        self.sources = list(self.sources)
        self.targets = list(self.targets)
        if len(self.sources) != len(self.targets):
            raise InputError(
                f"{len(self.sources)} sources but {len(self.targets)} targets",
                column="targets",
                hint="every source sentence needs exactly one target sentence",
            )

    def __len__(self) -> int:
        return len(self.sources)

    def describe(self) -> dict[str, Any]:
        """``{"n", "source", "target", "sha256"}``: size, file paths (``None`` when in memory) and one
        hash of both sides (:func:`textsmooth.io.manifest.hash_texts` of ``[str(n), *sources, *targets]``,
        so moving a sentence from one side to the other changes it)."""
        return {
            "n": len(self),
            "source": None if self.source_path is None else str(self.source_path),
            "target": None if self.target_path is None else str(self.target_path),
            "sha256": hash_texts([str(len(self)), *self.sources, *self.targets]),
        }

    def subset(self, n: int) -> ParallelCorpus:
        """The first ``n`` pairs (all of them when ``n >= len(self)``); the file paths are kept.

        Raises:
            InputError: ``n`` is negative.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InputError(f"subset size must be an integer >= 0, got {n!r}", column="n")
        return ParallelCorpus(self.sources[:n], self.targets[:n], self.source_path, self.target_path)


def _read_side(path: Path, name: str) -> list[str]:
    lines = read_lines(path, allow_empty=True)  # missing file, folder, empty file, bad UTF-8: DataError
    return check_texts(lines, name=name, path=path)  # empty / white-space-only line: names path and row


def read_parallel(source_path: str | Path, target_path: str | Path) -> ParallelCorpus:
    """Read aligned source and target files into a :class:`ParallelCorpus` (lines kept as written).

    Raises:
        DataError: a file is missing, a folder, empty or not UTF-8; a line is empty or white space only
            (the error names the file and the 1-based line); or the two files have different numbers
            of lines (the error names both files and both counts).
    """
    source_path, target_path = Path(source_path), Path(target_path)
    sources = _read_side(source_path, "sources")
    targets = _read_side(target_path, "targets")
    if len(sources) != len(targets):
        raise DataError(
            f"source file has {len(sources)} lines but target file {target_path} has {len(targets)} lines",
            path=source_path,
            hint="line i of the source file must translate line i of the target file",
        )
    return ParallelCorpus(sources, targets, source_path, target_path)


def load_multi30k_pair(
    split: str, source_lang: str, target_lang: str, *, root: str | Path | None = None
) -> ParallelCorpus:
    """Multi30k task 1 pairs of ``split`` (``train``, ``val``, ``test``) from ``source_lang`` to
    ``target_lang`` (``en``, ``de``, ``fr``, ``cs``), found as :func:`textsmooth.sequence.multi30k_root`
    finds the corpus. Trailing white space of each line is dropped (as
    :func:`textsmooth.sequence.load_multi30k` does); ``source_path`` / ``target_path`` are the files read.

    Raises:
        InputError: unknown split or language, or the same language on both sides.
        DataError: the corpus is not found or its files are not aligned.
    """
    for option, lang in (("source_lang", source_lang), ("target_lang", target_lang)):
        if lang not in MULTI30K_LANGS:
            raise InputError(
                f"unknown Multi30k language {lang!r}", column=option, hint=", ".join(MULTI30K_LANGS)
            )
    if source_lang == target_lang:
        raise InputError(f"source and target language are both {source_lang!r}", column="target_lang")
    texts = load_multi30k(split, (source_lang, target_lang), root=root)
    base = multi30k_root(root) / "task1" / "raw"
    name = _SPLITS[split]
    return ParallelCorpus(
        texts[source_lang],
        texts[target_lang],
        base / f"{name}.{source_lang}.gz",
        base / f"{name}.{target_lang}.gz",
    )
