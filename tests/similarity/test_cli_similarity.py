"""`textsmooth similarity build|show` on a small vector file."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.similarity import SimilarityTable

runner = CliRunner()
VECTORS = "the 0.1 0.2 0.3\ncat 1 0 0\ndog 0.9 0.1 0\ncar 0 1 0.2\ntruck 0 0.9 0.3\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_build_and_show(tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text(VECTORS, encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("cat\ndog\ncow\ntruck\nthe\ncar\n", encoding="utf-8")
    out = tmp_path / "t.npz"
    result = invoke(
        "similarity", "build", vectors, "-o", out, "--top-n", "3", "--stopwords", "en", "--vocab", vocab
    )
    assert result.exit_code == 0, result.output
    assert "one-hot rows 2 (no vector 1, stop words 1)" in result.output
    table = SimilarityTable.read(out, vocab=["cat", "dog", "cow", "truck", "the", "car"])
    assert [w for w, _ in table.neighbors_of("truck")] == ["truck", "car", "dog"]
    np.testing.assert_allclose(table.weights.sum(axis=1), 1.0, rtol=1e-6)
    shown = invoke("similarity", "show", out, "dog", "cow")
    assert (
        shown.exit_code == 0 and "dog (weights sum to 1): dog" in shown.output and "cow 1.000" in shown.output
    )
    raw = invoke("similarity", "build", vectors, "-o", tmp_path / "raw.npz", "--top-n", "2", "--raw")
    assert raw.exit_code == 0 and not SimilarityTable.read(tmp_path / "raw.npz").normalized


def test_errors_name_the_option_and_write_nothing(tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text(VECTORS, encoding="utf-8")
    out = tmp_path / "t.npz"
    for args, text in [
        (["--top-n", "9"], "option --top-n"),
        (["--top-n", "1"], "option --top-n"),
        (["--min-similarity", "-0.5"], "option --min-similarity"),
        (["--stopwords", "klingon"], "bundled: en"),
    ]:
        result = invoke("similarity", "build", vectors, "-o", out, *args)
        assert result.exit_code == 2 and text in result.output, (args, result.output)
    result = invoke("similarity", "build", vectors, "-o", vectors)
    assert result.exit_code == 2 and "option -o" in result.output
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 1\n", encoding="utf-8")
    result = invoke("similarity", "build", bad, "-o", out)
    assert result.exit_code == 2 and "bad.txt, row 2" in result.output
    assert not out.exists()


def test_build_from_vectors_trained_on_a_corpus(tmp_path):
    import pytest

    pytest.importorskip("gensim")
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample" / "train.en"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(sample.read_text(encoding="utf-8").splitlines()[:300]) + "\n", encoding="utf-8"
    )
    out = tmp_path / "t.npz"
    args = ["--train", "word2vec", "--dim", "16", "--epochs", "2", "--lowercase", "--max-words", "80"]
    result = invoke("similarity", "build", corpus, "-o", out, "--top-n", "4", "--stopwords", "en", *args)
    assert result.exit_code == 0, result.output
    table = SimilarityTable.read(out)
    assert len(table.vocab) == 80 and table.vocab[0] == "a"
    again = invoke(
        "similarity", "build", corpus, "-o", tmp_path / "u.npz", "--top-n", "4", "--stopwords", "en", *args
    )
    assert again.exit_code == 0
    np.testing.assert_array_equal(SimilarityTable.read(tmp_path / "u.npz").weights, table.weights)
    bad = invoke("similarity", "build", corpus, "-o", tmp_path / "x.npz", "--train", "word2vec", "--dim", "0")
    assert bad.exit_code == 2 and "option --dim" in bad.output
