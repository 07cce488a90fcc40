"""Experiment recipes: YAML files (safe-loaded) that mirror the KWLS paper's tables.

A recipe names its data, the settings to run, the models, the methods and the seeds; everything is
checked before any training starts (unknown fields, methods, models or data paths raise
:class:`~textsmooth.errors.ConfigError` naming the recipe file and field).

```yaml
name: imdb-textcnn-balanced
budget: about 40 minutes on a 2-core CPU     # required: what a run costs
corpus: imdb                                 # imdb | 20newsgroups | sst2 | trec, or `data:` below
# data: {train: path.csv, test: path.csv, text_col: text, label_col: label}  (relative to the recipe)
data_root: null                              # default: ../shared/data
max_train: null                              # optional stratified sample of the training split
max_test: null                               # optional stratified sample of the test split
dev_fraction: 0.25                           # train:dev = 3:1 (the paper), stratified, seeded
setting: balanced                            # balanced | unbalanced | imbalance-grid | noise | distillation
unbalanced: {ratio: 100, classes: null}      # unbalanced: each listed class (default all) at 1:ratio
grid: {keep: 0, c: [0, 1, 2, 3], m: [300, 100, 10], ratio: 100}   # imbalance-grid (Table 5 / Figure 1)
noise: {rates: [0.0, 0.1, 0.2, 0.4], kind: symmetric}             # noise study
distillation: {teacher_methods: [none, classic], temperature: 2.0}  # the Mueller et al. caveat
models: [textcnn]
seeds: [0, 1, 2]
train: {epochs: 3, max_length: 256}          # TrainConfig fields shared by every run
model_train: {minilm: {lr: 5.0e-5, batch_size: 32}}   # optional: per-model overrides of `train`
methods:                                     # TrainConfig fields per method row
  - {method: none}
  - {method: classic, epsilon: 0.1}
  - {method: kwls, alpha: 1.0, kwls_variant: mixture}
paper: {none: 91.62, classic: 91.70, kwls: 92.43}   # optional: the paper's accuracy per method row
```
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textsmooth.errors import ConfigError
from textsmooth.io.corpora import CORPORA
from textsmooth.training.config import TrainConfig

__all__ = ["SETTINGS", "Recipe", "RunSpec", "load_recipe"]

SETTINGS = ("balanced", "unbalanced", "imbalance-grid", "noise", "distillation")
_SETTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "unbalanced": {"ratio": 100, "classes": None},
    "grid": {"keep": 0, "c": [0, 1, 2, 3], "m": [300, 200, 100, 50, 10, 1], "ratio": 100},
    "noise": {"rates": [0.0, 0.1, 0.2, 0.4], "kind": "symmetric"},
    "distillation": {"teacher_methods": ["none", "classic"], "temperature": 2.0},
}


@dataclass(frozen=True)
class RunSpec:
    """One training run of a recipe: a method row, a model, a seed and a data variant."""

    run_id: str
    method_label: str
    model: str
    seed: int
    variant: str
    config: TrainConfig
    data_change: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recipe:
    """A parsed, validated recipe (see the module docstring for the YAML layout)."""

    name: str
    budget: str
    path: str
    corpus: str | None = None
    data: dict[str, Any] | None = None
    data_root: str | None = None
    max_train: int | None = None
    max_test: int | None = None
    dev_fraction: float = 0.25
    setting: str = "balanced"
    unbalanced: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=dict)
    distillation: dict[str, Any] = field(default_factory=dict)
    models: list[str] = field(default_factory=lambda: ["textcnn"])
    seeds: list[int] = field(default_factory=lambda: [0])
    train: dict[str, Any] = field(default_factory=dict)
    model_train: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: list[dict[str, Any]] = field(default_factory=lambda: [{"method": "none"}])
    paper: dict[str, float] = field(default_factory=dict)
    description: str = ""

    def option(self, name: str) -> dict[str, Any]:
        """A setting's options with defaults filled in."""
        return {**_SETTING_DEFAULTS[name], **(getattr(self, name) or {})}

    def method_label(self, row: dict[str, Any]) -> str:
        return str(row.get("label") or row["method"])

    def runs(self, n_classes: int | None = None) -> list[RunSpec]:
        """Every run of the recipe, in a stable order (variant, model, method, seed)."""
        variants = self._variants(n_classes)
        out = []
        for (variant, change), model, row, seed in itertools.product(
            variants, self.models, self.methods, self.seeds
        ):
            values = {
                **self.train,
                **self.model_train.get(model, {}),
                **{k: v for k, v in row.items() if k != "label"},
                "model": model,
                "seed": seed,
            }
            config = TrainConfig.from_dict(values, where=f"{self.path}: methods")
            label = self.method_label(row)
            run_id = f"{variant}__{model}__{label}__seed{seed}".replace("/", "_").replace(" ", "")
            out.append(RunSpec(run_id, label, model, seed, variant, config, change))
        return out

    def _variants(self, n_classes: int | None) -> list[tuple[str, dict[str, Any]]]:
        if self.setting == "balanced":
            return [("balanced", {})]
        if self.setting == "unbalanced":
            opt = self.option("unbalanced")
            classes = opt["classes"] if opt["classes"] is not None else list(range(n_classes or 0))
            return [(f"minority={c}", {"minority": int(c), "ratio": float(opt["ratio"])}) for c in classes]
        if self.setting == "imbalance-grid":
            opt = self.option("grid")
            out = [
                (f"c={c}", {"grid_c": int(c), "keep": int(opt["keep"]), "ratio": float(opt["ratio"])})
                for c in opt["c"]
            ]
            out += [(f"m={m}", {"grid_m": int(m), "keep": int(opt["keep"])}) for m in opt["m"]]
            return out
        if self.setting == "noise":
            opt = self.option("noise")
            return [(f"noise={r:g}", {"noise": float(r), "noise_kind": opt["kind"]}) for r in opt["rates"]]
        opt = self.option("distillation")
        return [
            (f"teacher={m}", {"teacher_method": m, "temperature": float(opt["temperature"])})
            for m in opt["teacher_methods"]
        ]


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (YAML, safe-loaded)."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError("recipe file does not exist", path=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe is not valid YAML: {exc}", path=path) from exc
    if not isinstance(raw, dict):
        raise ConfigError("recipe must be a mapping of fields", path=path)
    known = {f.name for f in dataclasses.fields(Recipe)} - {"path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(unknown)}",
            path=path,
            hint=f"known fields: {', '.join(sorted(known))}",
        )
    for required in ("name", "budget"):
        if not raw.get(required):
            raise ConfigError(f"recipe needs a {required!r}", path=path, column=required)
    base = path.resolve().parent
    if isinstance(raw.get("data"), dict):  # data paths are relative to the recipe file
        raw["data"] = {
            k: str((base / v).resolve()) if k in ("train", "test") and isinstance(v, str) else v
            for k, v in raw["data"].items()
        }
    if isinstance(raw.get("data_root"), str):
        raw["data_root"] = str((base / raw["data_root"]).resolve())
    recipe = Recipe(**raw, path=str(path))
    _validate(recipe, path)
    return recipe


def _validate(recipe: Recipe, path: Path) -> None:
    if (recipe.corpus is None) == (recipe.data is None):
        raise ConfigError("give exactly one of 'corpus' and 'data'", path=path)
    if recipe.corpus is not None and recipe.corpus not in CORPORA:
        raise ConfigError(
            f"unknown corpus {recipe.corpus!r}", path=path, column="corpus", hint=f"use one of {CORPORA}"
        )
    if recipe.data is not None:
        for key in ("train", "test"):
            if key not in recipe.data:
                raise ConfigError(f"data needs a {key!r} path", path=path, column="data")
            if not Path(recipe.data[key]).exists():
                raise ConfigError(
                    f"data file does not exist: {recipe.data[key]}", path=path, column=f"data.{key}"
                )
    if recipe.data_root is not None and not Path(recipe.data_root).is_dir():
        raise ConfigError(f"data_root does not exist: {recipe.data_root}", path=path, column="data_root")
    if recipe.setting not in SETTINGS:
        raise ConfigError(
            f"unknown setting {recipe.setting!r}", path=path, column="setting", hint=f"use one of {SETTINGS}"
        )
    for name in ("unbalanced", "grid", "noise", "distillation"):
        extra = sorted(set(getattr(recipe, name) or {}) - set(_SETTING_DEFAULTS[name]))
        if extra:
            raise ConfigError(f"unknown option(s) {', '.join(extra)}", path=path, column=name)
    if not isinstance(recipe.model_train, dict) or not all(
        isinstance(v, dict) for v in recipe.model_train.values()
    ):
        raise ConfigError(
            "model_train must map a model name to a mapping of training fields",
            path=path,
            column="model_train",
        )
    stray = sorted(set(recipe.model_train) - set(recipe.models))
    if stray:
        raise ConfigError(
            f"model_train names model(s) {', '.join(stray)} that are not in models",
            path=path,
            column="model_train",
            hint=f"models: {recipe.models}",
        )
    if not recipe.methods or not recipe.seeds or not recipe.models:
        raise ConfigError("methods, models and seeds must not be empty", path=path)
    labels = [recipe.method_label(row) for row in recipe.methods if isinstance(row, dict) and "method" in row]
    if len(labels) != len(recipe.methods):
        raise ConfigError("every methods row needs a 'method'", path=path, column="methods")
    if len(set(labels)) != len(labels):
        raise ConfigError(
            "method rows must have distinct labels (add `label:` to tell them apart)", path=path
        )
    # builds every TrainConfig now: unknown fields, methods and models fail before any training
    for spec in recipe.runs(n_classes=2):
        model_path = spec.config.model_path
        if model_path is not None and not (Path(model_path) / "config.json").is_file():
            raise ConfigError(
                f"model_path {model_path} is not a Hugging Face model folder (no config.json)",
                path=path,
                column="model_path",
            )
