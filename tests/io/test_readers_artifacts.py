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
