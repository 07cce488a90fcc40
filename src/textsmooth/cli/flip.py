"""``textsmooth flip``: write a copy of a data set with labels flipped at random."""

from __future__ import annotations

from pathlib import Path

import typer

from textsmooth.cli._common import (
    COLUMNS_HELP,
    FORMAT_HELP,
    LABEL_COL_HELP,
    TEXT_COL_HELP,
    check_writable,
    console,
    friendly_errors,
    read_cli_dataset,
)


def register(app: typer.Typer) -> None:
    @app.command(
        help=(
            "Flip labels at random (symmetric or pair noise) and write the noisy data set as Parquet "
            "(columns id, text, label, original_label, flipped) with a manifest.\n\n"
            "Example:\n\n  textsmooth flip train.csv --rate 0.2 --seed 0 -o train.noisy20.parquet"
        )
    )
    @friendly_errors
    def flip(
        data: Path = typer.Argument(..., help="Labelled data file."),
        rate: float = typer.Option(..., help="Flip probability per label, in [0, 1]."),
        output: Path = typer.Option(..., "-o", "--output", help="Output Parquet file."),
        kind: str = typer.Option("symmetric", help="symmetric (any other class) or pair (class i -> i+1)."),
        seed: int = typer.Option(0, help="Random seed."),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        label_col: str = typer.Option("label", "--label-col", help=LABEL_COL_HELP),
        id_col: str | None = typer.Option(None, "--id-col", help="Row id column."),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
    ) -> None:
        from typing import get_args

        import pyarrow as pa
        import pyarrow.parquet as pq

        from textsmooth.errors import ConfigError
        from textsmooth.io.atomic import atomic_path
        from textsmooth.io.manifest import write_manifest
        from textsmooth.io.paths import check_output_paths
        from textsmooth.targets.flip import FlipKind, flip_labels

        check_output_paths({"-o": output}, inputs=[data])
        check_writable({"-o": output})
        if output.suffix.lower() != ".parquet":
            raise ConfigError("the output of flip is Parquet", option="-o", hint="name it something.parquet")
        if not 0 <= rate <= 1:  # also NaN; checked before the data is read, naming the option
            raise ConfigError(f"must be in [0, 1], got {rate}", option="--rate")
        if kind not in get_args(FlipKind):
            hint = f"use {' or '.join(get_args(FlipKind))}"
            raise ConfigError(f"unknown flip kind {kind!r}", option="--kind", hint=hint)
        dataset = read_cli_dataset(str(data), text_col, label_col, id_col, file_format, columns)
        noisy, flipped = flip_labels(
            dataset.labels, rate=rate, kind=kind, seed=seed, n_classes=dataset.n_classes
        )
        names = dataset.label_names
        table = pa.table(
            {
                "id": dataset.ids,
                "text": dataset.texts,
                "label": [names[i] for i in noisy],
                "original_label": [names[i] for i in dataset.labels],
                "flipped": flipped,
            }
        )
        with atomic_path(output) as tmp:
            pq.write_table(table, tmp)
        write_manifest(
            output,
            kind="flipped-labels",
            parameters={"rate": rate, "kind": kind, "seed": seed},
            inputs=dataset.describe(),
            extra={"label_names": names, "n_flipped": int(flipped.sum())},
        )
        console.print(
            f"wrote [bold]{output}[/]: {int(flipped.sum()):,} of {len(dataset):,} labels flipped "
            f"({flipped.mean():.1%}, {kind}, seed {seed})"
        )
