"""`textsmooth soft-labels`: numeric options are range-checked first, and teacher files name their rows."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from textsmooth.cli import app

runner = CliRunner()


def _data(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\nWho wrote Hamlet ?,HUM\nWhere is Lima ?,LOC\n", encoding="utf-8")
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    ("method", "args", "option"),
    [
        ("uniform", ["--epsilon", "2"], "--epsilon"),
        ("prior", ["--epsilon", "-0.1"], "--epsilon"),
        ("kwls", ["--temperature", "0"], "--temperature"),
        ("tfidf", ["--temperature", "nan"], "--temperature"),
        ("kwls", ["--k1", "0"], "--k1"),
        ("kwls", ["--b", "1.5"], "--b"),
        ("kwls", ["--k2", "-1"], "--k2"),
    ],
)
def test_out_of_range_options_are_named_and_nothing_is_written(tmp_path, method, args, option):
    data = _data(tmp_path)
    result = invoke("soft-labels", method, data, "-o", tmp_path / "out.parquet", *args)
    assert result.exit_code == 2, result.output
    assert f"option {option}" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_a_range_that_another_method_ignores_is_not_checked(tmp_path):
    result = invoke("soft-labels", "uniform", _data(tmp_path), "-o", tmp_path / "o.parquet", "--k1", "0")
    assert result.exit_code == 0, result.output


def test_teacher_probabilities_that_do_not_sum_to_one_name_the_file_row(tmp_path):
    data = _data(tmp_path)
    teacher = tmp_path / "teacher.csv"
    teacher.write_text("HUM,LOC\n0.5,0.7\n0.2,0.8\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = invoke(
        "soft-labels", "teacher", data, "--teacher", teacher, "--teacher-kind", "probs", "-o", out
    )
    assert result.exit_code == 2, result.output
    assert "teacher.csv, row 2" in result.output
    assert "--teacher-kind logits" in result.output
    assert not out.exists()
    # the same numbers as logits are fine
    result = invoke(
        "soft-labels", "teacher", data, "--teacher", teacher, "--teacher-kind", "logits", "-o", out
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.parquet.manifest.json").read_text())["kind"]


def test_teacher_npy_rows_are_named_by_array_row(tmp_path):
    import numpy as np

    data = _data(tmp_path)
    teacher = tmp_path / "teacher.npy"
    np.save(teacher, np.array([[0.5, 0.5], [0.9, 0.3]]))
    out = tmp_path / "out.parquet"
    result = invoke(
        "soft-labels", "teacher", data, "--teacher", teacher, "--teacher-kind", "probs", "-o", out
    )
    assert result.exit_code == 2, result.output
    assert "teacher.npy, row 2" in result.output
