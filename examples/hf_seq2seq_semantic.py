"""Semantic label smoothing for translation through the Hugging Face ``Seq2SeqTrainer``, offline, on CPU.

Trains a tiny randomly initialised Marian model on a few hundred Multi30k German -> English pairs with
loss (2) of the semantic-smoothing paper (``SemanticSeq2SeqTrainer``): related targets found by
``SemanticNeighbors`` (the offline all-MiniLM-L6-v2 embeds the English targets, k nearest neighbours,
re-ranked by sentence BLEU-4, k' kept), then translates three validation sentences with
``predict_with_generate``. A demonstration of the integration, not an experiment: a model this small
trained this briefly translates badly (the recipes of ``textsmooth experiment run`` measure the method).

    python examples/hf_seq2seq_semantic.py                 # 400 pairs, 150 steps, alpha 0.1, k' 3
    python examples/hf_seq2seq_semantic.py --alpha 0       # the same run without the related targets
    python examples/hf_seq2seq_semantic.py --threads 1     # on a machine that other jobs keep busy

Runs from any folder and downloads nothing (the Multi30k files are found as
``textsmooth.sequence.multi30k_root`` finds them).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=400, help="training pairs (the first N of 29,000)")
    parser.add_argument("--val", type=int, default=100, help="validation pairs scored (of 1,014)")
    parser.add_argument("--steps", type=int, default=150, help="optimiser steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (AdamW, linear decay)")
    parser.add_argument("--alpha", type=float, default=0.1, help="weight of the related targets in loss (2)")
    parser.add_argument("--keep", type=int, default=3, help="related targets per target, k'")
    parser.add_argument("--k", type=int, default=20, help="neighbours retrieved by cosine before re-ranking")
    parser.add_argument(
        "--per-step", type=int, default=2, help="related targets sampled per example and step"
    )
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--max-length", type=int, default=48, help="subword tokens per sentence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import sacrebleu
    from transformers import Seq2SeqTrainingArguments

    from textsmooth.seq2seq.data import load_multi30k_pair
    from textsmooth.seq2seq.hf import SemanticSeq2SeqTrainer, seq2seq_collator, seq2seq_dataset
    from textsmooth.seq2seq.model import ModelShape, build_seq2seq_model, count_parameters
    from textsmooth.seq2seq.vocab import train_subword_vocab
    from textsmooth.sequence import SemanticNeighbors

    start = time.perf_counter()
    train = load_multi30k_pair("train", "de", "en").subset(args.pairs)
    val = load_multi30k_pair("val", "de", "en").subset(args.val)
    vocab = train_subword_vocab(train.sources, train.targets, vocab_size=args.vocab_size, min_frequency=1)

    # related targets of every training target: MiniLM embeds the English targets, BLEU-4 re-ranks
    neighbors = SemanticNeighbors(k=args.k, keep=args.keep, bleu_order=4, num_threads=args.threads or None)
    table = neighbors.fit(train.targets).table_
    print(f"target: {train.targets[0]}")
    for text in table.related_texts(train.targets)[0]:
        print(f"  related: {text}")
    found = time.perf_counter()

    shape = ModelShape(
        d_model=64, encoder_layers=2, decoder_layers=2, heads=4, ffn_dim=128, dropout=0.1, max_positions=64
    )
    model = build_seq2seq_model(vocab, shape, seed=args.seed)
    collator = seq2seq_collator(
        vocab,
        corpus=train,
        table=table,
        max_length=args.max_length,
        related_per_step=args.per_step,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as out:
        training_args = Seq2SeqTrainingArguments(
            output_dir=out,
            max_steps=args.steps,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64,
            learning_rate=args.lr,
            warmup_steps=max(args.steps // 10, 1),
            lr_scheduler_type="linear",
            predict_with_generate=True,
            generation_max_length=args.max_length,
            generation_num_beams=4,
            logging_steps=max(args.steps // 5, 1),
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            disable_tqdm=True,
            seed=args.seed,
        )
        trainer = SemanticSeq2SeqTrainer(
            model=model,
            args=training_args,
            train_dataset=seq2seq_dataset(train, vocab, max_length=args.max_length),
            data_collator=collator,
            alpha=args.alpha,
        )
        result = trainer.train()
        trained = time.perf_counter()
        prediction = trainer.predict(seq2seq_dataset(val, vocab, max_length=args.max_length))
    hypotheses = vocab.decode_targets(prediction.predictions.tolist())
    bleu = sacrebleu.corpus_bleu(hypotheses, [val.targets]).score
    done = time.perf_counter()

    print(
        f"\nMarian d_model {shape.d_model}, {shape.encoder_layers}+{shape.decoder_layers} layers, "
        f"{count_parameters(model):,} parameters, vocabulary {vocab.target_vocab_size}; {args.pairs} DE->EN "
        f"pairs, {args.steps} steps of {args.batch_size}, alpha {args.alpha}, k' {args.keep}, "
        f"{args.per_step} related per example and step"
    )
    print(f"  training loss (2), mean over the run: {result.training_loss:.3f}")
    print(
        f"  validation ({args.val} pairs): eval_loss {prediction.metrics['test_loss']:.3f} "
        f"(token cross-entropy), BLEU {bleu:.2f} (beam 4)"
    )
    for source, hypothesis, reference in list(zip(val.sources, hypotheses, val.targets, strict=True))[:3]:
        print(f"\n  source:     {source}\n  translated: {hypothesis}\n  reference:  {reference}")
    print(
        f"\ntime: neighbours {found - start:.1f} s (with the vocabulary), training {trained - found:.1f} s, "
        f"prediction {done - trained:.1f} s, total {done - start:.1f} s"
    )


if __name__ == "__main__":
    main()
