"""Building a word-similarity table: the blocked top-N search against naive baselines (issue 12).

Goal: a 50,000-word vocabulary with 300-dimensional vectors, N = 10, in under 10 s and under 1 GB of peak
memory on the project's 2-core CPU.

Variants, each on the same seeded random unit vectors (the cost does not depend on the values):

* ``symmetric torch`` (ours, :func:`textsmooth.similarity.build_similarity_table`): only the blocks on and
  right of the diagonal of the cosine matrix (``block_size`` 2048 rows), each product into one
  preallocated buffer, running top-k lists (``top_similar``'s symmetric path, torch ``topk``);
* ``general torch``: the same library, ``top_similar(..., symmetric=False)``: every block of 2048 rows x
  all columns, one buffer, ``topk`` per block;
* ``symmetric numpy``: the symmetric path with ``numpy.argpartition`` (the path without torch);
* ``blocked torch, before`` (baseline): ``build_similarity_table`` with the ``top_similar`` of the library
  before the symmetric path, kept verbatim below as :func:`top_similar_before` (every block of rows x all
  columns, a new score block per product, ``topk``);
* ``dense numpy`` (baseline): the whole ``V x V`` cosine matrix, then ``argpartition`` over it;
* ``per-word loop`` (baseline): one dot product and ``argpartition`` per word, timed on the first
  ``--loop-words`` words and scaled to the vocabulary (labelled as such).

Time: variants interleaved over ``--repeats`` rounds, medians and min-max of the wall time and of the
process CPU time (all threads; on a busy machine the wall time includes waiting for a core), ratios
against the ``before`` median of the same run. Memory: each variant in a fresh subprocess, peak resident set
above the resident set after the vectors are built (``VmHWM`` after ``clear_refs``). The dense baseline
needs ``V * V * 4`` bytes (10 GB at 50k), so it runs at ``--dense-words`` (default 20,000) and its line
says so. Before the table, the symmetric, general and numpy results are compared with the baseline's.

Usage::

    python benchmarks/bench_similarity_table.py                 # 50k x 300, N = 10
    python benchmarks/bench_similarity_table.py --quick         # 5k words, a smoke run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from _seq_timing import machine, peak_extra_mib

BEFORE = "blocked torch, before (baseline)"
NAMES = ["symmetric torch", "general torch", "symmetric numpy", BEFORE, "dense numpy", "per-word loop"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--words", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--top-n", type=int, default=10)
    p.add_argument("--dense-words", type=int, default=20_000)
    p.add_argument("--loop-words", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--memory-only", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def vectors(n: int, dim: int):
    from textsmooth.similarity import WordVectors

    rng = np.random.default_rng(0)
    return WordVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))


def top_similar_before(queries, keys, k, *, exclude_self=True, block_size=2048, backend="auto"):
    """``textsmooth.similarity.table.top_similar`` as it was before the symmetric path (the baseline),
    verbatim but for this docstring: a new ``q[lo:hi] @ x.T`` score block per row block, ``torch.topk``."""
    from textsmooth.similarity.table import _unit

    q = _unit(queries)
    x = q if exclude_self else _unit(keys)
    n, m = q.shape[0], x.shape[0]
    k = min(k, m - 1 if exclude_self else m)
    ids = np.full((n, max(k, 0)), -1, dtype=np.int64)
    sims = np.zeros((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return ids, sims
    import torch

    for lo in range(0, n, block_size):
        hi = min(lo + block_size, n)
        scores = q[lo:hi] @ x.T
        if exclude_self:
            scores[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        values, order = torch.from_numpy(scores).topk(k, dim=1, sorted=True)
        ids[lo:hi], sims[lo:hi] = order.numpy(), values.numpy()
    return ids, sims


def run(name: str, args: argparse.Namespace, wv) -> Any:
    import textsmooth.similarity.table as table_module
    from textsmooth.similarity import build_similarity_table
    from textsmooth.similarity.table import top_similar

    k = min(args.top_n, len(wv.words)) - 1
    if name == "symmetric torch":
        return build_similarity_table(wv.words, wv, top_n=k + 1, normalize=False)
    if name == BEFORE:
        library = table_module.top_similar
        table_module.top_similar = top_similar_before  # build_similarity_table looks it up at each call
        try:
            return build_similarity_table(wv.words, wv, top_n=k + 1, normalize=False)
        finally:
            table_module.top_similar = library
    if name == "general torch":
        return top_similar(wv.vectors, wv.vectors, k, symmetric=False)
    if name == "symmetric numpy":
        return top_similar(wv.vectors, wv.vectors, k, backend="numpy")
    if name == "dense numpy":
        x = wv.vectors[: args.dense_words]  # the baseline at the size a V x V matrix fits
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        scores = x @ x.T
        np.fill_diagonal(scores, -np.inf)
        np.argpartition(-scores, min(args.top_n, len(x)) - 2, axis=1)
        return None
    if name == "per-word loop":
        x = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
        for i in range(min(args.loop_words, len(x))):
            s = x @ x[i]
            s[i] = -np.inf
            np.argpartition(-s, min(args.top_n, len(x)) - 2)
        return None
    raise ValueError(name)


def neighbours(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, cosines)`` without the word itself, from a table or a ``top_similar`` result."""
    if isinstance(result, tuple):
        return result
    return result.indices[:, 1:], result.weights[:, 1:]


def interleave_cpu(
    variants: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, Any]]:
    """Like ``_seq_timing.interleave`` (A B C A B C ...), with the process CPU time beside the wall time;
    also returns each variant's last result."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    last: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in variants.items():
            last.pop(name, None)
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            last[name] = fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu, last


def scale(name: str, args: argparse.Namespace) -> tuple[float, str]:
    """Factor from the measured work to the full vocabulary, and a note."""
    if name == "per-word loop":
        return (
            args.words / args.loop_words,
            f" (measured on {args.loop_words:,} words, scaled x{args.words / args.loop_words:.0f})",
        )
    if name == "dense numpy" and args.dense_words < args.words:
        return 1.0, f" (at {args.dense_words:,} words: V x V does not fit at {args.words:,})"
    return 1.0, ""


def memory_only(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    wv = vectors(args.words, args.dim)
    run(args.memory_only, args, vectors(64, args.dim))  # imports and first-call allocations
    print(json.dumps({"mib": peak_extra_mib(lambda: run(args.memory_only, args, wv))}))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.quick:
        args.words, args.dense_words, args.loop_words, args.repeats = 5000, 5000, 200, 2
    if args.memory_only:
        memory_only(args)
        return
    import torch

    torch.set_num_threads(args.threads)
    start = machine()
    wv = vectors(args.words, args.dim)
    for name in NAMES:  # warm-up on a small vocabulary
        run(name, args, vectors(64, args.dim))
    variants = {name: (lambda n=name: run(n, args, wv)) for name in NAMES}
    wall, cpu, last = interleave_cpu(variants, args.repeats)
    load_end = os.getloadavg()
    ref_ids, ref_sims = neighbours(last[BEFORE])
    same = {}
    for name in ("symmetric torch", "general torch", "symmetric numpy"):
        ids, sims = neighbours(last[name])
        same[name] = (
            int((ids == ref_ids).sum()),
            int((ids != ref_ids).any(axis=1).sum()),
            float(np.abs(sims - ref_sims).max()),
        )
    del last
    times = {name: [t * scale(name, args)[0] for t in ts] for name, ts in wall.items()}
    cpus = {name: [t * scale(name, args)[0] for t in ts] for name, ts in cpu.items()}
    memory = {}
    for name in NAMES:
        cmd = [
            sys.executable,
            __file__,
            "--memory-only",
            name,
            "--words",
            str(args.words),
            "--dim",
            str(args.dim),
            "--top-n",
            str(args.top_n),
            "--dense-words",
            str(args.dense_words),
            "--loop-words",
            str(args.loop_words),
            "--threads",
            str(args.threads),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        memory[name] = float(json.loads(out.stdout.strip().splitlines()[-1])["mib"])
    base = statistics.median(times[BEFORE])
    print(
        f"bench_similarity_table {date.today()} · {args.words:,} words x {args.dim} · N = {args.top_n} · "
        f"{args.threads} threads · {args.repeats} repeats · torch {torch.__version__}"
        + (" · QUICK" if args.quick else "")
    )
    print(
        f"machine: {start} at the start, nproc {len(os.sched_getaffinity(0))}; load average at the end "
        f"{load_end[0]:.2f}, {load_end[1]:.2f}, {load_end[2]:.2f}"
    )
    for name, (equal, rows, gap) in same.items():
        print(
            f"{name} vs before: {equal:,} of {ref_ids.size:,} neighbour ids equal ({rows} rows differ), "
            f"largest cosine difference {gap:.1e}"
        )
    print()
    print("| variant | wall median (min-max) | CPU median (min-max) | wall vs before | peak extra MiB |")
    print("|---|---|---|---|---|")
    for name in NAMES:
        t, c = times[name], cpus[name]
        note = scale(name, args)[1]
        print(
            f"| {name}{note} | {statistics.median(t):.2f} s ({min(t):.2f}-{max(t):.2f}) | "
            f"{statistics.median(c):.2f} s ({min(c):.2f}-{max(c):.2f}) | "
            f"{statistics.median(t) / base:.2f}x | {memory[name]:.0f} |"
        )


if __name__ == "__main__":
    main()
