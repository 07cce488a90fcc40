"""``NeighborTable``: related targets of every target, as a Parquet artifact with a manifest.

One row per (target, related sequence), sorted by ``target_id`` then ``rank``:

=================  =======  ===========================================================================
column             type     meaning
=================  =======  ===========================================================================
``target_id``      int64    0-based row of the target in the targets file
``rank``           int32    1 = best; the order the generator kept (BLEU, then cosine)
``neighbor_id``    int64    0-based row of the related target in the same file; -1 for a synthetic one
``cosine``         float32  cosine of the two sentence vectors (NaN where no embedding was used)
``bleu``           float64  sentence BLEU-n of the related sequence (hypothesis) against the target
                            (reference), 0-100 (NaN where not computed)
``neighbor_text``  string   the related sequence's text (optional for retrieved rows; always present
                            for synthetic ones)
=================  =======  ===========================================================================

The manifest (``table.parquet.manifest.json``) records the generator, its parameters (k, k', BLEU
order, encoder fingerprint ...) and the hash of the targets; it is written last, so a table without
one is unfinished and is refused. :meth:`NeighborTable.read` with ``texts`` refuses a table built for
other targets (:class:`~textsmooth.errors.StaleArtifactError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ArtifactError, InputError, StaleArtifactError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.manifest import hash_texts, read_manifest, write_manifest

__all__ = ["NEIGHBOR_TABLE_KIND", "NeighborTable", "fitted_meta"]

NEIGHBOR_TABLE_KIND = "neighbor-table"
_COLUMNS = ("target_id", "rank", "neighbor_id", "cosine", "bleu")


def fitted_meta(targets: Sequence[str]) -> dict[str, Any]:
    """The ``meta`` a generator gives the table it has just fitted: the hash and count of the targets, as
    a written table's manifest records them, so an in-memory table is checked against the targets a
    trainer is given exactly as a table read from disk is."""
    return {"inputs": {"targets_sha256": hash_texts(targets), "n_targets": len(targets)}}


@dataclass
class NeighborTable:
    """Related targets per target (see the module docstring for the columns).

    Attributes:
        target_id, rank, neighbor_id, cosine, bleu: equal-length column arrays.
        neighbor_text: the related texts, or ``None`` when not stored.
        n_targets: number of targets the table was built for.
        meta: the manifest (parameters, inputs) once written or read.
    """

    target_id: np.ndarray
    rank: np.ndarray
    neighbor_id: np.ndarray
    cosine: np.ndarray
    bleu: np.ndarray
    n_targets: int
    neighbor_text: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.target_id = np.asarray(self.target_id, dtype=np.int64)
        self.rank = np.asarray(self.rank, dtype=np.int32)
        self.neighbor_id = np.asarray(self.neighbor_id, dtype=np.int64)
        self.cosine = np.asarray(self.cosine, dtype=np.float32)
        self.bleu = np.asarray(self.bleu, dtype=np.float64)
        n = self.target_id.shape[0]
        for name in _COLUMNS:
            if getattr(self, name).shape != (n,):
                raise InputError(f"column {name} has shape {getattr(self, name).shape}, expected ({n},)")
        if self.neighbor_text is not None and len(self.neighbor_text) != n:
            raise InputError("neighbor_text has a different length than the other columns")

    def __len__(self) -> int:
        return int(self.target_id.shape[0])

    # ------------------------------------------------------------------ access
    def _starts(self) -> np.ndarray:
        starts = np.zeros(self.n_targets + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.target_id, minlength=self.n_targets), out=starts[1:])
        return starts

    def neighbors_of(self, target: int) -> np.ndarray:
        """``neighbor_id`` of one target, best first."""
        rows = np.flatnonzero(self.target_id == int(target))
        return self.neighbor_id[rows[np.argsort(self.rank[rows], kind="stable")]]

    def as_lists(self) -> list[list[int]]:
        """``neighbor_id`` lists per target (index = target id), best first."""
        starts = self._starts()
        ids = self.neighbor_id.tolist()
        return [ids[starts[t] : starts[t + 1]] for t in range(self.n_targets)]

    def related_texts(self, texts: Sequence[str] | None = None) -> list[list[str]]:
        """Related sequences per target, as text: ``R(y)`` of eq. (2) of the paper.

        ``texts`` (the targets) resolves ``neighbor_id`` when the table stores no text.
        """
        starts = self._starts()
        if self.neighbor_text is not None:
            seqs = self.neighbor_text
        elif texts is not None:
            if len(texts) != self.n_targets:
                raise InputError(f"texts has {len(texts)} rows, the table was built for {self.n_targets}")
            seqs = [texts[i] for i in self.neighbor_id.tolist()]
        else:
            raise InputError("the table stores no text; pass the targets as texts")
        return [list(seqs[starts[t] : starts[t + 1]]) for t in range(self.n_targets)]

    # ------------------------------------------------------------------ persistence
    def to_arrow(self) -> Any:
        """The table as a ``pyarrow.Table``."""
        import pyarrow as pa

        cols = {name: getattr(self, name) for name in _COLUMNS}
        if self.neighbor_text is not None:
            cols["neighbor_text"] = pa.array(self.neighbor_text, type=pa.string())
        return pa.table(cols)

    def write(
        self,
        path: str | Path,
        *,
        kind_detail: str,
        parameters: dict[str, Any],
        texts: Sequence[str] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Path:
        """Write Parquet atomically, then the manifest (the commit mark). Returns the path."""
        import pyarrow.parquet as pq

        path = Path(path)
        all_inputs = dict(inputs or {})
        all_inputs["n_targets"] = self.n_targets
        if texts is not None:
            all_inputs["targets_sha256"] = hash_texts(texts)
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp, compression="zstd")
        self.meta = write_manifest(
            path,
            kind=NEIGHBOR_TABLE_KIND,
            parameters={"generator": kind_detail, **parameters},
            inputs=all_inputs,
            extra={"n_rows": len(self)},
        )
        return path

    @classmethod
    def read(cls, path: str | Path, *, texts: Sequence[str] | None = None) -> NeighborTable:
        """Read a table written by :meth:`write`, checking its manifest (and ``texts`` when given)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        manifest = read_manifest(path, kind=NEIGHBOR_TABLE_KIND)
        inputs = manifest.get("inputs", {})
        if texts is not None:
            if inputs.get("targets_sha256") != hash_texts(texts):
                raise StaleArtifactError(
                    "neighbour table was built for other targets",
                    path=path,
                    hint="rebuild it with `textsmooth neighbors`",
                )
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ArtifactError(f"cannot read Parquet: {exc}", path=path) from exc
        missing = [c for c in _COLUMNS if c not in table.column_names]
        if missing:
            raise ArtifactError(f"missing columns {missing}", path=path)
        text = table.column("neighbor_text").to_pylist() if "neighbor_text" in table.column_names else None
        return cls(
            **{c: table.column(c).to_numpy() for c in _COLUMNS},
            n_targets=int(inputs.get("n_targets", 0)),
            neighbor_text=text,
            meta=manifest,
        )
