"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader therefore sees either the previous file or the complete new one, never a partial one,
and a failure (exception, Ctrl-C) removes the temporary file. The file gets the permissions a plain
``open(path, "w")`` would give it (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``.

:func:`exclusive` is for an artifact several processes may need at once (a neighbour table shared by
the runs of two ``experiment run`` processes): one builds it, the others wait and then reuse it.
:func:`claim` is for work only one process should do, where the others go on to other work instead of
waiting (a training run of a recipe two ``experiment run`` processes share).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "claim", "claim_holder", "exclusive"]


def file_mode() -> int:
    """``0o666`` minus the process umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc: read by setting, then restore at once
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def exclusive(path: str | Path, *, feature: str = "textsmooth.io.atomic.exclusive") -> Iterator[None]:
    """Hold an exclusive inter-process lock for building ``path``: ``path`` + ``.lock`` beside it.

    A second process (or thread) asking for the same path waits until the first leaves the block; the
    operating system releases the lock if its holder dies. The lock file stays (removing it could let
    two holders in). Uses the ``filelock`` package (a dependency of torch; the ``experiments`` extra).

    Raises:
        MissingDependencyError: filelock is not installed.
    """
    from textsmooth._extras import require

    filelock = require("filelock", extra="experiments", feature=feature)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target.with_name(target.name + ".lock"))):
        yield


def _lock_file(path: str | Path) -> Path:
    target = Path(path)
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def claim(path: str | Path, *, feature: str = "textsmooth.io.atomic.claim") -> Iterator[bool]:
    """Try to take the exclusive lock of ``path`` (``path`` + ``.lock``, as :func:`exclusive`) without
    waiting: yield ``True`` holding it until the block ends, or ``False``, holding nothing, where another
    process (or another lock object of this one) holds it.

    The operating system releases the lock if its holder dies, so a crashed process never blocks the
    work; the lock file stays. Needs a file system with working ``flock`` locks (local disks do; some
    network file systems do not).

    Raises:
        MissingDependencyError: filelock is not installed.
    """
    from textsmooth._extras import require

    filelock = require("filelock", extra="experiments", feature=feature)
    lock_file = _lock_file(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_file), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def claim_holder(path: str | Path, *, locks_table: str | Path = "/proc/locks") -> int | None:
    """The id of the process holding :func:`claim`'s lock of ``path`` now, or ``None`` (no holder, no lock
    file, or a system without Linux's lock table).

    Reads the kernel's table of held locks (``/proc/locks``: ``N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE
    ...``, the device numbers in hex) for the lock file's device and inode; takes no lock itself, so
    asking never makes a process that wants the claim at that moment skip its work. The id is as the
    kernel lists it (``0`` or another namespace's id for a process outside this one's PID namespace).
    """
    lock_file = _lock_file(path)
    try:
        info = lock_file.stat()
        table = Path(locks_table).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    wanted = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":  # "N: -> FLOCK ...": a waiter, not a holder
            continue
        parts = fields[5].split(":")
        try:
            held = (int(parts[0], 16), int(parts[1], 16), int(parts[2]))
            pid = int(fields[4])
        except (ValueError, IndexError):
            continue
        if held == wanted:
            return pid
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success rename it onto ``path``.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
        >>> with atomic_path(out) as tmp:
        ...     np.save(tmp, np.zeros(3))
        >>> out.exists()
        True
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
