"""A small word vocabulary and encoder for the TextCNN and BiLSTM classifiers.

Ids: ``0`` is ``<pad>``, ``1`` is ``<unk>``, then the words by decreasing training frequency (equal counts
in alphabetical order, so a vocabulary is a deterministic function of the texts and settings). Words are
produced by :mod:`textsmooth.text.tokenize` (default: the ``"words"`` tokeniser, lower-cased, vectorised in
Arrow), so the vocabulary sees the same words as the KWLS and TF-IDF soft-label generators.

Encoding is vectorised: tokens are looked up in one Arrow hash lookup per chunk of texts and scattered into
the id matrix with numpy, with no Python loop over texts or tokens. Texts are truncated to ``max_length``
tokens (the first ones are kept) and right-padded. A text with no token at all is encoded as a single
``<unk>`` token, so every row has at least one real token.

Vocabularies are saved as JSON (never pickle) and written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from textsmooth._params import check_int
from textsmooth.errors import ArtifactError, ConfigError
from textsmooth.io.atomic import atomic_write_text
from textsmooth.text.tokenize import Tokenizer, resolve_tokenizer, tokenize_many

__all__ = ["VOCAB_FORMAT", "WordVocab"]

VOCAB_FORMAT = "textsmooth-word-vocab"
_VOCAB_VERSION = 1


class WordVocab:
    """Word-to-id vocabulary with ``<pad>`` and ``<unk>``; encodes texts to ``(input_ids, attention_mask)``.

    Args:
        words: the vocabulary's words in id order (ids ``2, 3, ...``); special tokens must not be among them.
        tokenizer: a tokeniser name of :mod:`textsmooth.text.tokenize` (``"words"``, ``"space"``,
            ``"whitespace"``) or a callable ``str -> list[str]`` (a callable cannot be saved to JSON).
        counts: training frequency of each word (kept for information, saved with the vocabulary).
        pad_token, unk_token: spellings of the two special tokens (ids 0 and 1).

    Usually built with :meth:`build`. Pass :attr:`pad_id` to a model's ``padding_idx``.

    Example:
        >>> vocab = WordVocab.build(["a good film", "a bad film", "good"], min_freq=2)
        >>> vocab.tokens
        ['<pad>', '<unk>', 'a', 'film', 'good']
        >>> ids, mask = vocab.encode(["Good film!", "an awful, awful film"], max_length=3)
        >>> ids.tolist(), mask.tolist()
        ([[4, 3, 0], [1, 1, 1]], [[1, 1, 0], [1, 1, 1]])
    """

    #: id of ``<pad>`` (always 0; pass it explicitly as a model's ``padding_idx``)
    pad_id: int = 0
    #: id of ``<unk>`` (always 1)
    unk_id: int = 1

    def __init__(
        self,
        words: Sequence[str],
        *,
        tokenizer: Tokenizer = "words",
        counts: Sequence[int] | None = None,
        pad_token: str = "<pad>",
        unk_token: str = "<unk>",
    ) -> None:
        words = [str(w) for w in words]
        if pad_token == unk_token:
            raise ConfigError("pad_token and unk_token must differ", column="unk_token")
        if len(set(words)) != len(words):
            raise ConfigError("words must not repeat", column="words")
        if pad_token in words or unk_token in words:
            raise ConfigError("words must not contain the special tokens", column="words")
        if counts is not None and len(counts) != len(words):
            raise ConfigError(f"counts has {len(counts)} entries for {len(words)} words", column="counts")
        self.tokenizer = resolve_tokenizer(tokenizer)
        self.pad_token = pad_token
        self.unk_token = unk_token
        self.words = words
        self.counts = None if counts is None else [int(c) for c in counts]
        self._words_array = pa.array(words, type=pa.string())
        self._index: dict[str, int] | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        *,
        tokenizer: Tokenizer = "words",
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> WordVocab:
        """Count the words of ``texts`` and keep the frequent ones.

        Args:
            texts: training texts (only the training split, so that dev/test words stay unknown).
            tokenizer: tokeniser name or callable (see :mod:`textsmooth.text.tokenize`).
            min_freq: keep words seen at least this often in ``texts``.
            max_size: keep at most this many words (the most frequent; special tokens not counted).

        Raises:
            ConfigError: ``min_freq < 1`` or ``max_size < 0``.
            DataError: a text is not a string.
        """
        check_int("min_freq", min_freq)
        check_int("max_size", max_size, low=0, allow_none=True)
        pad_token, unk_token = "<pad>", "<unk>"
        tokens = tokenize_many(list(texts), tokenizer)
        flat = (
            pa.concat_arrays([chunk.flatten() for chunk in tokens.chunks])
            if tokens.num_chunks
            else pa.array([])
        )
        if len(flat) == 0:
            return cls([], tokenizer=tokenizer, counts=[])
        tallies = pc.value_counts(flat)
        words = np.asarray(tallies.field("values").to_pylist(), dtype=object)
        counts = tallies.field("counts").to_numpy()
        keep = (counts >= min_freq) & (words != pad_token) & (words != unk_token)
        words, counts = words[keep], counts[keep]
        order = np.lexsort((words.astype(str), -counts)) if len(words) else np.zeros(0, dtype=np.int64)
        if max_size is not None:
            order = order[:max_size]
        return cls(words[order].tolist(), tokenizer=tokenizer, counts=counts[order].tolist())

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        """Number of ids, special tokens included (the ``vocab_size`` of a model's embedding)."""
        return len(self.words) + 2

    @property
    def tokens(self) -> list[str]:
        """Every token in id order: ``[pad_token, unk_token, *words]``."""
        return [self.pad_token, self.unk_token, *self.words]

    def token_to_id(self, token: str) -> int:
        """Id of ``token`` (``unk_id`` for unknown words and for the spelling of ``pad_token``)."""
        if self._index is None:
            self._index = {w: i + 2 for i, w in enumerate(self.words)}
        return self._index.get(token, self.unk_id)

    def __repr__(self) -> str:
        name = (
            self.tokenizer
            if isinstance(self.tokenizer, str)
            else getattr(self.tokenizer, "__name__", "callable")
        )
        return f"WordVocab(size={len(self)}, tokenizer={name!r})"

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        texts: Sequence[str],
        max_length: int | None = None,
        *,
        padding: Literal["longest", "max_length"] = "longest",
    ) -> tuple[Tensor, Tensor]:
        """Token ids and attention mask of ``texts``, right-padded with :attr:`pad_id`.

        Args:
            texts: the texts to encode.
            max_length: keep at most this many tokens per text (the first ones); ``None`` keeps all.
            padding: ``"longest"`` pads to the longest (truncated) text of ``texts``; ``"max_length"`` pads to
                exactly ``max_length`` (fixed shapes, e.g. for compiled models).

        Returns:
            ``input_ids`` (int64) and ``attention_mask`` (int64, 1 for real tokens), both
            ``(len(texts), width)`` CPU tensors. Empty texts become one ``<unk>``.
        """
        check_int("max_length", max_length, allow_none=True)
        if padding not in ("longest", "max_length"):
            raise ConfigError(f"padding must be 'longest' or 'max_length', got {padding!r}", column="padding")
        if padding == "max_length" and max_length is None:
            raise ConfigError("padding='max_length' needs max_length", column="max_length")
        texts = list(texts)
        tokenized = tokenize_many(texts, self.tokenizer)
        row_parts, pos_parts, id_parts, lengths = [], [], [], []
        first_row = 0
        for chunk in tokenized.chunks:
            offsets = chunk.offsets.to_numpy().astype(np.int64)
            offsets -= offsets[0]
            counts = np.diff(offsets)
            values = chunk.flatten()
            found = (
                pc.index_in(values, value_set=self._words_array).fill_null(-1).to_numpy(zero_copy_only=False)
            )
            ids = np.where(found >= 0, found + 2, self.unk_id).astype(np.int64)
            rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
            positions = np.arange(len(ids), dtype=np.int64) - offsets[rows]
            if max_length is not None:
                keep = positions < max_length
                rows, positions, ids = rows[keep], positions[keep], ids[keep]
            row_parts.append(rows + first_row)
            pos_parts.append(positions)
            id_parts.append(ids)
            lengths.append(counts)
            first_row += len(counts)
        n = len(texts)
        length = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        if max_length is not None:
            length = np.minimum(length, max_length)
        length = np.maximum(length, 1)  # an empty text is one <unk>
        width = max_length if padding == "max_length" else int(length.max(initial=1))
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        input_ids[:, 0] = self.unk_id
        if row_parts:
            input_ids[np.concatenate(row_parts), np.concatenate(pos_parts)] = np.concatenate(id_parts)
        mask = (np.arange(width)[None, :] < length[:, None]).astype(np.int64)
        return torch.from_numpy(input_ids), torch.from_numpy(mask)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready contents (raises ``ConfigError`` for a callable tokeniser)."""
        if not isinstance(self.tokenizer, str):
            raise ConfigError(
                "a vocabulary with a callable tokenizer cannot be saved",
                column="tokenizer",
                hint="use a named tokenizer ('words', 'space', 'whitespace')",
            )
        return {
            "format": VOCAB_FORMAT,
            "version": _VOCAB_VERSION,
            "tokenizer": self.tokenizer,
            "pad_token": self.pad_token,
            "unk_token": self.unk_token,
            "words": self.words,
            "counts": self.counts,
        }

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as UTF-8 JSON, atomically; returns the path."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> WordVocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            ArtifactError: the file is missing, is not JSON, or is not a textsmooth word vocabulary.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ArtifactError("vocabulary file not found", path=path) from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"cannot read the vocabulary: {exc}", path=path) from exc
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            raise ArtifactError(f"not a {VOCAB_FORMAT} file", path=path)
        if data.get("version") != _VOCAB_VERSION:
            raise ArtifactError(f"unsupported vocabulary version {data.get('version')!r}", path=path)
        try:
            return cls(
                data["words"],
                tokenizer=data["tokenizer"],
                counts=data.get("counts"),
                pad_token=data["pad_token"],
                unk_token=data["unk_token"],
            )
        except (KeyError, TypeError, ConfigError) as exc:
            raise ArtifactError(f"vocabulary file is incomplete or inconsistent: {exc}", path=path) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordVocab):
            return NotImplemented
        return (
            self.words == other.words
            and self.tokenizer == other.tokenizer
            and self.pad_token == other.pad_token
            and self.unk_token == other.unk_token
        )

    __hash__ = None  # type: ignore[assignment]
