"""Shared plumbing of the loss family: argument checks, flattening, reductions, the output record, the
module base.

Nothing here knows a formula. Checks that only look at shapes, dtypes and option values are free and
always run; checks that look at tensor *values* (targets in range, rows summing to one, finite logits)
cost a pass and, on a GPU, a synchronisation, so they run only when the caller passes ``validate=True``
(the default). Each value check reduces to one boolean before it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal, NamedTuple, TypeAlias, get_args

import torch
from torch import Tensor, nn

from textsmooth.errors import ConfigError, InputError

__all__ = ["LossModule", "LossOutput", "NumItems", "Reduction"]

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)

NumItems: TypeAlias = int | float | Tensor | None
"""The ``mean`` denominator a trainer passes instead of the count (Hugging Face's ``num_items_in_batch``)."""


class LossOutput(NamedTuple):
    """A loss together with the plain negative log-likelihood of the gold labels: what every functional
    loss of the family returns (fairseq's ``label_smoothed_nll_loss`` returns the same pair).

    ``loss`` is the value to train on (``out.loss.backward()``). ``nll`` is reduced exactly like ``loss``
    (same reduction, same ``num_items``) but never carries the smoothing term, the class weights or the
    auxiliary terms, so perplexity and calibration computed from it are not polluted by epsilon. It is
    detached: it is for logging. It is ``None`` where a loss has no gold label (soft targets given without
    ``target``).
    """

    loss: Tensor
    nll: Tensor | None


# ----------------------------------------------------------------------------------------------- options


def check_reduction(reduction: str, num_items: NumItems) -> None:
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
    num_items: NumItems,
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


def reduce_nll(
    nll_rows: Tensor | None,
    valid: Tensor,
    count: Tensor,
    *,
    reduction: str,
    num_items: NumItems,
    batch_shape: tuple[int, ...],
) -> Tensor | None:
    """The plain NLL of the gold labels for :class:`LossOutput`: detached, 0 at uncounted positions, reduced
    like the loss but with the number of counted positions (``count``) as the ``mean`` denominator."""
    if nll_rows is None:
        return None
    nll_rows = nll_rows.detach()
    return reduce_rows(
        torch.where(valid, nll_rows, torch.zeros_like(nll_rows)),
        reduction=reduction,
        denominator=count,
        num_items=num_items,
        batch_shape=batch_shape,
    )


def close_loss(
    rows: Tensor,
    valid: Tensor,
    nll_rows: Tensor | None,
    *,
    reduction: str,
    num_items: NumItems,
    batch_shape: tuple[int, ...],
    denominator: Tensor | None = None,
) -> LossOutput:
    """The closing of every loss: zero the rows of uncounted positions, reduce them, add the reduced NLL.

    ``rows`` and ``nll_rows`` are per-position values, ``valid`` (P,) marks the counted positions.
    ``denominator`` is the ``mean`` denominator when it is not the count (the gold classes' weights).
    Uncounted rows are selected away (``torch.where``), so a NaN there reaches neither value nor gradient.
    """
    count = valid.sum()
    loss = reduce_rows(
        torch.where(valid, rows, torch.zeros_like(rows)),
        reduction=reduction,
        denominator=count if denominator is None else denominator,
        num_items=num_items,
        batch_shape=batch_shape,
    )
    nll = reduce_nll(
        nll_rows, valid, count, reduction=reduction, num_items=num_items, batch_shape=batch_shape
    )
    return LossOutput(loss, nll)


# ----------------------------------------------------------------------------------------------- modules


class LossModule(nn.Module):
    """Base of the ``nn.Module`` forms: stores the hyper-parameters and calls the functional loss.

    ``forward(*inputs, **named)`` returns the loss tensor, so a module is a drop-in for
    ``torch.nn.CrossEntropyLoss`` (``criterion(logits, target).backward()``); :meth:`with_nll` makes the
    same call and returns the whole :class:`LossOutput`. A subclass names its functional loss
    (``function``), the names of ``forward``'s positional inputs in order (``inputs``), and passes its
    hyper-parameters to ``__init__`` by keyword; tensors among them (and the names in ``buffer_names``, which
    may be ``None``) are registered buffers, so they follow ``.to(device)``. Inputs and hyper-parameters
    reach the function by keyword. ``with_nll`` calls the function directly: module hooks run only through
    ``module(...)``.
    """

    function: ClassVar[Callable[..., LossOutput]]
    inputs: ClassVar[tuple[str, ...]]
    buffer_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **hyper_parameters: object) -> None:
        super().__init__()
        self._hyper_names = tuple(hyper_parameters)
        for name, value in hyper_parameters.items():
            if name in self.buffer_names or isinstance(value, Tensor):
                self.register_buffer(name, value if value is None else as_tensor_arg(name, value))
            else:
                setattr(self, name, value)

    def hyper_parameters(self) -> dict[str, object]:
        """The stored hyper-parameters (buffers included), as passed to the functional loss."""
        return {name: getattr(self, name) for name in self._hyper_names}

    def with_nll(self, *inputs: Tensor | NumItems, **named: Tensor | NumItems) -> LossOutput:
        """The loss and the plain NLL of the gold labels (:class:`LossOutput`) for the same inputs as
        ``forward``."""
        if len(inputs) > len(self.inputs):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(self.inputs)} inputs "
                f"({', '.join(self.inputs)}), got {len(inputs)}"
            )
        arguments = dict(zip(self.inputs, inputs, strict=False))
        twice = sorted(set(arguments) & set(named))
        if twice:
            raise TypeError(f"{type(self).__name__} got {', '.join(twice)} both by position and by name")
        return type(self).function(**arguments, **named, **self.hyper_parameters())

    def forward(self, *inputs: Tensor | NumItems, **named: Tensor | NumItems) -> Tensor:
        return self.with_nll(*inputs, **named).loss

    def extra_repr(self) -> str:
        shown = {
            k: v for k, v in self.hyper_parameters().items() if not isinstance(v, Tensor) and v is not None
        }
        return ", ".join(f"{k}={v!r}" for k, v in shown.items())
