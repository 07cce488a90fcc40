"""Benchmark: the semantic-neighbours pipeline (embed -> kNN k=100 -> BLEU-4 re-rank -> keep 5 -> write).

Sections (``--sections``):

- ``pipeline``: the 29,000 Multi30k English training targets, end to end through
  ``SemanticNeighbors`` (default MiniLM, mean pooling, precision ``fp32``; fresh cache), time per
  stage. Same-run baselines: the encoder in bf16 on a sample (extrapolated), the exact torch
  (``brute``) kNN on the same vectors, per-pair ``sacrebleu.sentence_bleu`` on a sample (extrapolated).
- ``invariance``: do vectors and neighbour tables depend on the batch size? ``--inv-n`` Multi30k
  targets encoded with batch sizes ``--inv-batches``, by the previous encoder (character-length order,
  padded batches) and the current one (same-token-length batches, no padding), fp32, 1 thread, plus the
  current one with 2 threads and explicit bf16 on ``--inv-bf16-n`` targets; differences against batch
  size 1 (vectors: max |delta|, rows that differ; tables k=50, k'=5, BLEU-4: rows whose k-list order,
  k-list set or k'-list differ, and whether every column is identical).
- ``embed-speed``: the previous (padded) and the current (same-length) fp32 batching at batch size 64,
  interleaved, on ``--speed-n`` Multi30k targets: sentences per second.
- ``mincos``: ``--mincos-n`` Multi30k targets, k=100, k'=5: the share of kept targets with cosine < 0.3
  without re-ranking, with BLEU-4 re-ranking, and with re-ranking after ``min_cosine=0.3``.
- ``knn``: synthetic targets (``--knn-sizes``): faiss flat (exact) vs HNSW, with HNSW recall@100
  measured against the exact result on 1,000 queries. Vectors: MiniLM vectors of Multi30k sentences
  plus Gaussian noise, re-normalised (so neighbourhoods look like real ones).
- ``rerank``: synthetic targets (``--rerank-sizes``): BLEU-4 of 100 candidates per target, including
  tokenisation. Texts: Multi30k sentences with random word replacements (distinct sentences).

Run: ``.venv/bin/python benchmarks/bench_neighbors.py [--sections pipeline knn rerank invariance mincos]``
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

from _seq_timing import MULTI30K, interleave, machine, markdown, stat


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
        ["duplicate grouping", tm["duplicates"]],
        ["index build (faiss flat)", tm["index"]],
        ["BLEU n-gram counting", tm["bleu_corpus"]],
        ["kNN search (k=100, exact)", tm["knn"]],
        ["BLEU-4 re-rank (2.9M pairs) + keep 5", tm["rerank"]],
        ["assemble table", tm["assemble"]],
        ["write Parquet + manifest", write_s],
        ["**total**", total],
    ]
    print(markdown(["stage", "seconds"], rows))

    # same-run baselines
    sample = targets[: args.embed_sample]
    bf16 = SentenceEncoder(precision="bf16", num_threads=args.threads).load()
    fp32 = SentenceEncoder(precision="fp32", num_threads=args.threads).load()
    t_bf16, t_fp32 = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        bf16.encode(sample)
        t_bf16.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fp32.encode(sample)
        t_fp32.append(time.perf_counter() - t0)
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
        ["embed", f"bf16 encoder ({len(sample)} sentences, extrapolated; not batch invariant)",
         min(t_bf16) * scale, min(t_fp32) * scale, f"{min(t_bf16) / min(t_fp32):.2f}x"],
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


def _padded_encode(encoder, texts: list[str], batch_size: int) -> np.ndarray:
    """The previous encoder's batching: sorted by character length, padded batches, any size."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), encoder.dim_), dtype=np.float32)
    for lo in range(0, len(texts), batch_size):
        idx = order[lo : lo + batch_size]
        out[idx] = encoder._forward([texts[i] for i in idx])
    return out


def _tables(targets: list[str], vectors: np.ndarray):
    from textsmooth.sequence import SemanticNeighbors

    k_lists = SemanticNeighbors(k=50, keep=50, bleu_order=None).fit(targets, embeddings=vectors).table_
    kept = SemanticNeighbors(k=50, keep=5, bleu_order=4).fit(targets, embeddings=vectors).table_
    return k_lists, kept


def _same_table(a, b) -> bool:
    cols = ("target_id", "rank", "neighbor_id", "cosine", "bleu")
    return all(np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True) for c in cols)


def invariance_section(targets: list[str], args) -> None:
    import torch

    from textsmooth.sequence import SentenceEncoder

    texts = targets[: args.inv_n]
    print(f"\n## Batch invariance: {len(texts):,} Multi30k targets, tables k=50, k'=5, BLEU-4")
    rows = []

    def compare(label: str, runs: dict[int, np.ndarray], with_tables: bool = True) -> None:
        ref_b = min(runs)
        ref = runs[ref_b]
        ref_tables = _tables(texts[: ref.shape[0]], ref) if with_tables else None
        for b, vec in runs.items():
            if b == ref_b:
                continue
            delta = np.abs(vec - ref)
            row = [label, f"{b} vs {ref_b}", f"{delta.max():.2g}", f"{int((delta.max(1) > 0).sum()):,}"]
            if ref_tables is not None:
                k_lists, kept = _tables(texts[: vec.shape[0]], vec)
                ref_k, ref_kept = (t.as_lists() for t in ref_tables)
                new_k, new_kept = k_lists.as_lists(), kept.as_lists()
                row += [
                    sum(x != y for x, y in zip(new_k, ref_k, strict=True)),
                    sum(set(x) != set(y) for x, y in zip(new_k, ref_k, strict=True)),
                    sum(x != y for x, y in zip(new_kept, ref_kept, strict=True)),
                    "yes" if _same_table(kept, ref_tables[1]) else "no",
                ]
            else:
                row += ["", "", "", ""]
            rows.append(row)
        print(f"  {label} done", file=sys.stderr)

    torch.set_num_threads(1)
    fp32 = SentenceEncoder(precision="fp32", num_threads=1).load()
    compare("fp32, previous encoder (padded batches)",
            {b: _padded_encode(fp32, texts, b) for b in args.inv_batches})  # fmt: skip
    runs = {}
    for b in args.inv_batches:
        runs[b] = SentenceEncoder(precision="fp32", batch_size=b, num_threads=1).encode(texts)
    compare("fp32, current encoder (same-length batches), 1 thread", runs)
    two = {b: SentenceEncoder(precision="fp32", batch_size=b, num_threads=2).encode(texts)
           for b in args.inv_batches}  # fmt: skip
    two[0] = runs[min(runs)]  # reference: 1 thread
    compare("fp32, current encoder, 2 threads (vs 1 thread, batch 1)", two)
    small = texts[: args.inv_bf16_n]
    bf16 = {b: SentenceEncoder(precision="bf16", batch_size=b, num_threads=1).encode(small)
            for b in args.inv_batches}  # fmt: skip
    compare(f"bf16 (explicit), current encoder, {len(small)} targets", bf16, with_tables=False)
    vec32 = runs[min(runs)][: len(small)]
    print(f"  bf16 vs fp32 ({len(small)} targets): max |delta| {np.abs(bf16[min(bf16)] - vec32).max():.2g}, "
          f"min cosine {float((bf16[min(bf16)] * vec32).sum(1).min()):.6f}")  # fmt: skip
    print(markdown(["encoder", "batch size", "max abs delta", "rows that differ", "k-list order differs",
                    "k-list set differs", "k'-list differs", "table identical"], rows))  # fmt: skip


def embed_speed_section(targets: list[str], args) -> None:
    from textsmooth.sequence import SentenceEncoder
    from textsmooth.sequence._threads import thread_limit

    texts = targets[: args.speed_n]
    enc = SentenceEncoder(precision="fp32", batch_size=64, num_threads=args.threads).load()
    variants = {
        "previous: padded batches": lambda: _padded_encode(enc, texts, 64),
        "current: same-length batches": lambda: enc.encode(texts),
    }
    with thread_limit(args.threads, faiss_=False):
        times = interleave(variants, repeats=args.speed_repeats)
    print(f"\n## fp32 encoder speed: {len(texts):,} targets, batch size 64, {args.speed_repeats} repeats")
    rows = []
    for name, values in times.items():
        med, lo, hi = stat(values)
        rows.append([name, f"{len(texts) / med:,.0f}", f"{med:.1f}", f"{lo:.1f}-{hi:.1f}"])
    print(markdown(["batching", "sentences/s (median)", "seconds (median)", "min-max s"], rows))


def mincos_section(targets: list[str], args) -> None:
    from textsmooth.sequence import SemanticNeighbors, SentenceEncoder

    texts = targets[: args.mincos_n]
    print(f"\n## min_cosine: {len(texts):,} Multi30k targets, k=100, k'=5, MiniLM fp32")
    vectors = SentenceEncoder(precision="fp32", num_threads=args.threads).encode(texts)
    rows = []
    for label, order, floor in (("cosine only (no re-ranking)", None, None), ("BLEU-4 re-ranking", 4, None),
                                ("BLEU-4 re-ranking, min_cosine 0.3", 4, 0.3)):  # fmt: skip
        sn = SemanticNeighbors(k=100, keep=5, bleu_order=order, min_cosine=floor).fit(
            texts, embeddings=vectors
        )
        tb = sn.table_
        below, without = sn.short_rows_
        mean_bleu = "" if order is None else f"{np.mean(tb.bleu):.1f}"
        weak = f"{100 * np.mean(tb.cosine < 0.3):.1f}%"
        rows.append([label, f"{len(tb):,}", weak, f"{np.mean(tb.cosine):.3f}", mean_bleu, f"{below:,}",
                     f"{without:,}"])  # fmt: skip
    print(markdown(["variant", "kept pairs", "kept with cosine < 0.3", "mean cosine", "mean BLEU-4",
                    "targets with < 5 kept", "targets with none"], rows))  # fmt: skip


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
    parser.add_argument("--inv-n", type=int, default=3000)
    parser.add_argument("--inv-batches", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--inv-bf16-n", type=int, default=300)
    parser.add_argument("--mincos-n", type=int, default=2000)
    parser.add_argument("--speed-n", type=int, default=1000)
    parser.add_argument("--speed-repeats", type=int, default=3)
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
    if "invariance" in args.sections:
        invariance_section(targets, args)
    if "embed-speed" in args.sections:
        embed_speed_section(targets, args)
    if "mincos" in args.sections:
        mincos_section(targets, args)
    print(f"\ncommand: {' '.join(['.venv/bin/python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
