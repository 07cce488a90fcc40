"""A small, honest training loop for text classifiers with every smoothing method.

``train_classifier(train, dev, config)`` does, in order: seed everything; flip labels (``flip``); build
soft labels on the training split only (``tfidf``, ``kwls``; ``distill`` first trains the same model
with hard labels and takes its predicted probabilities on the training texts, the KWLS paper's
protocol); build the model and encode the texts once; train with Adam, evaluating the dev split after
every epoch (metrics appended to ``metrics.jsonl``); keep the best epoch by ``select_by`` and stop
after ``patience`` epochs without improvement; checkpoint every epoch (``checkpoint.pt``, loaded with
``weights_only=True``) and resume from it when the same configuration runs again.
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

from textsmooth.errors import ConfigError, InputError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.readers import TextDataset
from textsmooth.models import split_logits
from textsmooth.training.config import TrainConfig
from textsmooth.training.factory import Featurizer, build_model
from textsmooth.training.objectives import Objective

__all__ = ["TrainResult", "check_splits", "evaluate_probs", "predict_proba", "train_classifier"]


@dataclass
class TrainResult:
    """What a run produced: the best model, its featurizer, per-epoch history and the soft labels used."""

    model: nn.Module
    featurizer: Featurizer
    config: TrainConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    soft_labels: np.ndarray | None = None
    train_labels: np.ndarray | None = None

    def predict_proba(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        return predict_proba(self.model, self.featurizer, texts, batch_size, self.config.device)


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


def _soft_labels(
    config: TrainConfig, train: TextDataset, labels: np.ndarray, dev: TextDataset
) -> np.ndarray | None:
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother
    from textsmooth.targets.teacher import TeacherSmoother

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
        smoother = TeacherSmoother(temperature=config.soft_temperature, outputs="probabilities")
        smoother.fit(train.texts, labels, teacher_outputs=probs / probs.sum(axis=1, keepdims=True), **kw)
        return smoother.transform(train.texts)
    return None


def _better(metric: str, new: float, best: float | None) -> bool:
    if best is None:
        return True
    return new < best if metric == "nll" else new > best


def train_classifier(
    train: TextDataset,
    dev: TextDataset,
    config: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    soft_labels: np.ndarray | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train one classifier (see the module docstring for the protocol).

    Args:
        train, dev: labelled data sets with the same label names.
        config: hyper-parameters.
        out_dir: where ``metrics.jsonl`` and ``checkpoint.pt`` go (``None``: keep nothing on disk).
        soft_labels: precomputed ``(len(train), C)`` soft labels (e.g. read from an artifact) for the
            soft-label methods; computed from ``train`` when ``None``.
        progress: show a progress bar per epoch.

    Raises:
        InputError: labels missing, label names differ, a class missing from dev.
    """
    check_splits(train, dev)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
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
    if objective.needs_soft_labels:
        if soft_labels is None:
            soft_labels = _soft_labels(config, train, labels, dev)
        soft_labels = np.asarray(soft_labels, dtype=np.float32)
        if soft_labels.shape != (len(train), train.n_classes):
            raise InputError(
                f"soft labels have shape {soft_labels.shape}, expected ({len(train)}, {train.n_classes})"
            )
    seed_everything(config.seed)
    model, featurizer = build_model(config, train.texts, train.n_classes, aux_head=objective.needs_aux_head)
    model.to(config.device)
    train_features = featurizer(train.texts)
    dev_features = featurizer(dev.texts)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    out = Path(out_dir) if out_dir is not None else None
    history: list[dict[str, Any]] = []
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, start_epoch, stale = 0, 0, 0
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        resumed = _load_checkpoint(out, config, model, optimizer)
        if resumed is not None:
            history, best_score, best_state, best_epoch, start_epoch, stale = resumed
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(start_epoch):  # keep the shuffling order of an uninterrupted run
        torch.randperm(len(train), generator=generator)
    targets = torch.as_tensor(labels, dtype=torch.long)
    soft_tensor = None if soft_labels is None else torch.as_tensor(soft_labels)
    for epoch in range(start_epoch, config.epochs):
        if stale >= config.patience:
            break
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total, seen = 0.0, 0
        batches = range(0, len(train), config.batch_size)
        bar = _progress(batches, f"epoch {epoch + 1}/{config.epochs} [{config.method}]", progress)
        for start in bar:
            idx = order[start : start + config.batch_size]
            batch = {k: v[idx].to(config.device) for k, v in train_features.items()}
            logits, aux = split_logits(model(**batch))
            soft = None if soft_tensor is None else soft_tensor[idx].to(config.device)
            result = objective(logits, targets[idx].to(config.device), soft, aux)
            optimizer.zero_grad(set_to_none=True)
            result.loss.backward()
            optimizer.step()
            total += float(result.loss.detach()) * len(idx)
            seen += len(idx)
        probs = _predict_features(model, dev_features, 256, config.device)
        metrics = {
            "epoch": epoch + 1,
            "train_loss": total / max(seen, 1),
            **evaluate_probs(probs, dev.labels),
        }
        history.append(metrics)
        score = metrics[config.select_by]
        if _better(config.select_by, score, best_score):
            best_score, best_epoch, stale = score, epoch + 1, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if out is not None:
            with open(out / "metrics.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(metrics) + "\n")
            _save_checkpoint(
                out, config, model, optimizer, history, best_score, best_state, best_epoch, epoch + 1, stale
            )
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(
        model=model,
        featurizer=featurizer,
        config=config,
        history=history,
        best_epoch=best_epoch,
        soft_labels=soft_labels,
        train_labels=labels,
    )


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


def _save_checkpoint(
    out: Path,
    config: TrainConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[dict[str, Any]],
    best_score: float | None,
    best_state: dict[str, torch.Tensor] | None,
    best_epoch: int,
    epoch: int,
    stale: int,
) -> None:
    state = {
        "fingerprint": config.fingerprint(),
        "epoch": epoch,
        "stale": stale,
        "best_epoch": best_epoch,
        "best_score": best_score,
        "history": json.dumps(history),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "best_model": best_state,
        "rng": torch.get_rng_state(),
    }
    with atomic_path(out / "checkpoint.pt") as tmp:
        torch.save(state, tmp)


def _load_checkpoint(
    out: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[list[dict[str, Any]], float | None, dict[str, torch.Tensor] | None, int, int, int] | None:
    path = out / "checkpoint.pt"
    if not path.exists():
        (out / "metrics.jsonl").unlink(missing_ok=True)
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != config.fingerprint():
        raise ConfigError(
            "the output folder holds a checkpoint of another configuration",
            path=path,
            hint="use a new output folder or delete the old checkpoint",
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return (
        json.loads(state["history"]),
        state["best_score"],
        state["best_model"],
        int(state["best_epoch"]),
        int(state["epoch"]),
        int(state["stale"]),
    )
