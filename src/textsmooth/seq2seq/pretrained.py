"""The tokenizer of a local Hugging Face checkpoint, behind the interface of :class:`SubwordVocab`.

``Seq2SeqConfig(model_path=PATH)`` (``textsmooth seq2seq train --model PATH``) fine-tunes a pretrained
encoder-decoder (Marian, T5, BART ...) with its own tokenizer instead of a new vocabulary:
:class:`PretrainedVocab` encodes with ``tokenizer(texts)`` / ``tokenizer(text_target=texts)`` (the
checkpoint's own special tokens, e.g. ``</s>`` for Marian and T5, ``<s> ... </s>`` for BART), truncates to
``max_length`` as the tokenizer does, and decodes with ``batch_decode(skip_special_tokens=True)``.

Multilingual checkpoints (mBART-50, M2M100, NLLB) mark the language of each side with a code token
(``eng_Latn``, ``de_DE`` ...): :meth:`PretrainedVocab.load` with ``source_lang`` / ``target_lang`` sets the
tokenizer's ``src_lang`` / ``tgt_lang`` (saved with it, so a trained model translates the same way), and
:func:`set_target_language_start` makes ``generate`` begin its hypotheses as the labels begin.
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

__all__ = ["PretrainedVocab", "set_target_language_start"]


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
        """sha256 of the tokenizer's class and its vocabulary (token -> id), and of its languages where it
        has them (``src_lang`` / ``tgt_lang``: they change every encoded sentence)."""
        content: list[Any] = [type(self.tokenizer).__name__, sorted(self.tokenizer.get_vocab().items())]
        if hasattr(self.tokenizer, "src_lang"):
            content.append([self.tokenizer.src_lang, getattr(self.tokenizer, "tgt_lang", None)])
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

    @property
    def target_lang(self) -> str | None:
        """The target language code of a multilingual tokenizer (``tgt_lang``), else ``None``."""
        return getattr(self.tokenizer, "tgt_lang", None)

    def set_languages(self, source_lang: str | None, target_lang: str | None, *, path: str | Path) -> None:
        """Set the multilingual tokenizer's ``src_lang`` / ``tgt_lang`` (``None``: keep the saved one).

        Raises:
            ConfigError: the tokenizer has no languages (not mBART / M2M100 / NLLB), or a code is not one
                of its tokens; ``path`` names the checkpoint.
        """
        from textsmooth.errors import ConfigError

        for field, attribute, code in (
            ("source_lang", "src_lang", source_lang),
            ("target_lang", "tgt_lang", target_lang),
        ):
            if code is None:
                continue
            if not hasattr(self.tokenizer, attribute):
                raise ConfigError(
                    f"the checkpoint's tokenizer ({type(self.tokenizer).__name__}) has no language codes",
                    path=path,
                    column=field,
                    hint="source_lang / target_lang select the languages of mBART-50, M2M100 and NLLB models",
                )
            vocab = self.tokenizer.get_vocab()
            if code not in vocab:
                # the language codes are the special tokens that are not <pad>, </s> and the like
                known = [t for t in self.tokenizer.all_special_tokens if not t.startswith("<")]
                raise ConfigError(
                    f"{code!r} is not a language code of the checkpoint's tokenizer",
                    path=path,
                    column=field,
                    hint=f"e.g. {', '.join(known[:8])}" if known else None,
                )
            setattr(self.tokenizer, attribute, code)

    @classmethod
    def load(
        cls, folder: str | Path, *, source_lang: str | None = None, target_lang: str | None = None
    ) -> PretrainedVocab:
        """The tokenizer of a local checkpoint folder (``AutoTokenizer``, offline), with the languages
        ``source_lang`` / ``target_lang`` set (:meth:`set_languages`; ``None``: the saved ones).

        Raises:
            ArtifactError: the folder has no tokenizer ``AutoTokenizer`` can load.
            ConfigError: a language the tokenizer does not have.
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
        vocab = cls(tokenizer)
        vocab.set_languages(source_lang, target_lang, path=folder)
        return vocab


def set_target_language_start(model: Any, vocab: PretrainedVocab) -> None:
    """Make ``model.generate`` start hypotheses in ``vocab``'s target language, as its labels start.

    A multilingual tokenizer puts the target language code first in the labels (M2M100, NLLB, mBART-50:
    ``[code, tokens, </s>]``; the decoder input starts ``</s> code``): ``generate`` must force it as the
    first token (``generation_config.forced_bos_token_id``). mBART-cc25 puts it last (``[tokens, </s>,
    code]``, rotated to the front of the decoder input): it is the decoder's start token
    (``generation_config.decoder_start_token_id``). A tokenizer without a target language: nothing changes.
    Saved with the model (``generation_config.json``), so a loaded model decodes the same way.
    """
    code = vocab.target_lang
    if code is None:
        return
    code_id = vocab.tokenizer.convert_tokens_to_ids(code)
    (labels,) = vocab.encode_targets(["a"], 16)
    if labels and labels[0] == code_id:
        model.generation_config.forced_bos_token_id = int(code_id)
    elif labels and labels[-1] == code_id:
        model.generation_config.decoder_start_token_id = int(code_id)
