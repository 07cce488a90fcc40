"""The training loop on a small TREC slice: every method runs, resume equals an uninterrupted run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textsmooth.errors import ArtifactError, ConfigError, InputError
from textsmooth.io.readers import TextDataset
from textsmooth.training import loop as loop_module
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier
from textsmooth.training.objectives import METHODS


@pytest.fixture(scope="module")
def splits(trec_per_class) -> tuple[TextDataset, TextDataset]:
    return trec_per_class(40, 20, seed=0)  # stratified: 40 training and 20 dev questions per class


def small(**kw) -> TrainConfig:
    base = {"epochs": 1, "batch_size": 32, "max_length": 16, "embed_dim": 16, "min_freq": 1, "num_threads": 1}
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("method", [m for m in METHODS if m != "distill"])
def test_every_method_trains_and_logs(splits, method):
    train, dev = splits
    extra = {"flip_rate": 0.2} if method == "flip" else {}
    result = train_classifier(train, dev, small(method=method, **extra), progress=False)
    assert len(result.history) == 1
    metrics = result.history[0]
    assert 0 <= metrics["accuracy"] <= 1 and np.isfinite(metrics["train_loss"]) and metrics["nll"] > 0
    probs = result.predict_proba(dev.texts[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    if method in ("kwls", "tfidf"):
        assert result.soft_labels.shape == (len(train), train.n_classes)
    if method == "flip":
        assert (result.train_labels != train.labels).any()


def test_distill_and_two_head(splits):
    train, dev = splits
    result = train_classifier(
        train, dev, small(method="distill", kwls_variant="two_head", model="bilstm"), progress=False
    )
    assert result.soft_labels.shape == (len(train), train.n_classes)
    np.testing.assert_allclose(result.soft_labels.sum(axis=1), 1, atol=1e-5)


def test_resume_equals_uninterrupted_run(splits, tmp_path, monkeypatch):
    train, dev = splits
    config = small(epochs=3, patience=5)
    full = train_classifier(train, dev, config, out_dir=tmp_path / "a", progress=False)
    calls = {"n": 0}
    original = loop_module.evaluate_probs

    def crash_on_second_epoch(probs, labels):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(probs, labels)

    monkeypatch.setattr(loop_module, "evaluate_probs", crash_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(train, dev, config, out_dir=tmp_path / "b", progress=False)
    monkeypatch.setattr(loop_module, "evaluate_probs", original)
    resumed = train_classifier(train, dev, config, out_dir=tmp_path / "b", progress=False)
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in full.history]
    )
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    with pytest.raises(ConfigError, match="another configuration"):
        train_classifier(train, dev, small(epochs=2), out_dir=tmp_path / "b", progress=False)


def test_bad_inputs_before_training(splits):
    train, dev = splits
    no_hum = dev.subset(np.flatnonzero(dev.labels != 3))
    with pytest.raises(InputError, match=r"dev split has no example of class.*HUM"):
        train_classifier(train, no_hum, small(), progress=False)
    with pytest.raises(InputError, match=r"training split has no example of class.*HUM"):
        train_classifier(train.subset(np.flatnonzero(train.labels != 3)), dev, small(), progress=False)
    with pytest.raises(ConfigError, match="unknown method"):
        TrainConfig(method="magic")
    with pytest.raises(ConfigError, match="unknown field"):
        TrainConfig.from_dict({"epochs": 1, "lr_schedule": "cosine"})


# ------------------------------------------------------------------ early stopping with min_delta
# Hand-computed references (patience 2). "run" is how many epochs train before stopping.
#   macro_f1 scores 0.50 0.60 0.6005 0.6008 0.59 0.58 0.70 0.71
#   min_delta 0:     best e1 e2 e3 e4, then e5 e6 stale -> stop after e6, best e4
#   min_delta 0.001: e3 (+0.05 pt) and e4 (+0.08 pt) are not > 0.1 pt better than e2 -> stop after e4, best e2
#   min_delta 0.2:   e2 (+10 pt) is not > 20 pt better than e1 -> stop after e3, best e1
#   nll 1.0 0.9 0.8995 0.95 0.85 0.7 (lower is better)
#   min_delta 0:     e3 best, e4 stale, e5 and e6 best -> all 6 run, best e6
#   min_delta 0.001: e3 is only 0.0005 lower -> e3, e4 stale -> stop after e4, best e2
F1_SCORES = [0.50, 0.60, 0.6005, 0.6008, 0.59, 0.58, 0.70, 0.71]
NLL_SCORES = [1.0, 0.9, 0.8995, 0.95, 0.85, 0.7]
REFERENCE = [
    ("macro_f1", F1_SCORES, 0.0, 4, 6),
    ("macro_f1", F1_SCORES, 0.001, 2, 4),
    ("macro_f1", F1_SCORES, 0.2, 1, 3),
    ("nll", NLL_SCORES, 0.0, 6, 6),
    ("nll", NLL_SCORES, 0.001, 2, 4),
]


@pytest.mark.parametrize(("metric", "scores", "min_delta", "best", "run"), REFERENCE)
def test_early_stopping_reference_sequences(metric, scores, min_delta, best, run):
    stop = loop_module.EarlyStopping(metric, patience=2, min_delta=min_delta)
    epochs_run = 0
    for score in scores:
        if stop.should_stop:
            break
        stop.update(score)
        epochs_run += 1
    assert (stop.best_epoch, epochs_run) == (best, run)


@pytest.mark.parametrize(("metric", "scores", "min_delta", "best", "run"), REFERENCE[:3] + REFERENCE[4:])
def test_loop_selects_and_stops_by_min_delta(splits, monkeypatch, metric, scores, min_delta, best, run):
    """The real loop, with the dev scores scripted: it keeps the reference epoch's weights and stops."""
    train, dev = splits
    seen_probs, script = [], list(scores)
    original = loop_module.evaluate_probs

    def scripted(probs, labels):
        metrics = original(probs, labels)
        if script:  # epoch evaluations; the final one (best model on dev) is left as computed
            seen_probs.append(probs.copy())
            metrics[metric] = script.pop(0)
        return metrics

    monkeypatch.setattr(loop_module, "evaluate_probs", scripted)
    config = small(epochs=len(scores), patience=2, min_delta=min_delta, select_by=metric)
    result = train_classifier(train, dev, config, progress=False)
    assert (result.best_epoch, len(result.history)) == (best, run)
    np.testing.assert_array_equal(result.dev_probs, seen_probs[best - 1])  # the best epoch's weights


def test_min_delta_validation_and_fingerprint():
    with pytest.raises(ConfigError, match="min_delta"):
        TrainConfig(min_delta=-0.1)
    with pytest.raises(ConfigError, match="patience"):
        TrainConfig(patience=0)
    # min_delta=0 keeps the fingerprint of configurations from before the field existed
    assert TrainConfig(min_delta=0.0).fingerprint() == TrainConfig().fingerprint()
    assert TrainConfig(min_delta=0.001).fingerprint() != TrainConfig().fingerprint()
    # the thread count is how a run executes, not what it computes: a checkpoint resumes with another
    assert TrainConfig(num_threads=1).fingerprint() == TrainConfig(num_threads=4).fingerprint()


def test_early_stopping_doctest():
    import doctest

    result = doctest.testmod(loop_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------ checkpoint and metrics files
def test_truncated_checkpoint_is_a_clear_error(splits, tmp_path):
    train, dev = splits
    config = small(epochs=2, patience=5)
    out = tmp_path / "run"
    train_classifier(train, dev, config, out_dir=out, progress=False)
    checkpoint = out / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(
        ArtifactError, match=r"truncated or corrupt.*delete it to start this run over"
    ) as info:
        train_classifier(train, dev, config, out_dir=out, progress=False)
    assert str(checkpoint) in str(info.value)
    checkpoint.write_bytes(b"")
    with pytest.raises(ArtifactError, match="truncated or corrupt"):
        train_classifier(train, dev, config, out_dir=out, progress=False)
    checkpoint.unlink()  # as the message says: the run starts over (its own metrics file is replaced)
    result = train_classifier(train, dev, config, out_dir=out, progress=False)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2] and len(result.history) == 2
    assert all(x["config_fingerprint"] == config.fingerprint() for x in lines)


def test_a_metrics_file_the_loop_did_not_write_is_never_deleted(splits, tmp_path):
    train, dev = splits
    out = tmp_path / "run"
    out.mkdir()
    metrics = out / "metrics.jsonl"
    metrics.write_text('{"epoch": 1, "my_own": "experiment"}\n')
    with pytest.raises(ConfigError, match="did not write") as info:
        train_classifier(train, dev, small(), out_dir=out, progress=False)
    assert str(metrics) in str(info.value)
    assert metrics.read_text() == '{"epoch": 1, "my_own": "experiment"}\n'
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl"]  # refused before any work
    # lines the loop wrote for *another* configuration, with no checkpoint beside them: refused too
    other = tmp_path / "other"
    train_classifier(train, dev, small(), out_dir=other, progress=False)
    (other / "checkpoint.pt").unlink()
    before = (other / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="did not write"):
        train_classifier(train, dev, small(seed=1), out_dir=other, progress=False)
    assert (other / "metrics.jsonl").read_text() == before
    # a model/ folder that is not a saved classifier is not replaced
    mine = tmp_path / "mine"
    (mine / "model").mkdir(parents=True)
    (mine / "model" / "weights.bin").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="not a saved textsmooth classifier"):
        train_classifier(train, dev, small(), out_dir=mine, progress=False)
    result = train_classifier(train, dev, small(), out_dir=mine, progress=False, save_model=False)
    assert result.model_dir is None and (mine / "model" / "weights.bin").read_bytes() == b"mine"


# ------------------------------------------------------------------ determinism for --jobs
def test_same_result_whatever_ran_before_and_thread_count_restored(splits):
    import torch

    train, dev = splits
    config = small(epochs=2, method="classic", model="bilstm", patience=5)
    first = train_classifier(train, dev, config, progress=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(123)  # disturb every global generator the loop uses
        np.random.seed(7)  # noqa: NPY002
        torch.rand(10)
        second = train_classifier(train, dev, config, progress=False)
        assert torch.get_num_threads() == 2  # the run's num_threads=1 was restored afterwards
    finally:
        torch.set_num_threads(before)
    assert [h["train_loss"] for h in second.history] == [h["train_loss"] for h in first.history]
    np.testing.assert_array_equal(second.dev_probs, first.dev_probs)


@pytest.mark.slow
def test_one_thread_in_a_fresh_process_gives_the_same_result(splits, tmp_path):
    """What ``experiment run --jobs N`` does: a worker process with torch.set_num_threads(1)."""
    import subprocess
    import sys

    train, dev = splits
    config = small(epochs=2, patience=5, num_threads=None)
    here = train_classifier(train, dev, small(epochs=2, patience=5), progress=False)
    train_path, dev_path = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    for path, split in ((train_path, train), (dev_path, dev)):
        rows = [
            {"text": t, "label": split.label_names[y]} for t, y in zip(split.texts, split.labels, strict=True)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    code = f"""
import json, torch
torch.set_num_threads(1)
from textsmooth.io.readers import read_dataset
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier
train, dev = read_dataset({str(train_path)!r}), read_dataset({str(dev_path)!r})
config = TrainConfig.from_dict(json.load(open({str(tmp_path / "config.json")!r})))
result = train_classifier(train, dev, config, progress=False)
print(json.dumps({{"losses": [h["train_loss"] for h in result.history], "probs": result.dev_probs.tolist()}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    there = json.loads(out.strip().splitlines()[-1])
    assert there["losses"] == [h["train_loss"] for h in here.history]
    np.testing.assert_array_equal(np.asarray(there["probs"], dtype=np.float32), here.dev_probs)


def test_a_torchrun_launch_is_refused_before_any_work(splits, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match="process 0 of 4") as error:
        train_classifier(*splits, small(), out_dir=tmp_path / "run", progress=False)
    assert "SoftLabelTrainer" in error.value.hint and not (tmp_path / "run").exists()
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process of one: trains
    assert train_classifier(*splits, small(), progress=False).history
