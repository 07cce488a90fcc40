"""Word-similarity reconstruction losses (the similarity-based reconstruction loss poster).

Each vocabulary word ``w`` has a row in a table of its top-N most similar words: ``neighbors[w]`` (indices,
negative for padding) and ``similarities[w]`` (e.g. cosine similarities of word vectors, in [-1, 1]). A table
built by nearest-neighbour search over the whole vocabulary lists ``w`` itself first (similarity 1), which is
what the poster's "top N closest words" counts. Target words in the stop-word set, and words whose table row
is empty, fall back to plain cross-entropy, as in the poster ("we apply a regular cross entropy loss for
reconstructing of these words"). Words outside a row's top-N have similarity 0.

The poster's formulas did not survive text extraction; they are restated here from its text and figure 1
(p = softmax over the vocabulary, y the gold word, s_k = sim(y, idx_k) over the top-N of y):

* soft-label loss:       ``-sum_k s_k / (sum_k' s_k') log p[idx_k]`` (``normalize=False`` drops the division,
  which the poster's footnote reports as harmless);
* weighted similarity:   ``-sum_k s_k p[idx_k]`` (linear in the probabilities; bounded, in [-1, 1] for a
  row of similarities in [-1, 1]);
* weighted cross-entropy: ``-sum_k s_k log p[idx_k]`` (a cross-entropy with unnormalised, possibly negative
  weights: a negative similarity rewards pushing that word's probability down without bound, so keep the
  table's similarities non-negative unless that is intended).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from textsmooth.errors import InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    as_tensor_arg,
    check_finite_logits,
    check_reduction,
    close_loss,
    flatten_logits,
    prepare_target,
)
from textsmooth.losses._kernel import compute_dtype, row_stats

__all__ = [
    "SimilaritySoftLabelLoss",
    "WeightedCrossEntropy",
    "WeightedSimilarityLoss",
    "similarity_soft_label_loss",
    "stopword_mask",
    "weighted_cross_entropy",
    "weighted_similarity_loss",
]

_Kind = Literal["soft_label", "weighted_similarity", "weighted_cross_entropy"]


def stopword_mask(stopwords: Tensor | None, vocab_size: int, device: torch.device | None = None) -> Tensor:
    """A ``(V,)`` bool mask from a bool mask or a 1-D tensor of word ids (``None``: no stop words)."""
    if stopwords is None:
        return torch.zeros(vocab_size, dtype=torch.bool, device=device)
    as_tensor_arg("stopwords", stopwords)
    if stopwords.dtype == torch.bool:
        if tuple(stopwords.shape) != (vocab_size,):
            raise InputError(
                f"a bool stopwords mask must have shape ({vocab_size},), got {tuple(stopwords.shape)}"
            )
        return stopwords.to(device) if device is not None else stopwords
    if stopwords.is_floating_point() or stopwords.dim() != 1:
        raise InputError("stopwords must be a (V,) bool mask or a 1-D tensor of integer word ids")
    ids = stopwords.long()
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise InputError(f"stopwords holds word ids outside [0, {vocab_size})")
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=ids.device)
    mask[ids] = True
    return mask.to(device) if device is not None else mask


class _Rows(NamedTuple):
    z: Tensor
    batch_shape: tuple[int, ...]
    target: Tensor
    valid: Tensor
    index: Tensor  # (P, 1 + N): gold first, then neighbours (padding -> 0)
    sims: Tensor  # (P, N), 0 at padding
    fallback: Tensor  # (P,) plain cross-entropy for this position


def _prepare(
    kind: _Kind,
    logits: Tensor,
    target: Tensor,
    neighbors: Tensor,
    similarities: Tensor,
    stopwords: Tensor | None,
    ignore_index: int,
    validate: bool,
) -> _Rows:
    z, batch_shape = flatten_logits(logits)
    V = z.shape[1]
    t, valid = prepare_target(target, batch_shape, V, ignore_index, validate)
    as_tensor_arg("neighbors", neighbors)
    as_tensor_arg("similarities", similarities)
    if neighbors.dim() != 2 or neighbors.shape[0] != V or neighbors.is_floating_point():
        raise InputError(
            f"neighbors must be an integer table of shape ({V}, N) (one row per vocabulary word), "
            f"got {tuple(neighbors.shape)} {neighbors.dtype}"
        )
    if tuple(similarities.shape) != tuple(neighbors.shape) or not similarities.is_floating_point():
        raise InputError(
            f"similarities must be a floating table of the neighbors' shape {tuple(neighbors.shape)}, "
            f"got {tuple(similarities.shape)} {similarities.dtype}"
        )
    cdt = compute_dtype(z.dtype)
    idx = neighbors.to(t.device)[t].long()
    sims = similarities.to(device=t.device)[t].to(cdt)
    pad = idx < 0
    sims = torch.where(pad, torch.zeros((), dtype=cdt, device=sims.device), sims)
    if validate:
        used = valid[:, None] & ~pad
        if bool((used & (idx >= V)).any()):
            raise InputError(f"neighbors holds word ids >= the vocabulary size {V} (use -1 for padding)")
        low = 0.0 if kind == "soft_label" else -1.0
        out = used & (~torch.isfinite(sims) | (sims < low - 1e-3) | (sims > 1.0 + 1e-3))
        if bool(out.any()):
            raise InputError(
                f"similarities used by this batch must lie in [{low:g}, 1] "
                f"({int(out.any(dim=1).sum())} position(s) do not)",
                hint="clamp negative similarities to 0 for the soft-label loss"
                if kind == "soft_label"
                else None,
            )
    empty = (sims == 0).all(dim=1)
    fallback = stopword_mask(stopwords, V, t.device)[t] | empty
    index = torch.cat([t[:, None], torch.where(pad, torch.zeros_like(idx), idx)], dim=1)
    return _Rows(z, batch_shape, t, valid, index, sims, fallback)


def _similarity_loss(
    kind: _Kind,
    logits: Tensor,
    target: Tensor,
    neighbors: Tensor,
    similarities: Tensor,
    *,
    stopwords: Tensor | None,
    normalize: bool,
    ignore_index: int,
    reduction: Reduction,
    num_items: NumItems,
    validate: bool,
) -> LossOutput:
    check_reduction(reduction, num_items)
    r = _prepare(kind, logits, target, neighbors, similarities, stopwords, ignore_index, validate)
    stats = row_stats(r.z, index=r.index, finite=validate, log_probs=kind == "weighted_similarity")
    if stats.finite is not None:
        check_finite_logits("logits", stats.finite | ~r.valid)
    assert stats.gathered is not None
    lse = stats.lse
    gold = stats.gathered[:, 0]
    near = stats.gathered[:, 1:]
    ce = lse - gold
    if kind == "weighted_similarity":
        assert stats.log_probs is not None
        similar = -(r.sims * torch.exp(stats.log_probs[:, 1:])).sum(dim=1)
    else:
        w = r.sims
        if kind == "soft_label" and normalize:
            w = w / torch.where(r.fallback, 1.0, w.sum(dim=1))[:, None]
        similar = w.sum(dim=1) * lse - (w * near).sum(dim=1)
    rows = torch.where(r.fallback, ce, similar)
    return close_loss(rows, r.valid, ce, reduction=reduction, num_items=num_items, batch_shape=r.batch_shape)


_DOC_ARGS = """
    Args:
        logits: ``(..., V)`` over the vocabulary; target: ``(...)`` gold word ids (``ignore_index`` pads).
        neighbors: ``(V, N)`` int table, row ``w`` the ids of the N words most similar to ``w`` (-1 pads).
        similarities: ``(V, N)`` float table of the matching similarities.
        stopwords: ``(V,)`` bool mask or 1-D tensor of word ids that use plain cross-entropy.
        reduction, num_items, validate: as in :func:`smoothed_cross_entropy`; ``validate`` also checks the
            similarities this batch uses.

    Returns:
        :class:`LossOutput`; ``nll`` is the plain NLL of the gold word.
"""


def similarity_soft_label_loss(
    logits: Tensor,
    target: Tensor,
    neighbors: Tensor,
    similarities: Tensor,
    *,
    stopwords: Tensor | None = None,
    normalize: bool = True,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Soft-label loss: cross-entropy to the normalised top-N similarities of the gold word.

    ``loss = -sum_k (s_k / sum_k' s_k') log p[idx_k]`` over the table row of the gold word ``y``; plain
    ``-log p[y]`` for stop words and words without neighbours. Similarities must be >= 0. Computed like
    :func:`sparse_soft_target_cross_entropy` (no ``(positions, V)`` target).
    """
    return _similarity_loss(
        "soft_label",
        logits,
        target,
        neighbors,
        similarities,
        stopwords=stopwords,
        normalize=normalize,
        ignore_index=ignore_index,
        reduction=reduction,
        num_items=num_items,
        validate=validate,
    )


def weighted_similarity_loss(
    logits: Tensor,
    target: Tensor,
    neighbors: Tensor,
    similarities: Tensor,
    *,
    stopwords: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Weighted-similarity loss: predicted probabilities weighted by their similarity to the gold word.

    ``loss = -sum_k s_k p[idx_k]`` with ``-1 <= s_k <= 1`` over the table row of the gold word ``y``; plain
    ``-log p[y]`` for stop words and words without neighbours (note the two scales differ: the similarity
    term is in [-N, N], the cross-entropy in [0, inf)).
    """
    return _similarity_loss(
        "weighted_similarity",
        logits,
        target,
        neighbors,
        similarities,
        stopwords=stopwords,
        normalize=False,
        ignore_index=ignore_index,
        reduction=reduction,
        num_items=num_items,
        validate=validate,
    )


def weighted_cross_entropy(
    logits: Tensor,
    target: Tensor,
    neighbors: Tensor,
    similarities: Tensor,
    *,
    stopwords: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Weighted cross-entropy: log-probabilities weighted by their similarity to the gold word.

    ``loss = -sum_k s_k log p[idx_k]`` with ``-1 <= s_k <= 1`` (unnormalised) over the table row of the gold
    word; plain ``-log p[y]`` for stop words and words without neighbours.
    """
    return _similarity_loss(
        "weighted_cross_entropy",
        logits,
        target,
        neighbors,
        similarities,
        stopwords=stopwords,
        normalize=False,
        ignore_index=ignore_index,
        reduction=reduction,
        num_items=num_items,
        validate=validate,
    )


for _f in (similarity_soft_label_loss, weighted_similarity_loss, weighted_cross_entropy):
    _f.__doc__ = (_f.__doc__ or "") + _DOC_ARGS


class _SimilarityModule(LossModule):
    """``forward(logits, target, num_items=None)`` returns the loss tensor; the table and the stop-word mask
    are buffers."""

    inputs = ("logits", "target", "num_items")
    neighbors: Tensor
    similarities: Tensor
    stopwords: Tensor

    def __init__(
        self,
        neighbors: Tensor,
        similarities: Tensor,
        *,
        stopwords: Tensor | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        validate: bool = True,
        **more: object,
    ) -> None:
        as_tensor_arg("neighbors", neighbors)
        super().__init__(
            neighbors=neighbors,
            similarities=similarities,
            stopwords=stopword_mask(stopwords, neighbors.shape[0], neighbors.device),
            ignore_index=ignore_index,
            reduction=reduction,
            validate=validate,
            **more,
        )


class SimilaritySoftLabelLoss(_SimilarityModule):
    """Module form of :func:`similarity_soft_label_loss`; the table and stop words are buffers."""

    function = similarity_soft_label_loss

    def __init__(
        self,
        neighbors: Tensor,
        similarities: Tensor,
        *,
        stopwords: Tensor | None = None,
        normalize: bool = True,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        validate: bool = True,
    ) -> None:
        super().__init__(
            neighbors,
            similarities,
            stopwords=stopwords,
            ignore_index=ignore_index,
            reduction=reduction,
            validate=validate,
            normalize=normalize,
        )


class WeightedSimilarityLoss(_SimilarityModule):
    """Module form of :func:`weighted_similarity_loss`; the table and stop words are buffers."""

    function = weighted_similarity_loss


class WeightedCrossEntropy(_SimilarityModule):
    """Module form of :func:`weighted_cross_entropy`; the table and stop words are buffers."""

    function = weighted_cross_entropy
