"""Knowledge distillation (Hinton et al. 2015): temperature-softened KL to a teacher plus hard-label CE."""

from __future__ import annotations

from typing import Literal, overload

import torch
from torch import Tensor, nn

from textsmooth.errors import InputError
from textsmooth.losses._common import (
    LossOutput,
    Reduction,
    as_tensor_arg,
    check_finite_logits,
    check_fraction,
    check_reduction,
    flatten_logits,
    maybe_with_nll,
    prepare_target,
    reduce_rows,
)
from textsmooth.losses._kernel import compute_dtype, row_stats

__all__ = ["DistillationLoss", "distillation_loss"]


@overload
def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    alpha: float,
    target: Tensor | None = ...,
    *,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[False] = ...,
    validate: bool = ...,
) -> Tensor: ...
@overload
def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    alpha: float,
    target: Tensor | None = ...,
    *,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[True],
    validate: bool = ...,
) -> LossOutput: ...
def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    alpha: float,
    target: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: int | float | Tensor | None = None,
    return_nll: bool = False,
    validate: bool = True,
) -> Tensor | LossOutput:
    r"""Distillation loss: ``alpha * T^2 * KL(q_T || p_T) + (1 - alpha) * CE(p, y)``.

    ``p_T = softmax(student / T)``, ``q_T = softmax(teacher / T)``, ``CE(p, y) = -log softmax(student)[y]``.
    The ``T^2`` factor keeps the soft term's gradient scale independent of ``T`` (Hinton et al. 2015,
    section 2). The KL includes the teacher's entropy, so it is 0 when the student matches the teacher.
    This is LS-Distill of the KWLS paper (soft labels from a trained model; Zhang & Sabuncu 2020). Without
    ``target`` the hard term is absent and the loss is ``alpha * T^2 * KL``. The teacher is treated as a
    constant (no gradient flows to it). Note Müller et al. (2019): a teacher trained with label smoothing
    distils worse.

    Args:
        student_logits, teacher_logits: ``(..., C)``.
        temperature: ``T > 0``. alpha: weight of the soft term in [0, 1].
        target: optional ``(...)`` gold labels; ``ignore_index`` positions are skipped in both terms.
        return_nll: also return the student's plain NLL of the gold labels (``None`` without ``target``).
    """
    if not isinstance(temperature, (int, float)) or not 0.0 < float(temperature) < float("inf"):
        raise InputError(f"temperature must be a finite number > 0, got {temperature!r}")
    check_fraction("alpha", alpha)
    check_reduction(reduction, num_items)
    z, batch_shape = flatten_logits(student_logits, "student_logits")
    as_tensor_arg("teacher_logits", teacher_logits)
    if tuple(teacher_logits.shape) != tuple(student_logits.shape):
        raise InputError(
            f"teacher_logits has shape {tuple(teacher_logits.shape)} but student_logits have "
            f"{tuple(student_logits.shape)}"
        )
    C = z.shape[1]
    cdt = compute_dtype(z.dtype)
    T = float(temperature)
    a = float(alpha)
    valid = torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
    index = None
    if target is not None:
        t, valid = prepare_target(target, batch_shape, C, ignore_index, validate)
        index = t[:, None]
    teacher = teacher_logits.detach().reshape(-1, C).to(cdt) / T
    log_q = torch.log_softmax(teacher, dim=1)
    q = log_q.exp()
    # sum_j q_j log q_j, with 0 log 0 = 0
    neg_entropy = torch.where(q > 0, q * log_q, torch.zeros((), dtype=cdt, device=q.device)).sum(dim=1)
    if validate:
        check_finite_logits("teacher_logits", torch.isfinite(teacher).all(dim=1) | ~valid)
    # With T = 1 one pass over the logits gives both terms; otherwise the hard term needs its own.
    same = T == 1.0
    soft = row_stats(z / T if not same else z, soft=q, index=index if same else None, finite=validate)
    if soft.finite is not None:
        check_finite_logits("student_logits", soft.finite | ~valid)
    assert soft.soft_dot is not None
    kl = neg_entropy + soft.lse - soft.soft_dot
    rows = a * T * T * kl
    nll = None
    if index is not None:
        hard = soft if same else row_stats(z, index=index)
        assert hard.gathered is not None
        nll = hard.lse - hard.gathered[:, 0]
        if a < 1.0:
            rows = rows + (1.0 - a) * nll
    zero = torch.zeros_like(rows)
    rows = torch.where(valid, rows, zero)
    count = valid.sum()
    loss = reduce_rows(
        rows, reduction=reduction, denominator=count, num_items=num_items, batch_shape=batch_shape
    )
    return maybe_with_nll(
        loss,
        torch.where(valid, nll, zero) if (return_nll and nll is not None) else None,
        return_nll=return_nll,
        reduction=reduction,
        count=count,
        num_items=num_items,
        batch_shape=batch_shape,
    )


class DistillationLoss(nn.Module):
    """Module form of :func:`distillation_loss` (holds the hyper-parameters only)."""

    def __init__(
        self,
        temperature: float = 2.0,
        alpha: float = 0.5,
        *,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        return_nll: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.alpha = alpha
        self.ignore_index = ignore_index
        self.reduction: Reduction = reduction
        self.return_nll = return_nll
        self.validate = validate

    def forward(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor | None = None,
        num_items: int | float | Tensor | None = None,
    ) -> Tensor | LossOutput:
        return distillation_loss(
            student_logits,
            teacher_logits,
            self.temperature,
            self.alpha,
            target,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            num_items=num_items,
            return_nll=self.return_nll,  # type: ignore[call-overload]
            validate=self.validate,
        )
