"""``--model PATH`` with the encoder-decoder families the docs name: tiny randomly initialised T5 and
BART checkpoints (saved with ``save_pretrained``, with a fast tokenizer, as a downloaded folder looks) and
a Marian checkpoint in the opus-mt layout (``source.spm`` / ``target.spm`` sentencepiece models and
``vocab.json``, no ``tokenizer.json``: the slow ``MarianTokenizer``, which needs sentencepiece) are
fine-tuned by ``train_seq2seq`` and translate after loading; loss (2) on each equals a per-sequence loop;
the fused output projection runs on each (BART and Marian add ``final_logits_bias``, T5 scales the decoder
states by ``d_model ** -0.5`` when its embeddings are tied) and is refused for mT5 before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from loss2_reference import loss2_of_batch
from textsmooth.errors import ConfigError
from textsmooth.seq2seq import Seq2SeqConfig, load_translator, train_seq2seq
from textsmooth.seq2seq.collate import Seq2SeqCollator
from textsmooth.seq2seq.objective import seq2seq_loss
from textsmooth.seq2seq.pretrained import PretrainedVocab


def tokenizer(train):
    """A fast tokenizer that appends </s> (BPE learned on ``train``; <pad> 0, </s> 1, <unk> 2)."""
    from tokenizers import Tokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from textsmooth.seq2seq import train_subword_vocab

    vocab = train_subword_vocab(train.sources, train.targets, vocab_size=300, min_frequency=1)
    tok = Tokenizer.from_str(vocab.source.to_str())
    tok.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", vocab.eos_id)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def opus_mt_tokenizer(train, work: Path):
    """A ``MarianTokenizer`` as opus-mt checkpoints ship it: a sentencepiece model per side (trained on
    ``train``, 150 pieces each) and one ``vocab.json`` over both (``</s>`` 0, ``<unk>`` 1, ``<pad>`` 2)."""
    import io
    import json

    import sentencepiece as spm
    from transformers import MarianTokenizer

    pieces = ["</s>", "<unk>", "<pad>"]
    for side, texts in (("source", train.sources), ("target", train.targets)):
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=model, vocab_size=150, pad_id=-1, bos_id=-1,
            eos_id=1, unk_id=0, minloglevel=2,
        )  # fmt: skip
        (work / f"{side}.spm").write_bytes(model.getvalue())
        processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
        pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(pieces))}
    (work / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    return MarianTokenizer(
        source_spm=str(work / "source.spm"), target_spm=str(work / "target.spm"),
        vocab=str(work / "vocab.json"), source_lang="de", target_lang="en",
    )  # fmt: skip


def tiny(family: str, vocab_size: int, **overrides):
    """A tiny randomly initialised model of ``family`` (t5, mt5, marian, bart); ``overrides``: T5 config
    fields."""
    torch.manual_seed(0)
    if family in ("t5", "mt5"):
        from transformers import MT5Config, MT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration

        config_class, model_class = (
            (T5Config, T5ForConditionalGeneration)
            if family == "t5"
            else (MT5Config, MT5ForConditionalGeneration)
        )
        config = config_class(
            vocab_size=vocab_size, d_model=32, d_ff=64, d_kv=16, num_layers=1, num_heads=2,
            pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **overrides,
        )  # fmt: skip
        return model_class(config)
    if family == "marian":
        from transformers import MarianConfig, MarianMTModel

        config = MarianConfig(
            vocab_size=vocab_size, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
            pad_token_id=2, eos_token_id=0, decoder_start_token_id=2, forced_eos_token_id=0,
        )  # fmt: skip
        return MarianMTModel(config)
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(
        vocab_size=vocab_size, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, bos_token_id=1, decoder_start_token_id=1, forced_eos_token_id=1,
    )  # fmt: skip
    return BartForConditionalGeneration(config)


@pytest.fixture(scope="module", params=["t5", "bart", "marian"])
def checkpoint(request, tmp_path_factory, splits):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "marian":
        hf_tokenizer = opus_mt_tokenizer(splits[0], tmp_path_factory.mktemp("spm"))
    else:
        hf_tokenizer = tokenizer(splits[0])
    model = tiny(request.param, len(hf_tokenizer))
    with torch.no_grad():
        if request.param != "t5":  # a bias the fused path must add (a new model's is zero)
            model.final_logits_bias.normal_(generator=torch.Generator().manual_seed(1))
    model.save_pretrained(folder)
    hf_tokenizer.save_pretrained(folder)
    return request.param, folder


def config(folder, **overrides) -> Seq2SeqConfig:
    values = dict(
        method="within-batch", related_k=3, related_per_step=2, model_path=str(folder), epochs=1,
        batch_size=16, lr=1e-3, warmup_steps=0, max_length=64, beam_size=2, eval_batch_size=16,
    )  # fmt: skip
    return Seq2SeqConfig(**{**values, **overrides})


def test_loss_2_on_the_family_equals_a_per_sequence_loop(checkpoint, splits):
    from textsmooth.seq2seq.model import load_seq2seq_model

    _, folder = checkpoint
    from transformers import AutoTokenizer

    model = load_seq2seq_model(folder).eval()
    vocab = PretrainedVocab(AutoTokenizer.from_pretrained(folder))
    train = splits[0]
    sources = vocab.encode_sources(train.sources[:4], 64)
    targets = vocab.encode_targets(train.targets[:4], 64)
    features = [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(4)]
    batch = Seq2SeqCollator(vocab.pad_id, related_per_step=2, within_batch=True)(features)

    got = seq2seq_loss(model, batch, alpha=0.3, label_smoothing=0.1)
    expected = loss2_of_batch(model, batch, sources, targets, alpha=0.3, eps=0.1)
    torch.testing.assert_close(got.loss, expected, rtol=1e-5, atol=1e-5)
    fused = seq2seq_loss(model, batch, alpha=0.3, label_smoothing=0.1, output_chunk_size=16)
    torch.testing.assert_close(fused.loss, got.loss, rtol=1e-5, atol=1e-5)


def test_a_checkpoint_of_the_family_is_fine_tuned_and_translates(tmp_path, checkpoint, splits):
    family, folder = checkpoint
    train, val, test = splits
    result = train_seq2seq(train, val, config(folder), out_dir=tmp_path / "run", test=test, progress=False)
    assert result.vocab.kind == "pretrained" and len(result.test_hypotheses) == 16
    if family == "marian":  # the opus-mt layout: the sentencepiece tokenizer, saved the same way
        assert type(result.vocab.tokenizer).__name__ == "MarianTokenizer"
        assert not (folder / "tokenizer.json").exists()
        assert {"source.spm", "target.spm", "vocab.json"} <= {
            p.name for p in (tmp_path / "run" / "model").iterdir()
        }
    loaded = load_translator(tmp_path / "run" / "model")
    assert loaded.translate(test.sources, beam_size=2) == result.test_hypotheses
    # the fused output projection: the same epoch to float rounding
    fused = train_seq2seq(train, val, config(folder, output_chunk_size=32), test=test, progress=False)
    assert fused.history[0]["train_loss"] == pytest.approx(result.history[0]["train_loss"], rel=1e-5)


@pytest.mark.parametrize("tied", [True, False])
def test_the_fused_projection_on_t5_scales_the_states_only_when_its_embeddings_are_tied(tied, splits):
    # T5 multiplies the decoder states by d_model ** -0.5 before lm_head when its embeddings are tied
    # (its default, the fixture's checkpoint), not otherwise: loss and gradients equal the logits' path
    from textsmooth.seq2seq.objective import fused_output_layer

    hf_tokenizer = tokenizer(splits[0])
    model = tiny("t5", len(hf_tokenizer), tie_word_embeddings=tied)
    model.eval()  # no dropout: the two paths see the same network
    assert fused_output_layer(model).state_scale == (32**-0.5 if tied else 1.0)
    vocab = PretrainedVocab(hf_tokenizer)
    sources = vocab.encode_sources(splits[0].sources[:4], 64)
    targets = vocab.encode_targets(splits[0].targets[:4], 64)
    features = [{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in range(4)]
    batch = Seq2SeqCollator(vocab.pad_id, related_per_step=2, within_batch=True)(features)
    grads = []
    for chunk in (None, 16):
        model.zero_grad()
        out = seq2seq_loss(model, batch, alpha=0.3, label_smoothing=0.1, output_chunk_size=chunk)
        out.loss.backward()
        grads.append((out.loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-5)
    for fused, plain in zip(grads[1][1], grads[0][1], strict=True):
        torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def mt5_checkpoint(tmp_path_factory, splits):
    hf_tokenizer = tokenizer(splits[0])
    model = tiny("mt5", len(hf_tokenizer))
    folder = tmp_path_factory.mktemp("mt5")
    model.save_pretrained(folder)
    hf_tokenizer.save_pretrained(folder)
    return folder


def test_the_fused_projection_is_refused_for_a_model_it_does_not_know(tmp_path, mt5_checkpoint, splits):
    # mT5 is not among the output layers the fused path knows how to read: refused before anything is
    # written, by the trainer and by the command
    from typer.testing import CliRunner

    from textsmooth.cli import app

    train, val, _ = splits
    refused = tmp_path / "refused"
    with pytest.raises(ConfigError, match="not MT5ForConditionalGeneration") as info:
        train_seq2seq(
            train, val, config(mt5_checkpoint, output_chunk_size=32), out_dir=refused, progress=False
        )
    assert info.value.column == "output_chunk_size"
    assert not refused.exists()
    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
    data = ["--train-src", sample / "train.de", "--train-tgt", sample / "train.en"]
    data += ["--val-src", sample / "train.de", "--val-tgt", sample / "train.en", "--max-train", "32"]
    data += ["--max-val", "8", "--epochs", "1", "--batch-size", "16", "--output-chunk-size", "8"]
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, [str(a) for a in ["seq2seq", "train", *data, "--model", mt5_checkpoint, "-o", out]]
    )
    assert result.exit_code == 2, result.output
    wanted = "option --output-chunk-size: the fused output projection needs"
    assert wanted in " ".join(result.output.split()), result.output
    assert not out.exists()


@pytest.mark.parametrize("checkpoint", ["bart", "marian"], indirect=True)  # T5: no position limit
def test_the_command_names_the_option_a_checkpoint_refuses(tmp_path, checkpoint):
    from typer.testing import CliRunner

    from textsmooth.cli import app

    _, folder = checkpoint
    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
    data = ["--train-src", sample / "train.de", "--train-tgt", sample / "train.en"]
    data += ["--val-src", sample / "train.de", "--val-tgt", sample / "train.en", "--max-train", "32"]
    data += ["--max-val", "8", "--epochs", "1", "--batch-size", "16"]
    options = ["--max-length", "100"]  # the checkpoints have 64 positions
    wanted = "option --max-length: max_length 100 is longer than the 64 positions"
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, [str(a) for a in ["seq2seq", "train", *data, "--model", folder, *options, "-o", out]]
    )
    assert result.exit_code == 2, result.output
    assert wanted in " ".join(result.output.split()), result.output
    assert not out.exists()  # no empty run folder left behind


def test_a_checkpoint_translates_before_fine_tuning_as_generate_does(tmp_path, checkpoint, splits):
    # `textsmooth translate CHECKPOINT`: the baseline of a fine-tuning run, decoded as the trained ones are
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    from typer.testing import CliRunner

    from textsmooth.cli import app
    from textsmooth.errors import ArtifactError
    from textsmooth.seq2seq import load_checkpoint_translator, load_translator

    family, folder = checkpoint
    sources = splits[2].sources[:6]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    batch = tokenizer(sources, return_tensors="pt", padding=True, truncation=True, max_length=64)
    with torch.no_grad():
        out = model.generate(**batch, num_beams=2, max_length=64, length_penalty=1.0, early_stopping=True)
    expected = [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
    translator = load_checkpoint_translator(folder, max_length=64)
    assert translator.info["kind"] == "checkpoint" and translator.max_length == 64
    assert translator.translate(sources, beam_size=2) == expected
    default = load_checkpoint_translator(folder).max_length
    assert default == (
        256 if family == "t5" else 64
    )  # T5: no positions, no tokenizer limit; else its positions
    (tmp_path / "src.de").write_text("\n".join(sources) + "\n", encoding="utf-8")
    args = ["translate", folder, tmp_path / "src.de", "-o", tmp_path / "hyp", "--beam-size", "2"]
    result = CliRunner().invoke(app, [str(a) for a in [*args, "--max-length", "64"]])
    assert result.exit_code == 0, result.output
    assert "not trained here: no checksums" in " ".join(result.output.split())
    assert (tmp_path / "hyp").read_text(encoding="utf-8").splitlines() == expected
    with pytest.raises(ArtifactError, match="load_checkpoint_translator"):
        load_translator(folder)  # no manifest: the hint names the loader that takes a checkpoint


def test_the_position_limit_of_each_family_and_an_led_checkpoint_refused(tmp_path, splits):
    # LED has no max_position_embeddings: separate encoder and decoder limits, the smaller one binds
    from transformers import LEDConfig, LEDForConditionalGeneration, MarianConfig, T5Config

    from textsmooth.seq2seq.model import position_limit

    assert position_limit(MarianConfig(max_position_embeddings=64)) == (64, "max_position_embeddings")
    assert position_limit(T5Config()) is None  # relative attention: no limit
    led = LEDConfig(
        vocab_size=300, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, attention_window=8,
        max_encoder_position_embeddings=128, max_decoder_position_embeddings=32,
    )  # fmt: skip
    assert position_limit(led) == (32, "max_decoder_position_embeddings")
    folder = tmp_path / "led"
    LEDForConditionalGeneration(led).save_pretrained(folder)
    train, val, _ = splits
    out = tmp_path / "run"
    with pytest.raises(
        ConfigError, match=r"longer than the 32 positions of the model \(max_decoder_posi"
    ) as info:
        train_seq2seq(train.subset(16), val, config(folder, max_length=64), out_dir=out, progress=False)
    assert info.value.column == "max_length"
    assert not out.exists()
