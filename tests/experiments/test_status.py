"""``remaining_seconds`` (the training time left at the measured epoch times) and ``headline`` (the
score shown per run), hand-computed."""

from __future__ import annotations

import pytest

from textsmooth.experiments.status import (
    _EPOCH_SCORES,
    _TEST_SCORES,
    PlannedRun,
    RunState,
    headline,
    remaining_seconds,
)


def state(label: str, kind: str, epochs: int, times: tuple[float, ...]) -> RunState:
    return RunState(PlannedRun(f"{label}-{kind}", label, 0, epochs), kind, sum(times), times)


def test_remaining_time_uses_each_rows_epoch_times_else_all():
    states = [
        state("none", "finished", 5, (10.0, 12.0, 14.0)),  # stopped early after 3 epochs: nothing left
        state("none", "started", 5, (20.0,)),  # 4 epochs to go at none's mean (14.0)
        state("semantic", "started", 4, (30.0, 50.0)),  # 2 to go at semantic's mean (40.0)
        state("token-ls", "waiting", 2, ()),  # no epoch of its own: the mean of all 6 epochs (22.67)
    ]
    every = (10 + 12 + 14 + 20 + 30 + 50) / 6
    assert remaining_seconds(states) == pytest.approx(4 * 14.0 + 2 * 40.0 + 2 * every)
    assert remaining_seconds([state("none", "waiting", 3, ())]) is None  # nothing measured yet


def test_headline_takes_the_first_numeric_score_of_its_kind():
    assert str(headline({"bleu3": 40.0, "bleu": 36.414, "chrf": 60.0}, _TEST_SCORES)) == "test BLEU-4 36.41"
    assert str(headline({"accuracy": 0.91234, "macro_f1": 0.9}, _TEST_SCORES)) == "test accuracy 0.9123"
    assert str(headline({"epoch": 2, "val_bleu": 11.5, "accuracy": 0.5}, _EPOCH_SCORES)) == "val BLEU-4 11.50"
    assert str(headline({"epoch": 1, "accuracy": 0.75}, _EPOCH_SCORES)) == "dev accuracy 0.7500"
    assert headline({"bleu": None, "accuracy": True}, _TEST_SCORES) is None  # not numbers
    assert headline({"loss": 1.0}, _TEST_SCORES) is None and headline([36.4], _TEST_SCORES) is None
