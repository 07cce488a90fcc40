"""Word-similarity token targets in the seq2seq objective and trainer (issue 12 on the issue 11 trainer)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("gensim")

from textsmooth.errors import ConfigError, StaleArtifactError
from textsmooth.losses import similarity_soft_label_loss, weighted_cross_entropy, weighted_similarity_loss
from textsmooth.seq2seq import ParallelCorpus, Seq2SeqConfig, train_seq2seq
from textsmooth.seq2seq.collate import Seq2SeqCollator
from textsmooth.seq2seq.objective import TokenSimilarity, seq2seq_loss
from textsmooth.seq2seq.similarity import build_token_similarity_table, target_tokens
from textsmooth.similarity import load_stopwords

LOSSES = {
    "similarity-soft": similarity_soft_label_loss,
    "weighted-similarity": weighted_similarity_loss,
    "weighted-ce": weighted_cross_entropy,
}


@pytest.fixture(scope="module")
def token_table(pairs, tiny_vocab):
    return build_token_similarity_table(
        tiny_vocab, pairs.targets, top_n=3, stopwords=load_stopwords("en"), epochs=2
    )


def test_the_table_covers_the_target_vocabulary(token_table, tiny_vocab):
    tokens = target_tokens(tiny_vocab)
    assert token_table.vocab == tokens and token_table.top_n == 3
    for special in ("<pad>", "</s>", "<unk>"):
        assert token_table.neighbors_of(special) == [(special, 1.0)]
    stop = load_stopwords("en")
    for token in tokens:
        if token.lstrip("▁").lower() in stop and token.lstrip("▁"):
            assert token_table.neighbors_of(token) == [(token, 1.0)], token
    assert token_table.info["one_hot_rows"] < len(tokens) // 2


@pytest.mark.parametrize("method", list(LOSSES))
def test_token_losses_are_the_posters_summed_over_tokens(method, tiny_model, tiny_vocab, pairs, token_table):
    tiny_model.eval()
    corpus = pairs.subset(6)
    feats = [
        {"input_ids": s, "labels": t}
        for s, t in zip(
            tiny_vocab.encode_sources(corpus.sources, 32),
            tiny_vocab.encode_targets(corpus.targets, 32),
            strict=True,
        )
    ]
    batch = Seq2SeqCollator(tiny_vocab.pad_id)(feats)
    neighbors, weights = token_table.as_tensors()
    got = seq2seq_loss(tiny_model, batch, similarity=TokenSimilarity(method, neighbors, weights))
    logits = tiny_model(**batch).logits
    expected = LOSSES[method](logits, batch["labels"], neighbors, weights, reduction="sum").loss / len(feats)
    torch.testing.assert_close(got.loss, expected, rtol=1e-5, atol=1e-5)
    plain = seq2seq_loss(tiny_model, batch)
    torch.testing.assert_close(got.nll, plain.nll)  # the reported NLL stays the plain one


def test_the_trainer_builds_saves_and_checks_the_table(tmp_path, pairs, tiny_vocab, token_table):
    train = pairs.subset(64)
    val = ParallelCorpus(pairs.sources[64:72], pairs.targets[64:72])
    config = Seq2SeqConfig(
        method="similarity-soft", similarity_top_n=3, d_model=32, encoder_layers=1, decoder_layers=1, heads=2,
        ffn_dim=64, vocab_size=300, min_frequency=1, epochs=1, batch_size=16, warmup_steps=5, max_length=96,
    )  # fmt: skip
    result = train_seq2seq(train, val, config, out_dir=tmp_path, progress=False)
    assert (tmp_path / "similarity.npz").is_file() and result.history
    with pytest.raises(StaleArtifactError, match="not the model's target vocabulary"):
        train_seq2seq(train, val, config, table=token_table, progress=False)  # built for another vocabulary
    fresh = tmp_path / "refused"
    with pytest.raises(StaleArtifactError, match="not the model's target vocabulary"):
        train_seq2seq(train, val, config, table=token_table, out_dir=fresh, progress=False)
    assert not fresh.exists()  # refused before the run folder (and its vocab/) is made
    with pytest.raises(ConfigError, match="does not combine with label_smoothing"):
        Seq2SeqConfig(method="weighted-ce", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="word-similarity table"):
        train_seq2seq(train, val, Seq2SeqConfig(method="none"), table=token_table, progress=False)
