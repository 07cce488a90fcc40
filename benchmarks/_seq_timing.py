"""Timing helpers shared by the sequence benchmarks: interleaved repeats, medians, Markdown tables."""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MULTI30K = REPO.parent / "shared" / "data" / "multi30k"


def interleave(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Run every variant ``repeats`` times in the order A B C A B C ...; seconds per run."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def stat(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def markdown(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""

    def cell(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line describing the machine and the load when the benchmark started."""
    import os

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f}"


def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def peak_extra_mib(fn: Callable[[], Any]) -> float:
    """MiB of peak resident set that ``fn()`` adds above the resident set before it (Linux: the peak
    counter ``VmHWM`` is reset through ``/proc/self/clear_refs``). Call it in a fresh process per variant,
    so nothing another variant touched is resident."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    base = _status_kib("VmRSS:")
    fn()
    return (_status_kib("VmHWM:") - base) / 1024
