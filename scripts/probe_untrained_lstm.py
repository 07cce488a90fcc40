"""Probe an untrained LSTM encoder: the floor the autoencoder study's trained encoders should clear.

Usage: python scripts/probe_untrained_lstm.py RUN_DIR [--seed 0]

Builds the study's vocabulary (the same sentences and settings as RUN_DIR's recipe, first method row) and
an LSTM encoder-decoder of the recipe's size, initialised with ``--seed`` and never trained, then probes
its sentence vectors on the recipe's tasks exactly as the study does. Prints one line per task.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from textsmooth.experiments.autoencoder import _probe_data, load_autoencoder_data, load_autoencoder_recipe
    from textsmooth.metrics.probing import probe_pairs
    from textsmooth.seq2seq.data import ParallelCorpus
    from textsmooth.seq2seq.encode import encode_sentences
    from textsmooth.seq2seq.lstm import build_lstm_model
    from textsmooth.seq2seq.trainer import _prepare_vocab

    recipe = load_autoencoder_recipe(args.run_dir / "recipe.yaml")
    data = load_autoencoder_data(recipe)
    config = recipe.config(recipe.methods[0], args.seed)
    vocab = _prepare_vocab(ParallelCorpus(data.train, data.train), config, None)
    model = build_lstm_model(
        vocab, hidden_size=config.d_model, embedding_size=config.d_model, num_layers=config.encoder_layers,
        dropout=config.dropout, seed=args.seed,
    )  # fmt: skip

    def encode(texts: list[str]):
        return encode_sentences(model, vocab, texts, max_length=config.max_length)

    for task in recipe.probe_option("tasks"):
        train, dev, test = _probe_data(recipe, task)
        result = probe_pairs(encode, train, test, dev=dev, folds=int(recipe.probe_option("folds")),
                             seed=args.seed, num_threads=1)  # fmt: skip
        f1 = "" if result.f1 is None else f", F1 {100 * result.f1:.1f}"
        score = f"accuracy {100 * result.accuracy:.1f}{f1}, C {result.best_c}"
        print(f"untrained LSTM (seed {args.seed}) {task}: {score}")


if __name__ == "__main__":
    main()
