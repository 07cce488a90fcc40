"""Subword (or word) vocabularies for sequence-to-sequence models, learned with the ``tokenizers`` library.

:func:`train_subword_vocab` learns a BPE, Unigram or word-level vocabulary on the training split, joint (one
vocabulary for both sides, the default, as Marian's shared embeddings expect) or one per side. Words are
split on white space with the Metaspace pre-tokenizer (``▁`` marks a word start), so decoding gives back
the text's spacing. Three special tokens have fixed ids on every side: ``<pad>`` 0 (also the decoder's
start token, as in Marian), ``</s>`` 1 (end of sequence, appended to every encoded sentence), ``<unk>`` 2.

A :class:`SubwordVocab` is saved as a folder of ``tokenizers`` JSON files (``source.json``,
``target.json``: the same content for a joint vocabulary) and a manifest; never a pickle.

Example:
    >>> vocab = train_subword_vocab(["ein Hund läuft"] * 4, ["a dog runs"] * 4, vocab_size=60)
    >>> ids = vocab.encode_targets(["a dog runs"], max_length=16)[0]
    >>> ids[-1] == vocab.eos_id, vocab.decode_targets([ids])
    (True, ['a dog runs'])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from textsmooth._params import check_int
from textsmooth.errors import ArtifactError, ConfigError, InputError

__all__ = ["SPECIAL_TOKENS", "Side", "SubwordKind", "SubwordVocab", "train_subword_vocab"]

SubwordKind = Literal["bpe", "unigram", "word"]
Side = Literal["source", "target"]
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
"""The special tokens, in id order: padding (and decoder start) 0, end of sequence 1, unknown 2."""

VOCAB_KIND = "subword-vocab"


def _require_tokenizers() -> Any:
    from textsmooth._extras import require

    return require("tokenizers", extra="seq2seq", feature="textsmooth.seq2seq vocabularies")


@dataclass
class SubwordVocab:
    """Source and target tokenizers with the shared special ids (see the module docstring).

    Attributes:
        source, target: ``tokenizers.Tokenizer`` objects (the same object when ``joint``).
        joint: one vocabulary for both sides.
        kind: ``bpe`` or ``unigram``.
    """

    source: Any
    target: Any
    joint: bool
    kind: str

    pad_id: int = 0
    eos_id: int = 1
    unk_id: int = 2

    def __post_init__(self) -> None:
        for side, tok in (("source", self.source), ("target", self.target)):
            ids = [tok.token_to_id(t) for t in SPECIAL_TOKENS]
            if ids != [0, 1, 2]:
                raise ArtifactError(
                    f"the {side} tokenizer has special ids {dict(zip(SPECIAL_TOKENS, ids, strict=True))}, "
                    "expected <pad> 0, </s> 1, <unk> 2"
                )

    # ------------------------------------------------------------------ sizes
    @property
    def source_vocab_size(self) -> int:
        return int(self.source.get_vocab_size())

    @property
    def target_vocab_size(self) -> int:
        return int(self.target.get_vocab_size())

    def fingerprint(self) -> str:
        """sha256 of both tokenizers' JSON: a model and a vocabulary that belong together share it."""
        digest = hashlib.sha256()
        for tok in (self.source, self.target):
            digest.update(tok.to_str().encode("utf-8"))
        return digest.hexdigest()

    # ------------------------------------------------------------------ encode / decode
    def _tokenizer(self, side: Side) -> Any:
        if side not in get_args(Side):
            raise InputError(f"side must be 'source' or 'target', got {side!r}", column="side")
        return self.source if side == "source" else self.target

    def encode(self, texts: Sequence[str], max_length: int, side: Side) -> list[list[int]]:
        """Token ids of each text followed by ``</s>``, at most ``max_length`` ids (longer ones are cut
        and keep their ``</s>``)."""
        check_int("max_length", max_length, low=2)
        encodings = self._tokenizer(side).encode_batch(list(texts), add_special_tokens=False)
        return [[*e.ids[: max_length - 1], self.eos_id] for e in encodings]

    def encode_sources(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        return self.encode(texts, max_length, "source")

    def encode_targets(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        return self.encode(texts, max_length, "target")

    def count_truncated(self, texts: Sequence[str], max_length: int, side: Side) -> int:
        """How many ``texts`` have more than ``max_length - 1`` tokens (so lose tokens when encoded)."""
        encodings = self._tokenizer(side).encode_batch(list(texts), add_special_tokens=False)
        return sum(len(e.ids) > max_length - 1 for e in encodings)

    def decode(self, ids: Sequence[Sequence[int]], side: Side = "target") -> list[str]:
        """Texts of id sequences; special tokens (padding, ``</s>``) are dropped, and so is a label
        padding value ``-100``."""
        clean = [[int(i) for i in row if int(i) >= self.unk_id] for row in ids]
        return [text.strip() for text in self._tokenizer(side).decode_batch(clean, skip_special_tokens=True)]

    def decode_targets(self, ids: Sequence[Sequence[int]]) -> list[str]:
        return self.decode(ids, "target")

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``source.json``, ``target.json`` and ``vocab.json`` (the manifest) into ``folder``."""
        from textsmooth.io.atomic import atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "source.json", self.source.to_str())
        atomic_write_text(folder / "target.json", self.target.to_str())
        manifest = {
            "kind": VOCAB_KIND,
            "subword": self.kind,
            "joint": self.joint,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "sha256": self.fingerprint(),
        }
        atomic_write_text(folder / "vocab.json", json.dumps(manifest, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SubwordVocab:
        """Read a folder written by :meth:`save`, checking the files against the manifest.

        Raises:
            ArtifactError: a file is missing or damaged, or does not match the manifest.
        """
        tokenizers = _require_tokenizers()
        folder = Path(folder)
        manifest_file = folder / "vocab.json"
        if not manifest_file.is_file():
            raise ArtifactError("not a textsmooth subword vocabulary (no vocab.json)", path=folder)
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"vocab.json is not valid JSON ({exc})", path=manifest_file) from exc
        if not isinstance(manifest, dict) or manifest.get("kind") != VOCAB_KIND:
            raise ArtifactError("vocab.json is not a subword vocabulary manifest", path=manifest_file)
        sides = []
        for name in ("source", "target"):
            path = folder / f"{name}.json"
            try:
                sides.append(tokenizers.Tokenizer.from_str(path.read_text(encoding="utf-8")))
            except FileNotFoundError as exc:
                raise ArtifactError("tokenizer file is missing", path=path) from exc
            except Exception as exc:  # tokenizers raises its own Exception type on bad JSON
                raise ArtifactError(f"not a tokenizers file ({exc})", path=path) from exc
        joint = bool(manifest.get("joint"))
        vocab = cls(sides[0], sides[1] if not joint else sides[0], joint, str(manifest.get("subword")))
        if manifest.get("sha256") != vocab.fingerprint():
            raise ArtifactError(
                "tokenizer files do not match vocab.json (sha256 differs)",
                path=folder,
                hint="the vocabulary was edited or mixed with another model's; retrain or restore it",
            )
        return vocab


def _new_tokenizer(kind: SubwordKind, vocab_size: int, min_frequency: int) -> tuple[Any, Any]:
    tokenizers = _require_tokenizers()
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    if kind == "word":  # whole words, lower-cased; punctuation splits off; rarer words are <unk>
        tok = tokenizers.Tokenizer(models.WordLevel(unk_token="<unk>"))
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=False,
        )
        tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        return tok, trainer
    if kind == "bpe":
        tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=False,
        )
    else:
        tok = tokenizers.Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), unk_token="<unk>", show_progress=False
        )
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return tok, trainer


def train_subword_vocab(
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    kind: SubwordKind = "bpe",
    vocab_size: int = 8000,
    min_frequency: int = 2,
    joint: bool = True,
) -> SubwordVocab:
    """Learn a subword vocabulary on training sentences (module docstring: the special tokens).

    Args:
        sources, targets: the training sentences of each side.
        kind: ``bpe`` (byte-pair merges), ``unigram`` (a unigram language model) or ``word`` (whole
            lower-cased words split at white space and punctuation, the ``vocab_size - 3`` most frequent
            kept; the word-level vocabulary of the reconstruction-loss poster's autoencoder). Decoding a
            ``word`` vocabulary joins the words with single spaces.
        vocab_size: tokens per vocabulary, special tokens included (a joint vocabulary: both sides
            together; per side: each side). Small corpora may give fewer.
        min_frequency: BPE: a merge must occur at least this often; word: a word must (both sides
            count, so with a joint vocabulary an autoencoder's words count twice).
        joint: one vocabulary for both sides (default), else one per side.

    Raises:
        ConfigError: an unknown kind, a size below 16 or a ``min_frequency`` below 1.
        InputError: no training sentences.
    """
    if kind not in get_args(SubwordKind):
        raise ConfigError(
            f"unknown vocabulary kind {kind!r}", column="vocab_kind", hint="use bpe, unigram or word"
        )
    check_int("vocab_size", vocab_size, low=16)
    check_int("min_frequency", min_frequency)
    if not sources or not targets:
        raise InputError("no training sentences to learn a vocabulary from", column="sources")
    if joint:
        tok, trainer = _new_tokenizer(kind, vocab_size, min_frequency)
        tok.train_from_iterator([*sources, *targets], trainer=trainer, length=len(sources) + len(targets))
        return SubwordVocab(tok, tok, True, kind)
    sides = []
    for texts in (sources, targets):
        tok, trainer = _new_tokenizer(kind, vocab_size, min_frequency)
        tok.train_from_iterator(list(texts), trainer=trainer, length=len(texts))
        sides.append(tok)
    return SubwordVocab(sides[0], sides[1], False, kind)
