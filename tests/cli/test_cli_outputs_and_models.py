"""CLI: outputs that would destroy inputs, all-or-nothing writes, --apply-to, teacher, saved models."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from textsmooth import KeywordSmoother, PriorSmoother, TeacherSmoother
from textsmooth.cli import app
from textsmooth.io.manifest import manifest_path
from textsmooth.io.readers import read_dataset
from textsmooth.io.soft_labels import read_soft_labels
from textsmooth.targets.saved import load_generator

runner = CliRunner()

TRAIN = "text,label\ngreat fun film,pos\ndull boring film,neg\nfun fun,pos\nbad plot,neg\nnice plot,mid\n"
TEST = "text,label\na fun plot,pos\nboring,neg\nno known words,neg\n"


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())


@pytest.fixture
def files(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text(TRAIN)
    test = tmp_path / "test.csv"
    test.write_text(TEST)
    return train, test


def _snapshot(folder):
    """Every file under ``folder`` (recursively) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def _fails_cleanly(result, text, message, folder, before):
    assert result.exit_code == 2, result.output
    assert message in text, text
    assert "Traceback" not in result.output
    assert _snapshot(folder) == before  # nothing written, nothing replaced


# -- output paths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_output_equal_to_input_is_refused(tmp_path, fmt):
    data = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        data.write_text(TRAIN)
    else:
        pq.write_table(pa.table({"text": ["a b", "c d"], "label": ["x", "y"]}), data)
    before = _snapshot(tmp_path)
    result, text = invoke("soft-labels", "kwls", data, "-o", data)
    _fails_cleanly(result, text, "option -o: ", tmp_path, before)
    assert "would destroy the input" in text
    result, text = invoke("soft-labels", "kwls", data, "-o", tmp_path / "o.parquet", "--save-model", data)
    _fails_cleanly(result, text, "option --save-model", tmp_path, before)
    result, text = invoke("flip", data, "--rate", "0.5", "-o", data)
    _fails_cleanly(result, text, "option -o", tmp_path, before)


def test_output_resolving_to_input_through_another_path_is_refused(files):
    train, test = files
    folder = train.parent
    before = _snapshot(folder)
    other = folder / "sub" / ".." / "test.csv"
    result, text = invoke("soft-labels", "kwls", train, "--apply-to", test, "-o", other)
    _fails_cleanly(result, text, "would destroy the input", folder, before)


def test_output_onto_a_folder_or_under_a_file_is_refused(files):
    train, _ = files
    folder = train.parent
    (folder / "adir").mkdir()
    before = _snapshot(folder)
    result, text = invoke("soft-labels", "kwls", train, "-o", folder / "adir")
    _fails_cleanly(result, text, "option -o", folder, before)
    assert "is a folder" in text
    result, text = invoke("soft-labels", "kwls", train, "-o", train / "x.parquet")
    _fails_cleanly(result, text, "is a file, not a folder", folder, before)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--save-model", "{d}/train.csv/m.npz"], "option --save-model"),  # under a file
        (["--save-model", "{d}/m.pkl"], "a saved model is an .npz file"),
        (["--save-model", "{d}/o.parquet"], "is the same file as -o"),
        (["--teacher", "{d}/train.csv"], "only the teacher method reads a teacher file"),
        (["--prior", "0.5,x"], "option --prior"),
        (["--epsilon", "2"], "option --epsilon: must be in [0, 1]"),
    ],
)
def test_bad_options_write_nothing(files, extra, message):
    train, _ = files
    folder = train.parent
    before = _snapshot(folder)
    extra = [e.format(d=folder) for e in extra]
    method = "uniform" if "--epsilon" in extra else "prior"
    result, text = invoke("soft-labels", method, train, "-o", folder / "o.parquet", *extra)
    _fails_cleanly(result, text, message, folder, before)


def test_read_only_output_folder_is_one_clear_line(files, monkeypatch):
    train, _ = files
    folder = train.parent
    before = _snapshot(folder)
    import textsmooth.cli._common as common

    # Tests run as root, for whom chmod does not make a folder read-only: ask os.access instead.
    real_access = common.os.access
    monkeypatch.setattr(
        common.os, "access", lambda p, mode: False if str(p) == str(folder) else real_access(p, mode)
    )
    result, text = invoke("soft-labels", "kwls", train, "-o", folder / "o.parquet")
    _fails_cleanly(
        result, text, f"option -o: cannot write {folder / 'o.parquet'}: the folder", folder, before
    )


def test_permission_error_while_writing_is_one_clear_line(files, monkeypatch):
    train, _ = files
    folder = train.parent
    before = _snapshot(folder)
    import textsmooth.io.atomic as atomic

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    result, text = invoke("soft-labels", "kwls", train, "-o", folder / "o.parquet")
    _fails_cleanly(result, text, f"error: {folder}: Permission denied", folder, before)


def test_failed_model_write_takes_the_soft_labels_back(files, monkeypatch):
    train, _ = files
    folder = train.parent
    before = _snapshot(folder)
    from textsmooth.targets.saved import SavedGenerator

    def disk_full(self, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(SavedGenerator, "write", disk_full)
    result, text = invoke(
        "soft-labels", "uniform", train, "-o", folder / "o.parquet", "--save-model", folder / "m.npz"
    )
    _fails_cleanly(result, text, "No space left on device", folder, before)


# -- --save-model for every generator, --apply-to -----------------------------------------------------
@pytest.mark.parametrize("method", ["kwls", "tfidf", "uniform", "prior"])
def test_save_model_for_every_method(files, method):
    train, _ = files
    out, model = train.parent / "o.parquet", train.parent / "m.npz"
    result, _ = invoke("soft-labels", method, train, "-o", out, "--save-model", model, "--epsilon", "0.2")
    assert result.exit_code == 0, result.output
    loaded = load_generator(model)
    dataset = read_dataset(train)
    assert loaded.label_names_ == dataset.label_names == ["mid", "neg", "pos"]
    np.testing.assert_array_equal(
        loaded.transform(dataset.texts, dataset.labels), read_soft_labels(out, dataset).soft
    )
    if method == "prior":
        np.testing.assert_allclose(loaded.prior_, [0.2, 0.4, 0.4])


def test_apply_to_uses_the_statistics_of_the_fit_file(files):
    train, test = files
    out = train.parent / "test.soft.parquet"
    result, text = invoke("soft-labels", "kwls", train, "--apply-to", test, "-o", out)
    assert result.exit_code == 0, result.output
    assert "fitted on" in text
    fitted = read_dataset(train)
    expected = KeywordSmoother().fit(fitted.texts, fitted.labels, label_names=fitted.label_names)
    back = read_soft_labels(out)
    with pytest.warns(UserWarning, match="no known word"):
        np.testing.assert_allclose(back.soft, expected.transform(read_dataset(test).texts), atol=1e-7)
    # test labels (neg, pos) are renumbered to the fitted classes (mid, neg, pos)
    assert back.label_names == ["mid", "neg", "pos"] and back.labels.tolist() == [2, 1, 1]
    assert back.manifest["fitted_on"]["content_sha256"] == fitted.content_sha256
    assert back.manifest["inputs"]["n_rows"] == 3


def test_apply_to_label_smoothing_and_unlabelled_files(files):
    train, test = files
    folder = train.parent
    out = folder / "u.parquet"
    result, _ = invoke("soft-labels", "prior", train, "--apply-to", test, "-o", out, "--epsilon", "0.5")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_soft_labels(out).soft[0], [0.1, 0.2, 0.5 + 0.2], atol=1e-7)
    unlabelled = folder / "u.csv"
    unlabelled.write_text("text\nfun\nboring\n")
    result, _ = invoke("soft-labels", "tfidf", train, "--apply-to", unlabelled, "-o", folder / "t.parquet")
    assert result.exit_code == 0, result.output
    assert read_soft_labels(folder / "t.parquet").labels is None
    before = _snapshot(folder)
    result, text = invoke(
        "soft-labels", "uniform", train, "--apply-to", unlabelled, "-o", folder / "x.parquet"
    )
    _fails_cleanly(result, text, "u.csv, column 'label': no column 'label'", folder, before)
    strange = folder / "s.csv"
    strange.write_text("text,label\nfun,pos\nodd,other\n")
    before = _snapshot(folder)
    result, text = invoke("soft-labels", "uniform", train, "--apply-to", strange, "-o", folder / "x.parquet")
    _fails_cleanly(
        result, text, "s.csv, row 3, column 'label': label 'other' is not one of the classes", folder, before
    )


# -- teacher ------------------------------------------------------------------------------------------
def test_teacher_from_npy_logits_and_csv_probabilities(files):
    train, _ = files
    folder = train.parent
    dataset = read_dataset(train)
    logits = np.random.default_rng(0).normal(size=(len(dataset), 3))
    np.save(folder / "logits.npy", logits)
    out = folder / "t.parquet"
    result, _ = invoke(
        "soft-labels",
        "teacher",
        train,
        "--teacher",
        folder / "logits.npy",
        "--temperature",
        "2",
        "-o",
        out,
        "--save-model",
        folder / "teacher.npz",
    )
    assert result.exit_code == 0, result.output
    z = logits / 2
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    back = read_soft_labels(out, dataset)
    np.testing.assert_allclose(back.soft, expected, atol=1e-6)
    assert back.manifest["parameters"]["teacher_sha256"]
    loaded = load_generator(folder / "teacher.npz")
    assert isinstance(loaded, TeacherSmoother)
    np.testing.assert_allclose(loaded.transform(dataset.texts), expected, atol=1e-6)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    table = "pos,id,neg,mid\n" + "".join(
        f"{float(p[2])!r},{i},{float(p[1])!r},{float(p[0])!r}\n" for i, p in enumerate(probs)
    )
    (folder / "probs.csv").write_text(table)
    result, _ = invoke(
        "soft-labels",
        "teacher",
        train,
        "--teacher",
        folder / "probs.csv",
        "--teacher-kind",
        "probs",
        "--temperature",
        "2",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_soft_labels(out).soft, expected, atol=1e-6)


def test_teacher_errors(files):
    train, test = files
    folder = train.parent
    np.save(folder / "short.npy", np.zeros((2, 3)))
    np.save(folder / "ok.npy", np.zeros((5, 3)))
    before = _snapshot(folder)
    result, text = invoke("soft-labels", "teacher", train, "-o", folder / "t.parquet")
    _fails_cleanly(result, text, "option --teacher: the teacher method needs", folder, before)
    result, text = invoke(
        "soft-labels", "teacher", train, "--teacher", folder / "short.npy", "-o", folder / "t.parquet"
    )
    _fails_cleanly(result, text, "short.npy: array has shape (2, 3), expected (5, 3)", folder, before)
    result, text = invoke(
        "soft-labels",
        "teacher",
        train,
        "--teacher",
        folder / "ok.npy",
        "--apply-to",
        test,
        "-o",
        folder / "t.parquet",
    )
    _fails_cleanly(result, text, "test.csv, row 2: text has no teacher output", folder, before)


# -- explain --------------------------------------------------------------------------------------------
def _kwls_model(files):
    train, _ = files
    model = train.parent / "kwls.npz"
    result, _ = invoke("soft-labels", "kwls", train, "-o", train.parent / "o.parquet", "--save-model", model)
    assert result.exit_code == 0, result.output
    return model


def test_explain_top_labels(files):
    model = _kwls_model(files)
    result, text = invoke("explain", model, "fun film", "--top-labels", "1")
    assert result.exit_code == 0, result.output
    assert "top 1 of 3 labels" in text and "pos" in text and "mid" not in text and "neg" not in text
    result, text = invoke("explain", model, "fun film")
    assert result.exit_code == 0 and "mid" in text and "neg" in text
    result, text = invoke("explain", model, "fun film", "--top-labels", "0")
    assert result.exit_code == 2


def test_explain_refuses_a_tampered_or_orphaned_model(files):
    model = _kwls_model(files)
    mpath = manifest_path(model)
    manifest = json.loads(mpath.read_text())
    manifest["label_names"] = ["mid", "neg", "INVENTED"]
    mpath.write_text(json.dumps(manifest))
    result, text = invoke("explain", model, "fun film")
    assert (
        result.exit_code == 2 and "'label_names' does not match" in text and "INVENTED" not in result.stdout
    )
    mpath.unlink()
    result, text = invoke("explain", model, "fun film")
    assert result.exit_code == 2 and f"no manifest (expected it at {mpath})" in text
    assert "cannot tell the format" not in text


def test_explain_needs_a_kwls_or_tfidf_model(files):
    train, _ = files
    model = train.parent / "prior.npz"
    invoke("soft-labels", "prior", train, "-o", train.parent / "o.parquet", "--save-model", model)
    assert isinstance(load_generator(model), PriorSmoother)
    result, text = invoke("explain", model, "fun")
    assert result.exit_code == 2 and "'prior-smoother'" in text and "Traceback" not in result.output
