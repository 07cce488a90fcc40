"""Loss (2) on a real (tiny, random) Marian model: against a plain per-sequence loop, padding, encoder
calls, and token label smoothing against PyTorch's own cross-entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("transformers")

from textsmooth.seq2seq.collate import LABEL_PAD, Seq2SeqCollator, pad_sequences
from textsmooth.seq2seq.objective import seq2seq_loss
from textsmooth.seq2seq.related import RelatedIds

MAX_LEN = 20


@pytest.fixture(scope="module")
def encoded(pairs, tiny_vocab):
    corpus = pairs.subset(8)
    return (
        tiny_vocab.encode_sources(corpus.sources, MAX_LEN),
        tiny_vocab.encode_targets(corpus.targets, MAX_LEN),
    )


def related_ids(targets: list[list[int]]) -> RelatedIds:
    """Example i has i % 3 related targets: the next targets of the list (0, 1 or 2 of them)."""
    starts, seqs = [0], []
    for i in range(len(targets)):
        for j in range(i % 3):
            seqs.append(targets[(i + j + 1) % len(targets)])
        starts.append(len(seqs))
    return RelatedIds(starts=torch.tensor(starts).numpy(), sequences=seqs)


def features(encoded, rows):
    sources, targets = encoded
    return [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in rows]


def sequence_nll_alone(model, source: list[int], target: list[int], eps: float = 0.0) -> torch.Tensor:
    """-log p(target | source) summed over tokens, the model run on this one pair (no batching, no reuse)."""
    input_ids = torch.tensor([source])
    labels = torch.tensor([target])
    logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=labels).logits
    return F.cross_entropy(logits[0], labels[0], reduction="sum", label_smoothing=eps)


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("chunk", [None, 7])
def test_loss_is_equation_2_computed_sequence_by_sequence(tiny_model, tiny_vocab, encoded, eps, chunk):
    # chunk: the model's logits (None), or the output projection fused with the loss, 7 positions a chunk
    tiny_model.eval()  # no dropout: the batched and the per-sequence passes see the same network
    with torch.no_grad():  # a bias the fused path must add (Marian's starts at zero)
        tiny_model.final_logits_bias.normal_(generator=torch.Generator().manual_seed(3))
    sources, targets = encoded
    related = related_ids(targets)
    rows = list(range(6))
    batch = Seq2SeqCollator(tiny_vocab.pad_id, related=related)(features(encoded, rows))
    alpha = 0.3
    got = seq2seq_loss(tiny_model, batch, alpha=alpha, label_smoothing=eps, output_chunk_size=chunk)
    expected = []
    for i in rows:
        loss = sequence_nll_alone(tiny_model, sources[i], targets[i], eps)
        rel = related.of(i)
        if rel:
            loss = loss + alpha / len(rel) * sum(
                sequence_nll_alone(tiny_model, sources[i], r, eps) for r in rel
            )
        expected.append(loss)
    torch.testing.assert_close(got.loss, torch.stack(expected).mean(), rtol=1e-5, atol=1e-5)
    gold = torch.stack([sequence_nll_alone(tiny_model, sources[i], targets[i]) for i in rows]).mean()
    torch.testing.assert_close(got.nll, gold.detach(), rtol=1e-5, atol=1e-5)
    # num_items: the sum over examples divided by the window's count
    windowed = seq2seq_loss(
        tiny_model, batch, alpha=alpha, label_smoothing=eps, num_items=10, output_chunk_size=chunk
    )
    torch.testing.assert_close(windowed.loss, torch.stack(expected).sum() / 10, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("num_items", [None, 10, "tensor"])
def test_the_fused_output_projection_gives_the_same_gradients(tiny_model, tiny_vocab, encoded, num_items):
    with torch.no_grad():
        tiny_model.final_logits_bias.normal_(generator=torch.Generator().manual_seed(4))
    batch = Seq2SeqCollator(tiny_vocab.pad_id, related=related_ids(encoded[1]))(features(encoded, range(7)))
    if num_items == "tensor":
        num_items = batch["labels"].ne(LABEL_PAD).sum()

    def value_and_grads(chunk):
        torch.manual_seed(0)  # the same dropout masks for both (the tiny model has dropout 0 anyway)
        tiny_model.zero_grad()
        out = seq2seq_loss(
            tiny_model, batch, alpha=0.4, label_smoothing=0.1, num_items=num_items, output_chunk_size=chunk
        )
        out.loss.backward()
        return out, {n: p.grad.clone() for n, p in tiny_model.named_parameters() if p.grad is not None}

    plain, plain_grads = value_and_grads(None)
    fused, fused_grads = value_and_grads(5)
    torch.testing.assert_close(fused.loss, plain.loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused.nll, plain.nll, rtol=1e-5, atol=1e-5)
    assert fused_grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_fused_output_projection_refuses_what_it_cannot_compute(tiny_vocab, encoded):
    from textsmooth.errors import ConfigError
    from textsmooth.seq2seq.lstm import build_lstm_model
    from textsmooth.seq2seq.objective import TokenSimilarity

    batch = Seq2SeqCollator(tiny_vocab.pad_id)(features(encoded, range(3)))
    lstm = build_lstm_model(tiny_vocab, hidden_size=16, embedding_size=16)
    with pytest.raises(ConfigError, match=r"lm_head and final_logits_bias.*LSTMSeq2SeqModel"):
        seq2seq_loss(lstm, batch, output_chunk_size=8)
    table = TokenSimilarity("weighted-ce", torch.zeros((1, 1), dtype=torch.long), torch.ones((1, 1)))
    with pytest.raises(ConfigError, match="not the word-similarity losses"):
        seq2seq_loss(lstm, batch, output_chunk_size=8, similarity=table)


def test_padding_of_related_targets_changes_nothing(tiny_model, tiny_vocab, encoded):
    tiny_model.eval()
    related = related_ids(encoded[1])
    batch = Seq2SeqCollator(tiny_vocab.pad_id, related=related)(features(encoded, [0, 1, 2, 4]))
    # two more empty related slots and three more padded positions, with garbage token ids in them
    B, K, T = batch["related_labels"].shape
    wide = torch.full((B, K + 2, T + 3), 7, dtype=torch.long)
    wide[:, :K, :T] = batch["related_labels"]
    wide[:, :K, T:] = LABEL_PAD
    mask = torch.zeros((B, K + 2), dtype=torch.bool)
    mask[:, :K] = batch["related_mask"]
    padded = {**batch, "related_labels": wide, "related_mask": mask}

    def value_and_grad(b):
        tiny_model.zero_grad()
        loss = seq2seq_loss(tiny_model, b, alpha=0.5).loss
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in tiny_model.parameters() if p.grad is not None]

    v1, g1 = value_and_grad(batch)
    v2, g2 = value_and_grad(padded)
    torch.testing.assert_close(v1, v2)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)


def test_the_encoder_runs_once_per_source(tiny_model, tiny_vocab, encoded):
    calls = []
    handle = tiny_model.get_encoder().register_forward_hook(lambda mod, args, out: calls.append(1))
    try:
        batch = Seq2SeqCollator(tiny_vocab.pad_id, related=related_ids(encoded[1]))(
            features(encoded, range(6))
        )
        assert int(batch["related_mask"].sum()) > 0
        seq2seq_loss(tiny_model, batch, alpha=0.5).loss.backward()
    finally:
        handle.remove()
    assert len(calls) == 1  # one call for the whole batch: gold and related targets reuse its states


def test_token_ls_equals_pytorch_cross_entropy(tiny_model, tiny_vocab, encoded):
    tiny_model.eval()
    batch = Seq2SeqCollator(tiny_vocab.pad_id)(features(encoded, range(5)))
    ours = seq2seq_loss(tiny_model, batch, label_smoothing=0.1, num_items=1).loss
    logits = tiny_model(**batch).logits
    theirs = F.cross_entropy(
        logits.flatten(0, 1),
        batch["labels"].flatten(),
        label_smoothing=0.1,
        ignore_index=LABEL_PAD,
        reduction="sum",
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)
    # and without smoothing the model's own token mean times the number of tokens
    plain = seq2seq_loss(tiny_model, batch, num_items=int(batch["labels"].ne(LABEL_PAD).sum())).loss
    torch.testing.assert_close(plain, tiny_model(**batch).loss, rtol=1e-5, atol=1e-5)


def test_collator_samples_m_of_k_reproducibly(tiny_vocab, encoded):
    targets = encoded[1]
    related = RelatedIds(starts=torch.tensor([0, 5, 5]).numpy(), sequences=targets[:5])
    feats = [
        {"index": 0, "input_ids": [5, 1], "labels": targets[0]},
        {"index": 1, "input_ids": [5, 1], "labels": [1]},
    ]
    collator = Seq2SeqCollator(tiny_vocab.pad_id, related=related, related_per_step=2, seed=3)
    first = collator(feats)
    assert first["related_mask"].sum(dim=1).tolist() == [2, 0]
    torch.testing.assert_close(
        collator(feats)["related_labels"], first["related_labels"]
    )  # same epoch, same draw
    seen = set()
    for epoch in range(40):
        collator.set_epoch(epoch)
        rows = collator(feats)["related_labels"][0]
        chosen = tuple(
            next(j for j in range(5) if rows[k][: len(targets[j])].tolist() == targets[j]) for k in range(2)
        )
        seen.add(chosen)
    assert len(seen) > 3  # the pair drawn changes with the epoch: every related target gets its turn
    # within-batch: the other targets of the batch
    within = Seq2SeqCollator(tiny_vocab.pad_id, within_batch=True)
    batch = within(feats)
    assert batch["related_mask"].tolist() == [[True], [True]]
    assert batch["related_labels"][0, 0, :1].tolist() == [1]
    assert pad_sequences([[1, 2], [3]], 0).tolist() == [[1, 2], [3, 0]]
