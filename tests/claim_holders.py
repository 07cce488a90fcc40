"""Test helper: a second process holding a run's claim (``textsmooth.io.atomic.claim``), as a second
``experiment run`` process training that run would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def held_by_another_process(target: Path) -> Iterator[int]:
    """A second Python process holding ``claim(target)`` until the block ends, then killed (its pid)."""
    script = (
        f"from textsmooth.io.atomic import claim\nimport time\nwith claim({str(target)!r}):\n"
        "    print('held', flush=True)\n    time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)
