"""``SimilarityTable``: every vocabulary word's top-N most similar words, the input of the word-similarity
losses (:mod:`textsmooth.losses.similarity`, the similarity-based reconstruction loss poster).

Row ``w`` holds ``indices[w]`` (vocabulary ids, ``-1`` for padding) and ``weights[w]``: the word itself
first with similarity 1, then its ``N - 1`` nearest vocabulary words by cosine of their vectors, most
similar first. Words in the stop-word list, words without a vector and words whose neighbours all fall
below ``min_similarity`` keep a one-hot row (themselves, weight 1), as the poster keeps plain
cross-entropy for them. ``normalize=True`` divides each row by its sum (the soft-label loss's target);
``False`` keeps the raw cosines in [-1, 1] (weighted similarity, weighted cross-entropy). Never a
vocabulary x vocabulary matrix: the search runs in row blocks (a block of ``block_size`` rows of cosines
at a time).

Saved as NPZ (``allow_pickle=False``) with a JSON manifest (the vocabulary's hash, N, the options, the
counts of one-hot rows); :meth:`SimilarityTable.read` with ``vocab`` refuses a table of another vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from textsmooth.errors import ArtifactError, ConfigError, InputError, StaleArtifactError
from textsmooth.io.manifest import hash_texts, read_manifest, write_manifest
from textsmooth.similarity.vectors import WordVectors

__all__ = ["SIMILARITY_TABLE_KIND", "SimilarityTable", "build_similarity_table", "top_similar"]

SIMILARITY_TABLE_KIND = "similarity-table"


@dataclass
class SimilarityTable:
    """Top-N similar words per vocabulary word (module docstring).

    Attributes:
        vocab: the vocabulary (row ``i`` belongs to ``vocab[i]``).
        indices: ``(V, N)`` int64 vocabulary ids, ``-1`` for padding; ``weights``: ``(V, N)`` float32.
        normalized: rows sum to 1. info: counts and options (the manifest's ``extra``).
    """

    vocab: list[str]
    indices: np.ndarray
    weights: np.ndarray
    normalized: bool
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        V = len(self.vocab)
        if self.indices.ndim != 2 or self.indices.shape[0] != V or self.weights.shape != self.indices.shape:
            raise InputError(
                f"indices {tuple(self.indices.shape)} and weights {tuple(self.weights.shape)} must both be "
                f"({V}, N) for a vocabulary of {V}",
                column="indices",
            )
        if self.indices.size and (self.indices.max() >= V or self.indices.min() < -1):
            raise InputError(f"indices must be vocabulary ids in [0, {V}) or -1", column="indices")

    @property
    def top_n(self) -> int:
        return int(self.indices.shape[1])

    def neighbors_of(self, word: str) -> list[tuple[str, float]]:
        """``[(word, weight), ...]`` of one word's row, the word itself first.

        Raises:
            InputError: the word is not in the vocabulary.
        """
        try:
            row = self.vocab.index(word)
        except ValueError as exc:
            raise InputError(f"{word!r} is not in the table's vocabulary", column="word") from exc
        return [
            (self.vocab[int(i)], float(w))
            for i, w in zip(self.indices[row], self.weights[row], strict=True)
            if i >= 0
        ]

    def as_tensors(self, device: Any = None) -> tuple[Any, Any]:
        """``(neighbors, similarities)`` torch tensors for :mod:`textsmooth.losses.similarity`."""
        import torch

        return (
            torch.as_tensor(self.indices, device=device),
            torch.as_tensor(self.weights, device=device),
        )

    # ------------------------------------------------------------------ persistence
    def write(self, path: str | Path, *, parameters: dict[str, Any] | None = None) -> Path:
        """Write NPZ atomically, then the manifest (the commit mark). Returns the path."""
        from textsmooth.io.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                indices=self.indices.astype(np.int64),
                weights=self.weights.astype(np.float32),
                vocab=np.array(self.vocab, dtype=np.str_),
            )
        write_manifest(
            path,
            kind=SIMILARITY_TABLE_KIND,
            parameters={"top_n": self.top_n, "normalized": self.normalized, **(parameters or {})},
            inputs={"vocab_sha256": hash_texts(self.vocab), "vocab_size": len(self.vocab)},
            extra={"counts": self.info},
        )
        return path

    @classmethod
    def read(cls, path: str | Path, *, vocab: Sequence[str] | None = None) -> SimilarityTable:
        """Read a table written by :meth:`write`; with ``vocab``, refuse a table of another vocabulary.

        Raises:
            ArtifactError: no manifest (unfinished), a damaged file. StaleArtifactError: another vocabulary.
        """
        path = Path(path)
        manifest = read_manifest(path, kind=SIMILARITY_TABLE_KIND)
        inputs = manifest.get("inputs", {})
        if vocab is not None and inputs.get("vocab_sha256") != hash_texts(list(vocab)):
            raise StaleArtifactError(
                "similarity table was built for another vocabulary",
                path=path,
                hint="rebuild it for this model's vocabulary (textsmooth similarity build)",
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                words = [str(w) for w in data["vocab"].tolist()]
                table = cls(
                    words,
                    data["indices"].astype(np.int64),
                    data["weights"].astype(np.float32),
                    bool(manifest.get("parameters", {}).get("normalized")),
                    dict(manifest.get("counts") or {}),
                )
        except (KeyError, ValueError, OSError, InputError) as exc:
            raise ArtifactError(f"not a readable similarity table ({exc})", path=path) from exc
        if inputs.get("vocab_sha256") != hash_texts(table.vocab):
            raise ArtifactError("the table's vocabulary differs from its manifest", path=path)
        return table


def top_similar(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    *,
    exclude_self: bool = True,
    block_size: int = 2048,
    backend: Literal["auto", "torch", "numpy"] = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of ``keys`` for every row of ``queries``, in row blocks.

    ``queries`` and ``keys`` are L2-normalised here. With ``exclude_self`` (``queries is keys``), a row's
    own index is never its neighbour. Returns ``(ids, cosines)``, each ``(len(queries), k)``, most similar
    first. ``backend``: ``torch`` (``topk``, threaded), ``numpy`` (``argpartition``), or ``auto`` (torch
    when installed). Both give the same neighbours up to ties of equal cosine.
    """
    q = _unit(queries)
    x = q if exclude_self else _unit(keys)
    n, m = q.shape[0], x.shape[0]
    k = min(k, m - 1 if exclude_self else m)
    ids = np.full((n, max(k, 0)), -1, dtype=np.int64)
    sims = np.zeros((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return ids, sims
    torch: Any = None
    if backend in ("auto", "torch"):
        try:
            import torch
        except ImportError:  # the numpy path below (tests force it with backend="numpy")
            if backend == "torch":
                raise
    for lo in range(0, n, block_size):
        hi = min(lo + block_size, n)
        scores = q[lo:hi] @ x.T
        if exclude_self:
            scores[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        if torch is not None:
            values, order = torch.from_numpy(scores).topk(k, dim=1, sorted=True)
            block_ids, block_sims = order.numpy(), values.numpy()
        else:
            block_ids, block_sims = _numpy_topk(scores, k)
        ids[lo:hi], sims[lo:hi] = block_ids, block_sims
    return ids, sims


def _numpy_topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return ids, np.take_along_axis(vals, order, axis=1)


def _unit(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def build_similarity_table(
    vocab: Sequence[str],
    vectors: WordVectors,
    *,
    top_n: int = 5,
    stopwords: Iterable[str] | None = None,
    normalize: bool = True,
    min_similarity: float | None = None,
    block_size: int = 2048,
) -> SimilarityTable:
    """The top-N table of ``vocab`` from ``vectors`` (module docstring: the rows).

    Neighbours are searched among the vocabulary words that have a vector and are not stop words.

    Args:
        vocab: the model vocabulary, in id order (distinct words).
        vectors: word vectors (words outside ``vocab`` are ignored).
        top_n: N, the row length, the word itself included (the poster uses 3, 5 and 10).
        stopwords: words that keep a one-hot row (and are never a neighbour).
        normalize: divide each row by its sum (soft-label loss); else raw cosines.
        min_similarity: drop neighbours below this cosine.

    Raises:
        ConfigError: ``top_n`` below 2 or above the vocabulary size, ``min_similarity`` outside [-1, 1],
            ``normalize`` with ``min_similarity`` below 0 (a row could sum to 0).
        InputError: duplicate words in ``vocab``, or no vocabulary word has a vector.
    """
    vocab = list(vocab)
    V = len(vocab)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 2:
        raise ConfigError(
            f"top_n must be an integer >= 2 (the word and a neighbour), got {top_n!r}", column="top_n"
        )
    if top_n > V:
        raise ConfigError(f"top_n {top_n} is larger than the vocabulary ({V} words)", column="top_n")
    if min_similarity is not None and not -1 <= float(min_similarity) <= 1:
        raise ConfigError(
            f"min_similarity must be in [-1, 1], got {min_similarity!r}", column="min_similarity"
        )
    if normalize and min_similarity is not None and min_similarity < 0:
        raise ConfigError(
            "normalize needs min_similarity >= 0 (a row could sum to 0)", column="min_similarity"
        )
    first: dict[str, int] = {}
    for i, word in enumerate(vocab):
        if word in first:
            raise InputError(
                f"the vocabulary lists {word!r} twice (ids {first[word]} and {i})", column="vocab"
            )
        first[word] = i
    stop = set(stopwords or ())
    row_of = vectors.index()
    has_vector = np.array([w in row_of for w in vocab])
    if not has_vector.any():
        raise InputError(
            "no vocabulary word has a vector",
            column="vectors",
            hint="check the vector file's language and case",
        )
    candidates = np.flatnonzero(has_vector & np.array([w not in stop for w in vocab]))
    indices = np.full((V, top_n), -1, dtype=np.int64)
    weights = np.zeros((V, top_n), dtype=np.float32)
    indices[:, 0] = np.arange(V)
    weights[:, 0] = 1.0
    if len(candidates) > 1:
        matrix = vectors.vectors[[row_of[vocab[i]] for i in candidates]]
        ids, sims = top_similar(matrix, matrix, top_n - 1, exclude_self=True, block_size=block_size)
        keep = ids >= 0
        if min_similarity is not None:
            keep &= sims >= float(min_similarity)
        width = ids.shape[1]
        indices[candidates, 1 : 1 + width] = np.where(keep, candidates[np.maximum(ids, 0)], -1)
        weights[candidates, 1 : 1 + width] = np.where(keep, sims, 0.0)
    one_hot = (indices[:, 1:] < 0).all(axis=1)
    if normalize:
        weights /= weights.sum(axis=1, keepdims=True)
    info = {
        "n_words": V,
        "without_vector": int((~has_vector).sum()),
        "stopwords": int(sum(w in stop for w in vocab)),
        "one_hot_rows": int(one_hot.sum()),
        "min_similarity": min_similarity,
    }
    return SimilarityTable(vocab, indices, weights.astype(np.float32), bool(normalize), info)
