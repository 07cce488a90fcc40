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

:func:`read_text_column` reads one text column of a folder or a Hugging Face dataset on the driver,
without Ray (for pipelines that need every text there, as the related targets do), with the same
files, order and checks.
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
    "is_text_source",
    "read_text_column",
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
    _refuse_other_sources(texts)
    if is_ray_dataset(texts) or is_hf_dataset(texts):
        if want_labels and labels is not None:
            raise InputError(
                "labels come from the dataset's label column, not from the labels argument",
                hint=f"drop labels=..., or name the column with label_column= (now {label_column!r})",
            )
        if is_ray_dataset(texts):
            return _from_ray_dataset(texts, text_column, label_column, num_shards, connect)
        return _from_hf_dataset(texts, text_column, label_column, num_shards, connect)
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


def is_text_source(value: Any) -> bool:
    """``value`` is for :func:`read_text_column`, not a sequence of texts: a folder, a path (refused
    when not a folder), a Hugging Face dataset or a ``DatasetDict`` (refused). A ``str`` naming no
    folder is not: as a sequence of texts it gets the local path's error (one string, not a list)."""
    return (
        is_folder(value) or isinstance(value, os.PathLike) or is_hf_dataset(value) or _is_dataset_dict(value)
    )


def read_text_column(
    source: Any,
    column: str,
    *,
    option: str = "text_column",
    check: Callable[[list[str], str], object] | None = None,
) -> list[str]:
    """The texts of ``column`` of a folder of Parquet / JSON-lines files or of a Hugging Face
    ``datasets.Dataset``, read in this process (no Ray): the files in name order, rows in file order.

    The checks of :func:`shard_input`: a file without the column is named, as is a column that is not
    text and a missing text (its row in its file, 1-based).

    Args:
        source: a folder (``str`` or path) or a ``datasets.Dataset``.
        column: the text column.
        option: the parameter that names the column, for the hint of an error.
        check: called as ``check(texts, where)`` on each file's texts (a dataset's), ``where`` being the
            file (``"<datasets.Dataset>"``), for a stricter rule whose errors name the file.

    Raises:
        InputError: a ``str`` or path that is not a folder; a folder without data files, or with other
            entries; a ``DatasetDict``; anything else. DataError: a file (dataset) without the column;
            the column is not text; a text is missing.
    """
    if is_folder(source):
        files = folder_files(source)
        tables, infos = [], []
        for path in files:
            table, (names, *info) = _read_file(str(path), [column])
            _check_has_columns(names, [column], str(path))
            tables.append(table)
            infos.append(info)
        _gather(tables, infos, column, None, source=str(source), files=files, option=option)
        parts = [(str(path), t) for path, t in zip(files, tables, strict=True) if t.num_rows]
    elif is_hf_dataset(source):
        parts = [(_HF_SOURCE, _hf_table(source, column, None, option))]
    else:
        _refuse_other_sources(source)
        raise InputError(
            f"{source} is not a folder"
            if isinstance(source, str)
            else f"a folder or a datasets.Dataset was expected, not {type(source).__name__}",
            hint="pass a folder of .parquet or .jsonl files, or a Hugging Face datasets.Dataset",
        )
    texts: list[str] = []
    for where, table in parts:
        part = table[column].to_pylist()
        if check is not None:
            check(part, where)
        texts.extend(part)
    return texts


def _refuse_other_sources(value: Any) -> None:
    """A path that is not a folder, and a ``DatasetDict``, are refused (after folders are taken)."""
    if isinstance(value, os.PathLike) and not is_folder(value):
        raise InputError(
            f"{value} is not a folder", path=value, hint="pass a folder of .parquet or .jsonl files"
        )
    if _is_dataset_dict(value):
        raise InputError("a DatasetDict holds several splits", hint="pass one split, e.g. dataset['train']")


# -- Hugging Face datasets ---------------------------------------------------------------------------
_HF_SOURCE = "<datasets.Dataset>"


def is_hf_dataset(value: Any) -> bool:
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
    table = _hf_table(dataset, text_column, label_column, "text_column")
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


def _hf_table(dataset: Any, text_column: str, label_column: str | None, option: str) -> Any:
    """``dataset`` in Arrow format (row slices are Arrow tables, any indices mapping applied), its
    columns and texts checked."""
    columns = [text_column, *([label_column] if label_column else [])]
    _check_has_columns(list(dataset.column_names), columns, _HF_SOURCE)
    table = dataset.with_format("arrow")
    texts = table[text_column]
    _check_text_column(texts.type, text_column, _HF_SOURCE, option)
    first = _first_null(texts)
    if first >= 0:
        _missing_text(first, text_column, _HF_SOURCE)
    return table


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
    infos = []
    for path, (names, *info) in zip(files, _ray.get(ray, [info for _, info in pairs]), strict=True):
        _check_has_columns(names, columns, str(path))
        infos.append(info)
    tables = [table_ref for table_ref, _ in pairs]
    refs, bounds, labels = _gather(tables, infos, text_column, label_column, source=str(folder), files=files)
    if num_shards is not None and refs:  # the files' tables, cut again without shuffling
        from ray.data import from_arrow_refs

        shards = _from_ray_dataset(from_arrow_refs(refs), text_column, label_column, num_shards, connect)
        shards.labels = labels if label_column is not None else None
        return shards
    return _table_shards(refs, bounds, labels, text_column, label_column, ray, connect)


def _read_file(
    path: str, columns: list[str]
) -> tuple[pa.Table, tuple[list[str], int, pa.DataType, int, Any]]:
    """A file's ``columns`` (a task, or a call on the driver): the table, and its column names, then
    :func:`_inspect_block`'s rows, text type, first missing text (-1: none) and labels. A missing
    column gives an empty table (the caller names the file); a JSON-lines file without rows has no
    schema, so it lacks no column.

    Raises:
        DataError: the file cannot be read (not Parquet, a line that is not JSON), naming it.
    """
    kind = FOLDER_SUFFIXES[Path(path).suffix.lower()]
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = list(pq.read_schema(path).names)
            table = pq.read_table(path, columns=[c for c in columns if c in names])
        elif os.path.getsize(path) == 0:  # pyarrow refuses an empty JSON file
            table, names = pa.table({}), list(columns)
        else:
            import pyarrow.json as pajson

            table = pajson.read_json(path)
            names = list(table.column_names) if table.num_rows else list(columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"cannot read it as {'Parquet' if kind == 'parquet' else 'JSON lines'}: {exc}",
            path=path,
            hint="fix or remove the file (names starting with '_' or '.' are skipped)",
        ) from exc
    if table.num_rows == 0 and kind == "json":
        return pa.table({}), (names, 0, pa.string(), -1, [])
    if any(c not in names for c in columns):
        return pa.table({}), (names, 0, pa.string(), -1, None)
    table = table.select(columns)
    return table, (names, *_inspect_block(table, columns[0], columns[1] if len(columns) > 1 else None))


# -- Ray Datasets ------------------------------------------------------------------------------------
_RAY_SOURCE = "<ray.data.Dataset>"


def is_ray_dataset(value: Any) -> bool:
    data = sys.modules.get("ray.data")
    return data is not None and isinstance(value, data.Dataset)


def _from_ray_dataset(
    dataset: Any,
    text_column: str,
    label_column: str | None,
    num_shards: int | None,
    connect: Callable[[], Any],
) -> Shards:
    ray = connect()
    schema = dataset.schema()
    columns = [text_column, *([label_column] if label_column else [])]
    _check_has_columns(list(schema.names) if schema is not None else [], columns, _RAY_SOURCE)
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
    refs, bounds, labels = _gather(blocks, infos, text_column, label_column, source=_RAY_SOURCE)
    return _table_shards(refs, bounds, labels, text_column, label_column, ray, connect)


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


# -- table shards: folders' files and Ray Datasets' blocks -------------------------------------------
def _gather(
    blocks: Sequence[Any],
    infos: Sequence[tuple[int, pa.DataType, int, Any]],
    text_column: str,
    label_column: str | None,
    *,
    source: str,
    files: Sequence[Path] | None = None,
    option: str = "text_column",
) -> tuple[list[Any], list[tuple[int, int]], list[Any]]:
    """The non-empty blocks (tables or their references), their ``(start, stop)`` in the corpus and
    their labels, each block's :func:`_inspect_block` report checked: the text column's type, a missing
    text. An error names the block's file and its row there (``files``, one per block), else ``source``
    and the row in the corpus."""
    refs, bounds, labels = [], [], []
    start = 0
    for i, (block, (n_rows, text_type, first_missing, block_labels)) in enumerate(
        zip(blocks, infos, strict=True)
    ):
        if n_rows == 0:
            continue
        where, offset = (str(files[i]), 0) if files is not None else (source, start)
        _check_text_column(text_type, text_column, where, option)
        if first_missing >= 0:
            _missing_text(offset + first_missing, text_column, where)
        refs.append(block)
        bounds.append((start, start + n_rows))
        if label_column is not None:
            labels.extend(block_labels)
        start += n_rows
    return refs, bounds, labels


def _table_shards(
    refs: list[Any],
    bounds: list[tuple[int, int]],
    labels: list[Any],
    text_column: str,
    label_column: str | None,
    ray: Any,
    connect: Callable[[], Any],
) -> Shards:
    """The shards of tables already in the object store."""
    return Shards(
        n_rows=bounds[-1][1] if bounds else 0,
        labels=labels if label_column is not None else None,
        label_names=None,
        column=text_column,
        refs=refs,
        bounds=bounds,
        ray=ray,
        _connect=connect,
    )


# -- checks ------------------------------------------------------------------------------------------
def _check_has_columns(names: list[str], columns: list[str], source: str) -> None:
    for column in columns:
        if column not in names:
            raise DataError(f"no column {column!r}", path=source, column=column, hint=f"columns: {names}")


def _check_text_column(
    arrow_type: pa.DataType, column: str, source: str, option: str = "text_column"
) -> None:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    if not (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or is_view(arrow_type)):
        raise DataError(
            f"column {column!r} holds {arrow_type}, not text",
            path=source,
            column=column,
            hint=f"name the text column with {option}=",
        )


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
