"""Benchmark corpus readers on the shared data (published split sizes and label sets)."""

from __future__ import annotations

import numpy as np
import pytest

from textsmooth.errors import ConfigError
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
