"""Fixtures for the sequence tests: a small slice of Multi30k and the real (offline) MiniLM encoder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"


def sample_lines(name: str) -> list[str]:
    return (SAMPLE / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def en() -> list[str]:
    return sample_lines("train.en")


@pytest.fixture(scope="session")
def de() -> list[str]:
    return sample_lines("train.de")


@pytest.fixture(scope="session")
def targets_with_duplicates(en) -> list[str]:
    """60 task-1 sentences, the 5 task-2 captions of the same images (one of them is the task-1
    sentence up to case / final period) and two exact copies."""
    caps = [sample_lines(f"task2.train.{k}.en")[:60] for k in range(1, 6)]
    out = list(en[:60])
    for i in range(60):
        out.extend(c[i] for c in caps)
    out += [en[0], en[5]]
    return out


@pytest.fixture(scope="session")
def encoder():
    from textsmooth.sequence import SentenceEncoder

    return SentenceEncoder(batch_size=32).load()
