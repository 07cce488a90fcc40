"""Benchmark: BLEU re-ranking of 100 candidates for each Multi30k English training target.

Work: 29,000 targets x 100 candidates = 2.9 million (candidate, target) sentence-BLEU pairs, including
tokenisation. Candidates per target: its 4 task-2 paraphrase captions (high overlap) + 96 random
training targets (seeded). Variants, interleaved in one run:

- ``textsmooth``: ``BleuCorpus(targets + captions).score_candidates(...)`` for all 2.9M pairs, from raw
  text (tokenisation and n-gram counting included).
- baseline ``sacrebleu.sentence_bleu``: one call per pair (the usual way), timed on a sample of pairs
  and extrapolated to 2.9M.
- baseline ``BLEU.sentence_score``: one reused ``sacrebleu.metrics.BLEU`` object, per pair, sampled.

Also checks that the scores of the sampled pairs agree (max |difference|).

Run: ``.venv/bin/python benchmarks/bench_bleu.py [--repeats 3] [--sample 3000] [--orders 4]``
"""

from __future__ import annotations

import argparse
import gzip
import sys

import numpy as np

from _seq_timing import MULTI30K, interleave, machine, markdown, stat


def _lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=3000, help="pairs timed for the per-pair baselines")
    parser.add_argument("--orders", type=int, nargs="+", default=[4])
    parser.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args()
    if not MULTI30K.exists():
        print(f"skipped: {MULTI30K} not found (Multi30k is expected in ../shared/data beside the repository)")
        return 0

    import sacrebleu
    from sacrebleu.metrics import BLEU

    from textsmooth.text.bleu import BleuCorpus

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

        def ours(order=order, result=result):
            corpus = BleuCorpus(corpus_texts, max_order=order)
            result["scores"] = corpus.score_candidates(np.arange(n), cands)

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

        times = interleave(
            {"textsmooth": ours, "sacrebleu.sentence_bleu": per_pair_fn, "BLEU.sentence_score": per_pair_obj},
            args.repeats,
        )
        ref_scores = np.array(per_pair_obj())
        got = result["scores"].ravel()[sample_idx]
        diff = float(np.max(np.abs(got - ref_scores)))
        med_ours, lo_ours, hi_ours = stat(times["textsmooth"])
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
                    f"{base_full / full:.2f}x",
                ]
            )
        rows.append(
            [
                order,
                "textsmooth BleuCorpus (all pairs, incl. tokenisation)",
                f"{pairs / med_ours:,.0f}",
                med_ours,
                f"{lo_ours:.2f}-{hi_ours:.2f}",
                f"{base_full / med_ours:,.0f}x faster",
            ]
        )
        print(f"BLEU-{order}: max |textsmooth - sacrebleu| on the {args.sample:,} sampled pairs = {diff:.2e}")
    print()
    print(
        markdown(
            [
                "BLEU-n",
                "variant",
                "pairs/s",
                "time for 2.9M pairs (s, median)",
                "min-max (s)",
                "vs sacrebleu.sentence_bleu",
            ],
            rows,
        )
    )
    print(f"\ncommand: {' '.join(['.venv/bin/python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
