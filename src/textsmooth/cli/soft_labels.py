"""``textsmooth soft-labels``: write soft labels for a labelled data file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from textsmooth.cli._common import (
    COLUMNS_HELP,
    FORMAT_HELP,
    LABEL_COL_HELP,
    TEXT_COL_HELP,
    console,
    friendly_errors,
    read_cli_dataset,
)


class Method(StrEnum):
    kwls = "kwls"
    tfidf = "tfidf"
    uniform = "uniform"
    prior = "prior"


def build_generator(
    method: str,
    *,
    k1: float = 2.0,
    b: float = 0.75,
    k2: float = 2.0,
    tokenizer: str = "words",
    temperature: float = 1.0,
    ilr_sum: str = "distinct",
    tf: str = "sublinear",
    epsilon: float = 0.1,
    convention: str = "all",
    prior: str = "class-frequency",
):
    """The soft-label generator named ``method`` with the CLI's parameters."""
    from textsmooth.errors import ConfigError
    from textsmooth.targets.classic import PriorSmoother, UniformSmoother
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother

    if method == "kwls":
        return KeywordSmoother(
            k1=k1, b=b, k2=k2, tokenizer=tokenizer, temperature=temperature, ilr_sum=ilr_sum
        )
    if method == "tfidf":
        return TfidfSmoother(tf=tf, tokenizer=tokenizer, temperature=temperature, ilr_sum=ilr_sum)
    if method == "uniform":
        return UniformSmoother(epsilon=epsilon, convention=convention)
    if method == "prior":
        if prior == "class-frequency":
            return PriorSmoother(epsilon=epsilon)
        try:
            values = [float(x) for x in prior.split(",")]
        except ValueError as exc:
            raise ConfigError(
                f"--prior must be 'class-frequency' or comma-separated numbers, got {prior!r}"
            ) from exc
        return PriorSmoother(epsilon=epsilon, prior=values)
    raise ConfigError(f"unknown method {method!r}")


def register(app: typer.Typer) -> None:
    @app.command(
        "soft-labels",
        help=(
            "Write soft labels for a labelled data file (Parquet + JSON manifest).\n\n"
            "Methods: kwls (keyword label smoothing, Liu et al. 2022), tfidf (LS-TFIDF), "
            "uniform (LS-Classic), prior (smoothing towards class frequencies).\n\n"
            "Examples:\n\n"
            "  textsmooth soft-labels kwls train.csv --text-col text --label-col label -o soft.parquet\n\n"
            "  textsmooth soft-labels kwls news.tsv --columns id,text,label_id,label --text-col text "
            "--label-col label_id --tokenizer space -o soft.parquet\n\n"
            "  textsmooth soft-labels uniform train.jsonl --epsilon 0.1 -o soft.parquet"
        ),
    )
    @friendly_errors
    def soft_labels(
        method: Method = typer.Argument(..., help="Smoothing method."),
        data: Path = typer.Argument(
            ..., help="Labelled data: .csv/.tsv/.jsonl/.parquet (optionally .gz/.xz)."
        ),
        output: Path = typer.Option(..., "-o", "--output", help="Output Parquet file."),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        label_col: str = typer.Option("label", "--label-col", help=LABEL_COL_HELP),
        id_col: str | None = typer.Option(None, "--id-col", help="Row id column (default: row index)."),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
        k1: float = typer.Option(2.0, help="KWLS: word-label count saturation (eq. 1)."),
        b: float = typer.Option(0.75, help="KWLS: label length normalisation (eq. 1)."),
        k2: float = typer.Option(2.0, help="KWLS: word-instance count saturation (eq. 4)."),
        tokenizer: str = typer.Option("words", help="kwls/tfidf: words, space or whitespace."),
        temperature: float = typer.Option(1.0, help="kwls/tfidf: softmax temperature (1 = paper)."),
        ilr_sum: str = typer.Option("distinct", help="kwls/tfidf: sum eq. 7 over distinct words or tokens."),
        tf: str = typer.Option("sublinear", help="tfidf: sublinear (1 + ln f) or raw term frequency."),
        epsilon: float = typer.Option(0.1, help="uniform/prior: smoothing mass."),
        convention: str = typer.Option("all", help="uniform: spread epsilon over all classes or others."),
        prior: str = typer.Option(
            "class-frequency", help="prior: class-frequency or comma-separated values."
        ),
        save_model: Path | None = typer.Option(
            None, help="kwls/tfidf: also save the fitted smoother (.npz)."
        ),
    ) -> None:
        dataset = read_cli_dataset(str(data), text_col, label_col, id_col, file_format, columns)
        generator = build_generator(
            method.value,
            k1=k1,
            b=b,
            k2=k2,
            tokenizer=tokenizer,
            temperature=temperature,
            ilr_sum=ilr_sum,
            tf=tf,
            epsilon=epsilon,
            convention=convention,
            prior=prior,
        )
        with console.status(f"fitting {method.value} on {len(dataset):,} rows"):
            soft = generator.fit_transform(
                dataset.texts, dataset.labels, n_classes=dataset.n_classes, label_names=dataset.label_names
            )
        from textsmooth.io.soft_labels import write_soft_labels

        params = {
            k: (str(v) if not isinstance(v, int | float | str | type(None)) else v)
            for k, v in generator.get_params().items()
        }
        write_soft_labels(output, soft, dataset, method=method.value, parameters=params)
        if save_model is not None:
            if not hasattr(generator, "save"):
                from textsmooth.errors import ConfigError

                raise ConfigError("--save-model works with kwls and tfidf only")
            generator.save(save_model)
            console.print(f"saved the fitted smoother to [bold]{save_model}[/]")
        agree = float((soft.argmax(axis=1) == dataset.labels).mean())
        console.print(
            f"wrote [bold]{output}[/] ({len(dataset):,} rows x {soft.shape[1]} classes, "
            f"method {method.value}); "
            f"soft-label argmax agrees with the hard label on {agree:.1%}, mean top probability "
            f"{float(soft.max(axis=1).mean()):.3f}"
        )
