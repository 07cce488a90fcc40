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
