"""The tokenizer of a local Hugging Face checkpoint, behind the interface of :class:`SubwordVocab`.

``Seq2SeqConfig(model_path=PATH)`` (``textsmooth seq2seq train --model PATH``) fine-tunes a pretrained
encoder-decoder (Marian, T5, BART ...) with its own tokenizer instead of a new vocabulary:
:class:`PretrainedVocab` encodes with ``tokenizer(texts)`` / ``tokenizer(text_target=texts)`` (the
checkpoint's own special tokens, e.g. ``</s>`` for Marian and T5, ``<s> ... </s>`` for BART), truncates to
``max_length`` as the tokenizer does, and decodes with ``batch_decode(skip_special_tokens=True)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from textsmooth._params import check_int
from textsmooth.errors import ArtifactError, InputError
from textsmooth.seq2seq.vocab import Side

__all__ = ["PretrainedVocab"]


@dataclass
class PretrainedVocab:
    """A ``transformers`` tokenizer with the encode / decode / save methods of :class:`SubwordVocab`.

    Attributes:
        tokenizer: the checkpoint's tokenizer. kind: ``"pretrained"``. joint: always True (one tokenizer;
            ``text_target`` selects a Marian model's target vocabulary).
    """

    tokenizer: Any
    kind: str = "pretrained"
    joint: bool = True

    def __post_init__(self) -> None:
        if self.tokenizer.pad_token_id is None:
            raise ArtifactError(
                "the checkpoint's tokenizer has no padding token", hint="set tokenizer.pad_token"
            )

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def eos_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def unk_id(self) -> int:
        return int(self.tokenizer.unk_token_id)

    @property
    def source_vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def target_vocab_size(self) -> int:
        return len(self.tokenizer)

    def fingerprint(self) -> str:
        """sha256 of the tokenizer's class and its vocabulary (token -> id)."""
        content = [type(self.tokenizer).__name__, sorted(self.tokenizer.get_vocab().items())]
        return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _ids(self, texts: Sequence[str], side: Side, max_length: int | None) -> list[list[int]]:
        if side not in get_args(Side):
            raise InputError(f"side must be 'source' or 'target', got {side!r}", column="side")
        key = "text" if side == "source" else "text_target"
        cut = {"truncation": True, "max_length": max_length} if max_length is not None else {}
        return list(self.tokenizer(**{key: list(texts)}, **cut)["input_ids"])

    def encode(self, texts: Sequence[str], max_length: int, side: Side) -> list[list[int]]:
        """Token ids with the checkpoint's special tokens, at most ``max_length`` (the tokenizer cuts)."""
        check_int("max_length", max_length, low=2)
        return self._ids(texts, side, max_length)

    def encode_sources(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        return self.encode(texts, max_length, "source")

    def encode_targets(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        return self.encode(texts, max_length, "target")

    def count_truncated(self, texts: Sequence[str], max_length: int, side: Side) -> int:
        """How many ``texts`` have more than ``max_length`` ids with their special tokens."""
        return sum(len(ids) > max_length for ids in self._ids(texts, side, None))

    def decode(self, ids: Sequence[Sequence[int]], side: Side = "target") -> list[str]:
        clean = [[int(i) for i in row if int(i) >= 0] for row in ids]  # -100 label padding
        return [t.strip() for t in self.tokenizer.batch_decode(clean, skip_special_tokens=True)]

    def decode_targets(self, ids: Sequence[Sequence[int]]) -> list[str]:
        return self.decode(ids, "target")

    def save(self, folder: str | Path) -> Path:
        """``tokenizer.save_pretrained(folder)`` (the Hugging Face layout, beside the model's files)."""
        self.tokenizer.save_pretrained(str(folder))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> PretrainedVocab:
        """The tokenizer of a local checkpoint folder (``AutoTokenizer``, offline).

        Raises:
            ArtifactError: the folder has no tokenizer ``AutoTokenizer`` can load.
        """
        from textsmooth._extras import require

        require("transformers", extra="seq2seq", feature="fine-tuning a pretrained seq2seq checkpoint")
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, TypeError) as exc:
            raise ArtifactError(
                f"cannot load the checkpoint's tokenizer ({str(exc).splitlines()[0][:200]})",
                path=folder,
                hint="a model folder needs its tokenizer files (tokenizer.json or the sentencepiece models)",
            ) from exc
        return cls(tokenizer)
