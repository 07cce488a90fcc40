"""sentence_bleu / BleuCorpus equal sacrebleu's sentence BLEU (effective order) value for value."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU

from textsmooth.errors import ConfigError, InputError
from textsmooth.text.bleu import BleuCorpus, bleu_from_stats, sentence_bleu, sentence_bleu_many

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "multi30k_sample"
SHARED = REPO.parent / "shared" / "data" / "multi30k"
TOL = 1e-9

SMOOTHINGS = [("exp", None), ("floor", None), ("floor", 0.5), ("add-k", None), ("add-k", 2.0), ("none", None)]


def _reference(hyps, refs, **kw):
    metric = BLEU(
        max_ngram_order=kw.get("max_order", 4),
        effective_order=True,
        smooth_method=kw.get("smooth_method", "exp"),
        smooth_value=kw.get("smooth_value"),
        tokenize=kw.get("tokenize", "13a"),
        lowercase=kw.get("lowercase", False),
    )
    return np.array([metric.sentence_score(h, [r]).score for h, r in zip(hyps, refs, strict=True)])


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def _real_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    en = _lines(SAMPLE / "train.en")
    alt = [line for k in range(1, 6) for line in _lines(SAMPLE / f"task2.train.{k}.en")]
    rng = random.Random(seed)
    hyps, refs = [], []
    for _ in range(n):
        i = rng.randrange(len(en))
        mode = rng.random()
        if mode < 0.4:  # a paraphrase of the same image: many partial matches
            hyps.append(alt[rng.randrange(5) * len(en) + i])
        elif mode < 0.5:
            hyps.append(en[i])  # identical
        else:
            hyps.append(en[rng.randrange(len(en))])
        refs.append(en[i])
    return hyps, refs


@pytest.mark.parametrize("max_order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("smooth_method", "smooth_value"), SMOOTHINGS)
def test_real_multi30k_pairs_match_sacrebleu(max_order, smooth_method, smooth_value):
    hyps, refs = _real_pairs(400, seed=max_order)
    kw = dict(max_order=max_order, smooth_method=smooth_method, smooth_value=smooth_value)
    ours = sentence_bleu(hyps, refs, **kw)
    np.testing.assert_allclose(ours, _reference(hyps, refs, **kw), rtol=0, atol=TOL)


@pytest.mark.parametrize("tokenize", ["13a", "intl", "char", "none", "zh"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_tokenisers_and_case_match_sacrebleu(tokenize, lowercase):
    hyps, refs = _real_pairs(150, seed=7)
    de = _lines(SAMPLE / "train.de")[:150]
    hyps, refs = hyps + de[::-1], refs + de
    kw = dict(tokenize=tokenize, lowercase=lowercase)
    np.testing.assert_allclose(sentence_bleu(hyps, refs, **kw), _reference(hyps, refs, **kw), atol=TOL)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data/multi30k is not beside the repository")
def test_full_multi30k_random_pairs_match_sacrebleu():
    en = _lines(SHARED / "task1" / "raw" / "train.en.gz")
    alt = _lines(SHARED / "task2" / "raw" / "train.3.en.gz")
    rng = random.Random(3)
    idx = [rng.randrange(len(en)) for _ in range(1500)]
    hyps = [alt[i] if k % 2 else en[rng.randrange(len(en))] for k, i in enumerate(idx)]
    refs = [en[i] for i in idx]
    for order in (3, 4, 5):
        ours = sentence_bleu(hyps, refs, max_order=order)
        np.testing.assert_allclose(ours, _reference(hyps, refs, max_order=order), atol=TOL)


# Tokens chosen to exercise 13a: punctuation, digits with . , -, entities, repeated n-grams, case.
_TOKENS = ["a", "A", "the", "dog", "dog.", "3.5", "1,000", "x-y", "9-", "(", ")", "&amp;", "&", '"', "."]
_TOKENS += [",", "!"]
_sentence = st.lists(st.sampled_from(_TOKENS), max_size=14).map(" ".join) | st.text(max_size=25)
_pairs = st.lists(st.tuples(_sentence, _sentence), min_size=1, max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=_pairs,
    max_order=st.integers(1, 5),
    smoothing=st.sampled_from(SMOOTHINGS),
    lowercase=st.booleans(),
)
def test_property_random_pairs_match_sacrebleu(pairs, max_order, smoothing, lowercase):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    kw = dict(max_order=max_order, smooth_method=smoothing[0], smooth_value=smoothing[1], lowercase=lowercase)
    ours = sentence_bleu(hyps, refs, **kw)
    np.testing.assert_allclose(ours, _reference(hyps, refs, **kw), rtol=0, atol=TOL)


def test_corpus_scores_any_pairs_and_lower_orders_reuse_counts():
    hyps, refs = _real_pairs(200, seed=11)
    corpus = BleuCorpus(refs + hyps, max_order=5)
    n = len(refs)
    for order in (2, 4, 5):
        ours = corpus.score(np.arange(n, 2 * n), np.arange(n), max_order=order)
        np.testing.assert_allclose(ours, _reference(hyps, refs, max_order=order), atol=TOL)
    assert corpus.n_unique_ <= 2 * n
    assert corpus.lengths_.shape == (2 * n,)


def test_score_candidates_is_the_reranking_form():
    en = _lines(SAMPLE / "train.en")[:60]
    corpus = BleuCorpus(en)
    rng = np.random.default_rng(0)
    cands = rng.integers(0, len(en), size=(len(en), 7))
    cands[0, 3] = -1  # padding
    got = corpus.score_candidates(np.arange(len(en)), cands)
    assert np.isnan(got[0, 3])
    for t in (0, 5, 59):
        want = _reference([en[c] for c in cands[t] if c >= 0], [en[t]] * int((cands[t] >= 0).sum()))
        np.testing.assert_allclose(got[t][cands[t] >= 0], want, atol=TOL)
    many = sentence_bleu_many(en[1], [en[c] for c in cands[1]])
    np.testing.assert_allclose(many, got[1], atol=TOL)


def test_empty_and_edge_sentences():
    hyps = ["", "a", "", "   ", "a a a a", "the cat"]
    refs = ["", "", "a", "a", "a", "the cat ."]
    np.testing.assert_allclose(sentence_bleu(hyps, refs), _reference(hyps, refs), atol=TOL)
    assert sentence_bleu([], []).shape == (0,)
    assert BleuCorpus([]).n_unique_ == 0


def test_bad_input_is_named():
    with pytest.raises(InputError, match="differ in length"):
        sentence_bleu(["a"], ["a", "b"])
    with pytest.raises(InputError, match=r"references\[1\]"):
        sentence_bleu(["a", "b"], ["a", None])
    with pytest.raises(InputError, match="not one string"):
        sentence_bleu("a b", "a b")
    with pytest.raises(ConfigError, match="smooth_method"):
        sentence_bleu(["a"], ["a"], smooth_method="laplace")
    with pytest.raises(ConfigError, match="tokenize"):
        sentence_bleu(["a"], ["a"], tokenize="moses")
    with pytest.raises(ConfigError, match="max_order"):
        sentence_bleu(["a"], ["a"], max_order=0)
    corpus = BleuCorpus(["a b", "b c"], max_order=2)
    with pytest.raises(InputError, match="hyp_ids"):
        corpus.score([2], [0])
    with pytest.raises(ConfigError, match="max_order"):
        corpus.score([1], [0], max_order=3)
    with pytest.raises(InputError):
        bleu_from_stats(np.zeros(3), np.zeros(3), np.zeros(3))


def test_public_import_path():
    from textsmooth.text import BleuCorpus as Corpus
    from textsmooth.text import sentence_bleu as public

    assert public is sentence_bleu and Corpus is BleuCorpus


def test_ngram_ids_do_not_collide_when_the_vocabulary_outnumbers_the_lower_order_ngrams():
    # found by hypothesis in CI: "d x A a" and "x A a q" shared one 4-gram id (key = gram * n_ids + token)
    hyps, refs = ["the dog. A a the", "q dog x A a q"], ["dog. A a", "dog x A a"]
    np.testing.assert_allclose(
        sentence_bleu(hyps, refs, max_order=4), _reference(hyps, refs), rtol=0, atol=TOL
    )
