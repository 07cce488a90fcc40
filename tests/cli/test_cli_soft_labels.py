"""CLI round trips: soft-labels, explain, flip, demo, --version, and errors that leave nothing behind."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from textsmooth import __version__
from textsmooth.cli import app
from textsmooth.io.readers import read_dataset
from textsmooth.io.soft_labels import read_soft_labels

from ..conftest import KWLS_EXAMPLE

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help():
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output
    result = invoke("soft-labels", "--help")
    assert result.exit_code == 0 and "Examples" in result.output


def test_soft_labels_kwls_reproduces_reference_through_cli(tmp_path, kwls_example):
    _, _, reference = kwls_example
    out = tmp_path / "soft.parquet"
    data = KWLS_EXAMPLE / "train_soft_label.csv.xz"
    opts = ["--format", "tsv", "--columns", "index,text,label_id,label", "--text-col", "text"]
    result = invoke(
        "soft-labels",
        "kwls",
        data,
        "-o",
        out,
        *opts,
        "--label-col",
        "label_id",
        "--id-col",
        "index",
        "--tokenizer",
        "space",
        "--save-model",
        tmp_path / "kwls.npz",
    )
    assert result.exit_code == 0, result.output
    dataset = read_dataset(
        data,
        "text",
        "label_id",
        id_col="index",
        file_format="tsv",
        columns=["index", "text", "label_id", "label"],
    )
    back = read_soft_labels(out, dataset)
    np.testing.assert_allclose(back.soft, reference, atol=1e-7)  # stored as float32
    assert back.manifest["parameters"]["method"] == "kwls" and back.manifest["parameters"]["k1"] == 2.0
    assert back.ids[0] == "112805"
    # explain from the saved smoother
    result = invoke("explain", tmp_path / "kwls.npz", "Madrid bombings inquiry", "--top", "3")
    assert result.exit_code == 0, result.output
    assert "Madrid" in result.output and "soft label" in result.output


def test_soft_labels_uniform_and_explain_from_data(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\ngreat fun film,pos\ndull boring film,neg\nfun fun,pos\n")
    out = tmp_path / "u.parquet"
    result = invoke("soft-labels", "uniform", data, "-o", out, "--epsilon", "0.2")
    assert result.exit_code == 0, result.output
    soft = read_soft_labels(out).soft
    np.testing.assert_allclose(soft[0], [0.1, 0.9], atol=1e-7)
    result = invoke("explain", data, "a fun film")
    assert result.exit_code == 0 and "fun" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\na,pos\nb,\n", "row 3, column 'label': label is missing"),
        ("text,label\na,pos\nb,neg,x\n", "row 3: row has 3 fields"),
        ("", "file is empty"),
        ("body,label\na,pos\n", "no column 'text'"),
    ],
)
def test_bad_input_gives_clear_error_and_no_output(tmp_path, content, message):
    data = tmp_path / "in" / "d.csv"
    data.parent.mkdir()
    data.write_text(content)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = invoke("soft-labels", "kwls", data, "-o", out_dir / "soft.parquet")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []


def test_flip_writes_noisy_copy(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"t{i},{'abc'[i % 3]}\n" for i in range(300)))
    out = tmp_path / "noisy.parquet"
    result = invoke("flip", data, "--rate", "0.4", "--seed", "3", "-o", out)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pylist()
    flipped = [r["flipped"] for r in table]
    assert 0.3 < np.mean(flipped) < 0.5
    assert all((r["label"] != r["original_label"]) == r["flipped"] for r in table)
    noisy = read_dataset(out, "text", "label")
    assert noisy.label_names == ["a", "b", "c"]
    assert invoke("flip", data, "--rate", "2", "-o", tmp_path / "x.parquet").exit_code == 2
    assert not (tmp_path / "x.parquet").exists()


def test_demo_runs_and_writes_artifacts(tmp_path):
    result = invoke("demo", "--out-dir", tmp_path, "--examples", "3", "--no-train")
    assert result.exit_code == 0, result.output
    assert "KWLS" in result.output and "HUM" in result.output
    soft = read_soft_labels(tmp_path / "trec_kwls_soft_labels.parquet")
    assert soft.soft.shape == (5452, 6) and soft.label_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert (tmp_path / "trec_kwls_smoother.npz.manifest.json").exists()
