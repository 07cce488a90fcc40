"""KWLS fit + transform on the IMDb training set: textsmooth versus a naive loop, and a 10x scaling row.

Every variant runs in a fresh subprocess, so its peak memory (``ru_maxrss``) is its own; the time is
measured inside the subprocess around ``fit`` + ``transform`` only (data already in memory). Variants
are interleaved (A B C A B C ...) because these machines have bursts of slowdown; the table shows
the median and the min-max, and ratios against the naive loop measured in the same run.

Variants:
  authors-script   (only with --authors-script PATH) a local copy of the authors' generator
                   (PeiYangLiu/KWLS generate_soft_label.py; not part of this repository), run with
                   runpy on IMDb train written as its train_soft_label.csv; pandas/numpy are imported
                   before the clock starts, its own read_csv and np.save are inside the timing
  naive-loop       a plain Python implementation written here (dicts and loops over tokens, the way
                   the authors' generator works), split-on-space tokens; the baseline
  textsmooth       KeywordSmoother(tokenizer="space").fit_transform, float32 output
  textsmooth-words the same with the default "words" tokenizer (lower-cased Unicode words)
  textsmooth-10x   KeywordSmoother(tokenizer="space") on the corpus repeated 10 times (250,000 reviews)

--memory instead measures the peak traced memory (tracemalloc) of fit + transform with 10,000 classes of
one review each, computed in row blocks (default) versus in one block, against the output size.

Run:  python benchmarks/bench_kwls.py [--repeats 3] [--quick] [--authors-script PATH] [--memory]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import lzma
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.jsonl.xz"


def load(limit: int | None) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with lzma.open(IMDB, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["label"])
    if limit:
        step = max(1, len(texts) // limit)
        texts, labels = texts[::step][:limit], labels[::step][:limit]
    return texts, labels


def naive_kwls(texts, labels, k1=2.0, b=0.75, k2=2.0):
    """Eqs. (1)-(8) with dictionaries and loops over tokens (the baseline being sped up)."""
    n_classes = max(labels) + 1
    tokens = [t.split(" ") for t in texts]
    label_tf = [Counter() for _ in range(n_classes)]
    label_len = [0] * n_classes
    doc_freq: Counter = Counter()
    for toks, y in zip(tokens, labels, strict=True):
        label_tf[y].update(toks)
        label_len[y] += len(toks)
        doc_freq.update(set(toks))
    s_avg = sum(label_len) / n_classes
    n_labels_with: Counter = Counter()
    for tf in label_tf:
        n_labels_with.update(tf.keys())
    big_k = [k1 * (1 - b + b * s / s_avg) for s in label_len]
    x_avg = sum(len(t) for t in tokens) / len(tokens)
    n = len(tokens)
    out = []
    for toks in tokens:
        counts = Counter(toks)
        ilr = [0.0] * n_classes
        for word, f in counts.items():
            wir = (math.log(n / doc_freq[word]) + 1) * f * k2 / (f + k2)
            wlw = math.log(n_classes / n_labels_with[word]) + 1
            for m in range(n_classes):
                fl = label_tf[m].get(word, 0)
                if fl:
                    ilr[m] += wlw * fl * k1 / (fl + big_k[m]) * wir
        top = max(ilr)
        e = [math.exp((v - top) / x_avg) for v in ilr]
        total = sum(e)
        out.append([v / total for v in e])
    return out


def run_variant(variant: str, limit: int | None, authors: str | None, data_dir: str | None) -> dict:
    """Runs inside the subprocess."""
    texts, labels = load(limit)
    if variant.endswith("-10x"):
        texts, labels = texts * 10, labels * 10
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if variant.startswith("textsmooth"):
        from textsmooth import KeywordSmoother

        tokenizer = "words" if variant == "textsmooth-words" else "space"
        # warm-up on 10 texts: loads Arrow's kernels and thread pool once (paid once per process)
        KeywordSmoother(tokenizer=tokenizer).fit_transform(texts[:10], [0, 1] * 5)
        start, cpu = time.perf_counter(), time.process_time()
        soft = KeywordSmoother(tokenizer=tokenizer).fit_transform(texts, labels)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        check = float(soft[:, 0].sum())
    elif variant == "authors-script":
        import runpy

        import numpy as np
        import pandas  # noqa: F401  (imported before the clock: the script imports it first thing)

        sys.argv = [authors, data_dir.rstrip("/") + "/", "2.0", "0.75", "2.0"]
        stdout, sys.stdout = sys.stdout, sys.stderr  # the script prints its arguments
        try:
            start, cpu = time.perf_counter(), time.process_time()
            runpy.run_path(authors, run_name="__main__")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            sys.stdout = stdout
        check = float(np.load(Path(data_dir) / "soft_label.npy")[:, 0].sum())
    else:
        start, cpu = time.perf_counter(), time.process_time()
        soft = naive_kwls(texts, labels)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        check = float(sum(row[0] for row in soft))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tokens = sum(t.count(" ") + 1 for t in texts)
    return {
        "variant": variant,
        "seconds": seconds,
        "cpu": cpu,
        "peak_mb": peak / 1024,
        "data_mb": baseline_rss / 1024,
        "rows": len(texts),
        "tokens": tokens,
        "check": check,
    }


def write_authors_input(directory: Path, limit: int | None) -> None:
    """IMDb train as the authors' ``train_soft_label.csv``: index, text, label id, label name (TSV)."""
    texts, labels = load(limit)
    with open(directory / "train_soft_label.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            writer.writerow([i, text, label, ["neg", "pos"][label]])


def run_memory(blocks: bool) -> dict:
    """Peak traced memory of fit + transform, 10,000 classes of one review each (in a subprocess)."""
    import tracemalloc

    import textsmooth.targets.keyword as keyword
    from textsmooth import KeywordSmoother

    texts, _ = load(None)
    texts = texts[:10_000]
    if not blocks:
        keyword._BLOCK_BYTES = 1 << 50
    smoother = KeywordSmoother(tokenizer="space").fit(texts, list(range(len(texts))))
    tracemalloc.start()
    start = time.perf_counter()
    soft = smoother.transform(texts)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": seconds,
        "peak_gb": peak / 1e9,
        "output_gb": soft.nbytes / 1e9,
        "check": float(soft.sum()),
    }


def main_memory(repeats: int) -> None:
    results: dict[str, list[dict]] = {"row blocks (default)": [], "one block": []}
    for _ in range(repeats):
        for variant in results:
            cmd = [sys.executable, __file__, "--memory-child", "1" if variant.startswith("row") else "0"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[variant].append(json.loads(out.strip().splitlines()[-1]))
    print(f"KWLS transform, 10,000 IMDb reviews x 10,000 classes, float32 ({datetime.date.today()})")
    print()
    print("| variant | output | peak traced memory (median) | peak / output | time median (min-max) |")
    print("|---|---:|---:|---:|---:|")
    for variant, rs in results.items():
        secs = [r["seconds"] for r in rs]
        peak = statistics.median(r["peak_gb"] for r in rs)
        print(
            f"| {variant} | {rs[0]['output_gb']:.2f} GB | {peak:.2f} GB | {peak / rs[0]['output_gb']:.2f}x "
            f"| {statistics.median(secs):.2f} s ({min(secs):.2f}-{max(secs):.2f}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=2, help="the naive loop is slow")
    parser.add_argument("--quick", action="store_true", help="2,500 reviews, no 10x row")
    parser.add_argument(
        "--authors-script",
        metavar="PATH",
        help="a local copy of the authors' generate_soft_label.py, timed in the same run",
    )
    parser.add_argument("--memory", action="store_true", help="peak memory with 10,000 classes instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--authors-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(args.child, args.limit, args.authors_script, args.authors_dir)))
        return
    if args.memory_child:
        print(json.dumps(run_memory(args.memory_child == "1")))
        return
    if not IMDB.exists():
        sys.exit(f"IMDb data not found at {IMDB}")
    if args.memory:
        main_memory(args.repeats)
        return
    limit = 2500 if args.quick else None
    variants = (["authors-script"] if args.authors_script else []) + [
        "naive-loop",
        "textsmooth",
        "textsmooth-words",
    ]
    variants += [] if args.quick else ["textsmooth-10x"]
    results: dict[str, list[dict]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        if args.authors_script:
            write_authors_input(Path(tmp), limit)
        for rep in range(args.repeats):
            for variant in variants:
                if variant in ("naive-loop", "authors-script") and rep >= args.naive_repeats:
                    continue
                cmd = [sys.executable, __file__, "--child", variant, "--authors-dir", tmp]
                if args.authors_script:
                    cmd += ["--authors-script", str(Path(args.authors_script).resolve())]
                if limit:
                    cmd += ["--limit", str(limit)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                results[variant].append(json.loads(out.strip().splitlines()[-1]))
                print(f"  rep {rep + 1} {variant}: {results[variant][-1]['seconds']:.2f} s", file=sys.stderr)
    median = {v: statistics.median(r["seconds"] for r in rs) for v, rs in results.items()}
    cpu = {v: statistics.median(r["cpu"] for r in rs) for v, rs in results.items()}
    checks = {v: round(rs[0]["check"] / (10 if v.endswith("10x") else 1), 3) for v, rs in results.items()}
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"KWLS fit + transform, IMDb train ({datetime.date.today()}, {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load_avg}); sum of column 0: {checks}"
    )
    print()
    authors = "authors-script" in median
    print(
        "| variant | rows | tokens | time median (min-max) | vs naive-loop "
        + ("| vs authors' script " if authors else "")
        + "| CPU s (median) | CPU vs naive-loop "
        + ("| CPU vs authors' script " if authors else "")
        + "| peak RSS | data-only RSS |"
    )
    print(
        "|---|---:|---:|---:|---:|"
        + ("---:|" if authors else "")
        + "---:|---:|"
        + ("---:|" if authors else "")
        + "---:|---:|"
    )
    for variant, rs in results.items():
        secs = [r["seconds"] for r in rs]
        med = median[variant]
        if variant.endswith("10x"):
            ratios = [f"{med / median['textsmooth']:.1f}x the 1x time"] + ([""] if authors else [])
            ratios += [f"{cpu[variant]:.2f}", f"{cpu[variant] / cpu['textsmooth']:.1f}x the 1x CPU"]
            ratios += [""] if authors else []
        else:
            ratios = [f"{median['naive-loop'] / med:.1f}x"]
            ratios += [f"{median['authors-script'] / med:.1f}x"] if authors else []
            ratios += [f"{cpu[variant]:.2f}", f"{cpu['naive-loop'] / cpu[variant]:.1f}x"]
            ratios += [f"{cpu['authors-script'] / cpu[variant]:.1f}x"] if authors else []
        print(
            f"| {variant} | {rs[0]['rows']:,} | {rs[0]['tokens']:,} "
            f"| {med:.2f} s ({min(secs):.2f}-{max(secs):.2f}) | "
            + " | ".join(ratios)
            + f" | {statistics.median(r['peak_mb'] for r in rs):,.0f} MB | {rs[0]['data_mb']:,.0f} MB |"
        )
    print(f"\ncommand: {' '.join(['python', *sys.argv])}")


if __name__ == "__main__":
    main()
