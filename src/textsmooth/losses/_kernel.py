"""The one vocabulary-sized computation every loss here needs, done block by block.

Every loss of the family is a small function of a few per-row statistics of the logits ``z`` (rows are
positions, columns are classes, ``p = softmax(z)``):

* ``lse_i = log sum_j exp(z_ij)``                        (log-partition)
* ``z_i[idx_ik]``                                         (logits at a few gathered classes)
* ``z_i . v``  for one class vector ``v`` or the row mean   (uniform / prior smoothing term)
* ``q_i . z_i``  for a dense soft target ``q``               (dense soft-target term)
* ``H_i = lse_i - p_i . z_i``                               (the entropy of ``p_i``)

:func:`row_stats` returns them as a differentiable autograd node. Its backward writes the gradient with
respect to ``z`` in one ``(P, C)`` buffer, block by block::

    dz_ij = g_lse_i p_ij - g_H_i p_ij (z_ij - E_i) + g_dot_i v_j + g_soft_i q_ij
            + sum_k g_idx_ik [j = idx_ik]          (E_i = p_i . z_i = lse_i - H_i)

The loss itself (a few operations on ``(P,)`` and ``(P, K)`` tensors) is ordinary autograd code in the
modules that use this, so each formula reads as written in its paper. No ``(P, C)`` tensor is kept
between forward and backward or built as a target: the forward pass needs one block-sized exponential
inside ``logsumexp`` (freed before it returns), the backward pass the gradient (PyTorch's own
``cross_entropy`` keeps the log-softmax and peaks at three buffers of that size). ``block_rows`` sets the
block size from the machine-tuned defaults below, which :func:`set_block_elements` overrides.

Arithmetic is float32 for float16/bfloat16/float32 logits and float64 for float64 logits; the gradient is
returned in the logits' dtype. Stable for logits of any finite magnitude: exponentials are max-shifted, and
where the logits are so large that ``lse`` itself cannot hold the small part ``log sum_j exp(z_ij - m_i)``
(``m_i`` the row maximum; at float32 this starts near ``|lse| = 64``, at float64 near ``3e10``), the
backward pass recomputes that part from the shifted logits instead of reading it from the rounded
``lse``; the entropy is computed from shifted logits, so ``z_ij - E_i`` never subtracts two huge numbers.
Gradients are therefore the same at logit magnitude 1e30 as at 1e4.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from textsmooth.errors import ConfigError

__all__ = [
    "BlockElements",
    "RowStats",
    "block_rows",
    "compute_dtype",
    "grad_block",
    "needs_precise",
    "row_stats",
    "set_block_elements",
    "stats_block",
]

# ----------------------------------------------------------------------------------------------- blocks
# Rows per block = elements per block // classes. The defaults are machine-tuned:
#
# * CPU_BLOCK_ELEMENTS (float32/float64 logits on a CPU): 2**28, i.e. one block for any batch up to 2**28
#   logits. Measured with torch 2.13.0+cpu on a 2-core x86_64 machine shared with other jobs (load average
#   3-6), forward + backward, interleaved, 4,096 x 8,000 and 8,192 x 32,000 float32 (table in
#   docs/losses.md, "Blocks on a shared CPU"): every block costs about nine OpenMP parallel regions and on
#   a busy CPU each can wait a scheduler tick, so cache-sized blocks (2**20) lost to PyTorch's own kernel
#   there while one block beat it in every condition measured. A single block needs one (P, C) temporary in
#   the forward pass, freed before the gradient is allocated, so the peak memory is unchanged. On a lightly
#   loaded many-core machine smaller blocks (2**20-2**22) may be faster: re-measure with
#   benchmarks/bench_losses.py and set them with set_block_elements.
# * CPU_HALF_BLOCK_ELEMENTS (float16/bfloat16 logits on a CPU): 2**24, because half-precision blocks are
#   upcast to float32 one at a time (a 64 MB copy per block); not tuned by measurement.
# * GPU_BLOCK_ELEMENTS (any dtype on a GPU): 2**26; not measured (no GPU was available).
#
# block_rows reads these module attributes at every call, so set_block_elements (or a test's monkeypatch)
# takes effect on the next loss call.
CPU_BLOCK_ELEMENTS = 1 << 28
CPU_HALF_BLOCK_ELEMENTS = 1 << 24
GPU_BLOCK_ELEMENTS = 1 << 26


class BlockElements(NamedTuple):
    """Elements per block of the loss kernel (see :func:`set_block_elements`)."""

    cpu: int  # float32/float64 logits on a CPU
    cpu_half: int  # float16/bfloat16 logits on a CPU
    gpu: int  # any logits on a GPU


def set_block_elements(
    *, cpu: int | None = None, cpu_half: int | None = None, gpu: int | None = None
) -> BlockElements:
    """Set how many logits the loss kernel processes per block; returns the previous values.

    A block is ``block_elements // num_classes`` rows of the ``(positions, classes)`` logits; smaller
    blocks use less temporary memory for half-precision logits and may be faster on a lightly loaded
    many-core CPU, larger ones cost fewer parallel regions on a busy one. The defaults (``2**28`` on a CPU,
    ``2**24`` for half precision on a CPU, ``2**26`` on a GPU) and what they were measured on are
    documented in ``docs/losses.md``. Values are unchanged where an argument is ``None``; restore with
    ``set_block_elements(**previous._asdict())``. The setting is global (like ``torch.set_num_threads``).
    """
    global CPU_BLOCK_ELEMENTS, CPU_HALF_BLOCK_ELEMENTS, GPU_BLOCK_ELEMENTS
    previous = BlockElements(CPU_BLOCK_ELEMENTS, CPU_HALF_BLOCK_ELEMENTS, GPU_BLOCK_ELEMENTS)
    for name, value in (("cpu", cpu), ("cpu_half", cpu_half), ("gpu", gpu)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} block elements must be a positive int, got {value!r}")
    CPU_BLOCK_ELEMENTS = previous.cpu if cpu is None else cpu
    CPU_HALF_BLOCK_ELEMENTS = previous.cpu_half if cpu_half is None else cpu_half
    GPU_BLOCK_ELEMENTS = previous.gpu if gpu is None else gpu
    return previous


_MEAN = "mean"  # marker: the class vector is the uniform 1/C (computed as a row mean, no matvec)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def block_rows(
    num_classes: int, device: torch.device, dtype: torch.dtype, block_elements: int | None = None
) -> int:
    """Rows per block for a pass over ``(rows, num_classes)`` logits of ``dtype`` on ``device``."""
    if block_elements is None:
        if device.type != "cpu":
            block_elements = GPU_BLOCK_ELEMENTS
        elif dtype in (torch.float32, torch.float64):
            block_elements = CPU_BLOCK_ELEMENTS
        else:
            block_elements = CPU_HALF_BLOCK_ELEMENTS
    return max(1, block_elements // max(1, num_classes))


class RowStats(NamedTuple):
    """Per-row statistics of logits ``z`` (P, C); fields not asked for are ``None``."""

    lse: Tensor  # (P,) log-sum-exp
    gathered: Tensor | None  # (P, K) z at the requested indices
    dot: Tensor | None  # (P,) z . v  (v the class vector, or the row mean)
    soft_dot: Tensor | None  # (P,) q . z for the dense soft target q
    entropy: Tensor | None  # (P,) lse - p . z
    log_probs: Tensor | None  # (P, K) log p at the requested indices (z[idx] - lse, from shifted logits)
    finite: Tensor | None  # (P,) bool: every logit of the row is finite (not differentiable)


def _shifted(zc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(m, c, l)``: the row maxima (0 for rows without a finite one), ``c = z - m``, ``l = lse(c)``."""
    m = zc.amax(dim=1)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    c = zc - m[:, None]
    return m, c, torch.logsumexp(c, dim=1)


def stats_block(
    zc: Tensor,
    vector: Tensor | str | None,
    soft_c: Tensor | None,
    want_entropy: bool,
    want_finite: bool,
    shift_out: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, Tensor | None]:
    """Statistics of one block ``zc`` (rows, C) already in the compute dtype.

    Returns ``(lse, dot, soft_dot, entropy, finite)``; the entropy is ``l - p . c`` computed from the
    shifted logits ``c = z - max(z)`` (``l = lse(c)``), exact to rounding whatever the logits' magnitude.
    ``shift_out``, when given, receives ``m`` and ``l`` (``lse = m + l``).
    """
    entropy = None
    if shift_out is not None and not want_entropy:
        # Only the shifted log-mass l = log sum_j exp(z_ij - m_i): one temporary, exponentiated and summed in
        # place (c and logsumexp's own exponential would be two).
        m = zc.amax(dim=1)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        log_mass = torch.sub(zc, m[:, None]).exp_().sum(dim=1).log_()
        lse = m + log_mass
        shift_out[0].copy_(m)
        shift_out[1].copy_(log_mass)
    elif want_entropy or shift_out is not None:
        m, c, log_mass = _shifted(zc)
        lse = m + log_mass
        if shift_out is not None:
            shift_out[0].copy_(m)
            shift_out[1].copy_(log_mass)
        if want_entropy:
            p = torch.exp(c - log_mass[:, None])
            entropy = log_mass - torch.linalg.vecdot(p, c, dim=1)
            del p
        del c
    else:
        lse = torch.logsumexp(zc, dim=1)
    dot = finite = soft_dot = None
    if vector is not None or want_finite:
        if isinstance(vector, Tensor):
            dot = zc @ vector
            check = zc.sum(dim=1) if want_finite else None
        else:
            row_sum = zc.sum(dim=1)
            dot = row_sum / zc.shape[1] if vector == _MEAN else None
            check = row_sum
        if want_finite:
            finite = torch.isfinite(check) & torch.isfinite(lse)
    if soft_c is not None:
        soft_dot = torch.linalg.vecdot(soft_c.to(zc.dtype), zc, dim=1)
    return lse, dot, soft_dot, entropy, finite


# Below this bound on max |lse| * eps(dtype), the rounding of lse moves every p_ij by a relative 2**-17 at
# most, and the backward pass uses lse as it is; above it, it recomputes the shifted log-mass.
_PRECISE_ABOVE = 2.0**-17


def needs_precise(lse: Tensor) -> bool:
    """Whether ``lse`` is too large for ``exp(z - lse)`` to be accurate (see the module docstring)."""
    if lse.numel() == 0:
        return False
    bound = torch.nan_to_num(lse.abs(), nan=0.0, posinf=0.0).amax()
    return bool(bound * torch.finfo(lse.dtype).eps > _PRECISE_ABOVE)


def grad_block(
    zc: Tensor,
    out: Tensor,
    lse_c: Tensor,
    *,
    g_lse: Tensor | None,
    g_dot: Tensor | None,
    vector: Tensor | str | None,
    g_soft: Tensor | None,
    soft_c: Tensor | None,
    g_ent: Tensor | None,
    ent_c: Tensor | None,
    g_idx: Tensor | None,
    idx_c: Tensor | None,
    use_shift: bool,
    precise: bool = False,
) -> Tensor:
    """Write the gradient of one block into ``out`` (same shape and dtype as ``zc``; may alias ``zc``).

    ``precise`` (see :func:`needs_precise`) recomputes the shifted log-mass ``l = lse(z - m)`` so that
    ``p = exp((z - m) - l)`` stays exact when ``lse`` is too large to carry ``l``.
    """
    if precise and (g_ent is not None or g_lse is not None):
        m, c, log_mass = _shifted(zc)
        out.copy_(c)  # from here on ``out`` holds c = z - m (zc may be ``out``)
        del c
        base, log_scale = m, log_mass
    else:
        base, log_scale = None, lse_c
    shifted = base is not None
    if g_ent is not None:
        assert ent_c is not None
        # p * (g_lse - g_H (z - E)),  z - E = c - (l - H)  (or z - (lse - H) on the fast path)
        mean_logit = log_scale - ent_c
        a = g_ent * mean_logit
        if g_lse is not None:
            a = a + g_lse
        factor = torch.addcmul(a[:, None], out if shifted else zc, g_ent[:, None], value=-1.0)
        torch.sub(out if shifted else zc, log_scale[:, None], out=out).exp_()
        out.mul_(factor)
    elif g_lse is not None:
        source = out if shifted else zc
        if use_shift:
            # g * exp(z - lse) = exp(z - (lse - log g)) for g >= 0 (g = 0 gives exp(-inf) = 0): one pass less.
            torch.sub(source, (log_scale - torch.log(g_lse))[:, None], out=out).exp_()
        else:
            torch.sub(source, log_scale[:, None], out=out).exp_()
            out.mul_(g_lse[:, None])
    else:
        out.zero_()
    if g_dot is not None:
        if isinstance(vector, Tensor):
            out.addr_(g_dot, vector)
        else:
            out.add_((g_dot / zc.shape[1])[:, None])
    if g_soft is not None:
        assert soft_c is not None
        out.addcmul_(soft_c.to(out.dtype), g_soft[:, None])
    if g_idx is not None:
        assert idx_c is not None
        out.scatter_add_(1, idx_c, g_idx)
    return out


class _RowStatsFn(torch.autograd.Function):
    """``ctx`` is typed ``Any``: torch passes different context classes to ``forward`` and ``backward``,
    and the state kept here is set as attributes."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        z: Tensor,
        index: Tensor | None,
        vector: Tensor | None,
        use_mean: bool,
        soft: Tensor | None,
        want_entropy: bool,
        want_finite: bool,
        want_log_probs: bool,
        block_elements: int | None,
    ) -> tuple[Tensor, ...]:
        P, C = z.shape
        cdt = compute_dtype(z.dtype)
        vec: Tensor | str | None = vector.to(cdt) if vector is not None else (_MEAN if use_mean else None)
        rows = block_rows(C, z.device, z.dtype, block_elements)
        empty = z.new_empty(0, dtype=cdt)
        lse = z.new_empty(P, dtype=cdt)
        dot = z.new_empty(P, dtype=cdt) if vec is not None else empty
        soft_dot = z.new_empty(P, dtype=cdt) if soft is not None else empty
        entropy = z.new_empty(P, dtype=cdt) if want_entropy else empty
        finite = z.new_empty(P, dtype=torch.bool) if want_finite else z.new_empty(0, dtype=torch.bool)
        shift = (z.new_empty(P, dtype=cdt), z.new_empty(P, dtype=cdt)) if want_log_probs else None
        for s in range(0, P, rows):
            e = min(P, s + rows)
            zc = z[s:e].to(cdt)
            l_c, d_c, sd_c, ex_c, f_c = stats_block(
                zc,
                vec,
                soft[s:e] if soft is not None else None,
                want_entropy,
                want_finite,
                None if shift is None else (shift[0][s:e], shift[1][s:e]),
            )
            lse[s:e] = l_c
            if d_c is not None:
                dot[s:e] = d_c
            if sd_c is not None:
                soft_dot[s:e] = sd_c
            if ex_c is not None:
                entropy[s:e] = ex_c
            if f_c is not None:
                finite[s:e] = f_c
        gathered = z.gather(1, index).to(cdt) if index is not None else empty
        log_probs = empty
        if shift is not None and index is not None:
            log_probs = (gathered - shift[0][:, None]) - shift[1][:, None]
        ctx.save_for_backward(z, lse, index, vector, soft, entropy if want_entropy else None)
        ctx.use_mean = use_mean
        ctx.block_elements = block_elements
        ctx.mark_non_differentiable(finite)
        ctx.set_materialize_grads(False)
        return lse, gathered, dot, soft_dot, entropy, finite, log_probs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        g_lse, g_gat, g_dot, g_soft, g_ent, _, g_lp = grads
        z, lse, index, vector, soft, entropy = ctx.saved_tensors
        nones = (None,) * 8
        if not ctx.needs_input_grad[0]:
            return (None, *nones)
        P, C = z.shape
        cdt = compute_dtype(z.dtype)
        vec: Tensor | str | None = vector.to(cdt) if vector is not None else _MEAN
        grads_c = [g if g is None else g.to(cdt) for g in (g_lse, g_gat, g_dot, g_soft, g_ent)]
        g_lse, g_gat, g_dot, g_soft, g_ent = grads_c
        if g_lp is not None:  # d(z_k - lse) = [j = k] - p_j
            g_lp = g_lp.to(cdt)
            g_gat = g_lp if g_gat is None else g_gat + g_lp
            g_lse = -g_lp.sum(dim=1) if g_lse is None else g_lse - g_lp.sum(dim=1)
        precise = needs_precise(lse)
        use_shift = g_lse is not None and z.device.type == "cpu" and bool((g_lse >= 0).all())
        rows = block_rows(C, z.device, z.dtype, ctx.block_elements)
        grad = torch.empty_like(z, memory_format=torch.contiguous_format)
        direct = grad.dtype == cdt
        for s in range(0, P, rows):
            e = min(P, s + rows)
            zc = z[s:e].to(cdt)
            out = grad[s:e] if direct else torch.empty_like(zc)
            grad_block(
                zc,
                out,
                lse[s:e],
                g_lse=None if g_lse is None else g_lse[s:e],
                g_dot=None if g_dot is None else g_dot[s:e],
                vector=vec,
                g_soft=None if g_soft is None else g_soft[s:e],
                soft_c=None if soft is None else soft[s:e],
                g_ent=None if g_ent is None else g_ent[s:e],
                ent_c=None if entropy is None else entropy[s:e],
                g_idx=None if g_gat is None else g_gat[s:e],
                idx_c=None if (g_gat is None or index is None) else index[s:e],
                use_shift=use_shift,
                precise=precise,
            )
            if not direct:
                grad[s:e].copy_(out)
        return (grad, *nones)


def row_stats(
    z: Tensor,
    *,
    index: Tensor | None = None,
    vector: Tensor | str | None = None,
    soft: Tensor | None = None,
    entropy: bool = False,
    finite: bool = False,
    log_probs: bool = False,
    block_elements: int | None = None,
) -> RowStats:
    """Differentiable per-row statistics of ``z`` (P, C); see the module docstring.

    ``log_probs`` adds ``log p`` at ``index``, computed from shifted logits (accurate where
    ``z[idx] - lse`` would subtract two huge, rounded numbers).

    ``index`` (P, K) int64 must be in range; ``vector`` is a (C,) tensor or ``"mean"``; ``soft`` (P, C)
    is treated as a constant (no gradient flows to it). Not twice differentiable.
    """
    vec = vector if isinstance(vector, Tensor) else None
    use_mean = vector == _MEAN
    if soft is not None:
        soft = soft.detach()
    if vec is not None:
        vec = vec.detach()
    want_log_probs = log_probs and index is not None
    out = _RowStatsFn.apply(z, index, vec, use_mean, soft, entropy, finite, want_log_probs, block_elements)
    lse, gathered, dot, soft_dot, ent, fin, lp = out
    return RowStats(
        lse=lse,
        gathered=gathered if index is not None else None,
        dot=dot if vector is not None else None,
        soft_dot=soft_dot if soft is not None else None,
        entropy=ent if entropy else None,
        finite=fin if finite else None,
        log_probs=lp if want_log_probs else None,
    )
