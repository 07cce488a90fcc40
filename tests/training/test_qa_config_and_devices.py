"""QA regressions: TrainConfig checks every field's type and range (a recipe typo is a ConfigError
naming the field, not a traceback mid-run); devices are checked before a model is placed; a saved model
folder is readable like the other outputs (safetensors writes its file private)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from textsmooth.errors import ConfigError
from textsmooth.io.atomic import file_mode
from textsmooth.training import load_classifier, save_classifier
from textsmooth.training.config import TrainConfig, check_device_name
from textsmooth.training.factory import build_model
from textsmooth.training.saved import check_device

TEXTS = ["who wrote hamlet", "where is lima", "how far is the moon", "who painted guernica"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 1.5, "epochs must be an integer, got 1.5"),
        ("epochs", "2", "epochs must be an integer, got '2'"),
        ("batch_size", True, "batch_size must be an integer"),
        ("seed", 0.5, "seed must be an integer"),
        ("lr", "fast", "lr must be a number, got 'fast'"),
        ("lr", "1e-3", "YAML reads 1e-3 as text"),
        ("lr", 0, "lr must be in (0, inf)"),
        ("epsilon", 5, "epsilon must be in [0, 1], got 5"),
        ("alpha", -1.0, "alpha must be in [0, inf)"),
        ("soft_temperature", 0.0, "soft_temperature must be in (0, inf)"),
        ("weight_decay", float("nan"), "weight_decay must be a number"),
        ("b", 2.0, "b must be in [0, 1]"),
        ("min_freq", 0, "min_freq must be >= 1"),
        ("max_vocab", 0, "max_vocab must be >= 1"),
        ("num_threads", 0, "num_threads must be an integer >= 1 or null"),
        ("device", "gpu0", "unknown device 'gpu0'"),
        ("device", 0, "device must be a string"),
        ("tokenizer", None, "tokenizer must be a string"),
    ],
)
def test_bad_field_is_a_config_error_naming_it(field, value, message):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value})
    assert message in str(info.value) and info.value.column == field


def test_good_values_of_other_types_are_accepted():
    config = TrainConfig(epochs=np.int64(2), lr=np.float32(0.01), epsilon=0, model_path=Path("enc"))
    assert config.model_path == "enc" and config.fingerprint()  # a Path becomes a JSON-ready string
    assert TrainConfig(device="cuda:1", num_threads=None).device == "cuda:1"  # syntax only: no GPU needed


def test_devices_are_checked_before_a_model_is_placed(tmp_path):
    check_device("cpu")
    for bad in ("bogus", "cuda:x", "cpu0"):
        with pytest.raises(ConfigError, match="unknown device"):
            check_device_name(bad)
    with pytest.raises(ConfigError) as info:
        check_device("bogus", option="--device")
    assert "option --device" in str(info.value)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="'cuda' is not available"):
            check_device("cuda")
    with pytest.raises(ConfigError, match=r"'cuda:99' is not available"):
        check_device("cuda:99")
    if not torch.backends.mps.is_available():
        with pytest.raises(ConfigError, match="'mps' is not available"):
            check_device("mps")
    # load_classifier checks the device before it reads anything
    with pytest.raises(ConfigError, match="unknown device"):
        load_classifier(tmp_path / "no-such-model", device="bogus")


def test_saved_model_files_get_the_usual_mode(tmp_path):
    config = TrainConfig(embed_dim=8, n_filters=4, max_length=8, min_freq=1)
    model, featurizer = build_model(config, TEXTS, 2)
    folder = save_classifier(tmp_path / "model", model, featurizer, ["HUM", "LOC"])
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", "vocab.json", "manifest.json"}
    for path in files:  # model.safetensors was 0o600 while vocab.json and manifest.json were 0o644
        assert stat.S_IMODE(os.stat(path).st_mode) == file_mode(), path.name
    assert stat.S_IMODE(os.stat(folder).st_mode) & 0o500 == 0o500
    assert load_classifier(folder).predict_proba(TEXTS).shape == (4, 2)
