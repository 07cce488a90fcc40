"""sequence_smoothed_nll: loss (2) of the semantic-smoothing paper, with padded related targets."""

from __future__ import annotations

import losses_reference as ref
import pytest
import torch

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import SequenceSmoothedNLL, sequence_smoothed_nll

F64 = torch.float64


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    nt = (torch.rand(4, generator=g, dtype=F64) * 20).requires_grad_()
    nr = (torch.rand(4, 3, generator=g, dtype=F64) * 20).requires_grad_()
    mask = torch.tensor(
        [[True, True, True], [True, False, False], [False, False, False], [True, True, False]]
    )
    return nt, nr, mask


def test_hand_derived_value() -> None:
    # example 0: 2 + 0.5/2 * (4 + 6) = 4.5; example 1 has no related target: 3; mean = 3.75
    nt = torch.tensor([2.0, 3.0])
    nr = torch.tensor([[4.0, 6.0, 100.0], [9.0, 9.0, 9.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert sequence_smoothed_nll(nt, nr, mask, 0.5).loss.item() == pytest.approx(3.75)
    torch.testing.assert_close(
        sequence_smoothed_nll(nt, nr, mask, 0.5, "none").loss, torch.tensor([4.5, 3.0])
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_matches_reference(reduction: str) -> None:
    nt, nr, mask = _data()
    ours = sequence_smoothed_nll(nt, nr, mask, 0.7, reduction).loss  # type: ignore[arg-type]
    want = ref.sequence_smoothed(nt, nr, mask, 0.7, reduction)
    torch.testing.assert_close(ours, want)
    for a, b in zip(
        torch.autograd.grad(ours.sum(), (nt, nr)), torch.autograd.grad(want.sum(), (nt, nr)), strict=True
    ):
        torch.testing.assert_close(a, b)


def test_padding_never_touches_value_or_gradient() -> None:
    nt, nr, mask = _data()
    poisoned = nr.detach().clone()
    poisoned[~mask] = float("nan")
    poisoned[3, 2] = float("inf")
    poisoned.requires_grad_()
    clean = sequence_smoothed_nll(nt, nr, mask, 0.7).loss
    dirty = sequence_smoothed_nll(nt, poisoned, mask, 0.7).loss
    torch.testing.assert_close(clean, dirty)
    (g_clean,) = torch.autograd.grad(clean, nr)
    (g_dirty,) = torch.autograd.grad(dirty, poisoned)
    torch.testing.assert_close(g_clean, g_dirty)
    assert torch.equal(g_dirty[~mask], torch.zeros(int((~mask).sum()), dtype=F64))


def test_gradcheck_num_items_nll_module() -> None:
    nt, nr, mask = _data()
    assert torch.autograd.gradcheck(lambda a, b: sequence_smoothed_nll(a, b, mask, 0.3).loss, (nt, nr))
    out = sequence_smoothed_nll(nt, nr, mask, 0.3, num_items=8)
    torch.testing.assert_close(out.loss, sequence_smoothed_nll(nt, nr, mask, 0.3, "sum").loss / 8)
    torch.testing.assert_close(out.nll, nt.detach().sum() / 8)
    torch.testing.assert_close(
        SequenceSmoothedNLL(0.3)(nt, nr, mask), sequence_smoothed_nll(nt, nr, mask, 0.3).loss
    )
    # alpha = 0 is plain sequence NLL
    torch.testing.assert_close(sequence_smoothed_nll(nt, nr, mask, 0.0).loss, nt.mean())


def test_bad_input() -> None:
    nt, nr, mask = _data()
    with pytest.raises(InputError, match=r"\(B,\)"):
        sequence_smoothed_nll(nt[:, None], nr, mask, 0.5)
    with pytest.raises(InputError, match="nll_related"):
        sequence_smoothed_nll(nt, nr[:3], mask[:3], 0.5)
    with pytest.raises(InputError, match="must match"):
        sequence_smoothed_nll(nt, nr, mask[:, :2], 0.5)
    with pytest.raises(InputError, match="bool"):
        sequence_smoothed_nll(nt, nr, mask.long(), 0.5)
    bad = nt.detach().clone()
    bad[0] = float("nan")
    with pytest.raises(InputError, match="finite"):
        sequence_smoothed_nll(bad, nr, mask, 0.5)
    with pytest.raises(ConfigError, match="alpha"):
        sequence_smoothed_nll(nt, nr, mask, -0.5)
