"""``textsmooth soft-labels``: write soft labels for a labelled data file.

Everything the command can check is checked before it writes anything: output paths (not an input,
not a folder, not under a file, writable), option values, the data, the teacher file, and whether the
fitted generator can be saved. The soft labels and the saved model are written last; if writing the
model fails, the soft labels just written are removed again, so a failed command leaves nothing behind.

``--backend ray`` (kwls and tfidf) fits and transforms on Ray (:mod:`textsmooth.distributed`): the
current Ray instance, the cluster at ``--address``, or a local one started for the command and shut
down after it. The soft labels, manifest and saved model are the same as with the local backend.
With ``--out-dir`` (instead of ``-o``) the soft labels are written part by part into a folder with a
manifest, and a re-run skips the finished parts (:func:`textsmooth.distributed.write_soft_labels_sharded`);
DATA and ``--apply-to`` may then also be folders of ``.parquet`` / ``.jsonl`` files.
"""

from __future__ import annotations

import math
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from textsmooth.cli._common import (
    COLUMNS_HELP,
    FORMAT_HELP,
    LABEL_COL_HELP,
    TEXT_COL_HELP,
    check_writable,
    console,
    err_console,
    friendly_errors,
    read_cli_dataset,
    remove_artifact,
)


class Method(StrEnum):
    kwls = "kwls"
    tfidf = "tfidf"
    uniform = "uniform"
    prior = "prior"
    teacher = "teacher"


class Backend(StrEnum):
    """Where kwls/tfidf soft labels are computed: this process, or Ray (textsmooth.distributed)."""

    local = "local"
    ray = "ray"


class TeacherKind(StrEnum):
    """What a teacher file holds; ``probs`` is the CLI's short name of the library's ``probabilities``
    (:class:`textsmooth.targets.teacher.TeacherSmoother` ``outputs``)."""

    logits = "logits"
    probs = "probs"


# The numeric options each method uses, with their valid range: (option, low, high, low_open).
_RANGES: dict[str, tuple[str, float, float, bool]] = {
    "k1": ("--k1", 0.0, math.inf, True),
    "b": ("--b", 0.0, 1.0, False),
    "k2": ("--k2", 0.0, math.inf, True),
    "temperature": ("--temperature", 0.0, math.inf, True),
    "epsilon": ("--epsilon", 0.0, 1.0, False),
}
_USES = {
    "kwls": ("k1", "b", "k2", "temperature"),
    "tfidf": ("temperature",),
    "uniform": ("epsilon",),
    "prior": ("epsilon",),
    "teacher": ("temperature",),
}


def _check_numbers(method: str, **values: float) -> None:
    """Range-check the numeric options ``method`` uses before any file is read; errors name the option."""
    from textsmooth.errors import ConfigError

    for name in _USES.get(method, ()):
        option, low, high, low_open = _RANGES[name]
        value = values[name]
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            interval = (
                f"{'(' if low_open else '['}{low:g}, {high:g}]" if math.isfinite(high) else f"> {low:g}"
            )
            raise ConfigError(f"must be {'in ' if math.isfinite(high) else ''}{interval}, got {value:g}",
                              option=option)  # fmt: skip


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
    teacher_kind: str = "logits",
    max_memory_gib: float | None = None,
    threads: int | None = None,
):
    """The soft-label generator named ``method`` with the CLI's parameters (checked, naming the option)."""
    from textsmooth.errors import ConfigError
    from textsmooth.targets.classic import PriorSmoother, UniformSmoother
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother
    from textsmooth.targets.teacher import TeacherSmoother

    _check_numbers(method, k1=k1, b=b, k2=k2, temperature=temperature, epsilon=epsilon)
    if method == "kwls":
        return KeywordSmoother(
            k1=k1,
            b=b,
            k2=k2,
            tokenizer=tokenizer,
            temperature=temperature,
            ilr_sum=ilr_sum,
            max_memory_gib=max_memory_gib,
            n_jobs=threads,
        )
    if method == "tfidf":
        return TfidfSmoother(
            tf=tf,
            tokenizer=tokenizer,
            temperature=temperature,
            ilr_sum=ilr_sum,
            max_memory_gib=max_memory_gib,
            n_jobs=threads,
        )
    if method == "uniform":
        return UniformSmoother(epsilon=epsilon, convention=convention)
    if method == "prior":
        if prior == "class-frequency":
            return PriorSmoother(epsilon=epsilon)
        try:
            values = [float(x) for x in prior.split(",")]
        except ValueError as exc:
            raise ConfigError(
                f"must be 'class-frequency' or comma-separated numbers, got {prior!r}", option="--prior"
            ) from exc
        return PriorSmoother(epsilon=epsilon, prior=values)
    if method == "teacher":
        if teacher_kind not in set(TeacherKind):
            choices = " or ".join(TeacherKind)
            raise ConfigError(f"must be {choices}, got {teacher_kind!r}", option="--teacher-kind")
        outputs = "logits" if teacher_kind == "logits" else "probabilities"
        return TeacherSmoother(temperature=temperature, outputs=outputs)
    raise ConfigError(f"unknown method {method!r}")


def _json_params(generator: Any) -> dict[str, Any]:
    from textsmooth.targets.saved import result_params

    return {
        k: (str(v) if not isinstance(v, int | float | str | type(None)) else v)
        for k, v in result_params(generator).items()
        if k != "teacher"
    }


def _read_apply_dataset(path: Path, train, needs_labels: bool, options: dict[str, Any]):
    """The ``--apply-to`` file, with its labels (if any) renumbered to the fitted classes."""
    import numpy as np

    from textsmooth.errors import DataError, LabelError
    from textsmooth.io.readers import TextDataset

    label_col = options["label_col"]
    try:
        data = read_cli_dataset(str(path), options["text_col"], label_col, *options["rest"])
    except DataError as exc:
        # A file to apply a text-only generator to may be unlabelled.
        if needs_labels or exc.column != label_col or not exc.message.startswith("no column"):
            raise
        data = read_cli_dataset(str(path), options["text_col"], None, *options["rest"])
    labels = None
    if data.labels is not None:
        index = {name: i for i, name in enumerate(train.label_names)}
        unknown = [name for name in data.label_names if name not in index]
        if unknown:
            row = int(np.argmax(data.labels == data.label_names.index(unknown[0])))
            raise LabelError(
                f"label {unknown[0]!r} is not one of the classes fitted on {train.source} "
                f"({', '.join(train.label_names)})",
                path=path,
                row=data.rows[row],
                column=label_col,
            )
        mapping = np.array([index[name] for name in data.label_names], dtype=np.int64)
        labels = mapping[data.labels]
    return TextDataset(
        texts=data.texts,
        labels=labels,
        label_names=list(train.label_names),
        ids=data.ids,
        source=data.source,
        file_sha256=data.file_sha256,
        rows=data.rows,
    )


def _check_teacher_covers(generator, target) -> None:
    """With precomputed teacher outputs, every text to label must have one (named by its file row)."""
    from textsmooth.errors import DataError

    index = generator.text_index_
    for i, text in enumerate(target.texts):
        if text not in index:
            raise DataError(
                "text has no teacher output: the teacher file gives outputs for the texts of DATA only",
                path=target.source,
                row=target.rows[i],
                hint="a teacher's soft labels exist for texts it has outputs for",
            )


def _check_backend(method: str, backend: Backend, address: str | None) -> None:
    """``--backend ray`` is for kwls/tfidf and needs ray; ``--address`` needs ``--backend ray``."""
    from textsmooth import _extras
    from textsmooth.errors import ConfigError

    if backend is Backend.local:
        if address is not None:
            raise ConfigError("an address is for --backend ray", option="--address")
        return
    if method not in ("kwls", "tfidf"):
        raise ConfigError(f"only kwls and tfidf run on Ray, not {method}", option="--backend")
    if not _extras.installed("ray"):
        raise _extras.missing("ray", extra="ray", feature="textsmooth soft-labels --backend ray")
    if address is not None and not address.strip():
        raise ConfigError("must not be empty", option="--address")


def _on_ray(generator, dataset, target, fit_params: dict[str, Any], address: str | None):
    """Fit ``generator``'s method on Ray, then the soft labels of ``target`` (or of ``dataset``).

    Returns ``(soft_labels, fitted_smoother)``. A Ray instance started here is shut down at the end.
    """
    from textsmooth.distributed import _ray
    from textsmooth.distributed.keyword import (
        fit_keyword_smoother,
        keyword_soft_labels,
        transform_soft_labels,
    )

    ray = _ray.require_ray("textsmooth soft-labels --backend ray")
    started = not ray.is_initialized()
    try:
        if target is None:
            return keyword_soft_labels(
                dataset.texts,
                dataset.labels,
                method=generator,
                return_smoother=True,
                address=address,
                **fit_params,
            )
        fitted = fit_keyword_smoother(
            dataset.texts, dataset.labels, method=generator, address=address, **fit_params
        )
        return transform_soft_labels(fitted, target.texts, address=address), fitted
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def _check_out_dir(
    output: Path | None,
    out_dir: Path | None,
    backend: Backend,
    inputs: list[Path | None],
    text_col: list[str],
) -> None:
    """Exactly one of ``-o``/``--out-dir``; ``--out-dir`` (and a folder as input) need ``--backend ray``."""
    from textsmooth.errors import ConfigError

    folders = [p for p in inputs if p is not None and p.is_dir()]
    if (output is None) == (out_dir is None):
        raise ConfigError(
            "give -o FILE (one Parquet file) or --out-dir FOLDER (one file per shard), one of them",
            option="-o" if output is None else "--out-dir",
        )
    if out_dir is None:
        if folders:
            raise ConfigError(
                f"{folders[0]} is a folder: folders of .parquet/.jsonl files are read with --backend ray "
                "and written with --out-dir",
                option="--out-dir",
            )
        return
    if backend is not Backend.ray:
        raise ConfigError("sharded output is written by --backend ray", option="--out-dir")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file, not a folder", option="--out-dir")
    for src in inputs:
        if src is not None and src.resolve() == out_dir.resolve():
            raise ConfigError(f"{out_dir} is also an input of this command", option="--out-dir")
    if folders and len(text_col) != 1:
        raise ConfigError("a folder is read with one text column", option="--text-col")


def _on_ray_sharded(
    generator,
    data: Path,
    apply_to: Path | None,
    out_dir: Path,
    options: dict[str, Any],
    address: str | None,
):
    """Fit on DATA (a file or a folder) on Ray, then write the soft labels of ``--apply-to`` (or DATA)
    into ``out_dir`` part by part. Returns ``(manifest, fitted)``; a Ray instance started here is shut
    down at the end."""
    from textsmooth.distributed import _ray
    from textsmooth.distributed.keyword import fit_keyword_smoother
    from textsmooth.distributed.output import write_soft_labels_sharded

    text_col, label_col, rest = options["text_col"], options["label_col"], options["rest"]
    ray = _ray.require_ray("textsmooth soft-labels --backend ray")
    started = not ray.is_initialized()
    try:
        if data.is_dir():
            fitted = fit_keyword_smoother(
                str(data), method=generator, text_column=text_col[0], label_column=label_col, address=address
            )
            train = None
        else:
            train = read_cli_dataset(str(data), text_col, label_col, *rest)
            fitted = fit_keyword_smoother(
                train.texts,
                train.labels,
                method=generator,
                n_classes=train.n_classes,
                label_names=train.label_names,
                address=address,
            )
        target = apply_to if apply_to is not None else data
        if target.is_dir():
            source: Any = str(target)
        elif target == data and train is not None:
            source = train.texts
        else:
            source = read_cli_dataset(str(target), text_col, None, *rest).texts
        manifest = write_soft_labels_sharded(
            fitted, source, out_dir, text_column=text_col[0] if target.is_dir() else "text", address=address
        )
        return manifest, fitted
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def register(app: typer.Typer) -> None:
    @app.command(
        "soft-labels",
        help=(
            "Write soft labels for a labelled data file (Parquet + JSON manifest).\n\n"
            "Methods: kwls (keyword label smoothing, Liu et al. 2022), tfidf (LS-TFIDF), "
            "uniform (LS-Classic), prior (smoothing towards class frequencies), teacher (LS-Distill: "
            "softmax(teacher logits / temperature) from --teacher FILE).\n\n"
            "Teacher file: .npy float array (rows = DATA rows, columns = classes in sorted label order), "
            "or a .parquet/.csv/.tsv/.jsonl table with one numeric column per class, named as the class, "
            "and optionally an id column.\n\n"
            "Examples:\n\n"
            "  textsmooth soft-labels kwls train.csv --text-col text --label-col label -o soft.parquet\n\n"
            "  textsmooth soft-labels kwls train.csv --apply-to test.csv -o test.soft.parquet "
            "--save-model kwls.npz\n\n"
            "  textsmooth soft-labels teacher train.csv --teacher logits.npy --temperature 2 "
            "-o soft.parquet\n\n"
            "  textsmooth soft-labels prior train.jsonl --epsilon 0.1 -o soft.parquet "
            "--save-model prior.npz\n\n"
            "  textsmooth soft-labels kwls train.parquet -o soft.parquet --backend ray --address auto\n\n"
            "  textsmooth soft-labels kwls data/ --out-dir soft/ --backend ray   (a folder of "
            ".parquet/.jsonl files in, one Parquet part per shard + manifest.json out; a re-run skips "
            "finished parts)"
        ),
    )
    @friendly_errors
    def soft_labels(
        method: Method = typer.Argument(..., help="Smoothing method."),
        data: Path = typer.Argument(
            ...,
            help="Labelled data to fit on: .csv/.tsv/.jsonl/.parquet (optionally .gz/.xz), or with "
            "--backend ray and --out-dir a folder of .parquet/.jsonl files (read in name order).",
        ),
        output: Path | None = typer.Option(None, "-o", "--output", help="Output Parquet file."),
        out_dir: Path | None = typer.Option(
            None,
            "--out-dir",
            help="--backend ray, kwls/tfidf: write the soft labels into this folder instead of -o, one "
            "Parquet part per shard (columns row, soft_label) then manifest.json; a re-run with the same "
            "data and parameters skips the finished parts.",
        ),
        apply_to: Path | None = typer.Option(
            None,
            "--apply-to",
            help="Write the soft labels of this file (same columns) with the statistics fitted on DATA. "
            "uniform/prior need its labels; teacher needs its texts in DATA.",
        ),
        text_col: list[str] = typer.Option(["text"], "--text-col", help=TEXT_COL_HELP),
        label_col: str = typer.Option("label", "--label-col", help=LABEL_COL_HELP),
        id_col: str | None = typer.Option(None, "--id-col", help="Row id column (default: row index)."),
        file_format: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
        columns: str | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
        k1: float = typer.Option(2.0, help="KWLS: word-label count saturation (eq. 1)."),
        b: float = typer.Option(0.75, help="KWLS: label length normalisation (eq. 1)."),
        k2: float = typer.Option(2.0, help="KWLS: word-instance count saturation (eq. 4)."),
        tokenizer: str = typer.Option("words", help="kwls/tfidf: words, space or whitespace."),
        temperature: float = typer.Option(
            1.0, help="kwls/tfidf/teacher: softmax temperature (1 = paper / the teacher's own)."
        ),
        ilr_sum: str = typer.Option("distinct", help="kwls/tfidf: sum eq. 7 over distinct words or tokens."),
        tf: str = typer.Option("sublinear", help="tfidf: sublinear (1 + ln f) or raw term frequency."),
        epsilon: float = typer.Option(0.1, help="uniform/prior: smoothing mass."),
        convention: str = typer.Option("all", help="uniform: spread epsilon over all classes or others."),
        prior: str = typer.Option(
            "class-frequency", help="prior: class-frequency or comma-separated values."
        ),
        teacher: Path | None = typer.Option(
            None, "--teacher", help="teacher: the teacher's outputs for DATA (.npy or a table, see above)."
        ),
        teacher_kind: TeacherKind = typer.Option(
            TeacherKind.logits, "--teacher-kind", help="teacher: the file holds logits or probabilities."
        ),
        max_memory_gib: float | None = typer.Option(
            None,
            "--max-memory-gib",
            help=(
                "kwls/tfidf: the most memory (GiB) the soft labels may need: the output plus the largest "
                "temporary, checked before the transform starts (an error naming the batch size that "
                "fits, nothing written). Default: 80% of the memory available then."
            ),
        ),
        threads: int | None = typer.Option(
            None,
            "--threads",
            help="kwls/tfidf, --backend local: threads that count and smooth (default: every core).",
        ),
        save_model: Path | None = typer.Option(
            None,
            "--save-model",
            help="Also save the fitted generator (.npz + manifest; any method). `explain` reads kwls/tfidf.",
        ),
        backend: Backend = typer.Option(
            Backend.local,
            "--backend",
            help=(
                "kwls/tfidf: compute in this process (local) or on Ray (ray: per-shard counts summed, "
                "the same soft labels; needs the extra: pip install 'textsmooth\\[ray]')."
            ),
        ),
        address: str | None = typer.Option(
            None,
            "--address",
            help="--backend ray: the Ray cluster (auto, HOST:PORT, ray://HOST:PORT). Default: a local one.",
        ),
    ) -> None:
        from textsmooth.errors import ConfigError
        from textsmooth.io.paths import check_output_paths

        # 1. options, before reading anything
        _check_out_dir(output, out_dir, backend, [data, apply_to], text_col)
        check_output_paths({"-o": output, "--save-model": save_model}, inputs=[data, apply_to, teacher])
        check_writable({"-o": output, "--save-model": save_model, "--out-dir": out_dir})
        if save_model is not None and save_model.suffix.lower() != ".npz":
            raise ConfigError(
                f"{save_model}: a saved model is an .npz file",
                option="--save-model",
                hint="name it model.npz",
            )
        if method is Method.teacher and teacher is None:
            raise ConfigError("the teacher method needs the teacher's outputs", option="--teacher")
        if method is not Method.teacher and teacher is not None:
            raise ConfigError(
                f"only the teacher method reads a teacher file, not {method.value}", option="--teacher"
            )
        if max_memory_gib is not None and method.value not in ("kwls", "tfidf"):
            raise ConfigError(
                f"only kwls and tfidf take a memory limit, not {method.value}", option="--max-memory-gib"
            )
        if max_memory_gib is not None and not (math.isfinite(max_memory_gib) and max_memory_gib > 0):
            raise ConfigError(f"must be > 0, got {max_memory_gib}", option="--max-memory-gib")
        if threads is not None and (method.value not in ("kwls", "tfidf") or backend is not Backend.local):
            raise ConfigError(
                f"only kwls and tfidf on --backend local take a thread count, not {method.value} on "
                f"{backend.value}",
                option="--threads",
                hint="on Ray, each task uses the CPUs Ray gives it",
            )
        if threads is not None and threads < 1:
            raise ConfigError(f"must be >= 1, got {threads}", option="--threads")
        _check_backend(method.value, backend, address)
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
            teacher_kind=teacher_kind.value,
            max_memory_gib=max_memory_gib,
            threads=threads,
        )

        # 2. inputs
        rest = (id_col, file_format, columns)
        if out_dir is not None:  # --backend ray, kwls/tfidf (checked above)
            if data.is_dir() or (apply_to is not None and apply_to.is_dir()):
                if id_col is not None or file_format is not None or columns is not None:
                    raise ConfigError(
                        "--id-col, --format and --columns are for files, not for a folder", option="--out-dir"
                    )
            options = {"text_col": text_col, "label_col": label_col, "rest": rest}
            with (
                console.status(f"{method.value} on Ray into {out_dir}"),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                manifest, generator = _on_ray_sharded(generator, data, apply_to, out_dir, options, address)
            for warning in caught:
                err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
            if save_model is not None:
                from textsmooth.targets.saved import serialize_generator

                serialize_generator(generator).write(save_model)
                console.print(f"saved the fitted {method.value} generator to [bold]{save_model}[/]")
            parts, skipped = len(manifest["parts"]), len(manifest["skipped"])
            console.print(
                f"wrote [bold]{out_dir}[/] ({manifest['n_rows']:,} rows x {manifest['n_classes']} classes, "
                f"method {method.value}, {parts} parts"
                + (f", {skipped} already finished" if skipped else "")
                + ")"
            )
            return

        dataset = read_cli_dataset(str(data), text_col, label_col, *rest)
        fit_params: dict[str, Any] = {"n_classes": dataset.n_classes, "label_names": dataset.label_names}
        params = _json_params(generator)
        if teacher is not None:
            from textsmooth.io.manifest import sha256_file
            from textsmooth.io.readers import read_class_scores

            fit_params["teacher_outputs"] = read_class_scores(
                teacher,
                dataset.label_names,
                n_rows=len(dataset),
                ids=dataset.ids,
                probabilities=teacher_kind == "probs",
            )
            params |= {"teacher_file": str(teacher), "teacher_sha256": sha256_file(teacher)}
        target = dataset
        if apply_to is not None:
            options = {"text_col": text_col, "label_col": label_col, "rest": rest}
            target = _read_apply_dataset(apply_to, dataset, generator.needs_labels, options)

        # 3. fit and transform (every parameter is validated here, still before writing)
        with (
            console.status(f"fitting {method.value} on {len(dataset):,} rows"),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            if backend is Backend.ray:
                soft, generator = _on_ray(
                    generator, dataset, target if apply_to else None, fit_params, address
                )
            elif apply_to is None:
                soft = generator.fit_transform(dataset.texts, dataset.labels, **fit_params)
            else:
                generator.fit(dataset.texts, dataset.labels, **fit_params)
                if teacher is not None:
                    _check_teacher_covers(generator, target)
                soft = generator.transform(target.texts, target.labels)
        for warning in caught:
            err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
        saved = None
        if save_model is not None:
            from textsmooth.targets.saved import serialize_generator

            saved = serialize_generator(generator)

        # 4. write: soft labels, then the model; a failed model write takes the soft labels back
        from textsmooth.io.soft_labels import write_soft_labels

        write_soft_labels(
            output,
            soft,
            target,
            method=method.value,
            parameters=params,
            fitted_on=dataset.describe() if apply_to is not None else None,
        )
        if saved is not None:
            try:
                saved.write(save_model)  # type: ignore[arg-type]
            except BaseException:
                remove_artifact(output)
                raise
            console.print(f"saved the fitted {method.value} generator to [bold]{save_model}[/]")
        summary = (
            f"wrote [bold]{output}[/] ({len(target):,} rows x {soft.shape[1]} classes, method {method.value}"
            + (f", fitted on {data}" if apply_to is not None else "")
            + ")"
        )
        if target.labels is not None:
            agree = float((soft.argmax(axis=1) == target.labels).mean())
            summary += f"; soft-label argmax agrees with the hard label on {agree:.1%}"
        console.print(f"{summary}, mean top probability {float(soft.max(axis=1).mean()):.3f}")
