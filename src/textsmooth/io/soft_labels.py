"""The soft-label artifact: a Parquet table plus its JSON manifest.

Table columns: ``id`` (string), ``label`` (int64 hard label id, null for unlabelled rows),
``soft_label`` (fixed-size list of float32, one value per class, summing to 1).
The manifest (``OUT.parquet.manifest.json``) records the library version, the method and its
parameters, the label names, and the input's content sha256 and row count, so that soft labels
are never used with other data by mistake (:func:`read_soft_labels` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textsmooth.errors import ArtifactError, InputError, StaleArtifactError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.manifest import read_manifest, write_manifest
from textsmooth.io.readers import TextDataset

__all__ = ["KIND", "SoftLabels", "read_soft_labels", "write_soft_labels"]

KIND = "soft-labels"


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
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Write ``soft`` (rows aligned with ``dataset``) and its manifest atomically; return the manifest.

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
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return write_manifest(
        path,
        kind=KIND,
        parameters={"method": method, **dict(parameters or {})},
        inputs=dataset.describe(),
        extra={"label_names": list(dataset.label_names), "n_classes": n_classes},
    )


def read_soft_labels(path: str | Path, dataset: TextDataset | None = None) -> SoftLabels:
    """Read a soft-label artifact; with ``dataset``, check that it was made from exactly that data.

    Raises:
        ArtifactError: missing file or manifest, unreadable table.
        StaleArtifactError: the artifact was modified, or was made from other data than ``dataset``.
    """
    path = Path(path)
    manifest = read_manifest(path, kind=KIND)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ArtifactError(f"cannot read the soft-label table: {exc}", path=path) from exc
    n_classes = int(manifest["n_classes"])
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
