"""A corpus cut into shards of consecutive texts in Ray's object store, from any supported input.

* a sequence of str (with a sequence of labels): checked on the driver with the rules of the local
  path (:func:`textsmooth.targets.base.check_texts`), then cut into ``num_shards`` slices;
* a Ray Dataset: its columns are checked, it is repartitioned (without shuffling) when
  ``num_shards`` is given, and its blocks, in the dataset's order, are the shards; a small task per
  block reports its rows, its first missing text and its labels;
* a Hugging Face ``datasets.Dataset``: its columns are checked on the driver (a ``ClassLabel`` column
  gives the class names) and row slices of its Arrow table are the shards;
* a folder of Parquet (``*.parquet``) or JSON-lines (``*.jsonl``, ``*.json``) files: the files, sorted by
  name, rows in file order, are the corpus; one Ray task per file reads it (the table stays in the
  object store) and reports its rows, its first missing text and its labels; each file is a shard
  (with ``num_shards``, the files' tables are repartitioned as a Ray Dataset, without shuffling).
  Files whose names start with ``.`` or ``_`` (``_SUCCESS``) are skipped; the workers must see the
  folder at the same path (one machine, or a shared file system).

Labels are gathered on the driver (one value per text), where the local path's label checks run
unchanged. Lists and Hugging Face datasets are checked before Ray is started.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textsmooth.distributed import _ray
from textsmooth.errors import DataError, InputError
from textsmooth.targets.base import check_texts

__all__ = [
    "FOLDER_SUFFIXES",
    "SHARD_TEXTS",
    "Shards",
    "default_num_shards",
    "describe_folder",
    "folder_files",
    "is_folder",
    "shard_input",
]

#: By default a shard of a list holds at most this many texts (its counts stay in the object store
#: until the transform); there are at least twice as many shards as CPUs.
SHARD_TEXTS = 50_000


@dataclass
class Shards:
    """Consecutive shards of a corpus; ``refs[i]`` holds rows ``bounds[i][0]:bounds[i][1]``.

    Attributes:
        n_rows: texts in the corpus.
        labels: every label, in corpus order (``None`` when none were asked for).
        label_names: class names of a Hugging Face ``ClassLabel`` column, else ``None``.
        column: the text column of table shards; ``None`` when a shard is a list of str.
        refs, bounds: one object reference and one ``(start, stop)`` per shard (after :meth:`connect`).
        counts: references to the shards' count matrices, once a fit has counted them.
    """

    n_rows: int
    labels: Any | None
    label_names: list[str] | None
    column: str | None
    refs: list[Any] = field(default_factory=list)
    bounds: list[tuple[int, int]] = field(default_factory=list)
    counts: list[Any] = field(default_factory=list)
    ray: Any = None
    _connect: Callable[[], Any] | None = None
    _put: Callable[[Any], tuple[list[Any], list[tuple[int, int]]]] | None = None

    def connect(self) -> Any:
        """Connect to Ray (once) and put the shards in the object store (once); return ``ray``."""
        if self.ray is None:
            self.ray = self._connect()  # type: ignore[misc]
        if self._put is not None:
            self.refs, self.bounds = self._put(self.ray)
            self._put = None
        return self.ray


def default_num_shards(n_rows: int, cpus: int, max_rows: int = SHARD_TEXTS) -> int:
    """Twice ``cpus``, or more so that no shard holds more than ``max_rows`` texts; at most ``n_rows``."""
    return max(1, min(n_rows, max(2 * cpus, math.ceil(n_rows / max_rows))))


def shard_input(
    texts: Any,
    labels: Sequence[Any] | None,
    *,
    text_column: str,
    label_column: str | None,
    num_shards: int | None,
    connect: Callable[[], Any],
) -> Shards:
    """Check ``texts`` (and labels, when ``label_column`` is not ``None``) and plan their shards.

    Raises:
        InputError: labels missing for a list of texts, or given besides a dataset; a
            ``DatasetDict``. DataError: a column is missing or not text, a text is missing (row
            named, 1-based), a text is not a string.
    """
    want_labels = label_column is not None
    if is_folder(texts):
        if want_labels and labels is not None:
            raise InputError(
                "labels come from the files' label column, not from the labels argument",
                hint=f"drop labels=..., or name the column with label_column= (now {label_column!r})",
            )
        return _from_folder(Path(texts), text_column, label_column, num_shards, connect)
    if isinstance(texts, os.PathLike):
        raise InputError(
            f"{texts} is not a folder", path=texts, hint="pass a folder of .parquet or .jsonl files"
        )
    if _is_ray_dataset(texts) or _is_hf_dataset(texts):
        if want_labels and labels is not None:
            raise InputError(
                "labels come from the dataset's label column, not from the labels argument",
                hint=f"drop labels=..., or name the column with label_column= (now {label_column!r})",
            )
        if _is_ray_dataset(texts):
            return _from_ray_dataset(texts, text_column, label_column, num_shards, connect)
        return _from_hf_dataset(texts, text_column, label_column, num_shards, connect)
    if _is_dataset_dict(texts):
        raise InputError("a DatasetDict holds several splits", hint="pass one split, e.g. dataset['train']")
    if want_labels and labels is None:
        raise InputError("labels are needed with a sequence of texts", hint="pass one label per text")
    checked = check_texts(texts)
    n_rows = len(checked)

    def put(ray: Any) -> tuple[list[Any], list[tuple[int, int]]]:
        bounds = _even_bounds(n_rows, num_shards or default_num_shards(n_rows, _ray.cluster_cpus(ray)))
        return [ray.put(checked[a:b]) for a, b in bounds], bounds

    return Shards(
        n_rows=n_rows,
        labels=labels if want_labels else None,
        label_names=None,
        column=None,
        _connect=connect,
        _put=put,
    )


# -- Hugging Face datasets ---------------------------------------------------------------------------
def _is_hf_dataset(value: Any) -> bool:
    datasets = sys.modules.get("datasets")
    return datasets is not None and isinstance(value, datasets.Dataset)


def _is_dataset_dict(value: Any) -> bool:
    datasets = sys.modules.get("datasets")
    kinds = tuple(getattr(datasets, name, ()) for name in ("DatasetDict", "IterableDatasetDict"))
    return datasets is not None and isinstance(value, tuple(k for k in kinds if isinstance(k, type)))


def _from_hf_dataset(
    dataset: Any,
    text_column: str,
    label_column: str | None,
    num_shards: int | None,
    connect: Callable[[], Any],
) -> Shards:
    source = "<datasets.Dataset>"
    names = list(dataset.column_names)
    for column in [text_column, *([label_column] if label_column else [])]:
        if column not in names:
            raise DataError(f"no column {column!r}", path=source, column=column, hint=f"columns: {names}")
    table = dataset.with_format("arrow")  # row slices as Arrow tables, any indices mapping applied
    texts = table[text_column]
    _check_text_column(texts.type, text_column, source)
    _check_no_missing_text(texts, text_column, source, offset=0)
    labels = label_names = None
    if label_column is not None:
        labels = table[label_column].to_pylist()
        label_names = getattr(dataset.features.get(label_column), "names", None)
    n_rows = len(dataset)

    def put(ray: Any) -> tuple[list[Any], list[tuple[int, int]]]:
        bounds = _even_bounds(n_rows, num_shards or default_num_shards(n_rows, _ray.cluster_cpus(ray)))
        return [ray.put(table[a:b].select([text_column])) for a, b in bounds], bounds

    return Shards(
        n_rows=n_rows,
        labels=labels,
        label_names=list(label_names) if label_names else None,
        column=text_column,
        _connect=connect,
        _put=put,
    )


# -- folders of Parquet / JSON-lines files ----------------------------------------------------------
#: File name endings read from a folder, and their format.
FOLDER_SUFFIXES = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}


def is_folder(value: Any) -> bool:
    """``value`` is a ``str`` or path naming an existing folder."""
    return isinstance(value, str | os.PathLike) and Path(value).is_dir()


def folder_files(folder: str | Path) -> list[Path]:
    """The data files of ``folder``, sorted by name (``.``/``_`` files skipped).

    Raises:
        InputError: the folder holds no data file, or a file of another kind (named).
    """
    folder = Path(folder)
    files, other = [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith((".", "_")):
            continue
        if path.is_file() and path.suffix.lower() in FOLDER_SUFFIXES:
            files.append(path)
        else:
            other.append(path.name)
    if other:
        raise InputError(
            f"the folder holds {len(other)} entries that are not .parquet/.jsonl files: "
            f"{', '.join(other[:5])}{' ...' if len(other) > 5 else ''}",
            path=folder,
            hint="move them out, or rename them to start with '_' or '.' to have them skipped",
        )
    if not files:
        raise InputError("the folder holds no .parquet or .jsonl file", path=folder)
    return files


def describe_folder(folder: str | Path) -> dict[str, Any]:
    """The identity of a folder's data: each file's name, size and sha256, in reading order."""
    files = []
    for path in folder_files(folder):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        files.append({"name": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest()})
    return {"kind": "folder", "source": str(Path(folder).resolve()), "files": files}


def _from_folder(
    folder: Path,
    text_column: str,
    label_column: str | None,
    num_shards: int | None,
    connect: Callable[[], Any],
) -> Shards:
    files = folder_files(folder)
    ray = connect()
    read = _ray.remote(_read_file, num_returns=2)
    columns = [text_column, *([label_column] if label_column else [])]
    pairs = [read.remote(str(path), columns) for path in files]
    infos = _ray.get(ray, [info for _, info in pairs])
    refs, bounds, labels = [], [], []
    start = 0
    for path, (table_ref, _), (n_rows, names, text_type, first_missing, file_labels) in zip(
        files, pairs, infos, strict=True
    ):
        for column in columns:
            if column not in names:
                raise DataError(f"no column {column!r}", path=path, column=column, hint=f"columns: {names}")
        if n_rows == 0:
            continue
        _check_text_column(text_type, text_column, str(path))
        if first_missing >= 0:
            _missing_text(first_missing, text_column, str(path))
        refs.append(table_ref)
        bounds.append((start, start + n_rows))
        if label_column is not None:
            labels.extend(file_labels)
        start += n_rows
    if num_shards is not None and refs:  # the files' tables, cut again without shuffling
        from ray.data import from_arrow_refs

        shards = _from_ray_dataset(from_arrow_refs(refs), text_column, label_column, num_shards, connect)
        shards.labels = labels if label_column is not None else None
        return shards
    return Shards(
        n_rows=start,
        labels=labels if label_column is not None else None,
        label_names=None,
        column=text_column,
        refs=refs,
        bounds=bounds,
        ray=ray,
        _connect=connect,
    )


def _read_file(
    path: str, columns: list[str]
) -> tuple[pa.Table, tuple[int, list[str], pa.DataType, int, Any]]:
    """A file's ``columns`` (task): the table, and its rows, column names, text type, first missing text
    (-1: none) and labels. A missing column gives an empty table (the driver names the file)."""
    if FOLDER_SUFFIXES[Path(path).suffix.lower()] == "parquet":
        import pyarrow.parquet as pq

        names = list(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in columns if c in names])
    else:
        import pyarrow.json as pajson

        table = pajson.read_json(path)
        names = list(table.column_names)
    if any(c not in names for c in columns):
        return pa.table({}), (0, names, pa.string(), -1, None)
    table = table.select(columns)
    texts = table.column(columns[0])
    labels = table.column(columns[1]).to_pylist() if len(columns) > 1 else None
    return table, (table.num_rows, names, texts.type, _first_null(texts), labels)


# -- Ray Datasets ------------------------------------------------------------------------------------
def _is_ray_dataset(value: Any) -> bool:
    data = sys.modules.get("ray.data")
    return data is not None and isinstance(value, data.Dataset)


def _from_ray_dataset(
    dataset: Any,
    text_column: str,
    label_column: str | None,
    num_shards: int | None,
    connect: Callable[[], Any],
) -> Shards:
    source = "<ray.data.Dataset>"
    ray = connect()
    schema = dataset.schema()
    names = list(schema.names) if schema is not None else []
    columns = [text_column, *([label_column] if label_column else [])]
    for column in columns:
        if column not in names:
            raise DataError(f"no column {column!r}", path=source, column=column, hint=f"columns: {names}")
    dataset = dataset.select_columns(columns)
    if num_shards is not None:
        dataset = dataset.repartition(num_shards, shuffle=False)
    options = dataset.context.execution_options
    preserve = options.preserve_order
    options.preserve_order = True  # blocks in the dataset's order: the rows of the soft labels
    try:
        blocks = dataset.to_arrow_refs()
    finally:
        options.preserve_order = preserve
    inspect = _ray.remote(_inspect_block)
    infos = _ray.get(ray, [inspect.remote(block, text_column, label_column) for block in blocks])
    refs, bounds, labels = [], [], []
    start = 0
    for block, (n_rows, text_type, first_missing, block_labels) in zip(blocks, infos, strict=True):
        if n_rows == 0:
            continue
        _check_text_column(text_type, text_column, source)
        if first_missing >= 0:
            _missing_text(start + first_missing, text_column, source)
        refs.append(block)
        bounds.append((start, start + n_rows))
        if label_column is not None:
            labels.extend(block_labels)
        start += n_rows
    return Shards(
        n_rows=start,
        labels=labels if label_column is not None else None,
        label_names=None,
        column=text_column,
        refs=refs,
        bounds=bounds,
        ray=ray,
        _connect=connect,
    )


def _inspect_block(
    block: pa.Table, text_column: str, label_column: str | None
) -> tuple[int, pa.DataType, int, list[Any] | None]:
    """A block's rows, text type, first missing text (-1: none) and labels (task)."""
    if block.num_rows == 0:  # an empty block may lack the columns
        return 0, pa.string(), -1, []
    texts = block.column(text_column)
    first = _first_null(texts)
    labels = block.column(label_column).to_pylist() if label_column is not None else None
    return block.num_rows, texts.type, first, labels


# -- checks ------------------------------------------------------------------------------------------
def _check_text_column(arrow_type: pa.DataType, column: str, source: str) -> None:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    if not (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or is_view(arrow_type)):
        raise DataError(
            f"column {column!r} holds {arrow_type}, not text",
            path=source,
            column=column,
            hint="name the text column with text_column=",
        )


def _check_no_missing_text(texts: pa.Array | pa.ChunkedArray, column: str, source: str, offset: int) -> None:
    first = _first_null(texts)
    if first >= 0:
        _missing_text(offset + first, column, source)


def _first_null(values: pa.Array | pa.ChunkedArray) -> int:
    if values.null_count == 0:
        return -1
    return int(pc.index(pc.is_null(values), True).as_py())


def _missing_text(row: int, column: str, source: str) -> None:
    raise DataError(
        f"{column}[{row}] is missing, not a string",
        path=source,
        row=row + 1,
        column=column,
        hint="drop or fill the rows without text",
    )


def _even_bounds(n_rows: int, num_shards: int) -> list[tuple[int, int]]:
    """``num_shards`` (at most ``n_rows``) consecutive ranges covering ``0..n_rows``, sizes within one."""
    k = max(1, min(num_shards, n_rows))
    cuts = np.arange(k + 1, dtype=np.int64) * n_rows // k
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]
