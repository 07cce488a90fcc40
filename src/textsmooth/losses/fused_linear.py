"""Output projection fused with (smoothed or sparse-soft-target) cross-entropy, chunk by chunk."""

from __future__ import annotations

from typing import Literal, overload

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses._common import (
    LossOutput,
    Reduction,
    as_tensor_arg,
    check_finite_logits,
    check_reduction,
    maybe_with_nll,
    prepare_target,
    safe_divide,
)
from textsmooth.losses._kernel import _MEAN, block_rows, compute_dtype, grad_block, needs_precise, stats_block
from textsmooth.losses.smoothed_ce import Convention, smoothing_terms
from textsmooth.losses.soft_target import prepare_sparse_target

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
    recomputes each chunk's logits.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
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
        P, H = hidden.shape
        V = weight.shape[0]
        cdt = compute_dtype(hidden.dtype)
        vec: Tensor | str | None = vector.to(cdt) if vector is not None else (_MEAN if use_mean else None)
        lse = hidden.new_empty(P, dtype=cdt)
        gathered = hidden.new_empty(index.shape, dtype=cdt)
        rows = hidden.new_empty(P, dtype=cdt)
        finite = torch.ones(P if want_finite else 0, dtype=torch.bool, device=hidden.device)
        precompute = row_scale is not None and any(need_grad)
        g_h = torch.empty(P, H, dtype=cdt, device=hidden.device) if precompute and need_grad[0] else None
        g_w = torch.zeros(V, H, dtype=cdt, device=hidden.device) if precompute and need_grad[1] else None
        g_b = torch.zeros(V, dtype=cdt, device=hidden.device) if precompute and need_grad[2] else None
        for s in range(0, P, chunk_size):
            e = min(P, s + chunk_size)
            hc = hidden[s:e]
            zc = _chunk_logits(hc, weight, bias, cdt)
            l_c, d_c, f_c = _chunk_stats(zc, vec, want_finite)
            lse[s:e] = l_c
            if f_c is not None:
                finite[s:e] = f_c
            gat = zc.gather(1, index[s:e])
            gathered[s:e] = gat
            r = mass[s:e] * l_c - (coef[s:e] * gat).sum(dim=1)
            if prior_coef is not None and d_c is not None:
                r = r - prior_coef[s:e] * d_c
            rows[s:e] = r
            if precompute:
                assert row_scale is not None
                sc = row_scale[s:e].to(cdt)
                g_dot = None if prior_coef is None else -sc * prior_coef[s:e]
                dz = _chunk_grad_inplace(
                    zc, l_c, sc * mass[s:e], g_dot, vec, -sc[:, None] * coef[s:e], index[s:e]
                )
                _accumulate(dz, hc, weight, g_h, g_w, g_b, s, e)
        ctx.mark_non_differentiable(lse, gathered, finite)
        ctx.precompute = precompute  # type: ignore[attr-defined]
        if row_scale is not None:
            ctx.save_for_backward(g_h, g_w, g_b)
            return (rows * row_scale.to(cdt)).sum(), lse, gathered, finite
        ctx.save_for_backward(hidden, weight, bias, index, coef, prior_coef, vector, mass, lse)
        ctx.use_mean = use_mean  # type: ignore[attr-defined]
        ctx.chunk_size = chunk_size  # type: ignore[attr-defined]
        return rows, lse, gathered, finite

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, g_out: Tensor | None, *_: Tensor | None) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        nones = (None,) * 10
        if g_out is None:
            return (None, None, None, *nones)
        if ctx.precompute or len(ctx.saved_tensors) == 3:  # type: ignore[attr-defined]
            g_h, g_w, g_b = ctx.saved_tensors  # type: ignore[attr-defined]
            grads = [None if g is None else g * g_out.to(g.dtype) for g in (g_h, g_w, g_b)]
        else:
            grads = _recompute_backward(ctx, g_out)
        need = ctx.needs_input_grad  # type: ignore[attr-defined]
        return (
            grads[0] if need[0] else None,
            grads[1] if need[1] else None,
            grads[2] if need[2] else None,
            *nones,
        )


def _accumulate(
    dz: Tensor,
    hc: Tensor,
    weight: Tensor,
    g_h: Tensor | None,
    g_w: Tensor | None,
    g_b: Tensor | None,
    s: int,
    e: int,
) -> None:
    dzi = dz.to(hc.dtype)  # matmuls run in the input dtype (as the unfused graph would); sums kept in cdt
    if g_h is not None:
        g_h[s:e] = dzi @ weight
    if g_w is not None:
        if dzi.dtype == g_w.dtype:
            g_w.addmm_(dzi.t(), hc)
        else:
            g_w.add_(dzi.t() @ hc)
    if g_b is not None:
        g_b.add_(dz.sum(dim=0))


def _recompute_backward(ctx: FunctionCtx, g_rows: Tensor) -> list[Tensor | None]:
    hidden, weight, bias, index, coef, prior_coef, vector, mass, lse = ctx.saved_tensors  # type: ignore[attr-defined]
    need = ctx.needs_input_grad  # type: ignore[attr-defined]
    P, H = hidden.shape
    V = weight.shape[0]
    cdt = compute_dtype(hidden.dtype)
    vec: Tensor | str | None = vector.to(cdt) if vector is not None else (_MEAN if ctx.use_mean else None)  # type: ignore[attr-defined]
    g_h = torch.empty(P, H, dtype=cdt, device=hidden.device) if need[0] else None
    g_w = torch.zeros(V, H, dtype=cdt, device=hidden.device) if need[1] else None
    g_b = torch.zeros(V, dtype=cdt, device=hidden.device) if need[2] and bias is not None else None
    g_rows = g_rows.to(cdt)
    chunk = ctx.chunk_size  # type: ignore[attr-defined]
    for s in range(0, P, chunk):
        e = min(P, s + chunk)
        hc = hidden[s:e]
        zc = _chunk_logits(hc, weight, bias, cdt)
        sc = g_rows[s:e]
        g_dot = None if prior_coef is None else -sc * prior_coef[s:e]
        dz = _chunk_grad_inplace(
            zc, lse[s:e], sc * mass[s:e], g_dot, vec, -sc[:, None] * coef[s:e], index[s:e]
        )
        _accumulate(dz, hc, weight, g_h, g_w, g_b, s, e)
    return [g_h, g_w, g_b]


@overload
def fused_linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor | None,
    epsilon: float = ...,
    *,
    bias: Tensor | None = ...,
    prior: Tensor | None = ...,
    convention: Convention = ...,
    indices: Tensor | None = ...,
    weights: Tensor | None = ...,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[False] = ...,
    chunk_size: int = ...,
    validate: bool = ...,
) -> Tensor: ...
@overload
def fused_linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor | None,
    epsilon: float = ...,
    *,
    bias: Tensor | None = ...,
    prior: Tensor | None = ...,
    convention: Convention = ...,
    indices: Tensor | None = ...,
    weights: Tensor | None = ...,
    ignore_index: int = ...,
    reduction: Reduction = ...,
    num_items: int | float | Tensor | None = ...,
    return_nll: Literal[True],
    chunk_size: int = ...,
    validate: bool = ...,
) -> LossOutput: ...
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
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    num_items: int | float | Tensor | None = None,
    return_nll: bool = False,
    chunk_size: int = 1024,
    validate: bool = True,
) -> Tensor | LossOutput:
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
        target: ``(...)`` gold ids (may be ``None`` with a sparse target; then no NLL can be returned).
        bias: optional ``(V,)``.
        chunk_size: positions per chunk (memory ~ ``chunk_size * V * 4`` bytes, times about two).
        Others: as in :func:`smoothed_cross_entropy` and :func:`sparse_soft_target_cross_entropy`.
    """
    check_reduction(reduction, num_items)
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
    batch_shape = tuple(hidden.shape[:-1])
    h2 = hidden.reshape(-1, H)
    cdt = compute_dtype(hidden.dtype)
    if target is None and indices is None:
        raise InputError("give target, or a sparse soft target (indices and weights)")
    if (indices is None) != (weights is None):
        raise InputError("indices and weights go together")
    t = valid = None
    if target is not None:
        t, valid = prepare_target(target, batch_shape, V, ignore_index, validate)
    if indices is None:
        assert t is not None and valid is not None
        terms = smoothing_terms(
            t,
            valid,
            V,
            epsilon,
            prior=prior,
            convention=convention,
            weight=None,
            dtype=cdt,
            validate=validate,
        )
        index, coef = t[:, None], terms.coef[:, None]
        prior_coef, vector, mass = terms.prior_coef, terms.vector, terms.mass
        has_gold = True
    else:
        assert weights is not None
        if prior is not None or convention != "all":
            raise ConfigError(
                "prior and convention apply to hard targets; a sparse target carries its own weights"
            )
        eps = float(epsilon)
        if not 0.0 <= eps <= 1.0:
            raise ConfigError(f"epsilon must be in [0, 1], got {epsilon!r}")
        sp = prepare_sparse_target(indices, weights, batch_shape, V, ignore_index, cdt, validate)
        sp_valid = sp.mass != 0
        valid = sp_valid if valid is None else valid & sp_valid
        validf = valid.to(cdt)
        coef = (1.0 - eps) * sp.weight * validf[:, None]
        index = sp.index
        has_gold = t is not None
        if t is not None:
            index = torch.cat([t[:, None], index], dim=1)
            coef = torch.cat([torch.zeros_like(coef[:, :1]), coef], dim=1)
        prior_coef = eps * validf if eps > 0 else None
        vector = "mean" if eps > 0 else None
        mass = (1.0 - eps) * sp.mass * validf + (eps * validf if eps > 0 else 0.0)
    count = valid.sum()
    need_grad = (
        torch.is_grad_enabled() and h2.requires_grad,
        torch.is_grad_enabled() and weight.requires_grad,
        torch.is_grad_enabled() and bias is not None and bias.requires_grad,
    )
    validf = valid.to(cdt)
    row_scale: Tensor | None = None  # d(loss)/d(row_i) for mean/sum; None for "none"
    if reduction == "sum":
        row_scale = validf
    elif reduction == "mean":
        if num_items is None:
            row_scale = safe_divide(validf, count)
        elif isinstance(num_items, Tensor):
            row_scale = validf / num_items.to(device=h2.device, dtype=cdt)
        else:
            row_scale = validf / float(num_items)
    vec_t = vector if isinstance(vector, Tensor) else None
    out, lse, gathered, finite = _FusedLinearCE.apply(
        h2,
        weight,
        bias,
        index,
        coef,
        prior_coef,
        vec_t,
        vector == "mean",
        mass,
        row_scale,
        need_grad,
        chunk_size,
        validate,
    )
    if validate:
        check_finite_logits("logits (hidden @ weight.T + bias)", finite | ~valid)
    if reduction == "none":
        loss = torch.where(valid, out, torch.zeros_like(out)).reshape(batch_shape)
    else:
        loss = out
    nll_rows = (
        torch.where(valid, lse - gathered[:, 0], torch.zeros_like(lse)) if (return_nll and has_gold) else None
    )
    return maybe_with_nll(
        loss,
        nll_rows,
        return_nll=return_nll,
        reduction=reduction,
        count=count,
        num_items=num_items,
        batch_shape=batch_shape,
    )


class FusedLinearCrossEntropy(nn.Module):
    """Module form of :func:`fused_linear_cross_entropy`; ``prior`` is a buffer. The projection weight is
    passed to ``forward`` (it belongs to the model: an output layer or a tied embedding)."""

    prior: Tensor | None

    def __init__(
        self,
        epsilon: float = 0.0,
        *,
        prior: Tensor | None = None,
        convention: Convention = "all",
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        return_nll: bool = False,
        chunk_size: int = 1024,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.convention: Convention = convention
        self.ignore_index = ignore_index
        self.reduction: Reduction = reduction
        self.return_nll = return_nll
        self.chunk_size = chunk_size
        self.validate = validate
        self.register_buffer("prior", prior)

    def forward(
        self,
        hidden: Tensor,
        weight: Tensor,
        target: Tensor | None,
        bias: Tensor | None = None,
        *,
        indices: Tensor | None = None,
        weights: Tensor | None = None,
        num_items: int | float | Tensor | None = None,
    ) -> Tensor | LossOutput:
        return fused_linear_cross_entropy(
            hidden,
            weight,
            target,
            self.epsilon,
            bias=bias,
            prior=self.prior,
            convention=self.convention,
            indices=indices,
            weights=weights,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            num_items=num_items,
            return_nll=self.return_nll,  # type: ignore[call-overload]
            chunk_size=self.chunk_size,
            validate=self.validate,
        )
