"""The word-similarity losses with a top-N table against dense V x V soft targets (issue 12).

For each loss of :mod:`textsmooth.losses.similarity` (soft-label, weighted similarity, weighted
cross-entropy): forward + backward on ``(positions, V)`` float32 logits (default 64 sentences x 30 tokens,
lengths 8-30 with the rest padding, V = 30,000), with

* ``top-N table, N = 3 / 5 / 10`` (ours): the library function over the ``(V, N)`` table;
* ``dense V x V`` (baseline): the same table spread into a dense ``V x V`` float32 similarity matrix
  ``S`` (zero outside each row's top-N), ``S[target]`` gathered for the batch, then a full-vocabulary
  weighted sum, written plainly in :func:`dense_loss`. Its cost does not depend on the values in ``S``,
  so it is timed once, with the N = 10 matrix.

The table is built once by :func:`textsmooth.similarity.build_similarity_table` (raw cosines, N = 10) from
seeded random unit vectors; the N = 3 and 5 tables are its first columns (a top-N build gives the same
rows). Before timing, every (loss, N) is checked: the dense method on that N's matrix must give the
library's loss value to 1e-5 (``|a - b| <= 1e-5 max(1, |b|)``) and its gradient to 1e-4 of the largest
gradient entry; the script stops otherwise.

Time: all variants interleaved (A B C ... A B C ...) over ``--repeats`` rounds after one warm-up each,
medians and min-max, ratios against the dense median of the same loss in the same run. Memory: each
variant in a fresh subprocess; ``peak extra MiB`` is the peak resident set one forward + backward adds
above the inputs (logits, targets, and the table or ``S``, already resident: ``VmHWM`` after
``clear_refs``). ``state MiB`` is what the loss keeps between batches: the table's tensors (``V * N``
int64 ids and float32 similarities) or ``S`` (``V * V * 4`` bytes, 3,433 MiB at 30k; every process that
times or measures the dense method holds it, so the script needs about 4 GB of free memory).

Usage::

    python benchmarks/bench_similarity_losses.py                # V = 30,000, 64 x 30 tokens
    python benchmarks/bench_similarity_losses.py --quick        # V = 5,000, 16 x 30 tokens, a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import torch

from _seq_timing import interleave, machine, peak_extra_mib
from textsmooth.losses import similarity_soft_label_loss, weighted_cross_entropy, weighted_similarity_loss

LOSSES: dict[str, Callable[..., object]] = {
    "soft-label": similarity_soft_label_loss,
    "weighted similarity": weighted_similarity_loss,
    "weighted cross-entropy": weighted_cross_entropy,
}
TOP_NS = (3, 5, 10)
DENSE = "dense V x V"
TOL = 1e-5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=30_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--sentences", type=int, default=64)
    p.add_argument("--tokens", type=int, default=30)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--table", default=None, help=argparse.SUPPRESS)
    p.add_argument("--memory-only", nargs=2, default=None, help=argparse.SUPPRESS)  # LOSS VARIANT
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------- inputs


def build_table(vocab: int, dim: int):
    """The raw-cosine N = 10 table of ``vocab`` seeded random 300-d words."""
    from textsmooth.similarity import WordVectors, build_similarity_table

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(vocab)]
    wv = WordVectors(words, rng.standard_normal((vocab, dim)).astype(np.float32))
    return build_similarity_table(words, wv, top_n=max(TOP_NS), normalize=False)


def batch(vocab: int, sentences: int, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, target)``: ``(sentences * tokens, vocab)`` float32 logits, gold ids, -100 after each
    sentence's length (8 to ``tokens``)."""
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, vocab, (sentences, tokens), generator=g)
    lengths = torch.randint(min(8, tokens), tokens + 1, (sentences,), generator=g)
    target[torch.arange(tokens)[None, :] >= lengths[:, None]] = -100
    logits = (torch.randn(sentences * tokens, vocab, generator=g) * 2).requires_grad_()
    return logits, target.reshape(-1)


def table_tensors(table, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(neighbors, similarities)`` of the top-``n`` table: the first ``n`` columns."""
    neighbors, sims = table.as_tensors()
    return neighbors[:, :n].contiguous(), sims[:, :n].contiguous()


def dense_matrix(neighbors: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
    """The ``V x V`` float32 similarity matrix of a table (zero outside each row's top-N)."""
    V = neighbors.shape[0]
    keep = neighbors >= 0
    S = torch.zeros(V, V, dtype=torch.float32)
    S.scatter_(1, neighbors.clamp(min=0), torch.where(keep, sims, 0.0))
    return S


# --------------------------------------------------------------------------------------------- losses


def dense_loss(loss: str, logits: torch.Tensor, target: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """The naive method: gather the gold words' rows of the dense ``S``, weight the whole vocabulary.

    soft-label ``-sum_j S[y, j] / sum_j' S[y, j'] log p_j``; weighted similarity ``-sum_j S[y, j] p_j``;
    weighted cross-entropy ``-sum_j S[y, j] log p_j``; the mean over the non-padding positions.
    """
    valid = target != -100
    q = S[target.clamp(min=0)]  # (positions, V)
    if loss == "soft-label":
        q = q / q.sum(dim=1, keepdim=True)
        rows = -(q * torch.log_softmax(logits, dim=1)).sum(dim=1)
    elif loss == "weighted similarity":
        rows = -(q * torch.softmax(logits, dim=1)).sum(dim=1)
    else:
        rows = -(q * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return rows[valid].mean()


def library_loss(loss: str, logits: torch.Tensor, target: torch.Tensor, table: tuple) -> torch.Tensor:
    return LOSSES[loss](logits, target, *table).loss


def step(fn: Callable[[], torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    logits.grad = None
    value = fn()
    value.backward()
    return value.detach()


def check(loss: str, n: int, logits: torch.Tensor, target: torch.Tensor, table: tuple, S) -> float:
    """The dense method equals the library (loss value and gradient); returns the relative gap."""
    ours = float(step(lambda: library_loss(loss, logits, target, table), logits))
    grad = logits.grad.clone()
    theirs = float(step(lambda: dense_loss(loss, logits, target, S), logits))
    gap = abs(ours - theirs) / max(1.0, abs(theirs))
    grad_gap = float((grad - logits.grad).abs().max()) / float(logits.grad.abs().max())
    logits.grad = None
    if not gap <= TOL or not grad_gap <= 1e-4:
        raise SystemExit(
            f"{loss}, N = {n}: library {ours!r} vs dense {theirs!r} (gap {gap:.2e}); "
            f"largest gradient difference {grad_gap:.2e} of the largest gradient"
        )
    return gap


# --------------------------------------------------------------------------------------------- memory


def memory_only(args: argparse.Namespace) -> None:
    """One variant's peak extra MiB of one step, in this fresh process (JSON on stdout)."""
    from textsmooth.similarity import SimilarityTable

    torch.set_num_threads(args.threads)
    loss, variant = args.memory_only
    tiny_logits, tiny_target = batch(64, 2, 10)  # imports and first-call allocations
    tiny = table_tensors(build_table(64, 8), 10)
    step(lambda: library_loss(loss, tiny_logits, tiny_target, tiny), tiny_logits)
    step(lambda: dense_loss(loss, tiny_logits, tiny_target, dense_matrix(*tiny)), tiny_logits)
    table = SimilarityTable.read(args.table)
    logits, target = batch(args.vocab, args.sentences, args.tokens)
    if variant == DENSE:
        S = dense_matrix(*table_tensors(table, max(TOP_NS)))
        fn = lambda: dense_loss(loss, logits, target, S)  # noqa: E731
    else:
        tensors = table_tensors(table, int(variant))
        fn = lambda: library_loss(loss, logits, target, tensors)  # noqa: E731
    print(json.dumps({"mib": peak_extra_mib(lambda: step(fn, logits))}))


def measure_memory(args: argparse.Namespace, table_path: str, loss: str, variant: str) -> float:
    cmd = [
        sys.executable,
        __file__,
        "--memory-only",
        loss,
        variant,
        "--table",
        table_path,
        "--vocab",
        str(args.vocab),
        "--sentences",
        str(args.sentences),
        "--tokens",
        str(args.tokens),
        "--threads",
        str(args.threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory run failed for {loss}, {variant}: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["mib"])


# --------------------------------------------------------------------------------------------- report


def key(loss: str, variant: str) -> str:
    return f"{loss} / {variant}"


def label(variant: str) -> str:
    return f"{DENSE} (baseline)" if variant == DENSE else f"top-N table, N = {variant}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.quick:
        args.vocab, args.sentences, args.repeats = 5000, 16, 3
    if args.memory_only:
        memory_only(args)
        return
    torch.set_num_threads(args.threads)
    start = machine()
    variants = [DENSE, *(str(n) for n in TOP_NS)]
    with tempfile.TemporaryDirectory() as tmp:
        table = build_table(args.vocab, args.dim)
        table_path = str(Path(tmp) / "table.npz")
        table.write(table_path)
        logits, target = batch(args.vocab, args.sentences, args.tokens)
        tables = {n: table_tensors(table, n) for n in TOP_NS}
        gaps = []
        held: dict[str, torch.Tensor] = {}
        for n in TOP_NS:  # one V x V matrix at a time; the last (N = 10) is kept for timing
            held.clear()
            held["S"] = dense_matrix(*tables[n])
            gaps += [check(loss, n, logits, target, tables[n], held["S"]) for loss in LOSSES]

        def fn(loss: str, variant: str) -> Callable[[], object]:
            if variant == DENSE:
                return lambda: step(lambda: dense_loss(loss, logits, target, held["S"]), logits)
            return lambda: step(lambda: library_loss(loss, logits, target, tables[int(variant)]), logits)

        fns = {key(loss, v): fn(loss, v) for loss in LOSSES for v in variants}
        for f in fns.values():  # warm-up
            f()
        runs = interleave(fns, args.repeats)
        held.clear()  # the memory runs below build their own
        memory = {
            key(loss, v): measure_memory(args, table_path, loss, v) for loss in LOSSES for v in variants
        }
    positions = int((target != -100).sum())
    print(
        f"bench_similarity_losses {date.today()} · V = {args.vocab:,} · {args.sentences} x {args.tokens} "
        f"positions ({positions:,} not padding), float32 logits, forward + backward · "
        f"{args.threads} threads · {args.repeats} interleaved repeats · torch {torch.__version__}"
        + (" · QUICK" if args.quick else "")
    )
    nproc = len(os.sched_getaffinity(0))
    print(f"machine: {start} at the start, nproc {nproc}; load average {os.getloadavg()[0]:.2f} at the end")
    print(f"dense vs library, before timing: largest relative loss gap {max(gaps):.1e} (limit {TOL:g})")
    print()
    print(
        "| loss | variant | time median ms (min-max) | time vs dense | peak extra MiB per step | "
        "memory vs dense | state MiB (table or S) |"
    )
    print("|---|---|---|---|---|---|---|")
    for loss in LOSSES:
        base_t = statistics.median(runs[key(loss, DENSE)])
        base_m = memory[key(loss, DENSE)]
        for v in variants:
            t = [s * 1000 for s in runs[key(loss, v)]]
            m = memory[key(loss, v)]
            state = args.vocab * (args.vocab * 4 if v == DENSE else int(v) * (8 + 4)) / 2**20
            print(
                f"| {loss} | {label(v)} | {statistics.median(t):.0f} ({min(t):.0f}-{max(t):.0f}) | "
                f"{statistics.median(t) / 1000 / base_t:.2f}x | {m:.0f} | "
                f"{m / base_m if base_m > 0 else math.nan:.2f}x | {state:,.1f} |"
            )


if __name__ == "__main__":
    main()
