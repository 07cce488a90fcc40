"""Run a recipe: every (data variant, model, method, seed) run, resumable, results as JSON + NPZ.

Layout of a run directory::

    RUN_DIR/recipe.yaml            copy of the recipe
    RUN_DIR/manifest.json          library and package versions, recipe name, data description
    RUN_DIR/runs/<run_id>/         metrics.jsonl and checkpoint.pt of a run in progress
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

A finished run is never recomputed; an interrupted one resumes from its checkpoint.
"""

from __future__ import annotations

import json
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth._version import __version__
from textsmooth.errors import ConfigError, DataError, InputError
from textsmooth.experiments.recipe import Recipe, RunSpec
from textsmooth.io.atomic import atomic_path, atomic_write_text
from textsmooth.io.readers import TextDataset, read_dataset
from textsmooth.io.splits import stratified_sample, stratified_split, undersample
from textsmooth.training.config import TrainConfig

__all__ = ["load_recipe_data", "minority_metrics", "prepare_run_data", "run_recipe", "undersampled_classes"]


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


def _shrink(
    train: TextDataset, dev: TextDataset, sizes: dict[int, int], seed: int
) -> tuple[TextDataset, TextDataset]:
    counts_train = np.bincount(train.labels, minlength=train.n_classes)  # type: ignore[arg-type]
    counts_dev = np.bincount(dev.labels, minlength=dev.n_classes)  # type: ignore[arg-type]
    dev_sizes = {
        c: max(1, round(counts_dev[c] * size / max(counts_train[c], 1))) for c, size in sizes.items()
    }
    return undersample(train, sizes, seed), undersample(dev, dev_sizes, seed)


def undersampled_classes(data_change: dict[str, Any], n_classes: int) -> list[int]:
    """The classes a data variant under-samples: the ``minority`` class (unbalanced setting), the first
    ``grid_c`` classes other than ``keep`` (imbalance grid, c), every class but ``keep`` (grid, m);
    none for the other settings."""
    if "minority" in data_change:
        return [int(data_change["minority"])]
    others = [c for c in range(n_classes) if c != data_change.get("keep")]
    if "grid_c" in data_change:
        return others[: int(data_change["grid_c"])]
    if "grid_m" in data_change:
        return others
    return []


def minority_metrics(
    data_change: dict[str, Any], test_report: dict[str, Any], label_names: list[str]
) -> dict[str, Any]:
    """``minority_class`` and ``minority_recall`` for a run: the under-sampled classes (names joined by
    ``+``) and their mean test recall; the report's own choice (fewest test examples) when the variant
    under-samples nothing."""
    shrunk = undersampled_classes(data_change, len(label_names))
    if not shrunk:
        return {k: test_report[k] for k in ("minority_class", "minority_recall") if k in test_report}
    recalls = [test_report["per_class"][label_names[c]]["recall"] for c in shrunk]
    known = [r for r in recalls if r is not None]
    return {
        "minority_class": "+".join(label_names[c] for c in shrunk),
        "minority_recall": float(np.mean(known)) if known else None,
    }


def prepare_run_data(
    train_full: TextDataset, spec: RunSpec, dev_fraction: float
) -> tuple[TextDataset, TextDataset]:
    """The run's (train, dev) parts, with its data variant applied (see the module docstring)."""
    train, dev = stratified_split(train_full, dev_fraction, seed=spec.seed)
    change = spec.data_change
    counts = np.bincount(train.labels, minlength=train.n_classes)  # type: ignore[arg-type]
    shrunk = undersampled_classes(change, train.n_classes)
    if "minority" in change or "grid_c" in change:
        sizes = {c: max(1, round(counts[c] / change["ratio"])) for c in shrunk}
        train, dev = _shrink(train, dev, sizes, spec.seed)
    elif "grid_m" in change:
        train, dev = _shrink(train, dev, dict.fromkeys(shrunk, change["grid_m"]), spec.seed)
    elif change.get("noise"):
        from textsmooth.targets.flip import flip_labels

        rate, kind = change["noise"], change["noise_kind"]
        for part, offset in ((train, 0), (dev, 1)):
            noisy, _ = flip_labels(
                part.labels, rate, kind, seed=spec.seed * 2 + offset, n_classes=part.n_classes
            )
            part.labels = noisy
    return train, dev


def _write_recipe_copy(recipe: Recipe, target: Path) -> None:
    """Write the parsed recipe (data paths absolute, defaults filled in) into the run directory, so that
    the report and a resumed run find everything from there."""
    import dataclasses

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


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    progress: bool = True,
    log: Any = print,
) -> list[dict[str, Any]]:
    """Run every run of ``recipe`` that has no result yet; return all results (finished and new)."""
    out = Path(out_dir)
    train_full, test = load_recipe_data(recipe)
    specs = recipe.runs(train_full.n_classes)
    _preflight(specs, recipe, train_full)
    _check_finished_runs(specs, out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    _write_recipe_copy(recipe, out / "recipe.yaml")
    atomic_write_text(
        out / "manifest.json",
        json.dumps(
            {
                "recipe": recipe.name,
                "recipe_file": _relative(Path(recipe.path)),
                "run_dir": _relative(out),
                "budget": recipe.budget,
                "versions": _versions(),
                "train": train_full.describe(),
                "test": test.describe(),
            },
            indent=2,
        ),
    )
    results = []
    for index, spec in enumerate(specs, start=1):
        done = out / "results" / f"{spec.run_id}.json"
        if done.exists():
            results.append(json.loads(done.read_text(encoding="utf-8")))
            continue
        log(f"[{index}/{len(specs)}] {spec.run_id}")
        results.append(_run_one(spec, recipe, train_full, test, out, progress))
    return results


# runtime knobs that do not change what a run computes
_RUNTIME_FIELDS = ("num_threads",)
# fields every stored config has; their defaults never stand in for a missing value
_NO_DEFAULT = ("model", "method", "seed")


def _check_finished_runs(specs: list[RunSpec], out: Path) -> None:
    """A finished result is reused only if it was made by the same configuration and data variant:
    editing a recipe and running it into the same folder must not mix old and new numbers."""
    # a field added to TrainConfig after a result was written counts as its default
    defaults = json.loads(json.dumps(TrainConfig().to_dict()))
    for spec in specs:
        done = out / "results" / f"{spec.run_id}.json"
        if not done.exists():
            continue
        record = json.loads(done.read_text(encoding="utf-8"))
        wanted = json.loads(json.dumps(spec.config.to_dict()))
        stored = {
            **{k: v for k, v in defaults.items() if k not in _NO_DEFAULT},
            **(record.get("config") or {}),
        }
        changed = sorted(
            k
            for k in set(wanted) | set(stored)
            if k not in _RUNTIME_FIELDS and wanted.get(k) != stored.get(k)
        )
        if record.get("data_change", {}) != json.loads(json.dumps(spec.data_change)):
            changed.append("data variant")
        if changed:
            raise ConfigError(
                f"the run folder holds a finished result of {spec.run_id} made with other settings "
                f"({', '.join(changed)}); nothing was trained",
                path=done,
                hint="run into a new folder (-o), or delete the stale results to recompute them",
            )


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


def _teacher_from_baseline(spec: RunSpec, recipe: Recipe, train: TextDataset, out: Path) -> np.ndarray | None:
    """LS-Distill's soft labels from the finished hard-label run of the same variant, model and seed
    (the paper's protocol: the original model's predicted probabilities on the training texts), when
    that run exists with the same non-method hyper-parameters; ``None`` lets the loop train a teacher."""
    from textsmooth.targets.teacher import TeacherSmoother

    mine = {k: v for k, v in spec.config.to_dict().items() if k not in _METHOD_FIELDS}
    for candidate in recipe.runs(train.n_classes):
        if candidate.config.method != "none" or (candidate.variant, candidate.model, candidate.seed) != (
            spec.variant,
            spec.model,
            spec.seed,
        ):
            continue
        theirs = {k: v for k, v in candidate.config.to_dict().items() if k not in _METHOD_FIELDS}
        path = out / "results" / f"{candidate.run_id}.npz"
        if theirs != mine or not path.exists():
            continue
        with np.load(path, allow_pickle=False) as data:
            if "train_probs" not in data.files or len(data["train_probs"]) != len(train):
                continue
            probs = data["train_probs"].astype(np.float64)
        probs /= probs.sum(axis=1, keepdims=True)
        smoother = TeacherSmoother(temperature=spec.config.soft_temperature, outputs="probabilities")
        smoother.fit(train.texts, train.labels, teacher_outputs=probs, n_classes=train.n_classes)
        return smoother.transform(train.texts)
    return None


def _preflight(specs: list[RunSpec], recipe: Recipe, train_full: TextDataset) -> None:
    """Check every run's data split before any training starts (a class missing from a dev split)."""
    from textsmooth.training.loop import check_splits

    seen = set()
    for spec in specs:
        key = (spec.seed, json.dumps(spec.data_change, sort_keys=True))
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


def _run_one(
    spec: RunSpec, recipe: Recipe, train_full: TextDataset, test: TextDataset, out: Path, progress: bool
) -> dict[str, Any]:
    from textsmooth.metrics import classification_report
    from textsmooth.training.config import TrainConfig
    from textsmooth.training.loop import train_classifier

    start = time.perf_counter()
    train, dev = prepare_run_data(train_full, spec, recipe.dev_fraction)
    soft = None
    if "teacher_method" in spec.data_change:
        from textsmooth.targets.teacher import TeacherSmoother

        teacher_config = TrainConfig.from_dict(
            {**spec.config.to_dict(), "method": spec.data_change["teacher_method"]}
        )
        teacher = train_classifier(
            train, dev, teacher_config, out_dir=out / "runs" / f"{spec.run_id}__teacher", progress=progress
        )
        probs = teacher.predict_proba(train.texts)
        smoother = TeacherSmoother(temperature=spec.data_change["temperature"], outputs="probabilities")
        smoother.fit(train.texts, train.labels, teacher_outputs=probs, n_classes=train.n_classes)
        soft = smoother.transform(train.texts)
    elif spec.config.method == "distill":
        soft = _teacher_from_baseline(spec, recipe, train, out)
    result = train_classifier(
        train, dev, spec.config, out_dir=out / "runs" / spec.run_id, soft_labels=soft, progress=progress
    )
    probs = result.predict_proba(test.texts)
    extra = {}
    if spec.config.method == "none":  # kept so that LS-Distill runs can use this run as their teacher
        extra["train_probs"] = result.predict_proba(train.texts).astype(np.float32)
    report = classification_report(probs, test.labels, test.label_names)
    report.update(minority_metrics(spec.data_change, report, list(test.label_names)))
    record = {
        "run_id": spec.run_id,
        "method": spec.method_label,
        "model": spec.model,
        "seed": spec.seed,
        "variant": spec.variant,
        "config": spec.config.to_dict(),
        "data_change": spec.data_change,
        "n_train": len(train),
        "n_dev": len(dev),
        "train_class_counts": np.bincount(train.labels, minlength=train.n_classes).tolist(),  # type: ignore[arg-type]
        "test": report,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "seconds": time.perf_counter() - start,
    }
    with atomic_path(out / "results" / f"{spec.run_id}.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, probs=probs.astype(np.float32), labels=test.labels, **extra)
    atomic_write_text(out / "results" / f"{spec.run_id}.json", json.dumps(record, indent=1))
    return record
