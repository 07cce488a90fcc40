"""``textsmooth demo``: KWLS soft labels on the bundled TREC sample, explained."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from textsmooth.cli._common import console, friendly_errors


def bundled_path(name: str) -> Path:
    """Path of a data file bundled in the package (``textsmooth/data``)."""
    return Path(str(resources.files("textsmooth") / "data" / name))


def run_demo(out_dir: Path, n_examples: int = 8, seed: int = 0, train_models: bool = True) -> dict[str, Path]:
    """Fit KWLS on the TREC training questions, print examples, write the artifacts; then (with
    ``train_models``) train TextCNNs with hard labels and with KWLS and write the HTML report.
    Returns the paths written."""
    import numpy as np
    from rich.table import Table
    from rich.text import Text

    from textsmooth.cli.explain import PALETTE, render_explanation
    from textsmooth.io.readers import read_dataset
    from textsmooth.io.soft_labels import write_soft_labels
    from textsmooth.targets.keyword import KeywordSmoother
    from textsmooth.targets.saved import result_params

    train = read_dataset(bundled_path("trec_train.csv.gz"), "text", "label")
    console.rule("[bold]textsmooth demo[/]: keyword label smoothing (KWLS) on TREC questions")
    console.print(
        f"{len(train):,} training questions, {train.n_classes} classes: {', '.join(train.label_names)} "
        "(Li & Roth 2002)"
    )
    smoother = KeywordSmoother()
    soft = smoother.fit_transform(
        train.texts, train.labels, n_classes=train.n_classes, label_names=train.label_names
    )
    names = train.label_names
    colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(train), size=min(n_examples, len(train)), replace=False)
    table = Table(title="hard label -> KWLS soft label, and the keywords behind it", show_lines=True)
    table.add_column("question", max_width=48)
    table.add_column("hard")
    table.add_column("soft label (top 3)")
    table.add_column("keywords for the hard label")
    for row in rows:
        hard = names[train.labels[row]]
        order = np.argsort(-soft[row])[:3]
        soft_text = Text()
        for j in order:
            soft_text.append(f"{names[j]} {soft[row, j]:.2f}  ", style=colour[names[j]])
        expl = next(e for e in smoother.explain(train.texts[row], top=3) if e.name == hard)
        words = ", ".join(f"{w} ({v:.2f})" for w, v in expl.words) or "-"
        table.add_row(train.texts[row], Text(hard, style=colour[hard] + " bold"), soft_text, words)
    console.print(table)

    agree = float((soft.argmax(axis=1) == train.labels).mean())
    console.print(
        f"soft-label argmax = hard label on {agree:.1%} of training questions; "
        f"mean probability on the hard label {float(soft[np.arange(len(train)), train.labels].mean()):.3f}"
    )
    console.print("\n[bold]One question explained[/] (words coloured by the label they support most):")
    console.print(render_explanation(smoother, "Who was the first woman to fly across the Atlantic ?", top=5))

    out_dir.mkdir(parents=True, exist_ok=True)
    soft_path = out_dir / "trec_kwls_soft_labels.parquet"
    model_path = out_dir / "trec_kwls_smoother.npz"
    write_soft_labels(
        soft_path, soft, train, method="kwls", parameters=result_params(smoother) | {"dtype": "float32"}
    )
    smoother.save(model_path)
    console.print(f"\nwrote [bold]{soft_path}[/] (+ manifest) and [bold]{model_path}[/]")
    console.print(f'try: textsmooth explain {model_path} "Where is the Eiffel Tower ?"')
    if not train_models:
        return {"soft_labels": soft_path, "smoother": model_path}
    report = run_comparison(out_dir / "experiment")
    return {"soft_labels": soft_path, "smoother": model_path, "report": report}


def run_comparison(run_dir: Path) -> Path:
    """Train the demo recipe's TextCNNs (hard labels vs KWLS), print the comparison, write the report."""
    from rich.table import Table

    from textsmooth.experiments.recipe import load_recipe
    from textsmooth.experiments.report import build_report
    from textsmooth.experiments.runner import run_recipe

    recipe = load_recipe(bundled_path("demo_recipe.yaml"))
    console.rule("[bold]Does it help?[/] a small TextCNN, hard labels versus KWLS soft labels")
    with console.status("training (3 small TextCNNs, about a minute)"):
        results = run_recipe(recipe, run_dir, progress=False, log=lambda message: None)
    table = Table(title="TREC test set (500 questions), seed 0")
    for column in ("method", "accuracy", "macro-F1", "ECE", "NLL", "epochs", "seconds"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in results:
        t = r.test
        table.add_row(
            r.method,
            f"{100 * t['accuracy']:.1f}",
            f"{100 * t['macro_f1']:.1f}",
            f"{100 * t['ece']:.1f}",
            f"{t['nll']:.3f}",
            str(len(r.history)),
            f"{r.seconds:.0f}",
        )
    console.print(table)
    report = build_report(run_dir)
    console.print(f"report: [bold]{report}[/] (open it in a browser)")
    return report


def register(app: typer.Typer) -> None:
    @app.command(
        help=(
            "Run the demo on the bundled TREC sample: fit KWLS, print examples with their hard label, "
            "soft label and explaining keywords, write the soft-label artifact; then train a small TextCNN "
            "with hard labels and with KWLS, print the comparison and write the HTML report.\n\n"
            "Example:\n\n  textsmooth demo --out-dir textsmooth-demo"
        )
    )
    @friendly_errors
    def demo(
        out_dir: Path = typer.Option(Path("textsmooth-demo"), help="Where to write the artifacts."),
        examples: int = typer.Option(8, help="Number of example questions to show."),
        seed: int = typer.Option(0, help="Seed for picking the examples."),
        train: bool = typer.Option(True, help="Also train the hard-label and KWLS TextCNNs."),
    ) -> None:
        run_demo(out_dir, n_examples=examples, seed=seed, train_models=train)
