"""WordVocab: building, vectorised encoding against a per-text loop, JSON round trip, errors."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textsmooth.errors import ArtifactError, ConfigError, DataError
from textsmooth.models import WordVocab
from textsmooth.text.tokenize import tokenize

TEXTS = ["The film was good.", "the FILM was bad", "good good fun", "Café au lait, café!", ""]


def loop_encode(vocab: WordVocab, texts, max_length):
    """Per-text reference: tokenise, look up, truncate, pad; an empty text is one <unk>."""
    rows = []
    for text in texts:
        ids = [vocab.token_to_id(t) for t in tokenize(text, vocab.tokenizer)] or [vocab.unk_id]
        rows.append(ids if max_length is None else ids[:max_length])
    width = max(len(r) for r in rows)
    return (
        [r + [vocab.pad_id] * (width - len(r)) for r in rows],
        [[1] * len(r) + [0] * (width - len(r)) for r in rows],
    )


def test_build_order_and_filters():
    vocab = WordVocab.build(TEXTS)
    assert vocab.tokens[:2] == ["<pad>", "<unk>"] and (vocab.pad_id, vocab.unk_id) == (0, 1)
    # by decreasing count, equal counts alphabetically
    assert vocab.words == ["good", "café", "film", "the", "was", "au", "bad", "fun", "lait"]
    assert vocab.counts == [3, 2, 2, 2, 2, 1, 1, 1, 1]
    assert len(vocab) == 11
    assert WordVocab.build(TEXTS, min_freq=2).words == ["good", "café", "film", "the", "was"]
    assert WordVocab.build(TEXTS, max_size=3).words == ["good", "café", "film"]
    assert len(WordVocab.build(TEXTS, max_size=0)) == 2
    assert WordVocab.build(["<pad> <unk> x"], tokenizer="whitespace").words == ["x"]
    assert len(WordVocab.build([])) == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="abcAB .,'-é\n", max_size=30), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(1, 6)),
    st.sampled_from(["words", "whitespace", "space"]),
)
def test_encode_matches_loop(texts, max_length, tokenizer):
    vocab = WordVocab.build([*texts[: max(1, len(texts) // 2)], "a b c"], tokenizer=tokenizer)
    ids, mask = vocab.encode(texts, max_length)
    expected_ids, expected_mask = loop_encode(vocab, texts, max_length)
    assert ids.dtype == torch.int64 and mask.dtype == torch.int64
    assert ids.tolist() == expected_ids
    assert mask.tolist() == expected_mask


def test_encode_options():
    vocab = WordVocab.build(TEXTS)
    ids, mask = vocab.encode(["good film", ""], max_length=5, padding="max_length")
    assert ids.tolist() == [[2, 4, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert mask.tolist() == [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    ids, mask = vocab.encode(["unseen words only"])
    assert ids.tolist() == [[1, 1, 1]] and mask.tolist() == [[1, 1, 1]]
    ids, _ = vocab.encode([])
    assert ids.shape[0] == 0
    # a text spelled like the pad token is an unknown word, never padding
    assert WordVocab(["x"], tokenizer="whitespace").encode(["<pad> x"])[0].tolist() == [[1, 2]]
    with pytest.raises(ConfigError, match="max_length"):
        vocab.encode(["a"], max_length=0)
    with pytest.raises(ConfigError, match="needs max_length"):
        vocab.encode(["a"], padding="max_length")
    with pytest.raises(ConfigError, match="padding"):
        vocab.encode(["a"], 3, padding="left")
    with pytest.raises(DataError):
        vocab.encode(["a", None])


def test_json_round_trip(tmp_path):
    vocab = WordVocab.build(TEXTS, min_freq=1)
    path = vocab.save(tmp_path / "sub" / "vocab.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "textsmooth-word-vocab" and "café" in data["words"]
    loaded = WordVocab.load(path)
    assert loaded == vocab and loaded.counts == vocab.counts
    for a, b in zip(loaded.encode(TEXTS, 4), vocab.encode(TEXTS, 4), strict=True):
        assert torch.equal(a, b)
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]


def test_load_errors_and_callable_tokenizer(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        WordVocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="cannot read"):
        WordVocab.load(bad)
    bad.write_text(json.dumps({"format": "something-else"}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a textsmooth-word-vocab"):
        WordVocab.load(bad)
    bad.write_text(json.dumps({"format": "textsmooth-word-vocab", "version": 1, "words": ["a", "a"]}))
    with pytest.raises(ArtifactError, match="inconsistent"):
        WordVocab.load(bad)
    custom = WordVocab.build(["x-y z"], tokenizer=lambda t: t.split("-"))
    assert custom.words == ["x", "y z"]
    assert custom.encode(["y z-x-q"])[0].tolist() == [[3, 2, 1]]
    with pytest.raises(ConfigError, match="callable"):
        custom.save(tmp_path / "c.json")


def test_constructor_and_build_errors():
    with pytest.raises(ConfigError, match="repeat"):
        WordVocab(["a", "a"])
    with pytest.raises(ConfigError, match="special"):
        WordVocab(["<unk>"])
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        WordVocab(["a"], tokenizer="bpe")
    with pytest.raises(ConfigError, match="min_freq"):
        WordVocab.build(TEXTS, min_freq=0)
    with pytest.raises(ConfigError, match="max_size"):
        WordVocab.build(TEXTS, max_size=-1)
