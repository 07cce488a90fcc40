"""Within-batch (Guo et al. 2018) and token-swap (Elbayad et al. 2018) related targets."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from textsmooth.errors import ConfigError, InputError
from textsmooth.sequence import TokenSwapTargets, WithinBatchTargets, within_batch_related


def test_within_batch_targets_are_the_other_members_of_the_batch(en):
    targets = en[:50]
    gen = WithinBatchTargets(batch_size=8, seed=3).fit(targets)
    batches = gen.batches_
    assert np.bincount(batches).max() == 8
    lists = gen.table_.as_lists()
    for t in range(len(targets)):
        members = set(np.flatnonzero(batches == batches[t]).tolist()) - {t}
        assert set(lists[t]) == members
    metric = BLEU(effective_order=True)
    tb = gen.table_
    want = [
        metric.sentence_score(targets[j], [targets[t]]).score
        for t, j in zip(tb.target_id, tb.neighbor_id, strict=True)
    ]
    np.testing.assert_allclose(tb.bleu, want, atol=1e-9)
    again = WithinBatchTargets(batch_size=8, seed=3).fit(targets).table_
    np.testing.assert_array_equal(again.neighbor_id, tb.neighbor_id)


def test_within_batch_explicit_batches_and_keep(en):
    gen = WithinBatchTargets(bleu_order=None, keep=2).fit(en[:6], batches=np.array([0, 0, 0, 1, 1, 2]))
    assert gen.table_.as_lists() == [[1, 2], [0, 2], [0, 1], [4], [3], []]
    assert within_batch_related(3).tolist() == [[1, 2], [0, 2], [0, 1]]
    with pytest.raises(InputError, match="batches"):
        WithinBatchTargets().fit(en[:6], batches=np.zeros(5))
    with pytest.raises(ConfigError, match="batch_size"):
        WithinBatchTargets(batch_size=0).fit(en[:6])


def test_token_swap_copies_use_the_targets_own_tokens_and_are_seeded(en):
    targets = [*en[:40], "dog dog dog"]
    gen = TokenSwapTargets(n_samples=4, seed=7).fit(targets)
    tb = gen.table_
    assert (tb.neighbor_id == -1).all() and np.isnan(tb.cosine).all()
    related = gen.related()
    assert related[-1] == []  # fewer than two distinct tokens: nothing to swap
    for t, copies in enumerate(related[:-1]):
        tokens = targets[t].split()
        assert len(copies) == 4
        for copy in copies:
            words = copy.split()
            assert len(words) == len(tokens)
            assert set(words) <= set(tokens)
            assert sum(a != b for a, b in zip(words, tokens, strict=True)) >= 1
    metric = BLEU(effective_order=True)
    want = [
        metric.sentence_score(text, [targets[t]]).score
        for t, text in zip(tb.target_id, tb.neighbor_text, strict=True)
    ]
    np.testing.assert_allclose(tb.bleu, want, atol=1e-9)
    for t in range(len(targets) - 1):
        assert np.all(np.diff(tb.bleu[tb.target_id == t]) <= 0)
    again = TokenSwapTargets(n_samples=4, seed=7).fit(targets)
    assert again.related() == related
    other = TokenSwapTargets(n_samples=4, seed=8).fit(targets)
    assert other.related() != related
    kept = TokenSwapTargets(n_samples=4, seed=7, keep=2).fit(targets)
    assert kept.related()[:-1] == [r[:2] for r in related[:-1]]


def test_token_swap_bad_parameters(en):
    with pytest.raises(ConfigError, match="tau"):
        TokenSwapTargets(tau=0).fit(en[:3])
    with pytest.raises(ConfigError, match="n_samples"):
        TokenSwapTargets(n_samples=0).fit(en[:3])
