"""Output projection fused with (smoothed or sparse-soft-target) cross-entropy, chunk by chunk."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses._common import (
    LossModule,
    LossOutput,
    NumItems,
    Reduction,
    as_tensor_arg,
    check_finite_logits,
    check_reduction,
    prepare_target,
    reduce_nll,
    safe_divide,
)
from textsmooth.losses._kernel import _MEAN, block_rows, compute_dtype, grad_block, needs_precise, stats_block
from textsmooth.losses.smoothed_ce import Convention, smoothing_terms
from textsmooth.losses.soft_target import SparseTarget, prepare_sparse_target

__all__ = ["FusedLinearCrossEntropy", "fused_linear_cross_entropy"]


def _chunk_logits(hc: Tensor, weight: Tensor, bias: Tensor | None, cdt: torch.dtype) -> Tensor:
    logits = hc @ weight.t() if bias is None else torch.addmm(bias, hc, weight.t())
    return logits.to(cdt)


def _chunk_stats(
    zc: Tensor, vector: Tensor | str | None, want_finite: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """lse, z . vector and finiteness of a chunk, in cache-sized sub-blocks."""
    R, V = zc.shape
    rows = block_rows(V, zc.device, zc.dtype)
    lse = zc.new_empty(R)
    dot = zc.new_empty(R) if vector is not None else None
    fin = torch.empty(R, dtype=torch.bool, device=zc.device) if want_finite else None
    for s in range(0, R, rows):
        e = min(R, s + rows)
        l_c, d_c, _, _, f_c = stats_block(zc[s:e], vector, None, False, want_finite)
        lse[s:e] = l_c
        if dot is not None and d_c is not None:
            dot[s:e] = d_c
        if fin is not None and f_c is not None:
            fin[s:e] = f_c
    return lse, dot, fin


class _Coefs(NamedTuple):
    """Coefficients of the rows ``mass_i lse_i - sum_k coef_ik z_i[idx_ik] - prior_coef_i z_i . v``."""

    index: Tensor  # (P, K) gathered classes (in range)
    coef: Tensor  # (P, K)
    prior_coef: Tensor | None  # (P,); None: no z . v term
    mass: Tensor  # (P,)


class _Grads(NamedTuple):
    """Gradient buffers of ``hidden`` (P, H), ``weight`` (V, H) and ``bias`` (V,); None where not needed."""

    hidden: Tensor | None
    weight: Tensor | None
    bias: Tensor | None


def _grad_buffers(
    hidden: Tensor, num_classes: int, cdt: torch.dtype, need: tuple[bool, bool, bool]
) -> _Grads:
    P, H = hidden.shape
    device = hidden.device
    return _Grads(
        torch.empty(P, H, dtype=cdt, device=device) if need[0] else None,
        torch.zeros(num_classes, H, dtype=cdt, device=device) if need[1] else None,
        torch.zeros(num_classes, dtype=cdt, device=device) if need[2] else None,
    )


def _class_vector(vector: Tensor | None, use_mean: bool, cdt: torch.dtype) -> Tensor | str | None:
    return vector.to(cdt) if vector is not None else (_MEAN if use_mean else None)


def _chunk_grad_inplace(
    zc: Tensor,
    lse: Tensor,
    g_lse: Tensor,
    g_dot: Tensor | None,
    vector: Tensor | str | None,
    g_idx: Tensor,
    idx: Tensor,
) -> Tensor:
    """Overwrite the chunk's logits with d(sum_i g_i * row_i)/dz, sub-block by sub-block."""
    R, V = zc.shape
    rows = block_rows(V, zc.device, zc.dtype)
    use_shift = zc.device.type == "cpu" and bool((g_lse >= 0).all())
    precise = needs_precise(lse)
    for s in range(0, R, rows):
        e = min(R, s + rows)
        grad_block(
            zc[s:e],
            zc[s:e],
            lse[s:e],
            g_lse=g_lse[s:e],
            g_dot=None if g_dot is None else g_dot[s:e],
            vector=vector,
            g_soft=None,
            soft_c=None,
            g_ent=None,
            ent_c=None,
            g_idx=g_idx[s:e],
            idx_c=idx[s:e],
            use_shift=use_shift,
            precise=precise,
        )
    return zc


class _FusedLinearCE(torch.autograd.Function):
    """Rows: ``mass_i lse_i - sum_k coef_ik z_i[idx_ik] - c_i z_i . v`` with ``z = h W^T + b``.

    With ``row_scale`` given (reductions ``mean``/``sum``) the output is ``sum_i row_scale_i row_i``
    and the gradients are accumulated during the forward pass (the logits of a chunk are used once, then
    dropped); backward only scales them. Without it (``none``) the output is the rows and backward
    recomputes each chunk's logits. ``ctx`` is typed ``Any``: torch gives ``forward`` and ``backward``
    different context classes, and the state kept here is set as attributes.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        index: Tensor,
        coef: Tensor,
        prior_coef: Tensor | None,
        vector: Tensor | None,
        use_mean: bool,
        mass: Tensor,
        row_scale: Tensor | None,
        need_grad: tuple[bool, bool, bool],
        chunk_size: int,
        want_finite: bool,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        cdt = compute_dtype(hidden.dtype)
        vec = _class_vector(vector, use_mean, cdt)
        coefs = _Coefs(index, coef, prior_coef, mass)
        precompute = row_scale is not None and any(need_grad)
        grads = _grad_buffers(
            hidden, weight.shape[0], cdt, need_grad if precompute else (False, False, False)
        )
        rows, lse, gathered, finite = _forward_chunks(
            hidden,
            weight,
            bias,
            coefs,
            vec,
            row_scale if precompute else None,
            grads,
            chunk_size,
            want_finite,
        )
        ctx.mark_non_differentiable(lse, gathered, finite)
        ctx.precompute = precompute
        if row_scale is not None:
            ctx.save_for_backward(*grads)
            return (rows * row_scale.to(cdt)).sum(), lse, gathered, finite
        ctx.save_for_backward(hidden, weight, bias, index, coef, prior_coef, vector, mass, lse)
        ctx.use_mean = use_mean
        ctx.chunk_size = chunk_size
        return rows, lse, gathered, finite

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g_out: Tensor | None, *_: Tensor | None) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        nones = (None,) * 10
        if g_out is None:
            return (None, None, None, *nones)
        if ctx.precompute or len(ctx.saved_tensors) == 3:
            grads = [None if g is None else g * g_out.to(g.dtype) for g in ctx.saved_tensors]
        else:
            grads = list(_recompute_backward(ctx, g_out))
        need = ctx.needs_input_grad
        return (
            grads[0] if need[0] else None,
            grads[1] if need[1] else None,
            grads[2] if need[2] else None,
            *nones,
        )


def _forward_chunks(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    coefs: _Coefs,
    vec: Tensor | str | None,
    row_scale: Tensor | None,
    grads: _Grads,
    chunk_size: int,
    want_finite: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The chunk loop of the forward pass: rows, lse, gathered logits and finiteness of every position;
    with ``row_scale`` also each chunk's gradient, accumulated into ``grads``."""
    P = hidden.shape[0]
    cdt = compute_dtype(hidden.dtype)
    lse = hidden.new_empty(P, dtype=cdt)
    gathered = hidden.new_empty(coefs.index.shape, dtype=cdt)
    rows = hidden.new_empty(P, dtype=cdt)
    finite = torch.ones(P if want_finite else 0, dtype=torch.bool, device=hidden.device)
    for s in range(0, P, chunk_size):
        e = min(P, s + chunk_size)
        hc = hidden[s:e]
        zc = _chunk_logits(hc, weight, bias, cdt)
        l_c, d_c, f_c = _chunk_stats(zc, vec, want_finite)
        lse[s:e] = l_c
        if f_c is not None:
            finite[s:e] = f_c
        gat = zc.gather(1, coefs.index[s:e])
        gathered[s:e] = gat
        r = coefs.mass[s:e] * l_c - (coefs.coef[s:e] * gat).sum(dim=1)
        if coefs.prior_coef is not None and d_c is not None:
            r = r - coefs.prior_coef[s:e] * d_c
        rows[s:e] = r
        if row_scale is not None:
            _chunk_backward(zc, hc, weight, l_c, row_scale[s:e].to(cdt), coefs, vec, grads, s, e)
    return rows, lse, gathered, finite


def _chunk_backward(
    zc: Tensor,
    hc: Tensor,
    weight: Tensor,
    lse_c: Tensor,
    scale: Tensor,
    coefs: _Coefs,
    vec: Tensor | str | None,
    grads: _Grads,
    s: int,
    e: int,
) -> None:
    """Turn chunk ``s:e``'s logits ``zc`` into the gradient of ``sum_i scale_i row_i`` (in place) and
    accumulate it into ``grads``."""
    g_dot = None if coefs.prior_coef is None else -scale * coefs.prior_coef[s:e]
    dz = _chunk_grad_inplace(
        zc, lse_c, scale * coefs.mass[s:e], g_dot, vec, -scale[:, None] * coefs.coef[s:e], coefs.index[s:e]
    )
    _accumulate(dz, hc, weight, grads, s, e)


def _accumulate(dz: Tensor, hc: Tensor, weight: Tensor, grads: _Grads, s: int, e: int) -> None:
    dzi = dz.to(hc.dtype)  # matmuls run in the input dtype (as the unfused graph would); sums kept in cdt
    if grads.hidden is not None:
        grads.hidden[s:e] = dzi @ weight
    if grads.weight is not None:
        if dzi.dtype == grads.weight.dtype:
            grads.weight.addmm_(dzi.t(), hc)
        else:
            grads.weight.add_(dzi.t() @ hc)
    if grads.bias is not None:
        grads.bias.add_(dz.sum(dim=0))


def _recompute_backward(ctx: Any, g_rows: Tensor) -> _Grads:
    """Backward of ``reduction="none"``: recompute each chunk's logits and turn them into its gradient."""
    hidden, weight, bias, index, coef, prior_coef, vector, mass, lse = ctx.saved_tensors
    need = ctx.needs_input_grad
    cdt = compute_dtype(hidden.dtype)
    vec = _class_vector(vector, ctx.use_mean, cdt)
    grads = _grad_buffers(hidden, weight.shape[0], cdt, (need[0], need[1], need[2] and bias is not None))
    coefs = _Coefs(index, coef, prior_coef, mass)
    g_rows = g_rows.to(cdt)
    chunk = ctx.chunk_size
    for s in range(0, hidden.shape[0], chunk):
        e = min(hidden.shape[0], s + chunk)
        hc = hidden[s:e]
        zc = _chunk_logits(hc, weight, bias, cdt)
        _chunk_backward(zc, hc, weight, lse[s:e], g_rows[s:e], coefs, vec, grads, s, e)
    return grads


# ----------------------------------------------------------------------------------------------- the loss


class _FusedTarget(NamedTuple):
    """The target of every position as the coefficients of its row, and which positions count."""

    coefs: _Coefs
    vector: Tensor | str | None  # (V,) prior, "mean" (uniform) or None
    valid: Tensor  # (P,) counted positions
    has_gold: bool  # index[:, 0] is the gold class (the plain NLL can be reported)


def _check_projection(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, chunk_size: int
) -> tuple[Tensor, Tensor | None]:
    """Check the projection's arguments; ``weight`` and ``bias`` cast to ``hidden``'s dtype."""
    as_tensor_arg("hidden", hidden)
    as_tensor_arg("weight", weight)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if not hidden.is_floating_point() or hidden.dim() < 1:
        raise InputError(f"hidden must be a floating tensor of shape (..., H), got {tuple(hidden.shape)}")
    H = hidden.shape[-1]
    if weight.dim() != 2 or weight.shape[1] != H:
        raise InputError(f"weight must have shape (V, {H}) to match hidden, got {tuple(weight.shape)}")
    if not weight.is_floating_point():
        raise InputError(f"weight must be a floating tensor, got dtype {weight.dtype}")
    if weight.dtype != hidden.dtype:
        # e.g. float32 parameters with float16 hidden states under autocast: the products run in hidden's
        # dtype, as autocast's matmul would (the cast is part of the graph; weight's gradient keeps its dtype)
        weight = weight.to(hidden.dtype)
    V = weight.shape[0]
    if bias is not None:
        as_tensor_arg("bias", bias)
        if tuple(bias.shape) != (V,) or not bias.is_floating_point():
            raise InputError(f"bias must be a floating tensor of shape ({V},), got {tuple(bias.shape)}")
        bias = bias.to(hidden.dtype)
    return weight, bias


def _smoothed_target(
    t: Tensor,
    valid: Tensor,
    V: int,
    epsilon: float,
    prior: Tensor | None,
    convention: Convention,
    cdt: torch.dtype,
    validate: bool,
) -> _FusedTarget:
    terms = smoothing_terms(
        t, valid, V, epsilon, prior=prior, convention=convention, weight=None, dtype=cdt, validate=validate
    )
    coefs = _Coefs(t[:, None], terms.coef[:, None], terms.prior_coef, terms.mass)
    return _FusedTarget(coefs, terms.vector, valid, True)


def _sparse_target(
    t: Tensor | None,
    valid: Tensor | None,
    sp: SparseTarget,
    epsilon: float,
    cdt: torch.dtype,
) -> _FusedTarget:
    """A top-N target, mixed with the uniform distribution by ``epsilon``; the gold class (weight 0) is
    gathered first when given, for the NLL."""
    eps = float(epsilon)
    sp_valid = sp.mass != 0
    valid = sp_valid if valid is None else valid & sp_valid
    validf = valid.to(cdt)
    coef = (1.0 - eps) * sp.weight * validf[:, None]
    index = sp.index
    if t is not None:
        index = torch.cat([t[:, None], index], dim=1)
        coef = torch.cat([torch.zeros_like(coef[:, :1]), coef], dim=1)
    prior_coef = eps * validf if eps > 0 else None
    mass = (1.0 - eps) * sp.mass * validf + (eps * validf if eps > 0 else 0.0)
    return _FusedTarget(
        _Coefs(index, coef, prior_coef, mass), "mean" if eps > 0 else None, valid, t is not None
    )


def _row_scale(valid: Tensor, reduction: Reduction, num_items: NumItems, cdt: torch.dtype) -> Tensor | None:
    """``d(loss) / d(row_i)`` for ``mean``/``sum``; None for ``none``."""
    validf = valid.to(cdt)
    if reduction == "sum":
        return validf
    if reduction != "mean":
        return None
    if num_items is None:
        return safe_divide(validf, valid.sum())
    if isinstance(num_items, Tensor):
        return validf / num_items.to(device=valid.device, dtype=cdt)
    return validf / float(num_items)


def fused_linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor | None,
    epsilon: float = 0.0,
    *,
    bias: Tensor | None = None,
    prior: Tensor | None = None,
    convention: Convention = "all",
    indices: Tensor | None = None,
    weights: Tensor | None = None,
    row_weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: NumItems = None,
    chunk_size: int = 1024,
    validate: bool = True,
) -> LossOutput:
    r"""``smoothed_cross_entropy(hidden @ weight.T + bias, ...)`` without ever holding all the logits.

    The positions are processed ``chunk_size`` at a time: a chunk's logits ``(chunk_size, V)`` are computed,
    reduced to the loss terms, turned in place into their gradient and multiplied back into the gradients of
    ``hidden``, ``weight`` and ``bias``, then dropped. With ``reduction`` ``"mean"`` or ``"sum"`` this happens
    in the forward pass, so the backward pass is a scaling and the matrix products are the same three as
    the unfused graph's (forward, and two for backward); with ``"none"`` the backward pass recomputes
    each chunk (one more product). Peak memory is about two ``(chunk_size, V)`` float32 buffers plus the
    ``(V, H)`` weight gradient, instead of several ``(positions, V)`` buffers. Not twice differentiable.

    The target of a position is the label-smoothed gold class (``epsilon``, ``prior``, ``convention``, as in
    :func:`smoothed_cross_entropy`) or, when ``indices``/``weights`` are given, a top-N sparse soft target (as
    in :func:`sparse_soft_target_cross_entropy`; ``epsilon`` then mixes in the uniform distribution).

    Args:
        hidden: ``(..., H)`` final hidden states.
        weight: ``(V, H)`` output embedding (an ``nn.Linear(H, V).weight``, or a tied input embedding);
            cast to ``hidden``'s dtype if it differs (float32 parameters under autocast).
        target: ``(...)`` gold ids (may be ``None`` with a sparse target; then ``nll`` is ``None``).
        bias: optional ``(V,)``.
        row_weight: optional ``(...)`` weight ``w_i`` of each position's loss, a constant (no gradient
            flows into it): the loss is ``sum_i w_i row_i``, divided as without weights (``mean``: by the
            counted positions or ``num_items``); ``none`` returns ``w_i row_i``. Weighted sums of sequence
            losses, such as loss (2) of :func:`~textsmooth.seq2seq.seq2seq_loss`, then need one fused call
            and no extra product. ``nll`` stays unweighted.
        chunk_size: positions per chunk (memory ~ ``chunk_size * V * 4`` bytes, times about two).
        Others: as in :func:`smoothed_cross_entropy` and :func:`sparse_soft_target_cross_entropy`.

    Returns:
        :class:`LossOutput`; ``nll`` is the plain NLL of ``target``.
    """
    check_reduction(reduction, num_items)
    weight, bias = _check_projection(hidden, weight, bias, chunk_size)
    batch_shape = tuple(hidden.shape[:-1])
    cdt = compute_dtype(hidden.dtype)
    tgt = _fused_target(
        target, indices, weights, batch_shape, weight.shape[0], cdt, epsilon=epsilon, prior=prior,
        convention=convention, ignore_index=ignore_index, validate=validate
    )  # fmt: skip
    row_scale = _row_scale(tgt.valid, reduction, num_items, cdt)
    w = _check_row_weight(row_weight, batch_shape, hidden.device, cdt, validate)
    if w is not None and row_scale is not None:
        row_scale = row_scale * w
    h2 = hidden.reshape(-1, hidden.shape[-1])
    out, lse, gathered, finite = _apply(h2, weight, bias, tgt, row_scale, chunk_size, validate)
    if w is not None and row_scale is None:  # reduction "none": the rows weighted through autograd
        out = out * w
    return _close_fused(out, lse, gathered, finite, tgt, reduction, num_items, batch_shape, validate)


def _check_row_weight(
    row_weight: Tensor | None,
    batch_shape: tuple[int, ...],
    device: torch.device,
    cdt: torch.dtype,
    validate: bool,
) -> Tensor | None:
    """``row_weight`` flattened to ``(P,)`` in the compute dtype, after checking its shape (and values)."""
    if row_weight is None:
        return None
    as_tensor_arg("row_weight", row_weight)
    if tuple(row_weight.shape) != batch_shape or not row_weight.is_floating_point():
        raise InputError(
            f"row_weight must be a floating tensor of the positions' shape {batch_shape}, "
            f"got {tuple(row_weight.shape)} {row_weight.dtype}"
        )
    if row_weight.requires_grad:
        raise InputError("row_weight is a constant; detach it (no gradient flows into it)")
    w = row_weight.reshape(-1).to(device=device, dtype=cdt)
    if validate and not bool(torch.isfinite(w).all()):
        raise InputError("row_weight has non-finite values")
    return w


def _apply(
    h2: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    tgt: _FusedTarget,
    row_scale: Tensor | None,
    chunk_size: int,
    validate: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Run the autograd node: ``(out, lse, gathered, finite)``."""
    grad_on = torch.is_grad_enabled()
    need_grad = (
        grad_on and h2.requires_grad,
        grad_on and weight.requires_grad,
        grad_on and bias is not None and bias.requires_grad,
    )
    c = tgt.coefs
    vector = tgt.vector if isinstance(tgt.vector, Tensor) else None
    return _FusedLinearCE.apply(
        h2, weight, bias, c.index, c.coef, c.prior_coef, vector, tgt.vector == "mean", c.mass, row_scale,
        need_grad, chunk_size, validate
    )  # fmt: skip


def _fused_target(
    target: Tensor | None,
    indices: Tensor | None,
    weights: Tensor | None,
    batch_shape: tuple[int, ...],
    V: int,
    cdt: torch.dtype,
    *,
    epsilon: float,
    prior: Tensor | None,
    convention: Convention,
    ignore_index: int,
    validate: bool,
) -> _FusedTarget:
    """Check the target arguments and build the label-smoothed or the sparse target."""
    if target is None and indices is None:
        raise InputError("give target, or a sparse soft target (indices and weights)")
    if (indices is None) != (weights is None):
        raise InputError("indices and weights go together")
    t = valid = None
    if target is not None:
        t, valid = prepare_target(target, batch_shape, V, ignore_index, validate)
    if indices is None or weights is None:
        assert t is not None and valid is not None
        return _smoothed_target(t, valid, V, epsilon, prior, convention, cdt, validate)
    if prior is not None or convention != "all":
        raise ConfigError(
            "prior and convention apply to hard targets; a sparse target carries its own weights"
        )
    if not 0.0 <= float(epsilon) <= 1.0:
        raise ConfigError(f"epsilon must be in [0, 1], got {epsilon!r}")
    sp = prepare_sparse_target(indices, weights, batch_shape, V, ignore_index, cdt, validate)
    return _sparse_target(t, valid, sp, epsilon, cdt)


def _close_fused(
    out: Tensor,
    lse: Tensor,
    gathered: Tensor,
    finite: Tensor,
    tgt: _FusedTarget,
    reduction: Reduction,
    num_items: NumItems,
    batch_shape: tuple[int, ...],
    validate: bool,
) -> LossOutput:
    """Check the logits were finite; mask the rows of ``none``; reduce the plain NLL like the loss."""
    valid = tgt.valid
    if validate:
        check_finite_logits("logits (hidden @ weight.T + bias)", finite | ~valid)
    loss = out
    if reduction == "none":
        loss = torch.where(valid, out, torch.zeros_like(out)).reshape(batch_shape)
    nll_rows = lse - gathered[:, 0] if tgt.has_gold else None
    nll = reduce_nll(
        nll_rows, valid, valid.sum(), reduction=reduction, num_items=num_items, batch_shape=batch_shape
    )
    return LossOutput(loss, nll)


class FusedLinearCrossEntropy(LossModule):
    """Module form of :func:`fused_linear_cross_entropy`: ``forward(hidden, weight, target, bias=None, *,
    indices=None, weights=None, num_items=None)`` returns the loss tensor; ``prior`` is a buffer. The
    projection weight is passed to ``forward`` (it belongs to the model: an output layer or a tied
    embedding)."""

    function = fused_linear_cross_entropy
    inputs = ("hidden", "weight", "target", "bias")
    buffer_names = ("prior",)
    prior: Tensor | None

    def __init__(
        self,
        epsilon: float = 0.0,
        *,
        prior: Tensor | None = None,
        convention: Convention = "all",
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        chunk_size: int = 1024,
        validate: bool = True,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            prior=prior,
            convention=convention,
            ignore_index=ignore_index,
            reduction=reduction,
            chunk_size=chunk_size,
            validate=validate,
        )
