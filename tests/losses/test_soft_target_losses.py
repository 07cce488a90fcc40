"""soft_target_cross_entropy and sparse_soft_target_cross_entropy against float64 references."""

from __future__ import annotations

import losses_reference as ref
import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import InputError
from textsmooth.losses import (
    LossOutput,
    SoftTargetCrossEntropy,
    SparseSoftTargetCrossEntropy,
    soft_target_cross_entropy,
    sparse_soft_target_cross_entropy,
)

F64 = torch.float64


def _logits(P: int = 8, C: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(P, C, generator=g, dtype=F64) * 2).requires_grad_()


def _sparse(P: int = 8, C: int = 6, N: int = 3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, C, (P, N), generator=g)
    w = torch.softmax(torch.randn(P, N, generator=g, dtype=F64), dim=1)
    # row 2: one padding entry, remaining weights renormalised; row 5: a padding position; row 6: a duplicate
    idx[2, 1] = -100
    w[2] = torch.tensor([0.3, 0.9, 0.7], dtype=F64)
    idx[5] = -100
    idx[6, 1] = idx[6, 0]
    return idx, w


def _grad(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out.sum(), z)
    return g


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dense_matches_reference_and_torch(reduction: str) -> None:
    z = _logits()
    soft = torch.softmax(torch.randn(8, 6, dtype=F64), dim=1)
    ours = soft_target_cross_entropy(z, soft, reduction=reduction).loss
    want = ref.soft_ce(z, soft, reduction)
    torch.testing.assert_close(ours, want)
    torch.testing.assert_close(_grad(ours, z), _grad(want, z))
    torch.testing.assert_close(ours, F.cross_entropy(z, soft, reduction=reduction))


def test_dense_zero_rows_and_ignored_targets_are_skipped() -> None:
    z = _logits()
    soft = torch.softmax(torch.randn(8, 6, dtype=F64), dim=1)
    soft[3] = 0.0
    t = torch.randint(0, 6, (8,))
    t[0] = -100
    out = soft_target_cross_entropy(z, soft, target=t)
    skip = [i in (0, 3) for i in range(8)]
    want = ref.soft_ce(z, soft, "mean", skip=skip)
    torch.testing.assert_close(out.loss, want)
    torch.testing.assert_close(_grad(out.loss, z), _grad(want, z))
    t_nll = t.clone()
    t_nll[3] = -100
    torch.testing.assert_close(out.nll, ref.nll(z, t_nll))
    assert soft_target_cross_entropy(z, soft).nll is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sparse_matches_dense_reference(reduction: str) -> None:
    z = _logits()
    idx, w = _sparse()
    ours = sparse_soft_target_cross_entropy(z, idx, w, reduction=reduction).loss
    dense = ref.dense_from_sparse(idx, w, 6)
    want = ref.soft_ce(z, dense, reduction)
    torch.testing.assert_close(ours, want)
    torch.testing.assert_close(_grad(ours, z), _grad(want, z))


def test_sparse_gradcheck_and_target() -> None:
    z = _logits(P=8, C=4)
    idx, w = _sparse(P=8, C=4)
    t = torch.tensor([0, 1, -100, 3, 2, 1, 0, 3])
    assert torch.autograd.gradcheck(
        lambda x: sparse_soft_target_cross_entropy(x, idx, w, target=t, reduction="none").loss, (z,)
    )
    out = sparse_soft_target_cross_entropy(z, idx, w, target=t)
    assert isinstance(out, LossOutput)
    skip_nll = t.clone()
    skip_nll[5] = -100  # row 5 has no soft target: a padding position, not counted anywhere
    torch.testing.assert_close(out.nll, ref.nll(z, skip_nll))


def test_sparse_leading_batch_dims_and_modules() -> None:
    z = _logits(P=8).detach().reshape(2, 4, 6)
    idx, w = _sparse()
    out = sparse_soft_target_cross_entropy(z, idx.reshape(2, 4, 3), w.reshape(2, 4, 3), reduction="none").loss
    assert out.shape == (2, 4)
    torch.testing.assert_close(
        out.reshape(-1), sparse_soft_target_cross_entropy(z.reshape(8, 6), idx, w, reduction="none").loss
    )
    m = SparseSoftTargetCrossEntropy(reduction="sum")
    torch.testing.assert_close(m(z, idx.reshape(2, 4, 3), w.reshape(2, 4, 3)), out.sum())
    soft = torch.softmax(z, dim=-1)
    torch.testing.assert_close(SoftTargetCrossEntropy()(z, soft), soft_target_cross_entropy(z, soft).loss)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sparse_low_precision(dtype: torch.dtype) -> None:
    z = (torch.randn(32, 500) * 3).to(dtype).requires_grad_()
    idx = torch.randint(0, 500, (32, 5))
    w = torch.softmax(torch.randn(32, 5), 1)
    loss = sparse_soft_target_cross_entropy(z, idx, w).loss
    assert loss.dtype == torch.float32
    z64 = z.detach().to(F64).requires_grad_()
    want = ref.soft_ce(z64, ref.dense_from_sparse(idx, w, 500))
    torch.testing.assert_close(loss.to(F64), want, rtol=1e-6, atol=1e-6)


def test_huge_logits_finite() -> None:
    z = torch.tensor([[1e4, -1e4, 3e3], [0.0, -1e4, 1e4]], requires_grad=True)
    idx = torch.tensor([[1, 2], [0, 2]])
    w = torch.tensor([[0.5, 0.5], [0.25, 0.75]])
    loss = sparse_soft_target_cross_entropy(z, idx, w, reduction="none").loss
    # lse = 1e4 in both rows: row 0 = 0.5 * 2e4 + 0.5 * 7e3; row 1 = 0.25 * 1e4 + 0
    torch.testing.assert_close(loss, torch.tensor([13500.0, 2500.0]))
    (g,) = torch.autograd.grad(loss.sum(), z)
    assert torch.isfinite(g).all()


def test_soft_target_bad_input() -> None:
    z = torch.randn(3, 4)
    soft = torch.softmax(torch.randn(3, 4), 1)
    with pytest.raises(InputError, match="sum to 1"):
        soft_target_cross_entropy(z, soft * 1.5)
    neg = soft.clone()
    neg[1] = torch.tensor([1.5, -0.5, 0.0, 0.0])
    with pytest.raises(InputError, match="negative"):
        soft_target_cross_entropy(z, neg)
    with pytest.raises(InputError, match="shape"):
        soft_target_cross_entropy(z, soft[:, :3])
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        soft_target_cross_entropy(bad, soft)
    idx = torch.tensor([[0, 1], [2, 3], [1, 1]])
    w = torch.tensor([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
    with pytest.raises(InputError, match="outside"):
        sparse_soft_target_cross_entropy(z, idx + 1, w)
    with pytest.raises(InputError, match="negative"):
        sparse_soft_target_cross_entropy(z, idx, torch.tensor([[1.5, -0.5], [0.2, 0.8], [1.0, 0.0]]))
    with pytest.raises(InputError, match="sum to 1"):
        sparse_soft_target_cross_entropy(z, idx, w * 0.5)
    with pytest.raises(InputError, match="must match"):
        sparse_soft_target_cross_entropy(z, idx, w[:, :1])
    with pytest.raises(InputError, match="shape"):
        sparse_soft_target_cross_entropy(z, idx[:2], w[:2])
    with pytest.raises(InputError, match="integer"):
        sparse_soft_target_cross_entropy(z, idx.float(), w)
    with pytest.raises(InputError, match="NaN"):
        sparse_soft_target_cross_entropy(bad, idx, w)
