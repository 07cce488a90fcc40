"""What the losses allocate: no dense target, no kept log-softmax, no full logits in the fused loss.

A dispatch mode records every tensor an operator returns; tensors at least as large as ``positions x
classes`` are counted by storage (an in-place op returns the storage it was given). This checks the
memory claims structurally, without timing or RSS. Temporaries inside a single ATen kernel (the exp buffer
of ``logsumexp``, freed before the kernel returns) are not operator outputs and are not seen here; the
benchmark's RSS measurement covers them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from textsmooth.losses import (
    fused_linear_cross_entropy,
    smoothed_cross_entropy,
    sparse_soft_target_cross_entropy,
)


class _LargeOutputs(TorchDispatchMode):
    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold
        self.storages: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.numel() >= self.threshold:
                self.storages.add(t.untyped_storage().data_ptr())
        return out


def _count(fn: Callable[[], torch.Tensor], threshold: int, inputs: list[torch.Tensor]) -> tuple[int, int]:
    """Distinct large storages created in forward and in backward (inputs excluded)."""
    known = {t.untyped_storage().data_ptr() for t in inputs}
    with _LargeOutputs(threshold) as fwd:
        loss = fn()
    with _LargeOutputs(threshold) as bwd:
        loss.backward()
    return len(fwd.storages - known), len(bwd.storages - known)


P, C = 64, 500


def _logits() -> torch.Tensor:
    return torch.randn(P, C, requires_grad=True)


def test_smoothed_ce_outputs_no_large_tensor_but_the_gradient() -> None:
    z = _logits()
    t = torch.randint(0, C, (P,))
    fwd, bwd = _count(lambda: smoothed_cross_entropy(z, t, 0.1).loss, P * C, [z])
    assert (fwd, bwd) == (0, 1)  # nothing kept or built in forward; the gradient in backward
    z2 = _logits()
    fwd_native, bwd_native = _count(lambda: F.cross_entropy(z2, t, label_smoothing=0.1), P * C, [z2])
    assert fwd_native + bwd_native > fwd + bwd  # PyTorch keeps the log-softmax and builds more in backward


def test_sparse_soft_target_builds_no_dense_target() -> None:
    z = _logits()
    idx = torch.randint(0, C, (P, 5))
    w = torch.full((P, 5), 0.2)
    fwd, bwd = _count(lambda: sparse_soft_target_cross_entropy(z, idx, w).loss, P * C, [z])
    assert (fwd, bwd) == (0, 1)


def test_fused_never_holds_all_logits() -> None:
    H = 16
    h = torch.randn(P, H, requires_grad=True)
    W = torch.randn(C, H, requires_grad=True)
    t = torch.randint(0, C, (P,))
    for reduction in ("mean", "none"):
        fwd, bwd = _count(
            lambda r=reduction: fused_linear_cross_entropy(
                h, W, t, 0.1, reduction=r, chunk_size=16
            ).loss.sum(),
            P * C // 2,  # anything half as large as the logits
            [h, W],
        )
        assert (fwd, bwd) == (0, 0)
    fwd, _ = _count(lambda: F.cross_entropy(h @ W.t(), t, label_smoothing=0.1), P * C // 2, [h, W])
    assert fwd >= 2  # the unfused graph holds the logits and their log-softmax
