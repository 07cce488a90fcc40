"""Shared plumbing of the loss family: argument checks, flattening, reductions, the output tuple.

Nothing here knows a formula. Checks that only look at shapes, dtypes and option values are free and
always run; checks that look at tensor *values* (targets in range, rows summing to one, finite logits)
cost a pass and, on a GPU, a synchronisation, so they run only when the caller passes ``validate=True``
(the default). Each value check reduces to one boolean before it is read.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from textsmooth.errors import ConfigError, InputError

__all__ = ["LossOutput", "Reduction"]

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


class LossOutput(NamedTuple):
    """A loss together with the plain negative log-likelihood of the gold labels.

    ``nll`` is reduced exactly like ``loss`` (same reduction, same ``num_items``) but never carries the
    smoothing term, the class weights or the auxiliary terms, so perplexity and calibration computed from it
    are not polluted by epsilon (fairseq returns the same pair). It is detached: it is for logging. It is
    ``None`` where a loss has no gold label (soft targets given without ``target``).
    """

    loss: Tensor
    nll: Tensor | None


# ----------------------------------------------------------------------------------------------- options


def check_reduction(reduction: str, num_items: int | float | Tensor | None) -> None:
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if num_items is not None and reduction != "mean":
        raise ConfigError(
            f"num_items is the denominator of reduction='mean'; "
            f"it cannot be used with reduction={reduction!r}"
        )
    if num_items is not None and not isinstance(num_items, Tensor) and not num_items > 0:
        raise ConfigError(f"num_items must be positive, got {num_items!r}")


def check_fraction(name: str, value: float, *, upper: float = 1.0) -> None:
    if not isinstance(value, (int, float)) or not (0.0 <= float(value) <= upper):
        raise ConfigError(f"{name} must be a number in [0, {upper}], got {value!r}")


def check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not float(value) >= 0.0 or float(value) == float("inf"):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


# ----------------------------------------------------------------------------------------------- tensors


def as_tensor_arg(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def flatten_logits(logits: Tensor, name: str = "logits") -> tuple[Tensor, tuple[int, ...]]:
    """``(..., C)`` floating logits -> ``(P, C)`` view (a copy only if the layout forces one), batch shape."""
    as_tensor_arg(name, logits)
    if not logits.is_floating_point():
        raise InputError(f"{name} must be a floating tensor, got dtype {logits.dtype}")
    if logits.dim() < 1 or logits.shape[-1] < 1:
        raise InputError(
            f"{name} must have shape (..., num_classes) with num_classes >= 1, got {tuple(logits.shape)}"
        )
    batch_shape = tuple(logits.shape[:-1])
    return logits.reshape(-1, logits.shape[-1]), batch_shape


def check_batch_shape(name: str, tensor: Tensor, batch_shape: tuple[int, ...], trailing: str = "") -> None:
    expected = batch_shape
    got = tuple(tensor.shape) if not trailing else tuple(tensor.shape[:-1])
    if got != expected or (trailing and tensor.dim() == 0):
        want = f"{expected}" if not trailing else f"{expected} + ({trailing},)"
        raise InputError(
            f"{name} has shape {tuple(tensor.shape)} but the logits need {want}",
            hint="logits are (..., num_classes) with the class dimension last; "
            "for PyTorch's (N, C, d1, ...) layout pass logits.movedim(1, -1)",
        )


def prepare_target(
    target: Tensor,
    batch_shape: tuple[int, ...],
    num_classes: int,
    ignore_index: int,
    validate: bool,
    name: str = "target",
) -> tuple[Tensor, Tensor]:
    """Flat gold labels with ignored positions replaced by 0 (safe to gather), and the validity mask."""
    as_tensor_arg(name, target)
    if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise InputError(f"{name} must hold integer class indices, got dtype {target.dtype}")
    check_batch_shape(name, target, batch_shape)
    flat = target.reshape(-1).long()
    valid = flat != ignore_index
    if validate:
        bad = valid & ((flat < 0) | (flat >= num_classes))
        if bool(bad.any()):
            first = int(bad.nonzero()[0, 0])
            raise InputError(
                f"{name} has {int(bad.sum())} value(s) outside [0, {num_classes}) "
                f"(first: {int(flat[first])} at flat position {first})",
                hint=f"use ignore_index={ignore_index} for padding, or check the vocabulary size",
            )
    return torch.where(valid, flat, torch.zeros_like(flat)), valid


def check_class_vector(name: str, vector: Tensor, num_classes: int, validate: bool) -> None:
    as_tensor_arg(name, vector)
    if vector.dim() != 1 or vector.shape[0] != num_classes:
        raise InputError(f"{name} must have shape ({num_classes},), got {tuple(vector.shape)}")
    if not vector.is_floating_point():
        raise InputError(f"{name} must be a floating tensor, got dtype {vector.dtype}")
    if validate and bool(((vector < 0) | ~torch.isfinite(vector)).any()):
        raise InputError(f"{name} must be finite and non-negative")


def row_sum_tolerance(dtype: torch.dtype) -> float:
    return 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-3


def check_distribution_rows(name: str, row_sums: Tensor, negative: Tensor, dtype: torch.dtype) -> None:
    """``row_sums`` (P,) must be 1 (or 0 for a padding row); ``negative`` (P,) flags rows with weights < 0."""
    if bool(negative.any()):
        first = int(negative.nonzero()[0, 0])
        raise InputError(
            f"{name} has negative or non-finite weights in {int(negative.sum())} row(s) "
            f"(first: flat row {first})"
        )
    tol = row_sum_tolerance(dtype)
    bad = ((row_sums - 1.0).abs() > tol) & (row_sums.abs() > tol)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise InputError(
            f"{name} rows must sum to 1 (or to 0 for padding); {int(bad.sum())} row(s) do not "
            f"(first: flat row {first} sums to {float(row_sums[first]):.6g})",
            hint="normalise each row, e.g. weights / weights.sum(-1, keepdim=True)",
        )


def check_finite_logits(name: str, finite_rows: Tensor) -> None:
    bad = ~finite_rows
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise InputError(
            f"{name} contain NaN or infinite values in {int(bad.sum())} row(s) (first: flat row {first})",
            hint="mask classes with a large negative finite value (torch.finfo(dtype).min / 2), not -inf",
        )


# ----------------------------------------------------------------------------------------------- reduction


def safe_divide(total: Tensor, denominator: Tensor | float) -> Tensor:
    """``total / denominator`` that is 0, not NaN, when nothing was counted (denominator 0, total 0)."""
    if not isinstance(denominator, Tensor):
        denominator = torch.tensor(float(denominator), dtype=total.dtype, device=total.device)
    denominator = denominator.to(total.dtype)
    return total / torch.where(denominator == 0, torch.ones_like(denominator), denominator)


def reduce_rows(
    rows: Tensor,
    *,
    reduction: str,
    denominator: Tensor,
    num_items: int | float | Tensor | None,
    batch_shape: tuple[int, ...],
) -> Tensor:
    """Reduce per-position values (already 0 at ignored positions) the way every loss here does.

    ``mean`` divides the sum by ``num_items`` when given (the count a trainer passes for gradient
    accumulation), else by ``denominator`` (the number of counted positions, or the sum of their class
    weights); a batch with nothing to count gives 0 rather than NaN.
    """
    if reduction == "none":
        return rows.reshape(batch_shape)
    total = rows.sum()
    if reduction == "sum":
        return total
    if num_items is not None:
        if isinstance(num_items, Tensor):
            return total / num_items.to(device=total.device, dtype=total.dtype)
        return total / float(num_items)
    return safe_divide(total, denominator)


def maybe_with_nll(
    loss: Tensor,
    nll_rows: Tensor | None,
    *,
    return_nll: bool,
    reduction: str,
    count: Tensor,
    num_items: int | float | Tensor | None,
    batch_shape: tuple[int, ...],
) -> Tensor | LossOutput:
    if not return_nll:
        return loss
    nll = None
    if nll_rows is not None:
        nll = reduce_rows(
            nll_rows.detach(),
            reduction=reduction,
            denominator=count,
            num_items=num_items,
            batch_shape=batch_shape,
        )
    return LossOutput(loss, nll)
