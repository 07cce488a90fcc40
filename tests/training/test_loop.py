"""The training loop on a small TREC slice: every method runs, resume equals an uninterrupted run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textsmooth.cli.demo import bundled_path
from textsmooth.errors import ConfigError, InputError
from textsmooth.io.readers import TextDataset, read_dataset
from textsmooth.training import loop as loop_module
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier
from textsmooth.training.objectives import METHODS


@pytest.fixture(scope="module")
def splits() -> tuple[TextDataset, TextDataset]:
    data = read_dataset(bundled_path("trec_train.csv.gz"), "text", "label")
    rng = np.random.default_rng(0)
    # stratified: 40 training and 20 dev questions per class
    train_rows, dev_rows = [], []
    for c in range(data.n_classes):
        rows = rng.permutation(np.flatnonzero(data.labels == c))
        train_rows += rows[:40].tolist()
        dev_rows += rows[40:60].tolist()
    return data.subset(train_rows), data.subset(dev_rows)


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
