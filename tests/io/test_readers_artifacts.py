"""Readers (CSV/TSV/JSONL/Parquet/HF datasets), their errors, and the soft-label artifact."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textsmooth.errors import ArtifactError, DataError, LabelError, StaleArtifactError
from textsmooth.io.readers import TextDataset, read_dataset
from textsmooth.io.soft_labels import read_soft_labels, write_soft_labels


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_csv_with_two_text_columns_and_sorted_label_names(tmp_path):
    path = write(tmp_path / "d.csv", 'title,body,label\nHi,"there, you",World\nA,b,Business\nC,d,World\n')
    ds = read_dataset(path, ["title", "body"], "label")
    assert ds.texts == ["Hi there, you", "A b", "C d"]
    assert ds.label_names == ["Business", "World"] and ds.labels.tolist() == [1, 0, 1]
    assert ds.ids == ["0", "1", "2"] and len(ds.file_sha256) == 64


def test_integer_labels_sort_numerically(tmp_path):
    path = write(tmp_path / "d.tsv", "text\tlabel\na\t10\nb\t2\nc\t2\n")
    ds = read_dataset(path, "text", "label")
    assert ds.label_names == ["2", "10"] and ds.labels.tolist() == [1, 0, 0]


def test_headerless_compressed_tsv_like_the_kwls_example(tmp_path):
    raw = '7\t"quoted" start\t1\tB\n8\tplain text\t0\tA\n'
    path = write(tmp_path / "d.tsv.gz", gzip.compress(raw.encode()))
    ds = read_dataset(
        path, "text", "label_id", id_col="index", columns=["index", "text", "label_id", "label"]
    )
    assert ds.texts == ["quoted start", "plain text"]  # csv quoting as the authors' pandas reader does
    assert ds.ids == ["7", "8"] and ds.labels.tolist() == [1, 0]


def test_jsonl_parquet_and_hf_dataset_agree(tmp_path):
    rows = [{"text": "good", "label": "pos", "id": "a"}, {"text": "bad", "label": "neg", "id": "b"}]
    jsonl = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    a = read_dataset(jsonl, "text", "label", id_col="id")
    b = read_dataset(parquet, "text", "label", id_col="id")
    import datasets

    c = read_dataset(datasets.Dataset.from_list(rows), "text", "label", id_col="id")
    for ds in (a, b, c):
        assert ds.texts == ["good", "bad"] and ds.labels.tolist() == [1, 0] and ds.ids == ["a", "b"]
    assert a.content_sha256 == b.content_sha256 == c.content_sha256


def test_hf_classlabel_names_are_kept():
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["zebra", "apple"])}
    )
    ds = datasets.Dataset.from_dict({"text": ["x", "y"], "label": [0, 1]}, features=features)
    out = read_dataset(ds, "text", "label")
    assert out.label_names == ["zebra", "apple"] and out.labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "pattern"),
    [
        ("ragged.csv", "text,label\na,1\nb,1,extra\n", {}, r"ragged.csv, row 3: row has 3 fields"),
        ("nolabel.csv", "text,label\na,1\nb,\n", {}, r"row 3, column 'label': label is missing"),
        ("nocol.csv", "text,y\na,1\n", {}, r"column 'label': no column 'label'"),
        ("empty.csv", "", {}, r"empty.csv: file is empty"),
        ("header.csv", "text,label\n", {}, r"header but no data rows"),
        (
            "nan.jsonl",
            '{"text": "a", "label": 1}\n{"text": "b", "label": NaN}\n',
            {},
            r"row 2.*label is missing",
        ),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{oops\n', {}, r"row 2: invalid JSON"),
        ("nulltext.jsonl", '{"text": null, "label": 1}\n', {}, r"row 1, column 'text': text is missing"),
        ("what.txt", "a", {}, r"cannot tell the format"),
    ],
)
def test_bad_files_name_row_and_column(tmp_path, name, content, kwargs, pattern):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=pattern):
        read_dataset(path, "text", "label", **kwargs)


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = write(tmp_path / "latin.csv", "text,label\nok,1\ncaf\xe9,2\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"row 3: bytes are not UTF-8"):
        read_dataset(path)


def test_missing_label_is_a_label_error(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,1\nb,\n")
    with pytest.raises(LabelError):
        read_dataset(path)


def test_missing_file():
    with pytest.raises(DataError, match="does not exist"):
        read_dataset("/nonexistent/data.csv")


def _dataset():
    return TextDataset(texts=["a b", "c", "d"], labels=np.array([0, 1, 1]), label_names=["x", "y"])


def test_soft_label_artifact_roundtrip_and_staleness(tmp_path):
    ds = _dataset()
    soft = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    out = tmp_path / "soft.parquet"
    manifest = write_soft_labels(out, soft, ds, method="kwls", parameters={"k1": 2.0})
    assert manifest["inputs"]["content_sha256"] == ds.content_sha256 and manifest["parameters"]["k1"] == 2.0
    back = read_soft_labels(out, ds)
    np.testing.assert_allclose(back.soft, soft, atol=1e-7)
    assert (
        back.labels.tolist() == [0, 1, 1] and back.ids == ["0", "1", "2"] and back.label_names == ["x", "y"]
    )
    other = TextDataset(texts=["a b", "c", "e"], labels=np.array([0, 1, 1]), label_names=["x", "y"])
    with pytest.raises(StaleArtifactError, match="made from other data"):
        read_soft_labels(out, other)
    out.write_bytes(out.read_bytes() + b"x")
    with pytest.raises(StaleArtifactError, match="modified or replaced"):
        read_soft_labels(out)


def test_invalid_soft_labels_leave_no_file(tmp_path):
    out = tmp_path / "soft.parquet"
    with pytest.raises(Exception, match="row 2: soft label is not a probability"):
        write_soft_labels(out, np.array([[1.0, 0.0], [0.6, 0.6], [0.5, 0.5]]), _dataset(), method="x")
    assert list(tmp_path.iterdir()) == []


def test_artifact_without_manifest_is_not_read(tmp_path):
    out = tmp_path / "soft.parquet"
    write_soft_labels(out, np.full((3, 2), 0.5), _dataset(), method="x")
    (tmp_path / "soft.parquet.manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest"):
        read_soft_labels(out)


# -- issue 9 regressions -------------------------------------------------------------------------------


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    # str.splitlines() splits on these, but JSON strings may hold them raw (IMDb reviews hold U+0085).
    texts = ["a\u0085b", "c\u2028d", "e\u2029f", "g\x1ch\x1di\x1ej\x0bk\x0cl"]
    lines = [json.dumps({"text": t, "label": i % 2}, ensure_ascii=False) for i, t in enumerate(texts)]
    path = write(tmp_path / "d.jsonl", "\r\n".join(lines[:2]) + "\r\n" + "\n".join(lines[2:]) + "\n")
    ds = read_dataset(path)
    assert ds.texts == texts and ds.labels.tolist() == [0, 1, 0, 1]
    assert ds.rows == [1, 2, 3, 4]
    bad = write(tmp_path / "bad.jsonl", lines[0] + "\n" + '{"text": "x\u0085y", "label": }\n')
    with pytest.raises(DataError, match=r"bad.jsonl, row 2: invalid JSON"):
        read_dataset(bad)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("nan.csv", "text,label\na,pos\nb,NaN\n"),
        ("lower.csv", "text,label\na,pos\nb, nan \n"),
        ("empty.tsv", "text\tlabel\na\tpos\nb\t\n"),
        ("nanstr.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": "NaN"}\n'),
        ("nanlit.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": NaN}\n'),
        ("null.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": null}\n'),
    ],
)
def test_missing_labels_are_the_same_in_every_format(tmp_path, name, content):
    path = write(tmp_path / name, content)
    row = 3 if name.endswith("sv") else 2  # the CSV header is row 1
    with pytest.raises(LabelError, match=rf"{name}, row {row}, column 'label': label is missing"):
        read_dataset(path)


def test_parquet_null_and_nan_labels_are_missing(tmp_path):
    for label in (None, "NaN", float("nan")):
        path = tmp_path / "d.parquet"
        values = ["pos", label] if not isinstance(label, float) else [1.0, label]
        pq.write_table(pa.table({"text": ["a", "b"], "label": values}), path)
        with pytest.raises(LabelError, match=r"d.parquet, row 2, column 'label': label is missing"):
            read_dataset(path)


def test_python_api_treats_nan_strings_as_missing_labels():
    from textsmooth import UniformSmoother

    with pytest.raises(LabelError, match=r"row 2, column 'label': label is missing"):
        UniformSmoother().fit(["a", "b"], ["pos", "NaN"])


def test_csv_field_larger_than_the_default_limit(tmp_path):
    import csv

    big = "word " * 250_000  # 1.25 MB in one field
    path = write(tmp_path / "big.csv", f'text,label\n"{big}",pos\nsmall,neg\n')
    before = csv.field_size_limit()
    ds = read_dataset(path)
    assert ds.texts[0] == big and ds.label_names == ["neg", "pos"]
    assert csv.field_size_limit() == before  # the process-wide limit is restored


def _soft_artifact(tmp_path):
    ds = TextDataset(texts=["a", "b", "c", "d"], labels=np.array([0, 1, 1, 0]), label_names=["x", "y"])
    out = tmp_path / "soft.parquet"
    write_soft_labels(out, np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]), ds, method="x")
    return out, tmp_path / "soft.parquet.manifest.json", ds


def _edit(mpath, change):
    manifest = json.loads(mpath.read_text())
    change(manifest)
    mpath.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (lambda m: m.update(n_classes=1), StaleArtifactError, r"field 'n_classes' does not match"),
        (lambda m: m.update(n_classes=4), StaleArtifactError, r"field 'n_classes' does not match"),
        (lambda m: m.update(label_names=["x", "INVENTED"]), StaleArtifactError, r"'label_names' does not"),
        (lambda m: m.update(label_names=["x"]), StaleArtifactError, r"'label_names' does not match"),
        (lambda m: m.pop("n_classes"), StaleArtifactError, r"manifest has no 'n_classes'"),
        (lambda m: m["inputs"].update(n_rows=8), StaleArtifactError, r"'n_rows' does not match"),
        (lambda m: m.pop("artifact_sha256"), ArtifactError, r"no artifact_sha256"),
    ],
)
def test_tampered_soft_label_manifest_is_refused(tmp_path, change, error, pattern):
    out, mpath, ds = _soft_artifact(tmp_path)
    assert read_soft_labels(out, ds).soft.shape == (4, 2)
    _edit(mpath, change)
    with pytest.raises(error, match=pattern):
        read_soft_labels(out)


def test_replaced_soft_label_table_is_an_artifact_error(tmp_path):
    from textsmooth.io.manifest import sha256_file

    out, mpath, _ = _soft_artifact(tmp_path)
    pq.write_table(pa.table({"id": ["0"], "score": [1.0]}), out)  # another table, checksum updated too
    _edit(mpath, lambda m: m.update(artifact_sha256=sha256_file(out)))
    with pytest.raises(ArtifactError, match="not a textsmooth soft-label table"):
        read_soft_labels(out)


def test_artifact_without_manifest_says_where_it_was_expected(tmp_path):
    out, mpath, _ = _soft_artifact(tmp_path)
    mpath.unlink()
    with pytest.raises(ArtifactError, match=rf"no manifest \(expected it at {mpath}\)"):
        read_soft_labels(out)


def test_soft_label_artifacts_are_byte_identical_across_runs(tmp_path):
    out, _, ds = _soft_artifact(tmp_path)
    first = out.read_bytes()
    write_soft_labels(out, np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]), ds, method="x")
    assert out.read_bytes() == first


def test_read_class_scores_formats_and_errors(tmp_path):
    from textsmooth.io.readers import read_class_scores

    scores = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.0]])
    np.save(tmp_path / "s.npy", scores)
    got = read_class_scores(tmp_path / "s.npy", ["neg", "pos"], n_rows=3)
    np.testing.assert_array_equal(got, scores)
    with pytest.raises(DataError, match=r"shape \(3, 2\), expected \(4, 2\)"):
        read_class_scores(tmp_path / "s.npy", ["neg", "pos"], n_rows=4)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(
        DataError, match=r"obj.npy: is not a numeric \.npy array \(object or pickled data is never loaded\)"
    ):
        read_class_scores(tmp_path / "obj.npy", ["neg", "pos"], n_rows=1)
    csv_path = write(tmp_path / "s.csv", "id,pos,neg\na,-1,1\nb,2,0.5\nc,0,0\n")
    got = read_class_scores(csv_path, ["neg", "pos"], n_rows=3, ids=["a", "b", "c"])
    np.testing.assert_array_equal(got, scores)  # columns found by name, not position
    with pytest.raises(DataError, match=r"s.csv, row 3, column 'id': id 'b' does not match"):
        read_class_scores(csv_path, ["neg", "pos"], n_rows=3, ids=["a", "x", "c"])
    bad = write(tmp_path / "bad.csv", "neg,pos\n1,2\n1,oops\n")
    with pytest.raises(DataError, match=r"bad.csv, row 3, column 'pos': score is 'oops', not a finite"):
        read_class_scores(bad, ["neg", "pos"], n_rows=2)
    with pytest.raises(DataError, match=r"column 'pos': no column for class"):
        read_class_scores(write(tmp_path / "c.csv", "neg\n1\n"), ["neg", "pos"], n_rows=1)
    with pytest.raises(DataError, match=r"unexpected column\(s\) 'extra'"):
        read_class_scores(write(tmp_path / "e.csv", "neg,pos,extra\n1,2,3\n"), ["neg", "pos"], n_rows=1)
    with pytest.raises(DataError, match=r"has 2 rows, the data has 3"):
        read_class_scores(bad, ["neg", "pos"], n_rows=3)
    pq.write_table(pa.table({"pos": [-1.0, 2.0, 0.0], "neg": [1.0, 0.5, 0.0]}), tmp_path / "s.parquet")
    np.testing.assert_array_equal(read_class_scores(tmp_path / "s.parquet", ["neg", "pos"], n_rows=3), scores)
