"""The KWLS loss: hard-label cross-entropy plus a squared error to keyword soft labels (KWLS paper, eq. 9)."""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    as_tensor_arg,
    check_distribution_rows,
    check_finite_logits,
    check_non_negative,
    check_reduction,
    close_loss,
    flatten_logits,
    prepare_target,
)
from textsmooth.losses._kernel import compute_dtype

__all__ = ["KWLSLoss", "KWLSVariant", "kwls_loss"]

KWLSVariant = Literal["eq9", "two_head", "mixture"]
"""The variants of :func:`kwls_loss`; the one declaration (``typing.get_args(KWLSVariant)`` lists them)."""
_VARIANTS: tuple[str, ...] = get_args(KWLSVariant)


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
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
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
    Adam); the two-head variant equals hard-label training for the predicting head of a linear model, and
    the mixture is a much stronger signal (see ``docs/losses.md``). ``alpha = 0`` gives plain cross-entropy
    scaled by ``1/2`` (eq9) or 1 (two_head, mixture).

    ``reduction="mean"`` divides the sum over counted examples by ``N`` (or ``num_items``); ``"none"`` returns
    each example's bracket times the constant factor, so that its mean is the ``mean``.

    Args:
        logits: ``(..., p)`` of the predicting head.
        target: ``(...)`` hard labels (``ignore_index`` skips an example).
        soft: ``(..., p)`` keyword soft labels, rows summing to 1 (no gradient flows to them).
        alpha: weight of the soft label, >= 0.
        aux_logits: ``(..., p)`` logits of the second head (``"two_head"`` only).
        variant: ``"eq9"``, ``"two_head"`` or ``"mixture"``; ``None`` picks by ``aux_logits``.

    Returns:
        :class:`LossOutput`; ``nll`` is the plain ``CE_i`` of the predicting head, reduced like the loss
        (without the constant factor).

    Example:
        >>> # two classes, zero logits (o = 1/2), d = (0.8, 0.2), alpha = 1: (log 2 + 0.09) / 8
        >>> out = kwls_loss(torch.zeros(1, 2), torch.tensor([0]), torch.tensor([[0.8, 0.2]]), 1.0)
        >>> round(out.loss.item(), 6)
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
    return close_loss(rows, valid, ce, reduction=reduction, num_items=num_items, batch_shape=batch_shape)


class KWLSLoss(LossModule):
    """Module form of :func:`kwls_loss`: ``forward(logits, target, soft, aux_logits=None, num_items=None)``
    returns the loss tensor (holds the hyper-parameters only)."""

    function = kwls_loss
    inputs = ("logits", "target", "soft", "aux_logits", "num_items")

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        variant: KWLSVariant | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        validate: bool = True,
    ) -> None:
        super().__init__(
            alpha=alpha, variant=variant, ignore_index=ignore_index, reduction=reduction, validate=validate
        )
