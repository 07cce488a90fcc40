"""Corpus statistics are sums over texts: merged shard statistics equal the whole corpus's, bit for bit,
and the fit finished from them is the local fit (no Ray needed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from textsmooth import KeywordSmoother, TfidfSmoother
from textsmooth.errors import InputError
from textsmooth.targets.base import check_labels
from textsmooth.targets.keyword import TermStatistics


def _corpus(n: int = 200, seed: int = 0) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(80)] + [f"middlesized{i}" for i in range(10)] + ["x" * 40, "ünïcödé"]
    p = 1.0 / np.arange(1, len(words) + 1)
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 20), p=p / p.sum())) for _ in range(n)]
    return texts, [int(i % 4) for i in rng.permutation(n)]


def _statistics(smoother, texts, ids, n_labels) -> TermStatistics:
    return TermStatistics.from_counts(smoother._count(texts, None), np.asarray(ids), n_labels)


def _assert_same(a: TermStatistics, b: TermStatistics) -> None:
    assert a.vocabulary.equals(b.vocabulary)
    fa, fb = a.label_counts.copy(), b.label_counts.copy()
    fa.sort_indices()
    fb.sort_indices()
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(fa, name), getattr(fb, name))
    np.testing.assert_array_equal(a.instances_with_word, b.instances_with_word)
    np.testing.assert_array_equal(a.label_lengths, b.label_lengths)
    assert (a.total_length, a.n_instances) == (b.total_length, b.n_instances)


@pytest.mark.parametrize("cuts", [[100], [1, 2, 3, 150], [0, 0, 60, 60, 199]])
def test_merged_shards_equal_the_whole_corpus(cuts):
    texts, ids = _corpus()
    smoother = KeywordSmoother()
    bounds = list(zip([0, *cuts], [*cuts, len(texts)], strict=True))
    parts = [_statistics(smoother, texts[a:b], ids[a:b], 4) for a, b in bounds]  # empty shards too
    whole = _statistics(smoother, texts, ids, 4)
    _assert_same(TermStatistics.merge(parts), whole)
    # associative: groups of consecutive shards, then the groups
    grouped = [TermStatistics.merge(parts[:1]), TermStatistics.merge(parts[1:])]
    _assert_same(TermStatistics.merge(grouped), whole)


@pytest.mark.parametrize("cls", [KeywordSmoother, TfidfSmoother])
def test_fit_from_merged_statistics_is_the_fit(cls):
    texts, ids = _corpus(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = cls(dtype=np.float64)
        expected = local.fit_transform(texts, ids)
        parts = [_statistics(local, texts[a : a + 37], ids[a : a + 37], 4) for a in range(0, len(texts), 37)]
        _, classes = check_labels(ids)
        finished = cls(dtype=np.float64).fit_statistics(TermStatistics.merge(parts), classes)
        np.testing.assert_array_equal(finished.transform(texts), expected)
    assert finished.mean_length_ == local.mean_length_
    np.testing.assert_array_equal(finished.word_instance_weight_, local.word_instance_weight_)


def test_statistics_that_do_not_fit_are_refused():
    smoother = KeywordSmoother()
    a = _statistics(smoother, ["a b"], [0], 2)
    b = _statistics(smoother, ["c"], [0], 3)
    with pytest.raises(InputError, match="cannot be merged"):
        TermStatistics.merge([a, b])
    with pytest.raises(InputError, match="no statistics"):
        TermStatistics.merge([])
    with pytest.raises(InputError, match="2 labels for 3 classes"):
        smoother.fit_statistics(a, np.arange(3))
    with pytest.raises(InputError, match="label ids"):
        TermStatistics.from_counts(smoother._count(["a", "b"], None), np.array([0]), 2)
