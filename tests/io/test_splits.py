"""Stratified splits, samples and under-sampling."""

from __future__ import annotations

import numpy as np
import pytest

from textsmooth.errors import InputError
from textsmooth.io.readers import TextDataset
from textsmooth.io.splits import stratified_sample, stratified_split, undersample


def dataset(counts=(40, 12, 4)):
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return TextDataset(
        texts=[f"t{i}" for i in range(len(labels))], labels=labels, label_names=["a", "b", "c"]
    )


def test_stratified_split_is_3_to_1_per_class_and_seeded():
    ds = dataset()
    train, dev = stratified_split(ds, 0.25, seed=1)
    assert np.bincount(dev.labels).tolist() == [10, 3, 1]
    assert np.bincount(train.labels).tolist() == [30, 9, 3]
    assert not set(train.texts) & set(dev.texts) and len(train) + len(dev) == len(ds)
    again, _ = stratified_split(ds, 0.25, seed=1)
    assert again.texts == train.texts
    with pytest.raises(InputError, match="fraction"):
        stratified_split(ds, 1.5)


def test_sample_keeps_every_class_and_undersample_limits():
    ds = dataset()
    small = stratified_sample(ds, 10, seed=0)
    assert set(small.labels.tolist()) == {0, 1, 2} and len(small) <= 12
    reduced = undersample(ds, {0: 4}, seed=0)
    assert np.bincount(reduced.labels).tolist() == [4, 12, 4]
