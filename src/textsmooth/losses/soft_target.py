"""Cross-entropy to soft targets: dense rows, or the top-N (indices, weights) of each position."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from textsmooth.errors import InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    as_tensor_arg,
    check_batch_shape,
    check_distribution_rows,
    check_finite_logits,
    check_reduction,
    close_loss,
    flatten_logits,
    prepare_target,
)
from textsmooth.losses._kernel import compute_dtype, row_stats

__all__ = [
    "SoftTargetCrossEntropy",
    "SparseSoftTargetCrossEntropy",
    "soft_target_cross_entropy",
    "sparse_soft_target_cross_entropy",
]


class SparseTarget(NamedTuple):
    index: Tensor  # (P, N) in range (padding replaced by 0)
    weight: Tensor  # (P, N) compute dtype, 0 at padding
    mass: Tensor  # (P,) row sums


def prepare_sparse_target(
    indices: Tensor,
    weights: Tensor,
    batch_shape: tuple[int, ...],
    num_classes: int,
    ignore_index: int,
    dtype: torch.dtype,
    validate: bool,
    *,
    names: tuple[str, str] = ("indices", "weights"),
) -> SparseTarget:
    """Flatten and check a top-N sparse target; entries whose index is ``ignore_index`` are padding."""
    as_tensor_arg(names[0], indices)
    as_tensor_arg(names[1], weights)
    if indices.is_floating_point() or indices.dtype == torch.bool:
        raise InputError(f"{names[0]} must hold integer class indices, got dtype {indices.dtype}")
    if not weights.is_floating_point():
        raise InputError(f"{names[1]} must be a floating tensor, got dtype {weights.dtype}")
    check_batch_shape(names[0], indices, batch_shape, trailing="N")
    if tuple(weights.shape) != tuple(indices.shape):
        raise InputError(
            f"{names[1]} has shape {tuple(weights.shape)} but {names[0]} has {tuple(indices.shape)}; "
            "they must match"
        )
    n = indices.shape[-1]
    idx = indices.reshape(-1, n).long()
    pad = idx == ignore_index
    w = torch.where(
        pad, torch.zeros((), dtype=dtype, device=weights.device), weights.reshape(-1, n).to(dtype)
    )
    if validate:
        bad = ~pad & ((idx < 0) | (idx >= num_classes))
        if bool(bad.any()):
            first = bad.nonzero()[0]
            raise InputError(
                f"{names[0]} has {int(bad.sum())} value(s) outside [0, {num_classes}) "
                f"(first: {int(idx[first[0], first[1]])} at flat row {int(first[0])})",
                hint=f"pad unused entries with ignore_index={ignore_index}",
            )
        wrong = ~torch.isfinite(w) | (w < 0)
        check_distribution_rows(names[1], w.sum(dim=1), wrong.any(dim=1), weights.dtype)
    idx = torch.where(pad, torch.zeros_like(idx), idx)
    return SparseTarget(idx, w, w.sum(dim=1))


def soft_target_cross_entropy(
    logits: Tensor,
    soft: Tensor,
    *,
    target: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Cross-entropy to dense soft targets: ``loss_i = -sum_j q_ij log p_ij`` with ``p = softmax(z)``.

    Computed as ``(sum_j q_ij) * logsumexp(z_i) - q_i . z_i`` block by block; no log-softmax is kept.
    This is the loss of KWLS/LS-TFIDF soft labels used as the only target, and of ``timm``'s
    ``SoftTargetCrossEntropy``. The soft target gets no gradient.

    Args:
        logits: ``(..., C)``.
        soft: ``(..., C)`` non-negative rows summing to 1; a row of zeros marks a padding position.
        target: optional ``(...)`` gold labels: positions equal to ``ignore_index`` are skipped, and the
            plain NLL of the gold labels is returned.
        reduction: ``mean`` divides by the number of counted positions (non-zero rows that are not ignored),
            or by ``num_items``.
        validate: check rows sum to 1 (or 0), weights are non-negative, logits finite, targets in range.

    Returns:
        :class:`LossOutput`; ``nll`` is ``None`` without ``target``.
    """
    check_reduction(reduction, num_items)
    z, batch_shape = flatten_logits(logits)
    C = z.shape[1]
    as_tensor_arg("soft", soft)
    if tuple(soft.shape) != tuple(logits.shape):
        raise InputError(f"soft has shape {tuple(soft.shape)} but logits have {tuple(logits.shape)}")
    if not soft.is_floating_point():
        raise InputError(f"soft must be a floating tensor, got dtype {soft.dtype}")
    q = soft.reshape(-1, C)
    mass = q.sum(dim=1, dtype=compute_dtype(z.dtype))
    if validate:
        negative = (q.amin(dim=1) < 0) | ~torch.isfinite(mass)
        check_distribution_rows("soft", mass, negative, soft.dtype)
    valid = mass != 0
    index = None
    if target is not None:
        t, tvalid = prepare_target(target, batch_shape, C, ignore_index, validate)
        valid = valid & tvalid
        index = t[:, None]
    stats = row_stats(z, index=index, soft=q, finite=validate)
    if stats.finite is not None:
        check_finite_logits("logits", stats.finite | ~valid)
    assert stats.soft_dot is not None
    rows = mass * stats.lse - stats.soft_dot
    nll_rows = None if stats.gathered is None else stats.lse - stats.gathered[:, 0]
    return close_loss(
        rows, valid, nll_rows, reduction=reduction, num_items=num_items, batch_shape=batch_shape
    )


def sparse_soft_target_cross_entropy(
    logits: Tensor,
    indices: Tensor,
    weights: Tensor,
    *,
    target: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Cross-entropy to a soft target given as its top-N entries per position.

    ``loss_i = -sum_k w_ik log p_i[idx_ik] = (sum_k w_ik) logsumexp(z_i) - sum_k w_ik z_i[idx_ik]``.

    Apart from the gradient of the logits, nothing of shape ``(positions, classes)`` is allocated (no dense
    target, no log-softmax): the cost is one cross-entropy plus an ``N``-wide gather. This is how
    word-similarity and neighbour-based soft targets over a vocabulary are meant to be trained: a soft target
    over a vocabulary is its top-N (indices, weights), never a dense ``(positions, vocabulary)`` matrix.
    Duplicate indices in a row add up.

    Args:
        logits: ``(..., C)``.
        indices: ``(..., N)`` class indices; entries equal to ``ignore_index`` are padding (their weight is
            not used), so rows may hold fewer than N entries; a row of padding is a padding position.
        weights: ``(..., N)`` non-negative, each row summing to 1 (0 for a padding position).
        target: optional gold labels (ignored positions; the plain NLL of :class:`LossOutput`, which is
            ``None`` without them).
        reduction: ``mean`` divides by the number of counted positions (or ``num_items``).
        validate: check indices in range, weights non-negative and rows summing to 1, logits finite.

    Example:
        >>> logits = torch.zeros(1, 4)  # uniform prediction: every log-probability is log(1/4)
        >>> idx, w = torch.tensor([[2, 0]]), torch.tensor([[0.75, 0.25]])
        >>> round(sparse_soft_target_cross_entropy(logits, idx, w).loss.item(), 6)  # log 4
        1.386294
    """
    check_reduction(reduction, num_items)
    z, batch_shape = flatten_logits(logits)
    C = z.shape[1]
    sp = prepare_sparse_target(
        indices, weights, batch_shape, C, ignore_index, compute_dtype(z.dtype), validate
    )
    valid = sp.mass != 0
    index = sp.index
    has_gold = target is not None
    if target is not None:
        t, tvalid = prepare_target(target, batch_shape, C, ignore_index, validate)
        valid = valid & tvalid
        index = torch.cat([t[:, None], index], dim=1)
    stats = row_stats(z, index=index, finite=validate)
    if stats.finite is not None:
        check_finite_logits("logits", stats.finite | ~valid)
    assert stats.gathered is not None
    gathered = stats.gathered[:, 1:] if has_gold else stats.gathered
    rows = sp.mass * stats.lse - (sp.weight * gathered).sum(dim=1)
    nll_rows = stats.lse - stats.gathered[:, 0] if has_gold else None
    return close_loss(
        rows, valid, nll_rows, reduction=reduction, num_items=num_items, batch_shape=batch_shape
    )


class _SoftTargetModule(LossModule):
    def __init__(
        self, *, ignore_index: int = -100, reduction: Reduction = "mean", validate: bool = True
    ) -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction, validate=validate)


class SoftTargetCrossEntropy(_SoftTargetModule):
    """Module form of :func:`soft_target_cross_entropy`: ``forward(logits, soft, target=None,
    num_items=None)`` returns the loss tensor (holds the hyper-parameters only)."""

    function = soft_target_cross_entropy
    inputs = ("logits", "soft", "target", "num_items")


class SparseSoftTargetCrossEntropy(_SoftTargetModule):
    """Module form of :func:`sparse_soft_target_cross_entropy`: ``forward(logits, indices, weights,
    target=None, num_items=None)`` returns the loss tensor (holds the hyper-parameters only)."""

    function = sparse_soft_target_cross_entropy
    inputs = ("logits", "indices", "weights", "target", "num_items")
