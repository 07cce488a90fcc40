"""Run a recipe: every (data variant, model, method, seed) run, resumable, results as JSON + NPZ.

Layout of a run directory::

    RUN_DIR/recipe.yaml            copy of the recipe
    RUN_DIR/manifest.json          library and package versions, recipe name, data description
    RUN_DIR/runs/<run_id>/         metrics.jsonl, checkpoint.pt and timing.json of a run in progress
    RUN_DIR/runs/<run_id>.lock     held by the process training the run (:func:`train_claimed`)
    RUN_DIR/results/<run_id>.json  finished run: spec, test metrics, dev history, seconds
    RUN_DIR/results/<run_id>.npz   its test probabilities and labels (for significance tests)

Protocol (the KWLS paper's): the training split is divided 3:1 into train/dev (stratified, seeded by
the run's seed), the test split is untouched, and every smoothing method sees the training part only.
Data variants change the training (and dev) part only:

* ``minority=c``: class ``c`` under-sampled to ``1/ratio`` of its size (Table 4);
* ``c=k``: the first ``k`` classes other than ``keep`` at ``1/ratio``; ``m=n``: every class other than
  ``keep`` cut to ``n`` training rows (Table 5 / Figure 1); dev classes shrink in the same proportion,
  keeping at least one row;
* ``noise=r``: training and dev labels flipped at rate ``r`` (symmetric by default), test labels clean;
* ``teacher=M``: a teacher trained with method ``M``; the run's model is a student trained on the
  teacher's probabilities at the recipe's temperature (Mueller et al. 2019's distillation caveat).

A finished run is never recomputed; an interrupted one resumes from its checkpoint. Each finished
training is written atomically as it finishes (the ``.npz``, then the ``.json`` that marks it finished),
so an interrupted run (Ctrl-C, a crash) leaves no partial record. A record's ``seconds`` is the time of
that training alone, summed over the sessions it took: the time up to its last checkpoint before an
interruption, plus the time after the resume (``timing.json`` keeps the account). The total of a
recipe is therefore about the same whether or not it was interrupted.

Parallel runs (``jobs > 1``): that many trainings at once, each in a worker process started with the
``spawn`` method (never ``fork`` once torch is loaded) and limited to one torch thread; every run is
seeded by its own configuration, so the results are those of ``jobs=1`` (only timings differ). An
LS-Distill row waits for the hard-label run it takes its teacher from, as a sequential run would.

Any other executor (``executor=``, a :class:`concurrent.futures.Executor`) runs the trainings the same
way: the runners of all three recipe kinds submit the same worker functions to it, e.g.
:class:`textsmooth.distributed.executor.RayExecutor` (``experiment run --backend ray``), whose tasks set
torch's threads to their CPUs. :func:`local_pool` is the ``jobs > 1`` executor; :func:`worker_threads`
is what a worker function gives its training.

Two ``experiment run`` processes may share a run folder (e.g. one per seed, or a second one started to
use more cores): each training runs under an exclusive claim on its run (:func:`train_claimed`), so a
process skips a run another one is training now, and takes the other's record where it finished in
the meantime; a run is never trained twice at once, and a crashed process's claim ends with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from textsmooth._version import __version__
from textsmooth.errors import ConfigError, DataError, InputError
from textsmooth.experiments.recipe import Recipe, RunSpec
from textsmooth.experiments.records import (
    ExampleRow,
    RunRecord,
    format_duration,
    read_result,
    write_examples,
    write_result,
)
from textsmooth.experiments.settings import SETTINGS, minority_metrics
from textsmooth.io.atomic import atomic_path, atomic_write_text, claim
from textsmooth.io.readers import TextDataset, read_dataset
from textsmooth.io.splits import stratified_sample, stratified_split

__all__ = [
    "RunContext",
    "check_run_dir",
    "format_duration",
    "load_recipe_data",
    "local_pool",
    "prepare_run_data",
    "read_result",
    "register_run_handler",
    "run_recipe",
    "train_claimed",
    "training_executor",
    "worker_threads",
]


_Record = TypeVar("_Record")

SKIPPED_BUSY = "skipped: another process is training it now"
"""What the runners log for a run :func:`train_claimed` skipped."""


def train_claimed(
    out: Path, run_id: str, finished: Callable[[], _Record | None], train: Callable[[], _Record]
) -> _Record | None:
    """Train run ``run_id`` of the run folder ``out`` under its claim (``out/runs/<run_id>.lock``,
    :func:`~textsmooth.io.atomic.claim`): ``None`` where another process holds the claim (it is training
    the run now); else ``finished()`` where that gives a record (another process finished the run since
    this one looked), else ``train()``'s record."""
    with claim(out / "runs" / run_id, feature="textsmooth experiment run") as mine:
        if not mine:
            return None
        record = finished()
        return record if record is not None else train()


def check_run_dir(out: str | Path, *, option: str | None = None) -> None:
    """Refuse a run directory that is an existing file or lies below one (before any work starts).

    Raises:
        ConfigError: naming the path (and ``option``, e.g. ``"-o"``, for a command-line caller).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"{out} is a file, not a run directory",
            option=option,
            hint="give a folder (a new one, or a previous run's to resume it)",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{out}: {parent} is a file, not a folder", option=option, hint="choose another folder"
                )
            break


def load_recipe_data(recipe: Recipe) -> tuple[TextDataset, TextDataset]:
    """``(train, test)`` of a recipe, with its ``max_train``/``max_test`` stratified samples (seed 0)."""
    if recipe.corpus is not None:
        from textsmooth.io.corpora import load_corpus

        train, test = load_corpus(recipe.corpus, recipe.data_root)
    else:
        spec = recipe.data or {}

        def read(key: str) -> TextDataset:
            return read_dataset(spec[key], spec.get("text_col", "text"), spec.get("label_col", "label"))

        train, test = read("train"), read("test")
        if train.label_names != test.label_names:
            raise DataError(
                "train and test files have different label sets",
                path=recipe.path,
                hint=f"{train.label_names} vs {test.label_names}",
            )
    if recipe.max_train:
        train = stratified_sample(train, int(recipe.max_train), seed=0)
    if recipe.max_test:
        test = stratified_sample(test, int(recipe.max_test), seed=0)
    return train, test


def prepare_run_data(
    train_full: TextDataset, spec: RunSpec, dev_fraction: float
) -> tuple[TextDataset, TextDataset]:
    """The run's (train, dev) parts, with its data variant applied (see the module docstring)."""
    train, dev = stratified_split(train_full, dev_fraction, seed=spec.seed)
    return spec.data_change.apply(train, dev, spec.seed)


def _write_recipe_copy(recipe: Recipe, target: Path) -> None:
    """Write the parsed recipe (data paths absolute, defaults filled in) into the run directory, so that
    the report and a resumed run find everything from there."""
    import yaml

    raw = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "path"}
    atomic_write_text(target, yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _versions() -> dict[str, str]:
    out = {"textsmooth": __version__}
    for name in ("torch", "numpy", "scipy", "transformers", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


def _seeds_run_before(out: Path) -> set[int]:
    """The seeds earlier runs into this folder ran, as its manifest records them; none for a new folder.

    Raises:
        ArtifactError: the folder holds finished results but its manifest records no seeds.
    """
    from textsmooth.errors import ArtifactError

    if not any((out / "results").glob("*.json")):
        return set()
    path = out / "manifest.json"
    try:
        seeds = json.loads(path.read_text(encoding="utf-8"))["seeds"]
        return {int(s) for s in seeds}
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(
            "the run folder holds finished results but its manifest records no seeds",
            path=path,
            hint="run the recipe into a new folder (-o)",
        ) from exc


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], Any] = print,
) -> list[RunRecord]:
    """Run every run of ``recipe`` that has no result yet; return all results (finished and new).

    A run another process is training now (the folder shared by two ``experiment run`` processes) is
    skipped, and so is an LS-Distill run whose teacher run it is; neither is in the list returned.

    Args:
        recipe: a validated recipe (:func:`~textsmooth.experiments.recipe.load_recipe`).
        out_dir: the run directory (created; a previous run's folder resumes it).
        seeds: run only these of the recipe's seeds (``None``: all). The manifest records the seeds
            run into the folder, and the report's command line shows them.
        jobs: trainings run at once, each in its own process with one torch thread (see the module
            docstring); the results are the same as with ``jobs=1``.
        executor: run every training on this executor instead (e.g. a
            :class:`~textsmooth.distributed.executor.RayExecutor`), as many at once as it takes;
            ``jobs`` is then not used. The caller shuts it down.
        progress: per-epoch progress bars (``jobs=1`` only; parallel runs log each start and finish).
        log: called with one line per started and finished training.

    Raises:
        ConfigError: a seed the recipe does not list, ``out_dir`` is a file, a split lacking a class, or
            a finished result in ``out_dir`` made with other settings (nothing is trained then).
        ArtifactError: a corrupt result file in ``out_dir``.
    """
    out = Path(out_dir)
    check_run_dir(out)
    if int(jobs) < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}", hint="use 1 for one training at a time")
    chosen = recipe.seeds if seeds is None else recipe.check_seeds(seeds)
    train_full, test = load_recipe_data(recipe)
    specs = recipe.runs(label_names=train_full.label_names, seeds=chosen)
    _preflight(specs, recipe, train_full)
    _check_same_recipe_and_data(out, recipe, train_full, test)
    results = _check_finished_runs(specs, out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    _write_recipe_copy(recipe, out / "recipe.yaml")
    seeds_run = sorted(_seeds_run_before(out) | set(chosen))
    atomic_write_text(
        out / "manifest.json",
        json.dumps(
            {
                "recipe": recipe.name,
                "recipe_file": _relative(Path(recipe.path)),
                "run_dir": _relative(out),
                "budget": recipe.budget,
                "seeds": seeds_run,
                "variants": list(dict.fromkeys(spec.variant for spec in specs)),
                "versions": _versions(),
                "train": train_full.describe(),
                "test": test.describe(),
            },
            indent=2,
        ),
    )
    if not (out / "examples.json").exists():
        write_examples(out, _example_rows(train_full, test))
    todo = [spec for spec in specs if spec.run_id not in results]
    baselines = _distill_baselines(specs)
    number = {spec.run_id: i for i, spec in enumerate(specs, start=1)}

    def ready(spec: RunSpec) -> bool:  # an LS-Distill run waits for its hard-label teacher run
        baseline = baselines.get(spec.run_id)
        return baseline is None or baseline in results

    if executor is None and (int(jobs) == 1 or len(todo) <= 1):
        if todo:
            _import_training_modules()
        while todo:
            # baselines wait for nothing: none is ready only when the rest wait on a skipped baseline
            spec = next((s for s in todo if ready(s)), None)
            if spec is None:
                _log_waiting_on_skipped(todo, baselines, number, len(specs), log)
                break
            todo.remove(spec)
            log(f"[{number[spec.run_id]}/{len(specs)}] {spec.run_id}")
            record = _run_one(spec, recipe, train_full, test, out, baselines.get(spec.run_id), progress)
            if record is None:
                log(f"  {SKIPPED_BUSY}")
            else:
                results[spec.run_id] = record
    elif todo:
        _run_parallel(
            recipe, out, todo, ready, baselines, number, len(specs), int(jobs), results, log, executor
        )
    return [results[spec.run_id] for spec in specs if spec.run_id in results]


def _log_waiting_on_skipped(
    todo: list[RunSpec],
    baselines: dict[str, str],
    number: dict[str, int],
    total: int,
    log: Callable[..., Any],
) -> None:
    for spec in todo:
        log(
            f"[{number[spec.run_id]}/{total}] {spec.run_id}: skipped: it takes its teacher from "
            f"{baselines[spec.run_id]}, which another process is training now"
        )


def _run_parallel(
    recipe: Recipe,
    out: Path,
    todo: list[RunSpec],
    ready: Callable[[RunSpec], bool],
    baselines: dict[str, str],
    number: dict[str, int],
    total: int,
    jobs: int,
    results: dict[str, RunRecord],
    log: Callable[[str], Any],
    executor: Executor | None = None,
) -> None:
    """Run ``todo`` on ``executor`` (default: ``jobs`` spawned worker processes), adding each record to
    ``results`` as it ends; a run is submitted once the run it takes its teacher from has finished."""
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    n_new, n_done = len(todo), 0
    started = time.perf_counter()
    running: dict[Future[RunRecord], RunSpec] = {}
    # the local pool takes `jobs` at a time; another executor queues what it cannot start yet
    limit = min(jobs, len(todo)) if executor is None else len(todo)
    with training_executor(executor, jobs, len(todo), log, _init_worker, (recipe,)) as pool:
        while todo or running:
            while todo and len(running) < limit:
                spec = next((s for s in todo if ready(s)), None)
                if spec is None:
                    break
                todo.remove(spec)
                log(f"[{number[spec.run_id]}/{total}] {spec.run_id} started")
                future = pool.submit(_worker_run, spec, str(out), baselines.get(spec.run_id), recipe)
                running[future] = spec
            if not running:  # the rest wait on a baseline another process is training
                _log_waiting_on_skipped(todo, baselines, number, total, log)
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = running.pop(future)
                record = future.result()  # a worker's error stops the run here
                if record is None:
                    log(f"  {spec.run_id}: {SKIPPED_BUSY}")
                    continue
                results[spec.run_id] = record
                n_done += 1
                log(
                    f"  finished {spec.run_id} in {format_duration(record.seconds)} "
                    f"({n_done}/{n_new} done, {format_duration(time.perf_counter() - started)} elapsed)"
                )


@contextlib.contextmanager
def training_executor(
    executor: Executor | None,
    jobs: int,
    n_trainings: int,
    log: Callable[[str], Any],
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Executor]:
    """The executor the parallel path of a runner submits its trainings to.

    ``executor`` itself when given (the caller's: it is not shut down here), else :func:`local_pool` of
    ``min(jobs, n_trainings)`` processes, shut down on leaving (on an error, the trainings not started
    yet are cancelled and the running ones end: on Ctrl-C they stop, leaving only checkpoints).
    """
    if executor is not None:
        where = getattr(executor, "description", type(executor).__name__)
        log(f"{n_trainings} trainings on {where}")
        yield executor
        return
    workers = min(jobs, n_trainings)
    log(f"{n_trainings} trainings in {workers} worker processes (one torch thread each)")
    pool = local_pool(workers, initializer, initargs)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def local_pool(
    workers: int, initializer: Callable[..., Any] | None = None, initargs: tuple[Any, ...] = ()
) -> Executor:
    """``workers`` processes started with ``spawn`` (never ``fork`` once torch is loaded), each limited to
    one torch thread, then running ``initializer(*initargs)``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_local_worker,
        initargs=(initializer, initargs),
    )


def _init_local_worker(initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # pragma: no cover - only if something already ran parallel work
        pass
    if initializer is not None:
        initializer(*initargs)


def worker_threads() -> int:
    """Torch threads of a training in a worker: 1 in :func:`local_pool`'s processes, the task's CPUs on
    Ray (its executor sets torch's thread count before the worker function runs)."""
    import torch

    return int(torch.get_num_threads())


def _import_training_modules() -> None:
    """Import what a training imports on first use (torch's optimisers pull in ``torch._dynamo``, many
    seconds on a busy machine) before any run's clock starts, so that ``seconds`` is training time."""
    import torch._dynamo  # noqa: F401

    import textsmooth.metrics
    import textsmooth.models
    import textsmooth.targets.keyword
    import textsmooth.targets.teacher
    import textsmooth.training.loop  # noqa: F401


# the worker process's recipe and data, loaded once by _init_worker
_WORKER: dict[str, Any] = {}


def _on_sigint(signum: int, frame: Any) -> None:
    """A worker stops on Ctrl-C only while it trains (then its atomic writes clean up); an idle worker
    waits for the pool to shut it down instead of dying with a traceback."""
    if _WORKER.get("busy"):
        raise KeyboardInterrupt


def _init_worker(recipe: Recipe) -> None:
    """A local worker process: Ctrl-C handling, then the recipe's data (loaded now, before any clock)."""
    signal.signal(signal.SIGINT, _on_sigint)
    _load_worker(recipe)


def _load_worker(recipe: Recipe) -> None:
    """The recipe's data in this worker process, loaded once per recipe (also on Ray, whose worker
    processes serve many tasks)."""
    if _WORKER.get("recipe") == recipe:
        return
    _import_training_modules()
    _WORKER.update(recipe=recipe, data=load_recipe_data(recipe), busy=False)


def _worker_run(spec: RunSpec, out: str, baseline: str | None, recipe: Recipe) -> RunRecord | None:
    _load_worker(recipe)
    train_full, test = _WORKER["data"]
    threads = worker_threads()
    if spec.config.num_threads not in (None, threads):  # the worker's threads, whatever the recipe asks
        spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, num_threads=threads))
    _WORKER["busy"] = True
    try:
        return _run_one(spec, _WORKER["recipe"], train_full, test, Path(out), baseline, progress=False)
    finally:
        _WORKER["busy"] = False


# runtime knobs that do not change what a run computes
_RUNTIME_FIELDS = ("num_threads",)


def _check_same_recipe_and_data(out: Path, recipe: Recipe, train: TextDataset, test: TextDataset) -> None:
    """Refuse to add runs to a folder holding results of another recipe or of other data.

    Result files are keyed by run id, which names neither the recipe nor its data: without this check a
    second recipe run into the same folder would replace its ``recipe.yaml`` and mix its results with
    the first one's in the report, and an edited ``max_train``, ``max_test``, ``dev_fraction`` or data
    file would silently reuse results computed on other data.
    """
    import yaml

    if not any((out / "results").glob("*.json")):
        return
    try:
        before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = None
    try:
        recipe_before = yaml.safe_load((out / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        recipe_before = None
    before = before if isinstance(before, dict) else {}
    recipe_before = recipe_before if isinstance(recipe_before, dict) else {}
    name = before.get("recipe", recipe_before.get("name"))
    if name is not None and name != recipe.name:
        raise ConfigError(
            f"the run folder holds results of recipe {name!r}, not {recipe.name!r}; nothing was trained",
            path=out,
            hint="run each recipe into its own folder (-o)",
        )
    changed = []
    for key, data in (("train", train), ("test", test)):
        stored = before.get(key) if isinstance(before.get(key), dict) else {}
        if stored.get("content_sha256") not in (None, data.content_sha256):
            changed.append(f"{key} data")
    if "dev_fraction" in recipe_before and recipe_before["dev_fraction"] != recipe.dev_fraction:
        changed.append(f"dev_fraction {recipe_before['dev_fraction']} -> {recipe.dev_fraction}")
    if changed:
        raise ConfigError(
            f"the run folder holds results of {recipe.name!r} computed with other data "
            f"({', '.join(changed)}); nothing was trained",
            path=out,
            hint="run into a new folder (-o), or delete its results folder to recompute them",
        )


def _check_finished_runs(specs: list[RunSpec], out: Path) -> dict[str, RunRecord]:
    """The finished results of ``specs`` in ``out`` (by run id). A finished result is reused only if it
    was made by the same configuration and data variant: editing a recipe and running it into the same
    folder must not mix old and new numbers. (A configuration field a record does not state reads as
    its default, as in a recipe.)"""
    finished = {}
    for spec in specs:
        done = out / "results" / f"{spec.run_id}.json"
        if not done.exists():
            continue
        record = read_result(done)
        wanted = json.loads(json.dumps(spec.config.to_dict()))
        stored = json.loads(json.dumps(record.config.to_dict()))
        changed = sorted(
            k
            for k in set(wanted) | set(stored)
            if k not in _RUNTIME_FIELDS and wanted.get(k) != stored.get(k)
        )
        if record.data_change != spec.data_change:
            changed.append("data variant")
        if changed:
            raise ConfigError(
                f"the run folder holds a finished result of {spec.run_id} made with other settings "
                f"({', '.join(changed)}); nothing was trained",
                path=done,
                hint="run into a new folder (-o), or delete the stale results to recompute them",
            )
        finished[spec.run_id] = record
    return finished


_METHOD_FIELDS = (
    "method",
    "epsilon",
    "alpha",
    "kwls_variant",
    "beta",
    "flip_rate",
    "flip_kind",
    "soft_temperature",
)


def _distill_baselines(specs: list[RunSpec]) -> dict[str, str]:
    """For each LS-Distill run, the hard-label run of the same variant, model and seed with the same
    non-method hyper-parameters (its teacher, the paper's protocol), where the recipe has one."""
    out = {}
    for spec in specs:
        if spec.config.method != "distill":
            continue
        mine = {k: v for k, v in spec.config.to_dict().items() if k not in _METHOD_FIELDS}
        for candidate in specs:
            if candidate.config.method != "none" or (candidate.variant, candidate.model, candidate.seed) != (
                spec.variant,
                spec.model,
                spec.seed,
            ):
                continue
            theirs = {k: v for k, v in candidate.config.to_dict().items() if k not in _METHOD_FIELDS}
            if theirs == mine:
                out[spec.run_id] = candidate.run_id
                break
    return out


def _teacher_from_baseline(
    spec: RunSpec, baseline: str | None, train: TextDataset, out: Path
) -> np.ndarray | None:
    """LS-Distill's soft labels from the finished hard-label run ``baseline`` (the original model's
    predicted probabilities on the training texts); ``None`` lets the loop train a teacher."""
    from textsmooth.training.loop import teacher_soft_labels

    if baseline is None:
        return None
    path = out / "results" / f"{baseline}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        if "train_probs" not in data.files or len(data["train_probs"]) != len(train):
            return None
        probs = data["train_probs"]
    return teacher_soft_labels(
        probs, train.texts, train.labels, train.n_classes, spec.config.soft_temperature
    )


def _example_rows(train: TextDataset, test: TextDataset, n: int = 5) -> list[ExampleRow]:
    """A few test texts with their KWLS soft labels (fitted on the training data) and keywords, for the
    report (which reads them from ``examples.json`` and refits nothing)."""
    from textsmooth.targets.keyword import KeywordSmoother
    from textsmooth.text.tokenize import tokenize

    smoother = KeywordSmoother().fit(
        train.texts, train.labels, n_classes=train.n_classes, label_names=train.label_names
    )
    rows = []
    rng = np.random.default_rng(0)
    for i in rng.choice(len(test), size=min(n, len(test)), replace=False):
        text = test.texts[i][:600]
        explanations = smoother.explain(text, top=5)
        best: dict[str, tuple[float, int]] = {}
        for m, e in enumerate(explanations):
            for word, value in e.words:
                if value > best.get(word, (0.0, -1))[0]:
                    best[word] = (value, m)
        tokens = [(token, best[token][1] if token in best else None) for token in tokenize(text)]
        ranked = sorted(enumerate(explanations), key=lambda t: -t[1].probability)[:3]
        soft = [(e.name, float(e.probability), m) for m, e in ranked]
        rows.append(ExampleRow(tokens, test.label_names[test.labels[i]], soft))
    return rows


def _seconds_so_far(run_dirs: list[Path], ledger: Path, fingerprint: str) -> float:
    """Training seconds of earlier, interrupted sessions of a run with this configuration: each counts
    up to the last checkpoint it saved (later work was lost and is redone, so it counts when redone)."""
    try:
        account = json.loads(ledger.read_text(encoding="utf-8"))
        seconds, since = float(account["seconds"]), account.get("since")
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    if account.get("fingerprint") != fingerprint:  # another configuration: its checkpoint is not resumed
        return 0.0
    if since is None:
        return seconds
    saved = [
        f.stat().st_mtime
        for d in run_dirs
        if d.is_dir()
        for f in d.iterdir()
        if f.name != ledger.name and f.is_file()
    ]
    last = max((t for t in saved if t > float(since)), default=None)
    return seconds + (last - float(since) if last is not None else 0.0)


def _preflight(specs: list[RunSpec], recipe: Recipe, train_full: TextDataset) -> None:
    """Check every run's device and data split before any training starts (a GPU this machine lacks, a
    class missing from a dev split)."""
    from textsmooth.training.loop import check_splits
    from textsmooth.training.saved import check_device

    for device in sorted({spec.config.device for spec in specs}):
        try:
            check_device(device)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=recipe.path, column="device", hint=exc.hint) from exc
    seen = set()
    for spec in specs:
        key = (spec.seed, spec.data_change)
        if key in seen:
            continue
        seen.add(key)
        train, dev = prepare_run_data(train_full, spec, recipe.dev_fraction)
        try:
            check_splits(train, dev)
        except InputError as exc:
            raise ConfigError(
                f"run {spec.run_id}: {exc.message}",
                path=recipe.path,
                hint="raise max_train or dev_fraction, or lower the under-sampling ratio",
            ) from exc


@dataclass(frozen=True)
class RunContext:
    """What a run handler gets besides its :class:`RunSpec`: the recipe, its loaded data, the run folder,
    the finished run it depends on (LS-Distill's hard-label teacher run), and whether to show progress."""

    recipe: Recipe
    train_full: TextDataset
    test: TextDataset
    out: Path
    baseline: str | None
    progress: bool


RunHandler = Callable[[RunSpec, RunContext], RunRecord]
_RUN_HANDLERS: dict[str, RunHandler] = {}


def register_run_handler(setting: str, handler: RunHandler) -> None:
    """Train the runs of recipes of ``setting`` with ``handler`` (it writes and returns their record)."""
    _RUN_HANDLERS[setting] = handler


def _run_one(
    spec: RunSpec,
    recipe: Recipe,
    train_full: TextDataset,
    test: TextDataset,
    out: Path,
    baseline: str | None,
    progress: bool,
) -> RunRecord | None:
    """Train ``spec`` under its claim (:func:`train_claimed`): ``None`` where another process trains it."""
    handler = _RUN_HANDLERS[recipe.setting]
    return train_claimed(
        out,
        spec.run_id,
        lambda: _check_finished_runs([spec], out).get(spec.run_id),
        lambda: handler(spec, RunContext(recipe, train_full, test, out, baseline, progress)),
    )


def _classification_run(spec: RunSpec, ctx: RunContext) -> RunRecord:
    """Train one classifier run (with its teacher first for a ``teacher=M`` variant), evaluate it on the
    test split, and write its ``.npz`` and then its record (which marks it finished)."""
    from textsmooth.metrics import classification_report
    from textsmooth.training.loop import teacher_soft_labels, train_classifier

    out = ctx.out
    run_dir = out / "runs" / spec.run_id
    teacher_dir = out / "runs" / f"{spec.run_id}__teacher"
    ledger = run_dir / "timing.json"
    fingerprint = spec.config.fingerprint()
    before = _seconds_so_far([run_dir, teacher_dir], ledger, fingerprint)
    account = {"seconds": before, "since": time.time(), "fingerprint": fingerprint}
    atomic_write_text(ledger, json.dumps(account))
    start = time.perf_counter()
    train, dev = prepare_run_data(ctx.train_full, spec, ctx.recipe.dev_fraction)
    soft = None
    teacher_method = spec.data_change.teacher_method
    if teacher_method is not None:
        teacher_config = dataclasses.replace(spec.config, method=teacher_method)
        teacher = train_classifier(train, dev, teacher_config, out_dir=teacher_dir, progress=ctx.progress)
        soft = teacher_soft_labels(
            teacher.predict_proba(train.texts),
            train.texts,
            train.labels,
            train.n_classes,
            spec.data_change.temperature,  # type: ignore[attr-defined]
        )
    elif spec.config.method == "distill":
        soft = _teacher_from_baseline(spec, ctx.baseline, train, out)
    result = train_classifier(
        train, dev, spec.config, out_dir=run_dir, soft_labels=soft, progress=ctx.progress
    )
    test = ctx.test
    probs = result.predict_proba(test.texts)
    extra = {}
    if spec.config.method == "none":  # kept so that LS-Distill runs can use this run as their teacher
        extra["train_probs"] = result.predict_proba(train.texts).astype(np.float32)
    report = classification_report(probs, test.labels, test.label_names)
    report.update(minority_metrics(spec.data_change, report, list(test.label_names)))
    seconds = before + time.perf_counter() - start
    record = RunRecord(
        run_id=spec.run_id,
        method=spec.method_label,
        model=spec.model,
        seed=spec.seed,
        variant=spec.variant,
        config=spec.config,
        data_change=spec.data_change,
        n_train=len(train),
        n_dev=len(dev),
        train_class_counts=np.bincount(train.labels, minlength=train.n_classes).tolist(),  # type: ignore[arg-type]
        test=report,
        history=result.history,
        best_epoch=result.best_epoch,
        seconds=seconds,
        resumed=before > 0,
    )
    with atomic_path(out / "results" / f"{spec.run_id}.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, probs=probs.astype(np.float32), labels=test.labels, **extra)
    write_result(out / "results" / f"{spec.run_id}.json", record)
    atomic_write_text(ledger, json.dumps({**account, "seconds": seconds, "since": None}))
    return record


for _setting in SETTINGS:  # the built-in settings are classification studies
    register_run_handler(_setting, _classification_run)
