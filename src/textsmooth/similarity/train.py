"""Word vectors trained on the user's own corpus with gensim (Word2Vec or FastText), offline and seeded.

No pretrained word vectors ship offline, so the default source of a similarity table is a small model
trained on the corpus the autoencoder or translation model learns from. Training is reproducible: one
worker thread, the given seed, and a stable hash of each word for the initial vectors (gensim's default is
Python's ``hash``, which changes from process to process unless ``PYTHONHASHSEED`` is fixed).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, get_args

import numpy as np

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, InputError
from textsmooth.similarity.vectors import WordVectors

__all__ = ["VectorModel", "train_word_vectors"]

VectorModel = Literal["word2vec", "fasttext"]


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def train_word_vectors(
    sentences: Iterable[str] | Iterable[Sequence[str]],
    *,
    model: VectorModel = "word2vec",
    dim: int = 100,
    window: int = 5,
    min_count: int = 1,
    epochs: int = 10,
    sg: bool = True,
    seed: int = 0,
    tokenizer: Callable[[str], list[str]] = str.split,
) -> WordVectors:
    """Train word vectors on ``sentences`` (texts, split by ``tokenizer``, or token lists).

    Args:
        model: ``word2vec`` or ``fasttext`` (character n-grams: vectors for rare and unseen words too).
        dim, window, min_count, epochs: gensim's ``vector_size``, ``window``, ``min_count``, ``epochs``.
        sg: skip-gram (default) or CBOW.
        seed: the random seed (same corpus and seed, same vectors).

    Returns:
        :class:`WordVectors` of every word seen at least ``min_count`` times, most frequent first.

    Raises:
        ConfigError: an unknown model or a size below 1. InputError: no words to train on.
    """
    from textsmooth._extras import require

    gensim_models = require("gensim.models", extra="similarity", feature="train_word_vectors")
    if model not in get_args(VectorModel):
        raise ConfigError(f"unknown model {model!r}", column="model", hint="word2vec or fasttext")
    for name, value in (("dim", dim), ("window", window), ("min_count", min_count), ("epochs", epochs)):
        check_int(name, value)
    corpus = [tokenizer(s) if isinstance(s, str) else list(s) for s in sentences]
    corpus = [tokens for tokens in corpus if tokens]
    if not corpus:
        raise InputError("no words to train word vectors on", column="sentences")
    cls = gensim_models.Word2Vec if model == "word2vec" else gensim_models.FastText
    trained = cls(
        sentences=corpus,
        vector_size=dim,
        window=window,
        min_count=min_count,
        epochs=epochs,
        sg=int(bool(sg)),
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
    )
    words = list(trained.wv.index_to_key)
    if not words:
        raise InputError(f"no word occurs at least min_count={min_count} times", column="min_count")
    return WordVectors(words, np.asarray(trained.wv.vectors, dtype=np.float32))
