"""Read labelled text data sets: CSV, TSV, JSONL, Parquet files and Hugging Face ``datasets``.

Every reader returns a :class:`TextDataset`: texts (several text columns joined with one space, e.g.
title + description), integer label ids, the label names, row ids and a content hash.

Label names are mapped to ids in sorted order, numerically when every label is an integer
(``"2" < "10"``), otherwise as strings (:func:`textsmooth.io.checks.encode_labels`, the rule the
soft-label generators follow too); ``TextDataset.label_names[i]`` is the name of id ``i``.

Errors name the file, the row (1-based as a person counts it: in a CSV/TSV with a header, the header
is row 1; in JSONL, the line number) and the column, and say what to do. Files may be compressed
(``.gz``, ``.xz``, ``.bz2``); bytes must be UTF-8.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import DataError, LabelError
from textsmooth.io.checks import encode_labels, is_missing_label
from textsmooth.io.manifest import hash_texts, sha256_file

__all__ = [
    "FORMATS",
    "TextDataset",
    "from_hf_dataset",
    "read_class_scores",
    "read_dataset",
    "read_text_file",
    "split_lines",
]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
_COMPRESSION = {".gz": gzip.decompress, ".xz": lzma.decompress, ".bz2": bz2.decompress}
# csv.field_size_limit takes a C long: stay within 32 bits so it is valid on every platform.
_MAX_CSV_FIELD = 2**31 - 1
_SUFFIX_FORMAT = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@dataclass
class TextDataset:
    """A labelled (or unlabelled) text data set in memory.

    Attributes:
        texts: one string per row.
        labels: ``(n,)`` int64 label ids, or ``None`` when no label column was read.
        label_names: name of each id (``label_names[i]`` for id ``i``).
        ids: row identifiers (the id column, or the 0-based row index as a string).
        source: where the data came from (a path, or a description).
        file_sha256: sha256 of the source file's bytes, if it was a file.
        rows: where each row is in its file, 1-based as errors count rows (the line where a CSV
            record ends, the JSONL line, the Parquet row); ``1..n`` for data made in memory.
    """

    texts: list[str]
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    source: str = "<memory>"
    file_sha256: str | None = None
    rows: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ids:
            self.ids = [str(i) for i in range(len(self.texts))]
        if not self.rows:
            self.rows = list(range(1, len(self.texts) + 1))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    @property
    def content_sha256(self) -> str:
        """Hash of the texts and labels, independent of file format (see :func:`hash_texts`)."""
        labels = None if self.labels is None else self.labels.tolist()
        return hash_texts(self.texts, labels)

    def describe(self) -> dict[str, Any]:
        """What a manifest records about this input."""
        return {
            "source": self.source,
            "file_sha256": self.file_sha256,
            "content_sha256": self.content_sha256,
            "n_rows": len(self),
            "label_names": list(self.label_names),
        }

    def subset(self, rows: Sequence[int] | np.ndarray) -> TextDataset:
        """The rows ``rows`` as a new data set (same label names)."""
        rows = np.asarray(rows, dtype=np.int64)
        return TextDataset(
            texts=[self.texts[i] for i in rows],
            labels=None if self.labels is None else self.labels[rows],
            label_names=list(self.label_names),
            ids=[self.ids[i] for i in rows],
            source=f"{self.source}[subset]",
            rows=[self.rows[i] for i in rows],
        )


def read_dataset(
    source: str | Path | Any,
    text_cols: str | Sequence[str] = "text",
    label_col: str | None = "label",
    *,
    id_col: str | None = None,
    file_format: str | None = None,
    columns: Sequence[str] | None = None,
) -> TextDataset:
    """Read a labelled text data set.

    Args:
        source: a path (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``, optionally ``.gz``/``.xz``/``.bz2``)
            or a Hugging Face ``datasets.Dataset``.
        text_cols: the text column, or several columns joined with a space.
        label_col: the label column, or ``None`` for unlabelled data.
        id_col: a column of row identifiers (default: the row index).
        file_format: override the format guessed from the suffix (``csv``, ``tsv``, ``jsonl``, ``parquet``).
        columns: column names for a CSV/TSV file *without* a header row.

    Raises:
        DataError: unreadable file, unknown format, non-UTF-8 bytes, empty file, ragged rows, missing
            columns or values. LabelError: missing/NaN labels.
    """
    text_cols = [text_cols] if isinstance(text_cols, str) else list(text_cols)
    if not text_cols:
        raise DataError("at least one text column is needed", hint="pass --text-col")
    if not isinstance(source, str | Path):
        return from_hf_dataset(source, text_cols, label_col, id_col=id_col)
    path = Path(source)
    if not path.exists():
        raise DataError("file does not exist", path=path)
    if path.is_dir():
        raise DataError("is a folder, not a data file", path=path)
    fmt = file_format or _guess_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}", path=path, hint=f"use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        records = _read_parquet(path, text_cols, label_col, id_col)
    elif fmt == "jsonl":
        records = _read_jsonl(path)
    else:
        records = _read_delimited(path, "\t" if fmt == "tsv" else ",", columns)
    dataset = _build(records, text_cols, label_col, id_col, path)
    dataset.file_sha256 = sha256_file(path)
    return dataset


def from_hf_dataset(
    dataset: Any,
    text_cols: str | Sequence[str] = "text",
    label_col: str | None = "label",
    *,
    id_col: str | None = None,
) -> TextDataset:
    """Read a Hugging Face ``datasets.Dataset``; a ``ClassLabel`` label column keeps its names."""
    text_cols = [text_cols] if isinstance(text_cols, str) else list(text_cols)
    names = list(getattr(dataset, "column_names", []))
    source = f"<datasets.Dataset {(getattr(dataset, 'info', None) and dataset.info.dataset_name) or ''}>"
    for col in [*text_cols, *(c for c in (label_col, id_col) if c)]:
        if col not in names:
            raise DataError(f"no column {col!r}", path=source, column=col, hint=f"columns: {names}")
    columns = {c: dataset[c] for c in {*text_cols, *(c for c in (label_col, id_col) if c)}}
    records = [{c: columns[c][i] for c in columns} for i in range(len(dataset))]
    out = _build(records, text_cols, label_col, id_col, source)
    feature = getattr(dataset, "features", {}).get(label_col) if label_col else None
    class_names = getattr(feature, "names", None)
    if class_names and out.labels is not None:
        # ClassLabel ids are already ids: keep them and their names rather than re-sorting.
        out.labels = np.asarray(columns[label_col], dtype=np.int64)
        out.label_names = list(class_names)
    return out


def read_class_scores(
    path: str | Path,
    class_names: Sequence[str],
    *,
    n_rows: int,
    ids: Sequence[str] | None = None,
    file_format: str | None = None,
    probabilities: bool = False,
) -> np.ndarray:
    """Read one score per class and row (a teacher's logits or probabilities), aligned with a data file.

    Formats:

    * ``.npy``: a numeric ``(n_rows, n_classes)`` array, columns in class-id order (``class_names``
      order). Read with ``allow_pickle=False``: an object array is refused, never unpickled.
    * a table (``.parquet``, ``.csv``, ``.tsv``, ``.jsonl``, optionally compressed): one numeric column
      per class, named exactly as the class (any column order), and optionally an ``id`` column, which
      must then equal ``ids`` row by row. No other columns.

    Row ``i`` of the file belongs to row ``i`` of the data.

    Args:
        path: the file.
        class_names: the names of the classes, in id order (``TextDataset.label_names``).
        n_rows: the number of data rows the scores must cover.
        ids: the data's row ids, checked against an ``id`` column when the file has one.
        file_format: override the format guessed from the suffix (``npy`` or a table format).
        probabilities: the scores are probabilities: every row must be non-negative and sum to 1
            (within 1e-4), checked here so that the error names the file's own row.

    Returns:
        ``(n_rows, len(class_names))`` float64 array.

    Raises:
        DataError: unreadable file, wrong shape or row count, a missing, unexpected or non-numeric
            column, NaN/infinite values, or ids that do not match (file, row and column named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file does not exist" if not path.exists() else "is not a file", path=path)
    names = [str(n) for n in class_names]
    fmt = file_format or ("npy" if path.suffix.lower() == ".npy" else _guess_format(path))
    if fmt == "npy":
        values, file_rows = _scores_from_npy(path, names, n_rows), list(range(1, n_rows + 1))
    else:
        records = _read_score_table(path, fmt)
        _check_score_columns(records, names, n_rows, path)
        values, file_rows = _scores_from_records(records, names, ids, path)
    if probabilities:
        _check_probability_rows(values, path, file_rows)
    return values


def _scores_from_npy(path: Path, names: list[str], n_rows: int) -> np.ndarray:
    """A numeric ``(n_rows, len(names))`` .npy array as float64 (never unpickled; finite values)."""
    try:
        values = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickles: refused
        raise DataError(
            "is not a numeric .npy array (object or pickled data is never loaded)",
            path=path,
            hint="save a float array with np.save",
        ) from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read .npy: {exc}", path=path) from exc
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf":
        raise DataError("is not a numeric .npy array", path=path, hint="save a float array with np.save")
    if values.shape != (n_rows, len(names)):
        raise DataError(
            f"array has shape {values.shape}, expected ({n_rows}, {len(names)}): one row per data "
            f"row, one column per class ({', '.join(names)})",
            path=path,
        )
    values = values.astype(np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise DataError("score is NaN or infinite", path=path, row=int(np.argmax(bad)) + 1)
    return values


def _read_score_table(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The records of a score table in one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}", path=path, hint=f"use npy or one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        return _read_parquet(path, [], None, None, all_columns=True)
    if fmt == "jsonl":
        return _read_jsonl(path)
    return _read_delimited(path, "\t" if fmt == "tsv" else ",", None)


def _check_score_columns(records: list[dict[str, Any]], names: list[str], n_rows: int, path: Path) -> None:
    """One column per class, optionally ``id``, nothing else; one record per data row."""
    present = [c for c in records[0] if c != "__row__"] if records else []
    missing = [n for n in names if n not in present]
    if missing:
        raise DataError(
            f"no column for class(es) {', '.join(map(repr, missing))}",
            path=path,
            column=missing[0],
            hint=f"one column per class, named {', '.join(names)}; columns: {present}",
        )
    unexpected = [c for c in present if c not in names and c != "id"]
    if unexpected:
        raise DataError(
            f"unexpected column(s) {', '.join(map(repr, unexpected))}",
            path=path,
            column=unexpected[0],
            hint=f"only 'id' and one column per class ({', '.join(names)})",
        )
    if len(records) != n_rows:
        raise DataError(
            f"has {len(records)} rows, the data has {n_rows}", path=path, hint="one row per data row"
        )


def _scores_from_records(
    records: list[dict[str, Any]], names: list[str], ids: Sequence[str] | None, path: Path
) -> tuple[np.ndarray, list[int]]:
    """``(scores, file rows)``: finite numbers in class order, the ``id`` column checked against ``ids``."""
    values = np.empty((len(records), len(names)), dtype=np.float64)
    file_rows = []
    for i, record in enumerate(records):
        row = record.get("__row__", i + 1)
        file_rows.append(row)
        if ids is not None and "id" in record and str(record["id"]) != str(ids[i]):
            raise DataError(
                f"id {record['id']!r} does not match the data's id {ids[i]!r} of the same row",
                path=path,
                row=row,
                column="id",
                hint="rows must be in the order of the data file",
            )
        for j, name in enumerate(names):
            value = record.get(name)
            number = _as_float(value)
            if number is None or not math.isfinite(number):
                what = "missing" if _is_missing(value) or value == "" else f"{value!r}, not a finite number"
                raise DataError(f"score is {what}", path=path, row=row, column=name)
            values[i, j] = number
    return values, file_rows


def _check_probability_rows(values: np.ndarray, path: Path, rows: Sequence[int]) -> None:
    """Every row non-negative and summing to 1 (within 1e-4); else a DataError naming the file's row."""
    wrong = (values.min(axis=1) < 0) | (np.abs(values.sum(axis=1) - 1) > 1e-4)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise DataError(
            f"teacher probabilities must be non-negative and sum to 1 (this row: sum {values[i].sum():.6g})",
            path=path,
            row=rows[i],
            hint="for raw scores use --teacher-kind logits",
        )


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _guess_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIX_FORMAT:
        return _SUFFIX_FORMAT[suffixes[-1]]
    raise DataError(
        "cannot tell the format from the file name",
        path=path,
        hint="name it .csv/.tsv/.jsonl/.parquet (optionally .gz/.xz/.bz2) or pass --format",
    )


def read_text_file(path: Path) -> str:
    """A text file's content: decompressed by suffix (.gz/.xz/.bz2), UTF-8 decoded, BOM dropped.

    Raises:
        DataError: the file cannot be decompressed, is not UTF-8 (row of the first bad byte named) or
            holds nothing but white space.
    """
    raw = path.read_bytes()
    decompress = _COMPRESSION.get(path.suffix.lower())
    if decompress is not None:
        try:
            raw = decompress(raw)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise DataError(f"cannot decompress: {exc}", path=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"bytes are not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=path,
            row=line,
            hint="re-encode the file as UTF-8",
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise DataError("file is empty", path=path)
    return text


def _read_delimited(path: Path, delimiter: str, columns: Sequence[str] | None) -> list[dict[str, Any]]:
    """Records of a CSV/TSV file, each with ``__row__`` = the file line where the record ends."""
    text = read_text_file(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    # No field can be longer than the file, so a limit of the file's length never rejects a
    # well-formed field (the default, 131072 characters, does); the limit is a C long, hence the cap.
    previous = csv.field_size_limit()
    csv.field_size_limit(min(max(len(text), previous), _MAX_CSV_FIELD))
    try:
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", path=path, row=reader.line_num) from exc
    finally:
        csv.field_size_limit(previous)
    if columns is None:
        (_, header), body = rows[0], rows[1:]
        if len(set(header)) != len(header):
            raise DataError("header has duplicate column names", path=path, row=1)
    else:
        header, body = list(columns), rows
    if not body:
        raise DataError("file has a header but no data rows", path=path)
    width = len(header)
    records = []
    for line, row in body:
        if len(row) != width:
            raise DataError(
                f"row has {len(row)} fields, the header has {width}",
                path=path,
                row=line,
                hint="check quoting and delimiters in that row",
            )
        record: dict[str, Any] = dict(zip(header, row, strict=True))
        record["__row__"] = line
        records.append(record)
    return records


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (a trailing ``\\r`` is dropped).

    Not :meth:`str.splitlines`, which also splits on U+0085, U+2028, U+2029 and other separators that
    are legal inside a JSON string (350 of the 25,000 IMDb training reviews contain U+0085).
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(split_lines(read_text_file(path)), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, row=number) from exc
        if not isinstance(record, dict):
            raise DataError("line is not a JSON object", path=path, row=number)
        record["__row__"] = number
        records.append(record)
    return records


def _read_parquet(
    path: Path,
    text_cols: list[str],
    label_col: str | None,
    id_col: str | None,
    *,
    all_columns: bool = False,
) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read Parquet: {exc}", path=path) from exc
    if table.num_rows == 0:
        raise DataError("file is empty", path=path)
    wanted = list(table.column_names) if all_columns else [*text_cols, *(c for c in (label_col, id_col) if c)]
    for col in wanted:
        if col not in table.column_names:
            raise DataError(
                f"no column {col!r}", path=path, column=col, hint=f"columns: {table.column_names}"
            )
    data = {c: table.column(c).to_pylist() for c in dict.fromkeys(wanted)}
    return [{c: data[c][i] for c in data} for i in range(table.num_rows)]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _build(
    records: list[dict[str, Any]],
    text_cols: list[str],
    label_col: str | None,
    id_col: str | None,
    source: str | Path,
) -> TextDataset:
    if not records:
        raise DataError("no rows", path=source)
    available = list(records[0].keys() - {"__row__"})
    for col in [*text_cols, *(c for c in (label_col, id_col) if c)]:
        if col not in records[0]:
            hint = f"columns: {sorted(available)}"
            raise DataError(f"no column {col!r}", path=source, column=col, hint=hint)
    texts, raw_labels, ids, rows = [], [], [], []
    for offset, record in enumerate(records):
        row = record.get("__row__", offset + 1)
        rows.append(row)
        parts = []
        for col in text_cols:
            if col not in record:
                raise DataError("field is missing", path=source, row=row, column=col)
            value = record[col]
            if _is_missing(value):
                raise DataError("text is missing (null/NaN)", path=source, row=row, column=col)
            if not isinstance(value, str):
                what = type(value).__name__
                raise DataError(f"text is {what}, not a string", path=source, row=row, column=col)
            parts.append(value)
        texts.append(" ".join(parts))
        if label_col is not None:
            value = record.get(label_col)
            if is_missing_label(value):
                raise LabelError(
                    "label is missing (empty, null or NaN)",
                    path=source,
                    row=row,
                    column=label_col,
                    hint="give every row a label, or drop the rows without one",
                )
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise LabelError(
                    f"label is {type(value).__name__}, not a name or number",
                    path=source,
                    row=row,
                    column=label_col,
                )
            raw_labels.append(value)
        ids.append(str(record[id_col]) if id_col else str(offset))
    if label_col is None:
        return TextDataset(texts=texts, ids=ids, source=str(source), rows=rows)
    labels, names = encode_labels(raw_labels)
    return TextDataset(texts=texts, labels=labels, label_names=names, ids=ids, source=str(source), rows=rows)
