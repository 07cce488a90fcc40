"""Soft labels written shard by shard into a folder, resumable: ``part-NNNNN.parquet`` + ``manifest.json``.

:func:`write_soft_labels_sharded` transforms a corpus with a fitted KWLS / LS-TFIDF smoother on Ray (the
tasks of :func:`~textsmooth.distributed.transform_soft_labels`) and the driver writes each shard's soft
labels as it finishes:

* ``OUT/part-00000.parquet``, ... (columns ``row``: the corpus row, int64; ``soft_label``: one value per
  class in the smoother's dtype, so the parts hold the in-memory array's exact bits), each renamed into
  place atomically, then its own manifest ``part-00000.parquet.manifest.json`` (its sha256, its row range,
  the smoother's and the input's identity): a part with a valid manifest is finished;
* ``OUT/manifest.json``, written last, once every part is there: the parts (file, row range, rows,
  sha256), the smoother (its parameters and the sha256 of its saved form), the input's identity (a
  folder: each file's name, size and sha256; texts: their content hash), classes and dtype.

A re-run with the same smoother and input skips the parts whose bytes still match their manifest (not
rewritten: their files are untouched), recomputes missing or damaged ones, then writes the folder's
manifest. A folder holding parts of another smoother or input is refused, naming the folder.
:func:`read_soft_labels_sharded` reads the parts back into one array, checking every checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textsmooth._params import check_int
from textsmooth.distributed import _ray
from textsmooth.distributed._shards import describe_folder, is_folder, shard_input
from textsmooth.distributed.keyword import soft_labels_of_texts
from textsmooth.errors import ArtifactError, ConfigError, InputError, StaleArtifactError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.manifest import hash_texts, read_manifest, sha256_file, write_manifest
from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother, warn_no_known_word

__all__ = ["FOLDER_KIND", "PART_KIND", "read_soft_labels_sharded", "write_soft_labels_sharded"]

FOLDER_KIND = "soft-labels-sharded"
PART_KIND = "soft-labels-part"
_PART = re.compile(r"^part-(\d{5,})\.parquet$")
_METADATA_KEY = b"textsmooth"
_FEATURE = "textsmooth.distributed.write_soft_labels_sharded"


def part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def write_soft_labels_sharded(
    smoother: KeywordSmoother | TfidfSmoother,
    source: Any,
    out_dir: str | Path,
    *,
    text_column: str = "text",
    num_shards: int | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 3,
    progress: bool = False,
) -> dict[str, Any]:
    """``smoother.transform(source)`` on Ray, written part by part into ``out_dir``; resumable.

    Args:
        smoother: a fitted :class:`~textsmooth.targets.keyword.KeywordSmoother` or
            :class:`~textsmooth.targets.keyword.TfidfSmoother`.
        source: a folder of ``.parquet`` / ``.jsonl`` files (``text_column``; files sorted by name), a
            sequence of str, or a Hugging Face dataset (``text_column``). A Ray Dataset has no identity
            to resume against: write it to Parquet first.
        out_dir: the output folder (created); ``part-NNNNN.parquet`` per shard, then ``manifest.json``.
        num_shards: parts; default: one per file for a folder, else the plan of a previous run in
            ``out_dir``, else twice the cluster's CPUs. A part's rows are recorded in its manifest, so a
            re-run with another plan recomputes the parts whose rows changed.
        address, num_cpus, max_retries, progress: as :func:`~textsmooth.distributed.transform_soft_labels`.

    Returns:
        The folder's manifest (``parts``: ``file``, ``start``, ``stop``, ``rows``, ``sha256`` each;
        ``skipped``: the parts a previous run had finished).

    Raises:
        StaleArtifactError: ``out_dir`` holds soft labels of another smoother or input (names it).
        ConfigError, InputError, DataError: as :func:`~textsmooth.distributed.transform_soft_labels`.
    """
    if not isinstance(smoother, KeywordSmoother | TfidfSmoother):
        raise ConfigError(
            "write_soft_labels_sharded takes a KeywordSmoother or TfidfSmoother, "
            f"not {type(smoother).__name__}"
        )
    smoother._check_fitted()
    smoother._check_params()
    check_int("num_shards", num_shards, allow_none=True)
    check_int("max_retries", max_retries, low=0)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file, not a folder", path=out_dir, option="--out-dir")
    identity = _identity(source, text_column)
    parameters = _smoother_parameters(smoother)
    previous = _check_folder(out_dir, parameters, identity)
    folder = is_folder(source)
    if num_shards is None and not folder and previous:
        num_shards = previous[0]["parameters"].get("num_shards")  # the previous run's plan
    shards = shard_input(
        source,
        None,
        text_column=text_column,
        label_column=None,
        num_shards=num_shards,
        connect=lambda: _ray.connect(address, num_cpus=num_cpus, feature=_FEATURE),
    )
    ray = shards.connect()
    plan = {**parameters, "num_shards": num_shards if folder else len(shards.bounds)}
    out_dir.mkdir(parents=True, exist_ok=True)
    todo, done, skipped = [], {}, []
    for i, (start, stop) in enumerate(shards.bounds):
        record = _finished_part(out_dir / part_name(i), start, stop)
        if record is None:
            todo.append(i)
        else:
            done[i] = record
            skipped.append(i)
    for path in out_dir.iterdir():  # parts of a previous plan beyond this one (ours: checked above)
        match = _PART.match(path.name)
        if match and int(match.group(1)) >= len(shards.bounds):
            path.unlink()
            path.with_name(path.name + ".manifest.json").unlink(missing_ok=True)
    final = out_dir / "manifest.json"
    if todo or not final.is_file():
        final.unlink(missing_ok=True)  # the folder is unfinished until the manifest is written again
    empty = []
    if todo:
        task = _ray.remote(soft_labels_of_texts, max_retries=max_retries)
        smoother_ref = ray.put(smoother)
        refs = [task.remote(smoother_ref, shards.refs[i], shards.column, shards.bounds[i][0]) for i in todo]
        for j, (soft, rows) in _ray.completed(ray, refs, desc="soft labels", progress=progress):
            i = todo[j]
            start, stop = shards.bounds[i]
            done[i] = _write_part(out_dir / part_name(i), i, start, soft, smoother, plan, identity)
            empty.append(rows + start)
    warn_no_known_word(np.sort(np.concatenate(empty or [np.zeros(0, np.int64)])), stacklevel=2)
    parts = [done[i] for i in range(len(shards.bounds))]
    if not todo and final.is_file() and _same_parts(final, parts):
        manifest = json.loads(final.read_text(encoding="utf-8"))
    else:
        manifest = write_manifest(
            out_dir,
            kind=FOLDER_KIND,
            parameters=plan,
            inputs=identity,
            extra={
                "parts": parts,
                "n_rows": shards.n_rows,
                "n_classes": len(smoother.classes_),
                "classes": [str(c) for c in smoother.classes_],
                "label_names": [str(n) for n in getattr(smoother, "label_names_", smoother.classes_)],
                "dtype": np.dtype(smoother.dtype).name,
            },
        )
    return {**manifest, "skipped": skipped}


def read_soft_labels_sharded(out_dir: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The soft labels of a finished folder (parts concatenated in row order) and its manifest.

    Raises:
        ArtifactError: no ``manifest.json`` (unfinished), a part missing or unreadable.
        StaleArtifactError: a part's bytes differ from the manifest's sha256, or its rows from its range.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir, kind=FOLDER_KIND)
    n_classes = int(manifest["n_classes"])
    arrays, expected = [], 0
    for part in manifest["parts"]:
        path = out_dir / part["file"]
        if not path.is_file():
            raise ArtifactError(
                "a part listed in the manifest is missing", path=path, hint="re-run to recompute it"
            )
        if sha256_file(path) != part["sha256"]:
            raise StaleArtifactError("part bytes do not match the folder's manifest", path=path)
        table = pq.read_table(path)
        rows = table.column("row").to_numpy()
        if part["start"] != expected or not np.array_equal(rows, np.arange(part["start"], part["stop"])):
            raise StaleArtifactError(
                f"part does not hold rows {part['start']}..{part['stop'] - 1}", path=path
            )
        arrays.append(table.column("soft_label").combine_chunks().flatten().to_numpy().reshape(-1, n_classes))
        expected = part["stop"]
    soft = np.concatenate(arrays) if arrays else np.zeros((0, n_classes), dtype=manifest["dtype"])
    return soft.astype(manifest["dtype"], copy=False), manifest


# -- helpers -----------------------------------------------------------------------------------------
def _identity(source: Any, text_column: str) -> dict[str, Any]:
    """What the parts are soft labels of: a folder's files (name, size, sha256) or the texts' hash."""
    if is_folder(source):
        return describe_folder(source)
    if isinstance(source, str | Path):
        raise InputError(
            f"{source} is not a folder", path=source, hint="pass a folder of .parquet or .jsonl files"
        )
    from textsmooth.distributed._shards import is_hf_dataset, is_ray_dataset

    if is_ray_dataset(source):
        raise ConfigError(
            "a Ray Dataset has no identity to resume against",
            column="source",
            hint="write it to Parquet (dataset.write_parquet(folder)) and pass the folder",
        )
    texts = list(source[text_column]) if is_hf_dataset(source) else source
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("source must be a folder, a sequence of str or a Hugging Face dataset")
    return {"kind": "texts", "n_rows": len(texts), "content_sha256": hash_texts(texts)}


def _smoother_parameters(smoother: KeywordSmoother | TfidfSmoother) -> dict[str, Any]:
    from textsmooth.targets.saved import result_params, serialize_generator

    saved = serialize_generator(smoother)
    return {
        "method": saved.kind,
        "smoother": {
            k: (v if isinstance(v, int | float | str | None) else str(v))
            for k, v in result_params(smoother).items()
        },
        "smoother_sha256": hashlib.sha256(saved.data).hexdigest(),
    }


def _same_source(
    manifest: Mapping[str, Any], parameters: Mapping[str, Any], identity: Mapping[str, Any]
) -> bool:
    inputs = manifest.get("inputs") or {}
    mine = {k: v for k, v in identity.items() if k != "source"}  # a moved folder is the same data
    theirs = {k: v for k, v in inputs.items() if k != "source"}
    return (manifest.get("parameters") or {}).get("smoother_sha256") == parameters[
        "smoother_sha256"
    ] and theirs == mine


def _check_folder(
    out_dir: Path, parameters: dict[str, Any], identity: dict[str, Any]
) -> list[dict[str, Any]]:
    """The manifests in ``out_dir`` (folder's and parts'), all of this smoother and input, else refused."""
    if not out_dir.is_dir():
        return []
    found = []
    for path in sorted(out_dir.iterdir()):
        if path.name != "manifest.json" and not (
            path.name.endswith(".manifest.json") and _PART.match(path.name.removesuffix(".manifest.json"))
        ):
            continue
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged part manifest: its part is recomputed
        if not isinstance(manifest, dict) or manifest.get("kind") not in (FOLDER_KIND, PART_KIND):
            if path.name == "manifest.json":
                kind = manifest.get("kind") if isinstance(manifest, dict) else "unknown"
                raise StaleArtifactError(
                    f"the output folder {out_dir} holds another artifact ({kind})",
                    path=out_dir,
                    hint="choose an empty folder",
                )
            continue
        if not _same_source(manifest, parameters, identity):
            raise StaleArtifactError(
                f"the output folder {out_dir} holds soft labels of another smoother or input ({path.name})",
                path=out_dir,
                hint="choose another folder, or delete this one to recompute",
            )
        found.append(manifest)
    return found


def _finished_part(path: Path, start: int, stop: int) -> dict[str, Any] | None:
    """The record of a finished, intact part holding rows ``start..stop-1``; ``None``: (re)compute it."""
    if not path.is_file():
        return None
    try:
        manifest = read_manifest(path, kind=PART_KIND)  # checks the sha256
    except ArtifactError:
        return None
    if manifest.get("start") != start or manifest.get("stop") != stop:
        return None
    return _record(path, start, stop, manifest["artifact_sha256"])


def _record(path: Path, start: int, stop: int, sha256: str) -> dict[str, Any]:
    return {"file": path.name, "start": start, "stop": stop, "rows": stop - start, "sha256": sha256}


def _write_part(
    path: Path,
    i: int,
    start: int,
    soft: np.ndarray,
    smoother: KeywordSmoother | TfidfSmoother,
    parameters: dict[str, Any],
    identity: dict[str, Any],
) -> dict[str, Any]:
    """One part and its manifest, each atomically (the part first: the manifest marks it finished)."""
    soft = np.ascontiguousarray(soft, dtype=smoother.dtype)
    n, n_classes = soft.shape
    stop = start + n
    values = pa.array(soft.ravel())
    table = pa.table(
        {
            "row": pa.array(np.arange(start, stop, dtype=np.int64)),
            "soft_label": pa.FixedSizeListArray.from_arrays(values, n_classes),
        }
    )
    described = {"part": i, "start": start, "stop": stop, "n_classes": n_classes}
    table = table.replace_schema_metadata({_METADATA_KEY: json.dumps(described, sort_keys=True)})
    path.with_name(path.name + ".manifest.json").unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    manifest = write_manifest(
        path,
        kind=PART_KIND,
        parameters=parameters,
        inputs=identity,
        extra={"part": i, "start": start, "stop": stop},
    )
    return _record(path, start, stop, manifest["artifact_sha256"])


def _same_parts(final: Path, parts: list[dict[str, Any]]) -> bool:
    try:
        return json.loads(final.read_text(encoding="utf-8")).get("parts") == parts
    except (OSError, ValueError):
        return False
