"""Benchmark: BLEU re-ranking of 100 candidates for each Multi30k English training target.

Work: 29,000 targets x 100 candidates = 2.9 million (candidate, target) sentence-BLEU pairs, including
tokenisation. Candidates per target: its 4 task-2 paraphrase captions (high overlap) + 96 random
training targets (seeded). Variants, interleaved in one run:

- ``textsmooth``: ``BleuCorpus(targets + captions).score_candidates(...)`` for all 2.9M pairs, from raw
  text (tokenisation and n-gram counting included).
- ``textsmooth (previous)``: the same with ``BleuCorpus`` of an earlier commit (``--previous REF``,
  default 6fc990d: Python tokens and dictionaries per token, n-gram ids by ``np.unique``), read with
  ``git show`` and imported from a temporary file; skipped when git or the commit is not available.
- baseline ``sacrebleu.sentence_bleu``: one call per pair (the usual way), timed on a sample of pairs
  and extrapolated to 2.9M.
- baseline ``BLEU.sentence_score``: one reused ``sacrebleu.metrics.BLEU`` object, per pair, sampled.

Also checks that the scores of the sampled pairs agree with sacrebleu (max |difference|) and that all
2.9M scores equal the previous implementation's exactly.

Run: ``.venv/bin/python benchmarks/bench_bleu.py [--repeats 3] [--sample 3000] [--orders 4]``
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _seq_timing import MULTI30K, interleave, machine, markdown, stat


def _lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def _previous_corpus(ref: str):
    """``BleuCorpus`` of commit ``ref`` (``git show``), or None when it cannot be read."""
    repo = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{ref}:src/textsmooth/text/bleu.py"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tempfile.NamedTemporaryFile("w", suffix="_bleu_previous.py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("bleu_previous", handle.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Path(handle.name).unlink()
    return module.BleuCorpus


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=3000, help="pairs timed for the per-pair baselines")
    parser.add_argument("--orders", type=int, nargs="+", default=[4])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--previous", default="6fc990d", help="commit of the previous BleuCorpus ('' = skip)")
    args = parser.parse_args()
    if not MULTI30K.exists():
        print(f"skipped: {MULTI30K} not found (Multi30k is expected in ../shared/data beside the repository)")
        return 0

    import sacrebleu
    from sacrebleu.metrics import BLEU

    from textsmooth.text.bleu import BleuCorpus

    previous = _previous_corpus(args.previous) if args.previous else None

    targets = _lines(MULTI30K / "task1" / "raw" / "train.en.gz")
    captions = [_lines(MULTI30K / "task2" / "raw" / f"train.{k}.en.gz") for k in range(2, 6)]
    n = len(targets)
    kc = args.candidates
    corpus_texts = targets + [c for cap in captions for c in cap]
    rng = np.random.default_rng(0)
    cands = rng.integers(0, n, size=(n, kc))
    for j in range(4):  # paraphrases of the same image live at n + j*n + i
        cands[:, j] = n + j * n + np.arange(n)
    pairs = n * kc
    sample_idx = rng.choice(pairs, size=args.sample, replace=False)
    s_t = sample_idx // kc
    s_c = cands.ravel()[sample_idx]
    s_hyp = [corpus_texts[c] for c in s_c]
    s_ref = [targets[t] for t in s_t]

    print(f"# BLEU re-ranking benchmark: {n:,} targets x {kc} candidates = {pairs:,} pairs")
    print(
        f"machine: {machine()}; repeats: {args.repeats} (interleaved); per-pair sample: {args.sample:,} pairs"
    )
    rows = []
    for order in args.orders:
        result: dict[str, np.ndarray] = {}

        build: dict[str, list[float]] = {"textsmooth": [], "textsmooth (previous)": []}

        def ours(order=order, result=result, build=build):
            t0 = time.perf_counter()
            corpus = BleuCorpus(corpus_texts, max_order=order)
            build["textsmooth"].append(time.perf_counter() - t0)
            result["scores"] = corpus.score_candidates(np.arange(n), cands)

        def ours_previous(order=order, result=result, build=build):
            t0 = time.perf_counter()
            corpus = previous(corpus_texts, max_order=order)
            build["textsmooth (previous)"].append(time.perf_counter() - t0)
            result["previous"] = corpus.score_candidates(np.arange(n), cands)

        def per_pair_fn(order=order):
            return [
                sacrebleu.sentence_bleu(h, [r], tokenize="13a").score
                if order == 4
                else BLEU(max_ngram_order=order, effective_order=True).sentence_score(h, [r]).score
                for h, r in zip(s_hyp, s_ref, strict=True)
            ]

        metric = BLEU(max_ngram_order=order, effective_order=True)

        def per_pair_obj(metric=metric):
            return [metric.sentence_score(h, [r]).score for h, r in zip(s_hyp, s_ref, strict=True)]

        variants = {"textsmooth": ours}
        if previous is not None:
            variants["textsmooth (previous)"] = ours_previous
        variants.update({"sacrebleu.sentence_bleu": per_pair_fn, "BLEU.sentence_score": per_pair_obj})
        times = interleave(variants, args.repeats)
        ref_scores = np.array(per_pair_obj())
        got = result["scores"].ravel()[sample_idx]
        diff = float(np.max(np.abs(got - ref_scores)))
        base_name = "sacrebleu.sentence_bleu" if order == 4 else "BLEU(order).sentence_score, new object"
        base_full = stat(times["sacrebleu.sentence_bleu"])[0] / args.sample * pairs
        for name, label in (
            ("sacrebleu.sentence_bleu", base_name),
            ("BLEU.sentence_score", "BLEU.sentence_score"),
        ):
            med, lo, hi = stat(times[name])
            full = med / args.sample * pairs
            rows.append(
                [
                    order,
                    f"baseline: {label} (per pair, extrapolated)",
                    f"{args.sample / med:,.0f}",
                    full,
                    f"{lo / args.sample * pairs:,.0f}-{hi / args.sample * pairs:,.0f}",
                    "",
                    "",
                    f"{base_full / full:.2f}x",
                ]
            )
        for name in ("textsmooth (previous)", "textsmooth"):
            if name not in times:
                continue
            med, lo, hi = stat(times[name])
            b_med, b_lo, b_hi = stat(build[name])
            versus = f"{stat(times['textsmooth (previous)'])[0] / med:.2f}x" if previous is not None else ""
            rows.append(
                [
                    order,
                    f"{name} BleuCorpus (all pairs, incl. tokenisation)",
                    f"{pairs / med:,.0f}",
                    med,
                    f"{lo:.2f}-{hi:.2f}",
                    f"{b_med:.2f} ({b_lo:.2f}-{b_hi:.2f})",
                    versus,
                    f"{base_full / med:,.0f}x faster",
                ]
            )
        print(f"BLEU-{order}: max |textsmooth - sacrebleu| on the {args.sample:,} sampled pairs = {diff:.2e}")
        if previous is not None:
            same = np.array_equal(result["scores"], result["previous"], equal_nan=True)
            print(f"BLEU-{order}: all {pairs:,} scores identical to the previous implementation: {same}")
    print()
    print(
        markdown(
            [
                "BLEU-n",
                "variant",
                "pairs/s",
                "time for 2.9M pairs (s, median)",
                "min-max (s)",
                "of which tokenise + count (s, median, min-max)",
                "vs previous",
                "vs sacrebleu.sentence_bleu",
            ],
            rows,
        )
    )
    print(f"\ncommand: {' '.join(['.venv/bin/python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
