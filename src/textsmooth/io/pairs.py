"""Sentence-pair benchmarks for probing sentence representations: MRPC (paraphrase) and SICK-E (entailment).

Both are found with :func:`textsmooth.io.corpora.find_data_dir` (``root=``, ``TEXTSMOOTH_DATA``, the known
places) and read as :class:`SentencePairs`:

``mrpc`` (``mrpc_original/``)
    The Microsoft Research Paraphrase Corpus, original untokenised text: 4,076 training and 1,725 test
    pairs, label 1 = paraphrase (``Quality`` column), as SentEval evaluates it (accuracy and F1 of class 1).
``sick`` (``sick_full/SICK.txt.xz``)
    SICK with its entailment labels (``NEUTRAL``, ``ENTAILMENT``, ``CONTRADICTION``, sorted by name) and the
    SemEval-2014 split (``train`` = TRAIN 4,439, ``dev`` = TRIAL 495, ``test`` = TEST 4,906) of the release
    file (SentEval reads the SemEval files, which hold 87 pairs more).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textsmooth.errors import DataError, InputError

__all__ = ["SentencePairs", "load_mrpc", "load_sick"]


@dataclass(frozen=True)
class SentencePairs:
    """Aligned sentence pairs with one class label each.

    Attributes:
        first, second: the two sentences of each pair. labels: ``(n,)`` int64 class ids into
        ``label_names``. path: the file read.
    """

    first: list[str]
    second: list[str]
    labels: np.ndarray
    label_names: list[str]
    path: Path | None = None

    def __post_init__(self) -> None:
        if not len(self.first) == len(self.second) == len(self.labels):
            raise InputError("first, second and labels must have the same length", column="labels")

    def __len__(self) -> int:
        return len(self.first)


def _rows(path: Path) -> list[list[str]]:
    from textsmooth.io.readers import read_text_file, split_lines

    if not path.is_file():
        raise DataError("file does not exist", path=path)
    lines = [line for line in split_lines(read_text_file(path)) if line.strip()]
    return [line.rstrip("\r").split("\t") for line in lines]


def load_mrpc(split: str, *, root: str | Path | None = None) -> SentencePairs:
    """MRPC ``train`` or ``test`` (module docstring).

    Raises:
        InputError: another split. DataError: the folder is not found, or a row is malformed (named).
    """
    from textsmooth.io.corpora import find_data_dir

    if split not in ("train", "test"):
        raise InputError(f"unknown MRPC split {split!r}", column="split", hint="train or test")
    path = find_data_dir("mrpc_original", root) / f"msr_paraphrase_{split}.txt.xz"
    rows = _rows(path)
    header, body = rows[0], rows[1:]
    if header[:1] != ["Quality"]:
        raise DataError(f"unexpected header {header[:5]}", path=path, row=1)
    first, second, labels = [], [], []
    for number, row in enumerate(body, start=2):
        if len(row) != 5 or row[0] not in ("0", "1"):
            raise DataError("expected 5 tab-separated fields with a 0/1 quality", path=path, row=number)
        labels.append(int(row[0]))
        first.append(row[3])
        second.append(row[4])
    return SentencePairs(first, second, np.asarray(labels, dtype=np.int64), ["0", "1"], path)


_SICK_SETS = {"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}


def load_sick(split: str, *, root: str | Path | None = None) -> SentencePairs:
    """SICK-E ``train``, ``dev`` or ``test`` (module docstring).

    Raises:
        InputError: another split. DataError: the folder is not found, or a row is malformed (named).
    """
    from textsmooth.io.corpora import find_data_dir

    if split not in _SICK_SETS:
        raise InputError(f"unknown SICK split {split!r}", column="split", hint="train, dev or test")
    path = find_data_dir("sick_full", root) / "SICK.txt.xz"
    rows = _rows(path)
    header = rows[0]
    try:
        a, b, label, semeval = (
            header.index(c) for c in ("sentence_A", "sentence_B", "entailment_label", "SemEval_set")
        )
    except ValueError as exc:
        raise DataError(f"missing column ({exc})", path=path, row=1) from exc
    names = ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]
    first, second, labels = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) or row[label] not in names:
            raise DataError("malformed row (fields or entailment label)", path=path, row=number)
        if row[semeval] == _SICK_SETS[split]:
            first.append(row[a])
            second.append(row[b])
            labels.append(names.index(row[label]))
    return SentencePairs(first, second, np.asarray(labels, dtype=np.int64), names, path)
