"""``precision="bf16"``: the training forward passes run under bfloat16 autocast on the run's device, the
losses in float32, and the result stays close to float32 training. Forced on the CPU here, so the path is
tested whether or not this machine has bfloat16 units (AVX512-BF16 / AMX)."""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("transformers")

from textsmooth.cli import app
from textsmooth.errors import ConfigError
from textsmooth.seq2seq import Seq2SeqConfig, train_seq2seq
from textsmooth.seq2seq.collate import Seq2SeqCollator
from textsmooth.seq2seq.objective import seq2seq_loss
from textsmooth.seq2seq.related import RelatedIds

MAX_LEN = 20


def six_pairs_with_a_related_target(tiny_vocab, pairs) -> dict[str, torch.Tensor]:
    """A collated batch of 6 sample pairs; each example's related target is the next example's target."""
    corpus = pairs.subset(6)
    sources = tiny_vocab.encode_sources(corpus.sources, MAX_LEN)
    targets = tiny_vocab.encode_targets(corpus.targets, MAX_LEN)
    related = RelatedIds(
        starts=torch.tensor([0, 1, 2, 3, 4, 5, 6]).numpy(), sequences=targets[1:] + targets[:1]
    )
    return Seq2SeqCollator(tiny_vocab.pad_id, related=related)(
        [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(6)]
    )


def test_loss_2_under_bf16_autocast_is_float32_and_close_to_fp32(tiny_model, tiny_vocab, pairs):
    batch = six_pairs_with_a_related_target(tiny_vocab, pairs)
    tiny_model.eval()
    exact = seq2seq_loss(tiny_model, batch, alpha=0.5, label_smoothing=0.1)
    projected: list[torch.dtype] = []
    hook = tiny_model.get_output_embeddings().register_forward_hook(
        lambda module, args, out: projected.append(out.dtype)
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = seq2seq_loss(tiny_model, batch, alpha=0.5, label_smoothing=0.1)
    hook.remove()
    # autocast is on: the output projection of both decoder passes (gold, related) ran in bfloat16
    assert projected == [torch.bfloat16, torch.bfloat16]
    assert half.loss.dtype == torch.float32  # the loss itself is summed in float32
    torch.testing.assert_close(half.loss, exact.loss, rtol=2e-2, atol=0.0)
    half.loss.backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in tiny_model.parameters())


def test_the_fused_projection_under_bf16_autocast_is_close_to_fp32(tiny_model, tiny_vocab, pairs):
    # the decoder states in bfloat16, the products in bfloat16, the loss terms and gradients in float32
    batch = six_pairs_with_a_related_target(tiny_vocab, pairs)
    tiny_model.eval()
    exact = seq2seq_loss(tiny_model, batch, alpha=0.5, label_smoothing=0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = seq2seq_loss(tiny_model, batch, alpha=0.5, label_smoothing=0.1, output_chunk_size=16)
    assert half.loss.dtype == torch.float32
    torch.testing.assert_close(half.loss, exact.loss, rtol=2e-2, atol=0.0)
    half.loss.backward()
    head = tiny_model.get_output_embeddings().weight
    assert head.grad is not None and head.grad.dtype == torch.float32
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in tiny_model.parameters())


def train(splits, monkeypatch, precision: str):
    from textsmooth.seq2seq import objective

    seen: list[tuple[bool, torch.dtype]] = []
    original = objective.seq2seq_loss

    def watched(*args, **kwargs):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return original(*args, **kwargs)

    monkeypatch.setattr(objective, "seq2seq_loss", watched)
    config = Seq2SeqConfig(
        d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, dropout=0.0, vocab_size=300,
        min_frequency=1, batch_size=16, warmup_steps=10, lr=3e-3, max_length=96, beam_size=1,
        eval_batch_size=16, method="within-batch", related_k=3, epochs=1, num_threads=1, precision=precision,
    )  # fmt: skip
    result = train_seq2seq(*splits[:2], config, progress=False)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    return result, seen


def test_training_in_bf16_runs_under_autocast_and_stays_close_to_fp32(splits, monkeypatch):
    exact, seen_fp32 = train(splits, monkeypatch, "fp32")
    half, seen_bf16 = train(splits, monkeypatch, "bf16")
    assert len(seen_bf16) == len(seen_fp32) == 6  # 96 pairs in batches of 16
    assert all(enabled and dtype == torch.bfloat16 for enabled, dtype in seen_bf16)
    assert not any(enabled for enabled, _ in seen_fp32)
    assert all(p.dtype == torch.float32 for p in half.model.parameters())  # float32 weights, saved so
    a, b = exact.history[0]["train_loss"], half.history[0]["train_loss"]
    assert math.isfinite(b) and b == pytest.approx(a, rel=0.02)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="precision") as error:
        Seq2SeqConfig(precision="fp16")
    assert error.value.column == "precision" and "bf16" in error.value.hint
    result = CliRunner().invoke(
        app, ["seq2seq", "train", "-o", "out", "--pair", "de-en", "--precision", "fp8"]
    )
    assert result.exit_code == 2 and "--precision" in result.output and "fp8" in result.output
