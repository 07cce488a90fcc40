"""Each tokenisation/counting path of BleuCorpus gives exactly sacrebleu's tokens and scores."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from textsmooth.text import bleu as bleu_module
from textsmooth.text.bleu import BleuCorpus, _dense_ids, _rank_among_equal, _repeated, _token_spans
from textsmooth.text.spans import UNICODE_SPACES, whitespace_spans

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"

# Characters around which 13a's rules differ: its punctuation class, . , - digits, entities, spaces.
_ALPHABET = [*"ab9 0.,-'()&;:!?/[]{}~`@^_|\\\"<>#$%*+=", "&amp;", "&quot;", "&lt;", "&gt;", "<skipped>"]
_ALPHABET += ["\n", "-\n", "\t", "\r", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "é", "٣", "中", "ß"]
_tricky = st.lists(st.sampled_from(_ALPHABET), max_size=30).map("".join)
_texts = st.lists(_tricky | st.text(max_size=20), min_size=1, max_size=30)


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def _tokens_of(spans) -> list[list[str]]:
    data = bytes(spans.data)
    pairs = zip(spans.starts, spans.lengths, strict=True)
    words = [data[s : s + n].decode("utf-8", "surrogatepass") for s, n in pairs]
    return [words[a:b] for a, b in zip(spans.offsets[:-1], spans.offsets[1:], strict=True)]


def _sacrebleu_tokens(texts: list[str], name: str = "13a") -> list[list[str]]:
    tokenizer = BLEU(tokenize=name).tokenizer
    return [tokenizer(t.rstrip()).split() for t in texts]


def _reference(hyps, refs, **kw):
    metric = BLEU(effective_order=True, **kw)
    return np.array([metric.sentence_score(h, [r]).score for h, r in zip(hyps, refs, strict=True)])


def test_unicode_spaces_are_exactly_pythons():
    python = [c for c in range(0x110000) if chr(c).isspace() and c >= 0x80]
    assert list(UNICODE_SPACES) == python


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_texts)
def test_whitespace_spans_is_str_split(texts):
    assert _tokens_of(whitespace_spans(pa.array(texts, pa.string()))) == [t.split() for t in texts]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_texts)
def test_arrow_13a_equals_sacrebleu_13a(texts):
    assert _tokens_of(_token_spans(texts, "13a", Tokenizer13a())) == _sacrebleu_tokens(texts)


def test_arrow_13a_on_real_english_and_german():
    texts = _lines(SAMPLE / "train.en") + _lines(SAMPLE / "train.de")
    texts += [line for k in range(1, 6) for line in _lines(SAMPLE / f"task2.train.{k}.en")]
    assert _tokens_of(_token_spans(texts, "13a", Tokenizer13a())) == _sacrebleu_tokens(texts)


@pytest.mark.parametrize("tokenize", ["13a", "intl", "char", "none"])
def test_sacrebleu_object_path_equals_arrow_path_and_sacrebleu(monkeypatch, tokenize):
    en = _lines(SAMPLE / "train.en")[:120]
    de = _lines(SAMPLE / "train.de")[:120]
    hyps = en[::-1] + de[::-1] + ["a  b\u00a0c", "&amp; x", ""]
    refs = en + de + ["a b c", "& x", "a"]
    fast = BleuCorpus(hyps + refs, tokenize=tokenize, max_order=4)
    monkeypatch.setattr(bleu_module, "ARROW_TOKENIZERS", frozenset())
    slow = BleuCorpus(hyps + refs, tokenize=tokenize, max_order=4)
    n = len(hyps)
    h, r = np.arange(n), np.arange(n, 2 * n)
    for key in ("correct", "total", "hyp_len", "ref_len"):
        np.testing.assert_array_equal(fast.stats(h, r)[key], slow.stats(h, r)[key])
    np.testing.assert_allclose(slow.score(h, r), _reference(hyps, refs, tokenize=tokenize), atol=1e-9)


def test_lone_surrogates_take_the_exact_fallback():
    hyps = ["a \ud800 b .", "x\udfff y", "plain text"]
    refs = ["a \ud800 b", "x\udfff y z", "plain text ."]
    corpus = BleuCorpus(hyps + refs, max_order=3)
    got = corpus.score(np.arange(3), np.arange(3, 6), max_order=3)
    np.testing.assert_allclose(got, _reference(hyps, refs, max_ngram_order=3), atol=1e-9)


def test_repeated_ngrams_count_each_occurrence():
    hyps = ["a a a a b a a", "x y x y x y", "the cat the cat"]
    refs = ["a a b a a a", "x y x y", "the cat the cat the cat"]
    for order in (1, 2, 3, 4, 5):
        got = BleuCorpus(hyps + refs, max_order=order).score(np.arange(3), np.arange(3, 6))
        np.testing.assert_allclose(got, _reference(hyps, refs, max_ngram_order=order), atol=1e-9)


def test_packed_sort_and_argsort_agree():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 50, 2000).astype(np.int64)
    large = small * np.int64(2**56)  # too wide to pack with the position: the argsort path
    np.testing.assert_array_equal(_repeated(small), _repeated(large))
    ids_small, n_small = _dense_ids(small)
    ids_large, n_large = _dense_ids(large)
    assert n_small == n_large == len(np.unique(small))
    np.testing.assert_array_equal(ids_small, ids_large)
    np.testing.assert_array_equal(np.unique(small, return_inverse=True)[1].ravel(), ids_small)
    # ranks: each value's occurrences get 0, 1, 2, ... (which occurrence gets which does not matter)
    for keys in (small, large):
        ranks = _rank_among_equal(keys)
        for value in np.unique(keys):
            assert sorted(ranks[keys == value].tolist()) == list(range(int((keys == value).sum())))
