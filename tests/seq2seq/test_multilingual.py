"""Multilingual checkpoints with ``--model PATH``: a tiny randomly initialised NLLB-style checkpoint
(``M2M100ForConditionalGeneration`` with an ``NllbTokenizer`` whose language codes are tokens).

M2M100 / NLLB have no ``prepare_decoder_input_ids_from_labels`` (training crashed with AttributeError
before) and no ``final_logits_bias``; their tokenizers tag both sides with a language code, which
``source_lang`` / ``target_lang`` select and ``generate`` must force as the first target token.
The checkpoint's tokenizer is saved the wrong way round (English source, German target), so the
German -> English runs below only work if the languages given are applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from loss2_reference import loss2_of_batch
from textsmooth.errors import ConfigError
from textsmooth.seq2seq import Seq2SeqConfig, load_translator, train_seq2seq
from textsmooth.seq2seq.collate import LABEL_PAD, Seq2SeqCollator
from textsmooth.seq2seq.objective import decoder_input_ids, seq2seq_loss
from textsmooth.seq2seq.pretrained import PretrainedVocab, set_target_language_start

CODES = ["deu_Latn", "eng_Latn"]


def nllb_tokenizer(train, *, src_lang: str = "eng_Latn", tgt_lang: str = "deu_Latn"):
    """An ``NllbTokenizer`` over a 300-token BPE learned on ``train``, the two codes as special tokens."""
    from transformers import NllbTokenizerFast

    from textsmooth.seq2seq import train_subword_vocab

    bpe = json.loads(
        train_subword_vocab(train.sources, train.targets, vocab_size=300, min_frequency=1).source.to_str()
    )["model"]
    vocab = dict(bpe["vocab"])
    for code in CODES:
        vocab[code] = len(vocab)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in bpe["merges"]]
    return NllbTokenizerFast(
        vocab=vocab, merges=merges, src_lang=src_lang, tgt_lang=tgt_lang, extra_special_tokens=CODES
    )


def tiny_m2m100(tokenizer):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    torch.manual_seed(0)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        dropout=0.0, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return M2M100ForConditionalGeneration(config)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, splits):
    folder = tmp_path_factory.mktemp("nllb")
    tokenizer = nllb_tokenizer(splits[0])
    tiny_m2m100(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def config(folder, **overrides) -> Seq2SeqConfig:
    values = dict(
        method="within-batch", related_k=3, related_per_step=2, model_path=str(folder), epochs=1,
        batch_size=16, lr=1e-3, warmup_steps=0, max_length=64, beam_size=2, eval_batch_size=16,
        source_lang="deu_Latn", target_lang="eng_Latn",
    )  # fmt: skip
    return Seq2SeqConfig(**{**values, **overrides})


def test_decoder_inputs_of_a_model_without_the_method_are_its_forward_shift(checkpoint, splits):
    from textsmooth.seq2seq.model import load_seq2seq_model

    model = load_seq2seq_model(checkpoint).eval()
    assert not hasattr(model, "prepare_decoder_input_ids_from_labels")
    vocab = PretrainedVocab.load(checkpoint, source_lang="deu_Latn", target_lang="eng_Latn")
    sources = vocab.encode_sources(splits[0].sources[:3], 64)
    targets = vocab.encode_targets(splits[0].targets[:3], 64)
    batch = Seq2SeqCollator(vocab.pad_id)(
        [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(3)]
    )
    labels = batch["labels"]
    assert (labels == LABEL_PAD).any()  # padded rows: -100 must become the padding id
    shifted = decoder_input_ids(model, labels)
    pad, start, width = model.config.pad_token_id, model.config.decoder_start_token_id, labels.shape[1]
    # </s>, then the target padded to the batch's width without its last position
    by_hand = torch.tensor([[start, *(t + [pad] * (width - len(t)))[:-1]] for t in targets])
    torch.testing.assert_close(shifted, by_hand, rtol=0, atol=0)
    # the model's forward shifts its labels the same way
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        own = model(**inputs, labels=labels).logits
        ours = model(**inputs, decoder_input_ids=shifted).logits
    torch.testing.assert_close(ours, own, rtol=0, atol=0)
    model.config.decoder_start_token_id = None
    with pytest.raises(ConfigError, match="no decoder_start_token_id"):
        decoder_input_ids(model, labels)


@pytest.mark.parametrize("chunk", [None, 8])
def test_loss_2_on_an_nllb_checkpoint_equals_a_per_sequence_loop(checkpoint, splits, chunk):
    # chunk 8: the fused output projection (lm_head, no bias) gives the same loss
    from textsmooth.seq2seq.model import load_seq2seq_model

    model = load_seq2seq_model(checkpoint).eval()
    vocab = PretrainedVocab.load(checkpoint, source_lang="deu_Latn", target_lang="eng_Latn")
    train = splits[0]
    sources = vocab.encode_sources(train.sources[:4], 64)
    targets = vocab.encode_targets(train.targets[:4], 64)
    features = [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(4)]
    batch = Seq2SeqCollator(vocab.pad_id, related_per_step=2, within_batch=True)(features)

    got = seq2seq_loss(model, batch, alpha=0.3, label_smoothing=0.1, output_chunk_size=chunk)
    expected = loss2_of_batch(model, batch, sources, targets, alpha=0.3, eps=0.1)
    torch.testing.assert_close(got.loss, expected, rtol=1e-5, atol=1e-5)


def test_an_nllb_checkpoint_is_fine_tuned_in_the_languages_given_and_translates(tmp_path, checkpoint, splits):
    train, val, test = splits
    out = tmp_path / "run"
    result = train_seq2seq(train, val, config(checkpoint), out_dir=out, test=test, progress=False)
    tokenizer = result.vocab.tokenizer
    deu, eng = tokenizer.convert_tokens_to_ids(CODES)
    # the languages given, not the saved ones: German source, English target
    assert result.vocab.encode_sources(["Ein Hund."], 16)[0][0] == deu
    assert result.vocab.encode_targets(["A dog."], 16)[0][0] == eng
    assert result.model.generation_config.forced_bos_token_id == eng
    saved = json.loads((out / "model" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (saved["src_lang"], saved["tgt_lang"]) == ("deu_Latn", "eng_Latn")
    assert json.loads((out / "model" / "generation_config.json").read_text())["forced_bos_token_id"] == eng
    # generate starts every hypothesis with the target code (after the decoder start </s>)
    ids = result.vocab.encode_sources(test.sources[:4], 64)
    from textsmooth.seq2seq.collate import pad_sequences

    with torch.no_grad():
        generated = result.model.generate(
            input_ids=pad_sequences(ids, result.vocab.pad_id),
            attention_mask=pad_sequences([[1] * len(i) for i in ids], 0),
            num_beams=2,
            max_length=16,
        )
    assert generated[:, 1].tolist() == [eng] * 4
    assert all(code not in h for h in result.test_hypotheses for code in CODES)  # decoded without codes
    loaded = load_translator(out / "model")
    assert loaded.translate(test.sources, beam_size=2) == result.test_hypotheses
    fused = train_seq2seq(train, val, config(checkpoint, output_chunk_size=32), test=test, progress=False)
    assert fused.history[0]["train_loss"] == pytest.approx(result.history[0]["train_loss"], rel=1e-5)


def test_the_languages_change_the_vocabulary_fingerprint(checkpoint):
    saved = PretrainedVocab.load(checkpoint)
    assert (saved.tokenizer.src_lang, saved.tokenizer.tgt_lang) == ("eng_Latn", "deu_Latn")
    swapped = PretrainedVocab.load(checkpoint, source_lang="deu_Latn", target_lang="eng_Latn")
    same = PretrainedVocab.load(checkpoint, source_lang="eng_Latn")
    assert swapped.fingerprint() != saved.fingerprint() == same.fingerprint()


def test_an_unknown_language_is_refused_before_anything_is_written(tmp_path, checkpoint, splits):
    train, val, _ = splits
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"'fra_Latn' is not a language code.*deu_Latn, eng_Latn") as info:
        train_seq2seq(train, val, config(checkpoint, target_lang="fra_Latn"), out_dir=out, progress=False)
    assert info.value.column == "target_lang" and Path(info.value.path) == checkpoint
    assert not out.exists()


def test_languages_of_a_tokenizer_without_them_are_refused(tmp_path, checkpoint, splits):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    folder = tmp_path / "plain"
    nllb = AutoTokenizer.from_pretrained(checkpoint)
    plain = PreTrainedTokenizerFast(
        tokenizer_object=nllb.backend_tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    plain.save_pretrained(folder)
    with pytest.raises(ConfigError, match="has no language codes") as info:
        PretrainedVocab.load(folder, source_lang="deu_Latn")
    assert info.value.column == "source_lang"
    with pytest.raises(ConfigError, match=r"target_lang selects a language .* needs model_path"):
        Seq2SeqConfig(target_lang="eng_Latn")
    with pytest.raises(ConfigError, match="must be a language code"):
        Seq2SeqConfig(model_path=str(folder), source_lang="")


def test_the_command_takes_the_languages(tmp_path, checkpoint):
    from typer.testing import CliRunner

    from textsmooth.cli import app

    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
    data = ["--train-src", sample / "train.de", "--train-tgt", sample / "train.en"]
    data += ["--val-src", sample / "train.de", "--val-tgt", sample / "train.en", "--max-train", "32"]
    data += ["--max-val", "8", "--epochs", "1", "--batch-size", "16", "--model", checkpoint]
    out = tmp_path / "run"

    def invoke(*options):
        args = ["seq2seq", "train", *data, *options, "-o", out]
        return CliRunner().invoke(app, [str(a) for a in args])

    refused = invoke("--source-lang", "deu_Latn", "--target-lang", "xx")
    assert refused.exit_code == 2, refused.output
    assert "option --target-lang: 'xx' is not a language code" in " ".join(refused.output.split())
    assert not out.exists()
    done = invoke("--source-lang", "deu_Latn", "--target-lang", "eng_Latn")
    assert done.exit_code == 0, done.output
    saved = json.loads((out / "model" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (saved["src_lang"], saved["tgt_lang"]) == ("deu_Latn", "eng_Latn")
    # the trained folder keeps its languages: translate refuses others
    source = sample / "train.de"
    args = ["translate", out / "model", source, "-o", tmp_path / "hyp.en", "--target-lang", "deu_Latn"]
    refused = CliRunner().invoke(app, [str(a) for a in args])
    assert refused.exit_code == 2
    assert "option --target-lang: a model trained here translates in the languages" in " ".join(
        refused.output.split()
    )
    assert not (tmp_path / "hyp.en").exists()


def test_an_mbart_style_target_language_is_the_decoder_start(splits):
    # mBART-cc25 puts the target code last in the labels ([tokens, </s>, code]); its decoder starts with it
    from transformers import GenerationConfig, MBartTokenizerFast

    from textsmooth.seq2seq import train_subword_vocab

    train = splits[0]
    unigram = json.loads(
        train_subword_vocab(
            train.sources, train.targets, kind="unigram", vocab_size=300, min_frequency=1
        ).source.to_str()
    )["model"]
    tokenizer = MBartTokenizerFast(
        vocab=[tuple(v) for v in unigram["vocab"]], src_lang="de_DE", tgt_lang="en_XX",
        additional_special_tokens=["de_DE", "en_XX"],
    )  # fmt: skip
    vocab = PretrainedVocab(tokenizer)
    en = tokenizer.convert_tokens_to_ids("en_XX")
    assert vocab.encode_targets(["A dog."], 16)[0][-2:] == [tokenizer.eos_token_id, en]

    class Model:
        generation_config = GenerationConfig()

    set_target_language_start(Model, vocab)
    assert (Model.generation_config.decoder_start_token_id, Model.generation_config.forced_bos_token_id) == (
        en,
        None,
    )
    Model.generation_config = GenerationConfig()
    plain = PretrainedVocab(MBartTokenizerFast(vocab=[tuple(v) for v in unigram["vocab"]]))
    plain.tokenizer.tgt_lang = None  # no target language: generate is left as it is
    set_target_language_start(Model, plain)
    assert Model.generation_config.to_diff_dict() == GenerationConfig().to_diff_dict()


def test_a_checkpoint_translates_in_the_languages_given(tmp_path, checkpoint, splits):
    from typer.testing import CliRunner

    from textsmooth.cli import app
    from textsmooth.seq2seq.saved import load_checkpoint_translator

    deu, eng = PretrainedVocab.load(checkpoint).tokenizer.convert_tokens_to_ids(CODES)
    saved = load_checkpoint_translator(checkpoint)  # the tokenizer's own languages: English -> German
    assert saved.model.generation_config.forced_bos_token_id == deu
    given = load_checkpoint_translator(checkpoint, source_lang="deu_Latn", target_lang="eng_Latn")
    assert given.model.generation_config.forced_bos_token_id == eng
    assert given.vocab.encode_sources(["Ein Hund."], 16)[0][0] == deu
    source = tmp_path / "test.de"
    source.write_text("".join(s + "\n" for s in splits[2].sources[:3]), encoding="utf-8")
    out = tmp_path / "hyp.en"
    args = ["translate", checkpoint, source, "-o", out, "--beam-size", "2", "--max-length", "16"]
    done = CliRunner().invoke(
        app, [str(a) for a in [*args, "--source-lang", "deu_Latn", "--target-lang", "eng_Latn"]]
    )
    assert done.exit_code == 0, done.output
    expected = given.translate(splits[2].sources[:3], beam_size=2, max_length=16)
    assert out.read_text(encoding="utf-8").splitlines() == expected
    refused = CliRunner().invoke(app, [str(a) for a in [*args, "--target-lang", "fra_Latn"]])
    assert refused.exit_code == 2
    assert "option --target-lang: 'fra_Latn' is not a language code" in " ".join(refused.output.split())


def test_a_recipe_with_a_language_the_checkpoint_lacks_is_refused_when_read(tmp_path, checkpoint):
    import yaml

    from recipe_copies import copy_recipe
    from textsmooth.experiments.seq2seq import load_seq2seq_recipe

    recipe = Path(__file__).resolve().parents[2] / "recipes" / "ci-seq2seq-tiny.yaml"
    train = yaml.safe_load(recipe.read_text(encoding="utf-8"))["train"]
    train = {**train, "model_path": str(checkpoint), "source_lang": "deu_Latn", "target_lang": "eng_Latn"}
    loaded = load_seq2seq_recipe(copy_recipe(recipe, tmp_path, train=train))
    assert {spec.config.target_lang for spec in loaded.runs()} == {"eng_Latn"}
    bad = copy_recipe(recipe, tmp_path, train={**train, "target_lang": "fra_Latn"})
    with pytest.raises(ConfigError, match="'fra_Latn' is not a language code") as info:
        load_seq2seq_recipe(bad)
    assert info.value.column == "train.target_lang" and Path(info.value.path) == bad
