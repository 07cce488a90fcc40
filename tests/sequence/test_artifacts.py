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
    # fp32 vectors do not depend on the other sentences of the call nor on the shards: bit-identical
    np.testing.assert_array_equal(other[:-1], first[:-1])


def test_fp32_vectors_do_not_depend_on_batch_shard_or_threads(en, tmp_path):
    texts = en[:48]
    ref = SentenceEncoder(precision="fp32", batch_size=1, num_threads=1).encode(texts)
    for batch_size, threads in ((3, 1), (16, 2), (64, 1)):
        enc = SentenceEncoder(precision="fp32", batch_size=batch_size, num_threads=threads)
        np.testing.assert_array_equal(
            enc.encode(texts), ref, err_msg=f"batch {batch_size}, {threads} threads"
        )
    enc = SentenceEncoder(precision="fp32", batch_size=64, num_threads=1)
    for shard_size in (5, 17):
        cached = embed_texts(texts, enc, cache_dir=tmp_path / f"s{shard_size}", shard_size=shard_size)
        np.testing.assert_array_equal(cached, ref)
    np.testing.assert_array_equal(enc.encode(texts[7:19]), ref[7:19])  # another set of companions
    # batches hold one token length each, at most batch_size rows, and cover every row once
    lengths = enc.token_lengths(texts)
    batches = SentenceEncoder(precision="fp32", batch_size=4).load()._batches(texts)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(texts)))
    assert all(len(set(lengths[b].tolist())) == 1 and len(b) <= 4 for b in batches)


def test_precision_is_explicit_and_in_the_cache_key(en, encoder, tmp_path):
    from textsmooth.errors import ConfigError

    assert encoder.precision == "fp32" and encoder.describe()["precision"] == "fp32"
    with pytest.raises(ConfigError, match="'auto' was removed"):
        SentenceEncoder(precision="auto").load()
    # fp32: the batch size cannot change the vectors, so it is not in the key (a warm cache is exact)
    assert SentenceEncoder(batch_size=7).fingerprint == encoder.fingerprint
    assert SentenceEncoder(max_length=8).fingerprint != encoder.fingerprint
    texts = en[:6]
    bf16 = SentenceEncoder(precision="bf16", batch_size=4).load()  # forced, whatever the CPU supports
    info = bf16.describe()
    assert info["precision"] == "bf16" and info["batch_size"] == 4 and "cpu_native_bf16" in info
    assert bf16.fingerprint not in {
        encoder.fingerprint,
        SentenceEncoder(precision="bf16", batch_size=5).fingerprint,
    }
    vec16 = embed_texts(texts, bf16, cache_dir=tmp_path, shard_size=3)
    vec32 = embed_texts(texts, encoder, cache_dir=tmp_path)
    embed_texts(texts, bf16, cache_dir=tmp_path, shard_size=6)  # bf16: shards change batches, own entry
    assert len(list(tmp_path.glob("*.npy"))) == 3
    assert np.min((vec16 * vec32).sum(1)) > 0.99 and not np.array_equal(vec16, vec32)
    manifests = [json.loads(p.read_text()) for p in tmp_path.glob("*.manifest.json")]
    assert sorted(m["parameters"]["precision"] for m in manifests) == ["bf16", "bf16", "fp32"]


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
    with pytest.raises(DataError, match="is a folder"):
        read_lines(tmp_path)
    (tmp_path / "none.txt").write_bytes(b"")
    with pytest.raises(DataError, match=r"none\.txt: file is empty"):
        read_lines(tmp_path / "none.txt")


def test_read_lines_drops_a_byte_order_mark_and_keeps_unicode_separators(tmp_path):
    path = tmp_path / "bom.en"
    path.write_bytes("\ufeffA dog runs.\r\nA cat \u2028sleeps.\n".encode())
    assert read_lines(path) == ["A dog runs.", "A cat \u2028sleeps."]


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
