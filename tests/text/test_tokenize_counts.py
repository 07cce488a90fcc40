"""Tokenisers and sparse count matrices against plain Python (str.split, collections.Counter)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth.errors import ConfigError, DataError
from textsmooth.text import tokenize as tokenize_module
from textsmooth.text.counts import count_matrix
from textsmooth.text.tokenize import tokenize, tokenize_many

texts_strategy = st.lists(st.text(alphabet="ab c\t'!Éé_\n", max_size=12), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(texts=texts_strategy)
def test_space_and_whitespace_match_python(texts, monkeypatch_chunk):
    assert tokenize_many(texts, "space").to_pylist() == [t.split(" ") for t in texts]
    assert tokenize_many(texts, "whitespace").to_pylist() == [t.split() for t in texts]


def test_whitespace_splits_the_last_text_of_a_slice_every_time(monkeypatch):
    """pyarrow's utf8_split_whitespace alone left '__É ' (the last text, in a 1-text slice) unsplit in
    about a third of the calls (an over-read past the text data); the tokenizer must be exact every time."""
    monkeypatch.setattr(tokenize_module, "_CHUNK_TEXTS", 4)
    texts = [*"__É ____ _____ ______É ' ____ _É ___ ___ __É _____ _________ÉÉÉ".split(" "), "__É "]
    expected = [t.split() for t in texts]
    assert all(tokenize_many(texts, "whitespace").to_pylist() == expected for _ in range(300))


@pytest.fixture(scope="module")
def monkeypatch_chunk():
    """Force several chunks even for small inputs, so the chunked paths are exercised."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokenize_module, "_CHUNK_TEXTS", 4)
        yield


def test_words_tokenizer_rules():
    assert tokenize("Don't STOP--it's 'great'! Café x__y 3.14") == [
        "don't",
        "stop",
        "it's",
        "great",
        "café",
        "x__y",
        "3",
        "14",
    ]
    assert tokenize("") == [] and tokenize("'' -- !!") == []


@settings(max_examples=60, deadline=None)
@given(texts=texts_strategy, tokenizer=st.sampled_from(["space", "words", "whitespace"]))
def test_counts_equal_counter(texts, tokenizer, monkeypatch_chunk):
    tokens = tokenize_many(texts, tokenizer)
    result = count_matrix(tokens)
    vocab = result.vocabulary.to_pylist()
    assert len(set(vocab)) == len(vocab)
    dense = result.counts.toarray()
    for i, toks in enumerate(tokens.to_pylist()):
        assert Counter(toks) == {vocab[j]: dense[i, j] for j in np.flatnonzero(dense[i])}
        assert result.lengths[i] == len(toks)
    # against a fixed vocabulary: unknown words are ignored but still counted in lengths
    fixed = result.vocabulary.slice(0, max(1, len(vocab) // 2))
    again = count_matrix(tokenize_many(texts, tokenizer), fixed)
    known = set(fixed.to_pylist())
    for i, toks in enumerate(tokens.to_pylist()):
        row = again.counts[i].toarray().ravel()
        assert Counter(t for t in toks if t in known) == {vocab[j]: row[j] for j in np.flatnonzero(row)}
    np.testing.assert_array_equal(again.lengths, result.lengths)


def test_callable_tokenizer_and_errors():
    assert tokenize_many(["a-b c"], lambda s: s.split("-")).to_pylist() == [["a", "b c"]]
    with pytest.raises(DataError, match="row 2"):
        tokenize_many(["a", None], "words")
    with pytest.raises(DataError, match="row 2"):
        tokenize_many(["a", 3], str.split)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        tokenize_many(["a"], "bpe")
