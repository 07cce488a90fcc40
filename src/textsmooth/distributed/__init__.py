"""The single-machine pipelines on Ray, for corpora that outgrow one machine.

* :func:`keyword_soft_labels` computes KWLS / LS-TFIDF soft labels of a corpus: Ray tasks count the
  statistics of consecutive shards, the statistics are summed, and
  :meth:`~textsmooth.targets.keyword.KeywordSmoother.fit_statistics` finishes the fit, so the soft
  labels are the same bits as :class:`~textsmooth.targets.keyword.KeywordSmoother` on the whole corpus;
* :func:`fit_keyword_smoother` is its fit alone, :func:`transform_soft_labels` the sharded transform of
  any texts with a fitted smoother, :func:`write_soft_labels_sharded` the same transform written part by
  part into a folder with a manifest (a re-run skips the finished parts), read back by
  :func:`read_soft_labels_sharded`;
* :func:`semantic_neighbors` builds the related-target table of
  :class:`~textsmooth.sequence.SemanticNeighbors` with encoder actors and one Ray task per shard (the
  same table with the exact indexes);
* :class:`RayExecutor` is a ``concurrent.futures`` executor of Ray tasks, on which the experiment
  runners train each run of a recipe (``experiment run --backend ray``);
* :func:`connect` returns the ``ray`` module connected to the current Ray instance, the one at an
  address, or a new local one.

The soft labels take lists of texts and labels, a Ray Dataset, a Hugging Face ``datasets.Dataset`` or a
folder of Parquet / JSON-lines files (with ``text_column`` / ``label_column``). See docs/distributed.md
for what runs where.

Names are imported lazily: ``import textsmooth.distributed`` does not import ray. Calling a function
without ray installed raises :class:`~textsmooth.errors.MissingDependencyError` naming the extra
(``pip install 'textsmooth[ray]'``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "RayExecutor": "textsmooth.distributed.executor",
    "connect": "textsmooth.distributed._ray",
    "fit_keyword_smoother": "textsmooth.distributed.keyword",
    "keyword_soft_labels": "textsmooth.distributed.keyword",
    "read_soft_labels_sharded": "textsmooth.distributed.output",
    "semantic_neighbors": "textsmooth.distributed.neighbors",
    "transform_soft_labels": "textsmooth.distributed.keyword",
    "write_soft_labels_sharded": "textsmooth.distributed.output",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.distributed._ray import connect  # noqa: F401
    from textsmooth.distributed.executor import RayExecutor  # noqa: F401
    from textsmooth.distributed.keyword import (  # noqa: F401
        fit_keyword_smoother,
        keyword_soft_labels,
        transform_soft_labels,
    )
    from textsmooth.distributed.neighbors import semantic_neighbors  # noqa: F401
    from textsmooth.distributed.output import (  # noqa: F401
        read_soft_labels_sharded,
        write_soft_labels_sharded,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
