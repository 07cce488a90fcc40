"""A fitted KWLS / LS-TFIDF smoother is not changed by using it (transform, relevance, explain)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from textsmooth import KeywordSmoother, TfidfSmoother
from textsmooth.targets.keyword import load_smoother

DOCS = ["great fun film", "dull boring film", "fun fun plot", "bad plot twist", "great plot"]
LABELS = [1, 0, 1, 0, 1]
QUERIES = ["great film", "unseen words only", "boring boring twist", "fun"]


def _snapshot(estimator: Any) -> dict[str, Any]:
    """A deep copy of every attribute of ``estimator`` (arrays, sparse matrices, Arrow arrays, lists)."""
    out: dict[str, Any] = {}
    for name, value in vars(estimator).items():
        if sp.issparse(value):
            out[name] = ("sparse", value.shape, value.data.copy(), value.indices.copy(), value.indptr.copy())
        elif isinstance(value, np.ndarray):
            out[name] = ("array", value.copy())
        elif isinstance(value, pa.Array):
            out[name] = ("arrow", value.to_pylist())
        else:
            out[name] = ("value", repr(value))
    return out


def _assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert sorted(after) == sorted(before)
    for name, (kind, *parts) in before.items():
        assert after[name][0] == kind, name
        for old, new in zip(parts, after[name][1:], strict=True):
            if isinstance(old, np.ndarray):
                np.testing.assert_array_equal(new, old, err_msg=name)
                assert new.dtype == old.dtype, name
            else:
                assert new == old, name


@pytest.mark.parametrize("dense_cells", [10**9, 0])  # dense WLR operand, and the sparse product
@pytest.mark.parametrize("make", [lambda: KeywordSmoother(tokenizer="space"), lambda: TfidfSmoother()])
def test_transform_leaves_the_fitted_estimator_unchanged(monkeypatch, dense_cells, make):
    import textsmooth.targets.keyword as keyword

    monkeypatch.setattr(keyword, "_DENSE_RELEVANCE_CELLS", dense_cells)
    smoother = make().fit(DOCS, LABELS)
    before = _snapshot(smoother)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the text with no known word
        first = smoother.transform(QUERIES)
        smoother.relevance(QUERIES)
        smoother.explain(QUERIES[0])
        second = smoother.transform(QUERIES)
    _assert_same(before, _snapshot(smoother))
    np.testing.assert_array_equal(second, first)


def test_loaded_smoother_has_the_fitted_attributes_only(tmp_path):
    fitted = KeywordSmoother(tokenizer="space").fit(DOCS, LABELS)
    fitted.save(tmp_path / "kwls.npz")
    loaded = load_smoother(tmp_path / "kwls.npz")
    assert sorted(vars(loaded)) == sorted(vars(fitted))
    before = _snapshot(loaded)
    np.testing.assert_array_equal(loaded.transform(DOCS), fitted.transform(DOCS))
    _assert_same(before, _snapshot(loaded))


def test_dense_and_sparse_products_give_the_same_bits(monkeypatch):
    # the dense operand is chosen per call by size: both products must agree exactly
    import textsmooth.targets.keyword as keyword

    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(80)]
    docs = [" ".join(rng.choice(vocab, size=rng.integers(1, 30))) for _ in range(90)]
    labels = [i % 6 for i in range(90)]
    smoother = KeywordSmoother(tokenizer="space", dtype=np.float64).fit(docs, labels)
    results = []
    for cells in (10**9, 0):
        monkeypatch.setattr(keyword, "_DENSE_RELEVANCE_CELLS", cells)
        assert smoother._dense_operand(10**6) == (cells > 0)
        results.append((smoother.transform(docs), smoother.relevance(docs)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
