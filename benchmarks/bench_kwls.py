"""KWLS fit + transform on the IMDb training set: textsmooth versus a naive loop, and a 10x scaling row.

Every variant runs in a fresh subprocess, so its peak memory (``ru_maxrss``) is its own; the time is
measured inside the subprocess around ``fit`` + ``transform`` only (data already in memory). Variants
are interleaved (A B C A B C ...) because these machines have bursts of slowdown; the table shows
the median and the min-max, and ratios against the naive loop measured in the same run.

Variants:
  naive-loop       a plain Python implementation written here (dicts and loops over tokens, the way
                   the authors' generator works), split-on-space tokens; the baseline
  textsmooth       KeywordSmoother(tokenizer="space").fit_transform, float32 output
  textsmooth-10x   the same on the corpus repeated 10 times (250,000 reviews, ~58M tokens)

Run:  python benchmarks/bench_kwls.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import platform
import resource
import statistics
import subprocess
import sys
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


def run_variant(variant: str, limit: int | None) -> dict:
    """Runs inside the subprocess."""
    texts, labels = load(limit)
    if variant.endswith("-10x"):
        texts, labels = texts * 10, labels * 10
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if variant.startswith("textsmooth"):
        from textsmooth import KeywordSmoother

        # warm-up on 10 texts: loads Arrow's kernels and thread pool once (about 0.2 s, paid once per process)
        KeywordSmoother(tokenizer="space").fit_transform(texts[:10], [0, 1] * 5)
        start = time.perf_counter()
        soft = KeywordSmoother(tokenizer="space").fit_transform(texts, labels)
        seconds = time.perf_counter() - start
        check = float(soft[:, 0].sum())
    else:
        start = time.perf_counter()
        soft = naive_kwls(texts, labels)
        seconds = time.perf_counter() - start
        check = float(sum(row[0] for row in soft))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tokens = sum(t.count(" ") + 1 for t in texts)
    return {
        "variant": variant,
        "seconds": seconds,
        "peak_mb": peak / 1024,
        "data_mb": baseline_rss / 1024,
        "rows": len(texts),
        "tokens": tokens,
        "check": check,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=2, help="the naive loop is slow")
    parser.add_argument("--quick", action="store_true", help="2,500 reviews, no 10x row")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(args.child, args.limit)))
        return
    if not IMDB.exists():
        sys.exit(f"IMDb data not found at {IMDB}")
    limit = 2500 if args.quick else None
    variants = ["naive-loop", "textsmooth"] + ([] if args.quick else ["textsmooth-10x"])
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for rep in range(args.repeats):
        for variant in variants:
            if variant == "naive-loop" and rep >= args.naive_repeats:
                continue
            cmd = [sys.executable, __file__, "--child", variant]
            if limit:
                cmd += ["--limit", str(limit)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[variant].append(json.loads(out.strip().splitlines()[-1]))
            print(f"  rep {rep + 1} {variant}: {results[variant][-1]['seconds']:.2f} s", file=sys.stderr)
    base = statistics.median(r["seconds"] for r in results["naive-loop"])
    checks = {v: round(rs[0]["check"] / (10 if v.endswith("10x") else 1), 3) for v, rs in results.items()}
    print(
        "KWLS fit + transform, IMDb train, split-on-space tokens "
        f"({platform.machine()}, Python {platform.python_version()}); sum of column 0 per variant: {checks}"
    )
    print()
    print(
        "| variant | rows | tokens | time median (min-max) | speed-up vs naive-loop "
        "| peak RSS | data-only RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, rs in results.items():
        secs = [r["seconds"] for r in rs]
        med = statistics.median(secs)
        speed = base / med
        note = (
            f"{speed:.0f}x"
            if not variant.endswith("10x")
            else f"{med / statistics.median(r['seconds'] for r in results['textsmooth']):.1f}x the 1x time"
        )
        print(
            f"| {variant} | {rs[0]['rows']:,} | {rs[0]['tokens']:,} "
            f"| {med:.2f} s ({min(secs):.2f}-{max(secs):.2f}) "
            f"| {note} | {statistics.median(r['peak_mb'] for r in rs):,.0f} MB | {rs[0]['data_mb']:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
