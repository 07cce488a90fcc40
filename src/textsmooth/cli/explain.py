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


def render_explanation(smoother, text: str, top: int = 8, top_labels: int | None = None):
    """A rich renderable: the text with each known word coloured by the label it supports most,
    and a table of labels with their soft-label value and top words.

    Args:
        smoother: a fitted KWLS or LS-TFIDF smoother.
        text: the text to explain.
        top: words shown per label.
        top_labels: show only this many labels, the most probable first (default: all).
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from textsmooth.text.tokenize import tokenize

    explanations = smoother.explain(text, top=top)
    if top_labels is not None:
        explanations = sorted(explanations, key=lambda e: -e.probability)[:top_labels]
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
    shown = len(explanations)
    title = "soft label and the words behind it"
    if shown < len(smoother.classes_):
        title += f" (top {shown} of {len(smoother.classes_)} labels)"
    table = Table(title=title, show_lines=False)
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


def _is_saved_model(path: Path) -> bool:
    """A saved model is an ``.npz`` file, or any file with a textsmooth manifest of a smoother kind."""
    from textsmooth.io.manifest import manifest_path

    if path.suffix.lower() == ".npz":
        return True
    mpath = manifest_path(path)
    if not mpath.is_file():
        return False
    import json

    try:
        kind = json.loads(mpath.read_text(encoding="utf-8")).get("kind", "")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False
    return isinstance(kind, str) and kind.endswith("-smoother")


def register(app: typer.Typer) -> None:
    @app.command(
        help=(
            "Show which words drive a text's KWLS soft label, label by label.\n\n"
            "MODEL_OR_DATA is a kwls or tfidf smoother saved with `soft-labels ... --save-model "
            "smoother.npz`, or a labelled data file to fit a KWLS smoother on the spot.\n\n"
            "Examples:\n\n"
            '  textsmooth explain smoother.npz "Who wrote the Iliad ?"\n\n'
            '  textsmooth explain smoother.npz --top-labels 2 --top 3 "Who wrote the Iliad ?"\n\n'
            '  textsmooth explain train.csv --text-col text --label-col label "Where is Kyoto ?"'
        )
    )
    @friendly_errors
    def explain(
        model_or_data: Path = typer.Argument(..., help="Saved smoother (.npz) or labelled data file."),
        text: list[str] = typer.Argument(..., help="Text(s) to explain."),
        top: int = typer.Option(8, "--top", min=1, help="Words to show per label."),
        top_labels: int | None = typer.Option(
            None, "--top-labels", min=1, help="Show only the N most probable labels (default: all)."
        ),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        label_col: str = typer.Option("label", "--label-col", help=LABEL_COL_HELP),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
        tokenizer: str = typer.Option("words", help="Tokenizer when fitting on data."),
    ) -> None:
        from textsmooth.targets.keyword import KeywordSmoother, load_smoother

        if _is_saved_model(model_or_data):
            smoother = load_smoother(model_or_data)
        else:
            dataset = read_cli_dataset(str(model_or_data), text_col, label_col, None, file_format, columns)
            smoother = KeywordSmoother(tokenizer=tokenizer).fit(
                dataset.texts, dataset.labels, n_classes=dataset.n_classes, label_names=dataset.label_names
            )
        for one in text:
            console.print(render_explanation(smoother, one, top=top, top_labels=top_labels))
