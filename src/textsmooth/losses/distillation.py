"""Knowledge distillation (Hinton et al. 2015): temperature-softened KL to a teacher plus hard-label CE."""

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
    check_finite_logits,
    check_fraction,
    check_reduction,
    close_loss,
    flatten_logits,
    prepare_target,
)
from textsmooth.losses._kernel import compute_dtype, row_stats

__all__ = ["DistillationLoss", "distillation_loss"]


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    alpha: float,
    target: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
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
        reduction, ignore_index, num_items, validate: as in :func:`smoothed_cross_entropy`.

    Returns:
        :class:`LossOutput`; ``nll`` is the student's plain NLL of the gold labels (``None`` without
        ``target``).
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
    return close_loss(rows, valid, nll, reduction=reduction, num_items=num_items, batch_shape=batch_shape)


class DistillationLoss(LossModule):
    """Module form of :func:`distillation_loss`: ``forward(student_logits, teacher_logits, target=None,
    num_items=None)`` returns the loss tensor (holds the hyper-parameters only)."""

    function = distillation_loss
    inputs = ("student_logits", "teacher_logits", "target", "num_items")

    def __init__(
        self,
        temperature: float = 2.0,
        alpha: float = 0.5,
        *,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        validate: bool = True,
    ) -> None:
        super().__init__(
            temperature=temperature,
            alpha=alpha,
            ignore_index=ignore_index,
            reduction=reduction,
            validate=validate,
        )
