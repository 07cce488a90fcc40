"""Shared test fixtures: paths to the shared data folder and the KWLS reference fixture."""

from __future__ import annotations

import csv
import io
import lzma
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
KWLS_EXAMPLE = SHARED_DATA / "kwls_example"


@pytest.fixture(scope="session")
def kwls_example() -> tuple[list[str], list[int], np.ndarray]:
    """The authors' example training rows and the soft labels their generator wrote for them."""
    if not KWLS_EXAMPLE.exists():
        pytest.skip(f"shared data not found at {KWLS_EXAMPLE}")
    raw = lzma.decompress((KWLS_EXAMPLE / "train_soft_label.csv.xz").read_bytes()).decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter="\t"))
    texts = [row[1] for row in rows]
    labels = [int(row[2]) for row in rows]
    reference = np.loadtxt(
        KWLS_EXAMPLE / "train_soft_labels.reference_k1-2.0_b-0.75_k2-2.0.csv", delimiter=",", comments="#"
    )
    return texts, labels, reference


@pytest.fixture(scope="session")
def trec_per_class():
    """``split(n_train, n_dev, seed)``: bundled TREC questions, ``n_train``/``n_dev`` per class (disjoint)."""
    from textsmooth.cli.demo import bundled_path
    from textsmooth.io.readers import read_dataset

    data = read_dataset(bundled_path("trec_train.csv.gz"), "text", "label")

    def split(n_train: int, n_dev: int, seed: int):
        rng = np.random.default_rng(seed)
        train_rows, dev_rows = [], []
        for c in range(data.n_classes):
            rows = rng.permutation(np.flatnonzero(data.labels == c))
            train_rows += rows[:n_train].tolist()
            dev_rows += rows[n_train : n_train + n_dev].tolist()
        return data.subset(train_rows), data.subset(dev_rows)

    return split
