"""The soft-label artifact: a Parquet table plus its JSON manifest.

Table columns: ``id`` (string), ``label`` (int64 hard label id, null for unlabelled rows),
``soft_label`` (fixed-size list of float32, one value per class, summing to 1).
The manifest (``OUT.parquet.manifest.json``) records the library version, the method and its
parameters, the label names, and the input's content sha256 and row count, so that soft labels
are never used with other data by mistake (:func:`read_soft_labels` checks it).

The Parquet file also carries the class count, the label names and the row count in its schema
metadata (key ``textsmooth``), covered by the manifest's ``artifact_sha256``: the manifest's copies are
checked against them, so an edited manifest (a renamed class, another ``n_classes``) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textsmooth.errors import ArtifactError, InputError, StaleArtifactError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.manifest import check_manifest_fields, read_manifest, write_manifest
from textsmooth.io.readers import TextDataset

__all__ = ["KIND", "SoftLabels", "read_soft_labels", "write_soft_labels"]

KIND = "soft-labels"
_METADATA_KEY = b"textsmooth"


@dataclass(frozen=True)
class SoftLabels:
    """Soft labels read back from an artifact."""

    ids: list[str]
    labels: np.ndarray | None
    soft: np.ndarray
    manifest: dict[str, Any]

    @property
    def label_names(self) -> list[str]:
        return list(self.manifest.get("label_names", []))


def write_soft_labels(
    path: str | Path,
    soft: np.ndarray,
    dataset: TextDataset,
    *,
    method: str,
    parameters: Mapping[str, Any] | None = None,
    fitted_on: Mapping[str, Any] | None = None,
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Write ``soft`` (rows aligned with ``dataset``) and its manifest atomically; return the manifest.

    Args:
        path: the Parquet file to write (its manifest goes to ``PATH.manifest.json``).
        soft: ``(len(dataset), n_classes)`` soft labels.
        dataset: the rows they belong to (ids, hard labels, label names, content hash).
        method: the generator's name, recorded in the manifest.
        parameters: the generator's parameters, recorded in the manifest.
        fitted_on: description of the data the generator was fitted on (``TextDataset.describe()``),
            when that is not ``dataset`` itself (soft labels of a test set from training statistics).
        tolerance: how far a row's sum may be from 1.

    Raises:
        InputError: wrong shape, NaN/inf values, negative values, or a row not summing to 1; nothing
            is written then.
    """
    soft = np.asarray(soft)
    n_classes = dataset.n_classes or (soft.shape[1] if soft.ndim == 2 else 0)
    if soft.ndim != 2 or soft.shape != (len(dataset), n_classes):
        raise InputError(f"soft labels have shape {soft.shape}, expected ({len(dataset)}, {n_classes})")
    bad = ~np.isfinite(soft).all(axis=1) | (soft.min(axis=1) < 0) | (np.abs(soft.sum(axis=1) - 1) > tolerance)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            "soft label is not a probability distribution (NaN, negative, or not summing to 1)",
            row=row + 1,
        )
    label_names = list(dataset.label_names)
    values = pa.array(soft.astype(np.float32).ravel(), type=pa.float32())
    table = pa.table(
        {
            "id": pa.array(dataset.ids, type=pa.string()),
            "label": pa.array(dataset.labels, type=pa.int64())
            if dataset.labels is not None
            else pa.nulls(len(dataset), pa.int64()),
            "soft_label": pa.FixedSizeListArray.from_arrays(values, n_classes),
        }
    )
    described = {"n_classes": n_classes, "label_names": label_names, "n_rows": len(dataset)}
    table = table.replace_schema_metadata({_METADATA_KEY: json.dumps(described, sort_keys=True)})
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    extra: dict[str, Any] = {"label_names": label_names, "n_classes": n_classes}
    if fitted_on is not None:
        extra["fitted_on"] = dict(fitted_on)
    return write_manifest(
        path,
        kind=KIND,
        parameters={"method": method, **dict(parameters or {})},
        inputs=dataset.describe(),
        extra=extra,
    )


def read_soft_labels(path: str | Path, dataset: TextDataset | None = None) -> SoftLabels:
    """Read a soft-label artifact; with ``dataset``, check that it was made from exactly that data.

    The manifest must carry the artifact's checksum, and its ``n_classes``, ``label_names`` and row
    count must agree with the table.

    Raises:
        ArtifactError: missing file or manifest, a manifest without checksum, an unreadable table, or a
            table that is not a textsmooth soft-label table.
        StaleArtifactError: the artifact or its manifest was modified, or it was made from other data
            than ``dataset``.
    """
    path = Path(path)
    manifest = read_manifest(path, kind=KIND)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ArtifactError(f"cannot read the soft-label table: {exc}", path=path) from exc
    described = _check_table(table, path)
    check_manifest_fields(
        manifest, {"n_classes": described["n_classes"], "label_names": described["label_names"]}, path
    )
    check_manifest_fields(manifest.get("inputs") or {}, {"n_rows": described["n_rows"]}, path)
    n_classes = described["n_classes"]
    soft = table.column("soft_label").combine_chunks().flatten().to_numpy().reshape(-1, n_classes)
    label_column = table.column("label")
    labels = None if label_column.null_count == len(label_column) else label_column.to_numpy()
    out = SoftLabels(ids=table.column("id").to_pylist(), labels=labels, soft=soft, manifest=manifest)
    if dataset is not None:
        inputs = manifest.get("inputs", {})
        if inputs.get("n_rows") != len(dataset) or inputs.get("content_sha256") != dataset.content_sha256:
            raise StaleArtifactError(
                f"soft labels were made from other data ({inputs.get('n_rows')} rows from "
                f"{inputs.get('source')}), not from {dataset.source} ({len(dataset)} rows)",
                path=path,
                hint="re-create them with `textsmooth soft-labels` on this data",
            )
        if list(manifest.get("label_names", [])) != list(dataset.label_names):
            raise StaleArtifactError("soft labels use other label names than the data", path=path)
    return out


def _check_table(table: pa.Table, path: Path) -> dict[str, Any]:
    """The table's own description (schema metadata), checked against its columns."""

    def foreign(why: str) -> ArtifactError:
        return ArtifactError(f"not a textsmooth soft-label table: {why}", path=path, hint="re-create it")

    raw = (table.schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        raise foreign("its schema has no textsmooth metadata")
    try:
        described = json.loads(raw)
        n_classes, label_names, n_rows = (
            described["n_classes"],
            described["label_names"],
            described["n_rows"],
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise foreign(f"its textsmooth metadata is unreadable ({exc})") from exc
    if not (isinstance(n_classes, int) and n_classes >= 1 and isinstance(n_rows, int)):
        raise foreign("its metadata gives no valid class or row count")
    if not (isinstance(label_names, list) and all(isinstance(n, str) for n in label_names)):
        raise foreign("its metadata has no list of label names")
    if label_names and len(label_names) != n_classes:
        raise foreign(f"{len(label_names)} label names for {n_classes} classes")
    expected = {
        "id": pa.string(),
        "label": pa.int64(),
        "soft_label": pa.list_(pa.float32(), n_classes),
    }
    for name, kind in expected.items():
        if name not in table.column_names:
            raise foreign(f"no column {name!r}")
        if table.schema.field(name).type != kind:
            raise foreign(f"column {name!r} is {table.schema.field(name).type}, expected {kind}")
    if table.num_rows != n_rows:
        raise foreign(f"{table.num_rows} rows, its metadata says {n_rows}")
    if table.column("soft_label").null_count or table.column("id").null_count:
        raise foreign("a row has no id or no soft label")
    labels = table.column("label")
    if labels.null_count not in (0, len(labels)):
        raise foreign("some rows have a hard label and some do not")
    ids = labels.drop_null().to_numpy()
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise foreign(f"a hard label is outside 0..{n_classes - 1}")
    return {"n_classes": n_classes, "label_names": label_names, "n_rows": n_rows}
