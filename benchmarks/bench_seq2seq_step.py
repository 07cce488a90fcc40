"""Step time and peak memory of sequence-level smoothing against plain training (issue 11).

One training step (forward, backward, AdamW update) of the default Marian model (d_model 256, 3 + 3
layers, 4 heads, FFN 1024, 8k joint BPE vocabulary: about 7.6M parameters) on batches of Multi30k
DE->EN pairs, for:

* ``plain``: maximum likelihood (the baseline every ratio is against);
* ``token-ls``: token label smoothing 0.1 (our smoothed cross-entropy on the same logits);
* ``semantic m=1`` / ``semantic m=5``: loss (2) with ``k' = 5`` related targets per example, of which
  ``m`` are scored each step (the encoder runs once; the decoder scores ``B * (1 + m)`` sequences).

The related targets are token-swap copies of each target (the same lengths as the targets, so the cost
is that of semantic neighbours of similar length, without loading the sentence encoder).

Time: all variants in one process, interleaved (A B C D A B C D ...), each on the same batches, after a
warm-up; the table gives the median and min-max over the repeats, sentences per second, and the ratio of
medians to ``plain`` measured in the same run. Peak memory on the CPU: each variant in a fresh
subprocess, the peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) of a few steps
above the resident set after the model and the batches are built. With ``--device cuda``: the same
interleaved timing (the GPU synchronised at the end of each timed run), and the peak of
``torch.cuda.max_memory_allocated`` during each variant's steps above what was allocated before them.

Usage::

    python benchmarks/bench_seq2seq_step.py                     # batch 64, 1 thread, 7 repeats
    python benchmarks/bench_seq2seq_step.py --threads 2 --batch-size 128 --repeats 11
    python benchmarks/bench_seq2seq_step.py --quick             # tiny model, a smoke run
    python benchmarks/bench_seq2seq_step.py --device cuda --batch-size 128 --repeats 11   # on a GPU
    python benchmarks/bench_seq2seq_step.py --bf16              # also under bfloat16 autocast
    python benchmarks/bench_seq2seq_step.py --fused 1024        # also with the fused output projection

``--fused CHUNK`` adds ``plain fused``, ``semantic m=1 fused`` and ``semantic m=5 fused``: the same
losses with ``seq2seq_loss(output_chunk_size=CHUNK)``, the output projection fused with the loss so the
``(sequences, T, V)`` logits are never held.

``--output-vocab N`` widens the model's output layer (and its shared embeddings) to ``N`` tokens with
``resize_token_embeddings``, as a pretrained checkpoint's vocabulary would be (opus-mt-de-en: 58,101), the
targets still in the learned 8k vocabulary: the logits, and so the memory the fused projection saves,
are those of an ``N``-token model. ``--only NAMES`` (comma-separated) runs just those variants
(``plain`` is always run: the baseline)::

    python benchmarks/bench_seq2seq_step.py --fused 1024 --output-vocab 58101 --batch-size 32 \
        --batches 1 --repeats 1 --only "semantic m=5,semantic m=5 fused,plain fused"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date

from _seq_timing import interleave, peak_extra_mib

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VARIANTS = {
    "plain": {"alpha": 0.0, "label_smoothing": 0.0, "m": 0},
    "token-ls": {"alpha": 0.0, "label_smoothing": 0.1, "m": 0},
    "semantic m=1": {"alpha": 0.1, "label_smoothing": 0.0, "m": 1},
    "semantic m=5": {"alpha": 0.1, "label_smoothing": 0.0, "m": 5},
}
# --bf16: the same steps under bfloat16 autocast (Seq2SeqConfig(precision="bf16"))
BF16_VARIANTS = {
    "plain bf16": {"alpha": 0.0, "label_smoothing": 0.0, "m": 0, "bf16": True},
    "semantic m=1 bf16": {"alpha": 0.1, "label_smoothing": 0.0, "m": 1, "bf16": True},
    "semantic m=5 bf16": {"alpha": 0.1, "label_smoothing": 0.0, "m": 5, "bf16": True},
}
# --fused CHUNK: the same steps with the output projection fused with the loss (chunk set in main)
FUSED_VARIANTS = {
    "plain fused": {"alpha": 0.0, "label_smoothing": 0.0, "m": 0, "chunk": 1024},
    "semantic m=1 fused": {"alpha": 0.1, "label_smoothing": 0.0, "m": 1, "chunk": 1024},
    "semantic m=5 fused": {"alpha": 0.1, "label_smoothing": 0.0, "m": 5, "chunk": 1024},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--batches", type=int, default=4, help="batches per repeat (the same ones every time)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", type=int, default=4000, help="Multi30k pairs the vocabulary is learned on")
    p.add_argument("--quick", action="store_true", help="tiny model and few steps")
    p.add_argument("--device", default="cpu", help="cpu or cuda (a GPU: memory is measured in-process)")
    p.add_argument("--bf16", action="store_true", help="also time the steps under bfloat16 autocast")
    p.add_argument(
        "--fused", type=int, default=None, metavar="CHUNK", help="also time the fused output projection"
    )
    p.add_argument(
        "--output-vocab", type=int, default=None, metavar="N", help="widen the output layer to N tokens"
    )
    p.add_argument("--only", default=None, help="comma-separated variant names (plain is always run)")
    p.add_argument("--memory-only", default=None, help=argparse.SUPPRESS)  # subprocess: one variant
    return p.parse_args(argv)


def setup(args: argparse.Namespace):
    import numpy as np
    import torch

    from textsmooth.seq2seq import (
        Seq2SeqCollator,
        build_seq2seq_model,
        load_multi30k_pair,
        train_subword_vocab,
    )
    from textsmooth.seq2seq.model import ModelShape
    from textsmooth.seq2seq.related import RelatedIds
    from textsmooth.sequence import TokenSwapTargets

    torch.set_num_threads(args.threads)
    corpus = load_multi30k_pair("train", "de", "en").subset(args.pairs)
    vocab = train_subword_vocab(corpus.sources, corpus.targets, vocab_size=1000 if args.quick else 8000)
    shape = (
        ModelShape(d_model=64, encoder_layers=1, decoder_layers=1, ffn_dim=128)
        if args.quick
        else ModelShape()
    )
    model = build_seq2seq_model(vocab, shape, seed=0)
    if args.output_vocab is not None:
        if args.output_vocab < vocab.target_vocab_size:
            raise SystemExit(f"--output-vocab must be >= the vocabulary's {vocab.target_vocab_size} tokens")
        model.resize_token_embeddings(args.output_vocab)
    model = model.to(args.device)
    n = args.batch_size * args.batches
    sources = vocab.encode_sources(corpus.sources[:n], 64)
    targets = vocab.encode_targets(corpus.targets[:n], 64)
    swaps = TokenSwapTargets(5, seed=0).fit(corpus.targets[:n]).table_
    starts = np.concatenate([[0], np.cumsum(np.bincount(swaps.target_id, minlength=n))])
    related = RelatedIds(starts=starts, sequences=vocab.encode_targets(swaps.neighbor_text, 64))
    batches = {}
    for name, v in VARIANTS.items():
        collator = Seq2SeqCollator(
            vocab.pad_id, related=related if v["m"] else None, related_per_step=v["m"] or None
        )
        batches[name] = [
            {
                k: v.to(args.device)
                for k, v in collator(
                    [
                        {"index": i, "input_ids": sources[i], "labels": targets[i]}
                        for i in range(b * args.batch_size, (b + 1) * args.batch_size)
                    ]
                ).items()
            }
            for b in range(args.batches)
        ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    return model, optimizer, batches


def step(model, optimizer, batch, variant) -> None:
    import torch

    from textsmooth.seq2seq import seq2seq_loss

    device = next(model.parameters()).device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bool(variant.get("bf16"))):
        out = seq2seq_loss(
            model,
            batch,
            alpha=variant["alpha"],
            label_smoothing=variant["label_smoothing"],
            output_chunk_size=variant.get("chunk"),
        )
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    optimizer.step()


def peak_memory(args: argparse.Namespace, name: str) -> float:
    """MiB above the resident set after setup, in a fresh process."""
    cmd = [
        sys.executable,
        __file__,
        "--memory-only",
        name,
        "--batch-size",
        str(args.batch_size),
        "--batches",
        "2",
        "--threads",
        str(args.threads),
        "--pairs",
        str(args.pairs),
    ]
    if args.quick:
        cmd.append("--quick")
    if args.bf16:
        cmd.append("--bf16")
    if args.fused:
        cmd += ["--fused", str(args.fused)]
    if args.output_vocab:
        cmd += ["--output-vocab", str(args.output_vocab)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["mib"])


def memory_only(args: argparse.Namespace) -> None:
    model, optimizer, batches = setup(args)
    variant = VARIANTS[args.memory_only]
    step(model, optimizer, batches[args.memory_only][0], variant)  # optimizer state allocated

    def steps() -> None:
        for batch in batches[args.memory_only]:
            step(model, optimizer, batch, variant)

    print(json.dumps({"mib": peak_extra_mib(steps)}))


def gpu_peak_memory(steps, name: str) -> float:
    """MiB of GPU memory above what was allocated before ``steps(name)``, at its peak."""
    import torch

    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    steps(name)
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(torch.device(device))} (torch {torch.__version__})"
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.bf16:
        VARIANTS.update(BF16_VARIANTS)
    if args.fused:
        VARIANTS.update({name: {**v, "chunk": args.fused} for name, v in FUSED_VARIANTS.items()})
    if args.only:
        wanted = {"plain", *(name.strip() for name in args.only.split(","))}
        unknown = sorted(wanted - set(VARIANTS))
        if unknown:
            raise SystemExit(f"--only: unknown variant(s) {unknown}; known: {sorted(VARIANTS)}")
        for name in set(VARIANTS) - wanted:
            del VARIANTS[name]
    if args.memory_only:
        memory_only(args)
        return
    if args.quick:
        args.repeats, args.batches, args.pairs = 3, 2, 800
    model, optimizer, batches = setup(args)
    for name, variant in VARIANTS.items():  # warm-up
        step(model, optimizer, batches[name][0], variant)

    cuda = args.device.startswith("cuda")

    def steps(name: str) -> None:
        for batch in batches[name]:
            step(model, optimizer, batch, VARIANTS[name])
        if cuda:
            import torch

            torch.cuda.synchronize()

    runs = interleave({name: (lambda n=name: steps(n)) for name in VARIANTS}, args.repeats)
    times = {name: [t / args.batches for t in ts] for name, ts in runs.items()}
    memory = {name: gpu_peak_memory(steps, name) if cuda else peak_memory(args, name) for name in VARIANTS}
    base_t, base_m = statistics.median(times["plain"]), memory["plain"]
    print(
        f"bench_seq2seq_step {date.today()} · {device_name(args.device)} · torch threads "
        f"{args.threads} · batch {args.batch_size} · {args.batches} batches x {args.repeats} repeats"
        + (f" · output layer {args.output_vocab:,} tokens" if args.output_vocab else "")
        + (" · QUICK" if args.quick else "")
    )
    what = "peak extra GPU MiB" if cuda else "peak extra MiB"
    print(f"| variant | step median (min-max) | sentences/s | time vs plain | {what} | memory vs plain |")
    print("|---|---|---|---|---|---|")
    for name in VARIANTS:
        t = statistics.median(times[name])
        print(
            f"| {name} | {t * 1000:.0f} ms ({min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f}) | "
            f"{args.batch_size / t:.0f} | {t / base_t:.2f}x | {memory[name]:.0f} | "
            f"{memory[name] / base_m:.2f}x |"
        )


if __name__ == "__main__":
    main()
