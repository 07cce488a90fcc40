"""Semantic sequence-level label smoothing (semantic-smoothing paper, loss (2)), model-agnostic."""

from __future__ import annotations

import torch
from torch import Tensor

from textsmooth.errors import InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    as_tensor_arg,
    check_non_negative,
    check_reduction,
    close_loss,
)

__all__ = ["SequenceSmoothedNLL", "sequence_smoothed_nll"]


def sequence_smoothed_nll(
    nll_target: Tensor,
    nll_related: Tensor,
    related_mask: Tensor,
    alpha: float,
    reduction: Reduction = "mean",
    *,
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Sequence-level smoothing towards related target sequences, loss (2) of the semantic-smoothing paper.

    Per example ``b`` with gold target ``y`` and its set ``R(y)`` of related sequences::

        loss_b = -log p(y | x) + alpha / |R(y)| * sum_{y' in R(y)} -log p(y' | x)

    and ``loss_b = -log p(y | x)`` when ``R(y)`` is empty. ``R(y)`` may be semantic neighbours re-ranked by
    BLEU, the other targets of the minibatch, or sampled token swaps: this function only sees their
    sequence negative log-likelihoods, so it works for any model. Padded entries (``related_mask`` False)
    are selected away, never multiplied by zero: a padded NaN or inf changes neither the value nor the
    gradient, and their gradient is exactly 0.

    Args:
        nll_target: ``(B,)`` negative log-likelihood of each gold target sequence.
        nll_related: ``(B, K)`` negative log-likelihoods of up to ``K`` related sequences per example.
        related_mask: ``(B, K)`` bool, True where an entry of ``nll_related`` is real.
        alpha: weight of the related sequences, >= 0.
        reduction: ``"mean"`` over examples (default; or ``num_items``), ``"sum"`` or ``"none"`` (``(B,)``).
        validate: check that the unmasked values are finite.

    Returns:
        :class:`LossOutput`; ``nll`` is ``nll_target`` reduced like the loss.

    Example:
        >>> nll_target = torch.tensor([2.0, 3.0])
        >>> nll_related = torch.tensor([[4.0, 6.0, 0.0], [9.0, 9.0, 9.0]])
        >>> mask = torch.tensor([[True, True, False], [False, False, False]])
        >>> sequence_smoothed_nll(nll_target, nll_related, mask, 0.5, "none").loss  # 2 + 0.5/2 * (4 + 6); 3
        tensor([4.5000, 3.0000])
    """
    check_non_negative("alpha", alpha)
    check_reduction(reduction, num_items)
    for name, value in (
        ("nll_target", nll_target),
        ("nll_related", nll_related),
        ("related_mask", related_mask),
    ):
        as_tensor_arg(name, value)
    if nll_target.dim() != 1:
        raise InputError(f"nll_target must have shape (B,), got {tuple(nll_target.shape)}")
    B = nll_target.shape[0]
    if nll_related.dim() != 2 or nll_related.shape[0] != B:
        raise InputError(f"nll_related must have shape ({B}, K), got {tuple(nll_related.shape)}")
    if tuple(related_mask.shape) != tuple(nll_related.shape):
        raise InputError(
            f"related_mask has shape {tuple(related_mask.shape)}, nll_related {tuple(nll_related.shape)}; "
            "they must match"
        )
    if related_mask.dtype != torch.bool:
        raise InputError(f"related_mask must be a bool tensor, got dtype {related_mask.dtype}")
    if not nll_target.is_floating_point() or not nll_related.is_floating_point():
        raise InputError("nll_target and nll_related must be floating tensors")
    dtype = torch.promote_types(torch.promote_types(nll_target.dtype, nll_related.dtype), torch.float32)
    target = nll_target.to(dtype)
    related = torch.where(
        related_mask, nll_related.to(dtype), torch.zeros((), dtype=dtype, device=target.device)
    )
    if validate:
        if not bool(torch.isfinite(target).all()) or not bool(torch.isfinite(related).all()):
            raise InputError("nll_target and the unmasked entries of nll_related must be finite")
    count = related_mask.sum(dim=1)
    factor = torch.where(count > 0, float(alpha) / count.clamp(min=1).to(dtype), torch.zeros((), dtype=dtype))
    rows = target + factor * related.sum(dim=1)
    every = torch.ones(B, dtype=torch.bool, device=target.device)
    return close_loss(rows, every, target, reduction=reduction, num_items=num_items, batch_shape=(B,))


class SequenceSmoothedNLL(LossModule):
    """Module form of :func:`sequence_smoothed_nll`: ``forward(nll_target, nll_related, related_mask,
    num_items=None)`` returns the loss tensor (holds the hyper-parameters only)."""

    function = sequence_smoothed_nll
    inputs = ("nll_target", "nll_related", "related_mask", "num_items")

    def __init__(self, alpha: float = 1.0, *, reduction: Reduction = "mean", validate: bool = True) -> None:
        super().__init__(alpha=alpha, reduction=reduction, validate=validate)
