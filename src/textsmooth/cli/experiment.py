"""``textsmooth experiment run|check`` and ``textsmooth report``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer

from textsmooth.cli._common import console, friendly_errors
from textsmooth.cli.soft_labels import Backend


def register(app: typer.Typer) -> None:
    experiment = typer.Typer(
        help=(
            "Run experiment recipes (YAML) that mirror the KWLS paper's tables.\n\n"
            "Examples:\n\n"
            "  textsmooth experiment check recipes/imdb-textcnn-balanced.yaml\n\n"
            "  textsmooth experiment run recipes/ci-tiny.yaml -o runs/ci-tiny\n\n"
            "  textsmooth report runs/ci-tiny"
        ),
        no_args_is_help=True,
    )
    app.add_typer(experiment, name="experiment")

    @experiment.command("check", help="Validate a recipe and list its runs, without training anything.")
    @friendly_errors
    def check(recipe: Path = typer.Argument(..., help="Recipe file (.yaml).")) -> None:
        from textsmooth.experiments.autoencoder import is_autoencoder_recipe
        from textsmooth.experiments.recipe import load_recipe
        from textsmooth.experiments.runner import load_recipe_data
        from textsmooth.experiments.seq2seq import is_seq2seq_recipe

        if is_seq2seq_recipe(recipe):
            _check_seq2seq(recipe)
            return
        if is_autoencoder_recipe(recipe):
            _check_autoencoder(recipe)
            return

        parsed = load_recipe(recipe)
        train, test = load_recipe_data(parsed)
        runs = parsed.runs(label_names=train.label_names)
        console.print(f"[bold]{parsed.name}[/]: {parsed.setting}, budget: {parsed.budget}")
        console.print(f"data: {len(train):,} training and {len(test):,} test rows, {train.n_classes} classes")
        _print_row_seeds((run.method_label, run.seed) for run in runs)
        console.print(f"{len(runs)} runs, e.g. {runs[0].run_id}")

    @experiment.command(
        "run",
        help=(
            "Run every run of a recipe that has no result yet (resumable).\n\n"
            "Examples:\n\n"
            "  textsmooth experiment run recipes/ci-tiny.yaml -o runs/ci-tiny --jobs 2\n\n"
            "  textsmooth experiment run recipes/trec-noise.yaml -o runs/noise --seeds 0\n\n"
            "  textsmooth experiment run recipes/trec-noise.yaml -o /shared/runs/noise --backend ray "
            "--address auto"
        ),
    )
    @friendly_errors
    def run(
        recipe: Path = typer.Argument(..., help="Recipe file (.yaml)."),
        out: Path = typer.Option(..., "-o", "--out", help="Run directory (results, checkpoints, report)."),
        progress: bool = typer.Option(True, help="Show progress bars (with --jobs 1)."),
        report: bool = typer.Option(True, help="Write the HTML report at the end."),
        seeds: str | None = typer.Option(
            None,
            help="Run only these of the recipe's seeds (comma-separated), a smaller grid than the recipe's.",
        ),
        jobs: int = typer.Option(
            1,
            "--jobs",
            "-j",
            min=1,
            help="Trainings run at once, each in its own process with one torch thread; same results.",
        ),
        backend: Backend = typer.Option(
            Backend.local,
            "--backend",
            help="Train here (local: --jobs processes) or on Ray (ray: one task per training, with the "
            "recipe's resources; the same records; needs the extra: pip install 'textsmooth\\[ray]').",
        ),
        address: str | None = typer.Option(
            None,
            "--address",
            help="--backend ray: the Ray cluster (auto, HOST:PORT, ray://HOST:PORT). Default: a local one. "
            "The run folder must be on a file system every node shares.",
        ),
    ) -> None:
        from textsmooth.errors import ConfigError
        from textsmooth.experiments.autoencoder import is_autoencoder_recipe, load_autoencoder_recipe
        from textsmooth.experiments.recipe import load_recipe
        from textsmooth.experiments.report import build_report
        from textsmooth.experiments.runner import check_run_dir, run_recipe
        from textsmooth.experiments.seq2seq import is_seq2seq_recipe, load_seq2seq_recipe

        check_run_dir(out, option="-o")
        _check_backend(backend, address, jobs)
        seq2seq = is_seq2seq_recipe(recipe)
        autoencoder = is_autoencoder_recipe(recipe)
        if autoencoder:
            parsed: Any = load_autoencoder_recipe(recipe)
        else:
            parsed = load_seq2seq_recipe(recipe) if seq2seq else load_recipe(recipe)
        chosen = None
        if seeds is not None:
            try:
                values = [int(x) for x in seeds.split(",") if x.strip()]
            except ValueError as exc:
                raise ConfigError(
                    f"seeds must be comma-separated integers, got {seeds!r}", option="--seeds"
                ) from exc
            chosen = parsed.check_seeds(values, option="--seeds")
        console.print(f"[bold]{parsed.name}[/] (budget: {parsed.budget}) -> {out}")
        if autoencoder:
            from textsmooth.experiments.autoencoder import run_autoencoder_recipe as run_any
            from textsmooth.experiments.autoencoder_report import build_autoencoder_report as build_any
        elif seq2seq:
            from textsmooth.experiments.seq2seq import run_seq2seq_recipe as run_any
            from textsmooth.experiments.seq2seq_report import build_seq2seq_report as build_any
        else:
            run_any, build_any = run_recipe, build_report
        with _executor(backend, parsed, address) as executor:
            records = run_any(
                parsed, out, seeds=chosen, jobs=jobs, executor=executor, progress=progress, log=console.print
            )
        planned = [r for r in _planned_runs(recipe)[1] if chosen is None or r.seed in chosen]
        skipped = len(planned) - len(records)
        again = f"; {skipped} skipped (see above): run again once the other process is done"
        console.print(f"{len(records)} of {len(planned)} runs finished" + (again if skipped else ""))
        if report:
            console.print(f"report: [bold]{build_any(out)}[/]")

    @experiment.command(
        "status",
        help="Show which runs of a recipe are finished, started (epochs so far) or waiting in a run folder, "
        "and which process is training a run now; trains, locks and writes nothing.\n\nExample:\n\n"
        "  textsmooth experiment status recipes/multi30k-de-en.yaml -o docs/results/runs/multi30k-de-en",
    )
    @friendly_errors
    def status(
        recipe: Path = typer.Argument(..., help="Recipe file (.yaml)."),
        out: Path = typer.Option(..., "-o", "--out", help="Run directory of `experiment run`."),
    ) -> None:
        from textsmooth.errors import ConfigError
        from textsmooth.experiments.records import format_duration
        from textsmooth.experiments.status import remaining_seconds, remaining_wall_seconds, run_states

        if not out.is_dir():
            raise ConfigError("is not a run folder (no such folder)", option="-o", path=out)
        name, runs = _planned_runs(recipe)
        states = run_states(out, runs)
        for s in states:
            score = "" if s.score is None else f", {s.score}"
            if s.state == "finished":
                what = f"finished ({s.epochs_done} epochs, {format_duration(s.seconds)}{score})"
            elif s.state == "started":
                within = ""
                if s.batches is not None:
                    within = f", epoch {s.epochs_done + 1} at batch {s.batches[0]} of {s.batches[1]}"
                what = (
                    f"started: {s.epochs_done} of {s.run.epochs} epochs{within} "
                    f"({format_duration(s.seconds)} so far{score})"
                )
            else:
                what = "waiting"
            if s.holder is not None:
                what += f"; training now (process {s.holder})"
            console.print(f"{s.run.run_id}: {what}", highlight=False, soft_wrap=True)
        count = {k: sum(s.state == k for s in states) for k in ("finished", "started", "waiting")}
        spent = sum(s.seconds for s in states)
        console.print(
            f"[bold]{name}[/]: {count['finished']} of {len(states)} runs finished, "
            f"{count['started']} started, {count['waiting']} waiting; "
            f"{format_duration(spent)} of run time so far",
            soft_wrap=True,
        )
        left = remaining_seconds(states)
        if left is not None and count["finished"] < len(states):
            console.print(
                f"about {format_duration(left)} of training left at the epoch times measured so far (one "
                "run at a time; at most: early stopping may end runs sooner)",
                soft_wrap=True,
            )
            wall = remaining_wall_seconds(states)
            processes = len({s.holder for s in states if s.holder is not None})
            if wall is not None and processes > 1:
                console.print(
                    f"about {format_duration(wall)} of wall time with the {processes} processes training "
                    "now, each taking the next waiting run when its run ends",
                    soft_wrap=True,
                )

    @app.command(
        "report",
        help="Write RUN_DIR/report.html (self-contained) and RUN_DIR/results.md from a recipe run.\n\n"
        "Example:\n\n  textsmooth report runs/ci-tiny",
    )
    @friendly_errors
    def report_command(
        run_dir: Path = typer.Argument(..., help="Run directory of `textsmooth experiment run`."),
        examples: bool = typer.Option(True, help="Include test examples with KWLS soft labels."),
    ) -> None:
        from textsmooth.experiments.autoencoder import is_autoencoder_run_dir
        from textsmooth.experiments.report import build_report
        from textsmooth.experiments.seq2seq import is_seq2seq_run_dir

        if is_autoencoder_run_dir(run_dir):
            from textsmooth.experiments.autoencoder_report import build_autoencoder_report

            console.print(f"wrote [bold]{build_autoencoder_report(run_dir)}[/]")
            return
        if is_seq2seq_run_dir(run_dir):
            from textsmooth.experiments.seq2seq_report import build_seq2seq_report

            console.print(f"wrote [bold]{build_seq2seq_report(run_dir)}[/]")
            return
        console.print(f"wrote [bold]{build_report(run_dir, examples=examples)}[/]")


def _check_backend(backend: Backend, address: str | None, jobs: int) -> None:
    """``--address`` needs ``--backend ray``, which needs ray and takes no ``--jobs``."""
    from textsmooth import _extras
    from textsmooth.errors import ConfigError

    if backend is Backend.local:
        if address is not None:
            raise ConfigError("an address is for --backend ray", option="--address")
        return
    if jobs != 1:
        raise ConfigError(
            "is for --backend local",
            option="--jobs",
            hint="on Ray every training is a task; the cluster's CPUs and the recipe's resources set how "
            "many run at once",
        )
    if not _extras.installed("ray"):
        raise _extras.missing("ray", extra="ray", feature="textsmooth experiment run --backend ray")
    if address is not None and not address.strip():
        raise ConfigError("must not be empty", option="--address")


@contextlib.contextmanager
def _executor(backend: Backend, recipe: Any, address: str | None) -> Iterator[Any]:
    """``None`` (the runners' local path) or a ``RayExecutor`` with the recipe's resources; a Ray
    instance started for it is shut down at the end."""
    if backend is Backend.local:
        yield None
        return
    from textsmooth.distributed import _ray
    from textsmooth.distributed.executor import RayExecutor

    ray = _ray.require_ray("textsmooth experiment run --backend ray")
    started = not ray.is_initialized()
    try:
        with RayExecutor.for_recipe(recipe, address=address) as executor:
            yield executor
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def _planned_runs(recipe: Path) -> tuple[str, list[Any]]:
    """The recipe's name and every run it plans, as :class:`~textsmooth.experiments.status.PlannedRun`."""
    from textsmooth.experiments.autoencoder import is_autoencoder_recipe, load_autoencoder_recipe
    from textsmooth.experiments.recipe import load_recipe
    from textsmooth.experiments.runner import load_recipe_data
    from textsmooth.experiments.seq2seq import is_seq2seq_recipe, load_seq2seq_recipe
    from textsmooth.experiments.status import PlannedRun

    if is_seq2seq_recipe(recipe):
        parsed: Any = load_seq2seq_recipe(recipe)
        plan = [PlannedRun(r.run_id, r.method_label, r.seed, r.config.epochs) for r in parsed.runs()]
    elif is_autoencoder_recipe(recipe):
        parsed = load_autoencoder_recipe(recipe)
        plan = [
            PlannedRun(parsed.run_id(row, seed), parsed.label(row), seed, parsed.config(row, seed).epochs)
            for row, seed in parsed.runs()
        ]
    else:
        parsed = load_recipe(recipe)
        train, _ = load_recipe_data(parsed)  # the data variants need the class names
        plan = [
            PlannedRun(r.run_id, r.method_label, r.seed, r.config.epochs)
            for r in parsed.runs(label_names=train.label_names)
        ]
    return str(parsed.name), plan


def _check_seq2seq(recipe: Path) -> None:
    """``experiment check`` of a seq2seq recipe: its data per pair, its tables and its runs."""
    from textsmooth.experiments.seq2seq import check_seq2seq_recipe, load_seq2seq_recipe

    parsed = load_seq2seq_recipe(recipe)
    data, runs = check_seq2seq_recipe(parsed)
    console.print(f"[bold]{parsed.name}[/]: seq2seq, budget: {parsed.budget}")
    for pair, (train, val, test) in data.items():
        console.print(
            f"{pair}: {len(train):,} training, {len(val):,} validation and {len(test):,} test pairs"
        )
    for table in parsed.tables():
        console.print(f"table {table.pair}/{table.name}: {table.params}")
    _print_row_seeds((run.method_label, run.seed) for run in runs)
    console.print(f"{len(runs)} runs, e.g. {runs[0].run_id}")


def _print_row_seeds(runs: Iterable[tuple[str, int]]) -> None:
    """One line per method row (first-seen order) with the seeds it runs: ``row semantic: seeds 0, 1``."""
    seeds: dict[str, set[int]] = {}
    for label, seed in runs:
        seeds.setdefault(label, set()).add(seed)
    for label, values in seeds.items():
        numbers = ", ".join(map(str, sorted(values)))
        console.print(f"row {label}: seed{'s' * (len(values) > 1)} {numbers}", highlight=False)


def _check_autoencoder(recipe: Path) -> None:
    """``experiment check`` of an autoencoder recipe: its sentences, its tables and its runs."""
    from textsmooth.experiments.autoencoder import load_autoencoder_data, load_autoencoder_recipe

    parsed = load_autoencoder_recipe(recipe)
    data = load_autoencoder_data(parsed)
    console.print(f"[bold]{parsed.name}[/]: autoencoder, budget: {parsed.budget}")
    console.print(
        f"{len(data.train):,} training, {len(data.val):,} validation and {len(data.test):,} test sentences"
    )
    for top_n, normalized in parsed.tables():
        console.print(f"similarity table: top {top_n}, {'normalised' if normalized else 'raw similarities'}")
    runs = parsed.runs()
    _print_row_seeds((parsed.label(row), seed) for row, seed in runs)
    console.print(f"{len(runs)} runs, e.g. {parsed.run_id(*runs[0])}")
