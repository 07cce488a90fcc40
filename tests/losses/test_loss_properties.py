"""Property tests (hypothesis): masks, reductions, dtypes, chunking, across the loss family."""

from __future__ import annotations

import losses_reference as ref
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth.losses import (
    fused_linear_cross_entropy,
    sequence_smoothed_nll,
    smoothed_cross_entropy,
    soft_target_cross_entropy,
    sparse_soft_target_cross_entropy,
)

F64 = torch.float64
DTYPES = {"float64": F64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# value tolerance against the float64 reference evaluated on the same (rounded) logits: float32 arithmetic
VALUE_TOL = {"float64": 1e-10, "float32": 2e-5, "bfloat16": 2e-5, "float16": 2e-5}
# gradients: relative to the largest row factor d(loss)/d(row) (softmax entries are O(1) times it) and to
# the logits' magnitude (float32 log-sum-exp has an error of about ulp(max |z|)); low-precision gradients
# are also rounded to the input dtype (rtol)
GRAD_TOL = {"float64": 1e-10, "float32": 1e-6, "bfloat16": 1e-2, "float16": 2e-3}

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def problems(draw: st.DrawFn) -> dict:
    P = draw(st.integers(1, 12))
    C = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([0.1, 3.0, 30.0]))
    z = torch.randn(P, C, generator=g, dtype=F64) * scale
    t = torch.randint(0, C, (P,), generator=g)
    ignore = torch.tensor(draw(st.lists(st.booleans(), min_size=P, max_size=P)))
    t[ignore] = -100
    return {
        "z": z,
        "t": t,
        "eps": draw(st.sampled_from([0.0, 0.05, 0.1, 0.5, 1.0])),
        "convention": draw(st.sampled_from(["all", "others"])),
        "prior": torch.softmax(torch.randn(C, generator=g, dtype=F64), 0) if draw(st.booleans()) else None,
        "weight": torch.rand(C, generator=g, dtype=F64) + 0.1 if draw(st.booleans()) else None,
        "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
        "dtype": draw(st.sampled_from(list(DTYPES))),
        "seed": seed,
    }


@SETTINGS
@given(problems())
def test_smoothed_ce_matches_reference_for_any_mask_reduction_dtype(p: dict) -> None:
    dt = DTYPES[p["dtype"]]
    z = p["z"].to(dt).requires_grad_()
    kw = {k: p[k] for k in ("convention", "prior", "weight", "reduction")}
    out = smoothed_cross_entropy(z, p["t"], p["eps"], **kw).loss
    assert out.dtype == (F64 if dt == F64 else torch.float32)
    z64 = z.detach().to(F64).requires_grad_()
    want = ref.smoothed_ce(z64, p["t"], p["eps"], **kw)
    tol = VALUE_TOL[p["dtype"]]
    magnitude = max(1.0, want.detach().abs().max().item())
    torch.testing.assert_close(out.to(F64), want, rtol=tol, atol=tol * magnitude)
    (g,) = torch.autograd.grad(out.sum(), z)
    (g_ref,) = torch.autograd.grad(want.sum(), z64)
    gt = GRAD_TOL[p["dtype"]]
    valid = p["t"] != -100
    w = torch.ones(z.shape[1], dtype=F64) if p["weight"] is None else p["weight"]
    denom = float(w[p["t"][valid]].sum()) if p["reduction"] == "mean" and valid.any() else 1.0
    row_factor = float(w.max()) / denom
    atol = gt * row_factor * max(1.0, p["z"].abs().max().item())
    torch.testing.assert_close(g.to(F64), g_ref, rtol=gt, atol=atol)
    ignored = p["t"] == -100
    assert torch.equal(g[ignored], torch.zeros_like(g[ignored]))
    assert torch.isfinite(g).all()


@SETTINGS
@given(problems())
def test_reductions_are_consistent(p: dict) -> None:
    z, t = p["z"], p["t"]
    kw = {k: p[k] for k in ("convention", "prior", "weight")}
    rows = smoothed_cross_entropy(z, t, p["eps"], reduction="none", **kw).loss
    total = smoothed_cross_entropy(z, t, p["eps"], reduction="sum", **kw).loss
    mean = smoothed_cross_entropy(z, t, p["eps"], reduction="mean", **kw).loss
    torch.testing.assert_close(rows.sum(), total)
    valid = t != -100
    assert torch.equal(rows[~valid], torch.zeros_like(rows[~valid]))
    w = torch.ones(z.shape[1], dtype=F64) if p["weight"] is None else p["weight"]
    denom = float(w[t[valid]].sum()) if valid.any() else 0.0
    torch.testing.assert_close(mean, total / denom if denom else total * 0)
    n = int(valid.sum()) + 3
    torch.testing.assert_close(smoothed_cross_entropy(z, t, p["eps"], num_items=n, **kw).loss, total / n)
    out = smoothed_cross_entropy(z, t, p["eps"], **kw)
    torch.testing.assert_close(out.nll, ref.nll(z, t))


@SETTINGS
@given(problems(), st.integers(1, 4))
def test_sparse_equals_dense_equals_reference(p: dict, N: int) -> None:
    z = p["z"]
    P, C = z.shape
    g = torch.Generator().manual_seed(p["seed"] + 1)
    idx = torch.randint(0, C, (P, N), generator=g)
    pad = torch.rand(P, N, generator=g) < 0.3
    idx[pad] = -100
    w = torch.rand(P, N, generator=g, dtype=F64) * (~pad)
    sums = w.sum(1, keepdim=True)
    w = torch.where(sums > 0, w / torch.where(sums > 0, sums, 1.0), 0.0)
    dense = ref.dense_from_sparse(idx, w, C)
    zs = z.clone().requires_grad_()
    zd = z.clone().requires_grad_()
    sparse_out = sparse_soft_target_cross_entropy(zs, idx, w, reduction=p["reduction"]).loss
    dense_out = soft_target_cross_entropy(zd, dense, reduction=p["reduction"]).loss
    want = ref.soft_ce(z, dense, p["reduction"])
    torch.testing.assert_close(sparse_out, want)
    torch.testing.assert_close(dense_out, want)
    (g1,) = torch.autograd.grad(sparse_out.sum(), zs)
    (g2,) = torch.autograd.grad(dense_out.sum(), zd)
    torch.testing.assert_close(g1, g2)


@SETTINGS
@given(problems(), st.integers(1, 13), st.integers(1, 5))
def test_fused_equals_unfused_for_any_chunking(p: dict, chunk_size: int, H: int) -> None:
    t = p["t"]
    P, C = p["z"].shape
    g = torch.Generator().manual_seed(p["seed"] + 2)
    h = torch.randn(P, H, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(C, H, generator=g, dtype=F64, requires_grad=True)
    kw = {k: p[k] for k in ("convention", "prior", "reduction")}
    ours = fused_linear_cross_entropy(h, w, t, p["eps"], chunk_size=chunk_size, **kw).loss
    want = ref.smoothed_ce(h @ w.t(), t, p["eps"], **kw)
    torch.testing.assert_close(ours, want)
    for a, b in zip(
        torch.autograd.grad(ours.sum(), (h, w)), torch.autograd.grad(want.sum(), (h, w)), strict=True
    ):
        torch.testing.assert_close(a, b)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**16), st.floats(0.0, 3.0))
def test_sequence_padding_is_invisible(B: int, K: int, seed: int, alpha: float) -> None:
    g = torch.Generator().manual_seed(seed)
    nt = torch.rand(B, generator=g, dtype=F64).requires_grad_()
    nr = torch.rand(B, K, generator=g, dtype=F64) * 10
    mask = torch.rand(B, K, generator=g) < 0.5
    noisy = torch.where(mask, nr, torch.randn(B, K, generator=g, dtype=F64) * 1e6)
    a = nr.clone().requires_grad_()
    b = noisy.clone().requires_grad_()
    la = sequence_smoothed_nll(nt, a, mask, alpha, "sum").loss
    lb = sequence_smoothed_nll(nt, b, mask, alpha, "sum").loss
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(la, ref.sequence_smoothed(nt, nr, mask, alpha, "sum"))
    (ga,) = torch.autograd.grad(la, a)
    (gb,) = torch.autograd.grad(lb, b)
    torch.testing.assert_close(ga, gb)
    assert torch.equal(gb[~mask], torch.zeros_like(gb[~mask]))
