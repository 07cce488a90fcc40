"""Helpers shared by the CLI command modules: error display and console."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from textsmooth.errors import TextsmoothError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Show a :class:`TextsmoothError` as one red line (exit code 2) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TextsmoothError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from exc

    return wrapper


def read_cli_dataset(
    data: str,
    text_cols: list[str] | None,
    label_col: str | None,
    id_col: str | None = None,
    file_format: str | None = None,
    columns: str | None = None,
):
    """Read a data file from CLI options (see :func:`textsmooth.io.readers.read_dataset`)."""
    from textsmooth.io.readers import read_dataset

    return read_dataset(
        data,
        text_cols or ["text"],
        label_col,
        id_col=id_col,
        file_format=file_format,
        columns=[c.strip() for c in columns.split(",")] if columns else None,
    )


TEXT_COL_HELP = "Text column; repeat to join several columns with a space (e.g. title + description)."
LABEL_COL_HELP = "Label column (names or ids; mapped to ids in sorted order)."
FORMAT_HELP = "File format: csv, tsv, jsonl or parquet (default: from the file name)."
COLUMNS_HELP = "Comma-separated column names for a CSV/TSV file without a header row."
