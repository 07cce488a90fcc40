"""A small, honest training loop for text classifiers with every smoothing method.

``train_classifier(train, dev, config)`` does, in order: seed everything; flip labels (``flip``); build
soft labels on the training split only (``tfidf``, ``kwls``; ``distill`` first trains the same model
with hard labels and takes its predicted probabilities on the training texts, the KWLS paper's
protocol); build the model and encode the texts once; train with Adam, evaluating the dev split after
every epoch; keep the best epoch by ``select_by`` (an improvement must exceed ``min_delta``) and stop
after ``patience`` epochs without improvement; checkpoint every epoch and resume from it when the same
configuration runs again; finally evaluate the best model on dev (and ``test`` when given) and save it.

Files in ``out_dir`` (nothing is written without it):

* ``checkpoint.pt``: the state to resume from (loaded with ``weights_only=True``). A truncated or corrupt
  one is an :class:`~textsmooth.errors.ArtifactError` naming it (delete it to start the run over); one of
  another configuration is a :class:`~textsmooth.errors.ConfigError`.
* ``metrics.jsonl``: one line per finished epoch, rewritten atomically from the checkpoint's history, each
  line tagged with ``config_fingerprint``. The loop overwrites only a metrics file it wrote itself for
  this configuration; any other ``metrics.jsonl`` in the folder (no checkpoint beside it, or lines of
  another configuration) is refused with a :class:`~textsmooth.errors.ConfigError`, never deleted.
* ``model/``: the best model, saved with :func:`textsmooth.training.saved.save_classifier` (weights as
  safetensors, vocabulary or tokenizer, class names, a manifest with checksums); reload it with
  :func:`textsmooth.training.load_classifier`.

Global state: the loop seeds Python's, numpy's and torch's global generators (dropout and weight
initialisation draw from torch's), and sets torch's thread count to ``config.num_threads`` for the run
(restored afterwards). A run is deterministic given its configuration and thread count; run concurrent
trainings in separate processes, not threads, since those generators are per process.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textsmooth.errors import ArtifactError, ConfigError, InputError
from textsmooth.io.atomic import atomic_path, atomic_write_text
from textsmooth.io.readers import TextDataset, split_lines
from textsmooth.models import split_logits
from textsmooth.training.config import TrainConfig
from textsmooth.training.factory import Featurizer, TextFeaturizer, build_model
from textsmooth.training.objectives import Objective

__all__ = [
    "EarlyStopping",
    "TrainResult",
    "check_splits",
    "evaluate_probs",
    "predict_proba",
    "teacher_soft_labels",
    "train_classifier",
]

CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.jsonl"
MODEL_DIR = "model"


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        model: the best model (in eval mode after the final evaluation).
        featurizer: texts -> model inputs (a :class:`~textsmooth.training.factory.TextFeaturizer`).
        config: the configuration.
        history: dev metrics of every epoch run (``epoch`` is 1-based).
        best_epoch: the epoch whose weights ``model`` holds.
        soft_labels: the soft labels trained with (soft-label methods), else ``None``.
        train_labels: the training labels used (after flipping).
        classes: the label name of each output.
        dev_probs, dev_metrics: the best model's dev probabilities and metrics (the loop's own evaluation).
        test_probs, test_metrics: the same on ``test``, when ``train_classifier`` was given one.
        model_dir: where the best model was saved (``out_dir/model``), or ``None``.
    """

    model: nn.Module
    featurizer: Featurizer
    config: TrainConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    soft_labels: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    dev_probs: np.ndarray | None = None
    dev_metrics: dict[str, float] | None = None
    test_probs: np.ndarray | None = None
    test_metrics: dict[str, float] | None = None
    model_dir: Path | None = None

    def predict_proba(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """Softmax probabilities ``(len(texts), n_classes)`` of the best model."""
        return predict_proba(self.model, self.featurizer, texts, batch_size, self.config.device)

    def save(self, path: str | Path, *, inputs: dict[str, Any] | None = None) -> Path:
        """Save the best model as a folder :func:`textsmooth.training.load_classifier` reads back.

        The manifest records the configuration, the best epoch, its dev (and test) metrics and ``inputs``
        (descriptions of the data, e.g. ``{"train": train.describe()}``).
        """
        from textsmooth.training.saved import save_classifier

        if not isinstance(self.featurizer, TextFeaturizer):
            raise ConfigError("only models built by textsmooth.training.factory.build_model can be saved")
        return save_classifier(
            path,
            self.model,
            self.featurizer,
            self.classes,
            parameters=self.config.to_dict(),
            inputs=inputs,
            extra={
                "best_epoch": self.best_epoch,
                "dev_metrics": self.dev_metrics,
                "test_metrics": self.test_metrics,
            },
        )


@dataclass
class EarlyStopping:
    """Model selection and early stopping on one dev metric.

    An epoch is an improvement when its score beats the best so far by more than ``min_delta`` (lower is
    better for ``nll``, higher for the others); the first epoch always is. Training stops once
    ``patience`` epochs in a row were not improvements.

    Example:
        >>> stop = EarlyStopping("macro_f1", patience=2, min_delta=0.01)
        >>> [stop.update(s) for s in (0.50, 0.60, 0.605, 0.65)], stop.best_epoch, stop.should_stop
        ([True, True, False, True], 4, False)
    """

    metric: str = "macro_f1"
    patience: int = 2
    min_delta: float = 0.0
    best_score: float | None = None
    best_epoch: int = 0
    stale: int = 0
    epochs_seen: int = 0

    def improves(self, score: float) -> bool:
        """Whether ``score`` would count as an improvement (nothing is recorded)."""
        if self.best_score is None:
            return True
        if self.metric == "nll":
            return score < self.best_score - self.min_delta
        return score > self.best_score + self.min_delta

    def update(self, score: float) -> bool:
        """Record the next epoch's score; ``True`` when it is the new best."""
        self.epochs_seen += 1
        if self.improves(score):
            self.best_score, self.best_epoch, self.stale = float(score), self.epochs_seen, 0
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.stale >= self.patience


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may use the global generator
    torch.manual_seed(seed)


def predict_proba(
    model: nn.Module, featurizer: Featurizer, texts: list[str], batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """Softmax probabilities ``(n, C)`` of the predicting head, in eval mode, batch by batch."""
    features = featurizer(texts)
    return _predict_features(model, features, batch_size, device)


def _predict_features(
    model: nn.Module, features: dict[str, torch.Tensor], batch_size: int, device: str
) -> np.ndarray:
    model.eval()
    n = next(iter(features.values())).shape[0]
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size].to(device) for k, v in features.items()}
            logits, _ = split_logits(model(**batch))
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate_probs(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The dev/test metrics the loop logs (accuracy, macro-F1, balanced accuracy, NLL, ECE, Brier)."""
    from textsmooth.metrics import (
        accuracy,
        balanced_accuracy,
        brier_score,
        expected_calibration_error,
        macro_f1,
        nll,
    )

    n_classes = probs.shape[1]
    return {
        "accuracy": float(accuracy(probs, labels)),
        "macro_f1": float(macro_f1(probs, labels, n_classes=n_classes)),
        "balanced_accuracy": float(balanced_accuracy(probs, labels)),
        "nll": float(nll(probs, labels)),
        "ece": float(expected_calibration_error(probs, labels)),
        "brier": float(brier_score(probs, labels)),
    }


def teacher_soft_labels(
    teacher_probs: np.ndarray,
    texts: list[str],
    labels: np.ndarray,
    n_classes: int,
    temperature: float,
) -> np.ndarray:
    """LS-Distill soft labels from a teacher's predicted probabilities on the training texts.

    ``d_i = p_i^(1/T) / sum_c p_ic^(1/T)``, i.e. ``softmax(log p_i / T)`` with temperature ``T``
    (:class:`~textsmooth.targets.teacher.TeacherSmoother`; the KWLS paper's LS-Distill and the
    distillation caveat of Mueller et al. 2019 both use it). The probabilities are renormalised in float64
    first (a row scale does not change the result, but probabilities stored as float32 sum to 1 only
    within rounding). The one place the loop and the experiment runner turn a teacher into soft labels.

    Returns:
        ``(len(texts), n_classes)`` float32 soft labels whose rows sum to 1.
    """
    from textsmooth.targets.teacher import TeacherSmoother

    probs = np.asarray(teacher_probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    smoother = TeacherSmoother(temperature=temperature, outputs="probabilities")
    smoother.fit(texts, labels, teacher_outputs=probs, n_classes=n_classes)
    return smoother.transform(texts)


def _soft_labels(
    config: TrainConfig, train: TextDataset, labels: np.ndarray, dev: TextDataset
) -> np.ndarray | None:
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother

    kw = {"n_classes": train.n_classes}
    if config.method == "kwls":
        gen = KeywordSmoother(
            k1=config.k1,
            b=config.b,
            k2=config.k2,
            tokenizer=config.tokenizer,
            temperature=config.soft_temperature,
        )
        return gen.fit_transform(train.texts, labels, **kw)
    if config.method == "tfidf":
        gen = TfidfSmoother(tokenizer=config.tokenizer, temperature=config.soft_temperature)
        return gen.fit_transform(train.texts, labels, **kw)
    if config.method == "distill":
        teacher_config = TrainConfig.from_dict({**config.to_dict(), "method": "none"})
        teacher = train_classifier(train, dev, teacher_config, progress=False)
        probs = teacher.predict_proba(train.texts)
        return teacher_soft_labels(probs, train.texts, labels, train.n_classes, config.soft_temperature)
    return None


def train_classifier(
    train: TextDataset,
    dev: TextDataset,
    config: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    soft_labels: np.ndarray | None = None,
    progress: bool = True,
    test: TextDataset | None = None,
    save_model: bool = True,
) -> TrainResult:
    """Train one classifier (see the module docstring for the protocol and the files it writes).

    Deterministic given ``config`` (its ``seed``) and the thread count, whatever ran before in the process.

    Args:
        train, dev: labelled data sets with the same label names.
        config: hyper-parameters.
        out_dir: where ``metrics.jsonl``, ``checkpoint.pt`` and the saved ``model/`` go (``None``: keep
            nothing on disk). The same configuration run again into the same folder resumes.
        soft_labels: precomputed ``(len(train), C)`` soft labels (e.g. read from an artifact) for the
            soft-label methods; computed from ``train`` when ``None``.
        progress: show a progress bar per epoch.
        test: a labelled test split, evaluated once with the best model (``result.test_probs``,
            ``result.test_metrics``, recorded in the saved model's manifest).
        save_model: with ``out_dir``, save the best model to ``out_dir/model`` (see
            :func:`textsmooth.training.load_classifier`).

    Raises:
        InputError: labels missing, label names differ, a class missing from dev, test labels differ.
        ConfigError: ``out_dir`` holds a checkpoint of another configuration, a ``metrics.jsonl`` the
            loop did not write, or a ``model`` that is not a saved classifier.
        ArtifactError: ``out_dir/checkpoint.pt`` is truncated or corrupt.

    ``config.device`` must be one this machine has, and the process must not be one of several started by
    ``torchrun`` (a ``ConfigError`` otherwise, before any work).
    """
    from textsmooth.training.saved import check_device, check_single_process

    check_single_process("train_classifier")
    check_device(config.device)
    check_splits(train, dev)
    if test is not None and (test.labels is None or list(test.label_names) != list(train.label_names)):
        raise InputError(
            "the test split needs labels with the training split's label names",
            path=test.source,
            hint=f"training labels: {train.label_names}",
        )
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _check_out_dir(out, config, save_model)
    threads_before = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        result = _train(train, dev, config, out, soft_labels, progress, test)
    finally:
        if config.num_threads:
            torch.set_num_threads(threads_before)
    if out is not None and save_model:
        splits = {"train": train, "dev": dev, "test": test}
        inputs = {name: split.describe() for name, split in splits.items() if split is not None}
        result.model_dir = result.save(out / MODEL_DIR, inputs=inputs)
    return result


@dataclass
class _LoopState:
    """Everything a checkpoint saves and a resumed run restores (besides torch's global RNG state).

    ``epoch`` counts the finished epochs; ``best_state`` is a copy of the best epoch's weights so far.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    stopping: EarlyStopping
    history: list[dict[str, Any]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    epoch: int = 0


def _train(
    train: TextDataset,
    dev: TextDataset,
    config: TrainConfig,
    out: Path | None,
    soft_labels: np.ndarray | None,
    progress: bool,
    test: TextDataset | None,
) -> TrainResult:
    seed_everything(config.seed)
    labels, objective, soft_labels = _targets(train, dev, config, soft_labels)
    seed_everything(config.seed)
    model, featurizer = build_model(config, train.texts, train.n_classes, aux_head=objective.needs_aux_head)
    model.to(config.device)
    train_features = featurizer(train.texts)
    dev_features = featurizer(dev.texts)
    state = _LoopState(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay),
        stopping=EarlyStopping(config.select_by, config.patience, config.min_delta),
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if _load_checkpoint(out, config, state):
            _write_metrics(out, config, state.history)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(state.epoch):  # keep the shuffling order of an uninterrupted run
        torch.randperm(len(train), generator=generator)
    targets = torch.as_tensor(labels, dtype=torch.long)
    soft_tensor = None if soft_labels is None else torch.as_tensor(soft_labels)
    while state.epoch < config.epochs and not state.stopping.should_stop:
        bar_title = f"epoch {state.epoch + 1}/{config.epochs} [{config.method}]"
        train_loss = _train_epoch(
            state, objective, train_features, targets, soft_tensor, generator, config, bar_title, progress
        )
        probs = _predict_features(model, dev_features, 256, config.device)
        metrics = {"epoch": state.epoch + 1, "train_loss": train_loss, **evaluate_probs(probs, dev.labels)}
        state.history.append(metrics)
        state.epoch += 1
        if state.stopping.update(metrics[config.select_by]):
            state.best_state = copy.deepcopy(model.state_dict())
        if out is not None:
            _save_checkpoint(out, config, state)
            _write_metrics(out, config, state.history)
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    dev_probs = _predict_features(model, dev_features, 256, config.device)
    test_probs = test_metrics = None
    if test is not None:
        test_probs = predict_proba(model, featurizer, test.texts, 256, config.device)
        test_metrics = evaluate_probs(test_probs, test.labels)
    return TrainResult(
        model=model,
        featurizer=featurizer,
        config=config,
        history=state.history,
        best_epoch=state.stopping.best_epoch,
        soft_labels=soft_labels,
        train_labels=labels,
        classes=list(train.label_names),
        dev_probs=dev_probs,
        dev_metrics=evaluate_probs(dev_probs, dev.labels),
        test_probs=test_probs,
        test_metrics=test_metrics,
    )


def _targets(
    train: TextDataset, dev: TextDataset, config: TrainConfig, soft_labels: np.ndarray | None
) -> tuple[np.ndarray, Objective, np.ndarray | None]:
    """The training labels (flipped for ``flip``), the method's objective and its checked soft labels."""
    labels = train.labels.copy()  # type: ignore[union-attr]
    if config.method == "flip":
        from textsmooth.targets.flip import flip_labels

        labels, _ = flip_labels(
            labels, config.flip_rate, config.flip_kind, seed=config.seed, n_classes=train.n_classes
        )
    objective = Objective(
        method=config.method,
        epsilon=config.epsilon,
        alpha=config.alpha,
        beta=config.beta,
        kwls_variant=config.kwls_variant,
        class_counts=np.bincount(labels, minlength=train.n_classes),
    )
    if not objective.needs_soft_labels:
        return labels, objective, soft_labels
    if soft_labels is None:
        soft_labels = _soft_labels(config, train, labels, dev)
    soft_labels = np.asarray(soft_labels, dtype=np.float32)
    if soft_labels.shape != (len(train), train.n_classes):
        raise InputError(
            f"soft labels have shape {soft_labels.shape}, expected ({len(train)}, {train.n_classes})"
        )
    return labels, objective, soft_labels


def _train_epoch(
    state: _LoopState,
    objective: Objective,
    features: dict[str, torch.Tensor],
    targets: torch.Tensor,
    soft: torch.Tensor | None,
    generator: torch.Generator,
    config: TrainConfig,
    title: str,
    progress: bool,
) -> float:
    """One pass over the training split in a seeded random order; the mean training loss per example."""
    state.model.train()
    n = len(targets)
    order = torch.randperm(n, generator=generator)
    total, seen = 0.0, 0
    autocast = torch.autocast(
        torch.device(config.device).type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
    )
    for start in _progress(range(0, n, config.batch_size), title, progress):
        idx = order[start : start + config.batch_size]
        batch = {k: v[idx].to(config.device) for k, v in features.items()}
        with autocast:
            logits, aux = split_logits(state.model(**batch))
        logits, aux = logits.float(), None if aux is None else aux.float()  # the objective in float32
        batch_soft = None if soft is None else soft[idx].to(config.device)
        result = objective(logits, targets[idx].to(config.device), batch_soft, aux)
        state.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        state.optimizer.step()
        total += float(result.loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def check_splits(train: TextDataset, dev: TextDataset) -> None:
    """Raise :class:`InputError` unless both splits are labelled alike and hold every class."""
    if train.labels is None or dev.labels is None:
        raise InputError("training and dev data need labels")
    if list(train.label_names) != list(dev.label_names):
        raise InputError(
            "train and dev use different label names", hint=f"{train.label_names} vs {dev.label_names}"
        )
    for name, split in (("training", train), ("dev", dev)):
        missing = sorted(set(range(train.n_classes)) - set(split.labels.tolist()))  # type: ignore[union-attr]
        if missing:
            names = ", ".join(train.label_names[i] for i in missing)
            raise InputError(
                f"the {name} split has no example of class(es) {names}",
                hint="use a stratified split or a larger sample",
            )


def _progress(iterable: Any, desc: str, enabled: bool) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


def _check_out_dir(out: Path, config: TrainConfig, save_model: bool) -> None:
    """Refuse, before any work, an output folder whose files the loop would have to overwrite."""
    if out.exists() and not out.is_dir():
        raise ConfigError("the output folder is a file", path=out, hint="choose a folder for out_dir")
    metrics = out / METRICS_FILE
    if metrics.exists() and not (out / CHECKPOINT_FILE).exists() and not _own_metrics(metrics, config):
        raise ConfigError(
            f"the output folder holds a {METRICS_FILE} that this training did not write "
            "(no checkpoint beside it, or lines of another configuration); refusing to overwrite it",
            path=metrics,
            hint="move it away, or use another output folder",
        )
    if save_model:
        from textsmooth.training.saved import check_replaceable

        check_replaceable(out / MODEL_DIR)


def _own_metrics(path: Path, config: TrainConfig) -> bool:
    """Whether every line of ``path`` is a metrics line the loop wrote for ``config``."""
    fingerprint = config.fingerprint()
    try:
        lines = split_lines(path.read_text(encoding="utf-8"))
        records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return all(isinstance(r, dict) and r.get("config_fingerprint") == fingerprint for r in records)


def _write_metrics(out: Path, config: TrainConfig, history: list[dict[str, Any]]) -> None:
    fingerprint = config.fingerprint()
    lines = "".join(json.dumps({**m, "config_fingerprint": fingerprint}) + "\n" for m in history)
    atomic_write_text(out / METRICS_FILE, lines)


def _save_checkpoint(out: Path, config: TrainConfig, state: _LoopState) -> None:
    """Write ``state`` (and torch's global RNG state) to ``out/checkpoint.pt``, atomically."""
    saved = {
        "fingerprint": config.fingerprint(),
        "epoch": state.epoch,
        "stale": state.stopping.stale,
        "best_epoch": state.stopping.best_epoch,
        "best_score": state.stopping.best_score,
        "history": json.dumps(state.history),
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "best_model": state.best_state,
        "rng": torch.get_rng_state(),
    }
    with atomic_path(out / CHECKPOINT_FILE) as tmp:
        torch.save(saved, tmp)


def _load_checkpoint(out: Path, config: TrainConfig, state: _LoopState) -> bool:
    """Restore ``state`` from ``out/checkpoint.pt``; ``False`` (``state`` untouched) when there is none.

    Never deletes anything: a fresh run's ``metrics.jsonl`` is rewritten after its first epoch (and
    :func:`_check_out_dir` has refused a metrics file the loop did not write).
    """
    path = out / CHECKPOINT_FILE
    if not path.exists():
        return False
    hint = "it is unusable; delete it to start this run over"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, EOF ...: all mean "not a usable checkpoint"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"checkpoint is truncated or corrupt ({reason})", path=path, hint=hint) from exc
    if not isinstance(saved, dict) or "fingerprint" not in saved:
        raise ArtifactError("not a textsmooth training checkpoint", path=path, hint=hint)
    if saved.get("fingerprint") != config.fingerprint():
        raise ConfigError(
            "the output folder holds a checkpoint of another configuration",
            path=path,
            hint="use a new output folder or delete the old checkpoint",
        )
    try:
        state.model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        rng = saved["rng"]
        epoch = int(saved["epoch"])
        state.stopping = EarlyStopping(
            config.select_by,
            config.patience,
            config.min_delta,
            best_score=saved["best_score"],
            best_epoch=int(saved["best_epoch"]),
            stale=int(saved["stale"]),
            epochs_seen=epoch,
        )
        state.history = json.loads(saved["history"])
        state.best_state, state.epoch = saved["best_model"], epoch
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(
            f"checkpoint is incomplete or does not fit the model ({exc})", path=path, hint=hint
        ) from exc
    torch.set_rng_state(rng)
    return True
