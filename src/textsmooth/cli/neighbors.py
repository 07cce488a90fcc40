"""``textsmooth neighbors``: related targets for seq2seq smoothing (build a table, show examples).

Every option is checked before anything is read, embedded or written, and an error names the option as
typed (``option --keep: ...``); the output path is checked with
:func:`textsmooth.io.paths.check_output_paths` (not an input, not a folder, not under a file).

``--backend ray`` (``--method semantic``) embeds, searches and re-ranks on Ray
(:func:`textsmooth.distributed.semantic_neighbors`): the current Ray instance, the cluster at
``--address``, or a local one started for the command and shut down after it. The table and its manifest
are those of the local backend (for ``--index hnsw`` the manifest also records the measured recall).
With it, TARGETS (and ``--sources``) may also be folders of ``.parquet`` / ``.jsonl`` files, read on the
driver in name order with the soft labels' readers (``--target-col``, ``--source-col``).
``--gpus-per-actor`` puts its encoder actors on GPUs; ``--device cuda`` is the local backend's GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from textsmooth.cli._common import console, friendly_errors, literal_enum
from textsmooth.cli.soft_labels import Backend
from textsmooth.sequence import choices


class _BuildByDefault(TyperGroup):
    """``textsmooth neighbors TARGETS ...`` means ``textsmooth neighbors build TARGETS ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


# option values come from the library's Literals (textsmooth.sequence.choices, no numpy: start-up stays fast)
Method = literal_enum("Method", choices.NeighborMethod)
PoolingOpt = literal_enum("PoolingOpt", choices.Pooling)
IndexOpt = literal_enum("IndexOpt", choices.Backend)
SideOpt = literal_enum("SideOpt", choices.EmbedSide)
DupOpt = literal_enum("DupOpt", choices.Duplicates)
PrecisionOpt = literal_enum("PrecisionOpt", choices.Precision)


neighbors_app = typer.Typer(
    cls=_BuildByDefault,
    no_args_is_help=True,
    help=(
        "Related targets for sequence-to-sequence label smoothing: embed the targets, take the k nearest "
        "neighbours, re-rank them by sentence BLEU, keep k' (semantic label smoothing, Algorithm 1).\n\n"
        "Examples:\n\n"
        "  textsmooth neighbors train.en -o neighbors.parquet --k 100 --keep 5 --bleu-order 4\n\n"
        "  textsmooth neighbors train.de --embed-side source --sources train.en -o de.parquet\n\n"
        "  textsmooth neighbors train.en -o neighbors.parquet --backend ray --address auto\n\n"
        "  textsmooth neighbors corpus/ --target-col en -o neighbors.parquet --backend ray   (a folder of "
        ".parquet/.jsonl files)\n\n"
        "  textsmooth neighbors show neighbors.parquet"
    ),
)


def _default_cache() -> Path:
    base = os.environ.get("TEXTSMOOTH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "textsmooth"
    )
    return Path(base) / "embeddings"


def _at_least(option: str, value: int | float | None, minimum: int | float) -> None:
    from textsmooth.errors import ConfigError

    if value is not None and value < minimum:
        raise ConfigError(f"must be at least {minimum}, got {value}", option=option)


def _check_folder(option: str, folder: Path, what: str, hint: str) -> None:
    """Refuse a folder path that is a file or lies under a file (before any work)."""
    from textsmooth.errors import ConfigError

    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file" if place == folder else f"is under {place}, which is a file"
                raise ConfigError(f"{what} {folder} {where}, not a folder", option=option, hint=hint)
            return


def _check_backend(method: Method, backend: Backend, address: str | None) -> None:
    """``--backend ray`` is for ``--method semantic`` and needs ray; ``--address`` needs ``--backend ray``."""
    from textsmooth import _extras
    from textsmooth.errors import ConfigError

    if backend is Backend.local:
        if address is not None:
            raise ConfigError("an address is for --backend ray", option="--address")
        return
    if method is not Method.semantic:
        raise ConfigError(f"only --method semantic runs on Ray, not {method.value}", option="--backend")
    if not _extras.installed("ray"):
        raise _extras.missing("ray", extra="ray", feature="textsmooth neighbors --backend ray")
    if address is not None and not address.strip():
        raise ConfigError("must not be empty", option="--address")


def _check_device_options(
    method: Method, backend: Backend, device: str, gpus_per_actor: float | None
) -> None:
    """``--device`` (a local encoder's, checked usable here) and ``--gpus-per-actor`` (``--backend ray``)."""
    import math

    from textsmooth.errors import ConfigError

    if gpus_per_actor is not None:
        if backend is not Backend.ray:
            raise ConfigError("is for --backend ray (GPUs of its encoder actors)", option="--gpus-per-actor",
                              hint="locally, use --device cuda")  # fmt: skip
        if not (math.isfinite(gpus_per_actor) and gpus_per_actor >= 0) or (
            gpus_per_actor > 1 and gpus_per_actor != int(gpus_per_actor)
        ):
            raise ConfigError(
                f"must be a number >= 0 (a fraction up to 1, or a whole number), got {gpus_per_actor}",
                option="--gpus-per-actor",
            )
    if device == "cpu":
        return
    from textsmooth.sequence.encoder import check_encoder_device, check_encoder_device_name

    check_encoder_device_name(device, option="--device")
    if method is not Method.semantic:
        raise ConfigError(
            "is only used with --method semantic (the baselines embed nothing)", option="--device"
        )
    if backend is Backend.ray:
        raise ConfigError(
            "is for --backend local: on Ray the encoder actors embed on GPUs with --gpus-per-actor",
            option="--device",
            hint="use --gpus-per-actor 1",
        )
    check_encoder_device(device, option="--device")


def _check_build_options(
    method: Method, k: int, keep: int, bleu_order: int, batch_size: int, threads: int | None,
    shard_size: int, train_batch: int, samples: int, tau: float, min_cosine: float | None,
) -> None:  # fmt: skip
    """Every numeric option of ``build``, checked up front; errors name the option as typed."""
    import math

    from textsmooth.errors import ConfigError

    for option, value, minimum in (
        ("--k", k, 1), ("--keep", keep, 1), ("--bleu-order", bleu_order, 0), ("--batch-size", batch_size, 1),
        ("--threads", threads, 1), ("--shard-size", shard_size, 1), ("--train-batch", train_batch, 1),
        ("--samples", samples, 1),
    ):  # fmt: skip
        _at_least(option, value, minimum)
    if method is Method.semantic and keep > k:
        raise ConfigError(
            f"{keep} is larger than --k {k}", option="--keep",
            hint="k' related targets are kept out of the k retrieved: use --keep <= --k",
        )  # fmt: skip
    if method is Method.token_swap and bleu_order == 0:
        raise ConfigError(
            "token-swap ranks its copies by BLEU, so it needs --bleu-order >= 1",
            option="--bleu-order",
            hint="0 means no re-ranking, for --method semantic and within-batch only",
        )
    if not (math.isfinite(tau) and tau > 0):
        raise ConfigError(f"must be a positive number, got {tau}", option="--tau")
    if min_cosine is not None:
        if not (math.isfinite(min_cosine) and -1.0 <= min_cosine <= 1.0):
            raise ConfigError(f"must be a cosine in [-1, 1], got {min_cosine}", option="--min-cosine")
        if method is not Method.semantic:
            raise ConfigError("is only used with --method semantic", option="--min-cosine")


def _check_folder_inputs(
    targets: Path,
    sources: Path | None,
    output: Path,
    method: Method,
    backend: Backend,
    target_col: str | None,
    source_col: str | None,
) -> None:
    """Folders of ``.parquet`` / ``.jsonl`` files are read by ``--method semantic --backend ray``, with
    ``--target-col`` / ``--source-col`` (which are for folders only); ``-o`` must lie outside them."""
    from textsmooth.errors import ConfigError

    for option, path, column_option, column in (
        ("TARGETS", targets, "--target-col", target_col),
        ("--sources", sources, "--source-col", source_col),
    ):
        if path is None or not path.is_dir():
            if column is not None:
                what = (
                    "no --sources given" if path is None else f"{path} is a text file (one sentence a line)"
                )
                raise ConfigError(f"is for a folder of .parquet/.jsonl files; {what}", option=column_option)
            continue
        if method is not Method.semantic or backend is not Backend.ray:
            raise ConfigError(
                f"{option} {path} is a folder: folders of .parquet/.jsonl files are read with "
                "--method semantic --backend ray",
                option="--backend",
                hint="add --backend ray, or give a text file with one sentence a line",
            )
        if output.resolve().is_relative_to(path.resolve()):
            raise ConfigError(
                f"{output} is inside the input folder {path}",
                option="-o",
                hint="write the table outside the data folder (a next run would read it as data)",
            )


def _read_texts(path: Path, column: str | None, default: str, option: str) -> list[str]:
    """The sentences of a text file (one a line), or of a folder's column (the library's reader and
    checks: :func:`textsmooth.distributed.semantic_neighbors` reads a folder the same way)."""
    from textsmooth.sequence.data import read_lines

    if not path.is_dir():
        return read_lines(path)
    from textsmooth.distributed.neighbors import read_text_source

    return read_text_source(path, column or default, option=option)


@neighbors_app.command("build")
@friendly_errors
def build(
    targets: Path = typer.Argument(
        ...,
        help="Target sentences, one per line (.gz read too); with --backend ray also a folder of "
        ".parquet/.jsonl files (read in name order, column --target-col).",
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Neighbour table to write (.parquet)."),
    k: int = typer.Option(100, "--k", help="Neighbours retrieved by cosine."),
    keep: int = typer.Option(5, "--keep", help="Neighbours kept after BLEU re-ranking (k')."),
    bleu_order: int = typer.Option(
        4,
        "--bleu-order",
        help="BLEU-n for re-ranking; 0 = no re-ranking (semantic: cosine order, within-batch: batch order). "
        "token-swap ranks its copies by BLEU and refuses 0.",
    ),
    method: Method = typer.Option(Method.semantic, "--method", help="semantic (the paper) or a baseline."),
    model: Path | None = typer.Option(
        None, "--model", help="Local sentence encoder folder (default MiniLM)."
    ),
    pooling: PoolingOpt = typer.Option(
        PoolingOpt.mean, "--pooling", help="mean (MiniLM) or cls (the paper)."
    ),
    precision: PrecisionOpt = typer.Option(
        PrecisionOpt.fp32,
        "--precision",
        help="Encoder precision: fp32 (default; vectors do not depend on the batch or the CPU) or bf16 "
        "(opt-in, faster on CPUs with native bf16; recorded in the cache key and the manifest).",
    ),
    device: str = typer.Option(
        "cpu",
        "--device",
        help="Encoder device (--backend local): cpu (default), cuda or cuda:N. GPU vectors are not "
        "bit-identical to CPU ones; the cache key and the manifest record the device.",
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Sentences per encoder batch."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: cores - 1, >= 1)."),
    embed_side: SideOpt = typer.Option(SideOpt.target, "--embed-side", help="Embed targets or sources."),
    sources: Path | None = typer.Option(
        None, "--sources", help="Aligned sources (for --embed-side source): a file, or a folder like TARGETS."
    ),
    target_col: str | None = typer.Option(
        None, "--target-col", help="--backend ray, TARGETS a folder: its text column (default target)."
    ),
    source_col: str | None = typer.Option(
        None, "--source-col", help="--backend ray, --sources a folder: its text column (default source)."
    ),
    index: IndexOpt = typer.Option(IndexOpt.flat, "--index", help="flat (exact), hnsw or brute."),
    duplicates: DupOpt = typer.Option(DupOpt.normalized, "--duplicates", help="What counts as a duplicate."),
    min_cosine: float | None = typer.Option(
        None,
        "--min-cosine",
        help="Drop kNN candidates with a lower cosine before re-ranking (e.g. 0.3); a target may then keep "
        "fewer than k' related targets (counted in the summary and the manifest).",
    ),
    shard_size: int = typer.Option(8192, "--shard-size", help="Targets per resumable shard."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not keep embeddings after the run."),
    with_text: bool = typer.Option(True, "--with-text/--no-text", help="Store neighbour texts in the table."),
    train_batch: int = typer.Option(64, "--train-batch", help="within-batch: mini-batch size."),
    samples: int = typer.Option(5, "--samples", help="token-swap: copies per target."),
    tau: float = typer.Option(0.5, "--tau", help="token-swap: temperature of the number of swaps."),
    seed: int = typer.Option(0, "--seed", help="Seed (within-batch, token-swap)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    backend: Backend = typer.Option(
        Backend.local,
        "--backend",
        help="semantic: compute in this process (local) or on Ray (ray: encoder actors, one task per "
        "shard; the same table; needs the extra: pip install 'textsmooth\\[ray]').",
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="--backend ray: the Ray cluster (auto, HOST:PORT, ray://HOST:PORT). Default: a local one.",
    ),
    gpus_per_actor: float | None = typer.Option(
        None,
        "--gpus-per-actor",
        help="--backend ray: GPUs per encoder actor (1, or a fraction such as 0.5); the actors then embed "
        "on GPUs (kNN and BLEU stay on CPUs). A cluster with fewer GPUs is refused.",
    ),
) -> None:
    """Build a neighbour table (the default command: `textsmooth neighbors TARGETS -o table.parquet`)."""
    import time
    import warnings

    from textsmooth.errors import ConfigError
    from textsmooth.io.paths import check_output_paths

    started = time.perf_counter()
    # checks first: nothing is read, embedded or written before every option is known to be usable
    _check_build_options(method, k, keep, bleu_order, batch_size, threads, shard_size, train_batch, samples,
                         tau, min_cosine)  # fmt: skip
    _check_backend(method, backend, address)
    _check_device_options(method, backend, device, gpus_per_actor)
    _check_folder_inputs(targets, sources, output, method, backend, target_col, source_col)
    if method is Method.semantic:
        if embed_side is SideOpt.source and sources is None:
            raise ConfigError("--embed-side source needs --sources FILE (aligned source sentences)",
                              option="--sources")  # fmt: skip
        if embed_side is SideOpt.target and sources is not None:
            raise ConfigError("is only used with --embed-side source", option="--sources")
        if no_cache and cache_dir is not None:
            raise ConfigError("--cache-dir and --no-cache contradict each other", option="--no-cache")
    check_output_paths({"-o": output}, inputs=[targets, sources])
    work = output.with_name(output.name + ".work")
    if method is Method.semantic:
        _check_folder("-o", work, "work folder", "remove that file, or choose another output name")
        if not no_cache:
            cache_hint = "give a folder" if cache_dir else "set TEXTSMOOTH_CACHE or pass --cache-dir FOLDER"
            _check_folder("--cache-dir", cache_dir or _default_cache(), "embedding cache folder", cache_hint)
    texts = _read_texts(targets, target_col, "target", "--target-col")
    inputs: dict[str, Any] = {"targets_path": str(targets.resolve())}
    if targets.is_dir():
        inputs["targets_column"] = target_col or "target"
    if method is not Method.semantic:
        table, params = _baseline(method, texts, train_batch, samples, tau, seed, bleu_order, keep)
        table.write(output, kind_detail=method.value, parameters=params, texts=texts, inputs=inputs)
        console.print(f"wrote {len(table)} rows for {len(texts)} targets to {output}", highlight=False)
        return

    from textsmooth.sequence.encoder import SentenceEncoder
    from textsmooth.sequence.neighbors import SemanticNeighbors

    src = None
    if sources is not None:
        src = _read_texts(sources, source_col, "source", "--source-col")
        if len(src) != len(texts):
            raise ConfigError(
                f"{sources} has {len(src)} {'rows' if sources.is_dir() else 'lines'}, {targets} has "
                f"{len(texts)}; they must be aligned",
                option="--sources",
            )
        inputs["sources_path"] = str(sources.resolve())
        if sources.is_dir():
            inputs["sources_column"] = source_col or "source"
    encoder = SentenceEncoder(
        model,
        pooling=pooling.value,
        batch_size=batch_size,
        num_threads=threads,
        precision=precision.value,
        device=device,
    )
    options: dict[str, Any] = {
        "k": k,
        "keep": keep,
        "bleu_order": bleu_order or None,
        "encoder": encoder,
        "index": index.value,
        "embed_side": embed_side.value,
        "duplicates": duplicates.value,
        "shard_size": shard_size,
        "num_threads": threads,
        "with_text": with_text,
        "min_cosine": min_cosine,
    }
    cache = work if no_cache else (cache_dir or _default_cache())
    fit_args = {"sources": src, "work_dir": work, "cache_dir": cache, "progress": not quiet}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if backend is Backend.ray:
            sn = _on_ray(texts, fit_args, options, address, gpus_per_actor or 0)
        else:
            sn = SemanticNeighbors(**options).fit(texts, **fit_args)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}", highlight=False)
    t0 = time.perf_counter()
    sn.write(output, texts, inputs=inputs)
    write_s = time.perf_counter() - t0
    SemanticNeighbors.clean_work(work)
    _print_summary(sn, output, len(texts), write_s, time.perf_counter() - started)


def _on_ray(
    texts: list[str], fit_args: dict[str, Any], options: dict[str, Any], address: str | None, gpus: float
) -> Any:
    """The fitted ``SemanticNeighbors`` of :func:`textsmooth.distributed.semantic_neighbors` (``gpus``
    per encoder actor); a Ray instance started here is shut down at the end."""
    from textsmooth.distributed import _ray
    from textsmooth.distributed.neighbors import semantic_neighbors

    ray = _ray.require_ray("textsmooth neighbors --backend ray")
    started = not ray.is_initialized()
    try:
        _, sn = semantic_neighbors(
            texts, **fit_args, **options, return_fitted=True, address=address, gpus_per_actor=gpus
        )
        return sn
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def _baseline(
    method: Method,
    texts: list[str],
    train_batch: int,
    samples: int,
    tau: float,
    seed: int,
    order: int,
    keep: int,
) -> tuple[Any, dict[str, Any]]:
    from textsmooth.sequence.baselines import TokenSwapTargets, WithinBatchTargets

    if method is Method.within_batch:
        gen: Any = WithinBatchTargets(train_batch, bleu_order=order or None, keep=keep, seed=seed)
    else:
        gen = TokenSwapTargets(samples, tau=tau, bleu_order=order, keep=keep, seed=seed)  # 0 refused up front
    gen.fit(texts)
    return gen.table_, gen.get_params()


def _print_summary(sn: Any, output: Path, n: int, write_s: float, total_s: float) -> None:
    from rich.table import Table

    enc = sn.encoder_info_
    console.print(
        f"wrote {len(sn.table_)} rows ({n} targets, {len(sn.first_rows_)} distinct; k={sn.k_}, "
        f"k'={sn.keep_}, BLEU-{sn.bleu_order or 'none'}) to {output}",
        highlight=False,
    )
    below, without = sn.short_rows_
    if below:
        why = f"--min-cosine {sn.min_cosine}" if sn.min_cosine is not None else "the corpus size"
        console.print(
            f"{below} targets have fewer than k'={sn.keep_} related targets ({without} have none), "
            f"because of {why}",
            highlight=False,
        )
    recall = getattr(sn, "knn_recall_", None)
    if recall is not None and recall.get("recall") is not None:
        console.print(
            f"{sn.index} recall@{recall['k']} against exhaustive search: {recall['recall']:.4f} "
            f"({recall['queries']} sampled targets)",
            highlight=False,
        )
    device = f"dev={enc['device']}|" if "device" in enc else ""  # a GPU's (CPU runs record no device)
    console.print(
        f"signature: model={_short(enc.get('model'))}|pool={enc.get('pooling')}|"
        f"prec={enc.get('precision')}|{device}index={sn.index}|dup={sn.duplicates}|side={sn.embed_side}|"
        f"mincos={sn.min_cosine if sn.min_cosine is not None else 'none'}|"
        f"fp={str(enc.get('fingerprint'))[:12]}",
        highlight=False,
    )
    table = Table(title="time per stage (s)")
    for name in ("embed", "index", "knn", "rerank", "assemble"):
        table.add_column(name, justify="right")
    table.add_column("write", justify="right")
    table.add_column("total", justify="right")
    table.add_row(*[f"{sn.timings_[s]:.2f}" for s in ("embed", "index", "knn", "rerank", "assemble")],
                  f"{write_s:.2f}", f"{total_s:.2f}")  # fmt: skip
    console.print(table)


@neighbors_app.command("show")
@friendly_errors
def show(
    table_path: Path = typer.Argument(..., help="A neighbour table written by `textsmooth neighbors`."),
    targets: Path | None = typer.Option(
        None, "--targets", help="Targets file or folder (default: the one recorded in the table)."
    ),
    n: int = typer.Option(3, "-n", help="How many targets to show."),
    ids: list[int] | None = typer.Option(None, "--id", help="Show these target rows (0-based)."),
    top: int = typer.Option(2, "--top", help="Related targets per example."),
    seed: int = typer.Option(0, "--seed", help="Seed for picking examples."),
) -> None:
    """Print examples like the paper's Table 1: a target and its best related targets."""
    import numpy as np

    from textsmooth.errors import ConfigError, InputError
    from textsmooth.sequence.table import NeighborTable

    if n < 1:
        raise ConfigError(f"must be at least 1, got {n}", option="-n")
    if top < 1:
        raise ConfigError(f"must be at least 1, got {top}", option="--top")
    if table_path.is_dir():
        raise InputError("is a folder, not a neighbour table", path=table_path)
    table = NeighborTable.read(table_path)
    params = table.meta.get("parameters", {})
    inputs = table.meta.get("inputs", {})
    path = targets or inputs.get("targets_path")
    if path is None or not Path(path).exists():
        raise InputError("cannot find the targets", path=path, hint="pass --targets FILE (or FOLDER)")
    # a table built from a folder (--backend ray) records its column; read it as the build did
    texts = _read_texts(Path(path), inputs.get("targets_column"), "target", "--targets")
    table = NeighborTable.read(table_path, texts=texts)  # refuses a table of other targets
    lists = table.related_texts(texts)
    with_related = [t for t in range(table.n_targets) if lists[t]]
    if ids:
        chosen = list(ids)
        for t in chosen:
            if not 0 <= t < table.n_targets:
                raise ConfigError(f"{t} is not a target row (0..{table.n_targets - 1})", option="--id")
    else:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(with_related, size=min(n, len(with_related)), replace=False).tolist())
    generator = params.get("generator")
    if generator == "semantic":
        detail = (
            f"k={params.get('k_effective')} k'={params.get('keep_effective')} "
            f"BLEU-{params.get('bleu_order') or 'none'}"
        )
    else:
        detail = ", ".join(f"{key}={value}" for key, value in params.items() if key != "generator")
    console.print(
        f"{table_path}: {generator} | {detail} | {table.n_targets} targets, {len(table)} rows",
        highlight=False,
    )
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}
    starts = np.zeros(table.n_targets + 1, dtype=np.int64)
    np.cumsum(np.bincount(table.target_id, minlength=table.n_targets), out=starts[1:])
    for t in chosen:
        console.print(f"\n[bold]Orig ({t}):[/] {texts[t]}", highlight=False)
        for j, text in enumerate(lists[t][:top]):
            row = starts[t] + j
            score = f"BLEU {table.bleu[row]:.1f}" if np.isfinite(table.bleu[row]) else ""
            cos = f"cos {table.cosine[row]:.3f}" if np.isfinite(table.cosine[row]) else ""
            detail = ", ".join(x for x in (score, cos) if x)
            console.print(
                f"  {ordinal.get(j + 1, f'{j + 1}th')}: {text}  [dim]({detail})[/]", highlight=False
            )


def register(app: typer.Typer) -> None:
    """Add the ``neighbors`` command group to the root app."""
    app.add_typer(neighbors_app, name="neighbors")


def _short(path: Any) -> str:
    p = Path(str(path))
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name
