"""Word vectors from the common text formats: word2vec text, GloVe and fastText ``.vec`` (optionally gzipped).

One word per line, its vector after it, separated by spaces: ``word v1 v2 ... vd``. word2vec and fastText
files start with a header line ``count dim``; GloVe files have none (a first line of exactly two integers
is taken as the header). Words may contain any character but a space. The file is streamed, so a
vocabulary restriction (``restrict_to``) keeps memory at the size of the words kept, whatever the size
of the file.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from textsmooth.errors import DataError, InputError

__all__ = ["WordVectors", "read_word_vectors", "vectors_from_model"]

_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


@dataclass(frozen=True)
class WordVectors:
    """Words and their vectors (row ``i`` of ``vectors`` belongs to ``words[i]``; float32)."""

    words: list[str]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise InputError(
                f"{len(self.words)} words but vectors of shape {tuple(self.vectors.shape)}", column="vectors"
            )
        if len(set(self.words)) != len(self.words):
            raise InputError("words must be distinct", column="words")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """``{word: row}``."""
        return {w: i for i, w in enumerate(self.words)}


def _open(path: Path) -> IO[bytes]:
    opener = _OPENERS.get(path.suffix.lower())
    return opener(path, "rb") if opener is not None else open(path, "rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with _open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"not UTF-8 ({exc.reason})", path=path, row=number) from exc
            yield number, line.rstrip("\n").rstrip("\r")


def read_word_vectors(path: str | Path, *, restrict_to: Iterable[str] | None = None) -> WordVectors:
    """Read a word-vector file (module docstring: the formats).

    Args:
        path: ``.txt`` / ``.vec`` / ``.gz`` / ``.xz`` / ``.bz2``.
        restrict_to: keep only these words (e.g. the model vocabulary); ``None`` keeps every word.

    Raises:
        DataError: a missing file or folder, a line that is not ``word`` + numbers, a vector of another
            dimension than the first one or than the header's, a word listed twice, a header whose count
            disagrees with the file, or a file without vectors; each error names the file and the line.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError("is a folder, not a word-vector file", path=path)
    if not path.is_file():
        raise DataError("file does not exist", path=path)
    keep = None if restrict_to is None else set(restrict_to)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: dict[str, int] = {}
    dim: int | None = None
    header_count: int | None = None
    n_vectors = 0
    try:
        for number, line in _lines(path):
            if not line.strip():
                continue
            parts = line.rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdecimal() for p in parts):
                header_count, dim = int(parts[0]), int(parts[1])
                continue
            if len(parts) < 2:
                raise DataError("expected a word followed by its vector", path=path, row=number)
            word = parts[0]
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise DataError(
                    f"the vector of {word!r} has {len(parts) - 1} numbers, expected {dim}",
                    path=path,
                    row=number,
                )
            if word in seen:
                raise DataError(
                    f"word {word!r} appears again (first on line {seen[word]})", path=path, row=number
                )
            seen[word] = number
            n_vectors += 1
            if keep is not None and word not in keep:
                continue
            try:
                vector = np.array(parts[1:], dtype=np.float32)
            except ValueError as exc:
                raise DataError(f"not a number in the vector of {word!r}", path=path, row=number) from exc
            if not np.isfinite(vector).all():
                raise DataError(f"the vector of {word!r} is not finite", path=path, row=number)
            words.append(word)
            rows.append(vector)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read the file ({exc})", path=path) from exc
    if n_vectors == 0 or dim is None:
        raise DataError("no word vectors in the file", path=path)
    if header_count is not None and header_count != n_vectors:
        raise DataError(
            f"the header announces {header_count} vectors, the file has {n_vectors}", path=path, row=1
        )
    matrix = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return WordVectors(words, matrix)


def vectors_from_model(path: str | Path) -> WordVectors:
    """The input embedding matrix of a local Hugging Face model as word vectors of its tokens (subword
    vocabularies: one row per token id, the token strings as the tokenizer spells them).

    Raises:
        ArtifactError: the folder holds no model or tokenizer ``transformers`` can load offline.
    """
    from textsmooth._extras import require
    from textsmooth.errors import ArtifactError

    require("transformers", extra="seq2seq", feature="similarity tables from a model's embeddings")
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"cannot load the model or its tokenizer ({str(exc).splitlines()[0][:200]})", path=path
        ) from exc
    matrix = model.get_input_embeddings().weight.detach().float().cpu().numpy()
    tokens = tokenizer.convert_ids_to_tokens(list(range(matrix.shape[0])))
    words = [t if t is not None else f"<id {i}>" for i, t in enumerate(tokens)]
    return WordVectors(words, matrix.astype(np.float32))
