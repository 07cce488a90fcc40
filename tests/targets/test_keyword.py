"""KWLS and LS-TFIDF: exactness (authors' fixture, hand computation, loop reference) and properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth import KeywordSmoother, TfidfSmoother
from textsmooth.errors import ConfigError, InputError, LabelError, NotFittedError
from textsmooth.targets.keyword import load_smoother
from textsmooth.text.tokenize import tokenize

from .reference_kwls import reference_kwls


def test_reproduces_authors_generator_with_space_tokenizer(kwls_example):
    texts, labels, reference = kwls_example
    smoother = KeywordSmoother(tokenizer=lambda s: s.split(" "), dtype=np.float64)
    soft = smoother.fit_transform(texts, labels)
    assert soft.shape == reference.shape == (120, 4)
    np.testing.assert_allclose(soft, reference, rtol=0, atol=1e-12)
    # transform() after fit() uses the same statistics, so it reproduces them too
    np.testing.assert_allclose(smoother.transform(texts), reference, rtol=0, atol=1e-12)


def test_named_space_tokenizer_equals_the_callable(kwls_example):
    texts, labels, reference = kwls_example
    soft = KeywordSmoother(tokenizer="space", dtype=np.float64).fit_transform(texts, labels)
    np.testing.assert_allclose(soft, reference, rtol=0, atol=1e-12)


def test_hand_computed_two_document_corpus():
    # class 0: "a a b" (S_0 = 3), class 1: "b c" (S_1 = 2); S_avg = 2.5; N = 2; X_avg = 2.5
    # K_0 = 2 (0.25 + 0.75 * 3 / 2.5) = 2.3 and K_1 = 2 (0.25 + 0.75 * 2 / 2.5) = 1.7
    # WLR[a,0] = (ln 2 + 1) * 2*2/(2+2.3); WLR[b,0] = 1 * 1*2/(1+2.3); WLR[b,1] = 1 * 2/(1+1.7)
    # doc 0 WIR: a -> (ln 2 + 1) * 2*2/(2+2) = ln 2 + 1; b -> 1 * 1*2/(1+2) = 2/3
    idf2 = math.log(2) + 1
    ilr00 = (idf2 * 4 / 4.3 * idf2 + (2 / 3.3) * (2 / 3)) / 2.5
    ilr01 = ((2 / 2.7) * (2 / 3)) / 2.5
    expected0 = np.exp([ilr00, ilr01]) / np.exp([ilr00, ilr01]).sum()
    smoother = KeywordSmoother(tokenizer="space", dtype=np.float64)
    soft = smoother.fit_transform(["a a b", "b c"], [0, 1])
    np.testing.assert_allclose(soft[0], expected0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(smoother.relevance(["a a b"])[0], [ilr00, ilr01], rtol=1e-15)


def _random_corpus(draw_words, n_docs, n_classes, seed):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(draw_words)]
    docs = [" ".join(rng.choice(vocab, size=rng.integers(1, 12))) for _ in range(n_docs)]
    labels = list(rng.permutation(np.arange(n_docs) % n_classes))
    return docs, [int(x) for x in labels]


@pytest.mark.parametrize("ilr_sum", ["distinct", "tokens"])
@pytest.mark.parametrize(("k1", "b", "k2"), [(2.0, 0.75, 2.0), (1.2, 0.0, 0.5), (0.3, 1.0, 8.0)])
def test_matches_loop_reference(ilr_sum, k1, b, k2):
    docs, labels = _random_corpus(30, 40, 3, seed=1)
    tokens = [d.split(" ") for d in docs]
    test_docs = ["w1 w2 w2 unseen", "w29 w0 w0 w0", "nothing known", "w5"]
    ref = reference_kwls(
        tokens, labels, 3, [d.split(" ") for d in test_docs], k1=k1, b=b, k2=k2, ilr_sum=ilr_sum
    )
    smoother = KeywordSmoother(k1=k1, b=b, k2=k2, tokenizer="space", dtype=np.float64, ilr_sum=ilr_sum)
    smoother.fit(docs, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = smoother.transform(test_docs)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got[2], [1 / 3] * 3, atol=1e-15)  # no known word: uniform


def test_tokens_and_distinct_differ_only_when_words_repeat():
    docs, labels = ["x x y", "y z", "z z x"], [0, 1, 1]
    a = KeywordSmoother(tokenizer="space", ilr_sum="distinct", dtype=np.float64).fit(docs, labels)
    b = KeywordSmoother(tokenizer="space", ilr_sum="tokens", dtype=np.float64).fit(docs, labels)
    np.testing.assert_allclose(a.transform(["x y"]), b.transform(["x y"]), atol=1e-15)
    assert not np.allclose(a.transform(["x x y"]), b.transform(["x x y"]))


def test_temperature_sharpens():
    docs, labels = _random_corpus(20, 30, 2, seed=3)
    base = KeywordSmoother(tokenizer="space").fit_transform(docs, labels)
    sharp = KeywordSmoother(tokenizer="space", temperature=0.25).fit_transform(docs, labels)
    assert sharp.max(axis=1).mean() > base.max(axis=1).mean()
    ref = reference_kwls([d.split(" ") for d in docs], labels, 2, temperature=0.25)
    np.testing.assert_allclose(sharp, ref, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    n_docs=st.integers(4, 25),
    n_classes=st.integers(2, 4),
    seed=st.integers(0, 10_000),
)
def test_properties_rows_order_relabelling(n_docs, n_classes, seed):
    docs, labels = _random_corpus(15, max(n_docs, n_classes), n_classes, seed)
    soft = KeywordSmoother(tokenizer="space", dtype=np.float64).fit_transform(docs, labels)
    assert soft.dtype == np.float64
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-12)
    assert (soft > 0).all()
    rng = np.random.default_rng(seed)
    # invariance to the order of training instances
    order = rng.permutation(len(docs))
    shuffled = KeywordSmoother(tokenizer="space", dtype=np.float64).fit(
        [docs[i] for i in order], [labels[i] for i in order]
    )
    np.testing.assert_allclose(shuffled.transform(docs), soft, atol=1e-12)
    # equivariance to relabelling classes: columns follow the permutation
    perm = rng.permutation(n_classes)
    relabelled = KeywordSmoother(tokenizer="space", dtype=np.float64).fit_transform(
        docs, [int(perm[y]) for y in labels]
    )
    np.testing.assert_allclose(relabelled[:, perm], soft, atol=1e-12)


def test_string_labels_are_sorted_into_classes():
    smoother = KeywordSmoother()
    soft = smoother.fit_transform(["good film", "bad film", "good fun"], ["pos", "neg", "pos"])
    assert smoother.classes_.tolist() == ["neg", "pos"]
    assert soft.argmax(axis=1).tolist() == [1, 0, 1]
    assert soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1, atol=1e-6)


def test_unseen_words_contribute_nothing():
    smoother = KeywordSmoother(tokenizer="space", dtype=np.float64).fit(["a b", "c d"], [0, 1])
    np.testing.assert_allclose(smoother.transform(["a zzz yyy"]), smoother.transform(["a"]), atol=1e-15)


def test_empty_text_gets_uniform_label_with_warning():
    smoother = KeywordSmoother().fit(["a b", "c d", "e"], [0, 1, 2])
    with pytest.warns(UserWarning, match=r"rows 2"):
        soft = smoother.transform(["a", ""])
    np.testing.assert_allclose(soft[1], [1 / 3] * 3, atol=1e-7)


def test_explain_contributions_sum_to_relevance():
    docs = ["the match was won by the team", "stocks fell as the market closed", "the team lost the match"]
    smoother = KeywordSmoother().fit(docs, ["sport", "business", "sport"])
    text = "the team won while stocks fell"
    explanations = smoother.explain(text, top=50)
    relevance = smoother.relevance([text])[0]
    probs = smoother.transform([text])[0]
    for m, e in enumerate(explanations):
        assert e.name == ["business", "sport"][m]
        assert math.isclose(sum(v for _, v in e.words), relevance[m], rel_tol=1e-12)
        assert math.isclose(e.probability, probs[m], rel_tol=1e-6)
    top_sport = [w for w, _ in explanations[1].words[:2]]
    assert "team" in top_sport
    assert explanations[0].words[0][0] in {"stocks", "fell"}


def test_save_and_load_roundtrip(tmp_path, kwls_example):
    texts, labels, _ = kwls_example
    smoother = KeywordSmoother(tokenizer="space", dtype=np.float64).fit(
        texts, labels, label_names=list("ABCD")
    )
    path = smoother.save(tmp_path / "kwls.npz")
    loaded = load_smoother(path)
    assert isinstance(loaded, KeywordSmoother)
    assert loaded.get_params()["k1"] == 2.0 and loaded.label_names_ == list("ABCD")
    np.testing.assert_array_equal(loaded.transform(texts[:20]), smoother.transform(texts[:20]))
    # a tampered file is detected through its manifest, never half-read
    path.write_bytes(path.read_bytes()[:-10])
    from textsmooth.errors import StaleArtifactError

    with pytest.raises(StaleArtifactError, match="do not match its manifest"):
        load_smoother(path)


def test_tfidf_smoother_formula():
    docs, labels = ["a a b", "b c"], [0, 1]
    smoother = TfidfSmoother(tokenizer="space", dtype=np.float64)
    soft = smoother.fit_transform(docs, labels)
    idf2 = math.log(2) + 1
    # WLC = 1 + ln f(w, X_m); WIC = 1 + ln f(w, x_i); same idfs as KWLS
    ilr00 = ((1 + math.log(2)) * idf2 * (1 + math.log(2)) * idf2 + 1 * 1 * 1 * 1) / 2.5
    ilr01 = (1 * 1 * 1 * 1) / 2.5
    expected = np.exp([ilr00, ilr01]) / np.exp([ilr00, ilr01]).sum()
    np.testing.assert_allclose(soft[0], expected, atol=1e-15)
    raw = TfidfSmoother(tf="raw", tokenizer="space", dtype=np.float64).fit_transform(docs, labels)
    ilr00_raw = (2 * idf2 * 2 * idf2 + 1 * 1 * 1 * 1) / 2.5
    assert math.isclose(raw[0, 0], 1 / (1 + math.exp(ilr01 - ilr00_raw)), rel_tol=1e-14)


def test_default_tokenizer_lowercases_words():
    assert tokenize("Don't STOP--it's 'great'! Café") == ["don't", "stop", "it's", "great", "café"]
    smoother = KeywordSmoother().fit(["GREAT film", "awful film"], [1, 0])
    np.testing.assert_allclose(smoother.transform(["great"]), smoother.transform(["Great!"]))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InputError, match="2 texts but 3 labels"):
        KeywordSmoother().fit(["a", "b"], [0, 1, 1])
    with pytest.raises(LabelError, match=r"row 2.*missing"):
        KeywordSmoother().fit(["a", "b"], [0, float("nan")])
    with pytest.raises(LabelError, match=r"row 2.*missing"):
        KeywordSmoother().fit(["a", "b"], ["x", None])
    with pytest.raises(LabelError, match=r"row 3.*outside 0..1"):
        KeywordSmoother().fit(["a", "b", "c"], [0, 1, 2], n_classes=2)
    with pytest.raises(LabelError, match=r"class\(es\) 1 have no instance"):
        KeywordSmoother().fit(["a", "b"], [0, 2])
    with pytest.raises(InputError, match=r"row 2.*not a string"):
        KeywordSmoother().fit(["a", None], [0, 1])
    with pytest.raises(InputError, match="no training text has any token"):
        KeywordSmoother().fit(["", "!!"], [0, 1])
    with pytest.raises(ConfigError, match="b must be in"):
        KeywordSmoother(b=2).fit(["a", "b"], [0, 1])
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        KeywordSmoother(tokenizer="bpe").fit(["a", "b"], [0, 1])
    with pytest.raises(NotFittedError):
        KeywordSmoother().transform(["a"])


def test_sklearn_clone_and_params():
    from sklearn.base import clone

    smoother = KeywordSmoother(k1=1.5, temperature=0.5)
    copy = clone(smoother)
    assert copy.get_params() == smoother.get_params() and copy is not smoother
    assert "KeywordSmoother(k1=1.5" in repr(smoother)
    smoother.set_params(k2=3.0)
    assert smoother.k2 == 3.0
    with pytest.raises(ConfigError, match="no parameter"):
        smoother.set_params(k3=1)


@pytest.mark.parametrize("dense_cells", [10**9, 0])  # dense WLR operand, and the sparse product
def test_row_blocks_give_exactly_one_block(monkeypatch, dense_cells):
    import textsmooth.targets.keyword as keyword

    docs, labels = _random_corpus(40, 60, 5, seed=7)
    monkeypatch.setattr(keyword, "_DENSE_RELEVANCE_CELLS", dense_cells)
    monkeypatch.setattr(keyword, "_BLOCK_BYTES", 1 << 40)  # one block
    smoother = KeywordSmoother(tokenizer="space", dtype=np.float64).fit(docs, labels)
    one_soft, one_ilr = smoother.transform(docs), smoother.relevance(docs)
    monkeypatch.setattr(keyword, "_BLOCK_BYTES", 1)  # one row per block
    assert smoother._block_rows() == 1
    np.testing.assert_array_equal(smoother.transform(docs), one_soft)
    np.testing.assert_array_equal(smoother.relevance(docs), one_ilr)
    np.testing.assert_array_equal(smoother.fit_transform(docs, labels), one_soft)
    ref = reference_kwls([d.split(" ") for d in docs], labels, 5)
    np.testing.assert_allclose(one_soft, ref, rtol=0, atol=1e-13)


def test_output_size_is_checked_before_starting():
    docs = [f"w{i} common" for i in range(50)]
    smoother = KeywordSmoother(tokenizer="space", max_memory_gib=1e-6).fit(docs, list(range(50)))
    with pytest.raises(InputError, match=r"soft labels for 50 texts x 50 classes needs about .* GiB") as info:
        smoother.transform(docs)
    assert "max_memory_gib" in str(info.value) and "batches of at most" in str(info.value)
    with pytest.raises(InputError, match="instance-label relevance"):
        smoother.relevance(docs)
    smoother.set_params(max_memory_gib=1.0)
    assert smoother.transform(docs).shape == (50, 50)
    with pytest.raises(ConfigError, match="max_memory_gib"):
        KeywordSmoother(max_memory_gib=0).fit(docs, list(range(50)))


def test_byte_level_words_path_equals_the_regex_path():
    # non-ASCII texts take the Arrow regex path for their non-ASCII pieces; a callable runs the regex
    # tokenizer on every text: vocabulary, counts and soft labels must be identical
    docs = ["Café au LAIT, it's 'good'", "naïve İstanbul Kelvin \u212a", "plain ascii text", "über BIG big"]
    labels = [0, 1, 0, 1]
    fast = KeywordSmoother(dtype=np.float64).fit(docs, labels)
    slow = KeywordSmoother(tokenizer=tokenize, dtype=np.float64).fit(docs, labels)
    assert fast.vocabulary_.equals(slow.vocabulary_)
    np.testing.assert_array_equal(fast.transform(docs), slow.transform(docs))


@pytest.mark.parametrize("smoother", [KeywordSmoother(k2=1.3), TfidfSmoother(), TfidfSmoother(tf="raw")])
def test_count_table_gives_exactly_the_formula(smoother):
    # instance term weights go through a table of the distinct counts: bit-identical to the formula
    counts = np.array([1.0, 2.0, 1.0, 7.0, 3.0, 2.0, 65.0])
    np.testing.assert_array_equal(
        smoother._instance_term_weight_of_counts(counts), smoother._instance_term_weight(counts)
    )
    odd = np.array([1.0, 2.5, 1e7])  # not small integers: the formula itself
    np.testing.assert_array_equal(
        smoother._instance_term_weight_of_counts(odd), smoother._instance_term_weight(odd)
    )


def test_label_counts_are_the_per_label_word_sums():
    texts = ["a b a", "b c", "c c d", "a d", "e"]
    labels = [2, 0, 1, 2, 0]
    smoother = KeywordSmoother(tokenizer="space").fit(texts, labels)
    vocab = smoother.vocabulary_.to_pylist()
    s = np.array([smoother.label_lengths_[m] for m in range(3)])
    np.testing.assert_array_equal(s, [3.0, 3.0, 5.0])
    # WLR is nonzero exactly where a label's texts contain the word
    wlr = smoother.word_label_relevance_.toarray()
    for m in range(3):
        words = {w for t, y in zip(texts, labels, strict=True) if y == m for w in t.split(" ")}
        assert {vocab[j] for j in np.flatnonzero(wlr[:, m])} == words


def test_threads_do_not_change_soft_labels(monkeypatch):
    # row blocks run on threads: 1 or several threads, few or many blocks, give the same bits
    import textsmooth.targets.keyword as keyword

    docs, labels = _random_corpus(60, 80, 4, seed=3)
    results = []
    for jobs, block_bytes in ((1, 1 << 40), (3, 1 << 40), (2, 1), (7, 1)):
        monkeypatch.setattr(keyword, "resolve_jobs", lambda _, jobs=jobs: jobs)
        monkeypatch.setattr(keyword, "_BLOCK_BYTES", block_bytes)
        smoother = KeywordSmoother(tokenizer="space", dtype=np.float64)
        results.append((smoother.fit_transform(docs, labels), smoother.relevance(docs)))
    for soft, ilr in results[1:]:
        np.testing.assert_array_equal(soft, results[0][0])
        np.testing.assert_array_equal(ilr, results[0][1])


def test_word_label_relevance_is_canonical_csr():
    docs, labels = _random_corpus(50, 40, 6, seed=11)
    wlr = KeywordSmoother(tokenizer="space").fit(docs, labels).word_label_relevance_
    assert wlr.has_sorted_indices
    for a, b in zip(wlr.indptr[:-1], wlr.indptr[1:], strict=True):
        assert (np.diff(wlr.indices[a:b]) > 0).all()


@pytest.mark.parametrize("cls", [KeywordSmoother, TfidfSmoother])
def test_n_jobs_bounds_the_threads_and_changes_no_bit(kwls_example, monkeypatch, tmp_path, cls):
    """Every thread pool of a fit / transform gets at most ``n_jobs`` threads (the real pool, its
    arguments recorded); the soft labels and the saved file are the same for every ``n_jobs``."""
    from textsmooth.targets import keyword
    from textsmooth.text import counts

    texts, labels, _ = kwls_example
    asked: list[int] = []
    for module in (keyword, counts):
        real = module.map_threads

        def spy(fn, items, n_jobs, real=real):
            asked.append(n_jobs)
            return real(fn, items, n_jobs)

        monkeypatch.setattr(module, "map_threads", spy)
    soft = {}
    for n_jobs in (1, 3, None):
        asked.clear()
        smoother = cls(n_jobs=n_jobs)
        soft[n_jobs] = smoother.fit_transform(texts * 50, labels * 50)
        assert asked and max(asked) <= (n_jobs or 10**6), (n_jobs, asked)
        smoother.save(tmp_path / f"{n_jobs}.npz")
    assert len({a.tobytes() for a in soft.values()}) == 1
    saved = {(tmp_path / f"{n}.npz").read_bytes() for n in (1, 3, None)}
    assert len(saved) == 1 and load_smoother(tmp_path / "1.npz").n_jobs is None
    with pytest.raises(ConfigError, match="n_jobs must be an integer >= 1"):
        cls(n_jobs=0).fit(texts, labels)
