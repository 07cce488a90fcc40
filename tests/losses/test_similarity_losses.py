"""Word-similarity losses over a top-N table, with the stop-word fallback to plain cross-entropy."""

from __future__ import annotations

import math

import losses_reference as ref
import pytest
import torch

from textsmooth.errors import InputError
from textsmooth.losses import (
    SimilaritySoftLabelLoss,
    WeightedCrossEntropy,
    WeightedSimilarityLoss,
    similarity_soft_label_loss,
    stopword_mask,
    weighted_cross_entropy,
    weighted_similarity_loss,
)

F64 = torch.float64
V, N = 7, 3
KINDS = {
    "soft_label": similarity_soft_label_loss,
    "weighted_similarity": weighted_similarity_loss,
    "weighted_cross_entropy": weighted_cross_entropy,
}


def _table() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    neighbors = torch.randint(0, V, (V, N), generator=g)
    neighbors[:, 0] = torch.arange(V)  # each word is its own nearest neighbour (similarity 1)
    sims = torch.rand(V, N, generator=g, dtype=F64) * 0.9
    sims[:, 0] = 1.0
    neighbors[4, 2] = -1  # padding entry
    neighbors[5, 1:] = -1
    sims[6, :] = 0.0  # a word with no usable neighbours: falls back to cross-entropy
    return neighbors, sims


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    z = torch.randn(10, V, generator=g, dtype=F64, requires_grad=True)
    t = torch.tensor([0, 1, 2, 3, 4, 5, 6, -100, 2, 1])
    return z, t


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_matches_reference(kind: str, reduction: str) -> None:
    neighbors, sims = _table()
    if kind != "soft_label":
        sims = sims.clone()
        sims[3, 1] = -0.4  # negative similarities are allowed for the weighted losses
    z, t = _data()
    stop = torch.tensor([2])
    ours = KINDS[kind](z, t, neighbors, sims, stopwords=stop, reduction=reduction).loss
    want = ref.similarity(kind, z, t, neighbors, sims, {2}, reduction=reduction)
    torch.testing.assert_close(ours, want)
    (g1,) = torch.autograd.grad(ours.sum(), z)
    (g2,) = torch.autograd.grad(want.sum(), z)
    torch.testing.assert_close(g1, g2)


def test_stop_words_and_empty_rows_are_plain_cross_entropy() -> None:
    neighbors, sims = _table()
    z, t = _data()
    everything = torch.ones(V, dtype=torch.bool)
    for f in KINDS.values():
        torch.testing.assert_close(f(z, t, neighbors, sims, stopwords=everything).loss, ref.nll(z, t))
    # word 6 has an all-zero row: cross-entropy even without stop words
    only6 = torch.tensor([6])
    for f in KINDS.values():
        torch.testing.assert_close(f(z[6:7], only6, neighbors, sims).loss, ref.nll(z[6:7], only6))


def test_hand_derived_soft_label_and_weighted_similarity() -> None:
    # vocabulary of 3, zero logits: p = 1/3 everywhere. Gold word 0 with neighbours (0, 1), sims (1.0, 0.5).
    neighbors = torch.tensor([[0, 1], [1, 0], [2, 0]])
    sims = torch.tensor([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5]], dtype=F64)
    z = torch.zeros(1, 3, dtype=F64)
    t = torch.tensor([0])
    # soft label: target (2/3, 1/3) -> -(2/3 + 1/3) log(1/3) = log 3
    assert similarity_soft_label_loss(z, t, neighbors, sims).loss.item() == pytest.approx(math.log(3))
    # unnormalised: -(1.0 + 0.5) log(1/3) = 1.5 log 3
    got = similarity_soft_label_loss(z, t, neighbors, sims, normalize=False).loss.item()
    assert got == pytest.approx(1.5 * math.log(3))
    assert weighted_cross_entropy(z, t, neighbors, sims).loss.item() == pytest.approx(1.5 * math.log(3))
    # weighted similarity: -(1.0 * 1/3 + 0.5 * 1/3) = -0.5
    assert weighted_similarity_loss(z, t, neighbors, sims).loss.item() == pytest.approx(-0.5)


def test_gradcheck_and_nll_and_modules() -> None:
    neighbors, sims = _table()
    z, t = _data()
    for f in KINDS.values():
        assert torch.autograd.gradcheck(
            lambda x, f=f: f(x, t, neighbors, sims, stopwords=torch.tensor([1])).loss, (z,)
        )
        out = f(z, t, neighbors, sims)
        torch.testing.assert_close(out.nll, ref.nll(z, t))
    stop = stopword_mask(torch.tensor([1, 3]), V)
    for cls, f in (
        (SimilaritySoftLabelLoss, similarity_soft_label_loss),
        (WeightedSimilarityLoss, weighted_similarity_loss),
        (WeightedCrossEntropy, weighted_cross_entropy),
    ):
        m = cls(neighbors, sims, stopwords=stop)
        assert {"neighbors", "similarities", "stopwords"} <= set(dict(m.named_buffers()))
        torch.testing.assert_close(m(z, t), f(z, t, neighbors, sims, stopwords=stop).loss)


def test_bad_input() -> None:
    neighbors, sims = _table()
    z, t = _data()
    with pytest.raises(InputError, match="neighbors"):
        similarity_soft_label_loss(z, t, neighbors[:5], sims[:5])
    with pytest.raises(InputError, match="similarities"):
        similarity_soft_label_loss(z, t, neighbors, sims[:, :2])
    neg = sims.clone()
    neg[0, 1] = -0.5
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        similarity_soft_label_loss(z, t, neighbors, neg)
    big = sims.clone()
    big[1, 1] = 3.0
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        weighted_similarity_loss(z, t, neighbors, big)
    nb = neighbors.clone()
    nb[0, 1] = V
    with pytest.raises(InputError, match="vocabulary size"):
        weighted_cross_entropy(z, t, nb, sims)
    with pytest.raises(InputError, match="stopwords"):
        weighted_cross_entropy(z, t, neighbors, sims, stopwords=torch.ones(3, dtype=torch.bool))
    with pytest.raises(InputError, match="outside"):
        weighted_cross_entropy(z, t, neighbors, sims, stopwords=torch.tensor([V]))
    with pytest.raises(InputError, match="outside"):
        weighted_cross_entropy(z, t + 10, neighbors, sims)
