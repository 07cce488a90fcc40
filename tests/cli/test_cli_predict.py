"""``textsmooth predict``: the probabilities of a run's own test evaluation, and clear errors."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.cli.demo import bundled_path
from textsmooth.io.manifest import read_manifest
from textsmooth.io.readers import read_dataset
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, trec_per_class):
    """A tiny TextCNN trained with the real loop, its run folder, and a test CSV (id, question)."""
    before = torch.get_num_threads()
    train, dev = trec_per_class(25, 10, seed=0)
    test = read_dataset(bundled_path("trec_test.csv.gz"), "text", "label").subset(np.arange(60))
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        epochs=2, batch_size=32, max_length=16, embed_dim=16, n_filters=8, min_freq=1, num_threads=1
    )
    result = train_classifier(train, dev, config, out_dir=out, test=test)
    torch.set_num_threads(before)
    csv_path = out.parent / "questions.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["qid", "question"])
        writer.writerows([f"q{i}", text] for i, text in enumerate(test.texts))
    return result, out, csv_path


def test_predict_writes_the_runs_test_probabilities(trained, tmp_path):
    result, out, csv_path = trained
    preds = tmp_path / "preds.parquet"
    res = invoke("predict", out / "model", csv_path, "-o", preds, "--text-col", "question", "--id-col", "qid")
    assert res.exit_code == 0, res.output
    table = pq.read_table(preds).to_pydict()
    columns = [f"prob_{c}" for c in result.classes]
    assert list(table) == ["id", "predicted_label", *columns]
    assert table["id"] == [f"q{i}" for i in range(len(result.test_probs))]
    probs = np.column_stack([table[c] for c in columns]).astype(np.float32)
    np.testing.assert_allclose(probs, result.test_probs, atol=1e-6, rtol=0)
    assert table["predicted_label"] == [result.classes[i] for i in result.test_probs.argmax(axis=1)]
    manifest = read_manifest(preds, kind="predictions")
    assert manifest["classes"] == result.classes and manifest["probability_columns"] == columns
    model_manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["model"]["manifest_sha256"] == model_manifest["manifest_sha256"]
    assert manifest["inputs"]["n_rows"] == len(result.test_probs)

    # the same rows as a header-less TSV, with --format and --columns
    tsv = tmp_path / "questions.data"
    rows = list(csv.reader(open(csv_path, encoding="utf-8")))[1:]
    tsv.write_text("".join(f"{qid}\t{text}\n" for qid, text in rows), encoding="utf-8")
    preds2 = tmp_path / "preds2.parquet"
    opts = ["--format", "tsv", "--columns", "qid,question", "--text-col", "question", "--id-col", "qid"]
    res = invoke("predict", out / "model", tsv, "-o", preds2, *opts)
    assert res.exit_code == 0, res.output
    assert pq.read_table(preds2).to_pydict()["prob_HUM"] == table["prob_HUM"]


def test_predict_errors_are_one_line_and_leave_nothing(trained, tmp_path):
    _, out, csv_path = trained
    preds = tmp_path / "preds.parquet"
    res = invoke("predict", out, csv_path, "-o", preds, "--text-col", "question")
    assert res.exit_code == 2 and "manifest.json" in res.output and str(out / "model") in res.output
    assert "Traceback" not in res.output

    res = invoke("predict", out / "model", csv_path, "-o", preds)  # no column "text"
    assert res.exit_code == 2 and "no column 'text'" in res.output

    res = invoke("predict", out / "model", csv_path, "-o", tmp_path / "preds.csv", "--text-col", "question")
    assert res.exit_code == 2 and "Parquet" in res.output

    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pacsv.read_csv(csv_path), parquet_in)
    res = invoke("predict", out / "model", parquet_in, "-o", parquet_in, "--text-col", "question")
    assert res.exit_code == 2 and "-o" in res.output and "input" in res.output

    bad = tmp_path / "model"
    shutil.copytree(out / "model", bad)
    (bad / "vocab.json").write_text((bad / "vocab.json").read_text().replace('"what"', '"whot"'))
    res = invoke("predict", bad, csv_path, "-o", preds, "--text-col", "question")
    assert res.exit_code == 2 and str(bad / "vocab.json") in res.output and "checksum" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "model"]  # no output written
