"""Sentence vectors for probing: the LSTM bottleneck ``z``, or a Transformer encoder's masked mean."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from textsmooth.seq2seq.collate import pad_sequences  # noqa: E402
from textsmooth.seq2seq.encode import encode_sentences  # noqa: E402


def test_marian_vectors_are_the_mean_of_the_encoder_states_over_real_tokens(tiny_model, tiny_vocab, pairs):
    texts = pairs.sources[:5]
    vectors = encode_sentences(tiny_model, tiny_vocab, texts, max_length=32, batch_size=2)
    assert vectors.shape == (5, 32) and vectors.dtype.name == "float32"
    tiny_model.eval()
    for row, text in zip(vectors, texts, strict=True):
        ids = torch.tensor(tiny_vocab.encode_sources([text], 32))
        with torch.no_grad():
            states = tiny_model.get_encoder()(
                input_ids=ids, attention_mask=torch.ones_like(ids)
            ).last_hidden_state
        torch.testing.assert_close(torch.from_numpy(row), states[0].mean(0), rtol=1e-5, atol=1e-5)


def test_lstm_vectors_are_z_and_do_not_depend_on_the_batch(pairs):
    from textsmooth.seq2seq import train_subword_vocab
    from textsmooth.seq2seq.lstm import build_lstm_model

    vocab = train_subword_vocab(pairs.targets, pairs.targets, kind="word", vocab_size=300, min_frequency=1)
    model = build_lstm_model(vocab, hidden_size=16, embedding_size=8, dropout=0.5).train()
    texts = pairs.targets[:7]
    one = encode_sentences(model, vocab, texts, max_length=24, batch_size=1)
    many = encode_sentences(model, vocab, texts, max_length=24, batch_size=7)
    assert one.shape == (7, 16)
    torch.testing.assert_close(torch.from_numpy(one), torch.from_numpy(many), rtol=1e-5, atol=1e-6)
    assert model.training  # the caller's mode is restored; vectors were taken without dropout
    ids = vocab.encode_sources(texts, 24)
    mask = pad_sequences([[1] * len(x) for x in ids], 0)
    z = model.eval().encode_sentences(pad_sequences(ids, vocab.pad_id), mask)
    torch.testing.assert_close(torch.from_numpy(many), z, rtol=1e-5, atol=1e-6)
