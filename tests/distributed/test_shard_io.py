"""Folders of Parquet / JSON-lines files as input (empty files skipped, unreadable ones named), and soft
labels written part by part, resumably."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray")

from textsmooth import KeywordSmoother
from textsmooth.distributed import (
    keyword_soft_labels,
    read_soft_labels_sharded,
    transform_soft_labels,
    write_soft_labels_sharded,
)
from textsmooth.errors import DataError, StaleArtifactError

SIZES = (120, 90, 110)  # rows of the three files


def _corpus():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(80)] + ["good", "bad", "plot", "film"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 14))) for _ in range(sum(SIZES))]
    texts[5] = ""  # a text without words
    labels = [("neg", "pos", "mixed")[i % 3] for i in range(len(texts))]
    return texts, labels


def _write_folder(folder, fmt):
    texts, labels = _corpus()
    folder.mkdir()
    start = 0
    for i, n in enumerate(SIZES):
        rows = {"label": labels[start : start + n], "text": texts[start : start + n]}
        name = folder / f"data-{i}.{fmt}"  # named so that sorting by name is the corpus order
        if fmt == "parquet":
            pq.write_table(pa.table(rows), name)
        else:  # another column besides, read and ignored
            pairs = zip(rows["text"], rows["label"], strict=True)
            lines = [json.dumps({"id": k, "text": t, "label": y}) for k, (t, y) in enumerate(pairs)]
            name.write_text("\n".join(lines) + "\n", encoding="utf-8")
        start += n
    (folder / "_SUCCESS").write_text("")  # skipped
    return texts, labels


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_io")
    out = {}
    for fmt in ("parquet", "jsonl"):
        texts, labels = _write_folder(root / fmt, fmt)
        out[fmt] = root / fmt
    local = KeywordSmoother(dtype=np.float64)
    soft = local.fit_transform(texts, labels)
    return out, texts, labels, local, soft


@pytest.mark.parametrize(("fmt", "num_shards"), [("parquet", None), ("jsonl", None), ("parquet", 4)])
def test_a_folder_gives_the_soft_labels_of_its_rows(ray_local, folders, fmt, num_shards):
    paths, texts, _, local, expected = folders
    with pytest.warns(UserWarning, match="no known word"):
        soft, smoother = keyword_soft_labels(
            str(paths[fmt]), method="kwls", dtype=np.float64, num_shards=num_shards, return_smoother=True
        )
    assert np.array_equal(soft, expected)
    assert list(smoother.vocabulary_.to_pylist()) == list(local.vocabulary_.to_pylist())
    with pytest.warns(UserWarning, match="no known word"):
        again = transform_soft_labels(local, paths[fmt], num_shards=num_shards)
    assert np.array_equal(again, local.transform(texts))


def test_a_missing_column_names_the_file(ray_local, folders):
    paths, *_ = folders
    with pytest.raises(DataError, match="no column 'sentence'") as info:
        keyword_soft_labels(paths["parquet"], text_column="sentence")
    assert info.value.path.endswith("data-0.parquet")


def test_empty_files_are_skipped_and_unreadable_ones_named(ray_local, folders, tmp_path):
    import shutil

    paths, _, _, _, expected = folders
    folder = tmp_path / "jsonl"
    shutil.copytree(paths["jsonl"], folder)
    (folder / "data-1a.jsonl").write_text("")  # no bytes: pyarrow refuses to read it, it holds no row
    (folder / "data-1b.jsonl").write_text("\n")  # no row, no column
    with pytest.warns(UserWarning, match="no known word"):
        assert np.array_equal(keyword_soft_labels(folder, dtype=np.float64), expected)
    (folder / "data-3.jsonl").write_text('{"text": "good", "label": "pos"}\n{text: bad}\n')
    with pytest.raises(DataError, match="cannot read it as JSON lines") as info:
        keyword_soft_labels(folder)
    assert info.value.path.endswith("data-3.jsonl")
    folder = tmp_path / "parquet"
    shutil.copytree(paths["parquet"], folder)
    (folder / "data-3.parquet").write_text("text,label\n")
    with pytest.raises(DataError, match="cannot read it as Parquet") as info:
        keyword_soft_labels(folder, num_shards=2)
    assert info.value.path.endswith("data-3.parquet")


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def _write(smoother, source, out, **kwargs):
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no known word.*")
        return write_soft_labels_sharded(smoother, source, out, **kwargs)


def test_parts_manifest_rerun_deleted_and_corrupted_parts(ray_local, folders, tmp_path):
    paths, texts, _, local, expected = folders
    out = tmp_path / "out"
    manifest = _write(local, paths["parquet"], out)
    names = [f"part-{i:05d}.parquet" for i in range(3)]
    assert manifest["skipped"] == []
    assert [p["file"] for p in manifest["parts"]] == names  # one part per file
    assert [(p["start"], p["stop"], p["rows"]) for p in manifest["parts"]] == [
        (0, 120, 120),
        (120, 210, 90),
        (210, 320, 110),
    ]
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["parts"] == manifest["parts"] and on_disk["n_rows"] == len(texts)
    assert [f["name"] for f in on_disk["inputs"]["files"]] == [
        "data-0.parquet",
        "data-1.parquet",
        "data-2.parquet",
    ]
    assert on_disk["parameters"]["smoother_sha256"]
    soft, _ = read_soft_labels_sharded(out)
    assert soft.dtype == np.float64 and np.array_equal(soft, expected)  # the same bits

    # a re-run: nothing recomputed, nothing rewritten
    before = _mtimes(out)
    assert _write(local, paths["parquet"], out)["skipped"] == [0, 1, 2]
    assert _mtimes(out) == before

    # a deleted part: recomputed alone
    (out / names[1]).unlink()
    with pytest.raises(Exception, match="missing"):
        read_soft_labels_sharded(out)
    assert _write(local, paths["parquet"], out)["skipped"] == [0, 2]
    after = _mtimes(out)
    assert all(after[n] == before[n] for n in (names[0], names[2]))
    assert np.array_equal(read_soft_labels_sharded(out)[0], expected)

    # a corrupted part: detected on reading, recomputed alone
    data = bytearray((out / names[2]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / names[2]).write_bytes(bytes(data))
    with pytest.raises(StaleArtifactError):
        read_soft_labels_sharded(out)
    before = _mtimes(out)
    assert _write(local, paths["parquet"], out)["skipped"] == [0, 1]
    after = _mtimes(out)
    assert after[names[0]] == before[names[0]] and after[names[1]] == before[names[1]]
    assert np.array_equal(read_soft_labels_sharded(out)[0], expected)


def test_another_smoother_or_input_is_refused(ray_local, folders, tmp_path):
    paths, texts, labels, local, _ = folders
    out = tmp_path / "out"
    _write(local, paths["jsonl"], out)
    before = _mtimes(out)
    other = KeywordSmoother(k1=1.5, dtype=np.float64).fit(texts, labels)
    with pytest.raises(StaleArtifactError, match="another smoother or input") as info:
        _write(other, paths["jsonl"], out)
    assert str(out) in str(info.value)
    with pytest.raises(StaleArtifactError, match="another smoother or input"):
        _write(local, paths["parquet"], out)  # the same rows, other files
    assert _mtimes(out) == before


def test_a_list_of_texts_keeps_its_plan(ray_local, folders, tmp_path):
    _, texts, _, local, expected = folders
    out = tmp_path / "out"
    assert len(_write(local, texts, out, num_shards=5)["parts"]) == 5
    (out / "part-00003.parquet").unlink()
    manifest = _write(local, texts, out)  # no num_shards: the previous run's plan
    assert manifest["skipped"] == [0, 1, 2, 4]
    assert np.array_equal(read_soft_labels_sharded(out)[0], expected)


def test_cli_folder_in_parts_out(ray_local, folders, tmp_path):
    from typer.testing import CliRunner

    from textsmooth.cli import app
    from textsmooth.io.soft_labels import read_soft_labels

    paths, texts, labels, _, _ = folders
    runner = CliRunner()
    out = tmp_path / "soft"
    args = ["soft-labels", "kwls", str(paths["jsonl"]), "--out-dir", str(out), "--backend", "ray"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 parts" in result.output and "no known word" in result.output
    expected = KeywordSmoother().fit_transform(texts, labels)  # float32, the command's default
    soft, manifest = read_soft_labels_sharded(out)
    assert soft.dtype == np.float32 and np.array_equal(soft, expected)
    assert manifest["label_names"] == ["mixed", "neg", "pos"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "3 already finished" in result.output, result.output

    # a file in, parts out: the soft labels of -o with the local backend
    csv = tmp_path / "train.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels, strict=True)))
    single = tmp_path / "single.parquet"
    assert runner.invoke(app, ["soft-labels", "kwls", str(csv), "-o", str(single)]).exit_code == 0
    out2 = tmp_path / "soft2"
    args = ["soft-labels", "kwls", str(csv), "--out-dir", str(out2), "--backend", "ray"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.array_equal(read_soft_labels_sharded(out2)[0], read_soft_labels(single).soft)

    # refused before anything runs
    for bad, option in [
        (["--out-dir", str(tmp_path / "x")], "--out-dir"),  # local backend
        ([], "--out-dir"),  # a folder into one file
        (["-o", str(tmp_path / "y.parquet"), "--out-dir", str(tmp_path / "x"), "--backend", "ray"], "-o"),
    ]:
        cmd = ["soft-labels", "kwls", str(paths["parquet"]), *bad]
        if not bad:
            cmd += ["-o", str(tmp_path / "z.parquet"), "--backend", "ray"]
        result = runner.invoke(app, cmd)
        assert result.exit_code != 0 and option in result.output, result.output
    assert not (tmp_path / "x").exists()


def test_a_hugging_face_dataset_in_parts(ray_local, folders, tmp_path):
    datasets = pytest.importorskip("datasets")
    _, texts, _, local, expected = folders
    dataset = datasets.Dataset.from_dict({"sentence": texts})
    manifest = _write(local, dataset, tmp_path / "out", text_column="sentence", num_shards=3)
    assert manifest["inputs"]["n_rows"] == len(texts) and len(manifest["parts"]) == 3
    assert np.array_equal(read_soft_labels_sharded(tmp_path / "out")[0], expected)
