"""fused_linear_cross_entropy equals the unfused projection + loss, in value and in all three gradients."""

from __future__ import annotations

import losses_reference as ref
import pytest
import torch

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import (
    FusedLinearCrossEntropy,
    fused_linear_cross_entropy,
    smoothed_cross_entropy,
    sparse_soft_target_cross_entropy,
)

F64 = torch.float64


def _data(P: int = 11, H: int = 6, V: int = 9, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(P, H, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(V, H, generator=g, dtype=F64, requires_grad=True)
    b = torch.randn(V, generator=g, dtype=F64, requires_grad=True)
    t = torch.randint(0, V, (P,), generator=g)
    t[2] = -100
    t[P - 4] = -100
    return h, w, b, t


def _grads(out: torch.Tensor, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(out.sum(), xs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk_size", [1, 4, 11, 64])
@pytest.mark.parametrize("use_bias", [False, True])
def test_equals_unfused_reference(reduction: str, chunk_size: int, use_bias: bool) -> None:
    h, w, b, t = _data()
    bias = b if use_bias else None
    ours = fused_linear_cross_entropy(
        h, w, t, 0.1, bias=bias, reduction=reduction, chunk_size=chunk_size
    ).loss
    logits = h @ w.t() + (b if use_bias else 0)
    want = ref.smoothed_ce(logits, t, 0.1, reduction=reduction)
    torch.testing.assert_close(ours, want)
    xs = (h, w, b) if use_bias else (h, w)
    for a, e in zip(_grads(ours, *xs), _grads(want, *xs), strict=True):
        torch.testing.assert_close(a, e)


def test_prior_others_num_items_nll() -> None:
    h, w, _, t = _data()
    prior = torch.softmax(torch.randn(9, dtype=F64), 0)
    kw = dict(prior=prior, convention="others")
    ours = fused_linear_cross_entropy(h, w, t, 0.2, num_items=20, chunk_size=3, **kw)  # type: ignore[arg-type]
    logits = h @ w.t()
    want = ref.smoothed_ce(logits, t, 0.2, num_items=20, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(ours.loss, want)
    torch.testing.assert_close(ours.nll, ref.nll(logits, t, reduction="sum") / 20)
    for a, e in zip(_grads(ours.loss, h, w), _grads(want, h, w), strict=True):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_sparse_soft_target_variant(reduction: str) -> None:
    h, w, b, t = _data()
    g = torch.Generator().manual_seed(5)
    idx = torch.randint(0, 9, (11, 3), generator=g)
    wt = torch.softmax(torch.randn(11, 3, generator=g, dtype=F64), 1)
    idx[4] = -100  # padding position
    for eps in (0.0, 0.3):
        ours = fused_linear_cross_entropy(
            h, w, t, eps, bias=b, indices=idx, weights=wt, reduction=reduction, chunk_size=4
        ).loss
        logits = h @ w.t() + b
        q = (1 - eps) * ref.dense_from_sparse(idx, wt, 9) + eps / 9
        q[4] = 0.0
        skip = [bool(t[i] == -100) for i in range(11)]
        want = ref.soft_ce(logits, q, reduction, skip=skip)
        torch.testing.assert_close(ours, want)
        for a, e in zip(_grads(ours, h, w, b), _grads(want, h, w, b), strict=True):
            torch.testing.assert_close(a, e)
    # without a target: the same as sparse_soft_target_cross_entropy on the full logits
    ours = fused_linear_cross_entropy(h, w, None, indices=idx, weights=wt, chunk_size=5).loss
    torch.testing.assert_close(ours, sparse_soft_target_cross_entropy(h @ w.t(), idx, wt).loss)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("sparse", [False, True])
def test_row_weights_weight_each_position_as_a_loop_does(reduction: str, sparse: bool) -> None:
    # loss = sum_i w_i row_i, divided as without weights; the reference is a plain loop over positions
    h, w, b, t = _data()
    g = torch.Generator().manual_seed(7)
    row_w = torch.rand(11, generator=g, dtype=F64) * 3
    row_w[5] = 0.0
    kw: dict = {}
    if sparse:
        kw = dict(indices=torch.randint(0, 9, (11, 3), generator=g))
        kw["weights"] = torch.softmax(torch.randn(11, 3, generator=g, dtype=F64), 1)
    ours = fused_linear_cross_entropy(
        h, w, t, 0.1, bias=b, row_weight=row_w, reduction=reduction, chunk_size=4, **kw
    )
    logits = h @ w.t() + b
    rows = []
    for i in range(11):
        if t[i] == -100:
            rows.append(logits.new_zeros(()))
            continue
        one = fused_linear_cross_entropy(
            h[i : i + 1], w, t[i : i + 1], 0.1, bias=b, reduction="sum",
            **{k: v[i : i + 1] for k, v in kw.items()},
        ).loss  # fmt: skip
        rows.append(row_w[i] * one)
    stacked = torch.stack(rows)
    counted = int((t != -100).sum())
    want = {"sum": stacked.sum(), "mean": stacked.sum() / counted, "none": stacked}[reduction]
    torch.testing.assert_close(ours.loss, want)
    for a, e in zip(_grads(ours.loss, h, w, b), _grads(want, h, w, b), strict=True):
        torch.testing.assert_close(a, e)
    # the NLL is not weighted
    plain = fused_linear_cross_entropy(h, w, t, 0.1, bias=b, reduction=reduction, chunk_size=4, **kw)
    torch.testing.assert_close(ours.nll, plain.nll)


def test_row_weights_with_num_items_and_bad_row_weights() -> None:
    h, w, _, t = _data()
    row_w = torch.linspace(0.5, 2.0, 11, dtype=F64)
    ours = fused_linear_cross_entropy(h, w, t, 0.0, row_weight=row_w, num_items=20, chunk_size=3).loss
    per_row = fused_linear_cross_entropy(h, w, t, 0.0, reduction="none").loss
    torch.testing.assert_close(ours, (row_w * per_row).sum() / 20)
    with pytest.raises(InputError, match="row_weight must be a floating tensor"):
        fused_linear_cross_entropy(h, w, t, row_weight=row_w[:5])
    with pytest.raises(InputError, match="row_weight is a constant"):
        fused_linear_cross_entropy(h, w, t, row_weight=row_w.clone().requires_grad_())
    row_w[3] = float("nan")
    with pytest.raises(InputError, match="non-finite"):
        fused_linear_cross_entropy(h, w, t, row_weight=row_w)


def test_gradcheck_every_reduction() -> None:
    h, w, b, t = _data(P=5, H=3, V=4)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda x, y, z, r=reduction: (
                fused_linear_cross_entropy(x, y, t, 0.2, bias=z, reduction=r, chunk_size=2).loss
            ),
            (h, w, b),
        )


def test_only_some_inputs_need_grad_and_no_grad_mode() -> None:
    h, w, _, t = _data()
    frozen = w.detach()
    out = fused_linear_cross_entropy(h, frozen, t, 0.1, chunk_size=4).loss
    (gh,) = torch.autograd.grad(out, h)
    (gh_ref,) = torch.autograd.grad(smoothed_cross_entropy(h @ frozen.t(), t, 0.1).loss, h)
    torch.testing.assert_close(gh, gh_ref)
    with torch.no_grad():
        val = fused_linear_cross_entropy(h, w, t, 0.1, chunk_size=4).loss
    assert not val.requires_grad
    torch.testing.assert_close(val, smoothed_cross_entropy(h @ w.t(), t, 0.1).loss.detach())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_low_precision_close_to_float64(dtype: torch.dtype) -> None:
    h, w, _, t = _data(P=32, H=16, V=50)
    hd, wd = h.detach().to(dtype).requires_grad_(), w.detach().to(dtype).requires_grad_()
    out = fused_linear_cross_entropy(hd, wd, t, 0.1, chunk_size=7).loss
    assert out.dtype == torch.float32
    # reference on the same (rounded) inputs, logits rounded the way the unfused low-precision matmul would
    logits = (hd.detach() @ wd.detach().t()).to(F64)
    want = ref.smoothed_ce(logits, t, 0.1)
    torch.testing.assert_close(out.to(F64), want, rtol=1e-5, atol=1e-5)
    gh, gw = torch.autograd.grad(out, (hd, wd))
    assert gh.dtype == dtype and gw.dtype == dtype
    h64, w64 = hd.detach().to(F64).requires_grad_(), wd.detach().to(F64).requires_grad_()
    rh, rw = torch.autograd.grad(ref.smoothed_ce(h64 @ w64.t(), t, 0.1), (h64, w64))
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-5
    torch.testing.assert_close(gh.to(F64), rh, rtol=tol, atol=tol)
    torch.testing.assert_close(gw.to(F64), rw, rtol=tol, atol=tol)


def test_module_and_bad_input() -> None:
    h, w, b, t = _data()
    m = FusedLinearCrossEntropy(0.1, chunk_size=4)
    torch.testing.assert_close(m(h, w, t, b), fused_linear_cross_entropy(h, w, t, 0.1, bias=b).loss)
    with pytest.raises(InputError, match="weight must have shape"):
        fused_linear_cross_entropy(h, w[:, :3], t)
    with pytest.raises(InputError, match="floating"):
        fused_linear_cross_entropy(h, w.long(), t)
    with pytest.raises(InputError, match="bias"):
        fused_linear_cross_entropy(h, w, t, bias=b[:3])
    with pytest.raises(InputError, match="outside"):
        fused_linear_cross_entropy(h, w, t + 9)
    with pytest.raises(InputError, match="shape"):
        fused_linear_cross_entropy(h, w, t[:4])
    with pytest.raises(InputError, match="give target"):
        fused_linear_cross_entropy(h, w, None)
    with pytest.raises(InputError, match="together"):
        fused_linear_cross_entropy(h, w, t, indices=t[:, None])
    with pytest.raises(ConfigError, match="chunk_size"):
        fused_linear_cross_entropy(h, w, t, chunk_size=0)
    bad = h.detach().clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        fused_linear_cross_entropy(bad, w, t)


def test_mixed_dtypes_run_in_hidden_dtype() -> None:
    h, w, b, t = _data()
    h32 = h.detach().float().requires_grad_()
    out = fused_linear_cross_entropy(h32, w, t, 0.1, bias=b, chunk_size=4).loss  # float64 weight and bias
    want = ref.smoothed_ce(
        h32.detach().double() @ w.detach().float().double().t() + b.detach().float(), t, 0.1
    )
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-5)
    out.backward()
    assert w.grad is not None and w.grad.dtype == F64 and b.grad is not None and h32.grad is not None


def test_sub_blocks_inside_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from textsmooth.losses import _kernel

    h, w, b, t = _data(P=23)
    monkeypatch.setattr(_kernel, "CPU_BLOCK_ELEMENTS", 9 * 2)  # 2 rows of 9 classes per sub-block
    for reduction in ("mean", "none"):
        ours = fused_linear_cross_entropy(h, w, t, 0.1, bias=b, chunk_size=7, reduction=reduction).loss
        want = ref.smoothed_ce(h @ w.t() + b, t, 0.1, reduction=reduction)
        torch.testing.assert_close(ours, want)
        for a, e in zip(_grads(ours, h, w, b), _grads(want, h, w, b), strict=True):
            torch.testing.assert_close(a, e)
    m = FusedLinearCrossEntropy(reduction="sum", chunk_size=5)
    idx = torch.randint(0, 9, (23, 2))
    wt = torch.full((23, 2), 0.5, dtype=F64)
    torch.testing.assert_close(
        m(h, w, t, indices=idx, weights=wt),
        sparse_soft_target_cross_entropy(h @ w.t(), idx, wt, target=t, reduction="sum").loss,
    )
