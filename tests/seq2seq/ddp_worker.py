"""One SGD step of ``SemanticSeq2SeqTrainer`` on 8 Multi30k sample pairs, for ``test_hf_ddp.py``.

    python ddp_worker.py OUT BATCH_SIZE                                  # one process, the whole batch
    python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py OUT 4   # DDP over gloo, 4 per process
    python ddp_worker.py OUT 8 16                # the trainer's output_chunk_size 16 (fused projection)

Everything is built the same way in every process (the sample pairs, a 300-token BPE vocabulary, a tiny
Marian model of seed 0, related targets from a seeded table, all of them scored: no sampling, no
dropout), so the only difference between the runs is how the batch is split. Each process writes its
weights after the step and its reported loss to ``OUT.<rank>`` (:func:`ddp_helpers.save_step`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # conftest's shape, test_hf's table and arguments; ddp_helpers


def main(out: str, batch_size: int, chunk: int | None = None) -> None:
    import torch
    from test_hf import ALPHA, EPS, MAX_LEN, related_table, training_args

    from conftest import N_PAIRS, SAMPLE, TINY_SHAPE
    from ddp_helpers import save_step
    from textsmooth.seq2seq.data import read_parallel
    from textsmooth.seq2seq.hf import SemanticSeq2SeqTrainer, seq2seq_collator, seq2seq_dataset
    from textsmooth.seq2seq.model import build_seq2seq_model
    from textsmooth.seq2seq.vocab import train_subword_vocab

    torch.set_num_threads(1)
    pairs = read_parallel(SAMPLE / "train.de", SAMPLE / "train.en").subset(N_PAIRS)
    vocab = train_subword_vocab(pairs.sources, pairs.targets, kind="bpe", vocab_size=300, min_frequency=1)
    corpus = pairs.subset(8)
    dataset = seq2seq_dataset(corpus, vocab, max_length=MAX_LEN)
    collator = seq2seq_collator(vocab, corpus=corpus, table=related_table(len(corpus)), max_length=MAX_LEN)
    model = build_seq2seq_model(vocab, TINY_SHAPE, seed=0)
    trainer = SemanticSeq2SeqTrainer(
        model=model,
        args=training_args(Path(out).parent / f"run-{batch_size}", per_device_train_batch_size=batch_size),
        train_dataset=dataset,
        data_collator=collator,
        alpha=ALPHA,
        label_smoothing=EPS,
        output_chunk_size=chunk,
    )
    loss = trainer.train().training_loss  # this process's: its share of the batch's loss
    save_step(
        out, {name: p.detach().clone() for name, p in model.named_parameters()}, loss=torch.tensor(loss)
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
