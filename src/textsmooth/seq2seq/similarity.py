"""Word-similarity token targets for seq2seq models: the similarity-based reconstruction losses on the
decoder's tokens (methods ``similarity-soft``, ``weighted-similarity``, ``weighted-ce``).

The table is over the model's *target* vocabulary, in id order. :func:`build_token_similarity_table`
builds it without pretrained vectors: the training targets are split into the vocabulary's tokens,
word vectors of those tokens are trained on them (:func:`textsmooth.similarity.train_word_vectors`,
seeded), and every token's top-N similar tokens are searched
(:func:`textsmooth.similarity.build_similarity_table`). Special tokens and tokens never seen keep a
one-hot row, and so do stop words: a token is one when, without its word-start mark (``▁`` of the
Metaspace pre-tokenizer, ``Ġ`` of byte-level BPE), it is in the stop-word list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textsmooth.errors import StaleArtifactError

__all__ = ["SIMILARITY_METHODS", "build_token_similarity_table", "check_table_vocab", "target_tokens"]

SIMILARITY_METHODS: tuple[str, ...] = ("similarity-soft", "weighted-similarity", "weighted-ce")
_WORD_START = "▁Ġ"


def target_tokens(vocab: Any) -> list[str]:
    """The target vocabulary's tokens in id order (a :class:`SubwordVocab` or a checkpoint's tokenizer)."""
    tokenizer = getattr(vocab, "tokenizer", None)
    if tokenizer is not None:  # PretrainedVocab
        return [str(t) for t in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
    target = vocab.target
    return [str(target.id_to_token(i)) for i in range(target.get_vocab_size())]


def check_table_vocab(table: Any, vocab: Any) -> None:
    """Refuse a similarity table built for another vocabulary than the model's target vocabulary."""
    if list(table.vocab) != target_tokens(vocab):
        raise StaleArtifactError(
            f"the similarity table's vocabulary ({len(table.vocab)} words) is not the model's target "
            f"vocabulary ({vocab.target_vocab_size} tokens)",
            hint="build it for this vocabulary (build_token_similarity_table), or let the trainer build it",
        )


def build_token_similarity_table(
    vocab: Any,
    targets: Sequence[str],
    *,
    top_n: int = 5,
    normalize: bool = True,
    stopwords: Iterable[str] | None = None,
    dim: int = 100,
    epochs: int = 10,
    seed: int = 0,
    max_length: int = 256,
) -> Any:
    """A :class:`~textsmooth.similarity.SimilarityTable` over ``vocab``'s target tokens (module docstring).

    Args:
        vocab: the model's vocabulary; ``targets``: the training targets the token vectors learn from.
        top_n, normalize: as :func:`~textsmooth.similarity.build_similarity_table` (``normalize=False`` for
            weighted similarity and weighted cross-entropy).
        stopwords: words whose tokens keep a one-hot row (e.g. ``load_stopwords("en")``).
        dim, epochs, seed: of the token vectors (Word2Vec skip-gram).
    """
    from textsmooth.similarity import build_similarity_table, train_word_vectors

    tokens = target_tokens(vocab)
    specials = {vocab.pad_id, vocab.eos_id, vocab.unk_id}
    sentences = [
        [tokens[i] for i in ids if i not in specials and 0 <= i < len(tokens)]
        for ids in vocab.encode_targets(list(targets), max_length)
    ]
    vectors = train_word_vectors(sentences, dim=dim, epochs=epochs, seed=seed, min_count=1)
    stop = {w.lower() for w in (stopwords or ())}
    stop_tokens = {t for t in tokens if t.lstrip(_WORD_START).lower() in stop and t.lstrip(_WORD_START)}
    return build_similarity_table(tokens, vectors, top_n=top_n, stopwords=stop_tokens, normalize=normalize)
