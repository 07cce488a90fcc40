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
methods:                                     # TrainConfig fields per method row (+ label, seeds)
  - {method: none}
  - {method: classic, epsilon: 0.1}
  - {method: kwls, alpha: 1.0, kwls_variant: mixture}
  - {method: kwls, alpha: 0.5, label: kwls-0.5, seeds: [0]}   # a row on fewer of the recipe's seeds
paper: {none: 91.62, classic: 91.70, kwls: 92.43}   # optional: the paper's accuracy per method row
resources: {cpus: 1, gpus: 0}                # optional: what one training asks of Ray (--backend ray)
```

``resources`` (every recipe kind, :func:`check_resources`) only matters for ``experiment run --backend
ray``: each training is a Ray task with ``cpus`` CPUs (and as many torch threads) and ``gpus`` GPUs
(default 1 and 0); see docs/distributed.md.

Classes (``unbalanced.classes``, ``grid.keep``) are given by label name as the data spells it
(``classes: [HUM, LOC]``) or by id (``classes: [3]``, ids in the data set's label order). A YAML number is
an id and a YAML string is a name, so quote a numeric label name: ``classes: ['4']``. Names are resolved
once the data is loaded (``textsmooth experiment check`` does it); an unknown name is a
:class:`~textsmooth.errors.ConfigError` naming the recipe file and field and listing the known names.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textsmooth.errors import ConfigError
from textsmooth.experiments.settings import SETTINGS, DataChange, Setting
from textsmooth.io.corpora import CORPORA
from textsmooth.training.config import TrainConfig

__all__ = [
    "RESOURCE_DEFAULTS",
    "SETTINGS",
    "Recipe",
    "RunSpec",
    "check_resources",
    "check_row_seeds",
    "load_recipe",
    "recipe_task",
    "row_runs_seed",
    "run_dir_task",
    "select_seeds",
]

#: Keys of a method row that are not configuration fields: its report name and the seeds it runs.
ROW_FIELDS = ("label", "seeds")

#: What one training of a recipe asks of a Ray cluster (the recipe field ``resources``), by default.
RESOURCE_DEFAULTS: dict[str, float] = {"cpus": 1, "gpus": 0}

# the recipe fields that hold a setting's options (``grid`` for ``imbalance-grid``)
_OPTION_FIELDS = ("unbalanced", "grid", "noise", "distillation")


def _option_defaults(name: str) -> dict[str, Any]:
    """The defaults of the options in the recipe field ``name`` (from the setting that reads it)."""
    for setting in SETTINGS.values():
        if setting.options_field == name:
            return dict(setting.defaults)
    raise KeyError(name)


@dataclass(frozen=True)
class RunSpec:
    """One training run of a recipe: a method row, a model, a seed and a data variant."""

    run_id: str
    method_label: str
    model: str
    seed: int
    variant: str
    config: TrainConfig
    data_change: DataChange = field(default_factory=DataChange)


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
    resources: dict[str, float] = field(default_factory=dict)

    def option(self, name: str) -> dict[str, Any]:
        """The options of the recipe field ``name`` (``grid``, ``noise`` ...) with defaults filled in."""
        return {**_option_defaults(name), **(getattr(self, name) or {})}

    @property
    def setting_handler(self) -> Setting:
        """The registered :class:`~textsmooth.experiments.settings.Setting` of ``setting``."""
        return SETTINGS[self.setting]

    def setting_options(self) -> dict[str, Any]:
        """The options of the recipe's setting, defaults filled in (``{}`` for a setting without any)."""
        field_name = self.setting_handler.options_field
        return self.option(field_name) if field_name else {}

    def method_label(self, row: dict[str, Any]) -> str:
        """The label of a method row: its ``label`` if given, else its ``method``."""
        return str(row.get("label") or row["method"])

    def check_seeds(self, seeds: Sequence[int], *, option: str | None = None) -> list[int]:
        """``seeds`` if every one is among the recipe's seeds (see :func:`select_seeds`)."""
        return select_seeds(self.seeds, seeds, path=self.path, option=option)

    def train_values(self, model: str, row: dict[str, Any], seed: int) -> dict[str, Any]:
        """The TrainConfig fields of one run: ``train`` < ``model_train[model]`` < the method row."""
        return {
            **self.train,
            **self.model_train.get(model, {}),
            **{k: v for k, v in row.items() if k not in ROW_FIELDS},
            "model": model,
            "seed": seed,
        }

    def runs(
        self,
        n_classes: int | None = None,
        label_names: Sequence[str] | None = None,
        *,
        seeds: Sequence[int] | None = None,
    ) -> list[RunSpec]:
        """Every run of the recipe, in a stable order (variant, model, method, seed).

        Args:
            n_classes: number of classes of the data (``len(label_names)`` when those are given).
            label_names: the data's class names, needed when the recipe names classes (``HUM``).
            seeds: run only these seeds (a subset of the recipe's, see :meth:`check_seeds`).

        Raises:
            ConfigError: a class name or id the data does not have (naming the recipe field).
        """
        if label_names is not None:
            n_classes = len(label_names)
        variants = self._variants(n_classes, label_names)
        chosen = self.seeds if seeds is None else self.check_seeds(seeds)
        out = []
        for (variant, change), model, row, seed in itertools.product(
            variants, self.models, self.methods, chosen
        ):
            if not row_runs_seed(row, seed):
                continue
            values = self.train_values(model, row, seed)
            config = TrainConfig.from_dict(values, where=f"{self.path}: methods")
            label = self.method_label(row)
            run_id = f"{variant}__{model}__{label}__seed{seed}".replace("/", "_").replace(" ", "")
            out.append(RunSpec(run_id, label, model, seed, variant, config, change))
        return out

    def class_id(
        self, value: Any, where: str, label_names: Sequence[str] | None, n_classes: int | None
    ) -> int:
        """The id of a class given by name (a string) or by id (an integer) in the recipe field ``where``.

        Raises:
            ConfigError: not a name or an id, an unknown name, an id out of range, or a name given while
                the label names are unknown (``label_names=None``).
        """
        known = f"known classes: {', '.join(label_names)}" if label_names is not None else None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(
                f"a class is a label name or an integer id, got {value!r}", path=self.path, column=where
            )
        if isinstance(value, int):
            if value < 0 or (n_classes is not None and value >= n_classes):
                limit = f"0..{n_classes - 1}" if n_classes else "0 or more"
                raise ConfigError(
                    f"class id {value} is out of range ({limit})", path=self.path, column=where, hint=known
                )
            return value
        if label_names is None:
            raise ConfigError(
                f"class {value!r} is given by name, which needs the data's label names",
                path=self.path,
                column=where,
                hint="pass label_names to Recipe.runs",
            )
        if value not in label_names:
            raise ConfigError(
                f"unknown class {value!r}",
                path=self.path,
                column=where,
                hint=f"{known} (or their ids 0..{len(label_names) - 1}); quote a numeric name: '4'",
            )
        return list(label_names).index(value)

    def _variants(
        self, n_classes: int | None, label_names: Sequence[str] | None
    ) -> list[tuple[str, DataChange]]:
        def resolve(value: Any, where: str) -> int:
            return self.class_id(value, where, label_names, n_classes)

        return self.setting_handler.expand(self.setting_options(), n_classes, resolve)


def _load_yaml(path: Path) -> Any:
    """The safe-loaded YAML of a recipe file. Raises ConfigError (naming the file) if it does not parse."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe is not valid YAML: {exc}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("recipe is not UTF-8 text", path=path) from exc


def recipe_task(path: str | Path) -> str | None:
    """The ``task`` field of a recipe file (``"seq2seq"``, ``"autoencoder"``), or ``None``: a
    classification recipe (no ``task``) or a file that is missing or does not parse, which the
    classification loader then reports."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        raw = _load_yaml(path)
    except (ConfigError, OSError):
        return None
    task = raw.get("task") if isinstance(raw, dict) else None
    return task if isinstance(task, str) else None


def run_dir_task(run_dir: str | Path) -> str | None:
    """The ``task`` in a run folder's ``manifest.json`` (written by the seq2seq and autoencoder
    runners), or ``None`` (a classification run folder, or no readable manifest)."""
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    task = manifest.get("task") if isinstance(manifest, dict) else None
    return task if isinstance(task, str) else None


def read_recipe_fields(path: str | Path, known: set[str]) -> dict[str, Any]:
    """The fields of a recipe file (YAML, safe-loaded), checked for what every recipe kind shares: the
    file exists and is a mapping, every field is in ``known``, ``name`` and ``budget`` are given.

    Raises:
        ConfigError: naming the file (and the field).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError("recipe file does not exist", path=path)
    if path.is_dir():
        raise ConfigError("is a folder, not a recipe file", path=path, hint="pass a recipe .yaml file")
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("recipe must be a mapping of fields", path=path)
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
    return raw


def check_resources(value: Any, path: str | Path) -> dict[str, float]:
    """A recipe's ``resources`` with the defaults filled in: ``cpus`` (> 0) and ``gpus`` (>= 0) per training.

    Raises:
        ConfigError: not a mapping, another key, or a value that is not a number in range.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict) or set(value) - set(RESOURCE_DEFAULTS):
        raise ConfigError(
            "resources takes cpus and gpus (per training)",
            path=path,
            column="resources",
            hint="e.g. resources: {cpus: 2, gpus: 0}",
        )
    out = {**RESOURCE_DEFAULTS, **value}
    for key, low_open in (("cpus", True), ("gpus", False)):
        number = out[key]
        valid = isinstance(number, int | float) and not isinstance(number, bool) and number == number
        if not valid or number < 0 or (low_open and number == 0) or number == float("inf"):
            limit = "> 0" if low_open else ">= 0"
            raise ConfigError(
                f"must be a number {limit}, got {number!r}", path=path, column=f"resources.{key}"
            )
    return out


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (YAML, safe-loaded)."""
    path = Path(path)
    raw = read_recipe_fields(path, {f.name for f in dataclasses.fields(Recipe)} - {"path"})
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
    check_resources(recipe.resources, path)
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
            f"unknown setting {recipe.setting!r}",
            path=path,
            column="setting",
            hint=f"use one of {tuple(SETTINGS)}",
        )
    for name in _OPTION_FIELDS:
        extra = sorted(set(getattr(recipe, name) or {}) - set(_option_defaults(name)))
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
    _validate_classes(recipe, path)
    if not isinstance(recipe.seeds, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in recipe.seeds
    ):
        raise ConfigError("seeds must be a list of integers", path=path, column="seeds")
    for name in ("seeds", "models"):  # a repeated entry would give two runs of one run id
        values = getattr(recipe, name)
        if not isinstance(values, list) or len({json.dumps(v) for v in values}) != len(values):
            raise ConfigError(
                f"{name} must be a list without repeated entries, got {values!r}", path=path, column=name
            )
    for row in recipe.methods:
        check_row_seeds(row, recipe.seeds, path=path, label=recipe.method_label(row))
    for name in ("max_train", "max_test"):
        value = getattr(recipe, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(
                f"{name} must be an integer >= 1 (or null: all rows), got {value!r}", path=path, column=name
            )
    fraction = recipe.dev_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(
            f"dev_fraction must be a number in (0, 1), got {fraction!r}",
            path=path,
            column="dev_fraction",
            hint="0.25 is the paper's 3:1 train/dev split",
        )
    # builds every TrainConfig now: unknown fields, methods and models fail before any training
    for model, row, seed in itertools.product(recipe.models, recipe.methods, recipe.seeds):
        try:
            config = TrainConfig.from_dict(recipe.train_values(model, row, seed), where="the recipe")
        except ConfigError as exc:  # name the recipe file, and the method row the error comes from
            raise ConfigError(
                f"{exc.message} (model {model}, method row {recipe.method_label(row)!r})",
                path=path,
                column=exc.column,
                hint=exc.hint,
            ) from exc
        model_path = config.model_path
        if model_path is not None and not (Path(model_path) / "config.json").is_file():
            raise ConfigError(
                f"model_path {model_path} is not a Hugging Face model folder (no config.json)",
                path=path,
                column="model_path",
            )


def select_seeds(
    recipe_seeds: Sequence[int], seeds: Sequence[int], *, path: str | Path | None, option: str | None = None
) -> list[int]:
    """``seeds`` (repeats dropped, order kept) if every one is among ``recipe_seeds``: ``--seeds`` runs a
    smaller grid than the recipe's, never another one.

    Raises:
        ConfigError: no seed, or a seed the recipe does not list (named with ``option``, e.g. ``"--seeds"``).
    """
    chosen = [int(s) for s in seeds]
    unknown = [s for s in chosen if s not in recipe_seeds]
    if unknown or not chosen:
        what = f"seed(s) {', '.join(map(str, unknown))} not in the recipe" if unknown else "no seed given"
        raise ConfigError(
            what,
            path=path,
            option=option,
            hint=f"the recipe's seeds are {list(recipe_seeds)}; choose among them or edit the recipe",
        )
    return list(dict.fromkeys(chosen))


def check_row_seeds(
    row: dict[str, Any], recipe_seeds: Sequence[int], *, path: str | Path, label: str
) -> None:
    """A method row's optional ``seeds``: a non-empty list of the recipe's seeds (an ablation row on
    fewer seeds than the main comparison); without it the row runs every seed.

    Raises:
        ConfigError: naming the recipe file, the field ``methods.seeds`` and the row.
    """
    row_seeds = row.get("seeds", list(recipe_seeds))
    if (
        not isinstance(row_seeds, list)
        or not row_seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in row_seeds)
        or not set(row_seeds) <= set(recipe_seeds)
        or len(set(row_seeds)) != len(row_seeds)
    ):
        raise ConfigError(
            f"a row's seeds must be a non-empty list of distinct seeds among the recipe's "
            f"{list(recipe_seeds)}, got {row_seeds!r} in row {label!r}",
            path=path,
            column="methods.seeds",
        )


def row_runs_seed(row: dict[str, Any], seed: int) -> bool:
    """Whether a method row runs ``seed`` (a row without ``seeds`` runs every seed of the recipe)."""
    return seed in row.get("seeds", [seed])


def _validate_classes(recipe: Recipe, path: Path) -> None:
    """Class fields hold names or ids; names are checked against the data when it is loaded."""
    try:
        fields = recipe.setting_handler.class_fields(recipe.setting_options())
    except ConfigError as exc:
        raise ConfigError(exc.message, path=path, column=exc.column, hint=exc.hint) from exc
    for where, value in fields:
        if isinstance(value, str):
            continue
        recipe.class_id(value, where, None, None)
