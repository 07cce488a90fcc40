"""CPU thread limits for torch and faiss, set for the duration of a block and restored afterwards.

Default (``None``): all cores but one, at least 1. On the small shared machines this project runs on,
OpenMP threads that spin while another process holds a core are very costly: with 2 cores and one
other busy process, 2 threads ran MiniLM 5-10x slower and faiss flat search ~1.5x slower than 1 thread
(measured; see docs/sequence.md). Pass an explicit number to override.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from textsmooth.errors import ConfigError

__all__ = ["resolve_threads", "thread_limit"]


def resolve_threads(num_threads: int | None) -> int:
    """The number of threads to use for ``num_threads`` (``None``: cores - 1, at least 1)."""
    if num_threads is None:
        return max(1, (os.cpu_count() or 1) - 1)
    if isinstance(num_threads, bool) or int(num_threads) < 1:
        raise ConfigError(f"num_threads must be >= 1, got {num_threads!r}", column="num_threads")
    return int(num_threads)


@contextlib.contextmanager
def thread_limit(num_threads: int | None, *, torch_: bool = True, faiss_: bool = True) -> Iterator[int]:
    """Limit torch and/or faiss to ``resolve_threads(num_threads)`` threads inside the block."""
    n = resolve_threads(num_threads)
    restore: list[tuple[object, int]] = []
    if torch_:
        import torch

        restore.append((torch.set_num_threads, torch.get_num_threads()))
        torch.set_num_threads(n)
    if faiss_:
        try:
            import faiss
        except ImportError:
            pass
        else:
            restore.append((faiss.omp_set_num_threads, faiss.omp_get_max_threads()))
            faiss.omp_set_num_threads(n)
    try:
        yield n
    finally:
        for setter, value in restore:
            setter(value)  # type: ignore[operator]
