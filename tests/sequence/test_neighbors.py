"""SemanticNeighbors with the real MiniLM on a slice of Multi30k: invariants, re-ranking, resume."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from textsmooth.errors import ConfigError, DataError, InputError
from textsmooth.sequence import NeighborTable, SemanticNeighbors, duplicate_groups
from textsmooth.sequence.neighbors import _normalize, assemble_table


def _fit(targets, encoder, tmp_path=None, **kw):
    params = dict(k=10, keep=3, bleu_order=4, encoder=encoder, shard_size=64)
    params.update(kw)
    return SemanticNeighbors(**params).fit(targets, work_dir=tmp_path)


def test_target_and_duplicates_are_never_neighbours(targets_with_duplicates, encoder):
    targets = targets_with_duplicates
    sn = _fit(targets, encoder)
    table = sn.table_
    lists = table.as_lists()
    assert len(lists) == len(targets)
    for t, nbrs in enumerate(lists):
        assert len(nbrs) == 3
        assert t not in nbrs
        assert len(set(nbrs)) == len(nbrs)  # distinct sentences
        for j in nbrs:
            assert _normalize(targets[j]) != _normalize(targets[t])
    # rows with the same (normalized) text share their neighbours
    assert lists[0] == lists[len(targets) - 2]
    groups, first = duplicate_groups(targets)
    assert len(first) < len(targets) - 2  # the task-2 caption copies of task-1 lines were merged
    for t in range(len(targets)):
        assert lists[t] == lists[first[groups[t]]]


def test_exact_duplicates_mode_only_merges_identical_strings(targets_with_duplicates, encoder):
    targets = targets_with_duplicates
    sn = _fit(targets, encoder, duplicates="exact")
    for t, nbrs in enumerate(sn.table_.as_lists()):
        assert all(targets[j] != targets[t] for j in nbrs)
    assert len(sn.first_rows_) == len(set(targets))


def test_bleu_rerank_matches_sacrebleu_and_orders_rows(en, encoder):
    targets = en[:80]
    sn = _fit(targets, encoder, k=15, keep=5, bleu_order=3)
    tb = sn.table_
    metric = BLEU(max_ngram_order=3, effective_order=True)
    want = [
        metric.sentence_score(targets[j], [targets[t]]).score
        for t, j in zip(tb.target_id, tb.neighbor_id, strict=True)
    ]
    np.testing.assert_allclose(tb.bleu, want, atol=1e-9)
    for t in range(len(targets)):
        rows = tb.target_id == t
        assert np.all(np.diff(tb.bleu[rows]) <= 1e-12)
        assert tb.rank[rows].tolist() == [1, 2, 3, 4, 5]
    # cosines are those of the embeddings, and every kept neighbour is among the 15 nearest
    vec = encoder.encode(targets)
    np.testing.assert_allclose(tb.cosine, (vec[tb.target_id] * vec[tb.neighbor_id]).sum(1), atol=1e-5)
    sims = vec @ vec.T
    np.fill_diagonal(sims, -np.inf)
    kth = np.sort(sims, axis=1)[:, -15]
    assert np.all(tb.cosine >= kth[tb.target_id] - 1e-5)


@pytest.mark.parametrize("bleu_order", [4, None])
def test_a_larger_keep_extends_the_table_without_changing_its_best_rows(en, encoder, bleu_order):
    """The best k' of the best K' are the best k': a recipe row with a larger k' rebuilds the table, and the
    rows with the smaller k' still train on the same related targets (rank <= k')."""
    targets = en[:60]
    small = _fit(targets, encoder, k=15, keep=3, bleu_order=bleu_order).table_
    large = _fit(targets, encoder, k=15, keep=6, bleu_order=bleu_order).table_
    best = large.rank <= 3
    for column in ("target_id", "neighbor_id", "rank", "cosine"):
        np.testing.assert_array_equal(getattr(large, column)[best], getattr(small, column))
    np.testing.assert_array_equal(large.bleu[best], small.bleu)  # NaN == NaN here
    assert (large.rank == 6).sum() == len(targets)


def test_without_bleu_pruning_keeps_cosine_order(en, encoder):
    targets = en[:50]
    tb = _fit(targets, encoder, k=8, keep=4, bleu_order=None).table_
    assert np.isnan(tb.bleu).all()
    for t in range(len(targets)):
        cos = tb.cosine[tb.target_id == t]
        assert np.all(np.diff(cos) <= 1e-7)


def test_resume_after_interruption_equals_uninterrupted_run(en, encoder, tmp_path):
    targets = en[:150]
    full = _fit(targets, encoder, shard_size=32).table_
    work = tmp_path / "work"

    def stop_after_two(i, n_shards):
        if i == 1:
            raise KeyboardInterrupt

    sn = SemanticNeighbors(k=10, keep=3, encoder=encoder, shard_size=32)
    with pytest.raises(KeyboardInterrupt):
        sn.fit(targets, work_dir=work, on_shard=stop_after_two)
    done = sorted(p.name for p in work.glob("shard-*.npz"))
    assert done == ["shard-00000.npz", "shard-00001.npz"]
    assert not list(work.glob("*.tmp"))  # nothing half-written
    computed = []
    resumed = SemanticNeighbors(k=10, keep=3, encoder=encoder, shard_size=32)
    resumed._compute_shard = _spy(resumed._compute_shard, computed)
    resumed.fit(targets, work_dir=work)
    assert len(computed) == 3  # shards 2, 3, 4 only
    for name in ("target_id", "rank", "neighbor_id", "cosine", "bleu"):
        np.testing.assert_array_equal(getattr(resumed.table_, name), getattr(full, name))
    SemanticNeighbors.clean_work(work)
    assert not work.exists()


def _spy(fn, calls):
    def wrapper(*args, **kwargs):
        calls.append(args[2])
        return fn(*args, **kwargs)

    return wrapper


def test_work_folder_of_another_run_is_discarded(en, encoder, tmp_path):
    work = tmp_path / "work"
    _fit(en[:40], encoder, work, shard_size=16)
    with pytest.warns(UserWarning, match="another run"):
        sn = _fit(en[:40], encoder, work, shard_size=16, keep=2)
    assert sn.table_.rank.max() == 2


def test_corpus_smaller_than_k_reduces_k_with_a_warning(en, encoder):
    targets = [*en[:6], en[0]]  # 6 distinct targets
    with pytest.warns(UserWarning, match="k reduced from 100 to 5"):
        sn = SemanticNeighbors(k=100, keep=5, encoder=encoder).fit(targets)
    assert sn.k_ == 5 and sn.keep_ == 5
    assert all(len(n) == 5 for n in sn.table_.as_lists())
    with pytest.warns(UserWarning, match="keep from 5 to 2"):
        sn = SemanticNeighbors(k=100, keep=5, encoder=encoder).fit(en[:3])
    assert sn.keep_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = SemanticNeighbors(k=3, keep=1, encoder=encoder).fit([en[0], en[0]])
    assert len(single.table_) == 0


def test_bad_parameters_and_inputs(en, encoder):
    with pytest.raises(ConfigError, match="keep"):
        SemanticNeighbors(k=5, keep=10, encoder=encoder).fit(en[:20])
    with pytest.raises(ConfigError, match="bleu_order"):
        SemanticNeighbors(bleu_order=-1, encoder=encoder).fit(en[:20])
    with pytest.raises(ConfigError, match="index"):
        SemanticNeighbors(index="ivf", encoder=encoder).fit(en[:20])
    with pytest.raises(DataError, match="row 3"):
        SemanticNeighbors(k=2, keep=1, encoder=encoder).fit([en[0], en[1], "  ", en[2]])
    with pytest.raises(ConfigError, match="sources"):
        SemanticNeighbors(k=2, keep=1, embed_side="source", encoder=encoder).fit(en[:5])
    with pytest.raises(InputError, match="sources has 4 rows"):
        SemanticNeighbors(k=2, keep=1, embed_side="source", encoder=encoder).fit(en[:5], sources=en[:4])
    with pytest.raises(InputError, match="embeddings"):
        SemanticNeighbors(k=2, keep=1).fit(en[:5], embeddings=np.zeros((4, 3)))


def test_embed_side_source_returns_target_rows(en, de, encoder):
    sn = SemanticNeighbors(k=8, keep=3, encoder=encoder, embed_side="source").fit(de[:60], sources=en[:60])
    tb = sn.table_
    # neighbours were found through the English sources...
    vec = encoder.encode(en[:60])
    np.testing.assert_allclose(tb.cosine, (vec[tb.target_id] * vec[tb.neighbor_id]).sum(1), atol=1e-5)
    # ... and are German targets, BLEU-scored against the German target
    metric = BLEU(effective_order=True)
    want = [
        metric.sentence_score(de[j], [de[t]]).score for t, j in zip(tb.target_id, tb.neighbor_id, strict=True)
    ]
    np.testing.assert_allclose(tb.bleu, want, atol=1e-9)


def test_backends_agree(en, encoder):
    targets = en[:120]
    flat = _fit(targets, encoder, k=10, keep=10, bleu_order=None, index="flat").table_
    brute = _fit(targets, encoder, k=10, keep=10, bleu_order=None, index="brute").table_
    hnsw = _fit(targets, encoder, k=10, keep=10, bleu_order=None, index="hnsw").table_
    np.testing.assert_allclose(flat.cosine, brute.cosine, atol=1e-5)
    same = np.mean(flat.neighbor_id == brute.neighbor_id)
    assert same > 0.97  # only float ties may swap
    recall = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(flat.as_lists(), hnsw.as_lists(), strict=True)]
    )
    assert recall > 0.95


def test_precomputed_embeddings_and_table_round_trip(en, encoder, tmp_path):
    targets = en[:40]
    vec = encoder.encode(targets)
    sn = SemanticNeighbors(k=6, keep=2, with_text=True).fit(targets, embeddings=vec)
    ref = _fit(targets, encoder, k=6, keep=2).table_
    np.testing.assert_array_equal(sn.table_.neighbor_id, ref.neighbor_id)
    path = sn.write(tmp_path / "t.parquet", targets)
    back = NeighborTable.read(path, texts=targets)
    np.testing.assert_array_equal(back.neighbor_id, sn.table_.neighbor_id)
    assert back.neighbor_text == [targets[j] for j in sn.table_.neighbor_id]
    assert back.meta["parameters"]["k_effective"] == 6
    assert back.related_texts()[0] == [targets[j] for j in sn.table_.neighbors_of(0)]


def test_leftovers_of_a_killed_run_are_ignored_and_cleaned(en, encoder, tmp_path):
    targets = en[:40]
    work = tmp_path / "work"
    work.mkdir()
    # what SIGKILL during an atomic write leaves behind: a temporary file, never the final name
    (work / ".shard-00001.npz.k1ll3d.tmp").write_bytes(b"half-written")
    (work / "shard-00002.npz").write_bytes(b"not an npz")  # a shard of no known run
    with pytest.warns(UserWarning, match="another run"):
        sn = _fit(targets, encoder, work, shard_size=16)
    (work / "shard-00002.npz").write_bytes(b"not an npz")  # corrupt shard of this run: recomputed
    sn = _fit(targets, encoder, work, shard_size=16)
    ref = _fit(targets, encoder, shard_size=16)
    np.testing.assert_array_equal(sn.table_.neighbor_id, ref.table_.neighbor_id)
    SemanticNeighbors.clean_work(work)
    assert not work.exists()


def test_flat_falls_back_to_brute_without_faiss(en, encoder, monkeypatch):
    import textsmooth.sequence.knn as knn

    vec = encoder.encode(en[:30])
    monkeypatch.setattr(knn, "faiss_available", lambda: False)
    with pytest.warns(UserWarning, match="faiss is not installed"):
        index = knn.KnnIndex(vec, backend="flat")
    assert index.backend == "brute"
    ids, _ = index.search_rows(np.arange(30), 5)
    assert ids.shape == (30, 5) and not (ids == np.arange(30)[:, None]).any()
    with pytest.raises(ConfigError, match="needs faiss"):
        knn.KnnIndex(vec, backend="hnsw")


def test_hnsw_index_is_saved_once_and_reused_on_resume(en, encoder, tmp_path):
    targets = en[:90]
    work = tmp_path / "work"

    def stop(i, n_shards):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        SemanticNeighbors(k=8, keep=3, encoder=encoder, index="hnsw", shard_size=32).fit(
            targets, work_dir=work, on_shard=stop
        )
    (index_file,) = work.glob("index-*.faiss")
    stamp = index_file.stat().st_mtime_ns
    sn = SemanticNeighbors(k=8, keep=3, encoder=encoder, index="hnsw", shard_size=32).fit(
        targets, work_dir=work
    )
    assert index_file.stat().st_mtime_ns == stamp
    lists = sn.table_.as_lists()
    assert all(len(n) == 3 and t not in n for t, n in enumerate(lists))


def test_brute_blocks_are_capped(monkeypatch, en, encoder):
    import textsmooth.sequence.knn as knn

    monkeypatch.setattr(knn, "BRUTE_MAX_CELLS", 50)  # 50 // 30 rows -> blocks of 1 query
    vec = encoder.encode(en[:30])
    capped = knn.KnnIndex(vec, backend="brute", block_size=4096).search_rows(np.arange(30), 4)
    flat = knn.KnnIndex(vec, backend="flat").search_rows(np.arange(30), 4)
    np.testing.assert_array_equal(capped[0], flat[0])


def test_min_cosine_filters_candidates_before_reranking(en, encoder, tmp_path):
    targets = en[:80]
    vec = encoder.encode(targets)
    floor = 0.45
    sn = SemanticNeighbors(k=15, keep=5, bleu_order=4, min_cosine=floor).fit(targets, embeddings=vec)
    tb = sn.table_
    assert len(tb) > 0 and np.all(tb.cosine >= floor)
    # reference: the 15 nearest by cosine, those >= floor, sorted by sacrebleu BLEU-4 (then cosine), first 5
    knn = SemanticNeighbors(k=15, keep=15, bleu_order=None).fit(targets, embeddings=vec).table_
    metric = BLEU(effective_order=True)
    lists = tb.as_lists()
    counts = []
    for t in range(len(targets)):
        rows = np.flatnonzero((knn.target_id == t) & (knn.cosine >= floor))
        scored = [(-metric.sentence_score(targets[j], [targets[t]]).score, -knn.cosine[r], j)
                  for r, j in zip(rows, knn.neighbor_id[rows], strict=True)]  # fmt: skip
        want = [j for _, _, j in sorted(scored)[:5]]
        assert lists[t] == want, t
        counts.append(len(want))
        assert tb.rank[tb.target_id == t].tolist() == list(range(1, len(want) + 1))
    counts = np.array(counts)
    assert sn.short_rows_ == (int((counts < 5).sum()), int((counts == 0).sum()))
    assert sn.short_rows_[0] > 0  # the floor really removed candidates on this small corpus
    path = sn.write(tmp_path / "t.parquet", targets)
    params = NeighborTable.read(path, texts=targets).meta["parameters"]
    assert params["min_cosine"] == floor
    assert (params["targets_below_keep"], params["targets_without_related"]) == sn.short_rows_
    # without re-ranking the floor only truncates the cosine order
    plain = SemanticNeighbors(k=15, keep=5, bleu_order=None, min_cosine=floor).fit(targets, embeddings=vec)
    base = SemanticNeighbors(k=15, keep=5, bleu_order=None).fit(targets, embeddings=vec).table_
    keep = base.cosine >= floor
    np.testing.assert_array_equal(plain.table_.neighbor_id, base.neighbor_id[keep])
    none = SemanticNeighbors(k=5, keep=2, bleu_order=4, min_cosine=1.0).fit(targets, embeddings=vec)
    assert len(none.table_) == 0 and none.short_rows_ == (80, 80)


@pytest.mark.parametrize("bad", [1.5, -2, "0.3", True, float("nan")])
def test_min_cosine_must_be_a_cosine(en, bad):
    vec = np.eye(4, dtype=np.float32)
    with pytest.raises(ConfigError, match="min_cosine"):
        SemanticNeighbors(k=2, keep=1, min_cosine=bad).fit(en[:4], embeddings=vec)


def test_every_generator_refuses_empty_targets():
    from textsmooth.sequence import TokenSwapTargets, WithinBatchTargets

    for gen in (SemanticNeighbors(k=2, keep=1), WithinBatchTargets(), TokenSwapTargets()):
        with pytest.raises(DataError, match="targets is empty"):
            gen.fit([])


def test_assemble_table_spreads_group_neighbours_to_every_row():
    # rows 0 and 2 are one group (g0), row 1 is g1, row 3 is g2; keep = 2
    targets = ["a cat", "a dog", "A cat.", "a bird"]
    groups, first = duplicate_groups(targets)
    assert groups.tolist() == [0, 1, 0, 2] and first.tolist() == [0, 1, 3]
    shards = [  # in group order, split in two shards; -1 pads g2's second neighbour
        (
            np.array([[1, 2], [0, 2]]),
            np.array([[0.9, 0.8], [0.9, 0.7]], np.float32),
            np.array([[50.0, 40.0], [50.0, 30.0]]),
        ),
        (np.array([[0, -1]]), np.array([[0.8, np.nan]], np.float32), np.array([[40.0, np.nan]])),
    ]
    table, short = assemble_table(targets, groups, first, shards, keep=2, with_text=True)
    expected = {0: [1, 3], 1: [0, 3], 2: [1, 3], 3: [0]}  # group ids named by their first rows
    assert {t: table.neighbors_of(t).tolist() for t in range(4)} == expected
    assert short == (1, 0)
    assert table.related_texts() == [["a dog", "a bird"], ["a cat", "a bird"], ["a dog", "a bird"], ["a cat"]]
    assert table.bleu.tolist() == [50.0, 40.0, 50.0, 30.0, 50.0, 40.0, 40.0]
    assert np.allclose(table.cosine, [0.9, 0.8, 0.9, 0.7, 0.9, 0.8, 0.8])
