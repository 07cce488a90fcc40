"""kwls_loss: equation (9) as written, the two-head variant, the mixture variant."""

from __future__ import annotations

import math

import losses_reference as ref
import pytest
import torch

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import KWLSLoss, kwls_loss

F64 = torch.float64


def _data(
    N: int = 6, p: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(N, p, generator=g, dtype=F64, requires_grad=True)
    aux = torch.randn(N, p, generator=g, dtype=F64, requires_grad=True)
    t = torch.randint(0, p, (N,), generator=g)
    d = torch.softmax(torch.randn(N, p, generator=g, dtype=F64), dim=1)
    return z, aux, t, d


def _grads(out: torch.Tensor, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(out.sum(), xs)


def test_eq9_hand_derived_value() -> None:
    # Two classes, zero logits: o = (1/2, 1/2), CE = log 2; soft label d = (0.8, 0.2):
    # sum_j (d_j - o_j)^2 = 0.09 + 0.09 = 0.18; alpha / p * 0.18 = 0.09 (alpha = 1, p = 2);
    # eq. (9) with N = 1: (log 2 + 0.09) / (2 * 1 * (1 + 1)^2) = (log 2 + 0.09) / 8.
    z = torch.zeros(1, 2, dtype=F64)
    loss = kwls_loss(z, torch.tensor([0]), torch.tensor([[0.8, 0.2]], dtype=F64), 1.0).loss
    assert loss.item() == pytest.approx((math.log(2) + 0.09) / 8, abs=1e-14)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 2.0])
def test_eq9_matches_literal_reference(alpha: float) -> None:
    z, _, t, d = _data()
    ours = kwls_loss(z, t, d, alpha).loss
    want = ref.kwls_eq9(z, t, d, alpha)
    torch.testing.assert_close(ours, want)
    torch.testing.assert_close(_grads(ours, z), _grads(want, z))


def test_two_head_matches_reference_and_default_variant_follows_aux() -> None:
    z, aux, t, d = _data()
    ours = kwls_loss(z, t, d, 0.7, aux).loss
    want = ref.kwls_two_head(z, aux, t, d, 0.7)
    torch.testing.assert_close(ours, want)
    for a, b in zip(_grads(ours, z, aux), _grads(want, z, aux), strict=True):
        torch.testing.assert_close(a, b)
    # the predicting head gets exactly the hard-label cross-entropy gradient, scaled by 1/(1+alpha)^2
    (g_main,) = torch.autograd.grad(kwls_loss(z, t, d, 0.7, aux).loss, z)
    (g_ce,) = torch.autograd.grad(ref.nll(z, t) / 1.7**2, z)
    torch.testing.assert_close(g_main, g_ce)


def test_mixture_is_cross_entropy_to_the_mixed_target() -> None:
    z, _, t, d = _data()
    alpha = 0.4
    mixed = (torch.nn.functional.one_hot(t, 4).to(F64) + alpha * d) / (1 + alpha)
    ours = kwls_loss(z, t, d, alpha, variant="mixture").loss
    want = ref.soft_ce(z, mixed)
    torch.testing.assert_close(ours, want)
    torch.testing.assert_close(_grads(ours, z), _grads(want, z))


def test_reductions_ignore_num_items_and_nll() -> None:
    z, aux, t, d = _data()
    t[2] = -100
    keep = t != -100
    for variant, a in (("eq9", None), ("two_head", aux), ("mixture", None)):
        rows = kwls_loss(z, t, d, 1.0, a, variant=variant, reduction="none").loss  # type: ignore[arg-type]
        assert rows[2].item() == 0.0
        total = kwls_loss(z, t, d, 1.0, a, variant=variant, reduction="sum").loss  # type: ignore[arg-type]
        torch.testing.assert_close(rows.sum(), total)
        mean = kwls_loss(z, t, d, 1.0, a, variant=variant).loss  # type: ignore[arg-type]
        torch.testing.assert_close(mean, total / keep.sum())
        torch.testing.assert_close(kwls_loss(z, t, d, 1.0, a, variant=variant, num_items=10).loss, total / 10)  # type: ignore[arg-type]
    # eq. 9 over the kept rows equals the literal formula on those rows
    torch.testing.assert_close(kwls_loss(z, t, d, 1.0).loss, ref.kwls_eq9(z[keep], t[keep], d[keep], 1.0))
    out = kwls_loss(z, t, d, 1.0)
    torch.testing.assert_close(out.nll, ref.nll(z, t))


def test_gradcheck_all_variants() -> None:
    z, aux, t, d = _data(N=3, p=3)
    assert torch.autograd.gradcheck(lambda x: kwls_loss(x, t, d, 0.5).loss, (z,))
    assert torch.autograd.gradcheck(lambda x, y: kwls_loss(x, t, d, 0.5, y).loss, (z, aux))
    assert torch.autograd.gradcheck(lambda x: kwls_loss(x, t, d, 0.5, variant="mixture").loss, (z,))


def test_module_and_bad_input() -> None:
    z, aux, t, d = _data()
    torch.testing.assert_close(KWLSLoss(0.5)(z, t, d), kwls_loss(z, t, d, 0.5).loss)
    torch.testing.assert_close(KWLSLoss(0.5)(z, t, d, aux), kwls_loss(z, t, d, 0.5, aux).loss)
    with pytest.raises(ConfigError, match="aux_logits"):
        kwls_loss(z, t, d, 0.5, variant="two_head")
    with pytest.raises(ConfigError, match="aux_logits"):
        kwls_loss(z, t, d, 0.5, aux, variant="eq9")
    with pytest.raises(ConfigError, match="variant"):
        kwls_loss(z, t, d, 0.5, variant="eq10")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alpha"):
        kwls_loss(z, t, d, -1.0)
    with pytest.raises(InputError, match="sum to 1"):
        kwls_loss(z, t, d * 2, 0.5)
    neg = d.clone()
    neg[0] = torch.tensor([1.2, -0.2, 0.0, 0.0], dtype=F64)
    with pytest.raises(InputError, match="negative"):
        kwls_loss(z, t, neg, 0.5)
    with pytest.raises(InputError, match="shape"):
        kwls_loss(z, t, d[:, :3], 0.5)
    with pytest.raises(InputError, match="aux_logits"):
        kwls_loss(z, t, d, 0.5, aux[:, :3])
    with pytest.raises(InputError, match="outside"):
        kwls_loss(z, t + 4, d, 0.5)
    bad = z.detach().clone()
    bad[1, 1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        kwls_loss(bad, t, d, 0.5)
