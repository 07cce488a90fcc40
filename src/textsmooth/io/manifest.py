"""JSON manifests that travel beside every artifact.

An artifact ``X`` (a Parquet table, an NPZ file, a folder) has its manifest at ``X.manifest.json``
(for a folder: ``X/manifest.json``). The manifest records the library version, the artifact kind,
the parameters that produced it, a description of the input (its content hash) and the sha256 of the
artifact file itself. The manifest is renamed into place *last*, so an artifact without a manifest
is unfinished and is never read back.

The checksum makes the artifact's bytes trustworthy, but the manifest itself is a plain file anyone can
edit. So a manifest without ``artifact_sha256`` is refused, and every field that *describes* the content
(class names, shapes, counts) must also be stored inside the artifact and is compared with it on
reading (:func:`check_manifest_fields`): an edited manifest is detected, never believed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textsmooth._version import __version__
from textsmooth.errors import ArtifactError, StaleArtifactError
from textsmooth.io.atomic import atomic_write_text

__all__ = [
    "check_manifest_fields",
    "hash_texts",
    "manifest_path",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]

_CHUNK = 1 << 20


def manifest_path(artifact: str | Path) -> Path:
    """Where the manifest of ``artifact`` lives."""
    artifact = Path(artifact)
    if artifact.is_dir():
        return artifact / "manifest.json"
    return artifact.with_name(artifact.name + ".manifest.json")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_texts(texts: Iterable[str], labels: Iterable[Any] | None = None) -> str:
    """Hex sha256 of a sequence of texts (and optionally labels), independent of the file format.

    Each text is length-prefixed, so ``["ab", "c"]`` and ``["a", "bc"]`` hash differently.
    """
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    if labels is not None:
        digest.update(b"\x00labels\x00")
        digest.update(json.dumps([str(x) for x in labels]).encode("utf-8"))
    return digest.hexdigest()


def write_manifest(
    artifact: str | Path,
    *,
    kind: str,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``artifact``'s manifest atomically and return it.

    Call this after the artifact itself was renamed into place: the manifest is the commit mark.
    """
    artifact = Path(artifact)
    manifest: dict[str, Any] = {
        "library": "textsmooth",
        "version": __version__,
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": dict(parameters or {}),
        "inputs": dict(inputs or {}),
    }
    if artifact.is_file():
        manifest["artifact_sha256"] = sha256_file(artifact)
    if extra:
        manifest.update(extra)
    atomic_write_text(manifest_path(artifact), json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return manifest


def read_manifest(
    artifact: str | Path,
    *,
    kind: str | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """Read and check ``artifact``'s manifest.

    Raises:
        ArtifactError: the artifact or its manifest is missing or unreadable.
        StaleArtifactError: the manifest belongs to another kind of artifact, or the artifact's bytes
            changed since the manifest was written.
    """
    artifact = Path(artifact)
    if not artifact.exists():
        raise ArtifactError("artifact does not exist", path=artifact)
    mpath = manifest_path(artifact)
    if not mpath.is_file():
        raise ArtifactError(
            f"artifact has no manifest (expected it at {mpath}), so it is unfinished, was not written "
            "by textsmooth, or its manifest was deleted",
            path=artifact,
            hint="re-create the artifact",
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"manifest is not valid JSON: {exc}", path=mpath) from exc
    if not isinstance(manifest, dict) or manifest.get("library") != "textsmooth":
        raise ArtifactError("manifest was not written by textsmooth", path=mpath)
    if kind is not None and manifest.get("kind") != kind:
        raise StaleArtifactError(
            f"artifact is a {manifest.get('kind')!r}, expected a {kind!r}",
            path=artifact,
        )
    if verify and artifact.is_file():
        expected = manifest.get("artifact_sha256")
        if not isinstance(expected, str):
            raise ArtifactError(
                "manifest has no artifact_sha256, so the artifact's integrity cannot be checked",
                path=mpath,
                hint="re-create the artifact",
            )
        if sha256_file(artifact) != expected:
            raise StaleArtifactError(
                "artifact bytes do not match its manifest (it was modified or replaced)",
                path=artifact,
                hint="re-create the artifact",
            )
    return manifest


def check_manifest_fields(
    manifest: Mapping[str, Any], content: Mapping[str, Any], artifact: str | Path
) -> None:
    """Check that the manifest's description of an artifact agrees with the artifact itself.

    Args:
        manifest: the manifest as read by :func:`read_manifest`.
        content: field name -> the value found in the artifact (JSON-like values, compared after a
            JSON round trip, so tuples equal lists).
        artifact: the artifact, for the error message.

    Raises:
        StaleArtifactError: a field is missing from the manifest or differs from the content (the
            manifest was edited, or belongs to another artifact).
    """
    for name, actual in content.items():
        if name not in manifest:
            raise StaleArtifactError(
                f"manifest has no {name!r}", path=artifact, hint="re-create the artifact"
            )
        if _canonical(manifest[name]) != _canonical(actual):
            raise StaleArtifactError(
                f"manifest field {name!r} does not match the artifact "
                f"(manifest: {_short(manifest[name])}, artifact: {_short(actual)}); the manifest was "
                "edited or belongs to another artifact",
                path=artifact,
                hint="re-create the artifact",
            )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any, limit: int = 80) -> str:
    text = _canonical(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
