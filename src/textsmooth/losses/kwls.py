"""The KWLS loss: hard-label cross-entropy plus a squared error to keyword soft labels (KWLS paper, eq. 9)."""

from __future__ import annotations

from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses._common import (
    LossOutput,
    Reduction,
    as_tensor_arg,
    check_distribution_rows,
    check_finite_logits,
    check_non_negative,
    check_reduction,
    flatten_logits,
    maybe_with_nll,
    prepare_target,
    reduce_rows,
)
from textsmooth.losses._kernel import compute_dtype

__all__ = ["KWLSLoss", "KWLSVariant", "kwls_loss"]

KWLSVariant = Literal["eq9", "two_head", "mixture"]
_VARIANTS = ("eq9", "two_head", "mixture")


@overload
def kwls_loss(
    logits: Tensor,
    target: Tensor,
    soft: Tensor,
    alpha: float,
    aux_logits: Tensor | None = ...,
    *,
    variant: KWLSVariant | None = ...,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[False] = ...,
    validate: bool = ...,
) -> Tensor: ...
@overload
def kwls_loss(
    logits: Tensor,
    target: Tensor,
    soft: Tensor,
    alpha: float,
    aux_logits: Tensor | None = ...,
    *,
    variant: KWLSVariant | None = ...,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[True],
    validate: bool = ...,
) -> LossOutput: ...
def kwls_loss(
    logits: Tensor,
    target: Tensor,
    soft: Tensor,
    alpha: float,
    aux_logits: Tensor | None = None,
    *,
    variant: KWLSVariant | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: int | float | Tensor | None = None,
    return_nll: bool = False,
    validate: bool = True,
) -> Tensor | LossOutput:
    r"""Keyword label smoothing loss (KWLS paper, section 4.5) in three variants.

    With ``p`` classes, hard label ``l_i`` (one-hot of ``target``), keyword soft label ``d_i`` (eq. 8) and
    predicted probabilities ``o_i = softmax(logits_i)``, per example ``i`` (``CE_i = -log o_i[y_i]``):

    * ``"eq9"`` (default without ``aux_logits``), equation (9) exactly as written::

          Loss = sum_i [CE_i + alpha / p * sum_j (d_ij - o_ij)^2] / (2 N (1 + alpha)^2)

    * ``"two_head"`` (default with ``aux_logits``), what the authors' code is described as doing: the squared
      error is taken on a second output head ``o'_i = softmax(aux_logits_i)`` and the mean is divided by
      ``(1 + alpha)^2`` (no factor 2)::

          Loss = sum_i [CE_i + alpha / p * sum_j (d_ij - o'_ij)^2] / (N (1 + alpha)^2)

      (the alpha/p per-element weight is what a mean-reduced MSE over ``N x p`` elements gives). The head
      that predicts is then trained on hard labels only; the soft labels reach it only through a shared
      encoder.
    * ``"mixture"``: cross-entropy to the mixture ``(l_i + alpha d_i) / (1 + alpha)``, i.e.
      ``(CE_i + alpha * H(d_i, o_i)) / (1 + alpha)``: the alternative left commented out in the authors' code,
      with the soft labels weighted by ``alpha`` relative to the hard label as in eq. 9 (a mixing weight
      ``lam`` corresponds to ``alpha = lam / (1 - lam)``).

    Why three: the squared error on probabilities vanishes as the prediction gets confident, so eq. (9)
    barely regularises, and its constant ``1 / (2 (1 + alpha)^2)`` only rescales the step size (nothing under
    Adam); see ``docs/losses.md`` and the pilot notes. ``alpha = 0`` gives plain cross-entropy scaled by
    ``1/2`` (eq9) or 1 (two_head, mixture).

    ``reduction="mean"`` divides the sum over counted examples by ``N`` (or ``num_items``); ``"none"`` returns
    each example's bracket times the constant factor, so that its mean is the ``mean``.

    Args:
        logits: ``(..., p)`` of the predicting head.
        target: ``(...)`` hard labels (``ignore_index`` skips an example).
        soft: ``(..., p)`` keyword soft labels, rows summing to 1 (no gradient flows to them).
        alpha: weight of the soft label, >= 0.
        aux_logits: ``(..., p)`` logits of the second head (``"two_head"`` only).
        variant: ``"eq9"``, ``"two_head"`` or ``"mixture"``; ``None`` picks by ``aux_logits``.

    Example:
        >>> # two classes, zero logits (o = 1/2), d = (0.8, 0.2), alpha = 1: (log 2 + 0.09) / 8
        >>> loss = kwls_loss(torch.zeros(1, 2), torch.tensor([0]), torch.tensor([[0.8, 0.2]]), 1.0)
        >>> round(loss.item(), 6)
        0.097893
    """
    check_non_negative("alpha", alpha)
    check_reduction(reduction, num_items)
    if variant is None:
        variant = "eq9" if aux_logits is None else "two_head"
    if variant not in _VARIANTS:
        raise ConfigError(f"variant must be one of {_VARIANTS}, got {variant!r}")
    if (variant == "two_head") != (aux_logits is not None):
        raise ConfigError("variant='two_head' needs aux_logits, and aux_logits are only used by that variant")
    z, batch_shape = flatten_logits(logits)
    C = z.shape[1]
    cdt = compute_dtype(z.dtype)
    t, valid = prepare_target(target, batch_shape, C, ignore_index, validate)
    as_tensor_arg("soft", soft)
    if tuple(soft.shape) != tuple(logits.shape) or not soft.is_floating_point():
        raise InputError(
            f"soft must be a floating tensor of the logits' shape {tuple(logits.shape)}, "
            f"got {tuple(soft.shape)} {soft.dtype}"
        )
    d = soft.reshape(-1, C).detach().to(cdt)
    zf = z.to(cdt)
    if aux_logits is not None:
        as_tensor_arg("aux_logits", aux_logits)
        if tuple(aux_logits.shape) != tuple(logits.shape):
            raise InputError(
                f"aux_logits has shape {tuple(aux_logits.shape)} but logits have {tuple(logits.shape)}"
            )
    if validate:
        rows_ok = torch.isfinite(zf).all(dim=1)
        if aux_logits is not None:
            rows_ok = rows_ok & torch.isfinite(aux_logits.reshape(-1, C)).all(dim=1)
        check_finite_logits("logits", rows_ok | ~valid)
        negative = ((d < 0) | ~torch.isfinite(d)).any(dim=1) & valid
        check_distribution_rows("soft", torch.where(valid, d.sum(dim=1), 1.0), negative, soft.dtype)
    log_o = F.log_softmax(zf, dim=1)
    ce = -log_o.gather(1, t[:, None])[:, 0]
    a = float(alpha)
    if variant == "mixture":
        rows = (ce - a * (d * log_o).sum(dim=1)) / (1.0 + a)
    else:
        head = log_o if aux_logits is None else F.log_softmax(aux_logits.reshape(-1, C).to(cdt), dim=1)
        sq = (d - head.exp()).pow(2).sum(dim=1)
        scale = 1.0 / ((2.0 if variant == "eq9" else 1.0) * (1.0 + a) ** 2)
        rows = (ce + a / C * sq) * scale
    zero = torch.zeros_like(rows)
    rows = torch.where(valid, rows, zero)
    count = valid.sum()
    loss = reduce_rows(
        rows, reduction=reduction, denominator=count, num_items=num_items, batch_shape=batch_shape
    )
    return maybe_with_nll(
        loss,
        torch.where(valid, ce, zero) if return_nll else None,
        return_nll=return_nll,
        reduction=reduction,
        count=count,
        num_items=num_items,
        batch_shape=batch_shape,
    )


class KWLSLoss(nn.Module):
    """Module form of :func:`kwls_loss` (holds the hyper-parameters only)."""

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        variant: KWLSVariant | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        return_nll: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.variant: KWLSVariant | None = variant
        self.ignore_index = ignore_index
        self.reduction: Reduction = reduction
        self.return_nll = return_nll
        self.validate = validate

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        soft: Tensor,
        aux_logits: Tensor | None = None,
        num_items: int | float | Tensor | None = None,
    ) -> Tensor | LossOutput:
        return kwls_loss(
            logits,
            target,
            soft,
            self.alpha,
            aux_logits,
            variant=self.variant,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            num_items=num_items,
            return_nll=self.return_nll,  # type: ignore[call-overload]
            validate=self.validate,
        )
