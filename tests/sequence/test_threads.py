"""The default thread count: named constants, an environment override, explicit values win."""

from __future__ import annotations

import pytest

from textsmooth.errors import ConfigError
from textsmooth.sequence import _threads
from textsmooth.sequence._threads import THREADS_ENV, resolve_threads, thread_limit


def test_default_is_all_cores_but_the_spare_ones(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    for cores, expected in ((1, 1), (2, 1), (16, 15), (None, 1)):
        monkeypatch.setattr(_threads.os, "cpu_count", lambda cores=cores: cores)
        assert resolve_threads(None) == expected
    monkeypatch.setattr(_threads, "SPARE_CORES", 0)
    assert resolve_threads(None) == 1  # cpu_count() None counts as one core


def test_environment_replaces_the_default_but_not_an_explicit_value(monkeypatch):
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 16)
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_threads(None) == 3 and resolve_threads(2) == 2
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with thread_limit(None, faiss_=False) as n:
        assert n == 3 and torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=THREADS_ENV):
            resolve_threads(None)
    with pytest.raises(ConfigError, match="num_threads"):
        resolve_threads(0)


@pytest.mark.parametrize("backend", ["flat", "brute"])
def test_exact_knn_gives_the_same_cosines_for_any_thread_count_and_block(backend):
    """A BLAS product sums in an order that depends on its threads and blocking (faiss flat gave cosines
    1e-7 apart with 1 and 2 threads before the exact re-scoring): the table must not depend on the host."""
    import numpy as np

    from textsmooth.sequence.knn import KnnIndex

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.arange(3000)
    ids, sims = KnnIndex(vectors, backend=backend, num_threads=1).search_rows(rows, 10)
    for threads, block in ((2, 4096), (2, 37), (1, 500)):
        other = KnnIndex(vectors, backend=backend, num_threads=threads, block_size=block).search_rows(
            rows, 10
        )
        np.testing.assert_array_equal(other[0], ids)
        np.testing.assert_array_equal(other[1], sims)  # bit for bit


def test_exact_cosines_is_the_dot_product_of_each_pair():
    import numpy as np

    from textsmooth.sequence.knn import exact_cosines

    rng = np.random.default_rng(1)
    queries = rng.standard_normal((300, 16)).astype(np.float32)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    ids = rng.integers(-1, 50, size=(300, 7))
    out = exact_cosines(queries, vectors, ids)
    for i in range(300):  # a plain loop, in float64
        for j in range(7):
            if ids[i, j] < 0:
                assert np.isnan(out[i, j])
            else:
                want = float(np.dot(queries[i].astype(np.float64), vectors[ids[i, j]].astype(np.float64)))
                assert out[i, j] == pytest.approx(want, abs=1e-5)
    assert out.dtype == np.float32
