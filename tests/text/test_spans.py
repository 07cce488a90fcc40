"""Byte-level tokenisation and counting (text.spans, text.counts) against the Arrow/Python paths.

The byte paths must give exactly the tokens of ``tokenize_many`` (``str.split(" ")`` for ``space``,
the regex rules for ``words``) and exactly the counts and first-appearance vocabulary of
``count_matrix``; both the fast (ASCII) path and the exact (Arrow regex) path are forced here.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth.text import counts as counts_module
from textsmooth.text.counts import count_matrix, count_spans, count_texts
from textsmooth.text.spans import TokenSpans, space_spans, word_spans
from textsmooth.text.tokenize import tokenize_many

# ASCII word bytes, separators, apostrophes, a NUL byte, and non-ASCII letters whose lower-casing is
# special (Kelvin sign -> ASCII k, dotted I -> i + combining dot, sharp s), punctuation and a digit.
ALPHABET = "aB z_'\t-.!0\x00Éé\u212a\u0130ß\u2019٣漢"
texts_strategy = st.lists(st.text(alphabet=ALPHABET, max_size=24), min_size=1, max_size=25)


def _tokens(spans: TokenSpans) -> list[list[str]]:
    data = spans.data.tobytes()
    words = [data[s : s + n].decode("utf-8") for s, n in zip(spans.starts, spans.lengths, strict=True)]
    return [words[a:b] for a, b in zip(spans.offsets[:-1], spans.offsets[1:], strict=True)]


def _check_padding(spans: TokenSpans) -> None:
    assert spans.data.dtype == np.uint8 and not spans.data[-8:].any()
    assert (spans.starts + spans.lengths <= spans.data.size - 8).all()


@settings(max_examples=80, deadline=None)
@given(texts=texts_strategy)
def test_space_spans_equal_str_split(texts):
    spans = space_spans(pa.array(texts))
    _check_padding(spans)
    assert _tokens(spans) == [t.split(" ") for t in texts]


@settings(max_examples=80, deadline=None)
@given(texts=texts_strategy, seed=st.integers(0, 2**16))
def test_word_spans_equal_regex_path_with_both_paths_forced(texts, seed):
    array = pa.array(texts)
    expected = tokenize_many(array, "words").to_pylist()
    rng = np.random.default_rng(seed)
    for exact_rows in (
        None,
        np.zeros(len(texts), bool),
        np.ones(len(texts), bool),
        rng.random(len(texts)) < 0.5,
    ):
        spans = word_spans(array, exact_rows=exact_rows)
        _check_padding(spans)
        assert _tokens(spans) == expected


def test_word_spans_rules_on_the_fast_path():
    texts = ["Don't STOP--it's 'great'!", "''x''y'' '' ''", "A_b 3.14", "", "end'", "abc", "def"]
    assert _tokens(word_spans(pa.array(texts))) == tokenize_many(texts, "words").to_pylist()
    assert _tokens(word_spans(pa.array(texts)))[:2] == [["don't", "stop", "it's", "great"], ["x''y"]]
    # a sliced array (non-zero Arrow offset) and texts that touch in the buffer stay apart
    sliced = pa.array(["zz", *texts]).slice(1)
    assert _tokens(word_spans(sliced)) == tokenize_many(texts, "words").to_pylist()


def _dense_rows(result) -> list[Counter]:
    vocab = result.vocabulary.to_pylist()
    dense = result.counts.toarray()
    return [
        Counter({vocab[j]: int(dense[i, j]) for j in np.flatnonzero(dense[i])}) for i in range(len(dense))
    ]


@pytest.fixture(scope="module")
def tiny_chunks():
    """Several chunks and pair blocks even for a few texts, so the merging code runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counts_module, "CHUNK_BYTES", 16)
        patch.setattr(counts_module, "_PAIR_ROWS", 3)
        yield


long_texts = st.lists(
    st.lists(
        st.sampled_from(
            [
                "a",
                "B",
                "ab",
                "abcdefgh",
                "abcdefghi",
                "abcdefgh\x00",
                "a\x00",
                "",
                "é" * 5,
                "x" * 30,
                "it's",
                "'q'",
            ]
        ),
        max_size=12,
    ).map(" ".join),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(texts=long_texts, tokenizer=st.sampled_from(["space", "words", "whitespace"]))
def test_count_texts_equals_counter_and_old_path(texts, tokenizer, tiny_chunks):
    result = count_texts(texts, tokenizer)
    tokens = tokenize_many(texts, tokenizer).to_pylist()
    # vocabulary: distinct, in order of first appearance in the corpus
    assert result.vocabulary.to_pylist() == list(dict.fromkeys(t for toks in tokens for t in toks))
    assert _dense_rows(result) == [Counter(toks) for toks in tokens]
    np.testing.assert_array_equal(result.lengths, [len(t) for t in tokens])
    assert result.counts.has_sorted_indices
    indices = result.counts.indices
    for a, b in zip(result.counts.indptr[:-1], result.counts.indptr[1:], strict=True):
        assert (np.diff(indices[a:b]) > 0).all()
    # the same from Arrow token lists, and against a fixed vocabulary
    again = count_matrix(tokenize_many(texts, tokenizer))
    assert again.vocabulary.equals(result.vocabulary) and (again.counts != result.counts).nnz == 0
    vocab = result.vocabulary.to_pylist()
    fixed = pa.array([*vocab[::2], "never-seen", "zzzzzzzzzzzz"])
    known = set(fixed.to_pylist())
    looked = count_texts(texts, tokenizer, fixed)
    assert _dense_rows(looked) == [Counter(t for t in toks if t in known) for toks in tokens]
    np.testing.assert_array_equal(looked.lengths, result.lengths)
    large = count_texts(pa.array(texts, pa.large_string()), tokenizer, fixed.cast(pa.large_string()))
    assert (large.counts != looked.counts).nnz == 0


def test_byte_chunks_cut_at_text_boundaries(tiny_chunks):
    texts = pa.array(["abcdefghij"] * 7 + [""] + ["x" * 40])
    chunks = counts_module._byte_chunks(texts.slice(1))
    assert len(chunks) > 3 and pa.concat_arrays(chunks).equals(texts.slice(1))


def test_count_spans_and_empty_inputs():
    result = count_spans(space_spans(pa.array(["b a b", ""])))
    assert result.vocabulary.to_pylist() == ["b", "a", ""]
    assert result.counts.toarray().tolist() == [[2, 1, 0], [0, 0, 1]]
    nothing = count_texts([], "words")
    assert nothing.counts.shape == (0, 0) and len(nothing.vocabulary) == 0
    blank = count_texts(["", "!!"], "words")
    assert blank.counts.shape == (2, 0) and blank.lengths.tolist() == [0, 0]
    assert count_texts(["x y"], "words", pa.array([], pa.string())).counts.shape == (1, 0)


# 9-16 byte tokens are keyed as two uint64 (16 zero-padded bytes); these sit at the 8/9 and 16/17 byte
# edges, share 8-byte prefixes, and hold NUL bytes (which must take the byte-string path)
EDGE_WORDS = [
    "abcdefgh",
    "abcdefghi",
    "abcdefghj",
    "abcdefgh\x00",
    "abcdefghijklmnop",
    "abcdefghijklmnoq",
    "abcdefghijklmno\x00",
    "abcdefghijklmnopq",
    "\x00bcdefghijk",
    "abcdefghijklmn\x00p",
    "ééééé",
    "ééééééé",
    "Ünïcödé-wörd",
    "x",
    "",
    "\x00",
    "ab\x00c",
    "abcdefg\x00",
]


def _same_counts(a, b) -> None:
    assert a.vocabulary.equals(b.vocabulary)
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a.counts, name), getattr(b.counts, name))
    np.testing.assert_array_equal(a.lengths, b.lengths)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.lists(st.sampled_from(EDGE_WORDS), max_size=10).map(" ".join), min_size=1, max_size=30),
    tokenizer=st.sampled_from(["space", "words"]),
    n_jobs=st.integers(1, 4),
)
def test_chunks_and_threads_give_the_single_chunk_result(texts, tokenizer, n_jobs):
    # chunks of 16 bytes (so words are first seen in later chunks) counted on any number of threads
    # give exactly the counts and first-appearance vocabulary of one chunk on one thread
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counts_module, "CHUNK_BYTES", 1 << 30)
        one = count_texts(texts, tokenizer, n_jobs=1)
        patch.setattr(counts_module, "CHUNK_BYTES", 16)
        patch.setattr(counts_module, "_PAIR_ROWS", 3)
        many = count_texts(texts, tokenizer, n_jobs=n_jobs)
    _same_counts(one, many)
    tokens = tokenize_many(texts, tokenizer).to_pylist()
    assert one.vocabulary.to_pylist() == list(dict.fromkeys(t for toks in tokens for t in toks))
    assert _dense_rows(one) == [Counter(toks) for toks in tokens]


def test_words_first_seen_in_a_later_chunk_keep_corpus_order(tiny_chunks):
    texts = ["aaaaaaaaaaaaaaaaaaaa", "abcdefghijkl x", "x abcdefghijkl", "é" * 9 + " new", "abcdefghijkl"]
    assert len(counts_module._byte_chunks(pa.array(texts))) >= 3
    for n_jobs in (1, 2, 5):
        result = count_texts(texts, "space", n_jobs=n_jobs)
        assert result.vocabulary.to_pylist() == ["a" * 20, "abcdefghijkl", "x", "é" * 9, "new"]
        assert result.counts.toarray().tolist() == [
            [1, 0, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 0, 1, 1],
            [0, 1, 0, 0, 0],
        ]


def test_n_jobs_must_be_a_positive_integer():
    from textsmooth.errors import ConfigError

    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(ConfigError, match="n_jobs"):
            count_texts(["a b"], "space", n_jobs=bad)
    assert count_texts(["a b"], "space", n_jobs=np.int64(2)).vocabulary.to_pylist() == ["a", "b"]
    assert count_matrix(tokenize_many(["a b"], "space"), n_jobs=1).vocabulary.to_pylist() == ["a", "b"]
