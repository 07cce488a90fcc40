"""The ``textsmooth`` command line (Typer).

Each command group lives in its own module with a ``register(app)`` function; heavy libraries are
imported inside the commands, so ``textsmooth --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

from textsmooth._version import __version__

app = typer.Typer(
    name="textsmooth",
    help=(
        "Label smoothing that knows language: soft labels for text classifiers, related targets for "
        "seq2seq models, and the losses and metrics to use and judge them.\n\n"
        "Examples:\n\n"
        "  textsmooth demo\n\n"
        "  textsmooth soft-labels kwls train.csv --text-col text --label-col label -o soft.parquet\n\n"
        '  textsmooth explain train.csv --text-col text --label-col label "a gripping, moving film"'
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"textsmooth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """textsmooth command line."""


# Command modules, each with register(app). Add a module name here to add its commands.
_COMMAND_MODULES: tuple[str, ...] = (
    "soft_labels",
    "explain",
    "flip",
    "demo",
    "experiment",
    "neighbors",
    "predict",
    "seq2seq",
    "similarity",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"textsmooth.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()
