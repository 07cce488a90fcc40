"""``textsmooth predict``: class probabilities of a saved classifier for every row of a data file."""

from __future__ import annotations

from pathlib import Path

import typer

from textsmooth.cli._common import (
    COLUMNS_HELP,
    FORMAT_HELP,
    TEXT_COL_HELP,
    check_writable,
    console,
    friendly_errors,
    read_cli_dataset,
)

PROBABILITY_PREFIX = "prob_"


def register(app: typer.Typer) -> None:
    @app.command(
        help=(
            "Predict with a classifier saved by training (OUT_DIR/model): writes Parquet with columns "
            f"id, predicted_label and one {PROBABILITY_PREFIX}<class> probability column per class, "
            "with a JSON manifest. The model folder's checksums are verified first.\n\n"
            "Examples:\n\n"
            "  textsmooth predict runs/one/model test.csv -o preds.parquet\n\n"
            "  textsmooth predict runs/one/model news.tsv --columns id,title,body --text-col title "
            "--text-col body --id-col id -o preds.parquet"
        )
    )
    @friendly_errors
    def predict(
        model_dir: Path = typer.Argument(..., help="Model folder saved by textsmooth training."),
        data: Path = typer.Argument(..., help="Data file: .csv/.tsv/.jsonl/.parquet (optionally .gz/.xz)."),
        output: Path = typer.Option(..., "-o", "--output", help="Output Parquet file."),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        id_col: str | None = typer.Option(None, "--id-col", help="Row id column (default: row index)."),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
        batch_size: int = typer.Option(256, "--batch-size", help="Texts scored at a time."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
    ) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        from textsmooth.errors import ConfigError
        from textsmooth.io.atomic import atomic_path
        from textsmooth.io.manifest import write_manifest
        from textsmooth.io.paths import check_output_paths
        from textsmooth.training.saved import check_device, load_classifier

        if output.suffix.lower() != ".parquet":
            raise ConfigError(
                "the output of predict is Parquet", option="-o", hint="name it something.parquet"
            )
        if batch_size < 1:
            raise ConfigError(f"must be >= 1, got {batch_size}", option="--batch-size")
        check_output_paths({"-o": output}, inputs=[data])
        check_writable({"-o": output})
        check_device(device, option="--device")
        if output.resolve().is_relative_to(model_dir.resolve()):
            raise ConfigError(
                f"{output} is inside the model folder", option="-o", hint="write predictions elsewhere"
            )
        with console.status(f"loading {model_dir}"):
            classifier = load_classifier(model_dir, device=device)
        dataset = read_cli_dataset(str(data), text_col, None, id_col, file_format, columns)
        probs = classifier.predict_proba(dataset.texts, batch_size, progress=True)
        classes = [str(c) for c in classifier.classes_]
        prob_columns = [f"{PROBABILITY_PREFIX}{c}" for c in classes]
        table = pa.table(
            {
                "id": dataset.ids,
                "predicted_label": pa.array(classifier.classes_[probs.argmax(axis=1)].tolist(), pa.string()),
                **{name: pa.array(probs[:, i], pa.float32()) for i, name in enumerate(prob_columns)},
            }
        )
        with atomic_path(output) as tmp:
            pq.write_table(table, tmp)
        manifest = classifier.manifest
        write_manifest(
            output,
            kind="predictions",
            parameters={"batch_size": batch_size, "text_cols": list(text_col), "id_col": id_col},
            inputs=dataset.describe(),
            extra={
                "model": {
                    "path": str(model_dir.resolve()),
                    "model_type": manifest.get("model_type"),
                    "manifest_sha256": manifest.get("manifest_sha256"),
                    "weights_sha256": manifest.get("files", {}).get("model.safetensors"),
                    "version": manifest.get("version"),
                },
                "classes": classes,
                "probability_columns": prob_columns,
            },
        )
        counts = dict(
            zip(classes, np.bincount(probs.argmax(axis=1), minlength=len(classes)).tolist(), strict=True)
        )
        console.print(
            f"wrote [bold]{output}[/] ({len(dataset):,} rows x {len(classes)} classes); predicted: "
            + ", ".join(f"{c} {n:,}" for c, n in counts.items())
        )
