"""``textsmooth explain``: which words made a text's KWLS soft label (the paper's Table 1, in colour)."""

from __future__ import annotations

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

PALETTE = ("red", "blue", "green", "magenta", "cyan", "yellow", "bright_red", "bright_blue")


def render_explanation(smoother, text: str, top: int = 8):
    """A rich renderable: the text with each known word coloured by the label it supports most,
    and a table of labels with their soft-label value and top words."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from textsmooth.text.tokenize import tokenize

    explanations = smoother.explain(text, top=top)
    colour_of = {e.name: PALETTE[i % len(PALETTE)] for i, e in enumerate(explanations)}
    best_label: dict[str, tuple[float, str]] = {}
    for e in explanations:
        for word, value in e.words:
            if value > best_label.get(word, (0.0, ""))[0]:
                best_label[word] = (value, e.name)
    tokens = tokenize(text, smoother.tokenizer)
    line = Text()
    for i, token in enumerate(tokens):
        style = colour_of[best_label[token][1]] + " bold" if token in best_label else "dim"
        line.append(token, style=style)
        if i + 1 < len(tokens):
            line.append(" ")
    table = Table(title="soft label and the words behind it", show_lines=False)
    table.add_column("label")
    table.add_column("soft", justify="right")
    table.add_column("ILR", justify="right")
    table.add_column("top words (contribution to ILR)")
    for e in sorted(explanations, key=lambda e: -e.probability):
        words = Text(", ".join(f"{w} {v:.3f}" for w, v in e.words) or "-", style=colour_of[e.name])
        table.add_row(
            Text(e.name, style=colour_of[e.name] + " bold"),
            f"{e.probability:.3f}",
            f"{e.relevance:.3f}",
            words,
        )
    return Group(line, table)


def register(app: typer.Typer) -> None:
    @app.command(
        help=(
            "Show which words drive a text's KWLS soft label, label by label.\n\n"
            "MODEL_OR_DATA is a smoother saved with `soft-labels ... --save-model smoother.npz`, or a "
            "labelled data file to fit one on the spot.\n\n"
            "Examples:\n\n"
            '  textsmooth explain smoother.npz "Who wrote the Iliad ?"\n\n'
            '  textsmooth explain train.csv --text-col text --label-col label "Where is Kyoto ?"'
        )
    )
    @friendly_errors
    def explain(
        model_or_data: Path = typer.Argument(..., help="Saved smoother (.npz) or labelled data file."),
        text: list[str] = typer.Argument(..., help="Text(s) to explain."),
        top: int = typer.Option(8, help="Words to show per label."),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        label_col: str = typer.Option("label", "--label-col", help=LABEL_COL_HELP),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
        tokenizer: str = typer.Option("words", help="Tokenizer when fitting on data."),
    ) -> None:
        from textsmooth.io.manifest import manifest_path
        from textsmooth.targets.keyword import KeywordSmoother, load_smoother

        if manifest_path(model_or_data).exists() and model_or_data.suffix == ".npz":
            smoother = load_smoother(model_or_data)
        else:
            dataset = read_cli_dataset(str(model_or_data), text_col, label_col, None, file_format, columns)
            smoother = KeywordSmoother(tokenizer=tokenizer).fit(
                dataset.texts, dataset.labels, n_classes=dataset.n_classes, label_names=dataset.label_names
            )
        for one in text:
            console.print(render_explanation(smoother, one, top=top))
