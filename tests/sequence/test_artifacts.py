"""Embedding cache, neighbour table manifests, model loading, file reading: errors and staleness."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from textsmooth.errors import ArtifactError, DataError, ModelLoadError, StaleArtifactError
from textsmooth.io.manifest import manifest_path
from textsmooth.sequence import NeighborTable, SentenceEncoder, embed_texts, load_embeddings, read_lines


def test_embedding_cache_is_reused_when_text_and_model_match(en, encoder, tmp_path, monkeypatch):
    texts = en[:30]
    first = embed_texts(texts, encoder, cache_dir=tmp_path, shard_size=8)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len([f for f in files if f.endswith(".npy")]) == 1
    assert not [f for f in files if ".parts" in f]  # shards removed once the result is committed

    def no_encoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(encoder, "encode", no_encoding)
    again = embed_texts(texts, encoder, cache_dir=tmp_path, shard_size=8)
    np.testing.assert_array_equal(first, again)
    monkeypatch.undo()
    other = embed_texts([*texts[:-1], "A different last sentence."], encoder, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    np.testing.assert_allclose(other[:-1], first[:-1], atol=1e-5)


def test_stale_or_corrupt_cache_is_detected(en, encoder, tmp_path):
    texts = en[:12]
    embed_texts(texts, encoder, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npy")
    with pytest.raises(StaleArtifactError, match="other texts"):
        load_embeddings(path, en[1:13], encoder)
    cls_encoder = SentenceEncoder(pooling="cls").load()
    with pytest.raises(StaleArtifactError, match="another model"):
        load_embeddings(path, texts, cls_encoder)
    # tamper with the bytes: detected through the manifest's sha256, then recomputed with a warning
    arr = np.load(path)
    np.save(path, arr * 2)
    with pytest.raises(StaleArtifactError, match="do not match its manifest"):
        load_embeddings(path, texts, encoder)
    with pytest.warns(UserWarning, match="recomputing"):
        fixed = embed_texts(texts, encoder, cache_dir=tmp_path)
    np.testing.assert_allclose(fixed, arr, atol=1e-6)
    # a result without a manifest (interrupted before the commit mark) is never read back
    manifest_path(path).unlink()
    with pytest.raises(ArtifactError, match="no manifest"):
        load_embeddings(path, texts, encoder)


def test_pooling_changes_vectors_and_both_are_unit_length(en, encoder):
    cls_vec = SentenceEncoder(pooling="cls").encode(en[:4])
    mean_vec = encoder.encode(en[:4])
    np.testing.assert_allclose(np.linalg.norm(cls_vec, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(mean_vec, axis=1), 1, atol=1e-5)
    assert not np.allclose(cls_vec, mean_vec)


def test_bad_model_paths(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        SentenceEncoder(tmp_path / "nope").load()
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        SentenceEncoder(tmp_path / "file.bin").load()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        SentenceEncoder(empty).load()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "not-a-model"}))
    with pytest.raises(ModelLoadError, match="cannot load"):
        SentenceEncoder(broken).load()
    from textsmooth.errors import ConfigError

    with pytest.raises(ConfigError, match="pooling"):
        SentenceEncoder(pooling="max").load()


def test_read_lines_errors_name_the_row(tmp_path):
    good = tmp_path / "t.txt.gz"
    with gzip.open(good, "wt", encoding="utf-8") as handle:
        handle.write("a dog\r\na cat\n")
    assert read_lines(good) == ["a dog", "a cat"]
    empty = tmp_path / "e.txt"
    empty.write_text("a dog\n\na cat\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"e\.txt, row 2.*empty"):
        read_lines(empty)
    assert read_lines(empty, allow_empty=True) == ["a dog", "", "a cat"]
    latin = tmp_path / "l.txt"
    latin.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"row 2.*UTF-8"):
        read_lines(latin)
    with pytest.raises(DataError, match="does not exist"):
        read_lines(tmp_path / "missing.txt")


def test_neighbor_table_refuses_foreign_or_unfinished_files(tmp_path):
    table = NeighborTable(
        target_id=[0, 1], rank=[1, 1], neighbor_id=[1, 0], cosine=[0.5, 0.5], bleu=[10.0, 12.0], n_targets=2
    )
    path = table.write(tmp_path / "t.parquet", kind_detail="test", parameters={}, texts=["a b", "b c"])
    assert NeighborTable.read(path, texts=["a b", "b c"]).as_lists() == [[1], [0]]
    with pytest.raises(StaleArtifactError, match="other targets"):
        NeighborTable.read(path, texts=["a b", "x y"])
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(StaleArtifactError, match="do not match"):
        NeighborTable.read(path)
    manifest_path(path).unlink()
    with pytest.raises(ArtifactError, match="no manifest"):
        NeighborTable.read(path)
