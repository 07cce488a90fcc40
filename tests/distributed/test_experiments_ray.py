"""``experiment run --backend ray``: every training a Ray task, with the records of a local run, into the
same run folder layout, resumable; and the ``RayExecutor`` the runners use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("ray")

from textsmooth.cli import app
from textsmooth.distributed import RayExecutor
from textsmooth.errors import ConfigError, DataError, InputError
from textsmooth.experiments.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
TIMINGS = ("seconds", "resumed", "train_seconds")
# The tests import ``recipe_copies`` (tests/) inside their bodies: Ray workers import this module to run
# its functions, and tests/ is not on their path.
runner = CliRunner()


def run_cli(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def assert_same_records(local: Path, ray: Path, n: int) -> None:
    names = sorted(p.name for p in (local / "results").glob("*.json"))
    assert len(names) == n and names == sorted(p.name for p in (ray / "results").glob("*.json"))
    for name in names:
        a = json.loads((local / "results" / name).read_text(encoding="utf-8"))
        b = json.loads((ray / "results" / name).read_text(encoding="utf-8"))
        assert set(a) == set(b)
        for record in (a, b):  # seconds per epoch (seq2seq) are timings too
            record["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
        for key in sorted(set(a) - set(TIMINGS)):
            assert a[key] == b[key], f"{name}: {key} differs between --jobs 1 and --backend ray"
    for other in ("recipe.yaml",):
        assert (local / other).read_text(encoding="utf-8") == (ray / other).read_text(encoding="utf-8")


def result_stamps(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}


def test_classification_recipe_on_ray_gives_the_local_records(ray_local, tmp_path):
    from recipe_copies import copy_recipe

    # LS-Distill listed first: on Ray too it waits for its teacher, the hard-label run
    recipe = copy_recipe(
        "ci-tiny.yaml",
        tmp_path,
        methods=[{"method": "distill", "alpha": 1.0}, {"method": "none"}, {"method": "kwls", "alpha": 1.0}],
        resources={"cpus": 1},
    )
    common = ["experiment", "run", recipe, "--no-progress", "--no-report", "--seeds", "0"]
    run_cli(*common, "-o", tmp_path / "local")
    log = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "3 trainings on Ray tasks (1 CPU, 0 GPUs each)" in log
    assert log.index("none__seed0 started") < log.index("distill__seed0 started")
    assert_same_records(tmp_path / "local", tmp_path / "ray", 3)
    for path in (tmp_path / "local" / "results").glob("*.npz"):
        with np.load(path) as x, np.load(tmp_path / "ray" / "results" / path.name) as y:
            assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    # a rerun trains nothing
    stamps = result_stamps(tmp_path / "ray")
    again = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "started" not in again and "3 of 3 runs finished" in again
    assert result_stamps(tmp_path / "ray") == stamps


def test_seq2seq_recipe_on_ray_gives_the_local_records(ray_local, tmp_path):
    from recipe_copies import copy_recipe
    from textsmooth.sequence import multi30k_root

    try:
        multi30k_root()
    except DataError:
        pytest.skip("Multi30k is not beside the repository")
    recipe = copy_recipe("ci-seq2seq-tiny.yaml", tmp_path)
    common = ["experiment", "run", recipe, "--no-progress", "--no-report"]
    run_cli(*common, "-o", tmp_path / "local")
    log = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "2 trainings on Ray tasks" in log
    assert_same_records(tmp_path / "local", tmp_path / "ray", 2)
    for path in (tmp_path / "local" / "results").glob("*.hyp.txt"):
        assert path.read_text(encoding="utf-8") == (tmp_path / "ray" / "results" / path.name).read_text(
            encoding="utf-8"
        )
    stamps = result_stamps(tmp_path / "ray")
    again = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "trainings on Ray" not in again and "2 of 2 runs finished" in again
    assert result_stamps(tmp_path / "ray") == stamps


def test_autoencoder_recipe_on_ray_gives_the_local_records(ray_local, tmp_path):
    from recipe_copies import copy_recipe

    pytest.importorskip("gensim")
    pytest.importorskip("sklearn")
    from textsmooth.io.corpora import find_data_dir

    try:
        for name in ("senteval", "mrpc_original", "sick_full"):
            find_data_dir(name)
    except DataError:
        pytest.skip("SentEval / MRPC / SICK are not beside the repository")
    recipe = copy_recipe("ci-autoencoder-tiny.yaml", tmp_path)
    common = ["experiment", "run", recipe, "--no-progress", "--no-report"]
    run_cli(*common, "-o", tmp_path / "local")
    log = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "2 trainings on Ray tasks" in log
    assert_same_records(tmp_path / "local", tmp_path / "ray", 2)
    stamps = result_stamps(tmp_path / "ray")
    again = run_cli(*common, "-o", tmp_path / "ray", "--backend", "ray")
    assert "0 to train" in again and "trainings on Ray" not in again
    assert result_stamps(tmp_path / "ray") == stamps


def _fails(value: int) -> int:
    if value < 0:
        raise InputError(f"value {value} is negative", column="value")
    return value * 2


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def test_ray_executor_runs_calls_as_tasks(ray_local):
    with RayExecutor(num_cpus=1) as executor:
        assert executor.submit(_fails, 21).result() == 42
        assert executor.submit(_threads).result() == 1
        with pytest.raises(InputError, match="value -1 is negative"):  # a library error, as itself
            executor.submit(_fails, -1).result()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(_fails, 1)
    assert RayExecutor(num_cpus=2.5).threads == 2
    assert RayExecutor(num_cpus=0.5).description == "Ray tasks (0.5 CPUs, 0 GPUs each)"


def _die_once(marker: str) -> int:
    """Kills its worker process the first time (as an out-of-memory kill would), answers the second."""
    if not Path(marker).exists():
        Path(marker).write_text("killed", encoding="utf-8")
        os._exit(1)
    return 7


def test_a_task_whose_worker_dies_is_run_again(ray_local, tmp_path):
    marker = tmp_path / "killed"
    with RayExecutor(max_retries=1) as executor:
        assert executor.submit(_die_once, str(marker)).result() == 7
    assert marker.exists()


def test_resources_of_a_recipe_are_checked(tmp_path):
    from recipe_copies import copy_recipe

    recipe = load_recipe(copy_recipe("ci-tiny.yaml", tmp_path, resources={"cpus": 2, "gpus": 0.5}))
    executor = RayExecutor.for_recipe(recipe)
    assert (executor.num_cpus, executor.num_gpus, executor.threads) == (2, 0.5, 2)
    default = RayExecutor.for_recipe(load_recipe(copy_recipe("ci-tiny.yaml", tmp_path)))
    assert (default.num_cpus, default.num_gpus) == (1, 0)
    for resources, message in (
        ({"cpus": 0}, "resources.cpus"),
        ({"gpus": -1}, "resources.gpus"),
        ({"memory": 4}, "resources takes cpus and gpus"),
        ([1, 0], "resources takes cpus and gpus"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_recipe(copy_recipe("ci-tiny.yaml", tmp_path, resources=resources))
    with pytest.raises(ConfigError, match="num_cpus must be > 0"):
        RayExecutor(num_cpus=0)


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--backend", "ray", "--jobs", "2"], "--jobs"), (["--address", "auto"], "--address")],
)
def test_backend_options_are_checked_first(tmp_path, args, option):
    from recipe_copies import copy_recipe

    recipe = copy_recipe("ci-tiny.yaml", tmp_path)
    result = runner.invoke(app, ["experiment", "run", str(recipe), "-o", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert f"option {option}" in result.output
    assert not (tmp_path / "out").exists()


def _train_tiny(out: str, kill_marker: str | None = None) -> dict:
    """Train a tiny seq2seq model (2 epochs of 6 steps, a checkpoint every 4 steps) into ``out``.

    With ``kill_marker`` not yet on disk, a watcher thread kills the worker process the moment the first
    checkpoint appears (mid-run, as a lost node would), after writing the marker: Ray runs the task again,
    and the second attempt must resume from that checkpoint."""
    import threading
    import time

    from textsmooth.seq2seq import ParallelCorpus, Seq2SeqConfig, read_parallel, train_seq2seq

    sample = REPO / "tests" / "data" / "multi30k_sample"
    pairs = read_parallel(sample / "train.de", sample / "train.en")
    train = pairs.subset(96)
    val = ParallelCorpus(pairs.sources[96:112], pairs.targets[96:112])
    test = ParallelCorpus(pairs.sources[112:128], pairs.targets[112:128])
    config = Seq2SeqConfig(
        d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, vocab_size=300, min_frequency=1,
        batch_size=16, warmup_steps=10, lr=3e-3, max_length=96, beam_size=2, eval_batch_size=16, epochs=2,
        checkpoint_every=4, num_threads=1,
    )  # fmt: skip
    if kill_marker is not None and not Path(kill_marker).exists():

        def kill_at_first_checkpoint() -> None:
            while not (Path(out) / "checkpoint.pt").exists():
                time.sleep(0.005)
            metrics = Path(out) / "metrics.jsonl"  # one line per finished epoch
            epochs_done = len(metrics.read_text().splitlines()) if metrics.exists() else 0
            Path(kill_marker).write_text(str(epochs_done), encoding="utf-8")
            os._exit(1)

        threading.Thread(target=kill_at_first_checkpoint, daemon=True).start()
    result = train_seq2seq(train, val, config, out_dir=Path(out), test=test, progress=False, save_model=False)
    return {
        "resumed": result.resumed,
        "steps": result.steps,
        "history": [(h["epoch"], h["val_bleu"], h["train_loss"]) for h in result.history],
        "hypotheses": result.test_hypotheses,
        "scores": result.test_scores,
    }


def test_a_training_killed_mid_run_resumes_on_retry_to_the_uninterrupted_result(ray_local, tmp_path):
    marker = tmp_path / "killed"
    with RayExecutor(max_retries=1) as executor:
        retried = executor.submit(_train_tiny, str(tmp_path / "ray"), str(marker)).result()
    assert marker.read_text() == "0"  # the first attempt died at its first checkpoint, inside epoch 1
    assert retried["resumed"]  # so the second one started from it
    local = _train_tiny(str(tmp_path / "local"))
    assert not local["resumed"]
    assert retried["steps"] == local["steps"] == 12
    assert retried["history"] == local["history"]
    assert retried["hypotheses"] == local["hypotheses"] and retried["scores"] == local["scores"]
