"""Shared fixtures for every seq2seq test (real data, real tokenizers, tiny real Marian models).

Fixtures:

* ``pairs`` (session): a :class:`~textsmooth.seq2seq.data.ParallelCorpus` of the first 200 Multi30k
  training pairs, German source -> English target, read from ``tests/data/multi30k_sample`` with
  :func:`~textsmooth.seq2seq.data.read_parallel` (so ``source_path`` / ``target_path`` are set).
* ``pairs_en_de`` (session): the same 200 pairs the other way round (English source -> German target).
* ``splits`` (session): ``(train, val, test)`` of ``pairs``: the first 96 pairs, the next 16, the 16 after.
* ``tiny_vocab`` (session): a joint BPE :class:`~textsmooth.seq2seq.vocab.SubwordVocab` of 300 tokens
  trained on ``pairs`` (``min_frequency=1``). Shared by the session: do not mutate it.
* ``tiny_vocab_per_side`` (session): a per-side (``joint=False``) BPE vocabulary, 300 tokens a side.
* ``make_tiny_model`` (session): ``make_tiny_model(vocab=None, *, seed=0, **shape_overrides)`` -> a fresh
  randomly initialised ``MarianMTModel`` of :data:`TINY_SHAPE` (d_model 32, 1 + 1 layers, 2 heads,
  FFN 64, dropout 0, 64 positions) for ``vocab`` (``tiny_vocab`` when None).
* ``tiny_model`` (function): ``make_tiny_model(tiny_vocab, seed=0)``, a fresh model per test (safe to
  train or mutate).

Helpers importable from this file: ``SAMPLE`` (the sample folder), ``TINY_SHAPE`` (a ``ModelShape``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
N_PAIRS = 200


def _tiny_shape():
    from textsmooth.seq2seq.model import ModelShape

    return ModelShape(
        d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, dropout=0.0, max_positions=64
    )


TINY_SHAPE = _tiny_shape()


@pytest.fixture(scope="session")
def pairs():
    from textsmooth.seq2seq.data import read_parallel

    return read_parallel(SAMPLE / "train.de", SAMPLE / "train.en").subset(N_PAIRS)


@pytest.fixture(scope="session")
def pairs_en_de():
    from textsmooth.seq2seq.data import read_parallel

    return read_parallel(SAMPLE / "train.en", SAMPLE / "train.de").subset(N_PAIRS)


@pytest.fixture(scope="session")
def splits(pairs):
    from textsmooth.seq2seq.data import ParallelCorpus

    return (
        pairs.subset(96),
        ParallelCorpus(pairs.sources[96:112], pairs.targets[96:112]),
        ParallelCorpus(pairs.sources[112:128], pairs.targets[112:128]),
    )


@pytest.fixture(scope="session")
def tiny_vocab(pairs):
    from textsmooth.seq2seq.vocab import train_subword_vocab

    return train_subword_vocab(pairs.sources, pairs.targets, kind="bpe", vocab_size=300, min_frequency=1)


@pytest.fixture(scope="session")
def tiny_vocab_per_side(pairs):
    from textsmooth.seq2seq.vocab import train_subword_vocab

    return train_subword_vocab(
        pairs.sources, pairs.targets, kind="bpe", vocab_size=300, min_frequency=1, joint=False
    )


@pytest.fixture(scope="session")
def make_tiny_model(tiny_vocab):
    from dataclasses import replace

    from textsmooth.seq2seq.model import build_seq2seq_model

    def make(vocab=None, *, seed: int = 0, **shape_overrides):
        shape = replace(TINY_SHAPE, **shape_overrides)
        return build_seq2seq_model(tiny_vocab if vocab is None else vocab, shape, seed=seed)

    return make


@pytest.fixture
def tiny_model(make_tiny_model):
    return make_tiny_model(seed=0)
