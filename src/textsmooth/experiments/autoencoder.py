"""Autoencoder recipes (issue 12): the similarity-based reconstruction loss poster's study.

An LSTM sentence autoencoder (:mod:`textsmooth.seq2seq.lstm`: encoder and decoder LSTMs, the sentence
vector ``z`` as the only link) is trained with cross-entropy and with the poster's losses (soft labels
over the top-N similar words, weighted similarity, weighted cross-entropy: the ``similarity-soft``,
``weighted-similarity`` and ``weighted-ce`` methods of :func:`~textsmooth.seq2seq.train_seq2seq`), then
its frozen ``z`` is probed SentEval-style on MRPC and SICK-E (:func:`~textsmooth.metrics.probing.probe_pairs`)
and its reconstructions of held-out sentences are compared word by word with the inputs
(:func:`~textsmooth.metrics.reconstruction.reconstruction_word_stats`).

```yaml
task: autoencoder
name: ae-mr-subj
budget: about 2 hours on a 2-core CPU        # required: what a run costs
corpus: [mr, subj]                            # SentEval sentence corpora (textsmooth.io.load_sentences)
# files: [sentences.txt]                      # or one sentence per line (relative to the recipe)
max_sentences: null                           # the first n sentences after the seeded shuffle
holdout: {val: 500, test: 500}                # taken from the end of the shuffled sentences
vectors: {dim: 100, epochs: 10}               # word2vec on the training sentences, for the tables
stats_top_n: 10                               # near-synonym = among the word's top-N similar words
probe: {tasks: [mrpc, sick-e], folds: 5, max_train: null, max_test: null}
seeds: [0, 1]
train: {architecture: lstm, d_model: 256, encoder_layers: 1, decoder_layers: 1, vocab_kind: word}
methods:                                      # Seq2SeqConfig fields per row (+ label, seeds)
  - {method: none, lr: 1.0e-3}
  - {method: similarity-soft, similarity_top_n: 3}
  - {method: weighted-ce, seeds: [0]}         # a row on fewer of the recipe's seeds (default: all)
poster: {"cross-entropy": {mrpc_f1: 79.0, mrpc_acc: 66.9, sick_e: 56.8}}   # the poster's Table 2 by label
examples: 8                                   # reconstruction examples in the report
```

The similarity tables are built once per run folder from word vectors trained on the training sentences
(:func:`~textsmooth.seq2seq.similarity.build_token_similarity_table`, seeded), one per ``(N, normalised)``
the rows need, in ``RUN_DIR/tables/``. Like the other recipe kinds, a finished run is never recomputed,
a result of other settings is refused, an interrupted training resumes from its checkpoint
(``RUN_DIR/runs/<run>/``), and each record is written atomically (``RUN_DIR/results/<run>.json``, its
reconstructions first).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textsmooth.errors import ConfigError, StaleArtifactError

__all__ = [
    "AUTOENCODER_TASK",
    "AutoencoderRecipe",
    "is_autoencoder_recipe",
    "is_autoencoder_run_dir",
    "load_autoencoder_data",
    "load_autoencoder_recipe",
    "run_autoencoder_recipe",
]

AUTOENCODER_TASK = "autoencoder"
PROBE_TASKS = ("mrpc", "sick-e")
_FIELDS = {
    "task", "name", "description", "budget", "corpus", "files", "data_root", "max_sentences", "holdout",
    "vectors", "stats_top_n", "probe", "seeds", "train", "methods", "poster", "examples", "resources",
}  # fmt: skip
_DEFAULT_TRAIN = {"architecture": "lstm", "encoder_layers": 1, "decoder_layers": 1, "vocab_kind": "word"}


def is_autoencoder_recipe(path: str | Path) -> bool:
    """Whether ``path`` is a recipe file with ``task: autoencoder``."""
    from textsmooth.experiments.recipe import recipe_task

    return recipe_task(path) == AUTOENCODER_TASK


def is_autoencoder_run_dir(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was written by :func:`run_autoencoder_recipe` (its manifest says so)."""
    from textsmooth.experiments.recipe import run_dir_task

    return run_dir_task(run_dir) == AUTOENCODER_TASK


# ---------------------------------------------------------------------------------------------- recipe
@dataclass
class AutoencoderRecipe:
    """A parsed autoencoder recipe (module docstring)."""

    path: Path
    name: str
    budget: str
    description: str = ""
    corpus: list[str] = field(default_factory=lambda: ["mr", "subj"])
    files: list[str] = field(default_factory=list)
    data_root: str | None = None
    max_sentences: int | None = None
    holdout: dict[str, int] = field(default_factory=lambda: {"val": 500, "test": 500})
    vectors: dict[str, Any] = field(default_factory=lambda: {"dim": 100, "epochs": 10})
    stats_top_n: int = 10
    probe: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    train: dict[str, Any] = field(default_factory=dict)
    methods: list[dict[str, Any]] = field(default_factory=lambda: [{"method": "none"}])
    poster: dict[str, dict[str, float]] = field(default_factory=dict)
    examples: int = 8
    resources: dict[str, float] = field(default_factory=dict)

    def label(self, row: dict[str, Any]) -> str:
        """The row's name in the report: its ``label``, else the method (with N for soft labels)."""
        if row.get("label"):
            return str(row["label"])
        method = row["method"]
        if method == "none":
            return "cross-entropy"
        if method == "similarity-soft":
            return f"soft-label N={self.config(row, 0).similarity_top_n}"
        return method

    def config(self, row: dict[str, Any], seed: int) -> Any:
        from textsmooth.experiments.recipe import ROW_FIELDS
        from textsmooth.seq2seq.config import Seq2SeqConfig

        values = {**_DEFAULT_TRAIN, **self.train, **{k: v for k, v in row.items() if k not in ROW_FIELDS}}
        try:
            return Seq2SeqConfig.from_dict({**values, "seed": seed})
        except ConfigError as exc:
            raise ConfigError(f"method row {row}: {exc}", path=self.path) from exc

    def run_id(self, row: dict[str, Any], seed: int) -> str:
        safe = "".join(c if c.isalnum() or c in "-=." else "_" for c in self.label(row))
        return f"{safe}__seed{seed}"

    def tables(self) -> list[tuple[int, bool]]:
        """``(N, normalised)`` of every similarity table the rows need, plus the near-synonym table."""
        needed = {(self.stats_top_n, False)}
        for row in self.methods:
            config = self.config(row, 0)
            if config.uses_similarity:
                needed.add((config.similarity_top_n, config.method == "similarity-soft"))
        return sorted(needed)

    def probe_option(self, name: str) -> Any:
        defaults = {"tasks": list(PROBE_TASKS), "folds": 5, "max_train": None, "max_test": None}
        return self.probe.get(name, defaults[name])

    def check_seeds(self, seeds: Sequence[int], *, option: str | None = None) -> list[int]:
        """``seeds`` if every one is among the recipe's (a smaller grid, never another one)."""
        from textsmooth.experiments.recipe import select_seeds

        return select_seeds(self.seeds, seeds, path=self.path, option=option)

    def runs(self, seeds: Sequence[int] | None = None) -> list[tuple[dict[str, Any], int]]:
        """Every ``(method row, seed)`` to run, seed by seed; a row with ``seeds`` runs only those."""
        from textsmooth.experiments.recipe import row_runs_seed

        chosen = self.seeds if seeds is None else self.check_seeds(seeds)
        return [(row, seed) for seed in chosen for row in self.methods if row_runs_seed(row, seed)]


def load_autoencoder_recipe(path: str | Path) -> AutoencoderRecipe:
    """Read and check an autoencoder recipe (every row's configuration, the probe tasks, the seeds).

    Raises:
        ConfigError: naming the file and the field.
    """
    from textsmooth.experiments.recipe import check_resources, check_row_seeds, read_recipe_fields

    path = Path(path)
    raw = read_recipe_fields(path, _FIELDS)
    if raw.get("task") != AUTOENCODER_TASK:
        raise ConfigError(f"task must be {AUTOENCODER_TASK!r}", path=path, column="task")
    values = {k: v for k, v in raw.items() if k != "task"}
    for name in ("description", "budget", "name"):
        if name in values:
            values[name] = str(values[name]).strip()
    recipe = AutoencoderRecipe(path=path, **values)
    for name, kind in (("corpus", list), ("files", list), ("holdout", dict), ("vectors", dict),
                       ("probe", dict), ("seeds", list), ("train", dict), ("methods", list),
                       ("poster", dict)):  # fmt: skip
        if not isinstance(getattr(recipe, name), kind):
            raise ConfigError(f"{name} must be a {kind.__name__}", path=path, column=name)
    if not recipe.methods or not all(isinstance(r, dict) and "method" in r for r in recipe.methods):
        raise ConfigError("methods must be a list of rows with a method each", path=path, column="methods")
    if not recipe.seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                   for s in recipe.seeds):  # fmt: skip
        raise ConfigError("seeds must be a list of integers >= 0", path=path, column="seeds")
    for key in recipe.holdout:
        if key not in ("val", "test") or not isinstance(recipe.holdout[key], int) or recipe.holdout[key] < 1:
            raise ConfigError("holdout takes val and test, integers >= 1", path=path, column="holdout")
    tasks = recipe.probe_option("tasks")
    unknown = sorted(set(tasks) - set(PROBE_TASKS)) if isinstance(tasks, list) else [tasks]
    if unknown or set(recipe.probe) - {"tasks", "folds", "max_train", "max_test"}:
        raise ConfigError(
            f"probe takes tasks (of {', '.join(PROBE_TASKS)}), folds, max_train, max_test",
            path=path,
            column="probe",
        )
    if len(set(recipe.seeds)) != len(recipe.seeds):
        raise ConfigError(f"seeds repeat an entry: {recipe.seeds}", path=path, column="seeds")
    for row in recipe.methods:
        recipe.config(row, recipe.seeds[0])  # every row's configuration is checked now, not mid-run
    labels = [recipe.label(row) for row in recipe.methods]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"two method rows have the same label: {labels}", path=path, column="methods")
    for row, label in zip(recipe.methods, labels, strict=True):
        check_row_seeds(row, recipe.seeds, path=path, label=label)
    if not recipe.corpus and not recipe.files:
        raise ConfigError("give a corpus or files", path=path, column="corpus")
    check_resources(recipe.resources, path)
    return recipe


@dataclass(frozen=True)
class AutoencoderData:
    """Sentences of the three splits (the held-out ones from the end of the seeded shuffle)."""

    train: list[str]
    val: list[str]
    test: list[str]

    def sha256(self) -> str:
        from textsmooth.io.manifest import hash_texts

        return hash_texts([*self.train, "\0val", *self.val, "\0test", *self.test])


def load_autoencoder_data(recipe: AutoencoderRecipe) -> AutoencoderData:
    """The recipe's sentences, shuffled with seed 0 (duplicates kept once), split into train/val/test.

    Raises:
        DataError: a missing file. ConfigError: fewer sentences than the held-out ones need.
    """
    from textsmooth.io.corpora import load_sentences
    from textsmooth.io.readers import split_lines

    sentences: list[str] = []
    for name in recipe.corpus if not recipe.files else []:
        sentences += load_sentences(name, recipe.data_root)
    for file in recipe.files:
        path = (recipe.path.parent / file).resolve()
        from textsmooth.errors import DataError

        if not path.is_file():
            raise DataError("sentence file does not exist", path=path)
        sentences += [s.strip() for s in split_lines(path.read_text(encoding="utf-8")) if s.strip()]
    sentences = list(dict.fromkeys(sentences))
    random.Random(0).shuffle(sentences)
    if recipe.max_sentences is not None:
        sentences = sentences[: recipe.max_sentences]
    n_val, n_test = recipe.holdout.get("val", 500), recipe.holdout.get("test", 500)
    if len(sentences) <= n_val + n_test:
        raise ConfigError(
            f"{len(sentences)} sentences leave none to train on after {n_val} + {n_test} held out",
            path=recipe.path,
            column="holdout",
        )
    train = sentences[: -(n_val + n_test)]
    return AutoencoderData(train, sentences[len(train) : len(train) + n_val], sentences[-n_test:])


# ---------------------------------------------------------------------------------------------- runner
def _table_path(out: Path, top_n: int, normalized: bool) -> Path:
    return out / "tables" / f"similarity-n{top_n}-{'soft' if normalized else 'raw'}.npz"


def _build_tables(recipe: AutoencoderRecipe, data: AutoencoderData, out: Path, log: Callable) -> None:
    """The vocabulary every run learns (the same function, the same sentences) and its tables."""
    from textsmooth.io.atomic import exclusive
    from textsmooth.seq2seq.data import ParallelCorpus
    from textsmooth.seq2seq.similarity import build_token_similarity_table, target_tokens
    from textsmooth.seq2seq.trainer import prepare_vocab
    from textsmooth.similarity import SimilarityTable, load_stopwords

    config = recipe.config(recipe.methods[0], 0)
    vocab = prepare_vocab(ParallelCorpus(data.train, data.train), config)
    tokens = target_tokens(vocab)
    for top_n, normalized in recipe.tables():
        path = _table_path(out, top_n, normalized)
        with exclusive(path, feature="textsmooth experiment run"):  # another process may build it now
            if path.exists():
                try:
                    SimilarityTable.read(path, vocab=tokens)
                    continue
                except StaleArtifactError:
                    log(f"rebuilding {path.name}: built for another vocabulary")
            started = time.perf_counter()
            table = build_token_similarity_table(
                vocab, data.train, top_n=top_n, normalize=normalized, stopwords=load_stopwords("en"),
                dim=int(recipe.vectors.get("dim", 100)), epochs=int(recipe.vectors.get("epochs", 10)),
                seed=0, max_length=config.max_length,
            )  # fmt: skip
            table.write(path, parameters={"built_from": "training sentences", **recipe.vectors})
            log(f"table {path.name}: {len(tokens):,} words, {time.perf_counter() - started:.1f} s")


def _write_run_folder(recipe: AutoencoderRecipe, data: AutoencoderData, out: Path) -> None:
    """Manifest (task, data hash), recipe copy; a folder of other data is refused."""
    import shutil

    from textsmooth.io.atomic import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = {
        "task": AUTOENCODER_TASK,
        "name": recipe.name,
        "data_sha256": data.sha256(),
        "sentences": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
    }
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("task") != AUTOENCODER_TASK or old.get("data_sha256") != manifest["data_sha256"]:
            raise StaleArtifactError(
                "the run folder holds results of other data or another kind of recipe",
                path=out,
                hint="use a new run folder",
            )
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    if recipe.path.resolve() != (out / "recipe.yaml").resolve():
        shutil.copyfile(recipe.path, out / "recipe.yaml")
    (out / "results").mkdir(exist_ok=True)


def _finished(recipe: AutoencoderRecipe, out: Path, row: dict[str, Any], seed: int) -> dict[str, Any] | None:
    path = out / "results" / f"{recipe.run_id(row, seed)}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("fingerprint") != recipe.config(row, seed).fingerprint():
        raise StaleArtifactError(
            "a finished result was made with other settings than the recipe's row",
            path=path,
            hint="delete it (and its runs/ folder) to recompute it, or use a new run folder",
        )
    return record


def run_autoencoder_recipe(
    recipe: AutoencoderRecipe,
    out: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], Any] = print,
) -> list[dict[str, Any]]:
    """Train, probe and score every (method row, seed) without a result yet (module docstring).

    ``jobs > 1``: that many trainings at once in spawned worker processes (one torch thread each);
    ``executor`` (e.g. a :class:`~textsmooth.distributed.executor.RayExecutor`) runs every training
    instead (see :func:`textsmooth.experiments.runner.training_executor`). Same records either way. A
    run another process is training now is skipped and left out of the records returned
    (:func:`textsmooth.experiments.runner.train_claimed`).
    """
    out = Path(out)
    specs = recipe.runs(seeds)
    data = load_autoencoder_data(recipe)
    _write_run_folder(recipe, data, out)
    _build_tables(recipe, data, out, log)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for row, seed in specs:
        record = _finished(recipe, out, row, seed)
        if record is None:
            todo.append((row, seed))
        else:
            results[record["run_id"]] = record
    log(f"{len(specs)} runs, {len(specs) - len(todo)} finished, {len(todo)} to train")
    from textsmooth.experiments.runner import SKIPPED_BUSY

    if todo and (executor is not None or (jobs > 1 and len(todo) > 1)):
        from concurrent.futures import as_completed

        from textsmooth.experiments.runner import training_executor

        with training_executor(executor, jobs, len(todo), log) as pool:
            futures = {
                pool.submit(_worker, recipe, row, seed, data, str(out)): (row, seed) for row, seed in todo
            }
            for future in as_completed(futures):
                record = future.result()
                if record is None:
                    log(f"  {recipe.run_id(*futures[future])}: {SKIPPED_BUSY}")
                    continue
                results[record["run_id"]] = record
                log(f"  finished {record['run_id']}")
    else:
        for row, seed in todo:
            log(f"{recipe.run_id(row, seed)}")
            record = _run_claimed(recipe, row, seed, data, out, progress=progress)
            if record is None:
                log(f"  {SKIPPED_BUSY}")
            else:
                results[record["run_id"]] = record
    wanted = [recipe.run_id(row, seed) for row, seed in specs]
    return [results[run_id] for run_id in wanted if run_id in results]


def _run_claimed(
    recipe: AutoencoderRecipe,
    row: dict[str, Any],
    seed: int,
    data: AutoencoderData,
    out: Path,
    *,
    progress: bool,
    num_threads: int | None = None,
) -> dict[str, Any] | None:
    """:func:`run_one` under the run's claim (:func:`~textsmooth.experiments.runner.train_claimed`):
    ``None`` where another process trains the run now, its record where that one finished it meanwhile.
    ``num_threads``: the training's torch threads (a worker's), else the row's."""
    from textsmooth.experiments.runner import train_claimed

    threaded = row if num_threads is None else {**row, "num_threads": num_threads}
    return train_claimed(
        out,
        recipe.run_id(row, seed),
        lambda: _finished(recipe, out, row, seed),
        lambda: run_one(recipe, threaded, seed, data, out, progress=progress),
    )


def _worker(
    recipe: AutoencoderRecipe, row: dict[str, Any], seed: int, data: AutoencoderData, out: str
) -> dict[str, Any] | None:
    from textsmooth.experiments.runner import worker_threads

    return _run_claimed(recipe, row, seed, data, Path(out), progress=False, num_threads=worker_threads())


def _words(vocab: Any, text: str) -> list[str]:
    """``text`` split into the vocabulary's words (its normaliser and pre-tokenizer)."""
    tokenizer = vocab.target
    if tokenizer.normalizer is not None:
        text = tokenizer.normalizer.normalize_str(text)
    return [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def _probe_data(recipe: AutoencoderRecipe, task: str) -> tuple[Any, Any, Any]:
    from textsmooth.io.pairs import SentencePairs, load_mrpc, load_sick

    def cut(pairs: SentencePairs, n: int | None) -> SentencePairs:
        if n is None or n >= len(pairs):
            return pairs
        return SentencePairs(
            pairs.first[:n], pairs.second[:n], pairs.labels[:n], pairs.label_names, pairs.path
        )

    root = recipe.data_root
    most, tests = recipe.probe_option("max_train"), recipe.probe_option("max_test")
    if task == "mrpc":
        return cut(load_mrpc("train", root=root), most), None, cut(load_mrpc("test", root=root), tests)
    return (cut(load_sick("train", root=root), most), cut(load_sick("dev", root=root), most),
            cut(load_sick("test", root=root), tests))  # fmt: skip


def run_one(
    recipe: AutoencoderRecipe,
    row: dict[str, Any],
    seed: int,
    data: AutoencoderData,
    out: Path,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Train one autoencoder, probe its sentence vectors, score its reconstructions; write the record."""
    from textsmooth.io.atomic import atomic_write_text
    from textsmooth.metrics.probing import probe_pairs
    from textsmooth.metrics.reconstruction import reconstruction_word_stats
    from textsmooth.seq2seq.data import ParallelCorpus
    from textsmooth.seq2seq.decode import tokenized_references
    from textsmooth.seq2seq.encode import encode_sentences
    from textsmooth.seq2seq.similarity import target_tokens
    from textsmooth.seq2seq.trainer import train_seq2seq
    from textsmooth.similarity import SimilarityTable

    label_row = {k: v for k, v in row.items() if k != "num_threads"}
    run_id = recipe.run_id(label_row, seed)
    config = recipe.config(row, seed)
    run_dir = out / "runs" / run_id
    started = time.perf_counter()
    table = None
    if config.uses_similarity:
        path = _table_path(out, config.similarity_top_n, config.method == "similarity-soft")
        table = SimilarityTable.read(path)
    with tokenized_references():  # MR / SUBJ are tokenized on purpose
        result = train_seq2seq(
            ParallelCorpus(data.train, data.train),
            ParallelCorpus(data.val, data.val),
            config,
            out_dir=run_dir,
            table=table,
            test=ParallelCorpus(data.test, data.test),
            progress=progress,
            save_model=False,
        )

    def encode(texts: list[str]) -> Any:
        return encode_sentences(result.model, result.vocab, texts, max_length=config.max_length)

    probes = {}
    for task in recipe.probe_option("tasks"):
        train_pairs, dev_pairs, test_pairs = _probe_data(recipe, task)
        folds = int(recipe.probe_option("folds"))
        probe = probe_pairs(encode, train_pairs, test_pairs, dev=dev_pairs, folds=folds, seed=seed,
                            num_threads=config.num_threads)  # fmt: skip
        probes[task] = {
            "accuracy": probe.accuracy, "f1": probe.f1, "macro_f1": probe.macro_f1, "best_c": probe.best_c,
            "correct": [int(p == y) for p, y in zip(probe.predictions.tolist(),
                                                     test_pairs.labels.tolist(), strict=True)],
        }  # fmt: skip
    reference = SimilarityTable.read(
        _table_path(out, recipe.stats_top_n, False), vocab=target_tokens(result.vocab)
    )
    neighbors = {
        reference.vocab[i]: {reference.vocab[j] for j in row_ids[1:] if j >= 0}
        for i, row_ids in enumerate(reference.indices.tolist())
    }
    hypotheses = result.test_hypotheses or []
    stats = reconstruction_word_stats(
        [_words(result.vocab, s) for s in data.test], [_words(result.vocab, h) for h in hypotheses], neighbors
    )
    record = {
        "run_id": run_id,
        "label": recipe.label(label_row),
        "method": config.method,
        "seed": seed,
        "fingerprint": config.fingerprint(),
        "config": config.to_dict(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "val_bleu": result.best_val_bleu,
        "test": result.test_scores,
        "probe": probes,
        "reconstruction": stats.to_dict(),
        "examples": [{"input": s, "output": h} for s, h in zip(data.test[: recipe.examples],
                                                                 hypotheses, strict=False)],
        # Training time over all epochs and the run's wall time, both with the checkpointed work of
        # earlier (interrupted) processes.
        "train_seconds": round(sum(float(h["seconds"]) for h in result.history), 1),
        "seconds": round(result.seconds_before + time.perf_counter() - started, 1),
    }  # fmt: skip
    results = out / "results"
    atomic_write_text(results / f"{run_id}.hyp.txt", "".join(h + "\n" for h in hypotheses))
    atomic_write_text(results / f"{run_id}.json", json.dumps(record, indent=1))
    return record


def read_autoencoder_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every finished record of a run folder, in file-name order."""
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((Path(run_dir) / "results").glob("*.json"))
    ]
