"""confidence_penalty and distillation_loss against float64 references."""

from __future__ import annotations

import math

import losses_reference as ref
import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import ConfidencePenalty, DistillationLoss, confidence_penalty, distillation_loss

F64 = torch.float64


def _data(P: int = 8, C: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(P, C, generator=g, dtype=F64) * 2).requires_grad_()
    t = torch.randint(0, C, (P,), generator=g)
    t[3] = -100
    return z, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("beta", [0.0, 0.3, 1.5])
def test_confidence_penalty_matches_reference(reduction: str, beta: float) -> None:
    z, t = _data()
    ours = confidence_penalty(z, t, beta, reduction=reduction).loss  # type: ignore[arg-type]
    want = ref.confidence_penalty(z, t, beta, reduction)
    torch.testing.assert_close(ours, want)
    (g1,) = torch.autograd.grad(ours.sum(), z)
    (g2,) = torch.autograd.grad(want.sum(), z)
    torch.testing.assert_close(g1, g2)


def test_confidence_penalty_hand_value_gradcheck_module() -> None:
    # uniform prediction over 4 classes: CE = log 4, entropy = log 4 -> (1 - beta) log 4
    z0 = torch.zeros(1, 4, dtype=F64)
    assert confidence_penalty(z0, torch.tensor([1]), 0.25).loss.item() == pytest.approx(0.75 * math.log(4))
    z, t = _data(P=4, C=3)
    assert torch.autograd.gradcheck(lambda x: confidence_penalty(x, t, 0.4, reduction="none").loss, (z,))
    torch.testing.assert_close(ConfidencePenalty(0.4)(z, t), confidence_penalty(z, t, 0.4).loss)
    out = confidence_penalty(z, t, 0.4)
    torch.testing.assert_close(out.nll, ref.nll(z, t))
    with pytest.raises(ConfigError, match="beta"):
        confidence_penalty(z, t, -1.0)
    bad = z.detach().clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        confidence_penalty(bad, t, 0.1)


def test_confidence_penalty_low_precision_and_huge_logits() -> None:
    z = (torch.randn(16, 200) * 3).to(torch.bfloat16).requires_grad_()
    t = torch.randint(0, 200, (16,))
    loss = confidence_penalty(z, t, 0.2).loss
    assert loss.dtype == torch.float32
    torch.testing.assert_close(
        loss.to(F64), ref.confidence_penalty(z.detach().to(F64), t, 0.2), rtol=1e-5, atol=1e-5
    )
    big = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    # p = (1, 0, 0) to float precision: CE = 2e4 for target 1, entropy 0
    out = confidence_penalty(big, torch.tensor([1]), 0.5).loss
    assert out.item() == pytest.approx(2e4)
    (g,) = torch.autograd.grad(out, big)
    assert torch.isfinite(g).all()


def test_distillation_matches_reference() -> None:
    z, t = _data()
    t = t.clamp(min=0)
    teacher = torch.randn(8, 5, dtype=F64, generator=torch.Generator().manual_seed(3)) * 2
    for T, alpha, target in ((1.0, 0.5, t), (2.0, 0.7, t), (4.0, 1.0, None), (3.0, 0.0, t)):
        ours = distillation_loss(z, teacher, T, alpha, target).loss
        want = ref.distillation(z, teacher, T, alpha, target)
        torch.testing.assert_close(ours, want)
        (g1,) = torch.autograd.grad(ours, z)
        (g2,) = torch.autograd.grad(want, z)
        torch.testing.assert_close(g1, g2)


def test_distillation_properties() -> None:
    z, t = _data()
    # student == teacher: the KL is 0, so with alpha = 1 the loss is 0
    assert distillation_loss(z, z.detach(), 2.0, 1.0).loss.item() == pytest.approx(0.0, abs=1e-12)
    # KL against torch's kl_div (T = 2, teacher fixed)
    teacher = torch.randn(8, 5, dtype=F64)
    kl = F.kl_div(
        F.log_softmax(z / 2, 1), F.log_softmax(teacher / 2, 1), log_target=True, reduction="batchmean"
    )
    torch.testing.assert_close(distillation_loss(z, teacher, 2.0, 1.0).loss, 4 * kl)
    # ignored positions drop out of both terms
    rows = distillation_loss(z, teacher, 2.0, 0.5, t, reduction="none").loss
    assert rows[3].item() == 0.0
    torch.testing.assert_close(distillation_loss(z, teacher, 2.0, 0.5, t).loss, rows.sum() / 7)
    out = distillation_loss(z, teacher, 2.0, 0.5, t)
    torch.testing.assert_close(out.nll, ref.nll(z, t))
    assert distillation_loss(z, teacher, 2.0, 0.5).nll is None
    # no gradient reaches the teacher
    tl = teacher.clone().requires_grad_()
    distillation_loss(z, tl, 2.0, 0.5, t).loss.backward()
    assert tl.grad is None
    torch.testing.assert_close(
        DistillationLoss(2.0, 0.5)(z, teacher, t), distillation_loss(z, teacher, 2.0, 0.5, t).loss
    )
    assert torch.autograd.gradcheck(
        lambda x: distillation_loss(x, teacher[:4, :3], 3.0, 0.6, t[:4].clamp(0, 2)).loss,
        (z[:4, :3].detach().requires_grad_(),),
    )


def test_distillation_bad_input() -> None:
    z, _ = _data()
    with pytest.raises(InputError, match="temperature"):
        distillation_loss(z, z.detach(), 0.0, 0.5)
    with pytest.raises(ConfigError, match="alpha"):
        distillation_loss(z, z.detach(), 1.0, 1.5)
    with pytest.raises(InputError, match="teacher_logits"):
        distillation_loss(z, z.detach()[:, :3], 1.0, 0.5)
    bad = z.detach().clone()
    bad[0, 0] = float("inf")
    with pytest.raises(InputError, match="teacher_logits"):
        distillation_loss(z, bad, 1.0, 0.5)
    with pytest.raises(InputError, match="student_logits"):
        distillation_loss(bad, z.detach(), 2.0, 0.5)
