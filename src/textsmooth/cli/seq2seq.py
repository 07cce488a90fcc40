"""``textsmooth seq2seq train`` and ``textsmooth translate``: train a translation model with sequence-level
smoothing, and translate a file with a saved one."""

from __future__ import annotations

from pathlib import Path

import typer

from textsmooth.cli._common import check_writable, console, friendly_errors, literal_enum
from textsmooth.errors import ConfigError
from textsmooth.seq2seq.config import Architecture, Method
from textsmooth.seq2seq.vocab import SubwordKind

Seq2SeqMethod = literal_enum("Seq2SeqMethod", Method)
Seq2SeqArchitecture = literal_enum("Seq2SeqArchitecture", Architecture)
VocabKind = literal_enum("VocabKind", SubwordKind)

TRAIN_HELP = (
    "Train a translation model (a compact Marian Transformer, or an LSTM encoder-decoder with "
    "--architecture lstm, with a vocabulary learned on the training split) with sequence-level label "
    "smoothing, loss (2) of the semantic label smoothing paper, or a baseline. Data: a Multi30k pair "
    "(--pair de-en), or aligned files (--train-src/--train-tgt, --val-src/--val-tgt, optionally "
    "--test-src/--test-tgt). Methods semantic, semantic-no-rerank and "
    "token-swap read their related targets from a neighbour table of the training targets (--table, "
    "built with `textsmooth neighbors`). Resumable: run the same command again after an interruption. "
    "Writes OUT/model (loads with from_pretrained; translate with `textsmooth translate`), "
    "OUT/metrics.jsonl and OUT/test.hyp.txt.\n\n"
    "Examples:\n\n"
    "  textsmooth seq2seq train --pair de-en --method token-ls -o runs/de-en-ls\n\n"
    "  textsmooth neighbors train.en -o nb.parquet --k 100 --keep 5 --with-text\n\n"
    "  textsmooth seq2seq train --train-src train.de --train-tgt train.en --val-src val.de --val-tgt val.en "
    "--method semantic --table nb.parquet --alpha 0.1 -o runs/semantic"
)


def _with_option(exc: ConfigError) -> ConfigError:
    """``exc`` naming the command-line option of its config field (``--layers`` for ``encoder_layers``)."""
    option = f"--{(exc.column or '').replace('_', '-')}" if exc.column else None
    option = {"--encoder-layers": "--layers", "--num-threads": "--threads", "--model-path": "--model"}.get(
        option, option
    )
    return ConfigError(exc.message, option=option, hint=exc.hint, path=exc.path)


def _load_data(
    pair: str | None,
    files: dict[str, tuple[Path | None, Path | None]],
    max_train: int | None,
    max_val: int | None,
) -> tuple:
    from textsmooth.seq2seq.data import load_multi30k_pair, read_parallel

    given = {split: paths for split, paths in files.items() if any(p is not None for p in paths)}
    if (pair is None) == (not given) or (pair is not None and given):
        raise ConfigError(
            "give either --pair (Multi30k) or the data files, not both",
            option="--pair",
            hint="e.g. --pair de-en, or --train-src/--train-tgt/--val-src/--val-tgt",
        )
    if pair is not None:
        parts = pair.split("-")
        if len(parts) != 2:
            raise ConfigError(f"{pair!r} is not SOURCE-TARGET", option="--pair", hint="e.g. de-en")
        splits = [load_multi30k_pair(s, parts[0], parts[1]) for s in ("train", "val", "test")]
    else:
        splits = []
        for split in ("train", "val", "test"):
            src, tgt = files[split]
            if (src is None) != (tgt is None) or (split != "test" and src is None):
                option = f"--{split}-src" if src is None else f"--{split}-tgt"
                raise ConfigError(f"{split} needs both a source and a target file", option=option)
            splits.append(None if src is None else read_parallel(src, tgt))  # type: ignore[arg-type]
    train, val, test = splits
    for option, value in (("--max-train", max_train), ("--max-val", max_val)):
        if value is not None and value < 1:
            raise ConfigError(f"must be >= 1, got {value}", option=option)
    if max_train is not None:
        train = train.subset(max_train)
    if max_val is not None:
        val = val.subset(max_val)
    return train, val, test


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Sequence-to-sequence training with sequence-level (semantic) label smoothing.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="seq2seq")

    @group.command(help=TRAIN_HELP)
    @friendly_errors
    def train(
        output: Path = typer.Option(..., "-o", "--output", help="Run folder (checkpoint, model, metrics)."),
        pair: str | None = typer.Option(None, "--pair", help="Multi30k language pair, e.g. de-en."),
        train_src: Path | None = typer.Option(None, "--train-src", help="Training sources, one per line."),
        train_tgt: Path | None = typer.Option(None, "--train-tgt", help="Training targets, aligned."),
        val_src: Path | None = typer.Option(None, "--val-src", help="Validation sources (model selection)."),
        val_tgt: Path | None = typer.Option(None, "--val-tgt", help="Validation targets."),
        test_src: Path | None = typer.Option(None, "--test-src", help="Test sources (scored at the end)."),
        test_tgt: Path | None = typer.Option(None, "--test-tgt", help="Test targets."),
        max_train: int | None = typer.Option(None, "--max-train", help="Use the first N training pairs."),
        max_val: int | None = typer.Option(None, "--max-val", help="Use the first N validation pairs."),
        method: Seq2SeqMethod = typer.Option("none", "--method", help="Training method."),
        table: Path | None = typer.Option(None, "--table", help="Neighbour table of the training targets."),
        alpha: float = typer.Option(0.1, "--alpha", help="Weight of the related targets in loss (2)."),
        label_smoothing: float | None = typer.Option(
            None, "--label-smoothing", help="Token LS epsilon (default 0.1 for token-ls, else 0)."
        ),
        related_k: int = typer.Option(5, "--related-k", help="Related targets per target (k')."),
        related_per_step: int | None = typer.Option(
            None, "--related-per-step", help="Related targets sampled per example and step (m; default all)."
        ),
        similarity_top_n: int = typer.Option(
            5, "--similarity-top-n", help="Word-similarity methods: similar tokens per row, itself included."
        ),
        epochs: int = typer.Option(10, "--epochs", help="Most epochs (early stopping on val BLEU)."),
        batch_size: int = typer.Option(64, "--batch-size", help="Sentence pairs per step."),
        lr: float = typer.Option(5e-4, "--lr", help="Peak learning rate (AdamW)."),
        warmup_steps: int = typer.Option(1000, "--warmup-steps", help="Linear warm-up steps."),
        vocab_size: int = typer.Option(8000, "--vocab-size", help="Subword vocabulary size."),
        vocab_kind: VocabKind = typer.Option(
            "bpe", "--vocab-kind", help="Vocabulary learned on the training split (tokenizers library)."
        ),
        joint_vocab: bool = typer.Option(
            True, "--joint-vocab/--separate-vocab", help="One vocabulary for both sides, or one per side."
        ),
        max_length: int = typer.Option(64, "--max-length", help="Subword tokens per sentence."),
        model: Path | None = typer.Option(
            None, "--model", help="Fine-tune this local Hugging Face seq2seq checkpoint (with its tokenizer)."
        ),
        source_lang: str | None = typer.Option(
            None,
            "--source-lang",
            help="Source language code of a multilingual --model (mBART-50, M2M100, NLLB: e.g. deu_Latn).",
        ),
        target_lang: str | None = typer.Option(
            None, "--target-lang", help="Target language code of a multilingual --model (e.g. eng_Latn)."
        ),
        architecture: Seq2SeqArchitecture = typer.Option(
            "transformer", "--architecture", help="A Marian Transformer, or an LSTM encoder-decoder."
        ),
        d_model: int = typer.Option(256, "--d-model", help="Hidden size (LSTM: units)."),
        layers: int = typer.Option(3, "--layers", help="Encoder and decoder layers (each)."),
        heads: int = typer.Option(4, "--heads", help="Attention heads (must divide --d-model)."),
        ffn_dim: int = typer.Option(1024, "--ffn-dim", help="Transformer feed-forward size."),
        dropout: float = typer.Option(0.1, "--dropout", help="Dropout probability."),
        beam_size: int = typer.Option(5, "--beam-size", help="Beam size for the test set."),
        length_penalty: float = typer.Option(
            1.0, "--length-penalty", help="Beam search length penalty (generate's length_penalty)."
        ),
        val_beam_size: int = typer.Option(
            1, "--val-beam-size", help="Beam size for the per-epoch validation BLEU (1: greedy)."
        ),
        patience: int = typer.Option(3, "--patience", help="Epochs without a val BLEU gain before stopping."),
        seed: int = typer.Option(
            0, "--seed", help="Seed of the initial weights, the shuffling and the sampled related targets."
        ),
        threads: int | None = typer.Option(None, "--threads", help="torch CPU threads."),
        checkpoint_every: int | None = typer.Option(
            None, "--checkpoint-every", help="Also checkpoint every N steps (default: every epoch)."
        ),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
        precision: str = typer.Option(
            "fp32", "--precision", help="fp32, or bf16: training forward passes under bfloat16 autocast."
        ),
        output_chunk_size: int | None = typer.Option(
            None,
            "--output-chunk-size",
            help="Fuse the output layer with the loss, N decoder positions at a time (less memory with a "
            "large vocabulary or m; Transformer models). Default: the model's logits.",
        ),
    ) -> None:
        from textsmooth.errors import TextsmoothError
        from textsmooth.io.atomic import atomic_write_text
        from textsmooth.seq2seq.config import Seq2SeqConfig
        from textsmooth.seq2seq.trainer import train_seq2seq
        from textsmooth.training.saved import check_device

        try:
            config = Seq2SeqConfig(
                method=str(method.value), alpha=alpha, label_smoothing=label_smoothing, related_k=related_k,
                related_per_step=related_per_step, epochs=epochs, batch_size=batch_size, lr=lr,
                warmup_steps=warmup_steps, vocab_size=vocab_size, vocab_kind=str(vocab_kind.value),
                joint_vocab=joint_vocab, max_length=max_length, architecture=str(architecture.value),
                d_model=d_model, encoder_layers=layers, decoder_layers=layers, heads=heads, ffn_dim=ffn_dim,
                dropout=dropout, beam_size=beam_size, length_penalty=length_penalty,
                val_beam_size=val_beam_size,
                patience=patience, seed=seed, num_threads=threads, checkpoint_every=checkpoint_every,
                model_path=None if model is None else str(model),
                source_lang=source_lang, target_lang=target_lang,
                similarity_top_n=similarity_top_n,
                device=device, precision=precision, output_chunk_size=output_chunk_size,
            )  # fmt: skip
        except ConfigError as exc:  # name the command-line option, not the config field
            raise _with_option(exc) from exc
        check_device(device, option="--device")
        if config.uses_table and table is None:
            raise ConfigError(
                f"method {config.method} needs a neighbour table of the training targets",
                option="--table",
                hint="build one: textsmooth neighbors TRAIN_TARGETS -o nb.parquet --keep 5"
                + (" --method token-swap" if config.method == "token-swap" else "")
                + (" --bleu-order 0" if config.method == "semantic-no-rerank" else ""),
            )
        if table is not None and not config.uses_table:
            raise ConfigError(f"method {config.method} uses no neighbour table", option="--table")
        if output.exists() and not output.is_dir():
            raise ConfigError("exists and is not a folder", option="-o", path=output)
        data_train, data_val, data_test = _load_data(
            pair,
            {"train": (train_src, train_tgt), "val": (val_src, val_tgt), "test": (test_src, test_tgt)},
            max_train,
            max_val,
        )
        related = None
        if table is not None:
            from textsmooth.sequence import NeighborTable

            related = NeighborTable.read(table, texts=data_train.targets)  # refuses a table of other targets
        created = not output.exists()
        output.mkdir(parents=True, exist_ok=True)
        check_writable({"-o": output / "metrics.jsonl"})
        console.print(
            f"training {config.method} on {len(data_train):,} pairs (val {len(data_val):,}"
            + (f", test {len(data_test):,}" if data_test is not None else "")
            + f") into {output}"
        )
        try:
            result = train_seq2seq(
                data_train, data_val, config, out_dir=output, table=related, test=data_test, progress=True
            )
        except TextsmoothError as exc:  # refused before training: no empty run folder left behind
            if created and output.is_dir() and not any(output.iterdir()):
                output.rmdir()
            # a setting the loaded model refuses (max_length, output_chunk_size) names its option
            if not isinstance(exc, ConfigError) or exc.option is not None:
                raise
            if exc.column not in Seq2SeqConfig.__dataclass_fields__:
                raise
            raise _with_option(exc) from exc
        best = f"best val BLEU {result.best_val_bleu:.2f} (epoch {result.best_epoch})"
        if result.test_hypotheses is None or result.test_scores is None:
            console.print(f"{best}; model: {result.model_dir}")
            return
        if len(result.test_hypotheses) != len(data_test):
            raise TextsmoothError("the trainer returned a hypothesis count that differs from the test set")
        atomic_write_text(
            output / "test.hyp.txt", "".join(h.replace("\n", " ") + "\n" for h in result.test_hypotheses)
        )
        s = result.test_scores
        console.print(
            f"{best}; test BLEU-4 {s['bleu']:.2f} (BLEU-3 {s['bleu3']:.2f}, BLEU-5 {s['bleu5']:.2f}, "
            f"chrF {s['chrf']:.2f}); model: {result.model_dir}"
        )

    @group.command(
        help=(
            "Score translations against their references: corpus BLEU-3, BLEU-4, BLEU-5 and chrF "
            "(sacrebleu, 13a tokenisation, as training and the reports score), and for every system after "
            "the first the p-value of sacrebleu's paired bootstrap test of BLEU-4 against the first. "
            "Prints a Markdown table; --json writes the scores. With --seeds N each system is N files "
            "(its runs of N training seeds, system by system): the table gives the means over the runs, "
            "and the test compares the systems' BLEU-4 means (the same resampled sentences for every "
            "run).\n\n"
            "Examples:\n\n"
            "  textsmooth seq2seq score test.en before.hyp.en finetuned.hyp.en\n\n"
            "  textsmooth seq2seq score test.en a.hyp b.hyp c.hyp --json scores.json\n\n"
            "  textsmooth seq2seq score test.en ls.s0.hyp ls.s1.hyp sem.s0.hyp sem.s1.hyp --seeds 2"
        )
    )
    @friendly_errors
    def score(
        references: Path = typer.Argument(..., help="Reference translations, one per line."),
        hypotheses: list[Path] = typer.Argument(
            ..., help="Hypothesis files, aligned with the references; the first is the baseline."
        ),
        json_out: Path | None = typer.Option(None, "--json", help="Also write the scores as JSON."),
        resamples: int = typer.Option(1000, "--resamples", help="Bootstrap resamples of the test."),
        seeds: int = typer.Option(
            1,
            "--seeds",
            min=1,
            help="Hypothesis files per system (one per training seed, the same seeds in the same order "
            "for every system); the files are the first system's, then the second's, and so on.",
        ),
    ) -> None:
        import json

        from textsmooth.errors import DataError
        from textsmooth.experiments.pages import table_md
        from textsmooth.io.atomic import atomic_write_text
        from textsmooth.io.paths import check_output_paths
        from textsmooth.seq2seq.decode import corpus_scores, paired_bleu_p_value_over_seeds
        from textsmooth.sequence.data import read_lines

        if resamples < 100:
            raise ConfigError(f"must be >= 100, got {resamples}", option="--resamples")
        if len(hypotheses) % seeds:
            raise ConfigError(
                f"{len(hypotheses)} hypothesis files do not split into systems of {seeds} runs",
                option="--seeds",
                hint="give every system one file per seed",
            )
        if json_out is not None:
            check_output_paths({"--json": json_out}, inputs=[references, *hypotheses])
            check_writable({"--json": json_out})
        refs = read_lines(references, allow_empty=True)
        systems = []
        for path in hypotheses:
            hyps = read_lines(path, allow_empty=True)
            if len(hyps) != len(refs):
                raise DataError(
                    f"{len(hyps):,} lines but the references {references} have {len(refs):,}",
                    path=path,
                    hint="one translation per reference line, in the same order",
                )
            systems.append((path, hyps))
        names = ("bleu3", "bleu", "bleu5", "chrf")
        groups = [systems[i : i + seeds] for i in range(0, len(systems), seeds)]
        rows, records = [], []
        for i, group in enumerate(groups):
            runs = [corpus_scores(hyps, refs) for _, hyps in group]
            means = {k: sum(run[k] for run in runs) / seeds for k in names}
            p = None
            if i > 0:
                first, this = [h for _, h in groups[0]], [h for _, h in group]
                p = paired_bleu_p_value_over_seeds(first, this, refs, n_samples=resamples)
            if seeds == 1:
                records.append({"path": str(group[0][0]), **runs[0], "p_value_vs_first": p})
            else:
                runs_out = [{"path": str(path), **run} for (path, _), run in zip(group, runs, strict=True)]
                records.append(
                    {
                        "paths": [str(path) for path, _ in group],
                        **means,
                        "runs": runs_out,
                        "p_value_vs_first": p,
                    }
                )
            label = " + ".join(str(path) for path, _ in group)
            rows.append(
                [label, *[f"{means[k]:.2f}" for k in names], "(baseline)" if p is None else f"{p:.3f}"]
            )
        header = ["system", "BLEU-3", "BLEU-4", "BLEU-5", "chrF", "p vs baseline (BLEU-4)"]
        if seeds > 1:
            header = [
                "system (runs)",
                *[f"{name} (mean)" for name in header[1:5]],
                "p vs baseline (BLEU-4 means)",
            ]
        console.print(table_md(header, rows), markup=False, highlight=False, soft_wrap=True)
        if json_out is not None:
            kind = "sacrebleu paired bootstrap (bs) of corpus BLEU-4"
            if seeds > 1:
                kind += f", of the means over {seeds} runs (the same resamples for every run)"
            test = {"kind": kind, "resamples": resamples}
            payload = {"references": str(references), "test": test, "systems": records}
            atomic_write_text(json_out, json.dumps(payload, indent=1) + "\n")
            console.print(f"wrote [bold]{json_out}[/]")

    @app.command(
        help=(
            "Translate a text file (one sentence per line; .gz/.xz read too; a blank line gives a blank "
            "line) with a model saved by `textsmooth seq2seq train` (its OUT/model folder) or a local "
            "Hugging Face checkpoint, in batches, with beam search.\n\n"
            "Examples:\n\n"
            "  textsmooth translate runs/de-en/model test.de -o test.hyp.en\n\n"
            "  textsmooth translate runs/de-en/model test.de -o greedy.en --beam-size 1\n\n"
            "  textsmooth translate path/to/nllb test.de -o base.en --source-lang deu_Latn "
            "--target-lang eng_Latn"
        )
    )
    @friendly_errors
    def translate(
        model_dir: Path = typer.Argument(
            ...,
            help="Model folder (OUT/model of seq2seq train), or any local Hugging Face seq2seq checkpoint "
            "with its tokenizer (a pretrained model before fine-tuning).",
        ),
        input_file: Path = typer.Argument(..., help="Source sentences, one per line."),
        output: Path = typer.Option(..., "-o", "--output", help="Translations, one per line."),
        beam_size: int = typer.Option(5, "--beam-size", help="Beam size (1: greedy)."),
        length_penalty: float = typer.Option(1.0, "--length-penalty", help="Beam length penalty exponent."),
        batch_size: int = typer.Option(64, "--batch-size", help="Sentences per batch."),
        max_length: int | None = typer.Option(
            None, "--max-length", help="Longest translation in subword tokens (default: the model's)."
        ),
        source_lang: str | None = typer.Option(
            None, "--source-lang", help="Source language code of a multilingual checkpoint (e.g. deu_Latn)."
        ),
        target_lang: str | None = typer.Option(
            None, "--target-lang", help="Target language code of a multilingual checkpoint (e.g. eng_Latn)."
        ),
    ) -> None:
        from textsmooth.io.atomic import atomic_write_text
        from textsmooth.io.paths import check_output_paths
        from textsmooth.seq2seq.saved import load_checkpoint_translator, load_translator
        from textsmooth.sequence.data import read_lines

        for option, value, low in (("--beam-size", beam_size, 1), ("--batch-size", batch_size, 1)):
            if value < low:
                raise ConfigError(f"must be >= {low}, got {value}", option=option)
        if max_length is not None and max_length < 2:
            raise ConfigError(f"must be >= 2, got {max_length}", option="--max-length")
        check_output_paths({"-o": output}, inputs=[input_file])
        check_writable({"-o": output})
        if output.resolve().is_relative_to(model_dir.resolve()):
            raise ConfigError(f"{output} is inside the model folder", option="-o", hint="write elsewhere")
        sources = read_lines(input_file, allow_empty=True)
        trained_here = (
            any((model_dir / name).exists() for name in ("textsmooth.json", "vocab"))
            or not (model_dir / "config.json").is_file()
        )  # a textsmooth folder (its manifest checked, missing or not), else a plain checkpoint
        languages = {"--source-lang": source_lang, "--target-lang": target_lang}
        given = [option for option, code in languages.items() if code is not None]
        if trained_here and given:
            raise ConfigError(
                "a model trained here translates in the languages it was trained in",
                option=given[0],
                hint="leave the language options out",
            )
        with console.status(f"loading {model_dir}"):
            if trained_here:
                translator = load_translator(model_dir)  # checksums checked
            else:
                try:
                    translator = load_checkpoint_translator(
                        model_dir, max_length=max_length, source_lang=source_lang, target_lang=target_lang
                    )
                except ConfigError as exc:  # a language the tokenizer lacks names its option
                    raise _with_option(exc) from exc
                console.print(f"{model_dir}: a Hugging Face checkpoint (not trained here: no checksums)")
        hyps = translator.translate(
            sources, beam_size=beam_size, length_penalty=length_penalty, batch_size=batch_size,
            max_length=max_length, progress=True,
        )  # fmt: skip
        atomic_write_text(output, "".join(h.replace("\n", " ") + "\n" for h in hyps))
        console.print(f"wrote [bold]{output}[/] ({len(hyps):,} translations, beam {beam_size})")
