"""``textsmooth similarity build|show``: word-similarity tables for the reconstruction losses."""

from __future__ import annotations

from pathlib import Path

import typer

from textsmooth.cli._common import check_writable, console, friendly_errors, literal_enum
from textsmooth.similarity.train import VectorModel

TrainModel = literal_enum("TrainModel", VectorModel)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help=(
            "Word-similarity tables: every vocabulary word's top-N most similar words (itself first), for "
            "the similarity-based reconstruction losses.\n\n"
            "Examples:\n\n"
            "  textsmooth similarity build glove.6B.300d.txt.gz -o table.npz --top-n 5 --stopwords en "
            "--vocab vocab.txt\n\n"
            "  textsmooth similarity build models/marian -o subwords.npz --top-n 5\n\n"
            "  textsmooth similarity show table.npz good great"
        ),
        no_args_is_help=True,
    )
    app.add_typer(group, name="similarity")

    @group.command(
        "build",
        help="Build a table from a word-vector file (word2vec text, GloVe, fastText .vec; .gz/.xz/.bz2 read "
        "too), from the input embeddings of a local Hugging Face model folder (its token vocabulary), or, "
        "with --train, from vectors trained on a corpus file (one sentence per line; gensim, seeded).",
    )
    @friendly_errors
    def build(
        vectors: Path = typer.Argument(
            ..., help="Word-vector file, a Hugging Face model folder, or (--train) a corpus file."
        ),
        train: TrainModel | None = typer.Option(
            None,
            "--train",
            help=(
                "Train vectors on the corpus file VECTORS first "
                "(needs the extra: pip install 'textsmooth\\[similarity]')."
            ),
        ),
        dim: int = typer.Option(100, "--dim", help="With --train: vector size."),
        epochs: int = typer.Option(10, "--epochs", help="With --train: passes over the corpus."),
        min_count: int = typer.Option(2, "--min-count", help="With --train: ignore rarer words."),
        lowercase: bool = typer.Option(False, "--lowercase", help="With --train: lower-case the corpus."),
        seed: int = typer.Option(0, "--seed", help="With --train: the random seed."),
        output: Path = typer.Option(..., "-o", "--output", help="Table to write (.npz, with a manifest)."),
        top_n: int = typer.Option(5, "--top-n", help="Row length N, the word itself included."),
        vocab: Path | None = typer.Option(
            None,
            "--vocab",
            help="Vocabulary file, one word per line, in id order (default: the vectors' words).",
        ),
        max_words: int | None = typer.Option(
            None, "--max-words", help="Without --vocab: the first N words of the vector file."
        ),
        stopwords: str | None = typer.Option(
            None, "--stopwords", help="Words kept one-hot: 'en' (the bundled list) or a file."
        ),
        raw: bool = typer.Option(
            False,
            "--raw",
            help="Keep raw cosines (weighted similarity / weighted CE) instead of rows summing to 1.",
        ),
        min_similarity: float | None = typer.Option(
            None, "--min-similarity", help="Drop neighbours below this cosine."
        ),
    ) -> None:
        from textsmooth.errors import ConfigError
        from textsmooth.io.paths import check_output_paths
        from textsmooth.similarity import (
            build_similarity_table,
            load_stopwords,
            read_word_vectors,
            vectors_from_model,
        )

        if output.suffix.lower() != ".npz":
            raise ConfigError("the table is written as NPZ", option="-o", hint="name it something.npz")
        if top_n < 2:
            raise ConfigError(f"must be >= 2 (the word and a neighbour), got {top_n}", option="--top-n")
        if max_words is not None and (max_words < 2 or vocab is not None):
            raise ConfigError("must be >= 2, and is for use without --vocab", option="--max-words")
        if min_similarity is not None and not -1 <= min_similarity <= 1:
            raise ConfigError(f"must be in [-1, 1], got {min_similarity}", option="--min-similarity")
        if min_similarity is not None and min_similarity < 0 and not raw:
            raise ConfigError("a negative cut needs --raw (a row could sum to 0)", option="--min-similarity")
        inputs = [vectors] + ([vocab] if vocab is not None else [])
        check_output_paths({"-o": output}, inputs=[p for p in inputs if p.is_file()])
        check_writable({"-o": output})
        stop = load_stopwords(stopwords) if stopwords else set()
        words = None
        if vocab is not None:
            from textsmooth.sequence.data import read_lines

            words = [w.strip() for w in read_lines(vocab)]
        with console.status(f"{'training on' if train else 'reading'} {vectors}"):
            if train is not None:
                from textsmooth.sequence.data import read_lines
                from textsmooth.similarity import train_word_vectors

                corpus = read_lines(vectors, allow_empty=True)
                try:
                    found = train_word_vectors(
                        [s.lower() for s in corpus] if lowercase else corpus,
                        model=train.value,
                        dim=dim,
                        epochs=epochs,
                        min_count=min_count,
                        seed=seed,
                    )
                except ConfigError as exc:
                    raise ConfigError(
                        exc.message, option=f"--{(exc.column or '').replace('_', '-')}"
                    ) from exc
            elif vectors.is_dir():
                found = vectors_from_model(vectors)
            else:
                found = read_word_vectors(vectors, restrict_to=words)
        if words is None:
            words = found.words[:max_words] if max_words else found.words
        with console.status(f"searching the top {top_n - 1} of {len(words):,} words"):
            try:
                table = build_similarity_table(
                    words,
                    found,
                    top_n=top_n,
                    stopwords=stop,
                    normalize=not raw,
                    min_similarity=min_similarity,
                )
            except ConfigError as exc:  # name the command-line option, not the function's argument
                option = {"top_n": "--top-n", "min_similarity": "--min-similarity"}.get(exc.column or "")
                raise ConfigError(exc.message, option=option, hint=exc.hint) from exc
        table.write(
            output,
            parameters={
                "vectors": str(vectors),
                "trained": None
                if train is None
                else {
                    "model": train.value,
                    "dim": dim,
                    "epochs": epochs,
                    "min_count": min_count,
                    "seed": seed,
                    "lowercase": lowercase,
                },
                "stopwords": stopwords,
                "min_similarity": min_similarity,
            },
        )
        info = table.info
        console.print(
            f"wrote [bold]{output}[/]: {len(words):,} words x {top_n}; one-hot rows {info['one_hot_rows']:,} "
            f"(no vector {info['without_vector']:,}, stop words {info['stopwords']:,})"
        )

    @group.command("show", help="Print words' rows: their most similar words and weights.")
    @friendly_errors
    def show(
        table_path: Path = typer.Argument(..., help="Table written by `similarity build`."),
        words: list[str] = typer.Argument(..., help="Words to show."),
    ) -> None:
        from textsmooth.similarity import SimilarityTable

        table = SimilarityTable.read(table_path)
        kind = "weights sum to 1" if table.normalized else "raw cosines"
        from textsmooth.errors import InputError

        for word in words:
            if word not in table.vocab:
                raise InputError(f"{word!r} is not in the table's vocabulary", path=table_path)
            row = table.neighbors_of(word)
            console.print(f"[bold]{word}[/] ({kind}): " + ", ".join(f"{w} {s:.3f}" for w, s in row))
