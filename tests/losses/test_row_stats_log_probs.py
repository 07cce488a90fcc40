"""``row_stats(..., log_probs=True)``: log-probabilities at gathered words (weighted similarity's input),
against the plain float64 reference, and its forward pass holding one ``(P, C)`` temporary."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import losses_reference as ref
import pytest
import torch

from textsmooth.losses._kernel import row_stats

F64 = torch.float64


def _inputs(dtype: torch.dtype, scale: float, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    z = torch.randn(9, 13, generator=g, dtype=F64) * scale + offset
    z[2, 5] = float("-inf")  # a word the model rules out
    z[4, :] = offset  # a flat row: every log-probability is -log 13
    index = torch.randint(0, 13, (9, 4), generator=g)
    index[2, 1] = 5
    return z.to(dtype).requires_grad_(), index


CASES = [
    (dtype, scale, offset)
    for dtype in (torch.float32, torch.float64, torch.bfloat16)
    for scale, offset in ((1.0, 0.0), (30.0, 0.0), (2.0, 1e4), (1.0, -1e30))
    if not (dtype == torch.bfloat16 and abs(offset) > 1e3)  # bfloat16 cannot tell such logits apart
]


@pytest.mark.parametrize(("dtype", "scale", "offset"), CASES)
@pytest.mark.parametrize("block_elements", [None, 13, 3 * 13])  # one block, one row, three rows a block
def test_log_probs_and_gradient_match_the_reference(dtype, scale, offset, block_elements) -> None:
    z, index = _inputs(dtype, scale, offset)
    stats = row_stats(z, index=index, log_probs=True, block_elements=block_elements)
    z64 = z.detach().to(F64).requires_grad_()
    want = ref.log_probs(z64).gather(1, index)
    # float32 statistics (of float32 or bfloat16 logits) against float64; float64 to the default tolerance
    tol = {} if dtype == F64 else {"rtol": 1e-6, "atol": 1e-5}
    assert stats.log_probs is not None
    torch.testing.assert_close(stats.log_probs.to(F64), want, **tol)
    torch.testing.assert_close(stats.lse.to(F64), torch.logsumexp(z64.detach(), dim=1), **tol)
    weight = torch.linspace(-1.0, 2.0, index.numel(), dtype=F64).reshape(index.shape)
    weight[2, 1] = 0.0  # the -inf log-probability, weighted 0: no NaN in the gradient
    (grad,) = torch.autograd.grad((stats.log_probs.to(F64) * weight).sum(), z)
    (grad_want,) = torch.autograd.grad((want * weight).sum(), z64)
    assert torch.isfinite(grad).all()
    atol = 2e-2 if dtype == torch.bfloat16 else 1e-5  # the gradient is returned in the logits' dtype
    torch.testing.assert_close(grad.to(F64), grad_want, rtol=1e-5, atol=atol)


def test_non_finite_rows_keep_their_statistics() -> None:
    z = torch.tensor(
        [[float("-inf")] * 3, [0.0, float("inf"), 1.0], [0.0, float("nan"), 1.0], [1.0, 2.0, 3.0]]
    )
    index = torch.tensor([[0], [1], [0], [2]])
    stats = row_stats(z, index=index, log_probs=True)
    lse = torch.logsumexp(z, dim=1)
    torch.testing.assert_close(stats.lse, lse, equal_nan=True)
    assert stats.log_probs is not None
    torch.testing.assert_close(stats.log_probs[3], z[3].log_softmax(0)[2:])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads the Linux peak resident set")
def test_weighted_similarity_forward_holds_one_logits_sized_temporary() -> None:
    # 512 x 32,768 float32 logits (64 MiB): the forward pass used to hold two such buffers (the shifted
    # logits and logsumexp's exponential of them), now one. Measured as the peak resident set in a fresh
    # process, since a temporary inside a single ATen kernel is no operator output (test_loss_allocations).
    code = textwrap.dedent(
        """
        import json, torch
        from textsmooth.losses import weighted_cross_entropy, weighted_similarity_loss

        def kib(key):
            with open("/proc/self/status", encoding="ascii") as f:
                return next(int(line.split()[1]) for line in f if line.startswith(key))

        torch.set_num_threads(1)
        P, C = 512, 32768
        g = torch.Generator().manual_seed(0)
        z = torch.randn(P, C, generator=g, requires_grad=True)
        t = torch.randint(0, C, (P,), generator=g)
        neighbors, sims = torch.randint(0, C, (C, 4), generator=g), torch.rand(C, 4, generator=g)
        out = {}
        for name, f in (("ws", weighted_similarity_loss), ("wce", weighted_cross_entropy)):
            f(z[:4, :64], t[:4] % 64, neighbors[:64] % 64, sims[:64])  # first-call allocations
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
            base = kib("VmRSS:")
            f(z, t, neighbors, sims)
            out[name] = (kib("VmHWM:") - base) * 1024 / (P * C * 4)
        print(json.dumps(out))
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    buffers = json.loads(run.stdout.strip().splitlines()[-1])
    assert buffers["ws"] < 1.5, buffers  # one (P, C) temporary, like weighted cross-entropy
    assert buffers["wce"] < 1.5, buffers
