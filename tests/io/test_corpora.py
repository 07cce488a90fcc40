"""Benchmark corpus readers on the shared data (published split sizes and label sets)."""

from __future__ import annotations

import lzma

import numpy as np
import pytest

from textsmooth.errors import ConfigError, DataError
from textsmooth.io.corpora import _strip_headers, load_corpus

from ..conftest import SHARED_DATA

needs_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="shared data not found")


@needs_data
@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "n_classes"),
    [("trec", 5452, 500, 6), ("sst2", 67349, 1821, 2), ("20newsgroups", 11314, 7532, 20)],
)
def test_published_split_sizes(name, n_train, n_test, n_classes):
    train, test = load_corpus(name, SHARED_DATA)
    assert (len(train), len(test), train.n_classes) == (n_train, n_test, n_classes)
    assert train.label_names == test.label_names
    assert np.bincount(train.labels, minlength=n_classes).min() > 0
    assert all(isinstance(t, str) and t for t in train.texts[:100])


def test_newsgroup_headers_keep_only_subject():
    message = (
        "From: someone@site.edu\nSubject: Re: engine sizes\nOrganization: Uni\nLines: 3\n\nBody text\nhere\n"
    )
    assert _strip_headers(message) == "Re: engine sizes\nBody text\nhere"


def test_unknown_corpus():
    with pytest.raises(ConfigError, match="unknown corpus"):
        load_corpus("agnews")


@needs_data
def test_sst2_dev_replaces_the_test_split():
    train, dev = load_corpus("sst2-dev", SHARED_DATA)
    assert (len(train), len(dev)) == (67349, 872)


@needs_data
def test_found_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTSMOOTH_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    train, test = load_corpus("trec")
    assert (len(train), len(test)) == (5452, 500)


def test_environment_variable_and_explicit_root(tmp_path, monkeypatch):
    trec = tmp_path / "data" / "senteval" / "TREC"
    trec.mkdir(parents=True)
    (trec / "train_5500.label.xz").write_bytes(lzma.compress(b"DESC:manner How do I fly ?\nHUM:ind Who ?\n"))
    (trec / "TREC_10.label.xz").write_bytes(lzma.compress(b"LOC:city Where is Oslo ?\n"))
    monkeypatch.setenv("TEXTSMOOTH_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    train, test = load_corpus("trec")
    assert train.texts == ["How do I fly ?", "Who ?"] and test.texts == ["Where is Oslo ?"]
    assert load_corpus("trec", tmp_path / "data" / "senteval")[1].texts == ["Where is Oslo ?"]
    with pytest.raises(DataError, match=r"senteval/ \(with TREC\) not found"):
        load_corpus("trec", tmp_path)


def test_corpus_lines_split_on_newline_only(tmp_path):
    """A latin-1 0x85 byte (U+0085, NEL) or U+2028 inside a line is text, not a line break."""
    trec = tmp_path / "senteval" / "TREC"
    trec.mkdir(parents=True)
    (trec / "train_5500.label.xz").write_bytes(
        lzma.compress(b"DESC:manner How do I\x85 fly ?\r\nHUM:ind Who ?\n")
    )
    (trec / "TREC_10.label.xz").write_bytes(lzma.compress(b"LOC:city Where is Oslo ?\n"))
    sst = tmp_path / "senteval" / "SST" / "binary"
    sst.mkdir(parents=True)
    for split in ("train", "test"):
        (sst / f"sentiment-{split}.xz").write_bytes(lzma.compress("a fine\u2028film\t1\ndull\t0\n".encode()))
    train, _ = load_corpus("trec", tmp_path)
    assert train.texts == ["How do I\x85 fly ?", "Who ?"]
    assert load_corpus("sst2", tmp_path)[0].texts == ["a fine\u2028film", "dull"]
