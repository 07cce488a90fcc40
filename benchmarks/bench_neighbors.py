"""Benchmark: the semantic-neighbours pipeline (embed -> kNN k=100 -> BLEU-4 re-rank -> keep 5 -> write).

Sections (``--sections``):

- ``pipeline``: the 29,000 Multi30k English training targets, end to end through
  ``SemanticNeighbors`` (default MiniLM, mean pooling, precision ``auto``; fresh cache), time per
  stage. Same-run baselines: the encoder in float32 on a sample (extrapolated), the exact torch
  (``brute``) kNN on the same vectors, per-pair ``sacrebleu.sentence_bleu`` on a sample (extrapolated).
- ``knn``: synthetic targets (``--knn-sizes``): faiss flat (exact) vs HNSW, with HNSW recall@100
  measured against the exact result on 1,000 queries. Vectors: MiniLM vectors of Multi30k sentences
  plus Gaussian noise, re-normalised (so neighbourhoods look like real ones).
- ``rerank``: synthetic targets (``--rerank-sizes``): BLEU-4 of 100 candidates per target, including
  tokenisation. Texts: Multi30k sentences with random word replacements (distinct sentences).

Run: ``.venv/bin/python benchmarks/bench_neighbors.py [--sections pipeline knn rerank]``
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from _seq_timing import MULTI30K, machine, markdown


def _lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def _synthetic_texts(base: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = sorted({w for s in base[:5000] for w in s.split()})
    out = []
    picks = rng.integers(0, len(base), size=n)
    for i, j in enumerate(picks.tolist()):
        words = base[j].split()
        k = 1 + int(rng.integers(0, 3))
        for pos in rng.integers(0, len(words), size=k).tolist():
            words[pos] = vocab[int(rng.integers(len(vocab)))]
        out.append(" ".join(words) + f" #{i}")  # distinct sentences
    return out


def _synthetic_vectors(base: np.ndarray, n: int, seed: int, noise: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = base[rng.integers(0, base.shape[0], size=n)].copy()
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def pipeline(targets: list[str], args) -> np.ndarray:
    import sacrebleu

    from textsmooth.sequence import KnnIndex, SemanticNeighbors, SentenceEncoder

    print(f"\n## Multi30k EN train: {len(targets):,} targets, k=100, keep=5, BLEU-4, index=flat")
    with tempfile.TemporaryDirectory() as tmp:
        t_start = time.perf_counter()
        encoder = SentenceEncoder(num_threads=args.threads).load()
        encoder.fingerprint  # noqa: B018 - hashes the model files once
        load_s = time.perf_counter() - t_start
        sn = SemanticNeighbors(
            k=100, keep=5, bleu_order=4, encoder=encoder, index="flat", num_threads=args.threads
        )
        sn.fit(targets, work_dir=f"{tmp}/work", progress=False)
        t0 = time.perf_counter()
        sn.write(f"{tmp}/table.parquet", targets)
        write_s = time.perf_counter() - t0
        total = time.perf_counter() - t_start
        vectors = np.load(next(iter(__import__("pathlib").Path(f"{tmp}/work").glob("embeddings-*.npy"))))
    tm = sn.timings_
    rows = [
        ["model load + fingerprint", load_s],
        [f"embed ({len(sn.first_rows_):,} distinct targets, {sn.encoder_info_['precision']})", tm["embed"]],
        ["index build (faiss flat) + BLEU n-gram counting", tm["index"]],
        ["kNN search (k=100, exact)", tm["knn"]],
        ["BLEU-4 re-rank (2.9M pairs) + keep 5", tm["rerank"]],
        ["assemble table", tm["assemble"]],
        ["write Parquet + manifest", write_s],
        ["**total**", total],
    ]
    print(markdown(["stage", "seconds"], rows))

    # same-run baselines
    sample = targets[: args.embed_sample]
    fp32 = SentenceEncoder(precision="fp32", num_threads=args.threads).load()
    auto = SentenceEncoder(num_threads=args.threads).load()
    t_fp32, t_auto = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        fp32.encode(sample)
        t_fp32.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        auto.encode(sample)
        t_auto.append(time.perf_counter() - t0)
    scale = len(sn.first_rows_) / len(sample)
    t0 = time.perf_counter()
    KnnIndex(vectors, backend="brute", num_threads=args.threads).search_rows(np.arange(vectors.shape[0]), 100)
    brute_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    pairs = [(targets[i], targets[j]) for i, j in rng.integers(0, len(targets), size=(args.bleu_sample, 2))]
    t0 = time.perf_counter()
    for h, r in pairs:
        sacrebleu.sentence_bleu(h, [r])
    bleu_pp = (time.perf_counter() - t0) / len(pairs) * len(targets) * 100
    rows = [
        ["embed", f"fp32 encoder ({len(sample)} sentences, extrapolated)", min(t_fp32) * scale,
         min(t_auto) * scale, f"{min(t_fp32) / min(t_auto):.2f}x"],
        ["kNN", "torch exact (brute) on the same vectors", brute_s, tm["knn"], f"{brute_s / tm['knn']:.2f}x"],
        ["re-rank", f"per-pair sacrebleu.sentence_bleu ({args.bleu_sample} pairs, extrapolated)", bleu_pp,
         tm["rerank"], f"{bleu_pp / tm['rerank']:.1f}x"],
    ]  # fmt: skip
    print()
    print(markdown(["stage", "baseline (same run)", "baseline s", "textsmooth s", "speed-up"], rows))
    return vectors


def knn_section(base_vectors: np.ndarray, args) -> None:
    from textsmooth.sequence import KnnIndex

    print("\n## kNN, synthetic targets (k=100)")
    rows = []
    for n in args.knn_sizes:
        vecs = _synthetic_vectors(base_vectors, n, seed=n)
        queries = np.random.default_rng(1).choice(n, size=min(1000, n), replace=False)
        t0 = time.perf_counter()
        flat = KnnIndex(vecs, backend="flat", num_threads=args.threads)
        exact_ids, _ = flat.search_rows(queries, 100)
        t_q = (time.perf_counter() - t0) / len(queries)
        if n <= args.flat_max:
            t0 = time.perf_counter()
            flat.search_rows(np.arange(n), 100)
            flat_s = time.perf_counter() - t0
            flat_note = "measured"
        else:
            flat_s = t_q * n
            flat_note = f"extrapolated from {len(queries)} queries"
        t0 = time.perf_counter()
        hnsw = KnnIndex(
            vecs,
            backend="hnsw",
            hnsw_m=args.hnsw_m,
            ef_construction=80,
            ef_search=128,
            num_threads=args.threads,
        )
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        approx_ids, _ = hnsw.search_rows(queries, 100)
        hq = (time.perf_counter() - t0) / len(queries)
        recall = np.mean([len(set(a) & set(b)) / 100 for a, b in zip(approx_ids, exact_ids, strict=True)])
        hnsw_s, hnsw_note = hq * n, f"extrapolated from {len(queries)} queries"
        if args.hnsw_full:
            t0 = time.perf_counter()
            hnsw.search_rows(np.arange(n), 100)
            hnsw_s, hnsw_note = time.perf_counter() - t0, "measured"
        rows.append([f"{n:,}", flat_s, flat_note, build_s, hnsw_s, hnsw_note, build_s + hnsw_s,
                     f"{recall:.3f}", f"{flat_s / (build_s + hnsw_s):.2f}x"])  # fmt: skip
        print(f"  n={n:,} done", file=sys.stderr)
    print(markdown(["targets", "flat exact s", "flat how", "HNSW build s", "HNSW search s (all targets)",
                    "HNSW search how", "HNSW total s", "HNSW recall@100", "HNSW vs flat"], rows))  # fmt: skip


def rerank_section(targets: list[str], args) -> None:
    import sacrebleu

    from textsmooth.text.bleu import BleuCorpus

    print("\n## BLEU-4 re-rank, synthetic targets (100 candidates each, tokenisation included)")
    rows = []
    rng = np.random.default_rng(0)
    pairs = [(targets[i], targets[j]) for i, j in rng.integers(0, len(targets), size=(args.bleu_sample, 2))]
    t0 = time.perf_counter()
    for h, r in pairs:
        sacrebleu.sentence_bleu(h, [r])
    pp_rate = len(pairs) / (time.perf_counter() - t0)
    for n in args.rerank_sizes:
        texts = _synthetic_texts(targets, n, seed=n)
        cands = np.random.default_rng(n).integers(0, n, size=(n, 100))
        t0 = time.perf_counter()
        corpus = BleuCorpus(texts, max_order=4)
        t1 = time.perf_counter()
        done = 0
        for lo in range(0, n, 50_000):  # blocks of targets, as the pipeline's shards do
            hi = min(lo + 50_000, n)
            corpus.score_candidates(np.arange(lo, hi), cands[lo:hi])
            done = hi
        t2 = time.perf_counter()
        n_pairs = done * 100
        rows.append([f"{n:,}", f"{n_pairs:,}", t1 - t0, t2 - t1, t2 - t0, f"{n_pairs / (t2 - t0):,.0f}",
                     n_pairs / pp_rate, f"{n_pairs / pp_rate / (t2 - t0):.0f}x"])  # fmt: skip
        print(f"  n={n:,} done", file=sys.stderr)
        del corpus, texts, cands
    print(markdown(["targets", "pairs", "tokenise+count s", "score s", "total s", "pairs/s",
                    "per-pair sacrebleu s (extrapolated)", "speed-up"], rows))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", nargs="+", default=["pipeline", "knn", "rerank"])
    parser.add_argument("--knn-sizes", type=int, nargs="+", default=[58_000, 116_000])
    parser.add_argument("--flat-max", type=int, default=60_000, help="largest n searched fully with flat")
    parser.add_argument("--rerank-sizes", type=int, nargs="+", default=[290_000, 1_000_000])
    parser.add_argument(
        "--hnsw-full", action="store_true", help="search all targets with HNSW (default: 1,000, extrapolated)"
    )
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: cores - 1)")
    parser.add_argument("--embed-sample", type=int, default=1000)
    parser.add_argument("--bleu-sample", type=int, default=2000)
    args = parser.parse_args()
    if not MULTI30K.exists():
        print(f"skipped: {MULTI30K} not found (Multi30k is expected in ../shared/data beside the repository)")
        return 0
    targets = _lines(MULTI30K / "task1" / "raw" / "train.en.gz")
    print("# Semantic neighbours benchmark")
    print(f"machine: {machine()}")
    vectors = None
    if "pipeline" in args.sections:
        vectors = pipeline(targets, args)
    if "knn" in args.sections:
        if vectors is None:
            from textsmooth.sequence import SentenceEncoder

            vectors = SentenceEncoder(num_threads=args.threads).encode(targets[:5000])
        knn_section(vectors, args)
    if "rerank" in args.sections:
        rerank_section(targets, args)
    print(f"\ncommand: {' '.join(['.venv/bin/python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
