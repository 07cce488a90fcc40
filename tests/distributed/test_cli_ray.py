"""``textsmooth soft-labels --backend ray``: the same soft labels, manifest and saved model as local."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

pytest.importorskip("ray")

from textsmooth.cli import app

runner = CliRunner()


def _write_data(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(60)] + ["good", "bad", "plot", "film"]
    lines = ["text,label"]
    for i in range(90):
        text = " ".join(rng.choice(words, size=rng.integers(1, 12)))
        lines.append(f"{text},{('neg', 'pos', 'mixed')[i % 3]}")
    lines.append(",neg")  # a text without words
    train = tmp_path / "train.csv"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("text,label\ngood film,pos\nunseen words only,neg\nw1 w2 w3,mixed\n", encoding="utf-8")
    return train, test


def _manifest(path):
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.pop("created")
    return manifest


@pytest.mark.parametrize("method", ["kwls", "tfidf"])
def test_ray_backend_writes_what_the_local_backend_writes(ray_local, tmp_path, method):
    train, test = _write_data(tmp_path)
    outputs = {}
    for backend in ("local", "ray"):
        for apply_to in (None, test):
            out = tmp_path / f"{backend}-{apply_to is not None}.parquet"
            model = tmp_path / f"{backend}-{apply_to is not None}.npz"
            args = ["soft-labels", method, str(train), "-o", str(out), "--save-model", str(model)]
            args += ["--apply-to", str(apply_to)] if apply_to is not None else []
            args += ["--backend", backend]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            outputs[backend, apply_to is not None] = (out, model, result.output)
    for applied in (False, True):
        (local_out, local_model, local_text), (ray_out, ray_model, ray_text) = (
            outputs["local", applied],
            outputs["ray", applied],
        )
        assert pq.read_table(ray_out).equals(pq.read_table(local_out))
        assert ray_out.read_bytes() == local_out.read_bytes()
        assert _manifest(ray_out.with_name(ray_out.name + ".manifest.json")) == _manifest(
            local_out.with_name(local_out.name + ".manifest.json")
        )
        assert ray_model.read_bytes() == local_model.read_bytes()
        # the same messages, warnings included (compared without the console's line breaks)
        assert "".join(ray_text.replace("ray-", "local-").split()) == "".join(local_text.split())
        assert "no known word" in local_text
