"""smoothed_cross_entropy: parity with F.cross_entropy(label_smoothing=), conventions, prior, contract."""

from __future__ import annotations

import math

import losses_reference as ref
import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import LossOutput, SmoothedCrossEntropy, smoothed_cross_entropy

F64 = torch.float64


def _data(P: int = 9, C: int = 7, seed: int = 0, ignore: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(P, C, generator=g, dtype=F64) * 3).requires_grad_()
    t = torch.randint(0, C, (P,), generator=g)
    if ignore:
        t[1] = -100
        t[P - 2] = -100
    return z, t


def _grad(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out.sum(), z)
    return g


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.7])
def test_parity_with_torch_label_smoothing(reduction: str, weighted: bool, ignore: bool, eps: float) -> None:
    z, t = _data(ignore=ignore)
    w = torch.rand(7, dtype=F64, generator=torch.Generator().manual_seed(1)) + 0.2 if weighted else None
    ours = smoothed_cross_entropy(z, t, eps, weight=w, reduction=reduction).loss
    theirs = F.cross_entropy(z, t, weight=w, label_smoothing=eps, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grad(ours, z), _grad(theirs, z), rtol=1e-12, atol=1e-12)


def test_parity_for_pytorch_class_dim_layout_via_movedim() -> None:
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 5, 4, generator=g, dtype=F64, requires_grad=True)  # (N, C, d1)
    t = torch.randint(0, 5, (2, 4), generator=g)
    t[0, 1] = -100
    for reduction in ("mean", "sum", "none"):
        ours = smoothed_cross_entropy(z.movedim(1, -1), t, 0.2, reduction=reduction).loss
        theirs = F.cross_entropy(z, t, label_smoothing=0.2, reduction=reduction)
        torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(_grad(ours, z), _grad(theirs, z))


@pytest.mark.parametrize("convention", ["all", "others"])
@pytest.mark.parametrize("use_prior", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_float64_reference(convention: str, use_prior: bool, weighted: bool) -> None:
    z, t = _data()
    prior = torch.softmax(torch.randn(7, dtype=F64, generator=torch.Generator().manual_seed(2)), 0)
    w = torch.rand(7, dtype=F64, generator=torch.Generator().manual_seed(4)) + 0.2 if weighted else None
    kw = dict(prior=prior if use_prior else None, convention=convention, weight=w)
    for reduction in ("mean", "sum", "none"):
        ours = smoothed_cross_entropy(z, t, 0.3, reduction=reduction, **kw).loss  # type: ignore[arg-type]
        want = ref.smoothed_ce(z, t, 0.3, reduction=reduction, **kw)  # type: ignore[arg-type]
        torch.testing.assert_close(ours, want, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(_grad(ours, z), _grad(want, z), rtol=1e-10, atol=1e-12)


def test_others_convention_keeps_exactly_one_minus_eps_on_gold() -> None:
    # Hand derivation: with zero logits p = 1/C for every class, so the loss is -sum_j q_j log(1/C) = log C
    # whatever the target distribution q; the gradient is p - q, so p_y - grad_y = q_y.
    C, eps = 5, 0.2
    z = torch.zeros(1, C, dtype=F64, requires_grad=True)
    t = torch.tensor([2])
    for convention, q_gold, q_other in (
        ("all", 1 - eps + eps / C, eps / C),
        ("others", 1 - eps, eps / (C - 1)),
    ):
        loss = smoothed_cross_entropy(z, t, eps, convention=convention).loss  # type: ignore[arg-type]
        assert loss.item() == pytest.approx(math.log(C), abs=1e-12)
        q = 1.0 / C - _grad(loss, z)[0]
        assert float(q[2]) == pytest.approx(q_gold, abs=1e-12)
        assert float(q[0]) == pytest.approx(q_other, abs=1e-12)
        assert float(q.sum()) == pytest.approx(1.0, abs=1e-12)


def test_gradcheck_prior_others_weight() -> None:
    z, t = _data(P=4, C=5)
    prior = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15], dtype=F64)
    w = torch.tensor([1.0, 0.5, 2.0, 1.5, 0.7], dtype=F64)
    for reduction in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda x, r=reduction: (
                smoothed_cross_entropy(
                    x, t, 0.25, prior=prior, convention="others", weight=w, reduction=r
                ).loss
            ),
            (z,),
        )


def test_nll_is_plain_nll_reduced_like_the_loss() -> None:
    z, t = _data()
    w = torch.rand(7, dtype=F64) + 0.5
    for reduction in ("mean", "sum", "none"):
        out = smoothed_cross_entropy(z, t, 0.3, weight=w, reduction=reduction)
        assert isinstance(out, LossOutput)
        assert out.nll is not None and not out.nll.requires_grad
        torch.testing.assert_close(out.nll, ref.nll(z, t, reduction=reduction))  # unweighted, unsmoothed
        torch.testing.assert_close(out.loss, ref.smoothed_ce(z, t, 0.3, weight=w, reduction=reduction))


def test_num_items_is_the_mean_denominator() -> None:
    z, t = _data()
    total = smoothed_cross_entropy(z, t, 0.1, reduction="sum").loss
    out = smoothed_cross_entropy(z, t, 0.1, num_items=13)
    torch.testing.assert_close(out.loss, total / 13)
    torch.testing.assert_close(out.nll, ref.nll(z, t, reduction="sum") / 13)
    torch.testing.assert_close(
        smoothed_cross_entropy(z, t, 0.1, num_items=torch.tensor(13.0)).loss, total / 13
    )
    # two micro-batches with the global count add up to the full-batch mean
    half = z.shape[0] // 2
    n = int((t != -100).sum())
    parts = (
        smoothed_cross_entropy(z[:half], t[:half], 0.1, num_items=n).loss
        + smoothed_cross_entropy(z[half:], t[half:], 0.1, num_items=n).loss
    )
    torch.testing.assert_close(parts, smoothed_cross_entropy(z, t, 0.1).loss)


def test_all_ignored_mean_is_zero_with_zero_gradient() -> None:
    z = torch.randn(3, 4, dtype=F64, requires_grad=True)
    t = torch.full((3,), -100)
    loss = smoothed_cross_entropy(z, t, 0.1).loss
    assert loss.item() == 0.0
    assert torch.equal(_grad(loss, z), torch.zeros_like(z))
    assert torch.isnan(F.cross_entropy(z, t, label_smoothing=0.1))  # the documented difference


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_inputs_reduce_in_float32(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(5)
    z = (torch.randn(16, 300, generator=g) * 4).to(dtype).requires_grad_()
    t = torch.randint(0, 300, (16,), generator=g)
    loss = smoothed_cross_entropy(z, t, 0.1).loss
    assert loss.dtype == torch.float32
    z64 = z.detach().to(F64).requires_grad_()
    want = ref.smoothed_ce(z64, t, 0.1)
    # the inputs are exactly representable in float64, so only float32 arithmetic error remains
    torch.testing.assert_close(loss.to(F64), want, rtol=1e-6, atol=1e-6)
    (g_ours,) = torch.autograd.grad(loss, z)
    assert g_ours.dtype == dtype
    torch.testing.assert_close(g_ours.to(F64), _grad(want, z64).to(dtype).to(F64), rtol=1e-2, atol=1e-6)


def test_finite_for_huge_logits() -> None:
    z = torch.tensor([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, 1e4]], requires_grad=True)
    t = torch.tensor([1, 3])
    loss = smoothed_cross_entropy(z, t, 0.1).loss
    assert torch.isfinite(loss)
    # row 0: lse = 1e4; nll = 2e4; uniform term = lse - mean(z) = 1e4 - 1250 = 8750
    # row 1: lse = 1e4; nll = 0; uniform term = 1e4 - (-5e3) = 1.5e4
    want = 0.5 * ((0.9 * 2e4 + 0.1 * 8750) + (0.9 * 0 + 0.1 * 1.5e4))
    assert loss.item() == pytest.approx(want, rel=1e-6)
    (g,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(g).all()


def test_module_holds_buffers_and_matches_function() -> None:
    prior = torch.tensor([0.5, 0.25, 0.25])
    w = torch.tensor([1.0, 2.0, 3.0])
    m = SmoothedCrossEntropy(0.2, prior=prior, weight=w, convention="others")
    assert set(dict(m.named_buffers())) == {"prior", "weight"}
    m = m.to(F64)
    assert m.prior is not None and m.prior.dtype == F64
    z = torch.randn(4, 3, dtype=F64)
    t = torch.tensor([0, 1, 2, -100])
    torch.testing.assert_close(
        m(z, t), smoothed_cross_entropy(z, t, 0.2, prior=prior, weight=w, convention="others").loss
    )
    assert "epsilon=0.2" in repr(m)


# --------------------------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors() -> None:
    z = torch.randn(4, 3)
    t = torch.tensor([0, 1, 2, 1])
    with pytest.raises(InputError, match="outside"):
        smoothed_cross_entropy(z, torch.tensor([0, 3, 1, 1]))
    with pytest.raises(InputError, match="outside"):
        smoothed_cross_entropy(z, torch.tensor([0, -1, 1, 1]))
    with pytest.raises(InputError, match="shape"):
        smoothed_cross_entropy(z, t[:3])
    with pytest.raises(InputError, match="integer"):
        smoothed_cross_entropy(z, t.float())
    with pytest.raises(InputError, match="floating"):
        smoothed_cross_entropy(t[:, None].repeat(1, 3), t)
    bad = z.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        smoothed_cross_entropy(bad, t)
    bad[2, 1] = float("inf")
    with pytest.raises(InputError, match="NaN or infinite"):
        smoothed_cross_entropy(bad, t)
    bad[2, 1] = -float("inf")
    with pytest.raises(InputError, match="row 2"):
        smoothed_cross_entropy(bad, t)
    # a NaN at an ignored position is not an error, and does not reach the value
    ok = smoothed_cross_entropy(bad, torch.tensor([0, 1, -100, 1])).loss
    assert torch.isfinite(ok)
    with pytest.raises(InputError, match="negative"):
        smoothed_cross_entropy(z, t, weight=torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(InputError, match="shape"):
        smoothed_cross_entropy(z, t, weight=torch.ones(4))
    with pytest.raises(InputError, match="sum to 1"):
        smoothed_cross_entropy(z, t, prior=torch.tensor([0.5, 0.5, 0.5]))
    with pytest.raises(InputError, match="negative"):
        smoothed_cross_entropy(z, t, prior=torch.tensor([1.5, -0.5, 0.0]))
    with pytest.raises(InputError, match="prior"):
        smoothed_cross_entropy(z, t, prior=torch.tensor([1.0, 0.0, 0.0]), convention="others")
    with pytest.raises(ConfigError, match="epsilon"):
        smoothed_cross_entropy(z, t, 1.5)
    with pytest.raises(ConfigError, match="convention"):
        smoothed_cross_entropy(z, t, convention="rest")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="reduction"):
        smoothed_cross_entropy(z, t, reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="num_items"):
        smoothed_cross_entropy(z, t, reduction="sum", num_items=3)
    with pytest.raises(ConfigError, match="num_items"):
        smoothed_cross_entropy(z, t, num_items=0)
    with pytest.raises(InputError, match="2 classes"):
        smoothed_cross_entropy(torch.randn(2, 1), torch.tensor([0, 0]), 0.1, convention="others")
    with pytest.raises(InputError, match="Tensor"):
        smoothed_cross_entropy(z.tolist(), t)  # type: ignore[arg-type]


def test_validate_false_skips_value_checks_only() -> None:
    z = torch.randn(4, 3)
    bad = z.clone()
    bad[0, 0] = float("nan")
    assert torch.isnan(smoothed_cross_entropy(bad, torch.tensor([0, 1, 2, 1]), validate=False).loss)
    with pytest.raises(InputError, match="shape"):
        smoothed_cross_entropy(z, torch.tensor([0, 1]), validate=False)


def test_non_contiguous_and_batched_logits() -> None:
    g = torch.Generator().manual_seed(9)
    base = torch.randn(6, 8, generator=g, dtype=F64)
    z = base.t().requires_grad_()  # (8, 6), non-contiguous rows
    t = torch.randint(0, 6, (8,), generator=g)
    ours = smoothed_cross_entropy(z, t, 0.2).loss
    theirs = F.cross_entropy(z, t, label_smoothing=0.2)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(_grad(ours, z), _grad(theirs, z))
    z3 = torch.randn(2, 3, 5, generator=g, dtype=F64, requires_grad=True)[:, :, 1:]  # (2, 3, 4), a view
    t3 = torch.randint(0, 4, (2, 3), generator=g)
    rows = smoothed_cross_entropy(z3, t3, 0.2, reduction="none").loss
    assert rows.shape == (2, 3)
    torch.testing.assert_close(rows, ref.smoothed_ce(z3, t3, 0.2, reduction="none"))


@pytest.mark.parametrize("dtype", [F64, torch.bfloat16])
def test_many_blocks_match_one_block(monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype) -> None:
    # the block loop (including a last, shorter block) must not change anything
    from textsmooth.losses import _kernel

    z64, t = _data(P=37, C=11)
    z = z64.detach().to(dtype).requires_grad_()
    one = smoothed_cross_entropy(z, t, 0.1, reduction="none").loss
    (g_one,) = torch.autograd.grad(one.sum(), z)
    monkeypatch.setattr(_kernel, "CPU_BLOCK_ELEMENTS", 11 * 3)
    monkeypatch.setattr(_kernel, "CPU_HALF_BLOCK_ELEMENTS", 11 * 3)
    assert _kernel.block_rows(11, z.device, z.dtype) == 3
    many = smoothed_cross_entropy(z, t, 0.1, reduction="none").loss
    (g_many,) = torch.autograd.grad(many.sum(), z)
    torch.testing.assert_close(many, one, rtol=0, atol=1e-14 if dtype == F64 else 1e-6)
    torch.testing.assert_close(g_many, g_one, rtol=0, atol=1e-14 if dtype == F64 else 1e-6)


def test_others_matches_the_fairseq_formula() -> None:
    # fairseq's label_smoothed_nll_loss, written from its formula: with V classes and eps_i = eps / (V - 1),
    # loss = (1 - eps - eps_i) * nll + eps_i * (-sum_j log p_j)
    z, t = _data(ignore=False)
    eps, V = 0.1, z.shape[1]
    lp = ref.log_probs(z)
    nll = -lp.gather(1, t[:, None])[:, 0]
    smooth = -lp.sum(dim=1)
    eps_i = eps / (V - 1)
    want = ((1 - eps - eps_i) * nll + eps_i * smooth).sum()
    got = smoothed_cross_entropy(z, t, eps, convention="others", reduction="sum").loss
    torch.testing.assert_close(got, want)


def test_negative_upstream_gradient() -> None:
    # e.g. gradient reversal: the backward pass must not assume d(loss)/d(row) >= 0
    z, t = _data()
    w = torch.linspace(-1.0, 1.0, z.shape[0], dtype=F64)
    ours = (smoothed_cross_entropy(z, t, 0.2, reduction="none").loss * w).sum()
    want = (ref.smoothed_ce(z, t, 0.2, reduction="none") * w).sum()
    torch.testing.assert_close(_grad(ours, z), _grad(want, z))
    torch.testing.assert_close(
        _grad(-smoothed_cross_entropy(z, t, 0.2).loss, z), _grad(-ref.smoothed_ce(z, t, 0.2), z)
    )
