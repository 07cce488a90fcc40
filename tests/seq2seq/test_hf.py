"""Hugging Face Seq2SeqTrainer integration: dataset, collator, loss (2) in compute_loss, accumulation,
and evaluation / prediction left as Seq2SeqTrainer does them. Tiny random Marian models, offline."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from textsmooth.errors import ConfigError
from textsmooth.sequence.table import NeighborTable

pytest.importorskip("transformers")
pytest.importorskip("datasets")

from textsmooth.seq2seq.hf import (
    SemanticSeq2SeqTrainer,
    seq2seq_collator,
    seq2seq_dataset,
)
from textsmooth.seq2seq.objective import seq2seq_loss

ALPHA = 0.5
EPS = 0.1
MAX_LEN = 24
LR = 0.5


def related_table(n: int, seed: int = 0) -> NeighborTable:
    """A table with 0, 1, 2 or 3 related targets per target (other rows, drawn at random): a variable
    number, so padding of the related targets is exercised, and one target without any."""
    rng = np.random.default_rng(seed)
    target_id, rank, neighbor_id = [], [], []
    for i in range(n):
        others = np.delete(np.arange(n), i)
        for r, j in enumerate(rng.choice(others, size=i % 4, replace=False)):
            target_id.append(i)
            rank.append(r + 1)
            neighbor_id.append(int(j))
    m = len(target_id)
    return NeighborTable(
        target_id=np.array(target_id),
        rank=np.array(rank),
        neighbor_id=np.array(neighbor_id),
        cosine=np.zeros(m),
        bleu=np.zeros(m),
        n_targets=n,
    )


@pytest.fixture(scope="module")
def corpus(pairs):
    return pairs.subset(12)


@pytest.fixture(scope="module")
def dataset(corpus, tiny_vocab):
    return seq2seq_dataset(corpus, tiny_vocab, max_length=MAX_LEN)


@pytest.fixture(scope="module")
def collator(corpus, tiny_vocab):
    return seq2seq_collator(tiny_vocab, corpus=corpus, table=related_table(len(corpus)), max_length=MAX_LEN)


def training_args(path, **overrides):
    from transformers import Seq2SeqTrainingArguments

    values = dict(
        output_dir=str(path),
        per_device_train_batch_size=4,
        max_steps=1,
        learning_rate=LR,
        optim="sgd",
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    values.update(overrides)
    return Seq2SeqTrainingArguments(**values)


def batch_of(dataset, collator, rows):
    return collator([dict(dataset[i]) for i in rows])


def test_dataset_columns_and_truncation_warning(corpus, tiny_vocab, dataset):
    assert dataset.column_names == ["index", "input_ids", "labels"]
    assert dataset["index"] == list(range(len(corpus)))
    assert dataset["input_ids"] == tiny_vocab.encode_sources(corpus.sources, MAX_LEN)
    assert dataset["labels"] == tiny_vocab.encode_targets(corpus.targets, MAX_LEN)
    assert all(ids[-1] == tiny_vocab.eos_id for ids in dataset["labels"])
    n_source = tiny_vocab.count_truncated(corpus.sources, 6, "source")
    n_target = tiny_vocab.count_truncated(corpus.targets, 6, "target")
    assert n_source > 0 and n_target > 0
    with pytest.warns(
        UserWarning, match=f"truncated {n_source} source and {n_target} target sentences of 12"
    ):
        short = seq2seq_dataset(corpus, tiny_vocab, max_length=6)
    assert max(len(ids) for ids in short["labels"]) == 6
    with pytest.raises(ConfigError, match="max_length"):
        seq2seq_dataset(corpus, tiny_vocab, max_length=1)


def test_collator_attaches_the_table_rows(corpus, tiny_vocab, dataset, collator):
    table = related_table(len(corpus))
    batch = batch_of(dataset, collator, [3, 7, 0])
    # row 3 has 3 related targets, row 7 has 3, row 0 none; each related sequence is a target of the corpus
    assert batch["related_mask"].sum(dim=1).tolist() == [3, 3, 0]
    starts = np.searchsorted(table.target_id, [3, 7])
    for b, (_i, start) in enumerate(zip([3, 7], starts, strict=True)):
        for k in range(3):
            ids = batch["related_labels"][b, k]
            expected = dataset["labels"][int(table.neighbor_id[start + k])]
            assert ids[ids != -100].tolist() == expected
    with pytest.raises(ConfigError, match="corpus"):
        seq2seq_collator(tiny_vocab, table=table)
    with pytest.raises(ConfigError, match="not both"):
        seq2seq_collator(tiny_vocab, corpus=corpus, table=table, within_batch=True)


def test_compute_loss_is_seq2seq_loss_over_the_window(tmp_path, tiny_model, dataset, collator):
    trainer = SemanticSeq2SeqTrainer(
        model=tiny_model,
        args=training_args(tmp_path),
        train_dataset=dataset,
        data_collator=collator,
        alpha=ALPHA,
        label_smoothing=EPS,
    )
    tiny_model.train()
    batch = batch_of(dataset, collator, range(4))
    got = trainer.compute_loss(tiny_model, dict(batch), num_items_in_batch=12)
    expected = seq2seq_loss(tiny_model, dict(batch), alpha=ALPHA, label_smoothing=EPS, num_items=12).loss
    torch.testing.assert_close(got, expected)
    assert trainer.loss_is_scaled_for_ga is True
    # 4 examples of a 12-example window weigh a third of their mean
    mean = seq2seq_loss(tiny_model, dict(batch), alpha=ALPHA, label_smoothing=EPS).loss
    torch.testing.assert_close(got, mean * 4 / 12)
    # no count: the micro-batch mean, left for the Trainer to divide by the accumulation steps
    torch.testing.assert_close(trainer.compute_loss(tiny_model, dict(batch)), mean)
    assert trainer.loss_is_scaled_for_ga is False
    # alpha > 0: the related targets reach the loss
    plain = seq2seq_loss(tiny_model, dict(batch), alpha=0.0, label_smoothing=EPS).loss
    assert not torch.allclose(mean, plain)
    # DataParallel over 2 GPUs: each replica gets half the count; the loss sees the whole batch
    trainer.args._n_gpu = 2
    trainer.args.average_tokens_across_devices = False
    got = trainer.compute_loss(tiny_model, dict(batch), num_items_in_batch=torch.tensor([[6], [6]]))
    torch.testing.assert_close(got, expected)


def test_the_trainer_counts_examples_or_tokens(tmp_path, tiny_model, dataset, collator):
    batches = [batch_of(dataset, collator, range(4)), batch_of(dataset, collator, range(4, 6))]
    trainer = SemanticSeq2SeqTrainer(
        model=tiny_model, args=training_args(tmp_path), data_collator=collator, alpha=ALPHA
    )
    assert int(trainer._get_num_items_in_batch(batches, torch.device("cpu"))) == 6
    trainer = SemanticSeq2SeqTrainer(
        model=tiny_model,
        args=training_args(tmp_path),
        data_collator=collator,
        alpha=ALPHA,
        normalize="tokens",
    )
    tokens = sum(int(b["labels"].ne(-100).sum()) for b in batches)
    assert int(trainer._get_num_items_in_batch(batches, torch.device("cpu"))) == tokens
    tiny_model.train()
    got = trainer.compute_loss(tiny_model, dict(batches[0]), num_items_in_batch=tokens)
    # per-example loss (2) summed by a loop over single examples, divided by the window's tokens
    rows = [seq2seq_loss(tiny_model, batch_of(dataset, collator, [i]), alpha=ALPHA).loss for i in range(4)]
    torch.testing.assert_close(got, torch.stack(rows).sum() / tokens)


def train_one_step(
    tmp_path, make_tiny_model, dataset, collator, batch_size, accumulation, alpha=ALPHA, chunk=None
):
    """Weights and reported loss after one SGD step over the whole dataset, as one window (``chunk``: the
    trainer's ``output_chunk_size``)."""
    model = make_tiny_model(seed=0)
    trainer = SemanticSeq2SeqTrainer(
        model=model,
        args=training_args(
            tmp_path / f"run{batch_size}x{accumulation}a{alpha}c{chunk}",
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
        ),
        train_dataset=dataset,
        data_collator=collator,
        alpha=alpha,
        label_smoothing=EPS,
        output_chunk_size=chunk,
    )
    loss = trainer.train().training_loss
    return dict(model.named_parameters()), loss


@pytest.mark.parametrize("chunk", [None, 16])
def test_one_step_equals_the_update_by_hand(tmp_path, make_tiny_model, dataset, collator, chunk, monkeypatch):
    # chunk 16: the output projection fused with the loss (counted), the same update
    import textsmooth.losses

    fused_calls = []
    original = textsmooth.losses.fused_linear_cross_entropy
    monkeypatch.setattr(
        textsmooth.losses,
        "fused_linear_cross_entropy",
        lambda *a, **k: fused_calls.append(k["chunk_size"]) or original(*a, **k),
    )
    params, loss = train_one_step(tmp_path, make_tiny_model, dataset, collator, len(dataset), 1, chunk=chunk)
    assert fused_calls == ([] if chunk is None else [16, 16])  # the gold and the related targets' pass
    monkeypatch.setattr(textsmooth.losses, "fused_linear_cross_entropy", original)
    model = make_tiny_model(seed=0)
    model.train()
    batch = batch_of(dataset, collator, range(len(dataset)))
    expected = seq2seq_loss(model, batch, alpha=ALPHA, label_smoothing=EPS).loss
    names, tensors = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad], strict=True)
    grads = torch.autograd.grad(expected, tensors, allow_unused=True)
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    moved = 0
    for name, p, g in zip(names, tensors, grads, strict=True):
        want = p.detach() if g is None else p.detach() - LR * g
        torch.testing.assert_close(params[name].detach(), want, rtol=1e-5, atol=1e-6)
        moved += int(g is not None and bool(g.abs().sum() > 0))
    assert moved > 0


@pytest.mark.parametrize("n, batch_size, accumulation", [(12, 4, 3), (10, 4, 3)])
def test_gradient_accumulation_equals_one_large_batch(
    tmp_path, make_tiny_model, dataset, collator, n, batch_size, accumulation
):
    # (10, 4, 3): micro-batches of 4, 4 and 2 examples; a mean of means would weigh the last two double
    data = dataset.select(range(n))
    accumulated, loss_a = train_one_step(tmp_path, make_tiny_model, data, collator, batch_size, accumulation)
    large, loss_b = train_one_step(tmp_path, make_tiny_model, data, collator, n, 1)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    for name, p in large.items():
        torch.testing.assert_close(accumulated[name], p, rtol=1e-5, atol=1e-6)


def test_related_targets_reach_the_training_step(tmp_path, make_tiny_model, dataset, collator):
    trainer = SemanticSeq2SeqTrainer(
        model=make_tiny_model(seed=0),
        args=training_args(tmp_path),
        train_dataset=dataset,
        data_collator=collator,
        alpha=ALPHA,
    )
    batch = next(iter(trainer.get_train_dataloader()))  # `index` survives remove_unused_columns
    assert {"related_labels", "related_mask"} <= set(batch) and "index" not in batch
    smoothed, loss_s = train_one_step(tmp_path, make_tiny_model, dataset, collator, 12, 1, alpha=ALPHA)
    plain, loss_p = train_one_step(tmp_path, make_tiny_model, dataset, collator, 12, 1, alpha=0.0)
    assert loss_s > loss_p
    assert any(not torch.allclose(smoothed[k], plain[k]) for k in plain)


def test_evaluation_and_prediction_are_seq2seq_trainers(
    tmp_path, make_tiny_model, dataset, collator, tiny_vocab
):
    from transformers import Seq2SeqTrainer

    from textsmooth.seq2seq.collate import Seq2SeqCollator

    plain_collator = Seq2SeqCollator(tiny_vocab.pad_id)
    args = training_args(
        tmp_path,
        per_device_eval_batch_size=5,
        predict_with_generate=True,
        generation_max_length=12,
        generation_num_beams=2,
    )
    ours = SemanticSeq2SeqTrainer(
        model=make_tiny_model(seed=0), args=args, data_collator=collator, alpha=ALPHA, label_smoothing=EPS
    )
    reference = Seq2SeqTrainer(model=make_tiny_model(seed=0), args=args, data_collator=plain_collator)
    got, want = ours.predict(dataset), reference.predict(dataset)
    np.testing.assert_array_equal(got.predictions, want.predictions)
    assert got.metrics["test_loss"] == pytest.approx(want.metrics["test_loss"], rel=1e-6)
    # the eval loss is the model's token cross-entropy, not loss (2): same with alpha 0
    args.predict_with_generate = False
    got, want = ours.evaluate(dataset), reference.evaluate(dataset)
    assert got["eval_loss"] == pytest.approx(want["eval_loss"], rel=1e-6)
    model = make_tiny_model(seed=0).eval()
    batch = plain_collator([dict(dataset[i]) for i in range(5)])
    with torch.no_grad():
        first = model(**batch).loss.item()
    assert ours.predict(dataset.select(range(5))).metrics["test_loss"] == pytest.approx(first, rel=1e-5)


def test_bad_options(tmp_path, tiny_model, collator):
    for kwargs, match in [
        ({"alpha": -0.1}, "alpha"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"normalize": "sentences"}, "normalize"),
        ({"output_chunk_size": 0}, "output_chunk_size"),
    ]:
        with pytest.raises(ConfigError, match=match):
            SemanticSeq2SeqTrainer(
                model=tiny_model, args=training_args(tmp_path), data_collator=collator, **kwargs
            )
    with pytest.raises(ConfigError, match="label_smoothing_factor"):
        SemanticSeq2SeqTrainer(
            model=tiny_model, args=training_args(tmp_path, label_smoothing_factor=0.1), data_collator=collator
        )
    with pytest.raises(ConfigError, match="compute_loss_func"):
        SemanticSeq2SeqTrainer(
            model=tiny_model,
            args=training_args(tmp_path),
            data_collator=collator,
            compute_loss_func=lambda outputs, labels, num_items_in_batch=None: outputs.loss,
        )


def test_import_does_not_import_transformers():
    code = "import sys, textsmooth.seq2seq.hf; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_forward_replaced_stands_in_once_and_puts_back_an_instance_forward(tiny_model):
    from textsmooth.seq2seq.hf import _forward_replaced

    seen = []

    def stand_in(**kwargs):
        seen.append(sorted(kwargs))
        # a call the stand-in makes reaches the model's own forward (no recursion into the stand-in)
        return tiny_model(input_ids=kwargs["input_ids"], labels=kwargs["input_ids"]).loss

    ids = torch.tensor([[5, 6, 2]])
    with _forward_replaced(tiny_model, stand_in):
        loss = tiny_model(input_ids=ids, related_mask=None)
    assert seen == [["input_ids", "related_mask"]] and loss.dim() == 0
    assert "forward" not in tiny_model.__dict__  # the class's method again
    wrapper = tiny_model.forward  # accelerate's mixed precision sets an instance forward like this one
    tiny_model.forward = wrapper
    with _forward_replaced(tiny_model, stand_in):
        pass  # never called: the instance forward must still come back
    assert tiny_model.__dict__["forward"] is wrapper
