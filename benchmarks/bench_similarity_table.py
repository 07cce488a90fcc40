"""Building a word-similarity table: the blocked top-N search against naive baselines (issue 12).

Goal: a 50,000-word vocabulary with 300-dimensional vectors, N = 10, in under 10 s and under 1 GB of peak
memory on the project's 2-core CPU.

Variants, each on the same seeded random unit vectors (the cost does not depend on the values):

* ``blocked torch`` (ours, :func:`textsmooth.similarity.build_similarity_table`): rows of cosines a block at
  a time (``block_size`` 2048), ``torch.topk`` per block;
* ``blocked numpy``: the same blocks with ``numpy.argpartition`` (the path without torch);
* ``dense numpy`` (baseline): the whole ``V x V`` cosine matrix, then ``argpartition`` over it;
* ``per-word loop`` (baseline): one dot product and ``argpartition`` per word, timed on the first
  ``--loop-words`` words and scaled to the vocabulary (labelled as such).

Time: variants interleaved over ``--repeats`` rounds, medians and min-max, ratios against the blocked
torch median of the same run. Memory: each variant in a fresh subprocess, peak resident set above the
resident set after the vectors are built (``VmHWM`` after ``clear_refs``). The dense baseline needs
``V * V * 4`` bytes (10 GB at 50k), so it runs at ``--dense-words`` (default 20,000) and its line says so.

Usage::

    python benchmarks/bench_similarity_table.py                 # 50k x 300, N = 10
    python benchmarks/bench_similarity_table.py --quick         # 5k words, a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import date

import numpy as np

from _seq_timing import interleave, peak_extra_mib


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


def run(name: str, args: argparse.Namespace, wv) -> None:
    from textsmooth.similarity import build_similarity_table
    from textsmooth.similarity.table import top_similar

    if name == "blocked torch":
        build_similarity_table(wv.words, wv, top_n=min(args.top_n, len(wv.words)))
    elif name == "blocked numpy":
        top_similar(wv.vectors, wv.vectors, min(args.top_n, len(wv.words)) - 1, backend="numpy")
    elif name == "dense numpy":
        x = wv.vectors[: args.dense_words]  # the baseline at the size a V x V matrix fits
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        scores = x @ x.T
        np.fill_diagonal(scores, -np.inf)
        np.argpartition(-scores, min(args.top_n, len(x)) - 2, axis=1)
    elif name == "per-word loop":
        x = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
        for i in range(min(args.loop_words, len(x))):
            s = x @ x[i]
            s[i] = -np.inf
            np.argpartition(-s, min(args.top_n, len(x)) - 2)


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
    names = ["blocked torch", "blocked numpy", "dense numpy", "per-word loop"]
    wv = vectors(args.words, args.dim)
    for name in names:  # warm-up on a small vocabulary
        run(name, args, vectors(64, args.dim))
    runs = interleave({name: (lambda n=name: run(n, args, wv)) for name in names}, args.repeats)
    times = {name: [t * scale(name, args)[0] for t in ts] for name, ts in runs.items()}
    memory = {}
    for name in names:
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
    base = statistics.median(times["blocked torch"])
    print(
        f"bench_similarity_table {date.today()} · {args.words:,} words x {args.dim} · N = {args.top_n} · "
        f"{args.threads} threads · {args.repeats} repeats" + (" · QUICK" if args.quick else "")
    )
    print("| variant | time median (min-max) | vs blocked torch | peak extra MiB |")
    print("|---|---|---|---|")
    for name in names:
        t = times[name]
        note = scale(name, args)[1]
        print(
            f"| {name}{note} | {statistics.median(t):.2f} s ({min(t):.2f}-{max(t):.2f}) | "
            f"{statistics.median(t) / base:.2f}x | {memory[name]:.0f} |"
        )


if __name__ == "__main__":
    main()
