"""The module forms: one generic base, a loss tensor from forward (drop-in for nn.CrossEntropyLoss), the
LossOutput from with_nll; and the kernel's block-size setting."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import ConfigError
from textsmooth.losses import (
    BlockElements,
    ConfidencePenalty,
    FusedLinearCrossEntropy,
    KWLSLoss,
    LossModule,
    LossOutput,
    SmoothedCrossEntropy,
    WeightedCrossEntropy,
    _kernel,
    fused_linear_cross_entropy,
    kwls_loss,
    set_block_elements,
    smoothed_cross_entropy,
    weighted_cross_entropy,
)

F64 = torch.float64


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g, dtype=F64, requires_grad=True)
    t = torch.tensor([0, 3, -100, 2, 1, 1])
    return z, t


def test_forward_is_a_drop_in_for_cross_entropy_loss() -> None:
    z, t = _data()
    ours, theirs = SmoothedCrossEntropy(0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    assert isinstance(ours, LossModule)
    value = ours(z, t)
    assert isinstance(value, torch.Tensor)
    torch.testing.assert_close(value, theirs(z, t))
    (g_ours,) = torch.autograd.grad(value, z)
    (g_theirs,) = torch.autograd.grad(theirs(z, t), z)
    torch.testing.assert_close(g_ours, g_theirs)


def test_with_nll_is_the_functional_output() -> None:
    z, t = _data()
    out = SmoothedCrossEntropy(0.3, reduction="sum").with_nll(z, t)
    want = smoothed_cross_entropy(z, t, 0.3, reduction="sum")
    assert isinstance(out, LossOutput)
    torch.testing.assert_close(out.loss, want.loss)
    assert out.nll is not None and want.nll is not None
    torch.testing.assert_close(out.nll, want.nll)
    torch.testing.assert_close(out.nll, F.cross_entropy(z, t, reduction="sum").detach())


def test_inputs_by_position_or_name_and_num_items() -> None:
    z, t = _data()
    soft = torch.softmax(torch.randn(6, 4, dtype=F64), dim=1)
    aux = torch.randn(6, 4, dtype=F64)
    m = KWLSLoss(0.5)
    want = kwls_loss(z, t, soft, 0.5, aux, num_items=9).loss
    torch.testing.assert_close(m(z, t, soft, aux, 9), want)
    torch.testing.assert_close(m(z, t, soft, aux_logits=aux, num_items=9), want)
    with pytest.raises(TypeError, match="both by position and by name"):
        m(z, t, soft, aux, target=t)
    with pytest.raises(TypeError, match="at most 5 inputs"):
        m(z, t, soft, aux, 9, 10)
    torch.testing.assert_close(
        ConfidencePenalty(0.2)(z, t, num_items=3), ConfidencePenalty(0.2, reduction="sum")(z, t) / 3
    )


def test_hyper_parameters_and_buffers() -> None:
    neighbors = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0]])
    sims = torch.tensor([[1.0, 0.5]] * 4)
    m = WeightedCrossEntropy(neighbors, sims, stopwords=torch.tensor([2]), reduction="sum")
    assert set(dict(m.named_buffers())) == {"neighbors", "similarities", "stopwords"}
    assert m.hyper_parameters()["reduction"] == "sum"
    assert "reduction='sum'" in repr(m)
    z, t = _data()
    torch.testing.assert_close(
        m(z, t),
        weighted_cross_entropy(z, t, neighbors, sims, stopwords=torch.tensor([2]), reduction="sum").loss,
    )
    m = SmoothedCrossEntropy(0.1)  # a None buffer can be set later and then follows .to()
    assert m.prior is None and "prior" in m._buffers
    m.prior = torch.full((4,), 0.25)
    assert m.to(F64).prior is not None and m.prior.dtype == F64


def test_fused_module_takes_the_projection_in_forward() -> None:
    g = torch.Generator().manual_seed(1)
    h = torch.randn(5, 3, generator=g, dtype=F64)
    w = torch.randn(7, 3, generator=g, dtype=F64)
    t = torch.tensor([0, 6, -100, 3, 2])
    m = FusedLinearCrossEntropy(0.1, chunk_size=2)
    torch.testing.assert_close(m(h, w, t), fused_linear_cross_entropy(h, w, t, 0.1, chunk_size=2).loss)
    out = m.with_nll(h, w, t)
    torch.testing.assert_close(out.nll, F.cross_entropy(h @ w.t(), t))


def test_set_block_elements_changes_blocks_not_results() -> None:
    z, t = _data()
    one = smoothed_cross_entropy(z, t, 0.1, reduction="none").loss
    (g_one,) = torch.autograd.grad(one.sum(), z)
    previous = set_block_elements(cpu=4 * 2)  # 2 rows of 4 classes per block
    try:
        assert isinstance(previous, BlockElements)
        assert previous.cpu == 1 << 28 and previous.cpu_half == 1 << 24 and previous.gpu == 1 << 26
        assert _kernel.block_rows(4, z.device, z.dtype) == 2
        many = smoothed_cross_entropy(z, t, 0.1, reduction="none").loss
        (g_many,) = torch.autograd.grad(many.sum(), z)
    finally:
        set_block_elements(**previous._asdict())
    assert _kernel.block_rows(4, z.device, z.dtype) == (1 << 28) // 4
    torch.testing.assert_close(many, one, rtol=0, atol=1e-14)
    torch.testing.assert_close(g_many, g_one, rtol=0, atol=1e-14)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="positive int"):
            set_block_elements(gpu=bad)  # type: ignore[arg-type]
    assert _kernel.GPU_BLOCK_ELEMENTS == 1 << 26
