"""The seq2seq CUDA path on a real GPU (skipped where torch sees none, as on CI): loss (2) and its
gradients on CUDA equal the CPU's, and a training run with ``device="cuda"`` (token-swap related targets,
resumed after one epoch) saves a model that translates on the CPU as it did on the GPU.

``scripts/device_check.sh`` runs this file on a lent GPU machine."""

from __future__ import annotations

import copy

import pytest
import torch

pytest.importorskip("transformers")

if not torch.cuda.is_available():  # pragma: no cover - CI has no GPU
    pytest.skip("no CUDA device", allow_module_level=True)

from textsmooth.seq2seq import Seq2SeqConfig, load_translator, train_seq2seq
from textsmooth.seq2seq.collate import Seq2SeqCollator
from textsmooth.seq2seq.objective import seq2seq_loss
from textsmooth.seq2seq.related import RelatedIds
from textsmooth.sequence import TokenSwapTargets

MAX_LEN = 20


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("chunk", [None, 16])
def test_loss_2_and_its_gradients_on_cuda_equal_the_cpu(tiny_model, tiny_vocab, pairs, eps, chunk):
    # chunk 16: on the GPU through the fused output projection, against the CPU's model logits
    corpus = pairs.subset(8)
    sources = tiny_vocab.encode_sources(corpus.sources, MAX_LEN)
    targets = tiny_vocab.encode_targets(corpus.targets, MAX_LEN)
    # example i has i % 3 related targets (the next ones of the list): padding of K is exercised too
    starts, sequences = [0], []
    for i in range(len(targets)):
        sequences += [targets[(i + j + 1) % len(targets)] for j in range(i % 3)]
        starts.append(len(sequences))
    related = RelatedIds(starts=torch.tensor(starts).numpy(), sequences=sequences)
    batch = Seq2SeqCollator(tiny_vocab.pad_id, related=related)(
        [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(6)]
    )
    tiny_model.eval()
    gpu_model = copy.deepcopy(tiny_model).to("cuda")
    on_cpu = seq2seq_loss(tiny_model, batch, alpha=0.3, label_smoothing=eps)
    on_gpu = seq2seq_loss(
        gpu_model,
        {k: v.to("cuda") for k, v in batch.items()},
        alpha=0.3,
        label_smoothing=eps,
        output_chunk_size=chunk,
    )
    assert on_gpu.loss.device.type == "cuda"
    torch.testing.assert_close(on_gpu.loss.cpu(), on_cpu.loss, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(on_gpu.nll.cpu(), on_cpu.nll, rtol=1e-4, atol=1e-4)
    on_cpu.loss.backward()
    on_gpu.loss.backward()
    for (name, p_cpu), p_gpu in zip(tiny_model.named_parameters(), gpu_model.parameters(), strict=True):
        if p_cpu.grad is None:  # fixed sinusoidal positions
            assert p_gpu.grad is None, name
            continue
        torch.testing.assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-3, atol=1e-5, msg=name)


def test_training_on_cuda_resumes_and_saves_a_model_that_translates_on_the_cpu(tmp_path, splits, monkeypatch):
    from textsmooth.seq2seq import objective

    train, val, test = splits
    config = Seq2SeqConfig(
        d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, dropout=0.1, vocab_size=300,
        min_frequency=1, batch_size=16, warmup_steps=10, lr=3e-3, max_length=96, beam_size=2,
        eval_batch_size=16, method="token-swap", related_k=3, related_per_step=2, epochs=2, device="cuda",
    )  # fmt: skip
    table = TokenSwapTargets(4, seed=0).fit(train.targets).table_
    full = train_seq2seq(
        train, val, config, out_dir=tmp_path / "full", table=table, test=test, progress=False
    )
    assert next(full.model.parameters()).device.type == "cuda"

    original, calls = objective.seq2seq_loss, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # 6 steps an epoch: after the checkpoint of epoch 1
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(objective, "seq2seq_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_seq2seq(train, val, config, out_dir=tmp_path / "cut", table=table, test=test, progress=False)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    resumed = train_seq2seq(
        train, val, config, out_dir=tmp_path / "cut", table=table, test=test, progress=False
    )
    assert resumed.resumed and resumed.steps == full.steps == 12
    # CUDA kernels with atomics (embedding gradients) may sum in another order: equal up to rounding
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
    on_cpu = load_translator(tmp_path / "cut" / "model")
    assert next(on_cpu.model.parameters()).device.type == "cpu"
    assert on_cpu.translate(test.sources, beam_size=2) == resumed.test_hypotheses
