"""The contract every loss shares: finite at logit magnitude 1e4, gradients that do not grow up to 1e30,
float32 results for half inputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from textsmooth.losses import (
    LossOutput,
    confidence_penalty,
    distillation_loss,
    fused_linear_cross_entropy,
    kwls_loss,
    similarity_soft_label_loss,
    smoothed_cross_entropy,
    soft_target_cross_entropy,
    sparse_soft_target_cross_entropy,
    weighted_cross_entropy,
    weighted_similarity_loss,
)

P, C = 6, 5
T = torch.tensor([0, 4, -100, 2, 1, 3])
NEIGHBORS = torch.stack([torch.arange(C), (torch.arange(C) + 1) % C], dim=1)
SIMS = torch.tensor([[1.0, 0.5]] * C)
SOFT = torch.softmax(torch.arange(C, dtype=torch.float32), 0).repeat(P, 1)
IDX = torch.tensor([[0, 1]] * P)
W = torch.tensor([[0.25, 0.75]] * P)

LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor | LossOutput]] = {
    "smoothed": lambda z: smoothed_cross_entropy(z, T, 0.1),
    "smoothed_others_prior": lambda z: smoothed_cross_entropy(
        z, T, 0.1, convention="others", prior=SOFT[0], weight=torch.ones(C)
    ),
    "confidence": lambda z: confidence_penalty(z, T, 0.3),
    "soft": lambda z: soft_target_cross_entropy(z, SOFT.to(z.dtype), target=T),
    "sparse": lambda z: sparse_soft_target_cross_entropy(z, IDX, W, target=T),
    "kwls_eq9": lambda z: kwls_loss(z, T, SOFT, 1.0),
    "kwls_two_head": lambda z: kwls_loss(z, T, SOFT, 1.0, z.flip(-1)),
    "kwls_mixture": lambda z: kwls_loss(z, T, SOFT, 1.0, variant="mixture"),
    "similarity_soft": lambda z: similarity_soft_label_loss(z, T, NEIGHBORS, SIMS),
    "weighted_similarity": lambda z: weighted_similarity_loss(z, T, NEIGHBORS, SIMS),
    "weighted_ce": lambda z: weighted_cross_entropy(z, T, NEIGHBORS, SIMS),
    "distillation": lambda z: distillation_loss(z, z.detach().flip(-1), 2.0, 0.5, T),
    "fused": lambda z: fused_linear_cross_entropy(z, torch.eye(C, dtype=z.dtype), T, 0.1, chunk_size=4),
}


def _huge_logits(dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 3, (P, C), generator=g).to(torch.float32) - 1.0  # -1, 0, 1
    return (signs * 1e4).to(dtype).requires_grad_()


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_finite_at_magnitude_1e4_and_float32_results(name: str, dtype: torch.dtype) -> None:
    z = _huge_logits(dtype)
    out = LOSSES[name](z)
    assert isinstance(out, LossOutput)
    assert out.loss.dtype == torch.float32
    assert torch.isfinite(out.loss), name
    assert out.nll is not None and torch.isfinite(out.nll) and not out.nll.requires_grad
    (g,) = torch.autograd.grad(out.loss, z)
    assert g.dtype == dtype
    assert torch.isfinite(g).all(), name


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("magnitude", [1e8, 1e12, 1e30])
def test_gradients_do_not_grow_with_logit_magnitude(name: str, dtype: torch.dtype, magnitude: float) -> None:
    """At 1e4 the softmax is already saturated (exp(-1e4) is 0), so larger logits change nothing.

    The gradient at 1e8-1e30 must equal the gradient at 1e4: a loss that subtracts two large numbers (an
    expected logit from a logit, say) shows the lost digits here as gradients that grow with the
    magnitude.
    """
    g = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 3, (P, C), generator=g).to(torch.float64) - 1.0
    grads = []
    for scale in (1e4, magnitude):
        z = (signs * scale).to(dtype).requires_grad_()
        out = LOSSES[name](z)
        assert isinstance(out, LossOutput)
        assert torch.isfinite(out.loss), name
        (grad,) = torch.autograd.grad(out.loss, z)
        grads.append(grad.double())
    assert torch.isfinite(grads[1]).all(), name
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=0, msg=name)
