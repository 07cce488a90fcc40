"""Seq2seq experiment recipes (issue 11): translation runs with sequence-level label smoothing.

A seq2seq recipe is a YAML file with ``task: seq2seq`` (that key is what tells the two recipe kinds
apart: :func:`is_seq2seq_recipe`; classification recipes have no ``task``). It gives the same guarantees
as a classification recipe (:mod:`textsmooth.experiments.runner`): every field, configuration, data file
and device is checked before anything trains; a finished run is never recomputed and a result made
with other settings is refused, not mixed in; an interrupted run resumes from its checkpoint; each
finished run's record is written atomically (its hypotheses first, then the ``.json`` that marks it
finished). The related-target tables the methods need are built by the runner into the run folder
once and reused by every seed and method row.

```yaml
task: seq2seq
name: multi30k-de-en
budget: about 9 hours on a 2-core CPU           # required: what a run costs
corpus: multi30k                                # Multi30k task 1 (train / val / test_2016_flickr)
pairs: [de-en]                                  # source-target language pairs (en, de, fr, cs)
data_root: null                                 # default: ../shared/data (textsmooth.sequence.multi30k_root)
# files: {train: [train.de, train.en], val: [...], test: [...]}   instead of corpus (relative to the
# recipe); pairs: [de-en] then only names the pair. holdout: {val: 40, test: 40} takes val and test
# from the end of the training files when `files` has no val / test.
max_train: null                                 # the first n pairs of each split (null: all)
max_val: null
max_test: null
seeds: [0, 1]
train: {epochs: 10, batch_size: 64}             # Seq2SeqConfig fields shared by every run
neighbors: {k: 100, bleu_order: 4, embed_side: auto, encoder: null, index: flat, min_cosine: null}
token_swap: {n_samples: 10, tau: 0.5, bleu_order: 4, seed: 0}                     # token-swap tables
methods:                            # Seq2SeqConfig fields per row (+ label, rerank_bleu, min_cosine, seeds)
  - {method: none}
  - {method: token-ls, label_smoothing: 0.1}
  - {method: semantic, alpha: 0.1, related_k: 5}
  - {method: semantic, alpha: 0.1, related_k: 5, rerank_bleu: 3}   # Table 4: re-rank by BLEU-3
  - {method: semantic, alpha: 0.01, related_k: 5, seeds: [0]}     # an ablation row on fewer seeds
paper: {none: 28.03, token-ls: 28.72}           # optional: the paper's BLEU-4 per row label
examples: 3                                     # related-target examples per table (the paper's Table 1)
```

Method rows: ``method`` is one of :data:`textsmooth.seq2seq.METHODS`; every other key is a
:class:`~textsmooth.seq2seq.Seq2SeqConfig` field, except ``label`` (the row's name in the report;
default: the method and the row's own alpha, k', m, label smoothing and re-rank order) and
``rerank_bleu`` (``semantic`` rows: the BLEU-n of the table's re-ranking; default
``neighbors.bleu_order``), ``min_cosine`` (``semantic`` / ``semantic-no-rerank`` rows: neighbours below
this cosine are dropped before re-ranking, so a target may keep fewer than k'; default
``neighbors.min_cosine``, none) and ``seeds`` (the row runs only these of the recipe's seeds: ablation
rows on fewer seeds than the main comparison; default all). Tables per pair, in ``RUN_DIR/tables/<pair>/``:

* ``semantic-bleu<n>.parquet``: :class:`~textsmooth.sequence.SemanticNeighbors` re-ranked by BLEU-n
  (``semantic`` rows), ``semantic-cosine.parquet``: no re-ranking (``semantic-no-rerank`` rows);
  ``k`` retrieved, ``k'`` = the largest ``related_k`` of the rows using it (a row's own ``related_k``
  keeps its best ones: the best k' of the best K' are the best k'); with a cosine floor the name ends in
  ``-min<floor>`` (``semantic-bleu4-min0.5.parquet``).
* ``token-swap.parquet``: :class:`~textsmooth.sequence.TokenSwapTargets`, ``n_samples`` copies per
  target, of which a row keeps the best ``related_k`` by BLEU.

``embed_side: auto`` embeds the English side: the targets for X->EN, the sources for EN->X (the default
encoder is English). Tables are checked against the training targets (and their parameters) when
reused; one built for other targets or other settings is rebuilt, unless finished results used it
(then those results are refused first, naming the file). Embeddings are cached in
``RUN_DIR/tables/cache`` and shared by the semantic tables of a pair.

Run directory::

    RUN_DIR/recipe.yaml, manifest.json ("task": "seq2seq", data hashes per pair, versions, seeds)
    RUN_DIR/data/<pair>.test.{src,ref}.txt       test sources and references (for the report)
    RUN_DIR/tables/<pair>/<table>.parquet        related targets (+ manifest, + .examples.json)
    RUN_DIR/runs/<run_id>/                       the trainer's checkpoint and metrics.jsonl
    RUN_DIR/results/<run_id>.hyp.txt             test hypotheses of a finished run
    RUN_DIR/results/<run_id>.json                its record (:class:`Seq2SeqRecord`): marks it finished

A finished run's checkpoint is deleted (an optimizer state per run would fill the disk over a grid);
``save_models: true`` keeps each run's best model in ``runs/<run_id>/model``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from textsmooth._version import __version__
from textsmooth.errors import ArtifactError, ConfigError, TextsmoothError
from textsmooth.io.atomic import atomic_write_text

__all__ = [
    "SEQ2SEQ_TASK",
    "Seq2SeqRecipe",
    "Seq2SeqRecord",
    "Seq2SeqRunSpec",
    "TableSpec",
    "check_seq2seq_recipe",
    "is_seq2seq_recipe",
    "is_seq2seq_run_dir",
    "load_seq2seq_data",
    "load_seq2seq_recipe",
    "read_seq2seq_result",
    "run_seq2seq_recipe",
]

SEQ2SEQ_TASK = "seq2seq"
LANGS = ("en", "de", "fr", "cs")
# methods whose related targets come from a table (the others need none)
TABLE_METHODS = ("semantic", "semantic-no-rerank", "token-swap")
NEIGHBOR_DEFAULTS: dict[str, Any] = {
    "k": 100,
    "bleu_order": 4,
    "embed_side": "auto",
    "encoder": None,
    "index": "flat",
    "num_threads": None,
    "min_cosine": None,
}
TOKEN_SWAP_DEFAULTS: dict[str, Any] = {"n_samples": 10, "tau": 0.5, "bleu_order": 4, "seed": 0}
# recipe-only keys of a method row (not Seq2SeqConfig fields)
_ROW_KEYS = ("label", "rerank_bleu", "min_cosine", "seeds")
# the parts of a default row label: (config field, short name)
_LABEL_PARTS = (
    ("alpha", "alpha"),
    ("related_k", "k"),
    ("related_per_step", "m"),
    ("label_smoothing", "ls"),
    ("rerank_bleu", "rerank-bleu"),
    ("min_cosine", "min-cos"),
)


def is_seq2seq_recipe(path: str | Path) -> bool:
    """Whether ``path`` is a recipe file with ``task: seq2seq`` (``False`` for anything else, including
    a file that does not parse: the classification loader then reports what is wrong with it)."""
    from textsmooth.experiments.recipe import recipe_task

    return recipe_task(path) == SEQ2SEQ_TASK


def is_seq2seq_run_dir(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was written by :func:`run_seq2seq_recipe` (its manifest says so)."""
    from textsmooth.experiments.recipe import run_dir_task

    return run_dir_task(run_dir) == SEQ2SEQ_TASK


# ---------------------------------------------------------------------------------------------- recipe
@dataclass(frozen=True)
class TableSpec:
    """A related-target table of one language pair, as the recipe asks for it.

    ``params`` are the settings that change the table's rows (for the manifest check and the run
    records); ``keep`` (semantic tables: ``k'``, the largest of the rows using it) only bounds them.
    """

    pair: str
    name: str
    kind: str  # "semantic" or "token-swap"
    params: dict[str, Any]
    keep: int

    def path(self, out: Path) -> Path:
        return out / "tables" / self.pair / f"{self.name}.parquet"

    def to_json(self) -> dict[str, Any]:
        return {"pair": self.pair, "name": self.name, "kind": self.kind, "params": dict(self.params)}


@dataclass(frozen=True)
class Seq2SeqRunSpec:
    """One training run: a language pair, a method row and a seed (``table``: its related targets)."""

    run_id: str
    pair: str
    method_label: str
    seed: int
    config: Any  # textsmooth.seq2seq.Seq2SeqConfig
    table: TableSpec | None


@dataclass
class Seq2SeqRecipe:
    """A parsed, validated seq2seq recipe (module docstring: the YAML layout)."""

    name: str
    budget: str
    path: str
    task: str = SEQ2SEQ_TASK
    description: str = ""
    corpus: str | None = None
    files: dict[str, Any] | None = None
    holdout: dict[str, int] = field(default_factory=dict)
    pairs: list[str] = field(default_factory=lambda: ["de-en"])
    data_root: str | None = None
    max_train: int | None = None
    max_val: int | None = None
    max_test: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    train: dict[str, Any] = field(default_factory=dict)
    neighbors: dict[str, Any] = field(default_factory=dict)
    token_swap: dict[str, Any] = field(default_factory=dict)
    methods: list[dict[str, Any]] = field(default_factory=lambda: [{"method": "none"}])
    paper: dict[str, float] = field(default_factory=dict)
    examples: int = 3
    save_models: bool = False
    resources: dict[str, float] = field(default_factory=dict)

    # -------------------------------------------------------------- helpers
    def neighbor_options(self) -> dict[str, Any]:
        return {**NEIGHBOR_DEFAULTS, **(self.neighbors or {})}

    def token_swap_options(self) -> dict[str, Any]:
        return {**TOKEN_SWAP_DEFAULTS, **(self.token_swap or {})}

    def method_label(self, row: dict[str, Any]) -> str:
        """The row's ``label``, else its method and the settings the row itself gives."""
        if row.get("label"):
            return str(row["label"])
        parts = [str(row["method"])]
        parts += [f"{short}={row[key]}" for key, short in _LABEL_PARTS if key in row]
        return " ".join(parts)

    def check_seeds(self, seeds: Sequence[int], *, option: str | None = None) -> list[int]:
        """``seeds`` if every one is among the recipe's (a smaller grid, never another one)."""
        from textsmooth.experiments.recipe import select_seeds

        return select_seeds(self.seeds, seeds, path=self.path, option=option)

    def config_values(self, row: dict[str, Any], seed: int) -> dict[str, Any]:
        """The Seq2SeqConfig fields of one run: ``train`` < the method row, and the seed."""
        return {
            **self.train,
            **{k: v for k, v in row.items() if k not in _ROW_KEYS},
            "seed": seed,
        }

    def embed_side(self, pair: str) -> str:
        """``target`` or ``source``: ``auto`` embeds the English side (targets when both or neither)."""
        side = self.neighbor_options()["embed_side"]
        if side != "auto":
            return str(side)
        source, target = pair.split("-")
        return "source" if source == "en" and target != "en" else "target"

    def table_for(self, pair: str, row: dict[str, Any]) -> TableSpec | None:
        """The table a method row of ``pair`` trains with (``None`` for methods that need none)."""
        method = row["method"]
        if method not in TABLE_METHODS:
            return None
        if method == "token-swap":
            opts = self.token_swap_options()
            params = {k: opts[k] for k in ("n_samples", "tau", "bleu_order", "seed")}
            return TableSpec(pair, "token-swap", "token-swap", params, int(opts["n_samples"]))
        name, params = self._semantic_table(pair, row)
        keep = max(
            int(self.config_values(r, 0).get("related_k", 5))
            for r in self.methods
            if r["method"] in ("semantic", "semantic-no-rerank") and self._semantic_table(pair, r)[0] == name
        )
        return TableSpec(pair, name, "semantic", params, keep)

    def _semantic_table(self, pair: str, row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The name and parameters of a semantic row's table: its re-rank order (none for
        ``semantic-no-rerank``) and cosine floor (``min_cosine``, the row's or the recipe's)."""
        opts = self.neighbor_options()
        order = None if row["method"] == "semantic-no-rerank" else row.get("rerank_bleu", opts["bleu_order"])
        floor = row.get("min_cosine", opts["min_cosine"])
        name = "semantic-cosine" if order is None else f"semantic-bleu{order}"
        params = {
            "k": opts["k"],
            "bleu_order": order,
            "embed_side": self.embed_side(pair),
            "encoder": opts["encoder"],
            "index": opts["index"],
        }
        if floor is not None:  # only then: tables built before the option existed keep their parameters
            name, params["min_cosine"] = f"{name}-min{float(floor):g}", float(floor)
        return name, params

    def tables(self) -> list[TableSpec]:
        """Every distinct table the recipe's runs need, in a stable order."""
        out: dict[tuple[str, str], TableSpec] = {}
        for pair, row in itertools.product(self.pairs, self.methods):
            spec = self.table_for(pair, row)
            if spec is not None:
                out.setdefault((pair, spec.name), spec)
        return list(out.values())

    def runs(self, seeds: Sequence[int] | None = None) -> list[Seq2SeqRunSpec]:
        """Every run of the recipe, in a stable order (pair, method row, seed)."""
        from textsmooth.experiments.recipe import row_runs_seed
        from textsmooth.seq2seq.config import Seq2SeqConfig

        chosen = self.seeds if seeds is None else self.check_seeds(seeds)
        out = []
        for pair, row, seed in itertools.product(self.pairs, self.methods, chosen):
            if not row_runs_seed(row, seed):
                continue
            config = Seq2SeqConfig.from_dict(self.config_values(row, seed), where=f"{self.path}: methods")
            label = self.method_label(row)
            run_id = f"{pair}__{label}__seed{seed}".replace("/", "_").replace(" ", "_")
            out.append(Seq2SeqRunSpec(run_id, pair, label, seed, config, self.table_for(pair, row)))
        return out


def load_seq2seq_recipe(path: str | Path) -> Seq2SeqRecipe:
    """Read and validate a seq2seq recipe (YAML, safe-loaded); every run's configuration is built now.

    Raises:
        ConfigError: naming the recipe file and the field: unknown fields, methods or configuration
            fields; bad pairs, seeds, sizes, table options; missing data files or model folders.
    """
    from textsmooth.experiments.recipe import read_recipe_fields

    path = Path(path)
    if not is_seq2seq_recipe(path) and path.is_file():
        raise ConfigError(
            "not a seq2seq recipe (no `task: seq2seq`)",
            path=path,
            column="task",
            hint="seq2seq recipes start with `task: seq2seq`",
        )
    raw = read_recipe_fields(path, {f.name for f in dataclasses.fields(Seq2SeqRecipe)} - {"path"})
    base = path.resolve().parent
    if isinstance(raw.get("files"), dict):  # data paths are relative to the recipe file
        raw["files"] = {
            split: [str((base / p).resolve()) for p in value]
            if isinstance(value, list) and all(isinstance(p, str) for p in value)
            else value
            for split, value in raw["files"].items()
        }
    if isinstance(raw.get("data_root"), str):
        raw["data_root"] = str((base / raw["data_root"]).resolve())
    for name in ("holdout", "train", "neighbors", "token_swap", "paper"):
        if raw.get(name) is None and name in raw:
            raw[name] = {}
    recipe = Seq2SeqRecipe(**raw, path=str(path))
    _validate(recipe, path)
    return recipe


def _int_at_least(value: Any, low: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= low


def _validate(recipe: Seq2SeqRecipe, path: Path) -> None:
    from textsmooth.experiments.recipe import check_resources, check_row_seeds
    from textsmooth.seq2seq.config import Seq2SeqConfig

    check_resources(recipe.resources, path)
    _validate_data(recipe, path)
    for name in ("seeds", "methods", "pairs"):
        values = getattr(recipe, name)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{name} must be a non-empty list", path=path, column=name)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in recipe.seeds) or len(
        set(recipe.seeds)
    ) != len(recipe.seeds):
        raise ConfigError("seeds must be a list of distinct integers", path=path, column="seeds")
    for name in ("max_train", "max_val", "max_test"):
        value = getattr(recipe, name)
        if value is not None and not _int_at_least(value, 1):
            raise ConfigError(
                f"{name} must be an integer >= 1 or null, got {value!r}", path=path, column=name
            )
    if not _int_at_least(recipe.examples, 0):
        raise ConfigError(
            f"examples must be an integer >= 0, got {recipe.examples!r}", path=path, column="examples"
        )
    for name, defaults in (("neighbors", NEIGHBOR_DEFAULTS), ("token_swap", TOKEN_SWAP_DEFAULTS)):
        value = getattr(recipe, name)
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping", path=path, column=name)
        extra = sorted(set(value) - set(defaults))
        if extra:
            raise ConfigError(
                f"unknown option(s) {', '.join(extra)}",
                path=path,
                column=name,
                hint=f"known: {', '.join(defaults)}",
            )
    side = recipe.neighbor_options()["embed_side"]
    if side not in ("auto", "source", "target"):
        raise ConfigError(
            f"embed_side must be auto, source or target, got {side!r}",
            path=path,
            column="neighbors.embed_side",
        )
    if not isinstance(recipe.methods, list) or not all(
        isinstance(r, dict) and "method" in r for r in recipe.methods
    ):
        raise ConfigError("every methods row needs a 'method'", path=path, column="methods")
    labels = [recipe.method_label(row) for row in recipe.methods]
    if len(set(labels)) != len(labels):
        raise ConfigError(
            "method rows must have distinct labels (add `label:` to tell them apart)",
            path=path,
            column="methods",
        )
    for row in recipe.methods:
        check_row_seeds(row, recipe.seeds, path=path, label=recipe.method_label(row))
        floor = row.get("min_cosine", recipe.neighbor_options()["min_cosine"])
        own = "min_cosine" in row
        if (own and row["method"] not in ("semantic", "semantic-no-rerank")) or (
            floor is not None
            and (isinstance(floor, bool) or not isinstance(floor, int | float) or not -1 <= floor <= 1)
        ):
            raise ConfigError(
                f"min_cosine is the cosine floor (-1 to 1) of a semantic row's neighbours, got {floor!r}"
                + (f" in row {recipe.method_label(row)!r}" if own else ""),
                path=path,
                column="methods.min_cosine" if own else "neighbors.min_cosine",
            )
        if "rerank_bleu" in row and (row["method"] != "semantic" or not _int_at_least(row["rerank_bleu"], 1)):
            raise ConfigError(
                f"rerank_bleu is the BLEU-n (>= 1) of a semantic row's re-ranking, "
                f"got {row['rerank_bleu']!r} "
                f"in row {recipe.method_label(row)!r}",
                path=path,
                column="methods.rerank_bleu",
            )
    # every configuration now: unknown fields, methods and values fail before any training
    languages_checked: set[tuple[str, str | None, str | None]] = set()
    for row, seed in itertools.product(recipe.methods, recipe.seeds):
        try:
            config = Seq2SeqConfig.from_dict(recipe.config_values(row, seed), where="the recipe")
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (method row {recipe.method_label(row)!r})",
                path=path,
                column=exc.column,
                hint=exc.hint,
            ) from exc
        model_path = getattr(config, "model_path", None)
        if model_path is not None and not (Path(model_path) / "config.json").is_file():
            raise ConfigError(
                f"model_path {model_path} is not a Hugging Face model folder (no config.json)",
                path=path,
                column="train.model_path",
            )
        languages = (str(model_path), config.source_lang, config.target_lang)
        if model_path is not None and languages[1:] != (None, None) and languages not in languages_checked:
            from textsmooth.seq2seq.pretrained import PretrainedVocab

            try:  # a language code the checkpoint's tokenizer lacks
                PretrainedVocab.load(
                    model_path, source_lang=config.source_lang, target_lang=config.target_lang
                )
            except ConfigError as exc:
                raise ConfigError(
                    f"{exc.message} ({model_path})", path=path, column=f"train.{exc.column}", hint=exc.hint
                ) from exc
            languages_checked.add(languages)
    _check_pool(
        recipe, path, ("token-swap",), recipe.token_swap_options()["n_samples"], "token_swap.n_samples"
    )
    _check_pool(
        recipe, path, ("semantic", "semantic-no-rerank"), recipe.neighbor_options()["k"], "neighbors.k"
    )


def _check_pool(recipe: Seq2SeqRecipe, path: Path, methods: tuple[str, ...], pool: Any, field: str) -> None:
    """A table's candidates per target (``pool``: token-swap samples, neighbours k) must be at least the
    largest ``related_k`` of the rows of ``methods`` that use it."""
    wanted = [
        int(recipe.config_values(r, 0).get("related_k", 5)) for r in recipe.methods if r["method"] in methods
    ]
    if wanted and (not _int_at_least(pool, 1) or max(wanted) > pool):
        raise ConfigError(
            f"{field} ({pool!r}) must be at least the largest related_k of the {'/'.join(methods)} rows "
            f"({max(wanted)})",
            path=path,
            column=field,
        )


def _validate_data(recipe: Seq2SeqRecipe, path: Path) -> None:
    if (recipe.corpus is None) == (recipe.files is None):
        raise ConfigError("give exactly one of 'corpus' (multi30k) and 'files'", path=path)
    if recipe.corpus is not None and recipe.corpus != "multi30k":
        raise ConfigError(
            f"unknown corpus {recipe.corpus!r}", path=path, column="corpus", hint="use multi30k, or files:"
        )
    if not isinstance(recipe.pairs, list) or not recipe.pairs:
        raise ConfigError("pairs must be a non-empty list such as [de-en]", path=path, column="pairs")
    for pair in recipe.pairs:
        parts = str(pair).split("-")
        if len(parts) != 2 or parts[0] == parts[1] or (recipe.corpus and not set(parts) <= set(LANGS)):
            raise ConfigError(
                f"pair {pair!r} is not SOURCE-TARGET of two different languages",
                path=path,
                column="pairs",
                hint=f"e.g. de-en; Multi30k has {', '.join(LANGS)}",
            )
    if len(set(recipe.pairs)) != len(recipe.pairs):
        raise ConfigError("pairs has repeated entries", path=path, column="pairs")
    if recipe.data_root is not None and not Path(recipe.data_root).is_dir():
        raise ConfigError(f"data_root does not exist: {recipe.data_root}", path=path, column="data_root")
    if not isinstance(recipe.holdout, dict) or sorted(set(recipe.holdout) - {"val", "test"}):
        raise ConfigError("holdout takes val and test (numbers of pairs)", path=path, column="holdout")
    for split, n in recipe.holdout.items():
        if not _int_at_least(n, 1):
            raise ConfigError(
                f"holdout.{split} must be an integer >= 1, got {n!r}", path=path, column="holdout"
            )
    if recipe.files is None:
        if recipe.holdout:
            raise ConfigError(
                "holdout is for files: data without val/test files", path=path, column="holdout"
            )
        return
    if len(recipe.pairs) != 1:
        raise ConfigError("with files:, pairs names the one pair the files hold", path=path, column="pairs")
    extra = sorted(set(recipe.files) - {"train", "val", "test"})
    if extra or "train" not in recipe.files:
        raise ConfigError("files takes train (required), val and test", path=path, column="files")
    for split in ("val", "test"):
        if (split in recipe.files) == (split in recipe.holdout):
            raise ConfigError(
                f"give {split} either in files or in holdout (not both, not neither)",
                path=path,
                column="files",
            )
    for split, value in recipe.files.items():
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(p, str) for p in value)):
            raise ConfigError(
                f"files.{split} must be [source file, target file]", path=path, column=f"files.{split}"
            )
        for p in value:
            if not Path(p).is_file():
                raise ConfigError(f"data file does not exist: {p}", path=path, column=f"files.{split}")


def check_seq2seq_recipe(
    recipe: Seq2SeqRecipe,
) -> tuple[dict[str, tuple[Any, Any, Any]], list[Seq2SeqRunSpec]]:
    """Load every pair's data and build every run: what ``textsmooth experiment check`` shows.

    Returns ``({pair: (train, val, test)}, runs)``.
    """
    data = load_seq2seq_data(recipe)
    return data, recipe.runs()


def load_seq2seq_data(recipe: Seq2SeqRecipe) -> dict[str, tuple[Any, Any, Any]]:
    """``{pair: (train, val, test)}`` ParallelCorpus triples, cut to ``max_train`` / ``max_val`` /
    ``max_test`` (the first pairs of each split)."""
    from textsmooth.seq2seq.data import ParallelCorpus, load_multi30k_pair, read_parallel

    out = {}
    for pair in recipe.pairs:
        source, target = pair.split("-")
        if recipe.corpus == "multi30k":
            train, val, test = (
                load_multi30k_pair(split, source, target, root=recipe.data_root)
                for split in ("train", "val", "test")
            )
        else:
            files = recipe.files or {}
            train = read_parallel(*files["train"])
            held: dict[str, ParallelCorpus] = {}
            end = len(train)
            for split in ("test", "val"):  # the last pairs are the test part, the ones before it val
                n = recipe.holdout.get(split)
                if n is None:
                    continue
                if n >= end:
                    raise ConfigError(
                        f"holdout leaves no training pairs ({len(train)} pairs in the file)",
                        path=recipe.path,
                        column="holdout",
                    )
                held[split] = ParallelCorpus(
                    train.sources[end - n : end],
                    train.targets[end - n : end],
                    train.source_path,
                    train.target_path,
                )
                end -= n
            train = ParallelCorpus(
                train.sources[:end], train.targets[:end], train.source_path, train.target_path
            )
            val = held["val"] if "val" in held else read_parallel(*files["val"])
            test = held["test"] if "test" in held else read_parallel(*files["test"])
        if recipe.max_train:
            train = train.subset(int(recipe.max_train))
        if recipe.max_val:
            val = val.subset(int(recipe.max_val))
        if recipe.max_test:
            test = test.subset(int(recipe.max_test))
        out[pair] = (train, val, test)
    return out


# ---------------------------------------------------------------------------------------------- records
_RECORD_FIELDS = ("run_id", "pair", "method", "seed", "config", "test")
_TEST_FIELDS = ("bleu", "bleu3", "bleu5", "chrf")


@dataclass(frozen=True)
class Seq2SeqRecord:
    """A finished seq2seq run (``results/<run_id>.json``).

    Attributes:
        run_id, pair, method, seed: which run (``method`` is the row's label).
        config: its :class:`~textsmooth.seq2seq.Seq2SeqConfig` as a dict.
        table: the table it trained with (:meth:`TableSpec.to_json`) and the table file's sha256, or None.
        n_train, n_val, n_test: the split sizes.
        test: test-set scores (``bleu`` = BLEU-4, ``bleu3``, ``bleu5``, ``chrf``).
        best_val_bleu, best_epoch, history: model selection on val.
        seconds: training and evaluation time of the session that finished it; ``resumed``: whether
            that session resumed a checkpoint.
    """

    run_id: str
    pair: str
    method: str
    seed: int
    config: dict[str, Any]
    table: dict[str, Any] | None
    n_train: int
    n_val: int
    n_test: int
    test: dict[str, float]
    best_val_bleu: float
    best_epoch: int
    history: list[dict[str, Any]]
    seconds: float
    resumed: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: Any, path: str | Path) -> Seq2SeqRecord:
        """Validate a record read from ``path``; :class:`ArtifactError` naming it when it is not one."""
        hint = (
            f"delete it and {Path(path).name.removesuffix('.json')}.hyp.txt beside it; "
            "`textsmooth experiment run` then trains that run again"
        )
        missing = [k for k in _RECORD_FIELDS if not isinstance(values, dict) or k not in values]
        if missing:
            raise ArtifactError(
                f"not a seq2seq result record (no {', '.join(missing)})", path=path, hint=hint
            )
        test = values["test"]
        if not isinstance(test, dict) or any(not isinstance(test.get(k), int | float) for k in _TEST_FIELDS):
            raise ArtifactError(f"test scores lack one of {', '.join(_TEST_FIELDS)}", path=path, hint=hint)
        if not isinstance(values["config"], dict):
            raise ArtifactError("config is not an object", path=path, hint=hint)
        try:
            return cls(
                run_id=str(values["run_id"]),
                pair=str(values["pair"]),
                method=str(values["method"]),
                seed=int(values["seed"]),
                config=dict(values["config"]),
                table=values.get("table"),
                n_train=int(values.get("n_train", 0)),
                n_val=int(values.get("n_val", 0)),
                n_test=int(values.get("n_test", 0)),
                test={k: float(v) for k, v in test.items() if isinstance(v, int | float)},
                best_val_bleu=float(values.get("best_val_bleu") or 0.0),
                best_epoch=int(values.get("best_epoch") or 0),
                history=list(values.get("history") or []),
                seconds=float(values.get("seconds") or 0.0),
                resumed=bool(values.get("resumed", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"not a seq2seq result record ({exc})", path=path, hint=hint) from exc


def read_seq2seq_result(path: str | Path) -> Seq2SeqRecord:
    """The record of a finished run; :class:`ArtifactError` naming the file when it is corrupt."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            "corrupt result file (not valid JSON)", path=path, hint="delete it; the run is then trained again"
        ) from exc
    return Seq2SeqRecord.from_json(values, path)


def hypotheses_path(out: Path, run_id: str) -> Path:
    return out / "results" / f"{run_id}.hyp.txt"


def test_files(out: Path, pair: str) -> tuple[Path, Path]:
    """The test sources and references of ``pair`` the runner copies into the run folder."""
    return out / "data" / f"{pair}.test.src.txt", out / "data" / f"{pair}.test.ref.txt"


# ---------------------------------------------------------------------------------------------- runner
def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _versions() -> dict[str, str]:
    out = {"textsmooth": __version__}
    for name in ("torch", "transformers", "tokenizers", "sacrebleu", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check_run_dir(out: Path, recipe: Seq2SeqRecipe, data: dict[str, tuple[Any, Any, Any]]) -> None:
    """Refuse a folder holding another recipe's results, or results computed on other data."""
    from textsmooth.experiments.runner import check_run_dir

    check_run_dir(out)
    if not any((out / "results").glob("*.json")):
        return
    try:
        before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = {}
    before = before if isinstance(before, dict) else {}
    if before.get("task") not in (None, SEQ2SEQ_TASK) or (
        before.get("recipe") is not None and before["recipe"] != recipe.name
    ):
        raise ConfigError(
            f"the run folder holds results of recipe {before.get('recipe')!r}, not {recipe.name!r}; "
            "nothing was trained",
            path=out,
            hint="run each recipe into its own folder (-o)",
        )
    changed = []
    for pair, splits in data.items():
        stored = (before.get("data") or {}).get(pair) or {}
        for split, corpus in zip(("train", "val", "test"), splits, strict=True):
            sha = (stored.get(split) or {}).get("sha256")
            if sha is not None and sha != corpus.describe()["sha256"]:
                changed.append(f"{pair} {split}")
    if changed:
        raise ConfigError(
            f"the run folder holds results of {recipe.name!r} computed on other data ({', '.join(changed)}); "
            "nothing was trained",
            path=out,
            hint="run into a new folder (-o), or delete its results folder to recompute them",
        )


def _finished_runs(specs: list[Seq2SeqRunSpec], out: Path) -> dict[str, Seq2SeqRecord]:
    """The finished records of ``specs``; one made with other settings is refused (nothing trains).

    A field the stored configuration lacks (a record written before the field existed) counts as its
    default value, so adding a configuration field does not turn finished results into stale ones; the
    runtime fields (``RUNTIME_FIELDS``: threads, device, ``checkpoint_every``) may change between runs.
    """
    from textsmooth.seq2seq.config import RUNTIME_FIELDS, Seq2SeqConfig

    defaults = _jsonable(Seq2SeqConfig().to_dict())
    finished = {}
    for spec in specs:
        done = out / "results" / f"{spec.run_id}.json"
        if not done.exists():
            continue
        record = read_seq2seq_result(done)
        wanted = _jsonable(spec.config.to_dict())
        stored = {**defaults, **_jsonable(record.config)}
        changed = sorted(
            k for k in set(wanted) | set(stored) if k not in RUNTIME_FIELDS and wanted.get(k) != stored.get(k)
        )
        want_table = _jsonable(spec.table.to_json()) if spec.table else None
        have_table = dict(record.table or {})
        have_table.pop("sha256", None)
        if (want_table or None) != (have_table or None):
            changed.append("related-target table")
        if changed:
            raise ConfigError(
                f"the run folder holds a finished result of {spec.run_id} made with other settings "
                f"({', '.join(changed)}); nothing was trained",
                path=done,
                hint="run into a new folder (-o), or delete the stale results to recompute them",
            )
        if not hypotheses_path(out, spec.run_id).is_file():
            raise ArtifactError(
                "a finished run's test hypotheses are missing",
                path=hypotheses_path(out, spec.run_id),
                hint=f"delete {done} too; the run is then trained again",
            )
        finished[spec.run_id] = record
    return finished


def _preflight(specs: list[Seq2SeqRunSpec], recipe: Seq2SeqRecipe) -> None:
    from textsmooth.training.saved import check_device

    for device in sorted({str(getattr(spec.config, "device", "cpu")) for spec in specs}):
        try:
            check_device(device)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=recipe.path, column="train.device", hint=exc.hint) from exc


def _table_matches(path: Path, spec: TableSpec, targets: list[str]) -> bool:
    """Whether the table at ``path`` is finished, built for ``targets`` and with ``spec``'s settings."""
    from textsmooth.io.manifest import hash_texts, manifest_path

    try:
        manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    inputs = manifest.get("inputs", {}) if isinstance(manifest, dict) else {}
    stored = inputs.get("recipe_table") or {}
    return (
        path.is_file()
        and inputs.get("targets_sha256") == hash_texts(targets)
        and stored.get("params") == _jsonable(spec.params)
        and int(stored.get("keep", -1)) >= spec.keep
    )


def _build_table(
    spec: TableSpec, train: Any, out: Path, examples: int, progress: bool, log: Callable[[str], Any]
) -> Any:
    """Build (or reuse) one table into the run folder; return the :class:`NeighborTable`.

    Under an exclusive lock on the table (:func:`~textsmooth.io.atomic.exclusive`): a second process of
    the same run folder (e.g. ``--seeds 1`` beside ``--seeds 0``) waits for the first one's table and
    reuses it, instead of building it beside it in the same work folder.
    """
    from textsmooth.io.atomic import exclusive

    with exclusive(spec.path(out), feature="textsmooth experiment run"):
        return _build_table_locked(spec, train, out, examples, progress, log)


def _build_table_locked(
    spec: TableSpec, train: Any, out: Path, examples: int, progress: bool, log: Callable[[str], Any]
) -> Any:
    from textsmooth.sequence import NeighborTable

    path = spec.path(out)
    targets = list(train.targets)
    recorded = {**spec.to_json(), "keep": spec.keep}
    if _table_matches(path, spec, targets):
        table = NeighborTable.read(path, texts=targets)
        log(f"  reusing {_relative(path)}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if spec.kind == "token-swap":
            from textsmooth.sequence import TokenSwapTargets

            params = spec.params
            gen = TokenSwapTargets(
                int(params["n_samples"]),
                tau=float(params["tau"]),
                bleu_order=int(params["bleu_order"]),
                seed=int(params["seed"]),
            ).fit(targets)
            gen.table_.write(
                path,
                kind_detail="token-swap",
                parameters=gen.get_params(),
                texts=targets,
                inputs={"recipe_table": recorded},
            )
            table = gen.table_
        else:
            from textsmooth.sequence import SemanticNeighbors

            params = spec.params
            n_distinct = len(set(targets))
            k = min(int(params["k"]), max(n_distinct - 1, 1))
            sn = SemanticNeighbors(
                k=k,
                keep=min(spec.keep, k),
                bleu_order=params["bleu_order"],
                encoder=params["encoder"],
                index=params["index"],
                embed_side=params["embed_side"],
                min_cosine=params.get("min_cosine"),
                with_text=True,
            )
            work = path.parent / f"work-{spec.name}"
            sources = list(train.sources) if params["embed_side"] == "source" else None
            sn.fit(
                targets, sources=sources, work_dir=work, cache_dir=out / "tables" / "cache", progress=progress
            )
            sn.write(path, targets, inputs={"recipe_table": recorded})
            SemanticNeighbors.clean_work(work)
            shutil.rmtree(work, ignore_errors=True)
            table = sn.table_
        log(f"  built {_relative(path)} ({len(table):,} rows, {time.perf_counter() - started:.1f} s)")
        table = NeighborTable.read(path, texts=targets)
    _write_table_examples(path, table, targets, list(train.sources), examples)
    return table


def _write_table_examples(path: Path, table: Any, targets: list[str], sources: list[str], n: int) -> None:
    """The first ``n`` targets with at least two related targets, and their best two (the paper's
    Table 1), for the report."""
    related = table.related_texts(targets)
    rows = []
    order = table.as_lists()
    starts = [0]
    for ids in order:
        starts.append(starts[-1] + len(ids))
    for i, rel in enumerate(related):
        if len(rows) >= n:
            break
        if len(rel) < 2:
            continue
        lo = starts[i]
        rows.append(
            {
                "source": sources[i],
                "target": targets[i],
                "related": rel[:2],
                "bleu": [None if b != b else round(float(b), 2) for b in table.bleu[lo : lo + 2].tolist()],
                "cosine": [
                    None if c != c else round(float(c), 3) for c in table.cosine[lo : lo + 2].tolist()
                ],
            }
        )
    atomic_write_text(path.with_suffix(".examples.json"), json.dumps({"examples": rows}, indent=1))


def run_seq2seq_recipe(
    recipe: Seq2SeqRecipe,
    out_dir: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], Any] = print,
) -> list[Seq2SeqRecord]:
    """Run every run of ``recipe`` without a result yet; return all records (finished and new).

    Order of work: load and check everything (recipe, data, devices, the folder's earlier results), write
    the manifest, build or reuse the tables, then train run after run (each resumable from its
    checkpoint). Nothing is trained when a check fails. ``jobs > 1`` trains that many runs at once, each
    in a spawned worker process with one torch thread (results as with ``jobs=1``: every run is seeded by
    its own configuration). ``executor`` (e.g. a
    :class:`~textsmooth.distributed.executor.RayExecutor`) runs every training instead, ``jobs`` unused
    (see :func:`textsmooth.experiments.runner.training_executor`). A run another process is training
    now (two processes sharing the folder) is skipped and left out of the records returned
    (:func:`textsmooth.experiments.runner.train_claimed`).

    Raises:
        ConfigError: a seed the recipe does not list; the folder holds another recipe's results, results
            on other data or with other settings.
        ArtifactError: a corrupt result file.
    """
    from textsmooth.experiments.runner import SKIPPED_BUSY

    out = Path(out_dir)
    chosen = recipe.seeds if seeds is None else recipe.check_seeds(seeds)
    data = load_seq2seq_data(recipe)
    specs = recipe.runs(seeds=chosen)
    _preflight(specs, recipe)
    _check_run_dir(out, recipe, data)
    results = _finished_runs(specs, out)
    _write_run_folder(recipe, out, data, chosen)
    todo = [s for s in specs if s.run_id not in results]
    tables: dict[tuple[str, str], Any] = {}
    needed = {(s.pair, s.table.name): s.table for s in todo if s.table is not None}
    for table_spec in recipe.tables():  # examples of every table, even when all its runs are done
        if (table_spec.pair, table_spec.name) in needed or not table_spec.path(out).with_suffix(
            ".examples.json"
        ).exists():
            tables[(table_spec.pair, table_spec.name)] = _build_table(
                table_spec, data[table_spec.pair][0], out, recipe.examples, progress, log
            )
    number = {s.run_id: i for i, s in enumerate(specs, start=1)}
    if todo and (executor is not None or (int(jobs) > 1 and len(todo) > 1)):
        _run_parallel(todo, recipe, data, out, int(jobs), results, log, executor)
    else:
        for spec in todo:
            log(f"[{number[spec.run_id]}/{len(specs)}] {spec.run_id}")
            table = tables[(spec.pair, spec.table.name)] if spec.table is not None else None
            record = _run_claimed(
                spec, out, lambda s=spec, t=table: _run_one(s, recipe, data[s.pair], t, out, progress)
            )
            if record is None:
                log(f"  {SKIPPED_BUSY}")
            else:
                results[spec.run_id] = record
    return [results[s.run_id] for s in specs if s.run_id in results]


def _run_claimed(spec: Seq2SeqRunSpec, out: Path, train: Callable[[], Seq2SeqRecord]) -> Seq2SeqRecord | None:
    """``train()`` under the run's claim (:func:`~textsmooth.experiments.runner.train_claimed`): ``None``
    where another process trains the run now, its record where that process finished it meanwhile."""
    from textsmooth.experiments.runner import train_claimed

    return train_claimed(out, spec.run_id, lambda: _finished_runs([spec], out).get(spec.run_id), train)


def _run_parallel(
    todo: list[Seq2SeqRunSpec],
    recipe: Seq2SeqRecipe,
    data: dict[str, tuple[Any, Any, Any]],
    out: Path,
    jobs: int,
    results: dict[str, Seq2SeqRecord],
    log: Callable[[str], Any],
    executor: Executor | None = None,
) -> None:
    """Train ``todo`` on ``executor`` (default: ``jobs`` spawned worker processes, one torch thread each)."""
    from concurrent.futures import as_completed

    from textsmooth.experiments.runner import SKIPPED_BUSY, training_executor

    with training_executor(executor, jobs, len(todo), log) as pool:
        futures = {
            pool.submit(
                _worker_run, spec, recipe, data[spec.pair],
                None if spec.table is None else str(spec.table.path(out)), str(out),
            ): spec
            for spec in todo
        }  # fmt: skip
        for future in as_completed(futures):
            record = future.result()  # a worker's error stops the run here
            if record is None:
                log(f"  {futures[future].run_id}: {SKIPPED_BUSY}")
                continue
            results[record.run_id] = record
            log(f"  finished {record.run_id}: test BLEU-4 {record.test['bleu']:.2f}")


def _worker_run(
    spec: Seq2SeqRunSpec,
    recipe: Seq2SeqRecipe,
    splits: tuple[Any, Any, Any],
    table_path: str | None,
    out: str,
) -> Seq2SeqRecord | None:
    from textsmooth.experiments.runner import worker_threads
    from textsmooth.sequence import NeighborTable

    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, num_threads=worker_threads()))

    def train() -> Seq2SeqRecord:
        table = None if table_path is None else NeighborTable.read(table_path, texts=list(splits[0].targets))
        return _run_one(spec, recipe, splits, table, Path(out), progress=False)

    return _run_claimed(spec, Path(out), train)


def _write_run_folder(
    recipe: Seq2SeqRecipe, out: Path, data: dict[str, tuple[Any, Any, Any]], chosen: list[int]
) -> None:
    """The recipe copy, the manifest and the test files the report reads."""
    import yaml

    (out / "results").mkdir(parents=True, exist_ok=True)
    raw = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "path"}
    atomic_write_text(out / "recipe.yaml", yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    seeds_before: set[int] = set()
    try:
        seeds_before = {
            int(s) for s in json.loads((out / "manifest.json").read_text(encoding="utf-8"))["seeds"]
        }
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not any((out / "results").glob("*.json")):
        seeds_before = set()
    manifest = {
        "task": SEQ2SEQ_TASK,
        "recipe": recipe.name,
        "recipe_file": _relative(Path(recipe.path)),
        "run_dir": _relative(out),
        "budget": recipe.budget,
        "seeds": sorted(seeds_before | set(chosen)),
        "pairs": list(recipe.pairs),
        "versions": _versions(),
        "data": {
            pair: {
                name: corpus.describe() for name, corpus in zip(("train", "val", "test"), splits, strict=True)
            }
            for pair, splits in data.items()
        },
    }
    atomic_write_text(out / "manifest.json", json.dumps(_jsonable(manifest), indent=2))
    for pair, (_, _, test) in data.items():
        src, ref = test_files(out, pair)
        src.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(src, "\n".join(test.sources) + "\n")
        atomic_write_text(ref, "\n".join(test.targets) + "\n")


def _run_one(
    spec: Seq2SeqRunSpec,
    recipe: Seq2SeqRecipe,
    splits: tuple[Any, Any, Any],
    table: Any,
    out: Path,
    progress: bool,
) -> Seq2SeqRecord:
    """Train one run (resuming its checkpoint), score its test hypotheses, write them and its record."""
    from textsmooth.io.manifest import sha256_file
    from textsmooth.seq2seq.decode import corpus_scores
    from textsmooth.seq2seq.trainer import train_seq2seq

    train, val, test = splits
    run_dir = out / "runs" / spec.run_id
    started = time.perf_counter()
    result = train_seq2seq(
        train,
        val,
        spec.config,
        out_dir=run_dir,
        table=table,
        test=test,
        progress=progress,
        save_model=bool(recipe.save_models),
    )
    hypotheses = list(result.test_hypotheses or [])
    if len(hypotheses) != len(test):
        raise TextsmoothError(
            f"the trainer returned {len(hypotheses)} test hypotheses for {len(test)} test sentences",
            path=run_dir,
        )
    scores = corpus_scores(hypotheses, list(test.targets))
    table_json = None
    if spec.table is not None:
        table_json = {**spec.table.to_json(), "sha256": sha256_file(spec.table.path(out))}
    record = Seq2SeqRecord(
        run_id=spec.run_id,
        pair=spec.pair,
        method=spec.method_label,
        seed=spec.seed,
        config=_jsonable(spec.config.to_dict()),
        table=_jsonable(table_json),
        n_train=len(train),
        n_val=len(val),
        n_test=len(test),
        test={k: float(v) for k, v in scores.items()},
        best_val_bleu=float(result.best_val_bleu),
        best_epoch=int(result.best_epoch),
        history=_jsonable(list(result.history)),
        seconds=result.seconds_before + time.perf_counter() - started,  # earlier processes, then this one
        resumed=result.resumed,
    )
    # one hypothesis per line: a newline inside one would shift every later line
    atomic_write_text(
        hypotheses_path(out, spec.run_id), "".join(h.replace("\n", " ") + "\n" for h in hypotheses)
    )
    atomic_write_text(out / "results" / f"{spec.run_id}.json", json.dumps(record.to_json(), indent=1))
    (run_dir / "checkpoint.pt").unlink(missing_ok=True)  # finished: the record is the result now
    return record
