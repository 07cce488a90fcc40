"""Helpers shared by the CLI command modules: error display, console, option enums."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, get_args

import typer
from rich.console import Console
from rich.markup import escape

from textsmooth.errors import TextsmoothError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


def literal_enum(name: str, choices: Any) -> type[StrEnum]:
    """A ``StrEnum`` for a Typer option whose values are those of the library's ``Literal`` ``choices``.

    The value list is written once, in the library (``typing.get_args``); members are the values with
    ``-`` as ``_`` (``"token-swap"`` is ``Method.token_swap``), in the ``Literal``'s order (the order
    ``--help`` lists them in).
    """
    values = get_args(choices)
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name}: expected a Literal of strings, got {choices!r}")
    return StrEnum(name, [(v.replace("-", "_"), v) for v in values])  # type: ignore[return-value]


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Show a :class:`TextsmoothError` or an ``OSError`` as one red line (exit 2), not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TextsmoothError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from exc
        except OSError as exc:  # permissions, a file where a folder should be, a full disk ...
            where = f"{exc.filename}: " if exc.filename else ""
            reason = exc.strerror or str(exc)
            err_console.print(f"[bold red]error:[/] {where}{reason}", highlight=False, soft_wrap=True)
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


def check_writable(outputs: dict[str, Path | None]) -> None:
    """Refuse an output whose folder (or nearest existing parent folder) this process cannot write.

    Run after :func:`textsmooth.io.paths.check_output_paths` and before any work, so that a
    read-only folder is reported, with its option, before anything is computed or written.

    Raises:
        ConfigError: naming the option and the folder.
    """
    from textsmooth.errors import ConfigError

    for option, path in outputs.items():
        if path is None:
            continue
        folder = Path(path).absolute().parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(
                f"cannot write {path}: the folder {folder} is not writable",
                option=option,
                hint="choose an output path in a folder you can write to",
            )


def remove_artifact(path: Path) -> None:
    """Delete an artifact this command has just written, and its manifest (roll back a failed command)."""
    import contextlib

    from textsmooth.io.manifest import manifest_path

    with contextlib.suppress(FileNotFoundError):
        manifest_path(path).unlink()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
