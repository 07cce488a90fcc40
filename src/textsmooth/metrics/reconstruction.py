"""How an autoencoder's reconstructions differ from their inputs, word by word: exact, near-synonym, other.

The similarity-based reconstruction loss poster shows that its losses make an autoencoder reconstruct
near-synonyms ("taste" -> "flavor") where cross-entropy copies the input. :func:`reconstruction_word_stats`
counts this. Each input is aligned to its reconstruction with :class:`difflib.SequenceMatcher` (longest
matching blocks, the alignment ``diff`` uses); every input word is then

* ``exact``: matched to the same word;
* ``near_synonym``: in a replaced stretch of the same length on both sides, opposite a different word
  that is among the input word's similar words (``neighbors[word]``, e.g. the top-N row of a
  :class:`~textsmooth.similarity.SimilarityTable` without the word itself);
* ``other``: anything else (replaced by an unrelated word, dropped, or in a stretch whose lengths differ).

The three fractions are over all input words and sum to 1; ``inserted`` counts output words with no
input word opposite them, per input word.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textsmooth.errors import InputError

__all__ = ["ReconstructionStats", "reconstruction_word_stats"]


@dataclass(frozen=True)
class ReconstructionStats:
    """Fractions of input words reconstructed exactly, as a near-synonym, or otherwise (module docstring)."""

    exact: float
    near_synonym: float
    other: float
    inserted: float
    words: int
    sentences: int
    exact_sentences: float

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def reconstruction_word_stats(
    inputs: Sequence[Sequence[str]],
    outputs: Sequence[Sequence[str]],
    neighbors: Mapping[str, set[str] | frozenset[str]],
) -> ReconstructionStats:
    """Word-level comparison of tokenised ``inputs`` and their reconstructions ``outputs`` (module docstring).

    Args:
        inputs, outputs: one list of words per sentence, aligned.
        neighbors: each word's near-synonyms (words absent from the mapping have none).

    Raises:
        InputError: ``inputs`` and ``outputs`` differ in length.
    """
    if len(inputs) != len(outputs):
        raise InputError(f"{len(inputs)} inputs but {len(outputs)} reconstructions", column="outputs")
    exact = near = inserted = words = whole = 0
    for source, output in zip(inputs, outputs, strict=True):
        source, output = list(source), list(output)
        words += len(source)
        whole += source == output
        matcher = difflib.SequenceMatcher(a=source, b=output, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                exact += i2 - i1
            elif tag == "replace" and i2 - i1 == j2 - j1:
                near += sum(
                    output[j] in neighbors.get(source[i], ())
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
            if tag in ("insert", "replace"):
                inserted += max(0, (j2 - j1) - (i2 - i1))
    total = max(words, 1)
    return ReconstructionStats(
        exact=exact / total,
        near_synonym=near / total,
        other=(words - exact - near) / total,
        inserted=inserted / total,
        words=words,
        sentences=len(inputs),
        exact_sentences=whole / max(len(inputs), 1),
    )
