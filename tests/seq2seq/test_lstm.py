"""The LSTM encoder-decoder (the reconstruction-loss poster's autoencoder) as a Hugging Face model.

Checked against plain references: ``generate`` with the LSTM-state cache gives what a greedy loop over
full teacher-forced passes gives; beam search reads one token a step; padding does not change the
sentence vector; the loss of :func:`seq2seq_loss` equals the model's own cross-entropy summed per
sentence; save / load round trip; the trainer trains it with a word vocabulary and resumes exactly.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from textsmooth.errors import ConfigError  # noqa: E402
from textsmooth.seq2seq import Seq2SeqConfig, train_subword_vocab  # noqa: E402
from textsmooth.seq2seq.collate import pad_sequences  # noqa: E402
from textsmooth.seq2seq.lstm import build_lstm_model, sentence_vectors  # noqa: E402


@pytest.fixture(scope="module")
def word_vocab(pairs):
    return train_subword_vocab(pairs.targets, pairs.targets, kind="word", vocab_size=400, min_frequency=1)


@pytest.fixture()
def lstm(word_vocab):
    return build_lstm_model(word_vocab, hidden_size=24, embedding_size=16, dropout=0.0, seed=3).eval()


def _batch(vocab, texts, max_length=20):
    ids = vocab.encode_sources(texts, max_length)
    return pad_sequences(ids, vocab.pad_id), pad_sequences([[1] * len(x) for x in ids], 0)


def test_word_vocab_lowercases_splits_punctuation_and_keeps_special_ids(word_vocab):
    ids = word_vocab.encode_targets(["A DOG, running."], 16)[0]
    tokens = [word_vocab.target.id_to_token(i) for i in ids]
    assert tokens == ["a", "dog", ",", "running", ".", "</s>"]
    assert word_vocab.decode_targets([ids]) == ["a dog , running ."]
    assert [word_vocab.target.token_to_id(t) for t in ("<pad>", "</s>", "<unk>")] == [0, 1, 2]


def test_word_vocab_size_caps_the_words(pairs):
    vocab = train_subword_vocab(pairs.targets, pairs.targets, kind="word", vocab_size=50, min_frequency=1)
    assert vocab.target_vocab_size == 50
    assert vocab.encode_targets(["zzzunseen"], 8)[0] == [vocab.unk_id, vocab.eos_id]


def test_same_seed_same_weights_and_seed_does_not_move_the_callers_stream(word_vocab):
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a = build_lstm_model(word_vocab, hidden_size=8, embedding_size=8, seed=1)
    after = torch.rand(1)
    b = build_lstm_model(word_vocab, hidden_size=8, embedding_size=8, seed=1)
    assert torch.equal(before, after)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_padding_changes_neither_the_sentence_vector_nor_the_logits(lstm, word_vocab, pairs):
    texts = pairs.targets[:4]
    input_ids, mask = _batch(word_vocab, texts)
    wider_ids = torch.cat([input_ids, torch.zeros_like(input_ids[:, :5])], dim=1)
    wider_mask = torch.cat([mask, torch.zeros_like(mask[:, :5])], dim=1)
    z = lstm.encode_sentences(input_ids, mask)
    assert torch.allclose(z, lstm.encode_sentences(wider_ids, wider_mask), atol=1e-6)
    one = lstm.encode_sentences(input_ids[:1, : int(mask[0].sum())], mask[:1, : int(mask[0].sum())])
    assert torch.allclose(z[:1], one, atol=1e-6)


def test_sentence_vector_is_the_state_at_the_last_real_token():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert sentence_vectors(hidden, mask).tolist() == [[2.0, 3.0], [10.0, 11.0]]


def test_greedy_generate_equals_a_loop_of_full_teacher_forced_passes(lstm, word_vocab, pairs):
    from textsmooth.seq2seq.decode import translate

    texts = pairs.targets[:3]

    def reference(text):
        input_ids, mask = _batch(word_vocab, [text])
        decoded = [word_vocab.pad_id]
        for _ in range(11):
            logits = lstm(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.tensor([decoded]))
            step = logits.logits[0, -1].clone()
            step[word_vocab.pad_id] = -float("inf")  # generate never emits padding (bad_words_ids)
            decoded.append(int(step.argmax()))
            if decoded[-1] == word_vocab.eos_id:
                break
        return word_vocab.decode_targets([decoded[1:]])[0]

    assert translate(lstm, word_vocab, texts, beam_size=1, max_length=12) == [reference(t) for t in texts]


def test_beam_search_reads_one_token_per_step_from_the_cache(lstm, word_vocab, pairs):
    from textsmooth.seq2seq.decode import translate

    widths = []
    hook = lstm.decoder.register_forward_hook(lambda m, args, out: widths.append(args[0].shape[1]))
    try:
        out = translate(lstm, word_vocab, pairs.targets[:2], beam_size=3, max_length=8)
    finally:
        hook.remove()
    assert len(out) == 2 and widths and set(widths) == {1}


def test_seq2seq_loss_is_the_models_cross_entropy_summed_per_sentence(lstm, word_vocab, pairs):
    from textsmooth.seq2seq.collate import Seq2SeqCollator
    from textsmooth.seq2seq.objective import seq2seq_loss

    ids = word_vocab.encode_targets(pairs.targets[:5], 20)
    batch = Seq2SeqCollator(word_vocab.pad_id)(
        [{"index": i, "input_ids": x, "labels": x} for i, x in enumerate(ids)]
    )
    loss = seq2seq_loss(lstm, batch).loss
    per_sentence = []
    for x in ids:
        t = torch.tensor([x])
        out = lstm(input_ids=t, attention_mask=torch.ones_like(t), labels=t)
        per_sentence.append(out.loss * len(x))
    assert torch.allclose(loss, torch.stack(per_sentence).mean(), atol=1e-4)


def test_save_and_load_round_trip(lstm, word_vocab, pairs, tmp_path):
    from textsmooth.seq2seq.decode import translate
    from textsmooth.seq2seq.model import load_seq2seq_model

    lstm.save_pretrained(tmp_path)
    loaded = load_seq2seq_model(tmp_path).eval()
    assert type(loaded).__name__ == "LSTMSeq2SeqModel"
    texts = pairs.targets[:3]
    assert translate(loaded, word_vocab, texts, beam_size=2, max_length=10) == translate(
        lstm, word_vocab, texts, beam_size=2, max_length=10
    )


def test_config_rejects_unequal_layers_an_unknown_architecture_and_a_checkpoint():
    with pytest.raises(ConfigError, match="decoder"):
        Seq2SeqConfig(architecture="lstm", encoder_layers=1, decoder_layers=2)
    with pytest.raises(ConfigError, match="architecture"):
        Seq2SeqConfig(architecture="gru")
    with pytest.raises(ConfigError, match="model_path"):
        Seq2SeqConfig(architecture="lstm", encoder_layers=1, decoder_layers=1, model_path="x")
    with pytest.raises(ConfigError, match="length_buckets"):
        Seq2SeqConfig(length_buckets="yes")


def test_new_fields_at_their_defaults_keep_old_fingerprints():
    old = Seq2SeqConfig()
    values = {
        k: v
        for k, v in old.to_dict().items()
        if k not in ("num_threads", "device", "checkpoint_every", "output_chunk_size")
    }
    added_later = ("architecture", "length_buckets", "precision", "source_lang", "target_lang")
    values = {k: v for k, v in values.items() if k not in added_later}
    assert old.fingerprint() == Seq2SeqConfig.hash_values(values)
    assert Seq2SeqConfig(length_buckets=True).fingerprint() != old.fingerprint()
    assert Seq2SeqConfig(precision="bf16").fingerprint() != old.fingerprint()
    checkpoint = Seq2SeqConfig(model_path="nllb")
    assert Seq2SeqConfig(model_path="nllb", target_lang="eng_Latn").fingerprint() != checkpoint.fingerprint()


def test_length_buckets_visit_every_example_once_in_batches_of_similar_length():
    from textsmooth.seq2seq.trainer import epoch_batches

    lengths = [int(x) for x in torch.randint(1, 60, (1000,), generator=torch.Generator().manual_seed(0))]
    plain = epoch_batches(lengths, 10, seed=0, epoch=0, buckets=False)
    bucketed = epoch_batches(lengths, 10, seed=0, epoch=0, buckets=True)
    assert sorted(i for b in bucketed for i in b) == list(range(1000))
    assert bucketed == epoch_batches(lengths, 10, seed=0, epoch=0, buckets=True)
    assert bucketed != epoch_batches(lengths, 10, seed=0, epoch=1, buckets=True)

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    assert padding(bucketed) < padding(plain) / 5


def test_trainer_trains_an_lstm_autoencoder_and_resumes_exactly(pairs, tmp_path, monkeypatch):
    from textsmooth.seq2seq import ParallelCorpus, objective, train_seq2seq

    texts = pairs.targets[:96]
    train, val = ParallelCorpus(texts, texts), ParallelCorpus(texts[:16], texts[:16])
    config = Seq2SeqConfig(
        architecture="lstm", d_model=24, encoder_layers=1, decoder_layers=1, dropout=0.1, vocab_kind="word",
        vocab_size=300, min_frequency=1, max_length=24, epochs=2, batch_size=16, lr=3e-3, warmup_steps=0,
        beam_size=1, length_buckets=True, checkpoint_every=4, num_threads=1,
    )  # fmt: skip
    whole = train_seq2seq(train, val, config, out_dir=tmp_path / "whole", test=val, progress=False)
    assert whole.history[1]["train_loss"] < whole.history[0]["train_loss"]
    assert type(whole.model).__name__ == "LSTMSeq2SeqModel"

    calls = {"n": 0}
    original = objective.seq2seq_loss

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:  # 6 batches an epoch: after the checkpoint of step 8, in the second epoch
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(objective, "seq2seq_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_seq2seq(train, val, config, out_dir=tmp_path / "cut", test=val, progress=False)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    resumed = train_seq2seq(train, val, config, out_dir=tmp_path / "cut", test=val, progress=False)
    assert resumed.resumed and resumed.steps == whole.steps == 12
    assert resumed.test_hypotheses == whole.test_hypotheses
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    # the saved model folder loads back as the LSTM model and translates the same
    from textsmooth.seq2seq import load_translator

    loaded = load_translator(tmp_path / "whole" / "model")
    assert loaded.translate(texts[:4], beam_size=1) == whole.translate(texts[:4], beam_size=1)


def test_checkpoints_hashed_before_similarity_top_n_existed_still_resume():
    config = Seq2SeqConfig(method="within-batch")
    values = {
        k: v
        for k, v in config.to_dict().items()
        if k not in ("num_threads", "device", "checkpoint_every", "output_chunk_size")
    }
    later = ("architecture", "length_buckets", "similarity_top_n", "precision", "source_lang", "target_lang")
    old = {k: v for k, v in values.items() if k not in later}
    assert Seq2SeqConfig.hash_values(old) in config.accepted_fingerprints()
    assert config.fingerprint() in config.accepted_fingerprints()
    # a non-default similarity_top_n did not exist then: only the current fingerprint is accepted
    assert Seq2SeqConfig(method="similarity-soft", similarity_top_n=3).accepted_fingerprints() == {
        Seq2SeqConfig(method="similarity-soft", similarity_top_n=3).fingerprint()
    }
