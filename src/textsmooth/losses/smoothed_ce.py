"""Label-smoothed cross-entropy: uniform (LS-Classic / token-level LS) or towards a prior."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    check_class_vector,
    check_finite_logits,
    check_fraction,
    check_reduction,
    close_loss,
    flatten_logits,
    prepare_target,
    row_sum_tolerance,
)
from textsmooth.losses._kernel import compute_dtype, row_stats

__all__ = ["SmoothedCrossEntropy", "smoothed_cross_entropy"]

Convention = Literal["all", "others"]


class SmoothingTerms(NamedTuple):
    """The smoothed target of each row as ``coef * onehot(target) + prior_coef * vector`` (class-weighted).

    ``mass`` is the total (weighted) target mass of the row and ``denominator`` the ``mean`` denominator.
    """

    coef: Tensor  # (P,)
    prior_coef: Tensor | None  # (P,)
    vector: Tensor | str | None  # (C,) tensor, "mean" (uniform 1/C) or None (no smoothing)
    vector_sum: float | Tensor
    mass: Tensor  # (P,)
    denominator: Tensor  # scalar


def smoothing_terms(
    target: Tensor,
    valid: Tensor,
    num_classes: int,
    epsilon: float,
    *,
    prior: Tensor | None,
    convention: str,
    weight: Tensor | None,
    dtype: torch.dtype,
    validate: bool,
) -> SmoothingTerms:
    """Coefficients of the smoothed target, so that the per-row loss is
    ``mass * lse - coef * z[target] - prior_coef * (z . vector)``."""
    check_fraction("epsilon", epsilon)
    if convention not in ("all", "others"):
        raise ConfigError(f"convention must be 'all' or 'others', got {convention!r}")
    C = num_classes
    device = target.device
    validf = valid.to(dtype)
    w_gold = None
    if weight is not None:
        check_class_vector("weight", weight, C, validate)
        w = weight.to(device=device, dtype=dtype)
        w_gold = w[target] * validf
    if prior is not None:
        check_class_vector("prior", prior, C, validate)
        pi = prior.to(device=device, dtype=dtype)
        if validate and abs(float(pi.sum()) - 1.0) > row_sum_tolerance(prior.dtype):
            raise InputError(
                f"prior must sum to 1, sums to {float(pi.sum()):.6g}", hint="pass prior / prior.sum()"
            )
    eps = float(epsilon)
    if eps == 0.0:
        coef, prior_coef, vector, vector_sum = validf, None, None, 0.0
    elif prior is None:
        if convention == "others":
            if C < 2:
                raise InputError("convention='others' needs at least 2 classes")
            eps = eps * C / (C - 1)  # the same target as 'all' with this epsilon
        coef = (1.0 - eps) * validf
        prior_coef = eps * validf
        if weight is None:
            vector, vector_sum = "mean", 1.0
        else:
            vector = w / C
            vector_sum = vector.sum()
    else:
        if convention == "all":
            coef = (1.0 - eps) * validf
            prior_coef = eps * validf
        else:
            pi_gold = pi[target]
            if validate and bool(((pi_gold >= 1.0) & valid).any()):
                raise InputError("convention='others' needs prior[target] < 1 for every target")
            prior_coef = eps / torch.where(valid, 1.0 - pi_gold, torch.ones_like(pi_gold)) * validf
            coef = (1.0 - eps) * validf - prior_coef * pi_gold
        vector = pi if weight is None else w * pi
        vector_sum = vector.sum()
    if w_gold is not None:
        coef = coef * w_gold  # the gold term is weighted by w[target]; the prior term by w inside `vector`
    mass = coef if prior_coef is None else coef + prior_coef * vector_sum
    denominator = (w_gold if w_gold is not None else validf).sum()
    return SmoothingTerms(coef, prior_coef, vector, vector_sum, mass, denominator)


def smoothed_cross_entropy(
    logits: Tensor,
    target: Tensor,
    epsilon: float = 0.1,
    *,
    prior: Tensor | None = None,
    convention: Convention = "all",
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    validate: bool = True,
) -> LossOutput:
    r"""Cross-entropy to a label-smoothed target, with the plain NLL of the gold labels.

    With ``p = softmax(z)`` over ``C`` classes and gold class ``y``, the target is

    * ``convention="all"`` (default; Szegedy et al. 2016, PyTorch, Hugging Face's ``LabelSmoother``):
      ``q = (1 - eps) * onehot(y) + eps * prior`` — with the uniform prior, ``q_y = 1 - eps + eps / C``;
    * ``convention="others"`` (current fairseq): the gold class keeps exactly ``1 - eps`` and ``eps`` is
      spread over the other classes in proportion to the prior: ``q_j = eps * prior_j / (1 - prior_y)`` for
      ``j != y`` (uniform: ``eps / (C - 1)``),

    and the loss of a position is ``-sum_j w_j q_j log p_j`` (``w`` the class weights, 1 by default). The
    uniform term is computed in closed form, ``-sum_j log p_j / C = logsumexp(z) - mean(z)``, and the prior
    term as ``logsumexp(z) - prior . z``: no dense target is built. This is LS-Classic of the KWLS paper
    (section 5.2) and the token-level label smoothing baseline of the semantic-smoothing paper.

    With ``prior=None, convention="all"`` the value and gradient equal
    ``F.cross_entropy(logits, target, weight=weight, ignore_index=..., reduction=..., label_smoothing=eps)``
    for every reduction, except that a ``mean`` over a batch with nothing to count is 0 here (NaN there),
    and the result is float32 for float16/bfloat16 logits.

    Args:
        logits: ``(..., C)``, classes last (for ``(N, C, d1, ...)`` pass ``logits.movedim(1, -1)``).
        target: ``(...)`` int class indices; ``ignore_index`` marks padding.
        epsilon: smoothing mass in [0, 1].
        prior: ``(C,)`` distribution to smooth towards (e.g. unigram frequencies); ``None`` is uniform.
        convention: ``"all"`` or ``"others"``, see above.
        weight: ``(C,)`` non-negative class weights (as in ``F.cross_entropy``); ``mean`` then divides by
            the sum of the gold classes' weights.
        ignore_index: target value of positions that contribute nothing.
        reduction: ``"mean"`` (over counted positions), ``"sum"`` or ``"none"`` (shape of ``target``).
        num_items: denominator of ``mean`` instead of the count (gradient accumulation).
        validate: check targets are in range and logits finite (one pass and one sync).

    Returns:
        :class:`LossOutput` ``(loss, nll)``: train on ``loss``; ``nll`` is the plain NLL of the gold labels,
        reduced like ``loss`` (with the count of counted positions, not the class weights, as the ``mean``
        denominator), detached.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
        >>> target = torch.tensor([0, -100])
        >>> out = smoothed_cross_entropy(logits, target, 0.1)
        >>> torch.allclose(out.loss, torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.1))
        True
    """
    check_reduction(reduction, num_items)
    z, batch_shape = flatten_logits(logits)
    C = z.shape[1]
    t, valid = prepare_target(target, batch_shape, C, ignore_index, validate)
    terms = smoothing_terms(
        t,
        valid,
        C,
        epsilon,
        prior=prior,
        convention=convention,
        weight=weight,
        dtype=compute_dtype(z.dtype),
        validate=validate,
    )
    stats = row_stats(z, index=t[:, None], vector=terms.vector, finite=validate)
    if stats.finite is not None:
        check_finite_logits("logits", stats.finite | ~valid)
    assert stats.gathered is not None
    gold = stats.gathered[:, 0]
    rows = terms.mass * stats.lse - terms.coef * gold
    if terms.prior_coef is not None:
        assert stats.dot is not None
        rows = rows - terms.prior_coef * stats.dot
    return close_loss(
        rows,
        valid,
        stats.lse - gold,
        reduction=reduction,
        num_items=num_items,
        batch_shape=batch_shape,
        denominator=terms.denominator,
    )


class SmoothedCrossEntropy(LossModule):
    """Module form of :func:`smoothed_cross_entropy`: ``forward(logits, target, num_items=None)`` returns the
    loss tensor (:meth:`~LossModule.with_nll` the :class:`LossOutput`); ``prior`` and ``weight`` are buffers
    (they follow ``.to(device)``)."""

    function = smoothed_cross_entropy
    inputs = ("logits", "target", "num_items")
    buffer_names = ("prior", "weight")
    prior: Tensor | None
    weight: Tensor | None

    def __init__(
        self,
        epsilon: float = 0.1,
        *,
        prior: Tensor | None = None,
        convention: Convention = "all",
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        validate: bool = True,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            prior=prior,
            convention=convention,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            validate=validate,
        )
