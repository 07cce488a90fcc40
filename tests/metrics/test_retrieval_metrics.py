"""Recall@k against a plain loop reference, in every accepted input form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth.errors import ConfigError, InputError
from textsmooth.metrics import recall_at_k, recall_at_k_per_query


def loop_recall(scores, relevant_sets, k):
    total = 0.0
    for row, rel in zip(scores, relevant_sets, strict=True):
        # best first; equal scores: lower candidate id first
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        total += len(set(order[:k]) & set(rel)) / len(set(rel))
    return total / len(scores)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.integers(1, 15), st.integers(0, 10_000), st.booleans())
def test_scores_match_loop(n_queries, n_candidates, seed, ties):
    rng = np.random.default_rng(seed)
    scores = (
        rng.integers(0, 3, size=(n_queries, n_candidates))
        if ties
        else rng.normal(size=(n_queries, n_candidates))
    )
    scores = scores.astype(np.float64)
    rel_sets = [
        rng.choice(n_candidates, size=rng.integers(1, n_candidates + 1), replace=False).tolist()
        for _ in range(n_queries)
    ]
    mask = np.zeros((n_queries, n_candidates), dtype=bool)
    for q, rel in enumerate(rel_sets):
        mask[q, rel] = True
    ks = sorted({1, min(3, n_candidates), n_candidates})
    ours = recall_at_k(rel_sets, ks, scores=scores)
    for k in ks:
        expected = loop_recall(scores.tolist(), rel_sets, k)
        assert ours[k] == pytest.approx(expected, abs=1e-12)
        assert recall_at_k(mask, k, scores=scores) == pytest.approx(expected, abs=1e-12)
        ranked = np.argsort(-scores, axis=1, kind="stable")
        assert recall_at_k(rel_sets, k, ranked_ids=ranked) == pytest.approx(expected, abs=1e-12)
    assert ours[n_candidates] == 1.0  # everything is retrieved at k = M


def test_single_relevant_forms_and_padding():
    ranked = np.array([[3, 1, -1], [0, 2, 1], [5, 4, 2]])
    # one relevant id per query (1-D) = hit rate
    assert recall_at_k([1, 1, 7], 2, ranked_ids=ranked) == pytest.approx(1 / 3)
    assert recall_at_k([1, 1, 7], 3, ranked_ids=ranked) == pytest.approx(2 / 3)
    # 2-D integer ids with -1 padding and a repeated id (counted once)
    rel = np.array([[1, -1], [2, 2], [4, 5]])
    np.testing.assert_allclose(recall_at_k_per_query(rel, 1, ranked_ids=ranked), [0.0, 0.0, 0.5])
    np.testing.assert_allclose(recall_at_k_per_query(rel, 2, ranked_ids=ranked), [1.0, 1.0, 1.0])
    # ragged lists, tensors
    import torch

    out = recall_at_k([[1, 3], [9], {5, 4, 2}], [1, 3], ranked_ids=torch.from_numpy(ranked))
    assert out == {1: pytest.approx((0.5 + 0 + 1 / 3) / 3), 3: pytest.approx((1 + 0 + 1) / 3)}


def test_bad_input():
    scores = np.zeros((2, 3))
    with pytest.raises(InputError, match="exactly one"):
        recall_at_k([0, 1], 1)
    with pytest.raises(InputError, match="exactly one"):
        recall_at_k([0, 1], 1, scores=scores, ranked_ids=[[0], [1]])
    with pytest.raises(InputError, match="larger than the 3 candidates"):
        recall_at_k([0, 1], 4, scores=scores)
    with pytest.raises(InputError, match="depth"):
        recall_at_k([0, 1], 2, ranked_ids=[[0], [1]])
    with pytest.raises(InputError, match="query 1 has no relevant"):
        recall_at_k([[0], []], 1, scores=scores)
    with pytest.raises(InputError, match="3 queries"):
        recall_at_k([0, 1, 2], 1, scores=scores)
    with pytest.raises(InputError, match="out of range"):
        recall_at_k([0, 3], 1, scores=scores)
    with pytest.raises(InputError, match="columns"):
        recall_at_k(np.ones((2, 4), dtype=bool), 1, scores=scores)
    with pytest.raises(InputError, match="repeats"):
        recall_at_k([0, 1], 2, ranked_ids=[[0, 0], [1, 2]])
    with pytest.raises(InputError, match="finite"):
        recall_at_k([0, 1], 1, scores=[[np.nan, 0, 0], [0, 0, 0]])
    with pytest.raises(ConfigError, match="k must"):
        recall_at_k([0, 1], 0, scores=scores)
    with pytest.raises(ConfigError, match="k must"):
        recall_at_k([0, 1], [], scores=scores)
