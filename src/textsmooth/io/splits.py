"""Seeded, stratified splits and samples of a :class:`TextDataset`."""

from __future__ import annotations

import numpy as np

from textsmooth.errors import InputError
from textsmooth.io.readers import TextDataset

__all__ = ["stratified_sample", "stratified_split", "undersample"]


def _by_class(dataset: TextDataset) -> list[np.ndarray]:
    if dataset.labels is None:
        raise InputError("stratified splitting needs labels")
    return [np.flatnonzero(dataset.labels == c) for c in range(dataset.n_classes)]


def stratified_split(dataset: TextDataset, fraction: float, seed: int = 0) -> tuple[TextDataset, TextDataset]:
    """Split into ``(rest, held_out)`` with ``round(fraction * n_c)`` of each class held out (at least one
    per class that has two or more examples). The KWLS paper's train/dev split is ``fraction=0.25`` (3:1)."""
    if not 0 < fraction < 1:
        raise InputError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for rows in _by_class(dataset):
        rows = rng.permutation(rows)
        n_held = min(max(round(fraction * len(rows)), 1 if len(rows) > 1 else 0), len(rows))
        held.append(rows[:n_held])
        keep.append(rows[n_held:])
    return dataset.subset(np.sort(np.concatenate(keep))), dataset.subset(np.sort(np.concatenate(held)))


def stratified_sample(dataset: TextDataset, n: int, seed: int = 0) -> TextDataset:
    """About ``n`` rows with the class proportions of ``dataset`` and at least one row of every class."""
    if n >= len(dataset):
        return dataset
    rng = np.random.default_rng(seed)
    chosen = []
    for rows in _by_class(dataset):
        take = max(1, round(n * len(rows) / len(dataset))) if len(rows) else 0
        chosen.append(rng.permutation(rows)[:take])
    return dataset.subset(np.sort(np.concatenate(chosen)))


def undersample(dataset: TextDataset, sizes: dict[int, int], seed: int = 0) -> TextDataset:
    """Keep at most ``sizes[c]`` rows of class ``c`` (other classes unchanged): the paper's unbalanced
    settings (Table 4: one class at 1:100; Table 5: ``c`` classes reduced to ``m`` rows)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c, rows in enumerate(_by_class(dataset)):
        limit = sizes.get(c)
        chosen.append(rows if limit is None else rng.permutation(rows)[: max(int(limit), 0)])
    return dataset.subset(np.sort(np.concatenate(chosen)))
