"""``TrainConfig(precision="bf16")``: the classifier's training forward passes run under bfloat16
autocast, the objective in float32, and training stays close to float32. Forced on the CPU, so the path is
tested on machines with and without bfloat16 units (AVX512-BF16 / AMX)."""

from __future__ import annotations

import math

import pytest
import torch

from textsmooth.errors import ConfigError
from textsmooth.training import loop as loop_module
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier


@pytest.fixture(scope="module")
def splits(trec_per_class):
    return trec_per_class(40, 20, seed=0)


def train(splits, monkeypatch, precision: str, model: str):
    seen: list[tuple[bool, torch.dtype]] = []
    original = loop_module.split_logits

    def watched(outputs):
        logits, aux = original(outputs)
        if torch.is_grad_enabled():  # training steps (evaluation runs without gradients)
            seen.append((torch.is_autocast_enabled("cpu"), logits.dtype))
        return logits, aux

    monkeypatch.setattr(loop_module, "split_logits", watched)
    config = TrainConfig(
        model=model, method="kwls", epochs=1, batch_size=32, max_length=16, embed_dim=16, hidden_dim=16,
        min_freq=1, num_threads=1, precision=precision,
    )  # fmt: skip
    result = train_classifier(*splits, config, progress=False)
    monkeypatch.setattr(loop_module, "split_logits", original)
    return result, seen


@pytest.mark.parametrize("model", ["textcnn", "bilstm"])
def test_training_in_bf16_runs_under_autocast_and_stays_close_to_fp32(splits, monkeypatch, model):
    exact, seen_fp32 = train(splits, monkeypatch, "fp32", model)
    half, seen_bf16 = train(splits, monkeypatch, "bf16", model)
    assert len(seen_bf16) == len(seen_fp32) == 8  # 240 questions in batches of 32
    assert all(enabled and dtype == torch.bfloat16 for enabled, dtype in seen_bf16)
    assert all(not enabled and dtype == torch.float32 for enabled, dtype in seen_fp32)
    assert all(p.dtype == torch.float32 for p in half.model.parameters())
    a, b = exact.history[0]["train_loss"], half.history[0]["train_loss"]
    assert math.isfinite(b) and b == pytest.approx(a, rel=0.02)


def test_precision_is_checked_and_fp32_keeps_old_fingerprints():
    with pytest.raises(ConfigError, match="precision") as error:
        TrainConfig(precision="half")
    assert error.value.column == "precision"
    config = TrainConfig()
    before = {k: v for k, v in config.to_dict().items() if k not in ("num_threads", "min_delta", "precision")}
    assert config.fingerprint() == TrainConfig.hash_values(before)  # checkpoints from before the field
    assert TrainConfig(precision="bf16").fingerprint() != config.fingerprint()
