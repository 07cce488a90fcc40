"""`textsmooth seq2seq train` and `textsmooth translate` on a few real Multi30k pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

from textsmooth.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
TINY = ["--epochs", "2", "--d-model", "32", "--heads", "2", "--layers", "1", "--vocab-size", "300"]
TINY += ["--batch-size", "16", "--warmup-steps", "10", "--max-length", "24", "--beam-size", "2"]

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m30k")
    for lang in ("de", "en"):
        lines = (SAMPLE / f"train.{lang}").read_text(encoding="utf-8").splitlines()
        (folder / f"train.{lang}").write_text("\n".join(lines[:96]) + "\n", encoding="utf-8")
        (folder / f"val.{lang}").write_text("\n".join(lines[96:112]) + "\n", encoding="utf-8")
    return folder


def data_options(folder: Path) -> list:
    return [
        "--train-src", folder / "train.de", "--train-tgt", folder / "train.en",
        "--val-src", folder / "val.de", "--val-tgt", folder / "val.en",
        "--test-src", folder / "val.de", "--test-tgt", folder / "val.en",
    ]  # fmt: skip


def test_train_with_a_token_swap_table_then_translate(tmp_path, files):
    table = tmp_path / "swap.parquet"
    built = invoke("neighbors", files / "train.en", "-o", table, "--method", "token-swap", "--keep", "3")
    assert built.exit_code == 0, built.output
    out = tmp_path / "run"
    result = invoke(
        "seq2seq", "train", *data_options(files), "--method", "token-swap", "--table", table,
        "--related-k", "3", "--related-per-step", "2", *TINY, "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "test BLEU-4" in result.output
    hyps = (out / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    assert len(hyps) == 16 and (out / "model" / "config.json").is_file()
    translated = tmp_path / "val.hyp.en"
    result = invoke("translate", out / "model", files / "val.de", "-o", translated, "--beam-size", "2")
    assert result.exit_code == 0, result.output
    assert translated.read_text(encoding="utf-8").splitlines() == hyps  # the same beam, the same model


def test_model_vocabulary_and_decoding_options_reach_the_saved_config(tmp_path, files):
    out = tmp_path / "lstm"
    options = ["--architecture", "lstm", "--vocab-kind", "word", "--separate-vocab", "--dropout", "0.2"]
    options += ["--length-penalty", "0.6", "--val-beam-size", "2", "--epochs", "1"]
    result = invoke("seq2seq", "train", *data_options(files), *TINY, *options, "-o", out)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "model" / "textsmooth.json").read_text())["config"]
    assert saved["architecture"] == "lstm" and saved["vocab_kind"] == "word" and not saved["joint_vocab"]
    assert (saved["dropout"], saved["length_penalty"], saved["val_beam_size"]) == (0.2, 0.6, 2)
    assert json.loads((out / "model" / "config.json").read_text())["model_type"] == "textsmooth-lstm"
    result = invoke(
        "translate", out / "model", files / "val.de", "-o", tmp_path / "hyp.en", "--beam-size", "2"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hyp.en").read_text(encoding="utf-8").splitlines() == (
        (out / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    )
    out = tmp_path / "transformer"
    result = invoke(
        "seq2seq", "train", *data_options(files), *TINY, "--ffn-dim", "48", "--epochs", "1",
        "--output-chunk-size", "64", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "model" / "config.json").read_text())["encoder_ffn_dim"] == 48
    assert json.loads((out / "model" / "textsmooth.json").read_text())["config"]["output_chunk_size"] == 64


def test_errors_name_the_option_and_nothing_is_trained(tmp_path, files):
    out = tmp_path / "run"
    cases = [
        (["--method", "semantic"], "--table"),
        (["--method", "none", "--d-model", "30"], "--heads"),
        (["--method", "none", "--alpha", "-1"], "--alpha"),
        (["--method", "token-ls", "--label-smoothing", "1.5"], "--label-smoothing"),
        (["--method", "none", "--layers", "0"], "--layers"),
        (["--method", "none", "--device", "gpu7"], "--device"),
        (["--method", "none", "--dropout", "1.5"], "--dropout"),
        (["--method", "none", "--ffn-dim", "0"], "--ffn-dim"),
        (["--method", "none", "--val-beam-size", "0"], "--val-beam-size"),
    ]
    for extra, option in cases:
        result = invoke("seq2seq", "train", *data_options(files), *extra, "-o", out)
        assert result.exit_code == 2, (extra, result.output)
        assert f"option {option}" in result.output, (extra, result.output)
    assert not out.exists()
    result = invoke("seq2seq", "train", "--pair", "de-en", *data_options(files), "-o", out)
    assert result.exit_code == 2 and "--pair" in result.output
    result = invoke("seq2seq", "train", "--train-src", files / "train.de", "--train-tgt", files / "val.en",
                    "--val-src", files / "val.de", "--val-tgt", files / "val.en", "-o", out)  # fmt: skip
    assert result.exit_code == 2 and "96 lines but target file" in result.output
    # a table built for other targets is refused before anything trains
    other = tmp_path / "other.parquet"
    assert invoke("neighbors", files / "val.en", "-o", other, "--method", "token-swap").exit_code == 0
    result = invoke(
        "seq2seq", "train", *data_options(files), "--method", "token-swap", "--table", other, "-o", out
    )
    assert result.exit_code == 2 and "other targets" in result.output
    assert not (out / "checkpoint.pt").exists()


def test_translate_refuses_bad_input(tmp_path, files):
    source = files / "val.de"
    model = tmp_path / "not-a-model"
    model.mkdir()
    result = invoke("translate", model, source, "-o", tmp_path / "x.txt")
    assert result.exit_code == 2 and "textsmooth.json" in result.output
    result = invoke("translate", model, source, "-o", source)
    assert result.exit_code == 2 and "-o" in result.output
    result = invoke("translate", model, source, "-o", tmp_path / "x.txt", "--beam-size", "0")
    assert result.exit_code == 2 and "--beam-size" in result.output
    # a textsmooth model folder (its vocab/) that lost its manifest: the manifest is what is missing
    (model / "config.json").write_text("{}", encoding="utf-8")
    (model / "vocab").mkdir()
    result = invoke("translate", model, source, "-o", tmp_path / "x.txt")
    assert result.exit_code == 2 and "no textsmooth.json" in result.output
    assert not (tmp_path / "x.txt").exists()


def test_score_gives_sacrebleus_scores_and_paired_test(tmp_path):
    import sacrebleu
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    from textsmooth.seq2seq import paired_bleu_p_value

    refs = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:60]
    a = [" ".join(r.split()[:-2]) for r in refs]  # each translation missing its last two words
    b = [r.replace(" a ", " the ") for r in refs]
    for name, lines in (("ref.en", refs), ("a.hyp", a), ("b.hyp", b), ("short.hyp", a[:-1])):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.json"
    result = invoke(
        "seq2seq", "score", tmp_path / "ref.en", tmp_path / "a.hyp", tmp_path / "b.hyp", "--json", out
    )
    assert result.exit_code == 0, result.output
    systems = json.loads(out.read_text())["systems"]
    for record, hyps in zip(systems, (a, b), strict=True):
        assert record["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
        assert record["bleu3"] == pytest.approx(BLEU(max_ngram_order=3).corpus_score(hyps, [refs]).score)
        assert record["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    _, tested = PairedTest([("a", a), ("b", b)], {"BLEU": BLEU()}, [refs], test_type="bs", n_samples=1000)()
    assert systems[0]["p_value_vs_first"] is None
    assert systems[1]["p_value_vs_first"] == pytest.approx(tested["BLEU"][1].p_value)
    assert f"| {tmp_path / 'b.hyp'} | " in result.output and "(baseline)" in result.output
    # the test is symmetric (the report's p-value cache relies on it)
    assert paired_bleu_p_value(a, b, refs) == paired_bleu_p_value(b, a, refs)
    short = invoke("seq2seq", "score", tmp_path / "ref.en", tmp_path / "a.hyp", tmp_path / "short.hyp")
    assert short.exit_code == 2 and "short.hyp: 59 lines but the references" in " ".join(short.output.split())


def test_score_with_seeds_compares_the_systems_means_over_their_runs(tmp_path):
    import sacrebleu

    from textsmooth.seq2seq import paired_bleu_p_value_over_seeds

    refs = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:60]
    runs = {  # two systems, each run with two seeds
        "a0.hyp": [" ".join(r.split()[:-2]) for r in refs],
        "a1.hyp": [" ".join(r.split()[1:]) for r in refs],
        "b0.hyp": [r.replace(" a ", " the ") for r in refs],
        "b1.hyp": [r.replace(" the ", " a ") for r in refs],
    }
    (tmp_path / "ref.en").write_text("\n".join(refs) + "\n", encoding="utf-8")
    for name, lines in runs.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = [tmp_path / name for name in runs]
    out = tmp_path / "scores.json"
    result = invoke(
        "seq2seq", "score", tmp_path / "ref.en", *files, "--seeds", "2", "--json", out, "--resamples", "200"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    a, b = payload["systems"]
    assert a["paths"] == [str(files[0]), str(files[1])] and a["p_value_vs_first"] is None
    bleu = {name: sacrebleu.corpus_bleu(lines, [refs]).score for name, lines in runs.items()}
    assert a["bleu"] == pytest.approx((bleu["a0.hyp"] + bleu["a1.hyp"]) / 2)
    assert [run["bleu"] for run in b["runs"]] == pytest.approx([bleu["b0.hyp"], bleu["b1.hyp"]])
    expected = paired_bleu_p_value_over_seeds(
        [runs["a0.hyp"], runs["a1.hyp"]], [runs["b0.hyp"], runs["b1.hyp"]], refs, n_samples=200
    )
    assert b["p_value_vs_first"] == expected and "means over 2 runs" in payload["test"]["kind"]
    assert (
        f"| {files[2]} + {files[3]} | " in result.output and "p vs baseline (BLEU-4 means)" in result.output
    )
    odd = invoke(
        "seq2seq", "score", tmp_path / "ref.en", *files[:3], "--seeds", "2", "--json", tmp_path / "x.json"
    )
    flat = " ".join(odd.output.split())
    assert (
        odd.exit_code == 2
        and "--seeds" in flat
        and "3 hypothesis files do not split into systems of 2" in flat
    )
    assert not (tmp_path / "x.json").exists()
