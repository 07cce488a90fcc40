"""The host CPU's instruction-set flags, for tests that force a kernel only where the CPU can run it."""

from __future__ import annotations

from pathlib import Path


def cpu_flags() -> set[str]:
    """The ``flags`` of ``/proc/cpuinfo`` (``avx2``, ``avx512f``, ...); empty where there is none."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return set()
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()
