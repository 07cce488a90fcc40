"""`textsmooth soft-labels --max-memory-gib`: passed to the KWLS/TF-IDF smoothers, checked up front."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.cli.soft_labels import build_generator

runner = CliRunner()


def _data(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [
        {"text": f"good fun film {i}" if i % 2 else f"dull slow plot {i}", "label": i % 2} for i in range(40)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("method", ["kwls", "tfidf"])
def test_limit_reaches_the_smoother(method):
    assert build_generator(method, max_memory_gib=1.5).max_memory_gib == 1.5
    assert build_generator(method).max_memory_gib is None


@pytest.mark.parametrize("method", ["kwls", "tfidf"])
def test_enough_memory_writes_and_records_the_limit(tmp_path, method):
    out = tmp_path / "soft.parquet"
    result = invoke("soft-labels", method, _data(tmp_path), "-o", out, "--max-memory-gib", "2")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "soft.parquet.manifest.json").read_text())
    assert '"max_memory_gib": 2.0' in json.dumps(manifest)


def test_too_little_memory_is_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "soft.parquet"
    result = invoke("soft-labels", "kwls", _data(tmp_path), "-o", out, "--max-memory-gib", "1e-9")
    assert result.exit_code != 0
    assert "max_memory_gib" in result.output and "batches of at most" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "train.jsonl"]


@pytest.mark.parametrize(
    ("method", "value", "message"), [("uniform", "1", "only kwls and tfidf"), ("kwls", "0", "> 0")]
)
def test_bad_use_is_refused_before_reading(tmp_path, method, value, message):
    out = tmp_path / "soft.parquet"
    result = invoke("soft-labels", method, tmp_path / "missing.jsonl", "-o", out, "--max-memory-gib", value)
    assert result.exit_code != 0
    assert "--max-memory-gib" in result.output and message in result.output
    assert not out.exists()


# -- --threads (the smoothers' n_jobs) ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["kwls", "tfidf"])
def test_threads_reach_the_smoother_and_are_not_recorded(tmp_path, method):
    assert build_generator(method, threads=1).n_jobs == 1
    outputs = {}
    for threads in ("1", "2"):
        out = tmp_path / f"soft{threads}.parquet"
        result = invoke("soft-labels", method, _data(tmp_path), "-o", out, "--threads", threads)
        assert result.exit_code == 0, result.output
        outputs[threads] = out.read_bytes()
        manifest = (tmp_path / f"soft{threads}.parquet.manifest.json").read_text()
        assert "n_jobs" not in manifest  # a runtime knob: the file is the same whatever the machine
    assert outputs["1"] == outputs["2"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["uniform", "--threads", "2"], "only kwls and tfidf on --backend local"),
        (["kwls", "--threads", "2", "--backend", "ray"], "only kwls and tfidf on --backend local"),
        (["kwls", "--threads", "0"], ">= 1"),
    ],
)
def test_bad_threads_are_refused_before_reading(tmp_path, extra, message):
    out = tmp_path / "soft.parquet"
    method, *options = extra
    result = invoke("soft-labels", method, tmp_path / "missing.jsonl", "-o", out, *options)
    assert result.exit_code != 0
    assert "--threads" in result.output and message in result.output, result.output
    assert not out.exists()
