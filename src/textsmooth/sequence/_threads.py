"""CPU thread limits for torch and faiss, set for the duration of a block and restored afterwards.

Default (``num_threads=None``): the environment variable :data:`THREADS_ENV`
(``TEXTSMOOTH_NUM_THREADS``) when it is set, else all cores but :data:`SPARE_CORES` (one), at least
:data:`MIN_THREADS` (one). Pass an explicit number (``num_threads=``, ``--threads``) to override both.

Why one core is left free: on the small shared machines this project runs on, OpenMP threads that
spin while another process holds a core are very costly. Measured on the project's 2-core shared
machine with one other busy process (interleaved runs, see docs/sequence.md, "Threads"): 2 threads
ran MiniLM 5-10x slower than 1 thread (1 thread 410-595 sentences/s, 2 threads 28-105 sentences/s)
and faiss flat search ~1.5x slower. That was not measured on a dedicated machine, where using every
core may pay: set ``TEXTSMOOTH_NUM_THREADS`` there once instead of passing ``--threads`` to every
command.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from textsmooth.errors import ConfigError

__all__ = ["MIN_THREADS", "SPARE_CORES", "THREADS_ENV", "default_threads", "resolve_threads", "thread_limit"]

#: cores left free by default for the other processes of a shared machine (see the module docstring)
SPARE_CORES = 1
#: the fewest threads the default gives, however few cores there are
MIN_THREADS = 1
#: environment variable that replaces the default thread count (a positive integer)
THREADS_ENV = "TEXTSMOOTH_NUM_THREADS"


def default_threads() -> int:
    """Threads used when none are asked for: ``$TEXTSMOOTH_NUM_THREADS``, else cores - 1, at least 1."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        if not value.isdecimal() or int(value) < 1:
            raise ConfigError(
                f"{THREADS_ENV} must be a positive integer, got {value!r}",
                hint=f"unset {THREADS_ENV} to use all cores but {SPARE_CORES}",
            )
        return int(value)
    return max(MIN_THREADS, (os.cpu_count() or 1) - SPARE_CORES)


def resolve_threads(num_threads: int | None) -> int:
    """The number of threads to use for ``num_threads`` (``None``: :func:`default_threads`)."""
    if num_threads is None:
        return default_threads()
    if isinstance(num_threads, bool) or int(num_threads) < 1:
        raise ConfigError(f"num_threads must be >= 1, got {num_threads!r}", column="num_threads")
    return int(num_threads)


@contextlib.contextmanager
def thread_limit(num_threads: int | None, *, torch_: bool = True, faiss_: bool = True) -> Iterator[int]:
    """Limit torch and/or faiss to ``resolve_threads(num_threads)`` threads inside the block."""
    n = resolve_threads(num_threads)
    restore: list[tuple[object, int]] = []
    if torch_:
        try:
            import torch
        except ImportError:  # the callers fall back to numpy without torch
            pass
        else:
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
