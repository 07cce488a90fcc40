"""QA regressions: `predict --device` and `flip --rate/--kind` are checked before any work, and a bad
value is one line naming the option (exit 2), never a traceback."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.training import save_classifier
from textsmooth.training.config import TrainConfig
from textsmooth.training.factory import build_model

runner = CliRunner()
TEXTS = ["who wrote hamlet", "where is lima", "how far is the moon"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def model_and_data(tmp_path):
    model, featurizer = build_model(TrainConfig(embed_dim=8, n_filters=4, max_length=8, min_freq=1), TEXTS, 2)
    folder = save_classifier(tmp_path / "model", model, featurizer, ["HUM", "LOC"])
    data = tmp_path / "questions.csv"
    data.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    return folder, data


def test_predict_device_is_checked(model_and_data, tmp_path):
    folder, data = model_and_data
    out = tmp_path / "preds.parquet"
    bad = ["bogus", "cuda:x"]
    if not torch.cuda.is_available():
        bad.append("cuda")  # was a traceback: "Torch not compiled with CUDA enabled"
    for device in bad:
        result = invoke("predict", folder, data, "-o", out, "--device", device)
        assert result.exit_code == 2, result.output
        assert "option --device" in result.output and "Traceback" not in result.output
        assert not out.exists()
    good = invoke("predict", folder, data, "-o", out, "--device", "cpu")
    assert good.exit_code == 0, good.output
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--rate", "1.5"], "option --rate"),
        (["--rate", "nan"], "option --rate"),
        (["--rate", "0.1", "--kind", "pairs"], "option --kind"),
    ],
)
def test_flip_options_are_named_and_checked_before_reading(tmp_path, args, option):
    # the data file does not exist: the option is reported first, so nothing was read
    result = invoke("flip", tmp_path / "missing.csv", *args, "-o", tmp_path / "noisy.parquet")
    assert result.exit_code == 2 and option in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "noisy.parquet").exists()
